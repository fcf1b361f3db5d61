/* test_http.c - em_http_perform against a local libmicrohttpd server on
 * 127.0.0.1 (plain HTTP: TLS is covered by the emulator runs), and form
 * encoding. Covers streaming, stored bodies and their cap, captured
 * headers, connection reuse, timeouts, refused connections, gzip answers
 * (asked for and decoded: the static builds link zlib for this), and
 * cancellation through the protocol loop within about 100 ms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "platform_sockets.h"   /* sockaddr_in: the platform's header */
#include <cmocka.h>

#include "test_util.h"
#include "util/buf.h"
#include "net/http.h"
#include "util/json.h"
#include "protocol/rpc.h"

static void test_form_encoding(void **state)
{
    em_buf form = EM_BUF_INIT;

    (void)state;
    assert_int_equal(em_http_form_add(&form, "client_id", "fb78d390-0c51"), EM_OK);
    assert_int_equal(em_http_form_add(&form, "scope", "https://outlook.office365.com/.default openid"), EM_OK);
    assert_int_equal(em_http_form_add(&form, "x y", "a+b&c=d~._-\xc3\xa9"), EM_OK);
    assert_int_equal(em_http_form_add(&form, "empty", ""), EM_OK);
    assert_string_equal(form.data,
                        "client_id=fb78d390-0c51"
                        "&scope=https%3A%2F%2Foutlook.office365.com%2F.default%20openid"
                        "&x%20y=a%2Bb%26c%3Dd~._-%C3%A9"
                        "&empty=");
    em_buf_free(&form);
}

#ifdef EM_HAVE_MHD
#include <microhttpd.h>

static struct MHD_Daemon *daemon_;
static char base_url[64];
static atomic_int connections;
static char last_body[256];
static char last_header[256];
static char last_accept_encoding[256];

/* {"value":["xxx...x"]} with 1,000 x's, gzip-compressed (42 bytes for 1,014). */
static const unsigned char gzipped_page[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x2a, 0x4b,
    0xcc, 0x29, 0x4d, 0x55, 0xb2, 0x8a, 0x56, 0xaa, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x0c,
    0x7b, 0xa0, 0x14, 0x5b, 0x0b, 0x00, 0x68, 0xc3, 0xcb, 0x55, 0xf6, 0x03, 0x00, 0x00,
};

typedef struct slow_state {
    int calls;
} slow_state;

/* Sends one byte every 50 ms for 5 s: a server that is slow but alive. */
static ssize_t slow_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    slow_state *s = cls;

    (void)pos;
    (void)max;
    if (s->calls++ >= 100)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->calls > 1) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    buf[0] = 'x';
    return 1;
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)c;
    (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&connections, 1);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    static int marker;
    struct MHD_Response *r;
    enum MHD_Result ret;
    const char *h;
    unsigned int status = 200;

    (void)cls;
    (void)version;
    if (*con_cls == NULL) {
        *con_cls = &marker;
        last_body[0] = '\0';
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t have = strlen(last_body), n = *upload_size;

        if (have + n >= sizeof(last_body))
            n = sizeof(last_body) - have - 1;
        memcpy(last_body + have, upload, n);
        last_body[have + n] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
    snprintf(last_header, sizeof(last_header), "%s %s", method, h ? h : "");
    if (strcmp(url, "/slow") == 0) {
        slow_state *s = calloc(1, sizeof(*s));

        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1, slow_reader, s, free);
    } else if (strcmp(url, "/big") == 0) {
        static char big[200000];

        memset(big, 'b', sizeof(big));
        r = MHD_create_response_from_buffer(sizeof(big), big, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/gzip") == 0) {
        /* As Exchange: gzip only to a client that asks for it. */
        static char plain[] = "not compressed";

        h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
        snprintf(last_accept_encoding, sizeof(last_accept_encoding), "%s", h ? h : "");
        if (h != NULL && strstr(h, "gzip") != NULL) {
            r = MHD_create_response_from_buffer(sizeof(gzipped_page), (void *)gzipped_page,
                                                MHD_RESPMEM_PERSISTENT);
            MHD_add_response_header(r, "Content-Encoding", "gzip");
        } else {
            r = MHD_create_response_from_buffer(strlen(plain), plain, MHD_RESPMEM_PERSISTENT);
        }
    } else if (strcmp(url, "/missing") == 0) {
        static char body[] = "{\"error\":\"nope\"}";

        status = 404;
        r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Retry-After", "5");
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
    } else {
        static char body[] = "{\"value\":[1,2,3]}";

        r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
        MHD_add_response_header(r, "request-id", "abc-123");
    }
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static int server_up(void **state)
{
    struct sockaddr_in addr;
    const union MHD_DaemonInfo *info;
    em_error err = {0};

    (void)state;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                               0, NULL, NULL, handler, NULL,
                               MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                               MHD_OPTION_NOTIFY_CONNECTION, notify_connection, NULL,
                               MHD_OPTION_END);
    if (daemon_ == NULL)
        return -1;
    info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%u", (unsigned)info->port);
    return em_http_global_init(&err) == EM_OK ? 0 : -1;
}

static int server_down(void **state)
{
    (void)state;
    em_http_global_cleanup();
    MHD_stop_daemon(daemon_);
    return 0;
}

static int get(em_http_response *resp, const char *path, em_http_request *req, em_error *err)
{
    char url[128];
    em_http_request plain = {0};

    if (req == NULL)
        req = &plain;
    req->allow_http = true;     /* the fake server speaks plain http */
    snprintf(url, sizeof(url), "%s%s", base_url, path);
    req->url = url;
    if (req->method == NULL)
        req->method = "GET";
    return em_http_perform(resp, req, NULL, err);
}

static void test_get_and_headers(void **state)
{
    em_http_response resp;
    em_error err = {0};

    (void)state;
    assert_int_equal(get(&resp, "/ok", NULL, &err), EM_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body.data, "{\"value\":[1,2,3]}");
    assert_string_equal(resp.content_type, "application/json; charset=utf-8");
    assert_string_equal(resp.request_id, "abc-123");
    assert_null(resp.retry_after);
    em_http_response_free(&resp);
    assert_int_equal(get(&resp, "/missing", NULL, &err), EM_OK);
    assert_int_equal(resp.status, 404);
    assert_string_equal(resp.retry_after, "5");
    assert_string_equal(resp.www_authenticate, "Bearer error=\"invalid_token\"");
    em_http_response_free(&resp);
    assert_null(resp.retry_after);
}

static void test_post_body_and_headers_sent(void **state)
{
    const char *headers[] = {"X-Test: hello", NULL};
    em_http_request req = {0};
    em_http_response resp;
    em_error err = {0};

    (void)state;
    req.method = "POST";
    req.headers = headers;
    req.body = "a=1&b=2";
    req.body_len = 7;
    assert_int_equal(get(&resp, "/ok", &req, &err), EM_OK);
    assert_string_equal(last_body, "a=1&b=2");
    assert_string_equal(last_header, "POST hello");
    em_http_response_free(&resp);
}

static int count_body(void *ud, const char *data, size_t len)
{
    size_t *total = ud;

    (void)data;
    *total += len;
    return 0;
}

static int stop_body(void *ud, const char *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
    return 1;
}

static void test_streaming_and_cap(void **state)
{
    em_http_request req = {0};
    em_http_response resp;
    em_error err = {0};
    size_t total = 0;

    (void)state;
    req.on_body = count_body;
    req.on_body_ud = &total;
    assert_int_equal(get(&resp, "/big", &req, &err), EM_OK);
    assert_int_equal(total, 200000);
    assert_int_equal(resp.body.len, 0);     /* streamed, not stored */
    em_http_response_free(&resp);
    /* A non-2xx body is stored for the error even with on_body. */
    total = 0;
    assert_int_equal(get(&resp, "/missing", &req, &err), EM_OK);
    assert_int_equal(total, 0);
    assert_string_equal(resp.body.data, "{\"error\":\"nope\"}");
    em_http_response_free(&resp);
    /* The reader stops the transfer. */
    req.on_body = stop_body;
    assert_int_equal(get(&resp, "/big", &req, &err), EM_ECANCELLED);
    em_http_response_free(&resp);
    /* A stored body over max_body. */
    memset(&req, 0, sizeof(req));
    req.max_body = 1000;
    assert_int_equal(get(&resp, "/big", &req, &err), EM_EBADRESPONSE);
    assert_non_null(strstr(err.message, "larger than 1000 bytes"));
    em_http_response_free(&resp);
}

static int keep_body(void *ud, const char *data, size_t len)
{
    return em_buf_append(ud, data, len);
}

/* The helper asks for gzip and hands on the decoded text, stored or streamed. */
static void test_gzip_asked_for_and_decoded(void **state)
{
    char expected[1014 + 1];
    em_http_request req = {0};
    em_http_response resp;
    em_buf streamed = {0};
    em_error err = {0};

    (void)state;
    memcpy(expected, "{\"value\":[\"", 11);
    memset(expected + 11, 'x', 1000);
    memcpy(expected + 1011, "\"]}", 4);
    assert_int_equal(get(&resp, "/gzip", NULL, &err), EM_OK);
    assert_non_null(strstr(last_accept_encoding, "gzip"));
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body.data, expected);
    em_http_response_free(&resp);

    req.on_body = keep_body;
    req.on_body_ud = &streamed;
    assert_int_equal(get(&resp, "/gzip", &req, &err), EM_OK);
    assert_int_equal(streamed.len, 1014);
    assert_memory_equal(streamed.data, expected, 1014);
    em_http_response_free(&resp);
    em_buf_free(&streamed);
}

static void test_connection_reuse(void **state)
{
    em_http_response resp;
    em_error err = {0};
    int before, i;

    (void)state;
    assert_int_equal(get(&resp, "/ok", NULL, &err), EM_OK);
    em_http_response_free(&resp);
    before = atomic_load(&connections);
    for (i = 0; i < 5; i++) {
        assert_int_equal(get(&resp, "/ok", NULL, &err), EM_OK);
        em_http_response_free(&resp);
    }
    assert_int_equal(atomic_load(&connections), before);
}

static void test_timeout_and_refused(void **state)
{
    em_http_request req = {0};
    em_http_response resp;
    em_error err = {0};

    (void)state;
    req.timeout_ms = 300;
    assert_int_equal(get(&resp, "/slow", &req, &err), EM_ETIMEOUT);
    em_http_response_free(&resp);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = "http://127.0.0.1:1/";
    req.allow_http = true;
    assert_int_equal(em_http_perform(&resp, &req, NULL, &err), EM_ENETWORK);
    assert_non_null(strstr(err.message, "network error"));
    em_http_response_free(&resp);
}

/* Plain http is refused unless the request allows it (managed identity). */
static void test_https_only(void **state)
{
    char url[128];
    em_http_request req = {0};
    em_http_response resp;
    em_error err = {0};

    (void)state;
    snprintf(url, sizeof(url), "%s/ok", base_url);
    req.method = "GET";
    req.url = url;
    assert_int_equal(em_http_perform(&resp, &req, NULL, &err), EM_ENETWORK);
    assert_non_null(strstr(err.message, "only https://"));
    em_http_response_free(&resp);
    req.allow_http = true;
    assert_int_equal(em_http_perform(&resp, &req, NULL, &err), EM_OK);
    assert_int_equal(resp.status, 200);
    em_http_response_free(&resp);
}

/* EXCHANGEMFA_CA_FILE naming a FIFO (or a Windows pipe) is refused when the
 * helper starts, not waited on: requests then fail with the reason. */
static void test_ca_file_not_regular(void **state)
{
    char fifo[256];
    em_http_request req = {0};
    em_http_response resp;
    em_error err = {0};

    (void)state;
    assert_int_equal(test_make_blocking_file(fifo, sizeof fifo, "/tmp", "em-ca-fifo"), 0);
    em_http_global_cleanup();
    setenv("EXCHANGEMFA_CA_FILE", fifo, 1);
    assert_int_equal(em_http_global_init(&err), EM_OK);
    req.method = "GET";
    req.url = "https://127.0.0.1:1/";
    assert_int_equal(em_http_perform(&resp, &req, NULL, &err), EM_ETLS);
    assert_non_null(strstr(err.message, "EXCHANGEMFA_CA_FILE"));
    assert_non_null(strstr(err.message, "cannot be read"));
    em_http_response_free(&resp);
    em_http_global_cleanup();
    unsetenv("EXCHANGEMFA_CA_FILE");
    remove(fifo);
    assert_int_equal(em_http_global_init(&err), EM_OK);
}

/* Cancellation needs an em_request: run a fetch as a protocol request. */
static int m_fetch(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    char url[128];
    em_http_request hreq = {0};
    em_http_response resp;
    int rc;

    (void)params;
    (void)app;
    snprintf(url, sizeof(url), "%s/slow", base_url);
    hreq.method = "GET";
    hreq.url = url;
    hreq.allow_http = true;
    rc = em_http_perform(&resp, &hreq, req, err);
    em_http_response_free(&resp);
    if (rc == EM_OK)
        *out = strdup("{}");
    return rc;
}

static int discard(void *ud, const char *line, size_t len)
{
    em_buf *out = ud;

    return em_buf_append(out, line, len);
}

static void test_cancel_in_flight(void **state)
{
    static const em_rpc_method methods[] = {{"fetch", m_fetch}, {NULL, NULL}};
    const char *start = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"fetch\"}\n";
    const char *cancel = "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"id\":1}}\n";
    struct timespec t0, t1;
    em_buf out = EM_BUF_INIT;
    em_rpc *rpc = NULL;
    long ms;

    (void)state;
    assert_int_equal(em_rpc_new(&rpc, methods, NULL, NULL, discard, &out), EM_OK);
    em_rpc_feed(rpc, start, strlen(start));
    em_request_sleep(NULL, 300);    /* the transfer is under way */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    em_rpc_feed(rpc, cancel, strlen(cancel));
    em_rpc_wait_idle(rpc);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms < 250);
    assert_non_null(strstr(out.data, "\"name\":\"Cancelled\""));
    em_rpc_free(&rpc);
    em_buf_free(&out);
    assert_int_equal(em_json_outstanding(), 0);
}
#endif

int main(void)
{
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(test_form_encoding),
    };
    int failed = cmocka_run_group_tests_name("form", plain, NULL, NULL);
#ifdef EM_HAVE_MHD
    const struct CMUnitTest served[] = {
        cmocka_unit_test(test_get_and_headers),
        cmocka_unit_test(test_https_only),
        cmocka_unit_test(test_ca_file_not_regular),
        cmocka_unit_test(test_post_body_and_headers_sent),
        cmocka_unit_test(test_streaming_and_cap),
        cmocka_unit_test(test_gzip_asked_for_and_decoded),
        cmocka_unit_test(test_connection_reuse),
        cmocka_unit_test(test_timeout_and_refused),
        cmocka_unit_test(test_cancel_in_flight),
    };

    failed += cmocka_run_group_tests_name("served", served, server_up, server_down);
#endif
    return failed;
}
