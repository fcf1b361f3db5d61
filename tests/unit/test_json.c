/* test_json.c - the counted allocator, the bounded tree parser, generators. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/json.h"

static int teardown_leaks(void **state)
{
    (void)state;
    assert_int_equal(em_json_outstanding(), 0);
    return 0;
}

static void test_parse_tree(void **state)
{
    /* "e" is a character beyond the BMP as a surrogate pair, the form the
     * module's request writer (System.Text.Json) uses. */
    const char text[] = "{\"s\":\"caf\\u00e9\",\"e\":\"\\uD83D\\uDE42\",\"i\":-42,\"big\":123456789012345678901234,"
                        "\"d\":2.5e3,\"t\":true,\"f\":false,\"n\":null,\"a\":[1,[2],{}],\"o\":{\"k\":\"v\"}}";
    yajl_val v = NULL;
    em_error err = {0};
    long long i = 0;

    (void)state;
    assert_int_equal(em_json_parse(&v, text, strlen(text), &err), EM_OK);
    assert_true(em_json_outstanding() > 0);
    assert_string_equal(em_json_get_string(v, "s"), "caf\xc3\xa9");
    assert_string_equal(em_json_get_string(v, "e"), "\xf0\x9f\x99\x82");
    assert_true(em_json_get_int(&i, v, "i"));
    assert_int_equal(i, -42);
    assert_false(em_json_get_int(&i, v, "big"));    /* too big for an integer */
    assert_string_equal(em_json_get(v, "big")->u.number.r, "123456789012345678901234");
    assert_false(em_json_get_int(&i, v, "d"));
    assert_true(YAJL_IS_DOUBLE(em_json_get(v, "d")));
    assert_true(YAJL_IS_TRUE(em_json_get(v, "t")));
    assert_true(YAJL_IS_FALSE(em_json_get(v, "f")));
    assert_true(YAJL_IS_NULL(em_json_get(v, "n")));
    assert_int_equal(em_json_get(v, "a")->u.array.len, 3);
    assert_string_equal(em_json_get_string(em_json_get(v, "o"), "k"), "v");
    assert_null(em_json_get(v, "missing"));
    assert_null(em_json_get_string(v, "i"));
    assert_null(em_json_get(em_json_get(v, "a"), "x"));    /* not an object */
    /* yajl_tree_get works on our trees. */
    {
        const char *path[] = {"o", "k", NULL};

        assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, path, yajl_t_string)), "v");
    }
    em_json_free(&v);
    assert_null(v);
    em_json_free(&v);
}

static void test_parse_errors(void **state)
{
    static const char *bad[] = {"", "{", "{\"a\":}", "[1,]", "nul", "{} {}", "\"\xff\"", "{\"a\":1}x"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        yajl_val v = NULL;
        em_error err = {0};

        assert_int_equal(em_json_parse(&v, bad[i], strlen(bad[i]), &err), EM_EPARSE);
        assert_null(v);
        assert_non_null(strstr(err.message, "invalid JSON"));
        assert_null(strchr(err.message, '\n'));
        assert_int_equal(em_json_outstanding(), 0);
    }
}

/* A NUL inside a string or a key would cut it short as a C string. */
static void test_nul_in_string(void **state)
{
    static const char *bad[] = {
        "{\"Identity\":\"user00001\\u0000-not-this-one\"}",
        "{\"Identity\\u0000Junk\":\"user00001\"}",
        "[\"\\u0000\"]",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        yajl_val v = NULL;
        em_error err = {0};

        assert_int_equal(em_json_parse(&v, bad[i], strlen(bad[i]), &err), EM_EPARSE);
        assert_null(v);
        assert_non_null(strstr(err.message, "NUL character"));
        assert_int_equal(em_json_outstanding(), 0);
    }
}

static void test_depth_limit(void **state)
{
    em_buf text = EM_BUF_INIT;
    yajl_val v = NULL;
    em_error err = {0};
    int i;

    (void)state;
    for (i = 0; i < EM_JSON_MAX_DEPTH; i++)
        em_buf_puts(&text, "[");
    for (i = 0; i < EM_JSON_MAX_DEPTH; i++)
        em_buf_puts(&text, "]");
    assert_int_equal(em_json_parse(&v, text.data, text.len, &err), EM_OK);
    em_json_free(&v);
    em_buf_free(&text);
    for (i = 0; i < 100000; i++)
        em_buf_puts(&text, "{\"a\":[");
    assert_int_equal(em_json_parse(&v, text.data, text.len, &err), EM_EPARSE);
    assert_non_null(strstr(err.message, "nested deeper"));
    assert_null(v);
    em_buf_free(&text);
}

static void test_generate(void **state)
{
    const char text[] = "{\"k\":[1,2.50,\"x\",true,false,null,{}],\"e\":\"\\u00e9\\n\"}";
    yajl_val v = NULL;
    yajl_gen g = em_json_gen_new();
    char *out = NULL;

    (void)state;
    assert_int_equal(em_json_parse(&v, text, strlen(text), NULL), EM_OK);
    assert_int_equal(yajl_gen_map_open(g), yajl_gen_status_ok);
    assert_int_equal(em_json_gen_kv_str(g, "s", "v"), yajl_gen_status_ok);
    assert_int_equal(em_json_gen_kv_int(g, "i", -3), yajl_gen_status_ok);
    assert_int_equal(em_json_gen_kv_bool(g, "b", true), yajl_gen_status_ok);
    assert_int_equal(em_json_gen_str(g, "copy"), yajl_gen_status_ok);
    assert_int_equal(em_json_gen_value(g, v), yajl_gen_status_ok);
    assert_int_equal(yajl_gen_map_close(g), yajl_gen_status_ok);
    assert_int_equal(em_json_gen_dup(&out, g), EM_OK);
    assert_string_equal(out, "{\"s\":\"v\",\"i\":-3,\"b\":true,\"copy\":{\"k\":[1,2.50,\"x\",true,"
                             "false,null,{}],\"e\":\"\xc3\xa9\\n\"}}");
    free(out);
    /* Invalid UTF-8 is refused by the generator. */
    yajl_gen_clear(g);
    yajl_gen_reset(g, NULL);
    assert_int_not_equal(em_json_gen_str(g, "\xc3("), yajl_gen_status_ok);
    yajl_gen_free(g);
    em_json_free(&v);
}

static void test_utf8_fix(void **state)
{
    char s1[] = "ok caf\xc3\xa9";
    char s2[] = "cut \xc3";
    char s3[] = "bad \xff\xfe end \xf0\x9f\x98\x80";
    char s4[] = "\xc0\xaf";

    (void)state;
    em_json_utf8_fix(s1);
    assert_string_equal(s1, "ok caf\xc3\xa9");
    em_json_utf8_fix(s2);
    assert_string_equal(s2, "cut ?");
    em_json_utf8_fix(s3);
    assert_string_equal(s3, "bad ?? end \xf0\x9f\x98\x80");
    em_json_utf8_fix(s4);
    assert_string_equal(s4, "??");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_parse_tree, teardown_leaks),
        cmocka_unit_test_teardown(test_parse_errors, teardown_leaks),
        cmocka_unit_test_teardown(test_nul_in_string, teardown_leaks),
        cmocka_unit_test_teardown(test_depth_limit, teardown_leaks),
        cmocka_unit_test_teardown(test_generate, teardown_leaks),
        cmocka_unit_test(test_utf8_fix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
