/*
 * test_points.c - unit tests for lib/points.c: the points ledger and its
 * lots.  Earn, redeem, adjust and transfer through the public calls; lots
 * posted directly with chosen expiries to prove that redemption consumes
 * the lots that lapse first and that expiry takes exactly what is left of
 * lapsed lots, once; balances as of a past time; a debt paid by the next
 * earn; refunds of a spend going back to the lots it took; frozen members; two processes redeeming the same balance at once;
 * and nightly tier evaluation up and down.
 *
 * Every test runs in a fresh temporary directory with MBR_KEY unset,
 * MBR_OPERATOR "tester" and MBR_NOW pinned, and ends by proving the
 * database sound with mbr_db_check (balance == ledger, lots == balance,
 * aggregates == sales, audit chain).
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

#include <sqlite3.h>

#include "internal.h"
#include "harness.h"
#include "banned.h"

#define NOW "2025-03-10T02:00:00Z"	/* 10:00 in Shanghai */

static int setup(void **state)
{
	(void)state;
	if (harness_setup("points", NOW) < 0)
		return -1;
	setenv("MBR_BUSY_TIMEOUT", "20", 1);	/* the concurrency test waits on locks */
	return 0;
}

static void reload(struct mbr_db *db, struct mbr_member *m)
{
	assert_int_equal(mbr_member_get_id(db, m->id, m), MBR_OK);
}

static int64_t balance(struct mbr_db *db, int64_t member)
{
	int64_t b = -12345;

	assert_int_equal(mbr_points_balance(db, member, 0, &b), MBR_OK);
	return b;
}

static int64_t balance_before(struct mbr_db *db, int64_t member, int64_t before)
{
	int64_t b = -12345;

	assert_int_equal(mbr_points_balance(db, member, before, &b), MBR_OK);
	return b;
}

/* Post one entry in the open transaction; returns the ledger id. */
static int64_t post_in(struct mbr_db *db, int64_t member, const char *kind, int64_t points, int64_t ts,
		       int64_t expires_at)
{
	struct mbr_post p;
	int64_t ledger = 0;

	memset(&p, 0, sizeof(p));
	p.member = member;
	p.kind = kind;
	p.source = "operator";
	p.reason = "test";
	p.points = points;
	p.ts = ts;
	p.expires_at = expires_at;
	if (mbr_points_post(db, &p, &ledger) != MBR_OK)
		fail_msg("post %s %lld: %s", kind, (long long)points, mbr_db_errmsg(db));
	return ledger;
}

/* Post one entry in a transaction of its own; returns the ledger id. */
static int64_t post(struct mbr_db *db, int64_t member, const char *kind, int64_t points, int64_t ts,
		    int64_t expires_at)
{
	int64_t ledger;

	assert_int_equal(mbr_begin(db), MBR_OK);
	ledger = post_in(db, member, kind, points, ts, expires_at);
	assert_int_equal(mbr_commit(db), MBR_OK);
	return ledger;
}

/* mbr_points_change in a transaction of its own; rolled back on failure. */
static int change(struct mbr_db *db, struct mbr_member *m, const char *kind, int64_t points)
{
	int rc;

	reload(db, m);
	assert_int_equal(mbr_begin(db), MBR_OK);
	rc = mbr_points_change(db, m, kind, points, "test");
	if (rc == MBR_OK)
		assert_int_equal(mbr_commit(db), MBR_OK);
	else
		assert_int_equal(mbr_rollback(db), MBR_OK);
	return rc;
}

static int transfer(struct mbr_db *db, struct mbr_member *from, struct mbr_member *to, int64_t points)
{
	int rc;

	reload(db, from);
	reload(db, to);
	assert_int_equal(mbr_begin(db), MBR_OK);
	rc = mbr_points_transfer(db, from, to, points, "gift");
	if (rc == MBR_OK)
		assert_int_equal(mbr_commit(db), MBR_OK);
	else
		assert_int_equal(mbr_rollback(db), MBR_OK);
	return rc;
}

static int64_t lot_remaining(struct mbr_db *db, int64_t lot)
{
	return qi(db, "SELECT remaining FROM points_lots WHERE id = %lld", (long long)lot);
}

/* Points that never expire have no lot: the part of the balance the open
 * lots do not cover. */
static int64_t never_part(struct mbr_db *db, int64_t member)
{
	int64_t b = 0;

	assert_int_equal(mbr_points_balance(db, member, 0, &b), MBR_OK);
	return b - qi(db, "SELECT COALESCE(SUM(remaining), 0) FROM points_lots WHERE member = %lld AND remaining > 0",
		      (long long)member);
}

static int64_t ledger_rows(struct mbr_db *db)
{
	return qi(db, "SELECT COUNT(*) FROM points_ledger");
}

/* ------------------------------------------------------ earn and redeem */

static void test_earn_redeem_adjust(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member m;
	char want[160];
	int64_t rows;

	(void)state;
	add_member(db, "M001", &m);
	assert_int_equal(change(db, &m, "earn", 120), MBR_OK);
	assert_int_equal(balance(db, m.id), 120);
	assert_int_equal(change(db, &m, "redeem", 20), MBR_OK);
	assert_int_equal(balance(db, m.id), 100);
	assert_int_equal(change(db, &m, "adjust", -30), MBR_OK);
	assert_int_equal(balance(db, m.id), 70);
	assert_int_equal(change(db, &m, "adjust", 5), MBR_OK);
	assert_int_equal(balance(db, m.id), 75);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger WHERE member = %lld", (long long)m.id), 4);
	assert_int_equal(qi(db, "SELECT points FROM points_ledger WHERE kind = 'redeem'"), -20);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM audit WHERE action = 'points.change'"), 4);

	/* more than the balance: refused, nothing written */
	rows = ledger_rows(db);
	reload(db, &m);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_change(db, &m, "redeem", 76, "too much"), MBR_EINVAL);
	snprintf(want, sizeof(want), "member %s has 75 points, cannot redeem 76", m.uid);
	assert_string_equal(mbr_db_errmsg(db), want);
	assert_int_equal(ledger_rows(db), rows);	/* not even inside the transaction */
	assert_int_equal(balance(db, m.id), 75);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	assert_int_equal(ledger_rows(db), rows);

	/* zero and negative amounts */
	assert_int_equal(change(db, &m, "redeem", 0), MBR_EINVAL);
	assert_int_equal(change(db, &m, "earn", -5), MBR_EINVAL);
	assert_int_equal(change(db, &m, "adjust", 0), MBR_EINVAL);
	assert_int_equal(ledger_rows(db), rows);
	/* the whole balance may be redeemed */
	assert_int_equal(change(db, &m, "redeem", 75), MBR_OK);
	assert_int_equal(balance(db, m.id), 0);
	assert_int_equal(qi(db, "SELECT COALESCE(SUM(remaining), 0) FROM points_lots WHERE member = %lld", (long long)m.id), 0);
	assert_sound(db);
	mbr_db_close(db);
}

/*
 * In a bulk transaction balance changes are written behind (in member
 * order: those of members numbered up to 2^18 at commit, others when 8192
 * of them are pending and at commit; a change too large for 32 bits at
 * once): every read of a balance sees them, spends and lots use them, a
 * rollback drops them, and after commit the cache equals the ledger.
 */
static void test_bulk_balances(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member m, m2;
	const int64_t many = 40000, far = 300000;	/* members numbered from 300000 go to the table */
	int64_t first, i;

	(void)state;
	add_member(db, "M001", &m);
	add_member(db, "M002", &m2);
	assert_int_equal(change(db, &m, "earn", 50), MBR_OK);

	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	post_in(db, m.id, "earn", 30, mbr_now(), 0);
	/* not written yet, but every read sees it */
	assert_int_equal(qi(db, "SELECT points FROM points_balances WHERE member = %lld", (long long)m.id), 50);
	assert_int_equal(balance(db, m.id), 80);
	reload(db, &m);
	assert_int_equal(m.points, 80);
	/* a spend checks the pending balance: 80 may go, 81 may not */
	post_in(db, m.id, "redeem", -80, mbr_now(), 0);
	assert_int_equal(balance(db, m.id), 0);
	{
		struct mbr_post p;

		memset(&p, 0, sizeof(p));
		p.member = m.id;
		p.kind = "redeem";
		p.source = "sale";
		p.points = -1;
		assert_int_equal(mbr_points_post(db, &p, NULL), MBR_EINVAL);
	}
	/* a debt is paid before a lot opens, from the pending balance */
	post_in(db, m2.id, "reversal", -10, mbr_now(), 0);
	post_in(db, m2.id, "earn", 25, mbr_now(), mbr_now() + 86400);
	assert_int_equal(qi(db, "SELECT remaining FROM points_lots WHERE member = %lld", (long long)m2.id), 15);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	assert_int_equal(balance(db, m.id), 50);
	assert_int_equal(balance(db, m2.id), 0);
	assert_sound(db);

	/* more members pending than the table holds: written out on the way */
	assert_int_equal(mbr_begin(db), MBR_OK);
	first = qi(db, "SELECT COALESCE(MAX(id), 0) + 1 FROM members");
	assert_int_equal(qi(db, "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %lld)"
			    " INSERT INTO members(id, uid, created_at, updated_at) SELECT %lld + i, 'B-' || i, 0, 0 FROM n"
			    " RETURNING 0", (long long)many - 1, (long long)first), 0);
	assert_int_equal(qi(db, "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %lld)"
			    " INSERT INTO members(id, uid, created_at, updated_at) SELECT %lld + i, 'F-' || i, 0, 0 FROM n"
			    " RETURNING 0", (long long)many / 2 - 1, (long long)far), 0);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	for (i = 0; i < many; i++) {
		post_in(db, first + i, "earn", 1 + i % 7, mbr_now(), 0);
		if (i < many / 2)
			post_in(db, far + i, "earn", 1 + i % 5, mbr_now(), 0);
	}
	for (i = 0; i < many; i += 3)
		post_in(db, first + i, "earn", 2, mbr_now(), 0);
	for (i = 0; i < many / 2; i += 4)
		post_in(db, far + i, "earn", 3, mbr_now(), 0);
	/* more than 32 bits in all: written at once */
	post_in(db, first + 1, "earn", INT32_MAX - 1, mbr_now(), 0);
	post_in(db, first + 1, "earn", 5, mbr_now(), 0);
	assert_int_equal(balance(db, first + 1), (int64_t)INT32_MAX + 6);
	post_in(db, first + 1, "adjust", -INT32_MAX, mbr_now(), 0);
	assert_int_equal(balance(db, first + 3), 1 + 3 + 2);
	assert_int_equal(balance(db, far + 4), 1 + 4 + 3);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(balance(db, first + 1), 2 + 4);
	assert_int_equal(balance(db, far + 4), 8);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM members m WHERE"
			    " COALESCE((SELECT points FROM points_balances WHERE member = m.id), 0) !="
			    " (SELECT COALESCE(SUM(points), 0) FROM points_ledger l WHERE l.member = m.id)"), 0);
	assert_int_equal(balance(db, first + 3), 6);
	assert_int_equal(balance(db, first + many - 1), 1 + (many - 1) % 7 + ((many - 1) % 3 ? 0 : 2));
	assert_sound(db);
	mbr_db_close(db);
}

/*
 * In a bulk transaction ledger entries are written behind, many at once,
 * with the ids SQLite would give: a statement of the library naming the
 * ledger sees them (a balance as of a time sums it), a lot's id is its
 * entry's, a rollback drops them, and the next transaction's ids follow
 * entries another connection wrote meanwhile.
 */
static void test_bulk_ledger(void **state)
{
	struct mbr_db *db = new_db(), *other;
	struct mbr_member m;
	int64_t now = mbr_now(), e1, e2, n0, i;

	(void)state;
	add_member(db, "M001", &m);
	assert_int_equal(change(db, &m, "earn", 50), MBR_OK);
	n0 = qi(db, "SELECT COUNT(*) FROM points_ledger");

	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	e1 = post_in(db, m.id, "earn", 30, now - 10, now + 86400);
	e2 = post_in(db, m.id, "earn", 5, now - 5, 0);
	assert_int_equal(e2, e1 + 1);
	/* held back: not in the table yet (read past the library) */
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger"), n0);
	assert_int_equal(qi(db, "SELECT id FROM points_lots WHERE member = %lld", (long long)m.id), e1);
	/* a balance as of a time reads the ledger: written first */
	assert_int_equal(balance_before(db, m.id, now + 1000), 85);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger"), n0 + 2);
	assert_int_equal(qi(db, "SELECT points FROM points_ledger WHERE id = %lld", (long long)e1), 30);
	/* more than are held back, then undone */
	for (i = 0; i < 100; i++)
		post_in(db, m.id, "earn", 1, now, 0);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger"), n0);
	assert_int_equal(balance(db, m.id), 50);

	/* committed; another connection writes an entry; then ids go on */
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	for (i = 0; i < 100; i++)
		post_in(db, m.id, "earn", 1, now, 0);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger"), n0 + 100);
	other = open_db();
	assert_int_equal(change(other, &m, "earn", 7), MBR_OK);
	mbr_db_close(other);
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	post_in(db, m.id, "earn", 3, now, 0);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(balance(db, m.id), 50 + 100 + 7 + 3);
	assert_sound(db);
	mbr_db_close(db);
}

/* Redemption takes the lots that lapse first, whatever their order of
 * posting; expiry then takes exactly what is left of lapsed lots, once. */
static void test_fifo_and_expiry(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member m, other;
	int64_t a, b, c, rows, pts = -1;
	long entries = -1;

	(void)state;
	add_member(db, "M001", &m);
	add_member(db, "M002", &other);
	/* B (later expiry) is posted before A */
	b = post(db, m.id, "earn", 50, local("2025-01-05 10:00"), local("2025-12-01 00:00"));
	a = post(db, m.id, "earn", 100, local("2025-01-06 10:00"), local("2025-09-01 00:00"));
	c = post(db, m.id, "earn", 30, local("2025-01-07 10:00"), 0);
	post(db, other.id, "earn", 10, local("2025-01-07 11:00"), local("2025-09-01 00:00"));
	assert_int_equal(lot_remaining(db, a), 100);
	assert_int_equal(lot_remaining(db, b), 50);
	/* never-expiring points open no lot */
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_lots WHERE id = %lld", (long long)c), 0);
	assert_int_equal(never_part(db, m.id), 30);

	assert_int_equal(change(db, &m, "redeem", 60), MBR_OK);	/* now: 2025-03-10 */
	assert_int_equal(lot_remaining(db, a), 40);
	assert_int_equal(lot_remaining(db, b), 50);
	assert_int_equal(never_part(db, m.id), 30);
	assert_int_equal(balance(db, m.id), 120);
	assert_sound(db);

	/* nothing has lapsed yet */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_expire(db, local("2025-08-31 23:59:59"), &entries, &pts), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(entries, 0);
	assert_int_equal(pts, 0);

	/* between A's expiry and B's: exactly A's remaining 40 (and the other
	 * member's 10) */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_expire(db, local("2025-10-01 00:00"), &entries, &pts), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(entries, 2);
	assert_int_equal(pts, 50);
	assert_int_equal(lot_remaining(db, a), 0);
	assert_int_equal(lot_remaining(db, b), 50);
	assert_int_equal(never_part(db, m.id), 30);
	assert_int_equal(balance(db, m.id), 80);
	assert_int_equal(balance(db, other.id), 0);
	assert_int_equal(qi(db, "SELECT points FROM points_ledger WHERE kind = 'expire' AND member = %lld", (long long)m.id), -40);
	/* dated when the lot lapsed */
	assert_int_equal(qi(db, "SELECT ts FROM points_ledger WHERE kind = 'expire' AND member = %lld", (long long)m.id),
			 local("2025-09-01 00:00"));
	assert_sound(db);

	/* again for the same day: nothing written */
	rows = ledger_rows(db);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_expire(db, local("2025-10-01 00:00"), &entries, &pts), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(entries, 0);
	assert_int_equal(pts, 0);
	assert_int_equal(ledger_rows(db), rows);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM audit WHERE action = 'points.expire'"), 1);

	/* B lapses at the start of its day: as_of == expires_at takes it */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_expire(db, local("2025-12-01 00:00"), &entries, &pts), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(entries, 1);
	assert_int_equal(pts, 50);
	assert_int_equal(balance(db, m.id), 30);
	/* the never-expiring lot stays, whatever the date */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_expire(db, local("2099-01-01 00:00"), &entries, &pts), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(entries, 0);
	assert_int_equal(balance(db, m.id), 30);
	assert_int_equal(never_part(db, m.id), 30);
	assert_sound(db);

	/* the balance at a past time is the ledger's then */
	assert_int_equal(balance_before(db, m.id, local("2025-01-05 10:00")), 0);
	assert_int_equal(balance_before(db, m.id, local("2025-01-05 10:00") + 1), 50);
	assert_int_equal(balance_before(db, m.id, local("2025-01-06 10:00") + 1), 150);
	assert_int_equal(balance_before(db, m.id, local("2025-01-08")), 180);
	assert_int_equal(balance_before(db, m.id, local("2025-03-11")), 120);
	assert_int_equal(balance_before(db, m.id, local("2025-09-01 00:00")), 120);
	assert_int_equal(balance_before(db, m.id, local("2025-09-01 00:00") + 1), 80);
	assert_int_equal(balance_before(db, m.id, local("2026-01-01")), 30);
	assert_int_equal(balance_before(db, m.id, local("2026-01-01")), balance(db, m.id));
	assert_int_equal(balance_before(db, other.id, local("2025-08-01")), 10);
	mbr_db_close(db);
}

/* A spend at time T (redeem, transfer out, a sale or coupon paying with
 * points) first expires the member's lots lapsed by T, with the entries
 * expiry writes, and is checked against what is left. */
static void test_spend_expires_lapsed(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member m, other;
	struct mbr_post p;
	int64_t a, b, c, bal = -1, pts = -1;
	long entries = -1;
	char want[160];

	(void)state;
	add_member(db, "M001", &m);
	add_member(db, "M002", &other);
	a = post(db, m.id, "earn", 100, local("2024-01-05 10:00"), local("2025-03-01 00:00"));	/* lapsed by now */
	b = post(db, m.id, "earn", 50, local("2025-01-05 10:00"), local("2026-01-05 00:00"));
	post(db, other.id, "earn", 10, local("2024-01-05 10:00"), local("2025-03-01 00:00"));
	assert_int_equal(balance(db, m.id), 150);

	/* before the lapse nothing expires */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_spendable(db, m.id, local("2025-02-28 23:59:59"), &bal), MBR_OK);
	assert_int_equal(bal, 150);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger WHERE kind = 'expire'"), 0);
	/* from the lapse on, A is expired */
	assert_int_equal(mbr_points_spendable(db, m.id, local("2025-03-01 00:00"), &bal), MBR_OK);
	assert_int_equal(bal, 50);
	assert_int_equal(mbr_rollback(db), MBR_OK);

	/* the operator's redeem now: only B's 50 count; a refusal writes nothing */
	assert_int_equal(change(db, &m, "redeem", 51), MBR_EINVAL);
	snprintf(want, sizeof(want), "member %s has 50 points, cannot redeem 51", m.uid);
	assert_string_equal(mbr_db_errmsg(db), want);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger WHERE kind = 'expire'"), 0);
	assert_int_equal(change(db, &m, "redeem", 20), MBR_OK);
	assert_int_equal(balance(db, m.id), 30);
	assert_int_equal(lot_remaining(db, a), 0);
	assert_int_equal(lot_remaining(db, b), 30);
	/* A's remainder as an expire entry dated when it lapsed; the other
	 * member's lapsed lot is not this spend's business */
	assert_int_equal(qi(db, "SELECT points FROM points_ledger WHERE kind = 'expire' AND member = %lld", (long long)m.id),
			 -100);
	assert_int_equal(qi(db, "SELECT ts FROM points_ledger WHERE kind = 'expire'"), local("2025-03-01 00:00"));
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger WHERE kind = 'expire' AND member = %lld",
			    (long long)other.id), 0);
	assert_sound(db);

	/* a transfer: the lapsed lot C neither counts nor dates the receiver's lot */
	c = post(db, m.id, "earn", 40, local("2024-03-01 10:00"), local("2025-03-05 00:00"));
	assert_int_equal(transfer(db, &m, &other, 31), MBR_EINVAL);
	assert_int_equal(transfer(db, &m, &other, 10), MBR_OK);
	assert_int_equal(lot_remaining(db, c), 0);
	assert_int_equal(lot_remaining(db, b), 20);
	assert_int_equal(qi(db, "SELECT expires_at FROM points_lots WHERE id = (SELECT MAX(id) FROM points_lots)"),
			 local("2026-01-05 00:00"));
	assert_sound(db);

	/* a spend posted at its own time, as a sale or a coupon does */
	memset(&p, 0, sizeof(p));
	p.member = other.id;
	p.kind = "redeem";
	p.source = "sale";
	p.points = -15;
	p.ts = local("2025-03-05 10:00");
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_post(db, &p, NULL), MBR_EINVAL);
	snprintf(want, sizeof(want), "member %s has 10 points, cannot redeem 15", other.uid);
	assert_string_equal(mbr_db_errmsg(db), want);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	/* dated before its lot lapsed, the same spend finds the points there */
	p.ts = local("2025-02-01 10:00");
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_post(db, &p, NULL), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(balance(db, other.id), 5);
	assert_sound(db);

	/* the nightly expiry then finds nothing more to take */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_expire(db, local("2025-03-10 00:00"), &entries, &pts), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(entries, 0);
	assert_int_equal(pts, 0);
	assert_sound(db);
	mbr_db_close(db);
}

/* A reversal larger than the balance leaves a debt; the next earns pay it
 * before a lot opens. */
static void test_negative_balance(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member m;
	int64_t l1, l2, l3;

	(void)state;
	add_member(db, "M001", &m);
	l1 = post(db, m.id, "earn", 100, local("2025-01-05 10:00"), local("2026-12-31 00:00"));
	assert_int_equal(change(db, &m, "redeem", 70), MBR_OK);
	assert_int_equal(lot_remaining(db, l1), 30);
	post(db, m.id, "reversal", -150, local("2025-03-10 10:00"), 0);
	assert_int_equal(balance(db, m.id), -120);
	assert_int_equal(lot_remaining(db, l1), 0);
	assert_sound(db);

	/* a redeem with a debt is refused */
	assert_int_equal(change(db, &m, "redeem", 1), MBR_EINVAL);

	/* 80 points pay 80 of the 120 owed: no lot opens with points left */
	l2 = post(db, m.id, "earn", 80, local("2025-03-10 11:00"), 0);
	assert_int_equal(balance(db, m.id), -40);
	assert_true(lot_remaining(db, l2) == -999 || lot_remaining(db, l2) == 0);
	assert_sound(db);

	/* 100 more: 40 pay the rest of the debt, a lot of 60 opens */
	l3 = post(db, m.id, "earn", 100, local("2025-03-10 12:00"), local("2026-03-10 00:00"));
	assert_int_equal(balance(db, m.id), 60);
	assert_int_equal(qi(db, "SELECT points FROM points_lots WHERE id = %lld", (long long)l3), 100);
	assert_int_equal(lot_remaining(db, l3), 60);
	assert_sound(db);

	/* and expiry takes no more than the 60 the member has */
	{
		long entries;
		int64_t pts;

		assert_int_equal(mbr_begin(db), MBR_OK);
		assert_int_equal(mbr_points_expire(db, local("2026-03-10 00:00"), &entries, &pts), MBR_OK);
		assert_int_equal(mbr_commit(db), MBR_OK);
		assert_int_equal(entries, 1);
		assert_int_equal(pts, 60);
		assert_int_equal(balance(db, m.id), 0);
	}
	assert_int_equal(change(db, &m, "redeem", 1), MBR_EINVAL);
	assert_sound(db);
	mbr_db_close(db);
}

/* A refund of points a batch's entry spent (a return naming its sale):
 * posted with restore, in a transaction of its own; returns the ledger id. */
static int64_t refund(struct mbr_db *db, int64_t member, int64_t points, int64_t ts, int64_t spent_entry,
		      int64_t restored, int64_t expires_at)
{
	struct mbr_post p;
	int64_t ledger = 0;

	memset(&p, 0, sizeof(p));
	p.member = member;
	p.kind = "refund";
	p.source = "sale";
	p.reason = "test";
	p.points = points;
	p.ts = ts;
	p.restore = spent_entry;
	p.restored = restored;
	p.expires_at = expires_at;
	assert_int_equal(mbr_begin(db), MBR_OK);
	if (mbr_points_post(db, &p, &ledger) != MBR_OK)
		fail_msg("refund %lld: %s", (long long)points, mbr_db_errmsg(db));
	assert_int_equal(mbr_commit(db), MBR_OK);
	return ledger;
}

/* A redeem of a batch (which records the lots it took), in a transaction of its own. */
static int64_t batch_redeem(struct mbr_db *db, int64_t member, int64_t points, int64_t ts)
{
	struct mbr_post p;
	int64_t ledger = 0, batch = 0;

	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_batch_start(db, "sales", "test", &batch), MBR_OK);
	memset(&p, 0, sizeof(p));
	p.member = member;
	p.kind = "redeem";
	p.source = "sale";
	p.reason = "test";
	p.points = -points;
	p.ts = ts;
	p.batch = batch;
	if (mbr_points_post(db, &p, &ledger) != MBR_OK)
		fail_msg("redeem %lld: %s", (long long)points, mbr_db_errmsg(db));
	assert_int_equal(mbr_commit(db), MBR_OK);
	return ledger;
}

/* Points given back of a spend go back where they came from, last spent
 * first: the never-expiring part, then the lots latest-expiring first;
 * a lapsed lot's share lapses at the refund; a debt is paid first. */
static void test_refund_restores_lots(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member m, n;
	int64_t a, b, d, spent, r1, r2, r3;

	(void)state;
	add_member(db, "M001", &m);
	add_member(db, "M002", &n);
	a = post(db, m.id, "earn", 100, local("2025-01-05 10:00"), local("2025-09-01 00:00"));
	b = post(db, m.id, "earn", 50, local("2025-01-06 10:00"), local("2025-12-01 00:00"));
	post(db, m.id, "earn", 30, local("2025-01-07 10:00"), 0);
	/* 170: all of A, all of B, 20 of the never-expiring 30 */
	spent = batch_redeem(db, m.id, 170, local("2025-03-10 10:00"));
	assert_int_equal(lot_remaining(db, a), 0);
	assert_int_equal(lot_remaining(db, b), 0);
	assert_int_equal(never_part(db, m.id), 10);

	/* 60 back: 20 to the never-expiring part, 40 to B; no lot of its own */
	r1 = refund(db, m.id, 60, local("2025-03-11 10:00"), spent, 0, local("2026-03-11 10:00"));
	assert_int_equal(never_part(db, m.id), 30);
	assert_int_equal(lot_remaining(db, b), 40);
	assert_int_equal(lot_remaining(db, a), 0);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_lots WHERE id = %lld", (long long)r1), 0);
	assert_sound(db);

	/* the other 110 after A lapsed: 10 to B, A's 100 in a lot lapsing now */
	r2 = refund(db, m.id, 110, local("2025-10-01 10:00"), spent, 60, local("2026-10-01 10:00"));
	assert_int_equal(lot_remaining(db, b), 50);
	assert_int_equal(lot_remaining(db, a), 0);
	assert_int_equal(lot_remaining(db, r2), 100);
	assert_int_equal(qi(db, "SELECT expires_at FROM points_lots WHERE id = %lld", (long long)r2),
			 local("2025-10-01 10:00"));
	assert_int_equal(balance(db, m.id), 180);
	assert_sound(db);
	{
		long entries;
		int64_t pts;

		assert_int_equal(mbr_begin(db), MBR_OK);
		assert_int_equal(mbr_points_expire(db, local("2025-10-02 00:00"), &entries, &pts), MBR_OK);
		assert_int_equal(mbr_commit(db), MBR_OK);
		assert_int_equal(pts, 100);
	}
	assert_int_equal(balance(db, m.id), 80);	/* B's 50 and the never-expiring 30 */

	/* a debt takes the first points back: 100 spent of D, 60 owed,
	 * 100 back: 60 pay the debt, 40 go back to D */
	d = post(db, n.id, "earn", 100, local("2025-01-05 10:00"), local("2026-06-01 00:00"));
	spent = batch_redeem(db, n.id, 100, local("2025-03-10 10:00"));
	post(db, n.id, "reversal", -60, local("2025-03-10 11:00"), 0);
	assert_int_equal(balance(db, n.id), -60);
	r3 = refund(db, n.id, 100, local("2025-03-11 10:00"), spent, 0, local("2026-03-11 10:00"));
	assert_int_equal(balance(db, n.id), 40);
	assert_int_equal(lot_remaining(db, d), 40);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_lots WHERE id = %lld", (long long)r3), 0);
	assert_sound(db);

	/* a spend that recorded no lots (outside a batch, or before schema
	 * 3): what comes back lapses as if earned at the refund */
	spent = post(db, n.id, "redeem", -40, local("2025-03-12 10:00"), 0);
	assert_int_equal(lot_remaining(db, d), 0);
	r3 = refund(db, n.id, 40, local("2025-03-13 10:00"), spent, 0, local("2026-03-13 10:00"));
	assert_int_equal(lot_remaining(db, r3), 40);
	assert_int_equal(lot_remaining(db, d), 0);
	assert_sound(db);
	mbr_db_close(db);
}

/* The receiver's lot lapses no later than the earliest lot the points
 * came from. */
static void test_transfer(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member a, b;
	int64_t x, y, z, rows;
	char want[160];

	(void)state;
	add_member(db, "A001", &a);
	add_member(db, "B001", &b);
	x = post(db, a.id, "earn", 40, local("2025-01-05 10:00"), local("2025-06-01 00:00"));
	y = post(db, a.id, "earn", 100, local("2025-01-06 10:00"), local("2025-12-01 00:00"));
	z = post(db, a.id, "earn", 30, local("2025-01-07 10:00"), 0);

	/* 60: all of X (June) and 20 of Y (December) */
	assert_int_equal(transfer(db, &a, &b, 60), MBR_OK);
	assert_int_equal(balance(db, a.id), 110);
	assert_int_equal(balance(db, b.id), 60);
	assert_int_equal(lot_remaining(db, x), 0);
	assert_int_equal(lot_remaining(db, y), 80);
	assert_int_equal(never_part(db, a.id), 30);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_lots WHERE id = %lld", (long long)z), 0);
	assert_int_equal(qi(db, "SELECT expires_at FROM points_lots WHERE member = %lld", (long long)b.id),
			 local("2025-06-01 00:00"));
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger WHERE kind = 'transfer'"), 2);
	assert_int_equal(qi(db, "SELECT points FROM points_ledger WHERE kind = 'transfer' AND member = %lld",
			    (long long)a.id), -60);
	assert_sound(db);

	/* 100: the 80 left of Y and 20 of the never-expiring Z: December */
	assert_int_equal(transfer(db, &a, &b, 100), MBR_OK);
	assert_int_equal(lot_remaining(db, y), 0);
	assert_int_equal(never_part(db, a.id), 10);
	assert_int_equal(qi(db, "SELECT expires_at FROM points_lots WHERE member = %lld ORDER BY id DESC LIMIT 1",
			    (long long)b.id), local("2025-12-01 00:00"));
	/* 10 from Z only: never expires */
	assert_int_equal(transfer(db, &a, &b, 10), MBR_OK);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_lots WHERE member = %lld", (long long)b.id), 2);
	assert_int_equal(never_part(db, b.id), 10);
	assert_int_equal(balance(db, a.id), 0);
	assert_int_equal(balance(db, b.id), 170);
	assert_sound(db);

	/* refusals write nothing */
	rows = ledger_rows(db);
	assert_int_equal(transfer(db, &a, &b, 1), MBR_EINVAL);
	snprintf(want, sizeof(want), "member %s has 0 points, cannot transfer 1", a.uid);
	assert_string_equal(mbr_db_errmsg(db), want);
	assert_int_equal(transfer(db, &b, &b, 1), MBR_EINVAL);
	assert_int_equal(transfer(db, &b, &a, 0), MBR_EINVAL);
	assert_int_equal(ledger_rows(db), rows);

	/* expiry treats the transferred lots as the originals would be */
	{
		long entries;
		int64_t pts;

		assert_int_equal(mbr_begin(db), MBR_OK);
		assert_int_equal(mbr_points_expire(db, local("2025-06-01 00:00"), &entries, &pts), MBR_OK);
		assert_int_equal(mbr_commit(db), MBR_OK);
		assert_int_equal(entries, 1);
		assert_int_equal(pts, 60);
		assert_int_equal(balance(db, b.id), 110);
	}
	assert_sound(db);
	mbr_db_close(db);
}

static void test_frozen(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member m, n;
	char want[160];
	int64_t rows;

	(void)state;
	add_member(db, "M001", &m);
	add_member(db, "M002", &n);
	assert_int_equal(change(db, &m, "earn", 50), MBR_OK);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_set_status(db, m.id, "frozen"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	reload(db, &m);
	assert_string_equal(m.status, "frozen");
	rows = ledger_rows(db);
	snprintf(want, sizeof(want), "member %s is frozen", m.uid);
	assert_int_equal(change(db, &m, "earn", 10), MBR_EINVAL);
	assert_string_equal(mbr_db_errmsg(db), want);
	assert_int_equal(change(db, &m, "redeem", 10), MBR_EINVAL);
	assert_string_equal(mbr_db_errmsg(db), want);
	assert_int_equal(transfer(db, &m, &n, 10), MBR_EINVAL);
	assert_string_equal(mbr_db_errmsg(db), want);
	assert_int_equal(transfer(db, &n, &m, 10), MBR_EINVAL);	/* n has nothing anyway */
	assert_int_equal(ledger_rows(db), rows);
	assert_int_equal(balance(db, m.id), 50);
	/* unfrozen: usable again */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_set_status(db, m.id, "active"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(change(db, &m, "redeem", 10), MBR_OK);
	assert_int_equal(balance(db, m.id), 40);
	assert_sound(db);
	mbr_db_close(db);
}

/* --------------------------------------------------------- concurrency */

/* A child: open, wait for the start signal, redeem points in BEGIN
 * IMMEDIATE ... COMMIT.  Exit 0 redeemed, 1 refused, 2 other error. */
static void redeem_child(int go, const char *no, int64_t points)
{
	struct mbr_db *db = NULL;
	struct mbr_member m;
	char c;
	int rc;

	if (mbr_db_open(dbpath, MBR_OPEN_RW, "test", &db) != MBR_OK)
		_exit(2);
	/* read the member (and its balance) before the race, as a till would */
	if (mbr_member_get(db, no, &m) != MBR_OK)
		_exit(2);
	if (read(go, &c, 1) < 0)
		_exit(2);
	if (mbr_begin(db) != MBR_OK)
		_exit(2);
	rc = mbr_points_change(db, &m, "redeem", points, "race");
	if (rc == MBR_OK) {
		if (mbr_commit(db) != MBR_OK)
			_exit(2);
		mbr_db_close(db);
		_exit(0);
	}
	mbr_rollback(db);
	mbr_db_close(db);
	_exit(rc == MBR_EINVAL ? 1 : 2);
}

static void test_concurrent_redeem(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member m;
	int round;

	(void)state;
	add_member(db, "M001", &m);
	for (round = 0; round < 3; round++) {
		int fds[2], i, ok = 0, refused = 0, other = 0;
		pid_t pid[2];
		int64_t bal;

		assert_int_equal(change(db, &m, "earn", 500 + round), MBR_OK);
		bal = balance(db, m.id);
		assert_int_equal(bal, 500 + round);
		mbr_db_close(db);

		assert_int_equal(pipe(fds), 0);
		for (i = 0; i < 2; i++) {
			pid[i] = fork();
			assert_true(pid[i] >= 0);
			if (pid[i] == 0) {
				close(fds[1]);
				redeem_child(fds[0], "M001", bal);
			}
		}
		close(fds[0]);
		usleep(100000);		/* both open and waiting */
		close(fds[1]);		/* go */
		for (i = 0; i < 2; i++) {
			int status;

			assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
			assert_true(WIFEXITED(status));
			switch (WEXITSTATUS(status)) {
			case 0: ok++; break;
			case 1: refused++; break;
			default: other++; break;
			}
		}
		assert_int_equal(other, 0);
		assert_int_equal(ok, 1);
		assert_int_equal(refused, 1);

		db = open_db();
		assert_int_equal(balance(db, m.id), 0);
		assert_int_equal(qi(db, "SELECT MIN(b) FROM (SELECT SUM(points) OVER (ORDER BY id) AS b"
				    " FROM points_ledger WHERE member = %lld)", (long long)m.id), 0);
		assert_int_equal(qi(db, "SELECT COUNT(*) FROM points_ledger WHERE kind = 'redeem'"), round + 1);
		assert_sound(db);
	}
	mbr_db_close(db);
}

/* --------------------------------------------------------------- tiers */

struct change_log {
	int n;
	char text[8][96];
};

static int on_change(int64_t member, const char *uid, const char *old_tier, const char *new_tier,
		     const char *direction, void *ctx)
{
	struct change_log *log = ctx;

	if (log->n < 8)
		snprintf(log->text[log->n], sizeof(log->text[0]), "%s %s>%s %s", uid, old_tier, new_tier, direction);
	log->n++;
	return 0;
}

static void evaluate(struct mbr_db *db, const char *date, struct change_log *log)
{
	memset(log, 0, sizeof(*log));
	assert_int_equal(mbr_begin(db), MBR_OK);
	if (mbr_tiers_evaluate(db, mbr_local_day(local(date)), on_change, log) != MBR_OK)
		fail_msg("tiers: %s", mbr_db_errmsg(db));
	assert_int_equal(mbr_commit(db), MBR_OK);
}

static int must_not_reject(const char *msg, void *ctx)
{
	fail_msg("sale rejected: %s", msg);
	return 0;
}

/* One single-line sale, which must be accepted. */
static void sale(struct mbr_db *db, const char *receipt, const char *ts, const char *member, const char *price)
{
	const char *v[MBR_S_COUNT] = { 0 };
	struct mbr_sale_opts o = { .error = must_not_reject };
	struct mbr_sale_import *im = NULL;
	struct mbr_sale_stats st;

	v[MBR_S_STORE] = "S01";
	v[MBR_S_RECEIPT] = receipt;
	v[MBR_S_TS] = ts;
	v[MBR_S_MEMBER] = member;
	v[MBR_S_SKU] = "SKU1";
	v[MBR_S_QTY] = "1";
	v[MBR_S_UNIT_PRICE] = price;
	assert_int_equal(mbr_begin(db), MBR_OK);
	if (mbr_sale_import_begin(db, &o, "test", &im) != MBR_OK)
		fail_msg("import: %s", mbr_db_errmsg(db));
	assert_int_equal(mbr_sale_line(im, v, "sales.csv", 2, NULL, 0), MBR_OK);
	assert_int_equal(mbr_sale_import_end(im, &st), MBR_OK);
	mbr_sale_import_free(im);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(st.receipts, 1);
}

static void test_tiers(void **state)
{
	static const char rules[] =
		"effective 2025-01-01\n"
		"tier SILVER rank 1 spend 500.00 window 30 earn x1.5 name 银卡\n"
		"tier GOLD rank 2 spend 2000.00 window 30 earn x2\n";
	struct mbr_db *db = new_db();
	struct mbr_member m1, m2;
	struct change_log log;
	char want[96];
	int64_t version = 0;

	(void)state;
	add_member(db, "M001", &m1);
	add_member(db, "M002", &m2);
	assert_int_equal(mbr_begin(db), MBR_OK);
	if (mbr_rules_load(db, rules, &version) != MBR_OK)
		fail_msg("rules: %s", mbr_db_errmsg(db));
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_true(version > 0);
	assert_int_equal(mbr_tier_exists(db, "SILVER"), 1);
	assert_int_equal(mbr_tier_exists(db, "GOLD"), 1);

	sale(db, "R1", "2025-03-10 10:00", "M001", "300.00");
	sale(db, "R2", "2025-03-11 10:00", "M002", "499.99");
	evaluate(db, "2025-03-11", &log);
	assert_int_equal(log.n, 0);
	/* M001 crosses 500.00 on the 12th */
	sale(db, "R3", "2025-03-12 10:00", "M001", "200.00");
	evaluate(db, "2025-03-12", &log);
	assert_int_equal(log.n, 1);
	snprintf(want, sizeof(want), "%s >SILVER up", m1.uid);
	assert_string_equal(log.text[0], want);
	reload(db, &m1);
	assert_string_equal(m1.tier, "SILVER");
	reload(db, &m2);
	assert_string_equal(m2.tier, "");
	/* a SILVER member earns x1.5 */
	sale(db, "R4", "2025-03-13 10:00", "M001", "10.00");
	assert_int_equal(qi(db, "SELECT points_earned FROM sales WHERE receipt = 'R4'"), 15);

	/* again: nothing changes */
	evaluate(db, "2025-03-12", &log);
	assert_int_equal(log.n, 0);
	evaluate(db, "2025-03-13", &log);
	assert_int_equal(log.n, 0);
	assert_int_equal(qi(db, "SELECT COUNT(*) FROM audit WHERE action = 'tiers.evaluate'"), 1);

	/* the window (30 days ending on the day) still holds R1 on 04-08 */
	evaluate(db, "2025-04-08", &log);
	assert_int_equal(log.n, 0);
	/* on 04-09 R1 (03-10) has left it: 200 + 10 < 500 */
	evaluate(db, "2025-04-09", &log);
	assert_int_equal(log.n, 1);
	snprintf(want, sizeof(want), "%s SILVER> down", m1.uid);
	assert_string_equal(log.text[0], want);
	reload(db, &m1);
	assert_string_equal(m1.tier, "");
	evaluate(db, "2025-04-09", &log);
	assert_int_equal(log.n, 0);

	/* straight to GOLD */
	sale(db, "R5", "2025-04-10 10:00", "M002", "2000.00");
	evaluate(db, "2025-04-10", &log);
	assert_int_equal(log.n, 1);
	snprintf(want, sizeof(want), "%s >GOLD up", m2.uid);
	assert_string_equal(log.text[0], want);
	/* GOLD to SILVER when only 500.00+ remain in the window */
	sale(db, "R6", "2025-05-05 10:00", "M002", "600.00");
	evaluate(db, "2025-05-10", &log);
	assert_int_equal(log.n, 1);
	snprintf(want, sizeof(want), "%s GOLD>SILVER down", m2.uid);
	assert_string_equal(log.text[0], want);
	assert_sound(db);
	mbr_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_earn_redeem_adjust, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_and_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spend_expires_lapsed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negative_balance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frozen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_redeem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tiers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_balances, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refund_restores_lots, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
