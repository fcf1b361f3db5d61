/* files.c (POSIX) - private folders and files, atomic replacement, the
 * flock lock. The mode bits and the owner are the protection: the folder
 * is 0700 and ours, in folders only we (or root) can change, files 0600
 * and ours, links are never followed. The folder is held open and every
 * file in it is reached with the *at() calls relative to its descriptor.
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

struct em_private_dir {
    int fd;
    char *path;
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

/* Every folder above dir can be changed by us or root only: owned by one
 * of them, and not writable by others unless sticky (where only an
 * entry's owner may rename it). Else another user could swap dir for a
 * link between two of our calls (ssh's rule for ~/.ssh). */
static int check_parents(const char *dir, em_error *err)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);
    struct stat st;

    if (len >= sizeof path)
        return em_error_set(err, EM_EINVAL, "the folder path is too long");
    memcpy(path, dir, len + 1);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    for (;;) {
        char *slash = strrchr(path, '/');

        if (slash == NULL)
            snprintf(path, sizeof path, ".");
        else if (slash == path)
            path[1] = '\0';
        else
            *slash = '\0';
        if (stat(path, &st) != 0)
            return em_error_set(err, EM_ECONFIG, "cannot examine the folder %s: %s", path, strerror(errno));
        if (st.st_uid != geteuid() && st.st_uid != 0)
            return em_error_set(err, EM_EACCESS, "the folder %s is inside %s, which belongs to another user "
                                "(uid %ld) who could replace it; give it a folder of your own",
                                dir, path, (long)st.st_uid);
        if ((st.st_mode & S_IWOTH) != 0 && (st.st_mode & S_ISVTX) == 0)
            return em_error_set(err, EM_EACCESS, "the folder %s is inside %s, which every user can write to "
                                "(mode %04o, no sticky bit) and so replace it; give it a folder of your own",
                                dir, path, (unsigned)(st.st_mode & 07777));
        if (slash == NULL || slash == path)
            return EM_OK;
    }
}

/* Ours, a folder, 0700. Someone else's folder is refused: they could read
 * or swap our files. Ours but open to others is narrowed, unless it is a
 * shared (sticky) folder such as /tmp given by mistake. */
int em_private_folder(em_private_dir **out, const char *dir, char *narrowed, size_t narrowed_size,
                      em_error *err)
{
    struct stat st;
    int fd, rc;

    *out = NULL;
    narrowed[0] = '\0';
    rc = make_dirs(dir, err);
    if (rc == EM_OK)
        rc = check_parents(dir, err);
    if (rc != EM_OK)
        return rc;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    /* A link is ELOOP or (Linux, with O_DIRECTORY) ENOTDIR. */
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
        return em_error_set(err, EM_EACCESS, "the folder %s is a symbolic link; give it a folder of its own", dir);
    if (fd < 0 && errno == ENOTDIR)
        return em_error_set(err, EM_EACCESS, "%s is not a folder", dir);
    if (fd < 0)
        return em_error_set(err, EM_ECONFIG, "cannot use the folder %s: %s", dir, strerror(errno));
    if (fstat(fd, &st) != 0)
        rc = em_error_set(err, EM_ECONFIG, "cannot use the folder %s: %s", dir, strerror(errno));
    else if (st.st_uid != geteuid())
        rc = em_error_set(err, EM_EACCESS, "the folder %s belongs to another user (uid %ld); not using it",
                          dir, (long)st.st_uid);
    else if ((st.st_mode & S_ISVTX) != 0)
        rc = em_error_set(err, EM_EACCESS, "the folder %s is a shared folder (sticky bit); "
                          "give it a folder of its own", dir);
    else if ((st.st_mode & 077) != 0 && fchmod(fd, 0700) != 0)
        rc = em_error_set(err, EM_EACCESS, "cannot make the folder %s private: %s", dir, strerror(errno));
    else if ((st.st_mode & 077) != 0)
        snprintf(narrowed, narrowed_size, "mode %04o", (unsigned)(st.st_mode & 0777));
    if (rc == EM_OK && (*out = calloc(1, sizeof **out)) != NULL && ((*out)->path = strdup(dir)) == NULL) {
        free(*out);
        *out = NULL;
    }
    if (rc == EM_OK && *out == NULL)
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
    if (rc != EM_OK) {
        close(fd);
        return rc;
    }
    (*out)->fd = fd;
    return EM_OK;
}

const char *em_private_dir_path(const em_private_dir *dir)
{
    return dir->path;
}

void em_private_dir_close(em_private_dir **dir)
{
    if (dir == NULL || *dir == NULL)
        return;
    close((*dir)->fd);
    free((*dir)->path);
    free(*dir);
    *dir = NULL;
}

/* name's descriptor base: the folder, or (no folder) the working folder. */
static int base_fd(const em_private_dir *dir)
{
    return dir != NULL ? dir->fd : AT_FDCWD;
}

/* "<folder>/<name>" for messages. */
static const char *shown(char *out, size_t size, const em_private_dir *dir, const char *name)
{
    snprintf(out, size, "%s%s%s", dir != NULL ? dir->path : "", dir != NULL ? "/" : "", name);
    return out;
}

/* ---- reading ---- */

int em_private_open(em_private_file **out, em_private_dir *dir, const char *name, char *refusal,
                    size_t refusal_size, em_error *err)
{
    char path[PATH_MAX + 256];
    em_private_file *f;
    struct stat st;
    const char *why = NULL;
    int fd;

    *out = NULL;
    refusal[0] = '\0';
    shown(path, sizeof path, dir, name);
    fd = openat(base_fd(dir), name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
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

int em_platform_list_folder(const char *path, em_folder_entry_fn each, void *ud, em_error *err)
{
    DIR *d = opendir(path);
    struct dirent *e;

    if (d == NULL)
        return em_error_set(err, EM_ENOTFOUND, "%s", strerror(errno));
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && !each(ud, e->d_name))
            break;
    }
    closedir(d);
    return EM_OK;
}

/* ---- writing ---- */

int em_private_write(em_private_file **out, em_private_dir *dir, const char *name, const void *data,
                     size_t len, em_error *err)
{
    unsigned char rnd[8];
    char tmp[NAME_MAX + 1], path[PATH_MAX + 256];
    const char *text = data;
    struct stat st;
    size_t done = 0;
    int fd = -1, n, rc = EM_OK;

    *out = NULL;
    shown(path, sizeof path, dir, name);
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return em_error_set(err, EM_EINTERNAL, "no random bytes for a temp file name");
    n = snprintf(tmp, sizeof tmp, "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", name,
                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return em_error_set(err, EM_EINVAL, "the name %s is too long", name);
    fd = openat(dir->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return em_error_set(err, EM_EINTERNAL, "cannot create %s/%s: %s", dir->path, tmp, strerror(errno));
    /* 0600 whatever the umask says. */
    if (fchmod(fd, 0600) != 0) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot chmod %s/%s: %s", dir->path, tmp, strerror(errno));
        goto remove_tmp;
    }
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = em_error_set(err, EM_EINTERNAL, "cannot write %s/%s: %s", dir->path, tmp, strerror(errno));
            goto remove_tmp;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot flush %s/%s: %s", dir->path, tmp, strerror(errno));
        goto remove_tmp;
    }
    *out = calloc(1, sizeof **out);
    if (*out == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto remove_tmp;
    }
    if (renameat(dir->fd, tmp, dir->fd, name) != 0) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot replace %s: %s", path, strerror(errno));
        free(*out);
        *out = NULL;
        goto remove_tmp;
    }
    (void)fsync(dir->fd);
    (*out)->fd = fd;
    (*out)->stamp = stamp_of(&st);
    return EM_OK;
remove_tmp:
    close(fd);
    unlinkat(dir->fd, tmp, 0);
    return rc;
}

int em_private_set_aside(char *aside, size_t size, em_private_dir *dir, const char *name, em_error *err)
{
    char aside_name[NAME_MAX + 1];
    struct stat st;
    int n, i, fd;

    for (i = 0; i < 100; i++) {
        if (i == 0)
            n = snprintf(aside_name, sizeof aside_name, "%s.corrupt-%lld", name, (long long)time(NULL));
        else
            n = snprintf(aside_name, sizeof aside_name, "%s.corrupt-%lld-%d", name, (long long)time(NULL), i);
        if (n < 0 || (size_t)n >= sizeof aside_name)
            return em_error_set(err, EM_EINVAL, "the name %s is too long", name);
        if (fstatat(dir->fd, aside_name, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
            break;
    }
    shown(aside, size, dir, aside_name);
    if (renameat(dir->fd, name, dir->fd, aside_name) != 0)
        return em_error_set(err, EM_EINTERNAL, "setting it aside failed: %s", strerror(errno));
    /* The copy keeps its tokens for the user to inspect: 0600, through an
     * fd that never follows a link. */
    fd = openat(dir->fd, aside_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
        (void)fchmod(fd, 0600);
    else if (fd < 0 && fstatat(dir->fd, aside_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
             st.st_uid == geteuid())
        (void)fchmodat(dir->fd, aside_name, 0600, 0);   /* unreadable to us; never a symlink's target */
    if (fd >= 0)
        close(fd);
    (void)fsync(dir->fd);
    return EM_OK;
}

void em_private_remove_temps(em_private_dir *dir, const char *name)
{
    char prefix[NAME_MAX + 16];
    DIR *d;
    struct dirent *e;
    size_t prefix_len;
    int fd;

    if (snprintf(prefix, sizeof prefix, "%s.tmp-", name) >= (int)sizeof prefix)
        return;
    prefix_len = strlen(prefix);
    /* A listing of its own (a dup would share the folder's offset). */
    fd = openat(dir->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    for (e = readdir(d); e != NULL; e = readdir(d)) {
        if (strncmp(e->d_name, prefix, prefix_len) == 0)
            (void)unlinkat(dir->fd, e->d_name, 0);
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

/* True when fd is still the file name in dir (nobody replaced the lock
 * file between our open and our flock). */
static bool lock_file_current(int fd, const em_private_dir *dir, const char *name)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && fstatat(dir->fd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int em_file_lock_try(em_file_lock **out, em_private_dir *dir, const char *name, em_error *err)
{
    char path[PATH_MAX + 256];
    struct stat st;
    int fd;

    *out = NULL;
    shown(path, sizeof path, dir, name);
    fd = openat(dir->fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
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
    if (!lock_file_current(fd, dir, name)) {
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
