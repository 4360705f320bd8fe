/*
 * points.c - the points ledger and its lots: posting entries, balances,
 * earn/redeem/adjust/transfer, FIFO expiry, rules versions, and nightly
 * tier evaluation.
 *
 * Every change of points is one append-only points_ledger row; the
 * member's cached balance (points_balances, no row: 0) moves with it in
 * the same transaction, and mbr_db_check proves cache == SUM(ledger).  In a bulk
 * transaction (a sale import) the balance changes are kept in a bounded
 * table and written in member order when it fills and at commit: one
 * random page dirtied per sale was a sixth of an import.  Every read of a
 * cached balance in lib/ adds what is pending (BALANCE_SQL).
 *
 * Lots: a positive entry that can lapse opens a lot with its expiry; a
 * negative one consumes open lots, those that expire first first.  Points
 * that never expire have no lot: they are the part of the balance the
 * lots do not cover, and are spent last.  The invariant, checked by
 * mbr_db_check, is
 *     SUM(open lots' remaining) <= MAX(balance, 0)
 * so a member in debt (a return reversed points already spent) first pays
 * the debt from new points before a new lot opens, and expiry can never
 * take more than the member has.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

/* --------------------------------------------------- pending balances */

/* Member ?1's cached balance, without what is pending; no row if there
 * is no such member. */
#define BALANCE_SQL "SELECT COALESCE((SELECT points FROM points_balances WHERE member = ?1), 0) FROM members WHERE id = ?1"
/* The same for a member the caller has found: members is not read.  A
 * sale import's returns read balances (10k a million lines), and the
 * members row was a page read at random from a 16 MiB table each time. */
#define FOUND_BALANCE_SQL "SELECT COALESCE((SELECT points FROM points_balances WHERE member = ?1), 0)"

/*
 * Pending balance changes: members numbered up to PENDING_DENSE by id in
 * an array (a change that would not fit 32 bits is written at once), any
 * other in a hash table written out when half full.  The array holds a
 * chain's members all through an import, each written once at its end:
 * with the table alone (32k members at a time), a 3M-line import over
 * 200k members wrote 700k balance rows, one per sale.
 */
#define PENDING_DENSE (1 << 18)		/* 1 MiB */
#define PENDING_BITS 14
#define PENDING_SLOTS (1 << PENDING_BITS)	/* 256 KiB */
#define PENDING_MAX (PENDING_SLOTS / 2)	/* written out when this many members are pending */
#define LEDGER_PENDING 64		/* entries written behind, at most */

struct mbr_pending {
	int32_t dense[PENDING_DENSE];	/* member id - 1 */
	struct pend {
		int64_t member;		/* 0 = empty slot */
		int64_t delta;
	} slot[PENDING_SLOTS];
	size_t n, ndense;		/* members pending in each */
	/* ledger entries, their strings at offsets into text */
	struct lpend {
		int64_t id, member, ts, points, sale, batch;
		size_t kind, reason, source, ref, store;
	} entry[LEDGER_PENDING];
	size_t nentry;
	struct mbr_buf text;
	int64_t next_id;		/* of the next entry, 0 until read */
};

/* Add each row's delta to its member's cached balance, 16 rows a
 * statement: the balances pending in a bulk transaction (sorted by
 * member, mbr_points_pending_flush), or one change made outside one
 * (balance_add). */
static const struct mbr_rows_sql balance_sql = MBR_ROWS_SQL(
	"INSERT OR FAIL INTO points_balances(member, points) VALUES ", "(?, ?)",
	" ON CONFLICT(member) DO UPDATE SET points = points + excluded.points", 2);

static void balance_bind(sqlite3_stmt *st, int b, size_t i, void *ctx)
{
	const struct pend *p = (const struct pend *)ctx + i;

	sqlite3_bind_int64(st, b + 1, p->member);
	sqlite3_bind_int64(st, b + 2, p->delta);
}

/* Add delta to member's cached balance now. */
static int balance_add(struct mbr_db *db, int64_t member, int64_t delta)
{
	struct pend one = { member, delta };

	return mbr_rows_write(db, &balance_sql, 1, balance_bind, &one);
}

static struct mbr_pending *pending(struct mbr_db *db)
{
	if (!db->pending) {
		if (!(db->pending = calloc(1, sizeof(*db->pending))))
			abort();	/* out of memory, as struct mbr_buf */
		mbr_buf_init(&db->pending->text);
	}
	return db->pending;
}

static const struct mbr_rows_sql ledger_sql = MBR_ROWS_SQL(
	"INSERT OR FAIL INTO points_ledger(id, member, ts, kind, points, reason, source, sale, ref, store,"
	" operator, batch) VALUES ", "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "", 12);

static void ledger_bind(sqlite3_stmt *st, int b, size_t i, void *ctx)
{
	struct mbr_db *db = ctx;
	const struct mbr_pending *pd = db->pending;
	const struct lpend *e = &pd->entry[i];

	sqlite3_bind_int64(st, b + 1, e->id);
	sqlite3_bind_int64(st, b + 2, e->member);
	sqlite3_bind_int64(st, b + 3, e->ts);
	sqlite3_bind_text(st, b + 4, pd->text.buf + e->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, b + 5, e->points);
	sqlite3_bind_text(st, b + 6, pd->text.buf + e->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, b + 7, pd->text.buf + e->source, -1, SQLITE_STATIC);
	if (e->sale)
		sqlite3_bind_int64(st, b + 8, e->sale);
	else
		sqlite3_bind_null(st, b + 8);
	sqlite3_bind_text(st, b + 9, pd->text.buf + e->ref, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, b + 10, pd->text.buf + e->store, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, b + 11, db->operator, -1, SQLITE_STATIC);
	if (e->batch)
		sqlite3_bind_int64(st, b + 12, e->batch);
	else
		sqlite3_bind_null(st, b + 12);
}

int mbr_points_ledger_flush(struct mbr_db *db)
{
	struct mbr_pending *pd = db->pending;
	size_t n;
	int rc;

	if (!pd || !pd->nentry)
		return 0;
	/* none pending while they are written: the insert names
	 * points_ledger too, and mbr_stmt would flush again */
	n = pd->nentry;
	pd->nentry = 0;
	rc = mbr_rows_write(db, &ledger_sql, n, ledger_bind, db);
	mbr_buf_reset(&pd->text);
	return rc;
}

static size_t lpend_text(struct mbr_pending *pd, const char *s)
{
	size_t off = pd->text.len;

	mbr_buf_add(&pd->text, s, strlen(s) + 1);
	return off;
}

/* Keep an entry of a bulk transaction (its id in *id), writing the
 * pending ones out when there are LEDGER_PENDING.  Entries are never
 * deleted (append-only), so ids go on from the largest. */
static int lpend_add(struct mbr_db *db, const struct mbr_post *p, int64_t *id)
{
	struct mbr_pending *pd = pending(db);
	struct lpend *e;
	int rc;

	if (pd->nentry == LEDGER_PENDING && (rc = mbr_points_ledger_flush(db)) < 0)
		return rc;
	if (!pd->next_id &&
	    (rc = mbr_query_i64(db, "SELECT COALESCE(MAX(id), 0) + 1 FROM points_ledger", "points ledger",
				&pd->next_id)) < 0)
		return rc;
	e = &pd->entry[pd->nentry++];
	*id = e->id = pd->next_id++;
	e->member = p->member;
	e->ts = p->ts ? p->ts : mbr_now();
	e->points = p->points;
	e->sale = p->sale;
	e->batch = p->batch;
	e->kind = lpend_text(pd, p->kind);
	e->reason = lpend_text(pd, p->reason ? p->reason : "");
	e->source = lpend_text(pd, p->source ? p->source : "operator");
	e->ref = lpend_text(pd, p->ref ? p->ref : "");
	e->store = lpend_text(pd, p->store ? p->store : db->store);
	return 0;
}

static size_t pend_slot(const struct mbr_pending *pd, int64_t member)
{
	size_t i = (size_t)(((uint64_t)member * 0x9e3779b97f4a7c15ULL) >> (64 - PENDING_BITS));

	while (pd->slot[i].member && pd->slot[i].member != member)
		i = (i + 1) & (PENDING_SLOTS - 1);
	return i;
}

static int in_dense(int64_t member)
{
	return member >= 1 && member <= PENDING_DENSE;
}

int64_t mbr_points_pending(struct mbr_db *db, int64_t member)
{
	const struct mbr_pending *pd = db->pending;

	if (!pd)
		return 0;
	if (in_dense(member))
		return pd->dense[member - 1];
	return pd->n ? pd->slot[pend_slot(pd, member)].delta : 0;
}

void mbr_points_prefetch(struct mbr_db *db, int64_t member)
{
	const struct mbr_pending *pd = db->pending;

	if (pd && in_dense(member))
		__builtin_prefetch(&pd->dense[member - 1]);
}

static int pend_cmp(const void *x, const void *y)
{
	const struct pend *a = x, *b = y;

	return (a->member > b->member) - (a->member < b->member);
}

/* Write out the hash table's members, in member order. */
static int pending_table_flush(struct mbr_db *db)
{
	struct mbr_pending *pd = db->pending;
	size_t i, n = 0;
	int rc;

	/* gather the used slots at the front, in member order */
	for (i = 0; i < PENDING_SLOTS; i++)
		if (pd->slot[i].member)
			pd->slot[n++] = pd->slot[i];
	qsort(pd->slot, n, sizeof(pd->slot[0]), pend_cmp);
	rc = mbr_rows_write(db, &balance_sql, n, balance_bind, pd->slot);
	memset(pd->slot, 0, sizeof(pd->slot));
	pd->n = 0;
	return rc;
}

int mbr_points_pending_flush(struct mbr_db *db)
{
	struct mbr_pending *pd = db->pending;
	size_t i, m, n = 0;
	int rc;

	if ((rc = mbr_points_ledger_flush(db)) < 0 || !pd)
		return rc;
	if (pd->n && (rc = pending_table_flush(db)) < 0)
		return rc;
	/* the array's, in member order, through the table's slots */
	for (i = 0, m = 0; i < PENDING_DENSE && m < pd->ndense; i++) {
		if (!pd->dense[i])
			continue;
		pd->slot[n].member = (int64_t)i + 1;
		pd->slot[n++].delta = pd->dense[i];
		m++;
		if (n == PENDING_SLOTS) {
			if ((rc = mbr_rows_write(db, &balance_sql, n, balance_bind, pd->slot)) < 0)
				return rc;
			n = 0;
		}
	}
	if (n && (rc = mbr_rows_write(db, &balance_sql, n, balance_bind, pd->slot)) < 0)
		return rc;
	memset(pd->slot, 0, sizeof(pd->slot));
	if (pd->ndense)
		memset(pd->dense, 0, sizeof(pd->dense));
	pd->ndense = 0;
	return 0;
}

void mbr_points_pending_drop(struct mbr_db *db)
{
	if (db->pending)
		mbr_buf_release(&db->pending->text);
	free(db->pending);
	db->pending = NULL;
}

/* Keep a balance change of a bulk transaction, writing out the table when full. */
static int pend_add(struct mbr_db *db, int64_t member, int64_t delta)
{
	struct mbr_pending *pd = pending(db);
	size_t i;
	int rc;

	if (in_dense(member)) {
		int64_t sum = (int64_t)pd->dense[member - 1] + delta;

		if (sum < INT32_MIN || sum > INT32_MAX) {
			/* too large to hold: this member's change, written now */
			pd->ndense -= pd->dense[member - 1] != 0;
			pd->dense[member - 1] = 0;
			return balance_add(db, member, sum);
		}
		pd->ndense += !pd->dense[member - 1] - !sum;
		pd->dense[member - 1] = (int32_t)sum;
		return 0;
	}
	i = pend_slot(pd, member);
	if (!pd->slot[i].member) {
		if (pd->n >= PENDING_MAX) {
			if ((rc = pending_table_flush(db)) < 0)
				return rc;
			i = pend_slot(pd, member);
		}
		pd->slot[i].member = member;
		pd->n++;
	}
	pd->slot[i].delta += delta;
	return 0;
}

/* Take n points from lot; when entry is not 0, record what it took
 * (points_lot_uses): a batch's entry, so that undoing it puts them back;
 * an expiry, so that a return does not take lapsed points again. */
static int take_from_lot(struct mbr_db *db, int64_t lot, int64_t n, int64_t entry)
{
	sqlite3_stmt *st = mbr_stmt(db, "UPDATE points_lots SET remaining = remaining - ? WHERE id = ?");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, n);
	sqlite3_bind_int64(st, 2, lot);
	if ((rc = mbr_stmt_done(db, st)) < 0 || !entry)
		return rc;
	st = mbr_stmt(db, "INSERT INTO points_lot_uses(entry, lot, points) VALUES (?, ?, ?)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, entry);
	sqlite3_bind_int64(st, 2, lot);
	sqlite3_bind_int64(st, 3, n);
	return mbr_stmt_done(db, st);
}

/* Consume up to need points from the member's open lots; first from lot
 * `prefer` when it is open.  entry: as take_from_lot.  Returns 0. */
static int consume_lots(struct mbr_db *db, int64_t member, int64_t need, int64_t prefer, int64_t entry)
{
	sqlite3_stmt *sel;
	int rc;

	if (prefer) {
		sqlite3_stmt *one = mbr_stmt(db, "SELECT remaining FROM points_lots WHERE id = ? AND member = ? AND remaining > 0");
		if (!one)
			return MBR_EDB;
		sqlite3_bind_int64(one, 1, prefer);
		sqlite3_bind_int64(one, 2, member);
		if (sqlite3_step(one) == SQLITE_ROW) {
			int64_t r = sqlite3_column_int64(one, 0), take = r < need ? r : need;

			sqlite3_reset(one);
			if ((rc = take_from_lot(db, prefer, take, entry)) < 0)
				return rc;
			need -= take;
		}
		sqlite3_reset(one);
	}
	while (need > 0) {
		int64_t id, r, take;

		sel = mbr_stmt(db, "SELECT id, remaining FROM points_lots WHERE member = ? AND remaining > 0"
				   " ORDER BY expires_at IS NULL, expires_at, id LIMIT 1");
		if (!sel)
			return MBR_EDB;
		sqlite3_bind_int64(sel, 1, member);
		rc = sqlite3_step(sel);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(sel);
			return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "points lots");
		}
		id = sqlite3_column_int64(sel, 0);
		r = sqlite3_column_int64(sel, 1);
		sqlite3_reset(sel);
		take = r < need ? r : need;
		if ((rc = take_from_lot(db, id, take, entry)) < 0)
			return rc;
		need -= take;
	}
	return 0;
}

/*
 * Expire what is left of the lots of member (0: of every member) that
 * lapsed at or before as_of: one 'expire' entry a lot, dated when it
 * lapsed, and one audit entry if any.  Adds to *entries and *points.
 */
static int expire_lapsed(struct mbr_db *db, int64_t member, int64_t as_of, long *entries, int64_t *points)
{
	sqlite3_stmt *st;
	struct mbr_post p;
	long n = 0;
	int64_t pts = 0;
	int rc;

	memset(&p, 0, sizeof(p));
	p.kind = "expire";
	p.source = "expiry";
	p.reason = "lot lapsed";
	for (;;) {
		/* one lot at a time: posting changes the set being read */
		if (member)
			st = mbr_stmt(db, "SELECT id, member, remaining, expires_at FROM points_lots"
					  " WHERE member = ?2 AND remaining > 0 AND expires_at IS NOT NULL AND expires_at <= ?1"
					  " ORDER BY expires_at, id LIMIT 1");
		else
			st = mbr_stmt(db, "SELECT id, member, remaining, expires_at FROM points_lots"
					  " WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= ?"
					  " ORDER BY expires_at, id LIMIT 1");
		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, as_of);
		if (member)
			sqlite3_bind_int64(st, 2, member);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(st);
			if (rc != SQLITE_DONE)
				return mbr_db_sqlerr(db, "expiry");
			break;
		}
		p.lot = sqlite3_column_int64(st, 0);
		p.member = sqlite3_column_int64(st, 1);
		p.points = -sqlite3_column_int64(st, 2);
		p.ts = sqlite3_column_int64(st, 3);	/* dated when the lot lapsed */
		sqlite3_reset(st);
		if ((rc = mbr_points_post(db, &p, NULL)) < 0)
			return rc;
		n++;
		pts -= p.points;
	}
	*entries += n;
	*points += pts;
	if (n) {
		char detail[96];
		snprintf(detail, sizeof(detail), "%ld lots, %lld points", n, (long long)pts);
		return mbr_audit(db, "points.expire", "", detail);
	}
	return 0;
}

int mbr_points_spendable(struct mbr_db *db, int64_t member, int64_t ts, int64_t *balance)
{
	long n = 0;
	int64_t pts = 0;
	int rc;

	if ((rc = expire_lapsed(db, member, ts ? ts : mbr_now(), &n, &pts)) < 0)
		return rc;
	return mbr_points_balance(db, member, 0, balance);
}

/* A spend (a redeem or a transfer out) takes only points the member has at
 * its time: lots lapsed by then are expired first.  Every spend passes this
 * check; callers that check earlier, for a message of their own, must use
 * mbr_points_spendable too. */
static int check_spend(struct mbr_db *db, const struct mbr_post *p)
{
	sqlite3_stmt *st;
	int64_t bal;
	int rc;

	if ((rc = mbr_points_spendable(db, p->member, p->ts, &bal)) < 0)
		return rc;
	if (bal >= -p->points)
		return 0;
	st = mbr_stmt(db, "SELECT uid FROM members WHERE id = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, p->member);
	rc = sqlite3_step(st);
	rc = mbr_db_fail(db, MBR_EINVAL, "member %s has %lld points, cannot %s %lld",
			 rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : "?",
			 (long long)bal, p->kind, (long long)-p->points);
	sqlite3_reset(st);
	return rc;
}

/* Append the entry and move the member's cached balance with it; the
 * lots are the caller's.  *before: the balance before it (before may be
 * NULL when the caller needs none). */
static int post_entry(struct mbr_db *db, const struct mbr_post *p, int64_t *ledger, int64_t *before)
{
	sqlite3_stmt *st;
	int rc;

	if (db->bulk) {
		if ((rc = lpend_add(db, p, ledger)) < 0)
			return rc;
		goto balance;
	}
	st = mbr_stmt(db, "INSERT INTO points_ledger(member, ts, kind, points, reason, source, sale, ref, store,"
			  " operator, batch) VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 2, p->member);
	sqlite3_bind_int64(st, 3, p->ts ? p->ts : mbr_now());
	sqlite3_bind_text(st, 4, p->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, p->points);
	sqlite3_bind_text(st, 6, p->reason ? p->reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, p->source ? p->source : "operator", -1, SQLITE_STATIC);
	if (p->sale)
		sqlite3_bind_int64(st, 8, p->sale);
	sqlite3_bind_text(st, 9, p->ref ? p->ref : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, p->store ? p->store : db->store, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, db->operator, -1, SQLITE_STATIC);
	if (p->batch)
		sqlite3_bind_int64(st, 12, p->batch);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	*ledger = sqlite3_last_insert_rowid(db->sql);

balance:
	/* Without before, in a bulk transaction, whose caller has found
	 * the member: only add to what is pending (most sales: points
	 * that never lapse need no lot, so no balance read). */
	if (!before && db->bulk)
		return pend_add(db, p->member, p->points);
	/* read, then update: UPDATE ... RETURNING costs SQLite more than
	 * the two (its rows go through a buffer), and this is per sale; in
	 * a bulk transaction the caller has found the member */
	st = mbr_stmt(db, db->bulk ? FOUND_BALANCE_SQL : BALANCE_SQL);
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, p->member);
	rc = sqlite3_step(st);
	if (before)
		*before = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) + mbr_points_pending(db, p->member) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? mbr_db_fail(db, MBR_ENOTFOUND, "no member #%lld", (long long)p->member)
					 : mbr_db_sqlerr(db, "points balance");
	if (db->bulk)
		return pend_add(db, p->member, p->points);
	return balance_add(db, p->member, p->points);
}

/* A lot of points of entry `id` (a lot's id is its entry's), lapsing at expires_at. */
static int open_lot(struct mbr_db *db, int64_t member, int64_t id, int64_t expires_at, int64_t points,
		    int64_t remaining)
{
	sqlite3_stmt *st = mbr_stmt(db, "INSERT INTO points_lots(member, id, expires_at, points, remaining)"
					" VALUES (?, ?, ?, ?, ?)");

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, member);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int64(st, 3, expires_at);
	sqlite3_bind_int64(st, 4, points);
	sqlite3_bind_int64(st, 5, remaining);
	return mbr_stmt_done(db, st);
}

/*
 * Points of entry (p->points, of which `open` are left after a debt) given
 * back of what entry p->restore spent, p->restored of it given back
 * before: they go back where they were taken from, in the reverse of the
 * order they were spent, so that a return of goods bought with points
 * never lengthens their life.  Spending took lots soonest-expiring first,
 * then the never-expiring rest; so what comes back fills, in order, the
 * never-expiring part, then each lot the spend took, latest-expiring
 * first, up to what it took.  The first points of this entry pay the
 * debt.  Points of a lot that lapsed by the entry's time come back in a
 * lot of their own that lapses then (the next expiry takes them); the rest
 * go back into their lots, recorded as negative uses, which undo takes
 * out again (lots_before).  p->expires_at: for a spend that recorded no
 * lots.
 */
static int restore_lots(struct mbr_db *db, const struct mbr_post *p, int64_t entry, int64_t open)
{
	sqlite3_stmt *st;
	struct mbr_buf uses = MBR_BUF_INIT;
	int64_t spent = 0, used = 0, pos, from, to, lapsed = 0, ts = p->ts ? p->ts : mbr_now();
	size_t k;
	int rc;

	if (open <= 0)
		return 0;
	st = mbr_stmt(db, "SELECT -e.points, COALESCE((SELECT SUM(u.points) FROM points_lot_uses u"
			  " WHERE u.entry = e.id AND u.points > 0), 0) FROM points_ledger e WHERE e.id = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, p->restore);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		spent = sqlite3_column_int64(st, 0);
		used = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return mbr_db_sqlerr(db, "points ledger");
	/* this entry's positions in that order, less those paying the debt */
	from = p->restored + (p->points - open);
	to = p->restored + p->points;
	/* a spend that recorded no lots (before schema 3) cannot be put
	 * back: its points lapse as if earned now, as they used to */
	if (used <= 0)
		return p->expires_at ? open_lot(db, p->member, entry, p->expires_at, p->points, open) : 0;
	pos = spent > used ? spent - used : 0;	/* the never-expiring part */
	if (to <= pos)
		return 0;
	/* read whole first: the loop below writes the tables read */
	st = mbr_stmt(db, "SELECT u.lot, u.points, COALESCE(l.expires_at, 0) FROM points_lot_uses u"
			  " JOIN points_lots l ON l.id = u.lot WHERE u.entry = ? AND u.points > 0"
			  " ORDER BY l.expires_at IS NULL DESC, l.expires_at DESC, l.id DESC");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, p->restore);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t u[3] = { sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2) };

		mbr_buf_add(&uses, (const char *)u, sizeof(u));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		mbr_buf_release(&uses);
		return mbr_db_sqlerr(db, "points lots");
	}
	rc = 0;
	for (k = 0; k + 3 * sizeof(int64_t) <= uses.len && pos < to && rc == 0; k += 3 * sizeof(int64_t)) {
		int64_t u[3], lo, hi;

		memcpy(u, uses.buf + k, sizeof(u));	/* lot, points it took, its expiry */
		lo = pos > from ? pos : from;
		hi = pos + u[1] < to ? pos + u[1] : to;
		pos += u[1];
		if (hi <= lo)
			continue;
		if (u[2] && u[2] <= ts)
			lapsed += hi - lo;
		else
			rc = take_from_lot(db, u[0], -(hi - lo), entry);
	}
	mbr_buf_release(&uses);
	if (rc < 0)
		return rc;
	return lapsed ? open_lot(db, p->member, entry, ts, lapsed, lapsed) : 0;
}

int mbr_points_post(struct mbr_db *db, const struct mbr_post *p, int64_t *ledger_out)
{
	int64_t ledger, before = 0;
	int rc;

	if (p->points == 0)
		return 0;
	if (p->points < 0 && (!strcmp(p->kind, "redeem") || !strcmp(p->kind, "transfer")) &&
	    (rc = check_spend(db, p)) < 0)
		return rc;
	/* the balance before matters only to lots: opening one, putting
	 * points back into them, or taking points out of them */
	if ((rc = post_entry(db, p, &ledger, p->points < 0 || p->expires_at || p->restore ? &before : NULL)) < 0)
		return rc;
	if (ledger_out)
		*ledger_out = ledger;

	if (p->points > 0) {
		/* a debt (negative balance) is paid first */
		int64_t open = before < 0 ? p->points + before : p->points;

		if (p->restore)
			return restore_lots(db, p, ledger, open);
		if (open <= 0 || !p->expires_at)
			return 0;	/* never-expiring points need no lot */
		return open_lot(db, p->member, ledger, p->expires_at, p->points, open);
	}
	/* only what the member had can come out of lots; a batch's entry
	 * records what it took, for mbr_points_undo_batch, and an expiry
	 * what it took, for mbr_points_lot_expired */
	if (before <= 0)
		return 0;
	return consume_lots(db, p->member, before < -p->points ? before : -p->points, p->lot,
			    p->batch || !strcmp(p->kind, "expire") ? ledger : 0);
}

int mbr_points_lot_expired(struct mbr_db *db, int64_t lot, int64_t *points)
{
	sqlite3_stmt *st;
	int rc;

	*points = 0;
	if (!lot)
		return 0;
	st = mbr_stmt(db, "SELECT COALESCE(SUM(u.points), 0) FROM points_lot_uses u"
			  " JOIN points_ledger l ON l.id = u.entry WHERE u.lot = ? AND l.kind = 'expire'");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, lot);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*points = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : mbr_db_sqlerr(db, "points lots");
}

int mbr_points_balance(struct mbr_db *db, int64_t member, int64_t before, int64_t *balance)
{
	sqlite3_stmt *st;
	int rc;

	/* As of a past time, a sales batch undone since counts as never
	 * imported: its entries are left out, and so are the undo entries
	 * that cancelled them (dated when the undo ran). */
	if (before)
		st = mbr_stmt(db, "SELECT COALESCE(SUM(l.points), 0) FROM points_ledger l"
				  " WHERE l.member = ? AND l.ts < ? AND l.source != 'undo'"
				  " AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.id = l.batch AND b.undone_at IS NOT NULL)");
	else
		st = mbr_stmt(db, BALANCE_SQL);
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, member);
	if (before)
		sqlite3_bind_int64(st, 2, before);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*balance = sqlite3_column_int64(st, 0) + (before ? 0 : mbr_points_pending(db, member));
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? mbr_db_fail(db, MBR_ENOTFOUND, "no member #%lld", (long long)member)
				 : mbr_db_sqlerr(db, "balance");
}

/* An active member may earn and spend; frozen and erased ones may not. */
static int usable(struct mbr_db *db, const struct mbr_member *m)
{
	if (strcmp(m->status, "active"))
		return mbr_db_fail(db, MBR_EINVAL, "member %s is %s", m->uid, m->status);
	return 0;
}

int mbr_points_change(struct mbr_db *db, const struct mbr_member *m, const char *kind, int64_t points,
		      const char *reason)
{
	struct mbr_rules_set rs;
	struct mbr_post p;
	int rc;

	if (points <= 0 && strcmp(kind, "adjust"))
		return mbr_db_fail(db, MBR_EINVAL, "points must be a positive whole number");
	if (points == 0)
		return mbr_db_fail(db, MBR_EINVAL, "an adjustment of 0 points changes nothing");
	if ((rc = usable(db, m)) < 0)
		return rc;
	memset(&p, 0, sizeof(p));
	p.member = m->id;
	p.kind = kind;
	p.reason = reason;
	p.source = "operator";
	p.ts = mbr_now();
	if (!strcmp(kind, "redeem")) {
		p.points = -points;	/* mbr_points_post refuses more than the member has */
	} else {
		p.points = points;
		if (points > 0) {
			if ((rc = mbr_rules_set_load(db, &rs)) < 0)
				return rc;
			p.expires_at = mbr_rules_expiry(mbr_rules_at(&rs, mbr_local_day(p.ts)), p.ts);
			mbr_rules_set_free(&rs);
		}
	}
	if ((rc = mbr_points_post(db, &p, NULL)) < 0)
		return rc;
	{
		char detail[96];
		snprintf(detail, sizeof(detail), "%s %+lld", kind, (long long)p.points);
		return mbr_audit(db, "points.change", m->uid, detail);
	}
}

int mbr_points_transfer(struct mbr_db *db, const struct mbr_member *from, const struct mbr_member *to,
			int64_t points, const char *reason)
{
	sqlite3_stmt *st;
	struct mbr_post p;
	int64_t bal, expires = 0, ts = mbr_now();
	char detail[128];
	int rc;

	if (points <= 0)
		return mbr_db_fail(db, MBR_EINVAL, "points must be a positive whole number");
	if (from->id == to->id)
		return mbr_db_fail(db, MBR_EINVAL, "cannot transfer points to the same member");
	if ((rc = usable(db, from)) < 0 || (rc = usable(db, to)) < 0)
		return rc;
	/* lapsed lots are expired first: they neither count nor date the receiver's lot */
	if ((rc = mbr_points_spendable(db, from->id, ts, &bal)) < 0)
		return rc;
	if (bal < points)
		return mbr_db_fail(db, MBR_EINVAL, "member %s has %lld points, cannot transfer %lld",
				   from->uid, (long long)bal, (long long)points);
	/* The receiver's lot lapses with the earliest of the lots it came from:
	 * a transfer never extends the life of points. */
	st = mbr_stmt(db, "SELECT MIN(expires_at) FROM (SELECT expires_at, remaining,"
			  " SUM(remaining) OVER (ORDER BY expires_at IS NULL, expires_at, id) - remaining AS before"
			  " FROM points_lots WHERE member = ? AND remaining > 0) WHERE before < ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, from->id);
	sqlite3_bind_int64(st, 2, points);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		expires = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);

	memset(&p, 0, sizeof(p));
	p.kind = "transfer";
	p.source = "transfer";
	p.reason = reason;
	p.ts = ts;
	p.member = from->id;
	p.points = -points;
	p.ref = to->uid;
	if ((rc = mbr_points_post(db, &p, NULL)) < 0)
		return rc;
	p.member = to->id;
	p.points = points;
	p.ref = from->uid;
	p.expires_at = expires;
	if ((rc = mbr_points_post(db, &p, NULL)) < 0)
		return rc;
	snprintf(detail, sizeof(detail), "%lld points from %s to %s", (long long)points, from->uid, to->uid);
	return mbr_audit(db, "points.transfer", from->uid, detail);
}

int mbr_points_expire(struct mbr_db *db, int64_t as_of, long *entries, int64_t *points)
{
	*entries = 0;
	*points = 0;
	return expire_lapsed(db, 0, as_of, entries, points);
}

/* A member of the batch with points entries since, not the batch's own
 * nor those of batches undone since: MBR_EINVAL saying which. */
static int points_undo_blocked(struct mbr_db *db, int64_t batch)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT m.uid, l.kind, l.id FROM points_ledger l JOIN members m ON m.id = l.member"
					" WHERE l.member IN (SELECT member FROM points_ledger WHERE batch = ?1)"
					" AND l.id > (SELECT MIN(id) FROM points_ledger WHERE batch = ?1)"
					" AND COALESCE(l.batch, 0) != ?1 AND NOT " MBR_UNDONE_SALE_SQL("l.sale") " LIMIT 1");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, batch);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = mbr_db_fail(db, MBR_EINVAL, "batch %lld cannot be undone: member %s has points activity since (%s, ledger entry %s)",
				 (long long)batch, sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
				 sqlite3_column_text(st, 2));
		sqlite3_reset(st);
		return rc;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "undo");
}

/*
 * Put the lots back as they were before entry, now cancelled (nothing but
 * undone entries touched them since).  Points it took go back to the lots
 * it took them from (points_lot_uses), with their expiry.  Points it added
 * leave its own lot; only if the lots would then hold more than the
 * balance do others give up the rest, soonest-expiring first.
 */
static int lots_before(struct mbr_db *db, int64_t member, int64_t entry, int64_t points, int64_t balance)
{
	sqlite3_stmt *st;
	int64_t total, own, need;
	int rc;

	/* what it took from lots goes back, what it put back (a refund,
	 * restore_lots: negative uses) comes out again */
	st = mbr_stmt(db, "UPDATE points_lots SET remaining = remaining + u.points FROM points_lot_uses u"
			  " WHERE u.entry = ? AND points_lots.id = u.lot");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, entry);
	if ((rc = mbr_stmt_done(db, st)) < 0 || points < 0)
		return rc;
	st = mbr_stmt(db, "SELECT COALESCE(SUM(remaining), 0), COALESCE(SUM(CASE WHEN id = ?2 THEN remaining END), 0)"
			  " FROM points_lots WHERE member = ?1 AND remaining > 0");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, member);
	sqlite3_bind_int64(st, 2, entry);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return mbr_db_sqlerr(db, "points lots");
	}
	total = sqlite3_column_int64(st, 0);
	own = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	need = total - (balance > 0 ? balance : 0);
	return consume_lots(db, member, need > own ? need : own, entry, 0);
}

int mbr_points_undo_batch(struct mbr_db *db, int64_t batch)
{
	int64_t last = INT64_MAX;
	int rc;

	if ((rc = points_undo_blocked(db, batch)) < 0)
		return rc;
	for (;;) {	/* newest first, one at a time: the loop writes the ledger it reads */
		sqlite3_stmt *st = mbr_stmt(db, "SELECT id, member, points, sale FROM points_ledger"
						" WHERE batch = ? AND id < ? ORDER BY id DESC LIMIT 1");
		struct mbr_post p;
		int64_t ledger, before;

		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, batch);
		sqlite3_bind_int64(st, 2, last);
		if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
			sqlite3_reset(st);
			return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "undo");
		}
		memset(&p, 0, sizeof(p));
		last = sqlite3_column_int64(st, 0);
		p.member = sqlite3_column_int64(st, 1);
		p.points = -sqlite3_column_int64(st, 2);
		p.sale = sqlite3_column_int64(st, 3);
		p.kind = "adjust";
		p.source = "undo";
		p.reason = "undo of a sales batch";
		sqlite3_reset(st);
		if ((rc = post_entry(db, &p, &ledger, &before)) < 0 ||
		    (rc = lots_before(db, p.member, last, -p.points, before + p.points)) < 0)
			return rc;
	}
}

int mbr_points_history(struct mbr_db *db, int64_t member, mbr_ledger_fn fn, void *ctx)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT COALESCE(l.origin, (SELECT value FROM settings WHERE key = 'store_code'))"
					" || ':' || COALESCE(l.origin_id, l.id), l.ts, l.kind, l.points, l.reason, l.source, l.ref, l.store,"
					" l.operator, SUM(l.points) OVER (ORDER BY l.ts, l.id)"
					" FROM points_ledger l WHERE l.member = ? ORDER BY l.ts, l.id");
	struct mbr_ledger_entry e;
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, member);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;

		e.uid = (const char *)sqlite3_column_text(st, 0);
		e.ts = sqlite3_column_int64(st, 1);
		e.kind = (const char *)sqlite3_column_text(st, 2);
		e.points = sqlite3_column_int64(st, 3);
		e.reason = (const char *)sqlite3_column_text(st, 4);
		e.source = (const char *)sqlite3_column_text(st, 5);
		e.ref = (const char *)sqlite3_column_text(st, 6);
		e.store = sqlite3_column_text(st, 7) ? (const char *)sqlite3_column_text(st, 7) : "";
		e.operator = (const char *)sqlite3_column_text(st, 8);
		e.balance = sqlite3_column_int64(st, 9);
		if ((r = fn(&e, ctx)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "history");
}

/* --------------------------------------------------------------- rules */

int mbr_rules_set_load(struct mbr_db *db, struct mbr_rules_set *rs)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT id, text FROM rules_versions ORDER BY effective_day, id");
	struct mbr_buf err = MBR_BUF_INIT;
	int rc;

	memset(rs, 0, sizeof(*rs));
	mbr_rules_default(&rs->deflt);
	{
		int64_t unit = 1;
		int i;
		for (i = 0; i < db->exp; i++)
			unit *= 10;
		rs->deflt.base_per = unit;
		rs->deflt.redeem_value = unit;
		rs->deflt.effective_day = INT64_MIN / 2;
	}
	if (!st)
		return MBR_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mbr_rules *r;

		if (rs->n == rs->alloc) {
			rs->alloc = rs->alloc ? 2 * rs->alloc : 4;
			rs->v = realloc(rs->v, rs->alloc * sizeof(*rs->v));
			if (!rs->v)
				abort();
		}
		r = &rs->v[rs->n];
		if (mbr_rules_parse((const char *)sqlite3_column_text(st, 1), db->exp, r, &err) < 0) {
			rc = mbr_db_fail(db, MBR_EDB, "rules version %lld: line %s", (long long)sqlite3_column_int64(st, 0), err.buf);
			sqlite3_reset(st);
			mbr_buf_release(&err);
			mbr_rules_set_free(rs);
			return rc;
		}
		r->version = sqlite3_column_int64(st, 0);
		rs->n++;
	}
	sqlite3_reset(st);
	mbr_buf_release(&err);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "rules");
}

const struct mbr_rules *mbr_rules_at(const struct mbr_rules_set *rs, int64_t day)
{
	size_t i;

	/* versions are ordered by effective day, then load order: the last
	 * one in force wins */
	for (i = rs->n; i > 0; i--)
		if (rs->v[i - 1].effective_day <= day)
			return &rs->v[i - 1];
	return &rs->deflt;
}

const struct mbr_rules *mbr_rules_version(const struct mbr_rules_set *rs, int64_t version)
{
	size_t i;

	if (version == 0)
		return &rs->deflt;
	for (i = 0; i < rs->n; i++)
		if (rs->v[i].version == version)
			return &rs->v[i];
	return NULL;
}

void mbr_rules_set_free(struct mbr_rules_set *rs)
{
	free(rs->v);
	rs->v = NULL;
	rs->n = rs->alloc = 0;
}

int mbr_rules_load(struct mbr_db *db, const char *text, int64_t *version)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_rules *r = malloc(sizeof(*r));
	sqlite3_stmt *st;
	char detail[64];
	int64_t shift;
	int rc, i;

	if (!r)
		abort();
	if (mbr_rules_parse(text, db->exp, r, &err) < 0) {
		rc = mbr_db_fail(db, MBR_EINVAL, "%s", err.buf);
		goto out;
	}
	st = mbr_stmt(db, "INSERT INTO rules_versions(effective_day, text, loaded_at, operator) VALUES (?, ?, ?, ?)");
	if (!st) {
		rc = MBR_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, r->effective_day);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, mbr_now());
	sqlite3_bind_text(st, 4, db->operator, -1, SQLITE_STATIC);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		goto out;
	*version = sqlite3_last_insert_rowid(db->sql);
	/*
	 * The tiers table is what members.tier refers to: every tier code any
	 * version has named, so that a member's code stays valid whatever is
	 * loaded later.  A version's codes and ranks are unique within it
	 * (mbr_rules_parse), not across versions: the table's ranks (UNIQUE)
	 * are those of the version loaded last.  First every row's rank moves
	 * below 0 and below every rank it had, in the same order, so that no
	 * row collides with another on the way and the new version may give a
	 * rank to any tier; tiers it does not name keep their rows there.
	 */
	st = mbr_stmt(db, "SELECT COALESCE(MAX(rank) - MIN(MIN(rank), 0) + 1, 0) FROM tiers");
	if (!st) {
		rc = MBR_EDB;
		goto out;
	}
	rc = sqlite3_step(st);
	shift = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		rc = mbr_db_sqlerr(db, "tiers");
		goto out;
	}
	st = mbr_stmt(db, "UPDATE tiers SET rank = rank - ?");
	if (!st) {
		rc = MBR_EDB;
		goto out;
	}
	sqlite3_bind_int64(st, 1, shift);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		goto out;
	for (i = 0; i < r->ntiers; i++) {
		const struct mbr_tier *t = &r->tiers[i];

		st = mbr_stmt(db, "INSERT INTO tiers(code, name, rank, basis, threshold, window_days, discount_bp, earn_mult_bp)"
				  " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET name = excluded.name,"
				  " rank = excluded.rank, basis = excluded.basis, threshold = excluded.threshold,"
				  " window_days = excluded.window_days, discount_bp = excluded.discount_bp,"
				  " earn_mult_bp = excluded.earn_mult_bp");
		if (!st) {
			rc = MBR_EDB;
			goto out;
		}
		sqlite3_bind_text(st, 1, t->code, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, t->rank);
		sqlite3_bind_text(st, 4, t->basis_points ? "points" : "spend", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, t->threshold);
		sqlite3_bind_int64(st, 6, t->window_days);
		sqlite3_bind_int64(st, 7, t->discount_bp);
		sqlite3_bind_int64(st, 8, t->earn_mult_bp);
		if ((rc = mbr_stmt_done(db, st)) < 0)
			goto out;
	}
	snprintf(detail, sizeof(detail), "version %lld", (long long)*version);
	rc = mbr_audit(db, "rules.load", "", detail);
out:
	free(r);
	mbr_buf_release(&err);
	return rc;
}

int mbr_rules_text(struct mbr_db *db, int64_t day, struct mbr_buf *out)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT text FROM rules_versions WHERE effective_day <= ?"
					" ORDER BY effective_day DESC, id DESC LIMIT 1");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, day);
	rc = sqlite3_step(st);
	mbr_buf_reset(out);
	if (rc == SQLITE_ROW)
		mbr_buf_adds(out, (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return MBR_ENOTFOUND;
	return rc == SQLITE_ROW ? 0 : mbr_db_sqlerr(db, "rules");
}

/* ------------------------------------------------------------- tiers */

/*
 * Nightly tier evaluation as of a business day: each member gets the
 * highest-ranked tier of the rules in force whose threshold its spend (or
 * points earned) over the tier's window, ending that day, reaches; none
 * if no tier qualifies.  Changes (up and down) are written, audited, and
 * passed to fn.  Running it twice for the same day changes nothing.
 */
int mbr_tiers_evaluate(struct mbr_db *db, int64_t day, mbr_tier_change_fn fn, void *ctx)
{
	struct mbr_rules_set rs;
	const struct mbr_rules *r;
	sqlite3_stmt *st;
	int64_t maxid = 0, *best = NULL;
	long changes = 0;
	int rc, i;

	if ((rc = mbr_rules_set_load(db, &rs)) < 0)
		return rc;
	r = mbr_rules_at(&rs, day);
	st = mbr_stmt(db, "SELECT COALESCE(MAX(id), 0) FROM members");
	if (!st || sqlite3_step(st) != SQLITE_ROW) {
		rc = st ? mbr_db_sqlerr(db, "tiers") : MBR_EDB;
		goto out;
	}
	maxid = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	/* best[member id] = index+1 of the best tier reached (0 = none) */
	best = calloc((size_t)maxid + 1, sizeof(*best));
	if (!best)
		abort();
	for (i = 0; i < r->ntiers; i++) {
		const struct mbr_tier *t = &r->tiers[i];

		st = mbr_stmt(db, t->basis_points
			? "SELECT member FROM agg_member_day WHERE day > ? AND day <= ? GROUP BY member HAVING SUM(points_earned) >= ?"
			: "SELECT member FROM agg_member_day WHERE day > ? AND day <= ? GROUP BY member HAVING SUM(amount) >= ?");
		if (!st) {
			rc = MBR_EDB;
			goto out;
		}
		sqlite3_bind_int64(st, 1, day - t->window_days);
		sqlite3_bind_int64(st, 2, day);
		sqlite3_bind_int64(st, 3, t->threshold);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			int64_t m = sqlite3_column_int64(st, 0);
			if (m >= 0 && m <= maxid && (!best[m] || r->tiers[best[m] - 1].rank < t->rank))
				best[m] = i + 1;
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			rc = mbr_db_sqlerr(db, "tiers");
			goto out;
		}
		/* a threshold of 0 is reached by every member, even without sales */
		if (t->threshold == 0) {
			int64_t m;
			for (m = 1; m <= maxid; m++)
				if (!best[m] || r->tiers[best[m] - 1].rank < t->rank)
					best[m] = i + 1;
		}
	}
	st = mbr_stmt(db, "SELECT id, uid, COALESCE(tier, '') FROM members WHERE status != 'erased' ORDER BY id");
	if (!st) {
		rc = MBR_EDB;
		goto out;
	}
	{
		/* collect changes first: the update must not run under the reading statement */
		struct change { int64_t id; char uid[40]; char old[32]; const char *new_code; } *ch = NULL;
		size_t nch = 0, ach = 0, k;

		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			int64_t id = sqlite3_column_int64(st, 0);
			const char *old = (const char *)sqlite3_column_text(st, 2);
			const char *nw = id <= maxid && best[id] ? r->tiers[best[id] - 1].code : "";

			if (!strcmp(old, nw))
				continue;
			if (nch == ach) {
				ach = ach ? 2 * ach : 64;
				ch = realloc(ch, ach * sizeof(*ch));
				if (!ch)
					abort();
			}
			ch[nch].id = id;
			snprintf(ch[nch].uid, sizeof(ch[nch].uid), "%s", (const char *)sqlite3_column_text(st, 1));
			snprintf(ch[nch].old, sizeof(ch[nch].old), "%s", old);
			ch[nch].new_code = nw;
			nch++;
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			free(ch);
			rc = mbr_db_sqlerr(db, "tiers");
			goto out;
		}
		rc = 0;
		for (k = 0; k < nch && rc == 0; k++) {
			const struct mbr_tier *o = mbr_rules_tier(r, ch[k].old), *n = mbr_rules_tier(r, ch[k].new_code);
			int up = n && (!o || n->rank > o->rank);

			st = mbr_stmt(db, "UPDATE members SET tier = ?, updated_at = ? WHERE id = ?");
			if (!st) {
				rc = MBR_EDB;
				break;
			}
			if (*ch[k].new_code)
				sqlite3_bind_text(st, 1, ch[k].new_code, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, mbr_now());
			sqlite3_bind_int64(st, 3, ch[k].id);
			if ((rc = mbr_stmt_done(db, st)) < 0)
				break;
			changes++;
			if (fn)
				rc = fn(ch[k].id, ch[k].uid, ch[k].old, ch[k].new_code, up ? "up" : "down", ctx);
		}
		free(ch);
	}
	if (rc == 0 && changes) {
		char detail[64];
		snprintf(detail, sizeof(detail), "%ld changes", changes);
		rc = mbr_audit(db, "tiers.evaluate", "", detail);
	}
out:
	free(best);
	mbr_rules_set_free(&rs);
	return rc;
}
