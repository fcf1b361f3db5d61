/* conn_cache.h - the token cache wiring of connection.c (private to the
 * connection module): silent sign-in from the persistent cache, storing a
 * delegated sign-in's tokens, renewal single-flight across processes, and
 * forgetting an account. The cache itself is cache.h's.
 *
 * Every function reads and sets the connection's cache fields
 * (connection_internal.h): the cache handle borrowed from the table, its
 * environment, the account (home_account_id, owned by the connection and
 * freed with it). Cache problems are `warning` notifications for req or
 * stderr lines, never secrets.
 */
#ifndef EM_CONN_CACHE_H
#define EM_CONN_CACHE_H

#include <stdbool.h>
#include "connection/connection.h"
#include "util/error.h"
#include "identity/oidc.h"
#include "protocol/request.h"

/* Whether conn uses the persistent cache (delegated modes with tokenCache
 * persistent); opens the table's cache at the first need, in
 * $EXCHANGEMFA_CACHE_DIR else the default folder, so a failed sign-in
 * without a UPN never touches the cache folder. A cache that cannot be
 * used is a warning and false. During em_conn_open only. */
bool em_conn_cache_use(em_conn *conn, em_request *req);

/* Delegated modes with a UPN: signs in from the cache when it holds a valid
 * access token, or a refresh token the identity platform still accepts;
 * conn's tokens (owned by conn) are then set and the session is "Silent".
 * EM_OK with no tokens set means "not found": the mode's flow runs. Only
 * cancellation, discovery failures and EM_ENOMEM end the connect; a
 * refused refresh token is dropped from the cache. Before conn is shared. */
int em_conn_cache_sign_in(em_conn *conn, em_request *req, em_error *err);

/* Stores conn's tokens in the cache under the cache lock. A failure (a
 * full disk) only costs the next silent sign-in: a `warning` notification
 * of req, which PowerShell shows. Renewals store the same way. */
void em_conn_cache_store(em_conn *conn, em_request *req);

/* Refresh through the cache, single-flight across processes (cache.h):
 * under the cache lock, take an access token another helper stored since
 * ours (unless claims, NULL normally, ask for a new one; never stale, the
 * token the caller got 401 for), else refresh with the newest refresh
 * token and store the result. A cache lock that cannot be taken is a
 * warning and a plain refresh. *out: caller frees with em_tokens_free.
 * Under conn's renew lock, without its token lock. Errors of oidc.h,
 * EM_ECANCELLED, EM_ENOMEM. */
int em_conn_cache_renew(em_tokens **out, em_conn *conn, const char *stale, const char *claims,
                        em_request *req, em_error *err);

/* Removes conn's account from the cache (disconnect forgetCache); nothing
 * to do without a cache or an account. Errors of cache.h. */
int em_conn_cache_forget(em_conn *conn, em_request *req, em_error *err);

#endif
