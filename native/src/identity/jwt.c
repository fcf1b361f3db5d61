/* jwt.c - id_token verification (RS256 against a JWKS) and claim reading.
 *
 * Only what the helper needs: compact JWS, alg RS256, RSA keys from a JWKS
 * chosen by kid. Everything the token says is untrusted until the signature
 * checks, so sizes are bounded and every field is type-checked. Messages
 * name the failed check and never quote the token.
 */
#define _POSIX_C_SOURCE 200809L

#include "identity/jwt.h"

#include "util/base64.h"
#include "util/buf.h"
#include "identity/cert.h"
#include "util/guid.h"
#include "util/json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

/* id_tokens are a few KiB; access tokens with many groups stay far below. */
#define JWT_MAX_TOKEN (64 * 1024)
/* Microsoft's key set is about 20 KiB. */
#define JWT_MAX_JWKS (1024 * 1024)
#define JWT_MIN_RSA_BITS 2048
#define JWT_MAX_RSA_BITS 8192

/* Parses len bytes into a JSON object (json.h bounds the nesting); NULL
 * when the text is not one. */
static yajl_val parse_object(const char *text, size_t len)
{
    yajl_val root = NULL;

    if (em_json_parse(&root, text, len, NULL) != EM_OK)
        return NULL;
    if (!YAJL_IS_OBJECT(root))
        em_json_free(&root);
    return root;
}

/* v's text when v is a string, else NULL (YAJL_GET_STRING without the macro's
 * maybe-NULL that -Wnonnull cannot see through). */
static const char *string_of(yajl_val v)
{
    return v != NULL && v->type == yajl_t_string ? v->u.string : NULL;
}

static int string_is(yajl_val v, const char *want)
{
    const char *s = string_of(v);
    return s != NULL && strcmp(s, want) == 0;
}

/* A compact JWS split into its three parts (pointers into the token). */
typedef struct jws_parts {
    const char *header, *payload, *signature;
    size_t header_len, payload_len, signature_len;
} jws_parts;

static int split_token(jws_parts *out, const char *token, em_error *err)
{
    const char *dot1 = NULL;
    const char *dot2 = NULL;
    size_t len = 0;

    if (token == NULL)
        return em_error_set(err, EM_ETOKEN, "no token");
    len = strnlen(token, JWT_MAX_TOKEN + 1);
    if (len > JWT_MAX_TOKEN)
        return em_error_set(err, EM_ETOKEN, "token is longer than %d bytes", JWT_MAX_TOKEN);
    dot1 = memchr(token, '.', len);
    dot2 = dot1 == NULL ? NULL : memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        return em_error_set(err, EM_ETOKEN, "token is not a compact JWS (three dot-separated parts)");
    out->header = token;
    out->header_len = (size_t)(dot1 - token);
    out->payload = dot1 + 1;
    out->payload_len = (size_t)(dot2 - dot1 - 1);
    out->signature = dot2 + 1;
    out->signature_len = len - (size_t)(dot2 + 1 - token);
    return EM_OK;
}

/* Decodes one base64url part that must hold a JSON object. */
static int decode_json_part(yajl_val *out, const char *part, size_t len, const char *what,
                            em_error *err)
{
    unsigned char *text = NULL;
    size_t text_len = 0;
    int rc = em_base64url_decode(&text, &text_len, part, len);

    *out = NULL;
    if (rc == EM_ENOMEM)
        return em_error_set(err, EM_ENOMEM, "out of memory decoding the token %s", what);
    if (rc != EM_OK)
        return em_error_set(err, EM_ETOKEN, "token %s is not base64url", what);
    *out = parse_object((const char *)text, text_len);
    free(text);
    if (*out == NULL)
        return em_error_set(err, EM_ETOKEN, "token %s is not a JSON object", what);
    return EM_OK;
}

void em_jwt_claims_free(em_jwt_claims **claims)
{
    em_jwt_claims *c = NULL;

    if (claims == NULL || *claims == NULL)
        return;
    c = *claims;
    /* nonce binds a sign-in; the rest is identity, not secret, but cheap to wipe. */
    char **fields[] = {&c->iss, &c->sub, &c->aud, &c->tid, &c->oid, &c->nonce,
                       &c->preferred_username, &c->name, &c->upn, &c->appid, &c->azp};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (*fields[i] != NULL)
            OPENSSL_cleanse(*fields[i], strlen(*fields[i]));
        free(*fields[i]);
    }
    free(c);
    *claims = NULL;
}

/* Copies the string claim name into *out (left NULL when absent). */
static int take_string(char **out, yajl_val payload, const char *name, em_error *err)
{
    yajl_val v = em_json_get(payload, name);

    if (v == NULL || YAJL_IS_NULL(v))
        return EM_OK;
    if (string_of(v) == NULL)
        return em_error_set(err, EM_ETOKEN, "token claim '%s' is not a string", name);
    *out = strdup(string_of(v));
    if (*out == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory reading token claims");
    return EM_OK;
}

/* Reads the NumericDate claim name into *out (0 when absent). */
static int take_time(time_t *out, yajl_val payload, const char *name, em_error *err)
{
    yajl_val v = em_json_get(payload, name);
    double d = 0;

    if (v == NULL || YAJL_IS_NULL(v))
        return EM_OK;
    if (YAJL_IS_INTEGER(v))
        d = (double)YAJL_GET_INTEGER(v);
    else if (YAJL_IS_DOUBLE(v))
        d = YAJL_GET_DOUBLE(v);
    else
        return em_error_set(err, EM_ETOKEN, "token claim '%s' is not a number", name);
    /* Up to year 9999: beyond that it is garbage, and time_t must not overflow. */
    if (!(d >= 0 && d <= 253402300799.0))
        return em_error_set(err, EM_ETOKEN, "token claim '%s' is out of range", name);
    *out = (time_t)d;
    return EM_OK;
}

/* aud is a string or an array of strings. Keeps want when the array holds
 * it (so the claims say which audience matched), else the first element. */
static int take_audience(char **out, yajl_val payload, const char *want, em_error *err)
{
    yajl_val v = em_json_get(payload, "aud");
    const char *pick = NULL;
    bool matched = false;

    if (v == NULL || YAJL_IS_NULL(v))
        return EM_OK;
    if (string_of(v) != NULL) {
        pick = string_of(v);
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++) {
            yajl_val a = v->u.array.values[i];
            if (string_of(a) == NULL)
                return em_error_set(err, EM_ETOKEN, "token claim 'aud' holds a non-string");
            if (pick == NULL)
                pick = string_of(a);
            if (want != NULL && string_is(a, want))
                matched = true;
        }
        if (matched)
            pick = want;
        if (pick == NULL)
            return EM_OK;
    } else {
        return em_error_set(err, EM_ETOKEN, "token claim 'aud' is neither a string nor an array");
    }
    *out = strdup(pick);
    if (*out == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory reading token claims");
    return EM_OK;
}

static int claims_from_payload(em_jwt_claims **out, yajl_val payload, const char *audience,
                               em_error *err)
{
    em_jwt_claims *c = calloc(1, sizeof *c);
    int rc = EM_OK;

    *out = NULL;
    if (c == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory reading token claims");
    const struct { char **field; const char *name; } strings[] = {
        {&c->iss, "iss"}, {&c->sub, "sub"}, {&c->tid, "tid"}, {&c->oid, "oid"},
        {&c->nonce, "nonce"}, {&c->preferred_username, "preferred_username"},
        {&c->name, "name"}, {&c->upn, "upn"}, {&c->appid, "appid"}, {&c->azp, "azp"},
    };
    for (size_t i = 0; rc == EM_OK && i < sizeof strings / sizeof strings[0]; i++)
        rc = take_string(strings[i].field, payload, strings[i].name, err);
    if (rc == EM_OK)
        rc = take_audience(&c->aud, payload, audience, err);
    if (rc == EM_OK)
        rc = take_time(&c->exp, payload, "exp", err);
    if (rc == EM_OK)
        rc = take_time(&c->nbf, payload, "nbf", err);
    if (rc == EM_OK)
        rc = take_time(&c->iat, payload, "iat", err);
    if (rc != EM_OK) {
        em_jwt_claims_free(&c);
        return rc;
    }
    *out = c;
    return EM_OK;
}

int em_jwt_decode_claims(em_jwt_claims **out, const char *token, em_error *err)
{
    jws_parts parts = {0};
    yajl_val payload = NULL;
    int rc = EM_OK;

    if (out == NULL)
        return em_error_set(err, EM_EINVAL, "no place for the claims");
    *out = NULL;
    rc = split_token(&parts, token, err);
    if (rc != EM_OK)
        return rc;
    rc = decode_json_part(&payload, parts.payload, parts.payload_len, "payload", err);
    if (rc != EM_OK)
        return rc;
    rc = claims_from_payload(out, payload, NULL, err);
    em_json_free(&payload);
    return rc;
}

/* Decodes a base64url big-endian integer into a BIGNUM. */
static BIGNUM *bignum_from_b64url(const char *text)
{
    unsigned char *bytes = NULL;
    size_t len = 0;
    BIGNUM *bn = NULL;

    if (em_base64url_decode(&bytes, &len, text, strlen(text)) != EM_OK || len == 0 ||
        len > JWT_MAX_RSA_BITS / 8) {
        free(bytes);
        return NULL;
    }
    bn = BN_bin2bn(bytes, (int)len, NULL);
    free(bytes);
    return bn;
}

/* Builds an RSA public key from a JWK's n and e (OpenSSL 3 fromdata). */
static int rsa_key_from_jwk(EVP_PKEY **out, yajl_val jwk, em_error *err)
{
    yajl_val n = em_json_get(jwk, "n");
    yajl_val e = em_json_get(jwk, "e");
    BIGNUM *bn_n = NULL;
    BIGNUM *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int bits = 0;
    int rc = EM_ETOKEN;

    *out = NULL;
    if (string_of(n) == NULL || string_of(e) == NULL) {
        em_error_set(err, EM_ETOKEN, "signing key has no RSA modulus or exponent");
        goto out;
    }
    bn_n = bignum_from_b64url(string_of(n));
    bn_e = bignum_from_b64url(string_of(e));
    if (bn_n == NULL || bn_e == NULL) {
        em_error_set(err, EM_ETOKEN, "signing key has a malformed RSA modulus or exponent");
        goto out;
    }
    bits = BN_num_bits(bn_n);
    if (bits < JWT_MIN_RSA_BITS || bits > JWT_MAX_RSA_BITS || !BN_is_odd(bn_e) ||
        BN_num_bits(bn_e) < 2 || BN_num_bits(bn_e) > 64) {
        em_error_set(err, EM_ETOKEN, "signing key size or exponent is not acceptable (%d bits)", bits);
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory building the signing key");
        goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (params == NULL || pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0 ||
        EVP_PKEY_fromdata(pctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        em_error_set(err, EM_ETOKEN, "signing key could not be loaded");
        goto out;
    }
    rc = EM_OK;
out:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return rc;
}

/* Finds the RSA signing key with kid (any single one when kid is NULL). */
static int find_key(EVP_PKEY **out, const char *jwks_json, const char *kid, em_error *err)
{
    yajl_val root = NULL;
    yajl_val keys = NULL;
    yajl_val found = NULL;
    size_t len = 0;
    size_t candidates = 0;
    int rc = EM_ETOKEN;

    *out = NULL;
    len = jwks_json == NULL ? 0 : strnlen(jwks_json, JWT_MAX_JWKS + 1);
    if (len == 0 || len > JWT_MAX_JWKS) {
        em_error_set(err, EM_ETOKEN, "no usable key set (empty or too large)");
        goto out;
    }
    root = parse_object(jwks_json, len);
    keys = root == NULL ? NULL : em_json_get(root, "keys");
    if (keys == NULL || !YAJL_IS_ARRAY(keys)) {
        em_error_set(err, EM_ETOKEN, "key set is not a JWKS (no 'keys' array)");
        goto out;
    }
    for (size_t i = 0; i < keys->u.array.len; i++) {
        yajl_val jwk = keys->u.array.values[i];
        yajl_val kty = NULL, jkid = NULL, use = NULL, alg = NULL;
        if (!YAJL_IS_OBJECT(jwk))
            continue;
        kty = em_json_get(jwk, "kty");
        jkid = em_json_get(jwk, "kid");
        use = em_json_get(jwk, "use");
        alg = em_json_get(jwk, "alg");
        if (!string_is(kty, "RSA"))
            continue;
        if (use != NULL && !string_is(use, "sig"))
            continue;
        if (alg != NULL && !string_is(alg, "RS256"))
            continue;
        if (kid != NULL && !string_is(jkid, kid))
            continue;
        found = jwk;
        candidates++;
        if (kid != NULL)
            break;
    }
    if (found == NULL || candidates != 1) {
        em_error_set(err, EM_ETOKEN, "no signing key in the key set matches the token's key id");
        if (err != NULL)
            snprintf(err->server_code, sizeof err->server_code, "%s", "unknown_kid");
        goto out;
    }
    rc = rsa_key_from_jwk(out, found, err);
out:
    em_json_free(&root);
    return rc;
}

/* RS256: RSASSA-PKCS1-v1_5 with SHA-256 over "header.payload". */
static int verify_signature(EVP_PKEY *key, const jws_parts *parts, em_error *err)
{
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    EVP_MD_CTX *md = NULL;
    int rc = em_base64url_decode(&sig, &sig_len, parts->signature, parts->signature_len);

    if (rc == EM_ENOMEM)
        return em_error_set(err, EM_ENOMEM, "out of memory decoding the signature");
    if (rc != EM_OK)
        return em_error_set(err, EM_ETOKEN, "token signature is not base64url");
    rc = EM_ETOKEN;
    if (sig_len != (size_t)EVP_PKEY_get_size(key)) {
        em_error_set(err, EM_ETOKEN, "token signature check failed (wrong length)");
        goto out;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory checking the signature");
        goto out;
    }
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)parts->header,
                         parts->header_len + 1 + parts->payload_len) != 1) {
        em_error_set(err, EM_ETOKEN, "token signature check failed");
        goto out;
    }
    rc = EM_OK;
out:
    EVP_MD_CTX_free(md);
    free(sig);
    return rc;
}

/* Header: alg must be RS256 (never none or HS*, which a public key would
 * "verify"); crit is not understood, so it is refused. */
static int check_header(char **out_kid, const jws_parts *parts, em_error *err)
{
    yajl_val header = NULL;
    yajl_val alg = NULL;
    yajl_val kid = NULL;
    int rc = decode_json_part(&header, parts->header, parts->header_len, "header", err);

    *out_kid = NULL;
    if (rc != EM_OK)
        return rc;
    alg = em_json_get(header, "alg");
    kid = em_json_get(header, "kid");
    if (!string_is(alg, "RS256")) {
        rc = em_error_set(err, EM_ETOKEN, "token algorithm is not RS256");
    } else if (em_json_get(header, "crit") != NULL) {
        rc = em_error_set(err, EM_ETOKEN, "token header has critical extensions");
    } else if (kid != NULL && string_of(kid) == NULL) {
        rc = em_error_set(err, EM_ETOKEN, "token key id is not a string");
    } else if (kid != NULL) {
        *out_kid = strdup(string_of(kid));
        if (*out_kid == NULL)
            rc = em_error_set(err, EM_ENOMEM, "out of memory reading the token header");
    }
    em_json_free(&header);
    return rc;
}

/* expected with "{tenantid}" replaced by tid; caller frees. */
static char *expand_issuer(const char *expected, const char *tid)
{
    static const char tmpl[] = "{tenantid}";
    const char *at = strstr(expected, tmpl);
    size_t head = 0;
    char *out = NULL;

    if (at == NULL)
        return strdup(expected);
    if (tid == NULL || tid[0] == '\0')
        return NULL;
    head = (size_t)(at - expected);
    out = malloc(strlen(expected) - (sizeof tmpl - 1) + strlen(tid) + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, expected, head);
    strcpy(out + head, tid);
    strcat(out, at + sizeof tmpl - 1);
    return out;
}

static int check_claims(const em_jwt_claims *c, const em_jwt_expect *expect, em_error *err)
{
    char *issuer = NULL;
    int rc = EM_ETOKEN;

    if (c->iss == NULL) {
        em_error_set(err, EM_ETOKEN, "id_token check failed: no issuer");
        goto out;
    }
    if (expect->issuer != NULL) {
        issuer = expand_issuer(expect->issuer, c->tid);
        if (issuer == NULL && strstr(expect->issuer, "{tenantid}") != NULL && c->tid == NULL) {
            em_error_set(err, EM_ETOKEN, "id_token check failed: no tenant id for the issuer template");
            goto out;
        }
        if (issuer == NULL) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory checking the issuer");
            goto out;
        }
        if (strcmp(issuer, c->iss) != 0) {
            em_error_set(err, EM_ETOKEN, "id_token check failed: issuer '%.160s' is not '%.160s'",
                         c->iss, issuer);
            goto out;
        }
    }
    if (expect->audience != NULL && (c->aud == NULL || strcmp(c->aud, expect->audience) != 0)) {
        em_error_set(err, EM_ETOKEN, "id_token check failed: audience is not this client");
        goto out;
    }
    if (c->exp == 0) {
        em_error_set(err, EM_ETOKEN, "id_token check failed: no expiry");
        goto out;
    }
    if (expect->now >= c->exp + EM_JWT_SKEW) {
        em_error_set(err, EM_ETOKEN, "id_token check failed: expired");
        goto out;
    }
    if (c->nbf != 0 && expect->now + EM_JWT_SKEW < c->nbf) {
        em_error_set(err, EM_ETOKEN, "id_token check failed: not valid yet (check the clock)");
        goto out;
    }
    if (expect->nonce != NULL && (c->nonce == NULL || strcmp(c->nonce, expect->nonce) != 0)) {
        em_error_set(err, EM_ETOKEN, "id_token check failed: nonce does not match");
        goto out;
    }
    rc = EM_OK;
out:
    free(issuer);
    return rc;
}

int em_jwt_verify(em_jwt_claims **out, const char *token, const char *jwks_json,
                  const em_jwt_expect *expect, em_error *err)
{
    jws_parts parts;
    char *kid = NULL;
    EVP_PKEY *key = NULL;
    yajl_val payload = NULL;
    em_jwt_claims *claims = NULL;
    int rc = EM_OK;

    if (out == NULL || expect == NULL)
        return em_error_set(err, EM_EINVAL, "no place for the claims or no expectations");
    *out = NULL;
    ERR_clear_error();
    rc = split_token(&parts, token, err);
    if (rc != EM_OK)
        goto out;
    rc = check_header(&kid, &parts, err);
    if (rc != EM_OK)
        goto out;
    rc = find_key(&key, jwks_json, kid, err);
    if (rc != EM_OK)
        goto out;
    rc = verify_signature(key, &parts, err);
    if (rc != EM_OK)
        goto out;
    rc = decode_json_part(&payload, parts.payload, parts.payload_len, "payload", err);
    if (rc != EM_OK)
        goto out;
    rc = claims_from_payload(&claims, payload, expect->audience, err);
    if (rc != EM_OK)
        goto out;
    rc = check_claims(claims, expect, err);
    if (rc != EM_OK)
        goto out;
    *out = claims;
    claims = NULL;
out:
    /* OpenSSL's reasons are not shown to users; leave the queue empty for the next call. */
    while (ERR_get_error() != 0)
        ;
    em_jwt_claims_free(&claims);
    em_json_free(&payload);
    EVP_PKEY_free(key);
    free(kid);
    return rc;
}

/* ---- access tokens supplied by the caller ------------------------------ */

/* a and b equal, ignoring one trailing '/' on either and the case. */
static bool same_resource(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la > 0 && a[la - 1] == '/')
        la--;
    if (lb > 0 && b[lb - 1] == '/')
        lb--;
    if (la != lb)
        return false;
    for (size_t i = 0; i < la; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

int em_jwt_check_access_token(em_jwt_claims **out, const char *token, const char *resource,
                              time_t now, em_error *err)
{
    em_jwt_claims *c = NULL;
    em_error why = {0};
    char when[32];
    struct tm tm;
    int rc = EM_OK;

    if (out == NULL || token == NULL || token[0] == '\0')
        return em_error_set(err, EM_EINVAL, "no access token given");
    *out = NULL;
    rc = em_jwt_decode_claims(&c, token, &why);
    if (rc == EM_ENOMEM)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    if (rc != EM_OK)
        return em_error_set(err, EM_ETOKEN, "the access token is not a JWT (%s)", why.message);
    if (c->exp == 0) {
        rc = em_error_set(err, EM_ETOKEN, "the access token has no expiry (exp)");
        goto out;
    }
    if (c->exp <= now) {
        gmtime_r(&c->exp, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        rc = em_error_set(err, EM_ETOKEN, "The access token expired at %s; -AccessToken connections cannot "
                                          "renew it: get a new token or use another sign-in mode", when);
        goto out;
    }
    if (resource != NULL && (c->aud == NULL || (!same_resource(c->aud, resource) &&
                                                strcmp(c->aud, EM_JWT_EXCHANGE_APP_ID) != 0))) {
        rc = em_error_set(err, EM_ETOKEN, "the access token is for another resource ('%.120s'), not '%.120s'",
                          c->aud == NULL ? "none" : c->aud, resource);
        goto out;
    }
    *out = c;
    c = NULL;
out:
    em_jwt_claims_free(&c);
    return rc;
}

/* ---- client assertions ------------------------------------------------- */

/* base64url of the generator's text into *out. */
static int gen_b64(char **out, yajl_gen g)
{
    const unsigned char *text = NULL;
    size_t len = 0;

    if (yajl_gen_get_buf(g, &text, &len) != yajl_gen_status_ok)
        return EM_EINTERNAL;
    return em_base64url_encode(out, text, len);
}

static int assertion_parts(char **header, char **payload, const em_cert *cert, const char *client_id,
                           const char *audience, em_jwt_alg alg, time_t now, const char *jti)
{
    yajl_gen h = em_json_gen_new();
    yajl_gen p = em_json_gen_new();
    int st = h == NULL || p == NULL ? yajl_gen_in_error_state : yajl_gen_status_ok;
    int rc = EM_OK;

    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_open(h);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(h, "alg", alg == EM_JWT_PS256 ? "PS256" : "RS256");
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(h, "typ", "JWT");
    if (st == yajl_gen_status_ok)
        st = alg == EM_JWT_PS256 ? em_json_gen_kv_str(h, "x5t#S256", em_cert_x5t_s256(cert))
                                 : em_json_gen_kv_str(h, "x5t", em_cert_x5t(cert));
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(h);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_open(p);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(p, "aud", audience);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(p, "iss", client_id);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(p, "sub", client_id);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(p, "jti", jti);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(p, "nbf", (long long)now);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(p, "iat", (long long)now);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(p, "exp", (long long)now + EM_JWT_ASSERTION_LIFETIME);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(p);
    if (st != yajl_gen_status_ok)
        rc = st == yajl_gen_invalid_string ? EM_EINVAL : EM_ENOMEM;
    if (rc == EM_OK)
        rc = gen_b64(header, h);
    if (rc == EM_OK)
        rc = gen_b64(payload, p);
    if (h != NULL)
        yajl_gen_free(h);
    if (p != NULL)
        yajl_gen_free(p);
    return rc;
}

/* Signs input with SHA-256 and the padding of alg; *out gets base64url. */
static int sign_input(char **out, EVP_PKEY *key, em_jwt_alg alg, const char *input, size_t len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    int rc = EM_EINTERNAL;

    if (md == NULL)
        return EM_ENOMEM;
    if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) != 1)
        goto out;
    if (alg == EM_JWT_PS256 &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
        goto out;
    if (EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)input, len) != 1)
        goto out;
    sig = malloc(sig_len);
    if (sig == NULL) {
        rc = EM_ENOMEM;
        goto out;
    }
    if (EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input, len) != 1)
        goto out;
    rc = em_base64url_encode(out, sig, sig_len);
out:
    free(sig);
    EVP_MD_CTX_free(md);
    return rc;
}

int em_jwt_sign_client_assertion(char **out, const em_cert *cert, const char *client_id,
                                 const char *audience, em_jwt_alg alg, time_t now, em_error *err)
{
    char jti[EM_GUID_LEN + 1];
    char *header = NULL;
    char *payload = NULL;
    char *sig = NULL;
    em_buf token = EM_BUF_INIT;
    int rc = EM_OK;

    if (out == NULL || cert == NULL || client_id == NULL || audience == NULL ||
        (alg != EM_JWT_PS256 && alg != EM_JWT_RS256))
        return em_error_set(err, EM_EINVAL, "a client assertion needs a certificate, client id and audience");
    *out = NULL;
    rc = em_cert_check_validity(cert, now, err);
    if (rc != EM_OK)
        return rc;
    if (em_guid_new(jti) != EM_OK)
        return em_error_set(err, EM_EINTERNAL, "the random generator failed");
    ERR_clear_error();
    rc = assertion_parts(&header, &payload, cert, client_id, audience, alg, now, jti);
    if (rc != EM_OK) {
        rc = em_error_set(err, rc, "cannot build the client assertion (client id or audience not UTF-8?)");
        goto out;
    }
    if (em_buf_printf(&token, "%s.%s", header, payload) != EM_OK) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto out;
    }
    rc = sign_input(&sig, em_cert_key(cert), alg, token.data, token.len);
    if (rc != EM_OK) {
        rc = em_error_set(err, rc, "cannot sign the client assertion with the certificate's key");
        goto out;
    }
    if (em_buf_printf(&token, ".%s", sig) != EM_OK) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto out;
    }
    *out = em_buf_detach(&token);
    if (*out == NULL)
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
out:
    while (ERR_get_error() != 0)
        ;
    em_buf_free(&token);
    free(header);
    free(payload);
    free(sig);
    return rc;
}
