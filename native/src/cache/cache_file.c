/* cache_file.c - the file under the token cache: its folder, its lock and
 * the atomic replacement of one JSON document. The contract is in
 * cache_file.h; the reasons in docs/cache.md.
 *
 * In memory the document is the parsed file (a yajl tree, strings wiped
 * when freed) and the stamp of the file it came from, so that a change by
 * another process is seen at the next lock. The folder, the files, the
 * lock and the protection at rest are platform.h's. Nothing here writes
 * to stderr.
 */
#include "cache/cache_file.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cache/cache.h"          /* the file names and limits of the contract */
#include "platform/platform.h"
#include "util/buf.h"

#define CACHE_POLL_MS 50
#define CACHE_MAX_WARNINGS 4

struct em_cache_file {
    char *file_path;            /* for messages: the files are reached through folder */
    em_private_dir *folder;     /* held open from em_cache_file_open on */
    em_cache_file_check_fn check;   /* the owner's shape of a document */
    pthread_mutex_t mutex;      /* the threads of this process */
    em_file_lock *lock;         /* tokens.lock while held, else NULL */
    yajl_val root;              /* the file's contents; NULL: empty */
    em_private_file *seen;      /* the file the tree came from; NULL: none */
    bool loaded;
    pthread_mutex_t warn_mutex; /* guards the warnings only */
    char warnings[CACHE_MAX_WARNINGS][EM_ERROR_MESSAGE_MAX];
    size_t warning_count;
};

/* The file whose lock this thread holds: the owner's calls check it, and a
 * second lock (a lock-order deadlock in waiting) is refused. */
static _Thread_local em_cache_file *held_here;

/* ---- small helpers ---- */

static void add_warning(em_cache_file *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_warning(em_cache_file *c, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&c->warn_mutex);
    if (c->warning_count < CACHE_MAX_WARNINGS) {
        va_start(ap, fmt);
        vsnprintf(c->warnings[c->warning_count], EM_ERROR_MESSAGE_MAX, fmt, ap);
        va_end(ap);
        c->warning_count++;
    }
    pthread_mutex_unlock(&c->warn_mutex);
}

static char *join_path(const char *dir, const char *name)
{
    em_buf b = EM_BUF_INIT;

    if (em_buf_printf(&b, "%s%s%s", dir, em_platform_separator(), name) != EM_OK) {
        em_buf_free(&b);
        return NULL;
    }
    return em_buf_detach(&b);
}

/* ---- open / close ---- */

int em_cache_file_open(em_cache_file **out, const char *dir, em_cache_file_check_fn check,
                       em_error *err)
{
    em_cache_file *c = NULL;
    char narrowed[64];
    int rc;

    *out = NULL;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory opening the token cache");
    c->check = check;
    pthread_mutex_init(&c->mutex, NULL);
    pthread_mutex_init(&c->warn_mutex, NULL);
    c->file_path = join_path(dir, EM_CACHE_FILE_NAME);
    if (c->file_path == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory opening the token cache");
        goto free_file;
    }
    rc = em_private_folder(&c->folder, dir, narrowed, sizeof narrowed, err);
    if (rc != EM_OK) {
        em_error_prefix(err, "the token cache folder: ");
        goto free_file;
    }
    if (narrowed[0] != '\0')
        add_warning(c, "the token cache folder %s was open to other users (%s); it is private now",
                    dir, narrowed);
    *out = c;
    return EM_OK;
free_file:
    em_cache_file_close(&c);
    return rc;
}

static void forget_file(em_cache_file *c)
{
    em_json_free(&c->root);
    em_private_close(&c->seen);
}

void em_cache_file_close(em_cache_file **file)
{
    em_cache_file *c;

    if (file == NULL || *file == NULL)
        return;
    c = *file;
    if (held_here == c)
        em_cache_file_unlock(c);
    forget_file(c);
    pthread_mutex_destroy(&c->mutex);
    pthread_mutex_destroy(&c->warn_mutex);
    OPENSSL_cleanse(c->warnings, sizeof c->warnings);
    em_private_dir_close(&c->folder);
    free(c->file_path);
    free(c);
    *file = NULL;
}

bool em_cache_file_take_warning(em_cache_file *file, char *out, size_t size)
{
    bool found = false;

    if (file == NULL)
        return false;
    pthread_mutex_lock(&file->warn_mutex);
    if (file->warning_count > 0) {
        found = true;
        if (size > 0)
            snprintf(out, size, "%s", file->warnings[0]);
        memmove(file->warnings[0], file->warnings[1],
                (file->warning_count - 1) * sizeof file->warnings[0]);
        file->warning_count--;
    }
    pthread_mutex_unlock(&file->warn_mutex);
    return found;
}

/* ---- reading ---- */

/* Moves tokens.json out of the way and starts empty. The copy keeps its
 * tokens for the user to inspect, so it stays private. */
static int set_aside(em_cache_file *c, const char *why, em_error *err)
{
    char aside[4096];
    em_error e = {0};

    if (em_private_set_aside(aside, sizeof aside, c->folder, EM_CACHE_FILE_NAME, &e) != EM_OK)
        return em_error_set(err, EM_EINTERNAL, "the token cache %s %s, and %s", c->file_path, why, e.message);
    add_warning(c, "the token cache %s %s; it was set aside as %s and an empty cache is used "
                "(sign in again)", c->file_path, why, aside);
    forget_file(c);
    return EM_OK;
}

/* Brings the tree up to date with the file: nothing to do when it is the
 * file read or written last; else reads it, or sets it aside when it is
 * not a cache of ours. */
static int reload(em_cache_file *c, em_error *err)
{
    em_buf sealed = EM_BUF_INIT, text = EM_BUF_INIT;
    em_error why = {0};
    em_private_file *f = NULL;
    yajl_val root = NULL;
    char refusal[EM_ERROR_MESSAGE_MAX];
    bool too_big = false;
    int rc;

    rc = em_private_open(&f, c->folder, EM_CACHE_FILE_NAME, refusal, sizeof refusal, err);
    if (rc != EM_OK)
        return rc;
    if (f == NULL && refusal[0] != '\0')
        return set_aside(c, refusal, err);
    if (f == NULL) {
        forget_file(c);
        c->loaded = true;
        return EM_OK;
    }
    if (c->loaded && c->seen != NULL && em_file_stamp_equal(em_private_stamp(c->seen), em_private_stamp(f)))
        goto close_file;
    rc = em_private_read(&sealed, f, EM_CACHE_MAX_FILE, &too_big, err);
    if (rc != EM_OK) {
        em_error_prefix(err, "cannot read the token cache: ");
        goto close_file;
    }
    if (too_big) {
        rc = set_aside(c, "is too large", err);
        goto close_file;
    }
    if (em_platform_unseal(&text, sealed.data, sealed.len, &why) != EM_OK) {
        char reason[EM_ERROR_MESSAGE_MAX];

        snprintf(reason, sizeof reason, "cannot be decrypted (%.400s)", why.message);
        rc = set_aside(c, reason, err);
        goto close_file;
    }
    rc = em_json_parse(&root, text.data != NULL ? text.data : "", text.len, &why);
    if (rc == EM_ENOMEM) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory reading the token cache");
        goto close_file;
    }
    if (rc == EM_OK)
        rc = c->check(root, &why);
    if (rc != EM_OK) {
        char reason[EM_ERROR_MESSAGE_MAX];

        snprintf(reason, sizeof reason, "is not a token cache (%.400s)", why.message);
        em_json_free(&root);
        rc = set_aside(c, reason, err);
        goto close_file;
    }
    forget_file(c);
    c->root = root;
    c->seen = f;
    f = NULL;
    c->loaded = true;
close_file:
    em_private_close(&f);
    em_buf_free(&sealed);
    em_buf_free(&text);
    return rc;
}

/* ---- the lock ---- */

static long elapsed_ms(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* The mutex, tried every 50 ms so cancellation is noticed (trylock: macOS
 * has no pthread_mutex_timedlock). */
static int lock_mutex(em_cache_file *c, const struct timespec *start, long timeout_ms,
                      em_request *req, em_error *err)
{
    for (;;) {
        int r = pthread_mutex_trylock(&c->mutex);

        if (r == 0)
            return EM_OK;
        if (r != EBUSY)
            return em_error_set(err, EM_EINTERNAL, "token cache mutex: %s", strerror(r));
        if (elapsed_ms(start) >= timeout_ms)
            return em_error_set(err, EM_ETIMEOUT,
                                "timed out after %ld ms waiting for the token cache", timeout_ms);
        if (em_request_sleep(req, CACHE_POLL_MS) != EM_OK)
            return em_error_set(err, EM_ECANCELLED, "cancelled while waiting for the token cache");
    }
}

/* The lock file name in the cache folder, polled every 50 ms: the system
 * drops it when the holder dies, so a killed helper never leaves a stale
 * lock. what names the lock in messages. */
static int lock_file(em_file_lock **out, em_cache_file *c, const char *name, const char *what,
                     const struct timespec *start, long timeout_ms, em_request *req, em_error *err)
{
    for (;;) {
        long left;
        int rc = em_file_lock_try(out, c->folder, name, err);

        if (rc != EM_OK) {
            char prefix[64];

            snprintf(prefix, sizeof prefix, "%s: ", what);
            return em_error_prefix(err, prefix);
        }
        if (*out != NULL)
            return EM_OK;
        left = timeout_ms - elapsed_ms(start);
        if (left <= 0)
            return em_error_set(err, EM_ETIMEOUT, "timed out after %ld ms waiting for %s "
                                "(another process holds it)", timeout_ms, what);
        if (em_request_sleep(req, left < CACHE_POLL_MS ? left : CACHE_POLL_MS) != EM_OK)
            return em_error_set(err, EM_ECANCELLED, "cancelled while waiting for %s", what);
    }
}

int em_cache_file_lock(em_cache_file *file, long timeout_ms, em_request *req, em_error *err)
{
    struct timespec start;
    int rc;

    if (held_here != NULL)
        return em_error_set(err, EM_EINVAL, "this thread already holds a token cache lock");
    clock_gettime(CLOCK_MONOTONIC, &start);
    rc = lock_mutex(file, &start, timeout_ms, req, err);
    if (rc != EM_OK)
        return rc;
    rc = lock_file(&file->lock, file, EM_CACHE_LOCK_NAME, "the token cache lock", &start, timeout_ms,
                   req, err);
    if (rc != EM_OK)
        goto unlock_mutex;
    held_here = file;
    if (!file->loaded)
        em_private_remove_temps(file->folder, EM_CACHE_FILE_NAME);
    rc = reload(file, err);
    if (rc != EM_OK)
        em_cache_file_unlock(file);
    return rc;
unlock_mutex:
    pthread_mutex_unlock(&file->mutex);
    return rc;
}

void em_cache_file_unlock(em_cache_file *file)
{
    if (file == NULL || held_here != file)
        return;
    em_file_lock_release(&file->lock);
    held_here = NULL;
    pthread_mutex_unlock(&file->mutex);
}

bool em_cache_file_held(const em_cache_file *file)
{
    return file != NULL && held_here == file;
}

int em_cache_file_renewal_lock(em_file_lock **out, em_cache_file *file, long timeout_ms, em_request *req,
                               em_error *err)
{
    struct timespec start;

    *out = NULL;
    if (held_here != NULL)
        return em_error_set(err, EM_EINVAL, "the renewal lock is taken before the token cache lock, "
                            "never while holding it");
    clock_gettime(CLOCK_MONOTONIC, &start);
    return lock_file(out, file, EM_CACHE_RENEWAL_LOCK_NAME, "the token renewal lock", &start, timeout_ms,
                     req, err);
}

yajl_val em_cache_file_root(const em_cache_file *file)
{
    return file->root;
}

/* ---- writing ---- */

/* Parsing before writing keeps a generator bug from ever reaching the
 * disk. */
int em_cache_file_replace(em_cache_file *file, const char *text, size_t len, em_error *err)
{
    yajl_val fresh = NULL;
    em_private_file *written = NULL;
    em_buf sealed = EM_BUF_INIT;
    int rc;

    rc = em_json_parse(&fresh, text, len, err);
    if (rc != EM_OK)
        return em_error_set(err, rc == EM_ENOMEM ? EM_ENOMEM : EM_EINTERNAL,
                            "the generated token cache does not parse");
    rc = em_platform_seal(&sealed, text, len, err);
    if (rc == EM_OK)
        rc = em_private_write(&written, file->folder, EM_CACHE_FILE_NAME, sealed.data, sealed.len, err);
    if (rc != EM_OK) {
        if (rc != EM_ENOMEM)
            err->code = EM_EINTERNAL;
        em_error_prefix(err, "cannot write the token cache: ");
        goto free_fresh;
    }
    forget_file(file);
    file->root = fresh;
    file->seen = written;
    fresh = NULL;
free_fresh:
    em_buf_free(&sealed);
    em_json_free(&fresh);
    return rc;
}
