/* win32_test_compat.h - the POSIX calls the unit tests use for set-up
 * (environment, temp folders), for the Windows build of the tests only:
 * CMake force-includes it there. The code under test never sees it. */
#ifndef EM_WIN32_TEST_COMPAT_H
#define EM_WIN32_TEST_COMPAT_H

#include <winsock2.h>     /* before windows.h */
#include <windows.h>
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

/* test_util.h's named files: UTF-8 names through the wide API. */
static inline wchar_t *test_wide(const char *utf8)
{
    static wchar_t wide[1024];

    return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, wide, 1024) > 0 ? wide : NULL;
}

static inline int test_make_named_folder(const char *path)
{
    wchar_t *wide = test_wide(path);

    return wide != NULL && _wmkdir(wide) == 0 ? 0 : -1;
}

static inline int test_make_named_file(const char *path, const char *text)
{
    wchar_t *wide = test_wide(path);
    FILE *f = wide != NULL ? _wfopen(wide, L"w") : NULL;

    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static inline int test_remove_named(const char *path, int folder)
{
    wchar_t *wide = test_wide(path);

    if (wide == NULL)
        return -1;
    return (folder ? _wrmdir(wide) : _wunlink(wide)) == 0 ? 0 : -1;
}
#define test_make_named_file test_make_named_file

/* No per-process file size limit (test_util.h's tests skip). */
#define EM_TEST_NO_FILE_SIZE_LIMIT 1

/* A socket is not a file descriptor on Windows. */
#define test_close_socket closesocket

/* No SIGPIPE to silence; SO_RCVTIMEO takes milliseconds; a timed-out recv
 * says so through WSAGetLastError. */
#define MSG_NOSIGNAL 0
#define test_set_recv_timeout(fd, ms) \
    do { DWORD t_ = (DWORD)(ms); setsockopt((SOCKET)(fd), SOL_SOCKET, SO_RCVTIMEO, (const char *)&t_, sizeof t_); } while (0)
#define test_recv_timed_out() (WSAGetLastError() == WSAETIMEDOUT)

/* A named pipe (its server end kept open for the test's life): a reader
 * of \\.\pipe\<name> waits for data that never comes. */
static inline int test_make_blocking_file(char *out, size_t size, const char *dir, const char *name)
{
    HANDLE pipe;

    (void)dir;
    snprintf(out, size, "\\\\.\\pipe\\%s-%lu", name, (unsigned long)GetCurrentProcessId());
    pipe = CreateNamedPipeA(out, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_WAIT, 4, 512, 512, 0, NULL);
    return pipe == INVALID_HANDLE_VALUE ? -1 : 0;
}
#define test_make_blocking_file test_make_blocking_file

/* Whether a crash could show a dialog (and offer a debugger). The heap
 * left out of Windows Error Reporting's dump (WerSetFlags) is not
 * visible under Wine, whose WER is a stub. */
static inline int test_dumps_allowed(void)
{
    return (GetErrorMode() & SEM_NOGPFAULTERRORBOX) == 0;
}
#define test_dumps_allowed test_dumps_allowed

#endif
