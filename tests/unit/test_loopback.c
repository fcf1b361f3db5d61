/* test_loopback.c - the browser sign-in's redirect listener (loopback.c):
 * query parsing and judging, the redirect URI templates, then the real
 * listener driven by libcurl (http.h) as the "browser": favicon, wrong
 * state, valid callback, provider errors, iss mix-up, timeout, cancel,
 * replay, bind addresses (127.0.0.1 and ::1 for localhost), paths and ports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "platform_sockets.h"   /* sockaddr_in: the platform's header */
#ifndef test_close_socket
#define test_close_socket close  /* win32_test_compat.h: closesocket */
#endif
#ifndef test_set_recv_timeout     /* win32_test_compat.h: the Windows forms */
#define test_set_recv_timeout(fd, ms) \
    do { struct timeval tv_ = {(ms) / 1000, ((ms) % 1000) * 1000}; \
         setsockopt((fd), SOL_SOCKET, SO_RCVTIMEO, &tv_, sizeof tv_); } while (0)
#define test_recv_timed_out() (errno == EAGAIN || errno == EWOULDBLOCK)
#endif
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "fake_server.h"
#include "net/http.h"
#include "util/json.h"
#include "identity/loopback.h"
#include "protocol/rpc.h"

#define STATE "Zm9vYmFyYmF6cXV4cXV1eHF1dXpxdXV6cXV1enF1dXo"
#define ISSUER "https://login.microsoftonline.com/{tenantid}/v2.0"
#define TID "6babcaad-604b-40ac-a9d7-9fd97c0b779f"

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- parsing and judging ---------------------------------------------- */

static void test_parse_query(void **state)
{
    const char q[] = "code=0.AX%2Bb-c&state=" STATE "&session_state=x&&iss=https%3A%2F%2Fa%2Fb"
                     "&error_description=two+words%20here";
    em_loopback_callback cb;
    em_error err = {0};
    (void)state;

    assert_int_equal(em_loopback_parse_query(&cb, q, sizeof q - 1, &err), EM_OK);
    assert_string_equal(cb.code, "0.AX+b-c");
    assert_string_equal(cb.state, STATE);
    assert_string_equal(cb.iss, "https://a/b");
    assert_string_equal(cb.error_description, "two words here");
    assert_null(cb.error);
    em_loopback_callback_clear(&cb);
    /* A known key twice (which value would win?), bad escapes, an encoded NUL. */
    assert_int_equal(em_loopback_parse_query(&cb, "state=a&state=b", 15, &err), EM_EINVAL);
    em_loopback_callback_clear(&cb);
    assert_int_equal(em_loopback_parse_query(&cb, "code=%4", 7, &err), EM_EINVAL);
    em_loopback_callback_clear(&cb);
    assert_int_equal(em_loopback_parse_query(&cb, "code=%zz", 8, &err), EM_EINVAL);
    em_loopback_callback_clear(&cb);
    assert_int_equal(em_loopback_parse_query(&cb, "code=a%00b", 10, &err), EM_EINVAL);
    em_loopback_callback_clear(&cb);
    /* Empty and key-only input. */
    assert_int_equal(em_loopback_parse_query(&cb, "", 0, &err), EM_OK);
    em_loopback_callback_clear(&cb);
    assert_int_equal(em_loopback_parse_query(&cb, "code", 4, &err), EM_OK);
    assert_string_equal(cb.code, "");
    em_loopback_callback_clear(&cb);
}

static void test_check(void **state)
{
    em_loopback_expect expect = {STATE, ISSUER, false};
    em_loopback_callback cb = {0};
    em_error err = {0};
    (void)state;

    cb.code = "c";
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_EINVAL);
    cb.state = STATE "x";
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_EINVAL);
    cb.state = STATE;
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_OK);
    /* iss: the template stands for one path segment. */
    cb.iss = "https://login.microsoftonline.com/" TID "/v2.0";
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_OK);
    cb.iss = "https://login.microsoftonline.com/a/b/v2.0";
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_EAUTH);
    cb.iss = "https://login.microsoftonline.com//v2.0";
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_EAUTH);
    cb.iss = "https://evil.example/" TID "/v2.0";
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_EAUTH);
    assert_non_null(strstr(err.message, "another issuer"));
    /* Promised by discovery but missing. */
    cb.iss = NULL;
    expect.iss_required = true;
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_EAUTH);
    expect.iss_required = false;
    /* Provider errors. */
    cb.code = NULL;
    cb.error = "access_denied";
    cb.error_description = "AADSTS65004: User declined to consent.\r\nTrace ID: 1";
    memset(&err, 0, sizeof err);
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_EDECLINED);
    assert_int_equal(err.aadsts, 65004);
    assert_string_equal(err.server_code, "access_denied");
    assert_null(strstr(err.message, "Trace"));
    cb.error = "invalid_client";
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_ECONFIG);
    cb.error = "interaction_required";
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_EAUTH);
    cb.error = NULL;
    assert_int_equal(em_loopback_check(&cb, &expect, &err), EM_EBADRESPONSE);
}

/* ---- the listener ------------------------------------------------------- */

typedef struct waiter {
    pthread_t thread;
    em_loopback *lb;
    long timeout_ms;
    int rc;
    char *code;
    em_error err;
} waiter;

static void *wait_thread(void *arg)
{
    waiter *w = arg;

    w->rc = em_loopback_wait(&w->code, w->lb, w->timeout_ms, NULL, &w->err);
    return NULL;
}

static em_loopback *start(bool iss_required)
{
    em_loopback_expect expect = {STATE, ISSUER, iss_required};
    em_loopback *lb = NULL;
    em_error err = {0};
    char want[64];

    assert_int_equal(em_loopback_start(&lb, &expect, NULL, &err), EM_OK);
    /* The default, as MSAL sends it: localhost, no trailing slash. */
    snprintf(want, sizeof want, "http://localhost:%d", em_loopback_port(lb));
    assert_string_equal(em_loopback_redirect_uri(lb), want);
    assert_true(em_loopback_port(lb) > 0);
    return lb;
}

static void wait_in_background(waiter *w, em_loopback *lb, long timeout_ms)
{
    memset(w, 0, sizeof *w);
    w->lb = lb;
    w->timeout_ms = timeout_ms;
    pthread_create(&w->thread, NULL, wait_thread, w);
}

/* GETs host:port + path; returns the transport code, *status and the body. */
static int get(const char *host, int port, const char *path, long *status, em_buf *body)
{
    char url[2048];
    em_http_request req = {0};
    em_http_response resp = {0};
    em_error err = {0};
    int rc = EM_OK;

    snprintf(url, sizeof url, "http://%s:%d%s", host, port, path);
    req.method = "GET";
    req.url = url;
    req.allow_http = true;      /* the listener speaks plain http, as browsers reach it */
    req.timeout_ms = 5000;
    rc = em_http_perform(&resp, &req, NULL, &err);
    *status = resp.status;
    if (body != NULL) {
        body->len = 0;
        if (resp.body.data != NULL)
            em_buf_append(body, resp.body.data, resp.body.len);
    }
    em_http_response_free(&resp);
    return rc;
}

static void test_valid_after_wrong_state(void **state)
{
    em_loopback *lb = start(false);
    int port = em_loopback_port(lb);
    em_buf body = EM_BUF_INIT;
    long status = 0;
    waiter w;
    (void)state;

    wait_in_background(&w, lb, 10000);
    assert_int_equal(get("127.0.0.1", port, "/favicon.ico", &status, &body), EM_OK);
    assert_int_equal(status, 404);
    assert_int_equal(get("127.0.0.1", port, "/?code=C1&state=wrong", &status, &body), EM_OK);
    assert_int_equal(status, 400);
    assert_non_null(strstr(body.data, "does not belong"));
    assert_int_equal(get("127.0.0.1", port, "/?code=C1&code=C2&state=" STATE, &status, &body), EM_OK);
    assert_int_equal(status, 400);
    /* The wait goes on after those. */
    em_request_sleep(NULL, 200);
    assert_int_equal(w.rc, EM_OK);
    assert_null(w.code);
    assert_int_equal(get("127.0.0.1", port, "/?code=0.AX-code&state=" STATE "&iss=https%3A%2F%2Flogin."
                         "microsoftonline.com%2F" TID "%2Fv2.0&session_state=s", &status, &body), EM_OK);
    assert_int_equal(status, 200);
    assert_non_null(strstr(body.data, "You are signed in"));
    assert_null(strstr(body.data, "0.AX-code"));
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, EM_OK);
    assert_string_equal(w.code, "0.AX-code");
    /* Replayed: the listener is closed. */
    assert_int_equal(get("127.0.0.1", port, "/?code=0.AX-code&state=" STATE, &status, &body), EM_ENETWORK);
    em_free_secret(&w.code);
    em_loopback_free(&lb);
    assert_null(lb);
    em_buf_free(&body);
}

/* A TCP connection to 127.0.0.1:port that sent the start of a request head. */
static int slow_connection(int port)
{
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(send(fd, "G", 1, MSG_NOSIGNAL), 1);
    return fd;
}

/* Whether the listener closed fd (a read sees the end or a reset). */
static bool closed_by_listener(int fd)
{
    char c;

    test_set_recv_timeout(fd, 200);
    return recv(fd, &c, 1, 0) <= 0 && !test_recv_timed_out();
}

/* 40 connections trickling their heads do not keep the callback out
 * (issue 13: they used to, for the whole sign-in timeout), and one that
 * trickles is closed at its head deadline. */
static void test_slow_connections_do_not_starve(void **state)
{
    em_loopback *lb = start(false);
    int port = em_loopback_port(lb), fds[40], trickler, i;
    em_buf body = EM_BUF_INIT;
    struct timespec t0, t1;
    long status = 0;
    waiter w;
    (void)state;

    wait_in_background(&w, lb, 30000);
    trickler = slow_connection(port);
    for (i = 0; i < 40; i++)
        fds[i] = slow_connection(port);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(get("127.0.0.1", port, "/?code=0.AX-code&state=" STATE, &status, &body), EM_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(status, 200);
    assert_true(t1.tv_sec - t0.tv_sec < 3);     /* at once, not after MHD's 10 s idle timeout */
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, EM_OK);
    assert_string_equal(w.code, "0.AX-code");
    em_free_secret(&w.code);
    em_loopback_free(&lb);
    for (i = 0; i < 40; i++)
        test_close_socket(fds[i]);
    test_close_socket(trickler);

    /* A head trickled a byte a second is cut at its deadline (5 s), before
     * MHD's idle timeout (10 s, reset by every byte) would ever fire. */
    lb = start(false);
    port = em_loopback_port(lb);
    wait_in_background(&w, lb, 30000);
    trickler = slow_connection(port);
    for (i = 0; i < 8 && send(trickler, "E", 1, MSG_NOSIGNAL) == 1; i++)
        em_request_sleep(NULL, 1000);
    assert_true(i < 8);
    assert_true(closed_by_listener(trickler));
    test_close_socket(trickler);
    assert_int_equal(get("127.0.0.1", port, "/?code=0.AX-code&state=" STATE, &status, &body), EM_OK);
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, EM_OK);
    em_free_secret(&w.code);
    em_loopback_free(&lb);
    em_buf_free(&body);
}

static void test_error_callback(void **state)
{
    em_loopback *lb = start(false);
    int port = em_loopback_port(lb);
    em_buf body = EM_BUF_INIT;
    long status = 0;
    waiter w;
    (void)state;

    wait_in_background(&w, lb, 10000);
    assert_int_equal(get("127.0.0.1", port, "/?error=access_denied&error_description=AADSTS65004%3A+"
                         "User+%3Cscript%3Ealert(1)%3C%2Fscript%3E+declined&state=" STATE, &status, &body), EM_OK);
    assert_non_null(strstr(body.data, "Sign-in failed"));
    assert_non_null(strstr(body.data, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_null(strstr(body.data, "<script>"));
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, EM_EDECLINED);
    assert_int_equal(w.err.code, EM_EDECLINED);
    assert_int_equal(w.err.aadsts, 65004);
    assert_null(w.code);
    em_loopback_free(&lb);
    em_buf_free(&body);
}

static void test_iss_mismatch_and_required(void **state)
{
    em_loopback *lb = start(true);
    int port = em_loopback_port(lb);
    em_buf body = EM_BUF_INIT;
    long status = 0;
    waiter w;
    (void)state;

    wait_in_background(&w, lb, 10000);
    assert_int_equal(get("127.0.0.1", port, "/?code=C&state=" STATE "&iss=https%3A%2F%2Fevil.example%2F"
                         TID "%2Fv2.0", &status, &body), EM_OK);
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, EM_EAUTH);
    assert_non_null(strstr(w.err.message, "another issuer"));
    assert_null(w.code);
    em_loopback_free(&lb);
    /* The provider promised iss: a callback without it ends the sign-in. */
    lb = start(true);
    port = em_loopback_port(lb);
    wait_in_background(&w, lb, 10000);
    assert_int_equal(get("127.0.0.1", port, "/?code=C&state=" STATE, &status, &body), EM_OK);
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, EM_EAUTH);
    assert_non_null(strstr(w.err.message, "iss"));
    em_loopback_free(&lb);
    em_buf_free(&body);
}

static void test_timeout_closes(void **state)
{
    em_loopback *lb = start(false);
    int port = em_loopback_port(lb);
    char *code = NULL;
    em_error err = {0};
    long status = 0;
    double t0 = now_seconds();
    (void)state;

    assert_int_equal(em_loopback_wait(&code, lb, 300, NULL, &err), EM_ETIMEOUT);
    assert_true(now_seconds() - t0 >= 0.29 && now_seconds() - t0 < 2.0);
    /* It says what the browser may have shown, and the way out. */
    assert_non_null(strstr(err.message, "AADSTS50011"));
    assert_non_null(strstr(err.message, "AADSTS65001"));
    assert_non_null(strstr(err.message, "-Device"));
    assert_non_null(strstr(err.message, em_loopback_redirect_uri(lb)));
    assert_int_equal(get("127.0.0.1", port, "/?code=C&state=" STATE, &status, NULL), EM_ENETWORK);
    /* One wait per listener. */
    assert_int_equal(em_loopback_wait(&code, lb, 300, NULL, &err), EM_EINVAL);
    em_loopback_free(&lb);
}

static void test_binds_loopback_only(void **state)
{
    em_loopback *lb = start(false);
    int port = em_loopback_port(lb);
    long status = 0;
    (void)state;

    assert_int_equal(get("127.0.0.1", port, "/nothing", &status, NULL), EM_OK);
    assert_int_equal(status, 404);
    /* Another loopback address: nobody listens there. */
    assert_int_equal(get("127.0.0.2", port, "/nothing", &status, NULL), EM_ENETWORK);
    em_loopback_free(&lb);
}

static void test_parse_redirect(void **state)
{
    static const char *const bad[] = {
        "https://localhost", "http://localhost.evil.example", "http://127.0.0.2", "http://0.0.0.0",
        "http://[::]", "http://example.com/", "http://localhost:0", "http://localhost:65536",
        "http://localhost:123456", "http://localhost:", "http://localhost:80x", "http://user@localhost",
        "http://localhost/?q=1", "http://localhost/#f", "http://localhost/a%20b", "localhost", "",
    };
    em_loopback_redirect r;
    em_error err = {0};
    (void)state;

    assert_int_equal(em_loopback_parse_redirect(&r, "http://localhost", &err), EM_OK);
    assert_int_equal(r.host, EM_LOOPBACK_LOCALHOST);
    assert_int_equal(r.port, 0);
    assert_string_equal(r.path, "");
    assert_int_equal(em_loopback_parse_redirect(&r, "HTTP://LocalHost:8400/", &err), EM_OK);
    assert_int_equal(r.host, EM_LOOPBACK_LOCALHOST);
    assert_int_equal(r.port, 8400);
    assert_string_equal(r.path, "/");
    assert_int_equal(em_loopback_parse_redirect(&r, "http://127.0.0.1/auth/callback", &err), EM_OK);
    assert_int_equal(r.host, EM_LOOPBACK_IPV4);
    assert_string_equal(r.path, "/auth/callback");
    assert_int_equal(em_loopback_parse_redirect(&r, "http://[::1]:65535", &err), EM_OK);
    assert_int_equal(r.host, EM_LOOPBACK_IPV6);
    assert_int_equal(r.port, 65535);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (em_loopback_parse_redirect(&r, bad[i], &err) != EM_EINVAL)
            fail_msg("accepted %s", bad[i]);
    }
}

/* "localhost" is answered on 127.0.0.1 and on ::1 with the same port; one
 * valid callback (here through ::1) ends the sign-in and closes both. */
static void test_localhost_on_both_addresses(void **state)
{
    em_loopback *lb = start(false);
    int port = em_loopback_port(lb);
    em_buf body = EM_BUF_INIT;
    long status = 0;
    waiter w;
    (void)state;

    assert_int_equal(get("127.0.0.1", port, "/nothing", &status, NULL), EM_OK);
    assert_int_equal(status, 404);
    if (!em_loopback_on_ipv6(lb)) {
        em_loopback_free(&lb);
        print_message("::1 is not available on this machine: the IPv6 half is not tested\n");
        skip();
    }
    assert_int_equal(get("[::1]", port, "/nothing", &status, NULL), EM_OK);
    assert_int_equal(status, 404);
    wait_in_background(&w, lb, 10000);
    assert_int_equal(get("[::1]", port, "/?code=C6&state=" STATE, &status, &body), EM_OK);
    assert_int_equal(status, 200);
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, EM_OK);
    assert_string_equal(w.code, "C6");
    assert_int_equal(get("[::1]", port, "/?code=C6&state=" STATE, &status, NULL), EM_ENETWORK);
    assert_int_equal(get("127.0.0.1", port, "/?code=C6&state=" STATE, &status, NULL), EM_ENETWORK);
    em_free_secret(&w.code);
    em_loopback_free(&lb);
    em_buf_free(&body);
}

/* An explicit template: 127.0.0.1 only, the callback on its path, the port
 * fixed when given (and refused while another listener holds it). */
static void test_explicit_redirect(void **state)
{
    em_loopback_expect expect = {STATE, NULL, false};
    em_loopback *lb = NULL, *again = NULL;
    em_error err = {0};
    long status = 0;
    char want[64], fixed[64];
    int port = 0;
    waiter w;
    (void)state;

    assert_int_equal(em_loopback_start(&lb, &expect, "http://127.0.0.1/cb", &err), EM_OK);
    port = em_loopback_port(lb);
    snprintf(want, sizeof want, "http://127.0.0.1:%d/cb", port);
    assert_string_equal(em_loopback_redirect_uri(lb), want);
    assert_false(em_loopback_on_ipv6(lb));
    assert_int_equal(get("[::1]", port, "/cb", &status, NULL), EM_ENETWORK);
    /* The same port asked for while this one holds it. */
    snprintf(fixed, sizeof fixed, "http://127.0.0.1:%d/cb", port);
    assert_int_equal(em_loopback_start(&again, &expect, fixed, &err), EM_ENETWORK);
    assert_null(again);
    wait_in_background(&w, lb, 10000);
    assert_int_equal(get("127.0.0.1", port, "/?code=C&state=" STATE, &status, NULL), EM_OK);
    assert_int_equal(status, 404);
    assert_int_equal(get("127.0.0.1", port, "/cb?code=C&state=" STATE, &status, NULL), EM_OK);
    assert_int_equal(status, 200);
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, EM_OK);
    em_free_secret(&w.code);
    em_loopback_free(&lb);
    /* Now free: the fixed port is used as given. */
    assert_int_equal(em_loopback_start(&lb, &expect, fixed, &err), EM_OK);
    assert_int_equal(em_loopback_port(lb), port);
    assert_string_equal(em_loopback_redirect_uri(lb), want);
    em_loopback_free(&lb);
    assert_int_equal(em_loopback_start(&lb, &expect, "http://example.com/", &err), EM_EINVAL);
    assert_null(lb);
}

/* A "localhost" port another process holds on ::1 is refused, not served
 * on 127.0.0.1 alone: a browser trying ::1 first would reach the other
 * process. */
static void test_localhost_port_taken_on_ipv6(void **state)
{
    em_loopback_expect expect = {STATE, NULL, false};
    struct sockaddr_in6 v6 = {0};
    socklen_t len = sizeof v6;
    em_loopback *lb = NULL;
    em_error err = {0};
    char template[64];
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    (void)state;

    v6.sin6_family = AF_INET6;
    v6.sin6_addr = in6addr_loopback;
    if (fd < 0 || bind(fd, (struct sockaddr *)&v6, sizeof v6) != 0) {
        if (fd >= 0)
            test_close_socket(fd);
        print_message("::1 is not available on this machine: nothing to hold\n");
        skip();
    }
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&v6, &len), 0);
    snprintf(template, sizeof template, "http://localhost:%d", ntohs(v6.sin6_port));
    assert_int_equal(em_loopback_start(&lb, &expect, template, &err), EM_ENETWORK);
    assert_null(lb);
    assert_non_null(strstr(err.message, "in use"));
    test_close_socket(fd);
    /* Released: the same port now listens on both addresses. */
    assert_int_equal(em_loopback_start(&lb, &expect, template, &err), EM_OK);
    assert_true(em_loopback_on_ipv6(lb));
    em_loopback_free(&lb);
}

/* ---- cancellation through the protocol loop ----------------------------- */

static int wait_method(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    char *code = NULL;
    int rc = em_loopback_wait(&code, app, 60000, req, err);

    (void)params;
    em_free_secret(&code);
    if (rc == EM_OK)
        *out = strdup("{}");
    return rc;
}

static void test_cancel(void **state)
{
    const em_rpc_method methods[] = {{"wait", wait_method}, {NULL, NULL}};
    const char start_line[] = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"wait\"}\n";
    const char cancel[] = "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"id\":3}}\n";
    em_loopback *lb = start(false);
    int port = em_loopback_port(lb);
    test_lines out = {PTHREAD_MUTEX_INITIALIZER, EM_BUF_INIT};
    em_rpc *rpc = NULL;
    long status = 0;
    double t0 = 0;
    (void)state;

    assert_int_equal(em_rpc_new(&rpc, methods, lb, NULL, test_lines_capture, &out), EM_OK);
    em_rpc_feed(rpc, start_line, sizeof start_line - 1);
    em_request_sleep(NULL, 300);
    t0 = now_seconds();
    em_rpc_feed(rpc, cancel, sizeof cancel - 1);
    for (int i = 0; i < 100 && !test_lines_contain(&out, "\"id\":3,\"error\""); i++)
        em_request_sleep(NULL, 10);
    assert_true(now_seconds() - t0 < 0.5);
    assert_true(test_lines_contain(&out, "Cancelled"));
    em_rpc_wait_idle(rpc);
    /* The listener closed with the wait. */
    assert_int_equal(get("127.0.0.1", port, "/?code=C&state=" STATE, &status, NULL), EM_ENETWORK);
    em_rpc_free(&rpc);
    em_buf_free(&out.text);
    em_loopback_free(&lb);
}

static int group_setup(void **state)
{
    (void)state;
    return em_http_global_init(NULL) == EM_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    em_http_global_cleanup();
    return em_json_outstanding() == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_query),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_valid_after_wrong_state),
cmocka_unit_test(test_slow_connections_do_not_starve),
        cmocka_unit_test(test_error_callback),
        cmocka_unit_test(test_iss_mismatch_and_required),
        cmocka_unit_test(test_timeout_closes),
        cmocka_unit_test(test_binds_loopback_only),
        cmocka_unit_test(test_parse_redirect),
        cmocka_unit_test(test_localhost_on_both_addresses),
        cmocka_unit_test(test_explicit_redirect),
        cmocka_unit_test(test_localhost_port_taken_on_ipv6),
        cmocka_unit_test(test_cancel),
    };

    return cmocka_run_group_tests_name("loopback", tests, group_setup, group_teardown);
}
