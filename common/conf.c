/*  conf.c — tally's config files: one "key = value" per line. */
#include "conf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *
s_trim (char *text)
{
    while (isspace ((unsigned char) *text))
        text++;
    size_t len = strlen (text);
    while (len && isspace ((unsigned char) text [len - 1]))
        text [--len] = 0;
    return text;
}

int
conf_flag (const char *value)
{
    const char *yes [] = { "yes", "true", "on", "1" }, *no [] = { "no", "false", "off", "0" };
    for (int i = 0; i < 4; i++) {
        if (strcasecmp (value, yes [i]) == 0)
            return 1;
        if (strcasecmp (value, no [i]) == 0)
            return 0;
    }
    return -1;
}

int
conf_load (const char *path, conf_fn *fn, void *arg, char *err, size_t err_size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (err, err_size, "%s: cannot read the config file", path);
        return -1;
    }
    char line [4096];
    int number = 0, rc = 0;
    while (rc == 0 && fgets (line, sizeof line, file)) {
        number++;
        if (!strchr (line, '\n') && !feof (file)) {
            snprintf (err, err_size, "%s:%d: line longer than %zu bytes", path, number, sizeof line - 2);
            rc = -1;
            break;
        }
        char *text = s_trim (line);
        if (*text == 0 || *text == '#')
            continue;
        char *eq = strchr (text, '=');
        if (!eq) {
            snprintf (err, err_size, "%s:%d: expected 'key = value', got '%.60s'", path, number, text);
            rc = -1;
            break;
        }
        *eq = 0;
        char *key = s_trim (text);
        char *value = s_trim (eq + 1);
        if (*value == '"') {
            char *close = strrchr (value + 1, '"');
            if (!close || s_trim (close + 1) [0] != 0) {
                snprintf (err, err_size, "%s:%d: key '%s': unterminated quoted value", path, number, key);
                rc = -1;
                break;
            }
            *close = 0;
            value++;
        }
        else {
            char *comment = strstr (value, " #");
            if (comment) {
                *comment = 0;
                value = s_trim (value);
            }
        }
        if (*key == 0) {
            snprintf (err, err_size, "%s:%d: a value without a key", path, number);
            rc = -1;
            break;
        }
        char why [512] = "";
        if (fn (arg, key, value, why, sizeof why)) {
            snprintf (err, err_size, "%s:%d: key '%s': %s", path, number, key, why);
            rc = -1;
        }
    }
    fclose (file);
    return rc;
}
