/*  conf.c — tally's config files: one "key = value" per line. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

//  Open path for reading if it is a regular file (or a link to one). A
//  folder opens fine and reads as nothing, which would run the program on
//  its defaults; a FIFO could block. Both are refused like a missing file.
//  O_NONBLOCK only keeps open() from waiting on a FIFO; reading a regular
//  file ignores it.
static FILE *
s_open_regular (const char *path, char *err, size_t err_size)
{
    int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf (err, err_size, "%s: cannot read the config file", path);
        return NULL;
    }
    struct stat status;
    if (fstat (fd, &status) != 0)
        status.st_mode = 0;
    if (!S_ISREG (status.st_mode)) {
        snprintf (err, err_size, "%s: cannot read the config file: %s", path,
                  S_ISDIR (status.st_mode) ? "it is a folder, not a file" : "it is not a regular file");
        close (fd);
        return NULL;
    }
    FILE *file = fdopen (fd, "r");
    if (!file) {
        snprintf (err, err_size, "%s: cannot read the config file", path);
        close (fd);
    }
    return file;
}

int
conf_load (const char *path, conf_fn *fn, void *arg, char *err, size_t err_size)
{
    FILE *file = s_open_regular (path, err, err_size);
    if (!file)
        return -1;
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
    if (rc == 0 && ferror (file)) {
        snprintf (err, err_size, "%s: cannot read the config file: %s", path, strerror (errno));
        rc = -1;
    }
    fclose (file);
    return rc;
}
