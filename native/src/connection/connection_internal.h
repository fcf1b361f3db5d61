/* connection_internal.h - the connection's insides, shared by the files
 * of the connection module only: connection.c (table, lifecycle,
 * renewal), conn_provider.c (providers) and conn_cache.c (the token cache
 * wiring), which reads and sets
 * a connection's tokens and cache fields under the same locks. Nothing
 * else includes this header; everyone else uses connection.h.
 */
#ifndef EM_CONNECTION_INTERNAL_H
#define EM_CONNECTION_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include "cache/cache.h"
#include "connection/connection.h"
#include "util/error.h"
#include "util/guid.h"
#include "identity/oidc.h"
#include "connection/signin.h"

struct provider_entry;              /* connection.c's discovered providers */

struct em_conn {
    atomic_int refs;
    char id[EM_GUID_LEN + 1];
    em_conn_resolved settings;
    char *organization;             /* asked for, or NULL */
    char *requested_upn;            /* login hint, or NULL */
    em_conn_table *table;           /* borrowed: outlives its connections */
    em_oidc_provider *provider;     /* borrowed from the table's cache; NULL until needed */
    em_signin *signin;              /* the mode's state (certificate...) */
    em_cache *cache;                /* borrowed from the table; NULL: memory only */
    bool cache_checked;             /* em_conn_cache_use looked (open only) */
    char cache_env[256];            /* the cache's environment (authority host) */
    char *home_account_id;          /* the cache's account, or NULL */
    bool silent;                    /* served from the cache without a prompt */
    bool app_only;                  /* an application, not a user: the APP anchor */
    pthread_mutex_t lock;           /* tokens, identity, closed */
    pthread_mutex_t renew_lock;     /* one renewal at a time; guards provider too */
    em_tokens *tokens;
    struct em_exo_window *window;   /* its Exchange requests in flight */
    char *upn;                      /* from the verified id_token */
    char *tenant_id;
    time_t expires_at;
    bool closed;
    bool revoked;                   /* a renewal was refused (invalid_grant): sign in again */
    struct em_conn *next;           /* table order: the order opened */
};

struct em_conn_table {
    pthread_mutex_t lock;
    em_conn *head;
    pthread_mutex_t providers_lock; /* providers and the cache handle */
    struct provider_entry *providers;
    em_cache *cache;                /* opened at the first persistent connect */
    bool cache_tried;
    char cache_problem[EM_ERROR_MESSAGE_MAX];
};

#endif
