/* conn_provider.c - the identity providers (discovery + JWKS) a table
 * caches per authority, and the public client of a connection. Both
 * connection.c and conn_cache.c need them; living here, neither half of
 * the connection module calls into the other's file both ways.
 */
#include "connection/conn_provider.h"
#include "connection/connection_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct provider_entry {
    char *authority;
    em_oidc_provider *provider;
    struct provider_entry *next;
};

/* The cached provider of authority, discovered on first use. Providers live
 * as long as the table, so connections borrow them. */
static int provider_get(em_oidc_provider **out, em_conn_table *t, const char *authority,
                        em_request *req, em_error *err)
{
    struct provider_entry *p;
    em_oidc_provider *fresh = NULL;
    int rc;

    *out = NULL;
    pthread_mutex_lock(&t->providers_lock);
    for (p = t->providers; p != NULL; p = p->next) {
        if (strcmp(p->authority, authority) == 0)
            *out = p->provider;
    }
    pthread_mutex_unlock(&t->providers_lock);
    if (*out != NULL)
        return EM_OK;
    /* Discover without the lock (network); a concurrent twin loses below. */
    rc = em_oidc_discover(&fresh, authority, req, err);
    if (rc != EM_OK)
        return rc;
    pthread_mutex_lock(&t->providers_lock);
    for (p = t->providers; p != NULL; p = p->next) {
        if (strcmp(p->authority, authority) == 0)
            *out = p->provider;
    }
    if (*out == NULL) {
        p = calloc(1, sizeof(*p));
        if (p != NULL)
            p->authority = strdup(authority);
        if (p == NULL || p->authority == NULL) {
            free(p);
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
        } else {
            p->provider = fresh;
            fresh = NULL;
            p->next = t->providers;
            t->providers = p;
            *out = p->provider;
        }
    }
    pthread_mutex_unlock(&t->providers_lock);
    em_oidc_provider_free(&fresh);
    return rc;
}

int em_conn_need_provider(em_conn *c, em_request *req, em_error *err)
{
    if (c->provider != NULL)
        return EM_OK;
    return provider_get(&c->provider, c->table, c->settings.authority, req, err);
}

em_oidc_client em_conn_client(const em_conn *c)
{
    em_oidc_client client = {
        .client_id = c->settings.client_id,
        .scope = c->settings.scope,
        .login_hint = c->requested_upn,
    };

    return client;
}

void em_conn_providers_free(em_conn_table *t)
{
    struct provider_entry *p, *next;

    for (p = t->providers; p != NULL; p = next) {
        next = p->next;
        em_oidc_provider_free(&p->provider);
        free(p->authority);
        free(p);
    }
    t->providers = NULL;
}
