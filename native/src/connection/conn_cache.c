/* conn_cache.c - a connection's use of the persistent token cache
 * (docs/cache.md): the table's one cache handle, silent sign-in, storing
 * tokens, and renewal single-flight across processes under the renewal lock.
 * Cache warnings (a corrupt file set aside, a lock that cannot be taken)
 * become `warning` notifications.
 */
#include "connection/conn_cache.h"
#include "util/buf.h"
#include "cache/cache.h"
#include "connection/conn_provider.h"
#include "connection/connection_internal.h"
#include "util/json.h"
#include "identity/oidc.h"
#include "protocol/protocol.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CACHE_DIR_VARIABLE "EXCHANGEMFA_CACHE_DIR"

/* ---- warnings and the cache lock ---- */

/* The table's cache handle, opened at first use in $EXCHANGEMFA_CACHE_DIR,
 * else the default folder. NULL (and a warning) when it cannot be used. */
static em_cache *table_cache(em_conn_table *t, em_request *req)
{
    const char *dir = getenv(CACHE_DIR_VARIABLE);
    char problem[EM_ERROR_MESSAGE_MAX + 128];
    em_error e = {0};
    em_cache *cache;

    pthread_mutex_lock(&t->providers_lock);
    if (!t->cache_tried) {
        t->cache_tried = true;
        if (em_cache_open(&t->cache, dir != NULL && dir[0] != '\0' ? dir : NULL, &e) != EM_OK)
            snprintf(t->cache_problem, sizeof(t->cache_problem), "%s", e.message);
    }
    cache = t->cache;
    snprintf(problem, sizeof(problem), "the token cache cannot be used (%s): this connection's "
             "tokens stay in memory", t->cache_problem);
    pthread_mutex_unlock(&t->providers_lock);
    if (cache == NULL)
        em_request_notify_string(req, EM_N_WARNING, EM_F_MESSAGE, problem);
    return cache;
}

/* Takes the cache lock and passes the cache's pending warnings (a corrupt
 * file set aside...) on as notifications. */
static int cache_lock(em_conn *c, em_request *req, em_error *err)
{
    char message[EM_ERROR_MESSAGE_MAX];
    int rc = em_cache_lock(c->cache, 0, req, err);

    while (em_cache_take_warning(c->cache, message, sizeof(message)))
        em_request_notify_string(req, EM_N_WARNING, EM_F_MESSAGE, message);
    return rc;
}

/* The cache lock for a step that can go on without the cache: *out is
 * true when held. A lock that cannot be taken is a warning (*out false,
 * EM_OK); only cancellation is an error. */
static int cache_lock_optional(bool *out, em_conn *c, em_request *req, em_error *err)
{
    em_error quiet = {0};
    int rc = cache_lock(c, req, &quiet);

    *out = rc == EM_OK;
    if (rc == EM_ECANCELLED)
        return em_error_set(err, rc, "%s", quiet.message);
    if (rc != EM_OK)
        em_request_notify_string(req, EM_N_WARNING, EM_F_MESSAGE, quiet.message);
    return EM_OK;
}

/* Tells the user that the tokens were not saved: this session goes on,
 * but a rotated refresh token lost costs the next silent sign-in. */
static void warn_not_stored(em_request *req, const char *why)
{
    char message[EM_ERROR_MESSAGE_MAX + 160];

    snprintf(message, sizeof(message), "the tokens could not be saved in the token cache (%s): this "
             "session goes on, but the next Connect-ExchangeMfa may have to sign in again", why);
    em_request_notify_string(req, EM_N_WARNING, EM_F_MESSAGE, message);
}

/* Stores tokens in the cache; lock held. A failure (a full disk) is a
 * warning. */
static void cache_store_locked(em_conn *c, const em_tokens *tokens, em_request *req)
{
    char home[256];
    em_cache_entry entry;
    em_error e = {0};

    if (c->home_account_id == NULL) {
        if (em_cache_home_account_id(home, sizeof(home), tokens, &e) != EM_OK)
            return;         /* no oid/tid (a provider without them): nothing to file under */
        c->home_account_id = strdup(home);
        if (c->home_account_id == NULL)
            return;
    }
    em_cache_entry_from_tokens(&entry, tokens, c->cache_env, c->settings.client_id, c->settings.scope);
    entry.home_account_id = c->home_account_id;
    if (em_cache_store(c->cache, &entry, time(NULL), &e) != EM_OK)
        warn_not_stored(req, e.message);
}

/* ---- sign-in, store, renewal ---- */

void em_conn_cache_store(em_conn *c, em_request *req)
{
    em_error e = {0};

    if (cache_lock(c, req, &e) != EM_OK) {
        warn_not_stored(req, e.message);
        return;
    }
    cache_store_locked(c, c->tokens, req);
    em_cache_unlock(c->cache);
}

bool em_conn_cache_use(em_conn *c, em_request *req)
{
    em_error quiet = {0};

    if (!c->settings.persistent)
        return false;
    if (c->cache == NULL && !c->cache_checked) {
        c->cache_checked = true;
        c->cache = table_cache(c->table, req);
        if (c->cache != NULL &&
            em_cache_environment(c->cache_env, sizeof(c->cache_env), c->settings.authority, &quiet) != EM_OK)
            c->cache = NULL;
    }
    return c->cache != NULL;
}

/* A copy of t whose access token (and, when given, refresh token) come from
 * the cache: another process renewed first. Caller frees *out. */
static int tokens_with(em_tokens **out, const em_tokens *t, const em_cache_token *at,
                       const em_cache_token *rt)
{
    em_tokens *n = calloc(1, sizeof(*n));

    *out = NULL;
    if (n == NULL || em_strdup_opt(&n->access_token, at != NULL ? at->secret : t->access_token) != EM_OK ||
        em_strdup_opt(&n->refresh_token, rt != NULL ? rt->secret : t->refresh_token) != EM_OK ||
        em_strdup_opt(&n->id_token, t->id_token) != EM_OK || em_strdup_opt(&n->scope, t->scope) != EM_OK ||
        em_strdup_opt(&n->tenant_id, t->tenant_id) != EM_OK ||
        em_strdup_opt(&n->username, t->username) != EM_OK ||
        em_strdup_opt(&n->display_name, t->display_name) != EM_OK ||
        em_strdup_opt(&n->object_id, t->object_id) != EM_OK) {
        em_tokens_free(&n);
        return EM_ENOMEM;
    }
    n->expires_at = at != NULL ? at->expires_on : t->expires_at;
    n->refresh_at = at != NULL ? (at->refresh_on > 0 ? at->refresh_on : at->expires_on) : t->refresh_at;
    *out = n;
    return EM_OK;
}

/* A token another process stored since base's (and stale, the one just
 * refused; NULL: none), not yet due for renewal: *out is base with it.
 * Lock held. False when there is none. */
static bool take_renewed(em_tokens **out, em_conn *c, const em_tokens *base, const char *stale,
                         int *rc, em_error *err)
{
    em_cache_token *at = NULL, *rt = NULL;
    em_error quiet = {0};
    bool found = false;
    time_t now = time(NULL);

    if (base->tenant_id != NULL &&
        em_cache_find_access_token(&at, c->cache, c->home_account_id, c->cache_env, c->settings.client_id,
                                   base->tenant_id, c->settings.scope, now, &quiet) == EM_OK &&
        (base->access_token == NULL || strcmp(at->secret, base->access_token) != 0) &&
        (stale == NULL || strcmp(at->secret, stale) != 0) && at->refresh_on > now) {
        em_cache_find_refresh_token(&rt, c->cache, c->home_account_id, c->cache_env,
                                    c->settings.client_id, &quiet);
        found = true;
        *rc = tokens_with(out, base, at, rt);
        if (*rc != EM_OK)
            em_error_set(err, *rc, "out of memory");
    }
    em_cache_token_free(&at);
    em_cache_token_free(&rt);
    return found;
}

/* Renews base (the connection's tokens, or the cached ones at a silent
 * sign-in) single flight across the user's processes, without holding the
 * cache lock over the network: under the renewal lock, a token another
 * process stored meanwhile is taken instead of a refresh (never for a
 * claims challenge); else the newest cached refresh token is spent and the
 * answer stored. Waiting for another process's renewal is bounded
 * (EM_CACHE_RENEWAL_WAIT_MS); past that this one renews alone, which costs
 * a second refresh, not an error. Lock order: renewal, then cache. */
static int renew_shared(em_tokens **out, em_conn *c, const em_tokens *base, const char *stale,
                        const char *claims, em_request *req, em_error *err)
{
    em_oidc_client client = em_conn_client(c);
    em_cache_renewal *renewal = NULL;
    em_cache_token *rt = NULL;
    em_tokens *newest = NULL;
    em_error quiet = {0};
    bool locked = false;
    int rc;

    *out = NULL;
    rc = em_cache_renewal_begin(&renewal, c->cache, 0, req, &quiet);
    if (rc == EM_ECANCELLED)
        return em_error_set(err, rc, "%s", quiet.message);
    if (rc != EM_OK)
        fprintf(stderr, "exchangemfa-helper: %s; renewing without waiting longer\n", quiet.message);
    rc = cache_lock_optional(&locked, c, req, err);
    if (rc != EM_OK)
        goto end;
    if (locked) {
        if (claims == NULL && take_renewed(out, c, base, stale, &rc, err)) {
            em_cache_unlock(c->cache);
            goto end;
        }
        /* The newest refresh token: another helper may have rotated ours. */
        if (em_cache_find_refresh_token(&rt, c->cache, c->home_account_id, c->cache_env,
                                        c->settings.client_id, &quiet) == EM_OK &&
            (base->refresh_token == NULL || strcmp(rt->secret, base->refresh_token) != 0) &&
            tokens_with(&newest, base, NULL, rt) != EM_OK) {
            em_cache_unlock(c->cache);
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
            goto end;
        }
        em_cache_unlock(c->cache);
    }
    rc = em_conn_need_provider(c, req, err);
    if (rc == EM_OK)
        rc = em_oidc_refresh_claims(out, c->provider, &client, newest != NULL ? newest : base, claims, req,
                                    err);
    if (locked && (rc == EM_OK || rc == EM_EGRANT)) {
        if (cache_lock(c, req, &quiet) != EM_OK) {
            if (rc == EM_OK)
                warn_not_stored(req, quiet.message);
        } else {
            if (rc == EM_OK)
                cache_store_locked(c, *out, req);
            else    /* the refresh token is dead: the next helper must not try it again */
                em_cache_remove_account(c->cache, c->home_account_id, c->cache_env, &quiet);
            em_cache_unlock(c->cache);
        }
    }
end:
    em_cache_renewal_end(&renewal);
    em_cache_token_free(&rt);
    em_tokens_free(&newest);
    return rc;
}

/* Whether a cached account (its realm: a tenant id) belongs to the
 * organization asked for: the same id, or the tenant the organization's
 * discovery document names in its issuer (".../<tenant id>/v2.0"). */
static bool same_tenant(const char *realm, const char *organization, const char *issuer)
{
    char segment[160];

    if (realm == NULL || *realm == '\0')
        return false;
    if (strcasecmp(realm, organization) == 0)
        return true;
    snprintf(segment, sizeof(segment), "/%s/", realm);
    return issuer != NULL && strstr(issuer, segment) != NULL;   /* tenant ids: lower case */
}

int em_conn_cache_sign_in(em_conn *c, em_request *req, em_error *err)
{
    em_cache_accounts *accounts = NULL;
    em_tokens *cached = NULL, *fresh = NULL;
    em_error quiet = {0};
    bool locked = false;
    size_t i = 0;
    int rc;

    /* With -Organization, a cached account serves only that tenant: its
     * discovery says which tenant id it is (and a typo fails here). */
    if (c->organization != NULL) {
        rc = em_conn_need_provider(c, req, err);
        if (rc != EM_OK)
            return rc;
    }
    rc = cache_lock_optional(&locked, c, req, err);
    if (rc != EM_OK || !locked)
        return rc;
    if (em_cache_find_accounts(&accounts, c->cache, c->cache_env, c->settings.client_id,
                               c->requested_upn, &quiet) != EM_OK)
        goto unlock;
    while (c->organization != NULL && i < accounts->count &&
           !same_tenant(accounts->items[i].realm, c->organization, em_oidc_issuer(c->provider)))
        i++;
    if (i == accounts->count) {
        fprintf(stderr, "exchangemfa-helper: the cached account belongs to another tenant than "
                "-Organization; signing in\n");
        goto unlock;
    }
    if (em_cache_load_tokens(&cached, c->cache, &accounts->items[i], c->settings.client_id,
                             c->settings.scope, time(NULL), &quiet) != EM_OK)
        goto unlock;
    c->home_account_id = strdup(accounts->items[i].home_account_id);
    if (c->home_account_id == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto unlock;
    }
    if (cached->access_token != NULL) {
        c->tokens = cached;
        cached = NULL;
        c->silent = true;
        goto unlock;
    }
    /* The access token is due: renewed without the cache lock held. */
    em_cache_unlock(c->cache);
    rc = renew_shared(&fresh, c, cached, NULL, NULL, req, &quiet);
    if (rc == EM_OK) {
        c->tokens = fresh;
        fresh = NULL;
        c->silent = true;
    } else if (rc == EM_ECANCELLED) {
        em_error_set(err, rc, "%s", quiet.message);
    } else {
        fprintf(stderr, "exchangemfa-helper: the cached refresh token did not work (%s); "
                "signing in again\n", em_code_name(rc));
        rc = EM_OK;
    }
unlock:
    em_cache_unlock(c->cache);
    em_cache_accounts_free(&accounts);
    em_tokens_free(&cached);
    return rc;
}

int em_conn_cache_renew(em_tokens **out, em_conn *c, const char *stale, const char *claims,
                        em_request *req, em_error *err)
{
    return renew_shared(out, c, c->tokens, stale, claims, req, err);
}

int em_conn_cache_forget(em_conn *c, em_request *req, em_error *err)
{
    int rc;

    if (c->cache == NULL || c->home_account_id == NULL)
        return EM_OK;
    rc = cache_lock(c, req, err);
    if (rc != EM_OK)
        return rc;
    rc = em_cache_remove_account(c->cache, c->home_account_id, c->cache_env, err);
    em_cache_unlock(c->cache);
    return rc;
}
