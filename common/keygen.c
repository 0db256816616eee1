/*  keygen.c — make a CURVE certificate pair for tally (czmq zcert format). */
#include "keygen.h"

#include <ctype.h>
#include <czmq.h>
#include <sys/stat.h>

//  Is text (length bytes) an entry the collector matches as meant? The
//  collector (collector/auth.c, s_region_listed) compares a region with each
//  entry whole, or with the part before a final '*' as a prefix. Region
//  codes are letters and digits, at most 64 (the schema's rule), and at
//  least 6 (GB/T 2260's counties; townships below them have 9 or 12). So a
//  code is 6 to 64 letters or digits, and a prefix 1 to 63 of them then
//  '*': anything else (a short code without its '*', "*" alone, other
//  characters) matches no region, or all of them, and is surely a typo.
static bool
s_region_entry_valid (const char *text, size_t length)
{
    size_t code = 0;
    while (code < length && isalnum ((unsigned char) text [code]))
        code++;
    if (code == length)
        return length >= KEYGEN_CODE_MIN && length <= KEYGEN_CODE_MAX;
    return code >= 1 && code < KEYGEN_CODE_MAX && code + 1 == length && text [code] == '*';
}

int
keygen_check_regions (const char *regions, char *err, size_t err_size)
{
    const char *forms = "a region code (6 to 64 letters or digits, e.g. 220582) or a prefix "
                        "then * (e.g. 2205*)";
    if (!regions || !*regions) {
        snprintf (err, err_size, "--regions needs at least one entry, each %s", forms);
        return -1;
    }
    const char *p = regions;
    while (true) {
        //  Spaces around an entry are allowed: the collector skips them too.
        size_t length = strcspn (p, ",");
        const char *entry = p;
        size_t size = length;
        while (size && *entry == ' ') {
            entry++;
            size--;
        }
        while (size && entry [size - 1] == ' ')
            size--;
        if (size == 0) {
            snprintf (err, err_size, "--regions '%.64s' has an empty entry: give each entry as %s, "
                      "comma-separated", regions, forms);
            return -1;
        }
        if (!s_region_entry_valid (entry, size)) {
            bool short_code = size < KEYGEN_CODE_MIN && strspn (entry, "0123456789") == size;
            snprintf (err, err_size, "region entry '%.*s'%s%.*s%s is not %s",
                      (int) (size > 64 ? 64 : size), entry,
                      short_code ? " (did you mean " : "", short_code ? (int) size : 0, entry,
                      short_code ? "*?)" : "", forms);
            return -1;
        }
        if (p [length] == 0)
            break;
        p += length + 1;
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
