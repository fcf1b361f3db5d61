/* cache_file.h - the file under the token cache: one JSON document in a
 * private folder, read and replaced under a lock. Private to cache.c,
 * which gives it its meaning (MSAL's shape); this module knows only that
 * it is JSON and asks its owner whether the shape fits.
 *
 * The folder is made 0700 and must be ours; the document is tokens.json
 * (names and limits from cache.h), replaced atomically (temp file, fsync,
 * rename, fsync of the folder). The lock is a mutex for the threads of
 * this process plus flock on tokens.lock for every other process of the
 * user; taking it reloads the document when another process replaced it.
 * A file that is not ours, not private, too large, not JSON or of the
 * wrong shape is set aside as tokens.json.corrupt-<unix time> and the
 * document is empty; warnings say so. Nothing here logs; no message ever
 * holds the file's contents. The reasons are in docs/cache.md.
 */
#ifndef EM_CACHE_FILE_H
#define EM_CACHE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include "util/error.h"
#include "util/json.h"
#include "platform/platform.h"     /* em_file_lock */
#include "protocol/request.h"

typedef struct em_cache_file em_cache_file;

/* The owner's shape check of a parsed document: EM_OK, or EM_EPARSE with
 * the reason in err (never quoting content). */
typedef int (*em_cache_file_check_fn)(yajl_val root, em_error *err);

/* Creates dir (and missing parents) 0700 and checks it: ours, a folder,
 * not shared (sticky); ours but open to others is narrowed to 0700 with a
 * warning. check is applied to every file read. Errors as em_cache_open
 * (cache.h): EM_EACCESS, EM_ECONFIG, EM_EINVAL, EM_ENOMEM. dir is copied.
 * Caller frees with em_cache_file_close. */
int em_cache_file_open(em_cache_file **out, const char *dir, em_cache_file_check_fn check,
                       em_error *err);

/* Unlocks when this thread holds the lock, wipes and frees the document.
 * NULLs *file. */
void em_cache_file_close(em_cache_file **file);

/* Takes the lock for the calling thread and brings the document up to
 * date, as em_cache_lock (cache.h): timeout_ms > 0, req may be NULL. The
 * first lock of a handle removes temp files of writers that died. */
int em_cache_file_lock(em_cache_file *file, long timeout_ms, em_request *req, em_error *err);

/* Releases the lock when this thread holds it; else does nothing. */
void em_cache_file_unlock(em_cache_file *file);

/* Whether the calling thread holds the lock of file. */
bool em_cache_file_held(const em_cache_file *file);

/* Takes the renewal lock (EM_CACHE_RENEWAL_LOCK_NAME), polling up to
 * timeout_ms, as em_cache_renewal_begin (cache.h). The calling thread must
 * not hold the cache lock (lock order: renewal, then cache): EM_EINVAL.
 * *out is the held lock; release with em_file_lock_release. */
int em_cache_file_renewal_lock(em_file_lock **out, em_cache_file *file, long timeout_ms, em_request *req,
                               em_error *err);

/* Lock held. The document, NULL when there is no file. Borrowed: valid
 * until the lock is released or the document is replaced. */
yajl_val em_cache_file_root(const em_cache_file *file);

/* Lock held. Parses text (len bytes, borrowed), writes it atomically and
 * makes it the document. On failure the file and the document stay as
 * they were. Errors: EM_EINTERNAL (does not parse, or a write step
 * failed: message says which), EM_ENOMEM, EM_EINVAL (path too long). */
int em_cache_file_replace(em_cache_file *file, const char *text, size_t len, em_error *err);

/* Copies the oldest pending warning into out and forgets it; false when
 * none. Any thread, lock not needed. */
bool em_cache_file_take_warning(em_cache_file *file, char *out, size_t size);

#endif
