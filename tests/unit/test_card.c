/*
 * test_card.c - unit tests for lib/card.c, prepaid value: members' stored
 * value (储值), gift cards and count cards (次卡), and the settlement
 * between stores.  Each test is a mistake that prepaid systems make: a
 * top-up bonus one fen off its threshold, a spend that takes more bonus
 * than there is, pro-rata rounding that drifts over many small spends, a
 * payout that pays back bonus (or pays twice), frozen, void or expired
 * accounts that can still be spent, a count-card refund that rounds up,
 * settlement that credits the wrong store, and returns that turn bonus
 * into principal.
 *
 * Every test runs in a fresh temporary directory with MBR_KEY unset,
 * MBR_OPERATOR "tester" (the admin who ran init) and MBR_NOW pinned, and
 * proves the database sound with mbr_db_check after each scenario.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "internal.h"
#include "harness.h"
#include "banned.h"

/* input lines are written { store, receipt, ts, ... } leaving the rest out */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define NOW "2025-07-01T02:00:00Z"	/* 10:00 in Shanghai, a Tuesday */

/* 充值满500送30, 满1000送100 */
#define RULES "effective 2025-01-01\nbase 1 per 1.00\nredeem 100 = 1.00\n" \
	      "topup 500 bonus 30\ntopup 1000 bonus 100\n"

static int setup(void **state)
{
	(void)state;
	return harness_setup("card", NOW);
}

/* The database of harness.h with a second store, S02. */
static struct mbr_db *new_db2(void)
{
	struct mbr_db *db = new_db();

	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_store_add(db, "S02", "second shop"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	return db;
}

static struct mbr_sv sv_of(struct mbr_db *db, const struct mbr_sv_account *a)
{
	struct mbr_sv s = { -12345, -12345 };

	if (mbr_sv_balance(db, a, &s) != MBR_OK)
		fail_msg("balance: %s", mbr_db_errmsg(db));
	return s;
}

#define assert_sv(db, a, p, b) do { \
		struct mbr_sv s_ = sv_of(db, a); \
		if (s_.principal != (p) || s_.bonus != (b)) \
			fail_msg("balance %lld+%lld, want %lld+%lld", (long long)s_.principal, (long long)s_.bonus, \
				 (long long)(p), (long long)(b)); \
	} while (0)

/* Top up in a transaction of its own; returns what was added. */
static struct mbr_sv topup(struct mbr_db *db, const struct mbr_sv_account *a, int64_t amount, const char *store)
{
	struct mbr_sv added = { -1, -1 };

	assert_int_equal(mbr_begin(db), MBR_OK);
	if (mbr_sv_topup(db, a, amount, "cash", store, &added) != MBR_OK)
		fail_msg("topup %lld: %s", (long long)amount, mbr_db_errmsg(db));
	assert_int_equal(mbr_commit(db), MBR_OK);
	return added;
}

/* Spend in a transaction of its own: the code, and what was used. */
static int spend(struct mbr_db *db, const struct mbr_sv_account *a, int64_t amount, const char *store,
		 struct mbr_sv *used)
{
	int rc;

	assert_int_equal(mbr_begin(db), MBR_OK);
	rc = mbr_sv_spend(db, a, amount, 0, store, 0, "test", used);
	if (rc == MBR_OK)
		assert_int_equal(mbr_commit(db), MBR_OK);
	else
		mbr_rollback(db);
	return rc;
}

static int payout(struct mbr_db *db, const struct mbr_sv_account *a, int64_t topup_id, struct mbr_sv *paid)
{
	int rc;

	assert_int_equal(mbr_begin(db), MBR_OK);
	rc = mbr_sv_payout(db, a, topup_id, "cash", paid);
	if (rc == MBR_OK)
		assert_int_equal(mbr_commit(db), MBR_OK);
	else
		mbr_rollback(db);
	return rc;
}

static int adjust(struct mbr_db *db, const struct mbr_sv_account *a, int64_t p, int64_t b, const char *reason)
{
	int rc;

	assert_int_equal(mbr_begin(db), MBR_OK);
	rc = mbr_sv_adjust(db, a, p, b, reason);
	if (rc == MBR_OK)
		assert_int_equal(mbr_commit(db), MBR_OK);
	else
		mbr_rollback(db);
	return rc;
}

static void freeze(struct mbr_db *db, const struct mbr_sv_account *a, int frozen)
{
	assert_int_equal(mbr_begin(db), MBR_OK);
	if (mbr_sv_freeze(db, a, frozen) != MBR_OK)
		fail_msg("freeze %d: %s", frozen, mbr_db_errmsg(db));
	assert_int_equal(mbr_commit(db), MBR_OK);
}

static int64_t ledger_rows(struct mbr_db *db)
{
	return qi(db, "SELECT COUNT(*) FROM sv_ledger");
}

/* ------------------------------------------------------------- imports */

/* One input line; NULL = the file has no such column. */
struct ln {
	const char *store, *receipt, *ts, *member, *sku, *qty, *price, *discount, *payment, *original;
};

/* Import lines as one batch in one transaction (committed); rejected
 * receipts' messages land in err.  Returns the import's status. */
static int import(struct mbr_db *db, const struct ln *lines, size_t n, struct errors *err)
{
	struct mbr_sale_opts o = { .error = on_error, .ctx = err };
	struct mbr_sale_import *im = NULL;
	struct mbr_sale_stats st;
	size_t i;
	int rc;

	err->n = 0;
	mbr_buf_reset(&err->all);
	assert_int_equal(mbr_begin(db), MBR_OK);
	rc = mbr_sale_import_begin(db, &o, "sales.csv", &im);
	for (i = 0; i < n && rc == 0; i++) {
		const char *v[MBR_S_COUNT] = { 0 };

		v[MBR_S_STORE] = lines[i].store ? lines[i].store : "S01";
		v[MBR_S_RECEIPT] = lines[i].receipt;
		v[MBR_S_TS] = lines[i].ts;
		v[MBR_S_MEMBER] = lines[i].member;
		v[MBR_S_SKU] = lines[i].sku ? lines[i].sku : "SKU1";
		v[MBR_S_QTY] = lines[i].qty ? lines[i].qty : "1";
		v[MBR_S_UNIT_PRICE] = lines[i].price;
		v[MBR_S_DISCOUNT] = lines[i].discount;
		v[MBR_S_PAYMENT] = lines[i].payment;
		v[MBR_S_ORIGINAL] = lines[i].original;
		rc = mbr_sale_line(im, v, "sales.csv", (long)i + 2, NULL, 0);
	}
	if (rc == 0)
		rc = mbr_sale_import_end(im, &st);
	mbr_sale_import_free(im);
	if (rc == 0)
		assert_int_equal(mbr_commit(db), MBR_OK);
	else
		mbr_rollback(db);
	return rc;
}

#define IMPORT(db, err, ...) do { \
		static const struct ln lines_[] = { __VA_ARGS__ }; \
		int rc_ = import(db, lines_, sizeof(lines_) / sizeof(lines_[0]), err); \
		if (rc_ != MBR_OK) \
			fail_msg("import %d: %s", rc_, mbr_db_errmsg(db)); \
	} while (0)

#define IMPORT_OK(db, err, ...) do { \
		IMPORT(db, err, __VA_ARGS__); \
		if ((err)->n) \
			fail_msg("rejected: %s", (err)->all.buf); \
	} while (0)

/* The import must reject exactly one receipt, with want in its message. */
#define IMPORT_REJECTED(db, err, want, ...) do { \
		IMPORT(db, err, __VA_ARGS__); \
		if ((err)->n != 1 || !strstr((err)->all.buf, want)) \
			fail_msg("want one rejection with '%s', got %d: %s", want, (err)->n, (err)->all.buf); \
	} while (0)

#define T1 "2025-06-10 10:00"
#define T2 "2025-06-11 10:00"
#define T3 "2025-06-12 10:00"

/* -------------------------------------------------------------- top-ups */

/* 充值满500送30, 满1000送100: the highest minimum reached wins, and one
 * fen short of a threshold is the tier below. */
static void test_topup_bonus_tiers(void **state)
{
	static const struct { int64_t amount, bonus; } cases[] = {
		{ 49999, 0 }, { 50000, 3000 }, { 99999, 3000 }, { 100000, 10000 }, { 500000, 10000 }, { 1, 0 },
	};
	struct mbr_db *db = new_db2();
	struct mbr_sv_account a = { 0, NULL };
	int64_t want_p = 0, want_b = 0;
	size_t i;

	(void)state;
	load_rules(db, RULES);
	a.member = add_member(db, "M001", NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mbr_sv got = topup(db, &a, cases[i].amount, NULL);

		if (got.principal != cases[i].amount || got.bonus != cases[i].bonus)
			fail_msg("top-up %lld: added %lld+%lld, want %lld+%lld", (long long)cases[i].amount,
				 (long long)got.principal, (long long)got.bonus, (long long)cases[i].amount,
				 (long long)cases[i].bonus);
		want_p += cases[i].amount;
		want_b += cases[i].bonus;
		assert_sv(db, &a, want_p, want_b);
	}
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sv_ledger WHERE kind = 'topup' AND member = %lld",
			    (long long)a.member), 6);
	/* zero, negative and points/stored_value top-ups are refused, nothing written */
	{
		int64_t rows = ledger_rows(db);
		struct mbr_sv added;

		assert_int_equal(mbr_begin(db), MBR_OK);
		assert_int_equal(mbr_sv_topup(db, &a, 0, "cash", NULL, &added), MBR_EINVAL);
		assert_int_equal(mbr_sv_topup(db, &a, -100, "cash", NULL, &added), MBR_EINVAL);
		assert_int_equal(mbr_sv_topup(db, &a, 100, "points", NULL, &added), MBR_EINVAL);
		assert_int_equal(mbr_sv_topup(db, &a, 100, "stored_value", NULL, &added), MBR_EINVAL);
		assert_int_equal(mbr_sv_topup(db, &a, 100, "bitcoin", NULL, &added), MBR_EINVAL);
		mbr_rollback(db);
		assert_int_equal(ledger_rows(db), rows);
	}
	assert_sound(db);
	mbr_db_close(db);
}

/* A rule limited to dates gives nothing outside them (NOW is 2025-07-01),
 * its bonus inside them (both ends included), and the highest minimum
 * reached wins even when its bonus is smaller. */
static void test_topup_bonus_dates(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_sv_account a = { 0, NULL };
	struct mbr_rules r;
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_sv got;
	int64_t may15 = mbr_local_day(local("2025-05-15 12:00")), jun30 = mbr_local_day(local("2025-06-30 12:00"));
	int64_t jul1 = mbr_local_day(local("2025-07-01 12:00")), jul31 = mbr_local_day(local("2025-07-31 23:59"));
	int64_t aug1 = mbr_local_day(local("2025-08-01 00:00"));
	static const char text[] =
		"effective 2025-01-01\n"
		"topup 100 bonus 50 from 2025-05-01 to 2025-05-31\n"	/* May only: over */
		"topup 200 bonus 40 from 2025-07-01 to 2025-07-31\n"	/* July only: today */
		"topup 500 bonus 30\n";

	(void)state;
	mbr_rules_default(&r);
	if (mbr_rules_parse(text, 2, &r, &err) != MBR_OK)
		fail_msg("parse: %s", err.buf);
	assert_int_equal(r.ntopups, 3);
	assert_int_equal(mbr_rules_topup_bonus(&r, 10000, may15), 5000);
	assert_int_equal(mbr_rules_topup_bonus(&r, 10000, jul1), 0);
	assert_int_equal(mbr_rules_topup_bonus(&r, 20000, jun30), 0);
	assert_int_equal(mbr_rules_topup_bonus(&r, 20000, jul1), 4000);
	assert_int_equal(mbr_rules_topup_bonus(&r, 20000, jul31), 4000);
	assert_int_equal(mbr_rules_topup_bonus(&r, 20000, aug1), 0);
	assert_int_equal(mbr_rules_topup_bonus(&r, 50000, jul1), 3000);	/* highest minimum, not highest bonus */
	assert_int_equal(mbr_rules_topup_bonus(&r, 50000, may15), 3000);
	assert_int_equal(mbr_rules_topup_bonus(&r, 9999, may15), 0);
	/* malformed directives are refused with their line */
	{
		static const char *const bad[] = {
			"effective 2025-01-01\ntopup 0 bonus 5\n", "effective 2025-01-01\ntopup 100 bonus -5\n",
			"effective 2025-01-01\ntopup 100 give 5\n", "effective 2025-01-01\ntopup 100 bonus 5 from\n",
			"effective 2025-01-01\ntopup 100 bonus 5 to 2025-01-01 from 2025-02-01\n",
			"effective 2025-01-01\ntopup 100 bonus 5 until 2025-01-01\n",
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			mbr_buf_reset(&err);
			mbr_rules_default(&r);
			if (mbr_rules_parse(bad[i], 2, &r, &err) != MBR_EINVAL || strncmp(err.buf, "2: ", 3))
				fail_msg("accepted or unlocated: '%s' -> '%s'", bad[i], err.buf);
		}
	}
	/* the same through the database on 2025-07-01 */
	load_rules(db, text);
	a.member = add_member(db, "M001", NULL);
	got = topup(db, &a, 10000, NULL);
	assert_int_equal(got.bonus, 0);
	got = topup(db, &a, 20000, NULL);
	assert_int_equal(got.bonus, 4000);
	got = topup(db, &a, 50000, NULL);
	assert_int_equal(got.bonus, 3000);
	assert_sv(db, &a, 80000, 7000);
	/* gift cards are loaded at face value: no bonus */
	{
		struct mbr_gift g;
		struct mbr_sv_account ga = { 0, NULL };
		char code[MBR_CODE_SZ];

		assert_int_equal(mbr_begin(db), MBR_OK);
		assert_int_equal(mbr_gift_create(db, 1, 1000, 0, 0, NULL, NULL), MBR_OK);
		assert_int_equal(mbr_commit(db), MBR_OK);
		mbr_copy(code, sizeof(code), "");
		{
			sqlite3_stmt *st;
			assert_int_equal(sqlite3_prepare_v2(db->sql, "SELECT code FROM gift_cards", -1, &st, NULL), SQLITE_OK);
			assert_int_equal(sqlite3_step(st), SQLITE_ROW);
			mbr_copy(code, sizeof(code), (const char *)sqlite3_column_text(st, 0));
			sqlite3_finalize(st);
		}
		ga.gift = code;
		got = topup(db, &ga, 100000, NULL);
		assert_int_equal(got.bonus, 0);
		assert_int_equal(mbr_gift_get(db, code, &g), MBR_OK);
		assert_int_equal(g.balance.principal, 101000);
		assert_int_equal(g.balance.bonus, 0);
	}
	assert_sound(db);
	mbr_buf_release(&err);
	mbr_db_close(db);
}

/* ------------------------------------------------------------- spending */

/* Pro rata at the edges: P=1000.00, B=100.00. */
static void test_spend_pro_rata_edges(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_sv_account a = { 0, NULL }, b = { 0, NULL };
	struct mbr_sv used;
	int64_t rows;

	(void)state;
	load_rules(db, RULES);
	a.member = add_member(db, "M001", NULL);
	b.member = add_member(db, "M002", NULL);
	topup(db, &a, 100000, NULL);
	assert_sv(db, &a, 100000, 10000);

	/* 0.01: floor(1 * 100000 / 110000) = 0 principal, the fen is bonus */
	assert_int_equal(spend(db, &a, 1, NULL, &used), MBR_OK);
	assert_int_equal(used.principal, 0);
	assert_int_equal(used.bonus, 1);
	assert_sv(db, &a, 100000, 9999);
	/* 11.00: floor(1100 * 100000 / 109999) = 1000, bonus 100 */
	assert_int_equal(spend(db, &a, 1100, NULL, &used), MBR_OK);
	assert_int_equal(used.principal, 1000);
	assert_int_equal(used.bonus, 100);
	assert_sv(db, &a, 99000, 9899);

	/* the whole 1100.00 of a fresh account takes exactly 1000 and 100 */
	topup(db, &b, 100000, NULL);
	rows = ledger_rows(db);
	/* one fen more than the balance: refused, nothing written */
	assert_int_equal(spend(db, &b, 110001, NULL, &used), MBR_EINVAL);
	if (!strstr(mbr_db_errmsg(db), "1100.00"))
		fail_msg("message does not give the balance: %s", mbr_db_errmsg(db));
	assert_int_equal(spend(db, &b, 0, NULL, &used), MBR_EINVAL);
	assert_int_equal(spend(db, &b, -5, NULL, &used), MBR_EINVAL);
	assert_int_equal(ledger_rows(db), rows);
	assert_sv(db, &b, 100000, 10000);
	assert_int_equal(spend(db, &b, 110000, NULL, &used), MBR_OK);
	assert_int_equal(used.principal, 100000);
	assert_int_equal(used.bonus, 10000);
	assert_sv(db, &b, 0, 0);
	/* an empty account spends nothing (and does not divide by zero) */
	assert_int_equal(spend(db, &b, 1, NULL, &used), MBR_EINVAL);
	assert_sv(db, &b, 0, 0);
	assert_sound(db);
	mbr_db_close(db);
}

/* Many small random spends: never below zero, parts add up to the spends,
 * and the account empties to exactly 0+0. */
static void test_spend_many_small(void **state)
{
	static const int64_t accounts[][2] = { { 100000, 10000 }, { 99999, 7777 }, { 123, 45678 }, { 50000, 0 } };
	struct mbr_db *db = new_db2();
	uint32_t seed = 20250701;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(accounts) / sizeof(accounts[0]); k++) {
		struct mbr_sv_account a = { 0, NULL };
		char no[16];
		int64_t sum = 0, sum_p = 0, sum_b = 0, spends = 0;
		struct mbr_sv bal;

		snprintf(no, sizeof(no), "M%03zu", k + 1);
		a.member = add_member(db, no, NULL);
		/* the starting balance through an adjustment: any P/B mix */
		assert_int_equal(adjust(db, &a, accounts[k][0], accounts[k][1], "opening balance"), MBR_OK);
		assert_int_equal(mbr_begin(db), MBR_OK);
		for (;;) {
			struct mbr_sv used;
			int64_t amount;

			bal = sv_of(db, &a);
			if (bal.principal + bal.bonus == 0)
				break;
			if (spends == 1000)
				fail_msg("account %zu not empty after 1000 spends", k);
			seed = seed * 1103515245u + 12345u;
			amount = 1 + (int64_t)((seed >> 8) % 500);
			if (amount > bal.principal + bal.bonus)
				amount = bal.principal + bal.bonus;
			if (mbr_sv_spend(db, &a, amount, 0, NULL, 0, "r", &used) != MBR_OK)
				fail_msg("spend %lld of %lld+%lld: %s", (long long)amount, (long long)bal.principal,
					 (long long)bal.bonus, mbr_db_errmsg(db));
			spends++;
			if (used.principal < 0 || used.bonus < 0 || used.principal + used.bonus != amount ||
			    used.principal > bal.principal || used.bonus > bal.bonus)
				fail_msg("spend %lld of %lld+%lld used %lld+%lld", (long long)amount,
					 (long long)bal.principal, (long long)bal.bonus, (long long)used.principal,
					 (long long)used.bonus);
			sum += amount;
			sum_p += used.principal;
			sum_b += used.bonus;
		}
		assert_int_equal(mbr_commit(db), MBR_OK);
		assert_int_equal(sum, accounts[k][0] + accounts[k][1]);
		assert_int_equal(sum_p, accounts[k][0]);
		assert_int_equal(sum_b, accounts[k][1]);
		assert_int_equal(qi(db, "SELECT -SUM(principal) FROM sv_ledger WHERE member = %lld AND kind = 'spend'",
				    (long long)a.member), sum_p);
		assert_int_equal(qi(db, "SELECT COUNT(*) FROM sv_ledger WHERE member = %lld AND kind = 'spend'",
				    (long long)a.member), spends);
		assert_sv(db, &a, 0, 0);
	}
	assert_sound(db);
	mbr_db_close(db);
}

/* --------------------------------------------------------------- payouts */

static int64_t topup_id(struct mbr_db *db, int64_t member, int nth)
{
	return qi(db, "SELECT id FROM sv_ledger WHERE member = %lld AND kind = 'topup' ORDER BY id LIMIT 1 OFFSET %d",
		  (long long)member, nth);
}

/*
 * Two top-ups (1000 -> bonus 100, then 500 -> bonus 30), a spend of
 * 550.00 (P=1500, B=130: principal floor(55000*150000/163000) = 50613,
 * bonus 4387), taken first in, first out from the first top-up.  A payout
 * of the first pays back its unspent principal 1000.00 - 506.13 = 493.87
 * and forfeits its unspent bonus 100.00 - 43.87 = 56.13; the second is
 * untouched; a second payout of the first finds nothing left.
 */
static void test_payout_one_topup(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_sv_account a = { 0, NULL };
	struct mbr_sv used, paid;
	int64_t t1, t2, rows;

	(void)state;
	load_rules(db, RULES);
	a.member = add_member(db, "M001", NULL);
	topup(db, &a, 100000, NULL);
	topup(db, &a, 50000, NULL);
	t1 = topup_id(db, a.member, 0);
	t2 = topup_id(db, a.member, 1);
	assert_int_equal(spend(db, &a, 55000, NULL, &used), MBR_OK);
	assert_int_equal(used.principal, 50613);
	assert_int_equal(used.bonus, 4387);

	assert_int_equal(payout(db, &a, t1, &paid), MBR_OK);
	assert_int_equal(paid.principal, 49387);
	assert_int_equal(paid.bonus, 5613);
	assert_sv(db, &a, 50000, 3000);
	assert_int_equal(qi(db, "SELECT principal FROM sv_ledger WHERE kind = 'payout' AND topup = %lld", (long long)t1),
			 -49387);
	assert_int_equal(qi(db, "SELECT bonus FROM sv_ledger WHERE kind = 'forfeit' AND topup = %lld", (long long)t1),
			 -5613);
	assert_int_equal(qi(db, "SELECT principal FROM sv_ledger WHERE kind = 'forfeit' AND topup = %lld", (long long)t1),
			 0);
	assert_sound(db);

	/* twice: nothing left, nothing written */
	rows = ledger_rows(db);
	assert_int_equal(payout(db, &a, t1, &paid), MBR_EINVAL);
	if (!strstr(mbr_db_errmsg(db), "nothing left"))
		fail_msg("second payout: %s", mbr_db_errmsg(db));
	assert_int_equal(ledger_rows(db), rows);
	/* a ledger entry that is not a top-up of this account */
	assert_int_equal(payout(db, &a, 999999, &paid), MBR_ENOTFOUND);
	assert_int_equal(ledger_rows(db), rows);

	/* the second top-up is whole */
	assert_int_equal(payout(db, &a, t2, &paid), MBR_OK);
	assert_int_equal(paid.principal, 50000);
	assert_int_equal(paid.bonus, 3000);
	assert_sv(db, &a, 0, 0);
	assert_int_equal(payout(db, &a, 0, &paid), MBR_EINVAL);
	assert_sound(db);
	mbr_db_close(db);
}

/* Payout of all: every top-up's unspent principal, every unspent bonus
 * forfeited; paying out by points or stored value is refused. */
static void test_payout_all(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_sv_account a = { 0, NULL };
	struct mbr_sv used, paid;

	(void)state;
	load_rules(db, RULES);
	a.member = add_member(db, "M001", NULL);
	topup(db, &a, 100000, NULL);	/* 1000 + 100 */
	topup(db, &a, 50000, NULL);	/* 500 + 30 */
	/* 1200.00 of P=150000 B=13000: principal floor(120000*150000/163000) = 110429, bonus 9571;
	 * FIFO: lot 1 gives 100000 + 9571, lot 2 gives 10429 + 0 */
	assert_int_equal(spend(db, &a, 120000, NULL, &used), MBR_OK);
	assert_int_equal(used.principal, 110429);
	assert_int_equal(used.bonus, 9571);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_sv_payout(db, &a, 0, "points", &paid), MBR_EINVAL);
	assert_int_equal(mbr_sv_payout(db, &a, 0, "stored_value", &paid), MBR_EINVAL);
	mbr_rollback(db);
	assert_int_equal(payout(db, &a, 0, &paid), MBR_OK);
	assert_int_equal(paid.principal, 150000 - 110429);
	assert_int_equal(paid.bonus, 13000 - 9571);
	assert_sv(db, &a, 0, 0);
	/* lot 1's bonus remainder (429) and lot 2's bonus (3000) are two forfeits */
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sv_ledger WHERE kind = 'forfeit'"), 2);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sv_ledger WHERE kind = 'payout'"), 1);
	assert_int_equal(payout(db, &a, 0, &paid), MBR_EINVAL);
	if (!strstr(mbr_db_errmsg(db), "nothing left"))
		fail_msg("second payout: %s", mbr_db_errmsg(db));
	assert_sound(db);
	mbr_db_close(db);
}

/* ------------------------------------------------- frozen and adjustments */

static void test_frozen_account(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_sv_account a = { 0, NULL };
	struct mbr_sv used, added;
	int64_t rows;

	(void)state;
	load_rules(db, RULES);
	a.member = add_member(db, "M001", NULL);
	topup(db, &a, 10000, NULL);
	freeze(db, &a, 1);
	rows = ledger_rows(db);
	assert_int_equal(spend(db, &a, 100, NULL, &used), MBR_EINVAL);
	if (!strstr(mbr_db_errmsg(db), "frozen"))
		fail_msg("frozen spend: %s", mbr_db_errmsg(db));
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_sv_topup(db, &a, 100, "cash", NULL, &added), MBR_EINVAL);
	mbr_rollback(db);
	assert_int_equal(mbr_sv_usable(db, &a, 0), MBR_EINVAL);
	assert_int_equal(ledger_rows(db), rows);
	assert_sv(db, &a, 10000, 0);
	/* a sale paid with the frozen stored value is rejected whole */
	{
		struct errors e = errs_init();

		IMPORT_REJECTED(db, &e, "frozen", { "S01", "R1", T1, "M001", "A", "1", "10.00", NULL, "stored_value" });
		assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales"), 0);
		mbr_buf_release(&e.all);
	}
	freeze(db, &a, 0);
	assert_int_equal(spend(db, &a, 100, NULL, &used), MBR_OK);
	assert_sv(db, &a, 9900, 0);
	/* a frozen member (not just the stored value) cannot spend either */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_set_status(db, a.member, "frozen"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(spend(db, &a, 100, NULL, &used), MBR_EINVAL);
	assert_sv(db, &a, 9900, 0);
	assert_sound(db);
	mbr_db_close(db);
}

static void test_adjust(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_sv_account a = { 0, NULL };
	int64_t rows;

	(void)state;
	load_rules(db, RULES);
	a.member = add_member(db, "M001", NULL);
	topup(db, &a, 50000, NULL);		/* 500 + 30 */
	rows = ledger_rows(db);
	assert_int_equal(adjust(db, &a, -50001, 0, "typo"), MBR_EINVAL);
	if (!strstr(mbr_db_errmsg(db), "below zero"))
		fail_msg("adjust below zero: %s", mbr_db_errmsg(db));
	assert_int_equal(adjust(db, &a, 0, -3001, "typo"), MBR_EINVAL);
	assert_int_equal(adjust(db, &a, 100, 0, ""), MBR_EINVAL);
	assert_int_equal(adjust(db, &a, 100, 0, NULL), MBR_EINVAL);
	assert_int_equal(adjust(db, &a, 0, 0, "nothing"), MBR_EINVAL);
	assert_int_equal(ledger_rows(db), rows);
	assert_sv(db, &a, 50000, 3000);
	/* down to exactly zero is allowed */
	assert_int_equal(adjust(db, &a, -50000, -3000, "closing"), MBR_OK);
	assert_sv(db, &a, 0, 0);
	assert_int_equal(adjust(db, &a, 1234, 56, "goodwill"), MBR_OK);
	assert_sv(db, &a, 1234, 56);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM audit WHERE action = 'sv.adjust'"), 2);
	assert_sound(db);
	mbr_db_close(db);
}

/* ------------------------------------------------------------ gift cards */

struct codes {
	char code[16][MBR_CODE_SZ];
	int n;
};

static int collect_code(const char *code, void *ctx)
{
	struct codes *c = ctx;

	if (c->n < 16)
		mbr_copy(c->code[c->n], MBR_CODE_SZ, code);
	c->n++;
	return 0;
}

static void gift_create(struct mbr_db *db, long n, int64_t amount, int64_t expires_at, struct codes *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(mbr_begin(db), MBR_OK);
	if (mbr_gift_create(db, n, amount, expires_at, 0, collect_code, c) != MBR_OK)
		fail_msg("gift create: %s", mbr_db_errmsg(db));
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(c->n, n);
}

static void test_gift_cards(void **state)
{
	struct mbr_db *db = new_db2();
	struct codes c, old;
	struct mbr_gift g;
	struct mbr_sv used;
	struct errors e = errs_init();
	char lower[MBR_CODE_SZ], mistyped[MBR_CODE_SZ], pay[64];
	int i, j;

	(void)state;
	load_rules(db, RULES);
	gift_create(db, 8, 100000, 0, &c);	/* 1000.00 each: no top-up bonus on gift cards */
	for (i = 0; i < c.n; i++) {
		if (!mbr_coupon_code_ok(c.code[i]))
			fail_msg("gift code %s fails its check character", c.code[i]);
		for (j = 0; j < i; j++)
			if (!strcmp(c.code[i], c.code[j]))
				fail_msg("gift code %s twice", c.code[i]);
		assert_int_equal(mbr_gift_get(db, c.code[i], &g), MBR_OK);
		assert_int_equal(g.balance.principal, 100000);
		assert_int_equal(g.balance.bonus, 0);
		assert_string_equal(g.state, "active");
	}
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_gift_create(db, 1, 0, 0, 0, NULL, NULL), MBR_EINVAL);
	mbr_rollback(db);
	/* lower case and dashes are the same code */
	for (i = 0; c.code[0][i]; i++)
		lower[i] = (char)(c.code[0][i] >= 'A' && c.code[0][i] <= 'Z' ? c.code[0][i] + 32 : c.code[0][i]);
	lower[i] = '\0';
	assert_int_equal(mbr_gift_get(db, lower, &g), MBR_OK);
	assert_string_equal(g.code, c.code[0]);
	/* one character changed: mistyped, not merely unknown */
	mbr_copy(mistyped, sizeof(mistyped), c.code[0]);
	mistyped[3] = mistyped[3] == 'A' ? 'B' : 'A';
	if (!mbr_coupon_code_ok(mistyped)) {
		assert_int_equal(mbr_gift_get(db, mistyped, &g), MBR_ENOTFOUND);
		if (!strstr(mbr_db_errmsg(db), "mistyped"))
			fail_msg("mistyped gift code: %s", mbr_db_errmsg(db));
	}

	/* spend directly, and through a sale paid gift_card=CODE */
	{
		struct mbr_sv_account a = { 0, c.code[0] };

		assert_int_equal(spend(db, &a, 3000, NULL, &used), MBR_OK);
		assert_int_equal(used.principal, 3000);
		assert_int_equal(used.bonus, 0);
		assert_sv(db, &a, 97000, 0);
		assert_int_equal(spend(db, &a, 97001, NULL, &used), MBR_EINVAL);
	}
	{
		static struct ln l[1] = { { "S01", "R1", T1, NULL, "A", "2", "12.50", NULL, NULL } };

		snprintf(pay, sizeof(pay), "gift_card=%s", c.code[1]);
		l[0].payment = pay;
		assert_int_equal(import(db, l, 1, &e), MBR_OK);
		if (e.n)
			fail_msg("rejected: %s", e.all.buf);
		assert_int_equal(mbr_gift_get(db, c.code[1], &g), MBR_OK);
		assert_int_equal(g.balance.principal, 100000 - 2500);
		assert_int_equal(qi(db, "SELECT sv_principal FROM sales WHERE receipt = 'R1'"), 2500);
		assert_int_equal(qi(db, "SELECT amount FROM payments p JOIN sales s ON s.id = p.sale"
				    " WHERE s.receipt = 'R1' AND p.method = 'gift_card'"), 2500);
		/* more than the card holds: rejected whole */
		l[0].receipt = "R2";
		l[0].price = "500.00";
		assert_int_equal(import(db, l, 1, &e), MBR_OK);
		if (e.n != 1 || !strstr(e.all.buf, "holds"))
			fail_msg("want 'holds': %s", e.all.buf);
		/* split: gift card part and cash */
		l[0].receipt = "R3";
		l[0].price = "500.00";
		snprintf(pay, sizeof(pay), "gift_card=%s:900.00;cash", c.code[2]);
		assert_int_equal(import(db, l, 1, &e), MBR_OK);
		if (e.n)
			fail_msg("rejected: %s", e.all.buf);
		assert_int_equal(mbr_gift_get(db, c.code[2], &g), MBR_OK);
		assert_int_equal(g.balance.principal, 10000);
		assert_int_equal(qi(db, "SELECT amount FROM payments p JOIN sales s ON s.id = p.sale"
				    " WHERE s.receipt = 'R3' AND p.method = 'cash'"), 10000);
		/* void: refused */
		{
			char sql[128];

			snprintf(sql, sizeof(sql), "UPDATE gift_cards SET state = 'void' WHERE code = '%s'", c.code[3]);
			raw(db, sql);
		}
		{
			struct mbr_sv_account a = { 0, c.code[3] };

			assert_int_equal(mbr_sv_usable(db, &a, 0), MBR_EINVAL);
			assert_int_equal(spend(db, &a, 100, NULL, &used), MBR_EINVAL);
			assert_sv(db, &a, 100000, 0);
		}
		l[0].receipt = "R4";
		l[0].price = "1.00";
		snprintf(pay, sizeof(pay), "gift_card=%s", c.code[3]);
		assert_int_equal(import(db, l, 1, &e), MBR_OK);
		if (e.n != 1 || !strstr(e.all.buf, "void"))
			fail_msg("want 'void': %s", e.all.buf);
		/* frozen: refused, then usable again */
		{
			struct mbr_sv_account a = { 0, c.code[4] };

			freeze(db, &a, 1);
			assert_int_equal(spend(db, &a, 100, NULL, &used), MBR_EINVAL);
			freeze(db, &a, 0);
			assert_int_equal(spend(db, &a, 100, NULL, &used), MBR_OK);
		}
		/* unknown code */
		l[0].receipt = "R5";
		snprintf(pay, sizeof(pay), "gift_card=%s", "ZZZZZZZZZZZZ");
		assert_int_equal(import(db, l, 1, &e), MBR_OK);
		assert_int_equal(e.n, 1);
	}

	/* expired: a card that lapsed yesterday, at 2025-06-30 00:00 */
	gift_create(db, 1, 5000, local("2025-06-30 00:00"), &old);
	{
		struct mbr_sv_account a = { 0, old.code[0] };
		static struct ln l[1] = { { "S01", "R6", "2025-06-30 00:00", NULL, "A", "1", "1.00", NULL, NULL } };

		assert_int_equal(mbr_sv_usable(db, &a, 0), MBR_EINVAL);
		assert_int_equal(mbr_sv_usable(db, &a, local("2025-06-30 00:00")), MBR_EINVAL);
		assert_int_equal(mbr_sv_usable(db, &a, local("2025-06-30 00:00") - 1), MBR_OK);
		assert_int_equal(spend(db, &a, 100, NULL, &used), MBR_EINVAL);
		assert_sv(db, &a, 5000, 0);
		/* a sale at its expiry is refused; one the second before, loaded
		 * today (a nightly import of yesterday's sales), is paid */
		snprintf(pay, sizeof(pay), "gift_card=%s", old.code[0]);
		l[0].payment = pay;
		assert_int_equal(import(db, l, 1, &e), MBR_OK);
		if (e.n != 1 || !strstr(e.all.buf, "expired"))
			fail_msg("want 'expired': %s", e.all.buf);
		e.n = 0;
		l[0].ts = "2025-06-29 23:59:59";
		assert_int_equal(import(db, l, 1, &e), MBR_OK);
		if (e.n != 0)
			fail_msg("a sale before the expiry was refused: %s", e.all.buf);
		assert_sv(db, &a, 4900, 0);
	}
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales"), 3);	/* R1, R3 and R6 */
	assert_sound(db);
	/* tampering with a gift card's cached balance is found */
	{
		char sql[128];

		snprintf(sql, sizeof(sql), "UPDATE gift_cards SET principal = principal + 1 WHERE code = '%s'", c.code[5]);
		raw(db, sql);
		assert_unsound(db, c.code[5]);
	}
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/*
 * A gift card code as a cashier types it (lower case, in groups of four
 * with dashes) is the same card: mbr_gift_get accepts it, so a sale paid
 * gift_card=abcd-efgh-ijkl must be paid from that card, and a return
 * credited to it.
 */
static void test_gift_card_code_as_typed(void **state)
{
	struct mbr_db *db = new_db2();
	struct codes c;
	struct mbr_gift g;
	struct errors e = errs_init();
	char typed[MBR_CODE_SZ + 4], pay[64];
	static struct ln l[1] = { { "S01", "R1", T1, NULL, "A", "1", "10.00", NULL, NULL } };
	int i, k = 0, rc;

	(void)state;
	gift_create(db, 1, 5000, 0, &c);
	for (i = 0; c.code[0][i]; i++) {
		if (i && i % 4 == 0)
			typed[k++] = '-';
		typed[k++] = (char)(c.code[0][i] >= 'A' && c.code[0][i] <= 'Z' ? c.code[0][i] + 32 : c.code[0][i]);
	}
	typed[k] = '\0';
	assert_int_equal(mbr_gift_get(db, typed, &g), MBR_OK);
	assert_string_equal(g.code, c.code[0]);
	snprintf(pay, sizeof(pay), "gift_card=%s", typed);
	l[0].payment = pay;
	rc = import(db, l, 1, &e);
	if (rc != MBR_OK || e.n)
		fail_msg("sale paid '%s': import %d (%s), %d rejected: %s", pay, rc, rc ? mbr_db_errmsg(db) : "", e.n,
			 e.all.buf);
	assert_int_equal(mbr_gift_get(db, c.code[0], &g), MBR_OK);
	assert_int_equal(g.balance.principal, 4000);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* ----------------------------------------------------------- count cards */

static void count_sell(struct mbr_db *db, const struct mbr_member *m, const char *sku, int64_t uses, int64_t price,
		       char uid[40])
{
	assert_int_equal(mbr_begin(db), MBR_OK);
	if (mbr_count_sell(db, m, sku, uses, price, 0, NULL, "cash", uid) != MBR_OK)
		fail_msg("count sell: %s", mbr_db_errmsg(db));
	assert_int_equal(mbr_commit(db), MBR_OK);
}

static int count_refund(struct mbr_db *db, const char *uid, int64_t *back)
{
	const char *method = "cash";
	int rc;

	assert_int_equal(mbr_begin(db), MBR_OK);
	rc = mbr_count_refund(db, uid, &method, back);
	if (rc == MBR_OK)
		assert_int_equal(mbr_commit(db), MBR_OK);
	else
		mbr_rollback(db);
	return rc;
}

/* 10 washes for 15.00; a sale of 3 washes uses the card (line amount 0,
 * discount 3 x price); the refund of the 7 left is 7 x 15.00 / 10 = 10.50. */
static void test_count_card(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_member m;
	struct errors e = errs_init();
	char uid[40];
	int64_t back = -1, avail = -1;

	(void)state;
	load_rules(db, RULES);
	add_member(db, "M001", &m);
	count_sell(db, &m, "WASH", 10, 1500, uid);
	assert_int_equal(qi(db, "SELECT uses_left FROM count_cards WHERE uid = '%s'", uid), 10);
	assert_int_equal(mbr_count_available(db, m.id, "WASH", local(T1), &avail), MBR_OK);
	assert_int_equal(avail, 10);

	IMPORT_OK(db, &e, { "S01", "R1", T1, "M001", "WASH", "3", "5.00" }, { "S01", "R1", T1, "M001", "SOAP", "1", "2.00" });
	assert_int_equal(qi(db, "SELECT amount FROM sale_lines WHERE sku = 'WASH'"), 0);
	assert_int_equal(qi(db, "SELECT discount FROM sale_lines WHERE sku = 'WASH'"), 1500);
	assert_int_equal(qi(db, "SELECT total FROM sales WHERE receipt = 'R1'"), 200);
	assert_int_equal(qi(db, "SELECT uses_left FROM count_cards WHERE uid = '%s'", uid), 7);
	assert_int_equal(qi(db, "SELECT -SUM(uses) FROM count_card_ledger WHERE kind = 'use'"), 3);
	assert_sound(db);

	/* a return gives a WASH paid with a use back as a use, not money;
	 * returning the SOAP pays back its 2.00 and leaves the card alone;
	 * a fourth WASH was never sold */
	IMPORT_OK(db, &e, { "S01", "X1", T2, "M001", "WASH", "-1", "5.00", NULL, NULL, "R1" });
	assert_int_equal(qi(db, "SELECT total FROM sales WHERE receipt = 'X1'"), 0);
	assert_int_equal(qi(db, "SELECT uses_left FROM count_cards WHERE uid = '%s'", uid), 8);
	IMPORT_OK(db, &e, { "S01", "X2", T2, "M001", "SOAP", "-1", "2.00", NULL, NULL, "R1" });
	assert_int_equal(qi(db, "SELECT total FROM sales WHERE receipt = 'X2'"), -200);
	assert_int_equal(qi(db, "SELECT uses_left FROM count_cards WHERE uid = '%s'", uid), 8);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM count_card_ledger"), 3);	/* sell, use, give back */
	IMPORT_REJECTED(db, &e, "exceeds", { "S01", "X3", T2, "M001", "WASH", "-3", "5.00", NULL, NULL, "R1" });
	assert_sound(db);

	assert_int_equal(count_refund(db, uid, &back), MBR_OK);
	assert_int_equal(back, 1200);
	assert_int_equal(qi(db, "SELECT uses_left FROM count_cards WHERE uid = '%s'", uid), 0);
	assert_int_equal(qi(db, "SELECT amount FROM count_card_ledger WHERE kind = 'refund'"), -1200);
	/* twice: refused */
	assert_int_equal(count_refund(db, uid, &back), MBR_EINVAL);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM count_card_ledger WHERE kind = 'refund'"), 1);
	/* after the refund a WASH is paid with money again */
	IMPORT_OK(db, &e, { "S01", "R2", T3, "M001", "WASH", "1", "5.00" });
	assert_int_equal(qi(db, "SELECT total FROM sales WHERE receipt = 'R2'"), 500);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* Where rounding matters: 3 uses for 10.00, one used, the refund of two is
 * floor(2 * 1000 / 3) = 666, never 667. */
static void test_count_card_rounding(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_member m;
	char uid[40], uid2[40];
	int64_t back = -1;

	(void)state;
	add_member(db, "M001", &m);
	count_sell(db, &m, "MASSAGE", 3, 1000, uid);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_count_use(db, m.id, "MASSAGE", 1, 0, NULL, mbr_now()), MBR_OK);
	/* more uses than are left: refused */
	assert_int_equal(mbr_count_use(db, m.id, "MASSAGE", 3, 0, NULL, mbr_now()), MBR_EINVAL);
	mbr_rollback(db);
	assert_int_equal(qi(db, "SELECT uses_left FROM count_cards WHERE uid = '%s'", uid), 3);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_count_use(db, m.id, "MASSAGE", 1, 0, NULL, mbr_now()), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(count_refund(db, uid, &back), MBR_OK);
	assert_int_equal(back, 666);
	/* a card used up has nothing to refund */
	count_sell(db, &m, "MASSAGE", 1, 1000, uid2);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_count_use(db, m.id, "MASSAGE", 1, 0, NULL, mbr_now()), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(count_refund(db, uid2, &back), MBR_EINVAL);
	assert_sound(db);
	/* tampering with the cached uses is found */
	count_sell(db, &m, "MASSAGE", 5, 1000, uid2);
	raw(db, "UPDATE count_cards SET uses_left = uses_left + 1 WHERE uses = 5");
	assert_unsound(db, "count card");
	mbr_db_close(db);
}

/* ------------------------------------------------------------ settlement */

static int collect_row(const char *const *v, void *ctx)
{
	struct mbr_buf *b = ctx;
	int i;

	for (i = 0; i < MBR_SETTLEMENT_NCOLS; i++) {
		if (i)
			mbr_buf_addc(b, ',');
		mbr_buf_adds(b, v[i]);
	}
	mbr_buf_addc(b, '\n');
	return 0;
}

static void settlement(struct mbr_db *db, int64_t from, int64_t to, struct mbr_buf *b)
{
	mbr_buf_reset(b);
	if (mbr_report_settlement(db, from, to, collect_row, b) != MBR_OK)
		fail_msg("settlement: %s", mbr_db_errmsg(db));
}

/*
 * Top up 1000 (+100) at S01 and 500 (+30) at S02; spend 1200.00 at S02
 * (principal 1104.29, bonus 95.71).  First in, first out: S01's top-up
 * gives all its 1000.00 of principal and 95.71 of bonus, S02's own money
 * pays the rest and is not settlement.  Points earned at S01 (100) and 50
 * of them redeemed at S02 through a points payment: S01->S02 50 points.
 */
static void test_settlement(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_sv_account a = { 0, NULL };
	struct errors e = errs_init();
	struct mbr_buf b = MBR_BUF_INIT;
	int64_t d1 = mbr_local_day(local(T1)), d2 = mbr_local_day(local(T2)), d3 = mbr_local_day(local(T3));

	(void)state;
	load_rules(db, RULES);
	a.member = add_member(db, "M001", NULL);
	add_member(db, "M002", NULL);
	topup(db, &a, 100000, "S01");
	topup(db, &a, 50000, "S02");
	settlement(db, INT32_MIN, INT32_MAX, &b);
	assert_string_equal(b.buf, "");

	IMPORT_OK(db, &e, { "S02", "R1", T2, "M001", "A", "1", "1200.00", NULL, "stored_value" });
	assert_int_equal(qi(db, "SELECT sv_principal FROM sales WHERE receipt = 'R1'"), 110429);
	assert_int_equal(qi(db, "SELECT sv_bonus FROM sales WHERE receipt = 'R1'"), 9571);
	settlement(db, INT32_MIN, INT32_MAX, &b);
	assert_string_equal(b.buf, "S01,S02,1095.71,1000.00,95.71,0,0,0.00\n");

	/* points: 100 earned at S01 by M002, 50 redeemed at S02 */
	IMPORT_OK(db, &e, { "S01", "P1", T1, "M002", "A", "1", "100.00" });
	IMPORT_OK(db, &e, { "S02", "P2", T3, "M002", "A", "1", "10.00", NULL, "points:0.50;cash" });
	assert_int_equal(qi(db, "SELECT points_paid FROM sales WHERE receipt = 'P2'"), 50);
	settlement(db, INT32_MIN, INT32_MAX, &b);
	assert_string_equal(b.buf, "S01,S02,1095.71,1000.00,95.71,50,0,0.00\n");
	/* only draws dated within the range count */
	settlement(db, d2, d2, &b);
	assert_string_equal(b.buf, "S01,S02,1095.71,1000.00,95.71,0,0,0.00\n");
	settlement(db, d3, d3, &b);
	assert_string_equal(b.buf, "S01,S02,0.00,0.00,0.00,50,0,0.00\n");
	settlement(db, d1, d1, &b);
	assert_string_equal(b.buf, "");
	assert_sound(db);
	mbr_buf_release(&b);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* -------------------------------------------------------------- returns */

/*
 * A sale of 50.00 paid with stored value (P=1000, B=100: principal
 * floor(5000*100000/110000) = 4545, bonus 455), returned in full with a
 * referenced return paying stored_value:-50.00: the credit restores
 * exactly 4545 and 455.
 */
static void test_return_credit_full(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_sv_account a = { 0, NULL };
	struct errors e = errs_init();

	(void)state;
	load_rules(db, RULES);
	a.member = add_member(db, "M001", NULL);
	topup(db, &a, 100000, NULL);
	IMPORT_OK(db, &e, { "S01", "R1", T1, "M001", "A", "1", "50.00", NULL, "stored_value" });
	assert_sv(db, &a, 100000 - 4545, 10000 - 455);
	assert_int_equal(qi(db, "SELECT sv_principal FROM sales WHERE receipt = 'R1'"), 4545);
	assert_int_equal(qi(db, "SELECT sv_bonus FROM sales WHERE receipt = 'R1'"), 455);
	IMPORT_OK(db, &e, { "S01", "X1", T2, "M001", "A", "-1", "50.00", NULL, "stored_value:-50.00", "R1" });
	assert_sv(db, &a, 100000, 10000);
	assert_int_equal(qi(db, "SELECT principal FROM sv_ledger WHERE kind = 'credit'"), 4545);
	assert_int_equal(qi(db, "SELECT bonus FROM sv_ledger WHERE kind = 'credit'"), 455);
	assert_int_equal(qi(db, "SELECT sv_principal FROM sales WHERE receipt = 'X1'"), -4545);
	assert_int_equal(qi(db, "SELECT sv_bonus FROM sales WHERE receipt = 'X1'"), -455);
	assert_sound(db);
	/* the credit is a lot of its own: a payout of all pays back all principal */
	{
		struct mbr_sv paid;

		assert_int_equal(payout(db, &a, 0, &paid), MBR_OK);
		assert_int_equal(paid.principal, 100000);
		assert_int_equal(paid.bonus, 10000);
		assert_sv(db, &a, 0, 0);
	}
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/*
 * The same sale returned in two halves: each credit is rounded on its own
 * (2500 * 4545 / 5000 = 2272.5 -> 2272), so two halves give back
 * 4544 + 456.  The points rule for partial returns (sale.c) is cumulative
 * so that the parts add up exactly; stored value should do the same:
 * after the whole sale has come back, the account holds exactly what it
 * held before, principal and bonus.
 */
static void test_return_credit_in_parts(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_sv_account a = { 0, NULL };
	struct errors e = errs_init();

	(void)state;
	load_rules(db, RULES);
	a.member = add_member(db, "M001", NULL);
	topup(db, &a, 100000, NULL);
	IMPORT_OK(db, &e, { "S01", "R1", T1, "M001", "A", "2", "25.00", NULL, "stored_value" });
	assert_sv(db, &a, 100000 - 4545, 10000 - 455);
	IMPORT_OK(db, &e, { "S01", "X1", T2, "M001", "A", "-1", "25.00", NULL, "stored_value:-25.00", "R1" });
	IMPORT_OK(db, &e, { "S01", "X2", T3, "M001", "A", "-1", "25.00", NULL, "stored_value:-25.00", "R1" });
	assert_sound(db);
	{
		int64_t p = qi(db, "SELECT SUM(principal) FROM sv_ledger WHERE kind = 'credit'");
		int64_t b = qi(db, "SELECT SUM(bonus) FROM sv_ledger WHERE kind = 'credit'");

		if (p != 4545 || b != 455)
			fail_msg("two half returns credited principal %lld + bonus %lld, the sale took 4545 + 455"
				 " (each half rounded on its own, not cumulatively: lib/sale.c pay_prepaid)",
				 (long long)p, (long long)b);
	}
	assert_sv(db, &a, 100000, 10000);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* ------------------------------------------------------------- tampering */

/* mbr_db_check proves the caches equal the ledgers, and sees tampering. */
static void test_check_sees_tampering(void **state)
{
	struct mbr_db *db = new_db2();
	struct mbr_sv_account a = { 0, NULL };
	struct mbr_member m;
	char uid[40];

	(void)state;
	load_rules(db, RULES);
	a.member = add_member(db, "M001", &m);
	topup(db, &a, 100000, NULL);
	count_sell(db, &m, "WASH", 10, 1500, uid);
	assert_sound(db);
	raw(db, "UPDATE members SET sv_principal = sv_principal + 1");
	assert_unsound(db, "stored value differs from ledger");
	raw(db, "UPDATE members SET sv_principal = sv_principal - 1");
	assert_sound(db);
	raw(db, "UPDATE members SET sv_bonus = sv_bonus - 1");
	assert_unsound(db, "stored value differs from ledger");
	raw(db, "UPDATE members SET sv_bonus = sv_bonus + 1");
	assert_sound(db);
	raw(db, "UPDATE count_cards SET uses_left = 9");
	assert_unsound(db, "count card uses differ from ledger");
	raw(db, "UPDATE count_cards SET uses_left = 10");
	assert_sound(db);
	mbr_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_topup_bonus_tiers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topup_bonus_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spend_pro_rata_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spend_many_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payout_one_topup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payout_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frozen_account, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adjust, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gift_cards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gift_card_code_as_typed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_card, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_card_rounding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settlement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_return_credit_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_return_credit_in_parts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_sees_tampering, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
