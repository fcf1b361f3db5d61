/* platform.h - everything that differs between POSIX (Linux, macOS) and
 * Windows, behind one interface. CMake builds exactly one implementation,
 * platform/posix/ or platform/win32/, with the same function names; no
 * other file has a platform #ifdef. Paths are UTF-8 on every platform
 * (Windows converts them to UTF-16 inside). Each choice and its reason:
 * docs/decisions.md, "The platform layer".
 *
 * Not here, because the toolchain already makes them portable: threads,
 * the clock and sleeping (pthreads, clock_gettime and nanosleep; mingw-w64's
 * winpthreads on Windows) and random bytes (OpenSSL's RAND_bytes). Only the
 * clock of timed condition waits differs (below).
 */
#ifndef EM_PLATFORM_H
#define EM_PLATFORM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "util/buf.h"
#include "util/error.h"

/* ---- the process ---- */

/* Once at start: stdin/stdout carry protocol bytes unchanged (binary mode
 * on Windows: no CRLF); a vanished reader is a write error, never a signal
 * that kills us (SIGPIPE ignored on POSIX). */
void em_platform_init(void);

/* ---- timed waits ---- */

/* Initialises cond for pthread_cond_timedwait with deadlines from
 * em_platform_deadline: the monotonic clock where condition variables can
 * use it (Linux), else the wall clock (macOS, winpthreads). */
void em_platform_cond_init(pthread_cond_t *cond);

/* The clock of those deadlines. */
clockid_t em_platform_cond_clock(void);

/* The absolute time ms from now, on em_platform_cond_clock. */
static inline void em_platform_deadline(struct timespec *deadline, long ms)
{
    clock_gettime(em_platform_cond_clock(), deadline);
    deadline->tv_sec += ms / 1000;
    deadline->tv_nsec += (ms % 1000) * 1000000L;
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000L;
    }
}

/* ---- the browser ---- */

/* Opens url with the system's opener: xdg-open (Linux), open (macOS),
 * ShellExecuteW (Windows). EM_ENOTFOUND when none could be started. */
int em_platform_open_url(const char *url, em_error *err);

/* Starts argv (argv[0] looked up on PATH, no shell) and returns without
 * waiting: stdin, stdout and stderr on the null device and nothing else of
 * ours (POSIX: every other descriptor closed in the child, on top of each
 * being close-on-exec; Windows: no handle inherited), the environment
 * without the managed identity secrets (IDENTITY_HEADER, MSI_SECRET).
 * 0 or an errno value. */
int em_platform_spawn_detached(char *const argv[]);

/* ---- per-user folders ---- */

typedef enum em_folder {
    EM_FOLDER_CACHE,    /* ${XDG_CACHE_HOME:-~/.cache}/exchangemfa | %LOCALAPPDATA%\ExchangeMfa */
    EM_FOLDER_CONFIG,   /* ${XDG_CONFIG_HOME:-~/.config}/exchangemfa | %APPDATA%\ExchangeMfa */
} em_folder;

/* The folder's path (it may not exist yet); caller frees. EM_ECONFIG when
 * the user's profile does not say where it is. */
int em_platform_user_folder(char **out, em_folder which, em_error *err);

/* The path separator of the platform ("/" or "\\"). */
const char *em_platform_separator(void);

/* ---- files the user names (certificates, the federated token) ---- */

/* Appends the file at path to out (wipe it with em_buf_free). Links are
 * followed (the user named the path), but only a regular file is read:
 * it is opened without blocking and checked first, so a FIFO, a device or
 * a folder is refused at once instead of hanging the helper. At most max
 * bytes. EM_ENOTFOUND (no such file), EM_EACCESS (cannot be opened),
 * EM_EINVAL (not a regular file, empty, or larger than max). The message
 * does not name the file: the caller prefixes what it is. */
int em_platform_read_file(em_buf *out, const char *path, size_t max, em_error *err);

/* Calls each(ud, name) for every entry of the folder at path but "." and
 * "..", names in UTF-8 on every platform (Windows: the wide API, so any
 * name is seen as it is), until each answers false. EM_ENOTFOUND when the
 * folder cannot be opened (the message says why, without the path). */
typedef bool (*em_folder_entry_fn)(void *ud, const char *name);
int em_platform_list_folder(const char *path, em_folder_entry_fn each, void *ud, em_error *err);

/* ---- private files (the token cache) ---- */

/* The private folder, held open: every file inside is reached through it
 * (POSIX: its descriptor and the *at() calls; Windows: a handle that keeps
 * it from being renamed or deleted), so swapping the folder's path for a
 * link later changes nothing. */
typedef struct em_private_dir em_private_dir;

/* Creates dir (and missing parents) readable by the user only (0700 | a
 * protected DACL granting the user alone), opens it without following a
 * link and checks it: a folder, ours, not shared, in a parent others
 * cannot swap it in (POSIX: the parent is ours or root's and not
 * writable by others unless sticky, as ssh asks). Ours but open to others
 * is narrowed, and narrowed gets what it was ("mode 0755"; else ""), for
 * the caller's warning. EM_EACCESS, EM_ECONFIG, EM_EINVAL. */
int em_private_folder(em_private_dir **out, const char *dir, char *narrowed, size_t narrowed_size,
                      em_error *err);

/* The path it was opened with (for messages). */
const char *em_private_dir_path(const em_private_dir *dir);

/* Closes it; NULLs *dir. */
void em_private_dir_close(em_private_dir **dir);

/* One version of a file: (device, inode, size, mtime) | (volume serial,
 * file index, size, last write time). */
typedef struct em_file_stamp {
    uint64_t volume;
    uint64_t index;
    uint64_t size;
    int64_t mtime_ns;
} em_file_stamp;

static inline bool em_file_stamp_equal(const em_file_stamp *a, const em_file_stamp *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

typedef struct em_private_file em_private_file;

/* Opens name in dir (dir NULL: name is a whole path) for reading without
 * following a link. EM_OK with *out set:
 * a regular file of ours that only we can read. EM_OK with *out NULL:
 * refusal[0] == '\0' when there is no file, else why it is refused ("is a
 * symbolic link", "belongs to another user", "was open to other users
 * (mode 0644)", ...). Errors: EM_EINTERNAL, EM_ENOMEM. */
int em_private_open(em_private_file **out, em_private_dir *dir, const char *name, char *refusal,
                    size_t refusal_size, em_error *err);

/* Appends the whole file to out, at most max bytes (*too_big: there was
 * more). */
int em_private_read(em_buf *out, em_private_file *file, size_t max, bool *too_big, em_error *err);

/* The stamp taken when the file was opened or written. */
const em_file_stamp *em_private_stamp(const em_private_file *file);

/* Replaces name in dir atomically with data: a temp file <name>.tmp-<random>
 * (user only from birth), flushed, then renamed over path (rename + fsync
 * of the folder | MoveFileExW REPLACE_EXISTING|WRITE_THROUGH). *out: the
 * new file (its stamp). On failure path is unchanged. */
int em_private_write(em_private_file **out, em_private_dir *dir, const char *name, const void *data,
                     size_t len, em_error *err);

/* Renames name in dir to <name>.corrupt-<unix time>[-n] (never over a
 * file), made user-only; its path goes to aside. */
int em_private_set_aside(char *aside, size_t size, em_private_dir *dir, const char *name, em_error *err);

/* Removes <name>.tmp-* left in dir by writers that died (call under the
 * lock). */
void em_private_remove_temps(em_private_dir *dir, const char *name);

/* Closes the file (a POSIX fd is kept open until then, so the inode in
 * the stamp cannot be reused; Windows closes it once read, so another
 * process can replace the file). NULLs *file. */
void em_private_close(em_private_file **file);

/* The cache's protection at rest: identity on POSIX (the 0600 file in the
 * 0700 folder is the protection); DPAPI CryptProtectData for the current
 * user on Windows, as MSAL does. unseal fails (EM_EACCESS) on content
 * another user or machine sealed, or that was altered. out is appended
 * to; wipe it with em_buf_free. */
int em_platform_seal(em_buf *out, const void *data, size_t len, em_error *err);
int em_platform_unseal(em_buf *out, const void *data, size_t len, em_error *err);

/* ---- the lock between processes ---- */

typedef struct em_file_lock em_file_lock;

/* Opens (creating, user only) the lock file name in dir and tries to take it
 * without waiting (flock | LockFileEx): EM_OK with *out set when taken,
 * EM_OK with *out NULL when another process holds it. The system drops
 * the lock of a process that dies. EM_EACCESS (not ours), EM_EINTERNAL. */
int em_file_lock_try(em_file_lock **out, em_private_dir *dir, const char *name, em_error *err);

/* Releases and closes; NULLs *lock. */
void em_file_lock_release(em_file_lock **lock);

/* ---- certificates ---- */

/* The certificate with this SHA-1 thumbprint (40 upper-case hex digits)
 * from the system's certificate stores, with its private key, as PKCS#12
 * bytes without a password (appended to pkcs12; wipe with em_buf_free).
 * Windows: CurrentUser\My, then LocalMachine\My (as Microsoft's module);
 * EM_EACCESS when the key is not exportable, EM_ENOTFOUND when no store
 * has it. POSIX has no such store: EM_ENOTFOUND with err untouched, and
 * the caller uses the certificate folder. */
int em_platform_find_certificate(em_buf *pkcs12, const char *thumbprint, em_error *err);

/* ---- networking ---- */

/* Whether TLS also trusts the system's certificate store through curl
 * (CURLSSLOPT_NATIVE_CA: Windows; POSIX OpenSSL reads the system store by
 * itself). EXCHANGEMFA_CA_FILE is added on top on every platform. */
bool em_platform_tls_native_ca(void);

/* Keeps a socket made by a library (curl) out of child processes:
 * FD_CLOEXEC | not inheritable. Our own descriptors get it at birth
 * (O_CLOEXEC). */
void em_platform_socket_no_inherit(uintptr_t socket);

/* Makes every descriptor from 3 up close-on-exec, for those a library
 * opens out of reach of any option (curl_multi_init's wake-up socket
 * pair). Nothing to do on Windows (no handle is inherited). */
void em_platform_descriptors_no_inherit(void);

/* Shuts a socket down both ways without closing it (its owner, e.g.
 * libmicrohttpd, sees the end and closes it itself). */
void em_platform_socket_shutdown(uintptr_t socket);

/* Whether a socket can be bound to [::1] (IPv6 loopback available). */
bool em_platform_ipv6_loopback(void);

#endif
