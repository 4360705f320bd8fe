/*
 * test_money.c - unit tests for lib/money.c: exact decimal parsing and
 * formatting of minor units, and overflow-checked arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mbr.h"
#include "banned.h"

struct good {
	const char *text;
	int exp;
	int64_t want;
};

static void test_parse_good(void **state)
{
	static const struct good cases[] = {
		{ "12.30", 2, 1230 },
		{ "12.3", 2, 1230 },
		{ "12", 2, 1200 },
		{ ".5", 2, 50 },
		{ "5.", 2, 500 },
		{ "-0.50", 2, -50 },
		{ "+3", 2, 300 },
		{ "  7.05\t", 2, 705 },
		{ "\t-1 ", 2, -100 },
		{ "0", 2, 0 },
		{ "-0", 2, 0 },
		{ "0.00", 2, 0 },
		{ "000123.45", 2, 12345 },
		{ "12.300", 2, 1230 },		/* extra decimals that are zeros */
		{ "12.30000000000000000000", 2, 1230 },
		{ "0.01", 2, 1 },
		{ "-0.01", 2, -1 },
		{ "0.10", 2, 10 },		/* exact: no 9.999... */
		{ "19.99", 2, 1999 },
		{ "1234", 0, 1234 },		/* JPY */
		{ "1234.0", 0, 1234 },
		{ "-5", 0, -5 },
		{ "1.234", 3, 1234 },		/* exp 3 */
		{ "1.2", 3, 1200 },
		{ "-0.001", 3, -1 },
		{ "1.000001", 6, 1000001 },
		{ "92233720368547758.07", 2, INT64_MAX },
		{ "-92233720368547758.08", 2, INT64_MIN },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "-9223372036854775808", 0, INT64_MIN },
		{ "9223372036854.775807", 6, INT64_MAX },
	};
	size_t i;
	int64_t v;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 42;
		if (mbr_money_parse(cases[i].text, cases[i].exp, &v) != MBR_OK)
			fail_msg("'%s' exp %d rejected", cases[i].text, cases[i].exp);
		if (v != cases[i].want)
			fail_msg("'%s' exp %d: got %lld", cases[i].text, cases[i].exp, (long long)v);
	}
}

struct bad {
	const char *text;
	int exp;
};

static void test_parse_bad(void **state)
{
	static const struct bad cases[] = {
		{ "", 2 }, { "   ", 2 }, { "-", 2 }, { "+", 2 }, { ".", 2 }, { "-.", 2 },
		{ "1.2.3", 2 }, { "1,000", 2 }, { "1,5", 2 }, { "12.345", 2 },
		{ "12.301", 2 }, { "0.001", 2 }, { "1.5", 0 }, { "1.0001", 3 },
		{ "abc", 2 }, { "12a", 2 }, { "a12", 2 }, { "1e3", 2 }, { "0x10", 2 },
		{ "--1", 2 }, { "+-1", 2 }, { "- 1", 2 }, { "1 2", 2 }, { "1 .2", 2 },
		{ "¥12", 2 }, { "12元", 2 }, { "inf", 2 }, { "nan", 2 },
		{ "92233720368547758.08", 2 },		/* INT64_MAX + 1 */
		{ "-92233720368547758.09", 2 },		/* INT64_MIN - 1 */
		{ "9223372036854775808", 0 },
		{ "99999999999999999999", 2 },
		{ "100000000000000000", 2 },		/* 10^17 * 100 overflows */
		{ "1", -1 }, { "1", 7 }, { "1", 100 },	/* exp outside 0..6 */
	};
	size_t i;
	int64_t v;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 42;
		if (mbr_money_parse(cases[i].text, cases[i].exp, &v) != MBR_EINVAL)
			fail_msg("'%s' exp %d accepted", cases[i].text, cases[i].exp);
		if (v != 42)
			fail_msg("'%s' exp %d: output written on error", cases[i].text, cases[i].exp);
	}
	assert_int_equal(mbr_money_parse(NULL, 2, &v), MBR_EINVAL);
}

static void test_format(void **state)
{
	static const struct good cases[] = {
		{ "12.30", 2, 1230 },
		{ "-0.05", 2, -5 },
		{ "0.00", 2, 0 },
		{ "0.01", 2, 1 },
		{ "-0.01", 2, -1 },
		{ "-12.30", 2, -1230 },
		{ "1.00", 2, 100 },
		{ "92233720368547758.07", 2, INT64_MAX },
		{ "-92233720368547758.08", 2, INT64_MIN },
		{ "0", 0, 0 },
		{ "1234", 0, 1234 },
		{ "-1234", 0, -1234 },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "-9223372036854775808", 0, INT64_MIN },
		{ "1.234", 3, 1234 },
		{ "0.001", 3, 1 },
		{ "-0.100", 3, -100 },
		{ "0.000001", 6, 1 },
		{ "-9223372036854.775808", 6, INT64_MIN },
	};
	char buf[MBR_MONEY_BUFSZ];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_ptr_equal(mbr_money_format(cases[i].want, cases[i].exp, buf), buf);
		assert_string_equal(buf, cases[i].text);
	}
}

static void test_round_trip(void **state)
{
	static const int64_t values[] = {
		0, 1, -1, 9, 10, 99, 100, 101, -101, 123456789, -987654321,
		INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
	};
	char buf[MBR_MONEY_BUFSZ];
	size_t i;
	int exp;
	int64_t v;

	(void)state;
	for (exp = 0; exp <= 6; exp++) {
		for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
			mbr_money_format(values[i], exp, buf);
			assert_int_equal(mbr_money_parse(buf, exp, &v), MBR_OK);
			assert_true(v == values[i]);
		}
	}
}

static void test_add(void **state)
{
	int64_t v = 42;

	(void)state;
	assert_int_equal(mbr_add_i64(1, 2, &v), MBR_OK);
	assert_true(v == 3);
	assert_int_equal(mbr_add_i64(-5, 3, &v), MBR_OK);
	assert_true(v == -2);
	assert_int_equal(mbr_add_i64(INT64_MAX, 0, &v), MBR_OK);
	assert_true(v == INT64_MAX);
	assert_int_equal(mbr_add_i64(INT64_MAX, INT64_MIN, &v), MBR_OK);
	assert_true(v == -1);
	assert_int_equal(mbr_add_i64(INT64_MIN, 0, &v), MBR_OK);
	assert_true(v == INT64_MIN);
	v = 42;
	assert_int_equal(mbr_add_i64(INT64_MAX, 1, &v), MBR_EINVAL);
	assert_int_equal(mbr_add_i64(INT64_MIN, -1, &v), MBR_EINVAL);
	assert_int_equal(mbr_add_i64(INT64_MAX, INT64_MAX, &v), MBR_EINVAL);
	assert_int_equal(mbr_add_i64(INT64_MIN, INT64_MIN, &v), MBR_EINVAL);
	assert_true(v == 42);
}

static void test_mul(void **state)
{
	int64_t v = 42;

	(void)state;
	assert_int_equal(mbr_mul_i64(1999, 3, &v), MBR_OK);
	assert_true(v == 5997);
	assert_int_equal(mbr_mul_i64(-7, 6, &v), MBR_OK);
	assert_true(v == -42);
	assert_int_equal(mbr_mul_i64(0, INT64_MIN, &v), MBR_OK);
	assert_true(v == 0);
	assert_int_equal(mbr_mul_i64(INT64_MIN, 1, &v), MBR_OK);
	assert_true(v == INT64_MIN);
	assert_int_equal(mbr_mul_i64(INT64_MAX, -1, &v), MBR_OK);
	assert_true(v == -INT64_MAX);
	assert_int_equal(mbr_mul_i64(4611686018427387904LL, -2, &v), MBR_OK);
	assert_true(v == INT64_MIN);
	v = 42;
	assert_int_equal(mbr_mul_i64(INT64_MIN, -1, &v), MBR_EINVAL);
	assert_int_equal(mbr_mul_i64(4611686018427387904LL, 2, &v), MBR_EINVAL);
	assert_int_equal(mbr_mul_i64(INT64_MAX, 2, &v), MBR_EINVAL);
	assert_int_equal(mbr_mul_i64(3037000500LL, 3037000500LL, &v), MBR_EINVAL);
	assert_true(v == 42);
	assert_int_equal(mbr_mul_i64(3037000499LL, 3037000499LL, &v), MBR_OK);
	assert_true(v == 9223372030926249001LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_mul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
