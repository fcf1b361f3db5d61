/* test_jwt.c - id_token verification and claim reading (jwt.c).
 *
 * Keys are made fresh at test time (jwt_testkit.h); tokens are signed here,
 * so every case states exactly which part of the token is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/hmac.h>

#include "util/base64.h"
#include "util/json.h"
#include "jwt_testkit.h"

#define NOW ((time_t)1700000000)
#define CLIENT "fb78d390-0c51-40cd-8e17-fdbfab77341b"
#define TID "6babcaad-604b-40ac-a9d7-9fd97c0b779f"
#define ISSUER_TEMPLATE "https://login.example.test/{tenantid}/v2.0"
#define ISSUER "https://login.example.test/" TID "/v2.0"
#define HEADER "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}"

typedef struct fixture {
    EVP_PKEY *key;          /* signs the tokens; its JWKS entry is kid k1 */
    EVP_PKEY *other;        /* a second key: wrong signatures */
    char *jwks;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    f->key = testkit_key(2048);
    f->other = testkit_key(2048);
    f->jwks = testkit_jwks(f->key, "k1");
    if (f->key == NULL || f->other == NULL || f->jwks == NULL)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->other);
    free(f->jwks);
    free(f);
    /* Every yajl tree the checks built was freed. */
    assert_int_equal(em_json_outstanding(), 0);
    return 0;
}

/* Claims of a good id_token, with exp/nbf/extra set by the caller. */
static char *payload(long exp, long nbf, const char *extra)
{
    char *p = malloc(1024);

    snprintf(p, 1024,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"tid\":\"%s\",\"oid\":\"o-1\",\"sub\":\"s-1\","
             "\"preferred_username\":\"admin@contoso.onmicrosoft.com\",\"name\":\"Ada Admin\","
             "\"iat\":%ld,\"exp\":%ld,\"nbf\":%ld%s}",
             ISSUER, CLIENT, TID, (long)NOW - 60, exp, nbf, extra == NULL ? "" : extra);
    return p;
}

static em_jwt_expect expect_default(void)
{
    em_jwt_expect e = {ISSUER_TEMPLATE, CLIENT, NULL, NOW};
    return e;
}

/* Verifies a token made from header and payload text signed with key. */
static int verify(fixture *f, EVP_PKEY *key, const char *header, const char *claims,
                  const em_jwt_expect *expect, em_jwt_claims **out, em_error *err)
{
    char *token = testkit_token(key, header, claims);
    int rc = em_jwt_verify(out, token, f->jwks, expect, err);

    char piece[17];

    /* No message may quote the token: look for a piece of its payload. */
    snprintf(piece, sizeof piece, "%s", strchr(token, '.') + 1);
    assert_null(strstr(err->message, piece));
    free(token);
    return rc;
}

static void test_base64url_round_trip(void **state)
{
    const unsigned char data[] = {0xfb, 0xff, 0x00, 0x3e, 0x3f, 'a', 'b'};
    (void)state;

    for (size_t len = 0; len <= sizeof data; len++) {
        char *text = NULL;
        unsigned char *back = NULL;
        size_t back_len = 0;
        assert_int_equal(em_base64url_encode(&text, data, len), EM_OK);
        assert_null(strchr(text, '='));
        assert_null(strchr(text, '+'));
        assert_null(strchr(text, '/'));
        assert_int_equal(em_base64url_decode(&back, &back_len, text, strlen(text)), EM_OK);
        assert_int_equal(back_len, len);
        assert_memory_equal(back, data, len);
        free(text);
        free(back);
    }
}

static void test_base64url_known_and_invalid(void **state)
{
    char *text = NULL;
    unsigned char *bytes = NULL;
    size_t len = 0;
    (void)state;

    assert_int_equal(em_base64url_encode(&text, (const unsigned char *)"\xfb\xff", 2), EM_OK);
    assert_string_equal(text, "-_8");
    free(text);
    assert_int_equal(em_base64url_decode(&bytes, &len, "SGVsbG8", 7), EM_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(bytes, "Hello", 5);
    free(bytes);
    /* Standard alphabet, padding, a lone trailing character, NUL: refused. */
    assert_int_equal(em_base64url_decode(&bytes, &len, "ab+/", 4), EM_EINVAL);
    assert_int_equal(em_base64url_decode(&bytes, &len, "SGk=", 4), EM_EINVAL);
    assert_int_equal(em_base64url_decode(&bytes, &len, "SGVsb", 5), EM_EINVAL);
    assert_int_equal(em_base64url_decode(&bytes, &len, "SG\0k", 4), EM_EINVAL);
    assert_null(bytes);
}

static void test_valid_token(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char *p = payload(NOW + 3600, NOW - 60, NULL);

    assert_int_equal(verify(f, f->key, HEADER, p, &e, &c, &err), EM_OK);
    assert_non_null(c);
    assert_string_equal(c->iss, ISSUER);
    assert_string_equal(c->aud, CLIENT);
    assert_string_equal(c->tid, TID);
    assert_string_equal(c->oid, "o-1");
    assert_string_equal(c->preferred_username, "admin@contoso.onmicrosoft.com");
    assert_string_equal(c->name, "Ada Admin");
    assert_int_equal(c->exp, NOW + 3600);
    assert_int_equal(c->nbf, NOW - 60);
    assert_int_equal(c->iat, NOW - 60);
    assert_null(c->nonce);
    em_jwt_claims_free(&c);
    assert_null(c);
    free(p);
}

static void test_bad_signature(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char *p = payload(NOW + 3600, NOW, NULL);

    assert_int_equal(verify(f, f->other, HEADER, p, &e, &c, &err), EM_ETOKEN);
    assert_null(c);
    assert_non_null(strstr(err.message, "signature"));
    free(p);
}

static void test_tampered_payload(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char *p = payload(NOW + 3600, NOW, NULL);
    char *good = testkit_token(f->key, HEADER, p);
    char *evil_input = testkit_signing_input(HEADER, "{\"iss\":\"x\"}");
    char *forged = malloc(strlen(good) + strlen(evil_input) + 2);

    /* The good signature on other claims. */
    sprintf(forged, "%s%s", evil_input, strrchr(good, '.'));
    assert_int_equal(em_jwt_verify(&c, forged, f->jwks, &e, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "signature"));
    free(forged);
    free(evil_input);
    free(good);
    free(p);
}

static void test_unknown_kid(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char *p = payload(NOW + 3600, NOW, NULL);

    assert_int_equal(verify(f, f->key, "{\"alg\":\"RS256\",\"kid\":\"k2\"}", p, &e, &c, &err),
                     EM_ETOKEN);
    assert_string_equal(err.server_code, "unknown_kid");
    free(p);
}

static void test_no_kid_single_key(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char *p = payload(NOW + 3600, NOW, NULL);

    assert_int_equal(verify(f, f->key, "{\"alg\":\"RS256\"}", p, &e, &c, &err), EM_OK);
    em_jwt_claims_free(&c);
    free(p);
}

static void test_alg_none_and_hs256_rejected(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char *p = payload(NOW + 3600, NOW, NULL);
    char *input = testkit_signing_input("{\"alg\":\"HS256\",\"kid\":\"k1\"}", p);
    unsigned char mac[32];
    unsigned int mac_len = 0;
    char *mac_text = NULL;
    char *token = NULL;

    assert_int_equal(verify(f, NULL, "{\"alg\":\"none\",\"kid\":\"k1\"}", p, &e, &c, &err),
                     EM_ETOKEN);
    assert_non_null(strstr(err.message, "RS256"));
    assert_int_equal(verify(f, NULL, "{\"kid\":\"k1\"}", p, &e, &c, &err), EM_ETOKEN);
    /* HS256 keyed with the public JWKS text: the classic key-confusion forgery. */
    HMAC(EVP_sha256(), f->jwks, (int)strlen(f->jwks), (const unsigned char *)input,
         strlen(input), mac, &mac_len);
    em_base64url_encode(&mac_text, mac, mac_len);
    token = malloc(strlen(input) + strlen(mac_text) + 2);
    sprintf(token, "%s.%s", input, mac_text);
    memset(&err, 0, sizeof err);
    assert_int_equal(em_jwt_verify(&c, token, f->jwks, &e, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "RS256"));
    assert_null(c);
    free(token);
    free(mac_text);
    free(input);
    free(p);
}

static void test_crit_header_rejected(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char *p = payload(NOW + 3600, NOW, NULL);

    assert_int_equal(verify(f, f->key, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"x\"]}", p,
                            &e, &c, &err), EM_ETOKEN);
    free(p);
}

static void test_issuer(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char *p = payload(NOW + 3600, NOW, NULL);
    char other[512];

    /* Exact issuer (no template) works too. */
    e.issuer = ISSUER;
    assert_int_equal(verify(f, f->key, HEADER, p, &e, &c, &err), EM_OK);
    em_jwt_claims_free(&c);
    /* The template names another tenant than the token's iss. */
    e.issuer = "https://login.example.test/{tenantid}/v2.0/";
    assert_int_equal(verify(f, f->key, HEADER, p, &e, &c, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "issuer"));
    /* iss of another tenant than tid says. */
    snprintf(other, sizeof other,
             "{\"iss\":\"https://login.example.test/0f1e2d3c-4b5a-4697-8877-665544332211/v2.0\","
             "\"aud\":\"%s\",\"tid\":\"%s\",\"exp\":%ld}", CLIENT, TID, (long)NOW + 600);
    e = expect_default();
    assert_int_equal(verify(f, f->key, HEADER, other, &e, &c, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "issuer"));
    /* Template but no tid. */
    snprintf(other, sizeof other, "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%ld}", ISSUER, CLIENT,
             (long)NOW + 600);
    assert_int_equal(verify(f, f->key, HEADER, other, &e, &c, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "tenant"));
    /* No iss at all. */
    snprintf(other, sizeof other, "{\"aud\":\"%s\",\"tid\":\"%s\",\"exp\":%ld}", CLIENT, TID,
             (long)NOW + 600);
    assert_int_equal(verify(f, f->key, HEADER, other, &e, &c, &err), EM_ETOKEN);
    assert_null(c);
    free(p);
}

static void test_audience(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char claims[512];
    const char *fmt = "{\"iss\":\"%s\",\"aud\":%s,\"tid\":\"%s\",\"exp\":%ld}";

    snprintf(claims, sizeof claims, fmt, ISSUER, "[\"api://other\",\"" CLIENT "\"]", TID,
             (long)NOW + 600);
    assert_int_equal(verify(f, f->key, HEADER, claims, &e, &c, &err), EM_OK);
    assert_string_equal(c->aud, CLIENT);
    em_jwt_claims_free(&c);
    snprintf(claims, sizeof claims, fmt, ISSUER, "[\"api://other\"]", TID, (long)NOW + 600);
    assert_int_equal(verify(f, f->key, HEADER, claims, &e, &c, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "audience"));
    snprintf(claims, sizeof claims, fmt, ISSUER, "\"api://other\"", TID, (long)NOW + 600);
    assert_int_equal(verify(f, f->key, HEADER, claims, &e, &c, &err), EM_ETOKEN);
    snprintf(claims, sizeof claims, fmt, ISSUER, "[\"" CLIENT "\",7]", TID, (long)NOW + 600);
    assert_int_equal(verify(f, f->key, HEADER, claims, &e, &c, &err), EM_ETOKEN);
    snprintf(claims, sizeof claims, fmt, ISSUER, "{}", TID, (long)NOW + 600);
    assert_int_equal(verify(f, f->key, HEADER, claims, &e, &c, &err), EM_ETOKEN);
    assert_null(c);
}

static void test_exp_nbf_skew_edges(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char *p = NULL;
    char claims[512];

    /* Expired EM_JWT_SKEW - 1 seconds ago: still accepted; at the skew: refused. */
    p = payload(NOW - EM_JWT_SKEW + 1, NOW - 3600, NULL);
    assert_int_equal(verify(f, f->key, HEADER, p, &e, &c, &err), EM_OK);
    em_jwt_claims_free(&c);
    free(p);
    p = payload(NOW - EM_JWT_SKEW, NOW - 3600, NULL);
    assert_int_equal(verify(f, f->key, HEADER, p, &e, &c, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "expired"));
    free(p);
    /* Valid from EM_JWT_SKEW in the future: accepted; one second later: refused. */
    p = payload(NOW + 3600, NOW + EM_JWT_SKEW, NULL);
    assert_int_equal(verify(f, f->key, HEADER, p, &e, &c, &err), EM_OK);
    em_jwt_claims_free(&c);
    free(p);
    p = payload(NOW + 3600, NOW + EM_JWT_SKEW + 1, NULL);
    assert_int_equal(verify(f, f->key, HEADER, p, &e, &c, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "not valid yet"));
    free(p);
    /* No exp: an id_token must have one. exp as a string: malformed. */
    snprintf(claims, sizeof claims, "{\"iss\":\"%s\",\"aud\":\"%s\",\"tid\":\"%s\"}", ISSUER,
             CLIENT, TID);
    assert_int_equal(verify(f, f->key, HEADER, claims, &e, &c, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "expiry"));
    snprintf(claims, sizeof claims, "{\"iss\":\"%s\",\"aud\":\"%s\",\"tid\":\"%s\",\"exp\":\"%ld\"}",
             ISSUER, CLIENT, TID, (long)NOW + 600);
    assert_int_equal(verify(f, f->key, HEADER, claims, &e, &c, &err), EM_ETOKEN);
    snprintf(claims, sizeof claims, "{\"iss\":\"%s\",\"aud\":\"%s\",\"tid\":\"%s\",\"exp\":-5}",
             ISSUER, CLIENT, TID);
    assert_int_equal(verify(f, f->key, HEADER, claims, &e, &c, &err), EM_ETOKEN);
    /* A fractional exp is a NumericDate too. */
    snprintf(claims, sizeof claims, "{\"iss\":\"%s\",\"aud\":\"%s\",\"tid\":\"%s\",\"exp\":%ld.5}",
             ISSUER, CLIENT, TID, (long)NOW + 600);
    assert_int_equal(verify(f, f->key, HEADER, claims, &e, &c, &err), EM_OK);
    assert_int_equal(c->exp, NOW + 600);
    em_jwt_claims_free(&c);
}

static void test_nonce(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char *with = payload(NOW + 600, NOW, ",\"nonce\":\"n-1\"");
    char *without = payload(NOW + 600, NOW, NULL);

    e.nonce = "n-1";
    assert_int_equal(verify(f, f->key, HEADER, with, &e, &c, &err), EM_OK);
    assert_string_equal(c->nonce, "n-1");
    em_jwt_claims_free(&c);
    e.nonce = "n-2";
    assert_int_equal(verify(f, f->key, HEADER, with, &e, &c, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "nonce"));
    assert_int_equal(verify(f, f->key, HEADER, without, &e, &c, &err), EM_ETOKEN);
    /* No nonce expected (device code flow): a token with one is fine. */
    e.nonce = NULL;
    assert_int_equal(verify(f, f->key, HEADER, with, &e, &c, &err), EM_OK);
    em_jwt_claims_free(&c);
    free(with);
    free(without);
}

static void test_malformed(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    char *p = payload(NOW + 600, NOW, NULL);
    char *good = testkit_token(f->key, HEADER, p);
    char *bad = strdup(good);
    const char *cases[] = {
        "", "abc", "a.b", "a.b.c.d", "..", "!!.e30.sig", "e30.!!.sig",
        "W10.e30.AAAA",                 /* header is an array */
        "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.AAAA",   /* payload "not json" */
        "eyJhbGciOiJSUzI1NiJ9.e30.@@@",
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(em_jwt_verify(&c, cases[i], f->jwks, &e, &err), EM_ETOKEN);
        assert_null(c);
        assert_int_equal(err.code, EM_ETOKEN);
    }
    assert_int_equal(em_jwt_verify(&c, NULL, f->jwks, &e, &err), EM_ETOKEN);
    /* A flipped signature byte. */
    bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(em_jwt_verify(&c, bad, f->jwks, &e, &err), EM_ETOKEN);
    /* Broken key sets. */
    assert_int_equal(em_jwt_verify(&c, good, "", &e, &err), EM_ETOKEN);
    assert_int_equal(em_jwt_verify(&c, good, "{\"keys\":{}}", &e, &err), EM_ETOKEN);
    assert_int_equal(em_jwt_verify(&c, good, "[]", &e, &err), EM_ETOKEN);
    assert_int_equal(em_jwt_verify(&c, good, NULL, &e, &err), EM_ETOKEN);
    assert_int_equal(em_jwt_verify(&c, good,
                                   "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k1\",\"n\":\"!\",\"e\":\"AQAB\"}]}",
                                   &e, &err), EM_ETOKEN);
    assert_int_equal(em_jwt_verify(&c, good,
                                   "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k1\",\"x\":\"AA\",\"y\":\"AA\"}]}",
                                   &e, &err), EM_ETOKEN);
    assert_string_equal(err.server_code, "unknown_kid");
    assert_int_equal(em_jwt_decode_claims(&c, "e30.W10.x", &err), EM_ETOKEN);
    assert_null(c);
    free(bad);
    free(good);
    free(p);
}

static void test_small_key_rejected(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    EVP_PKEY *weak = testkit_key(1024);
    char *jwks = testkit_jwks(weak, "k1");
    char *p = payload(NOW + 600, NOW, NULL);
    char *token = testkit_token(weak, HEADER, p);

    (void)f;
    assert_int_equal(em_jwt_verify(&c, token, jwks, &e, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "bits"));
    free(token);
    free(p);
    free(jwks);
    EVP_PKEY_free(weak);
}

static void test_huge_inputs_bounded(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    em_jwt_expect e = expect_default();
    size_t big = 2 * 1024 * 1024;
    char *huge = malloc(big + 1);
    char *p = payload(NOW + 600, NOW, NULL);
    char *good = testkit_token(f->key, HEADER, p);

    memset(huge, 'A', big);
    huge[big] = '\0';
    huge[100] = '.';
    huge[200] = '.';
    assert_int_equal(em_jwt_verify(&c, huge, f->jwks, &e, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "longer"));
    assert_int_equal(em_jwt_decode_claims(&c, huge, &err), EM_ETOKEN);
    /* A key set over the bound is refused, not parsed. */
    memcpy(huge, "{\"keys\":[", 9);
    assert_int_equal(em_jwt_verify(&c, good, huge, &e, &err), EM_ETOKEN);
    /* Deep nesting in the payload. */
    {
        char deep[600];
        char *token = NULL;
        memset(deep, '[', 300);
        memset(deep + 300, ']', 300);
        deep[0] = '{';
        memcpy(deep + 1, "\"a\":", 4);
        strcpy(deep + 595, "]]]}");
        token = testkit_token(f->key, HEADER, deep);
        assert_int_equal(em_jwt_verify(&c, token, f->jwks, &e, &err), EM_ETOKEN);
        assert_int_equal(em_jwt_decode_claims(&c, token, &err), EM_ETOKEN);
        free(token);
    }
    assert_null(c);
    free(good);
    free(p);
    free(huge);
}

static void test_decode_claims_unverified(void **state)
{
    fixture *f = *state;
    em_error err = {0};
    em_jwt_claims *c = NULL;
    char *p = payload(NOW + 600, NOW, ",\"upn\":\"admin@contoso.onmicrosoft.com\"");
    char *token = testkit_token(f->other, "{\"alg\":\"RS256\",\"kid\":\"zzz\"}", p);

    /* Any signature, any key: only the claims are read. */
    assert_int_equal(em_jwt_decode_claims(&c, token, &err), EM_OK);
    assert_string_equal(c->upn, "admin@contoso.onmicrosoft.com");
    assert_string_equal(c->tid, TID);
    assert_int_equal(c->exp, NOW + 600);
    em_jwt_claims_free(&c);
    em_jwt_claims_free(&c);     /* freeing NULL is fine */
    free(token);
    free(p);
}

int main(void)
{
    const struct CMUnitTest base64[] = {
        cmocka_unit_test(test_base64url_round_trip),
        cmocka_unit_test(test_base64url_known_and_invalid),
    };
    const struct CMUnitTest verify_tests[] = {
        cmocka_unit_test(test_valid_token),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_tampered_payload),
        cmocka_unit_test(test_unknown_kid),
        cmocka_unit_test(test_no_kid_single_key),
        cmocka_unit_test(test_alg_none_and_hs256_rejected),
        cmocka_unit_test(test_crit_header_rejected),
        cmocka_unit_test(test_issuer),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_exp_nbf_skew_edges),
        cmocka_unit_test(test_nonce),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_small_key_rejected),
        cmocka_unit_test(test_huge_inputs_bounded),
        cmocka_unit_test(test_decode_claims_unverified),
    };
    int failed = cmocka_run_group_tests_name("base64url", base64, NULL, NULL);

    failed += cmocka_run_group_tests_name("jwt", verify_tests, setup, teardown);
    return failed;
}
