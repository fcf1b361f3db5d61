/* connection.h - the table of open connections: settings, tokens, silent
 * renewal.
 *
 * Clouds are data (the environments table in connection.c). A connection
 * is reference-counted: the table holds one reference, every user (an
 * invoke on a worker) takes its own with em_conn_find and drops it with
 * em_conn_release, so disconnect never frees a connection under a running
 * invoke. Locks: the table lock guards the list; each connection's lock
 * guards its tokens; its renew lock makes renewal single-flight.
 */
#ifndef EM_CONNECTION_H
#define EM_CONNECTION_H

#include <stdbool.h>
#include <yajl/yajl_gen.h>
#include "error.h"
#include "request.h"

#define EM_DEFAULT_CLIENT_ID "fb78d390-0c51-40cd-8e17-fdbfab77341b"
#define EM_DEFAULT_ENVIRONMENT "O365Default"
#define EM_DEFAULT_TENANT "organizations"
#define EM_SCOPE_SUFFIX "/.default openid profile offline_access"

typedef struct em_conn em_conn;
typedef struct em_conn_table em_conn_table;

/* What `connect` asked for; every string borrowed, NULL when absent. */
typedef struct em_conn_settings {
    const char *mode;
    const char *upn;
    const char *app_id;
    const char *organization;
    const char *delegated_organization;  /* partner: the customer tenant in Exchange URLs */
    const char *environment;
    const char *authority;
    const char *connection_uri;
    const char *resource;
    long page_size;                 /* 0 = EM_PAGESIZE_MAX */
} em_conn_settings;

/* Settings with the defaults applied and checked; caller frees with
 * em_conn_resolved_free. */
typedef struct em_conn_resolved {
    char *environment;
    char *authority;                /* https://host/tenant, no trailing slash */
    char *connection_uri;           /* https://host[:port], the origin only */
    char *resource;
    char *scope;                    /* resource + EM_SCOPE_SUFFIX */
    char *client_id;
    char *delegated_organization;   /* or NULL */
    long page_size;
} em_conn_resolved;

/* Applies defaults and checks settings. EM_EINVAL (message names the
 * field, err->target too) or EM_ENOMEM. */
int em_conn_resolve(em_conn_resolved *out, const em_conn_settings *settings, em_error *err);
void em_conn_resolved_free(em_conn_resolved *resolved);

int em_conn_table_new(em_conn_table **out);
/* Closes every connection (tokens wiped), frees providers and the table. */
void em_conn_table_free(em_conn_table **table);
/* Closes every connection (shutdown): tokens wiped, table empty. */
void em_conn_table_clear(em_conn_table *table);

/* Signs in (device code flow) and adds the connection. On success *out is
 * a reference for the caller (em_conn_release). Errors of oidc.h, EM_EINVAL. */
int em_conn_open(em_conn **out, em_conn_table *table, const em_conn_settings *settings,
                 em_request *req, em_error *err);

/* A reference to connection id; EM_ENOCONN (err->target = id). */
int em_conn_find(em_conn **out, em_conn_table *table, const char *id, em_error *err);

/* Removes connection id from the table and wipes its tokens; *out is a
 * reference to the closed connection (for its session object). EM_ENOCONN. */
int em_conn_close(em_conn **out, em_conn_table *table, const char *id, em_error *err);

/* Drops a reference; the last one frees (after wiping). NULLs *conn. */
void em_conn_release(em_conn **conn);

/* A copy of a valid access token (caller frees with em_free_secret).
 * Renews first when past refresh_at, or when stale is the token the caller
 * already used and got 401 for (renews at most once for all callers that
 * hit it). claims (NULL normally) is a claims challenge's request that the
 * renewal passes on. Errors: EM_ENOCONN (closed), EM_EGRANT, oidc.h errors. */
int em_conn_bearer(char **out, em_conn *conn, const char *stale, const char *claims,
                   em_request *req, em_error *err);

/* Borrowed, valid while the caller holds its reference. */
const char *em_conn_id(const em_conn *conn);
const char *em_conn_uri(const em_conn *conn);
long em_conn_page_size(const em_conn *conn);
/* The URL's tenant segment (delegated organization, else organization,
 * else the token's tenant id) and
 * the user for X-AnchorMailbox (or NULL), copied into caller buffers. */
void em_conn_tenant(char *out, size_t size, em_conn *conn);
void em_conn_user(char *out, size_t size, em_conn *conn);

/* Generates the session object (docs/protocol.md) into g. */
int em_conn_gen_session(yajl_gen g, em_conn *conn);
/* Generates {"connections":[...]} in the order opened. */
int em_conn_gen_list(yajl_gen g, em_conn_table *table);

#endif
