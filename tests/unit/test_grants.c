/* test_grants.c - the browser sign-in, client credentials, password,
 * federated and managed identity grants (oidc_grants.c, mi.c) against a
 * fake identity platform (libmicrohttpd) on 127.0.0.1.
 *
 * The browser sign-in runs end to end: the real loopback listener, and
 * $BROWSER set to the curl program, which follows the fake authorize
 * endpoint's 302 to the listener as a browser would. The fake checks the
 * PKCE verifier against the challenge and puts the nonce in the id_token.
 * IMDS retries use a 20 ms unit instead of a second.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#ifdef EM_HAVE_MHD

#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util/base64.h"
#include "util/buf.h"
#include "identity/cert.h"
#include "fake_server.h"
#include "test_util.h"
#include "net/http.h"
#include "util/json.h"
#include "jwt_testkit.h"
#include "identity/mi.h"
#include "identity/oidc.h"
#include "identity/pkce.h"
#include "protocol/rpc.h"

#define CLIENT "fb78d390-0c51-40cd-8e17-fdbfab77341b"
#define APP "4a1aa1d5-c567-49d0-ad0b-cd957a47f842"
#define TID "6babcaad-604b-40ac-a9d7-9fd97c0b779f"
#define SCOPE "https://outlook.office365.com/.default openid profile offline_access"
#define APP_SCOPE "https://outlook.office365.com/.default"
#define CLAIMS "{\"access_token\":{\"xms_cc\":{\"values\":[\"cp1\"]}}}"
#define MI_SECRET "identity-header-secret"

typedef struct fake {
    fake_server server;
    EVP_PKEY *key;
    char *jwks;
    char *app_token;            /* an unsigned access token with tid/oid/appid */
    pthread_mutex_t lock;       /* everything below */
    /* authorize */
    char state[128], nonce[128], challenge[128], redirect_uri[128], authorize_query[2048];
    bool wrong_nonce;
    int token_calls;
    char last_form[4096];
    /* managed identity */
    char mi_query[1024];
    char mi_header[128];
    int imds_calls;
    int imds_script[8];         /* statuses; 200 after the script */
    int imds_script_len;
    double imds_times[8];
} fake;

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void copy_arg(char *out, size_t size, struct MHD_Connection *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    snprintf(out, size, "%s", v == NULL ? "" : v);
}

static char *id_token(fake *f)
{
    char payload[768];

    snprintf(payload, sizeof payload,
             "{\"iss\":\"%s/%s/v2.0\",\"aud\":\"%s\",\"tid\":\"%s\",\"oid\":\"oid-1\",\"nonce\":\"%s\","
             "\"preferred_username\":\"admin@contoso.onmicrosoft.com\",\"name\":\"Ada Admin\","
             "\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld}",
             f->server.base, TID, CLIENT, TID, f->wrong_nonce ? "other-nonce" : f->nonce, (long)time(NULL),
             (long)time(NULL), (long)time(NULL) + 3600);
    return testkit_token(f->key, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", payload);
}

/* The form's value of key (URL-decoded by hand for the few we check). */
static bool form_has(const char *form, const char *pair)
{
    size_t n = strlen(pair);
    for (const char *p = form; p != NULL; p = strchr(p, '&')) {
        if (*p == '&')
            p++;
        if (strncmp(p, pair, n) == 0 && (p[n] == '&' || p[n] == '\0'))
            return true;
    }
    return false;
}

static void token_answer(fake *f, const char *form, int *status, em_buf *body)
{
    snprintf(f->last_form, sizeof f->last_form, "%s", form);
    f->token_calls++;
    if (form_has(form, "grant_type=authorization_code")) {
        char *challenge = NULL;
        char verifier[256] = "";
        const char *v = strstr(form, "code_verifier=");
        char want_redirect[256];
        em_buf enc = EM_BUF_INIT;
        if (v != NULL)
            snprintf(verifier, sizeof verifier, "%.*s", (int)strcspn(v + 14, "&"), v + 14);
        em_http_form_add(&enc, "redirect_uri", f->redirect_uri);
        snprintf(want_redirect, sizeof want_redirect, "%s", enc.data);
        em_buf_free(&enc);
        if (!form_has(form, "code=CODE-1") || em_pkce_challenge(&challenge, verifier, NULL) != EM_OK ||
            strcmp(challenge, f->challenge) != 0 || !form_has(form, want_redirect)) {
            *status = 400;
            em_buf_puts(body, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS501481: The Code_Verifier "
                              "does not match the code_challenge.\",\"error_codes\":[501481]}");
        } else {
            char *t = id_token(f);
            em_buf_printf(body, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"AT-browser\","
                                "\"refresh_token\":\"RT-browser\",\"id_token\":\"%s\"}", t);
            free(t);
        }
        free(challenge);
    } else if (form_has(form, "grant_type=client_credentials")) {
        em_buf_printf(body, "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"%s\"}", f->app_token);
    } else if (form_has(form, "grant_type=password")) {
        if (form_has(form, "username=mfa%40contoso.onmicrosoft.com")) {
            *status = 400;
            em_buf_puts(body, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS50076: Due to a "
                              "configuration change made by your administrator, or because you moved to a new "
                              "location, you must use multi-factor authentication.\",\"error_codes\":[50076],"
                              "\"suberror\":\"basic_action\"}");
        } else {
            em_buf_puts(body, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"AT-ropc\","
                              "\"refresh_token\":\"RT-ropc\"}");
        }
    } else if (form_has(form, "grant_type=refresh_token")) {
        em_buf_puts(body, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"AT-refreshed\"}");
    } else {
        *status = 400;
        em_buf_puts(body, "{\"error\":\"unsupported_grant_type\"}");
    }
}

static void route(void *ctx, struct MHD_Connection *conn, const char *url, const char *form, int *status,
                  em_buf *body, char *location, size_t location_size)
{
    fake *f = ctx;

    *status = 200;
    if (strcmp(url, "/tenant/v2.0/.well-known/openid-configuration") == 0) {
        em_buf_printf(body,
                      "{\"issuer\":\"%s/{tenantid}/v2.0\","
                      "\"authorization_endpoint\":\"%s/tenant/oauth2/v2.0/authorize\","
                      "\"token_endpoint\":\"%s/tenant/oauth2/v2.0/token\","
                      "\"jwks_uri\":\"%s/tenant/discovery/v2.0/keys\","
                      "\"authorization_response_iss_parameter_supported\":true}",
                      f->server.base, f->server.base, f->server.base, f->server.base);
    } else if (strcmp(url, "/tenant/discovery/v2.0/keys") == 0) {
        em_buf_puts(body, f->jwks);
    } else if (strcmp(url, "/tenant/oauth2/v2.0/authorize") == 0) {
        char iss[128];
        em_buf q = EM_BUF_INIT;
        copy_arg(f->state, sizeof f->state, conn, "state");
        copy_arg(f->nonce, sizeof f->nonce, conn, "nonce");
        copy_arg(f->challenge, sizeof f->challenge, conn, "code_challenge");
        copy_arg(f->redirect_uri, sizeof f->redirect_uri, conn, "redirect_uri");
        snprintf(f->authorize_query, sizeof f->authorize_query,
                 "client_id=%s response_type=%s code_challenge_method=%s login_hint=%s prompt=%s claims=%s "
                 "response_mode=%s",
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "client_id"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "response_type"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "code_challenge_method"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "login_hint"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "prompt"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "claims"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "response_mode"));
        snprintf(iss, sizeof iss, "%s/%s/v2.0", f->server.base, TID);
        em_http_form_add(&q, "code", "CODE-1");
        em_http_form_add(&q, "state", f->state);
        em_http_form_add(&q, "iss", iss);
        snprintf(location, location_size, "%s?%s", f->redirect_uri, q.data);
        em_buf_free(&q);
        *status = 302;
    } else if (strcmp(url, "/tenant/oauth2/v2.0/token") == 0) {
        token_answer(f, form, status, body);
    } else if (strcmp(url, "/msi/token") == 0) {
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-IDENTITY-HEADER");
        const char *m = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Metadata");
        snprintf(f->mi_header, sizeof f->mi_header, "%s", h == NULL ? "" : h);
        snprintf(f->mi_query, sizeof f->mi_query, "api-version=%s resource=%s client_id=%s mi_res_id=%s",
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "api-version"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "resource"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "client_id"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "mi_res_id"));
        if (h == NULL || strcmp(h, MI_SECRET) != 0 || m == NULL || strcmp(m, "true") != 0) {
            *status = 401;
            em_buf_puts(body, "{\"statusCode\":401,\"message\":\"Unauthorized request\"}");
        } else {
            em_buf_printf(body, "{\"access_token\":\"%s\",\"expires_on\":\"%ld\",\"resource\":\"x\","
                                "\"token_type\":\"Bearer\"}", f->app_token, (long)time(NULL) + 86400);
        }
    } else if (strcmp(url, "/imds/token") == 0) {
        int i = f->imds_calls++;
        snprintf(f->mi_query, sizeof f->mi_query, "api-version=%s resource=%s client_id=%s msi_res_id=%s metadata=%s",
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "api-version"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "resource"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "client_id"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "msi_res_id"),
                 MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Metadata"));
        if (i < 8)
            f->imds_times[i] = now_seconds();
        if (i < f->imds_script_len && f->imds_script[i] != 200) {
            *status = f->imds_script[i];
            em_buf_printf(body, "{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}");
        } else {
            em_buf_printf(body, "{\"access_token\":\"%s\",\"expires_in\":\"3600\",\"expires_on\":%ld,"
                                "\"token_type\":\"Bearer\"}", f->app_token, (long)time(NULL) + 3600);
        }
    } else {
        *status = 404;
        em_buf_puts(body, "not found");
    }
}

static int group_setup(void **state)
{
    fake *f = calloc(1, sizeof *f);
    char payload[256];

    pthread_mutex_init(&f->lock, NULL);
    f->key = testkit_key(2048);
    f->jwks = testkit_jwks(f->key, "k1");
    snprintf(payload, sizeof payload, "{\"aud\":\"https://outlook.office365.com\",\"tid\":\"%s\",\"oid\":\"sp-oid\","
             "\"appid\":\"%s\",\"exp\":%ld}", TID, APP, (long)time(NULL) + 3600);
    f->app_token = testkit_token(NULL, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload);
    f->server.route = route;
    f->server.ctx = f;
    f->server.lock = &f->lock;
    if (!fake_server_start(&f->server))
        return -1;
    if (em_http_global_init(NULL) != EM_OK)
        return -1;
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fake *f = *state;

    MHD_stop_daemon(f->server.daemon);
    em_http_global_cleanup();
    EVP_PKEY_free(f->key);
    free(f->jwks);
    free(f->app_token);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return em_json_outstanding() == 0 ? 0 : -1;
}

static int reset(void **state)
{
    fake *f = *state;

    pthread_mutex_lock(&f->lock);
    f->wrong_nonce = false;
    f->token_calls = 0;
    f->imds_calls = 0;
    f->imds_script_len = 0;
    f->last_form[0] = f->mi_query[0] = f->mi_header[0] = f->authorize_query[0] = '\0';
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static em_oidc_provider *discover(fake *f)
{
    em_oidc_provider *p = NULL;
    em_error err = {0};
    char authority[128];

    snprintf(authority, sizeof authority, "%s/tenant", f->server.base);
    assert_int_equal(em_oidc_discover(&p, authority, NULL, &err), EM_OK);
    assert_true(em_oidc_iss_parameter_supported(p));
    assert_non_null(em_oidc_authorization_endpoint(p));
    return p;
}

static const em_oidc_client user_client = {CLIENT, SCOPE, "admin@contoso.onmicrosoft.com"};
static const em_oidc_client app_client = {APP, APP_SCOPE, NULL};

/* ---- browser sign-in ------------------------------------------------------ */

static void test_interactive_with_browser(void **state)
{
    fake *f = *state;
    em_oidc_provider *p = discover(f);
    em_oidc_interactive_options o = {0};
    em_tokens *t = NULL;
    em_error err = {0};

    if (access("/usr/bin/curl", X_OK) != 0) {
        em_oidc_provider_free(&p);
        skip();
    }
    /* curl as the browser: it follows the 302 to the loopback listener. */
    setenv("BROWSER", "/usr/bin/curl -s -o /dev/null -L --max-time 10", 1);
    o.prompt = "select_account";
    o.claims = CLAIMS;
    o.timeout_ms = 15000;
    assert_int_equal(em_oidc_interactive_flow(&t, p, &user_client, &o, NULL, &err), EM_OK);
    assert_string_equal(t->access_token, "AT-browser");
    assert_string_equal(t->refresh_token, "RT-browser");
    assert_string_equal(t->username, "admin@contoso.onmicrosoft.com");
    assert_string_equal(t->tenant_id, TID);
    /* What the authorize request carried. */
    assert_non_null(strstr(f->authorize_query, "client_id=" CLIENT " response_type=code code_challenge_method=S256 "
                                                "login_hint=admin@contoso.onmicrosoft.com prompt=select_account "
                                                "claims=" CLAIMS " response_mode=query"));
    /* Microsoft's public client is registered with http://localhost: sent
     * as MSAL sends it, without a trailing slash. */
    assert_int_equal(strncmp(f->redirect_uri, "http://localhost:", 17), 0);
    assert_null(strchr(f->redirect_uri + 17, '/'));
    assert_int_equal(strlen(f->state), 43);
    assert_int_equal(strlen(f->nonce), 43);
    assert_non_null(strstr(f->last_form, "grant_type=authorization_code"));
    assert_non_null(strstr(f->last_form, "code_verifier="));
    em_tokens_free(&t);
    /* The id_token's nonce must be this sign-in's. */
    f->wrong_nonce = true;
    assert_int_equal(em_oidc_interactive_flow(&t, p, &user_client, &o, NULL, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "nonce"));
    assert_null(t);
    /* An app registered with http://127.0.0.1 and a path. */
    f->wrong_nonce = false;
    o.redirect_uri = "http://127.0.0.1/auth";
    assert_int_equal(em_oidc_interactive_flow(&t, p, &user_client, &o, NULL, &err), EM_OK);
    assert_int_equal(strncmp(f->redirect_uri, "http://127.0.0.1:", 17), 0);
    assert_non_null(strstr(f->redirect_uri + 17, "/auth"));
    em_tokens_free(&t);
    unsetenv("BROWSER");
    em_oidc_provider_free(&p);
}

static int browser_method(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    em_oidc_interactive_options o = {0};
    em_tokens *t = NULL;
    int rc = EM_OK;

    (void)params;
    o.no_browser = true;
    o.timeout_ms = 15000;
    rc = em_oidc_interactive_flow(&t, app, &user_client, &o, req, err);
    if (rc == EM_OK)
        *out = strdup("{\"ok\":true}");
    em_tokens_free(&t);
    return rc;
}

static long http_get_status(const char *url)
{
    em_http_request req = {0};
    em_http_response resp = {0};
    long status = -1;

    req.method = "GET";
    req.url = url;
    req.allow_http = true;      /* the loopback listener */
    if (em_http_perform(&resp, &req, NULL, NULL) == EM_OK)
        status = resp.status;
    em_http_response_free(&resp);
    return status;
}

static void test_interactive_no_browser(void **state)
{
    fake *f = *state;
    const em_rpc_method methods[] = {{"signin", browser_method}, {NULL, NULL}};
    const char start[] = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"signin\"}\n";
    em_oidc_provider *p = discover(f);
    test_lines out = {PTHREAD_MUTEX_INITIALIZER, EM_BUF_INIT};
    em_rpc *rpc = NULL;
    char url[2048];
    char callback[2048];
    char iss[128];
    em_buf q = EM_BUF_INIT;

    /* A browser that cannot start: with -NoBrowser nothing is launched, so no warning. */
    setenv("BROWSER", "/nonexistent/browser", 1);
    assert_int_equal(em_rpc_new(&rpc, methods, p, NULL, test_lines_capture, &out), EM_OK);
    em_rpc_feed(rpc, start, sizeof start - 1);
    for (int i = 0; i < 100 && !test_lines_url(&out, url, sizeof url); i++)
        em_request_sleep(NULL, 20);
    assert_true(test_lines_contain(&out, "\"method\":\"browserUrl\""));
    assert_true(test_lines_contain(&out, "\"requestId\":5"));
    /* The user opens the address: the authorize endpoint answers 302. */
    assert_int_equal(strncmp(url, f->server.base, strlen(f->server.base)), 0);
    assert_int_equal(http_get_status(url), 302);
    /* ...and the browser follows it to the listener. */
    snprintf(iss, sizeof iss, "%s/%s/v2.0", f->server.base, TID);
    em_http_form_add(&q, "code", "CODE-1");
    em_http_form_add(&q, "state", f->state);
    em_http_form_add(&q, "iss", iss);
    snprintf(callback, sizeof callback, "%s?%s", f->redirect_uri, q.data);
    em_buf_free(&q);
    assert_int_equal(http_get_status(callback), 200);
    for (int i = 0; i < 200 && !test_lines_contain(&out, "\"id\":5,\"result\""); i++)
        em_request_sleep(NULL, 20);
    assert_true(test_lines_contain(&out, "\"ok\":true"));
    assert_false(test_lines_contain(&out, "\"warning\""));
    assert_false(test_lines_contain(&out, "CODE-1"));
    assert_false(test_lines_contain(&out, "AT-browser"));
    em_rpc_wait_idle(rpc);
    em_rpc_free(&rpc);
    em_buf_free(&out.text);
    unsetenv("BROWSER");
    em_oidc_provider_free(&p);
}

/* ---- app-only, password, federated ------------------------------------- */

static void test_client_credentials(void **state)
{
    fake *f = *state;
    em_oidc_provider *p = discover(f);
    em_tokens *t = NULL;
    em_error err = {0};

    assert_int_equal(em_oidc_client_credentials(&t, p, &app_client, "signed.assertion.jwt", NULL, &err), EM_OK);
    assert_string_equal(t->access_token, f->app_token);
    assert_string_equal(t->tenant_id, TID);
    assert_string_equal(t->object_id, "sp-oid");
    assert_null(t->username);
    assert_null(t->refresh_token);
    assert_true(form_has(f->last_form, "grant_type=client_credentials"));
    assert_true(form_has(f->last_form, "client_id=" APP));
    assert_true(form_has(f->last_form, "scope=https%3A%2F%2Foutlook.office365.com%2F.default"));
    assert_true(form_has(f->last_form, "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"));
    assert_true(form_has(f->last_form, "client_assertion=signed.assertion.jwt"));
    em_tokens_free(&t);
    assert_int_equal(em_oidc_client_credentials(&t, p, &app_client, "", NULL, &err), EM_EINVAL);
    em_oidc_provider_free(&p);
}

/* A throwaway certificate with its key, as PEM text loaded by cert.c. */
static em_cert *make_cert(EVP_PKEY *key, long valid_from, long valid_to)
{
    X509 *x = X509_new();
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long len = 0;
    em_cert *c = NULL;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), valid_from);
    X509_gmtime_adj(X509_getm_notAfter(x), valid_to);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"app", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, key, EVP_sha256());
    PEM_write_bio_X509(bio, x);
    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    len = BIO_get_mem_data(bio, &pem);
    assert_int_equal(em_cert_load_pem(&c, pem, (size_t)len, NULL, NULL), EM_OK);
    BIO_free(bio);
    X509_free(x);
    return c;
}

static void test_certificate(void **state)
{
    fake *f = *state;
    em_oidc_provider *p = discover(f);
    em_cert *good = make_cert(f->key, -60, 86400);
    em_cert *expired = make_cert(f->key, -86400, -60);
    const char *a = NULL;
    unsigned char *header = NULL;
    size_t header_len = 0;
    em_tokens *t = NULL;
    em_error err = {0};

    assert_int_equal(em_oidc_certificate(&t, p, &app_client, good, EM_JWT_PS256, NULL, &err), EM_OK);
    assert_string_equal(t->tenant_id, TID);
    a = strstr(f->last_form, "client_assertion=");
    assert_non_null(a);
    a += strlen("client_assertion=");
    assert_int_equal(em_base64url_decode(&header, &header_len, a, strcspn(a, ".")), EM_OK);
    assert_non_null(strstr((char *)header, "\"alg\":\"PS256\""));
    assert_non_null(strstr((char *)header, "x5t#S256"));
    free(header);
    em_tokens_free(&t);
    /* RS256 on request; a new assertion (new jti) each time. */
    assert_int_equal(em_oidc_certificate(&t, p, &app_client, good, EM_JWT_RS256, NULL, &err), EM_OK);
    a = strstr(f->last_form, "client_assertion=") + strlen("client_assertion=");
    assert_int_equal(em_base64url_decode(&header, &header_len, a, strcspn(a, ".")), EM_OK);
    assert_non_null(strstr((char *)header, "\"alg\":\"RS256\""));
    free(header);
    em_tokens_free(&t);
    /* Expired: refused before anything is sent. */
    f->token_calls = 0;
    assert_int_equal(em_oidc_certificate(&t, p, &app_client, expired, EM_JWT_PS256, NULL, &err), EM_ECONFIG);
    assert_non_null(strstr(err.message, "expired on"));
    assert_int_equal(f->token_calls, 0);
    assert_null(t);
    em_cert_free(&good);
    em_cert_free(&expired);
    em_oidc_provider_free(&p);
}

static void test_password(void **state)
{
    fake *f = *state;
    em_oidc_provider *p = discover(f);
    em_tokens *t = NULL;
    em_error err = {0};

    assert_int_equal(em_oidc_password(&t, p, &user_client, "user@contoso.onmicrosoft.com", "P@ss w0rd&=", NULL, &err),
                     EM_OK);
    assert_string_equal(t->access_token, "AT-ropc");
    assert_string_equal(t->username, "user@contoso.onmicrosoft.com");
    assert_true(form_has(f->last_form, "grant_type=password"));
    assert_true(form_has(f->last_form, "password=P%40ss%20w0rd%26%3D"));
    em_tokens_free(&t);
    /* An MFA account: say which modes work instead. */
    assert_int_equal(em_oidc_password(&t, p, &user_client, "mfa@contoso.onmicrosoft.com", "P@ss w0rd&=", NULL, &err),
                     EM_EMFA);
    assert_int_equal(err.aadsts, 50076);
    assert_non_null(strstr(err.message, "multi-factor authentication"));
    assert_non_null(strstr(err.message, "Connect-ExchangeMfa -Device"));
    assert_non_null(strstr(err.message, "browser sign-in"));
    assert_null(strstr(err.message, "P@ss"));
    assert_null(t);
    em_oidc_provider_free(&p);
}

static void test_refresh_with_claims(void **state)
{
    fake *f = *state;
    em_oidc_provider *p = discover(f);
    em_tokens prev = {0};
    em_tokens *t = NULL;
    em_error err = {0};

    prev.refresh_token = "RT-0";
    prev.tenant_id = TID;
    assert_int_equal(em_oidc_refresh_claims(&t, p, &user_client, &prev, CLAIMS, NULL, &err), EM_OK);
    assert_string_equal(t->access_token, "AT-refreshed");
    assert_true(form_has(f->last_form, "claims=%7B%22access_token%22%3A%7B%22xms_cc%22%3A%7B%22values%22%3A%5B%22cp1%22%5D%7D%7D%7D"));
    em_tokens_free(&t);
    assert_int_equal(em_oidc_refresh(&t, p, &user_client, &prev, NULL, &err), EM_OK);
    assert_null(strstr(f->last_form, "claims="));
    em_tokens_free(&t);
    em_oidc_provider_free(&p);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
}

static void test_federated(void **state)
{
    fake *f = *state;
    em_oidc_provider *p = discover(f);
    em_oidc_federated_config cfg = {0};
    char path[] = "/tmp/em-federated-XXXXXX";
    char fifo[300], fifo_name[64];
    int fd = mkstemp(path);
    em_tokens *t = NULL;
    em_error err = {0};

    close(fd);
    write_text(path, "  eyJ.first.token\n");
    assert_int_equal(em_oidc_federated(&t, p, &app_client, path, NULL, &err), EM_OK);
    assert_true(form_has(f->last_form, "client_assertion=eyJ.first.token"));
    em_tokens_free(&t);
    /* Rotated by the platform: read again. */
    write_text(path, "eyJ.second.token");
    assert_int_equal(em_oidc_federated(&t, p, &app_client, path, NULL, &err), EM_OK);
    assert_true(form_has(f->last_form, "client_assertion=eyJ.second.token"));
    em_tokens_free(&t);
    write_text(path, " \n");
    assert_int_equal(em_oidc_federated(&t, p, &app_client, path, NULL, &err), EM_ECONFIG);
    unlink(path);
    assert_int_equal(em_oidc_federated(&t, p, &app_client, path, NULL, &err), EM_ECONFIG);
    assert_null(t);
    /* A FIFO (a named pipe on Windows) is refused at once, never waited on. */
    snprintf(fifo_name, sizeof fifo_name, "em-federated-fifo-%d", (int)getpid());
    assert_int_equal(test_make_blocking_file(fifo, sizeof fifo, "/tmp", fifo_name), 0);
    assert_int_equal(em_oidc_federated(&t, p, &app_client, fifo, NULL, &err), EM_ECONFIG);
    assert_non_null(strstr(err.message, "is not a regular file"));
    unlink(fifo);
    /* The environment. */
    unsetenv("AZURE_AUTHORITY_HOST");
    setenv("AZURE_CLIENT_ID", APP, 1);
    setenv("AZURE_TENANT_ID", TID, 1);
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");
    assert_int_equal(em_oidc_federated_config_read(&cfg, NULL, NULL, &err), EM_ECONFIG);
    assert_non_null(strstr(err.message, "AZURE_FEDERATED_TOKEN_FILE"));
    setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token", 1);
    assert_int_equal(em_oidc_federated_config_read(&cfg, NULL, NULL, &err), EM_OK);
    assert_string_equal(cfg.client_id, APP);
    assert_string_equal(cfg.authority, "https://login.microsoftonline.com/" TID);
    em_oidc_federated_config_clear(&cfg);
    setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us", 1);
    assert_int_equal(em_oidc_federated_config_read(&cfg, NULL, NULL, &err), EM_OK);
    assert_string_equal(cfg.authority, "https://login.microsoftonline.us/" TID);
    em_oidc_federated_config_clear(&cfg);
    setenv("AZURE_AUTHORITY_HOST", "http://login.microsoftonline.us", 1);
    assert_int_equal(em_oidc_federated_config_read(&cfg, NULL, NULL, &err), EM_ECONFIG);
    unsetenv("AZURE_AUTHORITY_HOST");
    /* -AppId and -Organization stand in for AZURE_CLIENT_ID and AZURE_TENANT_ID. */
    unsetenv("AZURE_CLIENT_ID");
    unsetenv("AZURE_TENANT_ID");
    assert_int_equal(em_oidc_federated_config_read(&cfg, NULL, NULL, &err), EM_ECONFIG);
    assert_non_null(strstr(err.message, "AZURE_CLIENT_ID"));
    assert_int_equal(em_oidc_federated_config_read(&cfg, APP, "contoso.onmicrosoft.com", &err), EM_OK);
    assert_string_equal(cfg.client_id, APP);
    assert_string_equal(cfg.tenant_id, "contoso.onmicrosoft.com");
    assert_string_equal(cfg.authority, "https://login.microsoftonline.com/contoso.onmicrosoft.com");
    em_oidc_federated_config_clear(&cfg);
    em_oidc_provider_free(&p);
}

/* ---- managed identity ------------------------------------------------------ */

static void test_mi_app_service(void **state)
{
    fake *f = *state;
    char endpoint[128];
    em_mi_options o = {"https://outlook.office365.com", NULL, 20};
    em_tokens *t = NULL;
    em_error err = {0};

    snprintf(endpoint, sizeof endpoint, "%s/msi/token", f->server.base);
    setenv("IDENTITY_ENDPOINT", endpoint, 1);
    setenv("IDENTITY_HEADER", MI_SECRET, 1);
    assert_int_equal(em_mi_token(&t, &o, NULL, &err), EM_OK);
    assert_string_equal(t->access_token, f->app_token);
    assert_string_equal(t->tenant_id, TID);
    assert_true(t->expires_at > time(NULL) + 86000);
    /* A day-long token is renewed at half its life. */
    assert_true(t->refresh_at < time(NULL) + 43300 && t->refresh_at > time(NULL) + 43000);
    assert_string_equal(f->mi_header, MI_SECRET);
    assert_string_equal(f->mi_query, "api-version=2019-08-01 resource=https://outlook.office365.com "
                                     "client_id=(null) mi_res_id=(null)");
    em_tokens_free(&t);
    o.account_id = APP;
    assert_int_equal(em_mi_token(&t, &o, NULL, &err), EM_OK);
    assert_non_null(strstr(f->mi_query, "client_id=" APP " mi_res_id=(null)"));
    em_tokens_free(&t);
    o.account_id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x";
    assert_int_equal(em_mi_token(&t, &o, NULL, &err), EM_OK);
    assert_non_null(strstr(f->mi_query, "client_id=(null) mi_res_id=/subscriptions/s/"));
    em_tokens_free(&t);
    o.account_id = "not-an-id";
    assert_int_equal(em_mi_token(&t, &o, NULL, &err), EM_EINVAL);
    o.account_id = NULL;
    /* A wrong secret header. */
    setenv("IDENTITY_HEADER", "wrong", 1);
    assert_int_equal(em_mi_token(&t, &o, NULL, &err), EM_EACCESS);
    assert_int_equal(err.http_status, 401);
    assert_null(strstr(err.message, "wrong"));
    assert_null(t);
    unsetenv("IDENTITY_ENDPOINT");
    unsetenv("IDENTITY_HEADER");
}

static void imds_script(fake *f, const int *statuses, int n)
{
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < n; i++)
        f->imds_script[i] = statuses[i];
    f->imds_script_len = n;
    f->imds_calls = 0;
    pthread_mutex_unlock(&f->lock);
}

static void test_mi_imds_retries(void **state)
{
    fake *f = *state;
    char endpoint[128];
    const int flaky[] = {503, 429, 404, 200};
    const int down[] = {500, 500, 500, 500, 500, 500};
    const int unknown[] = {400};
    em_mi_options o = {"https://outlook.office365.com", APP, 20};
    em_tokens *t = NULL;
    em_error err = {0};

    unsetenv("IDENTITY_ENDPOINT");
    snprintf(endpoint, sizeof endpoint, "%s/imds/token", f->server.base);
    setenv("EXCHANGEMFA_IMDS_ENDPOINT", endpoint, 1);
    imds_script(f, flaky, 4);
    assert_int_equal(em_mi_token(&t, &o, NULL, &err), EM_OK);
    assert_int_equal(f->imds_calls, 4);
    assert_string_equal(f->mi_query, "api-version=2018-02-01 resource=https://outlook.office365.com "
                                     "client_id=" APP " msi_res_id=(null) metadata=true");
    /* Waits of 2, 6 and 14 units of 20 ms. */
    assert_true(f->imds_times[1] - f->imds_times[0] >= 0.039);
    assert_true(f->imds_times[2] - f->imds_times[1] >= 0.119);
    assert_true(f->imds_times[3] - f->imds_times[2] >= 0.279);
    assert_true(f->imds_times[3] - f->imds_times[0] < 2.0);
    assert_true(t->expires_at > time(NULL) + 3500);
    em_tokens_free(&t);
    /* Five tries, then the last answer decides. */
    imds_script(f, down, 6);
    assert_int_equal(em_mi_token(&t, &o, NULL, &err), EM_EHTTP);
    assert_int_equal(f->imds_calls, 5);
    assert_int_equal(err.http_status, 500);
    /* 400 is not retried. */
    imds_script(f, unknown, 1);
    assert_int_equal(em_mi_token(&t, &o, NULL, &err), EM_ECONFIG);
    assert_int_equal(f->imds_calls, 1);
    assert_non_null(strstr(err.message, "Identity not found"));
    assert_null(t);
    /* Nobody listening. */
    setenv("EXCHANGEMFA_IMDS_ENDPOINT", "http://127.0.0.1:9/metadata/identity/oauth2/token", 1);
    assert_int_equal(em_mi_token(&t, &o, NULL, &err), EM_ENETWORK);
    assert_non_null(strstr(err.message, "IMDS"));
    unsetenv("EXCHANGEMFA_IMDS_ENDPOINT");
}

static int mi_method(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    em_mi_options o = {"https://outlook.office365.com", NULL, 1000};
    em_tokens *t = NULL;
    int rc = em_mi_token(&t, &o, req, err);

    (void)params;
    (void)app;
    em_tokens_free(&t);
    if (rc == EM_OK)
        *out = strdup("{}");
    return rc;
}

static void test_mi_imds_cancel(void **state)
{
    fake *f = *state;
    const em_rpc_method methods[] = {{"mi", mi_method}, {NULL, NULL}};
    const char start[] = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"mi\"}\n";
    const char cancel[] = "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"id\":9}}\n";
    const int down[] = {503, 503, 503, 503, 503};
    char endpoint[128];
    test_lines out = {PTHREAD_MUTEX_INITIALIZER, EM_BUF_INIT};
    em_rpc *rpc = NULL;
    double t0 = 0;

    snprintf(endpoint, sizeof endpoint, "%s/imds/token", f->server.base);
    setenv("EXCHANGEMFA_IMDS_ENDPOINT", endpoint, 1);
    imds_script(f, down, 5);
    assert_int_equal(em_rpc_new(&rpc, methods, NULL, NULL, test_lines_capture, &out), EM_OK);
    em_rpc_feed(rpc, start, sizeof start - 1);
    em_request_sleep(NULL, 300);        /* first try done, waiting 2 s */
    t0 = now_seconds();
    em_rpc_feed(rpc, cancel, sizeof cancel - 1);
    for (int i = 0; i < 100 && !test_lines_contain(&out, "\"id\":9,\"error\""); i++)
        em_request_sleep(NULL, 10);
    assert_true(now_seconds() - t0 < 0.5);
    assert_true(test_lines_contain(&out, "Cancelled"));
    assert_int_equal(f->imds_calls, 1);
    em_rpc_wait_idle(rpc);
    em_rpc_free(&rpc);
    em_buf_free(&out.text);
    unsetenv("EXCHANGEMFA_IMDS_ENDPOINT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_interactive_with_browser, reset),
        cmocka_unit_test_setup(test_interactive_no_browser, reset),
        cmocka_unit_test_setup(test_client_credentials, reset),
        cmocka_unit_test_setup(test_certificate, reset),
        cmocka_unit_test_setup(test_password, reset),
        cmocka_unit_test_setup(test_refresh_with_claims, reset),
        cmocka_unit_test_setup(test_federated, reset),
        cmocka_unit_test_setup(test_mi_app_service, reset),
        cmocka_unit_test_setup(test_mi_imds_retries, reset),
        cmocka_unit_test_setup(test_mi_imds_cancel, reset),
    };

    return cmocka_run_group_tests_name("grants", tests, group_setup, group_teardown);
}

#else

static void test_skipped(void **state)
{
    (void)state;
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_skipped)};
    return cmocka_run_group_tests_name("grants (no libmicrohttpd)", tests, NULL, NULL);
}

#endif
