/* pkce.h - the pieces of a browser sign-in request: PKCE (RFC 7636, S256),
 * state and nonce, and the authorization endpoint URL.
 *
 * Random values come from OpenSSL's RAND_bytes. The code verifier is a
 * secret until the code is redeemed: free it with em_free_secret (buf.h).
 */
#ifndef EM_PKCE_H
#define EM_PKCE_H

#include <stddef.h>
#include "util/error.h"

/* Bytes of randomness behind a verifier (64 base64url characters; RFC 7636
 * allows 43..128) and behind state and nonce (43 characters). */
#define EM_PKCE_VERIFIER_BYTES 48
#define EM_PKCE_RANDOM_BYTES 32

/* base64url (no padding) of bytes random bytes, 1..96. Caller frees with
 * em_free_secret. EM_EINTERNAL when the random generator fails. */
int em_pkce_random(char **out, size_t bytes, em_error *err);

/* A new code verifier. Caller frees with em_free_secret. */
int em_pkce_verifier(char **out, em_error *err);

/* BASE64URL(SHA-256(ASCII(verifier))). EM_EINVAL when verifier is not 43..128
 * characters of [A-Za-z0-9-._~]. Caller frees with free(). */
int em_pkce_challenge(char **out, const char *verifier, em_error *err);

/* What goes into the authorize URL. All borrowed; optional ones may be NULL. */
typedef struct em_pkce_authorize {
    const char *endpoint;       /* authorization_endpoint from discovery (required) */
    const char *client_id;      /* required */
    const char *redirect_uri;   /* required */
    const char *scope;          /* required */
    const char *state;          /* required */
    const char *nonce;          /* required */
    const char *code_challenge; /* required; method S256 */
    const char *prompt;
    const char *login_hint;
    const char *domain_hint;
    const char *claims;
} em_pkce_authorize;

/* endpoint?client_id=..&response_type=code&redirect_uri=..&scope=..&state=..
 * &nonce=..&code_challenge=..&code_challenge_method=S256[&prompt=..]
 * [&login_hint=..][&domain_hint=..][&claims=..]&response_mode=query,
 * every value URL-encoded; '&' instead of '?' when endpoint has a query.
 * Caller frees with free(). */
int em_pkce_authorize_url(char **out, const em_pkce_authorize *request, em_error *err);

#endif
