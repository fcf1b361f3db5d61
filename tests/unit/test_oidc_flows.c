/* test_oidc_flows.c - discovery, device code flow and refresh (oidc.c)
 * against a small fake identity server (libmicrohttpd) on 127.0.0.1.
 *
 * The fake speaks plain HTTP because it has no certificate; oidc.c does
 * not know or care (its TLS lives in http.c and is never switched off).
 * Device code answers use interval 1 s so polling tests stay short; the
 * slow_down test takes about 7 s by design (1 s + 5 s step).
 * Cancellation goes through the real protocol loop (rpc.h): a `cancel`
 * line must end a polling sign-in promptly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#ifdef EM_HAVE_MHD

#include <pthread.h>
#include <time.h>
#include <microhttpd.h>

#include "util/buf.h"
#include "fake_server.h"
#include "net/http.h"
#include "util/json.h"
#include "jwt_testkit.h"
#include "identity/oidc.h"
#include "protocol/rpc.h"

#define CLIENT "fb78d390-0c51-40cd-8e17-fdbfab77341b"
#define TID "6babcaad-604b-40ac-a9d7-9fd97c0b779f"
#define SCOPE "https://outlook.office365.com/.default openid profile offline_access"
#define MAX_SCRIPT 8

/* One scripted token endpoint answer. "ID_TOKEN" in body is replaced by a
 * freshly signed id_token. */
typedef struct answer {
    int status;
    const char *body;
} answer;

typedef struct fake {
    fake_server server;
    EVP_PKEY *key;
    char *jwks;
    pthread_mutex_t lock;       /* everything below: the server thread writes */
    const char *discovery;      /* NULL: the good document */
    const char *issuer_suffix;  /* standard documents: NULL = the authority's path */
    long device_expires;
    answer script[MAX_SCRIPT];
    int script_len;
    int token_calls;
    int jwks_calls;
    double poll_times[32];      /* monotonic seconds of each token call */
    char last_form[2048];       /* the last token endpoint form */
    char device_form[1024];     /* the last device code request form */
    char id_token_kid[16];
} fake;

static fake *the_fake;

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *signed_id_token(fake *f)
{
    char header[64];
    char payload[512];

    snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
             f->id_token_kid);
    snprintf(payload, sizeof payload,
             "{\"iss\":\"%s/%s/v2.0\",\"aud\":\"%s\",\"tid\":\"%s\",\"oid\":\"oid-1\","
             "\"preferred_username\":\"admin@contoso.onmicrosoft.com\",\"name\":\"Ada Admin\","
             "\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld}",
             f->server.base, TID, CLIENT, TID, (long)time(NULL), (long)time(NULL), (long)time(NULL) + 3600);
    return testkit_token(f->key, header, payload);
}

/* The answer for url (+ form for POSTs), built under the lock. */
static void route(void *ctx, struct MHD_Connection *conn, const char *url, const char *form, int *status,
                  em_buf *body, char *location, size_t location_size)
{
    fake *f = ctx;

    (void)conn;
    (void)location;
    (void)location_size;
    *status = 200;
    if (strcmp(url, "/organizations/v2.0/.well-known/openid-configuration") == 0) {
        if (f->discovery != NULL)
            em_buf_printf(body, f->discovery, f->server.base, f->server.base, f->server.base, f->server.base);
        else
            em_buf_printf(body,
                          "{\"issuer\":\"%s/{tenantid}/v2.0\","
                          "\"token_endpoint\":\"%s/organizations/oauth2/v2.0/token\","
                          "\"device_authorization_endpoint\":\"%s/organizations/oauth2/v2.0/devicecode\","
                          "\"jwks_uri\":\"%s/organizations/discovery/v2.0/keys\","
                          "\"id_token_signing_alg_values_supported\":[\"RS256\"]}",
                          f->server.base, f->server.base, f->server.base, f->server.base);
    } else if (strcmp(url, "/unknown/v2.0/.well-known/openid-configuration") == 0) {
        *status = 400;
        em_buf_puts(body, "{\"error\":\"invalid_tenant\",\"error_description\":\"AADSTS90002: "
                          "Tenant 'unknown' not found.\\r\\nTrace ID: 1\",\"error_codes\":[90002]}");
    } else if (strcmp(url, "/plain/.well-known/openid-configuration") == 0 ||
               strcmp(url, "/.well-known/openid-configuration") == 0 ||
               strcmp(url, "/tenant/v2.0/.well-known/openid-configuration") == 0) {
        /* A standard provider (issuer = the authority); the third is
         * found the standard way only, since its path ends in /v2.0. */
        const char *issuer = strncmp(url, "/plain/", 7) == 0 ? "/plain"
                             : strncmp(url, "/tenant/", 8) == 0 ? "/tenant/v2.0" : "";
        em_buf_printf(body,
                      "{\"issuer\":\"%s%s\",\"token_endpoint\":\"%s/token\","
                      "\"jwks_uri\":\"%s/organizations/discovery/v2.0/keys\"}",
                      f->server.base, f->issuer_suffix != NULL ? f->issuer_suffix : issuer, f->server.base, f->server.base);
    } else if (strcmp(url, "/organizations/discovery/v2.0/keys") == 0) {
        f->jwks_calls++;
        em_buf_puts(body, f->jwks);
    } else if (strcmp(url, "/organizations/oauth2/v2.0/devicecode") == 0) {
        snprintf(f->device_form, sizeof f->device_form, "%s", form);
        em_buf_printf(body,
                      "{\"device_code\":\"DC-secret-1\",\"user_code\":\"ABCD-EFGH\","
                      "\"verification_uri\":\"https://microsoft.com/devicelogin\","
                      "\"expires_in\":%ld,\"interval\":1,"
                      "\"message\":\"To sign in, use a web browser to open the page "
                      "https://microsoft.com/devicelogin and enter the code ABCD-EFGH to authenticate.\"}",
                      f->device_expires);
    } else if (strcmp(url, "/organizations/oauth2/v2.0/token") == 0) {
        answer a = {400, "{\"error\":\"authorization_pending\",\"error_codes\":[70016]}"};
        if (f->token_calls < 32)
            f->poll_times[f->token_calls] = now_seconds();
        if (f->token_calls < f->script_len)
            a = f->script[f->token_calls];
        f->token_calls++;
        snprintf(f->last_form, sizeof f->last_form, "%s", form);
        *status = a.status;
        const char *hole = strstr(a.body, "ID_TOKEN");
        if (hole == NULL) {
            em_buf_puts(body, a.body);
        } else {
            char *token = signed_id_token(f);
            em_buf_append(body, a.body, (size_t)(hole - a.body));
            em_buf_puts(body, token);
            em_buf_puts(body, hole + 8);
            free(token);
        }
    } else {
        *status = 404;
        em_buf_puts(body, "not found");
    }
}

static int group_setup(void **state)
{
    fake *f = calloc(1, sizeof *f);

    pthread_mutex_init(&f->lock, NULL);
    f->key = testkit_key(2048);
    f->jwks = testkit_jwks(f->key, "k1");
    f->server.route = route;
    f->server.ctx = f;
    f->server.lock = &f->lock;
    if (!fake_server_start(&f->server))
        return -1;
    if (em_http_global_init(NULL) != EM_OK)
        return -1;
    the_fake = f;
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
    pthread_mutex_destroy(&f->lock);
    free(f);
    return em_json_outstanding() == 0 ? 0 : -1;
}

/* Each test starts with an empty script and the good discovery document. */
static int reset(void **state)
{
    fake *f = *state;

    pthread_mutex_lock(&f->lock);
    f->discovery = NULL;
    f->device_expires = 900;
    f->script_len = 0;
    f->token_calls = 0;
    f->jwks_calls = 0;
    f->last_form[0] = '\0';
    f->device_form[0] = '\0';
    snprintf(f->id_token_kid, sizeof f->id_token_kid, "k1");
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static void script(fake *f, const answer *answers, int n)
{
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < n; i++)
        f->script[i] = answers[i];
    f->script_len = n;
    pthread_mutex_unlock(&f->lock);
}

static em_oidc_provider *discover(fake *f)
{
    em_oidc_provider *p = NULL;
    em_error err = {0};
    char authority[128];

    snprintf(authority, sizeof authority, "%s/organizations/", f->server.base);
    assert_int_equal(em_oidc_discover(&p, authority, NULL, &err), EM_OK);
    return p;
}

static const em_oidc_client client = {CLIENT, SCOPE, "admin@contoso.onmicrosoft.com"};

static void test_discover(void **state)
{
    fake *f = *state;
    em_oidc_provider *p = discover(f);
    char want[128];

    snprintf(want, sizeof want, "%s/{tenantid}/v2.0", f->server.base);
    assert_string_equal(em_oidc_issuer(p), want);
    snprintf(want, sizeof want, "%s/organizations/oauth2/v2.0/token", f->server.base);
    assert_string_equal(em_oidc_token_endpoint(p), want);
    assert_int_equal(f->jwks_calls, 1);
    em_oidc_provider_free(&p);
    assert_null(p);
    em_oidc_provider_free(&p);
}

/* H1: standard discovery ({authority}/.well-known/...), after a 404 at
 * Microsoft's place, or alone when the path is empty or ends in /v2.0; the
 * issuer must then be the authority. */
static void test_discover_standard(void **state)
{
    fake *f = *state;
    em_oidc_provider *p = NULL;
    em_error err = {0};
    char authority[128], want[160];
    static const char *const paths[] = {"/plain", "", "/tenant/v2.0", "/plain/"};

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        snprintf(authority, sizeof authority, "%s%s", f->server.base, paths[i]);
        assert_int_equal(em_oidc_discover(&p, authority, NULL, &err), EM_OK);
        snprintf(want, sizeof want, "%s/token", f->server.base);
        assert_string_equal(em_oidc_token_endpoint(p), want);
        em_oidc_provider_free(&p);
    }
    /* A standard document whose issuer is not the authority. */
    f->issuer_suffix = "/someone-else";
    snprintf(authority, sizeof authority, "%s/plain", f->server.base);
    assert_int_equal(em_oidc_discover(&p, authority, NULL, &err), EM_EBADRESPONSE);
    assert_non_null(strstr(err.message, "is not the authority"));
    f->issuer_suffix = NULL;
    assert_null(p);
}

static void test_discover_errors(void **state)
{
    fake *f = *state;
    em_oidc_provider *p = NULL;
    em_error err = {0};
    char authority[128];

    snprintf(authority, sizeof authority, "%s/unknown", f->server.base);
    assert_int_equal(em_oidc_discover(&p, authority, NULL, &err), EM_ECONFIG);
    assert_int_equal(err.aadsts, 90002);
    assert_int_equal(err.http_status, 400);
    memset(&err, 0, sizeof err);
    snprintf(authority, sizeof authority, "%s/nothing-here", f->server.base);
    assert_int_equal(em_oidc_discover(&p, authority, NULL, &err), EM_EHTTP);
    assert_int_equal(err.http_status, 404);
    assert_int_equal(em_oidc_discover(&p, "not a url", NULL, &err), EM_EINVAL);
    snprintf(authority, sizeof authority, "%s/organizations", f->server.base);
    /* Issuer on another host. */
    f->discovery = "{\"issuer\":\"https://evil.example/{tenantid}/v2.0\",\"token_endpoint\":\"%s/t\","
                   "\"jwks_uri\":\"%s/organizations/discovery/v2.0/keys\",\"x\":\"%s%s\"}";
    assert_int_equal(em_oidc_discover(&p, authority, NULL, &err), EM_EBADRESPONSE);
    assert_non_null(strstr(err.message, "issuer"));
    /* No jwks_uri. */
    f->discovery = "{\"issuer\":\"%s/x\",\"token_endpoint\":\"%s/t\",\"y\":\"%s%s\"}";
    assert_int_equal(em_oidc_discover(&p, authority, NULL, &err), EM_EBADRESPONSE);
    /* An endpoint with another scheme than the authority. */
    f->discovery = "{\"issuer\":\"%s/x\",\"token_endpoint\":\"ftp://127.0.0.1/t\",\"jwks_uri\":\"%s/k\","
                   "\"z\":\"%s%s\"}";
    assert_int_equal(em_oidc_discover(&p, authority, NULL, &err), EM_EBADRESPONSE);
    /* Not JSON. */
    f->discovery = "<html>%s%s%s%s</html>";
    assert_int_equal(em_oidc_discover(&p, authority, NULL, &err), EM_EBADRESPONSE);
    assert_null(p);
}

static void test_device_flow_success(void **state)
{
    fake *f = *state;
    const answer answers[] = {
        {400, "{\"error\":\"authorization_pending\",\"error_description\":\"AADSTS70016: pending\"}"},
        {400, "{\"error\":\"authorization_pending\"}"},
        {200, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"refresh_in\":1800,"
              "\"access_token\":\"AT-1\",\"refresh_token\":\"RT-1\",\"id_token\":\"ID_TOKEN\","
              "\"scope\":\"https://outlook.office365.com/.default\"}"},
    };
    em_oidc_provider *p = discover(f);
    em_tokens *t = NULL;
    em_error err = {0};
    double start = now_seconds();

    script(f, answers, 3);
    assert_int_equal(em_oidc_device_flow(&t, p, &client, NULL, &err), EM_OK);
    assert_string_equal(t->access_token, "AT-1");
    assert_string_equal(t->refresh_token, "RT-1");
    assert_string_equal(t->tenant_id, TID);
    assert_string_equal(t->username, "admin@contoso.onmicrosoft.com");
    assert_string_equal(t->display_name, "Ada Admin");
    assert_string_equal(t->object_id, "oid-1");
    assert_true(t->expires_at > time(NULL) + 3500);
    assert_int_equal(f->token_calls, 3);
    /* One poll a second, the first after one interval. */
    assert_true(now_seconds() - start >= 2.9);
    assert_true(f->poll_times[1] - f->poll_times[0] >= 0.9);
    assert_non_null(strstr(f->last_form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"));
    assert_non_null(strstr(f->last_form, "device_code=DC-secret-1"));
    assert_non_null(strstr(f->last_form, "client_id=" CLIENT));
    assert_non_null(strstr(f->last_form, "client_info=1"));
    /* The device code request: client_id and scope; the hint is not sent. */
    assert_non_null(strstr(f->device_form, "client_id=" CLIENT));
    assert_non_null(strstr(f->device_form, "scope=https%3A%2F%2Foutlook.office365.com%2F.default%20openid"));
    assert_null(strstr(f->device_form, "login_hint"));
    em_tokens_free(&t);
    em_oidc_provider_free(&p);
}

static void test_device_flow_slow_down(void **state)
{
    fake *f = *state;
    const answer answers[] = {
        {400, "{\"error\":\"slow_down\"}"},
        {400, "{\"error\":\"authorization_declined\",\"error_description\":\"AADSTS70000: declined\"}"},
    };
    em_oidc_provider *p = discover(f);
    em_tokens *t = NULL;
    em_error err = {0};

    script(f, answers, 2);
    assert_int_equal(em_oidc_device_flow(&t, p, &client, NULL, &err), EM_EDECLINED);
    assert_int_equal(f->token_calls, 2);
    /* After slow_down the interval is 1 + 5 seconds. */
    assert_true(f->poll_times[1] - f->poll_times[0] >= 5.9);
    em_oidc_provider_free(&p);
}

static void test_device_flow_declined_and_expired(void **state)
{
    fake *f = *state;
    const answer declined[] = {{400, "{\"error\":\"authorization_declined\",\"error_description\":"
                                     "\"AADSTS70000: The user declined.\\r\\nTrace ID: 1\","
                                     "\"error_codes\":[70000]}"}};
    const answer expired[] = {{400, "{\"error\":\"expired_token\",\"error_codes\":[70019]}"}};
    const answer denied[] = {{400, "{\"error\":\"access_denied\",\"error_description\":\"End-User aborted interaction\"}"}};
    const answer disabled[] = {{400, "{\"error\":\"invalid_grant\",\"error_description\":"
                                     "\"AADSTS50057: The user account is disabled.\",\"error_codes\":[50057]}"}};
    const answer garbage[] = {{502, "<html>bad gateway</html>"}};
    em_oidc_provider *p = discover(f);
    em_tokens *t = NULL;
    em_error err = {0};

    /* 70000 is also a grant error number: the `error` decides for declines. */
    script(f, declined, 1);
    assert_int_equal(em_oidc_device_flow(&t, p, &client, NULL, &err), EM_EDECLINED);
    assert_string_equal(err.server_code, "authorization_declined");
    /* RFC 8628 section 3.5 (standard providers): access_denied. */
    reset(state);
    script(f, denied, 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(em_oidc_device_flow(&t, p, &client, NULL, &err), EM_EDECLINED);
    assert_string_equal(err.server_code, "access_denied");
    reset(state);
    script(f, expired, 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(em_oidc_device_flow(&t, p, &client, NULL, &err), EM_EEXPIRED);
    reset(state);
    script(f, disabled, 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(em_oidc_device_flow(&t, p, &client, NULL, &err), EM_EDISABLED);
    assert_int_equal(err.aadsts, 50057);
    assert_non_null(strstr(err.message, "disabled"));
    reset(state);
    script(f, garbage, 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(em_oidc_device_flow(&t, p, &client, NULL, &err), EM_EBADRESPONSE);
    assert_int_equal(err.http_status, 502);
    assert_null(t);
    em_oidc_provider_free(&p);
}

static void test_device_flow_deadline(void **state)
{
    fake *f = *state;
    em_oidc_provider *p = discover(f);
    em_tokens *t = NULL;
    em_error err = {0};
    double start = now_seconds();

    /* Always pending; the code lives 2 s. */
    pthread_mutex_lock(&f->lock);
    f->device_expires = 2;
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(em_oidc_device_flow(&t, p, &client, NULL, &err), EM_EEXPIRED);
    assert_true(now_seconds() - start < 4.0);
    assert_true(f->token_calls >= 1 && f->token_calls <= 2);
    em_oidc_provider_free(&p);
}

static void test_device_flow_bad_id_token(void **state)
{
    fake *f = *state;
    const answer answers[] = {
        {200, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"AT\",\"id_token\":\"ID_TOKEN\"}"},
    };
    const answer no_id[] = {{200, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"AT\"}"}};
    em_oidc_provider *p = discover(f);
    em_tokens *t = NULL;
    em_error err = {0};

    /* Signed with a kid the key set does not have: the set is fetched at
     * discovery, so no refetch within the minute. */
    snprintf(f->id_token_kid, sizeof f->id_token_kid, "k9");
    script(f, answers, 1);
    assert_int_equal(em_oidc_device_flow(&t, p, &client, NULL, &err), EM_ETOKEN);
    assert_string_equal(err.server_code, "unknown_kid");
    assert_int_equal(f->jwks_calls, 1);
    reset(state);
    script(f, no_id, 1);
    assert_int_equal(em_oidc_device_flow(&t, p, &client, NULL, &err), EM_EBADRESPONSE);
    assert_non_null(strstr(err.message, "id_token"));
    assert_null(t);
    em_oidc_provider_free(&p);
}

/* ---- cancellation through the protocol loop -------------------------- */

static int signin_method(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    em_tokens *t = NULL;
    int rc = em_oidc_device_flow(&t, app, &client, req, err);

    (void)params;
    em_tokens_free(&t);
    if (rc == EM_OK)
        *out = strdup("{}");
    return rc;
}

static void test_device_flow_cancel(void **state)
{
    fake *f = *state;
    const em_rpc_method methods[] = {{"signin", signin_method}, {NULL, NULL}};
    const char start[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"signin\"}\n";
    const char cancel[] = "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"id\":7}}\n";
    em_oidc_provider *p = discover(f);
    test_lines out = {PTHREAD_MUTEX_INITIALIZER, EM_BUF_INIT};
    em_rpc *rpc = NULL;
    double t0 = 0;

    assert_int_equal(em_rpc_new(&rpc, methods, p, NULL, test_lines_capture, &out), EM_OK);
    em_rpc_feed(rpc, start, sizeof start - 1);
    for (int i = 0; i < 100 && !test_lines_contain(&out, "\"deviceCode\""); i++)
        em_request_sleep(NULL, 50);
    /* The notification carries the fields of docs/protocol.md. */
    assert_true(test_lines_contain(&out, "\"method\":\"deviceCode\""));
    assert_true(test_lines_contain(&out, "\"requestId\":7"));
    assert_true(test_lines_contain(&out, "\"userCode\":\"ABCD-EFGH\""));
    assert_true(test_lines_contain(&out, "\"verificationUri\":\"https://microsoft.com/devicelogin\""));
    assert_true(test_lines_contain(&out, "\"expiresIn\":900"));
    assert_true(test_lines_contain(&out, "\"interval\":1"));
    assert_true(test_lines_contain(&out, "\"message\":\"To sign in"));
    assert_false(test_lines_contain(&out, "DC-secret"));
    em_request_sleep(NULL, 1500);       /* at least one poll */
    t0 = now_seconds();
    em_rpc_feed(rpc, cancel, sizeof cancel - 1);
    for (int i = 0; i < 100 && !test_lines_contain(&out, "\"id\":7,\"error\""); i++)
        em_request_sleep(NULL, 10);
    assert_true(now_seconds() - t0 < 0.5);
    assert_true(test_lines_contain(&out, "Cancelled"));
    em_rpc_wait_idle(rpc);
    em_rpc_free(&rpc);
    em_buf_free(&out.text);
    em_oidc_provider_free(&p);
}

/* ---- refresh --------------------------------------------------------- */

static em_tokens *previous_tokens(void)
{
    em_tokens *t = calloc(1, sizeof *t);

    t->access_token = strdup("AT-0");
    t->refresh_token = strdup("RT-0+/=");
    t->id_token = strdup("old.id.token");
    t->tenant_id = strdup(TID);
    t->username = strdup("admin@contoso.onmicrosoft.com");
    t->display_name = strdup("Ada Admin");
    t->object_id = strdup("oid-1");
    return t;
}

/* Issue 13: a busy token endpoint during a renewal is asked again with
 * backoff (429, 502, 503), not turned into a failed command. */
static void test_refresh_retries_busy_endpoint(void **state)
{
    fake *f = *state;
    const answer answers[] = {
        {503, ""},
        {502, "<html>Bad Gateway</html>"},
        {429, "{\"error\":\"temporarily_unavailable\"}"},
        {200, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"AT-2\"}"},
        {400, "{\"error\":\"invalid_grant\"}"},
        {200, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"AT-3\"}"},
    };
    em_oidc_provider *p = discover(f);
    em_tokens *prev = previous_tokens();
    em_tokens *t = NULL;
    em_error err = {0};

    script(f, answers, 6);
    assert_int_equal(em_oidc_refresh(&t, p, &client, prev, NULL, &err), EM_OK);
    assert_string_equal(t->access_token, "AT-2");
    assert_int_equal(f->token_calls, 4);
    em_tokens_free(&t);
    /* A refusal is not retried: the next answer is never asked for. */
    assert_int_not_equal(em_oidc_refresh(&t, p, &client, prev, NULL, &err), EM_OK);
    assert_null(t);
    assert_string_equal(err.server_code, "invalid_grant");
    assert_int_equal(f->token_calls, 5);
    em_tokens_free(&prev);
    em_oidc_provider_free(&p);
}

static void test_refresh_rotates_and_keeps_identity(void **state)
{
    fake *f = *state;
    const answer answers[] = {
        {200, "{\"token_type\":\"Bearer\",\"expires_in\":\"3600\",\"access_token\":\"AT-2\","
              "\"refresh_token\":\"RT-2\"}"},
        {200, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"AT-3\"}"},
        {200, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"AT-4\",\"id_token\":\"ID_TOKEN\"}"},
    };
    em_oidc_provider *p = discover(f);
    em_tokens *prev = previous_tokens();
    em_tokens *t = NULL;
    em_error err = {0};

    script(f, answers, 3);
    assert_int_equal(em_oidc_refresh(&t, p, &client, prev, NULL, &err), EM_OK);
    assert_string_equal(t->access_token, "AT-2");
    assert_string_equal(t->refresh_token, "RT-2");
    assert_string_equal(t->username, "admin@contoso.onmicrosoft.com");
    assert_string_equal(t->tenant_id, TID);
    assert_string_equal(t->id_token, "old.id.token");
    assert_non_null(strstr(f->last_form, "grant_type=refresh_token"));
    assert_non_null(strstr(f->last_form, "refresh_token=RT-0%2B%2F%3D"));
    assert_non_null(strstr(f->last_form, "client_info=1"));
    assert_non_null(strstr(f->last_form, "scope=https%3A%2F%2Foutlook.office365.com%2F.default"));
    em_tokens_free(&t);
    /* No refresh token in the answer: the previous one is kept. */
    assert_int_equal(em_oidc_refresh(&t, p, &client, prev, NULL, &err), EM_OK);
    assert_string_equal(t->refresh_token, "RT-0+/=");
    em_tokens_free(&t);
    /* A new id_token is verified and its identity used. */
    assert_int_equal(em_oidc_refresh(&t, p, &client, prev, NULL, &err), EM_OK);
    assert_string_equal(t->object_id, "oid-1");
    assert_string_not_equal(t->id_token, "old.id.token");
    em_tokens_free(&t);
    em_tokens_free(&prev);
    em_oidc_provider_free(&p);
}

static void test_refresh_errors(void **state)
{
    fake *f = *state;
    const answer answers[] = {
        {400, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS700082: The refresh token has "
              "expired due to inactivity.\\r\\nTrace ID: x\\r\\nCorrelation ID: y\",\"error_codes\":[700082]}"},
        {400, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS50076: MFA.\",\"error_codes\":[50076],"
              "\"suberror\":\"basic_action\"}"},
    };
    em_oidc_provider *p = discover(f);
    em_tokens *prev = previous_tokens();
    em_tokens *t = NULL;
    em_error err = {0};

    script(f, answers, 2);
    assert_int_equal(em_oidc_refresh(&t, p, &client, prev, NULL, &err), EM_EGRANT);
    assert_int_equal(err.aadsts, 700082);
    assert_string_equal(err.server_code, "invalid_grant");
    assert_null(strstr(err.message, "Trace"));
    assert_null(strstr(err.message, "RT-0"));
    memset(&err, 0, sizeof err);
    assert_int_equal(em_oidc_refresh(&t, p, &client, prev, NULL, &err), EM_EMFA);
    em_free_secret(&prev->refresh_token);
    assert_int_equal(em_oidc_refresh(&t, p, &client, prev, NULL, &err), EM_EGRANT);
    assert_null(t);
    em_tokens_free(&prev);
    em_oidc_provider_free(&p);
}

int main(void)
{
    setenv("EXCHANGEMFA_RETRY_BASE_MS", "20", 1);  /* short backoff waits */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_discover, reset),
        cmocka_unit_test_setup(test_discover_standard, reset),
        cmocka_unit_test_setup(test_discover_errors, reset),
        cmocka_unit_test_setup(test_device_flow_success, reset),
        cmocka_unit_test_setup(test_device_flow_slow_down, reset),
        cmocka_unit_test_setup(test_device_flow_declined_and_expired, reset),
        cmocka_unit_test_setup(test_device_flow_deadline, reset),
        cmocka_unit_test_setup(test_device_flow_bad_id_token, reset),
        cmocka_unit_test_setup(test_device_flow_cancel, reset),
        cmocka_unit_test_setup(test_refresh_rotates_and_keeps_identity, reset),
        cmocka_unit_test_setup(test_refresh_retries_busy_endpoint, reset),
        cmocka_unit_test_setup(test_refresh_errors, reset),
    };

    return cmocka_run_group_tests_name("oidc_flows", tests, group_setup, group_teardown);
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
    return cmocka_run_group_tests_name("oidc_flows (no libmicrohttpd)", tests, NULL, NULL);
}

#endif
