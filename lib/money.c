/*
 * money.c - amounts of money as exact int64_t minor units: parsing decimal
 * text, formatting it back, and overflow-checked addition and
 * multiplication.
 *
 * No floating point anywhere: "0.10" must be 10 cents, not 9.999...  The
 * exponent (number of decimal places of the currency) is 0..6; 2 for CNY
 * and USD, 0 for JPY.
 */
#include <stdint.h>
#include <string.h>

#include "mbr.h"
#include "banned.h"

#define MONEY_EXP_MAX 6

static int is_blank(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * mag = mag * 10 + digit, failing (returning -1) when the result would
 * exceed limit.
 */
static int push_digit(uint64_t *mag, int digit, uint64_t limit)
{
	if (*mag > (limit - (uint64_t)digit) / 10)
		return -1;
	*mag = *mag * 10 + (uint64_t)digit;
	return 0;
}

/*
 * Parse decimal text into minor units with exp decimal places.  Accepted:
 * optional blanks, an optional '+' or '-', digits with at most one '.'
 * (".5" and "5." are both fine, but at least one digit is required),
 * optional blanks.  Decimals beyond exp must be zeros ("12.300" at exp 2).
 * No thousands separators, no exponents.  The full int64_t range is
 * accepted, INT64_MIN included.  *out is set only on success; MBR_EINVAL
 * for bad text, an exp outside 0..6, or a value that does not fit.
 */
int mbr_money_parse(const char *s, int exp, int64_t *out)
{
	uint64_t mag = 0, limit;
	int neg = 0, ndigits = 0, nfrac = 0;

	if (!s || exp < 0 || exp > MONEY_EXP_MAX)
		return MBR_EINVAL;
	while (is_blank((unsigned char)*s))
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

	for (; *s >= '0' && *s <= '9'; s++, ndigits++)
		if (push_digit(&mag, *s - '0', limit) < 0)
			return MBR_EINVAL;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, ndigits++) {
			if (nfrac < exp) {
				if (push_digit(&mag, *s - '0', limit) < 0)
					return MBR_EINVAL;
				nfrac++;
			} else if (*s != '0') {
				return MBR_EINVAL;	/* more precision than the currency has */
			}
		}
	}
	if (!ndigits)
		return MBR_EINVAL;
	while (is_blank((unsigned char)*s))
		s++;
	if (*s)
		return MBR_EINVAL;
	for (; nfrac < exp; nfrac++)
		if (push_digit(&mag, 0, limit) < 0)
			return MBR_EINVAL;

	if (neg)
		*out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	else
		*out = (int64_t)mag;
	return MBR_OK;
}

/*
 * Format v minor units with exp decimal places into buf (at least
 * MBR_MONEY_BUFSZ bytes) and return buf: 1230 at exp 2 is "12.30", -5 is
 * "-0.05", 0 is "0.00"; exp 0 has no point.  Every int64_t value formats
 * correctly, INT64_MIN included.  exp is clamped to 0..18.
 */
char *mbr_money_format(int64_t v, int exp, char *buf)
{
	char digits[24];
	uint64_t mag;
	size_t nd = 0, i, o = 0;

	if (exp < 0)
		exp = 0;
	if (exp > 18)
		exp = 18;
	mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		digits[nd++] = (char)('0' + mag % 10);	/* least significant first */
		mag /= 10;
	} while (mag);
	while (nd < (size_t)exp + 1)
		digits[nd++] = '0';

	if (v < 0)
		buf[o++] = '-';
	for (i = nd; i > 0; i--) {
		if (i == (size_t)exp && exp > 0)
			buf[o++] = '.';
		buf[o++] = digits[i - 1];
	}
	buf[o] = '\0';
	return buf;
}

/* *out = a + b, or MBR_EINVAL (and *out untouched) on overflow. */
int mbr_add_i64(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return MBR_EINVAL;
	*out = r;
	return MBR_OK;
}

/* *out = a * b, or MBR_EINVAL (and *out untouched) on overflow. */
int mbr_mul_i64(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return MBR_EINVAL;
	*out = r;
	return MBR_OK;
}
