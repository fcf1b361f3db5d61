/* files.c (POSIX) - private folders and files, atomic replacement, the
 * flock lock. The mode bits and the owner are the protection: the folder
 * is 0700 and ours, files 0600 and ours, links are never followed.
 */
#define _DEFAULT_SOURCE     /* flock, O_NOFOLLOW, O_DIRECTORY */

#include "platform/platform.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

struct em_private_file {
    int fd;                 /* kept open: the inode in the stamp cannot be reused */
    em_file_stamp stamp;
};

struct em_file_lock {
    int fd;
};

static em_file_stamp stamp_of(const struct stat *st)
{
    em_file_stamp s;

    memset(&s, 0, sizeof s);
    s.volume = (uint64_t)st->st_dev;
    s.index = (uint64_t)st->st_ino;
    s.size = (uint64_t)st->st_size;
#ifdef __APPLE__
    s.mtime_ns = (int64_t)st->st_mtimespec.tv_sec * 1000000000 + st->st_mtimespec.tv_nsec;
#else
    s.mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
#endif
    return s;
}

/* ---- the folder ---- */

/* mkdir -p with mode 0700 for every folder it creates. */
static int make_dirs(const char *dir, em_error *err)
{
    char path[PATH_MAX];
    size_t i, len = strlen(dir);

    if (len == 0 || len >= sizeof path)
        return em_error_set(err, EM_EINVAL, "the folder path is empty or too long");
    memcpy(path, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return em_error_set(err, EM_ECONFIG, "cannot create the folder %s: %s", path, strerror(errno));
        path[i] = i < len ? '/' : '\0';
    }
    return EM_OK;
}

/* Ours, a folder, 0700. Someone else's folder is refused: they could read
 * or swap our files. Ours but open to others is narrowed, unless it is a
 * shared (sticky) folder such as /tmp given by mistake. */
int em_private_folder(const char *dir, char *narrowed, size_t narrowed_size, em_error *err)
{
    struct stat st;
    int rc;

    narrowed[0] = '\0';
    rc = make_dirs(dir, err);
    if (rc != EM_OK)
        return rc;
    if (stat(dir, &st) != 0)
        return em_error_set(err, EM_ECONFIG, "cannot use the folder %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return em_error_set(err, EM_EACCESS, "%s is not a folder", dir);
    if (st.st_uid != geteuid())
        return em_error_set(err, EM_EACCESS, "the folder %s belongs to another user (uid %ld); not using it",
                            dir, (long)st.st_uid);
    if ((st.st_mode & S_ISVTX) != 0)
        return em_error_set(err, EM_EACCESS, "the folder %s is a shared folder (sticky bit); "
                            "give it a folder of its own", dir);
    if ((st.st_mode & 077) != 0) {
        if (chmod(dir, 0700) != 0)
            return em_error_set(err, EM_EACCESS, "cannot make the folder %s private: %s", dir, strerror(errno));
        snprintf(narrowed, narrowed_size, "mode %04o", (unsigned)(st.st_mode & 0777));
    }
    return EM_OK;
}

static void fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash == NULL || (size_t)(slash - path) >= sizeof dir)
        return;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    fd = open(slash == path ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    (void)fsync(fd);
    close(fd);
}

/* ---- reading ---- */

int em_private_open(em_private_file **out, const char *path, char *refusal, size_t refusal_size,
                    em_error *err)
{
    em_private_file *f;
    struct stat st;
    const char *why = NULL;
    int fd;

    *out = NULL;
    refusal[0] = '\0';
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return EM_OK;
    if (fd < 0 && errno == ELOOP)
        why = "is a symbolic link";
    else if (fd < 0 && errno == EACCES)
        why = "cannot be read (permission denied)";
    else if (fd < 0)
        return em_error_set(err, EM_EINTERNAL, "cannot open %s: %s", path, strerror(errno));
    else if (fstat(fd, &st) != 0) {
        close(fd);
        return em_error_set(err, EM_EINTERNAL, "cannot stat %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode))
        why = "is not a regular file";
    else if (st.st_uid != geteuid())
        why = "belongs to another user";
    else if ((st.st_mode & 077) != 0) {
        snprintf(refusal, refusal_size, "was open to other users (mode %04o)", (unsigned)(st.st_mode & 0777));
        close(fd);
        return EM_OK;
    }
    if (why != NULL) {
        snprintf(refusal, refusal_size, "%s", why);
        if (fd >= 0)
            close(fd);
        return EM_OK;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL) {
        close(fd);
        return em_error_set(err, EM_ENOMEM, "out of memory");
    }
    f->fd = fd;
    f->stamp = stamp_of(&st);
    *out = f;
    return EM_OK;
}

int em_private_read(em_buf *out, em_private_file *file, size_t max, bool *too_big, em_error *err)
{
    char chunk[16384];
    ssize_t n;
    int rc = EM_OK;

    *too_big = false;
    if (lseek(file->fd, 0, SEEK_SET) < 0)
        return em_error_set(err, EM_EINTERNAL, "cannot read: %s", strerror(errno));
    for (;;) {
        n = read(file->fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = em_error_set(err, EM_EINTERNAL, "cannot read: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (out->len + (size_t)n > max) {
            *too_big = true;
            break;
        }
        if (em_buf_append(out, chunk, (size_t)n) != EM_OK) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
            break;
        }
    }
    OPENSSL_cleanse(chunk, sizeof chunk);
    return rc;
}

const em_file_stamp *em_private_stamp(const em_private_file *file)
{
    return &file->stamp;
}

void em_private_close(em_private_file **file)
{
    if (file == NULL || *file == NULL)
        return;
    if ((*file)->fd >= 0)
        close((*file)->fd);
    free(*file);
    *file = NULL;
}

/* ---- files the user names ---- */

/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
 * writer, for ever; a regular file ignores the flag. */
int em_platform_read_file(em_buf *out, const char *path, size_t max, em_error *err)
{
    char chunk[16384];
    struct stat st;
    size_t start = out->len;
    int fd, rc = EM_OK;

    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return em_error_set(err, errno == ENOENT || errno == ENOTDIR ? EM_ENOTFOUND : EM_EACCESS,
                            "cannot be opened: %s", strerror(errno));
    if (fstat(fd, &st) != 0)
        rc = em_error_set(err, EM_EACCESS, "cannot be examined: %s", strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = em_error_set(err, EM_EINVAL, "is not a regular file (%s)",
                          S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a folder"
                          : S_ISSOCK(st.st_mode) ? "a socket" : "a device");
    else if ((uint64_t)st.st_size > max)
        rc = em_error_set(err, EM_EINVAL, "is larger than %zu KiB", max / 1024);
    while (rc == EM_OK) {
        ssize_t n = read(fd, chunk, sizeof chunk);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = em_error_set(err, EM_EACCESS, "cannot be read: %s", strerror(errno));
        else if (n == 0)
            break;
        else if (out->len - start + (size_t)n > max)
            rc = em_error_set(err, EM_EINVAL, "is larger than %zu KiB", max / 1024);   /* it grew */
        else if (em_buf_append(out, chunk, (size_t)n) != EM_OK)
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
    }
    if (rc == EM_OK && out->len == start)
        rc = em_error_set(err, EM_EINVAL, "is empty");
    OPENSSL_cleanse(chunk, sizeof chunk);
    close(fd);
    return rc;
}

/* ---- writing ---- */

int em_private_write(em_private_file **out, const char *path, const void *data, size_t len,
                     em_error *err)
{
    unsigned char rnd[8];
    char tmp[PATH_MAX];
    const char *text = data;
    struct stat st;
    size_t done = 0;
    int fd = -1, n, rc = EM_OK;

    *out = NULL;
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return em_error_set(err, EM_EINTERNAL, "no random bytes for a temp file name");
    n = snprintf(tmp, sizeof tmp, "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", path,
                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return em_error_set(err, EM_EINVAL, "the path %s is too long", path);
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
            rc = em_error_set(err, EM_EINTERNAL, "cannot write %s: %s", tmp, strerror(errno));
            goto remove_tmp;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot flush %s: %s", tmp, strerror(errno));
        goto remove_tmp;
    }
    *out = calloc(1, sizeof **out);
    if (*out == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto remove_tmp;
    }
    if (rename(tmp, path) != 0) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot replace %s: %s", path, strerror(errno));
        free(*out);
        *out = NULL;
        goto remove_tmp;
    }
    fsync_dir_of(path);
    (*out)->fd = fd;
    (*out)->stamp = stamp_of(&st);
    return EM_OK;
remove_tmp:
    close(fd);
    unlink(tmp);
    return rc;
}

int em_private_set_aside(char *aside, size_t size, const char *path, em_error *err)
{
    struct stat st;
    int n, i, fd;

    for (i = 0; i < 100; i++) {
        if (i == 0)
            n = snprintf(aside, size, "%s.corrupt-%lld", path, (long long)time(NULL));
        else
            n = snprintf(aside, size, "%s.corrupt-%lld-%d", path, (long long)time(NULL), i);
        if (n < 0 || (size_t)n >= size)
            return em_error_set(err, EM_EINVAL, "the path %s is too long", path);
        if (lstat(aside, &st) != 0 && errno == ENOENT)
            break;
    }
    if (rename(path, aside) != 0)
        return em_error_set(err, EM_EINTERNAL, "setting it aside failed: %s", strerror(errno));
    /* The copy keeps its tokens for the user to inspect: 0600, through an
     * fd that never follows a link. */
    fd = open(aside, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
        (void)fchmod(fd, 0600);
    else if (fd < 0 && lstat(aside, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
        (void)chmod(aside, 0600);   /* unreadable to us; never a symlink's target */
    if (fd >= 0)
        close(fd);
    fsync_dir_of(path);
    return EM_OK;
}

void em_private_remove_temps(const char *path)
{
    char dir[PATH_MAX], prefix[PATH_MAX], victim[PATH_MAX];
    const char *slash = strrchr(path, '/');
    DIR *d;
    struct dirent *e;
    size_t prefix_len;

    if (slash == NULL || (size_t)(slash - path) >= sizeof dir ||
        snprintf(prefix, sizeof prefix, "%s.tmp-", slash + 1) >= (int)sizeof prefix)
        return;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    prefix_len = strlen(prefix);
    d = opendir(slash == path ? "/" : dir);
    if (d == NULL)
        return;
    for (e = readdir(d); e != NULL; e = readdir(d)) {
        if (strncmp(e->d_name, prefix, prefix_len) != 0)
            continue;
        if (snprintf(victim, sizeof victim, "%s/%s", dir, e->d_name) < (int)sizeof victim)
            (void)unlink(victim);
    }
    closedir(d);
}

/* ---- protection at rest: the file's mode is the protection ---- */

int em_platform_seal(em_buf *out, const void *data, size_t len, em_error *err)
{
    if (em_buf_append(out, data, len) != EM_OK)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    return EM_OK;
}

int em_platform_unseal(em_buf *out, const void *data, size_t len, em_error *err)
{
    return em_platform_seal(out, data, len, err);
}

/* ---- the lock ---- */

/* True when fd is still the file at path (nobody replaced the lock file
 * between our open and our flock). */
static bool lock_file_current(int fd, const char *path)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int em_file_lock_try(em_file_lock **out, const char *path, em_error *err)
{
    struct stat st;
    int fd;

    *out = NULL;
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return em_error_set(err, EM_EACCESS, "cannot open the lock %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
        close(fd);
        return em_error_set(err, EM_EACCESS, "the lock %s belongs to another user", path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;

        close(fd);
        if (e == EWOULDBLOCK || e == EINTR)
            return EM_OK;
        return em_error_set(err, EM_EINTERNAL, "cannot lock %s: %s", path, strerror(e));
    }
    if (!lock_file_current(fd, path)) {
        close(fd);
        return EM_OK;   /* replaced meanwhile: the caller tries again */
    }
    *out = malloc(sizeof **out);
    if (*out == NULL) {
        close(fd);
        return em_error_set(err, EM_ENOMEM, "out of memory");
    }
    (*out)->fd = fd;
    return EM_OK;
}

void em_file_lock_release(em_file_lock **lock)
{
    if (lock == NULL || *lock == NULL)
        return;
    (void)flock((*lock)->fd, LOCK_UN);
    close((*lock)->fd);
    free(*lock);
    *lock = NULL;
}
