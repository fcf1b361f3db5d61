/* test_connection.c - connect settings: the clouds table, defaults,
 * overrides and their checks; the empty connection table. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "connection/connection.h"
#include "util/json.h"

static void test_defaults(void **state)
{
    em_conn_settings s = {.mode = "device"};
    em_conn_resolved r;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_conn_resolve(&r, &s, &err), EM_OK);
    assert_string_equal(r.environment, "O365Default");
    assert_string_equal(r.authority, "https://login.microsoftonline.com/organizations");
    assert_string_equal(r.connection_uri, "https://outlook.office365.com");
    assert_string_equal(r.resource, "https://outlook.office365.com");
    assert_string_equal(r.scope, "https://outlook.office365.com/.default openid profile offline_access");
    assert_string_equal(r.client_id, "fb78d390-0c51-40cd-8e17-fdbfab77341b");
    assert_int_equal(r.page_size, 1000);
    assert_int_equal(r.throttle_limit, 8);
    em_conn_resolved_free(&r);
    assert_null(r.authority);
}

static void test_clouds(void **state)
{
    static const struct {
        const char *env, *authority, *uri;
    } cases[] = {
        {"O365USGovGCCHigh", "https://login.microsoftonline.us/contoso.onmicrosoft.com",
         "https://outlook.office365.us"},
        {"O365USGovDoD", "https://login.microsoftonline.us/contoso.onmicrosoft.com",
         "https://webmail.apps.mil"},
        {"o365china", "https://login.partner.microsoftonline.cn/contoso.onmicrosoft.com",
         "https://partner.outlook.cn"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        em_conn_settings s = {.mode = "device", .environment = cases[i].env,
                              .organization = "contoso.onmicrosoft.com", .page_size = 50,
                              .throttle_limit = 3};
        em_conn_resolved r;

        assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
        assert_string_equal(r.authority, cases[i].authority);
        assert_string_equal(r.connection_uri, cases[i].uri);
        assert_string_equal(r.resource, cases[i].uri);
        assert_int_equal(r.page_size, 50);
        assert_int_equal(r.throttle_limit, 3);
        em_conn_resolved_free(&r);
    }
}

/* Security & Compliance: its own host and token resource in every cloud;
 * the authority stays the cloud's. */
static void test_compliance(void **state)
{
    static const struct {
        const char *env, *authority_host, *uri;
    } cases[] = {
        {"O365Default", "login.microsoftonline.com", "https://ps.compliance.protection.outlook.com"},
        {"O365USGovGCCHigh", "login.microsoftonline.us", "https://ps.compliance.protection.office365.us"},
        {"O365USGovDoD", "login.microsoftonline.us", "https://l5.ps.compliance.protection.office365.us"},
        {"O365China", "login.partner.microsoftonline.cn", "https://ps.compliance.protection.partner.outlook.cn"},
    };
    char expected[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        em_conn_settings s = {.mode = "certificate", .environment = cases[i].env, .product = "compliance",
                              .organization = "contoso.onmicrosoft.com", .app_id = "a1",
                              .cert_file = "/nonexistent.pem"};
        em_conn_resolved r;

        assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
        assert_true(r.compliance);
        snprintf(expected, sizeof(expected), "https://%s/contoso.onmicrosoft.com", cases[i].authority_host);
        assert_string_equal(r.authority, expected);
        assert_string_equal(r.connection_uri, cases[i].uri);
        assert_string_equal(r.resource, cases[i].uri);
        snprintf(expected, sizeof(expected), "%s/.default", cases[i].uri);
        assert_string_equal(r.scope, expected);
        em_conn_resolved_free(&r);
    }

    /* "exchange" is the default, spelled out or not; overrides win for both. */
    {
        em_conn_settings s = {.mode = "device", .product = "exchange"};
        em_conn_resolved r;

        assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
        assert_false(r.compliance);
        assert_string_equal(r.connection_uri, "https://outlook.office365.com");
        em_conn_resolved_free(&r);
        s.product = "compliance";
        s.connection_uri = "https://eur03b.ps.compliance.protection.outlook.com/powershell-liveid/";
        assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
        assert_string_equal(r.connection_uri, "https://eur03b.ps.compliance.protection.outlook.com");
        assert_string_equal(r.resource, "https://ps.compliance.protection.outlook.com");
        em_conn_resolved_free(&r);
    }

    /* Without an environment name, -ConnectionUri selects the cloud (its
     * resource and authority), as Microsoft's module documents; the longest
     * known host wins (DoD's l5. host over GCC High's). */
    {
        static const struct {
            const char *product, *uri, *environment, *resource;
        } cases[] = {
            {"compliance", "https://ps.compliance.protection.office365.us/powershell-liveid/", "O365USGovGCCHigh",
             "https://ps.compliance.protection.office365.us"},
            {"compliance", "https://l5.ps.compliance.protection.office365.us/powershell-liveid/", "O365USGovDoD",
             "https://l5.ps.compliance.protection.office365.us"},
            {"compliance", "https://ps.compliance.protection.partner.outlook.cn/powershell-liveid", "O365China",
             "https://ps.compliance.protection.partner.outlook.cn"},
            {"exchange", "https://outlook.office365.us/powershell-liveid", "O365USGovGCCHigh", "https://outlook.office365.us"},
            {"exchange", "https://127.0.0.1:4443", "O365Default", "https://outlook.office365.com"},
            {"compliance", "https://evilps.compliance.protection.office365.us", "O365Default",
             "https://ps.compliance.protection.outlook.com"},
        };
        size_t i;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            em_conn_settings s = {.mode = "device", .product = cases[i].product, .connection_uri = cases[i].uri};
            em_conn_resolved r;

            assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
            assert_string_equal(r.environment, cases[i].environment);
            assert_string_equal(r.resource, cases[i].resource);
            em_conn_resolved_free(&r);
        }
    }
}

static void test_overrides(void **state)
{
    em_conn_settings s = {.mode = "device", .organization = "contoso.onmicrosoft.com",
                          .authority = "https://127.0.0.1:4443/organizations/",
                          .connection_uri = "https://127.0.0.1:4443/powershell-liveid/",
                          .resource = "https://outlook.office365.com/",
                          .app_id = "3c0b1a5e-7d2f-4e8a-9b6c-1f2e3d4c5b6a"};
    em_conn_resolved r;

    (void)state;
    assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
    /* A multi-tenant authority override takes the organization as its tenant. */
    assert_string_equal(r.authority, "https://127.0.0.1:4443/contoso.onmicrosoft.com");
    /* connectionUri changes where requests go (its origin), never the resource. */
    assert_string_equal(r.connection_uri, "https://127.0.0.1:4443");
    assert_string_equal(r.resource, "https://outlook.office365.com");
    assert_string_equal(r.scope, "https://outlook.office365.com/.default openid profile offline_access");
    assert_string_equal(r.client_id, "3c0b1a5e-7d2f-4e8a-9b6c-1f2e3d4c5b6a");
    assert_null(r.delegated_organization);
    em_conn_resolved_free(&r);

    /* An override naming a tenant is used as given. */
    s.authority = "https://127.0.0.1:4443/fabrikam.onmicrosoft.com";
    s.delegated_organization = "fabrikam.onmicrosoft.com";
    assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
    assert_string_equal(r.authority, "https://127.0.0.1:4443/fabrikam.onmicrosoft.com");
    assert_string_equal(r.delegated_organization, "fabrikam.onmicrosoft.com");
    em_conn_resolved_free(&r);
}

/* Settings that em_conn_resolve must refuse, naming the field. */
typedef struct rejected_case {
    em_conn_settings s;
    const char *field;
} rejected_case;

/* Each case is EM_EINVAL naming its field, with no secret in the message. */
static void assert_rejected(const rejected_case *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        em_conn_resolved r;
        em_error err = {0};

        assert_int_equal(em_conn_resolve(&r, &cases[i].s, &err), EM_EINVAL);
        assert_string_equal(err.target, cases[i].field);
        assert_null(strstr(err.message, "secret-value"));
        assert_null(r.authority);
    }
}

static void test_rejected(void **state)
{
    static const rejected_case cases[] = {
        {{.mode = NULL}, "mode"},
        {{.mode = "browser"}, "mode"},
        {{.mode = "Device"}, "mode"},
        {{.mode = "device", .environment = "O365GermanyCloud"}, "environment"},
        {{.mode = "device", .authority = "http://login.microsoftonline.com/x"}, "authority"},
        {{.mode = "device", .authority = "https:///x"}, "authority"},
        {{.mode = "device", .connection_uri = "ftp://x"}, "connectionUri"},
        {{.mode = "device", .organization = "a/b"}, "organization"},
        {{.mode = "device", .organization = "a b"}, "organization"},
        {{.mode = "device", .app_id = "x\r\ny"}, "appId"},
        {{.mode = "device", .upn = "admin@contoso.com\r\nX: y"}, "userPrincipalName"},
        {{.mode = "device", .resource = ""}, "resource"},
        {{.mode = "device", .page_size = 1001}, "pageSize"},
        {{.mode = "device", .throttle_limit = 65}, "throttleLimit"},
        {{.mode = "device", .throttle_limit = -1}, "throttleLimit"},
        {{.mode = "device", .product = "Compliance"}, "product"},
        {{.mode = "device", .product = "ipps"}, "product"},
    };

    (void)state;
    assert_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_modes(void **state)
{
    static const struct {
        const char *mode;
        bool persistent;
        const char *scope;
    } cases[] = {
        {"device", true, "https://outlook.office365.com/.default openid profile offline_access"},
        {"interactive", true, "https://outlook.office365.com/.default openid profile offline_access"},
        {"password", true, "https://outlook.office365.com/.default openid profile offline_access"},
        {"accessToken", false, "https://outlook.office365.com/.default openid profile offline_access"},
        {"certificate", false, "https://outlook.office365.com/.default"},
        {"managedIdentity", false, "https://outlook.office365.com/.default"},
        {"federated", false, "https://outlook.office365.com/.default"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        em_conn_settings s = {.mode = cases[i].mode, .upn = "admin@contoso.onmicrosoft.com",
                              .password = "pw", .access_token = "x", .app_id = "3c0b1a5e",
                              .organization = "contoso.onmicrosoft.com", .cert_thumbprint = "AB"};
        em_conn_resolved r;

        assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
        /* App-only scopes ask for the resource's application permissions
         * only: no openid or offline_access. */
        assert_string_equal(r.scope, cases[i].scope);
        assert_int_equal(r.persistent, cases[i].persistent);
        assert_int_equal(em_conn_mode_app_only(r.mode), strcmp(cases[i].scope, "https://outlook.office365.com/.default") == 0);
        em_conn_resolved_free(&r);
        s.token_cache = "memory";
        assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
        assert_false(r.persistent);
        em_conn_resolved_free(&r);
    }
}

static void test_mode_options(void **state)
{
    em_conn_settings s = {.mode = "interactive", .prompt = "select_account", .no_browser = true,
                          .timeout_seconds = 30, .redirect_uri = "http://127.0.0.1/cb"};
    em_conn_resolved r;

    (void)state;
    assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
    assert_string_equal(r.prompt, "select_account");
    assert_true(r.no_browser);
    assert_int_equal(r.timeout_ms, 30000);
    assert_string_equal(r.redirect_uri, "http://127.0.0.1/cb");
    em_conn_resolved_free(&r);

    s = (em_conn_settings){.mode = "certificate", .app_id = "a", .organization = "contoso.com",
                           .cert_file = "c.pem", .assertion_alg = "RS256"};
    assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
    assert_int_equal(r.assertion_alg, 1);       /* EM_JWT_RS256 */
    em_conn_resolved_free(&r);
    s.assertion_alg = NULL;
    assert_int_equal(em_conn_resolve(&r, &s, NULL), EM_OK);
    assert_int_equal(r.assertion_alg, 0);       /* EM_JWT_PS256 by default */
    em_conn_resolved_free(&r);
}

static void test_mode_fields_rejected(void **state)
{
    static const rejected_case cases[] = {
        {{.mode = "certificate", .organization = "c.com", .cert_file = "c.pem"}, "appId"},
        {{.mode = "certificate", .app_id = "a", .cert_file = "c.pem"}, "organization"},
        {{.mode = "certificate", .app_id = "a", .organization = "c.com"}, "certificateFilePath"},
        {{.mode = "certificate", .app_id = "a", .organization = "c.com", .cert_file = "c.pem",
          .cert_thumbprint = "AB"}, "certificateFilePath"},
        {{.mode = "certificate", .app_id = "a", .organization = "c.com", .cert_data = "QUJD",
          .cert_thumbprint = "AB"}, "certificateData"},
        {{.mode = "certificate", .app_id = "a", .organization = "c.com", .cert_data = "QUJD",
          .cert_key_file = "k.pem"}, "certificateKeyFilePath"},
        {{.mode = "certificate", .app_id = "a", .organization = "c.com", .cert_file = "c.pem",
          .assertion_alg = "HS256"}, "assertionAlgorithm"},
        {{.mode = "managedIdentity"}, "organization"},
        {{.mode = "accessToken"}, "accessToken"},
        {{.mode = "password", .password = "secret-value"}, "userPrincipalName"},
        {{.mode = "password", .upn = "user@contoso.com"}, "password"},
        {{.mode = "device", .token_cache = "disk"}, "tokenCache"},
        {{.mode = "interactive", .prompt = "always"}, "prompt"},
        {{.mode = "interactive", .timeout_seconds = 86401}, "timeoutSeconds"},
        {{.mode = "interactive", .redirect_uri = "https://localhost"}, "redirectUri"},
        {{.mode = "interactive", .redirect_uri = "http://0.0.0.0:8400"}, "redirectUri"},
        {{.mode = "device", .redirect_uri = "http://localhost"}, "redirectUri"},
    };

    (void)state;
    assert_rejected(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_empty_table(void **state)
{
    em_conn_table *t = NULL;
    em_conn *c = NULL;
    em_error err = {0};
    yajl_gen g = em_json_gen_new();
    char *out = NULL;

    (void)state;
    assert_int_equal(em_conn_table_new(&t), EM_OK);
    assert_int_equal(em_conn_find(&c, t, "nope", &err), EM_ENOCONN);
    assert_string_equal(err.target, "nope");
    assert_int_equal(em_conn_close(&c, t, "nope", &err), EM_ENOCONN);
    assert_null(c);
    assert_int_equal(em_conn_gen_list(g, t), yajl_gen_status_ok);
    assert_int_equal(em_json_gen_dup(&out, g), EM_OK);
    assert_string_equal(out, "{\"connections\":[]}");
    free(out);
    yajl_gen_free(g);
    em_conn_table_clear(t);
    em_conn_table_free(&t);
    assert_null(t);
    assert_int_equal(em_json_outstanding(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_clouds),
        cmocka_unit_test(test_compliance),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_mode_options),
        cmocka_unit_test(test_mode_fields_rejected),
        cmocka_unit_test(test_empty_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
