/* test_rpc.c - the protocol loop: framing, validation, cancel/ack, shutdown,
 * and golden protocol exchanges (golden/<name>.in -> golden/<name>.out) run
 * against the real methods.
 *
 * Golden files: one request line per .in line; after each line the test
 * waits for every request to finish, so the .out order is deterministic.
 * In .out, "{{*}}" matches any text (versions, curl messages). Set
 * EM_GOLDEN_UPDATE=1 to rewrite the .out files from the current output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "util/buf.h"
#include "connection/connection.h"
#include "net/http.h"
#include "util/json.h"
#include "protocol/methods.h"
#include "protocol/protocol.h"
#include "protocol/rpc.h"
#include "test_util.h"

/* ---- capture of what the helper writes ---- */

typedef struct capture {
    pthread_mutex_t lock;
    em_buf out;
    int lines;
} capture;

static int capture_write(void *ud, const char *line, size_t len)
{
    capture *c = ud;

    pthread_mutex_lock(&c->lock);
    assert_int_equal(em_buf_append(&c->out, line, len), EM_OK);
    c->lines++;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static void capture_init(capture *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
}

static void capture_free(capture *c)
{
    em_buf_free(&c->out);
    pthread_mutex_destroy(&c->lock);
}

/* Output lines sorted, so concurrent replies compare equal. Caller frees. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *sorted_lines(const char *text)
{
    char *copy = strdup(text ? text : ""), *save = NULL, *line, *lines[256];
    em_buf out = EM_BUF_INIT;
    int n = 0, i;

    for (line = strtok_r(copy, "\n", &save); line && n < 256; line = strtok_r(NULL, "\n", &save))
        lines[n++] = line;
    qsort(lines, (size_t)n, sizeof(char *), cmp_str);
    for (i = 0; i < n; i++)
        em_buf_printf(&out, "%s\n", lines[i]);
    free(copy);
    return em_buf_detach(&out);
}

/* ---- test methods ---- */

static bool shutdown_hook_ran;

static int m_echo(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    yajl_gen g = em_json_gen_new();
    int st;

    (void)req;
    (void)app;
    (void)err;
    st = params ? em_json_gen_value(g, params) : (int)yajl_gen_map_open(g);
    if (!params && st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    assert_int_equal(st, yajl_gen_status_ok);
    assert_int_equal(em_json_gen_dup(out, g), EM_OK);
    yajl_gen_free(g);
    return EM_OK;
}

/* Waits (up to 20 s) until cancelled. */
static int m_sleep(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    (void)out;
    (void)params;
    (void)app;
    assert_int_equal(em_request_notify(req, "sleeping", "{}"), EM_OK);
    if (em_request_sleep(req, 20000) == EM_ECANCELLED)
        return em_error_set(err, EM_ECANCELLED, "request cancelled");
    return em_error_set(err, EM_EINTERNAL, "was not cancelled");
}

/* Sends page 1 and 2, then waits for the ack of page 1 (flow control). */
static int m_pages(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    (void)params;
    (void)app;
    em_request_notify(req, EM_N_PAGE, "{\"page\":1}");
    em_request_notify(req, EM_N_PAGE, "{\"page\":2}");
    if (em_rpc_wait_ack(req, 1) != EM_OK)
        return em_error_set(err, EM_ECANCELLED, "request cancelled");
    *out = strdup("{\"acked\":true}");
    return EM_OK;
}

static const em_rpc_method test_methods[] = {
    {"echo", m_echo},
    {"sleep", m_sleep},
    {"pages", m_pages},
    {NULL, NULL},
};

static void on_shutdown(void *app)
{
    (void)app;
    shutdown_hook_ran = true;
}

typedef struct fixture {
    capture cap;
    em_rpc *rpc;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    capture_init(&f->cap);
    shutdown_hook_ran = false;
    assert_int_equal(em_rpc_new(&f->rpc, test_methods, NULL, on_shutdown, capture_write, &f->cap),
                     EM_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    em_rpc_free(&f->rpc);
    assert_null(f->rpc);
    capture_free(&f->cap);
    free(f);
    assert_int_equal(em_json_outstanding(), 0);
    return 0;
}

static void feed_str(em_rpc *rpc, const char *s)
{
    em_rpc_feed(rpc, s, strlen(s));
}

/* Waits until the capture holds at least n lines (max 5 s). */
static void wait_lines(capture *c, int n)
{
    int i;

    for (i = 0; i < 500; i++) {
        int have;

        pthread_mutex_lock(&c->lock);
        have = c->lines;
        pthread_mutex_unlock(&c->lock);
        if (have >= n)
            return;
        em_request_sleep(NULL, 10);
    }
    fail_msg("expected %d lines, got %d", n, c->lines);
}

/* ---- framing ---- */

static const char framing_input[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\",\"params\":{\"a\":[1,2.5,\"\\u00e9\"]}}\n"
    "\r\n"
    "not json\n"
    "{\"jsonrpc\":\"2.0\",\"method\":\"whatever\",\"params\":{}}\n"
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"}\r\n"
    "   \n"
    "[1]\n"
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"echo\"}\n";

static const char framing_expected[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":[1,2.5,\"\xc3\xa9\"]}}\n"
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32601,\"message\":\"unknown method\","
    "\"data\":{\"name\":\"MethodNotFound\",\"target\":\"nope\"}}}\n"
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n"
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"a request must be a JSON object\","
    "\"data\":{\"name\":\"InvalidRequest\"}}}\n"
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"invalid JSON at byte 1: "
    "lexical error: invalid string in json text.\",\"data\":{\"name\":\"ParseError\"}}}\n";

static void test_framing_every_split(void **state)
{
    size_t len = strlen(framing_input), cut;
    char *expected = sorted_lines(framing_expected);

    (void)state;
    for (cut = 0; cut <= len; cut++) {
        fixture *f = NULL;
        void *st;
        char *got;

        setup(&st);
        f = st;
        em_rpc_feed(f->rpc, framing_input, cut);
        em_rpc_feed(f->rpc, framing_input + cut, len - cut);
        em_rpc_wait_idle(f->rpc);
        got = sorted_lines(f->cap.out.data);
        if (strcmp(got, expected) != 0)
            fail_msg("split at %zu:\n%s\nexpected:\n%s", cut, got, expected);
        free(got);
        teardown(&st);
    }
    free(expected);
}

static void test_framing_byte_by_byte(void **state)
{
    fixture *f = *state;
    char *expected = sorted_lines(framing_expected), *got;
    size_t i;

    for (i = 0; framing_input[i]; i++)
        em_rpc_feed(f->rpc, framing_input + i, 1);
    em_rpc_wait_idle(f->rpc);
    got = sorted_lines(f->cap.out.data);
    assert_string_equal(got, expected);
    free(got);
    free(expected);
}

/* A line of exactly EM_LINE_MAX bytes is served; one byte more is refused
 * with id null, and the helper goes on with the next line. */
static void test_line_limit(void **state)
{
    fixture *f = *state;
    const char *head = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"echo\",\"params\":{\"p\":\"";
    const char *tail = "\"}}";
    size_t pad = (size_t)EM_LINE_MAX - strlen(head) - strlen(tail), i;
    em_buf line = EM_BUF_INIT;
    char chunk[4096];

    em_buf_puts(&line, head);
    memset(chunk, 'x', sizeof(chunk));
    for (i = 0; i < pad; i += sizeof(chunk))
        em_buf_append(&line, chunk, pad - i < sizeof(chunk) ? pad - i : sizeof(chunk));
    em_buf_puts(&line, tail);
    assert_int_equal(line.len, (size_t)EM_LINE_MAX);
    /* Exactly at the limit, fed in 1000-byte chunks. */
    for (i = 0; i < line.len; i += 1000)
        em_rpc_feed(f->rpc, line.data + i, line.len - i < 1000 ? line.len - i : 1000);
    feed_str(f->rpc, "\n");
    em_rpc_wait_idle(f->rpc);
    assert_int_equal(f->cap.lines, 1);
    assert_int_equal(f->cap.out.len, (size_t)EM_LINE_MAX - strlen("{\"jsonrpc\":\"2.0\",\"id\":7,"
                     "\"method\":\"echo\",\"params\":") + strlen("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":") + 1);
    /* One byte over, then a good line in the same chunk. */
    em_buf_free(&f->cap.out);
    em_buf_append(&line, "y", 1);
    for (i = 0; i < line.len; i += 65536)
        em_rpc_feed(f->rpc, line.data + i, line.len - i < 65536 ? line.len - i : 65536);
    feed_str(f->rpc, "more garbage of the long line\n{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"echo\"}\n");
    em_rpc_wait_idle(f->rpc);
    assert_string_equal(f->cap.out.data,
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"line longer than "
        "1048576 bytes\",\"data\":{\"name\":\"InvalidRequest\"}}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{}}\n");
    em_buf_free(&line);
}

static void test_cancel(void **state)
{
    fixture *f = *state;
    struct timespec t0, t1;

    feed_str(f->rpc, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"sleep\"}\n");
    wait_lines(&f->cap, 1);
    /* Unknown ids and finished requests: nothing happens. */
    feed_str(f->rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"id\":99}}\n");
    /* A second request with the same id while the first runs. */
    feed_str(f->rpc, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"echo\"}\n");
    wait_lines(&f->cap, 2);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    feed_str(f->rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"id\":5}}\n");
    em_rpc_wait_idle(f->rpc);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
    assert_string_equal(f->cap.out.data,
        "{\"jsonrpc\":\"2.0\",\"method\":\"sleeping\",\"params\":{\"requestId\":5}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32600,\"message\":\"a request with this id "
        "is still running\",\"data\":{\"name\":\"InvalidRequest\"}}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32000,\"message\":\"request cancelled\","
        "\"data\":{\"name\":\"Cancelled\"}}}\n");
}

static void test_ack(void **state)
{
    fixture *f = *state;

    feed_str(f->rpc, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"pages\"}\n");
    wait_lines(&f->cap, 2);
    em_request_sleep(NULL, 50);
    assert_int_equal(f->cap.lines, 2);     /* still waiting for the ack */
    feed_str(f->rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"ack\",\"params\":{\"id\":9,\"page\":\"1\"}}\n");
    em_request_sleep(NULL, 50);
    assert_int_equal(f->cap.lines, 2);     /* a string page is not an ack */
    feed_str(f->rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"ack\",\"params\":{\"id\":9,\"page\":1}}\n");
    em_rpc_wait_idle(f->rpc);
    assert_string_equal(f->cap.out.data,
        "{\"jsonrpc\":\"2.0\",\"method\":\"page\",\"params\":{\"requestId\":9,\"page\":1}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"page\",\"params\":{\"requestId\":9,\"page\":2}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{\"acked\":true}}\n");
}

static void test_shutdown(void **state)
{
    fixture *f = *state;

    feed_str(f->rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\"}\n");
    wait_lines(&f->cap, 1);
    assert_int_equal(em_rpc_feed(f->rpc, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"shutdown\"}\n"
                                 "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"echo\"}\n", 90),
                     EM_RPC_STOP);
    assert_true(shutdown_hook_ran);
    /* The running request ends first, the shutdown reply is last, and
     * nothing after shutdown is served. */
    assert_string_equal(f->cap.out.data,
        "{\"jsonrpc\":\"2.0\",\"method\":\"sleeping\",\"params\":{\"requestId\":1}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,\"message\":\"request cancelled\","
        "\"data\":{\"name\":\"Cancelled\"}}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n");
}

static void test_eof_cancels(void **state)
{
    fixture *f = *state;

    feed_str(f->rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sleep\"}\n"
                     "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"sleep\"}\n");
    wait_lines(&f->cap, 2);
    em_rpc_eof(f->rpc);
    assert_int_equal(f->cap.lines, 4);
    assert_non_null(strstr(f->cap.out.data, "\"id\":1,\"error\":{\"code\":-32000,\"message\":\"request cancelled\""));
    assert_non_null(strstr(f->cap.out.data, "\"id\":2,\"error\":{\"code\":-32000,\"message\":\"request cancelled\""));
}

/* ---- golden exchanges with the real methods ---- */

/* Whether text matches pattern, where "{{*}}" in pattern matches any run. */
static bool matches(const char *pattern, const char *text)
{
    const char *star = strstr(pattern, "{{*}}");
    size_t head;

    if (star == NULL)
        return strcmp(pattern, text) == 0;
    head = (size_t)(star - pattern);
    if (strncmp(pattern, text, head) != 0)
        return false;
    for (text += head;; text++) {
        if (matches(star + 5, text))
            return true;
        if (*text == '\0')
            return false;
    }
}

static void run_golden(const char *name)
{
    char rel[512], *input, *expected, *save = NULL, *line;
    size_t len, elen;
    capture cap;
    em_conn_table *conns = NULL;
    em_rpc *rpc = NULL;

    snprintf(rel, sizeof(rel), "golden/%s.in", name);
    input = test_read_file(rel, &len);
    assert_non_null(input);
    capture_init(&cap);
    assert_int_equal(em_conn_table_new(&conns), EM_OK);
    assert_int_equal(em_rpc_new(&rpc, em_methods, conns, em_methods_shutdown, capture_write, &cap),
                     EM_OK);
    for (line = strtok_r(input, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (em_rpc_feed(rpc, line, strlen(line)) == EM_RPC_STOP ||
            em_rpc_feed(rpc, "\n", 1) == EM_RPC_STOP)
            break;
        em_rpc_wait_idle(rpc);
    }
    em_rpc_eof(rpc);
    snprintf(rel, sizeof(rel), "golden/%s.out", name);
    if (getenv("EM_GOLDEN_UPDATE") != NULL) {
        char path[1024];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", EM_TEST_DATA, rel);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(cap.out.data ? cap.out.data : "", f);
        fclose(f);
    }
    expected = test_read_file(rel, &elen);
    assert_non_null(expected);
    {
        char *esave = NULL, *gsave = NULL;
        char *got = strdup(cap.out.data ? cap.out.data : "");
        char *e = strtok_r(expected, "\n", &esave), *g = strtok_r(got, "\n", &gsave);
        int n = 1;

        for (; e != NULL && g != NULL; e = strtok_r(NULL, "\n", &esave),
                                       g = strtok_r(NULL, "\n", &gsave), n++) {
            if (!matches(e, g))
                fail_msg("%s.out line %d:\n  expected %s\n  got      %s", name, n, e, g);
        }
        if (e != NULL || g != NULL)
            fail_msg("%s.out: line %d: %s", name, n, e ? "missing output" : "unexpected output");
        free(got);
    }
    em_rpc_free(&rpc);
    em_conn_table_free(&conns);
    capture_free(&cap);
    free(input);
    free(expected);
}

static void test_golden(void **state)
{
    char dir[1024];
    DIR *d;
    struct dirent *e;
    int count = 0;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_http_global_init(&err), EM_OK);
    snprintf(dir, sizeof(dir), "%s/golden", EM_TEST_DATA);
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char name[256];

        if (n < 4 || strcmp(e->d_name + n - 3, ".in") != 0 || n - 3 >= sizeof(name))
            continue;
        memcpy(name, e->d_name, n - 3);
        name[n - 3] = '\0';
        run_golden(name);
        count++;
    }
    closedir(d);
    em_http_global_cleanup();
    assert_true(count >= 2);
    assert_int_equal(em_json_outstanding(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing_every_split),
        cmocka_unit_test_setup_teardown(test_framing_byte_by_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_cancels, setup, teardown),
        cmocka_unit_test(test_golden),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
