/*  watch_state.c — the watch's copy of the collector's region totals.

    See watch_state.h for the rules. Entries are kept in a small array sorted
    by (region, year): a city and its counties are a handful of rows, and the
    table walks them in code order anyway.
*/
#include "watch_state.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  Feed messages held while a snapshot is taken; past this the store stops
//  buffering, applies region by region, and asks for another snapshot.
#define S_BUFFER_MAX 100000

//  One (region, year) and the copy the store holds.
typedef struct {
    proto_msg_t *totals;                //  newest totals seen (owned)
    int64_t version;                    //  its version: never decreases
} s_entry_t;

//  A growable list of owned messages.
typedef struct {
    proto_msg_t **items;                //  owned messages, in arrival order
    size_t size;                        //  number held
    size_t cap;                         //  allocated slots
} s_list_t;

struct _watch_state_t {
    s_entry_t *entries;                 //  sorted by (region, year)
    size_t size;                        //  entries held
    size_t cap;                         //  entries allocated
    bool filtered;                      //  feed subscribed with a region prefix
    bool merged;                        //  several collectors' feeds, seqs interleaved
    bool synced;                        //  in step with the feed since a snapshot
    bool taking;                        //  a snapshot is in progress
    bool overflowed;                    //  the buffer filled up during this snapshot
    int64_t seq;                        //  last feed seq applied, or snapshot_end.seq
    s_list_t rows;                      //  snapshot rows collected so far
    s_list_t buffer;                    //  feed messages held during the snapshot
    watch_state_fn *on_store;           //  told of every stored totals (may be NULL)
    void *arg;                          //  its argument
};

static void
s_list_push (s_list_t *list, proto_msg_t *msg)
{
    if (list->size == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 16;
        list->items = realloc (list->items, list->cap * sizeof *list->items);
        assert (list->items);
    }
    list->items [list->size++] = msg;
}

static void
s_list_clear (s_list_t *list)
{
    for (size_t i = 0; i < list->size; i++)
        proto_msg_destroy (&list->items [i]);
    list->size = 0;
}

//  Compare an entry's key with (region, year).
static int
s_compare (const s_entry_t *entry, const char *region, int64_t year)
{
    int rc = strcmp (entry->totals->region, region);
    if (rc)
        return rc;
    return entry->totals->year < year ? -1 : entry->totals->year > year;
}

//  Index of (region, year), or where it would be inserted (*found false).
static size_t
s_find (watch_state_t *self, const char *region, int64_t year, bool *found)
{
    size_t low = 0, high = self->size;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        int rc = s_compare (&self->entries [mid], region, year);
        if (rc == 0) {
            *found = true;
            return mid;
        }
        if (rc < 0)
            low = mid + 1;
        else
            high = mid;
    }
    *found = false;
    return low;
}

//  Store totals if they are newer than the region's copy (the never-go-back
//  rule). Takes ownership; returns true when stored.
static bool
s_store (watch_state_t *self, proto_msg_t *totals, int64_t version)
{
    bool found;
    size_t index = s_find (self, totals->region, totals->year, &found);
    if (found) {
        s_entry_t *entry = &self->entries [index];
        if (version <= entry->version) {
            proto_msg_destroy (&totals);
            return false;
        }
        proto_msg_destroy (&entry->totals);
        entry->totals = totals;
        entry->version = version;
    }
    else {
        if (self->size == self->cap) {
            self->cap = self->cap ? self->cap * 2 : 16;
            self->entries = realloc (self->entries, self->cap * sizeof *self->entries);
            assert (self->entries);
        }
        memmove (self->entries + index + 1, self->entries + index,
                 (self->size - index) * sizeof *self->entries);
        self->entries [index] = (s_entry_t) { totals, version };
        self->size++;
    }
    if (self->on_store)
        self->on_store (self->arg, totals);
    return true;
}

//  The version a feed totals message stands for.
static int64_t
s_feed_version (const proto_msg_t *totals)
{
    return totals->has_version ? totals->version : totals->seq;
}

//  Apply one feed message outside a snapshot. Takes ownership.
static watch_verdict_t
s_apply_feed (watch_state_t *self, proto_msg_t *msg)
{
    if (msg->type == PROTO_HEARTBEAT) {
        int64_t seq = msg->seq;
        proto_msg_destroy (&msg);
        if (!self->synced || seq <= self->seq)
            return WATCH_STALE;
        if (self->filtered || self->merged)
            return WATCH_VERIFY;
        self->synced = false;
        return WATCH_GAP;
    }
    if (!self->synced || self->merged) {
        //  Between a loss and the next snapshot, or merged feeds whose seqs
        //  interleave: region by region, by version, only.
        if (msg->seq > self->seq)
            self->seq = msg->seq;
        return s_store (self, msg, s_feed_version (msg)) ? WATCH_APPLIED : WATCH_STALE;
    }
    if (msg->seq <= self->seq) {
        proto_msg_destroy (&msg);
        return WATCH_STALE;
    }
    bool gap = !self->filtered && msg->seq != self->seq + 1;
    self->seq = msg->seq;
    bool stored = s_store (self, msg, s_feed_version (msg));
    if (gap) {
        self->synced = false;
        return WATCH_GAP;
    }
    return stored ? WATCH_APPLIED : WATCH_STALE;
}

watch_state_t *
watch_state_new (bool filtered, watch_state_fn *on_store, void *arg)
{
    watch_state_t *self = calloc (1, sizeof *self);
    assert (self);
    self->filtered = filtered;
    self->on_store = on_store;
    self->arg = arg;
    return self;
}

void
watch_state_set_merged (watch_state_t *self, bool merged)
{
    assert (self);
    self->merged = merged;
}

bool
watch_state_merged (watch_state_t *self)
{
    assert (self);
    return self->merged;
}

void
watch_state_destroy (watch_state_t **self_p)
{
    assert (self_p);
    watch_state_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++)
        proto_msg_destroy (&self->entries [i].totals);
    free (self->entries);
    s_list_clear (&self->rows);
    s_list_clear (&self->buffer);
    free (self->rows.items);
    free (self->buffer.items);
    free (self);
    *self_p = NULL;
}

void
watch_state_snapshot_begin (watch_state_t *self)
{
    assert (self);
    s_list_clear (&self->rows);
    self->taking = true;
    self->synced = false;
}

watch_verdict_t
watch_state_snapshot_row (watch_state_t *self, proto_msg_t **msg_p)
{
    assert (self && msg_p && *msg_p);
    proto_msg_t *msg = *msg_p;
    *msg_p = NULL;
    if (!self->taking || msg->type != PROTO_TOTALS) {
        proto_msg_destroy (&msg);
        return WATCH_REJECTED;
    }
    s_list_push (&self->rows, msg);
    return WATCH_BUFFERED;
}

watch_verdict_t
watch_state_snapshot_end (watch_state_t *self, int64_t seq)
{
    assert (self);
    if (!self->taking)
        return WATCH_REJECTED;
    //  A snapshot row without a version is as new as the snapshot itself.
    for (size_t i = 0; i < self->rows.size; i++) {
        proto_msg_t *row = self->rows.items [i];
        s_store (self, row, row->has_version ? row->version : seq);
    }
    self->rows.size = 0;
    self->taking = false;
    self->synced = true;
    self->seq = seq;

    watch_verdict_t verdict = WATCH_APPLIED;
    for (size_t i = 0; i < self->buffer.size; i++) {
        watch_verdict_t applied = s_apply_feed (self, self->buffer.items [i]);
        if (applied == WATCH_GAP || (applied == WATCH_VERIFY && verdict != WATCH_GAP))
            verdict = applied;
    }
    self->buffer.size = 0;
    if (self->overflowed) {
        self->overflowed = false;
        self->synced = false;
        verdict = WATCH_GAP;
    }
    return verdict;
}

void
watch_state_snapshot_abort (watch_state_t *self)
{
    assert (self);
    s_list_clear (&self->rows);
    self->taking = false;
    self->synced = false;
    self->overflowed = false;
    for (size_t i = 0; i < self->buffer.size; i++)
        s_apply_feed (self, self->buffer.items [i]);
    self->buffer.size = 0;
}

watch_verdict_t
watch_state_feed (watch_state_t *self, proto_msg_t **msg_p)
{
    assert (self && msg_p && *msg_p);
    proto_msg_t *msg = *msg_p;
    *msg_p = NULL;
    if (msg->type != PROTO_TOTALS && msg->type != PROTO_HEARTBEAT) {
        proto_msg_destroy (&msg);
        return WATCH_REJECTED;
    }
    if (self->taking) {
        if (self->buffer.size < S_BUFFER_MAX) {
            s_list_push (&self->buffer, msg);
            return WATCH_BUFFERED;
        }
        self->overflowed = true;
        bool synced = self->synced;
        self->synced = false;
        watch_verdict_t verdict = s_apply_feed (self, msg);
        self->synced = synced;
        return verdict == WATCH_APPLIED ? WATCH_APPLIED : WATCH_STALE;
    }
    return s_apply_feed (self, msg);
}

bool
watch_state_synced (watch_state_t *self)
{
    assert (self);
    return self->synced;
}

bool
watch_state_taking (watch_state_t *self)
{
    assert (self);
    return self->taking;
}

int64_t
watch_state_seq (watch_state_t *self)
{
    assert (self);
    return self->seq;
}

size_t
watch_state_size (watch_state_t *self)
{
    assert (self);
    return self->size;
}

const proto_msg_t *
watch_state_at (watch_state_t *self, size_t index)
{
    assert (self);
    return index < self->size ? self->entries [index].totals : NULL;
}

const proto_msg_t *
watch_state_lookup (watch_state_t *self, const char *region, int64_t year)
{
    assert (self && region);
    bool found;
    size_t index = s_find (self, region, year, &found);
    return found ? self->entries [index].totals : NULL;
}

int64_t
watch_state_version (watch_state_t *self, const char *region, int64_t year)
{
    assert (self && region);
    bool found;
    size_t index = s_find (self, region, year, &found);
    return found ? self->entries [index].version : -1;
}

int64_t
watch_state_newest_year (watch_state_t *self)
{
    assert (self);
    int64_t year = 0;
    for (size_t i = 0; i < self->size; i++)
        if (self->entries [i].totals->year > year)
            year = self->entries [i].totals->year;
    return year;
}
