/* test_oidc.c - token responses and OAuth error mapping (oidc.c). The
 * network flows are in test_oidc_flows.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "identity/oidc.h"

#define NOW ((time_t)1700000000)

/* ---- token responses ------------------------------------------------- */

static int parse(em_tokens **out, const char *body, em_error *err)
{
    memset(err, 0, sizeof *err);
    return em_oidc_parse_token_response(out, body, strlen(body), NOW, err);
}

static void test_token_response_full(void **state)
{
    em_tokens *t = NULL;
    em_error err = {0};
    (void)state;

    assert_int_equal(parse(&t, "{\"token_type\":\"Bearer\",\"scope\":\"https://outlook.office365.com/.default\","
                               "\"expires_in\":3599,\"ext_expires_in\":3599,\"refresh_in\":1800,"
                               "\"access_token\":\"at-1\",\"refresh_token\":\"rt-1\",\"id_token\":\"a.b.c\","
                               "\"client_info\":\"eyJ1aWQiOiIxIn0\"}", &err), EM_OK);
    assert_string_equal(t->access_token, "at-1");
    assert_string_equal(t->refresh_token, "rt-1");
    assert_string_equal(t->id_token, "a.b.c");
    assert_string_equal(t->scope, "https://outlook.office365.com/.default");
    assert_int_equal(t->expires_at, NOW + 3599);
    assert_int_equal(t->refresh_at, NOW + 1800);
    assert_null(t->tenant_id);
    assert_null(t->username);
    em_tokens_free(&t);
    assert_null(t);
    em_tokens_free(&t);
}

static void test_token_response_numbers_as_strings(void **state)
{
    em_tokens *t = NULL;
    em_error err = {0};
    (void)state;

    assert_int_equal(parse(&t, "{\"token_type\":\"bearer\",\"expires_in\":\"3600\",\"refresh_in\":\"600\","
                               "\"access_token\":\"at\"}", &err), EM_OK);
    assert_int_equal(t->expires_at, NOW + 3600);
    assert_int_equal(t->refresh_at, NOW + 600);
    assert_null(t->refresh_token);
    assert_null(t->id_token);
    em_tokens_free(&t);
}

static void test_token_response_refresh_at_default(void **state)
{
    em_tokens *t = NULL;
    em_error err = {0};
    (void)state;

    /* Long-lived: 5 minutes before expiry. */
    assert_int_equal(parse(&t, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"at\"}",
                           &err), EM_OK);
    assert_int_equal(t->refresh_at, NOW + 3600 - 300);
    em_tokens_free(&t);
    /* Short-lived: half the lifetime. */
    assert_int_equal(parse(&t, "{\"token_type\":\"Bearer\",\"expires_in\":400,\"access_token\":\"at\"}",
                           &err), EM_OK);
    assert_int_equal(t->refresh_at, NOW + 200);
    em_tokens_free(&t);
    /* refresh_in past the expiry is ignored; so is zero. */
    assert_int_equal(parse(&t, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"refresh_in\":7200,"
                               "\"access_token\":\"at\"}", &err), EM_OK);
    assert_int_equal(t->refresh_at, NOW + 3300);
    em_tokens_free(&t);
    assert_int_equal(parse(&t, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"refresh_in\":0,"
                               "\"access_token\":\"at\"}", &err), EM_OK);
    assert_int_equal(t->refresh_at, NOW + 3300);
    em_tokens_free(&t);
}

static void test_token_response_expiry_from_access_token(void **state)
{
    em_tokens *t = NULL;
    em_error err = {0};
    /* header {"alg":"none"}, payload {"exp":1700000900} */
    const char *body = "{\"token_type\":\"Bearer\",\"access_token\":"
                       "\"eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDA5MDB9.\"}";
    (void)state;

    assert_int_equal(parse(&t, body, &err), EM_OK);
    assert_int_equal(t->expires_at, NOW + 900);
    em_tokens_free(&t);
    /* No expires_in and an opaque access token: no way to know. */
    assert_int_equal(parse(&t, "{\"token_type\":\"Bearer\",\"access_token\":\"opaque\"}", &err),
                     EM_EBADRESPONSE);
    assert_null(t);
}

static void test_token_response_rejected(void **state)
{
    static const char *const bodies[] = {
        "",
        "not json",
        "[]",
        "{}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3600}",                          /* no access_token */
        "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":7}",
        "{\"expires_in\":3600,\"access_token\":\"at\"}",                            /* no token_type */
        "{\"token_type\":\"MAC\",\"expires_in\":3600,\"access_token\":\"at\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":\"soon\",\"access_token\":\"at\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":-1,\"access_token\":\"at\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":0,\"access_token\":\"at\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":\"\",\"access_token\":\"at\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":1e99,\"access_token\":\"at\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":99999999999999,\"access_token\":\"at\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"refresh_in\":\"x\",\"access_token\":\"at\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"at\",\"refresh_token\":1}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"at\",\"id_token\":{}}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"at\"",  /* cut */
    };
    (void)state;

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        em_tokens *t = NULL;
        em_error err = {0};
        assert_int_equal(parse(&t, bodies[i], &err), EM_EBADRESPONSE);
        assert_int_equal(err.code, EM_EBADRESPONSE);
        assert_null(t);
        /* Never the token in the message. */
        assert_null(strstr(err.message, "at\""));
    }
}

static void test_token_response_not_nul_terminated(void **state)
{
    const char body[] = "{\"token_type\":\"Bearer\",\"expires_in\":60,\"access_token\":\"at\"}XXXX";
    em_tokens *t = NULL;
    em_error err = {0};
    (void)state;

    assert_int_equal(em_oidc_parse_token_response(&t, body, sizeof body - 5, NOW, &err), EM_OK);
    assert_string_equal(t->access_token, "at");
    em_tokens_free(&t);
}

/* ---- error mapping --------------------------------------------------- */

typedef struct error_case {
    const char *error;
    long aadsts;
    em_code code;
} error_case;

static void test_map_error_families(void **state)
{
    static const error_case cases[] = {
        {"invalid_grant", 50076, EM_EMFA},
        {"interaction_required", 50079, EM_EMFA},
        {"invalid_grant", 50074, EM_EMFA},
        {"invalid_grant", 50158, EM_EMFA},
        {"invalid_grant", 50126, EM_EAUTH},
        {"invalid_grant", 50053, EM_EDISABLED},
        {"invalid_grant", 50057, EM_EDISABLED},
        {"invalid_grant", 50055, EM_EDISABLED},
        {"invalid_grant", 70000, EM_EGRANT},
        {"invalid_grant", 70008, EM_EGRANT},
        {"invalid_grant", 700082, EM_EGRANT},
        {"invalid_grant", 50173, EM_EGRANT},
        {"invalid_grant", 50132, EM_EGRANT},
        {"invalid_request", 90002, EM_ECONFIG},
        {"unauthorized_client", 700016, EM_ECONFIG},
        {"invalid_client", 7000215, EM_ECONFIG},
        {"invalid_client", 7000222, EM_ECONFIG},
        {"invalid_client", 7000218, EM_ECONFIG},
        {"invalid_scope", 70011, EM_ECONFIG},
        {"invalid_grant", 53003, EM_EAUTH},
        {"invalid_request", 65001, EM_EAUTH},
        {"invalid_grant", 0, EM_EGRANT},
        {"authorization_declined", 0, EM_EDECLINED},
        {"expired_token", 0, EM_EEXPIRED},
        {"bad_verification_code", 0, EM_EAUTH},
        {"access_denied", 0, EM_EDECLINED},     /* RFC 8628 3.5, and the browser's refusal */
        {"invalid_client", 0, EM_ECONFIG},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512];
        em_error err = {0};
        if (cases[i].aadsts != 0)
            snprintf(body, sizeof body,
                     "{\"error\":\"%s\",\"error_description\":\"AADSTS%ld: Something.\\r\\n"
                     "Trace ID: 0000\\r\\nCorrelation ID: 1111\\r\\nTimestamp: 2024-01-01 00:00:00Z\","
                     "\"error_codes\":[%ld],\"timestamp\":\"2024-01-01 00:00:00Z\",\"trace_id\":\"0000\"}",
                     cases[i].error, cases[i].aadsts, cases[i].aadsts);
        else
            snprintf(body, sizeof body, "{\"error\":\"%s\"}", cases[i].error);
        print_message("case %zu: %s %ld\n", i, cases[i].error, cases[i].aadsts);
        assert_int_equal(em_oidc_map_error(body, strlen(body), 400, &err), cases[i].code);
        assert_int_equal(err.code, cases[i].code);
        assert_int_equal(err.http_status, 400);
        assert_int_equal(err.aadsts, cases[i].aadsts);
        assert_string_equal(err.server_code, cases[i].error);
        assert_null(strstr(err.message, "Trace ID"));
        assert_null(strstr(err.message, "Correlation"));
        assert_null(strstr(err.message, "\r"));
        assert_null(strstr(err.message, "\n"));
        if (cases[i].aadsts != 0)
            assert_non_null(strstr(err.message, "Something."));
    }
}

static void test_map_error_messages(void **state)
{
    em_error err = {0};
    const char *wrong = "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS50126: Error validating "
                        "credentials due to invalid username or password.\\r\\nTrace ID: x\","
                        "\"error_codes\":[50126]}";
    const char *ca = "{\"error\":\"invalid_grant\",\"error_codes\":[53003]}";
    const char *mfa = "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS50076: Due to a "
                      "configuration change you must use multi-factor authentication.\","
                      "\"error_codes\":[50076,50079],\"suberror\":\"basic_action\"}";
    (void)state;

    assert_int_equal(em_oidc_map_error(wrong, strlen(wrong), 400, &err), EM_EAUTH);
    assert_non_null(strstr(err.message, "wrong user name or password"));
    assert_non_null(strstr(err.message, "AADSTS50126: Error validating credentials"));
    memset(&err, 0, sizeof err);
    assert_int_equal(em_oidc_map_error(ca, strlen(ca), 400, &err), EM_EAUTH);
    assert_non_null(strstr(err.message, "conditional access"));
    memset(&err, 0, sizeof err);
    assert_int_equal(em_oidc_map_error(mfa, strlen(mfa), 400, &err), EM_EMFA);
    assert_int_equal(err.aadsts, 50076);
    assert_non_null(strstr(err.message, "-Device"));
    /* err may be NULL: only the code comes back. */
    assert_int_equal(em_oidc_map_error(mfa, strlen(mfa), 400, NULL), EM_EMFA);
}

static void test_map_error_description_trimming(void **state)
{
    em_error err = {0};
    /* Noise lines first, blank lines, control characters, then the message. */
    const char *body = "{\"error\":\"server_error\",\"error_description\":"
                       "\"Trace ID: abc\\nCorrelation ID: def\\n\\n  Timestamp: now\\n"
                       "  The user said no.\\u0007  \\nsecond line\"}";
    const char *codes_in_text = "{\"error\":\"invalid_grant\",\"error_description\":"
                                "\"AADSTS700082: The refresh token has expired due to inactivity.\"}";
    (void)state;

    assert_int_equal(em_oidc_map_error(body, strlen(body), 401, &err), EM_EAUTH);
    assert_non_null(strstr(err.message, ": The user said no."));
    assert_null(strstr(err.message, "second line"));
    assert_null(strstr(err.message, "abc"));
    assert_null(strchr(err.message, '\a'));
    assert_int_equal(err.http_status, 401);
    /* No error_codes: the AADSTS number is read from the description. */
    memset(&err, 0, sizeof err);
    assert_int_equal(em_oidc_map_error(codes_in_text, strlen(codes_in_text), 400, &err), EM_EGRANT);
    assert_int_equal(err.aadsts, 700082);
}

static void test_map_error_long_description_cut_on_utf8(void **state)
{
    char body[2048];
    char desc[1200];
    em_error err = {0};
    size_t n = 0;
    (void)state;

    /* "é" is two bytes: a cut must not leave half of one. */
    while (n + 2 < sizeof desc - 1) {
        desc[n++] = '\xc3';
        desc[n++] = '\xa9';
    }
    desc[n] = '\0';
    snprintf(body, sizeof body, "{\"error\":\"server_error\",\"error_description\":\"x%s\"}", desc);
    assert_int_equal(em_oidc_map_error(body, strlen(body), 400, &err), EM_EAUTH);
    n = strlen(err.message);
    assert_true(n < sizeof err.message);
    /* The message ends with a whole character. */
    assert_true((unsigned char)err.message[n - 1] == 0xa9);
    assert_true((unsigned char)err.message[n - 2] == 0xc3);
}

static void test_map_error_not_oauth(void **state)
{
    static const char *const bodies[] = {
        "<html><body>Service Unavailable</body></html>",
        "",
        "{}",
        "{\"error\":{\"code\":\"x\",\"message\":\"y\"}}",
        "{\"error\":\"\"}",
        "[\"error\"]",
    };
    (void)state;

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        em_error err = {0};
        assert_int_equal(em_oidc_map_error(bodies[i], strlen(bodies[i]), 503, &err), EM_EBADRESPONSE);
        assert_int_equal(err.http_status, 503);
        assert_non_null(strstr(err.message, "503"));
        assert_string_equal(err.server_code, "");
    }
    {
        em_error err = {0};
        assert_int_equal(em_oidc_map_error(NULL, 0, 502, &err), EM_EBADRESPONSE);
        assert_int_equal(err.http_status, 502);
    }
}

static void test_map_error_server_code_sanitised(void **state)
{
    em_error err = {0};
    const char *body = "{\"error\":\"bad\\\"code\\u0001\\nx\"}";
    (void)state;

    assert_int_equal(em_oidc_map_error(body, strlen(body), 400, &err), EM_EAUTH);
    assert_string_equal(err.server_code, "badcodex");
}

/* Every yajl tree parsed on the way was freed. */
static int no_json_leaks(void **state)
{
    (void)state;
    return em_json_outstanding() == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest token_tests[] = {
        cmocka_unit_test(test_token_response_full),
        cmocka_unit_test(test_token_response_numbers_as_strings),
        cmocka_unit_test(test_token_response_refresh_at_default),
        cmocka_unit_test(test_token_response_expiry_from_access_token),
        cmocka_unit_test(test_token_response_rejected),
        cmocka_unit_test(test_token_response_not_nul_terminated),
    };
    const struct CMUnitTest error_tests[] = {
        cmocka_unit_test(test_map_error_families),
        cmocka_unit_test(test_map_error_messages),
        cmocka_unit_test(test_map_error_description_trimming),
        cmocka_unit_test(test_map_error_long_description_cut_on_utf8),
        cmocka_unit_test(test_map_error_not_oauth),
        cmocka_unit_test(test_map_error_server_code_sanitised),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("token_response", token_tests, NULL, no_json_leaks);
    failed += cmocka_run_group_tests_name("map_error", error_tests, NULL, no_json_leaks);
    return failed;
}
