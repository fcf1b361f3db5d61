/* test_exo_retry.c - resilience of the InvokeCommand loop against a local
 * fake Exchange (libmicrohttpd on 127.0.0.1, a thread per connection) that
 * plays a queue of faults: 429 with Retry-After, 503, a transient server
 * exception, the plain-text throttle, a reset or a stall mid-page, a hang,
 * a claims challenge; and a cancel during a backoff wait. With a
 * connection's window (exchange/window.h): a 429 narrows it, successes
 * widen it again, and a page waiting for a place ends at once on cancel.
 *
 * The test knobs keep it short: EXCHANGEMFA_RETRY_BASE_MS=20 and
 * EXCHANGEMFA_STALL_TIMEOUT_MS=1000 are set before the first invoke.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "platform_sockets.h"   /* sockaddr_in: the platform's header */
#include <pthread.h>
#include <cmocka.h>

#include "util/buf.h"
#include "exchange/exo.h"
#include "fake_server.h"
#include "net/http.h"
#include "util/json.h"
#include "protocol/rpc.h"

#ifdef EM_HAVE_MHD
#include <microhttpd.h>

#define OBJECTS 12              /* in all, 5 a page: pages of 5, 5, 2 */
#define PER_PAGE 5
#define FAULTS_MAX 16
#define STALL_MS 1000           /* EXCHANGEMFA_STALL_TIMEOUT_MS */
#define HANG_MS 2500            /* well over the stall timeout */

typedef enum fault_kind { F_STATUS, F_RESET, F_STALL, F_HANG, F_CLAIMS, F_CUT } fault_kind;

typedef struct fault {
    int page;                   /* 1-based; 0 = any */
    fault_kind kind;
    unsigned status;            /* F_STATUS */
    const char *retry_after;    /* F_STATUS, or NULL */
    const char *body;           /* F_STATUS */
    int after_objects;          /* F_RESET, F_STALL, F_CUT */
} fault;

static struct MHD_Daemon *daemon_;
static char origin[64];

/* Guarded by lock: the fault queue and what the fake saw. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static fault faults[FAULTS_MAX];
static int fault_count;
static int requests;
static long request_ms[32];     /* when each request arrived */
static em_buf seen;             /* "page=P auth=A\n" a request */

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void add_fault(fault f)
{
    pthread_mutex_lock(&lock);
    assert_true(fault_count < FAULTS_MAX);
    faults[fault_count++] = f;
    pthread_mutex_unlock(&lock);
}

/* Takes the first queued fault for page, like the emulator. */
static bool take_fault(fault *out, int page)
{
    int i;

    for (i = 0; i < fault_count; i++) {
        if (faults[i].page == 0 || faults[i].page == page) {
            *out = faults[i];
            memmove(&faults[i], &faults[i + 1], (size_t)(fault_count - i - 1) * sizeof(fault));
            fault_count--;
            return true;
        }
    }
    return false;
}

static int requests_now(void)
{
    int n;

    pthread_mutex_lock(&lock);
    n = requests;
    pthread_mutex_unlock(&lock);
    return n;
}

/* A page body streamed by the fake; cut = offset after the fault's objects. */
typedef struct stream {
    em_buf text;
    size_t pos;
    size_t cut;
    bool reset;                 /* at cut: close the connection */
    bool end;                   /* at cut: end the answer cleanly, the page unfinished */
    long pause_ms;              /* at cut: pause this long, then go on */
} stream;

static ssize_t read_stream(void *cls, uint64_t offset, char *buf, size_t max)
{
    stream *st = cls;
    size_t end, n;

    (void)offset;
    if (st->pos == st->cut && st->pos < st->text.len) {
        if (st->reset) {
            sleep_ms(50);   /* let the objects before the cut reach the client */
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (st->end)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (st->pause_ms > 0) {
            sleep_ms(st->pause_ms);
            st->pause_ms = 0;
        }
    }
    if (st->pos >= st->text.len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    end = st->pos < st->cut ? st->cut : st->text.len;
    n = end - st->pos < max ? end - st->pos : max;
    memcpy(buf, st->text.data + st->pos, n);
    st->pos += n;
    return (ssize_t)n;
}

static void free_stream(void *cls)
{
    stream *st = cls;

    em_buf_free(&st->text);
    free(st);
}

/* The page starting at object `from`; *cut set after `after` objects. */
static void build_page(em_buf *page, int from, int after, size_t *cut)
{
    int n = from + PER_PAGE > OBJECTS ? OBJECTS - from : PER_PAGE, i;

    em_buf_puts(page, "{\"value\":[");
    for (i = 0; i < n; i++) {
        em_buf_printf(page, "%s{\"@odata.type\":\"#T\",\"N\":%d}", i ? "," : "", from + i + 1);
        if (i + 1 == after)
            *cut = page->len;
    }
    em_buf_puts(page, "]");
    if (from + n < OBJECTS)
        em_buf_printf(page, ",\"@odata.nextLink\":\"%s/adminapi/beta/t/InvokeCommand?skip=%d\"",
                      origin, from + n);
    em_buf_puts(page, "}");
}

static struct MHD_Response *answer(const fault *f, bool faulty, int from, unsigned *status)
{
    struct MHD_Response *r;
    stream *st;

    *status = 200;
    if (faulty && f->kind == F_STATUS) {
        *status = f->status;
        r = MHD_create_response_from_buffer(strlen(f->body), (void *)f->body, MHD_RESPMEM_MUST_COPY);
        if (f->retry_after != NULL)
            MHD_add_response_header(r, "Retry-After", f->retry_after);
        MHD_add_response_header(r, "Content-Type", f->body[0] == '{' ? "application/json"
                                                                       : "text/plain");
        return r;
    }
    if (faulty && f->kind == F_CLAIMS) {
        /* claims = base64 {"access_token":{"nbf":{"essential":true,"value":"1"}}} */
        *status = 401;
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "WWW-Authenticate",
            "Bearer realm=\"\", error=\"insufficient_claims\", "
            "claims=\"eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxIn19fQ==\"");
        return r;
    }
    if (faulty && f->kind == F_HANG)
        sleep_ms(HANG_MS);
    st = calloc(1, sizeof(*st));
    assert_non_null(st);
    st->cut = (size_t)-1;
    build_page(&st->text, from, faulty ? f->after_objects : -1, &st->cut);
    if (st->cut == (size_t)-1)
        st->cut = st->text.len;
    st->reset = faulty && f->kind == F_RESET;
    st->end = faulty && f->kind == F_CUT;
    st->pause_ms = faulty && f->kind == F_STALL ? HANG_MS : 0;
    return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, read_stream, st, free_stream);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    static int marker;
    const char *skip = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "skip");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    struct MHD_Response *r;
    enum MHD_Result ret;
    unsigned status;
    fault f;
    bool faulty;
    int from = skip ? atoi(skip) : 0;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    if (*con_cls == NULL) {
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&lock);
    if (requests < (int)(sizeof(request_ms) / sizeof(request_ms[0])))
        request_ms[requests] = now_ms();
    requests++;
    em_buf_printf(&seen, "page=%d auth=%s\n", from / PER_PAGE + 1, auth ? auth : "-");
    faulty = take_fault(&f, from / PER_PAGE + 1);
    pthread_mutex_unlock(&lock);
    r = answer(&f, faulty, from, &status);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static int server_up(void **state)
{
    em_error err = {0};

    (void)state;
    /* Test knobs, read once by exo.c at its first retry or page. */
    setenv("EXCHANGEMFA_RETRY_BASE_MS", "20", 1);
    setenv("EXCHANGEMFA_STALL_TIMEOUT_MS", "1000", 1);
    daemon_ = fake_listen(origin, sizeof(origin),
                          MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, handler, NULL, NULL);
    if (daemon_ == NULL)
        return -1;
    return em_http_global_init(&err) == EM_OK ? 0 : -1;
}

static int server_down(void **state)
{
    (void)state;
    em_http_global_cleanup();
    MHD_stop_daemon(daemon_);
    em_buf_free(&seen);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    pthread_mutex_lock(&lock);
    em_buf_free(&seen);
    requests = 0;
    fault_count = 0;
    pthread_mutex_unlock(&lock);
    return 0;
}

static int check_leaks(void **state)
{
    (void)state;
    assert_int_equal(fault_count, 0);       /* every fault fired */
    assert_int_equal(em_json_outstanding(), 0);
    return 0;
}

/* ---- the invoke, through the protocol loop so the objects can be seen ---- */

typedef struct run {
    pthread_mutex_t lock;
    em_buf text;                /* every line the helper wrote */
    int objects;                /* object notifications so far */
    int token_calls;
    int objects_at_token[16];   /* objects sent when each token was asked for */
    char claims[256];           /* the claims the last token was asked with */
    char stale[16];
    const char *cmdlet;
} run;

static run the_run;
static bool refuse_claims;       /* get_token fails when asked for claims */
static em_exo_window *window;    /* the connection's window, or NULL */

static int capture(void *ud, const char *line, size_t len)
{
    run *r = ud;

    pthread_mutex_lock(&r->lock);
    em_buf_append(&r->text, line, len);
    if (strstr(line, "\"method\":\"object\"") != NULL)
        r->objects++;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

/* "t1", "t2", ...: a new token each call, so renewals show in the requests. */
static int get_token(char **out, void *ud, const char *stale, const char *claims,
                     em_request *req, em_error *err)
{
    run *r = ud;

    (void)req;
    pthread_mutex_lock(&r->lock);
    if (r->token_calls < 16)
        r->objects_at_token[r->token_calls] = r->objects;
    r->token_calls++;
    snprintf(r->claims, sizeof(r->claims), "%s", claims ? claims : "-");
    snprintf(r->stale, sizeof(r->stale), "%s", stale ? stale : "-");
    *out = malloc(16);
    snprintf(*out, 16, "t%d", r->token_calls);
    pthread_mutex_unlock(&r->lock);
    if (claims != NULL && refuse_claims) {
        free(*out);
        *out = NULL;
        return em_error_set(err, EM_EGRANT, "AADSTS50076: you must use multi-factor authentication");
    }
    return EM_OK;
}

static int m_invoke(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    em_exo_call call = {0};
    em_exo_result res;
    int rc;

    (void)params;
    (void)app;
    call.connection_uri = origin;
    call.tenant = "contoso.onmicrosoft.com";
    call.connection_id = "conn-1";
    call.cmdlet = the_run.cmdlet;
    call.page_size = PER_PAGE;
    call.get_token = get_token;
    call.token_ud = &the_run;
    call.window = window;
    rc = em_exo_invoke(&res, &call, req, err);
    if (rc == EM_OK) {
        *out = malloc(64);
        snprintf(*out, 64, "{\"objects\":%ld,\"pages\":%ld}", res.objects, res.pages);
    }
    return rc;
}

static const em_rpc_method methods[] = {{"invoke", m_invoke}, {NULL, NULL}};
static const char start_line[] = "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"invoke\"}\n";
static const char ack_lines[] =
    "{\"jsonrpc\":\"2.0\",\"method\":\"ack\",\"params\":{\"id\":4,\"page\":1}}\n"
    "{\"jsonrpc\":\"2.0\",\"method\":\"ack\",\"params\":{\"id\":4,\"page\":2}}\n";

static void run_begin(em_rpc **rpc, const char *cmdlet)
{
    memset(&the_run, 0, sizeof(the_run));
    pthread_mutex_init(&the_run.lock, NULL);
    the_run.cmdlet = cmdlet;
    assert_int_equal(em_rpc_new(rpc, methods, NULL, NULL, capture, &the_run), EM_OK);
    /* Acks up front: flow control never holds a page back here. */
    em_rpc_feed(*rpc, start_line, strlen(start_line));
    em_rpc_feed(*rpc, ack_lines, strlen(ack_lines));
}

static void run_end(em_rpc **rpc)
{
    em_rpc_free(rpc);
    em_buf_free(&the_run.text);
    pthread_mutex_destroy(&the_run.lock);
}

/* Runs Get-Mailbox to the end; returns how long it took (ms). */
static long run_invoke(const char *cmdlet)
{
    em_rpc *rpc = NULL;
    long started = now_ms();

    run_begin(&rpc, cmdlet);
    em_rpc_wait_idle(rpc);
    /* the lines stay in the_run.text until the next run */
    em_rpc_free(&rpc);
    return now_ms() - started;
}

static void run_free(void)
{
    em_buf_free(&the_run.text);
    pthread_mutex_destroy(&the_run.lock);
}

/* The object values in order, "1,2,...". */
static void object_sequence(char *out, size_t size)
{
    const char *p = the_run.text.data, *hit;
    size_t n = 0;

    out[0] = '\0';
    while (p != NULL && (hit = strstr(p, "\"value\":{\"N\":")) != NULL) {
        n += (size_t)snprintf(out + n, size - n, "%s%d", n ? "," : "", atoi(hit + 13));
        p = hit + 13;
    }
}

static const char all_objects[] = "1,2,3,4,5,6,7,8,9,10,11,12";
static const char ok_result[] =
    "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"objects\":12,\"pages\":3}}\n";

static void assert_complete(void)
{
    char sequence[256];

    object_sequence(sequence, sizeof(sequence));
    assert_string_equal(sequence, all_objects);
    assert_non_null(strstr(the_run.text.data, ok_result));
}

/* The error line's message, for the failing runs. */
static const char *error_line(void)
{
    const char *line = strstr(the_run.text.data, "\"error\":");

    assert_non_null(line);
    return line;
}

static void test_429_waits_retry_after(void **state)
{
    (void)state;
    add_fault((fault){1, F_STATUS, 429, "1", "", 0});
    run_invoke("Get-Mailbox");
    assert_complete();
    assert_int_equal(requests_now(), 4);
    /* Retry-After: 1 was waited (the backoff base is only 20 ms). */
    assert_in_range(request_ms[1] - request_ms[0], 950, 1600);
    run_free();
}

static void test_503_twice(void **state)
{
    (void)state;
    add_fault((fault){2, F_STATUS, 503, NULL, "", 0});
    add_fault((fault){2, F_STATUS, 503, NULL, "", 0});
    run_invoke("Get-Mailbox");
    assert_complete();
    assert_int_equal(requests_now(), 5);
    assert_string_equal(seen.data, "page=1 auth=Bearer t1\npage=2 auth=Bearer t2\n"
                                   "page=2 auth=Bearer t3\npage=2 auth=Bearer t4\n"
                                   "page=3 auth=Bearer t5\n");
    /* Backoff about 20 then 40 ms (equal jitter: 10-20, 20-40). */
    assert_in_range(request_ms[2] - request_ms[1], 10, 500);
    run_free();
}

static void test_transient_exception_and_plain_throttle(void **state)
{
    (void)state;
    add_fault((fault){1, F_STATUS, 500, NULL,
        "{\"error\":{\"code\":\"InternalServerError\",\"message\":\"Error executing cmdlet\","
        "\"innererror\":{\"type\":\"Microsoft.Exchange.Data.Directory.ADTransientException\"}}}", 0});
    add_fault((fault){3, F_STATUS, 429, NULL, "You have reached the maximum number of concurrent "
                      "requests per tenant. Please try again later.", 0});
    run_invoke("Get-Mailbox");
    assert_complete();
    assert_int_equal(requests_now(), 5);
    run_free();
    /* Another 500 is not retried. */
    reset(state);
    add_fault((fault){1, F_STATUS, 500, NULL,
        "{\"error\":{\"code\":\"InternalServerError\",\"message\":\"boom\","
        "\"innererror\":{\"type\":\"System.NullReferenceException\"}}}", 0});
    run_invoke("Get-Mailbox");
    assert_int_equal(requests_now(), 1);
    assert_non_null(strstr(error_line(), "\"message\":\"boom\""));
    assert_non_null(strstr(error_line(), "\"name\":\"ExchangeError\""));
    run_free();
}

static void test_gives_up_after_five_retries(void **state)
{
    int i;

    (void)state;
    for (i = 0; i < 6; i++)
        add_fault((fault){2, F_STATUS, 503, NULL,
            "{\"error\":{\"code\":\"ServiceUnavailable\",\"message\":\"The service is unavailable.\"}}", 0});
    run_invoke("Get-Mailbox");
    assert_int_equal(requests_now(), 7);    /* page 1, then page 2 six times */
    assert_non_null(strstr(error_line(), "\"message\":\"The service is unavailable. "
                                         "(gave up after 6 attempts)\""));
    assert_non_null(strstr(error_line(), "\"name\":\"ExchangeError\""));
    assert_non_null(strstr(error_line(), "\"httpStatus\":503"));
    /* Page 1's objects went out; no more. */
    assert_int_equal(the_run.objects, 5);
    run_free();
    /* Throttled to the end: Throttled, with the server's retryAfter. */
    reset(state);
    for (i = 0; i < 6; i++)
        add_fault((fault){1, F_STATUS, 429, "0", "You have reached the maximum number of "
                          "concurrent requests per tenant. Please try again later.", 0});
    run_invoke("Get-Mailbox");
    assert_int_equal(requests_now(), 6);
    assert_non_null(strstr(error_line(), "\"name\":\"Throttled\""));
    assert_non_null(strstr(error_line(), "(gave up after 6 attempts)"));
    run_free();
}

static void test_reset_and_stall_mid_page_resume(void **state)
{
    (void)state;
    /* Page 1 stalls after 2 objects (timeout), page 2 resets after 3, then after 4. */
    add_fault((fault){1, F_STALL, 0, NULL, NULL, 2});
    add_fault((fault){2, F_RESET, 0, NULL, NULL, 3});
    add_fault((fault){2, F_RESET, 0, NULL, NULL, 4});
    run_invoke("Get-Mailbox");
    /* No object twice, none lost, in order. */
    assert_complete();
    assert_string_equal(seen.data, "page=1 auth=Bearer t1\npage=1 auth=Bearer t2\n"
                                   "page=2 auth=Bearer t3\npage=2 auth=Bearer t4\n"
                                   "page=2 auth=Bearer t5\npage=3 auth=Bearer t6\n");
    /* The broken attempts had really passed objects on before they failed. */
    assert_int_equal(the_run.objects_at_token[1], 2);
    assert_int_equal(the_run.objects_at_token[3], 8);
    assert_int_equal(the_run.objects_at_token[4], 9);
    assert_non_null(strstr(the_run.text.data, "\"page\":2,\"objects\":10,\"more\":true"));
    run_free();
}

/* Issue 13: a 200 page cut short cleanly (the chunked answer ends between
 * two items), and a gateway's 502, are retried for a Get-; a 502 is not
 * for a Set-. */
static void test_cut_page_and_502(void **state)
{
    int before;

    (void)state;
    add_fault((fault){2, F_CUT, 0, NULL, NULL, 3});
    add_fault((fault){3, F_STATUS, 502, NULL, "<html>Bad Gateway</html>", 0});
    run_invoke("Get-Mailbox");
    assert_complete();
    assert_string_equal(seen.data, "page=1 auth=Bearer t1\npage=2 auth=Bearer t2\n"
                                   "page=2 auth=Bearer t3\npage=3 auth=Bearer t4\n"
                                   "page=3 auth=Bearer t5\n");
    assert_int_equal(the_run.objects_at_token[2], 8);     /* the cut attempt had passed 3 on */
    run_free();
    before = requests_now();
    add_fault((fault){1, F_STATUS, 502, NULL, "", 0});
    run_invoke("Set-Mailbox");
    assert_int_equal(requests_now() - before, 1);
    assert_non_null(strstr(error_line(), "\"httpStatus\":502"));
    run_free();
}

static void test_reset_not_replayed_for_writes(void **state)
{
    (void)state;
    add_fault((fault){1, F_RESET, 0, NULL, NULL, 1});
    run_invoke("Set-Mailbox");
    assert_int_equal(requests_now(), 1);
    assert_non_null(strstr(error_line(), "\"name\":\"NetworkError\""));
    assert_non_null(strstr(error_line(), "(not retried: Set-Mailbox may have run already)"));
    run_free();
}

static void test_hang_times_out(void **state)
{
    long took;

    (void)state;
    add_fault((fault){1, F_HANG, 0, NULL, NULL, 0});
    add_fault((fault){1, F_HANG, 0, NULL, NULL, 0});
    add_fault((fault){1, F_HANG, 0, NULL, NULL, 0});
    took = run_invoke("Get-Mailbox");
    /* Three attempts (two timeout retries), each given up after about 1-2 s of silence. */
    assert_int_equal(requests_now(), 3);
    assert_in_range(took, 3 * STALL_MS - 100, 3 * HANG_MS - 500);
    assert_non_null(strstr(error_line(), "\"name\":\"Timeout\""));
    assert_non_null(strstr(error_line(), "(gave up after 3 attempts)"));
    run_free();
}

static void test_claims_challenge(void **state)
{
    (void)state;
    add_fault((fault){1, F_CLAIMS, 0, NULL, NULL, 0});
    run_invoke("Get-Mailbox");
    assert_complete();
    /* The token refused is renewed with the challenge's claims, decoded. */
    assert_string_equal(seen.data, "page=1 auth=Bearer t1\npage=1 auth=Bearer t2\n"
                                   "page=2 auth=Bearer t3\npage=3 auth=Bearer t4\n");
    run_free();
    reset(state);
    add_fault((fault){1, F_CLAIMS, 0, NULL, NULL, 0});
    add_fault((fault){1, F_CLAIMS, 0, NULL, NULL, 0});
    run_invoke("Get-Mailbox");
    /* Once only: a second challenge is an error. */
    assert_int_equal(requests_now(), 2);
    assert_string_equal(the_run.claims,
                        "{\"access_token\":{\"nbf\":{\"essential\":true,\"value\":\"1\"}}}");
    assert_string_equal(the_run.stale, "t1");
    assert_non_null(strstr(error_line(), "\"name\":\"Unauthorized\""));
    run_free();
    reset(state);
    /* The claims cannot be met without the user: the error says what to do. */
    refuse_claims = true;
    add_fault((fault){1, F_CLAIMS, 0, NULL, NULL, 0});
    run_invoke("Get-Mailbox");
    refuse_claims = false;
    assert_int_equal(requests_now(), 1);
    assert_non_null(strstr(error_line(), "Exchange asks for a new sign-in (a Conditional Access claims "
                                         "challenge): run Connect-ExchangeMfa again"));
    assert_null(strstr(error_line(), "AADSTS50076"));
    run_free();
}

static void test_cancel_during_wait(void **state)
{
    const char *cancel = "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"id\":4}}\n";
    em_rpc *rpc = NULL;
    long cancelled_at;
    int i;

    (void)state;
    add_fault((fault){1, F_STATUS, 429, "30", "", 0});
    run_begin(&rpc, "Get-Mailbox");
    for (i = 0; i < 300 && requests_now() < 1; i++)
        sleep_ms(10);
    sleep_ms(100);      /* now in the 30 s wait */
    cancelled_at = now_ms();
    em_rpc_feed(rpc, cancel, strlen(cancel));
    em_rpc_wait_idle(rpc);
    assert_in_range(now_ms() - cancelled_at, 0, 200);
    assert_int_equal(requests_now(), 1);
    assert_non_null(strstr(error_line(), "\"name\":\"Cancelled\""));
    run_end(&rpc);
}

/* The window (exchange/window.h) around each attempt: a 429 halves it, the
 * successes after it grow it back, and nothing stays taken. */
static void test_window_halves_on_429_and_grows_back(void **state)
{
    em_exo_window_state after;

    (void)state;
    assert_int_equal(em_exo_window_new(&window, 4), EM_OK);
    add_fault((fault){1, F_STATUS, 429, "0", "", 0});
    run_invoke("Get-Mailbox");
    assert_complete();
    after = em_exo_window_snapshot(window);
    /* 4 -> 2 on the 429; two successes (page 1 again, page 2) -> 3; page 3 counts one. */
    assert_int_equal(after.limit, 3);
    assert_int_equal(after.successes, 1);
    assert_int_equal(after.active, 0);
    run_free();
    em_exo_window_free(&window);
}

/* A page waiting for a place in a full window ends at once on cancel,
 * having sent nothing. */
static void test_cancel_while_waiting_for_window(void **state)
{
    const char *cancel = "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"id\":4}}\n";
    em_rpc *rpc = NULL;
    long cancelled_at;

    (void)state;
    assert_int_equal(em_exo_window_new(&window, 1), EM_OK);
    assert_int_equal(em_exo_window_enter(window, NULL), EM_OK);   /* another request holds it */
    run_begin(&rpc, "Set-Mailbox");
    sleep_ms(200);
    assert_int_equal(requests_now(), 0);
    cancelled_at = now_ms();
    em_rpc_feed(rpc, cancel, strlen(cancel));
    em_rpc_wait_idle(rpc);
    assert_in_range(now_ms() - cancelled_at, 0, 200);
    assert_int_equal(requests_now(), 0);
    assert_non_null(strstr(error_line(), "\"name\":\"Cancelled\""));
    assert_int_equal(em_exo_window_snapshot(window).active, 1);
    em_exo_window_leave(window, NULL);
    run_end(&rpc);
    em_exo_window_free(&window);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_429_waits_retry_after, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_503_twice, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_transient_exception_and_plain_throttle, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_gives_up_after_five_retries, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_reset_and_stall_mid_page_resume, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_cut_page_and_502, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_reset_not_replayed_for_writes, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_hang_times_out, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_claims_challenge, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_cancel_during_wait, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_window_halves_on_429_and_grows_back, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_cancel_while_waiting_for_window, reset, check_leaks),
    };

    return cmocka_run_group_tests(tests, server_up, server_down);
}
#else
int main(void)
{
    return 0;
}
#endif
