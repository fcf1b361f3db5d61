/* test_exo_invoke.c - the InvokeCommand loop against a local fake Exchange
 * (libmicrohttpd on 127.0.0.1, plain HTTP): paging through nextLink, the
 * headers and body sent, the Prefer page size, the 401 renew-and-retry,
 * the resultSize cut, a foreign nextLink, and error mapping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static struct MHD_Daemon *daemon_;
static char origin[64];

/* What the fake saw, one line per request. */
static em_buf seen;
/* The $select query argument of each request ("-" when none), ";"-ended;
 * first_uri: the first request's URI as sent (query undecoded). */
static em_buf selects;
static char first_uri[256];

static void *log_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    if (first_uri[0] == '\0')
        snprintf(first_uri, sizeof first_uri, "%s", uri);
    return NULL;
}
static int requests;
static bool foreign_link;       /* page 1 links to another host */

static const char *header(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

    return v ? v : "-";
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    static int marker;
    static char body[256];
    struct MHD_Response *r;
    enum MHD_Result ret;
    const char *skip = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "skip");
    const char *auth = header(c, "Authorization");
    unsigned int status = 200;
    em_buf page = EM_BUF_INIT;
    int from, n, i;

    (void)cls;
    (void)version;
    if (*con_cls == NULL) {
        *con_cls = &marker;
        body[0] = '\0';
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t have = strlen(body), take = *upload_size;

        if (have + take >= sizeof(body))
            take = sizeof(body) - have - 1;
        memcpy(body + have, upload, take);
        body[have + take] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    requests++;
    em_buf_printf(&selects, "%s;", MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "$select")
                                       ? MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "$select")
                                       : "-");
    em_buf_printf(&seen, "%s %s skip=%s auth=%s prefer=%s cmdlet=%s anchor=%s conn=%s body=%s\n",
                  method, url, skip ? skip : "-", auth, header(c, "Prefer"),
                  header(c, "X-CmdletName"), header(c, "X-AnchorMailbox"),
                  header(c, "connection-id"), body);
    if (strcmp(header(c, "X-CmdletName"), "Remove-Thing") == 0) {
        status = 204;
        em_buf_puts(&page, "");
    } else if (strcmp(header(c, "X-CmdletName"), "Get-NoRole") == 0) {
        status = 403;       /* a missing role, as the service reports it: not JSON */
        em_buf_append(&page, "\0\0\0\0", 4);
    } else if (strcmp(header(c, "X-CmdletName"), "Get-Expired") == 0 && skip != NULL) {
        status = 400;
        em_buf_puts(&page, "{\"error\":{\"code\":\"BadRequest\",\"message\":\"Invalid Operation\",\"details\":"
                           "[{\"message\":\"|Microsoft.Exchange.Admin.OData.Core.ODataBadRequestException|Expired or "
                           "Invalid pagination request. Default Expiry time is 00:30:00\"}]}}");
    } else if (strcmp(auth, "Bearer old") == 0) {
        status = 401;
        em_buf_puts(&page, "");
    } else if (strstr(body, "Nobody") != NULL) {
        status = 404;
        em_buf_puts(&page, "{\"error\":{\"code\":\"NotFound\",\"message\":\"x\",\"details\":[{\"message\":"
                           "\"1|Microsoft.Exchange.ManagementObjectNotFoundException|No such object.\"}]}}");
    } else {
        /* 5 objects per page, 12 in all; a warning on the first page. */
        from = skip ? atoi(skip) : 0;
        n = from + 5 > 12 ? 12 - from : 5;
        em_buf_puts(&page, from == 0 ? "{\"@adminapi.warnings\":[\"careful\"],\"value\":["
                                     : "{\"value\":[");
        for (i = 0; i < n; i++)
            em_buf_printf(&page, "%s{\"@odata.type\":\"#T\",\"N\":%d}", i ? "," : "", from + i + 1);
        em_buf_puts(&page, "]");
        if (from + n < 12)
            em_buf_printf(&page, ",\"@odata.nextLink\":\"%s/adminapi/beta/t/InvokeCommand?skip=%d\"",
                          foreign_link ? "https://evil.example" : origin, from + n);
        em_buf_puts(&page, "}");
    }
    r = MHD_create_response_from_buffer(page.len, page.data ? page.data : "",
                                        MHD_RESPMEM_MUST_COPY);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    em_buf_free(&page);
    return ret;
}

static int server_up(void **state)
{
    em_error err = {0};

    (void)state;
    daemon_ = fake_listen_logged(origin, sizeof(origin), MHD_USE_INTERNAL_POLLING_THREAD, handler, NULL,
                                 NULL, log_uri);
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
    em_buf_free(&selects);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    em_buf_free(&seen);
    em_buf_free(&selects);
    first_uri[0] = '\0';
    requests = 0;
    foreign_link = false;
    return 0;
}

static int check_leaks(void **state)
{
    (void)state;
    assert_int_equal(em_json_outstanding(), 0);
    return 0;
}

/* Hands out "old" first; after a 401 on "old", "new". */
typedef struct tokens {
    int calls;
    int renewals;
    bool start_old;
} tokens;

static int get_token(char **out, void *ud, const char *stale, const char *claims,
                     em_request *req, em_error *err)
{
    tokens *t = ud;

    (void)claims;
    (void)req;
    (void)err;
    t->calls++;
    if (stale != NULL) {
        assert_string_equal(stale, "old");
        t->renewals++;
        t->start_old = false;
    }
    *out = strdup(t->start_old ? "old" : "new");
    return EM_OK;
}

/* Always "old": the server keeps refusing it. */
static int get_stuck_token(char **out, void *ud, const char *stale, const char *claims,
                           em_request *req, em_error *err)
{
    tokens *t = ud;

    (void)claims;
    (void)req;
    (void)err;
    if (stale != NULL)
        t->renewals++;
    *out = strdup("old");
    return EM_OK;
}

static em_exo_call make_call(tokens *t, yajl_val params)
{
    em_exo_call call = {0};

    call.connection_uri = origin;
    call.tenant = "contoso.onmicrosoft.com";
    call.connection_id = "conn-1";
    call.anchor_mailbox = "admin@contoso.onmicrosoft.com";
    call.cmdlet = "Get-Mailbox";
    call.parameters = params;
    call.page_size = 5;
    call.get_token = get_token;
    call.token_ud = t;
    return call;
}

static void test_all_pages(void **state)
{
    tokens t = {0, 0, true};
    yajl_val params = NULL;
    em_exo_call call;
    em_exo_result res;
    em_error err = {0};
    char expected[4096];
    const char *line1_tail;

    (void)state;
    assert_int_equal(em_json_parse(&params, "{\"ResultSize\":\"Unlimited\"}", 26, NULL), EM_OK);
    call = make_call(&t, params);
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_OK);
    assert_int_equal(res.objects, 12);
    assert_int_equal(res.pages, 3);
    /* One 401 on the first page, one renewal, then the same page again. */
    assert_int_equal(t.renewals, 1);
    assert_int_equal(requests, 4);
    line1_tail = " prefer=odata.maxpagesize=5 cmdlet=Get-Mailbox anchor=UPN:admin@contoso.onmicrosoft.com "
                 "conn=conn-1 body={\"CmdletInput\":{\"CmdletName\":\"Get-Mailbox\","
                 "\"Parameters\":{\"ResultSize\":\"Unlimited\"}}}\n";
    snprintf(expected, sizeof(expected),
             "POST /adminapi/beta/contoso.onmicrosoft.com/InvokeCommand skip=- auth=Bearer old%s"
             "POST /adminapi/beta/contoso.onmicrosoft.com/InvokeCommand skip=- auth=Bearer new%s"
             "POST /adminapi/beta/t/InvokeCommand skip=5 auth=Bearer new%s"
             "POST /adminapi/beta/t/InvokeCommand skip=10 auth=Bearer new%s",
             line1_tail, line1_tail, line1_tail, line1_tail);
    assert_string_equal(seen.data, expected);
    em_json_free(&params);
}

static void test_result_size(void **state)
{
    tokens t = {0, 0, false};
    em_exo_call call = make_call(&t, NULL);
    em_exo_result res;
    em_error err = {0};

    (void)state;
    call.result_size = 7;
    call.select = NULL;
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_OK);
    assert_int_equal(res.objects, 7);
    assert_int_equal(res.pages, 2);
    /* The second page asks for just the 2 still wanted; no body parameters. */
    assert_non_null(strstr(seen.data, "skip=5 auth=Bearer new prefer=odata.maxpagesize=2 "));
    assert_non_null(strstr(seen.data, "\"Parameters\":{}"));
    assert_int_equal(requests, 2);
}

static void test_select_and_cut_mid_page(void **state)
{
    tokens t = {0, 0, false};
    yajl_val select = NULL;
    em_exo_call call = make_call(&t, NULL);
    em_exo_result res;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_json_parse(&select, "[\"Name\",\"Alias\"]", 16, NULL), EM_OK);
    call.select = select;
    call.page_size = 1000;
    call.result_size = 3;   /* the fake ignores Prefer: the cut happens mid-page */
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_OK);
    assert_int_equal(res.objects, 3);
    assert_int_equal(res.pages, 1);
    assert_non_null(strstr(seen.data, "POST /adminapi/beta/contoso.onmicrosoft.com/InvokeCommand skip=-"));
    em_json_free(&select);
    /* A select name that does not belong in a URL. */
    assert_int_equal(em_json_parse(&select, "[\"a&b\"]", 7, NULL), EM_OK);
    call.select = select;
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_EINVAL);
    em_json_free(&select);
}

/* $select goes on the first page's URL only, "$" percent-encoded; the
 * nextLink is followed as the service wrote it. */
static void test_select_first_page_only(void **state)
{
    tokens t = {0, 0, false};
    const char *names = "[\"Name\",\"Alias\",\"ExternalDirectoryObjectId\"]";
    yajl_val select = NULL;
    em_exo_call call = make_call(&t, NULL);
    em_exo_result res;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_json_parse(&select, names, strlen(names), NULL), EM_OK);
    call.select = select;
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_OK);
    em_json_free(&select);
    assert_int_equal(res.objects, 12);
    assert_int_equal(res.pages, 3);
    assert_string_equal(selects.data, "Name,Alias,ExternalDirectoryObjectId;-;-;");
    assert_string_equal(first_uri, "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
                                   "?%24select=Name,Alias,ExternalDirectoryObjectId");
}

static void test_foreign_next_link(void **state)
{
    tokens t = {0, 0, false};
    em_exo_call call = make_call(&t, NULL);
    em_exo_result res;
    em_error err = {0};

    (void)state;
    foreign_link = true;
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_EBADRESPONSE);
    assert_non_null(strstr(err.message, "another host"));
    assert_int_equal(requests, 1);
}

static void test_not_found_and_unauthorized(void **state)
{
    tokens t = {0, 0, false};
    yajl_val params = NULL;
    em_exo_call call;
    em_exo_result res;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_json_parse(&params, "{\"Identity\":\"Nobody\"}", 21, NULL), EM_OK);
    call = make_call(&t, params);
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_ENOTFOUND);
    assert_string_equal(err.message, "No such object.");
    assert_int_equal(err.http_status, 404);
    em_json_free(&params);
    /* A token that stays refused: one renewal, then Unauthorized. */
    em_error_clear(&err);
    call = make_call(&t, NULL);
    call.get_token = get_stuck_token;
    call.token_ud = &t;
    t.renewals = 0;
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_EUNAUTHORIZED);
    assert_int_equal(t.renewals, 1);
    assert_int_equal(err.http_status, 401);
    assert_non_null(strstr(err.message, "even after a renewal"));
}

/* Issue 10: a non-JSON 403 names the cmdlet; an expired page link says
 * what was delivered. */
static void test_no_role_and_expired_link(void **state)
{
    tokens t = {0, 0, false};
    em_exo_call call = make_call(&t, NULL);
    em_exo_result res;
    em_error err = {0};

    (void)state;
    call.cmdlet = "Get-NoRole";
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_EACCESS);
    assert_non_null(strstr(err.message, "lacks the Exchange role (RBAC) needed to run Get-NoRole"));
    em_error_clear(&err);
    call.cmdlet = "Get-Expired";
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_EEXCHANGE);
    assert_non_null(strstr(err.message, "no longer accepts the link to page 2"));
    assert_non_null(strstr(err.message, "the 5 objects already delivered stand"));
    assert_string_equal(err.server_code, "PaginationExpired");
}

/* A SecureString the module marked leaves encrypted: never its text. */
static void test_secure_parameter(void **state)
{
    static const char json[] = "{\"Password\":{\"@exchangemfa.secureString\":\"Hunter2-secret\"}}";
    tokens t = {0, 0, false};
    yajl_val params = NULL;
    em_exo_call call;
    em_exo_result res;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_json_parse(&params, json, strlen(json), NULL), EM_OK);
    call = make_call(&t, params);
    call.result_size = 1;
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_OK);
    assert_null(strstr(seen.data, "Hunter2"));
    assert_null(strstr(seen.data, "exchangemfa"));
    assert_non_null(strstr(seen.data, "\"Parameters\":{\"Password\":\""));
    /* A key that cannot be read: nothing is sent. */
    setenv("EXCHANGEMFA_EXO_PUBLIC_KEY", "/nonexistent/key.pem", 1);
    requests = 0;
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_ECONFIG);
    assert_int_equal(requests, 0);
    unsetenv("EXCHANGEMFA_EXO_PUBLIC_KEY");
    em_json_free(&params);
}

static void test_no_content(void **state)
{
    tokens t = {0, 0, false};
    em_exo_call call = make_call(&t, NULL);
    em_exo_result res;
    em_error err = {0};

    (void)state;
    call.cmdlet = "Remove-Thing";
    assert_int_equal(em_exo_invoke(&res, &call, NULL, &err), EM_OK);
    assert_int_equal(res.objects, 0);
    assert_int_equal(res.pages, 1);
}

/* ---- through the protocol loop: notifications and ack flow control ---- */

typedef struct lines {
    pthread_mutex_t lock;
    em_buf text;
    int pages;
} lines;

static int capture(void *ud, const char *line, size_t len)
{
    lines *l = ud;

    pthread_mutex_lock(&l->lock);
    em_buf_append(&l->text, line, len);
    if (strstr(line, "\"method\":\"page\"") != NULL)
        l->pages++;
    pthread_mutex_unlock(&l->lock);
    return 0;
}

static int m_invoke(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    tokens t = {0, 0, false};
    em_exo_call call = make_call(&t, NULL);
    em_exo_result res;
    int rc;

    (void)params;
    (void)app;
    rc = em_exo_invoke(&res, &call, req, err);
    if (rc == EM_OK)
        *out = strdup("{\"done\":true}");
    return rc;
}

static int pages_seen(lines *l)
{
    int n;

    pthread_mutex_lock(&l->lock);
    n = l->pages;
    pthread_mutex_unlock(&l->lock);
    return n;
}

static void test_notifications_and_acks(void **state)
{
    static const em_rpc_method methods[] = {{"invoke", m_invoke}, {NULL, NULL}};
    const char *start = "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"invoke\"}\n";
    const char *ack1 = "{\"jsonrpc\":\"2.0\",\"method\":\"ack\",\"params\":{\"id\":4,\"page\":1}}\n";
    lines l;
    em_rpc *rpc = NULL;
    int i;

    (void)state;
    memset(&l, 0, sizeof(l));
    pthread_mutex_init(&l.lock, NULL);
    assert_int_equal(em_rpc_new(&rpc, methods, NULL, NULL, capture, &l), EM_OK);
    em_rpc_feed(rpc, start, strlen(start));
    for (i = 0; i < 300 && pages_seen(&l) < 2; i++)
        em_request_sleep(NULL, 10);
    em_request_sleep(NULL, 200);
    /* Pages 1 and 2 arrived; page 3 waits for the ack of page 1. */
    assert_int_equal(pages_seen(&l), 2);
    assert_int_equal(requests, 2);
    em_rpc_feed(rpc, ack1, strlen(ack1));
    em_rpc_wait_idle(rpc);
    assert_int_equal(pages_seen(&l), 3);
    assert_string_equal(l.text.data,
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":1}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":2}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":3}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":4}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":5}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"warning\",\"params\":{\"requestId\":4,\"message\":\"careful\"}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"page\",\"params\":{\"requestId\":4,\"page\":1,\"objects\":5,\"more\":true}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":6}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":7}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":8}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":9}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":10}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"page\",\"params\":{\"requestId\":4,\"page\":2,\"objects\":10,\"more\":true}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":11}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":4,\"value\":{\"N\":12}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"page\",\"params\":{\"requestId\":4,\"page\":3,\"objects\":12,\"more\":false}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"done\":true}}\n");
    em_rpc_free(&rpc);
    em_buf_free(&l.text);
    pthread_mutex_destroy(&l.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_content, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_notifications_and_acks, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_all_pages, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_result_size, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_select_and_cut_mid_page, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_select_first_page_only, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_foreign_next_link, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_not_found_and_unauthorized, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_no_role_and_expired_link, reset, check_leaks),
        cmocka_unit_test_setup_teardown(test_secure_parameter, reset, check_leaks),
    };

    return cmocka_run_group_tests(tests, server_up, server_down);
}
#else
int main(void)
{
    return 0;
}
#endif
