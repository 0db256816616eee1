/*  auth.c — who may connect and what each key may report: CURVE.

    Client keys are read from *.cert files (never *_secret) with czmq's
    zcert. The ZAP handler thread keeps its own copy of the keys, rebuilt on
    "RELOAD", so the two threads share nothing but messages.
*/
#include "auth.h"
#include "log.h"

#include <sys/stat.h>

#define ZAP_ENDPOINT  "inproc://zeromq.zap.01"
#define ZAP_DOMAIN    "tally"
#define ZMQ_ZAP_ENFORCE_DOMAIN_OPT 93     //  libzmq 4.3 DRAFT option, stable value

//  One client key and what it may report for.
typedef struct {
    char *name;                 //  certificate name (metadata `name`, else file name)
    char *regions;              //  metadata `regions`: "220582" or "2205*,220000"
} s_client_t;

struct auth_t {
    zcert_t *server;            //  the collector's certificate (with secret)
    char *clients_dir;
    zhashx_t *clients;          //  Z85 public key -> s_client_t
    zactor_t *zap;              //  the ZAP handler
};

static void
s_client_destroy (void **item_p)
{
    s_client_t *client = (s_client_t *) *item_p;
    if (client) {
        free (client->name);
        free (client->regions);
        free (client);
        *item_p = NULL;
    }
}

static bool
s_ends_with (const char *text, const char *tail)
{
    size_t len = strlen (text), tail_len = strlen (tail);
    return len >= tail_len && streq (text + len - tail_len, tail);
}

//  Read every NAME.cert of dir. NULL when dir cannot be read.
static zhashx_t *
s_load_clients (const char *dir, bool quiet)
{
    zdir_t *folder = zdir_new (dir, NULL);
    if (!folder)
        return NULL;
    zhashx_t *clients = zhashx_new ();
    zhashx_set_destructor (clients, s_client_destroy);
    zlist_t *files = zdir_list (folder);
    for (zfile_t *file = (zfile_t *) zlist_first (files); file; file = (zfile_t *) zlist_next (files)) {
        const char *path = zfile_filename (file, NULL);
        if (!s_ends_with (path, ".cert"))
            continue;
        zcert_t *cert = zcert_load (path);
        if (!cert) {
            if (!quiet)
                log_warning ("auth: cannot read client certificate %s; it is ignored", path);
            continue;
        }
        const char *base = strrchr (path, '/');
        base = base ? base + 1 : path;
        s_client_t *client = (s_client_t *) zmalloc (sizeof (s_client_t));
        const char *name = zcert_meta (cert, "name");
        client->name = name && *name ? strdup (name) : strndup (base, strlen (base) - 5);
        const char *regions = zcert_meta (cert, "regions");
        client->regions = strdup (regions ? regions : "");
        if (!*client->regions && !quiet)
            log_warning ("auth: certificate %s has no 'regions': its key may connect "
                          "but not report for any region", path);
        zhashx_update (clients, zcert_public_txt (cert), client);
        zcert_destroy (&cert);
    }
    zlist_destroy (&files);
    zdir_destroy (&folder);
    return clients;
}

//  --------------------------------------------------------------------------
//  The ZAP handler (RFC 27): one request, one reply.

static void
s_zap_answer (zsock_t *handler, zhashx_t *clients, zhashx_t *refused)
{
    zmsg_t *request = zmsg_recv (handler);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *sequence = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credentials = zmsg_pop (request);

    const char *status = "400", *text = "No access";
    char key [41] = "";
    if (version && streq (version, "1.0") && domain && streq (domain, ZAP_DOMAIN)
    &&  mechanism && streq (mechanism, "CURVE") && credentials && zframe_size (credentials) == 32) {
        zmq_z85_encode (key, zframe_data (credentials), 32);
        if (zhashx_lookup (clients, key)) {
            status = "200";
            text = "OK";
        }
        else {
            //  Once a minute per key is enough to see who knocks.
            int64_t now = zclock_mono ();
            int64_t *last = (int64_t *) zhashx_lookup (refused, key);
            if (!last || now - *last > 60000) {
                log_warning ("auth: refused a connection from %s: key %s is not in the client "
                              "certificates", address ? address : "?", key);
                if (zhashx_size (refused) > 1000)
                    zhashx_purge (refused);
                int64_t *stamp = (int64_t *) zmalloc (sizeof (int64_t));
                *stamp = now;
                zhashx_update (refused, key, stamp);
            }
        }
    }
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addstr (reply, sequence ? sequence : "");
    zmsg_addstr (reply, status);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, streq (status, "200") ? key : "");      //  User-Id
    zmsg_addmem (reply, NULL, 0);                                //  no metadata
    zmsg_send (&reply, handler);

    zframe_destroy (&credentials);
    zstr_free (&version);
    zstr_free (&sequence);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zmsg_destroy (&request);
}

static void
s_zap_actor (zsock_t *pipe, void *args)
{
    const char *dir = (const char *) args;
    zhashx_t *clients = s_load_clients (dir, true);
    zhashx_t *refused = zhashx_new ();
    zhashx_set_destructor (refused, (zhashx_destructor_fn *) zstr_free);
    zsock_t *handler = zsock_new (ZMQ_REP);
    if (!clients || zsock_bind (handler, ZAP_ENDPOINT) != 0) {
        zsock_signal (pipe, 1);
        zsock_destroy (&handler);
        zhashx_destroy (&clients);
        zhashx_destroy (&refused);
        return;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, handler, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == handler)
            s_zap_answer (handler, clients, refused);
        else
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool stop = !command || streq (command, "$TERM");
            if (command && streq (command, "RELOAD")) {
                zhashx_t *fresh = s_load_clients (dir, true);
                if (fresh) {
                    zhashx_destroy (&clients);
                    clients = fresh;
                }
                zsock_signal (pipe, fresh ? 0 : 1);
            }
            zstr_free (&command);
            if (stop)
                break;
        }
        else
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&handler);
    zhashx_destroy (&clients);
    zhashx_destroy (&refused);
}

//  --------------------------------------------------------------------------

auth_t *
auth_new (const char *server_cert_path, const char *clients_dir, char *err, size_t err_size)
{
    if (!zsys_has_curve ()) {
        snprintf (err, err_size, "this libzmq was built without CURVE support");
        return NULL;
    }
    //  zcert_load takes the public file's name and reads NAME_secret beside it.
    char public_path [1024];
    snprintf (public_path, sizeof public_path, "%s", server_cert_path);
    if (s_ends_with (public_path, "_secret"))
        public_path [strlen (public_path) - 7] = 0;
    char secret_path [1100];
    snprintf (secret_path, sizeof secret_path, "%s_secret", public_path);
    zcert_t *server = zsys_file_exists (secret_path) ? zcert_load (public_path) : NULL;
    if (!server || streq (zcert_secret_txt (server), "0000000000000000000000000000000000000000")) {
        snprintf (err, err_size, "cannot read the collector's secret certificate %s "
                  "(make one with 'tally-collector keygen')", secret_path);
        zcert_destroy (&server);
        return NULL;
    }
    struct stat info;
    if (stat (secret_path, &info) == 0 && (info.st_mode & 077))
        log_warning ("auth: %s can be read by other users; chmod 600 it", secret_path);

    auth_t *self = (auth_t *) zmalloc (sizeof (auth_t));
    self->server = server;
    self->clients_dir = strdup (clients_dir);
    self->clients = s_load_clients (clients_dir, false);
    if (!self->clients) {
        snprintf (err, err_size, "cannot read the client certificate folder %s", clients_dir);
        auth_destroy (&self);
        return NULL;
    }
    self->zap = zactor_new (s_zap_actor, self->clients_dir);
    if (!self->zap) {
        snprintf (err, err_size, "cannot start the ZAP handler (is another one bound in this process?)");
        auth_destroy (&self);
        return NULL;
    }
    log_info ("auth: CURVE on; server key %s; %zu client keys in %s",
               zcert_public_txt (server), zhashx_size (self->clients), clients_dir);
    return self;
}

void
auth_destroy (auth_t **self_p)
{
    if (self_p && *self_p) {
        auth_t *self = *self_p;
        zactor_destroy (&self->zap);
        zhashx_destroy (&self->clients);
        zcert_destroy (&self->server);
        free (self->clients_dir);
        free (self);
        *self_p = NULL;
    }
}

int
auth_apply (auth_t *self, zsock_t *sock)
{
    zcert_apply (self->server, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, ZAP_DOMAIN);
    //  czmq's zsock_set_zap_enforce_domain is a no-op against Debian's
    //  libzmq 4.3.4; without enforcement a missing ZAP handler would let
    //  every client in. Set it on the libzmq socket directly.
    int enforce = 1;
    return zmq_setsockopt (zsock_resolve (sock), ZMQ_ZAP_ENFORCE_DOMAIN_OPT, &enforce, sizeof enforce);
}

const char *
auth_server_key (auth_t *self)
{
    return zcert_public_txt (self->server);
}

//  Does region match one entry of a comma-separated list of codes and
//  prefixes ending in '*'?
static bool
s_region_listed (const char *list, const char *region)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        size_t len = (size_t) (end - p);
        while (len && p [len - 1] == ' ')
            len--;
        if (len > 0) {
            if (p [len - 1] == '*') {
                if (strncmp (region, p, len - 1) == 0)
                    return true;
            }
            else
            if (strlen (region) == len && strncmp (region, p, len) == 0)
                return true;
        }
        p = end;
    }
    return false;
}

bool
auth_allows (auth_t *self, const char *user_id, const char *region, char *why, size_t why_size)
{
    s_client_t *client = user_id ? (s_client_t *) zhashx_lookup (self->clients, user_id) : NULL;
    if (!client) {
        snprintf (why, why_size, "the key that sent this report is not (or no longer) "
                  "among the collector's client certificates");
        return false;
    }
    if (!s_region_listed (client->regions, region)) {
        snprintf (why, why_size, "key '%s' may report for %s, not for region '%s'", client->name,
                  *client->regions ? client->regions : "no region", region);
        return false;
    }
    return true;
}

const char *
auth_key_name (auth_t *self, const char *user_id)
{
    s_client_t *client = user_id ? (s_client_t *) zhashx_lookup (self->clients, user_id) : NULL;
    return client ? client->name : "";
}

int
auth_reload (auth_t *self)
{
    zhashx_t *fresh = s_load_clients (self->clients_dir, false);
    if (!fresh) {
        log_error ("auth: cannot read the client certificate folder %s; keeping the %zu keys "
                    "loaded before", self->clients_dir, zhashx_size (self->clients));
        return -1;
    }
    int removed = 0, added = 0;
    for (s_client_t *client = (s_client_t *) zhashx_first (self->clients); client;
         client = (s_client_t *) zhashx_next (self->clients)) {
        const char *key = (const char *) zhashx_cursor (self->clients);
        if (!zhashx_lookup (fresh, key)) {
            log_info ("auth: key '%s' (%s) revoked", client->name, key);
            removed++;
        }
    }
    for (s_client_t *client = (s_client_t *) zhashx_first (fresh); client;
         client = (s_client_t *) zhashx_next (fresh)) {
        const char *key = (const char *) zhashx_cursor (fresh);
        s_client_t *old = (s_client_t *) zhashx_lookup (self->clients, key);
        if (!old) {
            log_info ("auth: key '%s' (%s) added, may report for %s", client->name, key, client->regions);
            added++;
        }
        else
        if (!streq (old->regions, client->regions))
            log_info ("auth: key '%s' may now report for %s (was %s)", client->name,
                       client->regions, old->regions);
    }
    zhashx_destroy (&self->clients);
    self->clients = fresh;
    zstr_send (self->zap, "RELOAD");
    zsock_wait (self->zap);
    log_info ("auth: %zu client keys (%d added, %d revoked)", zhashx_size (fresh), added, removed);
    return removed;
}
