/* connection.c - connections, the clouds table, single-flight renewal. */
#include "connection.h"
#include "buf.h"
#include "guid.h"
#include "json.h"
#include "oidc.h"
#include "protocol.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The clouds (reference/exchange-online.md section 2). The DoD and China
 * Exchange hosts are unconfirmed; connectionUri/resource override them. */
typedef struct em_environment {
    const char *name;
    const char *authority_host;
    const char *exchange_uri;
    const char *resource;
} em_environment;

static const em_environment environments[] = {
    {"O365Default", "login.microsoftonline.com", "https://outlook.office365.com",
     "https://outlook.office365.com"},
    {"O365USGovGCCHigh", "login.microsoftonline.us", "https://outlook.office365.us",
     "https://outlook.office365.us"},
    {"O365USGovDoD", "login.microsoftonline.us", "https://webmail.apps.mil",
     "https://webmail.apps.mil"},
    {"O365China", "login.partner.microsoftonline.cn", "https://partner.outlook.cn",
     "https://partner.outlook.cn"},
};

typedef struct provider_entry {
    char *authority;
    em_oidc_provider *provider;
    struct provider_entry *next;
} provider_entry;

struct em_conn {
    atomic_int refs;
    char id[EM_GUID_LEN + 1];
    em_conn_resolved settings;
    char *organization;             /* asked for, or NULL */
    char *requested_upn;            /* login hint, or NULL */
    em_oidc_provider *provider;     /* borrowed from the table's cache */
    pthread_mutex_t lock;           /* tokens, identity, closed */
    pthread_mutex_t renew_lock;     /* one renewal at a time */
    em_tokens *tokens;
    char *upn;                      /* from the verified id_token */
    char *tenant_id;
    time_t expires_at;
    bool closed;
    struct em_conn *next;           /* table order: the order opened */
};

struct em_conn_table {
    pthread_mutex_t lock;
    em_conn *head;
    pthread_mutex_t providers_lock;
    provider_entry *providers;
};

/* ---- settings ---- */

static bool is_https_url(const char *s)
{
    return strncasecmp(s, "https://", 8) == 0 && s[8] != '\0' && s[8] != '/';
}

/* Characters that may appear in a URL path segment or header value we build. */
static bool is_token(const char *s, const char *extra)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
            return false;
    }
    return true;
}

/* The origin (scheme://host[:port]) of url. */
static char *origin_of(const char *url)
{
    const char *host = strstr(url, "://");
    size_t len;

    host = host ? host + 3 : url;
    len = (size_t)(host - url) + strcspn(host, "/?#");
    return strndup(url, len);
}

static char *without_trailing_slash(const char *s)
{
    size_t len = strlen(s);

    while (len > 0 && s[len - 1] == '/')
        len--;
    return strndup(s, len);
}

/* An authority override that ends in a multi-tenant segment (organizations,
 * common) takes the asked-for tenant instead, as the default authority
 * does; any other override is used as given. Caller frees. */
static char *with_tenant(const char *authority, const char *tenant)
{
    static const char *const multi[] = {"/organizations", "/common"};
    char *base = without_trailing_slash(authority);
    em_buf buf = EM_BUF_INIT;
    size_t i, len, tail;

    if (base == NULL)
        return NULL;
    len = strlen(base);
    for (i = 0; i < sizeof(multi) / sizeof(multi[0]); i++) {
        tail = strlen(multi[i]);
        if (len > tail && strcasecmp(base + len - tail, multi[i]) == 0) {
            base[len - tail] = '\0';
            if (em_buf_printf(&buf, "%s/%s", base, tenant) != EM_OK) {
                free(base);
                return NULL;
            }
            free(base);
            return em_buf_detach(&buf);
        }
    }
    return base;
}

static int invalid(em_error *err, const char *field, const char *why)
{
    em_error_set(err, EM_EINVAL, "%s %s", field, why);
    if (err != NULL)
        snprintf(err->target, sizeof(err->target), "%s", field);
    return EM_EINVAL;
}

int em_conn_resolve(em_conn_resolved *out, const em_conn_settings *s, em_error *err)
{
    const em_environment *env = NULL;
    const char *name = s->environment ? s->environment : EM_DEFAULT_ENVIRONMENT;
    em_buf buf = EM_BUF_INIT;
    size_t i;
    int rc = EM_OK;

    memset(out, 0, sizeof(*out));
    if (s->mode == NULL)
        return invalid(err, EM_F_MODE, "is required");
    if (strcmp(s->mode, EM_MODE_DEVICE) != 0)
        return invalid(err, EM_F_MODE, "must be \"device\" (the only sign-in mode of protocol version 1)");
    for (i = 0; i < sizeof(environments) / sizeof(environments[0]); i++) {
        if (strcasecmp(environments[i].name, name) == 0)
            env = &environments[i];
    }
    if (env == NULL)
        return invalid(err, EM_F_ENVIRONMENT,
                       "must be O365Default, O365USGovGCCHigh, O365USGovDoD or O365China");
    if (s->organization != NULL && !is_token(s->organization, ".-"))
        return invalid(err, EM_F_ORGANIZATION, "must be a tenant domain or id");
    if (s->delegated_organization != NULL && !is_token(s->delegated_organization, ".-"))
        return invalid(err, EM_F_DELEGATEDORG, "must be a tenant domain or id");
    if (s->app_id != NULL && !is_token(s->app_id, "-"))
        return invalid(err, EM_F_APPID, "must be an application id");
    if (s->upn != NULL && !is_token(s->upn, "@.-_+'"))
        return invalid(err, EM_F_UPN, "must be a user principal name");
    if (s->authority != NULL && !is_https_url(s->authority))
        return invalid(err, EM_F_AUTHORITY, "must be an https:// URL");
    if (s->connection_uri != NULL && !is_https_url(s->connection_uri))
        return invalid(err, EM_F_CONNECTIONURI, "must be an https:// URL");
    if (s->resource != NULL && s->resource[0] == '\0')
        return invalid(err, EM_F_RESOURCE, "must not be empty");
    if (s->page_size < 0 || s->page_size > EM_PAGESIZE_MAX)
        return invalid(err, EM_F_PAGESIZE, "must be 1..1000");

    out->environment = strdup(env->name);
    if (s->authority != NULL && s->organization != NULL)
        out->authority = with_tenant(s->authority, s->organization);
    else if (s->authority != NULL)
        out->authority = without_trailing_slash(s->authority);
    else if (em_buf_printf(&buf, "https://%s/%s", env->authority_host,
                           s->organization ? s->organization : EM_DEFAULT_TENANT) == EM_OK)
        out->authority = em_buf_detach(&buf);
    out->connection_uri = origin_of(s->connection_uri ? s->connection_uri : env->exchange_uri);
    out->resource = without_trailing_slash(s->resource ? s->resource : env->resource);
    out->client_id = strdup(s->app_id ? s->app_id : EM_DEFAULT_CLIENT_ID);
    if (out->resource != NULL &&
        em_buf_printf(&buf, "%s%s", out->resource, EM_SCOPE_SUFFIX) == EM_OK)
        out->scope = em_buf_detach(&buf);
    out->page_size = s->page_size > 0 ? s->page_size : EM_PAGESIZE_MAX;
    if (s->delegated_organization != NULL &&
        (out->delegated_organization = strdup(s->delegated_organization)) == NULL)
        rc = EM_ENOMEM;
    if (rc != EM_OK || out->environment == NULL || out->authority == NULL || out->connection_uri == NULL ||
        out->resource == NULL || out->client_id == NULL || out->scope == NULL) {
        em_conn_resolved_free(out);
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
    }
    em_buf_free(&buf);
    return rc;
}

void em_conn_resolved_free(em_conn_resolved *r)
{
    free(r->environment);
    free(r->authority);
    free(r->connection_uri);
    free(r->resource);
    free(r->scope);
    free(r->client_id);
    free(r->delegated_organization);
    memset(r, 0, sizeof(*r));
}

/* ---- table ---- */

int em_conn_table_new(em_conn_table **out)
{
    em_conn_table *t = calloc(1, sizeof(*t));

    *out = NULL;
    if (t == NULL)
        return EM_ENOMEM;
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->providers_lock, NULL);
    *out = t;
    return EM_OK;
}

static void conn_free(em_conn *c)
{
    em_tokens_free(&c->tokens);
    em_conn_resolved_free(&c->settings);
    free(c->organization);
    free(c->requested_upn);
    free(c->upn);
    free(c->tenant_id);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->renew_lock);
    free(c);
}

/* Wipes the tokens; waits for a renewal in flight so it cannot resurrect them. */
static void conn_wipe(em_conn *c)
{
    pthread_mutex_lock(&c->renew_lock);
    pthread_mutex_lock(&c->lock);
    c->closed = true;
    em_tokens_free(&c->tokens);
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->renew_lock);
}

void em_conn_table_clear(em_conn_table *t)
{
    em_conn *c, *next;

    pthread_mutex_lock(&t->lock);
    c = t->head;
    t->head = NULL;
    pthread_mutex_unlock(&t->lock);
    for (; c != NULL; c = next) {
        next = c->next;
        conn_wipe(c);
        em_conn_release(&c);
    }
}

void em_conn_table_free(em_conn_table **tp)
{
    em_conn_table *t;
    provider_entry *p, *next;

    if (tp == NULL || *tp == NULL)
        return;
    t = *tp;
    em_conn_table_clear(t);
    for (p = t->providers; p != NULL; p = next) {
        next = p->next;
        em_oidc_provider_free(&p->provider);
        free(p->authority);
        free(p);
    }
    pthread_mutex_destroy(&t->providers_lock);
    pthread_mutex_destroy(&t->lock);
    free(t);
    *tp = NULL;
}

void em_conn_release(em_conn **conn)
{
    if (conn == NULL || *conn == NULL)
        return;
    if (atomic_fetch_sub(&(*conn)->refs, 1) == 1)
        conn_free(*conn);
    *conn = NULL;
}

/* The cached provider of authority, discovered on first use. Providers live
 * as long as the table, so connections borrow them. */
static int provider_get(em_oidc_provider **out, em_conn_table *t, const char *authority,
                        em_request *req, em_error *err)
{
    provider_entry *p;
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

/* Copies the identity of the current tokens (under c->lock). */
static int take_identity(em_conn *c)
{
    char *upn = NULL, *tid = NULL;

    if (c->tokens->username != NULL)
        upn = strdup(c->tokens->username);
    else if (c->requested_upn != NULL)
        upn = strdup(c->requested_upn);
    if (c->tokens->tenant_id != NULL)
        tid = strdup(c->tokens->tenant_id);
    if ((upn == NULL && (c->tokens->username || c->requested_upn)) ||
        (tid == NULL && c->tokens->tenant_id)) {
        free(upn);
        free(tid);
        return EM_ENOMEM;
    }
    free(c->upn);
    free(c->tenant_id);
    c->upn = upn;
    c->tenant_id = tid;
    c->expires_at = c->tokens->expires_at;
    return EM_OK;
}

static em_oidc_client client_of(const em_conn *c)
{
    em_oidc_client client = {
        .client_id = c->settings.client_id,
        .scope = c->settings.scope,
        .login_hint = c->requested_upn,
    };

    return client;
}

int em_conn_open(em_conn **out, em_conn_table *t, const em_conn_settings *s,
                 em_request *req, em_error *err)
{
    em_conn *c = NULL, **tail;
    em_oidc_client client;
    int rc;

    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->renew_lock, NULL);
    rc = em_conn_resolve(&c->settings, s, err);
    if (rc != EM_OK)
        goto free_conn;
    if (s->organization != NULL)
        c->organization = strdup(s->organization);
    if (s->upn != NULL)
        c->requested_upn = strdup(s->upn);
    if ((s->organization != NULL && c->organization == NULL) ||
        (s->upn != NULL && c->requested_upn == NULL)) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto free_conn;
    }
    rc = em_guid_new(c->id);
    if (rc != EM_OK) {
        em_error_set(err, rc, "the random generator failed");
        goto free_conn;
    }
    rc = provider_get(&c->provider, t, c->settings.authority, req, err);
    if (rc != EM_OK)
        goto free_conn;
    client = client_of(c);
    rc = em_oidc_device_flow(&c->tokens, c->provider, &client, req, err);
    if (rc != EM_OK)
        goto free_conn;
    if (take_identity(c) != EM_OK) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto free_conn;
    }
    atomic_fetch_add(&c->refs, 1);     /* the table's reference */
    pthread_mutex_lock(&t->lock);
    for (tail = &t->head; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = c;
    pthread_mutex_unlock(&t->lock);
    *out = c;
    return EM_OK;
free_conn:
    conn_free(c);
    return rc;
}

static int not_found(em_error *err, const char *id)
{
    em_error_set(err, EM_ENOCONN, "no connection with this id: use Connect-ExchangeMfa");
    if (err != NULL)
        snprintf(err->target, sizeof(err->target), "%s", id);
    return EM_ENOCONN;
}

int em_conn_find(em_conn **out, em_conn_table *t, const char *id, em_error *err)
{
    em_conn *c;

    *out = NULL;
    pthread_mutex_lock(&t->lock);
    for (c = t->head; c != NULL; c = c->next) {
        if (strcasecmp(c->id, id) == 0) {
            atomic_fetch_add(&c->refs, 1);
            *out = c;
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return *out != NULL ? EM_OK : not_found(err, id);
}

int em_conn_close(em_conn **out, em_conn_table *t, const char *id, em_error *err)
{
    em_conn **link, *c = NULL;

    *out = NULL;
    pthread_mutex_lock(&t->lock);
    for (link = &t->head; *link != NULL; link = &(*link)->next) {
        if (strcasecmp((*link)->id, id) == 0) {
            c = *link;
            *link = c->next;
            c->next = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (c == NULL)
        return not_found(err, id);
    conn_wipe(c);
    *out = c;       /* the table's reference becomes the caller's */
    return EM_OK;
}

/* Whether a renewal is due (under c->lock). */
static bool renewal_due(const em_conn *c, const char *stale, time_t now)
{
    if (stale != NULL && strcmp(stale, c->tokens->access_token) == 0)
        return true;
    return now >= c->tokens->refresh_at;
}

int em_conn_bearer(char **out, em_conn *c, const char *stale, const char *claims,
                   em_request *req, em_error *err)
{
    em_tokens *fresh = NULL;
    em_oidc_client client = client_of(c);
    time_t now = time(NULL);
    bool forced;
    int rc = EM_OK;

    *out = NULL;
    pthread_mutex_lock(&c->renew_lock);
    pthread_mutex_lock(&c->lock);
    if (c->closed || c->tokens == NULL) {
        rc = not_found(err, c->id);
        goto unlock;
    }
    if (!renewal_due(c, stale, now))
        goto copy;
    forced = stale != NULL && strcmp(stale, c->tokens->access_token) == 0;
    if (c->tokens->refresh_token == NULL) {
        if (!forced && now < c->tokens->expires_at)
            goto copy;
        rc = em_error_set(err, EM_EGRANT, "the access token expired and there is no "
                          "refresh token: connect again");
        goto unlock;
    }
    /* Renew without the token lock: list and session reads go on. The renew
     * lock keeps other callers waiting for this one result. */
    pthread_mutex_unlock(&c->lock);
    rc = em_oidc_refresh_claims(&fresh, c->provider, &client, c->tokens, claims, req, err);
    pthread_mutex_lock(&c->lock);
    if (rc == EM_OK) {
        em_tokens_free(&c->tokens);
        c->tokens = fresh;
        fresh = NULL;
        if (take_identity(c) != EM_OK) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
            goto unlock;
        }
    } else if (rc != EM_ECANCELLED && !forced && now < c->tokens->expires_at) {
        /* The current token still works: use it, renew next time. */
        fprintf(stderr, "exchangemfa-helper: token renewal failed (%s); "
                "using the current token until it expires\n", em_code_name(rc));
        em_error_clear(err);
        rc = EM_OK;
    } else {
        goto unlock;
    }
copy:
    *out = strdup(c->tokens->access_token);
    if (*out == NULL)
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
unlock:
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->renew_lock);
    em_tokens_free(&fresh);
    return rc;
}

const char *em_conn_id(const em_conn *c)
{
    return c->id;
}

const char *em_conn_uri(const em_conn *c)
{
    return c->settings.connection_uri;
}

long em_conn_page_size(const em_conn *c)
{
    return c->settings.page_size;
}

void em_conn_tenant(char *out, size_t size, em_conn *c)
{
    pthread_mutex_lock(&c->lock);
    snprintf(out, size, "%s", c->settings.delegated_organization ? c->settings.delegated_organization
                              : c->organization ? c->organization
                              : c->tenant_id ? c->tenant_id : EM_DEFAULT_TENANT);
    pthread_mutex_unlock(&c->lock);
}

void em_conn_user(char *out, size_t size, em_conn *c)
{
    pthread_mutex_lock(&c->lock);
    snprintf(out, size, "%s", c->upn ? c->upn : "");
    pthread_mutex_unlock(&c->lock);
}

static void format_utc(char *out, size_t size, time_t t)
{
    struct tm tm;

    if (t <= 0 || gmtime_r(&t, &tm) == NULL)
        out[0] = '\0';
    else
        strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int em_conn_gen_session(yajl_gen g, em_conn *c)
{
    char expires[32];
    const char *org, *at;
    int st;

    pthread_mutex_lock(&c->lock);
    format_utc(expires, sizeof(expires), c->expires_at);
    org = c->organization;
    if (org == NULL && c->upn != NULL && (at = strchr(c->upn, '@')) != NULL)
        org = at + 1;
    st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_CONNECTIONID, c->id);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_UPN, c->upn ? c->upn : "");
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_TENANTID, c->tenant_id ? c->tenant_id : "");
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_ORGANIZATION, org ? org : "");
    if (st == yajl_gen_status_ok && c->settings.delegated_organization != NULL)
        st = em_json_gen_kv_str(g, EM_F_DELEGATEDORG, c->settings.delegated_organization);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_ENVIRONMENT, c->settings.environment);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_CONNECTIONURI, c->settings.connection_uri);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_AUTHORITY, c->settings.authority);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_APPID, c->settings.client_id);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_SIGNINMODE, EM_SIGNIN_DEVICECODE);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_TOKENEXPIRES, expires);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_STATE, c->closed ? EM_STATE_CLOSED : EM_STATE_CONNECTED);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(g, EM_F_PAGESIZE, c->settings.page_size);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    pthread_mutex_unlock(&c->lock);
    return st;
}

int em_conn_gen_list(yajl_gen g, em_conn_table *t)
{
    em_conn *c;
    int st;

    pthread_mutex_lock(&t->lock);
    st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_str(g, EM_F_CONNECTIONS);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_array_open(g);
    for (c = t->head; c != NULL && st == yajl_gen_status_ok; c = c->next)
        st = em_conn_gen_session(g, c);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_array_close(g);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    pthread_mutex_unlock(&t->lock);
    return st;
}
