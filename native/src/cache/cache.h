/* cache.h - the per-user token cache shared by every helper of the user.
 *
 * One JSON file in MSAL's shape, ${XDG_CACHE_HOME:-$HOME/.cache}/exchangemfa/
 * tokens.json: mode 0600 in a 0700 folder owned by the user, replaced
 * atomically (temp file, fsync, rename, fsync of the folder). Every read and
 * write happens under one lock that excludes the threads of this process (a
 * mutex) and every other process of the user (flock on tokens.lock, which
 * the kernel drops when a process dies). Taking the lock reloads the file
 * when another process replaced it (inode, size or mtime differ from what
 * was read last), so find and store always see the newest contents.
 *
 * A corrupt or foreign file (not JSON, wrong shape, bigger than
 * EM_CACHE_MAX_FILE, not a regular file, not owned by the user, readable
 * or writable by others) is renamed to tokens.json.corrupt-<unix time>
 * (mode 0600) and the cache continues empty; the reason is kept as a
 * warning for em_cache_take_warning. Nothing here logs; no message ever
 * holds a token.
 *
 * The single-flight pattern (one refresh for all threads and processes);
 * env from em_cache_environment(authority), home from
 * em_cache_home_account_id(tokens) or an em_cache_account:
 *
 *     em_cache_lock(cache, 0, req, err);          // waits; reloads
 *     rc = em_cache_find_access_token(&at, cache, home, env, client, realm,
 *                                     scopes, time(NULL), err);
 *     if (rc == EM_OK && !stale(at))              // someone else refreshed
 *         use(at);
 *     else {
 *         em_cache_find_refresh_token(&rt, cache, home, env, client, err);
 *         refresh over the network with rt->secret (still holding the lock);
 *         em_cache_store(cache, &entry_from_new_tokens, time(NULL), err);
 *     }
 *     em_cache_unlock(cache);
 *
 * "stale" means: the same secret the caller already holds (it got a 401),
 * or refresh_on has passed. If the refresh fails and the cached token is
 * still valid, use it (MSAL does); on EM_EGRANT the dead refresh token
 * should go (em_cache_remove_account) before unlocking.
 *
 * Silent sign-in in a new process: lock; em_cache_find_accounts(env,
 * client, upn); em_cache_load_tokens(account) gives an em_tokens to start
 * the connection with (refresh first when its access_token is NULL, as
 * above); unlock.
 *
 * Every find/store/remove call requires the lock held by the calling
 * thread (EM_EINVAL otherwise). A thread holds at most one cache lock at a
 * time, and the lock is not recursive. Hold it briefly: the network refresh
 * above is the only long thing done under it.
 *
 * Memory-only connections simply never call this module.
 * After fork(), a child must open its own em_cache (the lock's state is
 * per process).
 */
#ifndef EM_CACHE_H
#define EM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "util/error.h"
#include "identity/oidc.h"
#include "protocol/request.h"

#define EM_CACHE_DIR_NAME "exchangemfa"
#define EM_CACHE_FILE_NAME "tokens.json"
#define EM_CACHE_LOCK_NAME "tokens.lock"
#define EM_CACHE_RENEWAL_LOCK_NAME "tokens.renewal.lock"
#define EM_CACHE_MAX_FILE (8L * 1024 * 1024)    /* larger files are set aside */
#define EM_CACHE_LOCK_TIMEOUT_MS 30000L         /* em_cache_lock's default */
#define EM_CACHE_RENEWAL_WAIT_MS 10000L         /* for another process's renewal */
#define EM_CACHE_EXPIRY_MARGIN 300              /* seconds: MSAL's 5 minutes */
#define EM_CACHE_VERSION 1

typedef struct em_cache em_cache;

/* What em_cache_store writes for one sign-in or refresh. Every string is
 * borrowed for the call; NULL leaves that credential out. */
typedef struct em_cache_entry {
    const char *home_account_id;    /* "<oid>.<tid>"; NULL: derived from the two below */
    const char *local_account_id;   /* the user's object id (oid) */
    const char *realm;              /* the tenant id (tid) */
    const char *environment;        /* authority host, e.g. "login.microsoftonline.com" */
    const char *client_id;
    const char *target;             /* scopes asked for, space separated */
    const char *username;           /* UPN (preferred_username), or NULL */
    const char *access_token;       /* or NULL */
    time_t expires_on;              /* access token expiry */
    time_t refresh_on;              /* renew after this; 0: expires_on */
    const char *refresh_token;      /* or NULL */
    const char *id_token;           /* or NULL */
} em_cache_entry;

/* A credential found in the cache; the caller frees with em_cache_token_free,
 * which wipes the secret. For a refresh token only secret is set (target
 * "", times 0). */
typedef struct em_cache_token {
    char *secret;
    char *target;                   /* scopes of an access token, lower case; "" otherwise */
    time_t cached_at;
    time_t expires_on;
    time_t refresh_on;
} em_cache_token;

/* An account the cache knows (MSAL's Account section). */
typedef struct em_cache_account {
    char *home_account_id;
    char *environment;
    char *realm;
    char *local_account_id;
    char *username;
} em_cache_account;

typedef struct em_cache_accounts {
    em_cache_account *items;
    size_t count;
} em_cache_accounts;

/* The default folder: ${XDG_CACHE_HOME:-$HOME/.cache}/exchangemfa (an
 * XDG_CACHE_HOME that is not absolute is ignored, as the spec says).
 * Copies it into out (size bytes); EM_ECONFIG when neither variable gives
 * an absolute path, EM_EINVAL when it does not fit. */
int em_cache_default_dir(char *out, size_t size, em_error *err);

/* The cache's environment for an authority URL: its host[:port], lower
 * case ("https://login.microsoftonline.com/organizations" ->
 * "login.microsoftonline.com"). EM_EINVAL when it is not https://host...
 * or does not fit in size bytes. */
int em_cache_environment(char *out, size_t size, const char *authority, em_error *err);

/* The account id the cache files tokens under, "<object id>.<tenant id>"
 * (MSAL's home_account_id), from verified tokens. EM_EINVAL when either is
 * missing or it does not fit. */
int em_cache_home_account_id(char *out, size_t size, const em_tokens *tokens, em_error *err);

/* Prepares dir (NULL: em_cache_default_dir) and returns a handle; the file
 * is read at the first em_cache_lock. The folder is created 0700 (parents
 * too, 0700); an existing one of ours that others can enter is narrowed to
 * 0700 with a warning. Errors: EM_EACCESS (the folder is owned by someone
 * else, is shared (sticky bit, e.g. /tmp) or is not a folder: refused; the
 * caller goes on without a cache and tells the user), EM_ECONFIG (cannot
 * create it, no HOME), EM_ENOMEM. dir is copied. Caller
 * frees with em_cache_close. */
int em_cache_open(em_cache **out, const char *dir, em_error *err);

/* Frees the handle and wipes the tokens it held. The lock must not be
 * held. NULLs *cache. */
void em_cache_close(em_cache **cache);

/* Takes the lock for the calling thread: the mutex, then the file lock,
 * polling every 50 ms up to timeout_ms (0: EM_CACHE_LOCK_TIMEOUT_MS);
 * then reloads the file when it changed. Errors: EM_ETIMEOUT, EM_ECANCELLED
 * (req cancelled; req may be NULL), EM_EINVAL (this thread already holds a
 * cache lock), EM_EACCESS / EM_EINTERNAL (lock file unusable), EM_ENOMEM.
 * A file set aside is not an error: see em_cache_take_warning. */
int em_cache_lock(em_cache *cache, long timeout_ms, em_request *req, em_error *err);

/* Releases the lock taken by this thread. */
void em_cache_unlock(em_cache *cache);

/* Renewal, single flight across the user's processes without holding the
 * cache lock over the network (docs/cache.md): the renewal lock is a
 * second lock file that only renewals take, before the cache lock, and
 * hold across their round trip; the cache lock is taken for the reads and
 * the write on either side of it. em_cache_renewal_begin waits up to
 * wait_ms (0: EM_CACHE_RENEWAL_WAIT_MS) for another renewal to end:
 * EM_OK with *out held; EM_ETIMEOUT when another process held it all that
 * time (the caller may renew alone); EM_ECANCELLED; EM_EINVAL when this
 * thread holds the cache lock; EM_EACCESS / EM_EINTERNAL. */
typedef struct em_file_lock em_cache_renewal;    /* the platform's file lock (platform.h) */
int em_cache_renewal_begin(em_cache_renewal **out, em_cache *cache, long wait_ms, em_request *req,
                           em_error *err);

/* Releases the renewal lock; NULLs *renewal (NULL: nothing to do). */
void em_cache_renewal_end(em_cache_renewal **renewal);

/* Copies the oldest pending warning (a file set aside, a folder narrowed)
 * into out and forgets it; false when none is pending. Any thread, lock
 * not needed. */
bool em_cache_take_warning(em_cache *cache, char *out, size_t size);

/* Lock held. Writes the credentials of entry (Account, AccessToken,
 * RefreshToken, IdToken, AppMetadata entries, keys and fields as MSAL
 * writes them, timestamps as decimal strings, now as cached_at) and
 * replaces the file atomically. An access token replaces the account's
 * access tokens (same environment, client, realm) whose scopes overlap.
 * Entries and members it does not know are kept. Errors: EM_EINVAL (no
 * account id, environment or client id; lock not held), EM_EINTERNAL
 * (write failed: message says which step; the old file stays), EM_ENOMEM. */
int em_cache_store(em_cache *cache, const em_cache_entry *entry, time_t now, em_error *err);

/* Fills *out (borrowed pointers into tokens, valid while tokens lives) from
 * the result of a sign-in or refresh: local_account_id = object_id, realm
 * = tenant_id, username, the three tokens and the times. target is the
 * scopes asked for (borrowed), environment the authority host, client_id
 * the application. */
void em_cache_entry_from_tokens(em_cache_entry *out, const em_tokens *tokens,
                                const char *environment, const char *client_id,
                                const char *target);

/* Lock held. The access token of (home_account_id, environment, client_id,
 * realm) whose scopes include every one of scopes (space separated, any
 * case or order; openid, profile and offline_access are ignored on both
 * sides) and which expires more than EM_CACHE_EXPIRY_MARGIN seconds after
 * now. Past refresh_on it is still returned: the caller refreshes and uses
 * it if the refresh fails. Caller frees *out with em_cache_token_free.
 * EM_ENOTFOUND when none fits; EM_ENOMEM; EM_EINVAL. */
int em_cache_find_access_token(em_cache_token **out, em_cache *cache,
                               const char *home_account_id, const char *environment,
                               const char *client_id, const char *realm,
                               const char *scopes, time_t now, em_error *err);

/* Lock held. The refresh token of (home_account_id, environment,
 * client_id). Caller frees *out with em_cache_token_free. EM_ENOTFOUND,
 * EM_ENOMEM, EM_EINVAL. */
int em_cache_find_refresh_token(em_cache_token **out, em_cache *cache,
                                const char *home_account_id, const char *environment,
                                const char *client_id, em_error *err);

/* Lock held. The accounts of environment that hold a refresh token for
 * client_id (NULL: any client), with username username (any case; NULL:
 * all), in file order. Caller frees *out with em_cache_accounts_free.
 * EM_ENOTFOUND when none, EM_ENOMEM, EM_EINVAL. */
int em_cache_find_accounts(em_cache_accounts **out, em_cache *cache,
                           const char *environment, const char *client_id,
                           const char *username, em_error *err);

/* Lock held. Everything a connection needs to go on silently for account:
 * *out (caller frees with em_tokens_free) has the access token of
 * em_cache_find_access_token or NULL (then expires_at and refresh_at are
 * 0: refresh first), the refresh token or NULL, the id token or NULL,
 * scope, tenant_id = realm, username and object_id = local_account_id.
 * EM_ENOTFOUND when the cache has neither a usable access token nor a
 * refresh token. */
int em_cache_load_tokens(em_tokens **out, em_cache *cache, const em_cache_account *account,
                         const char *client_id, const char *scopes, time_t now,
                         em_error *err);

/* Lock held. Removes every credential and the Account entry of
 * (home_account_id, environment) and rewrites the file (Disconnect
 * -ForgetCache). Nothing to remove is not an error. */
int em_cache_remove_account(em_cache *cache, const char *home_account_id,
                            const char *environment, em_error *err);

/* Wipe and free; NULL the pointer. */
void em_cache_token_free(em_cache_token **token);
void em_cache_accounts_free(em_cache_accounts **accounts);

/* Checks the text of a cache file: EM_OK when it is an object whose known
 * sections are objects of objects, else EM_EPARSE (message says why, no
 * content quoted). Exposed for the fuzz target. */
int em_cache_check_text(const char *text, size_t len, em_error *err);

#endif
