/* window.h - how many Exchange requests one connection has in flight.
 *
 * Exchange throttles per tenant and per user: a 429 (Retry-After), and on
 * answers the Rate-Limit-Remaining / Rate-Limit-Reset headers (requests
 * left in the current budget, seconds until it refills). A connection's
 * window is the most HTTP requests (page attempts) it keeps at Exchange at
 * once: at most the ceiling the module asks for (throttleLimit), halved on
 * a 429, shrunk to what Rate-Limit-Remaining leaves, closed until
 * Rate-Limit-Reset when that is 0, and grown back by one after each
 * window's worth of plain successes (additive increase, multiplicative
 * decrease). docs/exchange.md, "Pipelines", has the why.
 *
 * The decisions are pure functions of em_exo_window_state and a clock
 * value (unit-tested in tests/unit/test_window.c); em_exo_window adds the
 * lock and the wait.
 */
#ifndef EM_EXO_WINDOW_H
#define EM_EXO_WINDOW_H

#include <pthread.h>
#include <stdbool.h>
#include "protocol/request.h"

#define EM_EXO_WINDOW_MAX 64        /* the largest throttleLimit */
#define EM_EXO_WINDOW_DEFAULT 8     /* a connection's throttleLimit by default */
#define EM_EXO_RESET_DEFAULT_S 1L   /* Rate-Limit-Remaining 0 without a Reset */
#define EM_EXO_RESET_MAX_S 60L      /* the longest pause a Reset may ask */

typedef struct em_exo_window_state {
    int ceiling;                    /* what the module asks, 1..EM_EXO_WINDOW_MAX */
    int limit;                      /* requests allowed at once now, 1..ceiling */
    int active;                     /* requests at Exchange now */
    int successes;                  /* plain answers since the limit last changed */
    bool throttled;                 /* shrunk by the service since it was last at the ceiling */
    long long resume_ms;            /* no new request before this (clock of now_ms) */
} em_exo_window_state;

/* What one answer said about the service's limits. */
typedef struct em_exo_window_answer {
    long status;                    /* HTTP status; 0 = no answer (a transport failure) */
    bool throttled;                 /* 429, or Exchange's throttling text */
    long remaining;                 /* Rate-Limit-Remaining, or -1 */
    long reset_s;                   /* Rate-Limit-Reset in seconds, or -1 */
} em_exo_window_answer;

void em_exo_window_state_init(em_exo_window_state *s, int ceiling);
/* A new ceiling (clamped to 1..EM_EXO_WINDOW_MAX). The limit follows it
 * at once unless the service has throttled us since we were last at it. */
void em_exo_window_state_set_ceiling(em_exo_window_state *s, int ceiling);
/* 0 when a request may start now, else the ms to wait before asking again
 * (the pause of a Reset, or -1: until a request in flight ends). */
long em_exo_window_state_wait(const em_exo_window_state *s, long long now_ms);
/* Adjusts the window after an answer (the request counted in active has
 * already been taken off). */
void em_exo_window_state_answer(em_exo_window_state *s, const em_exo_window_answer *a,
                                long long now_ms);

/* Reads an answer's status and headers (Retry-After is the retry
 * policy's, not the window's). */
void em_exo_window_read_answer(em_exo_window_answer *a, long status, bool throttled,
                               const char *remaining, const char *reset);

typedef struct em_exo_window {
    pthread_mutex_t lock;
    pthread_cond_t changed;         /* a request ended or the ceiling moved */
    em_exo_window_state state;
} em_exo_window;

int em_exo_window_new(em_exo_window **out, int ceiling);
void em_exo_window_free(em_exo_window **w);
void em_exo_window_set_ceiling(em_exo_window *w, int ceiling);
/* Waits for a place in the window. EM_OK, or EM_ECANCELLED as soon as req
 * is cancelled (then nothing was taken). w NULL: EM_OK at once. */
int em_exo_window_enter(em_exo_window *w, em_request *req);
/* Gives the place back with what the answer said; a NULL a leaves the
 * window as it was (the request never reached Exchange). */
void em_exo_window_leave(em_exo_window *w, const em_exo_window_answer *a);
/* Snapshot for tests and logs. */
em_exo_window_state em_exo_window_snapshot(em_exo_window *w);

#endif
