/* jwt.h - JSON Web Tokens: verification of id_tokens against a JWKS
 * (RS256), reading claims of tokens we only carry, checking a
 * caller-supplied access token, and signing client assertions.
 */
#ifndef EM_JWT_H
#define EM_JWT_H

#include <time.h>
#include "util/error.h"

/* Allowed clock skew for exp/nbf, seconds. */
#define EM_JWT_SKEW 300

typedef struct em_jwt_claims {
    char *iss, *sub, *aud, *tid, *oid, *nonce;
    char *preferred_username, *name, *upn;
    char *appid, *azp;                  /* the client of an access token (v1, v2) */
    time_t exp, nbf, iat;               /* 0 when absent */
} em_jwt_claims;

/* What an id_token must satisfy. issuer may hold the template "{tenantid}",
 * which is replaced with the token's tid before comparing. nonce may be NULL
 * (device code flow has none). now is the current time (tests pass a fixed one). */
typedef struct em_jwt_expect {
    const char *issuer;
    const char *audience;               /* the client id */
    const char *nonce;
    time_t now;
} em_jwt_expect;

/* Verifies the RS256 signature of token with the key from jwks_json whose
 * kid matches the header's, then iss, aud, exp, nbf (with EM_JWT_SKEW) and
 * nonce. On success *out holds the claims (caller frees with
 * em_jwt_claims_free). Errors: EM_ETOKEN (message says which check failed),
 * EM_ENOMEM. When no key has the token's kid the code is EM_ETOKEN and
 * err->server_code is "unknown_kid" so the caller can refresh the JWKS once. */
int em_jwt_verify(em_jwt_claims **out, const char *token, const char *jwks_json,
                  const em_jwt_expect *expect, em_error *err);

/* Decodes the claims of a token without verifying it (for access tokens,
 * which are for the resource to verify). */
int em_jwt_decode_claims(em_jwt_claims **out, const char *token, em_error *err);

void em_jwt_claims_free(em_jwt_claims **claims);

/* The Office 365 Exchange Online application id: an access token's aud in
 * the v1 form. */
#define EM_JWT_EXCHANGE_APP_ID "00000002-0000-0ff1-ce00-000000000000"

/* Checks a caller-supplied access token (-AccessToken) before use, without
 * verifying its signature (that is the resource's job): a JWT whose exp is
 * after now (else EM_ETOKEN: "The access token expired at ...; -AccessToken
 * connections cannot renew it: ..."), whose aud is resource (with or
 * without a trailing '/') or EM_JWT_EXCHANGE_APP_ID; resource NULL skips
 * the audience check. *out gets the claims (tid, upn, ...); caller frees. */
int em_jwt_check_access_token(em_jwt_claims **out, const char *token, const char *resource,
                              time_t now, em_error *err);

struct em_cert;

typedef enum em_jwt_alg {
    EM_JWT_PS256 = 0,           /* RSASSA-PSS, SHA-256, salt 32; header x5t#S256 (Microsoft's current advice) */
    EM_JWT_RS256 = 1            /* RSASSA-PKCS1-v1_5, SHA-256; header x5t (older form, other providers) */
} em_jwt_alg;

/* Client assertion lifetime, seconds. */
#define EM_JWT_ASSERTION_LIFETIME 600

/* Signs a client assertion (RFC 7523) with cert's key: header alg, typ JWT
 * and x5t#S256 (PS256) or x5t (RS256); claims aud = audience (the token
 * endpoint), iss = sub = client_id, jti = a new GUID, nbf = iat = now,
 * exp = now + EM_JWT_ASSERTION_LIFETIME. The certificate must be valid at
 * now (EM_ECONFIG says when it expired). Caller frees *out with
 * em_free_secret (it is a credential for ten minutes). */
int em_jwt_sign_client_assertion(char **out, const struct em_cert *cert, const char *client_id,
                                 const char *audience, em_jwt_alg alg, time_t now, em_error *err);

#endif
