/*  log.c — one line per event, with a level the operator can turn down. */
#include "log.h"

//  Read by every thread (the ZAP handler logs too), set at start and on SIGHUP.
static _Atomic int s_level = LOG_LEVEL_INFO;

int
log_set_level (const char *name)
{
    const char *names [] = { "error", "warning", "info", "debug" };
    for (int i = 0; i < 4; i++)
        if (streq (name, names [i])) {
            s_level = i;
            return 0;
        }
    return -1;
}

bool
log_level_known (const char *name)
{
    return streq (name, "error") || streq (name, "warning") || streq (name, "info") || streq (name, "debug");
}

bool
log_enabled (log_level_t level)
{
    return (int) level <= s_level;
}

void
log_use_syslog (const char *ident)
{
    zsys_set_logident (ident);
    zsys_set_logsystem (true);
    zsys_set_logstream (NULL);
}
