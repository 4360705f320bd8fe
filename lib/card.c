/*
 * card.c - prepaid value: members' stored value (储值), gift cards, and
 * count cards (次卡); and the settlement between stores that follows from
 * them and from points.
 *
 * Stored value keeps principal (money paid in) and bonus (given by the
 * top-up rules) apart, in one append-only ledger, sv_ledger, whose sums
 * the cached balances (members.sv_principal/sv_bonus, gift_cards
 * principal/bonus) always equal; mbr_db_check proves it.  The stated
 * rules (mbr-card(1)):
 *  - a top-up of A earns the bonus of the rules in force that day
 *    (the rule with the highest minimum A reaches);
 *  - spending S draws principal and bonus pro rata to the balance:
 *    principal part floor(S * P / (P + B)), bonus part the rest, so a
 *    spend of the whole balance takes exactly both;
 *  - a return paid back to stored value (or a gift card) is credited in
 *    the proportion of principal and bonus its referenced sale was paid
 *    with, principal rounded down; without a referenced sale, as
 *    principal;
 *  - a payout (refund of top-ups) pays back unspent principal only; the
 *    unspent bonus of the same top-ups is forfeited.  What is unspent of
 *    each top-up is found by replaying the account's ledger first in,
 *    first out (sv_replay), the same replay that attributes spending to
 *    the stores where the money was paid in, for settlement.
 *
 * Count cards sell N uses of one SKU for a price; a sale of that SKU to
 * the member uses the card instead of money (sale.c); unused uses are
 * paid back at the price per use, rounded down.  Returns do not give
 * uses back.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

static const char *text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

/* ------------------------------------------------------------ accounts */

/* A store given for a top-up or a card sale must be one of the chain's. */
static int known_store(struct mbr_db *db, const char *store)
{
	int rc;

	if (!store || !*store)
		return 0;
	if ((rc = mbr_store_exists(db, store)) < 0)
		return rc;
	return rc ? 0 : mbr_db_fail(db, MBR_EINVAL, "no store '%s' (mbr-db store-add adds one)", store);
}

/* "member M0001" or "gift CODE": how messages and the audit log name an account. */
static const char *account_name(struct mbr_db *db, const struct mbr_sv_account *a, char *buf, size_t n)
{
	sqlite3_stmt *st;

	if (a->gift) {
		snprintf(buf, n, "gift card %s", a->gift);
		return buf;
	}
	snprintf(buf, n, "member #%lld", (long long)a->member);	/* if the lookup fails */
	st = mbr_stmt(db, "SELECT uid FROM members WHERE id = ?");
	if (!st)
		return buf;
	sqlite3_bind_int64(st, 1, a->member);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, n, "member %s", text(st, 0));
	sqlite3_reset(st);
	return buf;
}


int mbr_sv_balance(struct mbr_db *db, const struct mbr_sv_account *a, struct mbr_sv *out)
{
	sqlite3_stmt *st = a->gift ? mbr_stmt(db, "SELECT principal, bonus FROM gift_cards WHERE code = ?")
				   : mbr_stmt(db, "SELECT sv_principal, sv_bonus FROM members WHERE id = ?");
	int rc;

	if (!st)
		return MBR_EDB;
	if (a->gift)
		sqlite3_bind_text(st, 1, a->gift, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, a->member);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->principal = sqlite3_column_int64(st, 0);
		out->bonus = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE) {
		char who[64];
		return mbr_db_fail(db, MBR_ENOTFOUND, "no %s", account_name(db, a, who, sizeof(who)));
	}
	return mbr_db_sqlerr(db, "stored value");
}

/* May the account be spent from?  Frozen or void accounts may not, nor
 * the stored value of a member who is not active: the message says which
 * (mbr-card unfreeze unfreezes the stored value, mbr-member unfreeze the
 * member). */
int mbr_sv_usable(struct mbr_db *db, const struct mbr_sv_account *a, int64_t at)
{
	sqlite3_stmt *st = a->gift
		? mbr_stmt(db, "SELECT state = 'active' AND (expires_at IS NULL OR expires_at > ?2), 'active' FROM gift_cards"
			       " WHERE code = ?1")
		: mbr_stmt(db, "SELECT sv_frozen = 0, status FROM members WHERE id = ?1");
	char status[16] = "", who[64];
	int rc, ok = 0;

	if (!st)
		return MBR_EDB;
	if (a->gift) {
		sqlite3_bind_text(st, 1, a->gift, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, at ? at : mbr_now());
	} else {
		sqlite3_bind_int64(st, 1, a->member);
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ok = sqlite3_column_int(st, 0);
		mbr_copy(status, sizeof(status), text(st, 1));
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return mbr_db_fail(db, MBR_ENOTFOUND, "no %s", account_name(db, a, who, sizeof(who)));
	if (rc != SQLITE_ROW)
		return mbr_db_sqlerr(db, "stored value");
	if (!strcmp(status, "frozen"))
		return mbr_db_fail(db, MBR_EINVAL, "%s is frozen; unfreeze the member with mbr-member unfreeze",
				   account_name(db, a, who, sizeof(who)));
	if (strcmp(status, "active"))
		return mbr_db_fail(db, MBR_EINVAL, "%s is %s", account_name(db, a, who, sizeof(who)), status);
	if (!ok)
		return mbr_db_fail(db, MBR_EINVAL, a->gift ? "the stored value of %s is frozen, void or expired"
				   : "the stored value of %s is frozen; unfreeze it with mbr-card unfreeze",
				   account_name(db, a, who, sizeof(who)));
	return 0;
}

/* Append an entry and move the cached balance with it. */
static int sv_post(struct mbr_db *db, const struct mbr_sv_account *a, const struct mbr_sv_entry *e, int64_t *id)
{
	sqlite3_stmt *st;
	int rc;

	st = mbr_stmt(db, "INSERT INTO sv_ledger(member, gift, ts, kind, principal, bonus, method, topup, sale, ref,"
			  " reason, store, operator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return MBR_EDB;
	if (a->gift)
		sqlite3_bind_text(st, 2, a->gift, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, a->member);
	sqlite3_bind_int64(st, 3, e->ts ? e->ts : mbr_now());
	sqlite3_bind_text(st, 4, e->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, e->principal);
	sqlite3_bind_int64(st, 6, e->bonus);
	sqlite3_bind_text(st, 7, e->method ? e->method : "", -1, SQLITE_STATIC);
	if (e->topup)
		sqlite3_bind_int64(st, 8, e->topup);
	if (e->sale)
		sqlite3_bind_int64(st, 9, e->sale);
	sqlite3_bind_text(st, 10, e->ref ? e->ref : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, e->reason ? e->reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, e->store ? e->store : db->store, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, db->operator, -1, SQLITE_STATIC);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	if (id)
		*id = sqlite3_last_insert_rowid(db->sql);
	st = a->gift ? mbr_stmt(db, "UPDATE gift_cards SET principal = principal + ?, bonus = bonus + ? WHERE code = ?")
		     : mbr_stmt(db, "UPDATE members SET sv_principal = sv_principal + ?, sv_bonus = sv_bonus + ? WHERE id = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, e->principal);
	sqlite3_bind_int64(st, 2, e->bonus);
	if (a->gift)
		sqlite3_bind_text(st, 3, a->gift, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 3, a->member);
	return mbr_stmt_done(db, st);
}

int mbr_sv_topup(struct mbr_db *db, const struct mbr_sv_account *a, int64_t amount, const char *method,
		 const char *store, struct mbr_sv *added)
{
	struct mbr_rules_set rs;
	struct mbr_sv_entry e;
	char who[64], detail[96], am[MBR_MONEY_BUFSZ], bm[MBR_MONEY_BUFSZ];
	int64_t now = mbr_now();
	int rc;

	if (amount <= 0)
		return mbr_db_fail(db, MBR_EINVAL, "a top-up must be a positive amount");
	if ((rc = known_store(db, store)) < 0)
		return rc;
	if (!method || !*method || !strcmp(method, "points") || !strcmp(method, "stored_value") ||
	    !mbr_payment_method_valid(method))
		return mbr_db_fail(db, MBR_EINVAL, "a top-up is paid with cash, card, wechat, alipay or other");
	if ((rc = mbr_sv_usable(db, a, now)) < 0)
		return rc;
	memset(&e, 0, sizeof(e));
	e.kind = "topup";
	e.principal = amount;
	e.method = method;
	e.store = store;
	e.ts = now;
	if (!a->gift) {		/* gift cards are loaded at face value: no bonus */
		if ((rc = mbr_rules_set_load(db, &rs)) < 0)
			return rc;
		e.bonus = mbr_rules_topup_bonus(mbr_rules_at(&rs, mbr_local_day(now)), amount, mbr_local_day(now));
		mbr_rules_set_free(&rs);
	}
	if ((rc = sv_post(db, a, &e, NULL)) < 0)
		return rc;
	if (added) {
		added->principal = e.principal;
		added->bonus = e.bonus;
	}
	snprintf(detail, sizeof(detail), "%s paid by %s, bonus %s", mbr_money_format(amount, db->exp, am), method,
		 mbr_money_format(e.bonus, db->exp, bm));
	return mbr_audit(db, "sv.topup", account_name(db, a, who, sizeof(who)), detail);
}

int mbr_sv_spend(struct mbr_db *db, const struct mbr_sv_account *a, int64_t amount, int64_t sale, const char *store,
		 int64_t ts, const char *ref, struct mbr_sv *used)
{
	struct mbr_sv bal;
	struct mbr_sv_entry e;
	int rc;

	if (amount <= 0)
		return mbr_db_fail(db, MBR_EINVAL, "a stored-value payment must be positive");
	if ((rc = mbr_sv_usable(db, a, ts)) < 0 || (rc = mbr_sv_balance(db, a, &bal)) < 0)
		return rc;
	if (bal.principal + bal.bonus < amount) {
		char b1[MBR_MONEY_BUFSZ], b2[MBR_MONEY_BUFSZ], who[64];
		return mbr_db_fail(db, MBR_EINVAL, "%s has %s of stored value, not %s", account_name(db, a, who, sizeof(who)),
				   mbr_money_format(bal.principal + bal.bonus, db->exp, b1),
				   mbr_money_format(amount, db->exp, b2));
	}
	memset(&e, 0, sizeof(e));
	e.kind = "spend";
	/* pro rata: principal part rounded down, the bonus part takes the rest */
	e.principal = -(int64_t)((__int128)amount * bal.principal / (bal.principal + bal.bonus));
	e.bonus = -(amount + e.principal);
	e.sale = sale;
	e.store = store;
	e.ts = ts;
	e.ref = ref;
	if ((rc = sv_post(db, a, &e, NULL)) < 0)
		return rc;
	if (used) {
		used->principal = -e.principal;
		used->bonus = -e.bonus;
	}
	return 0;
}

int mbr_sv_credit(struct mbr_db *db, const struct mbr_sv_account *a, const struct mbr_sv *amount, int64_t sale,
		  const char *store, int64_t ts, const char *ref)
{
	struct mbr_sv_entry e;

	if (amount->principal < 0 || amount->bonus < 0 || amount->principal + amount->bonus <= 0)
		return mbr_db_fail(db, MBR_EINVAL, "a stored-value credit must be positive");
	memset(&e, 0, sizeof(e));
	e.kind = "credit";
	e.principal = amount->principal;
	e.bonus = amount->bonus;
	e.sale = sale;
	e.store = store;
	e.ts = ts;
	e.ref = ref;
	e.reason = "goods returned";
	return sv_post(db, a, &e, NULL);
}

int mbr_sv_adjust(struct mbr_db *db, const struct mbr_sv_account *a, int64_t principal, int64_t bonus,
		  const char *reason)
{
	struct mbr_sv bal;
	struct mbr_sv_entry e;
	char who[64], detail[128], am[MBR_MONEY_BUFSZ], bm[MBR_MONEY_BUFSZ];
	int rc;

	if (!reason || !*reason)
		return mbr_db_fail(db, MBR_EINVAL, "an adjustment needs a reason");
	if (principal == 0 && bonus == 0)
		return mbr_db_fail(db, MBR_EINVAL, "an adjustment of nothing changes nothing");
	if ((rc = mbr_sv_balance(db, a, &bal)) < 0)
		return rc;
	if (bal.principal + principal < 0 || bal.bonus + bonus < 0)
		return mbr_db_fail(db, MBR_EINVAL, "an adjustment may not take a balance below zero");
	memset(&e, 0, sizeof(e));
	e.kind = "adjust";
	e.principal = principal;
	e.bonus = bonus;
	e.reason = reason;
	if ((rc = sv_post(db, a, &e, NULL)) < 0)
		return rc;
	snprintf(detail, sizeof(detail), "principal %s%s, bonus %s%s", principal >= 0 ? "+" : "",
		 mbr_money_format(principal, db->exp, am), bonus >= 0 ? "+" : "", mbr_money_format(bonus, db->exp, bm));
	return mbr_audit(db, "sv.adjust", account_name(db, a, who, sizeof(who)), detail);
}

int mbr_sv_freeze(struct mbr_db *db, const struct mbr_sv_account *a, int frozen)
{
	sqlite3_stmt *st;
	char who[64];
	int rc;

	st = a->gift ? mbr_stmt(db, "UPDATE gift_cards SET state = ? WHERE code = ? AND state != 'void'")
		     : mbr_stmt(db, "UPDATE members SET sv_frozen = ? WHERE id = ?");
	if (!st)
		return MBR_EDB;
	if (a->gift) {
		sqlite3_bind_text(st, 1, frozen ? "frozen" : "active", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, a->gift, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_int(st, 1, frozen != 0);
		sqlite3_bind_int64(st, 2, a->member);
	}
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	if (sqlite3_changes(db->sql) != 1)
		return mbr_db_fail(db, MBR_ENOTFOUND, "no such account");
	return mbr_audit(db, frozen ? "sv.freeze" : "sv.unfreeze", account_name(db, a, who, sizeof(who)), "");
}

/* ------------------------------------------------------------- replay */

/*
 * Replay an account's ledger first in, first out: each top-up (and credit,
 * and positive adjustment) is a lot with its store, principal and bonus
 * left; spends, payouts, forfeits and negative adjustments draw principal
 * and bonus from the oldest lots (payouts and forfeits from the top-up
 * they name).  on_draw, if given, hears every draw: (lot store, drawing
 * entry's store, day, principal, bonus, kind of the drawing entry).
 * The entries of undone sales and the entries that cancel them are passed
 * over: together they change nothing, and the undone draw never happened.
 */
struct sv_lot {
	int64_t id;		/* the ledger entry that made it */
	int64_t principal, bonus;
	char store[32];
};

struct sv_replay {
	struct sv_lot *lot;
	size_t n, alloc, first;	/* lots before first are empty */
};

typedef void (*sv_draw_fn)(const char *from, const char *at, int64_t day, int64_t principal, int64_t bonus,
			   const char *kind, void *ctx);

static void draw(struct sv_replay *r, int64_t topup, int64_t principal, int64_t bonus, const char *at, int64_t day,
		 const char *kind, sv_draw_fn fn, void *ctx)
{
	size_t i;

	for (i = r->first; i < r->n && (principal > 0 || bonus > 0); i++) {
		struct sv_lot *l = &r->lot[i];
		int64_t p, b;

		if (topup && l->id != topup)
			continue;
		p = principal < l->principal ? principal : l->principal;
		b = bonus < l->bonus ? bonus : l->bonus;
		l->principal -= p;
		l->bonus -= b;
		principal -= p;
		bonus -= b;
		if (fn && (p || b))
			fn(l->store, at, day, p, b, kind, ctx);
	}
	while (r->first < r->n && !r->lot[r->first].principal && !r->lot[r->first].bonus)
		r->first++;
}

static int sv_replay(struct mbr_db *db, const struct mbr_sv_account *a, struct sv_replay *r, sv_draw_fn fn, void *ctx)
{
	sqlite3_stmt *st = a->gift
		? mbr_stmt(db, "SELECT id, kind, principal, bonus, COALESCE(topup, 0), COALESCE(store, ''), ts"
			       " FROM sv_ledger WHERE gift = ? AND NOT " MBR_UNDONE_SALE_SQL("sale") " ORDER BY id")
		: mbr_stmt(db, "SELECT id, kind, principal, bonus, COALESCE(topup, 0), COALESCE(store, ''), ts"
			       " FROM sv_ledger WHERE member = ? AND NOT " MBR_UNDONE_SALE_SQL("sale") " ORDER BY id");
	int rc;

	memset(r, 0, sizeof(*r));
	if (!st)
		return MBR_EDB;
	if (a->gift)
		sqlite3_bind_text(st, 1, a->gift, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, a->member);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t p = sqlite3_column_int64(st, 2), b = sqlite3_column_int64(st, 3);
		const char *kind = text(st, 1), *store = text(st, 5);

		/* an entry adds a lot of what it puts in, and draws what it
		 * takes out (an adjustment may do both: -1.00 principal, +0.50 bonus) */
		if (p > 0 || b > 0) {
			struct sv_lot *l;

			if (r->n == r->alloc) {
				r->alloc = r->alloc ? 2 * r->alloc : 16;
				r->lot = realloc(r->lot, r->alloc * sizeof(*r->lot));
				if (!r->lot)
					abort();
			}
			l = &r->lot[r->n++];
			l->id = sqlite3_column_int64(st, 0);
			l->principal = p > 0 ? p : 0;
			l->bonus = b > 0 ? b : 0;
			mbr_copy(l->store, sizeof(l->store), store);
		}
		if (p < 0 || b < 0) {
			draw(r, sqlite3_column_int64(st, 4), -p > 0 ? -p : 0, -b > 0 ? -b : 0, store,
			     mbr_local_day(sqlite3_column_int64(st, 6)), kind, fn, ctx);
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "stored value");
}

int mbr_sv_payout(struct mbr_db *db, const struct mbr_sv_account *a, int64_t topup, const char *method,
		  struct mbr_sv *paid)
{
	struct sv_replay r;
	struct mbr_sv_entry e;
	char who[64], detail[128], am[MBR_MONEY_BUFSZ], bm[MBR_MONEY_BUFSZ];
	size_t i;
	int rc, found = 0;

	if (!method || !*method || !strcmp(method, "points") || !strcmp(method, "stored_value") ||
	    !mbr_payment_method_valid(method))
		return mbr_db_fail(db, MBR_EINVAL, "a payout is paid with cash, card, wechat, alipay or other");
	if (a->gift)	/* a gift card was given, not paid in by its holder */
		return mbr_db_fail(db, MBR_EINVAL, "a gift card is spent, not paid out");
	if ((rc = mbr_sv_usable(db, a, 0)) < 0)	/* a frozen account is unfrozen first */
		return rc;
	if ((rc = sv_replay(db, a, &r, NULL, NULL)) < 0)
		return rc;
	paid->principal = paid->bonus = 0;
	for (i = 0; i < r.n && rc == 0; i++) {
		const struct sv_lot *l = &r.lot[i];

		if (topup && l->id != topup)
			continue;
		found = 1;
		memset(&e, 0, sizeof(e));
		e.topup = l->id;
		if (l->principal) {
			e.kind = "payout";
			e.principal = -l->principal;
			e.method = method;
			e.reason = "unspent principal paid back";
			rc = sv_post(db, a, &e, NULL);
			paid->principal += l->principal;
		}
		if (rc == 0 && l->bonus) {
			e.kind = "forfeit";
			e.principal = 0;
			e.bonus = -l->bonus;
			e.method = "";
			e.reason = "bonus forfeited with its top-up";
			rc = sv_post(db, a, &e, NULL);
			paid->bonus += l->bonus;
		}
	}
	free(r.lot);
	if (rc < 0)
		return rc;
	if (topup && !found)
		return mbr_db_fail(db, MBR_ENOTFOUND, "no unspent top-up #%lld on this account", (long long)topup);
	if (!paid->principal && !paid->bonus)
		return mbr_db_fail(db, MBR_EINVAL, "nothing left to pay back");
	snprintf(detail, sizeof(detail), "principal %s paid back by %s, bonus %s forfeited",
		 mbr_money_format(paid->principal, db->exp, am), method, mbr_money_format(paid->bonus, db->exp, bm));
	return mbr_audit(db, "sv.payout", account_name(db, a, who, sizeof(who)), detail);
}

int mbr_sv_history(struct mbr_db *db, const struct mbr_sv_account *a, mbr_sv_fn fn, void *ctx)
{
	sqlite3_stmt *st = a->gift
		? mbr_stmt(db, "SELECT id, ts, kind, principal, bonus, method, COALESCE(topup, 0), ref, reason,"
			       " COALESCE(store, ''), SUM(principal) OVER w, SUM(bonus) OVER w FROM sv_ledger"
			       " WHERE gift = ? WINDOW w AS (ORDER BY id) ORDER BY id")
		: mbr_stmt(db, "SELECT id, ts, kind, principal, bonus, method, COALESCE(topup, 0), ref, reason,"
			       " COALESCE(store, ''), SUM(principal) OVER w, SUM(bonus) OVER w FROM sv_ledger"
			       " WHERE member = ? WINDOW w AS (ORDER BY id) ORDER BY id");
	struct mbr_sv_line l;
	int rc;

	if (!st)
		return MBR_EDB;
	if (a->gift)
		sqlite3_bind_text(st, 1, a->gift, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, a->member);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;

		l.id = sqlite3_column_int64(st, 0);
		l.ts = sqlite3_column_int64(st, 1);
		l.kind = text(st, 2);
		l.principal = sqlite3_column_int64(st, 3);
		l.bonus = sqlite3_column_int64(st, 4);
		l.method = text(st, 5);
		l.topup = sqlite3_column_int64(st, 6);
		l.ref = text(st, 7);
		l.reason = text(st, 8);
		l.store = text(st, 9);
		l.balance_principal = sqlite3_column_int64(st, 10);
		l.balance_bonus = sqlite3_column_int64(st, 11);
		if ((r = fn(&l, ctx)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "stored value");
}

/* ---------------------------------------------------------- gift cards */

int mbr_gift_create(struct mbr_db *db, long n, int64_t amount, int64_t expires_at, int64_t batch, mbr_code_fn fn,
		    void *ctx)
{
	struct mbr_sv_account a;
	struct mbr_sv_entry e;
	char code[MBR_CODE_SZ];
	sqlite3_stmt *st;
	long i;
	int rc;

	if (amount <= 0)
		return mbr_db_fail(db, MBR_EINVAL, "a gift card needs a positive value");
	for (i = 0; i < n; i++) {
		mbr_coupon_code_new(code);
		st = mbr_stmt(db, "INSERT INTO gift_cards(code, expires_at, created_at, batch) VALUES (?, ?, ?, ?)");
		if (!st)
			return MBR_EDB;
		sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
		if (expires_at)
			sqlite3_bind_int64(st, 2, expires_at);
		sqlite3_bind_int64(st, 3, mbr_now());
		if (batch)
			sqlite3_bind_int64(st, 4, batch);
		rc = mbr_stmt_done(db, st);
		if (rc == MBR_EEXIST) {
			i--;
			continue;
		}
		if (rc < 0)
			return rc;
		memset(&a, 0, sizeof(a));
		a.gift = code;
		memset(&e, 0, sizeof(e));
		e.kind = "topup";
		e.principal = amount;
		e.method = "other";
		e.reason = "gift card loaded";
		if ((rc = sv_post(db, &a, &e, NULL)) < 0)
			return rc;
		if (fn && (rc = fn(code, ctx)) != 0)
			return rc;
	}
	return 0;
}

int mbr_gift_get(struct mbr_db *db, const char *codetext, struct mbr_gift *g)
{
	sqlite3_stmt *st;
	char code[MBR_CODE_SZ];
	int rc;

	if (mbr_coupon_code_normalize(codetext, code) < 0)
		return mbr_db_fail(db, MBR_ENOTFOUND, "'%s' is not a gift card code", codetext);
	st = mbr_stmt(db, "SELECT code, principal, bonus, state, COALESCE(expires_at, 0) FROM gift_cards WHERE code = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		mbr_copy(g->code, sizeof(g->code), text(st, 0));
		g->balance.principal = sqlite3_column_int64(st, 1);
		g->balance.bonus = sqlite3_column_int64(st, 2);
		mbr_copy(g->state, sizeof(g->state), text(st, 3));
		g->expires_at = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return mbr_db_sqlerr(db, "gift cards");
	if (strlen(code) == 12 && !mbr_coupon_code_ok(code))
		return mbr_db_fail(db, MBR_ENOTFOUND, "mistyped: %s fails its check character", code);
	return mbr_db_fail(db, MBR_ENOTFOUND, "unknown: no gift card %s", code);
}

/* --------------------------------------------------------- count cards */

int mbr_count_sell(struct mbr_db *db, const struct mbr_member *m, const char *sku, int64_t uses, int64_t price,
		   int64_t expires_at, const char *store, const char *method, char uid[40])
{
	sqlite3_stmt *st;
	int64_t id;
	char detail[128], am[MBR_MONEY_BUFSZ];
	int rc;

	if (uses <= 0 || uses > 100000)
		return mbr_db_fail(db, MBR_EINVAL, "a count card has 1-100000 uses");
	if (price < 0)
		return mbr_db_fail(db, MBR_EINVAL, "a count card's price may not be negative");
	if (strcmp(m->status, "active"))
		return mbr_db_fail(db, MBR_EINVAL, "member %s is %s", m->uid, m->status);
	if ((rc = known_store(db, store)) < 0)
		return rc;
	if (!method || !mbr_payment_method_valid(method) || !strcmp(method, "points"))
		return mbr_db_fail(db, MBR_EINVAL, "a count card is paid with cash, card, wechat, alipay, stored_value or other");
	if ((rc = mbr_db_next_uid(db, "count", uid)) < 0)
		return rc;
	if (!strcmp(method, "stored_value")) {
		struct mbr_sv_account a = { m->id, NULL };
		char ref[64];

		snprintf(ref, sizeof(ref), "count card %s", uid);	/* its refund finds the spend by this */
		if (price > 0 && (rc = mbr_sv_spend(db, &a, price, 0, store, 0, ref, NULL)) < 0)
			return rc;
	}
	st = mbr_stmt(db, "INSERT INTO count_cards(uid, member, sku, uses, uses_left, price, expires_at, store, created_at)"
			  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, m->id);
	sqlite3_bind_text(st, 3, sku, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, uses);
	sqlite3_bind_int64(st, 5, uses);
	sqlite3_bind_int64(st, 6, price);
	if (expires_at)
		sqlite3_bind_int64(st, 7, expires_at);
	sqlite3_bind_text(st, 8, store ? store : db->store, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, mbr_now());
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	id = sqlite3_last_insert_rowid(db->sql);
	st = mbr_stmt(db, "INSERT INTO count_card_ledger(card, ts, kind, uses, amount, store, operator)"
			  " VALUES (?, ?, 'sell', ?, ?, ?, ?)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, mbr_now());
	sqlite3_bind_int64(st, 3, uses);
	sqlite3_bind_int64(st, 4, price);
	sqlite3_bind_text(st, 5, store ? store : db->store, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, db->operator, -1, SQLITE_STATIC);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	snprintf(detail, sizeof(detail), "%lld uses of %s for %s by %s", (long long)uses, sku,
		 mbr_money_format(price, db->exp, am), method);
	return mbr_audit(db, "count.sell", uid, detail);
}

int mbr_count_available(struct mbr_db *db, int64_t member, const char *sku, int64_t at, int64_t *uses)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT COALESCE(SUM(uses_left), 0) FROM count_cards WHERE member = ? AND sku = ?"
					" AND state = 'active' AND uses_left > 0 AND (expires_at IS NULL OR expires_at > ?)");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, member);
	sqlite3_bind_text(st, 2, sku, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, at);
	rc = sqlite3_step(st);
	*uses = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : mbr_db_sqlerr(db, "count cards");
}

/* Move a card's uses_left by delta with a 'use' entry naming sale (- used, + given back). */
static int count_move(struct mbr_db *db, int64_t card, int64_t delta, int64_t sale, const char *store, int64_t at)
{
	sqlite3_stmt *st = mbr_stmt(db, "UPDATE count_cards SET uses_left = uses_left + ? WHERE id = ?");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, delta);
	sqlite3_bind_int64(st, 2, card);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	st = mbr_stmt(db, "INSERT INTO count_card_ledger(card, ts, kind, uses, sale, store, operator)"
			  " VALUES (?, ?, 'use', ?, ?, ?, ?)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, card);
	sqlite3_bind_int64(st, 2, at);
	sqlite3_bind_int64(st, 3, delta);
	if (sale)
		sqlite3_bind_int64(st, 4, sale);
	sqlite3_bind_text(st, 5, store ? store : db->store, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, db->operator, -1, SQLITE_STATIC);
	return mbr_stmt_done(db, st);
}

/* Use n uses of the member's cards for sku, those expiring first first. */
int mbr_count_use(struct mbr_db *db, int64_t member, const char *sku, int64_t n, int64_t sale, const char *store,
		  int64_t at)
{
	while (n > 0) {
		sqlite3_stmt *st = mbr_stmt(db, "SELECT id, uses_left FROM count_cards WHERE member = ? AND sku = ?"
						" AND state = 'active' AND uses_left > 0 AND (expires_at IS NULL OR expires_at > ?)"
						" ORDER BY expires_at IS NULL, expires_at, id LIMIT 1");
		int64_t id, left, take;
		int rc;

		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, member);
		sqlite3_bind_text(st, 2, sku, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, at);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(st);
			return rc == SQLITE_DONE ? mbr_db_fail(db, MBR_EINVAL, "not enough count-card uses of %s", sku)
						 : mbr_db_sqlerr(db, "count cards");
		}
		id = sqlite3_column_int64(st, 0);
		left = sqlite3_column_int64(st, 1);
		sqlite3_reset(st);
		take = n < left ? n : left;
		if ((rc = count_move(db, id, -take, sale, store, at)) < 0)
			return rc;
		n -= take;
	}
	return 0;
}

/*
 * A card bought with stored value is refunded to stored value, principal
 * and bonus in the proportion they paid for it (principal rounded down),
 * so a refund never turns bonus into cash.  Returns 1 when it was, 0 when
 * the card was paid otherwise.
 */
static int count_refund_to_sv(struct mbr_db *db, const char *uid, int64_t refund)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT member, -principal, -bonus FROM sv_ledger"
					" WHERE kind = 'spend' AND member IS NOT NULL AND ref = 'count card ' || ?");
	struct mbr_sv_account a = { 0, NULL };
	struct mbr_sv back;
	int64_t p, b;
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	a.member = sqlite3_column_int64(st, 0);
	p = sqlite3_column_int64(st, 1);
	b = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return mbr_db_sqlerr(db, "stored value");
	back.principal = p + b > 0 ? (int64_t)((__int128)refund * p / (p + b)) : refund;
	back.bonus = refund - back.principal;
	if (refund && (rc = mbr_sv_credit(db, &a, &back, 0, db->store, 0, "count card refund")) < 0)
		return rc;
	return 1;
}

int mbr_count_refund(struct mbr_db *db, const char *uid, const char **paid_by, int64_t *refund)
{
	const char *method = *paid_by;
	sqlite3_stmt *st;
	int64_t id, uses, left, price, expires;
	char detail[96], am[MBR_MONEY_BUFSZ];
	int rc;

	/* stored_value: only what count_refund_to_sv would do anyway */
	if (!method || !mbr_payment_method_valid(method) || !strcmp(method, "points"))
		return mbr_db_fail(db, MBR_EINVAL, "a refund is paid with cash, card, wechat, alipay or other");
	st = mbr_stmt(db, "SELECT id, uses, uses_left, price, state, COALESCE(expires_at, 0) FROM count_cards"
			  " WHERE uid = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? mbr_db_fail(db, MBR_ENOTFOUND, "no count card %s", uid)
					 : mbr_db_sqlerr(db, "count cards");
	}
	id = sqlite3_column_int64(st, 0);
	uses = sqlite3_column_int64(st, 1);
	left = sqlite3_column_int64(st, 2);
	price = sqlite3_column_int64(st, 3);
	expires = sqlite3_column_int64(st, 5);
	rc = strcmp(text(st, 4), "active");
	sqlite3_reset(st);
	if (rc)
		return mbr_db_fail(db, MBR_EINVAL, "count card %s was already refunded", uid);
	if (left == 0)
		return mbr_db_fail(db, MBR_EINVAL, "count card %s has no uses left", uid);
	if (expires && expires <= mbr_now()) {
		char d[MBR_TIME_BUFSZ];

		mbr_date_format(expires - 1, d);	/* valid to the end of its last day */
		return mbr_db_fail(db, MBR_EINVAL, "count card %s expired on %s: its uses lapsed", uid, d);
	}
	/* at the price paid per use, rounded down: never more than was paid */
	*refund = (int64_t)((__int128)price * left / uses);
	st = mbr_stmt(db, "UPDATE count_cards SET uses_left = 0, state = 'refunded' WHERE id = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	st = mbr_stmt(db, "INSERT INTO count_card_ledger(card, ts, kind, uses, amount, store, operator)"
			  " VALUES (?, ?, 'refund', ?, ?, ?, ?)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, mbr_now());
	sqlite3_bind_int64(st, 3, -left);
	sqlite3_bind_int64(st, 4, -*refund);
	sqlite3_bind_text(st, 5, db->store, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, db->operator, -1, SQLITE_STATIC);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	if ((rc = count_refund_to_sv(db, uid, *refund)) < 0)
		return rc;
	if (rc == 0 && !strcmp(method, "stored_value"))
		return mbr_db_fail(db, MBR_EINVAL, "count card %s was not bought with stored value; its refund is paid with"
				   " cash, card, wechat, alipay or other", uid);
	if (rc == 1)
		*paid_by = method = "stored_value";
	snprintf(detail, sizeof(detail), "%lld unused uses, %s paid back by %s", (long long)left,
		 mbr_money_format(*refund, db->exp, am), method);
	return mbr_audit(db, "count.refund", uid, detail);
}

/*
 * Uses of count cards for sku that sale (a sale, not a return) was paid
 * with and that its returns have not given back yet.  MBR_EINVAL when one
 * of those cards was refunded since: it cannot take a use back.
 */
int mbr_count_returnable(struct mbr_db *db, int64_t sale, const char *sku, int64_t *uses)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT c.uid, c.state, SUM(-l.uses) AS open FROM count_card_ledger l"
					" JOIN count_cards c ON c.id = l.card WHERE c.sku = ?2 AND l.kind = 'use'"
					" AND (l.sale = ?1 OR l.sale IN (SELECT id FROM sales WHERE original = ?1))"
					" GROUP BY c.id HAVING open > 0");
	int rc;

	if (!st)
		return MBR_EDB;
	*uses = 0;
	sqlite3_bind_int64(st, 1, sale);
	sqlite3_bind_text(st, 2, sku, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (strcmp(text(st, 1), "active")) {
			rc = mbr_db_fail(db, MBR_EINVAL, "count card %s, whose uses paid for %s, was refunded since",
					 text(st, 0), sku);
			sqlite3_reset(st);
			return rc;
		}
		*uses += sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "count cards");
}

/*
 * Give n uses of sku back to the cards sale was paid with, the card used
 * last first, each at most what it gave; the entries name the return.
 * A card refunded since cannot take a use back: MBR_EINVAL.
 */
int mbr_count_give_back(struct mbr_db *db, int64_t sale, const char *sku, int64_t n, int64_t ret, const char *store,
			int64_t at)
{
	while (n > 0) {
		sqlite3_stmt *st = mbr_stmt(db,
			"SELECT c.id, c.uid, c.state, SUM(-l.uses) AS open FROM count_card_ledger l"
			" JOIN count_cards c ON c.id = l.card WHERE c.sku = ?2 AND l.kind = 'use'"
			" AND (l.sale = ?1 OR l.sale IN (SELECT id FROM sales WHERE original = ?1))"
			" GROUP BY c.id HAVING open > 0 ORDER BY MAX(l.id) DESC LIMIT 1");
		int64_t id, open, give;
		char uid[40];
		int rc, refunded;

		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, sale);
		sqlite3_bind_text(st, 2, sku, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(st);
			return rc == SQLITE_DONE ? mbr_db_fail(db, MBR_EINVAL, "no count-card uses of %s to give back", sku)
						 : mbr_db_sqlerr(db, "count cards");
		}
		id = sqlite3_column_int64(st, 0);
		mbr_copy(uid, sizeof(uid), text(st, 1));
		refunded = strcmp(text(st, 2), "active") != 0;
		open = sqlite3_column_int64(st, 3);
		sqlite3_reset(st);
		if (refunded)
			return mbr_db_fail(db, MBR_EINVAL, "count card %s, whose uses paid for %s, was refunded since", uid,
					   sku);
		give = n < open ? n : open;
		if ((rc = count_move(db, id, give, ret, store, at)) < 0)
			return rc;
		n -= give;
	}
	return 0;
}

/* -------------------------------------------------------- undo of sales */

static int prepaid_undo_blocked(struct mbr_db *db, int64_t batch)
{
	/* later entries of an account the batch's sales touched, not theirs
	 * nor those of batches undone since */
	sqlite3_stmt *st = mbr_stmt(db,
		"WITH b AS (SELECT id FROM sales WHERE batch = ?1),"
		" e AS (SELECT member, gift, MIN(id) AS first FROM sv_ledger WHERE sale IN b GROUP BY member, gift)"
		" SELECT COALESCE(m.uid, 'gift card ' || l.gift), l.kind, l.id FROM sv_ledger l JOIN e"
		"   ON l.member IS e.member AND l.gift IS e.gift AND l.id > e.first"
		" LEFT JOIN members m ON m.id = l.member"
		" WHERE (l.sale IS NULL OR l.sale NOT IN b) AND NOT " MBR_UNDONE_SALE_SQL("l.sale") " LIMIT 1");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, batch);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = mbr_db_fail(db, MBR_EINVAL, "batch %lld cannot be undone: %s has stored-value activity since (%s,"
				 " entry %lld)", (long long)batch, text(st, 0), text(st, 1),
				 (long long)sqlite3_column_int64(st, 2));
		sqlite3_reset(st);
		return rc;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return mbr_db_sqlerr(db, "stored value");
	st = mbr_stmt(db, "SELECT c.uid FROM count_cards c JOIN count_card_ledger l ON l.card = c.id"
			  " WHERE l.sale IN (SELECT id FROM sales WHERE batch = ?) AND c.state != 'active' LIMIT 1");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, batch);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = mbr_db_fail(db, MBR_EINVAL, "batch %lld cannot be undone: count card %s was refunded since",
				 (long long)batch, text(st, 0));
		sqlite3_reset(st);
		return rc;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "count cards");
}

int mbr_prepaid_undo_batch(struct mbr_db *db, int64_t batch)
{
	int64_t before = INT64_MAX;
	char ref[48];
	int rc;

	if ((rc = prepaid_undo_blocked(db, batch)) < 0)
		return rc;
	snprintf(ref, sizeof(ref), "undo of batch %lld", (long long)batch);
	for (;;) {	/* one at a time, newest first: the loop writes the table it reads */
		sqlite3_stmt *st = mbr_stmt(db, "SELECT id, member, gift, principal, bonus, store, sale FROM sv_ledger"
						" WHERE sale IN (SELECT id FROM sales WHERE batch = ?) AND id < ?"
						" ORDER BY id DESC LIMIT 1");
		struct mbr_sv_account a = { 0, NULL };
		struct mbr_sv_entry e;
		char gift[MBR_CODE_SZ], store[32];

		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, batch);
		sqlite3_bind_int64(st, 2, before);
		if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
			sqlite3_reset(st);
			if (rc != SQLITE_DONE)
				return mbr_db_sqlerr(db, "stored value");
			break;
		}
		memset(&e, 0, sizeof(e));
		before = sqlite3_column_int64(st, 0);
		a.member = sqlite3_column_int64(st, 1);
		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			mbr_copy(gift, sizeof(gift), text(st, 2));
			a.gift = gift;
		}
		e.kind = "adjust";
		e.principal = -sqlite3_column_int64(st, 3);
		e.bonus = -sqlite3_column_int64(st, 4);
		mbr_copy(store, sizeof(store), text(st, 5));
		e.store = store;
		e.sale = sqlite3_column_int64(st, 6);	/* so replays pass over both */
		e.ref = ref;
		e.reason = "undo of a sales batch";
		sqlite3_reset(st);
		if ((rc = sv_post(db, &a, &e, NULL)) < 0)
			return rc;
	}
	/* count-card uses back: a 'use' of +n, as the ledger's sign says */
	{
		sqlite3_stmt *st = mbr_stmt(db, "INSERT INTO count_card_ledger(card, ts, kind, uses, store, operator)"
						" SELECT card, ?2, 'use', -SUM(uses), MIN(store), ?3 FROM count_card_ledger"
						" WHERE kind = 'use' AND sale IN (SELECT id FROM sales WHERE batch = ?1)"
						" GROUP BY card HAVING SUM(uses) != 0");

		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, batch);
		sqlite3_bind_int64(st, 2, mbr_now());
		sqlite3_bind_text(st, 3, db->operator, -1, SQLITE_STATIC);
		if ((rc = mbr_stmt_done(db, st)) < 0)
			return rc;
		st = mbr_stmt(db, "UPDATE count_cards SET uses_left = uses_left - u.n"
				  " FROM (SELECT card, SUM(uses) AS n FROM count_card_ledger"
				  "       WHERE kind = 'use' AND sale IN (SELECT id FROM sales WHERE batch = ?)"
				  "       GROUP BY card) AS u WHERE count_cards.id = u.card");
		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, batch);
		if ((rc = mbr_stmt_done(db, st)) < 0)
			return rc;
	}
	return 0;
}

int mbr_count_each(struct mbr_db *db, int64_t member, mbr_count_fn fn, void *ctx)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT uid, sku, uses, uses_left, price, COALESCE(expires_at, 0), state, store"
					" FROM count_cards WHERE member = ? ORDER BY id");
	struct mbr_count_card c;
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, member);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;

		mbr_copy(c.uid, sizeof(c.uid), text(st, 0));
		mbr_copy(c.sku, sizeof(c.sku), text(st, 1));
		c.uses = sqlite3_column_int64(st, 2);
		c.uses_left = sqlite3_column_int64(st, 3);
		c.price = sqlite3_column_int64(st, 4);
		c.expires_at = sqlite3_column_int64(st, 5);
		mbr_copy(c.state, sizeof(c.state), text(st, 6));
		mbr_copy(c.store, sizeof(c.store), text(st, 7));
		if ((r = fn(&c, ctx)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "count cards");
}

/* ---------------------------------------------------------- settlement */

/*
 * Between stores: stored value paid in at one store and spent at another
 * (by replaying every account, first in first out), and points earned at
 * one and redeemed at another (by replaying every member's points ledger
 * the same way).  Only draws dated within [from_day, to_day] count.
 */
struct flow {
	char from[32], at[32];
	int64_t principal, bonus, points;
	int64_t uses, use_value;	/* count cards: uses, and at the price paid per use */
};

struct flows {
	struct flow *f;
	size_t n, alloc;
	int64_t from_day, to_day;
};

static struct flow *flow_get(struct flows *fl, const char *from, const char *at)
{
	size_t i;

	for (i = 0; i < fl->n; i++)
		if (!strcmp(fl->f[i].from, from) && !strcmp(fl->f[i].at, at))
			return &fl->f[i];
	if (fl->n == fl->alloc) {
		fl->alloc = fl->alloc ? 2 * fl->alloc : 16;
		fl->f = realloc(fl->f, fl->alloc * sizeof(*fl->f));
		if (!fl->f)
			abort();
	}
	memset(&fl->f[fl->n], 0, sizeof(fl->f[0]));
	mbr_copy(fl->f[fl->n].from, sizeof(fl->f[0].from), from);
	mbr_copy(fl->f[fl->n].at, sizeof(fl->f[0].at), at);
	return &fl->f[fl->n++];
}

static void sv_flow(const char *from, const char *at, int64_t day, int64_t principal, int64_t bonus,
		    const char *kind, void *ctx)
{
	struct flows *fl = ctx;
	struct flow *f;

	if (strcmp(kind, "spend") || !strcmp(from, at) || day < fl->from_day || day > fl->to_day)
		return;
	f = flow_get(fl, from, at);
	f->principal += principal;
	f->bonus += bonus;
}

/*
 * Count cards sold at one store and used at another: the uses, net of
 * uses given back by returns, and their value at the price paid per use,
 * floor(price x uses / card's uses) per entry (toward zero for uses given
 * back), as a card's refund would value them.
 */
static int count_flows(struct mbr_db *db, struct flows *fl)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT COALESCE(c.store, ''), COALESCE(l.store, ''), l.ts, -l.uses, c.price, c.uses"
					" FROM count_card_ledger l JOIN count_cards c ON c.id = l.card"
					" WHERE l.kind = 'use' AND COALESCE(l.store, '') != COALESCE(c.store, '')");
	int rc;

	if (!st)
		return MBR_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t day = mbr_local_day(sqlite3_column_int64(st, 2)), n = sqlite3_column_int64(st, 3);
		int64_t price = sqlite3_column_int64(st, 4), uses = sqlite3_column_int64(st, 5);
		struct flow *f;

		if (day < fl->from_day || day > fl->to_day || uses <= 0)
			continue;
		f = flow_get(fl, text(st, 0), text(st, 1));
		f->uses += n;
		f->use_value += (int64_t)((__int128)price * n / uses);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "count cards");
}

static int points_flows(struct mbr_db *db, struct flows *fl)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT member, kind, points, COALESCE(store, ''), ts FROM points_ledger"
					" WHERE NOT " MBR_UNDONE_SALE_SQL("sale") " ORDER BY member, id");
	struct pq {
		char store[32];
		int64_t left;
	} *q = NULL;
	size_t n = 0, alloc = 0, first = 0;
	int64_t cur = -1;
	int rc;

	if (!st)
		return MBR_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t member = sqlite3_column_int64(st, 0), pts = sqlite3_column_int64(st, 2);
		const char *kind = text(st, 1), *store = text(st, 3);
		int64_t day = mbr_local_day(sqlite3_column_int64(st, 4));

		if (member != cur) {
			cur = member;
			n = first = 0;
		}
		if (pts > 0) {
			if (n == alloc) {
				alloc = alloc ? 2 * alloc : 16;
				q = realloc(q, alloc * sizeof(*q));
				if (!q)
					abort();
			}
			mbr_copy(q[n].store, sizeof(q[n].store), store);
			q[n++].left = pts;
			continue;
		}
		pts = -pts;
		while (pts > 0 && first < n) {
			int64_t take = pts < q[first].left ? pts : q[first].left;

			if (!strcmp(kind, "redeem") && strcmp(q[first].store, store) && day >= fl->from_day &&
			    day <= fl->to_day)
				flow_get(fl, q[first].store, store)->points += take;
			q[first].left -= take;
			pts -= take;
			if (!q[first].left)
				first++;
		}
	}
	sqlite3_reset(st);
	free(q);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "points");
}

static int cmp_flow(const void *a, const void *b)
{
	const struct flow *x = a, *y = b;
	int c = strcmp(x->from, y->from);

	return c ? c : strcmp(x->at, y->at);
}

const struct mbr_col mbr_settlement_cols[MBR_SETTLEMENT_NCOLS] = {
	{ "paid_in_at", NULL, 0 }, { "used_at", NULL, 0 },
	{ "stored_value", NULL, MBR_COL_NUMBER }, { "principal", NULL, MBR_COL_NUMBER },
	{ "bonus", NULL, MBR_COL_NUMBER }, { "points", NULL, MBR_COL_NUMBER },
	{ "count_uses", NULL, MBR_COL_NUMBER }, { "count_value", NULL, MBR_COL_NUMBER },
};

int mbr_report_settlement(struct mbr_db *db, int64_t from_day, int64_t to_day, mbr_report_fn fn, void *ctx)
{
	struct flows fl;
	sqlite3_stmt *st;
	char b[6][MBR_MONEY_BUFSZ];
	const char *v[MBR_SETTLEMENT_NCOLS];
	size_t i;
	int rc = 0;

	memset(&fl, 0, sizeof(fl));
	fl.from_day = from_day;
	fl.to_day = to_day;
	/* every account that ever spent stored value */
	st = mbr_stmt(db, "SELECT DISTINCT COALESCE(member, 0), COALESCE(gift, '') FROM sv_ledger WHERE kind = 'spend'");
	if (!st)
		return MBR_EDB;
	{
		struct acct { int64_t member; char gift[MBR_CODE_SZ]; } *ac = NULL;
		size_t na = 0, aa = 0;

		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (na == aa) {
				aa = aa ? 2 * aa : 64;
				ac = realloc(ac, aa * sizeof(*ac));
				if (!ac)
					abort();
			}
			ac[na].member = sqlite3_column_int64(st, 0);
			mbr_copy(ac[na].gift, sizeof(ac[na].gift), text(st, 1));
			na++;
		}
		sqlite3_reset(st);
		rc = rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "stored value");
		for (i = 0; i < na && rc == 0; i++) {
			struct mbr_sv_account a = { ac[i].member, ac[i].gift[0] ? ac[i].gift : NULL };
			struct sv_replay r;

			rc = sv_replay(db, &a, &r, sv_flow, &fl);
			free(r.lot);
		}
		free(ac);
	}
	if (rc == 0)
		rc = points_flows(db, &fl);
	if (rc == 0)
		rc = count_flows(db, &fl);
	if (rc < 0) {
		free(fl.f);
		return rc;
	}
	if (fl.n)	/* qsort of NULL, even of 0 items, is undefined */
		qsort(fl.f, fl.n, sizeof(fl.f[0]), cmp_flow);
	for (i = 0; i < fl.n && rc == 0; i++) {
		v[0] = fl.f[i].from;
		v[1] = fl.f[i].at;
		v[2] = mbr_money_format(fl.f[i].principal + fl.f[i].bonus, db->exp, b[0]);
		v[3] = mbr_money_format(fl.f[i].principal, db->exp, b[1]);
		v[4] = mbr_money_format(fl.f[i].bonus, db->exp, b[2]);
		snprintf(b[3], sizeof(b[3]), "%lld", (long long)fl.f[i].points);
		v[5] = b[3];
		snprintf(b[4], sizeof(b[4]), "%lld", (long long)fl.f[i].uses);
		v[6] = b[4];
		v[7] = mbr_money_format(fl.f[i].use_value, db->exp, b[5]);
		rc = fn(v, ctx);
	}
	free(fl.f);
	return rc;
}

const struct mbr_col mbr_liability_cols[MBR_LIABILITY_NCOLS] = {
	{ "what", NULL, 0 }, { "accounts", NULL, MBR_COL_NUMBER }, { "principal", NULL, MBR_COL_NUMBER },
	{ "bonus", NULL, MBR_COL_NUMBER }, { "total", NULL, MBR_COL_NUMBER },
};

/* What the business owes: stored value of members and gift cards,
 * unused count-card uses (at the price paid), and points outstanding.
 * Gift and count cards past their expiry are shown on rows of their own
 * (what finance may book as breakage), never mixed with live ones. */
int mbr_report_liability(struct mbr_db *db, mbr_report_fn fn, void *ctx)
{
	static const char *const sql[] = {
		"SELECT 'stored value', COUNT(*), COALESCE(SUM(sv_principal), 0), COALESCE(SUM(sv_bonus), 0)"
		" FROM members WHERE (sv_principal != 0 OR sv_bonus != 0) AND ?1 = ?1",
		"SELECT 'gift cards', COUNT(*), COALESCE(SUM(principal), 0), COALESCE(SUM(bonus), 0)"
		" FROM gift_cards WHERE state != 'void' AND (principal != 0 OR bonus != 0)"
		" AND (expires_at IS NULL OR expires_at > ?1)",
		"SELECT 'expired gift cards', COUNT(*), COALESCE(SUM(principal), 0), COALESCE(SUM(bonus), 0)"
		" FROM gift_cards WHERE state != 'void' AND (principal != 0 OR bonus != 0) AND expires_at <= ?1",
		"SELECT 'count cards', COUNT(*), COALESCE(SUM(price * uses_left / uses), 0), 0"
		" FROM count_cards WHERE state = 'active' AND uses_left > 0 AND (expires_at IS NULL OR expires_at > ?1)",
		"SELECT 'expired count cards', COUNT(*), COALESCE(SUM(price * uses_left / uses), 0), 0"
		" FROM count_cards WHERE state = 'active' AND uses_left > 0 AND expires_at <= ?1",
		"SELECT 'points', COUNT(*), COALESCE(SUM(points), 0), 0 FROM points_balances WHERE points > 0 AND ?1 = ?1",
	};
	const size_t points_row = 5;
	int64_t now = mbr_now();
	char b[4][MBR_MONEY_BUFSZ];
	const char *v[MBR_LIABILITY_NCOLS];
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(sql) / sizeof(sql[0]) && rc == 0; i++) {
		sqlite3_stmt *st = mbr_stmt(db, sql[i]);
		int64_t p, bo;

		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, now);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_reset(st);
			return mbr_db_sqlerr(db, "liability");
		}
		p = sqlite3_column_int64(st, 2);
		bo = sqlite3_column_int64(st, 3);
		v[0] = text(st, 0);
		snprintf(b[0], sizeof(b[0]), "%lld", (long long)sqlite3_column_int64(st, 1));
		v[1] = b[0];
		if (i == points_row) {
			/* points are counted, not money */
			snprintf(b[1], sizeof(b[1]), "%lld", (long long)p);
			v[2] = b[1];
			v[3] = "";
			v[4] = b[1];
		} else {
			v[2] = mbr_money_format(p, db->exp, b[1]);
			v[3] = mbr_money_format(bo, db->exp, b[2]);
			v[4] = mbr_money_format(p + bo, db->exp, b[3]);
		}
		rc = fn(v, ctx);
		sqlite3_reset(st);
	}
	return rc;
}
