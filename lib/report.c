/*
 * report.c - reports answered from the maintained aggregates, never by
 * rescanning sale lines: sales by day, month or store, categories,
 * members' recency, frequency and monetary value (RFM) and cohorts (from
 * the member-day aggregate); and from the members table: tiers and
 * members whose points balance is negative.
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
	{ "amount", NULL, MBR_COL_NUMBER | MBR_COL_CHART },
	{ "discount", NULL, MBR_COL_NUMBER },
	{ "items", NULL, MBR_COL_NUMBER },
	{ "member_receipts", NULL, MBR_COL_NUMBER },
	{ "member_amount", NULL, MBR_COL_NUMBER },
	{ "avg_receipt", NULL, MBR_COL_NUMBER },
	{ "points", NULL, MBR_COL_NUMBER },
};

#define SALES_SUMS " SUM(receipts), SUM(returns), SUM(amount), SUM(discount), SUM(items)," \
		   " SUM(member_receipts), SUM(member_amount), SUM(points_earned)" \
		   " FROM agg_store_day WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR store = ?3)"

int mbr_store_check(struct mbr_db *db, const char *store)
{
	int rc;

	if (!store)
		return 0;
	if ((rc = mbr_store_exists(db, store)) < 0)
		return rc;
	return rc ? 0 : mbr_db_fail(db, MBR_ENOTFOUND, "no store '%s'", store);
}

/* part per hundred of whole, rounded down to one decimal, into buf; empty
 * when whole is not positive */
static void percent(int64_t part, int64_t whole, char *buf, size_t n)
{
	__int128 t;

	if (whole <= 0) {
		snprintf(buf, n, "%s", "");
		return;
	}
	t = (__int128)part * 1000 / whole;
	if (t < 0 && ((__int128)part * 1000) % whole)
		t--;	/* down, not toward zero */
	snprintf(buf, n, "%s%lld.%lld", t < 0 && t > -10 ? "-" : "", (long long)(t / 10),
		 (long long)(t < 0 ? -(t % 10) : t % 10));
}

/*
 * One report row: the statement's current row made into the report's
 * values v[] (each may point into its own buf[]).  arg is the report's
 * own (the last day, for rfm).  0, or < 0 to stop with that error.
 */
#define ROW_MAX 12
typedef int (*row_fn)(struct mbr_db *db, sqlite3_stmt *st, void *arg, char buf[][48], const char **v);

/* Run st (bound), each row made by make and passed to fn: 0, fn's
 * non-zero, or an error. */
static int each_row(struct mbr_db *db, sqlite3_stmt *st, row_fn make, void *arg, mbr_report_fn fn, void *ctx)
{
	char buf[ROW_MAX][48];
	const char *v[ROW_MAX];
	int rc, r = 0, i;

	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; i < ROW_MAX; i++)
			v[i] = buf[i];
		if ((r = make(db, st, arg, buf, v)) == 0)
			r = fn(v, ctx);
	}
	sqlite3_reset(st);
	if (r)
		return r;
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "report");
}

/* A report over days [from_day, to_day] (?1, ?2) of one store (?3, or
 * all when store is NULL): its rows made by make. */
static int range_report(struct mbr_db *db, const char *sql, const char *store, int64_t from_day, int64_t to_day,
			row_fn make, void *arg, mbr_report_fn fn, void *ctx)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = mbr_store_check(db, store)) < 0)
		return rc;
	if (!(st = mbr_stmt(db, sql)))
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, from_day);
	sqlite3_bind_int64(st, 2, to_day);
	if (store)
		sqlite3_bind_text(st, 3, store, -1, SQLITE_STATIC);
	return each_row(db, st, make, arg, fn, ctx);
}

/* column i as a whole number, or as money, into b */
static const char *col_int(sqlite3_stmt *st, int i, char *b)
{
	snprintf(b, 48, "%lld", (long long)sqlite3_column_int64(st, i));
	return b;
}

static const char *col_money(struct mbr_db *db, sqlite3_stmt *st, int i, char *b)
{
	return mbr_money_format(sqlite3_column_int64(st, i), db->exp, b);
}

/* column i's text (valid until the next step) */
static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

static int sales_row(struct mbr_db *db, sqlite3_stmt *st, void *arg, char buf[][48], const char **v)
{
	int64_t receipts = sqlite3_column_int64(st, 1), amount = sqlite3_column_int64(st, 3);

	(void)arg;
	v[0] = col_text(st, 0);
	col_int(st, 1, buf[1]);
	col_int(st, 2, buf[2]);
	col_money(db, st, 3, buf[3]);
	col_money(db, st, 4, buf[4]);
	col_int(st, 5, buf[5]);
	col_int(st, 6, buf[6]);
	col_money(db, st, 7, buf[7]);
	/* the average receipt, net of returns, rounded down to the minor unit */
	mbr_money_format(receipts ? amount / receipts : 0, db->exp, buf[8]);
	col_int(st, 8, buf[9]);
	return 0;
}

int mbr_report_sales(struct mbr_db *db, enum mbr_report_by by, const char *store, int64_t from_day,
		     int64_t to_day, mbr_report_fn fn, void *ctx)
{
	static const char *const sql[] = {
		[MBR_BY_DAY] = "SELECT date(day * 86400, 'unixepoch') AS k," SALES_SUMS " GROUP BY day ORDER BY day",
		[MBR_BY_MONTH] = "SELECT strftime('%Y-%m', day * 86400, 'unixepoch') AS k," SALES_SUMS
				 " GROUP BY k ORDER BY k",
		[MBR_BY_STORE] = "SELECT store AS k," SALES_SUMS " GROUP BY store ORDER BY store",
	};
	return range_report(db, sql[by], store, from_day, to_day, sales_row, NULL, fn, ctx);
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

/* ----------------------------------------------------------- categories */

const struct mbr_col mbr_report_category_cols[MBR_REPORT_CATEGORY_NCOLS] = {
	{ "category", NULL, 0 }, { "lines", NULL, MBR_COL_NUMBER }, { "qty", NULL, MBR_COL_NUMBER },
	{ "amount", NULL, MBR_COL_NUMBER | MBR_COL_CHART }, { "share", NULL, MBR_COL_NUMBER },
};

/* From the category x store x day aggregate: largest amount first. */
static int category_row(struct mbr_db *db, sqlite3_stmt *st, void *arg, char buf[][48], const char **v)
{
	(void)arg;
	v[0] = col_text(st, 0);
	col_int(st, 1, buf[1]);
	col_int(st, 2, buf[2]);
	col_money(db, st, 3, buf[3]);
	/* a share of what the categories that sold more than came back sold:
	 * a net total small beside its parts would give shares in thousands */
	if (sqlite3_column_int64(st, 3) > 0)
		percent(sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4), buf[4], sizeof(buf[4]));
	else
		buf[4][0] = '\0';
	return 0;
}

int mbr_report_categories(struct mbr_db *db, const char *store, int64_t from_day, int64_t to_day,
			  mbr_report_fn fn, void *ctx)
{
	static const char sql[] =
		"SELECT category, SUM(lines), SUM(qty), SUM(amount), SUM(MAX(SUM(amount), 0)) OVER ()"
		" FROM agg_category_day WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR store = ?3)"
		" GROUP BY category ORDER BY SUM(amount) DESC, category";
	return range_report(db, sql, store, from_day, to_day, category_row, NULL, fn, ctx);
}

/* ------------------------------------------------------------------ RFM */

const struct mbr_col mbr_report_rfm_cols[MBR_REPORT_RFM_NCOLS] = {
	{ "uid", NULL, 0 }, { "tier", NULL, 0 }, { "store", NULL, 0 }, { "last_purchase", NULL, 0 },
	{ "recency_days", NULL, MBR_COL_NUMBER }, { "frequency", NULL, MBR_COL_NUMBER },
	{ "monetary", NULL, MBR_COL_NUMBER }, { "r", NULL, MBR_COL_NUMBER }, { "f", NULL, MBR_COL_NUMBER },
	{ "m", NULL, MBR_COL_NUMBER }, { "rfm", NULL, 0 }, { "segment", NULL, 0 },
};

/* The segment of a member's scores, first match in this order (mbr-report(1)). */
static const char *rfm_segment(int r, int f, int m)
{
	if (r >= 4 && f >= 4 && m >= 4)
		return "champions";
	if (f >= 4)
		return r >= 3 ? "loyal" : "at_risk";
	if (r >= 4)
		return "new";
	if (r == 1)
		return "lost";
	if (r == 2)
		return "hibernating";
	return "regular";
}

static int rfm_row(struct mbr_db *db, sqlite3_stmt *st, void *arg, char buf[][48], const char **v)
{
	int64_t to_day = *(int64_t *)arg;
	int sc[3], i;

	for (i = 0; i < 4; i++)
		v[i] = col_text(st, i);
	snprintf(buf[4], 48, "%lld", (long long)(to_day - sqlite3_column_int64(st, 4)));
	col_int(st, 5, buf[5]);
	col_money(db, st, 6, buf[6]);
	for (i = 0; i < 3; i++) {
		sc[i] = sqlite3_column_int(st, 7 + i);
		snprintf(buf[7 + i], 48, "%d", sc[i]);
	}
	snprintf(buf[10], 48, "%d%d%d", sc[0], sc[1], sc[2]);
	v[11] = rfm_segment(sc[0], sc[1], sc[2]);
	return 0;
}

/*
 * Over the member-day aggregate: a member's last day with a sale, its
 * sales (receipts that are not returns) and its net amount, in the days
 * asked.  Each is scored 1-5 by where it stands among those members,
 * ascending, taking the middle of its ties: with b members below it and
 * e members at or below it, 1 + 5 * (b + e) / (2 * members) rounded down.
 * Equal values share a score (members who all bought on the same day
 * score 3), the scores do not depend on the order rows come in, and the
 * top value scores 5 and the bottom 1 once there are three members.
 */
int mbr_report_rfm(struct mbr_db *db, int64_t from_day, int64_t to_day, mbr_report_fn fn, void *ctx)
{
	static const char sql[] =
		"WITH w AS (SELECT member, MAX(CASE WHEN receipts > 0 THEN day END) AS last,"
		"  SUM(receipts) AS f, SUM(amount) AS m FROM agg_member_day"
		"  WHERE day BETWEEN ?1 AND ?2 AND member NOT IN (SELECT id FROM members WHERE status = 'erased')"
		"  GROUP BY member HAVING SUM(receipts) > 0),"
		" s AS (SELECT w.*, 2 * COUNT(*) OVER () AS n2,"
		"  RANK() OVER wr - 1 + COUNT(*) OVER wr AS rr, RANK() OVER wf - 1 + COUNT(*) OVER wf AS fr,"
		"  RANK() OVER wm - 1 + COUNT(*) OVER wm AS mr FROM w"
		"  WINDOW wr AS (ORDER BY last), wf AS (ORDER BY f), wm AS (ORDER BY m))"
		" SELECT x.uid, COALESCE(x.tier, ''), COALESCE(x.store, ''), date(s.last * 86400, 'unixepoch'),"
		"  s.last, s.f, s.m, 1 + 5 * s.rr / s.n2, 1 + 5 * s.fr / s.n2, 1 + 5 * s.mr / s.n2"
		" FROM s JOIN members x ON x.id = s.member ORDER BY x.id";
	return range_report(db, sql, NULL, from_day, to_day, rfm_row, &to_day, fn, ctx);
}

/* -------------------------------------------------------------- cohorts */

const struct mbr_col mbr_report_cohort_cols[MBR_REPORT_COHORT_NCOLS] = {
	{ "cohort", NULL, 0 }, { "members", NULL, MBR_COL_NUMBER }, { "month", NULL, 0 },
	{ "offset", NULL, MBR_COL_NUMBER }, { "active", NULL, MBR_COL_NUMBER }, { "retention", NULL, MBR_COL_NUMBER },
};

/* months since year 0 of a day number's month */
#define DAY_MONTH(d) "(CAST(strftime('%Y', " d " * 86400, 'unixepoch') AS INTEGER) * 12" \
		     " + CAST(strftime('%m', " d " * 86400, 'unixepoch') AS INTEGER) - 1)"

struct cohort {
	int64_t month, members;
	mbr_report_fn fn;
	void *ctx;
};

/* one row: cohort c in month mon, with active members buying */
static int cohort_row(struct cohort *c, int64_t mon, int64_t active)
{
	char b[6][24];
	const char *v[MBR_REPORT_COHORT_NCOLS];
	int i;

	snprintf(b[0], sizeof(b[0]), "%04lld-%02lld", (long long)(c->month / 12), (long long)(c->month % 12 + 1));
	snprintf(b[1], sizeof(b[1]), "%lld", (long long)c->members);
	snprintf(b[2], sizeof(b[2]), "%04lld-%02lld", (long long)(mon / 12), (long long)(mon % 12 + 1));
	snprintf(b[3], sizeof(b[3]), "%lld", (long long)(mon - c->month));
	snprintf(b[4], sizeof(b[4]), "%lld", (long long)active);
	percent(active, c->members, b[5], sizeof(b[5]));
	for (i = 0; i < MBR_REPORT_COHORT_NCOLS; i++)
		v[i] = b[i];
	return c->fn(v, c->ctx);
}

/* the months of cohort c from `from' up to before `to', with nobody active */
static int cohort_gap(struct cohort *c, int64_t from, int64_t to)
{
	int r = 0;

	for (; from < to && r == 0; from++)
		r = cohort_row(c, from, 0);
	return r;
}

/*
 * A member's cohort is the month of its first sale (a receipt that is not
 * a return) on record; cohorts whose first sale falls in [from_day,
 * to_day] are followed to the last month with a sale to any member, one
 * row a month, months with no sale to the cohort included.
 */
int mbr_report_cohorts(struct mbr_db *db, int64_t from_day, int64_t to_day, mbr_report_fn fn, void *ctx)
{
	static const char last_sql[] = "SELECT " DAY_MONTH("MAX(day)") " FROM agg_member_day WHERE receipts > 0";
	static const char sql[] =
		"WITH a AS (SELECT member, day, " DAY_MONTH("day") " AS mon FROM agg_member_day WHERE receipts > 0),"
		" f AS (SELECT member, MIN(mon) AS cohort FROM a GROUP BY member HAVING MIN(day) BETWEEN ?1 AND ?2)"
		" SELECT f.cohort, a.mon, COUNT(DISTINCT a.member) FROM f JOIN a ON a.member = f.member"
		" GROUP BY f.cohort, a.mon ORDER BY f.cohort, a.mon";
	struct cohort c = { -1, 0, fn, ctx };
	int64_t last, next = 0;
	sqlite3_stmt *st;
	int rc, r = 0;

	if (!(st = mbr_stmt(db, last_sql)))
		return MBR_EDB;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return mbr_db_sqlerr(db, "report");
	}
	last = sqlite3_column_int64(st, 0);
	if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
		sqlite3_reset(st);
		return 0;	/* no sale to a member yet */
	}
	sqlite3_reset(st);
	if (!(st = mbr_stmt(db, sql)))
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, from_day);
	sqlite3_bind_int64(st, 2, to_day);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t cohort = sqlite3_column_int64(st, 0), mon = sqlite3_column_int64(st, 1);
		int64_t active = sqlite3_column_int64(st, 2);

		if (cohort != c.month) {
			if (c.month >= 0)
				r = cohort_gap(&c, next, last + 1);
			/* rows come in month order, and a cohort's first month is
			 * its own, where every member of it was active */
			c.month = cohort;
			c.members = active;
			next = cohort;
		}
		if (r == 0)
			r = cohort_gap(&c, next, mon);
		if (r == 0)
			r = cohort_row(&c, mon, active);
		next = mon + 1;
	}
	if (r == 0 && c.month >= 0 && (rc == SQLITE_DONE))
		r = cohort_gap(&c, next, last + 1);
	sqlite3_reset(st);
	if (r)
		return r;
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : mbr_db_sqlerr(db, "report");
}

/* ---------------------------------------------------------------- tiers */

const struct mbr_col mbr_report_tier_cols[MBR_REPORT_TIER_NCOLS] = {
	{ "tier", NULL, 0 }, { "members", NULL, MBR_COL_NUMBER | MBR_COL_CHART }, { "points", NULL, MBR_COL_NUMBER },
	{ "negative", NULL, MBR_COL_NUMBER }, { "stored_value", NULL, MBR_COL_NUMBER },
};

static int tier_row(struct mbr_db *db, sqlite3_stmt *st, void *arg, char buf[][48], const char **v)
{
	(void)arg;
	v[0] = col_text(st, 0);
	col_int(st, 1, buf[1]);
	col_int(st, 2, buf[2]);
	col_int(st, 3, buf[3]);
	col_money(db, st, 4, buf[4]);
	return 0;
}

/* Members without a tier (tier "") first, then every tier of the rules
 * loaded last by rank, then tiers only older rules had (points.c keeps
 * them, below rank 0); tiers no member holds show zeros. */
int mbr_report_tiers(struct mbr_db *db, mbr_report_fn fn, void *ctx)
{
	static const char sql[] =
		"WITH g AS (SELECT COALESCE(m.tier, '') AS code, COUNT(*) AS n, SUM(COALESCE(b.points, 0)) AS p,"
		"  SUM(COALESCE(b.points, 0) < 0) AS neg, SUM(m.sv_principal + m.sv_bonus) AS sv"
		"  FROM members m LEFT JOIN points_balances b ON b.member = m.id"
		"  WHERE m.status != 'erased' GROUP BY 1),"
		" t AS (SELECT '' AS code, -1 AS rank UNION ALL SELECT code, rank FROM tiers"
		"  UNION ALL SELECT code, 9223372036854775807 FROM g WHERE code NOT IN (SELECT code FROM tiers) AND code != '')"
		" SELECT t.code, COALESCE(g.n, 0), COALESCE(g.p, 0), COALESCE(g.neg, 0), COALESCE(g.sv, 0)"
		" FROM t LEFT JOIN g ON g.code = t.code ORDER BY t.code != '', t.rank < 0, t.rank, t.code";
	sqlite3_stmt *st;

	if (!(st = mbr_stmt(db, sql)))
		return MBR_EDB;
	return each_row(db, st, tier_row, NULL, fn, ctx);
}

/* ------------------------------------------------------------- negative */

const struct mbr_col mbr_report_negative_cols[MBR_REPORT_NEGATIVE_NCOLS] = {
	{ "member_no", NULL, 0 }, { "uid", NULL, 0 }, { "points", NULL, MBR_COL_NUMBER },
	{ "tier", NULL, 0 }, { "store", NULL, 0 }, { "last_entry", NULL, 0 },
};

/* member_no is sealed: read through the member module, into arg */
static int negative_row(struct mbr_db *db, sqlite3_stmt *st, void *arg, char buf[][48], const char **v)
{
	struct mbr_member *mem = arg;
	int rc;

	if ((rc = mbr_member_get(db, col_text(st, 0), mem)) < 0)
		return rc;
	v[0] = mem->member_no;
	v[1] = mem->uid;
	col_int(st, 1, buf[2]);
	v[3] = col_text(st, 2);
	v[4] = col_text(st, 3);
	v[5] = sqlite3_column_type(st, 4) == SQLITE_NULL ? "" : mbr_date_format(sqlite3_column_int64(st, 4), buf[5]);
	return 0;
}

/* Members owing points (a return reversed points already spent), in the
 * order they were added, with the day of their latest ledger entry. */
int mbr_report_negative(struct mbr_db *db, mbr_report_fn fn, void *ctx)
{
	static const char sql[] =
		"SELECT m.uid, b.points, COALESCE(m.tier, ''), COALESCE(m.store, ''),"
		" (SELECT MAX(ts) FROM points_ledger l WHERE l.member = m.id)"
		" FROM points_balances b JOIN members m ON m.id = b.member WHERE b.points < 0 ORDER BY m.id";
	struct mbr_member mem;
	sqlite3_stmt *st;

	if (!(st = mbr_stmt(db, sql)))
		return MBR_EDB;
	return each_row(db, st, negative_row, &mem, fn, ctx);
}

/* ---------------------------------------------------------------- churn */

const struct mbr_col mbr_report_churn_cols[MBR_REPORT_CHURN_NCOLS] = {
	{ "month", NULL, 0 }, { "active", NULL, MBR_COL_NUMBER | MBR_COL_CHART }, { "new", NULL, MBR_COL_NUMBER },
	{ "retained", NULL, MBR_COL_NUMBER }, { "reactivated", NULL, MBR_COL_NUMBER }, { "churned", NULL, MBR_COL_NUMBER },
	{ "churn_rate", NULL, MBR_COL_NUMBER }, { "spend", NULL, MBR_COL_NUMBER },
	{ "avg_spend", NULL, MBR_COL_NUMBER }, { "clv", NULL, MBR_COL_NUMBER },
};

struct churn {
	int64_t first, last;		/* the months to print */
	int64_t prev_active;		/* active in the month before */
	mbr_report_fn fn;
	void *ctx;
};

/* One month's row (printed if asked for); it becomes the month before. */
static int churn_month(struct mbr_db *db, struct churn *c, int64_t mon, int64_t active, int64_t new_members,
		       int64_t retained, int64_t spend)
{
	char b[MBR_REPORT_CHURN_NCOLS][48];
	const char *v[MBR_REPORT_CHURN_NCOLS];
	int64_t before = c->prev_active, churned = before - retained;
	int i;

	c->prev_active = active;
	if (mon < c->first || mon > c->last)
		return 0;
	snprintf(b[0], sizeof(b[0]), "%04lld-%02lld", (long long)(mon / 12), (long long)(mon % 12 + 1));
	snprintf(b[1], sizeof(b[1]), "%lld", (long long)active);
	snprintf(b[2], sizeof(b[2]), "%lld", (long long)new_members);
	snprintf(b[3], sizeof(b[3]), "%lld", (long long)retained);
	snprintf(b[4], sizeof(b[4]), "%lld", (long long)(active - new_members - retained));
	snprintf(b[5], sizeof(b[5]), "%lld", (long long)churned);
	percent(churned, before, b[6], sizeof(b[6]));
	mbr_money_format(spend, db->exp, b[7]);
	mbr_money_format(active ? spend / active : 0, db->exp, b[8]);
	if (churned > 0 && active)
		mbr_money_format((int64_t)((__int128)(spend / active) * before / churned), db->exp, b[9]);
	else
		b[9][0] = '\0';
	for (i = 0; i < MBR_REPORT_CHURN_NCOLS; i++)
		v[i] = b[i];
	return c->fn(v, c->ctx);
}

/*
 * Month by month, from the member-day aggregate: members active (with a
 * sale, not only returns), new (their first sale on record), retained
 * (active in the month before too), reactivated (the other active ones:
 * back after a quiet month or more) and churned (active in the month
 * before, not in this one); the churn rate, per hundred of the month
 * before's active members, rounded down; what members spent (returns
 * taken off) and its average per active member; and a customer lifetime
 * value, the average spend divided by the churn rate (avg_spend x the
 * month before's active / churned: what an active member will spend
 * while the churn stays so, with no margin and no discounting), empty
 * where nobody churned.  Every month from the first with a sale to a
 * member to the last, quiet ones included; only those whose days meet
 * [from_day, to_day] are printed, the month before the first still
 * counting for its churn.
 */
int mbr_report_churn(struct mbr_db *db, int64_t from_day, int64_t to_day, mbr_report_fn fn, void *ctx)
{
	static const char sql[] =
		"WITH a AS (SELECT DISTINCT member, " DAY_MONTH("day") " AS mon FROM agg_member_day WHERE receipts > 0),"
		" f AS (SELECT member, MIN(mon) AS first FROM a GROUP BY member),"
		" c AS (SELECT a.mon AS mon, COUNT(*) AS active, SUM(f.first = a.mon) AS new,"
		"  SUM(p.member IS NOT NULL) AS retained FROM a JOIN f ON f.member = a.member"
		"  LEFT JOIN a p ON p.member = a.member AND p.mon = a.mon - 1 GROUP BY a.mon),"
		" s AS (SELECT " DAY_MONTH("day") " AS mon, SUM(amount) AS spend FROM agg_member_day GROUP BY 1)"
		" SELECT s.mon, COALESCE(c.active, 0), COALESCE(c.new, 0), COALESCE(c.retained, 0), s.spend"
		" FROM s LEFT JOIN c ON c.mon = s.mon ORDER BY s.mon";
	static const char range_sql[] = "SELECT " DAY_MONTH("?1") ", " DAY_MONTH("?2");
	struct churn c = { 0, 0, 0, fn, ctx };
	int64_t next = 0;
	sqlite3_stmt *st;
	int rc, r = 0, started = 0;

	/* the months of from_day and to_day (clamped to dates SQLite knows) */
	if (!(st = mbr_stmt(db, range_sql)))
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, from_day < -719162 ? -719162 : from_day);	/* 0001-01-01 */
	sqlite3_bind_int64(st, 2, to_day > 2932896 ? 2932896 : to_day);		/* 9999-12-31 */
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c.first = sqlite3_column_int64(st, 0);
		c.last = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return mbr_db_sqlerr(db, "report");
	if (!(st = mbr_stmt(db, sql)))
		return MBR_EDB;
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t mon = sqlite3_column_int64(st, 0);

		/* months with nothing on record between two that have some */
		while (r == 0 && started && next < mon)
			r = churn_month(db, &c, next++, 0, 0, 0, 0);
		if (r == 0)
			r = churn_month(db, &c, mon, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
					sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4));
		next = mon + 1;
		started = 1;
	}
	sqlite3_reset(st);
	if (r)
		return r;
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "report");
}

/* -------------------------------------------------------------- members */

const struct mbr_col mbr_report_member_cols[MBR_REPORT_MEMBER_NCOLS] = {
	{ "key", NULL, 0 },	/* named by the caller: month or store */
	{ "enrolled", NULL, MBR_COL_NUMBER | MBR_COL_CHART }, { "active", NULL, MBR_COL_NUMBER },
	{ "frozen", NULL, MBR_COL_NUMBER }, { "erased", NULL, MBR_COL_NUMBER }, { "buyers", NULL, MBR_COL_NUMBER },
	{ "spend", NULL, MBR_COL_NUMBER }, { "avg_spend", NULL, MBR_COL_NUMBER },
};

/* report_day(ts): the business day of UTC seconds (registered for the
 * members report's queries). */
static void sql_report_day(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	(void)argc;
	sqlite3_result_int64(cx, mbr_local_day(sqlite3_value_int64(argv[0])));
}

static int members_row(struct mbr_db *db, sqlite3_stmt *st, void *arg, char buf[][48], const char **v)
{
	int64_t buyers = sqlite3_column_int64(st, 5), spend = sqlite3_column_int64(st, 6);
	int i;

	if (*(enum mbr_report_by *)arg == MBR_BY_STORE) {
		v[0] = col_text(st, 0);
	} else {
		int64_t mon = sqlite3_column_int64(st, 0);

		snprintf(buf[0], 48, "%04lld-%02lld", (long long)(mon / 12), (long long)(mon % 12 + 1));
	}
	for (i = 1; i <= 5; i++)
		col_int(st, i, buf[i]);
	mbr_money_format(spend, db->exp, buf[6]);
	mbr_money_format(buyers ? spend / buyers : 0, db->exp, buf[7]);
	return 0;
}

/*
 * Members by month of enrolment or by home store, of those enrolled in
 * [from_day, to_day]: how many, active, frozen and erased now, how many
 * of them ever bought (a sale, not only returns) and what they spent,
 * returns taken off, in all and per buyer.  Enrolment days are business
 * days of members.created_at, worked out by report_day.
 */
int mbr_report_members(struct mbr_db *db, enum mbr_report_by by, int64_t from_day, int64_t to_day,
		       mbr_report_fn fn, void *ctx)
{
	static const char *const sql[] = {
		[MBR_BY_DAY] = NULL,
		[MBR_BY_MONTH] = "WITH b AS (SELECT member, SUM(receipts) AS r, SUM(amount) AS amt FROM agg_member_day"
				 "  GROUP BY member)"
				 " SELECT " DAY_MONTH("report_day(m.created_at)") " AS k, COUNT(*),"
				 " SUM(m.status = 'active'), SUM(m.status = 'frozen'), SUM(m.status = 'erased'),"
				 " SUM(COALESCE(b.r, 0) > 0), COALESCE(SUM(b.amt), 0)"
				 " FROM members m LEFT JOIN b ON b.member = m.id"
				 " WHERE report_day(m.created_at) BETWEEN ?1 AND ?2 GROUP BY k ORDER BY k",
		[MBR_BY_STORE] = "WITH b AS (SELECT member, SUM(receipts) AS r, SUM(amount) AS amt FROM agg_member_day"
				 "  GROUP BY member)"
				 " SELECT COALESCE(m.store, '') AS k, COUNT(*),"
				 " SUM(m.status = 'active'), SUM(m.status = 'frozen'), SUM(m.status = 'erased'),"
				 " SUM(COALESCE(b.r, 0) > 0), COALESCE(SUM(b.amt), 0)"
				 " FROM members m LEFT JOIN b ON b.member = m.id"
				 " WHERE report_day(m.created_at) BETWEEN ?1 AND ?2 GROUP BY k ORDER BY k",
	};
	if (by == MBR_BY_DAY)
		return mbr_db_fail(db, MBR_EINVAL, "members are reported by month or store");
	/* for this report's queries only: not callable from the schema */
	if (sqlite3_create_function(db->sql, "report_day", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, sql_report_day,
				    NULL, NULL) != SQLITE_OK)
		return mbr_db_sqlerr(db, "report");
	return range_report(db, sql[by], NULL, from_day, to_day, members_row, &by, fn, ctx);
}
