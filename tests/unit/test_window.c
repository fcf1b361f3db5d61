/* test_window.c - the adaptive window of a connection's Exchange requests
 * (exchange/window.h): the pure decisions against a made-up clock, and
 * the locked window with threads (waits for a place, wakes on a leave,
 * honours a cancel).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include "exchange/window.h"

static em_exo_window_answer answer(long status, bool throttled, long remaining, long reset_s)
{
    em_exo_window_answer a = {status, throttled, remaining, reset_s};

    return a;
}

/* Takes a place, then gives it back with the answer. */
static void round_trip(em_exo_window_state *s, em_exo_window_answer a, long long now)
{
    assert_int_equal(em_exo_window_state_wait(s, now), 0);
    s->active++;
    s->active--;
    em_exo_window_state_answer(s, &a, now);
}

static void test_starts_at_ceiling_and_fills(void **state)
{
    em_exo_window_state s;
    int i;

    (void)state;
    em_exo_window_state_init(&s, 8);
    assert_int_equal(s.limit, 8);
    for (i = 0; i < 8; i++) {
        assert_int_equal(em_exo_window_state_wait(&s, 0), 0);
        s.active++;
    }
    /* Full: wait for a request to end. */
    assert_int_equal(em_exo_window_state_wait(&s, 0), -1);
}

static void test_ceiling_clamped(void **state)
{
    em_exo_window_state s;

    (void)state;
    em_exo_window_state_init(&s, 0);
    assert_int_equal(s.ceiling, 1);
    em_exo_window_state_init(&s, 1000);
    assert_int_equal(s.ceiling, EM_EXO_WINDOW_MAX);
    assert_int_equal(s.limit, EM_EXO_WINDOW_MAX);
}

static void test_429_halves_down_to_one(void **state)
{
    em_exo_window_state s;

    (void)state;
    em_exo_window_state_init(&s, 8);
    round_trip(&s, answer(429, true, -1, -1), 0);
    assert_int_equal(s.limit, 4);
    round_trip(&s, answer(429, true, -1, -1), 0);
    assert_int_equal(s.limit, 2);
    round_trip(&s, answer(429, true, -1, -1), 0);
    round_trip(&s, answer(429, true, -1, -1), 0);
    assert_int_equal(s.limit, 1);
    assert_true(s.throttled);
}

static void test_plain_throttle_text_counts_as_429(void **state)
{
    em_exo_window_state s;

    (void)state;
    em_exo_window_state_init(&s, 6);
    /* Exchange's "maximum number of concurrent requests" text on a 500. */
    round_trip(&s, answer(500, true, -1, -1), 0);
    assert_int_equal(s.limit, 3);
}

static void test_grows_back_slowly(void **state)
{
    em_exo_window_state s;
    int i;

    (void)state;
    em_exo_window_state_init(&s, 8);
    round_trip(&s, answer(429, true, -1, -1), 0);
    assert_int_equal(s.limit, 4);
    /* One more place after a window's worth (4) of successes, not before. */
    for (i = 0; i < 3; i++)
        round_trip(&s, answer(200, false, -1, -1), 0);
    assert_int_equal(s.limit, 4);
    round_trip(&s, answer(200, false, -1, -1), 0);
    assert_int_equal(s.limit, 5);
    /* 5 + 6 + 7 successes more reach the ceiling, never past it. */
    for (i = 0; i < 5 + 6 + 7 + 20; i++)
        round_trip(&s, answer(200, false, -1, -1), 0);
    assert_int_equal(s.limit, 8);
    assert_false(s.throttled);
}

static void test_errors_do_not_grow(void **state)
{
    em_exo_window_state s;
    int i;

    (void)state;
    em_exo_window_state_init(&s, 8);
    round_trip(&s, answer(429, true, -1, -1), 0);
    for (i = 0; i < 20; i++)
        round_trip(&s, answer(404, false, -1, -1), 0);
    assert_int_equal(s.limit, 4);
}

static void test_low_remaining_shrinks(void **state)
{
    em_exo_window_state s;

    (void)state;
    em_exo_window_state_init(&s, 8);
    round_trip(&s, answer(200, false, 100, 10), 0);
    assert_int_equal(s.limit, 8);
    round_trip(&s, answer(200, false, 3, 10), 0);
    assert_int_equal(s.limit, 3);
    assert_true(s.throttled);
    /* A later, larger budget does not jump back: growth stays slow. */
    round_trip(&s, answer(200, false, 50, 10), 0);
    assert_int_equal(s.limit, 3);
}

static void test_remaining_zero_waits_for_reset(void **state)
{
    em_exo_window_state s;

    (void)state;
    em_exo_window_state_init(&s, 8);
    round_trip(&s, answer(200, false, 0, 5), 1000);
    assert_int_equal(s.limit, 1);
    /* Closed until the reset, even with nothing in flight. */
    assert_int_equal(em_exo_window_state_wait(&s, 1000), 5000);
    assert_int_equal(em_exo_window_state_wait(&s, 5999), 1);
    assert_int_equal(em_exo_window_state_wait(&s, 6000), 0);
}

static void test_429_with_spent_budget_pauses(void **state)
{
    em_exo_window_state s;

    (void)state;
    em_exo_window_state_init(&s, 8);
    /* A 429 that also says Rate-Limit-Remaining: 0 and when it refills. */
    round_trip(&s, answer(429, true, 0, 3), 0);
    assert_int_equal(s.limit, 1);
    assert_int_equal(em_exo_window_state_wait(&s, 0), 3000);
    /* A plain 429 does not pause the others: their retries wait Retry-After. */
    em_exo_window_state_init(&s, 8);
    round_trip(&s, answer(429, true, -1, -1), 0);
    assert_int_equal(em_exo_window_state_wait(&s, 0), 0);
}

static void test_reset_missing_or_huge(void **state)
{
    em_exo_window_state s;

    (void)state;
    em_exo_window_state_init(&s, 8);
    round_trip(&s, answer(200, false, 0, -1), 0);
    assert_int_equal(em_exo_window_state_wait(&s, 0), EM_EXO_RESET_DEFAULT_S * 1000);
    em_exo_window_state_init(&s, 8);
    round_trip(&s, answer(200, false, 0, 86400), 0);
    assert_int_equal(em_exo_window_state_wait(&s, 0), EM_EXO_RESET_MAX_S * 1000);
}

static void test_ceiling_moves(void **state)
{
    em_exo_window_state s;

    (void)state;
    em_exo_window_state_init(&s, 8);
    /* Not throttled: the limit follows the ceiling both ways. */
    em_exo_window_state_set_ceiling(&s, 16);
    assert_int_equal(s.limit, 16);
    em_exo_window_state_set_ceiling(&s, 2);
    assert_int_equal(s.limit, 2);
    /* Throttled: a higher ceiling does not undo the service's signal. */
    em_exo_window_state_set_ceiling(&s, 8);
    round_trip(&s, answer(429, true, -1, -1), 0);
    assert_int_equal(s.limit, 4);
    em_exo_window_state_set_ceiling(&s, 32);
    assert_int_equal(s.limit, 4);
    em_exo_window_state_set_ceiling(&s, 3);
    assert_int_equal(s.limit, 3);
}

static void test_read_answer_headers(void **state)
{
    em_exo_window_answer a;

    (void)state;
    em_exo_window_read_answer(&a, 200, false, "42", "7");
    assert_int_equal(a.remaining, 42);
    assert_int_equal(a.reset_s, 7);
    em_exo_window_read_answer(&a, 200, false, NULL, NULL);
    assert_int_equal(a.remaining, -1);
    assert_int_equal(a.reset_s, -1);
    /* Not a count: ignored rather than read as 0 (which would pause). */
    em_exo_window_read_answer(&a, 200, false, "-3", "soon");
    assert_int_equal(a.remaining, -1);
    assert_int_equal(a.reset_s, -1);
    em_exo_window_read_answer(&a, 200, false, "12abc", "99999999999999999999999");
    assert_int_equal(a.remaining, -1);
    assert_int_equal(a.reset_s, -1);
}

/* ---- the locked window, with threads ---- */

typedef struct waiter {
    em_exo_window *window;
    int rc;
    bool entered;
} waiter;

static void *enter_thread(void *arg)
{
    waiter *w = arg;

    w->rc = em_exo_window_enter(w->window, NULL);
    w->entered = true;
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void test_enter_waits_for_leave(void **state)
{
    em_exo_window *window = NULL;
    em_exo_window_answer ok = answer(200, false, -1, -1);
    waiter third = {0};
    pthread_t thread;

    (void)state;
    assert_int_equal(em_exo_window_new(&window, 2), EM_OK);
    assert_int_equal(em_exo_window_enter(window, NULL), EM_OK);
    assert_int_equal(em_exo_window_enter(window, NULL), EM_OK);
    third.window = window;
    assert_int_equal(pthread_create(&thread, NULL, enter_thread, &third), 0);
    sleep_ms(150);
    assert_false(third.entered);
    assert_int_equal(em_exo_window_snapshot(window).active, 2);
    em_exo_window_leave(window, &ok);
    pthread_join(thread, NULL);
    assert_true(third.entered);
    assert_int_equal(third.rc, EM_OK);
    assert_int_equal(em_exo_window_snapshot(window).active, 2);
    em_exo_window_leave(window, NULL);
    em_exo_window_leave(window, NULL);
    assert_int_equal(em_exo_window_snapshot(window).active, 0);
    em_exo_window_free(&window);
    assert_null(window);
}

static void test_null_window_never_waits(void **state)
{
    (void)state;
    assert_int_equal(em_exo_window_enter(NULL, NULL), EM_OK);
    em_exo_window_leave(NULL, NULL);
    em_exo_window_set_ceiling(NULL, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_at_ceiling_and_fills),
        cmocka_unit_test(test_ceiling_clamped),
        cmocka_unit_test(test_429_halves_down_to_one),
        cmocka_unit_test(test_plain_throttle_text_counts_as_429),
        cmocka_unit_test(test_grows_back_slowly),
        cmocka_unit_test(test_errors_do_not_grow),
        cmocka_unit_test(test_low_remaining_shrinks),
        cmocka_unit_test(test_remaining_zero_waits_for_reset),
        cmocka_unit_test(test_429_with_spent_budget_pauses),
        cmocka_unit_test(test_reset_missing_or_huge),
        cmocka_unit_test(test_ceiling_moves),
        cmocka_unit_test(test_read_answer_headers),
        cmocka_unit_test(test_enter_waits_for_leave),
        cmocka_unit_test(test_null_window_never_waits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
