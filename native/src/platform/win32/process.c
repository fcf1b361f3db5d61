/* process.c (Windows) - start-up, the browser: ShellExecuteW for a URL,
 * CreateProcessW for $BROWSER. */
#include "platform/platform.h"
#include "platform/win32/win32.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <shellapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

/* kernel32's, as the SDK's werapi.h declares it (mingw-w64's werapi.h does
 * not compile on its own and lacks the flag). */
HRESULT WINAPI WerSetFlags(DWORD dwFlags);
#define WER_FAULT_REPORTING_FLAG_NOHEAP 1

void em_platform_init(void)
{
    /* Protocol lines end in \n: no CRLF translation either way. */
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
    /* Tokens live in our memory. A crash shows no dialog (that would keep
     * the process, and its memory, alive and offer a debugger) and its
     * Windows Error Reporting dump leaves out the heap. Windows has no
     * per-process "not dumpable": another process of the user can still
     * read our memory, as a debugger can. */
    SetErrorMode(GetErrorMode() | SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
    (void)WerSetFlags(WER_FAULT_REPORTING_FLAG_NOHEAP);
}

int em_platform_open_url(const char *url, em_error *err)
{
    wchar_t *wide = em_win_wide(url);
    INT_PTR rc;

    if (wide == NULL)
        return em_error_set(err, EM_EINVAL, "the address is not valid UTF-8");
    /* The user's default browser; values above 32 mean success. */
    rc = (INT_PTR)ShellExecuteW(NULL, L"open", wide, NULL, NULL, SW_SHOWNORMAL);
    free(wide);
    if (rc <= 32)
        return em_error_set(err, EM_ENOTFOUND, "ShellExecute could not open the address (error %ld)", (long)rc);
    return EM_OK;
}

/* Appends one argument quoted as CommandLineToArgvW reads it back. */
static void append_quoted(wchar_t *out, size_t *n, const wchar_t *arg)
{
    size_t slashes = 0;

    out[(*n)++] = L'"';
    for (const wchar_t *p = arg; *p != L'\0'; p++) {
        if (*p == L'\\') {
            slashes++;
        } else if (*p == L'"') {
            for (size_t i = 0; i < slashes + 1; i++)
                out[(*n)++] = L'\\';
            slashes = 0;
        } else {
            slashes = 0;
        }
        out[(*n)++] = *p;
    }
    for (size_t i = 0; i < slashes; i++)
        out[(*n)++] = L'\\';
    out[(*n)++] = L'"';
}

/* Variables that never reach a child: managed identity secrets. */
static bool secret_variable(const wchar_t *entry)
{
    return _wcsnicmp(entry, L"IDENTITY_HEADER=", 16) == 0 || _wcsnicmp(entry, L"MSI_SECRET=", 11) == 0;
}

/* The helper's environment block minus secret_variable ones; free() it. */
static wchar_t *child_environment(void)
{
    wchar_t *block = GetEnvironmentStringsW(), *copy = NULL, *p;
    size_t total = 0, n = 0;

    if (block == NULL)
        return NULL;
    for (p = block; *p != L'\0'; p += wcslen(p) + 1)
        total += wcslen(p) + 1;
    copy = malloc((total + 2) * sizeof *copy);
    if (copy != NULL) {
        for (p = block; *p != L'\0'; p += wcslen(p) + 1) {
            if (secret_variable(p))
                continue;
            wcscpy(copy + n, p);
            n += wcslen(p) + 1;
        }
        copy[n++] = L'\0';
        copy[n] = L'\0';
    }
    FreeEnvironmentStringsW(block);
    return copy;
}

int em_platform_spawn_detached(char *const argv[])
{
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    wchar_t *line = NULL, *env = NULL;
    size_t cap = 1, n = 0;
    int rc = 0;

    for (int i = 0; argv[i] != NULL; i++)
        cap += 2 * strlen(argv[i]) * 2 + 3;
    line = calloc(cap, sizeof *line);
    env = child_environment();
    if (line == NULL || env == NULL) {
        rc = ENOMEM;
        goto out;
    }
    for (int i = 0; argv[i] != NULL; i++) {
        wchar_t *arg = em_win_wide(argv[i]);

        if (arg == NULL) {
            rc = EINVAL;
            goto out;
        }
        if (i > 0)
            line[n++] = L' ';
        append_quoted(line, &n, arg);
        free(arg);
    }
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    /* No handles inherited and no console: the child's stdio is nothing of
     * ours (the protocol pipe never reaches it). */
    if (!CreateProcessW(NULL, line, NULL, NULL, FALSE,
                        DETACHED_PROCESS | CREATE_UNICODE_ENVIRONMENT | CREATE_NEW_PROCESS_GROUP,
                        env, NULL, &si, &pi)) {
        DWORD e = GetLastError();

        rc = e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? ENOENT
           : e == ERROR_ACCESS_DENIED ? EACCES : e == ERROR_NOT_ENOUGH_MEMORY ? ENOMEM : EINVAL;
        goto out;
    }
    /* Nothing to reap on Windows: closing the handles lets the process go. */
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
out:
    free(line);
    free(env);
    return rc;
}

/* winpthreads' timed waits take wall-clock deadlines only. */
void em_platform_cond_init(pthread_cond_t *cond)
{
    pthread_cond_init(cond, NULL);
}

clockid_t em_platform_cond_clock(void)
{
    return CLOCK_REALTIME;
}
