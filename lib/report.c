/*
 * report.c - reports answered from the maintained aggregates, never by
 * rescanning sale lines: sales by day, month or store.
 *
 * Every report is a column list plus a query over the agg_* tables; rows
 * come back as text (money formatted with the currency exponent, business
 * days as local dates) for the caller's writer.  Business days are stored
 * as day numbers of the local calendar, so date(day * 86400, 'unixepoch')
 * is that local date whatever the zone.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "banned.h"

const struct mbr_col mbr_report_sales_cols[MBR_REPORT_SALES_NCOLS] = {
	{ "key", NULL, 0 },	/* named by the caller: day, month or store */
	{ "receipts", NULL, MBR_COL_NUMBER },
	{ "returns", NULL, MBR_COL_NUMBER },
	{ "amount", NULL, MBR_COL_NUMBER },
	{ "discount", NULL, MBR_COL_NUMBER },
	{ "items", NULL, MBR_COL_NUMBER },
	{ "member_receipts", NULL, MBR_COL_NUMBER },
	{ "member_amount", NULL, MBR_COL_NUMBER },
	{ "avg_receipt", NULL, MBR_COL_NUMBER },
	{ "points", NULL, MBR_COL_NUMBER },
};

#define SALES_SUMS " SUM(receipts), SUM(returns), SUM(amount), SUM(discount), SUM(items)," \
		   " SUM(member_receipts), SUM(member_amount), SUM(points_earned)" \
		   " FROM agg_store_day WHERE day BETWEEN ? AND ?"

int mbr_report_sales(struct mbr_db *db, enum mbr_report_by by, int64_t from_day, int64_t to_day,
		     mbr_report_fn fn, void *ctx)
{
	static const char *const sql[] = {
		[MBR_BY_DAY] = "SELECT date(day * 86400, 'unixepoch') AS k," SALES_SUMS " GROUP BY day ORDER BY day",
		[MBR_BY_MONTH] = "SELECT strftime('%Y-%m', day * 86400, 'unixepoch') AS k," SALES_SUMS
				 " GROUP BY k ORDER BY k",
		[MBR_BY_STORE] = "SELECT store AS k," SALES_SUMS " GROUP BY store ORDER BY store",
	};
	char buf[MBR_REPORT_SALES_NCOLS][48];
	const char *v[MBR_REPORT_SALES_NCOLS];
	sqlite3_stmt *st;
	int rc, i, r;

	st = mbr_stmt(db, sql[by]);
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, from_day);
	sqlite3_bind_int64(st, 2, to_day);
	for (i = 0; i < MBR_REPORT_SALES_NCOLS; i++)
		v[i] = buf[i];
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t receipts = sqlite3_column_int64(st, 1), amount = sqlite3_column_int64(st, 3);

		snprintf(buf[0], sizeof(buf[0]), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(buf[1], sizeof(buf[1]), "%lld", (long long)receipts);
		snprintf(buf[2], sizeof(buf[2]), "%lld", (long long)sqlite3_column_int64(st, 2));
		mbr_money_format(amount, db->exp, buf[3]);
		mbr_money_format(sqlite3_column_int64(st, 4), db->exp, buf[4]);
		snprintf(buf[5], sizeof(buf[5]), "%lld", (long long)sqlite3_column_int64(st, 5));
		snprintf(buf[6], sizeof(buf[6]), "%lld", (long long)sqlite3_column_int64(st, 6));
		mbr_money_format(sqlite3_column_int64(st, 7), db->exp, buf[7]);
		/* the average receipt, net of returns, rounded down to the minor unit */
		mbr_money_format(receipts ? amount / receipts : 0, db->exp, buf[8]);
		snprintf(buf[9], sizeof(buf[9]), "%lld", (long long)sqlite3_column_int64(st, 8));
		if ((r = fn(v, ctx)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "report");
}

/* ------------------------------------------------------------ birthdays */

const struct mbr_col mbr_report_birthday_cols[MBR_REPORT_BIRTHDAY_NCOLS] = {
	{ "member_no", NULL, 0 }, { "uid", NULL, 0 }, { "birthday", NULL, 0 },
	{ "in_days", NULL, MBR_COL_NUMBER }, { "tier", NULL, 0 }, { "store", NULL, 0 },
};

struct bday {
	int offset[13][32];		/* [month][day] -> days from today + 1, 0 = not in range */
	mbr_report_fn fn;
	void *ctx;
};

static int bday_cb(const struct mbr_member *m, void *p)
{
	struct bday *b = p;
	char md[6], days[16];
	const char *v[MBR_REPORT_BIRTHDAY_NCOLS];
	int mon, day, off;

	if (strcmp(m->status, "active") || strlen(m->birthday) != 10)
		return 0;
	mon = atoi(m->birthday + 5);
	day = atoi(m->birthday + 8);
	if (mon < 1 || mon > 12 || day < 1 || day > 31)
		return 0;
	off = b->offset[mon][day];
	if (!off)
		return 0;
	snprintf(md, sizeof(md), "%s", m->birthday + 5);
	snprintf(days, sizeof(days), "%d", off - 1);
	v[0] = m->member_no;
	v[1] = m->uid;
	v[2] = md;		/* month and day only: the year is personal data */
	v[3] = days;
	v[4] = m->tier;
	v[5] = m->store;
	return b->fn(v, b->ctx);
}

int mbr_report_birthdays(struct mbr_db *db, int64_t today, int days, mbr_report_fn fn, void *ctx)
{
	struct bday b;
	int k;

	memset(&b, 0, sizeof(b));
	b.fn = fn;
	b.ctx = ctx;
	if (days < 0 || days > 366)
		return mbr_db_fail(db, MBR_EINVAL, "days must be 0-366");
	for (k = days; k >= 0; k--) {
		int y, mon, day;

		/* day numbers are local calendar days: read them as UTC */
		{
			time_t t = (time_t)((today + k) * 86400);
			struct tm tm;

			gmtime_r(&t, &tm);
			y = tm.tm_year + 1900;
			mon = tm.tm_mon + 1;
			day = tm.tm_mday;
		}
		b.offset[mon][day] = k + 1;
		/* Feb 29 birthdays are kept on Feb 28 in other years */
		if (mon == 2 && day == 28 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
			b.offset[2][29] = k + 1;
	}
	return mbr_member_each(db, bday_cb, &b);
}
