/* cache_file.c - the file under the token cache: its folder, its lock and
 * the atomic replacement of one JSON document. The contract is in
 * cache_file.h; the reasons in docs/cache.md.
 *
 * In memory the document is the parsed file (a yajl tree, strings wiped
 * when freed), with an fd kept open on the file it came from so that a
 * change by another process is seen at the next lock. Nothing here writes
 * to stderr.
 */
#define _DEFAULT_SOURCE     /* flock */

#include "cache/cache_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "util/buf.h"
#include "cache/cache.h"          /* the file names and limits of the contract */

#define CACHE_POLL_MS 50
#define CACHE_MAX_WARNINGS 4

/* Which file the tree came from. An fd on it stays open, so its inode
 * number cannot be reused by a later file and (dev, ino) stays exact. */
typedef struct file_id {
    int fd;                 /* -1: no file (empty cache) */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
} file_id;

struct em_cache_file {
    char *file_path;
    char *lock_path;
    char *dir;
    em_cache_file_check_fn check;   /* the owner's shape of a document */
    pthread_mutex_t mutex;      /* the threads of this process */
    int lock_fd;                /* flock'ed tokens.lock while held, else -1 */
    yajl_val root;              /* the file's contents; NULL: empty */
    file_id seen;
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

    if (em_buf_printf(&b, "%s/%s", dir, name) != EM_OK) {
        em_buf_free(&b);
        return NULL;
    }
    return em_buf_detach(&b);
}

/* ---- the folder ---- */

/* mkdir -p with mode 0700 for every folder it creates. */
static int make_dirs(const char *dir, em_error *err)
{
    char path[PATH_MAX];
    size_t i, len = strlen(dir);

    if (len == 0 || len >= sizeof path)
        return em_error_set(err, EM_EINVAL, "the token cache folder path is empty or too long");
    memcpy(path, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return em_error_set(err, EM_ECONFIG, "cannot create the token cache folder %s: %s",
                                path, strerror(errno));
        path[i] = i < len ? '/' : '\0';
    }
    return EM_OK;
}

/* Ours, a folder, 0700. Someone else's folder is refused: they could read
 * or swap our tokens. Ours but open to others is narrowed with a warning,
 * unless it is a shared (sticky) folder such as /tmp given by mistake. */
static int check_dir(em_cache_file *c, em_error *err)
{
    struct stat st;

    if (stat(c->dir, &st) != 0)
        return em_error_set(err, EM_ECONFIG, "cannot use the token cache folder %s: %s",
                            c->dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return em_error_set(err, EM_EACCESS, "the token cache folder %s is not a folder", c->dir);
    if (st.st_uid != geteuid())
        return em_error_set(err, EM_EACCESS,
                            "the token cache folder %s belongs to another user (uid %ld); "
                            "not using it", c->dir, (long)st.st_uid);
    /* A shared folder like /tmp is never narrowed: refuse it instead. */
    if ((st.st_mode & S_ISVTX) != 0)
        return em_error_set(err, EM_EACCESS,
                            "the token cache folder %s is a shared folder (sticky bit); "
                            "give the cache a folder of its own", c->dir);
    if ((st.st_mode & 077) != 0) {
        if (chmod(c->dir, 0700) != 0)
            return em_error_set(err, EM_EACCESS, "cannot make the token cache folder %s private: %s",
                                c->dir, strerror(errno));
        add_warning(c, "the token cache folder %s was open to other users (mode %04o); "
                    "it is 0700 now", c->dir, (unsigned)(st.st_mode & 0777));
    }
    return EM_OK;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return;
    (void)fsync(fd);
    close(fd);
}

/* ---- open / close ---- */

int em_cache_file_open(em_cache_file **out, const char *dir, em_cache_file_check_fn check,
                       em_error *err)
{
    em_cache_file *c = NULL;
    int rc;

    *out = NULL;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory opening the token cache");
    c->check = check;
    c->lock_fd = -1;
    c->seen.fd = -1;
    pthread_mutex_init(&c->mutex, NULL);
    pthread_mutex_init(&c->warn_mutex, NULL);
    c->dir = strdup(dir);
    c->file_path = join_path(dir, EM_CACHE_FILE_NAME);
    c->lock_path = join_path(dir, EM_CACHE_LOCK_NAME);
    if (c->dir == NULL || c->file_path == NULL || c->lock_path == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory opening the token cache");
        goto free_file;
    }
    rc = make_dirs(dir, err);
    if (rc != EM_OK)
        goto free_file;
    rc = check_dir(c, err);
    if (rc != EM_OK)
        goto free_file;
    *out = c;
    return EM_OK;
free_file:
    em_cache_file_close(&c);
    return rc;
}

static void forget_file(em_cache_file *c)
{
    em_json_free(&c->root);
    if (c->seen.fd >= 0)
        close(c->seen.fd);
    memset(&c->seen, 0, sizeof c->seen);
    c->seen.fd = -1;
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
    free(c->dir);
    free(c->file_path);
    free(c->lock_path);
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

static void remember(file_id *id, int fd, const struct stat *st)
{
    id->fd = fd;
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtim = st->st_mtim;
}

static bool same_file(const file_id *id, const struct stat *st)
{
    return id->fd >= 0 && id->dev == st->st_dev && id->ino == st->st_ino &&
           id->size == st->st_size && id->mtim.tv_sec == st->st_mtim.tv_sec &&
           id->mtim.tv_nsec == st->st_mtim.tv_nsec;
}

/* Moves tokens.json (fd open on it, or -1) out of the way and starts empty.
 * The copy keeps its tokens for the user to inspect, so it is made 0600. */
static int set_aside(em_cache_file *c, int fd, const char *why, em_error *err)
{
    char aside[PATH_MAX];
    struct stat st;
    int n, i;

    for (i = 0; i < 100; i++) {
        if (i == 0)
            n = snprintf(aside, sizeof aside, "%s.corrupt-%lld", c->file_path, (long long)time(NULL));
        else
            n = snprintf(aside, sizeof aside, "%s.corrupt-%lld-%d", c->file_path,
                         (long long)time(NULL), i);
        if (n < 0 || (size_t)n >= sizeof aside)
            return em_error_set(err, EM_EINVAL, "the token cache path is too long");
        if (lstat(aside, &st) != 0 && errno == ENOENT)
            break;
    }
    if (rename(c->file_path, aside) != 0)
        return em_error_set(err, EM_EINTERNAL, "the token cache %s %s, and setting it aside failed: %s",
                            c->file_path, why, strerror(errno));
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
        (void)fchmod(fd, 0600);
    else if (fd < 0 && lstat(aside, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
        (void)chmod(aside, 0600);   /* unreadable to us; never a symlink's target */
    fsync_dir(c->dir);
    add_warning(c, "the token cache %s %s; it was set aside as %s and an empty cache is used "
                "(sign in again)", c->file_path, why, aside);
    forget_file(c);
    return EM_OK;
}

/* Reads the whole file (at most EM_CACHE_MAX_FILE bytes); false when bigger. */
static int read_all(em_buf *out, int fd, bool *too_big, em_error *err)
{
    char chunk[16384];
    ssize_t n;

    *too_big = false;
    for (;;) {
        n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            OPENSSL_cleanse(chunk, sizeof chunk);
            return em_error_set(err, EM_EINTERNAL, "cannot read the token cache: %s", strerror(errno));
        }
        if (n == 0)
            break;
        if (out->len + (size_t)n > (size_t)EM_CACHE_MAX_FILE) {
            *too_big = true;
            break;
        }
        if (em_buf_append(out, chunk, (size_t)n) != EM_OK) {
            OPENSSL_cleanse(chunk, sizeof chunk);
            return em_error_set(err, EM_ENOMEM, "out of memory reading the token cache");
        }
    }
    OPENSSL_cleanse(chunk, sizeof chunk);
    return EM_OK;
}

/* Brings the tree up to date with the file: nothing to do when it is the
 * file read or written last; else reads it, or sets it aside when it is
 * not a cache of ours. */
static int reload(em_cache_file *c, em_error *err)
{
    em_buf text = EM_BUF_INIT;
    em_error why = {0};
    yajl_val root = NULL;
    struct stat st;
    bool too_big = false;
    int fd, rc = EM_OK;

    fd = open(c->file_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        forget_file(c);
        c->loaded = true;
        return EM_OK;
    }
    if (fd < 0 && errno == ELOOP)
        return set_aside(c, -1, "is a symbolic link", err);
    if (fd < 0 && errno == EACCES)
        return set_aside(c, -1, "cannot be read (permission denied)", err);
    if (fd < 0)
        return em_error_set(err, EM_EINTERNAL, "cannot open the token cache %s: %s",
                            c->file_path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot stat the token cache: %s", strerror(errno));
        goto close_fd;
    }
    if (c->loaded && same_file(&c->seen, &st))
        goto close_fd;
    if (!S_ISREG(st.st_mode)) {
        rc = set_aside(c, fd, "is not a regular file", err);
        goto close_fd;
    }
    if (st.st_uid != geteuid()) {
        rc = set_aside(c, fd, "belongs to another user", err);
        goto close_fd;
    }
    if ((st.st_mode & 077) != 0) {
        em_error_set(&why, EM_EACCESS, "was open to other users (mode %04o)",
                     (unsigned)(st.st_mode & 0777));
        rc = set_aside(c, fd, why.message, err);
        goto close_fd;
    }
    rc = read_all(&text, fd, &too_big, err);
    if (rc != EM_OK)
        goto close_fd;
    if (too_big || st.st_size > EM_CACHE_MAX_FILE) {
        rc = set_aside(c, fd, "is too large", err);
        goto close_fd;
    }
    rc = em_json_parse(&root, text.data != NULL ? text.data : "", text.len, &why);
    if (rc == EM_ENOMEM) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory reading the token cache");
        goto close_fd;
    }
    if (rc == EM_OK)
        rc = c->check(root, &why);
    if (rc != EM_OK) {
        char reason[EM_ERROR_MESSAGE_MAX];

        snprintf(reason, sizeof reason, "is not a token cache (%.400s)", why.message);
        em_json_free(&root);
        rc = set_aside(c, fd, reason, err);
        goto close_fd;
    }
    forget_file(c);
    c->root = root;
    remember(&c->seen, fd, &st);
    c->loaded = true;
    fd = -1;
close_fd:
    em_buf_free(&text);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Temp files exist only while a writer holds the lock, so under the lock
 * any left is from a writer that died mid-write: remove it (it may hold
 * tokens). */
static void remove_stale_temps(const em_cache_file *c)
{
    static const char prefix[] = EM_CACHE_FILE_NAME ".tmp-";
    DIR *d = opendir(c->dir);
    struct dirent *e;
    char path[PATH_MAX];

    if (d == NULL)
        return;
    for (e = readdir(d); e != NULL; e = readdir(d)) {
        if (strncmp(e->d_name, prefix, sizeof prefix - 1) != 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", c->dir, e->d_name) < (int)sizeof path)
            (void)unlink(path);
    }
    closedir(d);
}

/* ---- the lock ---- */

static long elapsed_ms(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* The mutex, waited for in 50 ms slices so cancellation is noticed. */
static int lock_mutex(em_cache_file *c, const struct timespec *start, long timeout_ms,
                      em_request *req, em_error *err)
{
    for (;;) {
        struct timespec until;
        int r;

        if (em_request_cancelled(req))
            return em_error_set(err, EM_ECANCELLED, "cancelled while waiting for the token cache");
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += CACHE_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        r = pthread_mutex_timedlock(&c->mutex, &until);
        if (r == 0)
            return EM_OK;
        if (r != ETIMEDOUT)
            return em_error_set(err, EM_EINTERNAL, "token cache mutex: %s", strerror(r));
        if (elapsed_ms(start) >= timeout_ms)
            return em_error_set(err, EM_ETIMEOUT,
                                "timed out after %ld ms waiting for the token cache", timeout_ms);
    }
}

/* True when fd is still the file at path (nobody replaced the lock file
 * between our open and our flock). */
static bool lock_file_current(int fd, const char *path)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* flock on tokens.lock, polled every 50 ms: the kernel drops it when the
 * holder dies, so a killed helper never leaves a stale lock. */
static int lock_file(em_cache_file *c, const struct timespec *start, long timeout_ms,
                     em_request *req, em_error *err)
{
    struct stat st;
    int fd = -1;
    int rc = EM_OK;

    for (;;) {
        long left;

        if (fd < 0) {
            fd = open(c->lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0)
                return em_error_set(err, EM_EACCESS, "cannot open the token cache lock %s: %s",
                                    c->lock_path, strerror(errno));
            if (fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
                rc = em_error_set(err, EM_EACCESS, "the token cache lock %s belongs to another user",
                                  c->lock_path);
                goto close_fd;
            }
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (lock_file_current(fd, c->lock_path)) {
                c->lock_fd = fd;
                return EM_OK;
            }
            close(fd);
            fd = -1;
            continue;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            rc = em_error_set(err, EM_EINTERNAL, "cannot lock the token cache: %s", strerror(errno));
            goto close_fd;
        }
        left = timeout_ms - elapsed_ms(start);
        if (left <= 0) {
            rc = em_error_set(err, EM_ETIMEOUT,
                              "timed out after %ld ms waiting for the token cache "
                              "(another process holds it)", timeout_ms);
            goto close_fd;
        }
        if (em_request_sleep(req, left < CACHE_POLL_MS ? left : CACHE_POLL_MS) != EM_OK) {
            rc = em_error_set(err, EM_ECANCELLED, "cancelled while waiting for the token cache");
            goto close_fd;
        }
    }
close_fd:
    close(fd);
    return rc;
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
    rc = lock_file(file, &start, timeout_ms, req, err);
    if (rc != EM_OK)
        goto unlock_mutex;
    held_here = file;
    if (!file->loaded)
        remove_stale_temps(file);
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
    (void)flock(file->lock_fd, LOCK_UN);
    close(file->lock_fd);
    file->lock_fd = -1;
    held_here = NULL;
    pthread_mutex_unlock(&file->mutex);
}

bool em_cache_file_held(const em_cache_file *file)
{
    return file != NULL && held_here == file;
}

yajl_val em_cache_file_root(const em_cache_file *file)
{
    return file->root;
}

/* ---- writing ---- */

/* Temp file in the folder (0600 from birth, random name, O_EXCL), fsync,
 * rename over tokens.json, fsync the folder. On success *id is the new
 * file (its fd kept open). */
static int write_atomic(file_id *id, em_cache_file *c, const char *text, size_t len, em_error *err)
{
    unsigned char rnd[8];
    char tmp[PATH_MAX];
    struct stat st;
    size_t done = 0;
    int fd = -1, n, rc = EM_OK;

    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return em_error_set(err, EM_EINTERNAL, "no random bytes for the token cache temp file");
    n = snprintf(tmp, sizeof tmp, "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", c->file_path,
                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return em_error_set(err, EM_EINVAL, "the token cache path is too long");
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return em_error_set(err, EM_EINTERNAL, "cannot create %s: %s", tmp, strerror(errno));
    /* 0600 whatever the umask says. */
    if (fchmod(fd, 0600) != 0) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot chmod %s: %s", tmp, strerror(errno));
        goto remove_tmp;
    }
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = em_error_set(err, EM_EINTERNAL, "cannot write the token cache: %s", strerror(errno));
            goto remove_tmp;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot flush the token cache: %s", strerror(errno));
        goto remove_tmp;
    }
    if (rename(tmp, c->file_path) != 0) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot replace the token cache: %s", strerror(errno));
        goto remove_tmp;
    }
    fsync_dir(c->dir);
    remember(id, fd, &st);
    return EM_OK;
remove_tmp:
    close(fd);
    unlink(tmp);
    return rc;
}

/* Parsing before writing keeps a generator bug from ever reaching the
 * disk. */
int em_cache_file_replace(em_cache_file *file, const char *text, size_t len, em_error *err)
{
    yajl_val fresh = NULL;
    file_id id;
    int rc;

    rc = em_json_parse(&fresh, text, len, err);
    if (rc != EM_OK)
        return em_error_set(err, rc == EM_ENOMEM ? EM_ENOMEM : EM_EINTERNAL,
                            "the generated token cache does not parse");
    rc = write_atomic(&id, file, text, len, err);
    if (rc != EM_OK)
        goto free_fresh;
    forget_file(file);
    file->root = fresh;
    file->seen = id;
    fresh = NULL;
free_fresh:
    em_json_free(&fresh);
    return rc;
}
