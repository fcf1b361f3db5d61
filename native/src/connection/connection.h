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
#include "util/error.h"
#include "protocol/request.h"

#define EM_DEFAULT_CLIENT_ID "fb78d390-0c51-40cd-8e17-fdbfab77341b"
#define EM_DEFAULT_ENVIRONMENT "O365Default"
#define EM_DEFAULT_TENANT "organizations"
#define EM_SCOPE_SUFFIX "/.default openid profile offline_access"
#define EM_APP_SCOPE_SUFFIX "/.default"
#define EM_APP_ANCHOR "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"

typedef struct em_conn em_conn;
typedef struct em_conn_table em_conn_table;

/* The sign-in modes of docs/protocol.md. */
typedef enum em_conn_mode {
    EM_CONN_DEVICE = 0,
    EM_CONN_INTERACTIVE,
    EM_CONN_CERTIFICATE,
    EM_CONN_MANAGED_IDENTITY,
    EM_CONN_FEDERATED,
    EM_CONN_ACCESS_TOKEN,
    EM_CONN_PASSWORD
} em_conn_mode;

/* What `connect` asked for; every string borrowed, NULL when absent.
 * Secrets (marked) are only read during em_conn_open; the caller wipes
 * them afterwards. */
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
    const char *product;            /* "exchange" (NULL) or "compliance" */
    long page_size;                 /* 0 = EM_PAGESIZE_MAX */
    long throttle_limit;            /* 0 = EM_EXO_WINDOW_DEFAULT */
    const char *token_cache;        /* "persistent" (NULL) or "memory" */
    /* interactive */
    bool no_browser;
    const char *prompt;
    long timeout_seconds;           /* 0 = 120 */
    const char *redirect_uri;       /* loopback template (loopback.h), or NULL */
    /* certificate */
    const char *cert_file;
    const char *cert_key_file;
    const char *cert_data;          /* secret: base64 PFX */
    const char *cert_thumbprint;
    const char *cert_password;      /* secret */
    const char *assertion_alg;      /* "PS256" (NULL) or "RS256" */
    /* managedIdentity */
    const char *mi_account_id;
    /* accessToken, password */
    const char *access_token;       /* secret */
    const char *password;           /* secret */
} em_conn_settings;

/* Settings with the defaults applied and checked; caller frees with
 * em_conn_resolved_free. */
typedef struct em_conn_resolved {
    em_conn_mode mode;
    char *environment;
    bool compliance;                /* Security & Compliance, not Exchange Online */
    char *authority;                /* https://host/tenant, no trailing slash */
    char *connection_uri;           /* https://host[:port], the origin only */
    char *resource;
    char *scope;                    /* delegated: resource + EM_SCOPE_SUFFIX; app-only: resource/.default */
    char *client_id;
    char *delegated_organization;   /* or NULL */
    long page_size;
    long throttle_limit;            /* the ceiling of the connection's window */
    bool persistent;                /* delegated modes with tokenCache persistent */
    char *prompt;                   /* or NULL */
    bool no_browser;
    long timeout_ms;
    char *redirect_uri;             /* or NULL: http://localhost */
    int assertion_alg;              /* em_jwt_alg */
} em_conn_resolved;

/* True for the modes that sign an application in, not a user. */
bool em_conn_mode_app_only(em_conn_mode mode);

/* Applies defaults and checks settings, per mode (required fields, exactly
 * one certificate source...). EM_EINVAL (message names the field,
 * err->target too; never quotes a secret) or EM_ENOMEM. */
int em_conn_resolve(em_conn_resolved *out, const em_conn_settings *settings, em_error *err);
void em_conn_resolved_free(em_conn_resolved *resolved);

int em_conn_table_new(em_conn_table **out);
/* Closes every connection (tokens wiped), frees providers and the table. */
void em_conn_table_free(em_conn_table **table);
/* Closes every connection (shutdown): tokens wiped, table empty. */
void em_conn_table_clear(em_conn_table *table);

/* Signs in with the mode's flow and adds the connection. Delegated modes
 * with a UPN and the persistent cache first try the token cache (docs/cache.md;
 * EXCHANGEMFA_CACHE_DIR overrides its folder): a valid access token, else
 * the refresh token; the session is then "Silent". Tokens of delegated
 * sign-ins are stored in the cache. A corrupt cache is set aside with a
 * `warning` notification. On success *out is a reference for the caller
 * (em_conn_release). Errors of oidc.h, cert.h, mi.h, jwt.h, EM_EINVAL. */
int em_conn_open(em_conn **out, em_conn_table *table, const em_conn_settings *settings,
                 em_request *req, em_error *err);

/* A reference to connection id; EM_ENOCONN (err->target = id). */
int em_conn_find(em_conn **out, em_conn_table *table, const char *id, em_error *err);

/* Removes connection id from the table and wipes its tokens; *out is a
 * reference to the closed connection (for its session object). EM_ENOCONN. */
int em_conn_close(em_conn **out, em_conn_table *table, const char *id, em_error *err);

/* Removes the connection's account from the persistent token cache
 * (disconnect forgetCache). Nothing to do for memory-only and app-only
 * connections. Errors of cache.h. */
int em_conn_forget_cache(em_conn *conn, em_request *req, em_error *err);

/* Drops a reference; the last one frees (after wiping). NULLs *conn. */
void em_conn_release(em_conn **conn);

/* A copy of a valid access token (caller frees with em_free_secret).
 * Renews first when past refresh_at, or when stale is the token the caller
 * already used and got 401 for (renews at most once for all callers that
 * hit it), or when claims (a claims challenge's request, NULL normally) is
 * given, which the refresh passes on. Delegated modes refresh (with the
 * persistent cache: under the cache lock, taking a token another process
 * renewed meanwhile); app-only modes sign in again; -AccessToken cannot
 * renew (EM_ETOKEN). Errors: EM_ENOCONN (closed), EM_EGRANT, EM_ETOKEN,
 * oidc.h errors. */
int em_conn_bearer(char **out, em_conn *conn, const char *stale, const char *claims,
                   em_request *req, em_error *err);

/* Borrowed, valid while the caller holds its reference. */
const char *em_conn_id(const em_conn *conn);
const char *em_conn_uri(const em_conn *conn);
long em_conn_page_size(const em_conn *conn);
/* The window of the connection's Exchange requests (exchange/window.h). */
struct em_exo_window *em_conn_window(const em_conn *conn);
/* The URL's tenant segment (delegated organization, else organization,
 * else the token's tenant id) and
 * the user for X-AnchorMailbox (or NULL), copied into caller buffers. */
void em_conn_tenant(char *out, size_t size, em_conn *conn);
void em_conn_user(char *out, size_t size, em_conn *conn);
/* The X-AnchorMailbox value: "UPN:<user>" (delegated; "" when no user is
 * known) or "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@<tenant>"
 * (app-only), copied into a caller buffer. */
void em_conn_anchor(char *out, size_t size, em_conn *conn);

/* Generates the session object (docs/protocol.md) into g. */
int em_conn_gen_session(yajl_gen g, em_conn *conn);
/* Generates {"connections":[...]} in the order opened. */
int em_conn_gen_list(yajl_gen g, em_conn_table *table);

#endif
