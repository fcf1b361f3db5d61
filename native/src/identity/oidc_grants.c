/* oidc_grants.c - the grants beside device code and refresh (oidc.h):
 * the browser sign-in (authorization code + PKCE), client credentials with
 * a client assertion (certificates, federated tokens), the password grant,
 * and claims challenges.
 *
 * Each grant builds its form and hands it to em_oidc_token_request, which
 * posts it, maps errors and verifies any id_token. Forms and codes are
 * wiped; no message quotes a token, code, password or assertion.
 */
#define _POSIX_C_SOURCE 200809L

#include "identity/oidc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "identity/browser.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/json.h"
#include "identity/jwt.h"
#include "identity/loopback.h"
#include "platform/platform.h"
#include "identity/pkce.h"
#include "protocol/protocol.h"

#define GRANTS_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define GRANTS_MAX_FEDERATED (16 * 1024)
#define GRANTS_MAX_CHALLENGE (16 * 1024)
#define GRANTS_DEFAULT_AUTHORITY_HOST "https://login.microsoftonline.com/"

/* ---- authorization code ------------------------------------------------ */

int em_oidc_exchange_code(em_tokens **out, em_oidc_provider *provider, const em_oidc_client *client,
                          const char *code, const char *code_verifier, const char *redirect_uri,
                          const char *nonce, em_request *ctx, em_error *err)
{
    if (out == NULL || client == NULL || client->client_id == NULL || code == NULL ||
        code_verifier == NULL || redirect_uri == NULL || nonce == NULL)
        return em_error_set(err, EM_EINVAL, "redeeming a code needs a client, code, verifier, "
                                            "redirect address and nonce");
    const char *const pairs[] = {
        "grant_type", "authorization_code",
        "client_id", client->client_id,
        "code", code,
        "redirect_uri", redirect_uri,
        "code_verifier", code_verifier,
        "scope", client->scope,
        "client_info", "1",
        NULL};
    return em_oidc_token_request(out, provider, pairs, client->client_id, nonce, true, ctx, err);
}

/* Sends browserUrl {"url": url}. */
static int notify_url(em_request *ctx, const char *url, em_error *err)
{
    int rc = em_request_notify_string(ctx, EM_N_BROWSERURL, EM_F_URL, url);

    if (rc != EM_OK)
        rc = em_error_set(err, rc, "could not send the browser address notification");
    return rc;
}

/* The secrets and strings of one browser sign-in. */
typedef struct interactive {
    char *verifier;
    char *challenge;
    char *state;
    char *nonce;
    char *url;
    char *code;
    em_loopback *listener;
} interactive;

static void interactive_clear(interactive *s)
{
    em_free_secret(&s->verifier);
    free(s->challenge);
    em_free_secret(&s->state);
    em_free_secret(&s->nonce);
    free(s->url);
    em_free_secret(&s->code);
    em_loopback_free(&s->listener);
}

int em_oidc_interactive_flow(em_tokens **out, em_oidc_provider *provider, const em_oidc_client *client,
                             const em_oidc_interactive_options *options, em_request *ctx, em_error *err)
{
    static const em_oidc_interactive_options none = {0};
    interactive s = {0};
    em_loopback_expect expect = {0};
    em_pkce_authorize request = {0};
    em_error why = {0};
    int rc = EM_OK;

    if (out == NULL || provider == NULL || client == NULL || client->client_id == NULL || client->scope == NULL)
        return em_error_set(err, EM_EINVAL, "browser sign-in needs a provider, client id and scope");
    *out = NULL;
    if (options == NULL)
        options = &none;
    if (em_oidc_authorization_endpoint(provider) == NULL)
        return em_error_set(err, EM_ECONFIG, "the authority offers no browser sign-in "
                                             "(no authorization_endpoint): use -Device");
    rc = em_pkce_verifier(&s.verifier, err);
    if (rc == EM_OK)
        rc = em_pkce_challenge(&s.challenge, s.verifier, err);
    if (rc == EM_OK)
        rc = em_pkce_random(&s.state, EM_PKCE_RANDOM_BYTES, err);
    if (rc == EM_OK)
        rc = em_pkce_random(&s.nonce, EM_PKCE_RANDOM_BYTES, err);
    if (rc != EM_OK)
        goto out;
    expect.state = s.state;
    expect.issuer = em_oidc_issuer(provider);
    expect.iss_required = em_oidc_iss_parameter_supported(provider);
    rc = em_loopback_start(&s.listener, &expect, options->redirect_uri, err);
    if (rc != EM_OK)
        goto out;
    request.endpoint = em_oidc_authorization_endpoint(provider);
    request.client_id = client->client_id;
    request.redirect_uri = em_loopback_redirect_uri(s.listener);
    request.scope = client->scope;
    request.state = s.state;
    request.nonce = s.nonce;
    request.code_challenge = s.challenge;
    request.prompt = options->prompt;
    request.login_hint = client->login_hint;
    request.domain_hint = options->domain_hint;
    request.claims = options->claims;
    rc = em_pkce_authorize_url(&s.url, &request, err);
    if (rc == EM_OK)
        rc = notify_url(ctx, s.url, err);
    if (rc != EM_OK)
        goto out;
    /* Without a browser the sign-in goes on: the user opens the notified address. */
    if (!options->no_browser && em_browser_open(s.url, &why) != EM_OK)
        em_request_notify_string(ctx, EM_N_WARNING, EM_F_MESSAGE, why.message);
    rc = em_loopback_wait(&s.code, s.listener, options->timeout_ms, ctx, err);
    if (rc != EM_OK)
        goto out;
    rc = em_oidc_exchange_code(out, provider, client, s.code, s.verifier,
                               em_loopback_redirect_uri(s.listener), s.nonce, ctx, err);
out:
    interactive_clear(&s);
    return rc;
}

/* ---- app-only ---------------------------------------------------------- */

/* App-only answers carry no id_token: tenant and object id come from the
 * access token's claims, unverified, for display only. */
static int identity_from_access_token(em_tokens *t, em_error *err)
{
    em_jwt_claims *c = NULL;
    int rc = EM_OK;

    if (t->tenant_id != NULL || em_jwt_decode_claims(&c, t->access_token, NULL) != EM_OK)
        return EM_OK;
    if (em_strdup_opt(&t->tenant_id, c->tid) != EM_OK || em_strdup_opt(&t->object_id, c->oid) != EM_OK)
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
    em_jwt_claims_free(&c);
    return rc;
}

int em_oidc_client_credentials(em_tokens **out, em_oidc_provider *provider, const em_oidc_client *client,
                               const char *assertion, em_request *ctx, em_error *err)
{
    int rc = EM_OK;

    if (out == NULL || client == NULL || client->client_id == NULL || client->scope == NULL ||
        assertion == NULL || assertion[0] == '\0')
        return em_error_set(err, EM_EINVAL, "client credentials need a client id, scope and assertion");
    const char *const pairs[] = {
        "grant_type", "client_credentials",
        "client_id", client->client_id,
        "scope", client->scope,
        "client_assertion_type", GRANTS_ASSERTION_TYPE,
        "client_assertion", assertion,
        NULL};
    rc = em_oidc_token_request(out, provider, pairs, client->client_id, NULL, false, ctx, err);
    if (rc == EM_OK)
        rc = identity_from_access_token(*out, err);
    if (rc != EM_OK)
        em_tokens_free(out);
    return rc;
}

int em_oidc_certificate(em_tokens **out, em_oidc_provider *provider, const em_oidc_client *client,
                        const struct em_cert *cert, em_jwt_alg alg, em_request *ctx, em_error *err)
{
    char *assertion = NULL;
    int rc = EM_OK;

    if (out == NULL || provider == NULL || client == NULL || client->client_id == NULL)
        return em_error_set(err, EM_EINVAL, "certificate sign-in needs a provider and a client id");
    *out = NULL;
    rc = em_jwt_sign_client_assertion(&assertion, cert, client->client_id, em_oidc_token_endpoint(provider),
                                      alg, time(NULL), err);
    if (rc == EM_OK)
        rc = em_oidc_client_credentials(out, provider, client, assertion, ctx, err);
    em_free_secret(&assertion);
    return rc;
}

/* ---- password ---------------------------------------------------------- */

int em_oidc_password(em_tokens **out, em_oidc_provider *provider, const em_oidc_client *client,
                     const char *username, const char *password, em_request *ctx, em_error *err)
{
    int rc = EM_OK;

    if (out == NULL || client == NULL || client->client_id == NULL || client->scope == NULL ||
        username == NULL || password == NULL)
        return em_error_set(err, EM_EINVAL, "the password sign-in needs a client id, scope, user and password");
    const char *const pairs[] = {
        "grant_type", "password",
        "client_id", client->client_id,
        "scope", client->scope,
        "username", username,
        "password", password,
        "client_info", "1",
        NULL};
    rc = em_oidc_token_request(out, provider, pairs, client->client_id, NULL, false, ctx, err);
    if (rc == EM_EMFA) {
        long aadsts = err == NULL ? 0 : err->aadsts;
        em_error_set(err, EM_EMFA, "this account needs multi-factor authentication (AADSTS%ld), which a user "
                                   "name and password cannot answer: connect with Connect-ExchangeMfa -Device, "
                                   "or with the browser sign-in (the default); -Credential is only for "
                                   "accounts without MFA", aadsts);
    }
    if (rc == EM_OK && (*out)->username == NULL && em_strdup_opt(&(*out)->username, username) != EM_OK) {
        em_tokens_free(out);
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
    }
    if (rc == EM_OK)
        rc = identity_from_access_token(*out, err);
    if (rc != EM_OK)
        em_tokens_free(out);
    return rc;
}

/* ---- federated tokens -------------------------------------------------- */

void em_oidc_federated_config_clear(em_oidc_federated_config *config)
{
    if (config == NULL)
        return;
    free(config->client_id);
    free(config->tenant_id);
    free(config->authority);
    free(config->token_file);
    memset(config, 0, sizeof *config);
}

int em_oidc_federated_config_read(em_oidc_federated_config *out, const char *client_id,
                                  const char *tenant_id, em_error *err)
{
    const char *const names[] = {"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE"};
    const char *values[] = {client_id, tenant_id, NULL};
    const char *host = getenv("AZURE_AUTHORITY_HOST");
    em_buf authority = EM_BUF_INIT;
    int rc = EM_OK;

    if (out == NULL)
        return em_error_set(err, EM_EINVAL, "no place for the settings");
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (values[i] == NULL)
            values[i] = getenv(names[i]);
        if (values[i] == NULL || values[i][0] == '\0')
            return em_error_set(err, EM_ECONFIG, "federated sign-in needs %s in the environment", names[i]);
    }
    if (host == NULL || host[0] == '\0')
        host = GRANTS_DEFAULT_AUTHORITY_HOST;
    if (strncasecmp(host, "https://", 8) != 0)
        return em_error_set(err, EM_ECONFIG, "AZURE_AUTHORITY_HOST must be an https:// address");
    if (em_buf_printf(&authority, "%s%s%s", host, host[strlen(host) - 1] == '/' ? "" : "/",
                      values[1]) == EM_OK)
        out->authority = em_buf_detach(&authority);
    if (out->authority == NULL ||
        em_strdup_opt(&out->client_id, values[0]) != EM_OK ||
        em_strdup_opt(&out->tenant_id, values[1]) != EM_OK ||
        em_strdup_opt(&out->token_file, values[2]) != EM_OK) {
        em_oidc_federated_config_clear(out);
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
    }
    em_buf_free(&authority);
    return rc;
}

/* Reads the token file afresh (platform.h: a regular file, at most 16 KiB:
 * a projected service account token is about 1 KiB), trimmed; caller
 * frees with em_free_secret. */
int em_oidc_read_federated_token(char **out, const char *path, em_error *err)
{
    em_buf data = EM_BUF_INIT;
    size_t n, start = 0;
    int rc;

    *out = NULL;
    rc = em_platform_read_file(&data, path, GRANTS_MAX_FEDERATED, err);
    if (rc != EM_OK) {
        em_buf_free(&data);
        if (err != NULL && rc != EM_ENOMEM)
            err->code = EM_ECONFIG;
        return em_error_prefix(err, "the federated token file (AZURE_FEDERATED_TOKEN_FILE) ");
    }
    n = data.len;
    while (n > 0 && isspace((unsigned char)data.data[n - 1]))
        data.data[--n] = '\0';
    while (start < n && isspace((unsigned char)data.data[start]))
        start++;
    if (start == n || memchr(data.data, '\0', n) != NULL) {
        em_buf_free(&data);
        return em_error_set(err, EM_ECONFIG, "the federated token file is empty or not text");
    }
    memmove(data.data, data.data + start, n - start + 1);
    *out = data.data;
    return EM_OK;
}

int em_oidc_federated(em_tokens **out, em_oidc_provider *provider, const em_oidc_client *client,
                      const char *token_file, em_request *ctx, em_error *err)
{
    char *assertion = NULL;
    int rc = EM_OK;

    if (out == NULL || token_file == NULL)
        return em_error_set(err, EM_EINVAL, "federated sign-in needs a token file");
    *out = NULL;
    rc = em_oidc_read_federated_token(&assertion, token_file, err);
    if (rc == EM_OK)
        rc = em_oidc_client_credentials(out, provider, client, assertion, ctx, err);
    em_free_secret(&assertion);
    return rc;
}

/* ---- claims challenges ------------------------------------------------- */

/* RFC 9110 11.2 token characters. */
static bool token_char(char c)
{
    return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads a token or quoted-string value at *p into buf (cut at size);
 * advances *p. false when malformed. */
static bool read_value(const char **p, char *buf, size_t size)
{
    const char *s = *p;
    size_t n = 0;

    if (*s == '"') {
        s++;
        while (*s != '"') {
            if (*s == '\0')
                return false;
            if (*s == '\\' && s[1] != '\0')
                s++;
            if (n + 1 < size)
                buf[n++] = *s;
            s++;
        }
        s++;
    } else {
        while (token_char(*s) || *s == '/' || *s == '=') {
            if (n + 1 < size)
                buf[n++] = *s;
            s++;
        }
    }
    buf[n] = '\0';
    *p = s;
    return true;
}

int em_oidc_parse_claims_challenge(char **out, const char *header, em_error *err)
{
    char scheme[32] = "";
    char name[64];
    char *value = NULL;
    char *claims = NULL;
    bool insufficient = false;
    const char *p = header;
    unsigned char *decoded = NULL;
    size_t decoded_len = 0;
    yajl_val root = NULL;
    int rc = EM_ENOTFOUND;

    if (out == NULL || header == NULL)
        return em_error_set(err, EM_EINVAL, "no header to read");
    *out = NULL;
    if (strnlen(header, GRANTS_MAX_CHALLENGE + 1) > GRANTS_MAX_CHALLENGE)
        return em_error_set(err, EM_EBADRESPONSE, "the WWW-Authenticate header is too long");
    value = malloc(GRANTS_MAX_CHALLENGE + 1);
    if (value == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    /* challenge = scheme [ 1*SP auth-param *( "," auth-param ) ], challenges
     * separated by ','. A token followed by '=' is a parameter name, else a
     * new scheme. */
    while (*(p = skip_space(p)) != '\0') {
        size_t n = 0;
        const char *after = NULL;

        if (*p == ',') {
            p++;
            continue;
        }
        while (token_char(p[n]))
            n++;
        if (n == 0)
            goto malformed;
        after = skip_space(p + n);
        if (*after != '=') {
            /* A new challenge: its scheme (token68 forms are not used here). */
            snprintf(scheme, sizeof scheme, "%.*s", (int)(n < 31 ? n : 31), p);
            p += n;
            continue;
        }
        snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), p);
        p = skip_space(after + 1);
        if (!read_value(&p, value, GRANTS_MAX_CHALLENGE + 1))
            goto malformed;
        if (strcasecmp(scheme, "Bearer") != 0)
            continue;
        if (strcasecmp(name, "error") == 0 && strcmp(value, "insufficient_claims") == 0)
            insufficient = true;
        if (strcasecmp(name, "claims") == 0 && claims == NULL) {
            claims = strdup(value);
            if (claims == NULL) {
                rc = em_error_set(err, EM_ENOMEM, "out of memory");
                goto out;
            }
        }
    }
    if (!insufficient || claims == NULL) {
        rc = em_error_set(err, EM_ENOTFOUND, "no insufficient_claims challenge in the WWW-Authenticate header");
        goto out;
    }
    rc = em_base64_decode(&decoded, &decoded_len, claims, strlen(claims));
    if (rc == EM_ENOMEM) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto out;
    }
    if (rc != EM_OK || decoded_len == 0 || memchr(decoded, '\0', decoded_len) != NULL ||
        em_json_parse(&root, (const char *)decoded, decoded_len, NULL) != EM_OK || !YAJL_IS_OBJECT(root)) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the claims challenge is not base64 of a JSON object");
        goto out;
    }
    *out = (char *)decoded;
    decoded = NULL;
    rc = EM_OK;
    goto out;
malformed:
    rc = em_error_set(err, EM_EBADRESPONSE, "the WWW-Authenticate header is malformed");
out:
    em_json_free(&root);
    free(decoded);
    free(claims);
    free(value);
    return rc;
}
