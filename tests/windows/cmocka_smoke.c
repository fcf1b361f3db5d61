/* cmocka_smoke.c - the cross-built cmocka links and runs under Wine, as the
 * helper's unit tests will (tests/windows/smoke.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_strings_compare(void **state)
{
    (void)state;
    assert_string_equal("exchange", "exchange");
    assert_int_equal(strlen("mfa"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_strings_compare)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
