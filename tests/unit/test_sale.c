/*
 * test_sale.c - unit tests for lib/sale.c, the receipt engine.  Each test
 * is a bug that users of other member systems suffered: points rounded
 * per line instead of per receipt, returns that reverse more (or less)
 * than was earned, points paid that come back twice, points earned on
 * the share paid with points, a POS retry that earns twice, a points
 * payment beyond the balance, returns of a sale made under older rules
 * reversed at today's rate, aggregates drifting from the sales, a batch
 * undo that leaves things behind, the rest of a split receipt skipped as
 * "already imported" and lost, and a free gift given back that counts as
 * a return in the reports but not in the engine.
 *
 * Every test runs in a fresh temporary directory with MBR_KEY unset,
 * MBR_OPERATOR "tester" and MBR_NOW pinned, and ends by proving the
 * database sound with mbr_db_check.
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

/* input lines are written { receipt, ts, member, ... } leaving the rest out */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define NOW "2025-07-01T02:00:00Z"	/* 10:00 in Shanghai */

static int setup(void **state)
{
	(void)state;
	return harness_setup("sale", NOW);
}

static int64_t balance(struct mbr_db *db, int64_t member)
{
	int64_t b = -12345;

	assert_int_equal(mbr_points_balance(db, member, 0, &b), MBR_OK);
	return b;
}

/* ------------------------------------------------------------- imports */

/* One input line: fields by column; NULL = the file has no such column. */
struct ln {
	const char *receipt, *ts, *member, *sku, *qty, *price, *payment, *original, *name, *category;
};

/* End the import im (if rc is 0), free it, commit or roll back: rc. */
static int import_end(struct mbr_db *db, struct mbr_sale_import *im, int rc, struct mbr_sale_stats *st)
{
	if (rc == 0)
		rc = mbr_sale_import_end(im, st);
	mbr_sale_import_free(im);
	if (rc == 0)
		assert_int_equal(mbr_commit(db), MBR_OK);
	else
		mbr_rollback(db);
	return rc;
}

/*
 * Import lines as one batch in one transaction (committed).  Messages of
 * rejected receipts land in err (reset first); returns the import's
 * status.  File "sales.csv", the first line is line 2.
 */
static int import(struct mbr_db *db, const struct ln *lines, size_t n, struct mbr_sale_stats *st,
		  struct errors *err)
{
	struct mbr_sale_opts o = { .error = on_error, .ctx = err };
	struct mbr_sale_import *im = NULL;
	size_t i;
	int rc;

	err->n = 0;
	mbr_buf_reset(&err->all);
	memset(st, 0, sizeof(*st));
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);	/* as mbr-sale import */
	rc = mbr_sale_import_begin(db, &o, "sales.csv", &im);
	for (i = 0; i < n && rc == 0; i++) {
		const char *v[MBR_S_COUNT] = { 0 };

		v[MBR_S_STORE] = "S01";
		v[MBR_S_RECEIPT] = lines[i].receipt;
		v[MBR_S_TS] = lines[i].ts;
		v[MBR_S_MEMBER] = lines[i].member;
		v[MBR_S_SKU] = lines[i].sku ? lines[i].sku : "SKU1";
		v[MBR_S_QTY] = lines[i].qty ? lines[i].qty : "1";
		v[MBR_S_UNIT_PRICE] = lines[i].price;
		v[MBR_S_PAYMENT] = lines[i].payment;
		v[MBR_S_ORIGINAL] = lines[i].original;
		v[MBR_S_NAME] = lines[i].name;
		v[MBR_S_CATEGORY] = lines[i].category;
		rc = mbr_sale_line(im, v, "sales.csv", (long)i + 2, NULL, 0);
	}
	return import_end(db, im, rc, st);
}

#define IMPORT(db, st, err, ...) do { \
		static const struct ln lines_[] = { __VA_ARGS__ }; \
		int rc_ = import(db, lines_, sizeof(lines_) / sizeof(lines_[0]), st, err); \
		if (rc_ != MBR_OK) \
			fail_msg("import %d: %s", rc_, mbr_db_errmsg(db)); \
	} while (0)

/* The same, and no receipt may be rejected. */
#define IMPORT_OK(db, st, err, ...) do { \
		IMPORT(db, st, err, __VA_ARGS__); \
		if ((err)->n) \
			fail_msg("rejected: %s", (err)->all.buf); \
	} while (0)

#define T1 "2025-06-10 10:00"
#define T2 "2025-06-11 10:00"
#define T3 "2025-06-12 10:00"
#define T4 "2025-06-13 10:00"

/* -------------------------------------------------------------- tests */

/* Default rules: 1 point per whole unit, rounded down per receipt (not per
 * line), the fraction kept with the sale. */
static void test_default_rounding(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m;

	(void)state;
	m = add_member(db, "M001", NULL);
	IMPORT_OK(db, &st, &e,
		  { "R1", T1, "M001", "A", "1", "12.99" },
		  { "R2", T1, "M001", "A", "1", "0.99" },
		  { "R3", T1, "M001", "B", "1", "5.50" },
		  { "R3", T1, "M001", "C", "1", "6.60" },
		  { "R4", T1, NULL, "A", "1", "50.00" });
	assert_int_equal(st.receipts, 4);
	assert_int_equal(st.lines, 5);
	assert_int_equal(st.amount, 1299 + 99 + 1210 + 5000);
	assert_int_equal(st.points_earned, 12 + 0 + 12);
	assert_int_equal(qi(db, "SELECT points_earned FROM sales WHERE receipt = 'R1'"), 12);
	assert_int_equal(qi(db, "SELECT points_residue FROM sales WHERE receipt = 'R1'"), 990000);
	assert_int_equal(qi(db, "SELECT points_earned FROM sales WHERE receipt = 'R2'"), 0);
	assert_int_equal(qi(db, "SELECT points_residue FROM sales WHERE receipt = 'R2'"), 990000);
	/* 5.50 + 6.60 = 12.10: 12 points, not 5 + 6 */
	assert_int_equal(qi(db, "SELECT points_earned FROM sales WHERE receipt = 'R3'"), 12);
	assert_int_equal(qi(db, "SELECT points_residue FROM sales WHERE receipt = 'R3'"), 100000);
	assert_int_equal(qi(db, "SELECT member IS NULL FROM sales WHERE receipt = 'R4'"), 1);
	assert_int_equal(balance(db, m), 24);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger WHERE kind = 'earn'"), 2);
	assert_int_equal(qi(db, "SELECT ts FROM points_ledger WHERE ref = 'S01/R1'"), local(T1));
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* A full referenced return reverses exactly what was earned: 12.99 earned
 * 12, its return takes 12, not 13. */
static void test_full_return(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m;

	(void)state;
	m = add_member(db, "M001", NULL);
	add_member(db, "M002", NULL);
	IMPORT_OK(db, &st, &e, { "R1", T1, "M001", "A", "1", "12.99" });
	assert_int_equal(balance(db, m), 12);
	/* the return need not name the member: it is the sale's */
	IMPORT_OK(db, &st, &e, { "X1", T2, NULL, "A", "-1", "12.99", NULL, "R1" });
	assert_int_equal(st.returns, 1);
	assert_int_equal(st.points_reversed, 12);
	assert_int_equal(st.amount, -1299);
	assert_int_equal(balance(db, m), 0);
	assert_int_equal(qi(db, "SELECT points_earned FROM sales WHERE receipt = 'X1'"), -12);
	assert_int_equal(qi(db, "SELECT member FROM sales WHERE receipt = 'X1'"), m);
	assert_int_equal(qi(db, "SELECT returned FROM sales WHERE receipt = 'R1'"), 1299);
	assert_int_equal(qi(db, "SELECT points_reversed FROM sales WHERE receipt = 'R1'"), 12);
	assert_int_equal(qi(db, "SELECT points FROM points_ledger WHERE kind = 'reversal'"), -12);

	/* the same goods cannot be returned twice */
	IMPORT(db, &st, &e, { "X2", T2, NULL, "A", "-1", "12.99", NULL, "R1" });
	assert_int_equal(e.n, 1);
	assert_string_equal(e.all.buf, "sales.csv:2: original: return of 12.99 exceeds the 0.00 left of receipt 'R1'\n");
	assert_int_equal(balance(db, m), 0);
	/* a return naming another member than the sale's */
	IMPORT_OK(db, &st, &e, { "R2", T2, "M001", "A", "1", "20.00" });
	IMPORT(db, &st, &e, { "X3", T3, "M002", "A", "-1", "20.00", NULL, "R2" });
	assert_int_equal(e.n, 1);
	assert_string_equal(e.all.buf, "sales.csv:2: member: the return names another member than receipt 'R2'\n");
	/* a return of an unknown receipt */
	IMPORT(db, &st, &e, { "X4", T3, "M001", "A", "-1", "1.00", NULL, "NOPE" });
	assert_string_equal(e.all.buf, "sales.csv:2: original: no receipt 'NOPE' at store S01\n");
	/* a return without a reference reverses its own exact points, toward zero */
	IMPORT_OK(db, &st, &e, { "X5", T3, "M001", "A", "-1", "12.99" });
	assert_int_equal(st.points_reversed, 12);
	assert_int_equal(balance(db, m), 20 - 12);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* Thirds of a receipt that earned 10: 3 + 3 + 4, never 11 or 9. */
static void test_partial_returns(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m, total = 0;

	(void)state;
	m = add_member(db, "M001", NULL);
	IMPORT_OK(db, &st, &e, { "R1", T1, "M001", "A", "3", "3.50" });
	assert_int_equal(st.points_earned, 10);
	assert_int_equal(qi(db, "SELECT points_residue FROM sales WHERE receipt = 'R1'"), 500000);
	IMPORT_OK(db, &st, &e, { "X1", T2, "M001", "A", "-1", "3.50", NULL, "R1" });
	assert_int_equal(st.points_reversed, 3);
	total += st.points_reversed;
	IMPORT_OK(db, &st, &e, { "X2", T3, "M001", "A", "-1", "3.50", NULL, "R1" });
	assert_int_equal(st.points_reversed, 3);
	total += st.points_reversed;
	IMPORT_OK(db, &st, &e, { "X3", T4, "M001", "A", "-1", "3.50", NULL, "R1" });
	assert_int_equal(st.points_reversed, 4);
	total += st.points_reversed;
	assert_int_equal(total, 10);
	assert_int_equal(balance(db, m), 0);
	assert_int_equal(qi(db, "SELECT points_reversed FROM sales WHERE receipt = 'R1'"), 10);
	assert_int_equal(qi(db, "SELECT SUM(points) FROM points_ledger WHERE kind = 'reversal'"), -10);

	/* the same in one batch, lines of several returns in a row */
	IMPORT_OK(db, &st, &e, { "R2", T1, "M001", "A", "3", "3.50" });
	IMPORT_OK(db, &st, &e,
		  { "Y1", T2, "M001", "A", "-1", "3.50", NULL, "R2" },
		  { "Y2", T2, "M001", "A", "-1", "3.50", NULL, "R2" },
		  { "Y3", T2, "M001", "A", "-1", "3.50", NULL, "R2" });
	assert_int_equal(st.returns, 3);
	assert_int_equal(st.points_reversed, 10);
	assert_int_equal(balance(db, m), 0);

	/* 3.33 + 3.33 + 3.34 of a 10.00 receipt */
	IMPORT_OK(db, &st, &e, { "R3", T1, "M001", "A", "1", "10.00" });
	IMPORT_OK(db, &st, &e,
		  { "Z1", T2, "M001", "A", "-1", "3.33", NULL, "R3" },
		  { "Z2", T2, "M001", "A", "-1", "3.33", NULL, "R3" },
		  { "Z3", T2, "M001", "A", "-1", "3.34", NULL, "R3" });
	assert_int_equal(st.points_reversed, 10);
	assert_int_equal(qi(db, "SELECT points_earned FROM sales WHERE receipt = 'Z1'"), -3);
	assert_int_equal(qi(db, "SELECT points_earned FROM sales WHERE receipt = 'Z2'"), -3);
	assert_int_equal(qi(db, "SELECT points_earned FROM sales WHERE receipt = 'Z3'"), -4);
	assert_int_equal(balance(db, m), 0);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

static void test_return_exceeds(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m, sales;

	(void)state;
	m = add_member(db, "M001", NULL);
	IMPORT_OK(db, &st, &e, { "R1", T1, "M001", "A", "2", "5.00" });
	IMPORT_OK(db, &st, &e, { "X1", T2, "M001", "A", "-1", "6.00", NULL, "R1" });
	assert_int_equal(st.points_reversed, 6);
	sales = qi(db, "SELECT COUNT(*) FROM sales");
	IMPORT(db, &st, &e, { "X2", T3, "M001", "A", "-1", "6.00", NULL, "R1" });
	assert_int_equal(e.n, 1);
	assert_string_equal(e.all.buf, "sales.csv:2: original: return of 6.00 exceeds the 4.00 left of receipt 'R1'\n");
	assert_int_equal(st.rejected_receipts, 1);
	assert_int_equal(st.receipts, 0);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales"), sales);
	assert_int_equal(balance(db, m), 4);
	/* exactly what is left is fine */
	IMPORT_OK(db, &st, &e, { "X3", T3, "M001", "A", "-2", "2.00", NULL, "R1" });
	assert_int_equal(st.points_reversed, 4);
	assert_int_equal(balance(db, m), 0);
	/* a sale cannot reference a sale */
	IMPORT(db, &st, &e, { "X4", T4, "M001", "A", "1", "1.00", NULL, "R1" });
	assert_string_equal(e.all.buf, "sales.csv:2: original: only a return may reference a sale\n");
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* Paid partly with points: earns on the rest only; returns give the
 * points paid back in proportion, in total exactly once. */
static void test_points_payment_and_refund(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m;

	(void)state;
	m = add_member(db, "M001", NULL);
	IMPORT_OK(db, &st, &e, { "R0", T1, "M001", "A", "1", "2000.00" });
	assert_int_equal(balance(db, m), 2000);

	/* 30.00, 10.00 of it in points (1000 points), 20.00 cash */
	IMPORT_OK(db, &st, &e, { "R1", T2, "M001", "A", "2", "15.00", "points:10.00;cash" });
	assert_int_equal(st.points_redeemed, 1000);
	assert_int_equal(st.points_earned, 20);
	assert_int_equal(qi(db, "SELECT points_paid FROM sales WHERE receipt = 'R1'"), 1000);
	assert_int_equal(qi(db, "SELECT points_earned FROM sales WHERE receipt = 'R1'"), 20);
	assert_int_equal(qi(db, "SELECT amount FROM payments p JOIN sales s ON s.id = p.sale"
			    " WHERE s.receipt = 'R1' AND method = 'cash'"), 2000);
	assert_int_equal(balance(db, m), 2000 - 1000 + 20);

	/* half back: 500 points paid come back, 10 earned are reversed */
	IMPORT_OK(db, &st, &e, { "X1", T3, "M001", "A", "-1", "15.00", NULL, "R1" });
	assert_int_equal(st.points_refunded, 500);
	assert_int_equal(st.points_reversed, 10);
	assert_int_equal(balance(db, m), 1020 + 500 - 10);
	/* the other half */
	IMPORT_OK(db, &st, &e, { "X2", T4, "M001", "A", "-1", "15.00", NULL, "R1" });
	assert_int_equal(st.points_refunded, 500);
	assert_int_equal(st.points_reversed, 10);
	assert_int_equal(balance(db, m), 2000);
	assert_int_equal(qi(db, "SELECT points_refunded FROM sales WHERE receipt = 'R1'"), 1000);
	assert_int_equal(qi(db, "SELECT SUM(points) FROM points_ledger WHERE kind = 'refund'"), 1000);
	/* and nothing more */
	IMPORT(db, &st, &e, { "X3", T4, "M001", "A", "-1", "0.01", NULL, "R1" });
	assert_int_equal(e.n, 1);
	assert_int_equal(balance(db, m), 2000);
	assert_sound(db);

	/* 10.00 with 3.33 in points (333 points): earns 6 on 6.67; thirds
	 * give back 110 + 111 + 112 = 333 */
	IMPORT_OK(db, &st, &e, { "R2", T2, "M001", "A", "1", "10.00", "cash;points:3.33" });
	assert_int_equal(st.points_redeemed, 333);
	assert_int_equal(st.points_earned, 6);
	IMPORT_OK(db, &st, &e,
		  { "Y1", T3, "M001", "A", "-1", "3.33", NULL, "R2" },
		  { "Y2", T3, "M001", "A", "-1", "3.33", NULL, "R2" },
		  { "Y3", T3, "M001", "A", "-1", "3.34", NULL, "R2" });
	assert_int_equal(st.points_refunded, 333);
	assert_int_equal(st.points_reversed, 6);
	assert_int_equal(balance(db, m), 2000);

	/* paid wholly with points: earns nothing */
	IMPORT_OK(db, &st, &e, { "R3", T2, "M001", "A", "1", "5.00", "points" });
	assert_int_equal(st.points_redeemed, 500);
	assert_int_equal(st.points_earned, 0);
	assert_int_equal(balance(db, m), 1500);
	/* and stored value does not earn either (default rules) */
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

static void test_points_payment_beyond_balance(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	struct mbr_member mm;
	char want[200];
	int64_t m, ledger;

	(void)state;
	m = add_member(db, "M001", &mm);
	IMPORT_OK(db, &st, &e, { "R1", T1, "M001", "A", "1", "12.99" });
	ledger = qi(db, "SELECT COUNT(*) FROM points_ledger");
	IMPORT(db, &st, &e, { "R2", T2, "M001", "A", "1", "30.00", "points:10.00;cash" });
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want), "sales.csv:2: payment: member %s has 12 points, the receipt pays with 1000\n", mm.uid);
	assert_string_equal(e.all.buf, want);
	assert_int_equal(st.rejected_receipts, 1);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales WHERE receipt = 'R2'"), 0);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger"), ledger);
	assert_int_equal(balance(db, m), 12);
	/* 0.12 is exactly the 12 points */
	IMPORT_OK(db, &st, &e, { "R3", T2, "M001", "A", "1", "1.12", "points:0.12;cash" });
	assert_int_equal(balance(db, m), 1);
	/* points without a member */
	IMPORT(db, &st, &e, { "R4", T2, NULL, "A", "1", "1.00", "points" });
	assert_string_equal(e.all.buf, "sales.csv:2: payment: points need a member\n");
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* A POS retry or an offline till syncing again: the same receipt in a
 * later batch is a duplicate and earns nothing. */
static void test_duplicate_across_batches(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m;

	(void)state;
	m = add_member(db, "M001", NULL);
	IMPORT_OK(db, &st, &e, { "R1", T1, "M001", "A", "2", "10.00" }, { "R1", T1, "M001", "B", "1", "5.00" });
	assert_int_equal(st.receipts, 1);
	assert_int_equal(balance(db, m), 25);
	IMPORT_OK(db, &st, &e, { "R1", T1, "M001", "A", "2", "10.00" }, { "R1", T1, "M001", "B", "1", "5.00" });
	assert_int_equal(st.receipts, 0);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.points_earned, 0);
	assert_int_equal(st.amount, 0);
	assert_int_equal(balance(db, m), 25);
	/* a file with the old receipt and a new one */
	IMPORT_OK(db, &st, &e, { "R1", T1, "M001", "A", "2", "10.00" }, { "R1", T1, "M001", "B", "1", "5.00" },
		  { "R2", T2, "M001", "A", "1", "1.00" });
	assert_int_equal(st.receipts, 1);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(balance(db, m), 26);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales"), 2);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sale_lines"), 3);
	assert_int_equal(qi(db, "SELECT SUM(amount) FROM agg_store_day"), 2600);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* A receipt an earlier batch recorded is a duplicate only when it is the
 * same: its number with other lines (the rest of a receipt whose lines were
 * apart in a file, fed back from the rejects), another member or another
 * original is rejected, never skipped as recorded and lost. */
static void test_duplicate_differs(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	struct mbr_member mm;
	char want[512];
	int64_t m, batch;

	(void)state;
	m = add_member(db, "M001", &mm);
	add_member(db, "M002", NULL);
	IMPORT_OK(db, &st, &e, { "R1", T1, "M001", "A", "2", "10.00" }, { "R2", T1, NULL, "A", "1", "1.00" },
		  { "X1", T2, NULL, "A", "-1", "10.00", NULL, "R1" });
	batch = qi(db, "SELECT batch FROM sales WHERE receipt = 'R1'");
	assert_int_equal(balance(db, m), 10);

	IMPORT(db, &st, &e, { "R1", T1, "M001", "B", "1", "90.00" }, { "R3", T2, NULL, "A", "1", "3.00" });
	snprintf(want, sizeof(want), "sales.csv:2: receipt: 'R1' is already recorded with total 20.00 and 2 items,"
		 " not 90.00 and 1; if these lines are part of it (its lines were apart in the file), undo batch %lld,"
		 " sort the file by receipt and import it again; else give this receipt another number\n",
		 (long long)batch);
	assert_string_equal(e.all.buf, want);
	assert_int_equal(st.rejected_receipts, 1);
	assert_int_equal(st.duplicates, 0);
	assert_int_equal(st.receipts, 1);
	assert_int_equal(qi(db, "SELECT total FROM sales WHERE receipt = 'R1'"), 2000);

	IMPORT(db, &st, &e, { "R1", T1, "M002", "A", "2", "10.00" });
	snprintf(want, sizeof(want), "sales.csv:2: receipt: 'R1' is already recorded for member %s, not for 'M002'\n",
		 mm.uid);
	assert_string_equal(e.all.buf, want);
	IMPORT(db, &st, &e, { "R2", T1, "M001", "A", "1", "1.00" });
	assert_string_equal(e.all.buf, "sales.csv:2: receipt: 'R2' is already recorded with no member, not for 'M001'\n");
	IMPORT(db, &st, &e, { "X1", T2, NULL, "A", "-1", "10.00" });
	assert_string_equal(e.all.buf, "sales.csv:2: receipt: 'X1' is already recorded as a return of 'R1',"
			    " not naming no original\n");

	/* the same receipts: duplicates, a return naming its sale and no member included */
	IMPORT_OK(db, &st, &e, { "R1", T1, "M001", "A", "2", "10.00" }, { "R2", T1, NULL, "A", "1", "1.00" },
		  { "X1", T2, NULL, "A", "-1", "10.00", NULL, "R1" });
	assert_int_equal(st.duplicates, 3);
	assert_int_equal(st.rejected_receipts, 0);
	assert_int_equal(balance(db, m), 10);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* A receipt of zero total that takes goods back (a free gift returned) is
 * a return, for the engine as for the aggregates: it may name its sale,
 * and is counted among returns, not sales. */
static void test_zero_total_return(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();

	(void)state;
	IMPORT_OK(db, &st, &e, { "R1", T1, NULL, "G", "2", "0.00" });
	assert_int_equal(st.returns, 0);
	IMPORT_OK(db, &st, &e, { "X1", T1, NULL, "G", "-1", "0.00", NULL, "R1" }, { "X2", T1, NULL, "G", "-1", "0.00" });
	assert_int_equal(st.receipts, 2);
	assert_int_equal(st.returns, 2);
	assert_int_equal(qi(db, "SELECT o.receipt = 'R1' FROM sales s JOIN sales o ON o.id = s.original"
			    " WHERE s.receipt = 'X1'"), 1);
	assert_int_equal(qi(db, "SELECT receipts FROM agg_store_day"), 1);
	assert_int_equal(qi(db, "SELECT returns FROM agg_store_day"), 2);
	assert_int_equal(qi(db, "SELECT items FROM agg_store_day"), 0);
	/* a return is no sale to name */
	IMPORT(db, &st, &e, { "X3", T1, NULL, "G", "-1", "0.00", NULL, "X2" });
	assert_string_equal(e.all.buf, "sales.csv:2: original: 'X2' is itself a return; name the sale it gave back\n");
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* The same receipt twice apart in one file is an error, not a duplicate. */
static void test_same_receipt_apart(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m;

	(void)state;
	m = add_member(db, "M001", NULL);
	IMPORT(db, &st, &e,
	       { "R1", T1, "M001", "A", "1", "10.00" },
	       { "R2", T1, "M001", "A", "1", "2.00" },
	       { "R1", T1, "M001", "A", "1", "10.00" });
	assert_int_equal(e.n, 1);
	assert_string_equal(e.all.buf, "sales.csv:4: receipt: 'R1' appears again after other receipts; a receipt's lines"
			    " must be together (sort the file by receipt, undo the batch, import again)\n");
	assert_int_equal(st.receipts, 2);
	assert_int_equal(st.rejected_receipts, 1);
	assert_int_equal(st.duplicates, 0);
	assert_int_equal(balance(db, m), 12);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/*
 * Sales, lines and payments are written behind, many receipts at once:
 * whatever reads them must see them.  A file of more receipts than are
 * held back, with returns of receipts still held (by original and by
 * match) and a repeated receipt; and a sale's id is never one an undone
 * sale had.
 */
static int undo(struct mbr_db *db, int64_t batch, long *receipts);

static void test_written_behind(void **state)
{
	struct ln file[300];
	char names[300][16];
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m, undone_max;
	long n = -1;
	size_t i, k = 0;

	(void)state;
	m = add_member(db, "M001", NULL);
	memset(file, 0, sizeof(file));
	for (i = 0; i < 150; i++) {
		snprintf(names[i], sizeof(names[i]), "R%zu", i);
		file[k++] = (struct ln){ names[i], T1, i % 2 ? "M001" : NULL, "A", "2", "10.00", "cash" };
		if (i == 100)	/* returns R99 (held back) by name */
			file[k++] = (struct ln){ "X1", T1, "M001", "A", "-1", "10.00", "cash", "R99" };
		if (i == 120)	/* a return naming none matches R119 */
			file[k++] = (struct ln){ "X2", T1, "M001", "A", "-2", "10.00", "cash" };
		if (i == 130)	/* R125 again, apart */
			file[k++] = (struct ln){ "R125", T1, "M001", "A", "2", "10.00", "cash" };
	}
	assert_int_equal(import(db, file, k, &st, &e), MBR_OK);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.all.buf, "sales.csv:135: receipt: 'R125' appears again"));
	assert_int_equal(st.receipts, 152);
	assert_int_equal(st.matched_returns, 1);
	assert_int_equal(qi(db, "SELECT returned FROM sales WHERE receipt = 'R99'"), 1000);
	assert_int_equal(qi(db, "SELECT sale FROM return_matches"), qi(db, "SELECT id FROM sales WHERE receipt = 'R119'"));
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales"), 152);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sale_lines"), 152);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM payments"), 152);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales s JOIN sale_lines l ON l.sale = s.id JOIN payments p"
			     " ON p.sale = s.id WHERE p.amount = s.total AND l.amount = s.total"), 152);
	/* 75 sales of 20.00 to M001, less 10.00 and 20.00 back */
	assert_int_equal(balance(db, m), 75 * 20 - 10 - 20);
	assert_sound(db);

	/* undone and imported again: new ids, past the undone ones */
	undone_max = qi(db, "SELECT MAX(id) FROM sales");
	assert_int_equal(undo(db, st.batch, &n), MBR_OK);
	assert_int_equal(n, 152);
	assert_int_equal(import(db, file, k, &st, &e), MBR_OK);
	assert_int_equal(st.receipts, 152);
	assert_int_equal(qi(db, "SELECT MIN(id) FROM sales") > undone_max, 1);
	assert_int_equal(balance(db, m), 75 * 20 - 10 - 20);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/*
 * The parts of a note (see mbr_sale_ahead_note): whether it says its
 * receipt (store S01) was not recorded before the import (*receipt: the
 * receipt, or ""), and the member it carries (*key, *sm; key "" if none).
 * A time it carries must be its text's.  Fails the test on a malformed
 * note.
 */
static void note_parts(const char *note, size_t len, char *receipt, size_t rsz, char *key, size_t ksz,
		       struct mbr_sale_member *sm)
{
	const char *p = note, *end = note + len;

	receipt[0] = key[0] = '\0';
	while (p < end) {
		char tag = *p++;

		if (tag == 'T') {
			int64_t noted, want;

			memcpy(&noted, p + strlen(p) + 1, sizeof(noted));
			assert_int_equal(mbr_time_parse(p, NULL, &want), MBR_OK);
			assert_int_equal(noted, want);
			p += strlen(p) + 1 + sizeof(noted);
		} else if (tag == 'R') {
			assert_string_equal(p, "S01");
			p += strlen(p) + 1;
			mbr_copy(receipt, rsz, p);
			p += strlen(p) + 1;
		} else {
			assert_int_equal(tag, 'M');
			mbr_copy(key, ksz, p);
			p += strlen(p) + 1;
			memcpy(sm, p, sizeof(*sm));
			p += sizeof(*sm);
		}
	}
	assert_true(p == end);
}

/* Read path (a CSV file in the test's directory) ahead with members looked
 * up in the reading thread, and import it; the notes are checked: m1
 * (M001) is noted on its m1_lines lines, lines whose member is unknown or none
 * carry no member, and lines of the receipts in absent (a list of
 * receipt numbers between commas, e.g. ",R1,R2,") say they were not
 * recorded, others do not. */
static int import_ahead(struct mbr_db *db, const char *path, struct mbr_sale_stats *st, struct errors *err,
			int64_t m1, int m1_lines, const char *absent)
{
	struct mbr_sale_opts o = { .error = on_error, .ctx = err };
	struct mbr_reader_opts ro = { .prefetch = 1, .note = mbr_sale_ahead_note };
	struct mbr_sale_import *im = NULL;
	struct mbr_sale_ahead *a = NULL;
	struct mbr_reader *rd = NULL;
	struct mbr_buf e = MBR_BUF_INIT;
	struct mbr_sale_member sm;
	struct mbr_row *row;
	char receipt[64], key[64], want[68];
	int rc, noted = 0;

	assert_int_equal(mbr_sale_ahead_open(dbpath, &a), MBR_OK);
	ro.note_ctx = a;
	assert_int_equal(mbr_reader_open(&rd, path, mbr_sale_cols, MBR_S_COUNT, &ro, &e), MBR_OK);
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	/* alone on the database, the import holds it unless told to share */
	assert_int_equal(mbr_db_held(db), getenv("MBR_SHARED_IMPORT") == NULL);
	assert_int_equal(mbr_sale_import_begin(db, &o, path, &im), MBR_OK);
	mbr_sale_ahead_go(a, im);
	while ((rc = mbr_reader_next(rd, &row, &e)) == 1) {
		note_parts(row->note, row->note_len, receipt, sizeof(receipt), key, sizeof(key), &sm);
		snprintf(want, sizeof(want), ",%s,", row->val[MBR_S_RECEIPT]);
		if (strstr(absent, want))
			assert_string_equal(receipt, row->val[MBR_S_RECEIPT]);
		else
			assert_string_equal(receipt, "");
		if (strstr(row->val[MBR_S_MEMBER], "M001")) {	/* " M001 " too: trimmed */
			assert_string_equal(key, "M001");
			assert_int_equal(sm.id, m1);
			assert_int_equal(sm.active, 1);
			noted++;
		} else if (!strcmp(row->val[MBR_S_MEMBER], "S01-2")) {
			assert_string_equal(key, "S01-2");	/* by uid */
		} else if (strcmp(row->val[MBR_S_MEMBER], "M002")) {
			assert_string_equal(key, "");	/* unknown or none: no member */
		}
		if ((rc = mbr_sale_line_noted(im, row->val, row->file, row->line, row->raw, row->nraw, row->note,
					      row->note_len)) < 0)
			break;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(noted, m1_lines);
	rc = import_end(db, im, rc, st);
	mbr_sale_ahead_cancel(a);
	mbr_reader_close(rd);
	mbr_sale_ahead_free(a);
	mbr_buf_release(&e);
	return rc;
}

/* Members looked up in the reading thread: the same sales as looked up by
 * the import; an unknown member is still rejected with its message; a
 * member named by uid is found too; a note for another key is not taken;
 * a reader whose import never began can be closed.  Run with the import
 * holding the database and sharing it. */
static void members_ahead(void)
{
	static const char csv[] = "store,receipt,ts,member,sku,qty,unit_price\n"
				  "S01,R1,2025-06-10 10:00,M001,A,1,10.00\n"
				  "S01,R1,2025-06-10 10:00,M001,B,1,5.00\n"
				  "S01,R2,2025-06-10 10:00,M002,A,2,10.00\n"
				  "S01,R3,2025-06-10 10:00,NOPE,A,1,10.00\n"
				  "S01,R4,2025-06-10 10:00,,A,1,10.00\n"
				  "S01,R5,2025-06-10 10:00, M001 ,A,1,3.00\n"
				  "S01,R6,2025-06-10 10:00,S01-2,A,1,4.00\n";
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	struct mbr_sale_member other;
	struct mbr_reader_opts ro = { .prefetch = 1, .note = mbr_sale_ahead_note };
	struct mbr_sale_ahead *a = NULL;
	struct mbr_reader *rd = NULL;
	struct mbr_buf err = MBR_BUF_INIT, note = MBR_BUF_INIT;
	char path[160];
	const char *v[MBR_S_COUNT] = { 0 };
	int64_t m1, m2;
	FILE *f;

	m1 = add_member(db, "M001", NULL);
	m2 = add_member(db, "M002", NULL);
	snprintf(path, sizeof(path), "%s/sales.csv", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(csv, f);
	fclose(f);
	assert_int_equal(import_ahead(db, path, &st, &e, m1, 3, ",R1,R2,R3,R4,R5,R6,"), MBR_OK);
	assert_int_equal(st.receipts, 5);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.all.buf, ":5: member: unknown member 'NOPE'"));
	assert_int_equal(balance(db, m1), 15 + 3);
	assert_int_equal(balance(db, m2), 20 + 4);
	assert_int_equal(qi(db, "SELECT member FROM sales WHERE receipt = 'R6'"), m2);
	assert_int_equal(qi(db, "SELECT member FROM sales WHERE receipt = 'R1'"), m1);
	assert_sound(db);

	/* a note whose key is not the line's member is not taken */
	memset(&other, 0, sizeof(other));
	other.id = m2;
	mbr_copy(other.uid, sizeof(other.uid), "S01-2");
	other.active = 1;
	mbr_buf_addc(&note, 'M');
	mbr_buf_add(&note, "M009", 5);
	mbr_buf_add(&note, &other, sizeof(other));
	IMPORT_OK(db, &st, &e, { "R0", T1, "M001", "A", "1", "1.00" });	/* nothing pending */
	{
		struct mbr_sale_opts o = { .error = on_error, .ctx = &e };
		struct mbr_sale_import *im = NULL;

		assert_int_equal(mbr_begin(db), MBR_OK);
		assert_int_equal(mbr_sale_import_begin(db, &o, "x.csv", &im), MBR_OK);
		v[MBR_S_STORE] = "S01";
		v[MBR_S_RECEIPT] = "R9";
		v[MBR_S_TS] = T2;
		v[MBR_S_MEMBER] = "M001";
		v[MBR_S_SKU] = "A";
		v[MBR_S_QTY] = "1";
		v[MBR_S_UNIT_PRICE] = "7.00";
		assert_int_equal(mbr_sale_line_noted(im, v, "x.csv", 2, NULL, 0, note.buf, note.len), MBR_OK);
		assert_int_equal(mbr_sale_import_end(im, &st), MBR_OK);
		mbr_sale_import_free(im);
		assert_int_equal(mbr_commit(db), MBR_OK);
	}
	assert_int_equal(qi(db, "SELECT member FROM sales WHERE receipt = 'R9'"), m1);

	/* the import never began: cancelled, the reader closes */
	assert_int_equal(mbr_sale_ahead_open(dbpath, &a), MBR_OK);
	ro.note_ctx = a;
	assert_int_equal(mbr_reader_open(&rd, path, mbr_sale_cols, MBR_S_COUNT, &ro, &err), MBR_OK);
	mbr_sale_ahead_cancel(a);
	mbr_reader_close(rd);
	mbr_sale_ahead_free(a);

	mbr_buf_release(&note);
	mbr_buf_release(&err);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

static void test_members_ahead_held(void **state)
{
	(void)state;
	members_ahead();
}

static void test_members_ahead_shared(void **state)
{
	(void)state;
	setenv("MBR_SHARED_IMPORT", "1", 1);
	members_ahead();
	unsetenv("MBR_SHARED_IMPORT");
}

/* Write the CSV text t to the test's sales.csv; its path in path. */
static void write_csv(char *path, size_t size, const char *t)
{
	FILE *f;

	snprintf(path, size, "%s/sales.csv", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(t, f);
	fclose(f);
}

/*
 * Receipts probed in the reading thread: one recorded by an earlier batch
 * is noted as nothing and still skipped as the same; one not recorded
 * before the import but repeated in it, after more receipts than are held
 * back (so written already), is still found and refused; a note saying
 * another receipt was not recorded is not taken.  The same whether the
 * import holds the database (the thread reads it through a view) or not.
 */
static void receipts_ahead(int shared)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	struct mbr_buf csv = MBR_BUF_INIT, absent = MBR_BUF_INIT, note = MBR_BUF_INIT;
	const char *v[MBR_S_COUNT] = { 0 };
	char path[160];
	int64_t m1;
	int i;

	if (shared)
		setenv("MBR_SHARED_IMPORT", "1", 1);
	m1 = add_member(db, "M001", NULL);
	write_csv(path, sizeof(path), "store,receipt,ts,member,sku,qty,unit_price\n"
				       "S01,R1,2025-06-10 10:00,M001,A,1,10.00\n"
				       "S01,R2,2025-06-10 10:00,,A,1,10.00\n");
	assert_int_equal(import_ahead(db, path, &st, &e, m1, 1, ",R1,R2,"), MBR_OK);
	assert_int_equal(st.receipts, 2);

	mbr_buf_adds(&csv, "store,receipt,ts,member,sku,qty,unit_price\n"
			   "S01,R1,2025-06-10 10:00,M001,A,1,10.00\n");
	mbr_buf_adds(&absent, ",");
	for (i = 3; i < 103; i++) {
		mbr_buf_addf(&csv, "S01,R%d,2025-06-11 10:00,,A,1,2.00\n", i);
		mbr_buf_addf(&absent, "R%d,", i);
	}
	mbr_buf_adds(&csv, "S01,R3,2025-06-11 10:00,,A,1,2.00\n");
	write_csv(path, sizeof(path), csv.buf);
	assert_int_equal(import_ahead(db, path, &st, &e, m1, 1, absent.buf), MBR_OK);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.receipts, 100);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.all.buf, "sales.csv:103: receipt: 'R3' appears again"));
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales"), 102);
	assert_int_equal(balance(db, m1), 10);
	assert_sound(db);

	/* R1 again, with a note that R9 was not recorded: skipped */
	mbr_buf_addc(&note, 'R');
	mbr_buf_add(&note, "S01", 4);
	mbr_buf_add(&note, "R9", 3);
	{
		struct mbr_sale_opts o = { .error = on_error, .ctx = &e };
		struct mbr_sale_import *im = NULL;

		assert_int_equal(mbr_begin(db), MBR_OK);
		assert_int_equal(mbr_sale_import_begin(db, &o, "x.csv", &im), MBR_OK);
		v[MBR_S_STORE] = "S01";
		v[MBR_S_RECEIPT] = "R1";
		v[MBR_S_TS] = "2025-06-10 10:00";
		v[MBR_S_MEMBER] = "M001";
		v[MBR_S_SKU] = "A";
		v[MBR_S_QTY] = "1";
		v[MBR_S_UNIT_PRICE] = "10.00";
		assert_int_equal(mbr_sale_line_noted(im, v, "x.csv", 2, NULL, 0, note.buf, note.len), MBR_OK);
		assert_int_equal(import_end(db, im, 0, &st), MBR_OK);
	}
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.receipts, 0);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales WHERE receipt = 'R1'"), 1);
	assert_int_equal(balance(db, m1), 10);
	mbr_buf_release(&csv);
	mbr_buf_release(&absent);
	mbr_buf_release(&note);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
	unsetenv("MBR_SHARED_IMPORT");
}

static void test_receipts_ahead_held(void **state)
{
	(void)state;
	receipts_ahead(0);
}

static void test_receipts_ahead_shared(void **state)
{
	(void)state;
	receipts_ahead(1);
}

static void test_unknown_member(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();

	(void)state;
	add_member(db, "M001", NULL);
	IMPORT(db, &st, &e,
	       { "R1", T1, "M001", "A", "1", "10.00" },
	       { "R2", T1, "NO-SUCH-9", "A", "1", "2.00" },
	       { "R2", T1, "NO-SUCH-9", "B", "1", "3.00" });
	assert_int_equal(e.n, 1);
	assert_string_equal(e.all.buf, "sales.csv:3: member: unknown member 'NO-SUCH-9'\n");
	assert_int_equal(st.receipts, 1);
	assert_int_equal(st.rejected_receipts, 1);
	assert_int_equal(st.rejected_lines, 2);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales"), 1);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

static void test_unknown_sku(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t price = 350;

	(void)state;
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_product_upsert(db, "OLD1", "Rice", "grain", &price), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	IMPORT_OK(db, &st, &e,
		  { "R1", T1, NULL, "OLD1", "1", "3.50" },
		  { "R1", T1, NULL, "NEW1", "2", "4.00", NULL, NULL, "Green tea", "drinks" },
		  { "R2", T1, NULL, "NEW1", "1", "4.00", NULL, NULL, "Green tea", "drinks" },
		  { "R2", T1, NULL, "NEW2", "1", "1.00" });
	assert_int_equal(st.new_products, 2);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM products"), 3);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM products WHERE sku = 'NEW1' AND name = 'Green tea'"
			    " AND category = 'drinks'"), 1);
	assert_int_equal(qi(db, "SELECT amount FROM agg_category_day WHERE category = 'drinks'"), 1200);
	assert_int_equal(qi(db, "SELECT qty FROM agg_category_day WHERE category = 'drinks'"), 3);
	IMPORT_OK(db, &st, &e, { "R3", T2, NULL, "NEW1", "1", "4.00" });
	assert_int_equal(st.new_products, 0);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/*
 * The import's product table compares SKUs shorter than 16 bytes in its
 * slots and longer ones by their text: SKUs of 15, 16 and 63 bytes, SKUs
 * sharing their first 15 bytes, and enough of them (1,500, in two
 * imports) that the table grows while lines hold their categories.  Each
 * is new once, known after, and its lines count under its own category.
 */
static void test_sku_lengths(void **state)
{
	enum { N = 1500, PER = 3 };
	static char sku[N][64], cat[N][16], rcpt[N / PER][16];
	static struct ln lines[N];
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int i, pass;

	(void)state;
	for (i = 0; i < N; i++) {
		/* 15, 16 and 63 bytes, the first 15 the same in each three */
		snprintf(sku[i], sizeof(sku[i]), "%015d%s%s", i / 3, i % 3 ? "b" : "",
			 i % 3 == 2 ? "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxc" : "");
		snprintf(cat[i], sizeof(cat[i]), "c%d", i);
		if (i % PER == 0)
			snprintf(rcpt[i / PER], sizeof(rcpt[i / PER]), "R%d", i / PER);
	}
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < N; i++) {
			lines[i] = (struct ln){ rcpt[i / PER], pass ? T2 : T1, NULL, sku[i], "1", "1.00" };
			lines[i].category = cat[i];
			if (pass)	/* receipts of the second day */
				lines[i].receipt = sku[i / PER * PER];
		}
		assert_int_equal(import(db, lines, N, &st, &e), MBR_OK);
		assert_int_equal(e.n, 0);
		assert_int_equal(st.new_products, pass ? 0 : N);
	}
	assert_int_equal(strlen(sku[0]), 15);
	assert_int_equal(strlen(sku[1]), 16);
	assert_int_equal(strlen(sku[2]), 63);
	assert_int_equal(strncmp(sku[0], sku[1], 15), 0);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM products"), N);
	/* every category, on both days, holds its one SKU's unit */
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM agg_category_day WHERE qty = 1 AND amount = 100"), 2 * N);
	for (i = 0; i < N; i += 499)
		assert_int_equal(qi(db, "SELECT COUNT(*) FROM products WHERE sku = '%s' AND category = 'c%d'", sku[i], i), 1);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* The sale the return receipt ret matched, 0 if none. */
static int64_t matched(struct mbr_db *db, const char *ret)
{
	return qi(db, "SELECT COALESCE((SELECT sale FROM return_matches m JOIN sales r ON r.id = m.ret"
		  " WHERE r.receipt = '%s'), 0)", ret);
}

static int64_t sale_id(struct mbr_db *db, const char *receipt)
{
	return qi(db, "SELECT id FROM sales WHERE receipt = '%s'", receipt);
}

/*
 * A return naming no sale is matched without its query when no sale can
 * match: none of this import sold the member the goods (a filter of what
 * it sold), and the member has no ledger entry from before it.  Whatever
 * the filter says, the match is the one the query finds: against a sale
 * of this import (on a first load, and later), against one of an
 * earlier import the filter never saw, with a SKU voided on the return
 * (given back on balance: none), and none for goods never sold.
 */
static void test_match_possible(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();

	(void)state;
	add_member(db, "M001", NULL);
	add_member(db, "M002", NULL);
	/* a first load: the ledger was empty */
	IMPORT_OK(db, &st, &e,
		  { "R1", T1, "M001", "A", "2", "10.00" },
		  { "R2", T1, "M002", "B", "1", "10.00" },
		  { "X1", T2, "M001", "A", "-1", "10.00" },
		  { "X2", T2, "M001", "B", "-1", "10.00" },
		  { "X3", T2, "M001", "A", "-1", "10.00" },
		  { "X3", T2, "M001", "C", "1", "10.00" },
		  { "X3", T2, "M001", "C", "-1", "10.00" });
	assert_int_equal(st.rejected_receipts, 0);
	assert_int_equal(matched(db, "X1"), sale_id(db, "R1"));
	assert_int_equal(matched(db, "X2"), 0);	/* M002 bought B, not M001 */
	assert_int_equal(matched(db, "X3"), sale_id(db, "R1"));	/* C voided: only A given back */
	assert_int_equal(qi(db, "SELECT returned FROM sales WHERE receipt = 'R1'"), 2000);
	/* later imports: sales of earlier ones are found, the filter knows only its own */
	IMPORT_OK(db, &st, &e,
		  { "R3", T3, "M001", "B", "2", "10.00" },
		  { "R4", T3, "M002", "A", "1", "10.00" });
	IMPORT_OK(db, &st, &e,
		  { "R5", T4, "M001", "D", "1", "10.00" },
		  { "X4", T4, "M001", "B", "-1", "10.00" },
		  { "X5", T4, "M002", "A", "-1", "10.00" },
		  { "X5", T4, "M002", "D", "1", "10.00" },
		  { "X5", T4, "M002", "D", "-1", "10.00" },
		  { "X6", T4, "M001", "D", "-1", "10.00" },
		  { "X7", T4, "M002", "E", "-1", "10.00" });
	assert_int_equal(st.rejected_receipts, 0);
	assert_int_equal(matched(db, "X4"), sale_id(db, "R3"));
	assert_int_equal(matched(db, "X5"), sale_id(db, "R4"));
	assert_int_equal(matched(db, "X6"), sale_id(db, "R5"));
	assert_int_equal(matched(db, "X7"), 0);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* Each sale is scored by the rules in force on its business day, and its
 * return reverses what it earned, not what today's rules would give. */
static void test_rules_versions(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m;

	(void)state;
	m = add_member(db, "M001", NULL);
	load_rules(db, "effective 2025-06-01\nbase 2 per 1.00\n");
	/* 23:30 on May 31 local is 15:30 UTC; 00:30 on June 1 local is still May 31 in UTC */
	IMPORT_OK(db, &st, &e,
		  { "R1", "2025-05-31 23:30", "M001", "A", "1", "100.00" },
		  { "R2", "2025-06-01 00:30", "M001", "A", "1", "100.00" });
	assert_int_equal(qi(db, "SELECT points_earned FROM sales WHERE receipt = 'R1'"), 100);
	assert_int_equal(qi(db, "SELECT points_earned FROM sales WHERE receipt = 'R2'"), 200);
	assert_int_equal(qi(db, "SELECT rules_version FROM sales WHERE receipt = 'R1'"), 0);
	assert_int_equal(qi(db, "SELECT rules_version FROM sales WHERE receipt = 'R2'"),
			 qi(db, "SELECT MAX(id) FROM rules_versions"));
	assert_int_equal(balance(db, m), 300);
	/* the May sale returned in June: 100 back, not 200 */
	IMPORT_OK(db, &st, &e, { "X1", "2025-06-05 10:00", "M001", "A", "-1", "100.00", NULL, "R1" });
	assert_int_equal(st.points_reversed, 100);
	assert_int_equal(balance(db, m), 200);
	/* half of the June sale: 100 of its 200 */
	IMPORT_OK(db, &st, &e, { "X2", "2025-06-05 10:00", "M001", "A", "-1", "50.00", NULL, "R2" });
	assert_int_equal(st.points_reversed, 100);
	assert_int_equal(balance(db, m), 100);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

static void test_aggregates(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	struct mbr_buf b = MBR_BUF_INIT;
	int64_t m, day = mbr_local_day(local(T1));
	int problems = 0;

	(void)state;
	m = add_member(db, "M001", NULL);
	IMPORT_OK(db, &st, &e,
		  { "R1", T1, "M001", "A", "3", "3.50", NULL, NULL, "Apple", "fruit" },
		  { "R1", T1, "M001", "B", "1", "10.00", NULL, NULL, "Bread", "bakery" },
		  { "R2", T1, NULL, "A", "2", "3.50" },
		  { "X1", T1, "M001", "A", "-1", "3.50", NULL, "R1" });
	assert_int_equal(st.receipts, 3);
	assert_int_equal(qi(db, "SELECT receipts FROM agg_store_day WHERE day = %lld", (long long)day), 2);
	assert_int_equal(qi(db, "SELECT returns FROM agg_store_day WHERE day = %lld", (long long)day), 1);
	assert_int_equal(qi(db, "SELECT amount FROM agg_store_day WHERE day = %lld", (long long)day), 2050 + 700 - 350);
	assert_int_equal(qi(db, "SELECT member_receipts FROM agg_store_day"), 1);
	assert_int_equal(qi(db, "SELECT member_amount FROM agg_store_day"), 2050 - 350);
	assert_int_equal(qi(db, "SELECT points_earned FROM agg_store_day"), 20 - 3);
	assert_int_equal(qi(db, "SELECT amount FROM agg_member_day WHERE member = %lld", (long long)m), 1700);
	assert_int_equal(qi(db, "SELECT qty FROM agg_category_day WHERE category = 'fruit'"), 3 + 2 - 1);
	assert_int_equal(mbr_agg_verify(db, problem, &b, &problems), MBR_OK);
	if (problems)
		fail_msg("%s", b.buf);
	assert_sound(db);

	/* tamper with one day's total: one problem, naming it */
	raw(db, "UPDATE agg_store_day SET amount = amount + 1");
	problems = 0;
	mbr_buf_reset(&b);
	assert_int_equal(mbr_agg_verify(db, problem, &b, &problems), MBR_OK);
	{
		char want[128], date[MBR_TIME_BUFSZ];

		snprintf(want, sizeof(want), "store/day aggregate differs from the sales: store S01 on %s\n",
			 mbr_date_format(local(T1), date));
		if (problems != 1 || strcmp(b.buf, want))
			fail_msg("%d problems, wanted 1:\n%s", problems, b.buf);
	}
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_agg_rebuild(db), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	problems = 0;
	assert_int_equal(mbr_agg_verify(db, problem, &b, &problems), MBR_OK);
	assert_int_equal(problems, 0);
	assert_sound(db);
	mbr_buf_release(&b);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

static int undo(struct mbr_db *db, int64_t batch, long *receipts)
{
	int rc;

	assert_int_equal(mbr_begin(db), MBR_OK);
	rc = mbr_sale_undo(db, batch, receipts);
	if (rc != MBR_OK && rc != MBR_EINVAL)
		fail_msg("undo %lld: %d %s", (long long)batch, rc, mbr_db_errmsg(db));
	if (rc == MBR_OK)
		assert_int_equal(mbr_commit(db), MBR_OK);
	else
		assert_int_equal(mbr_rollback(db), MBR_OK);
	return rc;
}

static void test_undo(void **state)
{
	static const struct ln file[] = {
		{ "R1", T1, "M001", "A", "1", "100.00" },
		{ "R2", T1, "M002", "A", "1", "50.00", "points:0.50;cash" },
		{ "R3", T1, NULL, "A", "1", "7.00" },
	};
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m1, m2, b1, b2, b3;
	long n = -1;
	char want[200];

	(void)state;
	m1 = add_member(db, "M001", NULL);
	m2 = add_member(db, "M002", NULL);
	IMPORT_OK(db, &st, &e, { "R0", T1, "M002", "A", "1", "100.00" });
	assert_int_equal(balance(db, m2), 100);
	assert_int_equal(import(db, file, 3, &st, &e), MBR_OK);
	assert_int_equal(e.n, 0);
	b1 = st.batch;
	assert_int_equal(st.receipts, 3);
	assert_int_equal(balance(db, m1), 100);
	assert_int_equal(balance(db, m2), 100 - 50 + 49);
	assert_int_equal(qi(db, "SELECT SUM(amount) FROM agg_store_day"), 10000 + 15700);

	assert_int_equal(undo(db, b1, &n), MBR_OK);
	assert_int_equal(n, 3);
	assert_int_equal(balance(db, m1), 0);
	assert_int_equal(balance(db, m2), 100);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales"), 1);
	assert_int_equal(qi(db, "SELECT SUM(amount) FROM agg_store_day"), 10000);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM agg_member_day WHERE member = %lld", (long long)m1), 0);
	assert_int_equal(qi(db, "SELECT undone_at IS NOT NULL FROM batches WHERE id = %lld", (long long)b1), 1);
	assert_sound(db);
	/* undone twice */
	assert_int_equal(undo(db, b1, &n), MBR_EINVAL);
	snprintf(want, sizeof(want), "batch %lld was already undone", (long long)b1);
	assert_string_equal(mbr_db_errmsg(db), want);

	/* the file can be imported again, and counts as new */
	assert_int_equal(import(db, file, 3, &st, &e), MBR_OK);
	assert_int_equal(e.n, 0);
	b2 = st.batch;
	assert_int_equal(st.receipts, 3);
	assert_int_equal(st.duplicates, 0);
	assert_int_equal(balance(db, m1), 100);
	assert_int_equal(balance(db, m2), 100 - 50 + 49);
	assert_sound(db);

	/* a later batch returns goods of R1: b2 may no longer be undone */
	IMPORT_OK(db, &st, &e, { "X1", T2, "M001", "A", "-1", "40.00", NULL, "R1" });
	b3 = st.batch;
	assert_int_equal(balance(db, m1), 60);
	assert_int_equal(undo(db, b2, &n), MBR_EINVAL);
	snprintf(want, sizeof(want),
		 "batch %lld cannot be undone: return S01/X1 (another batch) references its receipt 'R1'", (long long)b2);
	assert_string_equal(mbr_db_errmsg(db), want);
	assert_int_equal(balance(db, m1), 60);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales"), 5);

	/* undoing the return gives R1 its 40.00 and the points back */
	assert_int_equal(undo(db, b3, &n), MBR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(balance(db, m1), 100);
	assert_int_equal(qi(db, "SELECT returned FROM sales WHERE receipt = 'R1'"), 0);
	assert_int_equal(qi(db, "SELECT points_reversed FROM sales WHERE receipt = 'R1'"), 0);
	assert_sound(db);
	IMPORT_OK(db, &st, &e, { "X2", T2, "M001", "A", "-1", "100.00", NULL, "R1" });
	assert_int_equal(st.points_reversed, 100);
	assert_int_equal(balance(db, m1), 0);
	/* and now b2 is blocked by X2 */
	assert_int_equal(undo(db, b2, &n), MBR_EINVAL);
	assert_int_equal(balance(db, m1), 0);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* After an undo and a re-import, a return of the re-imported sale must
 * reverse the points from the lot that sale opened (lot = its earn
 * entry), as it does before any undo. */
static void test_undo_then_return_uses_own_lot(void **state)
{
	static const struct ln file[] = { { "R1", T2, "M001", "A", "1", "100.00" } };
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m, b1, old_lot, new_lot;
	long n;

	(void)state;
	m = add_member(db, "M001", NULL);
	load_rules(db, "effective 2025-01-01\nexpiry months 12\n");
	IMPORT_OK(db, &st, &e, { "R0", T1, "M001", "A", "1", "100.00" });
	old_lot = qi(db, "SELECT id FROM points_lots WHERE member = %lld", (long long)m);
	assert_int_equal(qi(db, "SELECT expires_at FROM points_lots WHERE id = %lld", (long long)old_lot),
			 local("2026-06-10 00:00"));

	assert_int_equal(import(db, file, 1, &st, &e), MBR_OK);
	b1 = st.batch;
	assert_int_equal(undo(db, b1, &n), MBR_OK);
	assert_int_equal(import(db, file, 1, &st, &e), MBR_OK);
	assert_int_equal(e.n, 0);
	new_lot = qi(db, "SELECT MAX(id) FROM points_lots WHERE member = %lld AND remaining > 0", (long long)m);
	assert_true(new_lot != old_lot);
	assert_int_equal(qi(db, "SELECT expires_at FROM points_lots WHERE id = %lld", (long long)new_lot),
			 local("2026-06-11 00:00"));
	assert_int_equal(balance(db, m), 200);
	/* the cause when this fails: the re-imported R1 reuses the deleted
	 * sale's id, so the undone sale's earn entry still names it */
	if (qi(db, "SELECT COUNT(*) FROM points_ledger WHERE kind = 'earn'"
	       " AND sale = (SELECT id FROM sales WHERE receipt = 'R1')") != 1)
		print_message("note: %lld earn entries name the re-imported R1's sale id\n",
			      (long long)qi(db, "SELECT COUNT(*) FROM points_ledger WHERE kind = 'earn'"
					    " AND sale = (SELECT id FROM sales WHERE receipt = 'R1')"));

	IMPORT_OK(db, &st, &e, { "X1", T3, "M001", "A", "-1", "100.00", NULL, "R1" });
	assert_int_equal(st.points_reversed, 100);
	assert_int_equal(balance(db, m), 100);
	/* R1's own lot is emptied; R0's (expiring a day earlier) is untouched */
	assert_int_equal(qi(db, "SELECT remaining FROM points_lots WHERE id = %lld", (long long)new_lot), 0);
	assert_int_equal(qi(db, "SELECT remaining FROM points_lots WHERE id = %lld", (long long)old_lot), 100);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* After R0 and R1 (100 points each, in lots), X1 giving back 40.00 of R1:
 * R1's lot lost 40, R0's none; the member (m) has 160. */
static void assert_own_lots(struct mbr_db *db, int64_t m)
{
	int64_t l0 = qi(db, "SELECT id FROM points_ledger WHERE ref = 'S01/R0' AND kind = 'earn'");
	int64_t l1 = qi(db, "SELECT id FROM points_ledger WHERE ref = 'S01/R1' AND kind = 'earn'");

	assert_int_equal(qi(db, "SELECT remaining FROM points_lots WHERE id = %lld", (long long)l1), 60);
	assert_int_equal(qi(db, "SELECT remaining FROM points_lots WHERE id = %lld", (long long)l0), 100);
	assert_int_equal(balance(db, m), 160);
	assert_sound(db);
}

/* The reversal of a referenced return comes out of the sale's own lot
 * (so it does not eat points that lapse sooner). */
static void test_return_uses_own_lot(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m;

	(void)state;
	m = add_member(db, "M001", NULL);
	load_rules(db, "effective 2025-01-01\nexpiry months 12\n");
	IMPORT_OK(db, &st, &e, { "R0", T1, "M001", "A", "1", "100.00" });
	IMPORT_OK(db, &st, &e, { "R1", T2, "M001", "A", "1", "100.00" });
	IMPORT_OK(db, &st, &e, { "X1", T3, "M001", "A", "-1", "40.00", NULL, "R1" });
	assert_own_lots(db, m);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/*
 * The same in one import: the sale named and its earn entry are still
 * held back (sales and ledger are written behind) when the return reads
 * them; it takes its points from R1's lot all the same.  And a sale paid
 * with points, returned in the same import: the points come back to the
 * lot they were paid from.
 */
static void test_return_in_same_import_uses_own_lot(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m;

	(void)state;
	m = add_member(db, "M001", NULL);
	load_rules(db, "effective 2025-01-01\nexpiry months 12\n");
	IMPORT_OK(db, &st, &e, { "R0", T1, "M001", "A", "1", "100.00" }, { "R1", T2, "M001", "A", "1", "100.00" },
		  { "X1", T3, "M001", "A", "-1", "40.00", NULL, "R1" },
		  { "R2", T3, "M001", "A", "1", "30.00", "points:1.00;cash" },
		  { "X2", T3, "M001", "A", "-1", "30.00", "points:-1.00;cash", "R2" });
	assert_own_lots(db, m);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/*
 * Lines and payments are JSON in the sale's row, read through the views
 * sale_lines and payments: SKUs with quotes, backslashes, control
 * characters and non-ASCII text come back as they went in, lines in
 * their order, and what the views give is what the import recorded.
 */
static void test_lines_as_json(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();

	(void)state;
	IMPORT_OK(db, &st, &e, { "R1", T1, NULL, "A\"B\\C", "2", "1.50", "card:1.00;cash" },
		  { "R1", T1, NULL, "\xe8\xb4\xa7\x01\xe5\x93\x81", "1", "3.00" }, { "R2", T1, NULL, "X", "-1", "1.00" });
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales WHERE json_valid(lines) AND json_valid(payments)"), 2);
	assert_int_equal(qi(db, "SELECT line FROM sale_lines WHERE sku = 'A\"B\\C' AND qty = 2 AND unit_price = 150"
			     " AND amount = 300"), 1);
	assert_int_equal(qi(db, "SELECT line FROM sale_lines WHERE sku = '\xe8\xb4\xa7' || char(1) || '\xe5\x93\x81'"
			     " AND amount = 300"), 2);
	assert_int_equal(qi(db, "SELECT amount FROM sale_lines WHERE sale = (SELECT id FROM sales WHERE receipt = 'R2')"),
			 -100);
	assert_int_equal(qi(db, "SELECT amount FROM payments WHERE method = 'card'"), 100);
	assert_int_equal(qi(db, "SELECT amount FROM payments WHERE method = 'cash' AND sale ="
			     " (SELECT id FROM sales WHERE receipt = 'R1')"), 500);
	assert_int_equal(qi(db, "SELECT SUM(amount) FROM sale_lines"), 500);
	/* no discount, amount qty x price: [sku, qty, unit_price] (schema 8) */
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales s, json_each(s.lines) AS j"
			     " WHERE json_array_length(j.value) = 3"), 3);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sale_lines WHERE discount = 0 AND amount = qty * unit_price"), 3);
	/* escaped as json_quote escapes, so that a search finds a SKU sold
	 * (a product moved to another category restates its sales) */
	IMPORT_OK(db, &st, &e, { "R3", T1, NULL, "T\tX\n\x1f", "1", "1.00" });
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales WHERE instr(lines, json_quote('T' || char(9) || 'X' ||"
			     " char(10) || char(31))) > 0"), 1);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM sales WHERE instr(lines, json_quote('A\"B\\C')) > 0"), 1);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_product_upsert(db, "T\tX\n\x1f", NULL, "other", NULL), 1);
	assert_int_equal(mbr_product_upsert(db, "A\"B\\C", NULL, "other", NULL), 1);
	assert_int_equal(mbr_product_upsert(db, "T\tX", NULL, "other", NULL), 0);	/* never sold */
	assert_int_equal(mbr_agg_rebuild(db), MBR_OK);	/* as mbr-sale products does after a move */
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

/* A frozen member's sales are recorded but earn nothing. */
/* `mbr-sale add` items: three or four colon-separated fields, copied. */
static void test_item_split(void **state)
{
	char buf[16];
	const char *f[4];

	(void)state;
	assert_int_equal(mbr_sale_item_split("A1:2:3.50", buf, sizeof(buf), f), MBR_OK);
	assert_string_equal(f[0], "A1");
	assert_string_equal(f[1], "2");
	assert_string_equal(f[2], "3.50");
	assert_null(f[3]);
	assert_int_equal(mbr_sale_item_split("A1:2:3.50:0.5", buf, sizeof(buf), f), MBR_OK);
	assert_string_equal(f[3], "0.5");
	/* empty fields are fields: the sale line says what is wrong with them */
	assert_int_equal(mbr_sale_item_split("::", buf, sizeof(buf), f), MBR_OK);
	assert_string_equal(f[0], "");
	assert_string_equal(f[2], "");
	assert_int_equal(mbr_sale_item_split(":::", buf, sizeof(buf), f), MBR_OK);
	assert_string_equal(f[3], "");
	/* too few, too many */
	assert_int_equal(mbr_sale_item_split("", buf, sizeof(buf), f), MBR_EINVAL);
	assert_int_equal(mbr_sale_item_split("A1-2", buf, sizeof(buf), f), MBR_EINVAL);
	assert_int_equal(mbr_sale_item_split("A1:2", buf, sizeof(buf), f), MBR_EINVAL);
	assert_int_equal(mbr_sale_item_split("A1:2:3:4:", buf, sizeof(buf), f), MBR_EINVAL);
	assert_int_equal(mbr_sale_item_split("::::", buf, sizeof(buf), f), MBR_EINVAL);
	/* the buffer: 15 bytes and the NUL fit, 16 do not; the item is left whole */
	assert_int_equal(mbr_sale_item_split("ABCDEFGHIJK:1:2", buf, sizeof(buf), f), MBR_OK);
	assert_string_equal(f[0], "ABCDEFGHIJK");
	{
		const char *item = "ABCDEFGHIJKL:1:2";

		assert_int_equal(mbr_sale_item_split(item, buf, sizeof(buf), f), MBR_EINVAL);
		assert_string_equal(item, "ABCDEFGHIJKL:1:2");
	}
}

static void test_frozen_member_sale(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_sale_stats st;
	struct errors e = errs_init();
	int64_t m;

	(void)state;
	m = add_member(db, "M001", NULL);
	IMPORT_OK(db, &st, &e, { "R1", T1, "M001", "A", "1", "10.00" });
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_set_status(db, m, "frozen"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	IMPORT_OK(db, &st, &e, { "R2", T2, "M001", "A", "1", "10.00" });
	assert_int_equal(st.receipts, 1);
	assert_int_equal(st.points_earned, 0);
	assert_int_equal(balance(db, m), 10);
	IMPORT(db, &st, &e, { "R3", T2, "M001", "A", "1", "10.00", "points:1.00;cash" });
	assert_int_equal(e.n, 1);
	assert_int_equal(balance(db, m), 10);
	assert_sound(db);
	mbr_buf_release(&e.all);
	mbr_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_default_rounding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_written_behind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_members_ahead_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_members_ahead_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receipts_ahead_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receipts_ahead_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_return, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_returns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_return_exceeds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_points_payment_and_refund, setup, teardown),
		cmocka_unit_test_setup_teardown(test_points_payment_beyond_balance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_across_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_differs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_total_return, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_receipt_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_sku, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sku_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_match_possible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aggregates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_return_uses_own_lot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_return_in_same_import_uses_own_lot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_then_return_uses_own_lot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_as_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frozen_member_sale, setup, teardown),
		cmocka_unit_test(test_item_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
