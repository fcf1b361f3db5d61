/* win32_test_compat.h - the POSIX calls the unit tests use for set-up
 * (environment, temp folders), for the Windows build of the tests only:
 * CMake force-includes it there. The code under test never sees it. */
#ifndef EM_WIN32_TEST_COMPAT_H
#define EM_WIN32_TEST_COMPAT_H

#include <direct.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static inline int setenv(const char *name, const char *value, int overwrite)
{
    if (!overwrite && getenv(name) != NULL)
        return 0;
    return _putenv_s(name, value);
}

static inline int unsetenv(const char *name)
{
    return _putenv_s(name, "");
}

/* mkdtemp: the XXXXXX made unique by _mktemp_s, then the folder. */
static inline char *mkdtemp(char *pattern)
{
    if (_mktemp_s(pattern, strlen(pattern) + 1) != 0 || _mkdir(pattern) != 0)
        return NULL;
    return pattern;
}

#define mkdir(path, mode) _mkdir(path)

/* A socket is not a file descriptor on Windows. */
#define test_close_socket closesocket

#endif
