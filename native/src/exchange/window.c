/* window.c - the adaptive window of a connection's Exchange requests (window.h). */
#include "exchange/window.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include "platform/platform.h"

/* How often a waiting request looks at its own cancellation. */
#define WINDOW_POLL_MS 50L

static int clamp_ceiling(int ceiling)
{
    if (ceiling < 1)
        return 1;
    return ceiling > EM_EXO_WINDOW_MAX ? EM_EXO_WINDOW_MAX : ceiling;
}

void em_exo_window_state_init(em_exo_window_state *s, int ceiling)
{
    memset(s, 0, sizeof(*s));
    s->ceiling = clamp_ceiling(ceiling);
    s->limit = s->ceiling;
}

void em_exo_window_state_set_ceiling(em_exo_window_state *s, int ceiling)
{
    s->ceiling = clamp_ceiling(ceiling);
    if (s->limit > s->ceiling || !s->throttled)
        s->limit = s->ceiling;
}

long em_exo_window_state_wait(const em_exo_window_state *s, long long now_ms)
{
    if (now_ms < s->resume_ms)
        return (long)(s->resume_ms - now_ms);
    return s->active < s->limit ? 0 : -1;
}

static void shrink(em_exo_window_state *s, int limit)
{
    if (limit < 1)
        limit = 1;
    if (limit < s->limit)
        s->limit = limit;
    s->successes = 0;
    s->throttled = true;
}

void em_exo_window_state_answer(em_exo_window_state *s, const em_exo_window_answer *a,
                                long long now_ms)
{
    if (a->remaining == 0) {
        /* The budget is spent (a 429 saying so too): nothing until it refills. */
        long reset = a->reset_s >= 0 ? a->reset_s : EM_EXO_RESET_DEFAULT_S;

        if (reset > EM_EXO_RESET_MAX_S)
            reset = EM_EXO_RESET_MAX_S;
        if (now_ms + reset * 1000 > s->resume_ms)
            s->resume_ms = now_ms + reset * 1000;
        shrink(s, 1);
        return;
    }
    if (a->throttled) {
        shrink(s, s->limit / 2);
        return;
    }
    /* Fewer left in the budget than we would send at once. */
    if (a->remaining > 0 && a->remaining < s->limit) {
        shrink(s, (int)a->remaining);
        return;
    }
    if (a->status < 200 || a->status > 299)
        return;
    /* Grow back by one after a window's worth of plain successes. */
    if (s->limit < s->ceiling && ++s->successes >= s->limit) {
        s->limit++;
        s->successes = 0;
    }
    if (s->limit >= s->ceiling)
        s->throttled = false;
}

/* A header's non-negative integer value, or -1. */
static long header_number(const char *value)
{
    char *end = NULL;
    long n;

    if (value == NULL || !isdigit((unsigned char)value[0]))
        return -1;
    errno = 0;
    n = strtol(value, &end, 10);
    if (errno != 0 || (*end != '\0' && !isspace((unsigned char)*end)))
        return -1;
    return n;
}

void em_exo_window_read_answer(em_exo_window_answer *a, long status, bool throttled,
                               const char *remaining, const char *reset)
{
    a->status = status;
    a->throttled = throttled;
    a->remaining = header_number(remaining);
    a->reset_s = header_number(reset);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int em_exo_window_new(em_exo_window **out, int ceiling)
{
    em_exo_window *w = calloc(1, sizeof(*w));

    *out = NULL;
    if (w == NULL)
        return EM_ENOMEM;
    pthread_mutex_init(&w->lock, NULL);
    em_platform_cond_init(&w->changed);
    em_exo_window_state_init(&w->state, ceiling);
    *out = w;
    return EM_OK;
}

void em_exo_window_free(em_exo_window **w)
{
    if (*w == NULL)
        return;
    pthread_cond_destroy(&(*w)->changed);
    pthread_mutex_destroy(&(*w)->lock);
    free(*w);
    *w = NULL;
}

void em_exo_window_set_ceiling(em_exo_window *w, int ceiling)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    em_exo_window_state_set_ceiling(&w->state, ceiling);
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
}

int em_exo_window_enter(em_exo_window *w, em_request *req)
{
    struct timespec deadline;
    long wait;

    if (w == NULL)
        return EM_OK;
    pthread_mutex_lock(&w->lock);
    while ((wait = em_exo_window_state_wait(&w->state, now_ms())) != 0) {
        if (em_request_cancelled(req)) {
            pthread_mutex_unlock(&w->lock);
            return EM_ECANCELLED;
        }
        em_platform_deadline(&deadline, wait < 0 || wait > WINDOW_POLL_MS ? WINDOW_POLL_MS : wait);
        pthread_cond_timedwait(&w->changed, &w->lock, &deadline);
    }
    w->state.active++;
    pthread_mutex_unlock(&w->lock);
    return EM_OK;
}

void em_exo_window_leave(em_exo_window *w, const em_exo_window_answer *a)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    if (w->state.active > 0)
        w->state.active--;
    if (a != NULL)
        em_exo_window_state_answer(&w->state, a, now_ms());
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
}

em_exo_window_state em_exo_window_snapshot(em_exo_window *w)
{
    em_exo_window_state s;

    pthread_mutex_lock(&w->lock);
    s = w->state;
    pthread_mutex_unlock(&w->lock);
    return s;
}
