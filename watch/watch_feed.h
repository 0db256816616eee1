/*  watch_feed.h — the watch's sockets: feed subscription, snapshots, watchdog.

    A watch_feed_t connects a SUB socket to the collector's feed (subscribed
    to the region prefix and to "$hb") and asks the query endpoint for
    snapshots over a DEALER, feeding everything into a watch_state_t. It takes
    a fresh snapshot at start, whenever the store reports a lost message, and
    when the collector comes back after a silence: no heartbeat for more than
    WATCH_FEED_SILENCE_MS. Each snapshot gets a new DEALER, so a late answer
    to an abandoned request can never be mistaken for the current one.

    Several collectors sharing one database: one SUB per feed, all at once
    (the store must then be in merged mode: their seqs interleave, and each
    region is applied by version). A feed's seq may jump (the others'
    commits), so a jump is no loss; a heartbeat announcing a seq beyond the
    last one seen on that same feed is (that collector published something
    we missed), and so is a feed coming back after a silence: either takes
    a fresh snapshot. The watch counts as silent only when every feed is.
    Several query endpoints are tried in turn, moving on when one does not
    answer a snapshot in time.

    With CURVE keys the query DEALER is a CURVE client, and so are the SUBs
    when feed_curve is set (the collector's --feed-curve): a CURVE client
    cannot talk to a plaintext server, so the feed stays plain otherwise.

    It keeps a one-line status for people: live, taking a snapshot (and why),
    or "collector silent since 15:02:11" (with a hint when no feed ever delivered
    anything but the query endpoint answers a ping: a plaintext subscriber
    never hears a --feed-curve collector, nor a CURVE one a plaintext feed).
*/
#ifndef WATCH_FEED_H_INCLUDED
#define WATCH_FEED_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "watch_state.h"

typedef struct _watch_feed_t watch_feed_t;

//  No heartbeat for longer than this and the collector counts as silent.
#define WATCH_FEED_SILENCE_MS 3000

#define WATCH_FEED_MAX 16        //  feeds and query endpoints, each

//  Where to connect and what to ask for.
typedef struct {
    const char *feed_ep;            //  collector's PUB, e.g. tcp://localhost:7702
    const char *query_ep;           //  collector's query ROUTER, tcp://localhost:7703
    const char *const *feed_eps;    //  or several feeds (feed_ep is then ignored)
    size_t feed_count;
    const char *const *query_eps;   //  or several query endpoints, tried in turn
    size_t query_count;
    const char *public_key;         //  our CURVE pair, Z85 (NULL: plaintext)
    const char *secret_key;
    const char *server_key;         //  the collectors' public key, Z85
    bool feed_curve;                //  CURVE on the feed too
    const char *prefix;             //  region code prefix; "" = every region
    int64_t year;                   //  year to ask for; 0 = the newest with data
    int timeout_ms;                 //  how long one snapshot may take
    bool log;                       //  say on stderr when the collector goes silent,
                                    //  when a fresh snapshot is taken and why
} watch_feed_config_t;

//  Called after every batch of events and at least every 250 ms while
//  running; return -1 to stop watch_feed_run, 0 to go on.
typedef int (watch_feed_fn) (void *arg, watch_feed_t *feed);

//  Create a feed for the store (borrowed; it must outlive the feed). The
//  config's strings are copied. Connects nothing yet.
watch_feed_t *
    watch_feed_new (const watch_feed_config_t *config, watch_state_t *state);

//  Close the sockets, free the feed and null the caller's pointer.
void
    watch_feed_destroy (watch_feed_t **self_p);

//  Take one snapshot into the store, without the feed (tally-watch --once).
//  Returns 0, or -1 with a sentence for people in err when the collector did
//  not answer within the timeout or refused the request.
int
    watch_feed_snapshot (watch_feed_t *self, char *err, size_t err_size);

//  Subscribe, take a snapshot and follow the feed until on_wake returns -1 or
//  the process is interrupted (SIGINT/SIGTERM). Returns 0, or -1 with err
//  filled if the sockets could not be set up (e.g. a malformed endpoint).
int
    watch_feed_run (watch_feed_t *self, watch_feed_fn *on_wake, void *arg,
                    char *err, size_t err_size);

//  The status line for people (borrowed, valid until the next event).
const char *
    watch_feed_status (watch_feed_t *self);

//  When the last snapshot held nothing for the prefix and year although the
//  collector has totals: one sentence saying so (a prefix no region code
//  starts with, or a year other than the newest with totals; learnt from an
//  unfiltered snapshot taken right after). NULL otherwise, and once matching
//  totals arrive. Borrowed, valid until the next event.
const char *
    watch_feed_no_match (watch_feed_t *self);

//  True while the collector counts as silent.
bool
    watch_feed_silent (watch_feed_t *self);

//  Snapshots completed since the feed was created.
int64_t
    watch_feed_snapshots (watch_feed_t *self);

#endif
