/* jwt_testkit.h - test-only helpers shared by test_jwt.c and test_oidc.c:
 * a throwaway RSA key made at test time, its JWKS, and RS256 signing.
 * Nothing here is a real key; everything is made fresh per run.
 */
#ifndef EM_JWT_TESTKIT_H
#define EM_JWT_TESTKIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "identity/jwt.h"
#include "util/base64.h"

/* A fresh RSA key of bits; NULL on failure. */
static inline EVP_PKEY *testkit_key(unsigned int bits)
{
    return EVP_RSA_gen(bits);
}

/* base64url of a BIGNUM parameter of key; caller frees. */
static inline char *testkit_bn_b64(EVP_PKEY *key, const char *param)
{
    BIGNUM *bn = NULL;
    unsigned char *bytes = NULL;
    char *text = NULL;
    int len = 0;

    if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
        return NULL;
    len = BN_num_bytes(bn);
    bytes = malloc((size_t)len);
    if (bytes != NULL) {
        BN_bn2bin(bn, bytes);
        em_base64url_encode(&text, bytes, (size_t)len);
    }
    free(bytes);
    BN_free(bn);
    return text;
}

/* One JWK for key with kid; caller frees. */
static inline char *testkit_jwk(EVP_PKEY *key, const char *kid)
{
    char *n = testkit_bn_b64(key, OSSL_PKEY_PARAM_RSA_N);
    char *e = testkit_bn_b64(key, OSSL_PKEY_PARAM_RSA_E);
    size_t size = strlen(n) + strlen(e) + strlen(kid) + 128;
    char *jwk = malloc(size);

    snprintf(jwk, size, "{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}",
             kid, n, e);
    free(n);
    free(e);
    return jwk;
}

/* {"keys":[<jwk of key with kid>]}; caller frees. */
static inline char *testkit_jwks(EVP_PKEY *key, const char *kid)
{
    char *jwk = testkit_jwk(key, kid);
    size_t size = strlen(jwk) + 32;
    char *jwks = malloc(size);

    snprintf(jwks, size, "{\"keys\":[%s]}", jwk);
    free(jwk);
    return jwks;
}

/* base64url(header).base64url(payload), caller frees. */
static inline char *testkit_signing_input(const char *header, const char *payload)
{
    char *h = NULL;
    char *p = NULL;
    char *out = NULL;

    em_base64url_encode(&h, (const unsigned char *)header, strlen(header));
    em_base64url_encode(&p, (const unsigned char *)payload, strlen(payload));
    out = malloc(strlen(h) + strlen(p) + 2);
    sprintf(out, "%s.%s", h, p);
    free(h);
    free(p);
    return out;
}

/* A compact JWS of header and payload signed RS256 with key (or with an
 * empty signature when key is NULL); caller frees. */
static inline char *testkit_token(EVP_PKEY *key, const char *header, const char *payload)
{
    char *input = testkit_signing_input(header, payload);
    unsigned char sig[1024];
    size_t sig_len = 0;
    char *sig_text = NULL;
    char *token = NULL;

    if (key != NULL) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        sig_len = sizeof sig;
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key);
        EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input, strlen(input));
        EVP_MD_CTX_free(md);
    }
    em_base64url_encode(&sig_text, sig, sig_len);
    token = malloc(strlen(input) + strlen(sig_text) + 2);
    sprintf(token, "%s.%s", input, sig_text);
    free(input);
    free(sig_text);
    return token;
}

#endif
