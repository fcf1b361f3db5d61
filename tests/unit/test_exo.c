/* test_exo.c - the streaming page parser and the Exchange error mapping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "exo.h"
#include "json.h"
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
    assert_int_equal(map(500, "{\"error\":{\"code\":\"InternalServerError\",\"message\":\"boom\","
                         "\"details\":[{\"message\":\"no bars here\"}]}}", NULL, &err), EM_EEXCHANGE);
    assert_string_equal(err.message, "no bars here");
    assert_string_equal(err.server_code, "InternalServerError");
    em_error_clear(&err);
    assert_int_equal(map(503, "{\"error\":", "Wed, 21 Oct 2015 07:28:00 GMT", &err), EM_EEXCHANGE);
    assert_int_equal(err.retry_after, 0);
    assert_string_equal(err.message, "{\"error\":");
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
        cmocka_unit_test_teardown(test_page_callback_failure, teardown_leaks),
        cmocka_unit_test_teardown(test_error_not_found, teardown_leaks),
        cmocka_unit_test_teardown(test_error_statuses, teardown_leaks),
        cmocka_unit_test(test_valid_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
