/*
 * test_report.c - unit tests for lib/report.c: the figures reports derive
 * from the aggregates.  RFM scores of tied members (a tie must not split
 * members who bought on the same day into different scores, nor score
 * today's buyers as lapsing), days of returns only not counting as a
 * purchase, erased members and days outside the window left out; cohort
 * rows for months in which nobody of a cohort bought (a retention table
 * with holes reads as if those months were never measured); category
 * shares when returns outweigh sales, rounded down, not toward zero;
 * tiers that no member holds; and members owing points.
 *
 * The aggregates are written directly: what is tested is the reading.
 * Every test runs in a fresh temporary directory with MBR_KEY unset,
 * MBR_OPERATOR "tester" and MBR_NOW pinned.
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

#define NOW "2025-07-01T02:00:00Z"

static int setup(void **state)
{
	(void)state;
	return harness_setup("report", NOW);
}

/* rows joined by ',' and ended by '\n', columns given */
struct rows {
	struct mbr_buf b;
	size_t ncols;
};

static int collect(const char *const *v, void *p)
{
	struct rows *r = p;
	size_t i;

	for (i = 0; i < r->ncols; i++) {
		if (i)
			mbr_buf_addc(&r->b, ',');
		mbr_buf_adds(&r->b, v[i]);
	}
	mbr_buf_addc(&r->b, '\n');
	return 0;
}

static int64_t day(const char *date)
{
	return mbr_local_day(local(date));
}

/* one member-day aggregate row */
static void member_day(struct mbr_db *db, int64_t member, int64_t d, int receipts, int64_t amount)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO agg_member_day(day, member, receipts, amount, points_earned)"
		 " VALUES (%lld, %lld, %d, %lld, 0)",
		 (long long)d, (long long)member, receipts, (long long)amount);
	raw(db, sql);
}

static void test_rfm_ties(void **state)
{
	struct mbr_db *db = new_db();
	struct rows r = { MBR_BUF_INIT, MBR_REPORT_RFM_NCOLS };
	int64_t a, b, c, d, e, gone, to = day("2025-06-30 12:00");

	(void)state;
	a = add_member(db, "A", NULL);
	b = add_member(db, "B", NULL);
	c = add_member(db, "C", NULL);
	d = add_member(db, "D", NULL);
	e = add_member(db, "E", NULL);
	gone = add_member(db, "G", NULL);
	member_day(db, a, to - 1, 2, 5000);
	member_day(db, a, to, 1, 1000);
	member_day(db, b, to, 1, 100);
	member_day(db, c, to - 300, 1, 2000);
	member_day(db, c, to - 2, 0, -300);	/* a return only: not a purchase */
	member_day(db, d, to - 10, 0, -500);	/* returns only: not in the report */
	member_day(db, e, to - 365, 1, 50);	/* before the window */
	member_day(db, gone, to, 5, 99999);
	{
		char sql[96];

		snprintf(sql, sizeof(sql), "UPDATE members SET status = 'erased' WHERE id = %lld", (long long)gone);
		raw(db, sql);
	}
	assert_int_equal(mbr_report_rfm(db, to - 364, to, collect, &r), MBR_OK);
	/*
	 * three members: A and B bought on the last day (middle of the top
	 * two of three: 4), C long ago (1); A's three sales score 5, B's and
	 * C's one each share 2; amounts 100 < 1700 < 6000 score 1, 3, 5.
	 */
	assert_string_equal(r.b.buf,
			    "S01-1,,,2025-06-30,0,3,60.00,4,5,5,455,champions\n"
			    "S01-2,,,2025-06-30,0,1,1.00,4,2,1,421,new\n"
			    "S01-3,,,2024-09-03,300,1,17.00,1,2,3,123,lost\n");
	/* a single member stands in the middle */
	mbr_buf_reset(&r.b);
	assert_int_equal(mbr_report_rfm(db, to - 300, to - 300, collect, &r), MBR_OK);
	assert_string_equal(r.b.buf, "S01-3,,,2024-09-03,0,1,20.00,3,3,3,333,regular\n");
	/* nobody in the window: no rows, no error */
	mbr_buf_reset(&r.b);
	assert_int_equal(mbr_report_rfm(db, to + 1, to + 30, collect, &r), MBR_OK);
	assert_int_equal(r.b.len, 0);
	mbr_buf_release(&r.b);
	mbr_db_close(db);
}

static void test_cohorts_fill_months(void **state)
{
	struct mbr_db *db = new_db();
	struct rows r = { MBR_BUF_INIT, MBR_REPORT_COHORT_NCOLS };
	int64_t x, y, z, w;

	(void)state;
	x = add_member(db, "X", NULL);
	y = add_member(db, "Y", NULL);
	z = add_member(db, "Z", NULL);
	w = add_member(db, "W", NULL);
	/* no sale to a member: no rows */
	assert_int_equal(mbr_report_cohorts(db, INT32_MIN, INT32_MAX, collect, &r), MBR_OK);
	assert_int_equal(r.b.len, 0);
	member_day(db, z, day("2024-12-31 12:00"), 1, 100);	/* first bought before --from */
	member_day(db, z, day("2025-01-02 12:00"), 1, 100);
	member_day(db, x, day("2025-01-15 12:00"), 1, 100);
	member_day(db, x, day("2025-01-20 12:00"), 2, 100);	/* twice in a month counts once */
	member_day(db, x, day("2025-03-01 12:00"), 1, 100);
	member_day(db, y, day("2025-02-10 12:00"), 1, 100);
	member_day(db, y, day("2025-03-05 12:00"), 0, -100);	/* a return is not a purchase */
	member_day(db, w, day("2025-01-31 12:00"), 1, 100);
	assert_int_equal(mbr_report_cohorts(db, day("2025-01-01 00:00"), INT32_MAX, collect, &r), MBR_OK);
	assert_string_equal(r.b.buf,
			    "2025-01,2,2025-01,0,2,100.0\n"
			    "2025-01,2,2025-02,1,0,0.0\n"
			    "2025-01,2,2025-03,2,1,50.0\n"
			    "2025-02,1,2025-02,0,1,100.0\n"
			    "2025-02,1,2025-03,1,0,0.0\n");
	/* only the cohorts asked for, followed to the last month with a sale */
	mbr_buf_reset(&r.b);
	assert_int_equal(mbr_report_cohorts(db, day("2024-12-01 00:00"), day("2024-12-31 00:00"), collect, &r),
			 MBR_OK);
	assert_string_equal(r.b.buf,
			    "2024-12,1,2024-12,0,1,100.0\n"
			    "2024-12,1,2025-01,1,1,100.0\n"
			    "2024-12,1,2025-02,2,0,0.0\n"
			    "2024-12,1,2025-03,3,0,0.0\n");
	mbr_buf_release(&r.b);
	mbr_db_close(db);
}

static void test_churn_months(void **state)
{
	struct mbr_db *db = new_db();
	struct rows r = { MBR_BUF_INIT, MBR_REPORT_CHURN_NCOLS };
	int64_t a, b, c;

	(void)state;
	a = add_member(db, "A", NULL);
	b = add_member(db, "B", NULL);
	c = add_member(db, "C", NULL);
	assert_int_equal(mbr_report_churn(db, INT32_MIN, INT32_MAX, collect, &r), MBR_OK);
	assert_int_equal(r.b.len, 0);
	member_day(db, a, day("2025-01-10 12:00"), 1, 1000);
	member_day(db, b, day("2025-01-20 12:00"), 1, 500);
	member_day(db, a, day("2025-02-03 12:00"), 1, 300);
	member_day(db, b, day("2025-02-04 12:00"), 0, -100);	/* a return is no purchase */
	/* March: nothing at all */
	member_day(db, b, day("2025-04-01 12:00"), 1, 200);
	member_day(db, c, day("2025-04-30 12:00"), 1, 400);
	assert_int_equal(mbr_report_churn(db, INT32_MIN, INT32_MAX, collect, &r), MBR_OK);
	/*
	 * February: A stayed, B churned (1 of 2: 50.0); 2.00 spent by one
	 * member, who will spend 2.00 x 2 / 1 at that churn.  March, quiet:
	 * A churned.  April: C new, B back after a quiet month.
	 */
	assert_string_equal(r.b.buf,
			    "2025-01,2,2,0,0,0,,15.00,7.50,\n"
			    "2025-02,1,0,1,0,1,50.0,2.00,2.00,4.00\n"
			    "2025-03,0,0,0,0,1,100.0,0.00,0.00,\n"
			    "2025-04,2,1,0,1,0,,6.00,3.00,\n");
	/* the months asked for; February's churn still counts January */
	mbr_buf_reset(&r.b);
	assert_int_equal(mbr_report_churn(db, day("2025-02-15 00:00"), day("2025-03-02 00:00"), collect, &r),
			 MBR_OK);
	assert_string_equal(r.b.buf,
			    "2025-02,1,0,1,0,1,50.0,2.00,2.00,4.00\n"
			    "2025-03,0,0,0,0,1,100.0,0.00,0.00,\n");
	mbr_buf_release(&r.b);
	mbr_db_close(db);
}

static void test_members_by_month_and_store(void **state)
{
	struct mbr_db *db = new_db();
	struct rows r = { MBR_BUF_INIT, MBR_REPORT_MEMBER_NCOLS };
	int64_t a, b, c;
	char sql[256];

	(void)state;
	raw(db, "INSERT INTO stores(code, name, created_at) VALUES ('S02', '', 0)");
	a = add_member(db, "A", NULL);
	b = add_member(db, "B", NULL);
	c = add_member(db, "C", NULL);
	/* A and B enrolled on January 31 at 23:30 in Shanghai (UTC 15:30):
	 * a January member there, whatever the machine's zone; C in March */
	snprintf(sql, sizeof(sql), "UPDATE members SET created_at = %lld, store = 'S02' WHERE id IN (%lld, %lld)",
		 (long long)local("2025-01-31 23:30"), (long long)a, (long long)b);
	raw(db, sql);
	snprintf(sql, sizeof(sql), "UPDATE members SET created_at = %lld, status = 'frozen' WHERE id = %lld",
		 (long long)local("2025-03-02 10:00"), (long long)c);
	raw(db, sql);
	member_day(db, a, day("2025-02-10 12:00"), 2, 3000);
	member_day(db, a, day("2025-02-11 12:00"), 0, -500);
	member_day(db, b, day("2025-02-10 12:00"), 0, -100);	/* returns only: no buyer */
	member_day(db, c, day("2025-03-10 12:00"), 1, 700);
	assert_int_equal(mbr_report_members(db, MBR_BY_MONTH, INT32_MIN, INT32_MAX, collect, &r), MBR_OK);
	assert_string_equal(r.b.buf, "2025-01,2,2,0,0,1,24.00,24.00\n2025-03,1,0,1,0,1,7.00,7.00\n");
	mbr_buf_reset(&r.b);
	assert_int_equal(mbr_report_members(db, MBR_BY_STORE, INT32_MIN, INT32_MAX, collect, &r), MBR_OK);
	/* C has no home store: the empty store */
	assert_string_equal(r.b.buf, ",1,0,1,0,1,7.00,7.00\nS02,2,2,0,0,1,24.00,24.00\n");
	/* enrolled in February or later: C alone */
	mbr_buf_reset(&r.b);
	assert_int_equal(mbr_report_members(db, MBR_BY_STORE, day("2025-02-01 12:00"), INT32_MAX, collect, &r),
			 MBR_OK);
	assert_string_equal(r.b.buf, ",1,0,1,0,1,7.00,7.00\n");
	assert_int_equal(mbr_report_members(db, MBR_BY_DAY, INT32_MIN, INT32_MAX, collect, &r), MBR_EINVAL);
	mbr_buf_release(&r.b);
	mbr_db_close(db);
}

static void test_category_shares(void **state)
{
	struct mbr_db *db = new_db();
	struct rows r = { MBR_BUF_INIT, MBR_REPORT_CATEGORY_NCOLS };
	int64_t d = day("2025-06-10 12:00");
	char sql[512];

	(void)state;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO agg_category_day(category, store, day, lines, qty, amount) VALUES"
		 " ('a', 'S01', %lld, 1, 1, 1000), ('b', 'S01', %lld, 2, 3, 3000),"
		 " ('c', 'S01', %lld, 1, -1, -500), ('a', 'S01', %lld, 9, 9, 9000)",
		 (long long)d, (long long)d, (long long)d, (long long)d + 1);
	raw(db, sql);
	assert_int_equal(mbr_report_categories(db, NULL, d, d, collect, &r), MBR_OK);
	/* shares of what the selling categories sold: 3000/4000, 1000/4000;
	 * c returned more than it sold and has none */
	assert_string_equal(r.b.buf,
			    "b,2,3,30.00,75.0\n"
			    "a,1,1,10.00,25.0\n"
			    "c,1,-1,-5.00,\n");
	/* a net total of all categories below zero does not matter: 1000/1000 */
	mbr_buf_reset(&r.b);
	raw(db, "UPDATE agg_category_day SET amount = -amount WHERE category = 'b'");
	assert_int_equal(mbr_report_categories(db, "S01", d, d, collect, &r), MBR_OK);
	assert_string_equal(r.b.buf, "a,1,1,10.00,100.0\nc,1,-1,-5.00,\nb,2,3,-30.00,\n");
	/* none sold more than came back: no share at all */
	mbr_buf_reset(&r.b);
	raw(db, "UPDATE agg_category_day SET amount = -amount WHERE category = 'a'");
	assert_int_equal(mbr_report_categories(db, "S01", d, d, collect, &r), MBR_OK);
	assert_string_equal(r.b.buf, "c,1,-1,-5.00,\na,1,1,-10.00,\nb,2,3,-30.00,\n");
	/* a store that does not exist is an error, not an empty report */
	assert_int_equal(mbr_report_categories(db, "S09", d, d, collect, &r), MBR_ENOTFOUND);
	assert_string_equal(mbr_db_errmsg(db), "no store 'S09'");
	mbr_buf_release(&r.b);
	mbr_db_close(db);
}

static void test_tiers_and_negative(void **state)
{
	struct mbr_db *db = new_db();
	struct rows r = { MBR_BUF_INIT, MBR_REPORT_TIER_NCOLS };
	int64_t a, b;

	(void)state;
	a = add_member(db, "A", NULL);
	b = add_member(db, "B", NULL);
	add_member(db, "C", NULL);
	/* OLD: a tier only older rules had (ranked below 0 by the loads since) */
	raw(db, "INSERT INTO tiers(code, rank) VALUES ('GOLD', 2), ('SILVER', 1), ('OLD', -7)");
	{
		char sql[256];

		snprintf(sql, sizeof(sql),
			 "UPDATE members SET tier = 'GOLD', sv_principal = 1000, sv_bonus = 50 WHERE id = %lld;"
			 "INSERT INTO points_balances(member, points) VALUES (%lld, -20)", (long long)a, (long long)a);
		raw(db, sql);
		snprintf(sql, sizeof(sql), "INSERT INTO points_balances(member, points) VALUES (%lld, 7)", (long long)b);
		raw(db, sql);
	}
	assert_int_equal(mbr_report_tiers(db, collect, &r), MBR_OK);
	assert_string_equal(r.b.buf, ",2,7,0,0.00\nSILVER,0,0,0,0.00\nGOLD,1,-20,1,10.50\nOLD,0,0,0,0.00\n");

	mbr_buf_reset(&r.b);
	r.ncols = MBR_REPORT_NEGATIVE_NCOLS;
	assert_int_equal(mbr_report_negative(db, collect, &r), MBR_OK);
	/* no ledger entry here: the day is empty */
	assert_string_equal(r.b.buf, "A,S01-1,-20,GOLD,,\n");
	mbr_buf_release(&r.b);
	mbr_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rfm_ties, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cohorts_fill_months, setup, teardown),
		cmocka_unit_test_setup_teardown(test_churn_months, setup, teardown),
		cmocka_unit_test_setup_teardown(test_members_by_month_and_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_category_shares, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tiers_and_negative, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
