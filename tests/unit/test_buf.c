/* test_buf.c - the growable buffer, error helpers and GUIDs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/guid.h"

static void test_append_and_grow(void **state)
{
    em_buf b = EM_BUF_INIT;
    size_t i;

    (void)state;
    assert_null(b.data);
    for (i = 0; i < 1000; i++)
        assert_int_equal(em_buf_append(&b, "abc", 3), EM_OK);
    assert_int_equal(b.len, 3000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data + 2997, "abc", 3);
    assert_int_equal(em_buf_append(&b, NULL, 0), EM_OK);
    assert_int_equal(b.len, 3000);
    em_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    /* Reusable after free. */
    assert_int_equal(em_buf_puts(&b, "x"), EM_OK);
    assert_string_equal(b.data, "x");
    em_buf_free(&b);
}

static void test_printf(void **state)
{
    em_buf b = EM_BUF_INIT;
    char big[300];

    (void)state;
    assert_int_equal(em_buf_printf(&b, "%s=%d", "n", 42), EM_OK);
    assert_int_equal(em_buf_printf(&b, ";%ld", -7L), EM_OK);
    assert_string_equal(b.data, "n=42;-7");
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(em_buf_printf(&b, "%s", big), EM_OK);
    assert_int_equal(b.len, 7 + 299);
    em_buf_free(&b);
}

static void test_detach(void **state)
{
    em_buf b = EM_BUF_INIT;
    char *s;

    (void)state;
    s = em_buf_detach(&b);
    assert_string_equal(s, "");
    free(s);
    em_buf_puts(&b, "hello");
    s = em_buf_detach(&b);
    assert_string_equal(s, "hello");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    em_free_secret(&s);
    assert_null(s);
    em_free_secret(&s);     /* NULL is fine */
    em_free_secret(NULL);
}

static void test_error_helpers(void **state)
{
    em_error err = {0};

    (void)state;
    assert_int_equal(em_error_set(&err, EM_ENOCONN, "no %s", "connection"), EM_ENOCONN);
    assert_int_equal(err.code, EM_ENOCONN);
    assert_string_equal(err.message, "no connection");
    assert_int_equal(em_error_set(NULL, EM_EINVAL, "x"), EM_EINVAL);
    err.http_status = 404;
    em_error_clear(&err);
    assert_int_equal(err.code, EM_OK);
    assert_int_equal(err.http_status, 0);
    assert_string_equal(err.message, "");
    assert_string_equal(em_code_name(EM_EDECLINED), "AuthorizationDeclined");
    assert_string_equal(em_code_name(EM_ENOTFOUND), "NotFound");
    assert_string_equal(em_code_name(EM_ENOMEM), "OutOfMemory");
    assert_string_equal(em_code_name(EM__LAST), "Internal");
    assert_string_equal(em_code_name((em_code)5), "Internal");
}

static void test_guid(void **state)
{
    char a[EM_GUID_LEN + 1], b[EM_GUID_LEN + 1];
    int i;

    (void)state;
    assert_int_equal(em_guid_new(a), EM_OK);
    assert_int_equal(em_guid_new(b), EM_OK);
    assert_int_equal(strlen(a), EM_GUID_LEN);
    assert_string_not_equal(a, b);
    for (i = 0; i < EM_GUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(a[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", a[i]));
    }
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_grow),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_error_helpers),
        cmocka_unit_test(test_guid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
