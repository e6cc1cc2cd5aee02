/* Unit tests for src/common: buffers, error formatting, allocation helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/common.h"

static void test_buf_grows_and_stays_terminated(void **state)
{
    struct buf b = BUF_INIT;
    int i;

    (void)state;
    for (i = 0; i < 1000; i++)
        buf_addch(&b, (char)('a' + i % 26));
    assert_int_equal(b.len, 1000);
    assert_int_equal(b.data[1000], '\0');
    assert_int_equal(b.data[27], 'b');
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    buf_addf(&b, "%s-%d", "x", 42);
    assert_string_equal(b.data, "x-42");
    buf_release(&b);
    assert_null(b.data);
}

static void test_buf_addf_long(void **state)
{
    struct buf b = BUF_INIT;
    char big[500];

    (void)state;
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    buf_addstr(&b, "<");
    buf_addf(&b, "%s>", big);
    assert_int_equal(b.len, 501);
    assert_int_equal(b.data[500], '>');
    buf_release_wipe(&b);
}

static void test_buf_binary_and_detach(void **state)
{
    struct buf b = BUF_INIT;
    size_t len;
    char *p;

    (void)state;
    buf_add(&b, "a\0b", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 3);
    p = buf_detach(&b, &len);
    assert_int_equal(len, 3);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(p);
    p = buf_detach(&b, &len); /* an empty buffer detaches as "" */
    assert_int_equal(len, 0);
    assert_string_equal(p, "");
    free(p);
}

static void test_errf_first_error_wins(void **state)
{
    char *err = NULL;

    (void)state;
    assert_int_equal(cu_errf(&err, CU_ERR_INVALID, "first %d", 1), CU_ERR_INVALID);
    assert_int_equal(cu_errf(&err, CU_ERR_IO, "second"), CU_ERR_IO);
    assert_string_equal(err, "first 1");
    cu_errprefix(&err, "file '%s'", "x.csv");
    assert_string_equal(err, "file 'x.csv': first 1");
    free(err);
    /* A NULL errmsg is allowed and still returns the code. */
    assert_int_equal(cu_errf(NULL, CU_ERR_STORE, "ignored"), CU_ERR_STORE);
}

static void test_err_names_are_stable(void **state)
{
    (void)state;
    assert_string_equal(cu_err_name(CU_OK), "ok");
    assert_string_equal(cu_err_name(CU_ERR_INTEGRITY), "integrity");
    assert_string_equal(cu_err_name(CU_ERR_NOT_FOUND), "not-found");
    assert_string_equal(cu_err_name(9999), "internal");
}

static void test_strings(void **state)
{
    char *s;

    (void)state;
    s = xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = xasprintf("%05d", 42);
    assert_string_equal(s, "00042");
    cu_wipe(s, 5);
    assert_memory_equal(s, "\0\0\0\0\0", 5);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_stays_terminated),
        cmocka_unit_test(test_buf_addf_long),
        cmocka_unit_test(test_buf_binary_and_detach),
        cmocka_unit_test(test_errf_first_error_wins),
        cmocka_unit_test(test_err_names_are_stable),
        cmocka_unit_test(test_strings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
