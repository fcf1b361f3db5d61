/* test_exo.c - the streaming page parser and the Exchange error mapping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"
#include "exchange/exo.h"
#include "util/json.h"
#include "test_util.h"

/* Items of pages/mailboxes.json as re-generated: annotations dropped,
 * escapes normalised, numbers kept verbatim. One item a line. */
static const char mailboxes_items[] =
    "{\"Name\":\"user00001\",\"DisplayName\":\"User \xc3\xa9\xf0\x9f\x98\x80 \\\"quoted\\\"\","
    "\"EmailAddresses\":[\"SMTP:user00001@contoso.onmicrosoft.com\",\"smtp:u1@contoso.com\"],"
    "\"ProhibitSendQuota\":null,\"IsMailboxEnabled\":true,\"HiddenFromAddressListsEnabled\":false,"
    "\"RecipientLimits\":500,\"Size\":12345678901234567890,\"Ratio\":-1.5e-3,"
    "\"Nested\":{\"Deep\":[{\"Key\":\"a\"},{\"Key\":\"b\"}],\"Keep\":{\"z\":[]}}}\n"
    "{\"Name\":\"user00002\",\"Notes\":\"line1\\nline2\\ttab \\\\ backslash / slash\","
    "\"Empty\":{},\"List\":[[],[1,[2,[3]]]]}\n"
    "\"scalar item\"\n"
    "{\"Name\":\"user00003\"}\n";

typedef struct collected {
    em_buf text;
    int fail_at;        /* on_object fails with EM_ENOMEM at this item (1-based), 0 never */
    int count;
} collected;

static int collect(void *ud, const char *json, size_t len)
{
    collected *c = ud;

    c->count++;
    if (c->fail_at == c->count)
        return EM_ENOMEM;
    assert_int_equal(em_buf_append(&c->text, json, len), EM_OK);
    assert_int_equal(em_buf_append(&c->text, "\n", 1), EM_OK);
    return EM_OK;
}

static int teardown_leaks(void **state)
{
    (void)state;
    assert_int_equal(em_json_outstanding(), 0);
    return 0;
}

/* Parses data in the given chunks (cuts: sorted offsets). */
static int parse_in_chunks(em_exo_page **page, collected *c, const char *data, size_t len,
                           const size_t *cuts, size_t ncuts, long max, em_error *err)
{
    size_t start = 0, i;
    int rc;

    assert_int_equal(em_exo_page_new(page, max, collect, c), EM_OK);
    for (i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;

        rc = em_exo_page_feed(*page, data + start, end - start, err);
        if (rc != EM_OK)
            return rc;
        start = end;
    }
    return em_exo_page_finish(*page, err);
}

static void test_page_whole(void **state)
{
    em_exo_page *page = NULL;
    collected c = {EM_BUF_INIT, 0, 0};
    em_error err = {0};
    size_t len;
    char *data = test_read_file("pages/mailboxes.json", &len);

    (void)state;
    assert_non_null(data);
    assert_int_equal(parse_in_chunks(&page, &c, data, len, NULL, 0, 0, &err), EM_OK);
    assert_string_equal(c.text.data, mailboxes_items);
    assert_int_equal(em_exo_page_objects(page), 4);
    assert_false(em_exo_page_full(page));
    assert_string_equal(em_exo_page_next_link(page),
                        "https://outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/"
                        "InvokeCommand?$skiptoken=abc%3D%3D");
    assert_int_equal(em_exo_page_warning_count(page), 2);
    assert_string_equal(em_exo_page_warning(page, 0), "First warning");
    assert_string_equal(em_exo_page_warning(page, 1), "Second: caf\xc3\xa9");
    assert_null(em_exo_page_warning(page, 2));
    em_exo_page_free(&page);
    assert_null(page);
    em_buf_free(&c.text);
    free(data);
}

/* The same objects whatever the chunking: cut at every byte boundary, and
 * also fed one byte at a time. */
static void test_page_every_split(void **state)
{
    size_t len, cut, i;
    char *data = test_read_file("pages/mailboxes.json", &len);

    (void)state;
    assert_non_null(data);
    for (cut = 0; cut <= len; cut++) {
        em_exo_page *page = NULL;
        collected c = {EM_BUF_INIT, 0, 0};
        em_error err = {0};

        assert_int_equal(parse_in_chunks(&page, &c, data, len, &cut, 1, 0, &err), EM_OK);
        assert_string_equal(c.text.data, mailboxes_items);
        assert_int_equal(em_exo_page_warning_count(page), 2);
        assert_non_null(em_exo_page_next_link(page));
        em_exo_page_free(&page);
        em_buf_free(&c.text);
        assert_int_equal(em_json_outstanding(), 0);
    }
    {
        em_exo_page *page = NULL;
        collected c = {EM_BUF_INIT, 0, 0};
        em_error err = {0};
        size_t *cuts = malloc(len * sizeof(*cuts));

        for (i = 0; i < len; i++)
            cuts[i] = i;
        assert_int_equal(parse_in_chunks(&page, &c, data, len, cuts, len, 0, &err), EM_OK);
        assert_string_equal(c.text.data, mailboxes_items);
        em_exo_page_free(&page);
        em_buf_free(&c.text);
        free(cuts);
    }
    free(data);
}

static void test_page_result_size_cut(void **state)
{
    em_exo_page *page = NULL;
    collected c = {EM_BUF_INIT, 0, 0};
    em_error err = {0};
    size_t len;
    char *data = test_read_file("pages/mailboxes.json", &len);
    const char *second_end;

    (void)state;
    /* Two objects wanted: the rest of the page is ignored, even if broken. */
    assert_int_equal(em_exo_page_new(&page, 2, collect, &c), EM_OK);
    assert_int_equal(em_exo_page_feed(page, data, len, &err), EM_OK);
    assert_true(em_exo_page_full(page));
    assert_int_equal(em_exo_page_feed(page, "garbage", 7, &err), EM_OK);
    assert_int_equal(em_exo_page_finish(page, &err), EM_OK);
    assert_int_equal(em_exo_page_objects(page), 2);
    second_end = strchr(mailboxes_items, '\n');
    second_end = strchr(second_end + 1, '\n') + 1;
    assert_int_equal(c.text.len, (size_t)(second_end - mailboxes_items));
    assert_memory_equal(c.text.data, mailboxes_items, c.text.len);
    em_exo_page_free(&page);
    em_buf_free(&c.text);
    free(data);
}

static void test_page_pretty_printed(void **state)
{
    em_exo_page *page = NULL;
    collected c = {EM_BUF_INIT, 0, 0};
    em_error err = {0};
    size_t len;
    char *data = test_read_file("pages/last.json", &len);

    (void)state;
    assert_int_equal(parse_in_chunks(&page, &c, data, len, NULL, 0, 0, &err), EM_OK);
    assert_string_equal(c.text.data, "{\"Name\":\"user02500\",\"Alias\":\"user02500\"}\n");
    assert_null(em_exo_page_next_link(page));
    assert_int_equal(em_exo_page_warning_count(page), 0);
    em_exo_page_free(&page);
    em_buf_free(&c.text);
    free(data);
}

/* Each malformed page fails with EM_EBADRESPONSE and a message. */
static void test_page_malformed(void **state)
{
    static const struct {
        const char *text;
        const char *message_part;
    } cases[] = {
        {"[]", "not a JSON object"},
        {"\"value\"", "not a JSON object"},
        {"{\"value\":{}}", "value is not an array"},
        {"{\"value\":\"x\"}", "value is not an array"},
        {"{\"value\":[],\"@odata.nextLink\":5}", "nextLink is not a string"},
        {"{\"@odata.context\":\"x\"}", "without a value array"},
        {"{\"value\":[{\"a\":1}", "incomplete"},
        {"{\"value\":[{\"a\":tru}]}", "not valid JSON"},
        {"{\"value\":[]} trailing", "not valid JSON"},
        {"", "incomplete"},
        {"{\"value\":[\"\xff\"]}", "not valid JSON"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        em_exo_page *page = NULL;
        collected c = {EM_BUF_INIT, 0, 0};
        em_error err = {0};
        int rc;

        rc = parse_in_chunks(&page, &c, cases[i].text, strlen(cases[i].text), NULL, 0, 0, &err);
        if (rc != EM_EBADRESPONSE)
            fail_msg("case %zu (%s): rc %d, %s", i, cases[i].text, rc, err.message);
        if (strstr(err.message, cases[i].message_part) == NULL)
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.message,
                     cases[i].message_part);
        em_exo_page_free(&page);
        em_buf_free(&c.text);
        assert_int_equal(em_json_outstanding(), 0);
    }
}

static void test_page_deep_nesting(void **state)
{
    em_exo_page *page = NULL;
    em_error err = {0};
    em_buf text = EM_BUF_INIT;
    int i;

    (void)state;
    em_buf_puts(&text, "{\"value\":[");
    for (i = 0; i < 200; i++)
        em_buf_puts(&text, "[");
    assert_int_equal(em_exo_page_new(&page, 0, NULL, NULL), EM_OK);
    assert_int_equal(em_exo_page_feed(page, text.data, text.len, &err), EM_EBADRESPONSE);
    assert_non_null(strstr(err.message, "nested too deeply"));
    em_exo_page_free(&page);
    em_buf_free(&text);
}

/* Feeds text in 16 KiB chunks (curl's usual write size); returns the error
 * code and, in *fed, how many bytes went in before it. */
static int feed_in_16k(em_exo_page *page, const char *text, size_t len, size_t *fed,
                       em_error *err)
{
    size_t off;
    int rc = EM_OK;

    for (off = 0; off < len && rc == EM_OK; off += 16384) {
        size_t n = len - off < 16384 ? len - off : 16384;

        rc = em_exo_page_feed(page, text + off, n, err);
        *fed = off + n;
    }
    return rc != EM_OK ? rc : em_exo_page_finish(page, err);
}

/* A page of prefix, a 40 MB token (a string, or a number), suffix. */
static char *page_with_huge_token(size_t *len, const char *prefix, char fill, const char *suffix)
{
    size_t huge = 40u * 1000u * 1000u, np = strlen(prefix), ns = strlen(suffix);
    char *text = malloc(np + huge + ns + 1);

    assert_non_null(text);
    memcpy(text, prefix, np);
    memset(text + np, fill, huge);
    memcpy(text + np + huge, suffix, ns + 1);
    *len = np + huge + ns;
    return text;
}

/* A token longer than an item may be is refused while it arrives (before,
 * yajl re-scanned it whole on every chunk: 20 s for 40 MB), in items, in
 * other top-level members and in dropped annotations alike. */
static void test_page_huge_token(void **state)
{
    static const struct {
        const char *prefix;
        char fill;
        const char *suffix;
    } cases[] = {
        {"{\"value\":[{\"Name\":\"", 'a', "\"}]}"},
        {"{\"@odata.context\":\"", 'a', "\",\"value\":[]}"},
        {"{\"value\":[{\"Name@odata.type\":\"", 'a', "\"}]}"},
        {"{\"value\":[{\"Size\":1", '0', "}]}"},
        {"{\"value\":[{\"Name\":\"\\", 'n', "\"}]}"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        em_exo_page *page = NULL;
        em_error err = {0};
        size_t len, fed = 0;
        char *text = page_with_huge_token(&len, cases[i].prefix, cases[i].fill, cases[i].suffix);

        assert_int_equal(em_exo_page_new(&page, 0, NULL, NULL), EM_OK);
        assert_int_equal(feed_in_16k(page, text, len, &fed, &err), EM_EBADRESPONSE);
        if (strstr(err.message, "longer than 8 MiB") == NULL)
            fail_msg("case %zu: %s", i, err.message);
        /* refused as soon as the limit was passed, not at the token's end */
        assert_true(fed <= EM_EXO_TOKEN_MAX + 2 * 16384u);
        em_exo_page_free(&page);
        free(text);
        assert_int_equal(em_json_outstanding(), 0);
    }
}

/* Many small tokens add up too: a top-level member other than value, or an
 * item skipped after the object limit, is bounded like an item. */
static void test_page_huge_member(void **state)
{
    static const char *const prefixes[] = {
        "{\"junk\":[", "{\"value\":[{\"Keep\":1},{\"Skipped\":[",
    };
    size_t i, k;

    (void)state;
    for (i = 0; i < 2; i++) {
        em_exo_page *page = NULL;
        em_error err = {0};
        em_buf text = EM_BUF_INIT;
        size_t fed = 0;

        em_buf_puts(&text, prefixes[i]);
        for (k = 0; k < 3u * 1000u * 1000u; k++)
            em_buf_puts(&text, "123456,");
        em_buf_puts(&text, "0]}]}");
        assert_int_equal(em_exo_page_new(&page, i == 1 ? 1 : 0, NULL, NULL), EM_OK);
        assert_int_equal(feed_in_16k(page, text.data, text.len, &fed, &err), EM_EBADRESPONSE);
        if (strstr(err.message, "larger than 8 MiB") == NULL)
            fail_msg("case %zu: %s", i, err.message);
        em_exo_page_free(&page);
        em_buf_free(&text);
    }
}

/* A large but allowed token still arrives whole, whatever the chunk size. */
static void test_page_large_token_split(void **state)
{
    static const size_t chunks[] = {1, 7, 4096, 16384};
    size_t big = 2u * 1024u * 1024u, i;
    em_buf text = EM_BUF_INIT;
    char *value = malloc(big + 1);

    (void)state;
    assert_non_null(value);
    memset(value, 'x', big);
    value[big] = '\0';
    em_buf_printf(&text, "{\"value\":[{\"Name\":\"%s\",\"N\":-12.5e3},true]}", value);
    for (i = 0; i < 4; i++) {
        em_exo_page *page = NULL;
        collected c = {EM_BUF_INIT, 0, 0};
        em_error err = {0};
        size_t off;
        int rc = EM_OK;

        assert_int_equal(em_exo_page_new(&page, 0, collect, &c), EM_OK);
        for (off = 0; off < text.len && rc == EM_OK; off += chunks[i])
            rc = em_exo_page_feed(page, text.data + off,
                                  text.len - off < chunks[i] ? text.len - off : chunks[i], &err);
        if (rc == EM_OK)
            rc = em_exo_page_finish(page, &err);
        assert_int_equal(rc, EM_OK);
        assert_int_equal(c.count, 2);
        assert_int_equal(c.text.len, big + strlen("{\"Name\":\"\",\"N\":-12.5e3}\ntrue\n"));
        assert_non_null(strstr(c.text.data, "\"N\":-12.5e3}\ntrue\n"));
        em_exo_page_free(&page);
        em_buf_free(&c.text);
    }
    free(value);
    em_buf_free(&text);
}

static void test_page_callback_failure(void **state)
{
    em_exo_page *page = NULL;
    collected c = {EM_BUF_INIT, 2, 0};
    em_error err = {0};
    size_t len;
    char *data = test_read_file("pages/mailboxes.json", &len);

    (void)state;
    assert_int_equal(parse_in_chunks(&page, &c, data, len, NULL, 0, 0, &err), EM_ENOMEM);
    assert_int_equal(em_exo_page_objects(page), 1);
    em_exo_page_free(&page);
    em_buf_free(&c.text);
    free(data);
}


/* Issue 10: a page as the real service writes it. The warnings follow
 * `value` and must be read even when resultSize is reached on this page;
 * both annotation styles are dropped, and the hinted members are named. */
static const char real_page[] =
    "{\"@odata.context\":\"https://x/adminapi/beta/t/$metadata#Collection(Exchange.GenericHashTable)\","
    "\"value\":[{\"Name\":\"a\",\"DatabaseGuid@odata.type\":\"#Guid\","
    "\"DatabaseGuid@data.type\":\"System.Guid\",\"DatabaseGuid\":\"3f2a4c1e-0000-4000-8000-000000000001\","
    "\"WhenCreated@data.type\":\"System.DateTime\",\"WhenCreated\":\"2022-06-29T17:57:03.0000000+00:00\","
    "\"ProhibitSendQuota\":\"99 GB (106,300,440,576 bytes)\",\"IssueWarningQuota\":\"Unlimited\","
    "\"Nested\":{\"X@data.type\":\"System.Int32\",\"X\":\"5\"},"
    "\"EmailAddresses@odata.type\":\"#Collection(String)\",\"EmailAddresses\":[\"SMTP:a@b\"]},"
    "{\"Name\":\"b\"},{\"Name\":\"c\"}],"
    "\"@odata.nextLink\":\"https://x/adminapi/beta/t/InvokeCommand?%24skiptoken=1\","
    "\"adminapi.warnings@odata.type\":\"#Collection(String)\","
    "\"@adminapi.warnings\":[\"There are more results available than are currently displayed.\"]}";

#define REAL_ITEMS \
    "{\"Name\":\"a\",\"DatabaseGuid\":\"3f2a4c1e-0000-4000-8000-000000000001\"," \
    "\"WhenCreated\":\"2022-06-29T17:57:03.0000000+00:00\"," \
    "\"ProhibitSendQuota\":\"99 GB (106,300,440,576 bytes)\",\"IssueWarningQuota\":\"Unlimited\"," \
    "\"Nested\":{\"X\":\"5\"},\"EmailAddresses\":[\"SMTP:a@b\"]} types=DatabaseGuid:Guid," \
    "WhenCreated:DateTime,ProhibitSendQuota:Size,IssueWarningQuota:Unlimited\n" \
    "{\"Name\":\"b\"} types=\n"

typedef struct typed {
    em_exo_page *page;
    em_buf text;
} typed;

static int collect_typed(void *ud, const char *json, size_t len)
{
    typed *t = ud;
    const char *types = em_exo_page_item_types(t->page);

    assert_int_equal(em_buf_append(&t->text, json, len), EM_OK);
    assert_int_equal(em_buf_printf(&t->text, " types=%s\n", types ? types : ""), EM_OK);
    return EM_OK;
}

static void test_page_real_dialect(void **state)
{
    static const long limits[] = {0, 2};
    em_error err = {0};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        typed t = {NULL, EM_BUF_INIT};

        assert_int_equal(em_exo_page_new(&t.page, limits[i], collect_typed, &t), EM_OK);
        assert_int_equal(em_exo_page_feed(t.page, real_page, strlen(real_page), &err), EM_OK);
        assert_int_equal(em_exo_page_finish(t.page, &err), EM_OK);
        assert_true(limits[i] == 0 || em_exo_page_read_enough(t.page));
        assert_string_equal(t.text.data, limits[i] == 0 ? REAL_ITEMS "{\"Name\":\"c\"} types=\n"
                                                        : REAL_ITEMS);
        assert_int_equal(em_exo_page_objects(t.page), limits[i] == 0 ? 3 : 2);
        assert_int_equal(em_exo_page_warning_count(t.page), 1);
        assert_string_equal(em_exo_page_warning(t.page, 0),
                            "There are more results available than are currently displayed.");
        assert_non_null(em_exo_page_next_link(t.page));
        em_exo_page_free(&t.page);
        em_buf_free(&t.text);
    }
}

/* ---- error mapping ---- */

static int map(long status, const char *body, const char *retry_after, em_error *err)
{
    em_http_response resp = {0};
    int rc;

    resp.status = status;
    em_buf_puts(&resp.body, body);
    if (retry_after != NULL)
        resp.retry_after = strdup(retry_after);
    rc = em_exo_map_error(&resp, err);
    em_http_response_free(&resp);
    return rc;
}

static void test_error_not_found(void **state)
{
    em_error err = {0};

    (void)state;
    assert_int_equal(map(404,
        "{\"error\":{\"code\":\"NotFound\",\"message\":\"Error executing cmdlet\","
        "\"details\":[{\"code\":\"Context\",\"target\":\"\",\"message\":\"Ex6F9304|Microsoft.Exchange."
        "Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed "
        "because object 'nobody' couldn't be found.\"}],\"innererror\":{\"message\":\"x\","
        "\"type\":\"Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException\"}}}",
        NULL, &err), EM_ENOTFOUND);
    assert_string_equal(err.message,
                        "The operation couldn't be performed because object 'nobody' couldn't be found.");
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.server_code, "NotFound");
    /* The exception type alone is enough, whatever the status. */
    em_error_clear(&err);
    assert_int_equal(map(400, "{\"error\":{\"message\":\"gone\",\"innererror\":{\"type\":"
                         "\"Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException\"}}}",
                         NULL, &err), EM_ENOTFOUND);
    assert_string_equal(err.server_code, "ManagementObjectNotFoundException");
    assert_string_equal(err.message, "gone");
}

static void test_error_statuses(void **state)
{
    em_error err = {0};

    (void)state;
    assert_int_equal(map(403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"no role\"}}", NULL, &err),
                     EM_EACCESS);
    assert_string_equal(err.message, "no role");
    em_error_clear(&err);
    assert_int_equal(map(401, "", NULL, &err), EM_EUNAUTHORIZED);
    assert_string_equal(err.message, "Exchange answered HTTP 401");
    em_error_clear(&err);
    assert_int_equal(map(429, "You have reached the maximum number of concurrent requests per tenant.\r\nmore",
                         "7", &err), EM_ETHROTTLED);
    assert_int_equal(err.retry_after, 7);
    assert_string_equal(err.message, "You have reached the maximum number of concurrent requests per tenant.");
    em_error_clear(&err);
    assert_int_equal(map(503, "You have reached the maximum number of concurrent requests per tenant.",
                         NULL, &err), EM_ETHROTTLED);
    assert_int_equal(err.http_status, 503);
    em_error_clear(&err);
    assert_int_equal(map(500, "{\"error\":{\"code\":\"InternalServerError\",\"message\":\"boom\","
                         "\"details\":[{\"message\":\"no bars here\"}]}}", NULL, &err), EM_EEXCHANGE);
    assert_string_equal(err.message, "no bars here");
    assert_string_equal(err.server_code, "InternalServerError");
    em_error_clear(&err);
    /* A redirect (S&C's regional routing) is reported, never followed. */
    assert_int_equal(map(302, "", NULL, &err), EM_EHTTP);
    assert_int_equal(err.http_status, 302);
    assert_non_null(strstr(err.message, "-ConnectionUri"));
    em_error_clear(&err);
    assert_int_equal(map(503, "{\"error\":", "Wed, 21 Oct 2015 07:28:00 GMT", &err), EM_EEXCHANGE);
    assert_int_equal(err.retry_after, 0);
    assert_string_equal(err.message, "{\"error\":");
}


/* Issue 10: real error bodies, with and without details/internalexception,
 * the exception type from wherever it is, and a 403 that is not JSON. */
static void test_error_real_bodies(void **state)
{
    em_http_response resp = {0};
    em_error err = {0};

    (void)state;
    assert_int_equal(map(400,
        "{\"error\":{\"code\":\"BadRequest\",\"message\":\"Invalid Operation\",\"innererror\":{"
        "\"message\":\"Invalid Operation\",\"type\":\"Microsoft.Exchange.Admin.OData.Core.ODataServiceException\","
        "\"internalexception\":{\"message\":\"Cannot process argument transformation on parameter 'Identity'.\","
        "\"type\":\"System.Management.Automation.CommandInvocation.ParameterTransformationException\"}},"
        "\"@adminapi.warnings\":[]}}", NULL, &err), EM_EEXCHANGE);
    assert_string_equal(err.message, "Cannot process argument transformation on parameter 'Identity'.");
    assert_string_equal(err.exception_type, "ParameterTransformationException");
    em_error_clear(&err);
    assert_int_equal(map(400,
        "{\"error\":{\"code\":\"BadRequest\",\"message\":\"Error executing cmdlet\",\"details\":[{\"code\":\"\","
        "\"message\":\"|System.Management.Automation.AmbiguousParameterSetException|Parameter set cannot be "
        "resolved.\"}]}}", NULL, &err), EM_EEXCHANGE);
    assert_string_equal(err.message, "Parameter set cannot be resolved.");
    assert_string_equal(err.exception_type, "AmbiguousParameterSetException");
    em_error_clear(&err);
    /* Only the header names the class. */
    resp.status = 400;
    em_buf_puts(&resp.body, "{\"error\":{\"code\":\"BadRequest\",\"message\":\"The identity is wrong.\"}}");
    resp.exception_type = strdup("ManagementObjectNotFoundException");
    assert_int_equal(em_exo_map_error(&resp, &err), EM_ENOTFOUND);
    assert_string_equal(err.exception_type, "ManagementObjectNotFoundException");
    em_http_response_free(&resp);
    em_error_clear(&err);
    /* A missing role: 403 with NUL bytes, or nothing. */
    resp.status = 403;
    em_buf_append(&resp.body, "\0\0\0\0", 4);
    assert_int_equal(em_exo_map_error(&resp, &err), EM_EACCESS);
    assert_non_null(strstr(err.message, "lacks the Exchange role"));
    em_http_response_free(&resp);
    em_error_clear(&err);
    assert_int_equal(map(403, "", NULL, &err), EM_EACCESS);
    assert_non_null(strstr(err.message, "lacks the Exchange role"));
}

/* ---- retry policy ---- */

static em_exo_retry_action decide(long *delay, long status, const char *body,
                                  const char *retry_after, const char *www_authenticate,
                                  int waits)
{
    em_http_response resp = {0};
    em_exo_retries done = {0};
    em_exo_retry_action action;

    resp.status = status;
    em_buf_puts(&resp.body, body);
    if (retry_after != NULL)
        resp.retry_after = strdup(retry_after);
    if (www_authenticate != NULL)
        resp.www_authenticate = strdup(www_authenticate);
    done.waits = waits;
    action = em_exo_retry_decide(delay, EM_OK, &resp, &done, true, 2000, 0);
    em_http_response_free(&resp);
    return action;
}

#define TRANSIENT(cls) "{\"error\":{\"code\":\"InternalServerError\",\"message\":\"busy\"," \
                       "\"innererror\":{\"type\":\"Microsoft.Exchange.Data.Directory." cls "\"}}}"

static void test_retry_answers(void **state)
{
    long delay = -1;

    (void)state;
    /* 429: Retry-After as is, capped at 60 s; without it the backoff. */
    assert_int_equal(decide(&delay, 429, "", "1", NULL, 0), EM_EXO_WAIT);
    assert_int_equal(delay, 1000);
    assert_int_equal(decide(&delay, 429, "", "3600", NULL, 0), EM_EXO_WAIT);
    assert_int_equal(delay, EM_EXO_WAIT_MAX_MS);
    assert_int_equal(decide(&delay, 429, "", NULL, NULL, 0), EM_EXO_WAIT);
    assert_int_equal(delay, 1000);      /* 2000 ms with jitter 0: the lower half */
    assert_int_equal(decide(&delay, 429, "", "Wed, 21 Oct 2015 07:28:00 GMT", NULL, 2), EM_EXO_WAIT);
    assert_int_equal(delay, 4000);      /* an HTTP date: backoff, 8000 ms at the third wait */
    /* The plain-text throttle, whatever the status. */
    assert_int_equal(decide(&delay, 503, "You have reached the maximum number of concurrent "
                            "requests per tenant. Please try again later.", NULL, NULL, 0),
                     EM_EXO_WAIT);
    /* 503/504 and the transient exceptions; other 5xx and 4xx fail at once. */
    assert_int_equal(decide(&delay, 503, "", NULL, NULL, 0), EM_EXO_WAIT);
    assert_int_equal(decide(&delay, 504, "", "2", NULL, 0), EM_EXO_WAIT);
    assert_int_equal(delay, 2000);
    assert_int_equal(decide(&delay, 500, TRANSIENT("DCOverloadedException"), NULL, NULL, 0), EM_EXO_WAIT);
    assert_int_equal(decide(&delay, 500, TRANSIENT("ServerInMMException"), NULL, NULL, 0), EM_EXO_WAIT);
    assert_int_equal(decide(&delay, 500, TRANSIENT("ADTransientException"), NULL, NULL, 0), EM_EXO_WAIT);
    assert_int_equal(decide(&delay, 500, "{\"error\":{\"code\":\"InternalServerError\",\"innererror\":"
                            "{\"type\":\"Microsoft.Exchange.Data.Storage.StorageTransientException\"}}}",
                            NULL, NULL, 0), EM_EXO_WAIT);
    assert_int_equal(decide(&delay, 500, TRANSIENT("NullReferenceException"), NULL, NULL, 0), EM_EXO_GIVE_UP);
    assert_int_equal(decide(&delay, 500, "", NULL, NULL, 0), EM_EXO_GIVE_UP);
    assert_int_equal(decide(&delay, 400, TRANSIENT("ADTransientException"), NULL, NULL, 0), EM_EXO_GIVE_UP);
    assert_int_equal(decide(&delay, 404, "", NULL, NULL, 0), EM_EXO_GIVE_UP);
    assert_int_equal(decide(&delay, 403, "", NULL, NULL, 0), EM_EXO_GIVE_UP);
    assert_int_equal(delay, 0);
    /* At most EM_EXO_RETRIES_MAX waits. */
    assert_int_equal(decide(&delay, 503, "", NULL, NULL, EM_EXO_RETRIES_MAX - 1), EM_EXO_WAIT);
    assert_int_equal(decide(&delay, 503, "", NULL, NULL, EM_EXO_RETRIES_MAX), EM_EXO_GIVE_UP);
    assert_int_equal(decide(&delay, 429, "", "1", NULL, EM_EXO_RETRIES_MAX), EM_EXO_GIVE_UP);
    /* 401: renew, or a token with the claims of a CAE challenge. */
    assert_int_equal(decide(&delay, 401, "", NULL, "Bearer realm=\"\"", 0), EM_EXO_RENEW);
    assert_int_equal(decide(&delay, 401, "", NULL, NULL, 0), EM_EXO_RENEW);
    assert_int_equal(decide(&delay, 401, "", NULL, "Bearer realm=\"\", error=\"insufficient_claims\", "
                            "claims=\"eyJ9\"", 0), EM_EXO_CLAIMS);
}

/* Issue 13: a gateway's 502 is retried for a cmdlet that only reads; a
 * claims challenge right after a renewal is met (one recovery per cause). */
static void test_retry_502_and_causes(void **state)
{
    static const char claims[] = "Bearer realm=\"\", error=\"insufficient_claims\", claims=\"eyJ9\"";
    em_http_response resp = {0};
    em_exo_retries done = {0};
    long delay = -1;

    (void)state;
    resp.status = 502;
    assert_int_equal(em_exo_retry_decide(&delay, EM_OK, &resp, &done, true, 2000, 0), EM_EXO_WAIT);
    assert_int_equal(delay, 1000);
    assert_int_equal(em_exo_retry_decide(&delay, EM_OK, &resp, &done, false, 2000, 0), EM_EXO_GIVE_UP);
    resp.status = 401;
    done.renewed = true;
    resp.www_authenticate = strdup(claims);
    assert_int_equal(em_exo_retry_decide(&delay, EM_OK, &resp, &done, true, 2000, 0), EM_EXO_CLAIMS);
    done.claims_met = true;
    assert_int_equal(em_exo_retry_decide(&delay, EM_OK, &resp, &done, true, 2000, 0), EM_EXO_GIVE_UP);
    done.renewed = false;
    free(resp.www_authenticate);
    resp.www_authenticate = NULL;
    assert_int_equal(em_exo_retry_decide(&delay, EM_OK, &resp, &done, true, 2000, 0), EM_EXO_RENEW);
    done.renewed = true;
    assert_int_equal(em_exo_retry_decide(&delay, EM_OK, &resp, &done, true, 2000, 0), EM_EXO_GIVE_UP);
    em_http_response_free(&resp);
}

/* A page that ends early, between tokens, says so (the invoke loop retries it). */
static void test_page_cut(void **state)
{
    static const char whole[] = "{\"value\":[{\"Name\":\"a\"},{\"Name\":\"b\"}]}";
    em_exo_page *page = NULL;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_exo_page_new(&page, 0, NULL, NULL), EM_OK);
    assert_int_equal(em_exo_page_feed(page, whole, 20, &err), EM_OK);
    assert_int_equal(em_exo_page_finish(page, &err), EM_EBADRESPONSE);
    assert_true(em_exo_page_cut(page));
    em_exo_page_free(&page);
    assert_int_equal(em_exo_page_new(&page, 0, NULL, NULL), EM_OK);
    assert_int_equal(em_exo_page_feed(page, "{\"value\":[}", 11, &err), EM_EBADRESPONSE);
    assert_false(em_exo_page_cut(page));
    em_exo_page_free(&page);
}

static void test_retry_transport_and_backoff(void **state)
{
    em_exo_retries done = {0};
    long delay = -1;
    int i;

    (void)state;
    /* Network errors and timeouts: retried for reads only. */
    assert_int_equal(em_exo_retry_decide(&delay, EM_ENETWORK, NULL, &done, true, 2000, 0), EM_EXO_WAIT);
    assert_int_equal(delay, 1000);
    assert_int_equal(em_exo_retry_decide(&delay, EM_ENETWORK, NULL, &done, false, 2000, 0), EM_EXO_GIVE_UP);
    assert_int_equal(em_exo_retry_decide(&delay, EM_ETIMEOUT, NULL, &done, true, 2000, 0), EM_EXO_WAIT);
    assert_int_equal(em_exo_retry_decide(&delay, EM_ETIMEOUT, NULL, &done, false, 2000, 0), EM_EXO_GIVE_UP);
    done.timeouts = EM_EXO_TIMEOUT_RETRIES_MAX;
    assert_int_equal(em_exo_retry_decide(&delay, EM_ETIMEOUT, NULL, &done, true, 2000, 0), EM_EXO_GIVE_UP);
    assert_int_equal(em_exo_retry_decide(&delay, EM_ENETWORK, NULL, &done, true, 2000, 0), EM_EXO_WAIT);
    done.timeouts = 0;
    assert_int_equal(em_exo_retry_decide(&delay, EM_ECANCELLED, NULL, &done, true, 2000, 0), EM_EXO_GIVE_UP);
    assert_int_equal(em_exo_retry_decide(&delay, EM_ETLS, NULL, &done, true, 2000, 0), EM_EXO_GIVE_UP);
    assert_int_equal(em_exo_retry_decide(&delay, EM_EBADRESPONSE, NULL, &done, true, 2000, 0), EM_EXO_GIVE_UP);
    assert_int_equal(em_exo_retry_decide(&delay, EM_EGRANT, NULL, &done, true, 2000, 0), EM_EXO_GIVE_UP);
    /* About 2 s doubling, equal jitter: wait n is in [d/2, d], d = 2000 * 2^n. */
    for (i = 0; i < EM_EXO_RETRIES_MAX; i++) {
        long d = 2000L << i;

        done.waits = i;
        assert_int_equal(em_exo_retry_decide(&delay, EM_ENETWORK, NULL, &done, true, 2000, 0), EM_EXO_WAIT);
        assert_int_equal(delay, d / 2);
        assert_int_equal(em_exo_retry_decide(&delay, EM_ENETWORK, NULL, &done, true, 2000,
                                             (unsigned)(d / 2)), EM_EXO_WAIT);
        assert_int_equal(delay, d);
        assert_int_equal(em_exo_retry_decide(&delay, EM_ENETWORK, NULL, &done, true, 2000,
                                             0xffffffffu), EM_EXO_WAIT);
        assert_in_range(delay, d / 2, d);
    }
    /* Each wait is capped. */
    done.waits = 4;
    assert_int_equal(em_exo_retry_decide(&delay, EM_ENETWORK, NULL, &done, true, 30000, 0xffffffffu),
                     EM_EXO_WAIT);
    assert_in_range(delay, EM_EXO_WAIT_MAX_MS / 2, EM_EXO_WAIT_MAX_MS);
    /* The default base, unless the test knob says otherwise. */
    if (getenv("EXCHANGEMFA_RETRY_BASE_MS") == NULL)
        assert_int_equal(em_exo_retry_base_ms(), 2000);
    if (getenv("EXCHANGEMFA_STALL_TIMEOUT_MS") == NULL)
        assert_int_equal(em_exo_stall_ms(), 60000);
}

static void test_valid_names(void **state)
{
    (void)state;
    assert_true(em_exo_valid_cmdlet("Get-Mailbox"));
    assert_false(em_exo_valid_cmdlet("Get-Mailbox\r\nX-Evil: 1"));
    assert_false(em_exo_valid_cmdlet(""));
    assert_true(em_exo_valid_property("PrimarySmtpAddress"));
    assert_false(em_exo_valid_property("a&b=c"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_page_whole, teardown_leaks),
        cmocka_unit_test_teardown(test_page_every_split, teardown_leaks),
        cmocka_unit_test_teardown(test_page_result_size_cut, teardown_leaks),
        cmocka_unit_test_teardown(test_page_pretty_printed, teardown_leaks),
        cmocka_unit_test_teardown(test_page_malformed, teardown_leaks),
        cmocka_unit_test_teardown(test_page_deep_nesting, teardown_leaks),
        cmocka_unit_test_teardown(test_page_huge_token, teardown_leaks),
        cmocka_unit_test_teardown(test_page_huge_member, teardown_leaks),
        cmocka_unit_test_teardown(test_page_large_token_split, teardown_leaks),
        cmocka_unit_test_teardown(test_page_callback_failure, teardown_leaks),
        cmocka_unit_test_teardown(test_page_real_dialect, teardown_leaks),
        cmocka_unit_test_teardown(test_error_real_bodies, teardown_leaks),
        cmocka_unit_test_teardown(test_error_not_found, teardown_leaks),
        cmocka_unit_test_teardown(test_error_statuses, teardown_leaks),
        cmocka_unit_test_teardown(test_retry_answers, teardown_leaks),
        cmocka_unit_test_teardown(test_retry_502_and_causes, teardown_leaks),
        cmocka_unit_test_teardown(test_page_cut, teardown_leaks),
        cmocka_unit_test(test_retry_transport_and_backoff),
        cmocka_unit_test(test_valid_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
