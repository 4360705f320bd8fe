/*
 * schema.c - the database schema as numbered migrations.
 *
 * mbr_migrations[i] takes a database from PRAGMA user_version i to i+1;
 * mbr_db_migrate (db.c) applies the missing ones in one transaction.  A
 * migration, once released, is never edited: later changes are new entries.
 *
 * Conventions: money in integer minor units, points in integers, time in
 * integer seconds since the epoch (UTC), business dates as integer days
 * since 1970-01-01 in the store's zone.  Rows a store creates that must
 * survive a merge at head office carry a chain-unique key: members and
 * batches a uid "STORE-N"; ledger entries (origin, origin_id), NULL for
 * entries made in this database, whose key is (this store, id), so the
 * hot path of an import maintains no extra index.
 * Personal data lives only in member_pii.pii (sealed by crypto.c); lookups go
 * through keyed hashes.  Ledgers and the audit log are append-only,
 * enforced by triggers.
 *
 * A CHECK of a column against a list of values is written as "c = 'a' OR
 * c = 'b'", not "c IN ('a', 'b')": SQLite builds and drops a temporary
 * b-tree per inserted row for an IN list (a fifth of a member import's
 * time, measured).  Databases made before this change keep their IN
 * lists; the two accept exactly the same rows.
 */
#include <stddef.h>

#include "internal.h"
#include "banned.h"

static const char migration1[] =
	"CREATE TABLE settings("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	") WITHOUT ROWID;"

	"CREATE TABLE stores("
	"  code TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL"
	") WITHOUT ROWID;"

	"CREATE TABLE operators("
	"  name TEXT PRIMARY KEY,"
	"  role TEXT NOT NULL CHECK (role = 'cashier' OR role = 'manager' OR role = 'admin'),"
	"  granted_at INTEGER NOT NULL,"
	"  granted_by TEXT NOT NULL"
	") WITHOUT ROWID;"

	/* local sequences behind chain-unique keys */
	"CREATE TABLE sequences("
	"  kind TEXT PRIMARY KEY,"
	"  next INTEGER NOT NULL"
	") WITHOUT ROWID;"

	"CREATE TABLE batches("
	"  id INTEGER PRIMARY KEY,"
	"  uid TEXT NOT NULL UNIQUE,"
	"  kind TEXT NOT NULL,"
	"  source TEXT NOT NULL DEFAULT '',"
	"  operator TEXT NOT NULL,"
	"  started_at INTEGER NOT NULL,"
	"  finished_at INTEGER,"
	"  added INTEGER NOT NULL DEFAULT 0,"
	"  updated INTEGER NOT NULL DEFAULT 0,"
	"  rejected INTEGER NOT NULL DEFAULT 0,"
	"  undone_at INTEGER"
	");"

	"CREATE TABLE tiers("
	"  code TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  rank INTEGER NOT NULL UNIQUE,"
	"  basis TEXT NOT NULL DEFAULT 'spend' CHECK (basis = 'spend' OR basis = 'points'),"
	"  threshold INTEGER NOT NULL DEFAULT 0,"
	"  window_days INTEGER NOT NULL DEFAULT 365,"
	"  discount_bp INTEGER NOT NULL DEFAULT 0,"	/* basis points off */
	"  earn_mult_bp INTEGER NOT NULL DEFAULT 10000"	/* 10000 = x1 */
	") WITHOUT ROWID;"

	"CREATE TABLE members("
	"  id INTEGER PRIMARY KEY,"
	"  uid TEXT NOT NULL,"			/* unique: members_uid */
	"  card_hash BLOB,"			/* keyed hash of member_no, unique */
	"  phone_hash BLOB,"			/* keyed hash of the phone, unique */
	"  gender TEXT NOT NULL DEFAULT '' CHECK (gender = '' OR gender = 'M' OR gender = 'F'),"
	"  tier TEXT REFERENCES tiers(code),"
	"  store TEXT REFERENCES stores(code),"
	"  status TEXT NOT NULL DEFAULT 'active' CHECK (status = 'active' OR status = 'frozen' OR status = 'erased'),"
	"  points INTEGER NOT NULL DEFAULT 0,"	/* cache of SUM(points_ledger.points) */
	"  sv_principal INTEGER NOT NULL DEFAULT 0,"	/* caches of the stored-value ledger */
	"  sv_bonus INTEGER NOT NULL DEFAULT 0,"
	"  sv_frozen INTEGER NOT NULL DEFAULT 0,"	/* stored value may not be spent */
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  batch INTEGER REFERENCES batches(id),"
	"  batch_line INTEGER"			/* line of the batch's file it came from */
	");"
	/* Sealed member_no, name, phone, email, birthday and note, apart from
	 * the members row so that the rows sales update stay small. */
	"CREATE TABLE member_pii("
	"  member INTEGER PRIMARY KEY REFERENCES members(id),"
	"  pii BLOB NOT NULL"
	");"
	/* named, so that a bulk import can rebuild them (member.c) */
	"CREATE UNIQUE INDEX members_uid ON members(uid);"
	"CREATE UNIQUE INDEX members_card ON members(card_hash) WHERE card_hash IS NOT NULL;"
	"CREATE UNIQUE INDEX members_phone ON members(phone_hash) WHERE phone_hash IS NOT NULL;"

	"CREATE TABLE products("
	"  sku TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  category TEXT NOT NULL DEFAULT '',"
	"  price INTEGER,"
	"  created_at INTEGER NOT NULL"
	") WITHOUT ROWID;"

	"CREATE TABLE rules_versions("
	"  id INTEGER PRIMARY KEY,"
	"  effective_day INTEGER NOT NULL,"		/* local day it takes effect */
	"  text TEXT NOT NULL,"				/* as loaded, verbatim */
	"  loaded_at INTEGER NOT NULL,"
	"  operator TEXT NOT NULL"
	");"
	"CREATE INDEX rules_versions_effective ON rules_versions(effective_day, id);"

	/* AUTOINCREMENT: an undone sale's id is never reused, so ledger
	 * entries naming it keep naming it alone */
	"CREATE TABLE sales("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  store TEXT NOT NULL REFERENCES stores(code),"
	"  receipt TEXT NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  day INTEGER NOT NULL,"
	"  member INTEGER REFERENCES members(id),"
	"  original INTEGER REFERENCES sales(id),"	/* a return's sale, when referenced */
	"  total INTEGER NOT NULL,"			/* after line discounts; < 0 for returns */
	"  discount INTEGER NOT NULL DEFAULT 0,"
	"  items INTEGER NOT NULL DEFAULT 0,"		/* sum of quantities */
	"  points_earned INTEGER NOT NULL DEFAULT 0,"	/* < 0 for reversals */
	"  points_residue INTEGER NOT NULL DEFAULT 0,"	/* fraction lost to rounding, ppm of a point */
	"  points_paid INTEGER NOT NULL DEFAULT 0,"	/* points used as payment (< 0: refunded) */
	"  rules_version INTEGER NOT NULL DEFAULT 0,"
	"  returned INTEGER NOT NULL DEFAULT 0,"		/* amount returned against this sale so far */
	"  points_reversed INTEGER NOT NULL DEFAULT 0,"	/* earned points reversed by returns so far */
	"  points_refunded INTEGER NOT NULL DEFAULT 0,"	/* paid points given back by returns so far */
	"  sv_principal INTEGER NOT NULL DEFAULT 0,"	/* stored value paid: principal part */
	"  sv_bonus INTEGER NOT NULL DEFAULT 0,"		/* and bonus part (< 0 on returns) */
	"  coupon TEXT,"				/* coupon redeemed on it */
	"  coupon_discount INTEGER NOT NULL DEFAULT 0,"	/* included in discount */
	"  batch INTEGER REFERENCES batches(id),"
	"  UNIQUE (store, receipt)"
	");"
	"CREATE INDEX sales_original ON sales(original) WHERE original IS NOT NULL;"

	"CREATE TABLE sale_lines("
	"  sale INTEGER NOT NULL REFERENCES sales(id) ON DELETE CASCADE,"
	"  line INTEGER NOT NULL,"
	"  sku TEXT NOT NULL,"
	"  qty INTEGER NOT NULL,"
	"  unit_price INTEGER NOT NULL,"
	"  discount INTEGER NOT NULL DEFAULT 0,"
	"  amount INTEGER NOT NULL,"
	"  PRIMARY KEY (sale, line)"
	") WITHOUT ROWID;"

	"CREATE TABLE payments("
	"  sale INTEGER NOT NULL REFERENCES sales(id) ON DELETE CASCADE,"
	"  method TEXT NOT NULL,"
	"  amount INTEGER NOT NULL,"
	"  PRIMARY KEY (sale, method)"
	") WITHOUT ROWID;"

	/* ledger.sale is a plain number, not a foreign key: an undone batch
	 * deletes its sales, and the ledger keeps its compensating entries. */
	"CREATE TABLE points_ledger("
	"  id INTEGER PRIMARY KEY,"
	"  origin TEXT,"				/* chain-unique key: (origin store, origin id); */
	"  origin_id INTEGER,"			/* NULL for entries made here, key (this store, id) */
	"  member INTEGER NOT NULL REFERENCES members(id),"
	"  ts INTEGER NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind = 'earn' OR kind = 'redeem' OR kind = 'adjust' OR kind = 'transfer' OR kind = 'expire' OR kind = 'reversal' OR kind = 'refund'),"
	"  points INTEGER NOT NULL,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  source TEXT NOT NULL DEFAULT 'operator' CHECK (source = 'sale' OR source = 'coupon' OR source = 'operator' OR source = 'expiry' OR source = 'transfer' OR source = 'undo'),"
	"  sale INTEGER,"
	"  ref TEXT NOT NULL DEFAULT '',"		/* e.g. store/receipt */
	"  store TEXT,"
	"  operator TEXT NOT NULL,"
	"  batch INTEGER REFERENCES batches(id)"
	");"
	"CREATE INDEX points_ledger_member ON points_ledger(member, ts);"
	"CREATE UNIQUE INDEX points_ledger_origin ON points_ledger(origin, origin_id) WHERE origin IS NOT NULL;"

	/* a lot's id is the id of the ledger entry that opened it */
	"CREATE TABLE points_lots("
	"  id INTEGER PRIMARY KEY REFERENCES points_ledger(id),"
	"  member INTEGER NOT NULL REFERENCES members(id),"
	"  expires_at INTEGER,"			/* NULL = never */
	"  points INTEGER NOT NULL,"
	"  remaining INTEGER NOT NULL"
	");"
	"CREATE INDEX points_lots_open ON points_lots(member, expires_at) WHERE remaining > 0;"
	/* Only points that can lapse have lots: never-expiring points are the
	 * balance's remainder and are spent last (points.c). */
	"CREATE INDEX points_lots_expiry ON points_lots(expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;"

	/* Aggregates kept in the same transaction as each sale and return. */
	"CREATE TABLE agg_store_day("
	"  store TEXT NOT NULL,"
	"  day INTEGER NOT NULL,"
	"  receipts INTEGER NOT NULL DEFAULT 0,"
	"  returns INTEGER NOT NULL DEFAULT 0,"
	"  amount INTEGER NOT NULL DEFAULT 0,"
	"  discount INTEGER NOT NULL DEFAULT 0,"
	"  items INTEGER NOT NULL DEFAULT 0,"
	"  member_receipts INTEGER NOT NULL DEFAULT 0,"
	"  member_amount INTEGER NOT NULL DEFAULT 0,"
	"  points_earned INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (store, day)"
	") WITHOUT ROWID;"
	/* keyed day first: imports arrive in time order, so rows append */
	"CREATE TABLE agg_member_day("
	"  day INTEGER NOT NULL,"
	"  member INTEGER NOT NULL,"
	"  receipts INTEGER NOT NULL DEFAULT 0,"
	"  amount INTEGER NOT NULL DEFAULT 0,"
	"  points_earned INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (day, member)"
	") WITHOUT ROWID;"
	"CREATE TABLE agg_category_day("
	"  category TEXT NOT NULL,"
	"  store TEXT NOT NULL,"
	"  day INTEGER NOT NULL,"
	"  lines INTEGER NOT NULL DEFAULT 0,"
	"  qty INTEGER NOT NULL DEFAULT 0,"
	"  amount INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (category, store, day)"
	") WITHOUT ROWID;"

	"CREATE TABLE campaigns("
	"  code TEXT PRIMARY KEY,"
	"  type TEXT NOT NULL CHECK (type = 'amount' OR type = 'percent' OR type = 'threshold' OR type = 'gift'),"
	"  value INTEGER NOT NULL DEFAULT 0,"		/* minor units off, or basis points for percent */
	"  gift_sku TEXT,"				/* gift: the free item */
	"  cap INTEGER,"				/* percent: largest discount */
	"  min_spend INTEGER NOT NULL DEFAULT 0,"
	"  valid_from INTEGER,"			/* UTC; NULL = open */
	"  valid_to INTEGER,"				/* UTC, exclusive; NULL = open */
	"  total_limit INTEGER,"			/* codes issued at most */
	"  per_member INTEGER,"			/* codes per member at most */
	"  points_cost INTEGER,"			/* price in points, NULL = not for sale */
	"  stores TEXT NOT NULL DEFAULT '',"		/* comma list, '' = all */
	"  categories TEXT NOT NULL DEFAULT '',"	/* comma list, '' = all */
	"  stack TEXT NOT NULL DEFAULT 'none' CHECK (stack = 'none' OR stack = 'tier' OR stack = 'all'),"
	"  created_at INTEGER NOT NULL,"
	"  closed_at INTEGER"
	") WITHOUT ROWID;"

	"CREATE TABLE coupons("
	"  code TEXT PRIMARY KEY,"
	"  campaign TEXT NOT NULL REFERENCES campaigns(code),"
	"  member INTEGER REFERENCES members(id),"
	"  state TEXT NOT NULL DEFAULT 'new' CHECK (state = 'new' OR state = 'issued' OR state = 'redeemed' OR state = 'expired' OR state = 'voided'),"
	"  created_at INTEGER NOT NULL,"
	"  issued_at INTEGER,"
	"  redeemed_at INTEGER,"
	"  ended_at INTEGER,"				/* expired or voided */
	"  sale INTEGER,"				/* the sale it was redeemed on */
	"  store TEXT,"
	"  receipt TEXT,"
	"  discount INTEGER,"				/* given when redeemed */
	"  batch INTEGER REFERENCES batches(id)"
	") WITHOUT ROWID;"
	"CREATE INDEX coupons_campaign ON coupons(campaign, state);"
	"CREATE INDEX coupons_member ON coupons(member, campaign) WHERE member IS NOT NULL;"

	/*
	 * Stored value (储值) of members and of gift cards: one append-only
	 * ledger, principal and bonus apart.  account is a member or a gift
	 * card.  kinds: topup (principal paid in, bonus given), spend (a sale
	 * paid with it), credit (a return paid back to it), payout (unspent
	 * principal of a top-up paid back to the customer), forfeit (the bonus
	 * that goes with a payout), adjust (by a manager).  topup names, for
	 * payouts and forfeits, the top-up they draw on.
	 */
	"CREATE TABLE sv_ledger("
	"  id INTEGER PRIMARY KEY,"
	"  origin TEXT,"				/* chain-unique key as points_ledger's */
	"  origin_id INTEGER,"
	"  member INTEGER REFERENCES members(id),"
	"  gift TEXT REFERENCES gift_cards(code),"
	"  ts INTEGER NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind = 'topup' OR kind = 'spend' OR kind = 'credit' OR kind = 'payout' OR kind = 'forfeit' OR kind = 'adjust'),"
	"  principal INTEGER NOT NULL,"
	"  bonus INTEGER NOT NULL,"
	"  method TEXT NOT NULL DEFAULT '',"		/* how a top-up was paid, a payout paid out */
	"  topup INTEGER REFERENCES sv_ledger(id),"
	"  sale INTEGER,"
	"  ref TEXT NOT NULL DEFAULT '',"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  store TEXT,"
	"  operator TEXT NOT NULL,"
	"  CHECK ((member IS NULL) != (gift IS NULL))"
	");"
	"CREATE INDEX sv_ledger_member ON sv_ledger(member, id) WHERE member IS NOT NULL;"
	"CREATE INDEX sv_ledger_gift ON sv_ledger(gift, id) WHERE gift IS NOT NULL;"
	"CREATE UNIQUE INDEX sv_ledger_origin ON sv_ledger(origin, origin_id) WHERE origin IS NOT NULL;"

	"CREATE TABLE gift_cards("
	"  code TEXT PRIMARY KEY,"
	"  principal INTEGER NOT NULL DEFAULT 0,"	/* caches of its ledger */
	"  bonus INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL DEFAULT 'active' CHECK (state = 'active' OR state = 'frozen' OR state = 'void'),"
	"  expires_at INTEGER,"
	"  created_at INTEGER NOT NULL,"
	"  batch INTEGER REFERENCES batches(id)"
	") WITHOUT ROWID;"

	/* Count cards (次卡): uses of one SKU, paid up front. */
	"CREATE TABLE count_cards("
	"  id INTEGER PRIMARY KEY,"
	"  uid TEXT NOT NULL UNIQUE,"
	"  member INTEGER NOT NULL REFERENCES members(id),"
	"  sku TEXT NOT NULL,"
	"  uses INTEGER NOT NULL CHECK (uses > 0),"
	"  uses_left INTEGER NOT NULL,"			/* cache of count_card_ledger */
	"  price INTEGER NOT NULL,"			/* paid for all the uses */
	"  expires_at INTEGER,"
	"  store TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'active' CHECK (state = 'active' OR state = 'refunded'),"
	"  created_at INTEGER NOT NULL"
	");"
	"CREATE INDEX count_cards_member ON count_cards(member, sku);"
	"CREATE TABLE count_card_ledger("
	"  id INTEGER PRIMARY KEY,"
	"  card INTEGER NOT NULL REFERENCES count_cards(id),"
	"  ts INTEGER NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind = 'sell' OR kind = 'use' OR kind = 'refund'),"
	"  uses INTEGER NOT NULL,"			/* + sold, - used or refunded */
	"  amount INTEGER NOT NULL DEFAULT 0,"		/* money: paid, or paid back */
	"  sale INTEGER,"
	"  store TEXT,"
	"  operator TEXT NOT NULL"
	");"
	"CREATE INDEX count_card_ledger_card ON count_card_ledger(card);"

	"CREATE TABLE audit("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  operator TEXT NOT NULL,"
	"  program TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  target TEXT NOT NULL DEFAULT '',"
	"  detail TEXT NOT NULL DEFAULT '',"
	"  hash BLOB NOT NULL"
	");"

	/* append-only logs */
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER points_ledger_no_update BEFORE UPDATE ON points_ledger"
	"  BEGIN SELECT RAISE(ABORT, 'the points ledger is append-only'); END;"
	"CREATE TRIGGER points_ledger_no_delete BEFORE DELETE ON points_ledger"
	"  BEGIN SELECT RAISE(ABORT, 'the points ledger is append-only'); END;"
	"CREATE TRIGGER sv_ledger_no_update BEFORE UPDATE ON sv_ledger"
	"  BEGIN SELECT RAISE(ABORT, 'the stored-value ledger is append-only'); END;"
	"CREATE TRIGGER sv_ledger_no_delete BEFORE DELETE ON sv_ledger"
	"  BEGIN SELECT RAISE(ABORT, 'the stored-value ledger is append-only'); END;"
	"CREATE TRIGGER count_card_ledger_no_update BEFORE UPDATE ON count_card_ledger"
	"  BEGIN SELECT RAISE(ABORT, 'the count-card ledger is append-only'); END;"
	"CREATE TRIGGER count_card_ledger_no_delete BEFORE DELETE ON count_card_ledger"
	"  BEGIN SELECT RAISE(ABORT, 'the count-card ledger is append-only'); END;";

/* 2: a return finds what its sale drew from stored value and gift cards */
static const char migration2[] =
	"CREATE INDEX IF NOT EXISTS sv_ledger_sale ON sv_ledger(sale) WHERE sale IS NOT NULL;";

/*
 * 3: what each lot gave to a negative entry of a batch, so that undoing the
 * batch puts the points back in the lots they came from, with their
 * expiry (points.c), and to each expiry, so that a return does not take
 * back points of its sale that lapsed.  Other entries made outside
 * batches record nothing.  IF NOT EXISTS: run again, it changes nothing.
 */
static const char migration3[] =
	"CREATE TABLE IF NOT EXISTS points_lot_uses("
	"  entry INTEGER NOT NULL REFERENCES points_ledger(id),"
	"  lot INTEGER NOT NULL REFERENCES points_lots(id),"
	"  points INTEGER NOT NULL,"
	"  PRIMARY KEY (entry, lot)"
	") WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS points_lot_uses_lot ON points_lot_uses(lot);";

/*
 * 4: the sale a return naming none was scored as of (sale.c, match_sale).
 * Such a return counts against that sale as a referenced one does: what
 * is left of its total and of its points to reverse; undoing the sale's
 * batch is blocked by it.  Returns recorded before have no row.  A table,
 * not a column of sales, so that the migration can run again harmlessly.
 */
static const char migration4[] =
	"CREATE TABLE IF NOT EXISTS return_matches("
	"  ret INTEGER PRIMARY KEY REFERENCES sales(id) ON DELETE CASCADE,"
	"  sale INTEGER NOT NULL REFERENCES sales(id)"
	");"
	"CREATE INDEX IF NOT EXISTS return_matches_sale ON return_matches(sale);";

/*
 * 5: members' points balances (the cache of SUM(points_ledger.points))
 * in a narrow table of their own, a row for each member whose points ever
 * moved (none: 0).  In members.points every sale rewrote the member's
 * whole row, on one of its thousands of pages: a sale import of a year
 * read and wrote back most of the members table several times over (an
 * eighth of its work).  A table of two integers a row fits in the page
 * cache.
 */
static const char migration5[] =
	"CREATE TABLE points_balances("
	"  member INTEGER PRIMARY KEY REFERENCES members(id),"
	"  points INTEGER NOT NULL"
	");"
	"INSERT INTO points_balances(member, points) SELECT id, points FROM members WHERE points != 0;"
	"ALTER TABLE members DROP COLUMN points;";

/*
 * 6: a sale's lines and payments are JSON in its row, [[sku, qty,
 * unit_price, discount, amount], ...] and [[method, amount], ...], read
 * through views of the tables they were (the same columns; a line is
 * numbered by its place).  A row per line and per payment was two fifths
 * of what a sale import wrote (a b-tree insert each); the sale's row is
 * written anyway.  Lines keep their order; payments come in the order
 * they were recorded.
 */
static const char migration6[] =
	"ALTER TABLE sales ADD COLUMN lines TEXT NOT NULL DEFAULT '[]';"
	"ALTER TABLE sales ADD COLUMN payments TEXT NOT NULL DEFAULT '[]';"
	"UPDATE sales SET"
	" lines = (SELECT json_group_array(json_array(sku, qty, unit_price, discount, amount))"
	"  FROM (SELECT * FROM sale_lines l WHERE l.sale = sales.id ORDER BY l.line)),"
	" payments = (SELECT json_group_array(json_array(method, amount))"
	"  FROM (SELECT * FROM payments p WHERE p.sale = sales.id ORDER BY p.method));"
	"DROP TABLE sale_lines;"
	"DROP TABLE payments;"
	"CREATE VIEW sale_lines(sale, line, sku, qty, unit_price, discount, amount) AS"
	" SELECT s.id, j.key + 1, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4"
	" FROM sales s, json_each(s.lines) AS j;"
	"CREATE VIEW payments(sale, method, amount) AS"
	" SELECT s.id, j.value ->> 0, j.value ->> 1 FROM sales s, json_each(s.payments) AS j;";

/*
 * 7: the daily category aggregates keyed by day first, (day, store,
 * category): an import's new rows go to the end of the table instead of
 * to a thousand places in it (a category and store each), where each
 * cost twice a row of the member aggregates; a report's date range is one
 * range of the key.  Column names are given, so it can run again.
 */
static const char migration7[] =
	"CREATE TABLE agg_category_day_by_day("
	"  day INTEGER NOT NULL,"
	"  store TEXT NOT NULL,"
	"  category TEXT NOT NULL,"
	"  lines INTEGER NOT NULL DEFAULT 0,"
	"  qty INTEGER NOT NULL DEFAULT 0,"
	"  amount INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (day, store, category)"
	") WITHOUT ROWID;"
	"INSERT INTO agg_category_day_by_day(day, store, category, lines, qty, amount)"
	" SELECT day, store, category, lines, qty, amount FROM agg_category_day;"
	"DROP TABLE agg_category_day;"
	"ALTER TABLE agg_category_day_by_day RENAME TO agg_category_day;";

/*
 * 8: a sale's line in its JSON is [sku, qty, unit_price] when it has no
 * discount and its amount is qty x unit_price, [sku, qty, unit_price,
 * discount] when its amount is qty x unit_price - discount, and [sku, qty,
 * unit_price, discount, amount] else (count-card uses change the amount
 * alone); the view gives every line all five, as before.  The two
 * numbers left out were a quarter of the JSON (8 bytes of a line's 29),
 * a seventh of a sale's row.  Rows written before keep all five, which
 * the view reads as they are.  It can run again.
 */
static const char migration8[] =
	"DROP VIEW IF EXISTS sale_lines;"
	"CREATE VIEW sale_lines(sale, line, sku, qty, unit_price, discount, amount) AS"
	" SELECT s.id, j.key + 1, j.value ->> 0, j.value ->> 1, j.value ->> 2, COALESCE(j.value ->> 3, 0),"
	" COALESCE(j.value ->> 4, (j.value ->> 1) * (j.value ->> 2) - COALESCE(j.value ->> 3, 0))"
	" FROM sales s, json_each(s.lines) AS j;";

/*
 * 9: the member keys a sale names (member_no, phone) each get a second
 * index that holds what a sale needs of the member (tier, status, uid), so
 * a sale's member lookup reads one page of it instead of a page of the
 * key's index and a page of members (member.c, MEMBER_BRIEF_COLS).  The
 * UNIQUE indexes stay: they are what keeps a key to one member.  On 3M
 * sale lines over 200k members the reading thread's page reads fell from
 * 1.07M to 0.38M and the import's CPU time by a fifth; 200k members cost
 * 17 MB more (two indexes of 44 bytes an entry).  It can run again.
 */
static const char migration9[] = MBR_MEMBER_BRIEF_INDEXES;

/*
 * 10: the points ledger's member index is on member alone, not (member,
 * ts).  Its entries go in at random places (members buy in any order), so
 * once it outgrows the page cache most inserts change a page that was
 * written out already and is written again: at 3M sale lines over 200k
 * members nine in ten pages written twice were this index's (45k of
 * 50k), and WAL bytes fell from 925 MB to 575 MB with the smaller index
 * (9.4 MB instead of 13.4).  Readers that want a member's entries by
 * time sort them (a member's entries are few); (member, id) order, which
 * the index keeps, is what points flows read.  It can run again.
 */
static const char migration10[] =
	"DROP INDEX IF EXISTS points_ledger_member;"
	"CREATE INDEX points_ledger_member ON points_ledger(member);";

const char *const mbr_migrations[] = {
	migration1,
	migration2,
	migration3,
	migration4,
	migration5,
	migration6,
	migration7,
	migration8,
	migration9,
	migration10,
};
const int mbr_nmigrations = sizeof(mbr_migrations) / sizeof(mbr_migrations[0]);
