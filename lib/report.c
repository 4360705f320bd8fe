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
#include <string.h>

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
