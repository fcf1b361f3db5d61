/* connection.c - connections, the clouds table, single-flight renewal.
 * The token cache wiring is conn_cache.c's, the providers conn_provider.c's. */
#include "connection/connection.h"
#include "util/buf.h"
#include "cache/cache.h"
#include "connection/conn_cache.h"
#include "connection/conn_provider.h"
#include "connection/connection_internal.h"
#include "util/guid.h"
#include "util/json.h"
#include "identity/jwt.h"
#include "identity/loopback.h"
#include "identity/oidc.h"
#include "net/http.h"
#include "protocol/protocol.h"
#include "connection/signin.h"
#include "exchange/window.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The clouds (reference/exchange-online.md section 2, docs/compliance.md).
 * Each product (Exchange Online; Security & Compliance) has its host and
 * token resource per cloud. The DoD and China Exchange hosts and every
 * Security & Compliance resource outside O365Default are unconfirmed;
 * connectionUri/resource override them. */
typedef struct em_endpoint {
    const char *uri;
    const char *resource;
} em_endpoint;

typedef struct em_environment {
    const char *name;
    const char *authority_host;
    em_endpoint exchange;
    em_endpoint compliance;
} em_environment;

static const em_environment environments[] = {
    {"O365Default", "login.microsoftonline.com",
     {"https://outlook.office365.com", "https://outlook.office365.com"},
     {"https://ps.compliance.protection.outlook.com", "https://ps.compliance.protection.outlook.com"}},
    {"O365USGovGCCHigh", "login.microsoftonline.us",
     {"https://outlook.office365.us", "https://outlook.office365.us"},
     {"https://ps.compliance.protection.office365.us", "https://ps.compliance.protection.office365.us"}},
    {"O365USGovDoD", "login.microsoftonline.us",
     {"https://webmail.apps.mil", "https://webmail.apps.mil"},
     {"https://l5.ps.compliance.protection.office365.us", "https://l5.ps.compliance.protection.office365.us"}},
    {"O365China", "login.partner.microsoftonline.cn",
     {"https://partner.outlook.cn", "https://partner.outlook.cn"},
     {"https://ps.compliance.protection.partner.outlook.cn", "https://ps.compliance.protection.partner.outlook.cn"}},
};

/* The host of an https:// URL, lower-case, into out (empty when too long). */
static void host_of(char *out, size_t size, const char *url)
{
    const char *host = strstr(url, "://");
    size_t len, i;

    host = host ? host + 3 : url;
    len = strcspn(host, ":/?#");
    if (len >= size)
        len = 0;
    for (i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)host[i]);
    out[len] = '\0';
}

/* The cloud whose endpoint host (for the product) is the host of
 * connection_uri or a parent domain of it (a regional host such as
 * eur03b.ps.compliance.protection.outlook.com), the longest match winning;
 * NULL when none is. This is how Microsoft's -ConnectionUri alone, without
 * an environment name, selects the cloud. */
static const em_environment *environment_of_uri(const char *connection_uri, bool compliance)
{
    const em_environment *best = NULL;
    size_t best_len = 0, i;
    char host[256], known[256];

    host_of(host, sizeof(host), connection_uri);
    for (i = 0; i < sizeof(environments) / sizeof(environments[0]); i++) {
        const em_endpoint *e = compliance ? &environments[i].compliance : &environments[i].exchange;
        size_t hlen = strlen(host), klen;

        host_of(known, sizeof(known), e->uri);
        klen = strlen(known);
        if (klen == 0 || klen > hlen || klen <= best_len)
            continue;
        if (strcmp(host + hlen - klen, known) == 0 && (hlen == klen || host[hlen - klen - 1] == '.')) {
            best = &environments[i];
            best_len = klen;
        }
    }
    return best;
}

/* The modes: protocol name, signInMode, whether an application signs in. */
static const struct {
    const char *name;
    const char *signin;
    bool app_only;
} modes[] = {
    [EM_CONN_DEVICE] = {EM_MODE_DEVICE, EM_SIGNIN_DEVICECODE, false},
    [EM_CONN_INTERACTIVE] = {EM_MODE_INTERACTIVE, EM_SIGNIN_INTERACTIVE, false},
    [EM_CONN_CERTIFICATE] = {EM_MODE_CERTIFICATE, EM_SIGNIN_CERTIFICATE, true},
    [EM_CONN_MANAGED_IDENTITY] = {EM_MODE_MANAGEDIDENTITY, EM_SIGNIN_MANAGEDIDENTITY, true},
    [EM_CONN_FEDERATED] = {EM_MODE_FEDERATED, EM_SIGNIN_FEDERATED, true},
    [EM_CONN_ACCESS_TOKEN] = {EM_MODE_ACCESSTOKEN, EM_SIGNIN_ACCESSTOKEN, false},
    [EM_CONN_PASSWORD] = {EM_MODE_PASSWORD, EM_SIGNIN_PASSWORD, false},
};

#define MODE_COUNT (sizeof(modes) / sizeof(modes[0]))


/* ---- settings ---- */

static bool is_https_url(const char *s)
{
    size_t scheme = strncasecmp(s, "https://", 8) == 0                                  ? 8
                    : em_http_plain_http_allowed() && strncasecmp(s, "http://", 7) == 0 ? 7
                                                                                       : 0;

    return scheme > 0 && s[scheme] != '\0' && s[scheme] != '/';
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

bool em_conn_mode_app_only(em_conn_mode mode)
{
    return (size_t)mode < MODE_COUNT && modes[mode].app_only;
}

static int mode_index(const char *name)
{
    size_t i;

    for (i = 0; i < MODE_COUNT; i++) {
        if (strcmp(name, modes[i].name) == 0)
            return (int)i;
    }
    return -1;
}

static bool one_of(const char *value, const char *const *allowed)
{
    for (; *allowed != NULL; allowed++) {
        if (strcmp(value, *allowed) == 0)
            return true;
    }
    return false;
}

/* The fields each mode requires or forbids (docs/protocol.md "Sign-in
 * modes"). Messages name fields, never values: some are secrets. */
static int check_mode_fields(const em_conn_settings *s, em_conn_mode mode, em_error *err)
{
    static const char *const prompts[] = {"login", "none", "consent", "select_account", NULL};
    static const char *const caches[] = {EM_TOKENCACHE_PERSISTENT, EM_TOKENCACHE_MEMORY, NULL};
    static const char *const algs[] = {EM_ALG_PS256, EM_ALG_RS256, NULL};
    int sources = (s->cert_file != NULL) + (s->cert_data != NULL) + (s->cert_thumbprint != NULL);
    em_loopback_redirect redirect;

    if (s->token_cache != NULL && !one_of(s->token_cache, caches))
        return invalid(err, EM_F_TOKENCACHE, "must be persistent or memory");
    if (s->prompt != NULL && !one_of(s->prompt, prompts))
        return invalid(err, EM_F_PROMPT, "must be login, none, consent or select_account");
    if (s->timeout_seconds < 0 || s->timeout_seconds > 86400)
        return invalid(err, EM_F_TIMEOUTSECONDS, "must be 1..86400");
    if (s->assertion_alg != NULL && !one_of(s->assertion_alg, algs))
        return invalid(err, EM_F_ASSERTIONALG, "must be PS256 or RS256");
    if (s->redirect_uri != NULL && mode != EM_CONN_INTERACTIVE)
        return invalid(err, EM_F_REDIRECTURI, "goes with interactive sign-in only");
    if (s->redirect_uri != NULL && em_loopback_parse_redirect(&redirect, s->redirect_uri, NULL) != EM_OK)
        return invalid(err, EM_F_REDIRECTURI, "must be http://localhost, http://127.0.0.1 or "
                       "http://[::1], with an optional port and path");
    switch (mode) {
    case EM_CONN_CERTIFICATE:
        if (s->app_id == NULL)
            return invalid(err, EM_F_APPID, "is required for certificate sign-in");
        if (s->organization == NULL)
            return invalid(err, EM_F_ORGANIZATION, "is required for certificate sign-in");
        if (sources == 0)
            return invalid(err, EM_F_CERTFILE, "(or certificateData, or certificateThumbprint) "
                           "is required for certificate sign-in");
        if (sources > 1)
            return invalid(err, s->cert_file ? EM_F_CERTFILE : EM_F_CERTDATA,
                           "is one certificate source too many: give one of certificateFilePath, "
                           "certificateData and certificateThumbprint");
        if (s->cert_key_file != NULL && s->cert_file == NULL)
            return invalid(err, EM_F_CERTKEYFILE, "goes with certificateFilePath only");
        break;
    case EM_CONN_MANAGED_IDENTITY:
        if (s->organization == NULL)
            return invalid(err, EM_F_ORGANIZATION, "is required for managed identity sign-in");
        break;
    case EM_CONN_ACCESS_TOKEN:
        if (s->access_token == NULL)
            return invalid(err, EM_F_ACCESSTOKEN, "is required for accessToken sign-in");
        break;
    case EM_CONN_PASSWORD:
        if (s->upn == NULL)
            return invalid(err, EM_F_UPN, "is required for password sign-in");
        if (s->password == NULL)
            return invalid(err, EM_F_PASSWORD, "is required for password sign-in");
        break;
    default:
        break;
    }
    return EM_OK;
}

int em_conn_resolve(em_conn_resolved *out, const em_conn_settings *s, em_error *err)
{
    const em_environment *env = NULL;
    const em_endpoint *endpoint;
    const char *name = s->environment ? s->environment : EM_DEFAULT_ENVIRONMENT;
    em_buf buf = EM_BUF_INIT;
    size_t i;
    int rc = EM_OK;

    memset(out, 0, sizeof(*out));
    if (s->mode == NULL)
        return invalid(err, EM_F_MODE, "is required");
    for (i = 0; i < MODE_COUNT && strcmp(s->mode, modes[i].name) != 0; i++)
        ;
    if (i == MODE_COUNT)
        return invalid(err, EM_F_MODE, "must be device, interactive, certificate, managedIdentity, "
                       "federated, accessToken or password");
    rc = check_mode_fields(s, (em_conn_mode)i, err);
    if (rc != EM_OK)
        return rc;
    for (i = 0; i < sizeof(environments) / sizeof(environments[0]); i++) {
        if (strcasecmp(environments[i].name, name) == 0)
            env = &environments[i];
    }
    if (s->environment == NULL && s->connection_uri != NULL) {
        const em_environment *by_uri =
            environment_of_uri(s->connection_uri, s->product != NULL && strcmp(s->product, EM_PRODUCT_COMPLIANCE) == 0);

        if (by_uri != NULL)
            env = by_uri;
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
    if (s->throttle_limit < 0 || s->throttle_limit > EM_EXO_WINDOW_MAX)
        return invalid(err, EM_F_THROTTLELIMIT, "must be 1..64");
    if (s->product != NULL && strcmp(s->product, EM_PRODUCT_EXCHANGE) != 0 &&
        strcmp(s->product, EM_PRODUCT_COMPLIANCE) != 0)
        return invalid(err, EM_F_PRODUCT, "must be exchange or compliance");

    out->mode = (em_conn_mode)mode_index(s->mode);
    out->compliance = s->product != NULL && strcmp(s->product, EM_PRODUCT_COMPLIANCE) == 0;
    endpoint = out->compliance ? &env->compliance : &env->exchange;
    out->persistent = !em_conn_mode_app_only(out->mode) && out->mode != EM_CONN_ACCESS_TOKEN &&
                      (s->token_cache == NULL || strcmp(s->token_cache, EM_TOKENCACHE_PERSISTENT) == 0);
    out->no_browser = s->no_browser;
    out->timeout_ms = s->timeout_seconds > 0 ? s->timeout_seconds * 1000L : 0;
    out->assertion_alg = s->assertion_alg != NULL && strcmp(s->assertion_alg, EM_ALG_RS256) == 0
                         ? EM_JWT_RS256 : EM_JWT_PS256;
    if (s->prompt != NULL && (out->prompt = strdup(s->prompt)) == NULL)
        rc = EM_ENOMEM;
    if (s->redirect_uri != NULL && (out->redirect_uri = strdup(s->redirect_uri)) == NULL)
        rc = EM_ENOMEM;
    out->environment = strdup(env->name);
    if (s->authority != NULL && s->organization != NULL)
        out->authority = with_tenant(s->authority, s->organization);
    else if (s->authority != NULL)
        out->authority = without_trailing_slash(s->authority);
    else if (em_buf_printf(&buf, "https://%s/%s", env->authority_host,
                           s->organization ? s->organization : EM_DEFAULT_TENANT) == EM_OK)
        out->authority = em_buf_detach(&buf);
    out->connection_uri = origin_of(s->connection_uri ? s->connection_uri : endpoint->uri);
    out->resource = without_trailing_slash(s->resource ? s->resource : endpoint->resource);
    out->client_id = strdup(s->app_id ? s->app_id : EM_DEFAULT_CLIENT_ID);
    if (out->resource != NULL &&
        em_buf_printf(&buf, "%s%s", out->resource,
                      em_conn_mode_app_only(out->mode) ? EM_APP_SCOPE_SUFFIX : EM_SCOPE_SUFFIX) == EM_OK)
        out->scope = em_buf_detach(&buf);
    out->page_size = s->page_size > 0 ? s->page_size : EM_PAGESIZE_MAX;
    out->throttle_limit = s->throttle_limit > 0 ? s->throttle_limit : EM_EXO_WINDOW_DEFAULT;
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
    free(r->prompt);
    free(r->redirect_uri);
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
    em_signin_free(&c->signin);
    em_conn_resolved_free(&c->settings);
    em_exo_window_free(&c->window);
    free(c->organization);
    free(c->requested_upn);
    free(c->home_account_id);
    free(c->upn);
    free(c->tenant_id);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->renew_lock);
    free(c);
}

/* Wipes the tokens and the certificate; waits for a renewal in flight so
 * it cannot resurrect them. */
static void conn_wipe(em_conn *c)
{
    pthread_mutex_lock(&c->renew_lock);
    pthread_mutex_lock(&c->lock);
    c->closed = true;
    em_tokens_free(&c->tokens);
    em_signin_free(&c->signin);
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

    if (tp == NULL || *tp == NULL)
        return;
    t = *tp;
    em_conn_table_clear(t);
    em_conn_providers_free(t);
    em_cache_close(&t->cache);
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

/* ---- opening and closing ---- */

/* Copies the identity of the current tokens (under c->lock). */
static int take_identity(em_conn *c)
{
    char *upn = NULL, *tid = NULL;

    if (c->tokens->username != NULL)
        upn = strdup(c->tokens->username);
    else if (c->requested_upn != NULL && !c->app_only)
        upn = strdup(c->requested_upn);
    if (c->tokens->tenant_id != NULL)
        tid = strdup(c->tokens->tenant_id);
    if ((upn == NULL && (c->tokens->username || (c->requested_upn && !c->app_only))) ||
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

/* A device code (or a browser) may be approved by another account than
 * -UserPrincipalName: refuse that connection, naming both. */
static int check_approver(em_conn *c, em_error *err)
{
    const char *got = c->tokens->username;

    if ((c->settings.mode != EM_CONN_DEVICE && c->settings.mode != EM_CONN_INTERACTIVE) ||
        c->requested_upn == NULL || got == NULL || strcasecmp(got, c->requested_upn) == 0)
        return EM_OK;
    em_error_set(err, EM_EAUTH, "%s signed in, not %s (-UserPrincipalName): connect again and sign in "
                 "as %s, or leave out -UserPrincipalName", got, c->requested_upn, c->requested_upn);
    em_tokens_free(&c->tokens);
    return EM_EAUTH;
}

/* Signs c in: the cache first when allowed, else the mode's own flow; the
 * tokens of a delegated sign-in go to the cache. */
static int sign_in(em_conn *c, const em_conn_settings *s, em_request *req, em_error *err)
{
    int rc;

    /* A password given is always checked: never the cache in its place. */
    if (c->settings.mode != EM_CONN_PASSWORD && em_conn_cache_use(c, req) && c->requested_upn != NULL) {
        rc = em_conn_cache_sign_in(c, req, err);
        if (rc != EM_OK || c->tokens != NULL)
            return rc;
    }
    if (c->settings.mode != EM_CONN_MANAGED_IDENTITY && c->settings.mode != EM_CONN_ACCESS_TOKEN) {
        rc = em_conn_need_provider(c, req, err);
        if (rc != EM_OK)
            return rc;
    }
    rc = em_signin_first(&c->tokens, c->signin, c->provider, &c->settings, s, req, err);
    if (rc == EM_OK)
        rc = check_approver(c, err);
    if (rc == EM_OK && em_conn_cache_use(c, req))
        em_conn_cache_store(c, req);
    return rc;
}

/* A managed identity's session shows its client id (the token's appid or
 * azp), not the public client's default. */
static void app_id_from_token(em_conn *c)
{
    em_jwt_claims *claims = NULL;
    const char *id;
    char *copy;

    if (em_jwt_decode_claims(&claims, c->tokens->access_token, NULL) != EM_OK)
        return;
    id = claims->appid != NULL ? claims->appid : claims->azp;
    if (id != NULL && (copy = strdup(id)) != NULL) {
        free(c->settings.client_id);
        c->settings.client_id = copy;
    }
    em_jwt_claims_free(&claims);
}

int em_conn_open(em_conn **out, em_conn_table *t, const em_conn_settings *s,
                 em_request *req, em_error *err)
{
    em_conn *c = NULL, **tail;
    int rc;

    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->renew_lock, NULL);
    c->table = t;
    rc = em_conn_resolve(&c->settings, s, err);
    if (rc == EM_OK && em_exo_window_new(&c->window, (int)c->settings.throttle_limit) != EM_OK)
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
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
    rc = em_signin_new(&c->signin, s, &c->settings, err);
    if (rc != EM_OK)
        goto free_conn;
    rc = sign_in(c, s, req, err);
    if (rc != EM_OK)
        goto free_conn;
    if (c->settings.mode == EM_CONN_MANAGED_IDENTITY)
        app_id_from_token(c);
    c->app_only = em_conn_mode_app_only(c->settings.mode) ||
                  (c->settings.mode == EM_CONN_ACCESS_TOKEN && c->tokens->username == NULL);
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

int em_conn_forget_cache(em_conn *c, em_request *req, em_error *err)
{
    return em_conn_cache_forget(c, req, err);
}

/* ---- renewal ---- */

/* A new token for c, the mode's way; under renew_lock, without c->lock. */
static int renew(em_tokens **out, em_conn *c, const char *stale, const char *claims,
                 em_request *req, em_error *err)
{
    em_oidc_client client = em_conn_client(c);
    int rc = EM_OK;

    /* The cache may hold a token another helper renewed: no discovery yet. */
    if (!em_conn_mode_app_only(c->settings.mode) && c->cache != NULL && c->home_account_id != NULL)
        return em_conn_cache_renew(out, c, stale, claims, req, err);
    if (c->settings.mode != EM_CONN_MANAGED_IDENTITY)
        rc = em_conn_need_provider(c, req, err);
    if (rc != EM_OK)
        return rc;
    /* Claims challenges are a delegated feature: app-only modes simply get
     * a new token. */
    if (em_conn_mode_app_only(c->settings.mode))
        return em_signin_again(out, c->signin, c->provider, &c->settings, req, err);
    return em_oidc_refresh_claims(out, c->provider, &client, c->tokens, claims, req, err);
}

/* -AccessToken connections cannot renew: say why the token is over. */
static int access_token_over(em_conn *c, bool refused, time_t now, em_error *err)
{
    em_jwt_claims *claims = NULL;
    int rc;

    if (!refused && now >= c->tokens->expires_at) {
        rc = em_jwt_check_access_token(&claims, c->tokens->access_token, NULL, now, err);
        em_jwt_claims_free(&claims);
        if (rc != EM_OK)
            return rc;
    }
    return em_error_set(err, EM_ETOKEN, "Exchange refused the access token; -AccessToken connections "
                        "cannot renew it: get a new token or use another sign-in mode");
}

int em_conn_bearer(char **out, em_conn *c, const char *stale, const char *claims,
                   em_request *req, em_error *err)
{
    em_tokens *fresh = NULL;
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
    forced = stale != NULL && strcmp(stale, c->tokens->access_token) == 0;
    /* A claims challenge always renews: the current token lacks the claims. */
    if (!forced && claims == NULL && now < c->tokens->refresh_at)
        goto copy;
    if (c->settings.mode == EM_CONN_ACCESS_TOKEN) {
        if (!forced && now < c->tokens->expires_at)
            goto copy;
        rc = access_token_over(c, forced, now, err);
        goto unlock;
    }
    if (!em_conn_mode_app_only(c->settings.mode) && c->tokens->refresh_token == NULL) {
        if (!forced && now < c->tokens->expires_at)
            goto copy;
        rc = em_error_set(err, EM_EGRANT, "the access token expired and there is no "
                          "refresh token: connect again");
        goto unlock;
    }
    /* Renew without the token lock: list and session reads go on. The renew
     * lock keeps other callers waiting for this one result, and keeps
     * c->tokens in place (only renewal and close replace it). */
    pthread_mutex_unlock(&c->lock);
    rc = renew(&fresh, c, stale, claims, req, err);
    pthread_mutex_lock(&c->lock);
    /* Refused for good (invalid_grant): list says so until a renewal works. */
    if (rc == EM_EGRANT || rc == EM_OK)
        c->revoked = rc == EM_EGRANT;
    if (rc == EM_OK) {
        em_tokens_free(&c->tokens);
        c->tokens = fresh;
        fresh = NULL;
        if (take_identity(c) != EM_OK) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
            goto unlock;
        }
    } else if (rc != EM_ECANCELLED && !forced && claims == NULL && now < c->tokens->expires_at) {
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

struct em_exo_window *em_conn_window(const em_conn *c)
{
    return c->window;
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

void em_conn_anchor(char *out, size_t size, em_conn *c)
{
    char tenant[256];

    if (c->app_only) {
        em_conn_tenant(tenant, sizeof(tenant), c);
        snprintf(out, size, "%s%s", EM_APP_ANCHOR, tenant);
        return;
    }
    pthread_mutex_lock(&c->lock);
    snprintf(out, size, "%s%s", c->upn ? "UPN:" : "", c->upn ? c->upn : "");
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

/* tokenStatus and state as docs/protocol.md defines them (under c->lock). */
static void token_state(const em_conn *c, const char **token_status, const char **state)
{
    bool expired = c->tokens == NULL || time(NULL) >= c->expires_at;
    /* Only an -AccessToken connection, or a delegated one without a refresh
     * token, cannot get a new token by itself. */
    bool renewable = c->tokens != NULL && c->settings.mode != EM_CONN_ACCESS_TOKEN &&
                     (em_conn_mode_app_only(c->settings.mode) || c->tokens->refresh_token != NULL);

    *token_status = c->revoked ? EM_TOKEN_REVOKED : expired ? EM_TOKEN_EXPIRED : EM_TOKEN_ACTIVE;
    *state = c->closed ? EM_STATE_CLOSED
           : c->revoked || (expired && !renewable) ? EM_STATE_BROKEN : EM_STATE_CONNECTED;
}

int em_conn_gen_session(yajl_gen g, em_conn *c)
{
    char expires[32];
    const char *org, *at, *token_status, *state;
    int st;

    pthread_mutex_lock(&c->lock);
    token_state(c, &token_status, &state);
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
        st = em_json_gen_kv_str(g, EM_F_PRODUCT,
                                    c->settings.compliance ? EM_PRODUCT_COMPLIANCE : EM_PRODUCT_EXCHANGE);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_CONNECTIONURI, c->settings.connection_uri);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_AUTHORITY, c->settings.authority);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_APPID, c->settings.client_id);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_SIGNINMODE,
                                    c->silent ? EM_SIGNIN_SILENT : modes[c->settings.mode].signin);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_TOKENEXPIRES, expires);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_STATE, state);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_TOKENSTATUS, token_status);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(g, EM_F_PAGESIZE, c->settings.page_size);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(g, EM_F_THROTTLELIMIT, c->settings.throttle_limit);
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
