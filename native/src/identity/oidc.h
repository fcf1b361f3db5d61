/* oidc.h - OpenID Connect client: discovery, device code flow, refresh.
 *
 * Endpoints come from the authority's discovery document, never from
 * hard-coded paths: Microsoft's {authority}/v2.0/.well-known/openid-configuration,
 * falling back on a 404 to the standard {authority}/.well-known/openid-configuration
 * (the only one tried when the authority has no path or ends in /v2.0; its
 * issuer must then equal the authority). Token responses are parsed here and id_tokens verified
 * (jwt.h) before any claim is used.
 */
#ifndef EM_OIDC_H
#define EM_OIDC_H

#include <stdbool.h>
#include <time.h>
#include "util/error.h"
#include "identity/jwt.h"
#include "protocol/request.h"

/* The provider metadata of one authority; immutable after discovery except
 * for the JWKS, which em_oidc_* refresh under the provider's own lock (at
 * most once a minute, when an unknown kid appears). */
typedef struct em_oidc_provider em_oidc_provider;

/* Fetches and checks discovery for authority (e.g.
 * "https://login.microsoftonline.com/organizations"). Caller frees with
 * em_oidc_provider_free. */
int em_oidc_discover(em_oidc_provider **out, const char *authority,
                     em_request *ctx, em_error *err);
void em_oidc_provider_free(em_oidc_provider **provider);

/* Borrowed strings, valid while the provider lives. */
const char *em_oidc_issuer(const em_oidc_provider *provider);
const char *em_oidc_token_endpoint(const em_oidc_provider *provider);
/* NULL when discovery named none (the browser sign-in is then unavailable). */
const char *em_oidc_authorization_endpoint(const em_oidc_provider *provider);
/* authorization_response_iss_parameter_supported (RFC 9207): when true, the
 * browser callback must carry `iss`. */
bool em_oidc_iss_parameter_supported(const em_oidc_provider *provider);

/* Who signs in, to what. Borrowed strings. */
typedef struct em_oidc_client {
    const char *client_id;
    const char *scope;          /* space-separated, e.g. "https://outlook.office365.com/.default openid profile offline_access" */
    const char *login_hint;     /* or NULL */
} em_oidc_client;

/* Tokens and the verified identity. Secrets are wiped by em_tokens_free. */
typedef struct em_tokens {
    char *access_token;
    char *refresh_token;        /* or NULL */
    char *id_token;             /* or NULL */
    time_t expires_at;          /* access token expiry (now + expires_in) */
    time_t refresh_at;          /* renew after this (refresh_in, else expiry - min(300, lifetime/2)) */
    char *scope;                /* granted scope, or NULL */
    /* From the verified id_token (or kept from the previous tokens on refresh
     * when the response carries no id_token): */
    char *tenant_id;
    char *username;             /* preferred_username */
    char *display_name;         /* name, or NULL */
    char *object_id;            /* oid, or NULL */
} em_tokens;

void em_tokens_free(em_tokens **tokens);

/* Device code flow (RFC 8628 as the Microsoft identity platform speaks it):
 * POST device_authorization_endpoint, send the `deviceCode` notification
 * through ctx (fields of docs/protocol.md), poll the token endpoint at
 * `interval` (slow_down adds 5 s), stop on authorization_declined
 * or access_denied (RFC 8628 section 3.5) (EM_EDECLINED), expired_token or expires_in elapsed (EM_EEXPIRED), and on
 * cancellation (EM_ECANCELLED, promptly). Other errors map AADSTS numbers:
 * 50057/50053/50055 EM_EDISABLED, 90002/700016 EM_ECONFIG, 50076/50079/50074/50158
 * EM_EMFA, else EM_EAUTH; err gets http_status, server_code, aadsts and the
 * server's description (first line, without trace ids). The id_token is
 * verified. Caller frees *out. */
int em_oidc_device_flow(em_tokens **out, em_oidc_provider *provider,
                        const em_oidc_client *client, em_request *ctx, em_error *err);

/* Refresh token grant. previous supplies the refresh token and the identity
 * kept when the answer has no id_token. A refresh token that the server
 * rejects (invalid_grant, AADSTS 70000/70008/700082/50173/50132) gives
 * EM_EGRANT. Caller frees *out (which holds the rotated refresh token, or
 * the previous one when the server sent none). */
int em_oidc_refresh(em_tokens **out, em_oidc_provider *provider,
                    const em_oidc_client *client, const em_tokens *previous,
                    em_request *ctx, em_error *err);

/* em_oidc_refresh that also sends `claims` (the claims request JSON of a
 * claims challenge, em_oidc_parse_claims_challenge), or none when NULL. */
int em_oidc_refresh_claims(em_tokens **out, em_oidc_provider *provider,
                           const em_oidc_client *client, const em_tokens *previous,
                           const char *claims, em_request *ctx, em_error *err);

/* The parsers of the discovery document and the device code answer
 * (exposed for tests/fuzz). em_oidc_provider_parse: *out is a provider
 * without its key set (caller frees); standard: the document came from
 * {authority}/.well-known (its issuer must then be the authority). */
int em_oidc_provider_parse(em_oidc_provider **out, const char *authority, bool standard,
                           const char *body, size_t len, em_error *err);

typedef struct em_oidc_device_code {
    char *device_code;          /* secret: it redeems the sign-in */
    char *user_code;
    char *verification_uri;
    char *message;
    long expires_in;
    long interval;              /* 1 at least */
} em_oidc_device_code;

/* out starts zeroed; the caller clears it with em_oidc_device_code_clear,
 * also after a failure. EM_EBADRESPONSE when unusable. */
int em_oidc_parse_device_code(em_oidc_device_code *out, const char *body, size_t len, em_error *err);
void em_oidc_device_code_clear(em_oidc_device_code *dc);

/* Reads a federated token file afresh (at most 16 KiB, white space
 * trimmed, text only); caller frees *out with em_free_secret. EM_ECONFIG. */
int em_oidc_read_federated_token(char **out, const char *path, em_error *err);

/* Parses a successful token endpoint body (exposed for unit tests and other
 * grants): access_token, token_type Bearer, expires_in, refresh_in,
 * refresh_token, id_token, scope. now is the current time. Does not verify
 * the id_token (em_oidc_* callers do). */
int em_oidc_parse_token_response(em_tokens **out, const char *body, size_t len,
                                 time_t now, em_error *err);

/* Maps an OAuth error body (error, error_description, error_codes,
 * suberror) into err and returns the em_code described above. */
int em_oidc_map_error(const char *body, size_t len, long http_status, em_error *err);

/* Posts a form of NULL-terminated key/value pairs (NULL values skipped) to
 * the token endpoint and parses the answer: the common tail of every grant.
 * A non-200 answer goes through em_oidc_map_error. An id_token in the answer
 * is verified (audience client_id, and nonce when not NULL) and fills the
 * identity; without one the identity is empty, which is an error
 * (EM_EBADRESPONSE) when id_token_required or a nonce is given. Caller
 * frees *out. */
int em_oidc_token_request(em_tokens **out, em_oidc_provider *provider, const char *const *pairs,
                          const char *client_id, const char *nonce, bool id_token_required,
                          em_request *ctx, em_error *err);

/* ---- the other grants (oidc_grants.c) --------------------------------- */

/* Authorization code grant with PKCE (RFC 6749 4.1.3, RFC 7636): posts
 * grant_type=authorization_code, client_id, code, redirect_uri,
 * code_verifier, scope, client_info=1. The id_token is required and
 * verified with nonce. All strings borrowed. Caller frees *out. */
int em_oidc_exchange_code(em_tokens **out, em_oidc_provider *provider,
                          const em_oidc_client *client, const char *code,
                          const char *code_verifier, const char *redirect_uri, const char *nonce,
                          em_request *ctx, em_error *err);

typedef struct em_oidc_interactive_options {
    const char *prompt;         /* login, none, consent, select_account; or NULL */
    const char *domain_hint;    /* or NULL */
    const char *claims;         /* claims request JSON (a claims challenge), or NULL */
    bool no_browser;            /* only notify browserUrl; launch nothing */
    long timeout_ms;            /* how long to wait for the browser; 0 = 2 minutes */
    const char *redirect_uri;   /* loopback template (loopback.h); NULL = http://localhost */
} em_oidc_interactive_options;

/* The browser sign-in: authorization code + PKCE (S256) with a loopback
 * redirect, http://localhost:<random port> unless options->redirect_uri
 * says otherwise (loopback.h). Sends the
 * `browserUrl` notification ({"url": ...}) always, launches the browser
 * (browser.h) unless options->no_browser, waits for one valid callback
 * (state, iss), redeems the code and verifies the id_token with the nonce.
 * client->login_hint and options->claims go into the authorize URL. Errors:
 * EM_ECONFIG (no authorization_endpoint), EM_ETIMEOUT, EM_ECANCELLED,
 * EM_EDECLINED (access_denied in the browser), EM_EAUTH (other browser
 * errors, iss mismatch), the token errors of em_oidc_token_request.
 * options may be NULL. Caller frees *out. */
int em_oidc_interactive_flow(em_tokens **out, em_oidc_provider *provider,
                             const em_oidc_client *client,
                             const em_oidc_interactive_options *options, em_request *ctx,
                             em_error *err);

/* Client credentials with a JWT client assertion (RFC 7523:
 * client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer),
 * for certificates (em_jwt_sign_client_assertion) and federated tokens.
 * client->scope is "{resource}/.default". App-only answers have no id_token:
 * tenant_id and object_id come from the access token's unverified claims
 * (tid, oid; for display only), username stays NULL. assertion is borrowed.
 * Caller frees *out. */
int em_oidc_client_credentials(em_tokens **out, em_oidc_provider *provider,
                               const em_oidc_client *client, const char *assertion,
                               em_request *ctx, em_error *err);

/* Client credentials with a client assertion freshly signed by cert
 * (em_jwt_sign_client_assertion: EM_JWT_PS256 (default) or EM_JWT_RS256,
 * audience = the token endpoint, a new jti, valid ten minutes); call it for
 * every new token. A certificate that is expired or not yet valid is
 * EM_ECONFIG before anything is sent. Caller frees *out. */
int em_oidc_certificate(em_tokens **out, em_oidc_provider *provider, const em_oidc_client *client,
                        const struct em_cert *cert, em_jwt_alg alg, em_request *ctx, em_error *err);

/* Resource owner password credentials (ROPC), for accounts without MFA.
 * password is borrowed (the caller wipes it); it travels only in the wiped
 * form body. An MFA answer (AADSTS 50076/50079/50074/50158) is EM_EMFA with
 * a message that names -Device and the browser sign-in. An id_token, when
 * the scope has openid, is verified. Caller frees *out. */
int em_oidc_password(em_tokens **out, em_oidc_provider *provider, const em_oidc_client *client,
                     const char *username, const char *password, em_request *ctx, em_error *err);

/* Workload identity federation settings from the helper's environment. */
typedef struct em_oidc_federated_config {
    char *client_id;            /* AZURE_CLIENT_ID */
    char *tenant_id;            /* AZURE_TENANT_ID */
    char *authority;            /* AZURE_AUTHORITY_HOST (default https://login.microsoftonline.com/) + tenant */
    char *token_file;           /* AZURE_FEDERATED_TOKEN_FILE */
} em_oidc_federated_config;

/* Reads the four variables; client_id and tenant_id (borrowed, or NULL)
 * override AZURE_CLIENT_ID and AZURE_TENANT_ID, which are then not needed.
 * EM_ECONFIG names a missing one. Caller clears with
 * em_oidc_federated_config_clear (also after a failure). */
int em_oidc_federated_config_read(em_oidc_federated_config *out, const char *client_id,
                                  const char *tenant_id, em_error *err);
void em_oidc_federated_config_clear(em_oidc_federated_config *config);

/* Client credentials whose assertion is the content of token_file, read
 * afresh on every call (the platform rotates it): at most 16 KiB, surrounding
 * white space trimmed, wiped after use. EM_ECONFIG when the file is
 * missing, empty or too large. Caller frees *out. */
int em_oidc_federated(em_tokens **out, em_oidc_provider *provider, const em_oidc_client *client,
                      const char *token_file, em_request *ctx, em_error *err);

/* Reads a WWW-Authenticate header value. When it holds a Bearer challenge
 * with error="insufficient_claims" and a claims parameter (base64, padded
 * or not, standard or URL alphabet), *out gets the decoded claims JSON
 * object text (caller frees). EM_ENOTFOUND when there is no such
 * challenge; EM_EBADRESPONSE when claims is not base64 of a JSON object. */
int em_oidc_parse_claims_challenge(char **out, const char *www_authenticate, em_error *err);

#endif
