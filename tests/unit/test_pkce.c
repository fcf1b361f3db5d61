/* test_pkce.c - PKCE (RFC 7636 appendix B), random values, the authorize
 * URL, claims challenges (oidc_grants.c) and -AccessToken checks (jwt.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/base64.h"
#include "util/buf.h"
#include "util/json.h"
#include "identity/jwt.h"
#include "jwt_testkit.h"
#include "identity/oidc.h"
#include "identity/pkce.h"

static void test_rfc7636_vector(void **state)
{
    char *challenge = NULL;
    em_error err = {0};
    (void)state;

    assert_int_equal(em_pkce_challenge(&challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", &err), EM_OK);
    assert_string_equal(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    free(challenge);
    /* Too short, too long, a character outside the unreserved set. */
    assert_int_equal(em_pkce_challenge(&challenge, "abc", &err), EM_EINVAL);
    char long_one[130];
    memset(long_one, 'a', 129);
    long_one[129] = '\0';
    assert_int_equal(em_pkce_challenge(&challenge, long_one, &err), EM_EINVAL);
    assert_int_equal(em_pkce_challenge(&challenge, "dBjftJeZ4CVP+mB92K27uhbUJU1p1r_wW1gFWFOEjXk", &err), EM_EINVAL);
    assert_null(challenge);
}

static void test_random_values(void **state)
{
    char *a = NULL, *b = NULL, *v = NULL, *c = NULL;
    em_error err = {0};
    (void)state;

    assert_int_equal(em_pkce_verifier(&v, &err), EM_OK);
    assert_int_equal(strlen(v), 64);
    assert_int_equal(em_pkce_challenge(&c, v, &err), EM_OK);
    assert_int_equal(strlen(c), 43);
    assert_int_equal(em_pkce_random(&a, EM_PKCE_RANDOM_BYTES, &err), EM_OK);
    assert_int_equal(em_pkce_random(&b, EM_PKCE_RANDOM_BYTES, &err), EM_OK);
    assert_int_equal(strlen(a), 43);
    assert_string_not_equal(a, b);
    assert_true(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
    em_free_secret(&a);
    assert_int_equal(em_pkce_random(&a, 0, &err), EM_EINVAL);
    assert_null(a);
    em_free_secret(&b);
    em_free_secret(&v);
    free(c);
}

static void test_authorize_url(void **state)
{
    em_pkce_authorize r = {0};
    char *url = NULL;
    em_error err = {0};
    (void)state;

    r.endpoint = "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize";
    r.client_id = "fb78d390-0c51-40cd-8e17-fdbfab77341b";
    r.redirect_uri = "http://127.0.0.1:5000/";
    r.scope = "https://outlook.office365.com/.default openid profile offline_access";
    r.state = "st-1";
    r.nonce = "no-1";
    r.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    assert_int_equal(em_pkce_authorize_url(&url, &r, &err), EM_OK);
    assert_string_equal(url,
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
        "?client_id=fb78d390-0c51-40cd-8e17-fdbfab77341b&response_type=code"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2F"
        "&scope=https%3A%2F%2Foutlook.office365.com%2F.default%20openid%20profile%20offline_access"
        "&state=st-1&nonce=no-1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        "&code_challenge_method=S256&response_mode=query");
    free(url);
    r.endpoint = "https://idp.example/authorize?p=b2c_1_signin";
    r.prompt = "select_account";
    r.login_hint = "admin@contoso.onmicrosoft.com";
    r.domain_hint = "contoso.com";
    r.claims = "{\"access_token\":{\"xms_cc\":{\"values\":[\"cp1\"]}}}";
    assert_int_equal(em_pkce_authorize_url(&url, &r, &err), EM_OK);
    assert_non_null(strstr(url, "authorize?p=b2c_1_signin&client_id="));
    assert_non_null(strstr(url, "&prompt=select_account&login_hint=admin%40contoso.onmicrosoft.com"
                                "&domain_hint=contoso.com&claims=%7B%22access_token%22"));
    assert_non_null(strstr(url, "&response_mode=query"));
    free(url);
    r.nonce = NULL;
    assert_int_equal(em_pkce_authorize_url(&url, &r, &err), EM_EINVAL);
}

static char *b64(const char *text)
{
    unsigned char *raw = (unsigned char *)text;
    char *url = NULL;

    em_base64url_encode(&url, raw, strlen(text));
    return url;
}

static void test_claims_challenge(void **state)
{
    const char claims[] = "{\"access_token\":{\"nbf\":{\"essential\":true,\"value\":\"1604106651\"}}}";
    /* Standard base64 with padding, as Microsoft sends it. */
    const char std[] = "eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNjA0MTA2NjUxIn19fQ==";
    char header[512];
    char *out = NULL;
    char *url = b64(claims);
    em_error err = {0};
    (void)state;

    snprintf(header, sizeof header, "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/"
             "common/oauth2/authorize\", error=\"insufficient_claims\", claims=\"%s\"", std);
    assert_int_equal(em_oidc_parse_claims_challenge(&out, header, &err), EM_OK);
    assert_string_equal(out, claims);
    free(out);
    /* URL alphabet without padding, parameters in another order, a second challenge before. */
    snprintf(header, sizeof header, "PoP nonce=\"x\", Bearer claims=\"%s\",error=insufficient_claims", url);
    assert_int_equal(em_oidc_parse_claims_challenge(&out, header, &err), EM_OK);
    assert_string_equal(out, claims);
    free(out);
    /* The claims of another scheme do not count. */
    snprintf(header, sizeof header, "Bearer error=\"insufficient_claims\", PoP claims=\"%s\"", url);
    assert_int_equal(em_oidc_parse_claims_challenge(&out, header, &err), EM_ENOTFOUND);
    /* Other errors, or none. */
    assert_int_equal(em_oidc_parse_claims_challenge(&out, "Bearer realm=\"\", error=\"invalid_token\"", &err),
                     EM_ENOTFOUND);
    assert_int_equal(em_oidc_parse_claims_challenge(&out, "Bearer", &err), EM_ENOTFOUND);
    assert_int_equal(em_oidc_parse_claims_challenge(&out, "", &err), EM_ENOTFOUND);
    /* Not base64 of a JSON object. */
    assert_int_equal(em_oidc_parse_claims_challenge(&out, "Bearer error=\"insufficient_claims\", claims=\"!!\"", &err),
                     EM_EBADRESPONSE);
    assert_int_equal(em_oidc_parse_claims_challenge(&out, "Bearer error=\"insufficient_claims\", claims=\"WzFd\"", &err),
                     EM_EBADRESPONSE);
    /* An unterminated quoted string. */
    assert_int_equal(em_oidc_parse_claims_challenge(&out, "Bearer error=\"insufficient_claims\", claims=\"e30", &err),
                     EM_EBADRESPONSE);
    assert_null(out);
    free(url);
}

static char *unsigned_token(const char *payload)
{
    return testkit_token(NULL, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload);
}

static void test_access_token_check(void **state)
{
    const time_t now = 1700000000;
    char payload[512];
    char *token = NULL;
    em_jwt_claims *c = NULL;
    em_error err = {0};
    (void)state;

    snprintf(payload, sizeof payload, "{\"aud\":\"https://outlook.office365.com/\",\"tid\":\"t-1\","
             "\"upn\":\"admin@contoso.onmicrosoft.com\",\"exp\":%ld}", (long)now + 3600);
    token = unsigned_token(payload);
    assert_int_equal(em_jwt_check_access_token(&c, token, "https://outlook.office365.com", now, &err), EM_OK);
    assert_string_equal(c->tid, "t-1");
    assert_string_equal(c->upn, "admin@contoso.onmicrosoft.com");
    em_jwt_claims_free(&c);
    assert_int_equal(em_jwt_check_access_token(&c, token, "https://outlook.office365.com/", now, &err), EM_OK);
    em_jwt_claims_free(&c);
    /* Wrong audience. */
    assert_int_equal(em_jwt_check_access_token(&c, token, "https://graph.microsoft.com", now, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "another resource"));
    /* Expired: the message says when and what to do. */
    assert_int_equal(em_jwt_check_access_token(&c, token, "https://outlook.office365.com", now + 3600, &err),
                     EM_ETOKEN);
    assert_non_null(strstr(err.message, "The access token expired at 2023-11-14 23:13:20 UTC"));
    assert_non_null(strstr(err.message, "cannot renew it"));
    assert_null(c);
    free(token);
    /* The Exchange app id as audience (v1 tokens). */
    snprintf(payload, sizeof payload, "{\"aud\":\"%s\",\"exp\":%ld}", EM_JWT_EXCHANGE_APP_ID, (long)now + 60);
    token = unsigned_token(payload);
    assert_int_equal(em_jwt_check_access_token(&c, token, "https://outlook.office365.com", now, &err), EM_OK);
    em_jwt_claims_free(&c);
    free(token);
    /* No exp; not a JWT. */
    token = unsigned_token("{\"aud\":\"https://outlook.office365.com\"}");
    assert_int_equal(em_jwt_check_access_token(&c, token, "https://outlook.office365.com", now, &err), EM_ETOKEN);
    free(token);
    assert_int_equal(em_jwt_check_access_token(&c, "opaque-token", NULL, now, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "not a JWT"));
    assert_null(strstr(err.message, "opaque-token"));
}

static void test_base64_decode(void **state)
{
    unsigned char *out = NULL;
    size_t len = 0;
    (void)state;

    /* "hi?" then 0xFB 0xFF: '+' and '/' of the standard alphabet. */
    assert_int_equal(em_base64_decode(&out, &len, "aGk/+/8=", 8), EM_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "hi?\xfb\xff", 5);
    free(out);
    assert_int_equal(em_base64_decode(&out, &len, "aGk=", 4), EM_OK);
    assert_string_equal((char *)out, "hi");
    free(out);
    assert_int_equal(em_base64_decode(&out, &len, "a=Gk", 4), EM_EINVAL);
    assert_int_equal(em_base64_decode(&out, &len, "aGk===", 6), EM_EINVAL);
}

static int check_leaks(void **state)
{
    (void)state;
    return em_json_outstanding() == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7636_vector),
        cmocka_unit_test(test_random_values),
        cmocka_unit_test(test_authorize_url),
        cmocka_unit_test(test_claims_challenge),
        cmocka_unit_test(test_access_token_check),
        cmocka_unit_test(test_base64_decode),
    };

    return cmocka_run_group_tests_name("pkce", tests, NULL, check_leaks);
}
