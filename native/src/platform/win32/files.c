/* files.c (Windows) - private folders and files, atomic replacement, the
 * LockFileEx lock, DPAPI. A user-only protected DACL stands for 0700/0600,
 * the owner SID for st_uid, FILE_FLAG_OPEN_REPARSE_POINT for O_NOFOLLOW;
 * the file's content is sealed with DPAPI for the user, as MSAL does.
 */
#include "platform/platform.h"
#include "platform/win32/win32.h"

#include <wincrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define REPLACE_TRIES 20        /* a reader in another process holds the file for a moment */
#define REPLACE_WAIT_MS 25

struct em_private_file {
    HANDLE handle;          /* closed once read: another process may replace the file */
    em_file_stamp stamp;
};

struct em_file_lock {
    HANDLE handle;
};

struct em_private_dir {
    HANDLE handle;          /* opened without FILE_SHARE_DELETE: the folder cannot be renamed or removed */
    char *path;
};

#define PATH_LIMIT 4096

/* "<folder>\<name>" (dir NULL: name itself); NULL when too long. */
static const char *joined(char *out, size_t size, const em_private_dir *dir, const char *name)
{
    int n = dir != NULL ? snprintf(out, size, "%s\\%s", dir->path, name) : snprintf(out, size, "%s", name);

    return n < 0 || (size_t)n >= size ? NULL : out;
}

static em_file_stamp stamp_of(const BY_HANDLE_FILE_INFORMATION *info)
{
    em_file_stamp s;

    memset(&s, 0, sizeof s);
    s.volume = info->dwVolumeSerialNumber;
    s.index = (uint64_t)info->nFileIndexHigh << 32 | info->nFileIndexLow;
    s.size = (uint64_t)info->nFileSizeHigh << 32 | info->nFileSizeLow;
    s.mtime_ns = (int64_t)((uint64_t)info->ftLastWriteTime.dwHighDateTime << 32 |
                           info->ftLastWriteTime.dwLowDateTime) * 100;
    return s;
}

static const char *win_message(DWORD e, char *buf, size_t size)
{
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e, 0, buf,
                             (DWORD)size, NULL);

    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '.'))
        buf[--n] = '\0';
    if (n == 0)
        snprintf(buf, size, "error %lu", (unsigned long)e);
    return buf;
}

/* ---- the folder ---- */

/* Creates every missing folder of dir with the user-only DACL. */
static int make_dirs(const char *dir, em_error *err)
{
    wchar_t *path = em_win_wide(dir);
    PSECURITY_DESCRIPTOR sd = em_win_user_only_sd();
    SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
    char why[200];
    int rc = EM_OK;

    if (path == NULL || sd == NULL) {
        rc = em_error_set(err, path == NULL ? EM_EINVAL : EM_EINTERNAL,
                          path == NULL ? "the folder path is not valid UTF-8" : "cannot build a user-only ACL");
        goto out;
    }
    for (wchar_t *p = path; ; p++) {
        wchar_t c = *p;

        /* Skip "C:\" and "\\server\share\": they exist or cannot be made. */
        if ((c == L'\\' || c == L'/' || c == L'\0') && p > path && p[-1] != L':' && p[-1] != L'\\') {
            *p = L'\0';
            if (!CreateDirectoryW(path, &sa) && GetLastError() != ERROR_ALREADY_EXISTS &&
                GetLastError() != ERROR_ACCESS_DENIED) {
                rc = em_error_set(err, EM_ECONFIG, "cannot create the folder %s: %s", dir,
                                  win_message(GetLastError(), why, sizeof why));
                goto out;
            }
            *p = c;
        }
        if (c == L'\0')
            break;
    }
out:
    LocalFree(sd);
    free(path);
    return rc;
}

/* The folder is opened without following a reparse point and held open
 * without FILE_SHARE_DELETE, so nobody can rename it away and put a link
 * in its place while we use it; its checks are made on that handle. */
int em_private_folder(em_private_dir **out, const char *dir, char *narrowed, size_t narrowed_size,
                      em_error *err)
{
    wchar_t *path = NULL;
    BY_HANDLE_FILE_INFORMATION info;
    HANDLE h = INVALID_HANDLE_VALUE;
    bool foreign = false, open = false;
    char why[200];
    int rc;

    *out = NULL;
    narrowed[0] = '\0';
    rc = make_dirs(dir, err);
    if (rc != EM_OK)
        return rc;
    path = em_win_wide(dir);
    if (path == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    h = CreateFileW(path, FILE_LIST_DIRECTORY | READ_CONTROL, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                    OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (h == INVALID_HANDLE_VALUE)
        rc = em_error_set(err, EM_ECONFIG, "cannot use the folder %s: %s", dir,
                          win_message(GetLastError(), why, sizeof why));
    else if (!GetFileInformationByHandle(h, &info))
        rc = em_error_set(err, EM_ECONFIG, "cannot examine the folder %s: %s", dir,
                          win_message(GetLastError(), why, sizeof why));
    else if ((info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0)
        rc = em_error_set(err, EM_EACCESS, "the folder %s is a link; give it a folder of its own", dir);
    else if ((info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) == 0)
        rc = em_error_set(err, EM_EACCESS, "%s is not a folder", dir);
    else if (!em_win_check_private(h, NULL, &foreign, &open))
        rc = em_error_set(err, EM_EACCESS, "cannot read the security of the folder %s (error %lu)", dir,
                          GetLastError());
    else if (foreign)
        rc = em_error_set(err, EM_EACCESS, "the folder %s belongs to another user; not using it", dir);
    else if (open && !em_win_make_private(path))
        rc = em_error_set(err, EM_EACCESS, "cannot make the folder %s private (error %lu)", dir, GetLastError());
    else if (open)
        snprintf(narrowed, narrowed_size, "an access list open to others");
    free(path);
    if (rc == EM_OK && ((*out = calloc(1, sizeof **out)) == NULL || ((*out)->path = strdup(dir)) == NULL)) {
        free(*out);
        *out = NULL;
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
    }
    if (rc != EM_OK) {
        if (h != INVALID_HANDLE_VALUE)
            CloseHandle(h);
        return rc;
    }
    (*out)->handle = h;
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
    CloseHandle((*dir)->handle);
    free((*dir)->path);
    free(*dir);
    *dir = NULL;
}

/* ---- reading ---- */

int em_private_open(em_private_file **out, em_private_dir *dir, const char *name, char *refusal,
                    size_t refusal_size, em_error *err)
{
    char full[PATH_LIMIT];
    const char *path = joined(full, sizeof full, dir, name);
    wchar_t *wide = path != NULL ? em_win_wide(path) : NULL;
    BY_HANDLE_FILE_INFORMATION info;
    HANDLE h;
    bool foreign = false, open = false;
    const char *why = NULL;
    char text[200];
    DWORD e;

    *out = NULL;
    refusal[0] = '\0';
    if (wide == NULL)
        return em_error_set(err, EM_EINVAL, "the path is not valid UTF-8");
    h = CreateFileW(wide, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                    OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
    e = GetLastError();
    free(wide);
    if (h == INVALID_HANDLE_VALUE && (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND))
        return EM_OK;
    if (h == INVALID_HANDLE_VALUE && e == ERROR_ACCESS_DENIED)
        why = "cannot be read (permission denied)";
    else if (h == INVALID_HANDLE_VALUE)
        return em_error_set(err, EM_EINTERNAL, "cannot open %s: %s", path, win_message(e, text, sizeof text));
    else if (!GetFileInformationByHandle(h, &info))
        why = "cannot be examined";
    else if ((info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0)
        why = "is a symbolic link";
    else if ((info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0)
        why = "is not a regular file";
    else if (!em_win_check_private(h, NULL, &foreign, &open))
        why = "has a security descriptor that cannot be read";
    else if (foreign)
        why = "belongs to another user";
    else if (open)
        why = "was open to other users (its access list)";
    if (why != NULL) {
        snprintf(refusal, refusal_size, "%s", why);
        if (h != INVALID_HANDLE_VALUE)
            CloseHandle(h);
        return EM_OK;
    }
    *out = calloc(1, sizeof **out);
    if (*out == NULL) {
        CloseHandle(h);
        return em_error_set(err, EM_ENOMEM, "out of memory");
    }
    (*out)->handle = h;
    (*out)->stamp = stamp_of(&info);
    return EM_OK;
}

int em_private_read(em_buf *out, em_private_file *file, size_t max, bool *too_big, em_error *err)
{
    char chunk[16384], text[200];
    LARGE_INTEGER zero = {0};
    int rc = EM_OK;

    *too_big = false;
    if (file->handle == NULL || !SetFilePointerEx(file->handle, zero, NULL, FILE_BEGIN))
        return em_error_set(err, EM_EINTERNAL, "cannot read: the file is closed");
    for (;;) {
        DWORD n = 0;

        if (!ReadFile(file->handle, chunk, sizeof chunk, &n, NULL)) {
            rc = em_error_set(err, EM_EINTERNAL, "cannot read: %s", win_message(GetLastError(), text, sizeof text));
            break;
        }
        if (n == 0)
            break;
        if (out->len + n > max) {
            *too_big = true;
            break;
        }
        if (em_buf_append(out, chunk, n) != EM_OK) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
            break;
        }
    }
    OPENSSL_cleanse(chunk, sizeof chunk);
    CloseHandle(file->handle);
    file->handle = NULL;
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
    if ((*file)->handle != NULL)
        CloseHandle((*file)->handle);
    free(*file);
    *file = NULL;
}

/* ---- files the user names ---- */

/* Only FILE_TYPE_DISK is read: a named pipe (\\.\pipe\...) or a
 * device (NUL, CON, COM1) would block or never end. */
int em_platform_read_file(em_buf *out, const char *path, size_t max, em_error *err)
{
    wchar_t *wide = em_win_wide(path);
    BY_HANDLE_FILE_INFORMATION info;
    char chunk[16384], text[200];
    size_t start = out->len;
    HANDLE h;
    DWORD e;
    int rc = EM_OK;

    if (wide == NULL)
        return em_error_set(err, EM_EINVAL, "is not a valid UTF-8 path");
    h = CreateFileW(wide, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                    OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    e = GetLastError();
    free(wide);
    if (h == INVALID_HANDLE_VALUE)
        return em_error_set(err, e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? EM_ENOTFOUND : EM_EACCESS,
                            "cannot be opened: %s", win_message(e, text, sizeof text));
    if (GetFileType(h) != FILE_TYPE_DISK)
        rc = em_error_set(err, EM_EINVAL, "is not a regular file (%s)",
                          GetFileType(h) == FILE_TYPE_PIPE ? "a pipe" : "a device");
    else if (!GetFileInformationByHandle(h, &info))
        rc = em_error_set(err, EM_EACCESS, "cannot be examined: %s", win_message(GetLastError(), text, sizeof text));
    else if ((info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0)
        rc = em_error_set(err, EM_EINVAL, "is not a regular file (a folder)");
    else if (((uint64_t)info.nFileSizeHigh << 32 | info.nFileSizeLow) > max)
        rc = em_error_set(err, EM_EINVAL, "is larger than %zu KiB", max / 1024);
    while (rc == EM_OK) {
        DWORD n = 0;

        if (!ReadFile(h, chunk, sizeof chunk, &n, NULL))
            rc = em_error_set(err, EM_EACCESS, "cannot be read: %s", win_message(GetLastError(), text, sizeof text));
        else if (n == 0)
            break;
        else if (out->len - start + n > max)
            rc = em_error_set(err, EM_EINVAL, "is larger than %zu KiB", max / 1024);   /* it grew */
        else if (em_buf_append(out, chunk, n) != EM_OK)
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
    }
    if (rc == EM_OK && out->len == start)
        rc = em_error_set(err, EM_EINVAL, "is empty");
    OPENSSL_cleanse(chunk, sizeof chunk);
    CloseHandle(h);
    return rc;
}

int em_platform_list_folder(const char *path, em_folder_entry_fn each, void *ud, em_error *err)
{
    char pattern[PATH_LIMIT];
    wchar_t *wpattern;
    WIN32_FIND_DATAW found;
    HANDLE search;
    DWORD e;

    if (snprintf(pattern, sizeof pattern, "%s\\*", path) >= (int)sizeof pattern)
        return em_error_set(err, EM_ENOTFOUND, "the path is too long");
    wpattern = em_win_wide(pattern);
    if (wpattern == NULL)
        return em_error_set(err, EM_ENOTFOUND, "the path is not valid UTF-8");
    search = FindFirstFileW(wpattern, &found);
    e = GetLastError();
    free(wpattern);
    if (search == INVALID_HANDLE_VALUE)
        return em_error_set(err, EM_ENOTFOUND, "Windows error %lu", (unsigned long)e);
    do {
        char *name = em_win_utf8(found.cFileName);
        bool go_on = true;

        if (name != NULL && strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
            go_on = each(ud, name);
        free(name);
        if (!go_on)
            break;
    } while (FindNextFileW(search, &found));
    FindClose(search);
    return EM_OK;
}

/* ---- writing ---- */

int em_private_write(em_private_file **out, em_private_dir *dir, const char *name, const void *data,
                     size_t len, em_error *err)
{
    char full[PATH_LIMIT];
    const char *path = joined(full, sizeof full, dir, name);
    unsigned char rnd[8];
    char tmp[4096], text[200];
    wchar_t *wtmp = NULL, *wpath = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    BY_HANDLE_FILE_INFORMATION info;
    HANDLE h = INVALID_HANDLE_VALUE;
    const char *bytes = data;
    size_t done = 0;
    int n, rc = EM_OK, tries;

    *out = NULL;
    if (path == NULL)
        return em_error_set(err, EM_EINVAL, "the path of %s is too long", name);
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return em_error_set(err, EM_EINTERNAL, "no random bytes for a temp file name");
    n = snprintf(tmp, sizeof tmp, "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", path,
                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return em_error_set(err, EM_EINVAL, "the path %s is too long", path);
    wtmp = em_win_wide(tmp);
    wpath = em_win_wide(path);
    sd = em_win_user_only_sd();
    sa.lpSecurityDescriptor = sd;
    if (wtmp == NULL || wpath == NULL || sd == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto out;
    }
    /* User only from birth; CREATE_NEW never opens someone's planted file. */
    h = CreateFileW(wtmp, GENERIC_WRITE, 0, &sa, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot create %s: %s", tmp, win_message(GetLastError(), text, sizeof text));
        goto out;
    }
    while (done < len) {
        DWORD chunk = len - done > 1u << 30 ? 1u << 30 : (DWORD)(len - done), wrote = 0;

        if (!WriteFile(h, bytes + done, chunk, &wrote, NULL)) {
            rc = em_error_set(err, EM_EINTERNAL, "cannot write %s: %s", tmp, win_message(GetLastError(), text, sizeof text));
            goto remove_tmp;
        }
        done += wrote;
    }
    if (!FlushFileBuffers(h) || !GetFileInformationByHandle(h, &info)) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot flush %s: %s", tmp, win_message(GetLastError(), text, sizeof text));
        goto remove_tmp;
    }
    CloseHandle(h);
    h = INVALID_HANDLE_VALUE;
    for (tries = 0; !MoveFileExW(wtmp, wpath, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH); tries++) {
        DWORD e = GetLastError();

        if ((e != ERROR_ACCESS_DENIED && e != ERROR_SHARING_VIOLATION) || tries == REPLACE_TRIES) {
            rc = em_error_set(err, EM_EINTERNAL, "cannot replace %s: %s", path, win_message(e, text, sizeof text));
            goto remove_tmp;
        }
        Sleep(REPLACE_WAIT_MS);
    }
    *out = calloc(1, sizeof **out);
    if (*out == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto out;
    }
    (*out)->stamp = stamp_of(&info);   /* a rename keeps the file index and times */
    goto out;
remove_tmp:
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    DeleteFileW(wtmp);
out:
    LocalFree(sd);
    free(wtmp);
    free(wpath);
    return rc;
}

int em_private_set_aside(char *aside, size_t size, em_private_dir *dir, const char *name, em_error *err)
{
    char full[PATH_LIMIT];
    const char *path = joined(full, sizeof full, dir, name);
    wchar_t *wpath = path != NULL ? em_win_wide(path) : NULL, *waside = NULL;
    char text[200];
    int n, i, rc = EM_OK;

    if (wpath == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    for (i = 0; i < 100; i++) {
        if (i == 0)
            n = snprintf(aside, size, "%s.corrupt-%lld", path, (long long)time(NULL));
        else
            n = snprintf(aside, size, "%s.corrupt-%lld-%d", path, (long long)time(NULL), i);
        if (n < 0 || (size_t)n >= size) {
            rc = em_error_set(err, EM_EINVAL, "the path %s is too long", path);
            goto out;
        }
        free(waside);
        waside = em_win_wide(aside);
        if (waside == NULL) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
            goto out;
        }
        if (GetFileAttributesW(waside) == INVALID_FILE_ATTRIBUTES)
            break;
    }
    /* No MOVEFILE_REPLACE_EXISTING: never over another file. */
    if (!MoveFileExW(wpath, waside, MOVEFILE_WRITE_THROUGH)) {
        rc = em_error_set(err, EM_EINTERNAL, "setting it aside failed: %s", win_message(GetLastError(), text, sizeof text));
        goto out;
    }
    /* The copy keeps its tokens for the user to inspect: user only. */
    (void)em_win_make_private(waside);
out:
    free(wpath);
    free(waside);
    return rc;
}

void em_private_remove_temps(em_private_dir *dir, const char *name)
{
    char full[PATH_LIMIT], pattern[4096], victim[4096];
    const char *path = joined(full, sizeof full, dir, name);
    const char *slash = path != NULL ? strrchr(path, '\\') : NULL;
    wchar_t *wpattern;
    WIN32_FIND_DATAW found;
    HANDLE search;

    if (slash == NULL || snprintf(pattern, sizeof pattern, "%s.tmp-*", path) >= (int)sizeof pattern)
        return;
    wpattern = em_win_wide(pattern);
    if (wpattern == NULL)
        return;
    search = FindFirstFileW(wpattern, &found);
    free(wpattern);
    if (search == INVALID_HANDLE_VALUE)
        return;
    do {
        char *name = em_win_utf8(found.cFileName);

        if (name != NULL && snprintf(victim, sizeof victim, "%.*s\\%s", (int)(slash - path), path, name) <
                                (int)sizeof victim) {
            wchar_t *wvictim = em_win_wide(victim);

            if (wvictim != NULL)
                DeleteFileW(wvictim);
            free(wvictim);
        }
        free(name);
    } while (FindNextFileW(search, &found));
    FindClose(search);
}

/* ---- protection at rest: DPAPI for the current user ---- */

int em_platform_seal(em_buf *out, const void *data, size_t len, em_error *err)
{
    DATA_BLOB in = {(DWORD)len, (BYTE *)data}, sealed = {0, NULL};
    int rc = EM_OK;

    if (!CryptProtectData(&in, L"ExchangeMfa token cache", NULL, NULL, NULL, CRYPTPROTECT_UI_FORBIDDEN, &sealed))
        return em_error_set(err, EM_EINTERNAL, "DPAPI could not encrypt the token cache (error %lu)", GetLastError());
    if (em_buf_append(out, sealed.pbData, sealed.cbData) != EM_OK)
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
    LocalFree(sealed.pbData);
    return rc;
}

int em_platform_unseal(em_buf *out, const void *data, size_t len, em_error *err)
{
    DATA_BLOB in = {(DWORD)len, (BYTE *)data}, plain = {0, NULL};
    int rc = EM_OK;

    if (!CryptUnprotectData(&in, NULL, NULL, NULL, NULL, CRYPTPROTECT_UI_FORBIDDEN, &plain))
        return em_error_set(err, EM_EACCESS, "DPAPI could not decrypt it for this user (error %lu)", GetLastError());
    if (em_buf_append(out, plain.pbData, plain.cbData) != EM_OK)
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
    OPENSSL_cleanse(plain.pbData, plain.cbData);
    LocalFree(plain.pbData);
    return rc;
}

/* ---- the lock ---- */

int em_file_lock_try(em_file_lock **out, em_private_dir *dir, const char *name, em_error *err)
{
    char full[PATH_LIMIT];
    const char *path = joined(full, sizeof full, dir, name);
    wchar_t *wide = path != NULL ? em_win_wide(path) : NULL;
    PSECURITY_DESCRIPTOR sd = em_win_user_only_sd();
    SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
    OVERLAPPED whole = {0};
    bool foreign = false, open = false;
    char text[200];
    HANDLE h;
    DWORD e;

    *out = NULL;
    if (wide == NULL || sd == NULL) {
        free(wide);
        LocalFree(sd);
        return em_error_set(err, EM_ENOMEM, "out of memory");
    }
    h = CreateFileW(wide, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa,
                    OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    e = GetLastError();
    free(wide);
    LocalFree(sd);
    if (h == INVALID_HANDLE_VALUE)
        return em_error_set(err, EM_EACCESS, "cannot open the lock %s: %s", path, win_message(e, text, sizeof text));
    if (!em_win_check_private(h, NULL, &foreign, &open) || foreign) {
        CloseHandle(h);
        return em_error_set(err, EM_EACCESS, "the lock %s belongs to another user", path);
    }
    /* Released by the system when the process ends, like flock. */
    if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &whole)) {
        e = GetLastError();
        CloseHandle(h);
        if (e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING)
            return EM_OK;
        return em_error_set(err, EM_EINTERNAL, "cannot lock %s: %s", path, win_message(e, text, sizeof text));
    }
    *out = malloc(sizeof **out);
    if (*out == NULL) {
        CloseHandle(h);
        return em_error_set(err, EM_ENOMEM, "out of memory");
    }
    (*out)->handle = h;
    return EM_OK;
}

void em_file_lock_release(em_file_lock **lock)
{
    OVERLAPPED whole = {0};

    if (lock == NULL || *lock == NULL)
        return;
    UnlockFileEx((*lock)->handle, 0, 1, 0, &whole);
    CloseHandle((*lock)->handle);
    free(*lock);
    *lock = NULL;
}
