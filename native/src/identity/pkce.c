/* pkce.c - PKCE verifier and challenge, state and nonce, authorize URL. */
#include "identity/pkce.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util/base64.h"
#include "util/buf.h"
#include "net/http.h"

int em_pkce_random(char **out, size_t bytes, em_error *err)
{
    unsigned char raw[96];
    int rc = EM_OK;

    if (out == NULL)
        return em_error_set(err, EM_EINVAL, "no place for the random value");
    *out = NULL;
    if (bytes == 0 || bytes > sizeof raw)
        return em_error_set(err, EM_EINVAL, "random value size out of range");
    ERR_clear_error();
    if (RAND_bytes(raw, (int)bytes) != 1) {
        while (ERR_get_error() != 0)
            ;
        return em_error_set(err, EM_EINTERNAL, "the random generator failed");
    }
    rc = em_base64url_encode(out, raw, bytes);
    OPENSSL_cleanse(raw, sizeof raw);
    if (rc != EM_OK)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    return EM_OK;
}

int em_pkce_verifier(char **out, em_error *err)
{
    return em_pkce_random(out, EM_PKCE_VERIFIER_BYTES, err);
}

/* RFC 7636 4.1: unreserved characters, 43..128 of them. */
static bool verifier_ok(const char *v)
{
    size_t len = strnlen(v, 129);

    if (len < 43 || len > 128)
        return false;
    for (const char *p = v; *p != '\0'; p++) {
        bool ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                  *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (!ok)
            return false;
    }
    return true;
}

int em_pkce_challenge(char **out, const char *verifier, em_error *err)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;

    if (out == NULL)
        return em_error_set(err, EM_EINVAL, "no place for the challenge");
    *out = NULL;
    if (verifier == NULL || !verifier_ok(verifier))
        return em_error_set(err, EM_EINVAL, "the code verifier is not 43..128 unreserved characters");
    if (EVP_Digest(verifier, strlen(verifier), digest, &digest_len, EVP_sha256(), NULL) != 1) {
        while (ERR_get_error() != 0)
            ;
        return em_error_set(err, EM_EINTERNAL, "SHA-256 failed");
    }
    if (em_base64url_encode(out, digest, digest_len) != EM_OK)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    return EM_OK;
}

int em_pkce_authorize_url(char **out, const em_pkce_authorize *r, em_error *err)
{
    em_buf query = EM_BUF_INIT;
    em_buf url = EM_BUF_INIT;
    int rc = EM_OK;

    if (out == NULL || r == NULL || r->endpoint == NULL || r->client_id == NULL ||
        r->redirect_uri == NULL || r->scope == NULL || r->state == NULL || r->nonce == NULL ||
        r->code_challenge == NULL)
        return em_error_set(err, EM_EINVAL, "the authorize request lacks a required field");
    *out = NULL;
    const char *const pairs[] = {
        "client_id", r->client_id,
        "response_type", "code",
        "redirect_uri", r->redirect_uri,
        "scope", r->scope,
        "state", r->state,
        "nonce", r->nonce,
        "code_challenge", r->code_challenge,
        "code_challenge_method", "S256",
        "prompt", r->prompt,
        "login_hint", r->login_hint,
        "domain_hint", r->domain_hint,
        "claims", r->claims,
        "response_mode", "query",
        NULL};
    for (size_t i = 0; pairs[i] != NULL; i += 2) {
        if (pairs[i + 1] == NULL || pairs[i + 1][0] == '\0')
            continue;
        if (em_http_form_add(&query, pairs[i], pairs[i + 1]) != EM_OK) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (em_buf_printf(&url, "%s%c%s", r->endpoint, strchr(r->endpoint, '?') != NULL ? '&' : '?',
                      query.data) != EM_OK) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto out;
    }
    *out = em_buf_detach(&url);
    if (*out == NULL)
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
out:
    em_buf_free(&url);
    em_buf_free(&query);
    return rc;
}
