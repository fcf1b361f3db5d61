/* fuzz_jwt.c - em_jwt_verify, em_jwt_decode_claims and base64url on
 * untrusted text.
 *
 * Input: "<token>\n<jwks>"; without a newline the whole input is the token
 * and the key set is empty. Seeds (corpus/jwt/, made by
 * tests/unit/fixtures/make_fuzz_seeds.mjs) hold tokens signed by a
 * throwaway key with its key set, so the signature and claim checks run.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/jwt.h"
#include "util/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* require() without NDEBUG's say: the replay tests build as RelWithDebInfo. */
static void require(bool ok)
{
    if (!ok)
        abort();
}

static void check_claims(const em_jwt_claims *c)
{
    /* Every string is a C string the caller may print. */
    const char *fields[] = {c->iss, c->sub, c->aud, c->tid, c->oid, c->nonce,
                            c->preferred_username, c->name, c->upn};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        require(fields[i] == NULL || strlen(fields[i]) < 1024 * 1024);
    require(c->exp >= 0 && c->nbf >= 0 && c->iat >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    em_jwt_expect expect = {"https://login.example.test/{tenantid}/v2.0",
                            "fb78d390-0c51-40cd-8e17-fdbfab77341b", NULL, 1700000000};
    em_jwt_claims *claims = NULL;
    em_error err = {0};
    const char *jwks = "{\"keys\":[]}";
    char *text = NULL;
    char *newline = NULL;
    unsigned char *bytes = NULL;
    size_t len = 0;

    if (size > 4 * 1024 * 1024)
        return 0;
    text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    newline = memchr(text, '\n', size);
    if (newline != NULL) {
        *newline = '\0';
        jwks = newline + 1;
    }

    if (em_jwt_verify(&claims, text, jwks, &expect, &err) == EM_OK) {
        require(claims != NULL);
        require(claims->aud != NULL && strcmp(claims->aud, expect.audience) == 0);
        require(claims->exp + EM_JWT_SKEW > expect.now);
        check_claims(claims);
    } else {
        require(claims == NULL);
        require(err.code != EM_OK);
        require(memchr(err.message, '\0', sizeof err.message) != NULL);
    }
    em_jwt_claims_free(&claims);

    if (em_jwt_decode_claims(&claims, text, &err) == EM_OK)
        check_claims(claims);
    em_jwt_claims_free(&claims);

    /* decode(encode(x)) == x for whatever the token text decodes to. */
    if (em_base64url_decode(&bytes, &len, text, strlen(text)) == EM_OK) {
        char *again = NULL;
        unsigned char *back = NULL;
        size_t back_len = 0;
        require(em_base64url_encode(&again, bytes, len) == EM_OK);
        require(em_base64url_decode(&back, &back_len, again, strlen(again)) == EM_OK);
        require(back_len == len && memcmp(back, bytes, len) == 0);
        free(again);
        free(back);
    }
    free(bytes);
    free(text);
    return 0;
}
