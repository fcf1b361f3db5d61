/* test_util.h - small helpers shared by the cmocka tests of this folder. */
#ifndef EM_TEST_UTIL_H
#define EM_TEST_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* rm -rf of a test's folder (no shell, so it works on Windows too):
 * 0, or -1 when something stayed. */
static inline int test_remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096 + 256];
    struct stat st;

    if (d == NULL)
        return unlink(dir) == 0 || rmdir(dir) == 0 ? 0 : -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            test_remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    return rmdir(dir) == 0 ? 0 : -1;
}

#ifndef test_make_named_file
/* Folders and files named in UTF-8, made and removed as named (Windows:
 * through the wide API, win32_test_compat.h). 0 on success. */
static inline int test_make_named_folder(const char *path)
{
    return mkdir(path, 0700);
}

static inline int test_make_named_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static inline int test_remove_named(const char *path, int folder)
{
    return folder ? rmdir(path) : unlink(path);
}
#endif

#ifndef test_make_blocking_file
/* A file whose reader waits for a writer: a FIFO named name in dir (a
 * named pipe on Windows: win32_test_compat.h). out gets its path. */
static inline int test_make_blocking_file(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
    return mkfifo(out, 0600);
}
#endif

#ifndef test_dumps_allowed
#include <sys/resource.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
/* Whether a crash of this process could leave a core dump, or (Linux)
 * another process of the user could read its memory. */
static inline int test_dumps_allowed(void)
{
    struct rlimit core;

    if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0)
        return 1;
#ifdef __linux__
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0;
#else
    return 0;
#endif
}
#endif

/* Reads EM_TEST_DATA/<rel> into a NUL-terminated buffer; *len gets its
 * size (0 when missing). Caller frees. NULL when missing. */
static inline char *test_read_file(const char *rel, size_t *len)
{
    char path[1024];
    FILE *f;
    char *data;
    long size;

    *len = 0;
    snprintf(path, sizeof(path), "%s/%s", EM_TEST_DATA, rel);
    f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)size + 1);
    if (data != NULL && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    if (data == NULL)
        return NULL;
    data[size] = '\0';
    *len = (size_t)size;
    return data;
}

/* A limit on the size of the files this process writes (a full disk, for
 * the cache's writes); test_has_file_size_limit is false where the
 * platform has none (Windows: win32_test_compat.h), and the test skips. */
#ifndef EM_TEST_NO_FILE_SIZE_LIMIT
#include <signal.h>
#include <sys/resource.h>
static struct rlimit test_saved_file_size;

static inline bool test_has_file_size_limit(void)
{
    return true;
}

static inline bool test_file_size_limit(rlim_t bytes)
{
    struct rlimit small;

    signal(SIGXFSZ, SIG_IGN);   /* a write past it fails with EFBIG instead */
    if (getrlimit(RLIMIT_FSIZE, &test_saved_file_size) != 0)
        return false;
    small.rlim_cur = bytes;
    small.rlim_max = test_saved_file_size.rlim_max;
    return setrlimit(RLIMIT_FSIZE, &small) == 0;
}

static inline void test_file_size_unlimit(void)
{
    setrlimit(RLIMIT_FSIZE, &test_saved_file_size);
}
#else
static inline bool test_has_file_size_limit(void)
{
    return false;
}

static inline bool test_file_size_limit(unsigned long bytes)
{
    (void)bytes;
    return false;
}

static inline void test_file_size_unlimit(void)
{
}
#endif

#endif
