/*
 * test_rules.c - unit tests for lib/rules.c: the rules text format (every
 * directive, every error with its line number), exact scoring with its
 * stated rounding (down per receipt, the fraction kept in millionths),
 * expiry dates in the store's time zone, and receipt multipliers by
 * weekday, date range, tier and birthday.
 *
 * Every error is "N: reason", N the line at fault (a caller names the file:
 * "rules.txt:N: reason").  These are pure functions: no database.  The zone is pinned to
 * Asia/Shanghai (UTC+8) so that business days differ from UTC dates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mbr.h"
#include "banned.h"

#define BP 10000

static int setup(void **state)
{
	(void)state;
	return mbr_time_set_zone("Asia/Shanghai") == 0 ? 0 : -1;
}

/* UTC seconds of a local (Asia/Shanghai) time text. */
static int64_t local(const char *s)
{
	int64_t t;

	if (mbr_time_parse(s, NULL, &t) != MBR_OK)
		fail_msg("time '%s' not parsed", s);
	return t;
}

static int64_t day_of(const char *date)
{
	return mbr_local_day(local(date));
}

static void parse_ok(const char *text, struct mbr_rules *r)
{
	struct mbr_buf err = MBR_BUF_INIT;
	int rc = mbr_rules_parse(text, 2, r, &err);

	if (rc != MBR_OK)
		fail_msg("rules rejected (%d): %s\n---\n%s", rc, err.buf, text);
	mbr_buf_release(&err);
}

/* The rules text must be rejected with exactly this message. */
static void parse_bad(const char *text, const char *want)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_rules r;
	int rc = mbr_rules_parse(text, 2, &r, &err);

	if (rc != MBR_EINVAL)
		fail_msg("rules accepted (%d), wanted '%s'\n---\n%s", rc, want, text);
	if (strcmp(err.buf, want))
		fail_msg("message '%s', wanted '%s'\n---\n%s", err.buf, want, text);
	mbr_buf_release(&err);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *p;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
	p[n] = '\0';
	fclose(fp);
	return p;
}

/* ------------------------------------------------------------- parsing */

static void test_default(void **state)
{
	struct mbr_rules r;

	(void)state;
	mbr_rules_default(&r);
	assert_int_equal(r.base_points, 1);
	assert_int_equal(r.expiry, MBR_EXPIRY_NEVER);
	assert_int_equal(r.redeem_points, 100);
	assert_int_equal(r.ntiers, 0);
	assert_int_equal(r.nmults, 0);
	assert_int_equal(r.min_spend, 0);
	assert_int_equal(r.earn_on_points, 0);
	assert_int_equal(r.earn_on_stored_value, 0);
}

static void test_parse_minimal(void **state)
{
	struct mbr_rules r;

	(void)state;
	parse_ok("effective 2025-01-01\n", &r);
	assert_int_equal(r.effective_day, day_of("2025-01-01"));
	/* defaults scaled to the exponent: 1 point per 1.00, 100 points = 1.00 */
	assert_int_equal(r.base_points, 1);
	assert_int_equal(r.base_per, 100);
	assert_int_equal(r.redeem_points, 100);
	assert_int_equal(r.redeem_value, 100);
	assert_int_equal(r.expiry, MBR_EXPIRY_NEVER);
	assert_int_equal(r.ntiers, 0);
	assert_int_equal(r.nmults, 0);
}

static void test_parse_every_directive(void **state)
{
	static const char text[] =
		"# a comment line\n"
		"   \n"
		"effective 2025/03/01   # trailing comment\n"
		"base 3 per 2.50\n"
		"min_spend 10.00\n"
		"expiry months 12\n"
		"redeem 50 = 0.75\n"
		"earn_on points stored_value\n"
		"tier SILVER rank 1 spend 500.00 window 90 discount 2.5% earn x1.25 name 银卡\n"
		"tier GOLD rank 2 points 3000\n"
		"multiplier category 生鲜 x2\n"
		"multiplier sku 6901234 1.5\n"
		"multiplier tier GOLD x1.1\n"
		"multiplier weekday sat,SUN,3 x1.5\n"
		"multiplier dates 2025-11-11..2025-11-12 x3\n"
		"birthday x2.0001\r\n";
	struct mbr_rules r;
	const struct mbr_tier *t;

	(void)state;
	parse_ok(text, &r);
	assert_int_equal(r.effective_day, day_of("2025-03-01"));
	assert_int_equal(r.base_points, 3);
	assert_int_equal(r.base_per, 250);
	assert_int_equal(r.min_spend, 1000);
	assert_int_equal(r.expiry, MBR_EXPIRY_MONTHS);
	assert_int_equal(r.expiry_n, 12);
	assert_int_equal(r.redeem_points, 50);
	assert_int_equal(r.redeem_value, 75);
	assert_int_equal(r.earn_on_points, 1);
	assert_int_equal(r.earn_on_stored_value, 1);
	assert_int_equal(r.birthday_bp, 20001);

	assert_int_equal(r.ntiers, 2);
	t = mbr_rules_tier(&r, "SILVER");
	assert_non_null(t);
	assert_string_equal(t->name, "银卡");
	assert_int_equal(t->rank, 1);
	assert_int_equal(t->basis_points, 0);
	assert_int_equal(t->threshold, 50000);
	assert_int_equal(t->window_days, 90);
	assert_int_equal(t->discount_bp, 250);
	assert_int_equal(t->earn_mult_bp, 12500);
	t = mbr_rules_tier(&r, "GOLD");
	assert_non_null(t);
	assert_int_equal(t->rank, 2);
	assert_int_equal(t->basis_points, 1);
	assert_int_equal(t->threshold, 3000);
	assert_int_equal(t->window_days, 365);	/* default */
	assert_int_equal(t->discount_bp, 0);
	assert_int_equal(t->earn_mult_bp, BP);
	assert_null(mbr_rules_tier(&r, "BRONZE"));
	assert_null(mbr_rules_tier(&r, ""));
	assert_null(mbr_rules_tier(&r, NULL));

	assert_int_equal(r.nmults, 5);
	assert_int_equal(r.mults[0].kind, MBR_MULT_CATEGORY);
	assert_string_equal(r.mults[0].key, "生鲜");
	assert_int_equal(r.mults[0].bp, 20000);
	assert_int_equal(r.mults[1].kind, MBR_MULT_SKU);
	assert_string_equal(r.mults[1].key, "6901234");
	assert_int_equal(r.mults[1].bp, 15000);
	assert_int_equal(r.mults[2].kind, MBR_MULT_TIER);
	assert_string_equal(r.mults[2].key, "GOLD");
	assert_int_equal(r.mults[2].bp, 11000);
	assert_int_equal(r.mults[3].kind, MBR_MULT_WEEKDAY);
	assert_int_equal(r.mults[3].weekdays, (1u << 6) | (1u << 0) | (1u << 3));
	assert_int_equal(r.mults[3].bp, 15000);
	assert_int_equal(r.mults[4].kind, MBR_MULT_DATES);
	assert_int_equal(r.mults[4].from_day, day_of("2025-11-11"));
	assert_int_equal(r.mults[4].to_day, day_of("2025-11-12"));
	assert_int_equal(r.mults[4].bp, 30000);

	/* line multipliers: the SKU's wins over its category's */
	assert_int_equal(mbr_rules_line_bp(&r, "6901234", "生鲜"), 15000);
	assert_int_equal(mbr_rules_line_bp(&r, "other", "生鲜"), 20000);
	assert_int_equal(mbr_rules_line_bp(&r, "other", "toys"), BP);
	assert_int_equal(mbr_rules_line_bp(&r, NULL, NULL), BP);

	/* of several naming one product or one category, the last; the sku
	 * one still wins over the category one, wherever it stands */
	parse_ok("effective 2025-01-01\nmultiplier sku A x7\nmultiplier category c x2\n"
		 "multiplier sku A x3\nmultiplier category c x5\n", &r);
	assert_int_equal(mbr_rules_line_bp(&r, "A", "c"), 30000);
	assert_int_equal(mbr_rules_line_bp(&r, "B", "c"), 50000);
	parse_ok("effective 2025-01-01\nmultiplier sku A x0\n", &r);
	assert_int_equal(mbr_rules_line_bp(&r, "A", "c"), 0);
}

static void test_parse_expiry_forms(void **state)
{
	struct mbr_rules r;

	(void)state;
	parse_ok("effective 2025-01-01\nexpiry never\n", &r);
	assert_int_equal(r.expiry, MBR_EXPIRY_NEVER);
	parse_ok("effective 2025-01-01\nexpiry year-end 0\n", &r);
	assert_int_equal(r.expiry, MBR_EXPIRY_YEAR_END);
	assert_int_equal(r.expiry_n, 0);
	parse_ok("effective 2025-01-01\nexpiry year-end 1\n", &r);
	assert_int_equal(r.expiry, MBR_EXPIRY_YEAR_END);
	assert_int_equal(r.expiry_n, 1);
	parse_ok("effective 2025-01-01\nexpiry months 1\n", &r);
	assert_int_equal(r.expiry, MBR_EXPIRY_MONTHS);
	assert_int_equal(r.expiry_n, 1);
}

static void test_parse_example_file(void **state)
{
	char *text = slurp("examples/rules.txt");
	struct mbr_rules r;

	(void)state;
	if (!text)
		text = slurp("../../examples/rules.txt");
	assert_non_null(text);
	parse_ok(text, &r);
	assert_int_equal(r.effective_day, day_of("2025-01-01"));
	assert_int_equal(r.ntiers, 2);
	assert_non_null(mbr_rules_tier(&r, "SILVER"));
	assert_non_null(mbr_rules_tier(&r, "GOLD"));
	assert_int_equal(r.min_spend, 500);
	assert_int_equal(r.expiry, MBR_EXPIRY_MONTHS);
	assert_int_equal(r.expiry_n, 12);
	assert_int_equal(r.birthday_bp, 20000);
	free(text);
}

struct bad_case {
	const char *text;
	const char *want;
};

static void test_parse_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ "effective\n", "1: effective needs a date (YYYY-MM-DD)" },
		{ "effective 2025-02-30\n", "1: effective needs a date (YYYY-MM-DD)" },
		{ "effective 2025-01-01 2025-01-02\n", "1: effective needs a date (YYYY-MM-DD)" },
		{ "# rules\neffective 2025-01-01\nbase 1 per 0\n", "3: base: the amount '0' must be above 0" },
		{ "effective 2025-01-01\nbase 1 for 1.00\n",
		  "2: base needs: base POINTS per AMOUNT (e.g. base 1 per 1.00)" },
		{ "effective 2025-01-01\nbase -1 per 1.00\n",
		  "2: base needs: base POINTS per AMOUNT (e.g. base 1 per 1.00)" },
		{ "effective 2025-01-01\nbase 1 per 1.001\n",
		  "2: base needs: base POINTS per AMOUNT (e.g. base 1 per 1.00)" },
		{ "effective 2025-01-01\n\n\nmin_spend ten\n", "4: min_spend needs an amount" },
		{ "effective 2025-01-01\nmin_spend -1.00\n", "2: min_spend needs an amount" },
		{ "effective 2025-01-01\nexpiry months 0\n", "2: expiry needs: never | months N | year-end N" },
		{ "effective 2025-01-01\nexpiry months\n", "2: expiry needs: never | months N | year-end N" },
		{ "effective 2025-01-01\nexpiry sometimes\n", "2: expiry needs: never | months N | year-end N" },
		{ "effective 2025-01-01\nexpiry year-end -1\n", "2: expiry needs: never | months N | year-end N" },
		{ "effective 2025-01-01\nredeem 100 1.00\n",
		  "2: redeem needs: redeem POINTS = AMOUNT (e.g. redeem 100 = 1.00)" },
		{ "effective 2025-01-01\nredeem 0 = 1.00\n",
		  "2: redeem needs: redeem POINTS = AMOUNT (e.g. redeem 100 = 1.00)" },
		{ "effective 2025-01-01\nredeem 100 = 0\n", "2: redeem: the amount '0' must be above 0" },
		{ "effective 2025-01-01\nredeem 100 = -1.00\n", "2: redeem: the amount '-1.00' must be above 0" },
		{ "effective 2025-01-01\nearn_on coupons\n", "2: earn_on takes points, stored_value" },
		{ "effective 2025-01-01\nbirthday\n", "2: birthday needs a multiplier (e.g. birthday x2)" },
		{ "effective 2025-01-01\nbirthday x1.00001\n", "2: birthday needs a multiplier (e.g. birthday x2)" },
		{ "effective 2025-01-01\nbirthday x-2\n", "2: birthday needs a multiplier (e.g. birthday x2)" },
		{ "effective 2025-01-01\nbonus x2\n", "2: unknown directive 'bonus'" },
		{ "effective 2025-01-01\ntier SILVER rank 1\n",
		  "2: tier needs: tier CODE rank N spend|points THRESHOLD" },
		{ "effective 2025-01-01\ntier SIL-VER rank 1 spend 5.00\n",
		  "2: tier needs: tier CODE rank N spend|points THRESHOLD" },
		{ "effective 2025-01-01\ntier SILVER rank one spend 5.00\n", "2: tier SILVER: bad rank 'one'" },
		{ "effective 2025-01-01\ntier SILVER rank 1 spend 5.001\n",
		  "2: tier SILVER: bad spend threshold '5.001'" },
		{ "effective 2025-01-01\ntier SILVER rank 1 points 1.5\n",
		  "2: tier SILVER: bad points threshold '1.5'" },
		{ "effective 2025-01-01\ntier SILVER rank 1 spend 5.00 window 0\n",
		  "2: tier SILVER: bad window '0' (days)" },
		{ "effective 2025-01-01\ntier SILVER rank 1 spend 5.00 discount 5\n",
		  "2: tier SILVER: bad discount '5' (e.g. 5%)" },
		{ "effective 2025-01-01\ntier SILVER rank 1 spend 5.00 discount 101%\n",
		  "2: tier SILVER: bad discount '101%' (e.g. 5%)" },
		{ "effective 2025-01-01\ntier SILVER rank 1 spend 5.00 earn double\n",
		  "2: tier SILVER: bad earn multiplier 'double' (e.g. x1.5)" },
		{ "effective 2025-01-01\ntier SILVER rank 1 spend 5.00 colour grey\n",
		  "2: tier SILVER: unknown word 'colour'" },
		{ "effective 2025-01-01\ntier SILVER rank 1 spend 5.00 window\n",
		  "2: tier SILVER: 'window' needs a value" },
		/* duplicate tier, duplicate rank: the line of the second one */
		{ "effective 2025-01-01\ntier GOLD rank 2 spend 5.00\ntier GOLD rank 3 spend 9.00\n",
		  "3: tier GOLD defined twice" },
		{ "effective 2025-01-01\ntier SILVER rank 1 spend 5.00\n# gap\ntier GOLD rank 1 spend 9.00\n",
		  "4: tiers SILVER and GOLD have the same rank" },
		{ "effective 2025-01-01\nmultiplier category x2\n",
		  "2: multiplier needs: multiplier category|sku|tier|weekday|dates WHAT xM" },
		{ "effective 2025-01-01\nmultiplier category food two\n", "2: bad multiplier 'two' (e.g. x2)" },
		{ "effective 2025-01-01\nmultiplier category food x1001\n", "2: bad multiplier 'x1001' (e.g. x2)" },
		{ "effective 2025-01-01\nmultiplier brand acme x2\n", "2: unknown multiplier kind 'brand'" },
		{ "effective 2025-01-01\nmultiplier weekday sat,xyz x2\n",
		  "2: bad weekdays 'sat,xyz' (e.g. sat,sun)" },
		{ "effective 2025-01-01\nmultiplier weekday 8 x2\n", "2: bad weekdays '8' (e.g. sat,sun)" },
		{ "effective 2025-01-01\nmultiplier dates 2025-11-11 x2\n",
		  "2: bad dates '2025-11-11' (FROM..TO)" },
		{ "effective 2025-01-01\nmultiplier dates 2025-11-12..2025-11-11 x2\n",
		  "2: bad dates '2025-11-12..2025-11-11'" },
		{ "effective 2025-01-01\nmultiplier dates 2025-11-11..2025-13-01 x2\n",
		  "2: bad dates '2025-11-11..2025-13-01'" },
		/* the first error stops the parse */
		{ "effective 2025-01-01\nbase 1 per x\nbonus x2\n",
		  "2: base needs: base POINTS per AMOUNT (e.g. base 1 per 1.00)" },
		/* CRLF files count lines the same way */
		{ "effective 2025-01-01\r\nbase 1 per 1.00\r\nbonus x2\r\n", "3: unknown directive 'bonus'" },
		/* missing effective: line 1, where it belongs; an error always has a line */
		{ "", "1: rules need an 'effective YYYY-MM-DD' line" },
		{ "# nothing\nbase 1 per 1.00\n", "1: rules need an 'effective YYYY-MM-DD' line" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_bad(cases[i].text, cases[i].want);
}

/* A tier multiplier naming a tier the rules do not define: found after the
 * whole text is read, still "N: reason" with the multiplier's line. */
static void test_parse_multiplier_unknown_tier(void **state)
{
	struct mbr_rules r;

	(void)state;
	/* a tier defined after its multiplier is fine */
	parse_ok("effective 2025-01-01\nmultiplier tier GOLD x2\ntier GOLD rank 1 spend 1.00\n", &r);
	assert_int_equal(r.nmults, 1);
	parse_bad("effective 2025-01-01\ntier GOLD rank 1 spend 1.00\n\nmultiplier tier PLATINUM x2\n",
		  "4: multiplier for unknown tier 'PLATINUM'");
}

static void test_parse_limits(void **state)
{
	struct mbr_buf text = MBR_BUF_INIT, err = MBR_BUF_INIT;
	struct mbr_rules r;
	int i;

	(void)state;
	mbr_buf_adds(&text, "effective 2025-01-01\n");
	for (i = 0; i < MBR_MAX_TIERS; i++)
		mbr_buf_addf(&text, "tier T%d rank %d spend %d.00\n", i, i, i);
	parse_ok(text.buf, &r);
	assert_int_equal(r.ntiers, MBR_MAX_TIERS);
	mbr_buf_addf(&text, "tier TX rank 99 spend 1.00\n");
	assert_int_equal(mbr_rules_parse(text.buf, 2, &r, &err), MBR_EINVAL);
	assert_string_equal(err.buf, "18: more than 16 tiers");

	mbr_buf_reset(&text);
	mbr_buf_adds(&text, "effective 2025-01-01\n");
	for (i = 0; i < MBR_MAX_MULTS; i++)
		mbr_buf_addf(&text, "multiplier sku S%d x2\n", i);
	parse_ok(text.buf, &r);
	assert_int_equal(r.nmults, MBR_MAX_MULTS);
	mbr_buf_addf(&text, "multiplier sku SX x2\n");
	assert_int_equal(mbr_rules_parse(text.buf, 2, &r, &err), MBR_EINVAL);
	assert_string_equal(err.buf, "66: more than 64 multipliers");

	/* a line of more than 39 words */
	mbr_buf_reset(&text);
	mbr_buf_adds(&text, "effective 2025-01-01\n\nearn_on");
	for (i = 0; i < 39; i++)
		mbr_buf_adds(&text, " points");
	mbr_buf_adds(&text, "\n");
	assert_int_equal(mbr_rules_parse(text.buf, 2, &r, &err), MBR_EINVAL);
	assert_string_equal(err.buf, "3: too many words");
	mbr_buf_release(&text);
	mbr_buf_release(&err);
}

static void test_parse_exponent_zero(void **state)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_rules r;

	(void)state;
	/* JPY: amounts have no decimals */
	assert_int_equal(mbr_rules_parse("effective 2025-01-01\nbase 1 per 100\nredeem 1 = 1\n", 0, &r, &err), MBR_OK);
	assert_int_equal(r.base_per, 100);
	assert_int_equal(r.redeem_value, 1);
	assert_int_equal(mbr_rules_parse("effective 2025-01-01\n", 0, &r, &err), MBR_OK);
	assert_int_equal(r.base_per, 1);
	assert_int_equal(mbr_rules_parse("effective 2025-01-01\nbase 1 per 1.50\n", 0, &r, &err), MBR_EINVAL);
	assert_string_equal(err.buf, "2: base needs: base POINTS per AMOUNT (e.g. base 1 per 1.00)");
	mbr_buf_release(&err);
}

/* ------------------------------------------------------------- scoring */

/* Points of a one-line receipt of amount minor units, all eligible. */
static int64_t points_of(const struct mbr_rules *r, int64_t amount, int64_t line_bp, int64_t receipt_bp,
			 int64_t *residue)
{
	return mbr_rules_points(r, (__int128)amount * line_bp, amount, amount, receipt_bp, residue);
}

static void test_points_rounding(void **state)
{
	struct mbr_rules r;
	int64_t res;

	(void)state;
	parse_ok("effective 2025-01-01\nbase 1 per 1.00\n", &r);
	assert_int_equal(points_of(&r, 1299, BP, BP, &res), 12);
	assert_int_equal(res, 990000);
	assert_int_equal(points_of(&r, 99, BP, BP, &res), 0);
	assert_int_equal(res, 990000);
	assert_int_equal(points_of(&r, 100, BP, BP, &res), 1);
	assert_int_equal(res, 0);
	assert_int_equal(points_of(&r, 1, BP, BP, &res), 0);
	assert_int_equal(res, 10000);
	assert_int_equal(points_of(&r, 0, BP, BP, &res), 0);
	assert_int_equal(res, 0);
	/* a return (negative) rounds toward zero too */
	assert_int_equal(points_of(&r, -1299, BP, BP, &res), -12);
	assert_int_equal(res, -990000);

	parse_ok("effective 2025-01-01\nbase 1 per 3.00\n", &r);
	assert_int_equal(points_of(&r, 1000, BP, BP, &res), 3);
	assert_int_equal(res, 333333);
	assert_int_equal(points_of(&r, 900, BP, BP, &res), 3);
	assert_int_equal(res, 0);

	parse_ok("effective 2025-01-01\nbase 7 per 0.10\n", &r);
	assert_int_equal(points_of(&r, 1299, BP, BP, &res), 909);	/* 12.99 * 70 = 909.3 */
	assert_int_equal(res, 300000);
}

static void test_points_multipliers_exact(void **state)
{
	struct mbr_rules r;
	int64_t res;

	(void)state;
	parse_ok("effective 2025-01-01\n"
		 "tier SILVER rank 1 spend 0 earn x1.5\n"
		 "multiplier category food x1.25\n"
		 "multiplier tier SILVER x1.5\n"
		 "multiplier weekday sat x1.1\n", &r);
	/* x1.25 (line) * x1.5 (receipt) on 100.00 = 187.5 */
	assert_int_equal(points_of(&r, 10000, mbr_rules_line_bp(&r, "a", "food"), 15000, &res), 187);
	assert_int_equal(res, 500000);
	/* tier earn x1.5 and a tier multiplier x1.5: x2.25 */
	assert_int_equal(mbr_rules_receipt_bp(&r, "SILVER", day_of("2025-03-03"), 0), 22500);
	/* and on a Saturday x1.1 too: x2.475 exactly */
	assert_int_equal(mbr_rules_receipt_bp(&r, "SILVER", day_of("2025-03-01"), 0), 24750);
	/* 1.25 * 2.475 * 40.00 = 123.75 */
	assert_int_equal(points_of(&r, 4000, 12500, 24750, &res), 123);
	assert_int_equal(res, 750000);
	/* 1.1 * 1.1 = 1.21 exactly (a double gives 1.2100000000000002) */
	parse_ok("effective 2025-01-01\nmultiplier weekday sat x1.1\nmultiplier dates 2025-03-01..2025-03-01 x1.1\n", &r);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, day_of("2025-03-01"), 0), 12100);
	assert_int_equal(points_of(&r, 10000, BP, 12100, &res), 121);
	assert_int_equal(res, 0);
	/* 0.29 * x3 = 0.87 points: nothing, residue kept */
	assert_int_equal(points_of(&r, 29, BP, 30000, &res), 0);
	assert_int_equal(res, 870000);
}

static void test_points_share(void **state)
{
	struct mbr_rules r;
	int64_t res;

	(void)state;
	parse_ok("effective 2025-01-01\n", &r);
	/* 30.00 receipt, 10.00 paid with points: earns on 20.00 */
	assert_int_equal(mbr_rules_points(&r, (__int128)3000 * BP, 2000, 3000, BP, &res), 20);
	assert_int_equal(res, 0);
	/* 10.00 of which 3.33 eligible: 3.33 points */
	assert_int_equal(mbr_rules_points(&r, (__int128)1000 * BP, 333, 1000, BP, &res), 3);
	assert_int_equal(res, 330000);
	/* nothing eligible, or an empty receipt */
	assert_int_equal(mbr_rules_points(&r, (__int128)1000 * BP, 0, 1000, BP, &res), 0);
	assert_int_equal(res, 0);
	assert_int_equal(mbr_rules_points(&r, 0, 0, 0, BP, &res), 0);
	assert_int_equal(res, 0);
}

static void test_points_huge(void **state)
{
	const int64_t amount = 1000000000000000LL;	/* 1e15 minor units = 1e13 yuan */
	struct mbr_rules r;
	int64_t res = -1;

	(void)state;
	parse_ok("effective 2025-01-01\n", &r);
	assert_int_equal(points_of(&r, amount, BP, BP, &res), 10000000000000LL);
	assert_int_equal(res, 0);
	assert_int_equal(points_of(&r, amount + 99, BP, BP, &res), 10000000000000LL);
	assert_int_equal(res, 990000);
	/* with multipliers: x2 on the line, x1.5 on the receipt = x3 */
	assert_int_equal(points_of(&r, amount, 20000, BP, &res), 20000000000000LL);
	assert_int_equal(res, 0);
	assert_int_equal(points_of(&r, amount, 20000, 15000, &res), 30000000000000LL);
	assert_int_equal(res, 0);
	/* and a partly eligible huge receipt: half of it earns */
	assert_int_equal(mbr_rules_points(&r, (__int128)amount * 20000, amount / 2, amount, BP, &res),
			 10000000000000LL);
	assert_int_equal(res, 0);
	/* a rate of 100 points per 0.01 */
	parse_ok("effective 2025-01-01\nbase 100 per 0.01\n", &r);
	assert_int_equal(points_of(&r, amount, BP, BP, &res), 100000000000000000LL);
	assert_int_equal(res, 0);
	/* beyond int64 the points saturate (a receipt above MBR_POINTS_MAX
	 * is refused by the sale import), in both signs: never wrap */
	assert_int_equal(points_of(&r, amount, 10000000, 10000000, &res), INT64_MAX);
	assert_int_equal(mbr_rules_points(&r, -(__int128)amount * 10000000, -amount, -amount, 10000000, &res),
			 -INT64_MAX);
}

/* -------------------------------------------------------------- expiry */

static void test_expiry(void **state)
{
	struct mbr_rules r;

	(void)state;
	parse_ok("effective 2025-01-01\nexpiry months 12\n", &r);
	/* earned 07:00 local on Jan 31 (still Jan 30 in UTC): lapses at the
	 * start of 2026-01-31 local */
	assert_int_equal(mbr_rules_expiry(&r, local("2025-01-31 07:00")), local("2026-01-31 00:00"));
	assert_int_equal(mbr_rules_expiry(&r, local("2025-01-31 23:59:59")), local("2026-01-31 00:00"));
	/* a leap day: to the last day of February */
	assert_int_equal(mbr_rules_expiry(&r, local("2024-02-29 12:00")), local("2025-02-28 00:00"));
	assert_int_equal(mbr_rules_expiry(&r, local("2025-12-31 12:00")), local("2026-12-31 00:00"));

	parse_ok("effective 2025-01-01\nexpiry months 1\n", &r);
	assert_int_equal(mbr_rules_expiry(&r, local("2025-01-31 10:00")), local("2025-02-28 00:00"));
	assert_int_equal(mbr_rules_expiry(&r, local("2024-01-31 10:00")), local("2024-02-29 00:00"));
	assert_int_equal(mbr_rules_expiry(&r, local("2025-12-15 10:00")), local("2026-01-15 00:00"));
	assert_int_equal(mbr_rules_expiry(&r, local("2025-03-31 10:00")), local("2025-04-30 00:00"));

	parse_ok("effective 2025-01-01\nexpiry months 13\n", &r);
	assert_int_equal(mbr_rules_expiry(&r, local("2023-01-31 10:00")), local("2024-02-29 00:00"));
	parse_ok("effective 2025-01-01\nexpiry months 24\n", &r);
	assert_int_equal(mbr_rules_expiry(&r, local("2025-06-15 10:00")), local("2027-06-15 00:00"));

	parse_ok("effective 2025-01-01\nexpiry year-end 0\n", &r);
	assert_int_equal(mbr_rules_expiry(&r, local("2025-06-15 10:00")), local("2026-01-01 00:00"));
	assert_int_equal(mbr_rules_expiry(&r, local("2025-01-01 00:00")), local("2026-01-01 00:00"));
	/* 23:30 local on Dec 31 is already... still 2025 locally */
	assert_int_equal(mbr_rules_expiry(&r, local("2025-12-31 23:30")), local("2026-01-01 00:00"));
	/* 2026-01-01 01:00 local is 2025-12-31 in UTC: the local year counts */
	assert_int_equal(mbr_rules_expiry(&r, local("2026-01-01 01:00")), local("2027-01-01 00:00"));

	parse_ok("effective 2025-01-01\nexpiry year-end 1\n", &r);
	assert_int_equal(mbr_rules_expiry(&r, local("2025-06-15 10:00")), local("2027-01-01 00:00"));

	parse_ok("effective 2025-01-01\nexpiry never\n", &r);
	assert_int_equal(mbr_rules_expiry(&r, local("2025-06-15 10:00")), 0);
	mbr_rules_default(&r);
	assert_int_equal(mbr_rules_expiry(&r, local("2025-06-15 10:00")), 0);
}

/* ------------------------------------------------- receipt multipliers */

static void test_receipt_bp(void **state)
{
	struct mbr_rules r;
	int64_t sat = day_of("2025-03-01");	/* a Saturday */

	(void)state;
	parse_ok("effective 2025-01-01\n"
		 "tier GOLD rank 1 spend 0 earn x1.5\n"
		 "multiplier weekday sat,sun x2\n"
		 "multiplier dates 2025-03-10..2025-03-12 x3\n"
		 "birthday x2\n", &r);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, sat, 0), 20000);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, sat + 1, 0), 20000);	/* Sunday */
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, sat + 2, 0), BP);	/* Monday */
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, sat - 1, 0), BP);	/* Friday */
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, sat + 7, 0), 20000);
	/* dates inclusive at both ends */
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, day_of("2025-03-09"), 0), 20000);	/* Sunday */
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, day_of("2025-03-10"), 0), 30000);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, day_of("2025-03-11"), 0), 30000);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, day_of("2025-03-12"), 0), 30000);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, day_of("2025-03-13"), 0), BP);
	/* birthday and tier */
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, sat + 2, 1), 20000);
	assert_int_equal(mbr_rules_receipt_bp(&r, "GOLD", sat + 2, 0), 15000);
	assert_int_equal(mbr_rules_receipt_bp(&r, "GOLD", sat, 1), 60000);	/* 1.5 * 2 * 2 */
	assert_int_equal(mbr_rules_receipt_bp(&r, "NOSUCH", sat + 2, 0), BP);
	assert_int_equal(mbr_rules_receipt_bp(&r, "", sat + 2, 0), BP);

	/* weekday numbers: 1 = Monday ... 7 = Sunday */
	parse_ok("effective 2025-01-01\nmultiplier weekday 6,7 x2\n", &r);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, sat, 0), 20000);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, sat + 1, 0), 20000);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, sat + 2, 0), BP);
	/* days before 1970 still get the right weekday: 1969-12-27 was a Saturday */
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, -5, 0), 20000);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, -4, 0), 20000);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, -3, 0), BP);

	/* no birthday rule: a birthday changes nothing */
	parse_ok("effective 2025-01-01\n", &r);
	assert_int_equal(mbr_rules_receipt_bp(&r, NULL, sat, 1), BP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_parse_minimal),
		cmocka_unit_test(test_parse_every_directive),
		cmocka_unit_test(test_parse_expiry_forms),
		cmocka_unit_test(test_parse_example_file),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_multiplier_unknown_tier),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_parse_exponent_zero),
		cmocka_unit_test(test_points_rounding),
		cmocka_unit_test(test_points_multipliers_exact),
		cmocka_unit_test(test_points_share),
		cmocka_unit_test(test_points_huge),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_receipt_bp),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
