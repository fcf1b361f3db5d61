/* oidc.c - OpenID Connect client: discovery, device code flow, refresh,
 * token responses and OAuth error mapping.
 *
 * Every endpoint comes from the discovery document. Form bodies hold device
 * codes and refresh tokens, so they live in em_bufs (wiped on free); token
 * strings are wiped by em_tokens_free. Messages never quote a token.
 */
#define _POSIX_C_SOURCE 200809L

#include "identity/oidc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "util/buf.h"
#include "exchange/exo.h"
#include "net/http.h"
#include "util/json.h"
#include "identity/jwt.h"
#include "protocol/protocol.h"

#define OIDC_MAX_DOCUMENT (256 * 1024)  /* discovery and device code answers */
#define OIDC_MAX_JWKS (1024 * 1024)
#define OIDC_MAX_TOKEN_BODY (1024 * 1024)
#define OIDC_JWKS_MIN_AGE 60            /* seconds between key set refreshes */
#define OIDC_SLOW_DOWN_STEP 5           /* RFC 8628 3.5 */
#define OIDC_DEFAULT_INTERVAL 5
#define OIDC_MAX_LIFETIME (10L * 365 * 24 * 3600)
#define OIDC_DESCRIPTION_MAX 320        /* leaves room for our own words in em_error */

struct em_oidc_provider {
    char *issuer;               /* may hold "{tenantid}" */
    char *token_endpoint;
    char *device_endpoint;      /* NULL when the provider has none */
    char *authorization_endpoint; /* NULL when the provider has none */
    bool iss_parameter;         /* authorization_response_iss_parameter_supported (RFC 9207) */
    char *jwks_uri;
    pthread_mutex_t jwks_lock;  /* guards jwks and jwks_fetched */
    char *jwks;
    time_t jwks_fetched;
};

static const char *const json_headers[] = {"Accept: application/json", NULL};
static const char *const form_headers[] = {
    "Accept: application/json", "Content-Type: application/x-www-form-urlencoded", NULL};

/* ---- JSON reading ---------------------------------------------------- */

/* Parses len bytes (at most max) into a JSON object, or NULL. */
static yajl_val parse_object(const char *body, size_t len, size_t max)
{
    yajl_val root = NULL;

    if (body == NULL || len == 0 || len > max || em_json_parse(&root, body, len, NULL) != EM_OK)
        return NULL;
    if (!YAJL_IS_OBJECT(root))
        em_json_free(&root);
    return root;
}

/* Copies the string member name into *out. Absent is fine (NULL) unless
 * required; a present member of another type is always an error. */
static int copy_string(char **out, yajl_val object, const char *name, bool required,
                       em_error *err)
{
    yajl_val v = em_json_get(object, name);
    const char *s = em_json_get_string(object, name);

    *out = NULL;
    if ((v == NULL || YAJL_IS_NULL(v)) && !required)
        return EM_OK;
    if (s == NULL || (required && s[0] == '\0'))
        return em_error_set(err, EM_EBADRESPONSE, "the answer has no usable '%s'", name);
    *out = strdup(s);
    if (*out == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    return EM_OK;
}

/* em_json_get_seconds bounded to a sane token lifetime: 1 set, 0 absent,
 * -1 malformed or out of range. */
static int read_seconds(long *out, yajl_val object, const char *name)
{
    long long n = 0;
    int rc = em_json_get_seconds(&n, object, name);

    if (rc != 1)
        return rc;
    if (n > OIDC_MAX_LIFETIME)
        return -1;
    *out = (long)n;
    return 1;
}

/* ---- HTTP ------------------------------------------------------------ */

static int http_get(em_http_response *out, const char *url, size_t max_body, em_request *ctx,
                    em_error *err)
{
    em_http_request req = {0};

    req.method = "GET";
    req.url = url;
    req.headers = json_headers;
    req.max_body = max_body;
    return em_http_perform(out, &req, ctx, err);
}

static int http_post_form(em_http_response *out, const char *url, const em_buf *form,
                          em_request *ctx, em_error *err)
{
    em_http_request req = {0};

    req.method = "POST";
    req.url = url;
    req.headers = form_headers;
    req.body = form->data;
    req.body_len = form->len;
    req.max_body = OIDC_MAX_TOKEN_BODY;
    return em_http_perform(out, &req, ctx, err);
}

/* Builds a form from NULL-terminated key/value pairs (values may be NULL: skipped). */
static int form_build(em_buf *out, const char *const *pairs, em_error *err)
{
    for (size_t i = 0; pairs[i] != NULL; i += 2) {
        if (pairs[i + 1] == NULL)
            continue;
        if (em_http_form_add(out, pairs[i], pairs[i + 1]) != EM_OK) {
            em_buf_free(out);
            return em_error_set(err, EM_ENOMEM, "out of memory building a request");
        }
    }
    return EM_OK;
}

/* Posts the form of pairs to url; an answer other than 200 becomes the
 * mapped OAuth error. *out is the caller's to free either way. */
/* A busy token endpoint (429, 502, 503, 504) is asked again with
 * Exchange's backoff and Retry-After (em_exo_retry_decide): a renewal in
 * the middle of a long Get- must not fail on one overloaded moment. */
static bool token_endpoint_busy(long status)
{
    return status == 429 || status == 502 || status == 503 || status == 504;
}

static int post_form(em_http_response *out, const char *url, const char *const *pairs,
                     em_request *ctx, em_error *err)
{
    em_buf form = EM_BUF_INIT;
    em_exo_retries done = {0};
    long delay = 0;
    int rc = form_build(&form, pairs, err);

    if (rc != EM_OK)
        return rc;
    for (;;) {
        rc = http_post_form(out, url, &form, ctx, err);
        if (rc != EM_OK || !token_endpoint_busy(out->status) ||
            em_exo_retry_decide(&delay, rc, out, &done, true, em_exo_retry_base_ms(),
                                em_exo_jitter()) != EM_EXO_WAIT)
            break;
        done.waits++;
        if (em_request_sleep(ctx, delay) != EM_OK) {
            rc = em_error_set(err, EM_ECANCELLED, "request cancelled");
            break;
        }
        em_http_response_free(out);
    }
    if (rc == EM_OK && out->status != 200)
        rc = em_oidc_map_error(out->body.data, out->body.len, out->status, err);
    em_buf_free(&form);
    return rc;
}

/* ---- OAuth errors ---------------------------------------------------- */

/* Copies the first meaningful line of a server description: no trace,
 * correlation or timestamp lines, no control characters, never cut inside a
 * UTF-8 character. */
static void first_line(char *out, size_t size, const char *text)
{
    static const char *const noise[] = {"Trace ID", "Correlation ID", "Timestamp"};
    const char *line = text;

    out[0] = '\0';
    while (line != NULL && *line != '\0') {
        const char *end = line + strcspn(line, "\r\n");
        const char *start = line;
        bool skip = false;
        size_t n = 0;

        while (start < end && isspace((unsigned char)*start))
            start++;
        for (size_t i = 0; i < sizeof noise / sizeof noise[0]; i++) {
            if (strncmp(start, noise[i], strlen(noise[i])) == 0)
                skip = true;
        }
        if (!skip && start < end) {
            const char *p = start;
            for (; p < end && n + 1 < size; p++) {
                unsigned char c = (unsigned char)*p;
                out[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
            }
            if (p < end) {
                /* Cut: drop a possibly partial last character. */
                while (n > 0 && ((unsigned char)out[n - 1] & 0xC0) == 0x80)
                    n--;
                if (n > 0 && (unsigned char)out[n - 1] >= 0xC0)
                    n--;
            }
            while (n > 0 && isspace((unsigned char)out[n - 1]))
                n--;
            out[n] = '\0';
            return;
        }
        line = *end == '\0' ? NULL : end + 1;
    }
}

/* Copies an OAuth error code, keeping only the characters RFC 6749 allows. */
static void copy_code(char *out, size_t size, const char *code)
{
    size_t n = 0;

    for (const char *p = code; *p != '\0' && n + 1 < size; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '"' && *p != '\\')
            out[n++] = *p;
    }
    out[n] = '\0';
}

/* The AADSTS number: first of error_codes, else "AADSTSnnnn" in the description. */
static long find_aadsts(yajl_val root, const char *description)
{
    yajl_val codes = em_json_get(root, "error_codes");
    const char *at = NULL;

    if (codes != NULL && YAJL_IS_ARRAY(codes) && codes->u.array.len > 0 &&
        YAJL_IS_INTEGER(codes->u.array.values[0])) {
        long long n = YAJL_GET_INTEGER(codes->u.array.values[0]);
        if (n > 0 && n < 100000000)
            return (long)n;
    }
    at = description == NULL ? NULL : strstr(description, "AADSTS");
    if (at != NULL && isdigit((unsigned char)at[6])) {
        long n = 0;
        for (const char *p = at + 6; isdigit((unsigned char)*p) && n < 100000000; p++)
            n = n * 10 + (*p - '0');
        return n;
    }
    return 0;
}

/* Which em_code an OAuth error is, and the sentence that leads the message.
 * Apart from the device code outcomes, AADSTS numbers win over `error`:
 * Microsoft sends invalid_grant for MFA and disabled accounts too. */
static em_code classify(const char *error, const char *suberror, long aadsts, const char **lead)
{
    /* The device code outcomes are named by `error` alone (their AADSTS
     * numbers, e.g. 70000 for a decline, are shared with other errors). */
    if (strcmp(error, "authorization_declined") == 0 || strcmp(error, "access_denied") == 0) {
        *lead = "the sign-in was declined";
        return EM_EDECLINED;
    }
    if (strcmp(error, "expired_token") == 0) {
        *lead = "the device code expired before the sign-in was approved";
        return EM_EEXPIRED;
    }
    switch (aadsts) {
    case 50076: case 50079: case 50074: case 50158:
        *lead = "multi-factor authentication is required: sign in with the device code (-Device) or the browser";
        return EM_EMFA;
    case 50126:
        *lead = "wrong user name or password";
        return EM_EAUTH;
    case 50053: case 50057: case 50055:
        *lead = "the account is locked, disabled or its password expired";
        return EM_EDISABLED;
    case 70000: case 70008: case 700082: case 50173: case 50132:
        *lead = "the refresh token is invalid, expired or revoked: sign in again";
        return EM_EGRANT;
    case 90002: case 700016: case 7000215: case 7000222: case 7000218: case 70011:
        *lead = "the tenant, application or cloud is not set up for this sign-in (check the ids and the environment)";
        return EM_ECONFIG;
    case 53003:
        *lead = "the sign-in was blocked by conditional access";
        return EM_EAUTH;
    default:
        break;
    }
    if (suberror != NULL && strcmp(suberror, "user_password_expired") == 0) {
        *lead = "the account's password expired";
        return EM_EDISABLED;
    }
    if (strcmp(error, "invalid_grant") == 0) {
        *lead = "the grant was refused (invalid, expired or revoked): sign in again";
        return EM_EGRANT;
    }
    /* Providers without AADSTS numbers say the same with these codes. */
    if (strcmp(error, "invalid_client") == 0 || strcmp(error, "unauthorized_client") == 0 ||
        strcmp(error, "invalid_scope") == 0) {
        *lead = "the application or scope is not set up for this sign-in";
        return EM_ECONFIG;
    }
    *lead = "the identity platform refused the sign-in";
    return EM_EAUTH;
}

int em_oidc_map_error(const char *body, size_t len, long http_status, em_error *err)
{
    yajl_val root = parse_object(body, len, OIDC_MAX_TOKEN_BODY);
    const char *error = root == NULL ? NULL : em_json_get_string(root, "error");
    const char *description = NULL;
    const char *lead = NULL;
    char line[OIDC_DESCRIPTION_MAX];
    long aadsts = 0;
    em_code code = EM_EAUTH;

    if (err != NULL)
        err->http_status = http_status;
    if (error == NULL || error[0] == '\0') {
        code = em_error_set(err, EM_EBADRESPONSE,
                            "the identity platform answered HTTP %ld with %s", http_status,
                            root == NULL ? "a body that is not JSON" : "JSON that is not an OAuth error");
        goto out;
    }
    description = em_json_get_string(root, "error_description");
    first_line(line, sizeof line, description == NULL ? "" : description);
    aadsts = find_aadsts(root, description);
    code = classify(error, em_json_get_string(root, "suberror"), aadsts, &lead);
    if (err != NULL) {
        copy_code(err->server_code, sizeof err->server_code, error);
        err->aadsts = aadsts;
    }
    if (line[0] != '\0')
        em_error_set(err, code, "%s: %s", lead, line);
    else
        em_error_set(err, code, "%s (%s)", lead, err == NULL ? error : err->server_code);
out:
    em_json_free(&root);
    return code;
}

/* ---- token responses ------------------------------------------------- */

void em_tokens_free(em_tokens **tokens)
{
    em_tokens *t = NULL;

    if (tokens == NULL || *tokens == NULL)
        return;
    t = *tokens;
    em_free_secret(&t->access_token);
    em_free_secret(&t->refresh_token);
    em_free_secret(&t->id_token);
    em_free_secret(&t->scope);
    em_free_secret(&t->tenant_id);
    em_free_secret(&t->username);
    em_free_secret(&t->display_name);
    em_free_secret(&t->object_id);
    OPENSSL_cleanse(t, sizeof *t);
    free(t);
    *tokens = NULL;
}

/* expires_in is missing from some providers' answers: fall back on the
 * access token's own exp when it is a JWT. Returns the lifetime or -1. */
static long lifetime_from_token(const char *access_token, time_t now)
{
    em_jwt_claims *claims = NULL;
    long lifetime = -1;

    if (em_jwt_decode_claims(&claims, access_token, NULL) == EM_OK && claims->exp > now)
        lifetime = (long)(claims->exp - now);
    em_jwt_claims_free(&claims);
    return lifetime;
}

int em_oidc_parse_token_response(em_tokens **out, const char *body, size_t len, time_t now,
                                 em_error *err)
{
    yajl_val root = NULL;
    em_tokens *t = NULL;
    const char *token_type = NULL;
    long expires_in = 0;
    long refresh_in = 0;
    int have_expires = 0;
    int have_refresh = 0;
    int rc = EM_OK;

    if (out == NULL)
        return em_error_set(err, EM_EINVAL, "no place for the tokens");
    *out = NULL;
    root = parse_object(body, len, OIDC_MAX_TOKEN_BODY);
    if (root == NULL) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the token answer is not a JSON object");
        goto out;
    }
    token_type = em_json_get_string(root, "token_type");
    if (token_type == NULL || strcasecmp(token_type, "Bearer") != 0) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the token answer's token_type is not Bearer");
        goto out;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto out;
    }
    rc = copy_string(&t->access_token, root, "access_token", true, err);
    if (rc == EM_OK)
        rc = copy_string(&t->refresh_token, root, "refresh_token", false, err);
    if (rc == EM_OK)
        rc = copy_string(&t->id_token, root, "id_token", false, err);
    if (rc == EM_OK)
        rc = copy_string(&t->scope, root, "scope", false, err);
    if (rc != EM_OK)
        goto out;
    have_expires = read_seconds(&expires_in, root, "expires_in");
    have_refresh = read_seconds(&refresh_in, root, "refresh_in");
    if (have_expires < 0 || have_refresh < 0) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the token answer's %s is not a number of seconds",
                          have_expires < 0 ? "expires_in" : "refresh_in");
        goto out;
    }
    if (have_expires == 0)
        expires_in = lifetime_from_token(t->access_token, now);
    if (expires_in <= 0) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the token answer has no usable expires_in");
        goto out;
    }
    t->expires_at = now + expires_in;
    if (have_refresh > 0 && refresh_in > 0 && refresh_in <= expires_in)
        t->refresh_at = now + refresh_in;
    else
        t->refresh_at = t->expires_at - (expires_in / 2 < 300 ? expires_in / 2 : 300);
    *out = t;
    t = NULL;
out:
    em_tokens_free(&t);
    em_json_free(&root);
    return rc;
}

/* ---- discovery ------------------------------------------------------- */

/* Length of "scheme://host[:port]" at the start of url, 0 when not a URL. */
static size_t origin_length(const char *url)
{
    const char *sep = strstr(url, "://");
    const char *host = NULL;

    if (sep == NULL || sep == url)
        return 0;
    host = sep + 3;
    if (*host == '\0' || *host == '/')
        return 0;
    return (size_t)(host - url) + strcspn(host, "/?#");
}

static bool same_origin(const char *a, const char *b)
{
    size_t la = origin_length(a);
    return la > 0 && la == origin_length(b) && strncasecmp(a, b, la) == 0;
}

static bool same_scheme(const char *a, const char *b)
{
    const char *sa = strstr(a, "://");
    const char *sb = strstr(b, "://");
    return sa != NULL && sb != NULL && sa - a == sb - b && strncasecmp(a, b, (size_t)(sa - a)) == 0;
}

void em_oidc_provider_free(em_oidc_provider **provider)
{
    em_oidc_provider *p = NULL;

    if (provider == NULL || *provider == NULL)
        return;
    p = *provider;
    free(p->issuer);
    free(p->token_endpoint);
    free(p->device_endpoint);
    free(p->authorization_endpoint);
    free(p->jwks_uri);
    free(p->jwks);
    pthread_mutex_destroy(&p->jwks_lock);
    free(p);
    *provider = NULL;
}

const char *em_oidc_issuer(const em_oidc_provider *provider)
{
    return provider == NULL ? NULL : provider->issuer;
}

const char *em_oidc_token_endpoint(const em_oidc_provider *provider)
{
    return provider == NULL ? NULL : provider->token_endpoint;
}

const char *em_oidc_authorization_endpoint(const em_oidc_provider *provider)
{
    return provider == NULL ? NULL : provider->authorization_endpoint;
}

bool em_oidc_iss_parameter_supported(const em_oidc_provider *provider)
{
    return provider != NULL && provider->iss_parameter;
}

/* A non-200 answer from a metadata endpoint: an OAuth error body (Microsoft
 * answers an unknown tenant with AADSTS90002) or a plain HTTP error. */
static int metadata_error(const em_http_response *resp, const char *what, em_error *err)
{
    yajl_val root = parse_object(resp->body.data, resp->body.len, OIDC_MAX_DOCUMENT);
    bool oauth = root != NULL && em_json_get_string(root, "error") != NULL;

    em_json_free(&root);
    if (oauth)
        return em_oidc_map_error(resp->body.data, resp->body.len, resp->status, err);
    if (err != NULL)
        err->http_status = resp->status;
    return em_error_set(err, EM_EHTTP, "the %s answered HTTP %ld", what, resp->status);
}

/* Downloads the key set into *out (caller frees). */
static int fetch_jwks(char **out, const char *jwks_uri, em_request *ctx, em_error *err)
{
    em_http_response resp = {0};
    yajl_val root = NULL;
    yajl_val keys = NULL;
    int rc = http_get(&resp, jwks_uri, OIDC_MAX_JWKS, ctx, err);

    *out = NULL;
    if (rc != EM_OK)
        goto out;
    if (resp.status != 200) {
        rc = metadata_error(&resp, "key set (jwks_uri)", err);
        goto out;
    }
    root = parse_object(resp.body.data, resp.body.len, OIDC_MAX_JWKS);
    keys = root == NULL ? NULL : em_json_get(root, "keys");
    if (keys == NULL || !YAJL_IS_ARRAY(keys)) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the key set (jwks_uri) is not a JWKS");
        goto out;
    }
    *out = em_buf_detach(&resp.body);
    if (*out == NULL)
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
out:
    em_json_free(&root);
    em_http_response_free(&resp);
    return rc;
}

/* Reads and checks the discovery document's fields into p. */
/* Whether two URLs are equal, trailing slashes ignored (scheme and host
 * in any case). */
static bool same_url(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), origin = origin_length(a);

    while (la > 0 && a[la - 1] == '/')
        la--;
    while (lb > 0 && b[lb - 1] == '/')
        lb--;
    return la == lb && origin > 0 && origin == origin_length(b) &&
           strncasecmp(a, b, origin) == 0 && strncmp(a + origin, b + origin, la - origin) == 0;
}

static int provider_from_document(em_oidc_provider *p, const char *authority, bool standard,
                                  const char *body, size_t len, em_error *err)
{
    yajl_val root = parse_object(body, len, OIDC_MAX_DOCUMENT);
    int rc = EM_OK;

    if (root == NULL) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the discovery document is not a JSON object");
        goto out;
    }
    rc = copy_string(&p->issuer, root, "issuer", true, err);
    if (rc == EM_OK)
        rc = copy_string(&p->token_endpoint, root, "token_endpoint", true, err);
    if (rc == EM_OK)
        rc = copy_string(&p->jwks_uri, root, "jwks_uri", true, err);
    if (rc == EM_OK)
        rc = copy_string(&p->device_endpoint, root, "device_authorization_endpoint", false, err);
    if (rc == EM_OK)
        rc = copy_string(&p->authorization_endpoint, root, "authorization_endpoint", false, err);
    if (rc != EM_OK) {
        if (rc == EM_EBADRESPONSE)
            em_error_set(err, rc, "the discovery document lacks issuer, token_endpoint or jwks_uri");
        goto out;
    }
    /* The issuer belongs to the authority's host (its path may be the
     * {tenantid} template, so only the origin is compared). */
    if (!same_origin(p->issuer, authority)) {
        rc = em_error_set(err, EM_EBADRESPONSE,
                          "the discovery document's issuer '%.200s' is not on the authority's host",
                          p->issuer);
        goto out;
    }
    /* A document found the standard way names the authority itself as its
     * issuer (OpenID Connect Discovery 1.0, section 4.3). */
    if (standard && !same_url(p->issuer, authority)) {
        rc = em_error_set(err, EM_EBADRESPONSE,
                          "the discovery document's issuer '%.200s' is not the authority", p->issuer);
        goto out;
    }
    /* No endpoint may downgrade the authority's scheme. */
    if (!same_scheme(p->token_endpoint, authority) || !same_scheme(p->jwks_uri, authority) ||
        (p->device_endpoint != NULL && !same_scheme(p->device_endpoint, authority)) ||
        (p->authorization_endpoint != NULL && !same_scheme(p->authorization_endpoint, authority))) {
        rc = em_error_set(err, EM_EBADRESPONSE,
                          "the discovery document names endpoints with another scheme than the authority");
        goto out;
    }
    {
        yajl_val iss = em_json_get(root, "authorization_response_iss_parameter_supported");
        p->iss_parameter = iss != NULL && YAJL_IS_TRUE(iss);
    }
out:
    em_json_free(&root);
    return rc;
}

/* Fetches a discovery document: Microsoft's place
 * {authority}/v2.0/.well-known/openid-configuration first, unless the
 * authority has no path or ends in /v2.0; the standard place
 * {authority}/.well-known/openid-configuration then, or after a 404 only
 * (an Entra 400 for an unknown tenant stays what it is). *standard says
 * which one answered. */
static int fetch_document(em_http_response *out, bool *standard, const char *authority, size_t len,
                          em_request *ctx, em_error *err)
{
    size_t origin = origin_length(authority);
    bool path = len > origin;
    bool v2 = len >= origin + 5 && strncmp(authority + len - 5, "/v2.0", 5) == 0;
    em_buf url = EM_BUF_INIT;
    int rc = EM_OK;

    *standard = !path || v2;
    if (!*standard) {
        if (em_buf_printf(&url, "%.*s/v2.0/.well-known/openid-configuration", (int)len, authority) != EM_OK)
            return em_error_set(err, EM_ENOMEM, "out of memory");
        rc = http_get(out, url.data, OIDC_MAX_DOCUMENT, ctx, err);
        if (rc != EM_OK || out->status != 404)
            goto free_url;
        em_http_response_free(out);
        memset(out, 0, sizeof(*out));
        em_buf_free(&url);
        *standard = true;
    }
    if (em_buf_printf(&url, "%.*s/.well-known/openid-configuration", (int)len, authority) != EM_OK) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto free_url;
    }
    rc = http_get(out, url.data, OIDC_MAX_DOCUMENT, ctx, err);
free_url:
    em_buf_free(&url);
    return rc;
}

static int provider_new(em_oidc_provider **out, em_error *err)
{
    em_oidc_provider *p = calloc(1, sizeof *p);

    *out = NULL;
    if (p == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    if (pthread_mutex_init(&p->jwks_lock, NULL) != 0) {
        free(p);
        return em_error_set(err, EM_EINTERNAL, "cannot create a lock");
    }
    *out = p;
    return EM_OK;
}

int em_oidc_provider_parse(em_oidc_provider **out, const char *authority, bool standard,
                           const char *body, size_t len, em_error *err)
{
    em_oidc_provider *p = NULL;
    int rc = provider_new(&p, err);

    if (rc == EM_OK)
        rc = provider_from_document(p, authority, standard, body, len, err);
    if (rc != EM_OK)
        em_oidc_provider_free(&p);
    *out = p;
    return rc;
}

int em_oidc_discover(em_oidc_provider **out, const char *authority, em_request *ctx,
                     em_error *err)
{
    em_oidc_provider *p = NULL;
    em_http_response resp = {0};
    bool standard = false;
    size_t len = 0;
    int rc = EM_OK;

    if (out == NULL || authority == NULL || origin_length(authority) == 0)
        return em_error_set(err, EM_EINVAL, "the authority is not a URL");
    *out = NULL;
    len = strlen(authority);
    while (len > 0 && authority[len - 1] == '/')
        len--;
    rc = provider_new(&p, err);
    if (rc != EM_OK)
        return rc;
    rc = fetch_document(&resp, &standard, authority, len, ctx, err);
    if (rc != EM_OK)
        goto free_provider;
    if (resp.status != 200) {
        rc = metadata_error(&resp, "discovery document", err);
        goto free_provider;
    }
    rc = provider_from_document(p, authority, standard, resp.body.data, resp.body.len, err);
    if (rc != EM_OK)
        goto free_provider;
    rc = fetch_jwks(&p->jwks, p->jwks_uri, ctx, err);
    if (rc != EM_OK)
        goto free_provider;
    p->jwks_fetched = time(NULL);
    *out = p;
    p = NULL;
free_provider:
    em_oidc_provider_free(&p);
    em_http_response_free(&resp);
    return rc;
}

/* ---- id_token ---------------------------------------------------------- */

/* Verifies with the current key set, under the lock (a refresh may swap it). */
static int verify_locked(em_jwt_claims **out, em_oidc_provider *p, const char *id_token,
                         const em_jwt_expect *expect, em_error *err)
{
    int rc = EM_OK;

    pthread_mutex_lock(&p->jwks_lock);
    rc = em_jwt_verify(out, id_token, p->jwks, expect, err);
    pthread_mutex_unlock(&p->jwks_lock);
    return rc;
}

/* Fetches the key set again unless that happened in the last minute.
 * Returns EM_OK when a new set is in place. */
static int refresh_jwks(em_oidc_provider *p, em_request *ctx, em_error *err)
{
    char *jwks = NULL;
    int rc = EM_ETOKEN;

    pthread_mutex_lock(&p->jwks_lock);
    if (time(NULL) - p->jwks_fetched < OIDC_JWKS_MIN_AGE)
        goto unlock;
    /* Counts failures too, so a broken jwks_uri is not hammered. */
    p->jwks_fetched = time(NULL);
    rc = fetch_jwks(&jwks, p->jwks_uri, ctx, err);
    if (rc != EM_OK)
        goto unlock;
    free(p->jwks);
    p->jwks = jwks;
unlock:
    pthread_mutex_unlock(&p->jwks_lock);
    return rc;
}

/* Verifies t->id_token for client_id (refreshing the key set once on an
 * unknown kid) and fills t's identity from its claims. */
static int verify_identity(em_tokens *t, em_oidc_provider *p, const char *client_id,
                           const char *nonce, em_request *ctx, em_error *err)
{
    em_jwt_claims *claims = NULL;
    em_jwt_expect expect = {0};
    em_error why = {0};
    int rc = EM_OK;

    expect.issuer = p->issuer;
    expect.audience = client_id;
    expect.nonce = nonce;
    expect.now = time(NULL);
    rc = verify_locked(&claims, p, t->id_token, &expect, &why);
    if (rc == EM_ETOKEN && strcmp(why.server_code, "unknown_kid") == 0 &&
        refresh_jwks(p, ctx, NULL) == EM_OK) {
        why = (em_error){0};
        rc = verify_locked(&claims, p, t->id_token, &expect, &why);
    }
    if (rc != EM_OK) {
        if (err != NULL)
            *err = why;
        return rc;
    }
    if (em_strdup_opt(&t->tenant_id, claims->tid) != EM_OK ||
        em_strdup_opt(&t->username,
                       claims->preferred_username != NULL ? claims->preferred_username : claims->upn) != EM_OK ||
        em_strdup_opt(&t->display_name, claims->name) != EM_OK ||
        em_strdup_opt(&t->object_id, claims->oid) != EM_OK)
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
    em_jwt_claims_free(&claims);
    return rc;
}

/* ---- device code flow ------------------------------------------------ */

typedef em_oidc_device_code device_code;

void em_oidc_device_code_clear(em_oidc_device_code *dc)
{
    em_free_secret(&dc->device_code);
    free(dc->user_code);
    free(dc->verification_uri);
    free(dc->message);
    memset(dc, 0, sizeof *dc);
}

int em_oidc_parse_device_code(em_oidc_device_code *out, const char *body, size_t len, em_error *err)
{
    yajl_val root = parse_object(body, len, OIDC_MAX_DOCUMENT);
    int rc = EM_OK;
    int have_expires = 0;
    int have_interval = 0;

    if (root == NULL) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the device code answer is not a JSON object");
        goto out;
    }
    rc = copy_string(&out->device_code, root, "device_code", true, err);
    if (rc == EM_OK)
        rc = copy_string(&out->user_code, root, "user_code", true, err);
    /* RFC 8628 says verification_uri; Microsoft's v1 endpoint said _url. */
    if (rc == EM_OK)
        rc = copy_string(&out->verification_uri, root,
                         em_json_get_string(root, "verification_uri") != NULL ? "verification_uri"
                                                                        : "verification_url",
                         true, err);
    if (rc == EM_OK)
        rc = copy_string(&out->message, root, "message", false, err);
    if (rc != EM_OK)
        goto out;
    have_expires = read_seconds(&out->expires_in, root, "expires_in");
    have_interval = read_seconds(&out->interval, root, "interval");
    if (have_expires <= 0 || out->expires_in == 0 || have_interval < 0) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the device code answer has no usable expires_in or interval");
        goto out;
    }
    if (have_interval == 0)
        out->interval = OIDC_DEFAULT_INTERVAL;
    /* Never poll faster than once a second, whatever the server says. */
    if (out->interval < 1)
        out->interval = 1;
out:
    em_json_free(&root);
    return rc;
}

/* Sends the deviceCode notification (docs/protocol.md). */
static int notify_device_code(em_request *ctx, const device_code *dc, em_error *err)
{
    yajl_gen g = em_json_gen_new();
    char *params = NULL;
    em_buf fallback = EM_BUF_INIT;
    const char *message = dc->message;
    int st = yajl_gen_status_ok;
    int rc = EM_OK;

    if (g == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    if (message == NULL) {
        if (em_buf_printf(&fallback, "To sign in, open %s and enter the code %s to authenticate.",
                          dc->verification_uri, dc->user_code) != EM_OK) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
            goto out;
        }
        message = fallback.data;
    }
    st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, "userCode", dc->user_code);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, "verificationUri", dc->verification_uri);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(g, "expiresIn", dc->expires_in);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(g, "interval", dc->interval);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_MESSAGE, message);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    if (st != yajl_gen_status_ok) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the device code answer holds text that is not UTF-8");
        goto out;
    }
    rc = em_json_gen_dup(&params, g);
    if (rc != EM_OK) {
        rc = em_error_set(err, rc, "could not build the device code notification");
        goto out;
    }
    rc = em_request_notify(ctx, EM_N_DEVICECODE, params);
    if (rc != EM_OK)
        rc = em_error_set(err, rc, "could not send the device code notification");
out:
    free(params);
    yajl_gen_free(g);
    em_buf_free(&fallback);
    return rc;
}

static long monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Posts the device code to the token endpoint until the user approves,
 * declines, the code expires or the request is cancelled. On success
 * *out holds the unverified tokens. */
static int poll_token(em_tokens **out, const em_oidc_provider *p, const em_oidc_client *client,
                      const device_code *dc, em_request *ctx, em_error *err)
{
    const char *const pairs[] = {
        "grant_type", "urn:ietf:params:oauth:grant-type:device_code",
        "client_id", client->client_id,
        "device_code", dc->device_code,
        "client_info", "1",
        NULL};
    em_buf form = EM_BUF_INIT;
    long deadline = monotonic_ms() + dc->expires_in * 1000;
    long interval_ms = dc->interval * 1000;
    int rc = form_build(&form, pairs, err);

    *out = NULL;
    if (rc != EM_OK)
        return rc;
    for (;;) {
        em_http_response resp = {0};
        em_error why = {0};
        long left = deadline - monotonic_ms();

        if (left <= 0) {
            rc = em_error_set(err, EM_EEXPIRED, "the device code expired before the sign-in was approved");
            break;
        }
        rc = em_request_sleep(ctx, interval_ms < left ? interval_ms : left);
        if (rc != EM_OK) {
            rc = em_error_set(err, EM_ECANCELLED, "the sign-in was cancelled");
            break;
        }
        if (monotonic_ms() >= deadline)
            continue;
        rc = http_post_form(&resp, p->token_endpoint, &form, ctx, err);
        if (rc == EM_OK && resp.status == 200)
            rc = em_oidc_parse_token_response(out, resp.body.data, resp.body.len, time(NULL), err);
        else if (rc == EM_OK)
            rc = em_oidc_map_error(resp.body.data, resp.body.len, resp.status, &why);
        em_http_response_free(&resp);
        if (rc == EM_OK || rc == EM_ENOMEM || why.code == EM_OK)
            break;
        if (strcmp(why.server_code, "authorization_pending") == 0)
            continue;
        if (strcmp(why.server_code, "slow_down") == 0) {
            interval_ms += OIDC_SLOW_DOWN_STEP * 1000;
            continue;
        }
        if (err != NULL)
            *err = why;
        break;
    }
    em_buf_free(&form);
    return rc;
}

/* Device authorization request: client_id and scope only (Microsoft ignores
 * login_hint here, and RFC 8628 does not define it). */
static int request_device_code(device_code *out, const em_oidc_provider *p,
                               const em_oidc_client *client, em_request *ctx, em_error *err)
{
    const char *const pairs[] = {"client_id", client->client_id, "scope", client->scope, NULL};
    em_http_response resp = {0};
    int rc = post_form(&resp, p->device_endpoint, pairs, ctx, err);

    if (rc == EM_OK)
        rc = em_oidc_parse_device_code(out, resp.body.data, resp.body.len, err);
    em_http_response_free(&resp);
    return rc;
}

int em_oidc_device_flow(em_tokens **out, em_oidc_provider *provider, const em_oidc_client *client,
                        em_request *ctx, em_error *err)
{
    device_code dc = {0};
    em_tokens *t = NULL;
    int rc = EM_OK;

    if (out == NULL || provider == NULL || client == NULL || client->client_id == NULL ||
        client->scope == NULL)
        return em_error_set(err, EM_EINVAL, "device code sign-in needs a provider, client id and scope");
    *out = NULL;
    if (provider->device_endpoint == NULL)
        return em_error_set(err, EM_ECONFIG, "the authority offers no device code sign-in "
                                             "(no device_authorization_endpoint)");
    rc = request_device_code(&dc, provider, client, ctx, err);
    if (rc != EM_OK)
        goto out;
    rc = notify_device_code(ctx, &dc, err);
    if (rc != EM_OK)
        goto out;
    rc = poll_token(&t, provider, client, &dc, ctx, err);
    if (rc != EM_OK)
        goto out;
    if (t->id_token == NULL) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the token answer has no id_token (is 'openid' in the scope?)");
        goto out;
    }
    rc = verify_identity(t, provider, client->client_id, NULL, ctx, err);
    if (rc != EM_OK)
        goto out;
    *out = t;
    t = NULL;
out:
    em_tokens_free(&t);
    em_oidc_device_code_clear(&dc);
    return rc;
}

/* ---- refresh --------------------------------------------------------- */

/* Keeps what the new answer lacks: the refresh token (not rotated), and
 * the identity with its id_token (no new id_token). */
static int keep_previous(em_tokens *t, const em_tokens *previous, em_error *err)
{
    int rc = EM_OK;

    if (t->refresh_token == NULL)
        rc = em_strdup_opt(&t->refresh_token, previous->refresh_token);
    if (rc == EM_OK && t->id_token == NULL) {
        if (em_strdup_opt(&t->id_token, previous->id_token) != EM_OK ||
            em_strdup_opt(&t->tenant_id, previous->tenant_id) != EM_OK ||
            em_strdup_opt(&t->username, previous->username) != EM_OK ||
            em_strdup_opt(&t->display_name, previous->display_name) != EM_OK ||
            em_strdup_opt(&t->object_id, previous->object_id) != EM_OK)
            rc = EM_ENOMEM;
    }
    if (rc != EM_OK)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    return EM_OK;
}

int em_oidc_refresh(em_tokens **out, em_oidc_provider *provider, const em_oidc_client *client,
                    const em_tokens *previous, em_request *ctx, em_error *err)
{
    return em_oidc_refresh_claims(out, provider, client, previous, NULL, ctx, err);
}

int em_oidc_refresh_claims(em_tokens **out, em_oidc_provider *provider,
                           const em_oidc_client *client, const em_tokens *previous,
                           const char *claims, em_request *ctx, em_error *err)
{
    em_tokens *t = NULL;
    int rc = EM_OK;

    if (out == NULL || provider == NULL || client == NULL || client->client_id == NULL ||
        previous == NULL)
        return em_error_set(err, EM_EINVAL, "refresh needs a provider, client id and previous tokens");
    *out = NULL;
    if (previous->refresh_token == NULL)
        return em_error_set(err, EM_EGRANT, "there is no refresh token: sign in again");
    const char *const pairs[] = {
        "grant_type", "refresh_token",
        "client_id", client->client_id,
        "refresh_token", previous->refresh_token,
        "scope", client->scope,
        "claims", claims,
        "client_info", "1",
        NULL};
    rc = em_oidc_token_request(&t, provider, pairs, client->client_id, NULL, false, ctx, err);
    if (rc == EM_OK)
        rc = keep_previous(t, previous, err);
    if (rc != EM_OK)
        goto out;
    *out = t;
    t = NULL;
out:
    em_tokens_free(&t);
    return rc;
}

/* ---- any other grant ------------------------------------------------- */

int em_oidc_token_request(em_tokens **out, em_oidc_provider *provider, const char *const *pairs,
                          const char *client_id, const char *nonce, bool id_token_required,
                          em_request *ctx, em_error *err)
{
    em_http_response resp = {0};
    em_tokens *t = NULL;
    int rc = EM_OK;

    if (out == NULL || provider == NULL || pairs == NULL || client_id == NULL)
        return em_error_set(err, EM_EINVAL, "a token request needs a provider, a form and a client id");
    *out = NULL;
    rc = post_form(&resp, provider->token_endpoint, pairs, ctx, err);
    if (rc != EM_OK)
        goto out;
    rc = em_oidc_parse_token_response(&t, resp.body.data, resp.body.len, time(NULL), err);
    if (rc != EM_OK)
        goto out;
    if (t->id_token == NULL && (id_token_required || nonce != NULL)) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the token answer has no id_token (is 'openid' in the scope?)");
        goto out;
    }
    if (t->id_token != NULL)
        rc = verify_identity(t, provider, client_id, nonce, ctx, err);
    if (rc != EM_OK)
        goto out;
    *out = t;
    t = NULL;
out:
    em_tokens_free(&t);
    em_http_response_free(&resp);
    return rc;
}
