/*  log.h — one line per event, with a level the operator can turn down.

    Lines go through czmq's zsys log (stderr with timestamp and level letter,
    or syslog), each message starting with its component ("store: ...").
    czmq has no level filter, so these macros add one.
*/
#ifndef LOG_H_INCLUDED
#define LOG_H_INCLUDED

#include <czmq.h>

typedef enum {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARNING,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG
} log_level_t;

//  Set the level from its name (error, warning, info, debug); -1 if unknown.
int log_set_level (const char *name);
//  Is name one of the level names?
bool log_level_known (const char *name);
bool log_enabled (log_level_t level);
//  Send lines to syslog instead of stderr.
void log_use_syslog (const char *ident);

#define log_error(...)   do { if (log_enabled (LOG_LEVEL_ERROR))   zsys_error (__VA_ARGS__); } while (0)
#define log_warning(...) do { if (log_enabled (LOG_LEVEL_WARNING)) zsys_warning (__VA_ARGS__); } while (0)
#define log_info(...)    do { if (log_enabled (LOG_LEVEL_INFO))    zsys_info (__VA_ARGS__); } while (0)
#define log_debug(...)   do { if (log_enabled (LOG_LEVEL_DEBUG))   zsys_debug (__VA_ARGS__); } while (0)

#endif
