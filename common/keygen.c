/*  keygen.c — make a CURVE certificate pair for tally (czmq zcert format). */
#include "keygen.h"

#include <ctype.h>
#include <czmq.h>
#include <sys/stat.h>

int
keygen_check_regions (const char *regions, char *err, size_t err_size)
{
    if (!regions || !*regions) {
        snprintf (err, err_size, "--regions needs at least one region code or prefix (e.g. 220582 or 2205*)");
        return -1;
    }
    const char *p = regions;
    while (*p) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        bool ok = len > 0 && len <= 64;
        for (size_t i = 0; ok && i < len; i++)
            ok = isalnum ((unsigned char) p [i]) || (p [i] == '*' && i == len - 1 && len > 1);
        if (!ok) {
            snprintf (err, err_size, "region entry '%.*s' is not a code or a prefix ending in '*'",
                      (int) (len > 64 ? 64 : len), p);
            return -1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

int
keygen_write (const char *dir, const char *name, const char *regions, char *err, size_t err_size)
{
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char) *p) && *p != '-' && *p != '_' && *p != '.') {
            snprintf (err, err_size, "name '%s' may only hold letters, digits, '-', '_' and '.'", name);
            return -1;
        }
    if (!*name) {
        snprintf (err, err_size, "the certificate needs a name");
        return -1;
    }
    if (regions && keygen_check_regions (regions, err, err_size))
        return -1;
    if (zsys_dir_create ("%s", dir) != 0) {
        snprintf (err, err_size, "cannot create the folder %s", dir);
        return -1;
    }
    char path [1024], secret [1100];
    snprintf (path, sizeof path, "%s/%s.cert", dir, name);
    snprintf (secret, sizeof secret, "%s_secret", path);
    if (zsys_file_exists (path) || zsys_file_exists (secret)) {
        snprintf (err, err_size, "%s already exists; remove it first to make a new key", path);
        return -1;
    }
    zcert_t *cert = zcert_new ();
    zcert_set_meta (cert, "name", "%s", name);
    if (regions)
        zcert_set_meta (cert, "regions", "%s", regions);
    zcert_set_meta (cert, "created", "%" PRId64, zclock_time () / 1000);
    //  The secret file is never readable by others, not even for a moment.
    mode_t old_mask = umask (077);
    int rc = zcert_save (cert, path);
    umask (old_mask);
    zcert_destroy (&cert);
    if (rc != 0 || chmod (secret, 0600) != 0 || chmod (path, 0644) != 0) {
        snprintf (err, err_size, "cannot write %s and its secret", path);
        return -1;
    }
    return 0;
}
