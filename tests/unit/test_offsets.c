/* Unit tests of the at-least-once offset tracker (gs_offsets_*): the
 * committable watermark is the end of the contiguous acknowledged prefix,
 * tokens of revoked assignments are stale, slots and rings are reused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/kafka.h"

/* Every test gets a tracker in *state, destroyed even when it fails. */
static gs_offsets_t *new_tracker(void **state, size_t max_inflight)
{
    gs_offsets_destroy(*state);
    *state = NULL;
    gs_offsets_t *o = NULL;
    char err[256] = "";
    if (gs_offsets_new(max_inflight, &o, err, sizeof(err)))
        fail_msg("gs_offsets_new(%zu): %s", max_inflight, err);
    *state = o;
    return o;
}

static int teardown(void **state)
{
    gs_offsets_destroy(*state);
    return 0;
}

static void *track(gs_offsets_t *o, int slot, int64_t offset)
{
    void *tok = NULL;
    gs_err_t rc = gs_offsets_track(o, slot, offset, &tok);
    if (rc)
        fail_msg("track(slot %d, offset %lld): %s", slot, (long long)offset, gs_err_name(rc));
    return tok;
}

static void test_new_args(void **state)
{
    (void)state;
    gs_offsets_t *o = NULL;
    char err[256] = "";
    assert_int_equal(gs_offsets_new(0, &o, err, sizeof(err)), GS_ERR_INVALID_ARG);
    assert_null(o);
    assert_true(strlen(err) > 0);
}

static void test_assign_find(void **state)
{
    gs_offsets_t *o = new_tracker(state, 16);
    assert_int_equal(gs_offsets_slots(o), 0);
    assert_int_equal(gs_offsets_find(o, "t", 0), -1);
    int a = gs_offsets_assign(o, "t", 0);
    int b = gs_offsets_assign(o, "t", 1);
    int c = gs_offsets_assign(o, "u", 0);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_equal(c, 2);
    assert_int_equal(gs_offsets_slots(o), 3);
    assert_int_equal(gs_offsets_find(o, "t", 1), b);
    assert_int_equal(gs_offsets_find(o, "u", 0), c);
    assert_int_equal(gs_offsets_find(o, "u", 1), -1);
    assert_string_equal(gs_offsets_topic(o, c), "u");
    assert_int_equal(gs_offsets_partition(o, b), 1);
    /* assigning an assigned partition again keeps its slot and state */
    void *tok = track(o, a, 5);
    assert_int_equal(gs_offsets_assign(o, "t", 0), a);
    assert_int_equal(gs_offsets_live(o, tok), 1);
    assert_int_equal(gs_offsets_inflight(o, a), 1);
    /* nothing acknowledged yet: nothing to commit */
    assert_int_equal(gs_offsets_position(o, a), -1);
    assert_int_equal(gs_offsets_advance(o, a), -1);
    assert_int_equal(gs_offsets_position(o, b), -1);
}

static void test_in_order(void **state)
{
    gs_offsets_t *o = new_tracker(state, 16);
    int s = gs_offsets_assign(o, "t", 0);
    void *tok[10];
    for (int i = 0; i < 10; i++)
        tok[i] = track(o, s, 100 + i);
    assert_int_equal(gs_offsets_inflight(o, s), 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(gs_offsets_live(o, tok[i]), 1);
        assert_int_equal(gs_offsets_ack(o, tok[i]), 1);
        assert_int_equal(gs_offsets_advance(o, s), 100 + i + 1);
        assert_int_equal(gs_offsets_position(o, s), 100 + i + 1);
        assert_int_equal(gs_offsets_inflight(o, s), (size_t)(9 - i));
    }
    assert_int_equal(gs_offsets_advance(o, s), -1); /* nothing moved */
    assert_int_equal(gs_offsets_position(o, s), 110);

    /* all acknowledged before one advance: it jumps to last + 1 */
    for (int i = 0; i < 10; i++)
        tok[i] = track(o, s, 110 + i);
    for (int i = 0; i < 10; i++)
        gs_offsets_ack(o, tok[i]);
    assert_int_equal(gs_offsets_advance(o, s), 120);
    assert_int_equal(gs_offsets_advance(o, s), -1);
    assert_int_equal(gs_offsets_inflight(o, s), 0);
}

static void test_out_of_order(void **state)
{
    gs_offsets_t *o = new_tracker(state, 16);
    int s = gs_offsets_assign(o, "t", 3);
    void *t0 = track(o, s, 0), *t1 = track(o, s, 1), *t2 = track(o, s, 2), *t3 = track(o, s, 3);
    assert_int_equal(gs_offsets_ack(o, t3), 1);
    assert_int_equal(gs_offsets_ack(o, t1), 1);
    assert_int_equal(gs_offsets_advance(o, s), -1); /* 0 still missing */
    assert_int_equal(gs_offsets_position(o, s), -1);
    assert_int_equal(gs_offsets_ack(o, t0), 1);
    assert_int_equal(gs_offsets_advance(o, s), 2); /* 0,1 done; 2 missing */
    assert_int_equal(gs_offsets_position(o, s), 2);
    assert_int_equal(gs_offsets_advance(o, s), -1);
    assert_int_equal(gs_offsets_ack(o, t2), 1);
    assert_int_equal(gs_offsets_advance(o, s), 4);
    assert_int_equal(gs_offsets_position(o, s), 4);
    assert_int_equal(gs_offsets_inflight(o, s), 0);
}

/* Compacted topics skip offsets: the watermark is last acked + 1, never
 * an offset that was not consumed. */
static void test_gaps(void **state)
{
    gs_offsets_t *o = new_tracker(state, 16);
    int s = gs_offsets_assign(o, "compacted", 0);
    void *a = track(o, s, 10), *b = track(o, s, 15), *c = track(o, s, 16);
    gs_offsets_ack(o, b);
    assert_int_equal(gs_offsets_advance(o, s), -1);
    gs_offsets_ack(o, a);
    assert_int_equal(gs_offsets_advance(o, s), 16);
    gs_offsets_ack(o, c);
    assert_int_equal(gs_offsets_advance(o, s), 17);
    void *d = track(o, s, 1000);
    gs_offsets_ack(o, d);
    assert_int_equal(gs_offsets_advance(o, s), 1001);
}

static void test_max_inflight(void **state)
{
    /* 5 is not a power of two: the limit is 5, not the ring size */
    gs_offsets_t *o = new_tracker(state, 5);
    int s = gs_offsets_assign(o, "t", 0), other = gs_offsets_assign(o, "t", 1);
    void *tok[5], *extra = NULL;
    for (int i = 0; i < 5; i++)
        tok[i] = track(o, s, i);
    assert_int_equal(gs_offsets_inflight(o, s), 5);
    assert_int_equal(gs_offsets_track(o, s, 5, &extra), GS_ERR_TOO_LARGE);
    /* the limit is per partition */
    track(o, other, 0);
    /* acks followed by advance free room again */
    gs_offsets_ack(o, tok[0]);
    gs_offsets_ack(o, tok[1]);
    assert_int_equal(gs_offsets_advance(o, s), 2);
    assert_int_equal(gs_offsets_inflight(o, s), 3);
    void *t5 = track(o, s, 5), *t6 = track(o, s, 6);
    assert_int_equal(gs_offsets_track(o, s, 7, &extra), GS_ERR_TOO_LARGE);
    /* the refused offset changed nothing */
    for (int i = 2; i < 5; i++)
        gs_offsets_ack(o, tok[i]);
    gs_offsets_ack(o, t5);
    gs_offsets_ack(o, t6);
    assert_int_equal(gs_offsets_advance(o, s), 7);
    assert_int_equal(gs_offsets_inflight(o, s), 0);
}

static void test_unassigned_slot(void **state)
{
    gs_offsets_t *o = new_tracker(state, 4);
    void *tok = NULL;
    assert_int_equal(gs_offsets_track(o, 0, 1, &tok), GS_ERR_INVALID_ARG);
    assert_int_equal(gs_offsets_track(o, -1, 1, &tok), GS_ERR_INVALID_ARG);
    assert_int_equal(gs_offsets_assigned(o, 0), 0);
    assert_int_equal(gs_offsets_assigned(o, -1), 0);
    assert_int_equal(gs_offsets_advance(o, -1), -1);
    assert_int_equal(gs_offsets_position(o, 7), -1);
    assert_int_equal(gs_offsets_inflight(o, 7), 0);
    gs_offsets_revoke(o, -1); /* what gs_offsets_find returns for unknown partitions */
    gs_offsets_revoke(o, 99);
    assert_int_equal(gs_offsets_live(o, NULL), 0);
    assert_int_equal(gs_offsets_ack(o, NULL), 0);
}

/* A revoked assignment's delivery reports arrive after the partition was
 * assigned again: they must not touch the new assignment. */
static void test_revoke_reassign(void **state)
{
    gs_offsets_t *o = new_tracker(state, 8);
    int s = gs_offsets_assign(o, "t", 0);
    int keep = gs_offsets_assign(o, "t", 1);
    void *old0 = track(o, s, 100), *old1 = track(o, s, 101);
    void *k0 = track(o, keep, 7);
    gs_offsets_ack(o, old0);
    assert_int_equal(gs_offsets_advance(o, s), 101);

    gs_offsets_revoke(o, s);
    assert_int_equal(gs_offsets_assigned(o, s), 0);
    assert_int_equal(gs_offsets_find(o, "t", 0), -1);
    assert_int_equal(gs_offsets_live(o, old1), 0);
    assert_int_equal(gs_offsets_ack(o, old1), 0);
    assert_int_equal(gs_offsets_position(o, s), -1);
    assert_int_equal(gs_offsets_inflight(o, s), 0);
    assert_int_equal(gs_offsets_advance(o, s), -1);
    /* the other partition is untouched */
    assert_int_equal(gs_offsets_live(o, k0), 1);
    assert_int_equal(gs_offsets_inflight(o, keep), 1);

    /* assigned again (same slot): a new epoch starting from scratch */
    int s2 = gs_offsets_assign(o, "t", 0);
    assert_int_equal(s2, s);
    assert_int_equal(gs_offsets_position(o, s2), -1);
    assert_int_equal(gs_offsets_inflight(o, s2), 0);
    void *new0 = track(o, s2, 200), *new1 = track(o, s2, 201);
    /* old tokens name the same slot and ring positions, but are stale */
    assert_int_equal(gs_offsets_live(o, old0), 0);
    assert_int_equal(gs_offsets_live(o, old1), 0);
    assert_int_equal(gs_offsets_ack(o, old0), 0);
    assert_int_equal(gs_offsets_ack(o, old1), 0);
    assert_int_equal(gs_offsets_advance(o, s2), -1);
    assert_int_equal(gs_offsets_position(o, s2), -1);
    assert_int_equal(gs_offsets_inflight(o, s2), 2);
    assert_int_equal(gs_offsets_live(o, new0), 1);
    gs_offsets_ack(o, new0);
    gs_offsets_ack(o, new1);
    assert_int_equal(gs_offsets_advance(o, s2), 202);

    /* acknowledging the other partition never moved this one */
    gs_offsets_ack(o, k0);
    assert_int_equal(gs_offsets_advance(o, keep), 8);
    assert_int_equal(gs_offsets_position(o, s2), 202);
}

static void test_slot_reuse(void **state)
{
    gs_offsets_t *o = new_tracker(state, 4);
    int a = gs_offsets_assign(o, "a", 0);
    int b = gs_offsets_assign(o, "b", 0);
    void *ta = track(o, a, 1);
    gs_offsets_revoke(o, a);
    int c = gs_offsets_assign(o, "c", 9);
    assert_int_equal(c, a); /* the freed slot is reused */
    assert_int_equal(gs_offsets_slots(o), 2);
    assert_string_equal(gs_offsets_topic(o, c), "c");
    assert_int_equal(gs_offsets_partition(o, c), 9);
    assert_int_equal(gs_offsets_find(o, "a", 0), -1);
    assert_int_equal(gs_offsets_find(o, "c", 9), c);
    /* a's token must not acknowledge c's first offset */
    void *tc = track(o, c, 50);
    assert_int_equal(gs_offsets_ack(o, ta), 0);
    assert_int_equal(gs_offsets_advance(o, c), -1);
    gs_offsets_ack(o, tc);
    assert_int_equal(gs_offsets_advance(o, c), 51);

    /* many partitions: slots grow past the initial table, then all reused */
    for (int i = 0; i < 100; i++)
        assert_true(gs_offsets_assign(o, "many", i) >= 0);
    assert_int_equal(gs_offsets_slots(o), 102);
    for (int i = 0; i < 100; i++)
        gs_offsets_revoke(o, gs_offsets_find(o, "many", i));
    for (int i = 0; i < 100; i++)
        assert_true(gs_offsets_assign(o, "again", i) < 102);
    assert_int_equal(gs_offsets_slots(o), 102);
    assert_int_equal(gs_offsets_find(o, "b", 0), b);
}

/* Many fill/drain cycles wrap the ring positions over and over. */
static void test_ring_reuse(void **state)
{
    enum { MAX = 8, CYCLES = 1000 };
    gs_offsets_t *o = new_tracker(state, MAX);
    int s = gs_offsets_assign(o, "t", 0);
    int64_t next = 0;
    void *prev[MAX] = {0};
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        void *tok[MAX];
        int n = 1 + cycle % MAX; /* vary the fill so positions shift */
        for (int i = 0; i < n; i++)
            tok[i] = track(o, s, next + i);
        /* tokens of the previous cycle share ring positions but are done */
        for (int i = 0; i < MAX && cycle; i++)
            if (prev[i] && gs_offsets_live(o, prev[i]))
                fail_msg("cycle %d: token %d of the previous cycle is live", cycle, i);
        for (int i = n; i-- > 0;) { /* newest first */
            assert_int_equal(gs_offsets_ack(o, tok[i]), 1);
            if (i)
                assert_int_equal(gs_offsets_advance(o, s), -1);
        }
        next += n;
        if (gs_offsets_advance(o, s) != next)
            fail_msg("cycle %d: watermark %lld, want %lld", cycle,
                     (long long)gs_offsets_position(o, s), (long long)next);
        memset(prev, 0, sizeof(prev));
        memcpy(prev, tok, (size_t)n * sizeof(tok[0]));
    }
    assert_true(next > 3 * MAX);
    assert_int_equal(gs_offsets_inflight(o, s), 0);
}

/* ---- randomized test against a naive reference ---------------------------- */

#define NPART 4
#define TOTAL 10000

typedef struct ref_part {
    int64_t offsets[TOTAL];
    void *tokens[TOTAL];
    unsigned char acked[TOTAL];
    int tracked, head; /* [head, tracked) not yet passed by the watermark */
    int64_t position, reported;
} ref_part_t;

/* Reference watermark: scan from the start for the first unacked offset. */
static int64_t ref_position(const ref_part_t *p)
{
    int64_t pos = -1;
    for (int i = 0; i < p->tracked && p->acked[i]; i++)
        pos = p->offsets[i] + 1;
    return pos;
}

static void run_random(void **state, uint64_t seed, size_t max_inflight)
{
    static ref_part_t ref[NPART];
    memset(ref, 0, sizeof(ref));
    gs_offsets_t *o = new_tracker(state, max_inflight);
    rng_seed(seed);
    int slot[NPART];
    for (int p = 0; p < NPART; p++) {
        slot[p] = gs_offsets_assign(o, "random", p);
        ref[p].position = ref[p].reported = -1;
    }
    /* pending (tracked, unacked) as (partition, index) pairs */
    static int pend_p[TOTAL], pend_i[TOTAL];
    int n_pend = 0, n_tracked = 0, n_acked = 0, ops = 0;
    int64_t next_off[NPART] = {0, 1000, 5, 1ll << 40};
    while (n_acked < TOTAL) {
        ops++;
        uint32_t op = rng_below(10);
        if (op < 5 && n_tracked < TOTAL) {
            int p = (int)rng_below(NPART);
            ref_part_t *r = &ref[p];
            int in_flight = r->tracked - r->head;
            void *tok = NULL;
            /* gaps as in compacted topics */
            int64_t off = next_off[p] + (rng_below(4) == 0 ? (int64_t)rng_below(5) : 0);
            gs_err_t rc = gs_offsets_track(o, slot[p], off, &tok);
            if ((size_t)in_flight >= max_inflight) {
                if (rc != GS_ERR_TOO_LARGE)
                    fail_msg("seed %llu op %d: track over the limit gave %s",
                             (unsigned long long)seed, ops, gs_err_name(rc));
                continue;
            }
            if (rc)
                fail_msg("seed %llu op %d: track gave %s with %d in flight",
                         (unsigned long long)seed, ops, gs_err_name(rc), in_flight);
            next_off[p] = off + 1;
            r->offsets[r->tracked] = off;
            r->tokens[r->tracked] = tok;
            pend_p[n_pend] = p;
            pend_i[n_pend++] = r->tracked++;
            n_tracked++;
        } else if (op < 9 && n_pend) {
            int k = (int)rng_below((uint32_t)n_pend);
            int p = pend_p[k], i = pend_i[k];
            pend_p[k] = pend_p[--n_pend];
            pend_i[k] = pend_i[n_pend];
            if (gs_offsets_ack(o, ref[p].tokens[i]) != 1)
                fail_msg("seed %llu op %d: ack of partition %d offset %lld refused",
                         (unsigned long long)seed, ops, p, (long long)ref[p].offsets[i]);
            ref[p].acked[i] = 1;
            n_acked++;
        } else {
            int p = (int)rng_below(NPART);
            ref_part_t *r = &ref[p];
            int64_t want_pos = ref_position(r);
            int64_t want_ret = want_pos != r->reported ? want_pos : -1;
            int64_t got = gs_offsets_advance(o, slot[p]);
            if (got != want_ret)
                fail_msg("seed %llu op %d: advance(partition %d) = %lld, want %lld",
                         (unsigned long long)seed, ops, p, (long long)got, (long long)want_ret);
            r->reported = want_pos;
            while (r->head < r->tracked && r->acked[r->head])
                r->head++;
            if (gs_offsets_inflight(o, slot[p]) != (size_t)(r->tracked - r->head))
                fail_msg("seed %llu op %d: inflight(partition %d) = %zu, want %d",
                         (unsigned long long)seed, ops, p, gs_offsets_inflight(o, slot[p]),
                         r->tracked - r->head);
        }
        /* position only changes on advance: it equals the last report */
        for (int p = 0; p < NPART; p++)
            if (gs_offsets_position(o, slot[p]) != ref[p].reported)
                fail_msg("seed %llu op %d: position(partition %d) = %lld, want %lld",
                         (unsigned long long)seed, ops, p,
                         (long long)gs_offsets_position(o, slot[p]), (long long)ref[p].reported);
    }
    for (int p = 0; p < NPART; p++) {
        gs_offsets_advance(o, slot[p]);
        ref_part_t *r = &ref[p];
        int64_t want = r->tracked ? r->offsets[r->tracked - 1] + 1 : -1;
        if (gs_offsets_position(o, slot[p]) != want)
            fail_msg("seed %llu: final position(partition %d) = %lld, want %lld",
                     (unsigned long long)seed, p, (long long)gs_offsets_position(o, slot[p]),
                     (long long)want);
        assert_int_equal(gs_offsets_inflight(o, slot[p]), 0);
        assert_true(r->tracked > 1000);
    }
}

static void test_random_wide(void **state)
{
    /* room for everything: arbitrary ack order over the whole run */
    run_random(state, 0x0FF5E7ull, TOTAL);
}

static void test_random_tight(void **state)
{
    /* a small window: the ring wraps hundreds of times, the limit binds */
    for (uint64_t seed = 1; seed <= 5; seed++)
        run_random(state, 0xACC0000ull + seed, 13);
}

/* A held offset (its changelog record in flight too) is done only when
 * every record of it is acknowledged, in either order; a stale token
 * cannot be held. */
static void test_hold(void **state)
{
    gs_offsets_t *o = new_tracker(state, 16);
    int s = gs_offsets_assign(o, "t", 0);
    void *t0 = track(o, s, 0), *t1 = track(o, s, 1);
    assert_int_equal(gs_offsets_hold(o, t0), 1);
    assert_int_equal(gs_offsets_hold(o, t0), 1); /* and a third record */
    assert_int_equal(gs_offsets_ack(o, t1), 1);
    assert_int_equal(gs_offsets_ack(o, t0), 1);
    assert_int_equal(gs_offsets_advance(o, s), -1);
    assert_int_equal(gs_offsets_ack(o, t0), 1);
    assert_int_equal(gs_offsets_advance(o, s), -1);
    assert_int_equal(gs_offsets_inflight(o, s), 2);
    assert_int_equal(gs_offsets_ack(o, t0), 1);
    assert_int_equal(gs_offsets_advance(o, s), 2);
    assert_int_equal(gs_offsets_inflight(o, s), 0);
    void *t2 = track(o, s, 2);
    gs_offsets_revoke(o, s);
    assert_int_equal(gs_offsets_hold(o, t2), 0);
    assert_int_equal(gs_offsets_ack(o, t2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_args),
        cmocka_unit_test_teardown(test_assign_find, teardown),
        cmocka_unit_test_teardown(test_in_order, teardown),
        cmocka_unit_test_teardown(test_out_of_order, teardown),
        cmocka_unit_test_teardown(test_gaps, teardown),
        cmocka_unit_test_teardown(test_max_inflight, teardown),
        cmocka_unit_test_teardown(test_unassigned_slot, teardown),
        cmocka_unit_test_teardown(test_revoke_reassign, teardown),
        cmocka_unit_test_teardown(test_slot_reuse, teardown),
        cmocka_unit_test_teardown(test_ring_reuse, teardown),
        cmocka_unit_test_teardown(test_random_wide, teardown),
        cmocka_unit_test_teardown(test_random_tight, teardown),
        cmocka_unit_test_teardown(test_hold, teardown),
    };
    return cmocka_run_group_tests_name("offsets", tests, NULL, NULL);
}
