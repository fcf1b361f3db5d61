/* test_conn_cache.c - connection.c's sign-in wiring without a network:
 * silent sign-in from the token cache (no discovery at all), a token
 * another process renewed taken from the cache, a claims challenge that
 * must renew, tokenCache memory never reading the cache, forgetCache, a
 * corrupt cache reported as a `warning` notification, -AccessToken checks
 * and anchors, certificate errors. The authority is https://127.0.0.1:1,
 * where nothing listens: any network use shows up as NetworkError.
 * Renewal over the network (the renewal lock: single flight, the cache
 * lock free during the round trip) runs against a fake identity platform
 * whose token endpoint answers when the test lets it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "fake_server.h"
#include "util/base64.h"
#include "util/buf.h"
#include "cache/cache.h"
#include "connection/conn_cache.h"
#include "connection/connection.h"
#include "net/http.h"
#include "util/json.h"
#include "identity/jwt.h"
#include "protocol/methods.h"
#include "protocol/rpc.h"

#define TID "6babcaad-604b-40ac-a9d7-9fd97c0b779f"
#define UPN "admin@contoso.onmicrosoft.com"
#define CLIENT "fb78d390-0c51-40cd-8e17-fdbfab77341b"
#define ENVIRONMENT "127.0.0.1:1"
#define AUTHORITY "https://127.0.0.1:1/organizations"
#define SCOPE "https://outlook.office365.com/.default openid profile offline_access"

static char dir[256];
static char environment[64] = ENVIRONMENT;   /* the cache's environment of the entries stored */

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/em-conn-cache-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    setenv("EXCHANGEMFA_CACHE_DIR", dir, 1);
    return 0;
}

static int remove_dir(void **state)
{
    (void)state;
    return test_remove_tree(dir);
}

/* Writes an access + refresh token for UPN, as a helper would have. */
static void store(const char *access_token, time_t expires_on, time_t refresh_on)
{
    em_cache *cache = NULL;
    em_cache_entry e = {
        .local_account_id = "oid-1", .realm = TID, .environment = environment,
        .client_id = CLIENT, .target = SCOPE, .username = UPN,
        .access_token = access_token, .expires_on = expires_on, .refresh_on = refresh_on,
        .refresh_token = "RT-cached",
    };

    assert_int_equal(em_cache_open(&cache, dir, NULL), EM_OK);
    assert_int_equal(em_cache_lock(cache, 0, NULL, NULL), EM_OK);
    assert_int_equal(em_cache_store(cache, &e, time(NULL), NULL), EM_OK);
    em_cache_unlock(cache);
    em_cache_close(&cache);
}

static bool account_cached(void)
{
    em_cache *cache = NULL;
    em_cache_accounts *accounts = NULL;
    int rc;

    assert_int_equal(em_cache_open(&cache, dir, NULL), EM_OK);
    assert_int_equal(em_cache_lock(cache, 0, NULL, NULL), EM_OK);
    rc = em_cache_find_accounts(&accounts, cache, environment, CLIENT, UPN, NULL);
    em_cache_unlock(cache);
    em_cache_accounts_free(&accounts);
    em_cache_close(&cache);
    return rc == EM_OK;
}

static char *session_of(em_conn *c)
{
    yajl_gen g = em_json_gen_new();
    char *out = NULL;

    assert_int_equal(em_conn_gen_session(g, c), yajl_gen_status_ok);
    assert_int_equal(em_json_gen_dup(&out, g), EM_OK);
    yajl_gen_free(g);
    return out;
}

static const em_conn_settings delegated = {
    .mode = "device", .upn = UPN, .authority = AUTHORITY, .connection_uri = "https://127.0.0.1:1",
};

static void test_silent_from_cache(void **state)
{
    em_conn_table *t = NULL;
    em_conn *c = NULL, *closed = NULL;
    em_error err = {0};
    char *session, *token = NULL, anchor[256];

    (void)state;
    store("AT-cached", time(NULL) + 3600, time(NULL) + 1800);
    assert_int_equal(em_conn_table_new(&t), EM_OK);
    /* No deviceCode, no discovery: the cached access token is enough. */
    assert_int_equal(em_conn_open(&c, t, &delegated, NULL, &err), EM_OK);
    session = session_of(c);
    assert_non_null(strstr(session, "\"signInMode\":\"Silent\""));
    assert_non_null(strstr(session, "\"tenantId\":\"" TID "\""));
    assert_non_null(strstr(session, "\"userPrincipalName\":\"" UPN "\""));
    free(session);
    assert_int_equal(em_conn_bearer(&token, c, NULL, NULL, NULL, &err), EM_OK);
    assert_string_equal(token, "AT-cached");
    em_free_secret(&token);
    em_conn_anchor(anchor, sizeof anchor, c);
    assert_string_equal(anchor, "UPN:" UPN);

    /* disconnect forgetCache removes the account's tokens. */
    assert_true(account_cached());
    assert_int_equal(em_conn_close(&closed, t, em_conn_id(c), &err), EM_OK);
    assert_int_equal(em_conn_forget_cache(closed, NULL, &err), EM_OK);
    assert_false(account_cached());
    em_conn_release(&closed);
    em_conn_release(&c);
    em_conn_table_free(&t);
    assert_int_equal(em_json_outstanding(), 0);
}

/* Another helper renewed (the cache holds a newer token): the renewal takes
 * it without the network; a claims challenge must not take it. */
static void test_renewal_takes_newer_token(void **state)
{
    em_conn_table *t = NULL;
    em_conn *c = NULL;
    em_error err = {0};
    char *token = NULL;

    (void)state;
    store("AT-old", time(NULL) + 3600, time(NULL) - 10);     /* past its refresh time */
    assert_int_equal(em_conn_table_new(&t), EM_OK);
    assert_int_equal(em_conn_open(&c, t, &delegated, NULL, &err), EM_OK);
    store("AT-newer", time(NULL) + 3600, time(NULL) + 1800);
    assert_int_equal(em_conn_bearer(&token, c, NULL, NULL, NULL, &err), EM_OK);
    assert_string_equal(token, "AT-newer");
    em_free_secret(&token);
    /* The token is not due now: no renewal, the same token. */
    assert_int_equal(em_conn_bearer(&token, c, NULL, NULL, NULL, &err), EM_OK);
    assert_string_equal(token, "AT-newer");
    em_free_secret(&token);
    /* A claims challenge renews even a valid token, and never from the
     * cache: the refresh needs discovery, and nothing listens. */
    assert_int_equal(em_conn_bearer(&token, c, NULL, "{\"access_token\":{}}", NULL, &err), EM_ENETWORK);
    assert_null(token);
    /* A 401 for the newest cached token cannot be answered from the cache either. */
    assert_int_equal(em_conn_bearer(&token, c, "AT-newer", NULL, NULL, &err), EM_ENETWORK);
    em_conn_release(&c);
    em_conn_table_free(&t);
    assert_int_equal(em_json_outstanding(), 0);
}

#ifdef EM_HAVE_MHD
/* ---- renewal over the network, and the cache lock ---- */

/* A fake identity platform whose token endpoint answers only when the test
 * lets it (or after 20 s), so a renewal can be caught in its round trip. */
typedef struct slow_idp {
    fake_server server;
    pthread_mutex_t lock;       /* the server's: held around route */
    pthread_cond_t released;
    bool answer;                /* the token endpoint may answer */
    int token_calls;
} slow_idp;

static void slow_route(void *ctx, struct MHD_Connection *conn, const char *url, const char *form,
                       int *status, em_buf *body, char *location, size_t location_size)
{
    slow_idp *f = ctx;
    struct timespec deadline;

    (void)conn, (void)form, (void)location, (void)location_size;
    if (strcmp(url, "/tenant/v2.0/.well-known/openid-configuration") == 0) {
        em_buf_printf(body, "{\"issuer\":\"%s/{tenantid}/v2.0\",\"authorization_endpoint\":"
                      "\"%s/tenant/oauth2/v2.0/authorize\",\"token_endpoint\":\"%s/tenant/oauth2/v2.0/token\","
                      "\"jwks_uri\":\"%s/tenant/discovery/v2.0/keys\"}",
                      f->server.base, f->server.base, f->server.base, f->server.base);
    } else if (strcmp(url, "/tenant/discovery/v2.0/keys") == 0) {
        em_buf_puts(body, "{\"keys\":[]}");   /* the answer has no id_token to check */
    } else if (strcmp(url, "/tenant/oauth2/v2.0/token") == 0) {
        f->token_calls++;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 20;
        while (!f->answer && pthread_cond_timedwait(&f->released, &f->lock, &deadline) == 0)
            ;
        em_buf_puts(body, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"AT-fresh\","
                          "\"refresh_token\":\"RT-fresh\"}");
    } else {
        *status = 404;
    }
}

static int slow_calls(slow_idp *f)
{
    int n;

    pthread_mutex_lock(&f->lock);
    n = f->token_calls;
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* Waits (20 s at most) until a token request has reached the platform. */
static void wait_token_call(slow_idp *f)
{
    for (int i = 0; i < 400 && slow_calls(f) == 0; i++)
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
}

static void slow_release(slow_idp *f)
{
    pthread_mutex_lock(&f->lock);
    f->answer = true;
    pthread_cond_broadcast(&f->released);
    pthread_mutex_unlock(&f->lock);
}

typedef struct renewal_run {
    em_conn *c;
    char *token;
    int rc;
} renewal_run;

static void *renew_in_thread(void *arg)
{
    renewal_run *r = arg;
    em_error err = {0};

    r->rc = em_conn_bearer(&r->token, r->c, NULL, NULL, NULL, &err);
    return NULL;
}

/* Starts the slow platform; the cache holds a token of it that is due. */
static void slow_start(slow_idp *f, char *authority, size_t size)
{
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->released, NULL);
    f->server.route = slow_route;
    f->server.ctx = f;
    f->server.lock = &f->lock;
    assert_true(fake_server_start(&f->server));
    snprintf(authority, size, "%s/tenant", f->server.base);
    snprintf(environment, sizeof environment, "%s", f->server.base + strlen("http://"));
    store("AT-old", time(NULL) + 3600, time(NULL) - 10);     /* past its refresh time */
}

/* A connection of table t (its own cache handle, as another helper has)
 * to the slow platform, signed in silently with the due token. */
static em_conn *due_connection(em_conn_table *t, const char *authority)
{
    em_conn_settings s = delegated;
    em_conn *c = NULL;
    em_error err = {0};

    s.authority = authority;
    if (em_conn_open(&c, t, &s, NULL, &err) != EM_OK)
        fail_msg("%s", err.message);
    return c;
}

static void slow_stop(slow_idp *f)
{
    MHD_stop_daemon(f->server.daemon);
    pthread_cond_destroy(&f->released);
    pthread_mutex_destroy(&f->lock);
    snprintf(environment, sizeof environment, "%s", ENVIRONMENT);
}

/* Issue 13: a renewal waiting on the network leaves the cache lock free
 * (a Connect of another process used to wait for it), and the refreshed
 * tokens are stored once the answer comes. */
static void test_renewal_frees_cache_lock(void **state)
{
    slow_idp f = {0};
    em_conn_table *t = NULL;
    em_cache *other = NULL;
    em_cache_renewal *renewal = NULL;
    em_cache_token *at = NULL;
    renewal_run run = {0};
    pthread_t thread;
    char authority[96];
    em_error err = {0};

    (void)state;
    assert_int_equal(em_conn_table_new(&t), EM_OK);
    slow_start(&f, authority, sizeof authority);
    run.c = due_connection(t, authority);
    assert_int_equal(pthread_create(&thread, NULL, renew_in_thread, &run), 0);
    wait_token_call(&f);
    assert_int_equal(slow_calls(&f), 1);
    /* The refresh is in flight: the cache lock is free, the renewal lock not. */
    assert_int_equal(em_cache_open(&other, dir, &err), EM_OK);
    assert_int_equal(em_cache_lock(other, 2000, NULL, &err), EM_OK);
    em_cache_unlock(other);
    assert_int_equal(em_cache_renewal_begin(&renewal, other, 100, NULL, &err), EM_ETIMEOUT);
    slow_release(&f);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(run.rc, EM_OK);
    assert_string_equal(run.token, "AT-fresh");
    em_free_secret(&run.token);
    assert_int_equal(em_cache_lock(other, 2000, NULL, &err), EM_OK);
    assert_int_equal(em_cache_find_access_token(&at, other, "oid-1." TID, environment, CLIENT, TID, SCOPE,
                                                time(NULL), &err), EM_OK);
    assert_string_equal(at->secret, "AT-fresh");
    em_cache_unlock(other);
    em_cache_token_free(&at);
    em_cache_close(&other);
    em_conn_release(&run.c);
    em_conn_table_free(&t);
    slow_stop(&f);
    assert_int_equal(em_json_outstanding(), 0);
}

/* Single flight: a renewal that finds another process renewing waits for
 * it and takes the token it stored, with no refresh of its own. */
static void test_renewal_waits_for_another(void **state)
{
    slow_idp f = {0};
    em_conn_table *t = NULL;
    em_cache *other = NULL;
    em_cache_renewal *renewal = NULL;
    renewal_run run = {0};
    pthread_t thread;
    char authority[96];
    em_error err = {0};

    (void)state;
    assert_int_equal(em_conn_table_new(&t), EM_OK);
    slow_start(&f, authority, sizeof authority);
    run.c = due_connection(t, authority);
    assert_int_equal(em_cache_open(&other, dir, &err), EM_OK);
    assert_int_equal(em_cache_renewal_begin(&renewal, other, 0, NULL, &err), EM_OK);
    assert_int_equal(pthread_create(&thread, NULL, renew_in_thread, &run), 0);
    /* "Another process" renews meanwhile and stores its token. */
    store("AT-by-another", time(NULL) + 3600, time(NULL) + 1800);
    em_cache_renewal_end(&renewal);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(run.rc, EM_OK);
    assert_string_equal(run.token, "AT-by-another");
    assert_int_equal(slow_calls(&f), 0);
    em_free_secret(&run.token);
    em_cache_close(&other);
    slow_release(&f);
    em_conn_release(&run.c);
    em_conn_table_free(&t);
    slow_stop(&f);
    assert_int_equal(em_json_outstanding(), 0);
}

/* Eight helpers (a table each: their own cache handles) renewing at once
 * send one refresh; the others take its token from the cache. */
static void test_renewal_single_flight(void **state)
{
    enum { HELPERS = 8 };
    slow_idp f = {0};
    em_conn_table *tables[HELPERS] = {0};
    renewal_run runs[HELPERS] = {0};
    pthread_t threads[HELPERS];
    char authority[96];
    int i;

    (void)state;
    slow_start(&f, authority, sizeof authority);
    for (i = 0; i < HELPERS; i++) {
        assert_int_equal(em_conn_table_new(&tables[i]), EM_OK);
        runs[i].c = due_connection(tables[i], authority);
    }
    for (i = 0; i < HELPERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, renew_in_thread, &runs[i]), 0);
    wait_token_call(&f);
    slow_release(&f);
    for (i = 0; i < HELPERS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(runs[i].rc, EM_OK);
        assert_string_equal(runs[i].token, "AT-fresh");
        em_free_secret(&runs[i].token);
        em_conn_release(&runs[i].c);
        em_conn_table_free(&tables[i]);
    }
    assert_int_equal(slow_calls(&f), 1);
    slow_stop(&f);
    assert_int_equal(em_json_outstanding(), 0);
}
#endif

static void test_memory_never_reads_cache(void **state)
{
    em_conn_settings s = delegated;
    em_conn_table *t = NULL;
    em_conn *c = NULL;
    em_error err = {0};

    (void)state;
    store("AT-cached", time(NULL) + 3600, time(NULL) + 1800);
    s.token_cache = "memory";
    assert_int_equal(em_conn_table_new(&t), EM_OK);
    /* The device code flow runs (and needs the network). */
    assert_int_equal(em_conn_open(&c, t, &s, NULL, &err), EM_ENETWORK);
    assert_null(c);
    em_conn_table_free(&t);
}

/* The protocol loop, to see notifications. */
static int capture(void *ud, const char *line, size_t len)
{
    em_buf_append(ud, line, len);
    return 0;
}

static void test_corrupt_cache_warns(void **state)
{
    static const char line[] = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"connect\",\"params\":"
                               "{\"mode\":\"device\",\"userPrincipalName\":\"" UPN "\","
                               "\"authority\":\"" AUTHORITY "\"}}\n";
    char path[300];
    em_conn_table *t = NULL;
    em_rpc *rpc = NULL;
    em_buf out = EM_BUF_INIT;
    int fd;

    (void)state;
    snprintf(path, sizeof path, "%s/tokens.json", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not json", 8), 8);
    close(fd);
    assert_int_equal(em_conn_table_new(&t), EM_OK);
    assert_int_equal(em_rpc_new(&rpc, em_methods, t, em_methods_shutdown, capture, &out), EM_OK);
    em_rpc_feed(rpc, line, strlen(line));
    em_rpc_wait_idle(rpc);
    /* A warning, then the device code flow runs (no network here). */
    assert_non_null(strstr(out.data, "\"method\":\"warning\",\"params\":{\"requestId\":5"));
    assert_non_null(strstr(out.data, "\"id\":5,\"error\""));
    assert_non_null(strstr(out.data, "NetworkError"));
    em_rpc_free(&rpc);
    em_conn_table_free(&t);
    em_buf_free(&out);
}

/* The connection whose tokens m_store saves, under a file size limit. */
static em_conn *storing;

static int m_store(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    (void)params;
    (void)app;
    (void)err;
    /* A full disk, for the cache's write: files may not grow past 16 bytes. */
    (void)test_file_size_limit(16);
    em_conn_cache_store(storing, req);
    test_file_size_unlimit();
    *out = strdup("{}");
    return *out != NULL ? EM_OK : EM_ENOMEM;
}

/* Tokens that cannot be saved (the rotated refresh token on a full disk)
 * are a `warning` the user sees, not only a line on stderr. */
static void test_store_failure_warns(void **state)
{
    static const em_rpc_method methods[] = {{"store", m_store}, {NULL, NULL}};
    static const char line[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"store\"}\n";
    em_conn_table *t = NULL;
    em_rpc *rpc = NULL;
    em_buf out = EM_BUF_INIT;
    em_error err = {0};

    (void)state;
    if (!test_has_file_size_limit())
        skip();
    store("AT-cached", time(NULL) + 3600, time(NULL) + 1800);
    assert_int_equal(em_conn_table_new(&t), EM_OK);
    assert_int_equal(em_conn_open(&storing, t, &delegated, NULL, &err), EM_OK);
    assert_int_equal(em_rpc_new(&rpc, methods, NULL, NULL, capture, &out), EM_OK);
    em_rpc_feed(rpc, line, strlen(line));
    em_rpc_wait_idle(rpc);
    assert_non_null(strstr(out.data, "\"method\":\"warning\",\"params\":{\"requestId\":7,"
                                     "\"message\":\"the tokens could not be saved in the token cache"));
    assert_null(strstr(out.data, "AT-cached"));
    assert_non_null(strstr(out.data, "\"id\":7,\"result\":{}"));
    em_rpc_free(&rpc);
    em_conn_release(&storing);
    em_conn_table_free(&t);
    em_buf_free(&out);
}

/* An unsigned JWT with these claims (the helper only decodes it). */
static char *access_token(const char *claims)
{
    char *header = NULL, *payload = NULL;
    em_buf b = EM_BUF_INIT;
    static const char h[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";

    assert_int_equal(em_base64url_encode(&header, (const unsigned char *)h, strlen(h)), EM_OK);
    assert_int_equal(em_base64url_encode(&payload, (const unsigned char *)claims, strlen(claims)), EM_OK);
    em_buf_printf(&b, "%s.%s.c2ln", header, payload);
    free(header);
    free(payload);
    return em_buf_detach(&b);
}

static void test_access_token(void **state)
{
    char claims[512], *app = NULL, *user = NULL, *expired = NULL, *foreign = NULL;
    char *token = NULL, *session, anchor[256];
    em_conn_settings s = {.mode = "accessToken", .organization = "contoso.onmicrosoft.com"};
    em_conn_table *t = NULL;
    em_conn *c = NULL;
    em_error err = {0};
    long now = (long)time(NULL);

    (void)state;
    snprintf(claims, sizeof claims, "{\"aud\":\"https://outlook.office365.com\",\"tid\":\"" TID "\","
             "\"appid\":\"app-1\",\"exp\":%ld}", now + 3600);
    app = access_token(claims);
    snprintf(claims, sizeof claims, "{\"aud\":\"00000002-0000-0ff1-ce00-000000000000\",\"tid\":\"" TID "\","
             "\"upn\":\"" UPN "\",\"exp\":%ld}", now + 3600);
    user = access_token(claims);
    snprintf(claims, sizeof claims, "{\"aud\":\"https://outlook.office365.com\",\"exp\":%ld}", now - 3600);
    expired = access_token(claims);
    snprintf(claims, sizeof claims, "{\"aud\":\"https://graph.microsoft.com\",\"exp\":%ld}", now + 3600);
    foreign = access_token(claims);
    assert_int_equal(em_conn_table_new(&t), EM_OK);

    /* An application's token: the app-only anchor, no renewal. */
    s.access_token = app;
    assert_int_equal(em_conn_open(&c, t, &s, NULL, &err), EM_OK);
    session = session_of(c);
    assert_non_null(strstr(session, "\"signInMode\":\"AccessToken\""));
    assert_null(strstr(session, app));
    free(session);
    em_conn_anchor(anchor, sizeof anchor, c);
    assert_string_equal(anchor, "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.onmicrosoft.com");
    assert_int_equal(em_conn_bearer(&token, c, NULL, NULL, NULL, &err), EM_OK);
    assert_string_equal(token, app);
    /* Exchange refused it: it cannot be renewed, and the message says so. */
    em_free_secret(&token);
    assert_int_equal(em_conn_bearer(&token, c, app, NULL, NULL, &err), EM_ETOKEN);
    assert_null(token);
    assert_non_null(strstr(err.message, "cannot renew"));
    em_conn_release(&c);

    /* A user's token: the UPN anchor and identity. */
    s.access_token = user;
    s.organization = NULL;
    assert_int_equal(em_conn_open(&c, t, &s, NULL, &err), EM_OK);
    em_conn_anchor(anchor, sizeof anchor, c);
    assert_string_equal(anchor, "UPN:" UPN);
    em_conn_tenant(anchor, sizeof anchor, c);
    assert_string_equal(anchor, TID);
    em_conn_release(&c);

    s.access_token = expired;
    memset(&err, 0, sizeof err);
    assert_int_equal(em_conn_open(&c, t, &s, NULL, &err), EM_ETOKEN);
    assert_non_null(strstr(err.message, "expired"));
    assert_null(strstr(err.message, expired));
    s.access_token = foreign;
    assert_int_equal(em_conn_open(&c, t, &s, NULL, &err), EM_ETOKEN);
    em_conn_table_free(&t);
    free(app);
    free(user);
    free(expired);
    free(foreign);
}

static void test_certificate_errors(void **state)
{
    em_conn_settings s = {.mode = "certificate", .app_id = "3c0b1a5e", .organization = "contoso.com",
                          .authority = AUTHORITY, .cert_file = "/nonexistent/app.pfx",
                          .cert_password = "secret-password"};
    em_conn_table *t = NULL;
    em_conn *c = NULL;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_conn_table_new(&t), EM_OK);
    assert_int_equal(em_conn_open(&c, t, &s, NULL, &err), EM_EINVAL);
    assert_string_equal(err.target, "certificateFilePath");
    assert_null(strstr(err.message, "secret-password"));
    s.cert_file = NULL;
    s.cert_data = "bm90IGEgcGZ4";           /* "not a pfx" */
    memset(&err, 0, sizeof err);
    assert_int_equal(em_conn_open(&c, t, &s, NULL, &err), EM_EINVAL);
    assert_string_equal(err.target, "certificateData");
    em_conn_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_silent_from_cache, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_renewal_takes_newer_token, make_dir, remove_dir),
#ifdef EM_HAVE_MHD
        cmocka_unit_test_setup_teardown(test_renewal_frees_cache_lock, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_renewal_waits_for_another, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_renewal_single_flight, make_dir, remove_dir),
#endif
        cmocka_unit_test_setup_teardown(test_memory_never_reads_cache, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_corrupt_cache_warns, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_store_failure_warns, make_dir, remove_dir),
        cmocka_unit_test(test_access_token),
        cmocka_unit_test(test_certificate_errors),
    };

    int failed;

    if (em_http_global_init(NULL) != EM_OK)
        return 1;
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    em_http_global_cleanup();
    return failed;
}
