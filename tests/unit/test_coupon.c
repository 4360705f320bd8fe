/*
 * test_coupon.c - unit tests for lib/coupon.c: the check character,
 * discounts, issuing limits, redemption at most once (also across
 * processes), voiding and expiry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "mbr.h"

static char dir[64], path[128];

static const char alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

static int setup(void **state)
{
	struct mbr_init_opts o = { "S01", "store", NULL, -1, "Asia/Shanghai", NULL };
	struct mbr_buf err = MBR_BUF_INIT;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mbr-coupon-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/c.db", dir);
	unsetenv("MBR_KEY");
	setenv("MBR_OPERATOR", "tester", 1);
	setenv("MBR_NOW", "2026-06-01T04:00:00Z", 1);
	if (mbr_db_init(path, &o, &err) < 0) {
		fprintf(stderr, "init: %s\n", err.buf);
		return -1;
	}
	mbr_buf_release(&err);
	return 0;
}

static int teardown(void **state)
{
	char cmd[200];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct mbr_db *open_db(void)
{
	struct mbr_db *db;

	assert_int_equal(mbr_db_open(path, MBR_OPEN_RW, "test", &db), MBR_OK);
	return db;
}

static void add_member(struct mbr_db *db, const char *no, struct mbr_member *m)
{
	struct mbr_buf why = MBR_BUF_INIT;

	mbr_member_clear(m);
	assert_int_equal(mbr_member_set_field(db, m, MBR_F_MEMBER_NO, no, &why), MBR_OK);
	assert_int_equal(mbr_member_add(db, m, 0), MBR_OK);
	mbr_buf_release(&why);
}

static void make_campaign(struct mbr_db *db, const char *code, const char *type, int64_t value, int64_t min_spend)
{
	struct mbr_campaign c;

	mbr_campaign_clear(&c);
	snprintf(c.code, sizeof(c.code), "%s", code);
	snprintf(c.type, sizeof(c.type), "%s", type);
	if (!strcmp(type, "gift"))
		snprintf(c.gift_sku, sizeof(c.gift_sku), "GIFT1");
	c.value = value;
	c.min_spend = min_spend;
	c.per_member = 1;
	assert_int_equal(mbr_campaign_create(db, &c), MBR_OK);
}

/* Every single substitution and every adjacent swap of a code is caught. */
static void test_check_character(void **state)
{
	char code[MBR_CODE_SZ], bad[MBR_CODE_SZ];
	int n, i, k, caught = 0, tried = 0;

	(void)state;
	for (n = 0; n < 300; n++) {
		mbr_coupon_code_new(code);
		assert_int_equal(strlen(code), 12);
		assert_true(mbr_coupon_code_ok(code));
		for (i = 0; i < 12; i++) {
			for (k = 0; k < 32; k++) {
				if (alphabet[k] == code[i])
					continue;
				memcpy(bad, code, sizeof(bad));
				bad[i] = alphabet[k];
				tried++;
				caught += !mbr_coupon_code_ok(bad);
			}
			if (i < 11 && code[i] != code[i + 1]) {
				memcpy(bad, code, sizeof(bad));
				bad[i] = code[i + 1];
				bad[i + 1] = code[i];
				tried++;
				caught += !mbr_coupon_code_ok(bad);
			}
		}
	}
	assert_int_equal(caught, tried);
}

static void test_normalize(void **state)
{
	char out[MBR_CODE_SZ];

	(void)state;
	assert_int_equal(mbr_coupon_code_normalize("abcd-efgh 2345", out), MBR_OK);
	assert_string_equal(out, "ABCDEFGH2345");
	assert_int_equal(mbr_coupon_code_normalize("ab", out), MBR_EINVAL);
	assert_int_equal(mbr_coupon_code_normalize("abc$def", out), MBR_EINVAL);
}

static void test_discounts(void **state)
{
	struct mbr_campaign c;

	(void)state;
	mbr_campaign_clear(&c);
	snprintf(c.type, sizeof(c.type), "amount");
	c.value = 1000;
	assert_int_equal(mbr_campaign_discount(&c, 5000), 1000);
	assert_int_equal(mbr_campaign_discount(&c, 700), 700);	/* never more than the amount */
	snprintf(c.type, sizeof(c.type), "percent");
	c.value = 1500;		/* 15% */
	assert_int_equal(mbr_campaign_discount(&c, 999), 149);	/* 149.85 rounded down */
	c.cap = 100;
	assert_int_equal(mbr_campaign_discount(&c, 999), 100);
	/* no float residue: 10% of 0.10 is exactly 0.01 */
	c.cap = -1;
	c.value = 1000;
	assert_int_equal(mbr_campaign_discount(&c, 10), 1);
	snprintf(c.type, sizeof(c.type), "threshold");
	c.value = 2000;
	c.min_spend = 10000;
	assert_int_equal(mbr_campaign_discount(&c, 9999), 0);
	assert_int_equal(mbr_campaign_discount(&c, 10000), 2000);
	snprintf(c.type, sizeof(c.type), "gift");
	c.min_spend = 0;
	assert_int_equal(mbr_campaign_discount(&c, 10000), 0);
}

static void test_issue_check_redeem(void **state)
{
	struct mbr_db *db = open_db();
	struct mbr_member a, b;
	struct mbr_coupon_use u;
	struct mbr_coupon k;
	char code[MBR_CODE_SZ], code2[MBR_CODE_SZ];

	(void)state;
	assert_int_equal(mbr_begin(db), MBR_OK);
	add_member(db, "A1", &a);
	add_member(db, "B1", &b);
	make_campaign(db, "TEN", "amount", 1000, 5000);
	assert_int_equal(mbr_coupon_issue(db, "TEN", &a, 0, code), MBR_OK);
	/* per-member limit 1 */
	assert_int_equal(mbr_coupon_issue(db, "TEN", &a, 0, code2), MBR_EINVAL);
	assert_int_equal(mbr_commit(db), MBR_OK);

	memset(&u, 0, sizeof(u));
	u.member = b.id;
	assert_int_equal(mbr_coupon_check(db, code, &u, &k), MBR_EINVAL);
	assert_non_null(strstr(mbr_db_errmsg(db), "other member"));
	u.member = a.id;
	u.has_amount = 1;
	u.amount = 4999;
	assert_int_equal(mbr_coupon_check(db, code, &u, &k), MBR_EINVAL);
	assert_non_null(strstr(mbr_db_errmsg(db), "below minimum"));
	u.amount = 5000;
	assert_int_equal(mbr_coupon_check(db, code, &u, &k), MBR_OK);
	assert_int_equal(k.discount, 1000);

	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_coupon_redeem(db, code, &u, 0, "R1", &k), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_coupon_redeem(db, code, &u, 0, "R2", &k), MBR_EINVAL);
	assert_non_null(strstr(mbr_db_errmsg(db), "used"));
	mbr_rollback(db);
	/* unknown and mistyped are told apart */
	assert_int_equal(mbr_coupon_check(db, "23456789ABCD", &u, &k), MBR_ENOTFOUND);
	memcpy(code2, code, sizeof(code2));
	code2[3] = code2[3] == 'Z' ? 'Y' : 'Z';
	assert_int_equal(mbr_coupon_check(db, code2, &u, &k), MBR_ENOTFOUND);
	assert_non_null(strstr(mbr_db_errmsg(db), "mistyped"));
	mbr_db_close(db);
}

static void test_void_and_expire(void **state)
{
	struct mbr_db *db = open_db();
	struct mbr_campaign c;
	struct mbr_member a;
	struct mbr_coupon_use u;
	char code[MBR_CODE_SZ], code2[MBR_CODE_SZ];
	long n;
	int64_t t;

	(void)state;
	assert_int_equal(mbr_begin(db), MBR_OK);
	add_member(db, "A1", &a);
	mbr_campaign_clear(&c);
	snprintf(c.code, sizeof(c.code), "JUNE");
	snprintf(c.type, sizeof(c.type), "percent");
	c.value = 1000;
	assert_int_equal(mbr_time_parse("2026-07-01", NULL, &c.valid_to), MBR_OK);
	assert_int_equal(mbr_campaign_create(db, &c), MBR_OK);
	assert_int_equal(mbr_coupon_issue(db, "JUNE", &a, 0, code), MBR_OK);
	assert_int_equal(mbr_coupon_issue(db, "JUNE", &a, 0, code2), MBR_OK);
	assert_int_equal(mbr_coupon_void(db, code2), MBR_OK);
	assert_int_equal(mbr_coupon_void(db, code2), MBR_EINVAL);
	assert_int_equal(mbr_time_parse("2026-06-30", NULL, &t), MBR_OK);
	assert_int_equal(mbr_coupon_expire(db, t, &n), MBR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(mbr_time_parse("2026-07-01", NULL, &t), MBR_OK);
	assert_int_equal(mbr_coupon_expire(db, t, &n), MBR_OK);
	assert_int_equal(n, 1);		/* the voided one stays voided */
	assert_int_equal(mbr_coupon_expire(db, t, &n), MBR_OK);
	assert_int_equal(n, 0);		/* idempotent */
	assert_int_equal(mbr_commit(db), MBR_OK);
	memset(&u, 0, sizeof(u));
	assert_int_equal(mbr_coupon_check(db, code, &u, NULL), MBR_EINVAL);
	assert_non_null(strstr(mbr_db_errmsg(db), "expired"));
	assert_int_equal(mbr_coupon_check(db, code2, &u, NULL), MBR_EINVAL);
	assert_non_null(strstr(mbr_db_errmsg(db), "voided"));
	mbr_db_close(db);
}

/* A campaign changed from gift to another type keeps no gift SKU, and
 * one made a gift takes no money off, whatever value it had. */
static void test_update_type(void **state)
{
	struct mbr_db *db = open_db();
	struct mbr_campaign c;
	struct mbr_member a;
	struct mbr_coupon_use u;
	struct mbr_coupon k;
	char code[MBR_CODE_SZ];

	(void)state;
	assert_int_equal(mbr_begin(db), MBR_OK);
	add_member(db, "A1", &a);
	make_campaign(db, "G", "gift", 0, 0);
	assert_int_equal(mbr_campaign_get(db, "G", &c), MBR_OK);
	snprintf(c.type, sizeof(c.type), "percent");
	c.value = 1000;
	assert_int_equal(mbr_campaign_update(db, &c), MBR_OK);
	assert_int_equal(mbr_campaign_get(db, "G", &c), MBR_OK);
	assert_string_equal(c.gift_sku, "");
	assert_int_equal(mbr_coupon_issue(db, "G", &a, 0, code), MBR_OK);
	memset(&u, 0, sizeof(u));
	u.has_amount = 1;
	u.amount = 5000;
	assert_int_equal(mbr_coupon_check(db, code, &u, &k), MBR_OK);
	assert_int_equal(k.discount, 500);
	assert_string_equal(k.gift_sku, "");
	/* and back to a gift: no money off, though the value was 10% */
	snprintf(c.type, sizeof(c.type), "gift");
	snprintf(c.gift_sku, sizeof(c.gift_sku), "C301");
	assert_int_equal(mbr_campaign_update(db, &c), MBR_OK);
	assert_int_equal(mbr_campaign_get(db, "G", &c), MBR_OK);
	assert_int_equal(c.value, 0);
	assert_int_equal(mbr_coupon_check(db, code, &u, &k), MBR_OK);
	assert_int_equal(k.discount, 0);
	assert_string_equal(k.gift_sku, "C301");
	assert_int_equal(mbr_commit(db), MBR_OK);
	mbr_db_close(db);
}

/* Several processes redeem one code at the same moment: exactly one wins. */
static void test_concurrent_redeem(void **state)
{
	struct mbr_db *db = open_db();
	struct mbr_member a;
	char code[MBR_CODE_SZ];
	pid_t pids[6];
	int i, won = 0, status;

	(void)state;
	assert_int_equal(mbr_begin(db), MBR_OK);
	add_member(db, "A1", &a);
	make_campaign(db, "ONCE", "amount", 500, 0);
	assert_int_equal(mbr_coupon_issue(db, "ONCE", &a, 0, code), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	mbr_db_close(db);
	for (i = 0; i < 6; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct mbr_db *d;
			struct mbr_coupon_use u;
			int rc;

			if (mbr_db_open(path, MBR_OPEN_RW, "test", &d) < 0 || mbr_begin(d) < 0)
				_exit(3);
			memset(&u, 0, sizeof(u));
			u.has_amount = 1;
			u.amount = 1000;
			rc = mbr_coupon_redeem(d, code, &u, 0, "R", NULL);
			if (rc == 0)
				rc = mbr_commit(d);
			else
				mbr_rollback(d);
			mbr_db_close(d);
			_exit(rc == 0 ? 0 : rc == MBR_EINVAL ? 1 : 2);
		}
	}
	for (i = 0; i < 6; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_true(WEXITSTATUS(status) <= 1);	/* no "database is locked" */
		won += WEXITSTATUS(status) == 0;
	}
	assert_int_equal(won, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_character),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_discounts),
		cmocka_unit_test_setup_teardown(test_issue_check_redeem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_void_and_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_redeem, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
