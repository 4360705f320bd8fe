/*
 * sale.c - recording sales and returns: grouping line items into
 * receipts, validating them, scoring points by the rules in force at the
 * sale's time, posting ledger entries, and keeping the daily aggregates,
 * all inside the caller's transaction.  Imports, `mbr-sale add` and (later)
 * the cashier all feed lines through mbr_sale_line.
 *
 * A receipt is the run of consecutive lines with the same (store,
 * receipt).  It is checked whole before anything is written, so a bad
 * receipt is rejected whole and never half-written.  (store, receipt) is
 * unique chain-wide: a receipt already recorded by an earlier batch is
 * skipped and counted as a duplicate when it is the same receipt (items,
 * amounts, member, original: same_receipt), which makes re-importing a
 * file or a POS retry a no-op; one that differs is rejected, never lost
 * silently; the same receipt twice in one file, apart, is an error.
 * What a return is: receipt_is_return.
 *
 * Points (stated in mbr-sale(1)):
 *  - a sale earns by the rules in force on its business day; the share of
 *    the receipt paid with points or stored value earns nothing unless the
 *    rules say so; receipts below min_spend earn nothing;
 *  - points used as payment are redeemed before the sale's points are
 *    earned (points = amount * redeem_points / redeem_value, rounded up);
 *  - a return that references its sale (column `original`) reverses
 *    floor(earned * returned so far / sale total) minus what was already
 *    reversed, so partial returns add up exactly to the points earned and
 *    never more; points paid are given back by the same cumulative rule,
 *    to the lots they were paid from (points.c, restore_lots);
 *  - a return without a reference reverses what it would have earned as
 *    a sale, rounded toward zero: a member's return as of the member's
 *    sale of the goods when one matches (match_sale), at most what that
 *    sale has left, and counts against it (return_matches), else as of
 *    now;
 *  - a balance may go negative; frozen members' sales earn nothing.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

const struct mbr_col mbr_sale_cols[MBR_S_COUNT] = {
	[MBR_S_STORE] = { "store", "store_code|门店|门店编码|店铺", 0 },
	[MBR_S_RECEIPT] = { "receipt", "receipt_no|invoice|小票号|单号|流水号", MBR_COL_REQUIRED },
	[MBR_S_TS] = { "ts", "time|datetime|date|时间|日期|销售时间", MBR_COL_REQUIRED },
	[MBR_S_MEMBER] = { "member", "member_no|card|phone|会员|会员卡号|会员号", 0 },
	[MBR_S_SKU] = { "sku", "item|barcode|商品编码|条码|货号", MBR_COL_REQUIRED },
	[MBR_S_QTY] = { "qty", "quantity|数量", MBR_COL_REQUIRED },
	[MBR_S_UNIT_PRICE] = { "unit_price", "price|单价", MBR_COL_REQUIRED },
	[MBR_S_NAME] = { "name", "description|商品名称|品名", 0 },
	[MBR_S_CATEGORY] = { "category", "类别|品类|分类", 0 },
	[MBR_S_DISCOUNT] = { "discount", "折扣|优惠|折扣金额", 0 },
	[MBR_S_PAYMENT] = { "payment", "payments|支付方式|付款方式", 0 },
	[MBR_S_ORIGINAL] = { "original", "original_receipt|原单号|原小票号", 0 },
	[MBR_S_COUPON] = { "coupon", "coupons|coupon_code|优惠券|券码", 0 },
};

#define MAX_LINES 10000		/* per receipt */
#define MAX_PAYMENTS 8
#define MAX_COUPONS 4
#define SKU_MAX 64
#define PROD_KEY 16
/*
 * The largest total (in minor units, either sign) one receipt may have:
 * far beyond any till, and small enough that the daily aggregates, sums
 * of a day's receipts, cannot overflow int64 below 9,000 such receipts a
 * day (items cannot either: at most MAX_LINES lines of QTY_MAX units).
 */
#define RECEIPT_MAX 1000000000000000LL
#define AGG_SLOTS 4096		/* power of two; 448 KiB of accumulators, flushed in key order */

/*
 * What a return is, the one definition that the engine (scoring, the
 * check of a return naming its sale, matching a return to a sale), the
 * daily aggregates and `mbr-db check` all use, stated in mbr-sale(1) and
 * mbr-report(1): a receipt whose total is negative, or zero with more
 * goods taken back than sold (items, the sum of its quantities, below
 * zero): a free gift given back, or goods paid with count-card uses
 * given back as uses.  Any other receipt is a sale.  RECEIPT_IS_RETURN_SQL
 * is the same test on a sales row, its columns prefixed by p ("s." or "").
 */
#define RECEIPT_IS_RETURN_SQL(p) "(" p "total < 0 OR (" p "total = 0 AND " p "items < 0))"

static int receipt_is_return(int64_t total, int64_t items)
{
	return total < 0 || (total == 0 && items < 0);
}

/* an aggregate accumulator, see agg_get */
enum { AGG_STORE_DAY, AGG_MEMBER_DAY, AGG_CATEGORY_DAY };

struct agg {
	int used, kind;
	uint64_t hash;			/* of the key, compared before it */
	int64_t member, day;
	const char *store, *category;	/* names (name_intern): one pointer per text */
	int64_t v[8];
};

struct line {
	size_t sku;			/* offset into text */
	const char *category;		/* its product's (a catalogue string, kept for the import) */
	int64_t qty, unit_price, discount, amount;
	int64_t card_uses;		/* paid with count-card uses instead of money */
	int64_t coupon_left;		/* amount less what the receipt's coupons so far took off it */
	long lineno;
};

struct payment {
	char method[16];
	char gift[MBR_CODE_SZ];		/* gift_card=CODE */
	int64_t amount;
	int has_amount;
	int share;			/* a return's share of its sale's prepaid payment */
};

/* A sale written behind, with its lines and payments (strings at offsets
 * into ptext; NO_TEXT for none, 0 for a NULL number). */
#define PEND_SALES 64		/* receipts written at once */
#define PEND_TEXT (256 * 1024)	/* or when their strings take this much */
#define NO_TEXT ((size_t)-1)
struct pend_sale {
	int64_t id, ts, day, member, original, total, discount, items, points, residue, paid, version, batch,
		coupon_discount;
	size_t store, receipt, coupon, lines, payments, lines_len, payments_len;
};

/* A catalogue entry cached for the run: SKUs are few, lines are many. */
struct product {
	uint64_t hash;			/* of sku, compared before it */
	char *sku;
	const char *category;		/* name_intern's */
	char key[PROD_KEY];		/* sku when shorter, else "": compared in the slot's cache line */
};

struct mbr_sale_import {
	struct mbr_db *db;
	struct mbr_sale_opts o;
	struct mbr_sale_stats st;
	struct mbr_rules_set rules;
	int64_t batch;
	char source[256];

	/* the receipt being collected */
	int open;
	char store[32], receipt[64], member[64], payment[256], original[64], ts_text[64], coupon[128];
	char file[256];
	long first_line;
	struct mbr_buf text;		/* sku/name/category strings of the lines */
	struct line *lines;
	size_t nlines, alines;
	size_t nin;			/* lines read into it, good or bad */
	struct mbr_buf bad;		/* first error of the receipt, "" if none */
	/* raw rows of the receipt, for reject files */
	struct mbr_buf raw;		/* fields, each NUL-terminated */
	size_t *rawrow;			/* per row: offset of its first field in raw; nraw per row below */
	size_t *rawn;
	size_t nraw, araw;

	/* last timestamp parsed, for runs of lines with the same one */
	char last_ts_text[64];
	int64_t last_ts;

	/* product cache: open addressing, power-of-two size */
	struct product *prod;
	size_t nprod, aprod;
	/* store codes and categories, one copy of each (name_intern) */
	char **names;
	size_t nnames, anames;

	int rules_birthday;		/* some rules version has a birthday multiplier */
	int count_cards;		/* some count card has uses left (none can be sold meanwhile) */

	/* the last store found to exist */
	char store_ok[32];

	/* aggregates summed in memory, see agg_get */
	struct agg *agg;
	struct agg **agg_order;	/* the used slots, sorted at a flush */
	size_t nagg;

	/* receipts rejected in this run, "store\x1freceipt" at offsets into
	 * rejected.buf, in a hash set of rejected_slots slots (0 = empty) */
	struct mbr_buf rejected;
	size_t *rejected_slot, rejected_slots, nrejected;

	/* sales, their lines and payments written behind, see pend_flush */
	struct pend_sale *psale;
	size_t npsale;
	struct mbr_buf ptext;		/* their strings, at offsets */
	int64_t next_sale;		/* id of the next sale, 0 until read */

	/* the open receipt's member, looked up in the reading thread */
	int has_ahead;
	struct mbr_sale_member ahead;
	/* its time, parsed there (ts_ahead, if has_ts_ahead) */
	int has_ts_ahead;
	int64_t ts_ahead;
	/* the reading thread found the open receipt not recorded before
	 * this import began (see existing_receipt) */
	int absent_before;
	/* the receipts this import recorded, a Bloom filter (see seen_add),
	 * and the open receipt's hash in it */
	uint64_t *seen;
	uint64_t seen_h;
	/* (member, SKU) of the goods this import sold, and the largest ledger
	 * entry before it (see match_possible) */
	uint64_t *sold;
	int64_t ledger_before;

	/* member cache: the last key looked up */
	char last_member_key[64];
	struct mbr_sale_member cached;
};

/* --------------------------------------------------------- product cache */

/* mbr_hash_str mixed (splitmix64's finaliser): FNV-1a's low bits are weak */
static uint64_t hash_mix(uint64_t h)
{
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

static uint64_t prod_hash(const char *sku)
{
	return hash_mix(mbr_hash_str(sku));
}

/*
 * The slot of sku (its hash h), or the empty slot where it would go.  A
 * sale line's look-up was a cache miss for the slot and another for the
 * SKU's text (5% of an import's recording thread): short SKUs are
 * compared in the slot, and sale_line fetches the slot early
 * (prod_prefetch) while it parses the rest of the line.
 */
static struct product *prod_find(struct mbr_sale_import *im, const char *sku, uint64_t h)
{
	size_t mask = im->aprod - 1, i = (size_t)h & mask;
	struct product *p;

	for (; (p = &im->prod[i])->sku; i = (i + 1) & mask)
		if (p->hash == h && !strcmp(p->key[0] ? p->key : p->sku, sku))
			break;
	return p;
}

static void prod_prefetch(const struct mbr_sale_import *im, uint64_t h)
{
	__builtin_prefetch(&im->prod[(size_t)h & (im->aprod - 1)]);
}

static struct product *prod_slot(struct mbr_sale_import *im, const char *sku)
{
	return prod_find(im, sku, prod_hash(sku));
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

/* The slot of name in im->names, or the empty one where it would go. */
static char **name_slot(char **names, size_t n, const char *name)
{
	size_t mask = n - 1, i = (size_t)hash_mix(mbr_hash_str(name)) & mask;

	while (names[i] && strcmp(names[i], name))
		i = (i + 1) & mask;
	return &names[i];
}

/*
 * The one copy of name (a store code or a category) the import keeps:
 * equal names are one pointer, so that the aggregates compare and hash
 * their keys' names as pointers (agg_get: strings hashed and compared for
 * every key of every receipt were a twentieth of an import).
 */
static const char *name_intern(struct mbr_sale_import *im, const char *name)
{
	char **slot;

	if ((im->nnames + 1) * 2 > im->anames) {
		char **old = im->names;
		size_t n = im->anames, i;

		im->anames = n ? 2 * n : 64;
		if (!(im->names = calloc(im->anames, sizeof(*im->names))))
			abort();
		for (i = 0; i < n; i++)
			if (old[i])
				*name_slot(im->names, im->anames, old[i]) = old[i];
		free(old);
	}
	slot = name_slot(im->names, im->anames, name);
	if (!*slot) {
		*slot = xstrdup(name);
		im->nnames++;
	}
	return *slot;
}

static void prod_put(struct mbr_sale_import *im, const char *sku, const char *category)
{
	struct product *p;

	if ((im->nprod + 1) * 2 > im->aprod) {
		struct product *old = im->prod;
		size_t n = im->aprod, i;

		im->aprod = n ? 2 * n : 1024;
		im->prod = calloc(im->aprod, sizeof(*im->prod));
		if (!im->prod)
			abort();
		for (i = 0; i < n; i++)
			if (old[i].sku)
				*prod_find(im, old[i].sku, old[i].hash) = old[i];
		free(old);
	}
	p = prod_slot(im, sku);
	if (!p->sku) {
		p->sku = xstrdup(sku);
		p->hash = prod_hash(sku);
		if (strlen(sku) < sizeof(p->key))
			memcpy(p->key, sku, strlen(sku) + 1);
		im->nprod++;
	}
	p->category = name_intern(im, category ? category : "");
}

static int load_products(struct mbr_sale_import *im)
{
	sqlite3_stmt *st;
	int rc;

	im->aprod = 1024;
	im->prod = calloc(im->aprod, sizeof(*im->prod));
	if (!im->prod)
		abort();
	st = mbr_stmt(im->db, "SELECT sku, category FROM products");
	if (!st)
		return MBR_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		prod_put(im, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(im->db, "products");
}

int mbr_product_upsert(struct mbr_db *db, const char *sku, const char *name, const char *category,
		       const int64_t *price)
{
	sqlite3_stmt *st;
	int moved = 0, rc;

	if (category) {
		/* sold at all?  A scan of the sales: their lines' JSON is
		 * searched for the SKU as a string first (a tenth of the time
		 * of parsing every sale's lines), then the lines that have it */
		st = mbr_stmt(db, "SELECT 1 FROM products p WHERE p.sku = ?1 AND p.category != ?2"
				  " AND EXISTS (SELECT 1 FROM sales s WHERE instr(s.lines, json_quote(?1)) > 0"
				  " AND EXISTS (SELECT 1 FROM json_each(s.lines) AS j WHERE j.value ->> 0 = ?1))");
		if (!st)
			return MBR_EDB;
		sqlite3_bind_text(st, 1, sku, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, category, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return mbr_db_sqlerr(db, "products");
		moved = rc == SQLITE_ROW;
	}
	st = mbr_stmt(db, "INSERT INTO products(sku, name, category, price, created_at)"
			  " VALUES (?1, COALESCE(?2, ''), COALESCE(?3, ''), ?4, ?5)"
			  " ON CONFLICT(sku) DO UPDATE SET name = COALESCE(?2, name), category = COALESCE(?3, category),"
			  " price = COALESCE(?4, price)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, sku, -1, SQLITE_STATIC);
	if (name)
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (category)
		sqlite3_bind_text(st, 3, category, -1, SQLITE_STATIC);
	if (price)
		sqlite3_bind_int64(st, 4, *price);
	sqlite3_bind_int64(st, 5, mbr_now());
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	return moved;
}

/* ------------------------------------------------------------- helpers */

static const char *val(const char *const *v, int i)
{
	return v[i] ? v[i] : "";
}

static int blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0';
}

/* Trimmed copy of s into dst; MBR_EINVAL if it does not fit. */
static int trim_copy(char *dst, size_t n, const char *s)
{
	size_t l;

	while (*s == ' ' || *s == '\t')
		s++;
	l = strlen(s);
	while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
		l--;
	if (l >= n)
		return MBR_EINVAL;
	memcpy(dst, s, l);
	dst[l] = '\0';
	return 0;
}

#define QTY_MAX 1000000000LL	/* units a line, either way */

/* A line's quantity: 0, MBR_EINVAL if s is not a whole number, or 1 if it
 * is one of more than QTY_MAX units either way. */
static int parse_qty(const char *s, int64_t *q)
{
	char *end;
	long long v;

	while (*s == ' ')
		s++;
	if (!*s)
		return MBR_EINVAL;
	v = strtoll(s, &end, 10);
	while (*end == ' ')
		end++;
	if (*end == '.') {		/* "2.000" is 2; "2.5" is not a whole number */
		end++;
		while (*end == '0')
			end++;
	}
	if (*end)
		return MBR_EINVAL;
	if (v > QTY_MAX || v < -QTY_MAX)
		return 1;
	*q = v;
	return 0;
}

/* Mark the receipt bad with its first error. */
static void receipt_bad(struct mbr_sale_import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void receipt_bad(struct mbr_sale_import *im, const char *fmt, ...)
{
	va_list ap;

	if (im->bad.len)
		return;
	va_start(ap, fmt);
	mbr_buf_vaddf(&im->bad, fmt, ap);
	va_end(ap);
}

/* --------------------------------------------------------------- begin */

int mbr_sale_import_begin(struct mbr_db *db, const struct mbr_sale_opts *o, const char *source,
			  struct mbr_sale_import **out)
{
	struct mbr_sale_import *im = calloc(1, sizeof(*im));
	int rc;

	if (!im)
		abort();
	*out = im;
	im->db = db;
	if (o)
		im->o = *o;
	mbr_copy(im->source, sizeof(im->source), source ? source : "");
	mbr_buf_init(&im->text);
	mbr_buf_init(&im->bad);
	mbr_buf_init(&im->raw);
	mbr_buf_init(&im->rejected);
	if (im->o.store && !blank(im->o.store)) {
		if ((rc = mbr_store_exists(db, im->o.store)) < 0)
			return rc;
		if (rc == 0)
			return mbr_db_fail(db, MBR_EINVAL, "unknown store '%s' (add it with mbr-db store-add)", im->o.store);
	}
	im->agg = calloc(AGG_SLOTS, sizeof(*im->agg));
	im->agg_order = calloc(AGG_SLOTS, sizeof(*im->agg_order));
	im->psale = calloc(PEND_SALES, sizeof(*im->psale));
	mbr_buf_init(&im->ptext);
	if (!im->agg || !im->agg_order || !im->psale)
		abort();
	if ((rc = mbr_rules_set_load(db, &im->rules)) < 0 || (rc = load_products(im)) < 0)
		return rc;
	if ((rc = mbr_query_i64(db, "SELECT COALESCE(MAX(id), 0) FROM points_ledger", "points ledger",
				&im->ledger_before)) < 0)
		return rc;
	{
		size_t i;
		for (i = 0; i < im->rules.n; i++)
			if (im->rules.v[i].birthday_bp)
				im->rules_birthday = 1;
	}
	{
		/* the import holds the write lock: no card is sold while it runs */
		sqlite3_stmt *st = mbr_stmt(db, "SELECT EXISTS (SELECT 1 FROM count_cards WHERE state = 'active'"
						" AND uses_left > 0)");

		if (!st)
			return MBR_EDB;
		if (sqlite3_step(st) == SQLITE_ROW)
			im->count_cards = sqlite3_column_int(st, 0);
		sqlite3_reset(st);
	}
	if (!im->o.no_batch && (rc = mbr_batch_start(db, "sales", source, &im->batch)) < 0)
		return rc;
	im->st.batch = im->batch;
	return 0;
}

/* ------------------------------------------------------ collecting lines */

static int sale_line(struct mbr_sale_import *im, const char *const *v, const char *file, long lineno,
		     const char *const *raw, size_t nraw, const char *why, const char *note, size_t note_len);

static void keep_raw(struct mbr_sale_import *im, const char *const *raw, size_t nraw)
{
	size_t i;

	if (!im->o.reject)
		return;
	if (im->nraw == im->araw) {
		im->araw = im->araw ? 2 * im->araw : 16;
		im->rawrow = realloc(im->rawrow, im->araw * sizeof(*im->rawrow));
		im->rawn = realloc(im->rawn, im->araw * sizeof(*im->rawn));
		if (!im->rawrow || !im->rawn)
			abort();
	}
	im->rawrow[im->nraw] = im->raw.len;
	im->rawn[im->nraw] = nraw;
	im->nraw++;
	for (i = 0; i < nraw; i++)
		mbr_buf_add(&im->raw, raw[i] ? raw[i] : "", strlen(raw[i] ? raw[i] : "") + 1);
}

static size_t keep_text(struct mbr_sale_import *im, const char *s)
{
	size_t off = im->text.len;

	mbr_buf_add(&im->text, s, strlen(s) + 1);
	return off;
}

static void receipt_reset(struct mbr_sale_import *im)
{
	im->open = 0;
	im->nlines = 0;
	im->nin = 0;
	im->nraw = 0;
	mbr_buf_reset(&im->text);
	mbr_buf_reset(&im->raw);
	mbr_buf_reset(&im->bad);
	im->member[0] = im->payment[0] = im->original[0] = im->coupon[0] = '\0';
	im->has_ahead = im->absent_before = im->has_ts_ahead = 0;
}

/* Hand every row of a rejected receipt to the reject callback. */
/* The set slot of the open receipt's key (in key, NUL-terminated). */
static size_t *rejected_find(struct mbr_sale_import *im, const char *key)
{
	size_t mask = im->rejected_slots - 1, i = (size_t)mbr_hash_str(key) & mask;

	while (im->rejected_slot[i] && strcmp(im->rejected.buf + im->rejected_slot[i], key))
		i = (i + 1) & mask;
	return &im->rejected_slot[i];
}

static void rejected_key(const struct mbr_sale_import *im, char *key, size_t n)
{
	snprintf(key, n, "%s\x1f%s", im->store, im->receipt);
}

/* Was the open receipt rejected earlier in this run? */
static int rejected_has(struct mbr_sale_import *im)
{
	char key[128];

	if (!im->nrejected)
		return 0;
	rejected_key(im, key, sizeof(key));
	return *rejected_find(im, key) != 0;
}

/* Remember the open receipt as rejected: memory grows with rejections only. */
static void rejected_add(struct mbr_sale_import *im)
{
	char key[128];
	size_t *slot, i;

	if ((im->nrejected + 1) * 2 > im->rejected_slots) {
		size_t *old = im->rejected_slot, n = im->rejected_slots;

		im->rejected_slots = n ? 2 * n : 64;
		im->rejected_slot = calloc(im->rejected_slots, sizeof(*im->rejected_slot));
		if (!im->rejected_slot)
			abort();
		for (i = 0; i < n; i++)
			if (old[i])
				*rejected_find(im, im->rejected.buf + old[i]) = old[i];
		free(old);
	}
	if (!im->rejected.len)
		mbr_buf_add(&im->rejected, "", 1);	/* offset 0 means empty */
	rejected_key(im, key, sizeof(key));
	slot = rejected_find(im, key);
	if (!*slot) {
		*slot = im->rejected.len;
		mbr_buf_add(&im->rejected, key, strlen(key) + 1);
		im->nrejected++;
	}
}

static int reject_receipt(struct mbr_sale_import *im)
{
	const char *fields[256];
	size_t r, i;
	int rc = 0;

	im->st.rejected_receipts++;
	im->st.rejected_lines += (long)im->nin;
	rejected_add(im);
	if (im->o.error)
		rc = im->o.error(im->bad.buf, im->o.ctx);
	for (r = 0; r < im->nraw && rc == 0 && im->o.reject; r++) {
		const char *p = im->raw.buf + im->rawrow[r];
		size_t n = im->rawn[r] < 256 ? im->rawn[r] : 256;

		for (i = 0; i < n; i++) {
			fields[i] = p;
			p += strlen(p) + 1;
		}
		rc = im->o.reject(fields, n, im->bad.buf, im->o.ctx);
	}
	return rc;
}

/* --------------------------------------------------------------- members */

/* Find the member named on a receipt, with what scoring needs. */
/* What a sale needs of the member key names, looked up in db; personal
 * data is unsealed only when a birthday multiplier needs it. */
static int lookup_member(struct mbr_db *db, int birthday, const char *key, struct mbr_sale_member *sm)
{
	struct mbr_member m;
	int rc;

	rc = birthday ? mbr_member_get(db, key, &m) : mbr_member_get_brief(db, key, &m);
	if (rc < 0)
		return rc;
	memset(sm, 0, sizeof(*sm));
	sm->id = m.id;
	mbr_copy(sm->uid, sizeof(sm->uid), m.uid);
	mbr_copy(sm->tier, sizeof(sm->tier), m.tier);
	sm->active = !strcmp(m.status, "active");
	/* month-day of the birthday, for birthday multipliers */
	mbr_copy(sm->birthday_md, sizeof(sm->birthday_md), m.birthday[0] ? m.birthday + 5 : "");
	return 0;
}

static int find_member(struct mbr_sale_import *im, const char *key, struct mbr_sale_member *sm)
{
	int rc;

	if (!strcmp(key, im->last_member_key) && im->cached.id) {
		*sm = im->cached;
		return 0;
	}
	if (im->has_ahead && !strcmp(key, im->member))
		*sm = im->ahead;	/* looked up in the reading thread */
	else if ((rc = lookup_member(im->db, im->rules_birthday, key, sm)) < 0)
		return rc;
	mbr_copy(im->last_member_key, sizeof(im->last_member_key), key);
	im->cached = *sm;
	return 0;
}

/* ------------------------------------------------ members looked up ahead */

/*
 * A sale import whose reader reads ahead in a thread can have each line's
 * member looked up there, and its receipt probed, through a connection of
 * its own: mbr_sale_ahead_note is the reader's note callback, and the
 * note comes back with mbr_sale_line_noted.  The thread looks nothing up
 * before mbr_sale_ahead_go, which the caller calls once its import
 * transaction holds the write lock: from then on nobody else can change a
 * member or record a sale until the import ends, and the thread's
 * connection sees the database as it was when the import began.  The
 * import changes nothing a member lookup reads (id, uid, tier, status,
 * birthday), so the thread finds what the import would; a receipt it
 * finds not recorded can only have been recorded since by the import
 * itself, which existing_receipt asks of the import's own record of what
 * it wrote (seen_maybe).
 * The connection is opened at go, as the import's transaction found the
 * database.  In the log (MBR_SHARED_IMPORT, or another program had the
 * database open) it is an ordinary reader, its snapshot taken at go.
 * When the transaction holds the database with a rollback journal
 * (mbr_db_held) a reader's lock would stop the import writing, so the
 * connection takes none (MBR_OPEN_IMMUTABLE) and reads the file while the
 * import writes to it, through a view (view.c) in which a page the import
 * has written since it began cannot be read: a look-up that needs one
 * fails, and the import looks it up itself.  Its schema, settings and
 * first page are read at go, before the import writes anything, and its
 * read transaction keeps them.
 * A note is a run of parts, each a tag byte and its data:
 *   'R' store NUL receipt NUL   the receipt was not recorded before
 *   'T' ts NUL int64_t          the line's time, parsed (mbr_time_parse)
 *   'M' key NUL struct mbr_sale_member   the member key names
 * A receipt found recorded, a time that does not parse, or a key not
 * found, ambiguous or failing, makes no part, and the import looks it up
 * itself and says why.
 * Member lookups are at random: each reads a page of the key's brief
 * index (member.c, MEMBER_BRIEF_COLS), and a page not in this
 * connection's cache is a read(2).  The cache (AHEAD_CACHE_KIB) is what
 * the memory bar leaves: 200k members are 8.7 MiB of such pages.  With
 * 2 MiB, when a lookup read a page of members_card and one of members
 * (21 MiB), a 1M-line import made 426k reads here (a fifth of this
 * thread's time), with 4 MiB (the accumulators gave up 2 MiB for it,
 * AGG_SLOTS) 366k; with the brief index, 3M lines make 377k, not 1.07M.
 */
#define AHEAD_CACHE_KIB 4096

struct mbr_sale_ahead {
	char *path;
	struct mbr_db *db;		/* opened at go */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;			/* 0: wait for go, 1: go, -1: cancelled */
	int birthday;			/* unseal personal data, for birthdays */
	char store[32];			/* the import's --store, for lines without one */
	const char *time_format;	/* the import's --time-format, or NULL */
	char last_ts_text[64];		/* the last time parsed, and its value */
	int64_t last_ts;
	char last[64];			/* the last key looked up, and its member */
	int last_found;
	struct mbr_sale_member last_sm;
	char last_store[32], last_receipt[64];	/* the last receipt probed */
	int last_absent;		/* not recorded before the import */
	int no_sales;			/* the database held no sale then: nothing to probe */
};

int mbr_sale_ahead_open(const char *path, struct mbr_sale_ahead **out)
{
	struct mbr_sale_ahead *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a || !(a->path = strdup(path))) {
		free(a);
		return MBR_ENOMEM;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	*out = a;
	return 0;
}

/* go (1) once, cancel (-1) for good */
static void ahead_set(struct mbr_sale_ahead *a, int state)
{
	pthread_mutex_lock(&a->mu);
	if (state < 0 || a->state == 0)
		a->state = state;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/*
 * Open the thread's connection and begin the one read transaction it
 * keeps for the whole import (a transaction per look-up took locks and
 * checked the files each time): 0, or < 0 and the thread looks nothing
 * up.
 */
static int ahead_begin(struct mbr_sale_ahead *a, const struct mbr_sale_import *im)
{
	char sql[64];
	sqlite3_stmt *st;
	int rc;

	if ((rc = mbr_db_open(a->path, mbr_db_held(im->db) ? MBR_OPEN_IMMUTABLE : 0, "mbr-sale", &a->db)) < 0)
		return rc;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", AHEAD_CACHE_KIB);
	(void)mbr_db_exec(a->db, sql);	/* a larger cache is no harm */
	if ((rc = mbr_db_exec(a->db, "BEGIN")) < 0)
		return rc;
	/* a first load probes no receipt (else a tenth of this thread) */
	if (!(st = mbr_stmt(a->db, "SELECT NOT EXISTS (SELECT 1 FROM sales)")))
		return MBR_EDB;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		a->no_sales = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : mbr_db_sqlerr(a->db, "sales");
}

void mbr_sale_ahead_go(struct mbr_sale_ahead *a, const struct mbr_sale_import *im)
{
	if (!a)
		return;
	if (ahead_begin(a, im) < 0) {
		ahead_set(a, -1);	/* the import looks everything up itself */
		return;
	}
	/* read by the thread only after go */
	a->birthday = im->rules_birthday;
	mbr_copy(a->store, sizeof(a->store), im->o.store ? im->o.store : "");
	a->time_format = im->o.time_format;	/* the caller's, for the whole import */
	ahead_set(a, 1);
}

void mbr_sale_ahead_cancel(struct mbr_sale_ahead *a)
{
	if (a)
		ahead_set(a, -1);
}

void mbr_sale_ahead_free(struct mbr_sale_ahead *a)
{
	if (!a)
		return;
	mbr_db_close(a->db);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a->path);
	free(a);
}

/* Is (store, receipt) among the sales db holds?  1, 0 or < 0.  A probe of
 * the unique (store, receipt) index alone, for the import and for the
 * reading thread's connection. */
static int receipt_recorded(struct mbr_db *db, const char *store, const char *receipt)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT 1 FROM sales WHERE store = ? AND receipt = ?");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, store, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, receipt, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc == SQLITE_ROW;
	return mbr_db_sqlerr(db, "sales");
}

void mbr_sale_ahead_note(void *ctx, const char *const *val, struct mbr_buf *note)
{
	struct mbr_sale_ahead *a = ctx;
	char key[64], store[32], receipt[64];
	int state;

	pthread_mutex_lock(&a->mu);
	while (a->state == 0)
		pthread_cond_wait(&a->cv, &a->mu);
	state = a->state;
	pthread_mutex_unlock(&a->mu);
	if (state < 0)
		return;
	/* the receipt, named as sale_line names it */
	if (trim_copy(store, sizeof(store), val[MBR_S_STORE] && !blank(val[MBR_S_STORE]) ? val[MBR_S_STORE]
				 : a->store) == 0 && store[0] &&
	    trim_copy(receipt, sizeof(receipt), val[MBR_S_RECEIPT] ? val[MBR_S_RECEIPT] : "") == 0 && receipt[0]) {
		if (strcmp(receipt, a->last_receipt) || strcmp(store, a->last_store)) {
			mbr_copy(a->last_store, sizeof(a->last_store), store);
			mbr_copy(a->last_receipt, sizeof(a->last_receipt), receipt);
			/* not noted when recorded, or when the probe failed: the
			 * import probes again and says why */
			a->last_absent = a->no_sales || receipt_recorded(a->db, store, receipt) == 0;
		}
		if (a->last_absent) {
			mbr_buf_addc(note, 'R');
			mbr_buf_add(note, store, strlen(store) + 1);
			mbr_buf_add(note, receipt, strlen(receipt) + 1);
		}
	}
	if (val[MBR_S_TS] && strlen(val[MBR_S_TS]) < sizeof(a->last_ts_text)) {
		if (strcmp(val[MBR_S_TS], a->last_ts_text) &&
		    mbr_time_parse(val[MBR_S_TS], a->time_format, &a->last_ts) == 0)
			mbr_copy(a->last_ts_text, sizeof(a->last_ts_text), val[MBR_S_TS]);
		if (!strcmp(val[MBR_S_TS], a->last_ts_text)) {
			mbr_buf_addc(note, 'T');
			mbr_buf_add(note, a->last_ts_text, strlen(a->last_ts_text) + 1);
			mbr_buf_add(note, &a->last_ts, sizeof(a->last_ts));
		}
	}
	if (!val[MBR_S_MEMBER] || trim_copy(key, sizeof(key), val[MBR_S_MEMBER]) < 0 || !key[0])
		return;
	if (strcmp(key, a->last)) {
		mbr_copy(a->last, sizeof(a->last), key);
		a->last_found = lookup_member(a->db, a->birthday, key, &a->last_sm) == 0;
	}
	if (!a->last_found)
		return;
	mbr_buf_addc(note, 'M');
	mbr_buf_add(note, key, strlen(key) + 1);
	mbr_buf_add(note, &a->last_sm, sizeof(a->last_sm));
}

/*
 * Take what the line's note says of the open receipt: when ts (the
 * line's time, as written) is not NULL, that it was not recorded before
 * the import and its time; when member, its member.  A part for another
 * receipt, time or key is not taken.
 */
static void take_note(struct mbr_sale_import *im, const char *note, size_t len, const char *ts, int member)
{
	const char *p = note, *end = note + len;

	while (p < end) {
		char tag = *p++;
		size_t k = strnlen(p, (size_t)(end - p));

		if (k == (size_t)(end - p))
			return;	/* not a note of ours */
		if (tag == 'R') {
			const char *r = p + k + 1;
			size_t kr = strnlen(r, (size_t)(end - r));

			if (kr == (size_t)(end - r))
				return;
			if (ts && !strcmp(p, im->store) && !strcmp(r, im->receipt))
				im->absent_before = 1;
			p = r + kr + 1;
		} else if (tag == 'T') {
			if ((size_t)(end - (p + k + 1)) < sizeof(int64_t))
				return;
			if (ts && !strcmp(p, ts)) {
				memcpy(&im->ts_ahead, p + k + 1, sizeof(int64_t));
				im->has_ts_ahead = 1;
			}
			p += k + 1 + sizeof(int64_t);
		} else if (tag == 'M') {
			if ((size_t)(end - (p + k + 1)) < sizeof(im->ahead))
				return;
			if (member && !strcmp(p, im->member)) {
				memcpy(&im->ahead, p + k + 1, sizeof(im->ahead));
				im->has_ahead = 1;
			}
			p += k + 1 + sizeof(im->ahead);
		} else {
			return;
		}
	}
}

/* ------------------------------------------------------------ payments */

static int parse_payments(struct mbr_sale_import *im, const char *text, struct payment *pay, int *npay)
{
	const char *p = text;
	int exp = mbr_db_exponent(im->db);

	*npay = 0;
	while (*p) {
		size_t n = strcspn(p, ";|");
		char item[64], *colon;
		struct payment *y;

		if (n >= sizeof(item)) {
			receipt_bad(im, "payment: '%.*s' is too long", (int)(n > 30 ? 30 : n), p);
			return MBR_EINVAL;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		p += n;
		if (*p)
			p++;
		if (blank(item))
			continue;
		if (*npay == MAX_PAYMENTS) {
			receipt_bad(im, "payment: more than %d methods", MAX_PAYMENTS);
			return MBR_EINVAL;
		}
		y = &pay[*npay];
		memset(y, 0, sizeof(*y));
		colon = strchr(item, ':');
		if (colon) {
			*colon = '\0';
			if (mbr_money_parse(colon + 1, exp, &y->amount) < 0) {
				receipt_bad(im, "payment: '%s' is not an amount", colon + 1);
				return MBR_EINVAL;
			}
			y->has_amount = 1;
		}
		{
			char *eq = strchr(item, '=');

			if (eq) {
				*eq = '\0';
				if (mbr_coupon_code_normalize(eq + 1, y->gift) < 0) {
					receipt_bad(im, "payment: '%s' is not a gift card code", eq + 1);
					return MBR_EINVAL;
				}
			}
		}
		if (trim_copy(y->method, sizeof(y->method), item) < 0 || !mbr_payment_method_valid(y->method) ||
		    (strcmp(y->method, "gift_card") == 0) != (y->gift[0] != '\0')) {
			receipt_bad(im, "payment: unknown method '%s' (cash, card, wechat, alipay, points, stored_value,"
				    " gift_card=CODE, other)", item);
			return MBR_EINVAL;
		}
		(*npay)++;
	}
	return 0;
}

/*
 * An item of `mbr-sale add`, SKU:QTY:PRICE[:DISCOUNT], copied into buf
 * (size bytes) and split there at its colons into f[0..3] (f[3] NULL
 * without a discount): 0, or MBR_EINVAL when it does not fit in buf or
 * has fewer than three or more than four fields.  A SKU holding a colon
 * cannot be given this way (a file can).
 */
int mbr_sale_item_split(const char *item, char *buf, size_t size, const char *f[4])
{
	size_t n = strlen(item);
	char *p = buf;
	int k = 0;

	f[0] = f[1] = f[2] = f[3] = NULL;
	if (n >= size)
		return MBR_EINVAL;
	memcpy(buf, item, n + 1);
	for (;;) {
		if (k == 4)
			return MBR_EINVAL;
		f[k++] = p;
		if (!(p = strchr(p, ':')))
			break;
		*p++ = '\0';
	}
	return k < 3 ? MBR_EINVAL : 0;
}

int mbr_payment_method_valid(const char *m)
{
	static const char *const methods[] = { "cash", "card", "wechat", "alipay", "points", "stored_value", "gift_card",
					       "other", NULL };
	int i;

	for (i = 0; methods[i]; i++)
		if (!strcmp(m, methods[i]))
			return 1;
	return 0;
}

/* Fill in amounts: one method without an amount takes what is left. */
static int settle_payments(struct mbr_sale_import *im, struct payment *pay, int *npay, int64_t total)
{
	int64_t sum = 0;
	int i, open = -1;

	if (*npay == 0) {
		memset(&pay[0], 0, sizeof(pay[0]));
		mbr_copy(pay[0].method, sizeof(pay[0].method), "cash");
		pay[0].amount = total;
		*npay = 1;
		return 0;
	}
	for (i = 0; i < *npay; i++) {
		int k;
		for (k = 0; k < i; k++) {
			if (!strcmp(pay[k].method, pay[i].method)) {
				receipt_bad(im, "payment: method '%s' given twice", pay[i].method);
				return MBR_EINVAL;
			}
		}
		if (pay[i].has_amount) {
			if (mbr_add_i64(sum, pay[i].amount, &sum) < 0) {
				receipt_bad(im, "payment: amounts overflow");
				return MBR_EINVAL;
			}
		} else if (open >= 0) {
			receipt_bad(im, "payment: only one method may leave out its amount");
			return MBR_EINVAL;
		} else {
			open = i;
		}
	}
	if (open >= 0)
		pay[open].amount = total - sum;
	else if (sum != total) {
		char a[MBR_MONEY_BUFSZ], b[MBR_MONEY_BUFSZ];
		int exp = mbr_db_exponent(im->db);
		receipt_bad(im, "payment: payments add up to %s, the receipt to %s",
			    mbr_money_format(sum, exp, a), mbr_money_format(total, exp, b));
		return MBR_EINVAL;
	}
	for (i = 0; i < *npay; i++) {
		if ((total >= 0 && pay[i].amount < 0) || (total < 0 && pay[i].amount > 0)) {
			receipt_bad(im, "payment: '%s' has the wrong sign for this receipt", pay[i].method);
			return MBR_EINVAL;
		}
	}
	return 0;
}

/* ------------------------------------------------------ writing a receipt */

struct original {
	int64_t id, member, total, points_earned, points_paid, returned, reversed, refunded, earn_lot;
	int64_t redeem;		/* its entry paying with points, 0 if none */
	int is_return;
};

static int find_original(struct mbr_sale_import *im, struct original *o)
{
	sqlite3_stmt *st = mbr_stmt(im->db,
		"SELECT s.id, COALESCE(s.member, 0), s.total, s.points_earned, s.points_paid, s.returned,"
		" s.points_reversed, s.points_refunded,"
		" COALESCE((SELECT l.id FROM points_ledger l"
		"           WHERE l.member = s.member AND l.sale = s.id AND l.kind = 'earn' LIMIT 1), 0),"
		" " RECEIPT_IS_RETURN_SQL("s.") " OR s.original IS NOT NULL,"
		" COALESCE((SELECT l.id FROM points_ledger l"
		"           WHERE l.member = s.member AND l.sale = s.id AND l.kind = 'redeem' LIMIT 1), 0)"
		" FROM sales s WHERE s.store = ? AND s.receipt = ?");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, im->store, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, im->original, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		o->id = sqlite3_column_int64(st, 0);
		o->member = sqlite3_column_int64(st, 1);
		o->total = sqlite3_column_int64(st, 2);
		o->points_earned = sqlite3_column_int64(st, 3);
		o->points_paid = sqlite3_column_int64(st, 4);
		o->returned = sqlite3_column_int64(st, 5);
		o->reversed = sqlite3_column_int64(st, 6);
		o->refunded = sqlite3_column_int64(st, 7);
		o->earn_lot = sqlite3_column_int64(st, 8);
		o->is_return = sqlite3_column_int(st, 9);
		o->redeem = sqlite3_column_int64(st, 10);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? MBR_ENOTFOUND : mbr_db_sqlerr(im->db, "sales");
}

/* floor(a * b / c) for non-negative a, b and c, exact; 0 when c is 0
 * (a sale paid all with count-card uses has nothing to share out). */
static int64_t muldiv(int64_t a, int64_t b, int64_t c)
{
	return c > 0 ? (int64_t)((__int128)a * b / c) : 0;
}

/*
 * A return that names its sale gives back the share it returns of each
 * prepaid payment of the sale - points, stored value, gift card - to the
 * account that paid, by itself (cumulatively over all its returns, as
 * the points earned are taken back), and its payment column covers only
 * the rest: value paid from an account never comes back as money or
 * into another account (a gift card's value never as stored value, a
 * bonus never as cash).  The return's payment may name such a method
 * only without an amount or with exactly its share; points may not be
 * named when the sale paid none.  Appends the shares to pay (share set);
 * with nothing else named, the rest is cash.  0, 1 (rejected) or < 0.
 */
static int return_prepaid_parts(struct mbr_sale_import *im, const struct original *o, struct payment *pay,
				int *npay, int64_t total)
{
	static const char *const methods[] = { "points", "stored_value", "gift_card" };
	int exp = mbr_db_exponent(im->db), shares = 0, others = 0, m, i, rc;
	int64_t cum = o->returned - total;	/* returned of the sale after this return */

	for (m = 0; m < 3; m++) {
		sqlite3_stmt *st = mbr_stmt(im->db,
			"SELECT COALESCE((SELECT amount FROM payments WHERE sale = ?1 AND method = ?2), 0),"
			" COALESCE((SELECT -SUM(p.amount) FROM payments p JOIN sales s ON s.id = p.sale"
			"           WHERE s.original = ?1 AND p.method = ?2), 0),"
			" CASE WHEN ?2 = 'gift_card' THEN"
			"  COALESCE((SELECT gift FROM sv_ledger WHERE sale = ?1 AND gift IS NOT NULL LIMIT 1), '') END");
		int64_t paid, before, part;
		char card[MBR_CODE_SZ];
		struct payment *y = NULL;

		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, o->id);
		sqlite3_bind_text(st, 2, methods[m], -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
			sqlite3_reset(st);
			return mbr_db_sqlerr(im->db, "payments");
		}
		paid = sqlite3_column_int64(st, 0);
		before = sqlite3_column_int64(st, 1);
		mbr_copy(card, sizeof(card), sqlite3_column_type(st, 2) == SQLITE_NULL ? "" : (const char *)sqlite3_column_text(st, 2));
		sqlite3_reset(st);
		for (i = 0; i < *npay; i++)
			if (!strcmp(pay[i].method, methods[m]))
				y = &pay[i];
		if (paid <= 0) {
			if (y && m == 0) {
				receipt_bad(im, "%s:%ld: payment: receipt '%s' was not paid with points; a return of it"
					    " cannot pay points back", im->file, im->first_line, im->original);
				return 1;
			}
			continue;
		}
		part = muldiv(paid, cum, o->total) - before;
		if (part < 0)
			part = 0;
		if (y && ((y->has_amount && y->amount != -part) || (m == 2 && strcmp(y->gift, card)))) {
			char a[MBR_MONEY_BUFSZ];

			receipt_bad(im, "%s:%ld: payment: this return of receipt '%s' gives back %s %s by itself;"
				    " leave %s out of its payment", im->file, im->first_line, im->original,
				    mbr_money_format(part, exp, a), m == 0 ? "as points" : m == 1 ? "to stored value" :
				    "to its gift card", methods[m]);
			return 1;
		}
		if (!y) {
			if (!part)
				continue;
			if (*npay + 2 > MAX_PAYMENTS) {
				receipt_bad(im, "%s:%ld: payment: more than %d methods", im->file, im->first_line,
					    MAX_PAYMENTS - 1);
				return 1;
			}
			y = &pay[(*npay)++];
			memset(y, 0, sizeof(*y));
			mbr_copy(y->method, sizeof(y->method), methods[m]);
			mbr_copy(y->gift, sizeof(y->gift), card);
		}
		y->amount = -part;
		y->has_amount = 1;
		y->share = 1;
		shares++;
	}
	for (i = 0; i < *npay; i++) {
		others += !pay[i].share;
		total -= pay[i].share ? pay[i].amount : 0;
	}
	if (shares && !others && total) {	/* the rest in cash, as a receipt without payments */
		memset(&pay[*npay], 0, sizeof(pay[0]));
		mbr_copy(pay[*npay].method, sizeof(pay[0].method), "cash");
		(*npay)++;
	}
	return 0;
}

/* What the sales row of a receipt already recorded says of it. */
struct recorded {
	int64_t id, batch, total, discount, coupon_discount, items, member;
	int member_erased;
	char member_uid[40];
	char original[64];		/* receipt number of the sale it returns, "" if none */
};

/*
 * Blocked Bloom filters of fixed size (BLOOM_BITS): all of a key's bits
 * lie in one 64-byte block (one cache miss a key, not one a bit), picked
 * by a hash of the key (block); k bits in it, 9 bits each of another
 * (bits).  bloom_has is 0 for a key never added and 1 for one added or,
 * the more often the more were added, for another.  Memory stays flat
 * whatever the input.
 */
#define BLOOM_BITS (1u << 23)	/* 1 MiB */
#define BLOOM_BLOCK 512		/* bits: a cache line */

static uint64_t *bloom_block(uint64_t *f, uint64_t block)
{
	return f + (size_t)(block % (BLOOM_BITS / BLOOM_BLOCK)) * (BLOOM_BLOCK / 64);
}

static void bloom_add(uint64_t **f, uint64_t block, uint64_t bits, int k)
{
	uint64_t *b;

	if (!*f) {
		if (!(*f = aligned_alloc(BLOOM_BLOCK / 8, BLOOM_BITS / 8)))
			abort();	/* out of memory, as struct mbr_buf */
		memset(*f, 0, BLOOM_BITS / 8);
	}
	b = bloom_block(*f, block);
	for (; k > 0; k--, bits >>= 9)
		b[(bits & 511) / 64] |= 1ULL << (bits % 64);
}

static int bloom_has(uint64_t *f, uint64_t block, uint64_t bits, int k)
{
	uint64_t *b;

	if (!f)
		return 0;
	b = bloom_block(f, block);
	for (; k > 0; k--, bits >>= 9)
		if (!(b[(bits & 511) / 64] & (1ULL << (bits % 64))))
			return 0;
	return 1;
}

/*
 * The receipts an import recorded (SEEN_K bits a receipt): seen_maybe is
 * 1 for one added or, rarely, for another (about 1 in 1,500 after
 * 350,000 receipts, 1 in 45 after a million; the answer is then only
 * slower: a probe of the database).
 */
#define SEEN_K 4

/* A receipt opens (im->store, im->receipt): its hash, and its block on
 * its way into the cache while the receipt's lines are read. */
static void seen_open(struct mbr_sale_import *im)
{
	im->seen_h = hash_mix(mbr_hash_str(im->store) * 31 ^ mbr_hash_str(im->receipt));
	if (im->seen)
		__builtin_prefetch(bloom_block(im->seen, im->seen_h >> 36));
}

/* The open receipt is recorded (seen_add); was it, or may it have been
 * (seen_maybe)?  Both use its hash from seen_open. */
static void seen_add(struct mbr_sale_import *im)
{
	bloom_add(&im->seen, im->seen_h >> 36, im->seen_h, SEEN_K);
}

static int seen_maybe(const struct mbr_sale_import *im)
{
	return bloom_has(im->seen, im->seen_h >> 36, im->seen_h, SEEN_K);
}

/*
 * What this import sold to whom: (member, SKU) pairs, a member's in one
 * block, SOLD_K bits a SKU.  sold_maybe is 1 for a pair added or, the
 * more often the more this import sold, for another (one SKU in 6 after
 * 2 million member lines; a return of several SKUs needs all).
 */
#define SOLD_K 3

/* The member's block on its way into the cache (the open receipt's). */
static void sold_prefetch(const struct mbr_sale_import *im, int64_t member)
{
	if (im->sold)
		__builtin_prefetch(bloom_block(im->sold, hash_mix((uint64_t)member)));
}

static void sold_add(struct mbr_sale_import *im, int64_t member, const char *sku)
{
	bloom_add(&im->sold, hash_mix((uint64_t)member), prod_hash(sku), SOLD_K);
}

static int sold_maybe(const struct mbr_sale_import *im, int64_t member, const char *sku)
{
	return bloom_has(im->sold, hash_mix((uint64_t)member), prod_hash(sku), SOLD_K);
}

/*
 * Is the open receipt recorded already?  1 (and *r filled) or 0, < 0 on
 * error.  A receipt the reading thread found not recorded before the
 * import, and that the import has not recorded (seen_maybe), is not: no
 * statement runs for it.  Any other not recorded costs one probe of the
 * unique (store, receipt) index alone: the statement reading a recorded
 * one opens five cursors, and opening them was most of a probe's cost.
 */
static int pend_flush(struct mbr_sale_import *im);
static int pend_has(const struct mbr_sale_import *im);

static int existing_receipt(struct mbr_sale_import *im, struct recorded *r)
{
	sqlite3_stmt *st;
	int rc;

	if (im->absent_before && !seen_maybe(im))
		return 0;
	if (pend_has(im) && (rc = pend_flush(im)) < 0)
		return rc;
	if ((rc = receipt_recorded(im->db, im->store, im->receipt)) <= 0)
		return rc;
	st = mbr_stmt(im->db,
		"SELECT COALESCE(s.batch, 0), s.total, s.discount, s.coupon_discount, s.items, COALESCE(s.member, 0),"
		" COALESCE(m.status = 'erased', 0), COALESCE(m.uid, ''), COALESCE(o.receipt, ''), s.id"
		" FROM sales s LEFT JOIN members m ON m.id = s.member LEFT JOIN sales o ON o.id = s.original"
		" WHERE s.store = ? AND s.receipt = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, im->store, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, im->receipt, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->batch = sqlite3_column_int64(st, 0);
		r->total = sqlite3_column_int64(st, 1);
		r->discount = sqlite3_column_int64(st, 2);
		r->coupon_discount = sqlite3_column_int64(st, 3);
		r->items = sqlite3_column_int64(st, 4);
		r->member = sqlite3_column_int64(st, 5);
		r->member_erased = sqlite3_column_int(st, 6);
		mbr_copy(r->member_uid, sizeof(r->member_uid), (const char *)sqlite3_column_text(st, 7));
		mbr_copy(r->original, sizeof(r->original), (const char *)sqlite3_column_text(st, 8));
		r->id = sqlite3_column_int64(st, 9);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(im->db, "sales");
}

/* Did count-card uses of member pay for some of sale (or come back by it)?
 * 1, 0 or < 0. */
static int paid_with_uses(struct mbr_db *db, int64_t sale, int64_t member)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT EXISTS (SELECT 1 FROM count_cards c JOIN count_card_ledger l"
					" ON l.card = c.id WHERE c.member = ?1 AND l.sale = ?2 AND l.kind = 'use')");
	int rc, found = 0;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, member);
	sqlite3_bind_int64(st, 2, sale);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		found = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? found : mbr_db_sqlerr(db, "count cards");
}

/*
 * The open receipt is recorded already (r) by an earlier batch: is it the
 * same receipt (a file imported again, a POS retry), to be skipped as a
 * duplicate?  It is when it has as many items, the same amount before
 * discounts (sum of qty x unit_price: what the row's total and discount
 * add up to, whatever coupons and count-card uses took off), the same
 * total before coupon discounts (unless count-card uses paid for some of
 * it: they took some off too, and the row does not say how much), the
 * same original and the same member.
 * Otherwise it is rejected, saying what differs: most often the rest of a
 * receipt whose lines were apart in a file, whose first run was recorded
 * and the rest rejected.  total, discount and items are the receipt's,
 * from its lines.  0 (the same), 1 (rejected) or < 0.  Statements beyond
 * the probe run only for a receipt recorded already.
 */
static int same_receipt(struct mbr_sale_import *im, const struct recorded *r, int64_t total, int64_t discount,
			int64_t items)
{
	char a[MBR_MONEY_BUFSZ], b[MBR_MONEY_BUFSZ], undo[48];
	int exp = mbr_db_exponent(im->db), rc, differs;
	int64_t was = r->total + r->coupon_discount;	/* its lines' total, as this one's */

	differs = items != r->items || (__int128)total + discount != (__int128)r->total + r->discount;
	if (!differs && total != was) {
		differs = 1;
		if (r->member) {
			if ((rc = paid_with_uses(im->db, r->id, r->member)) < 0)
				return rc;
			differs = !rc;
		}
	}
	if (r->batch)
		snprintf(undo, sizeof(undo), "undo batch %lld", (long long)r->batch);
	else
		mbr_copy(undo, sizeof(undo), "undo it");
	if (differs) {
		receipt_bad(im, "%s:%ld: receipt: '%s' is already recorded with total %s and %lld item%s, not %s and"
			    " %lld%s; if these lines are part of it (its lines were apart in the file), %s,"
			    " sort the file by receipt and import it again; else give this receipt another number",
			    im->file, im->first_line, im->receipt, mbr_money_format(was, exp, a), (long long)r->items,
			    r->items == 1 || r->items == -1 ? "" : "s", mbr_money_format(total, exp, b),
			    (long long)items, was == total && items == r->items ? " (its amount before discounts differs)" : "",
			    undo);
		return 1;
	}
	if (strcmp(im->original, r->original)) {
		receipt_bad(im, "%s:%ld: receipt: '%s' is already recorded %s%s%s, not %s%s%s", im->file,
			    im->first_line, im->receipt, r->original[0] ? "as a return of '" : "naming no original",
			    r->original, r->original[0] ? "'" : "", im->original[0] ? "as a return of '" : "naming no original",
			    im->original, im->original[0] ? "'" : "");
		return 1;
	}
	if (im->member[0]) {
		struct mbr_sale_member sm;

		rc = find_member(im, im->member, &sm);
		if (rc == MBR_ENOTFOUND || rc == MBR_EINVAL) {
			/* an erased member's card and phone no longer name it */
			if (r->member_erased)
				return 0;
			sm.id = 0;
		} else if (rc < 0) {
			return rc;
		}
		if (sm.id == r->member)
			return 0;
	} else if (!r->member || im->original[0]) {
		return 0;	/* a return naming its sale and no member is the sale's member's */
	}
	receipt_bad(im, "%s:%ld: receipt: '%s' is already recorded %s%s, not %s%s%s", im->file, im->first_line,
		    im->receipt, r->member ? "for member " : "with no member", r->member_uid,
		    im->member[0] ? "for '" : "with no member", im->member, im->member[0] ? "'" : "");
	return 1;
}

/*
 * Aggregates are summed in memory per (kind, key, day) and written with
 * one upsert per key when the buffer fills or the import ends: a day's
 * sales touch few keys, so this replaces several upserts per line by a
 * few per day.  The buffer has a fixed size, so memory stays flat.
 */

static const char NO_NAME[] = "";

static uint64_t agg_hash(int kind, int64_t member, int64_t day, const char *store, const char *category)
{
	uint64_t h = (uint64_t)(uintptr_t)store ^ ((uint64_t)(uintptr_t)category * 31);

	h ^= (uint64_t)kind * 0x9e3779b97f4a7c15ULL;
	h ^= (uint64_t)member * 0xbf58476d1ce4e5b9ULL;
	h ^= (uint64_t)day * 0x94d049bb133111ebULL;
	return hash_mix(h);
}

/*
 * The key order of each aggregate table, so that a flush appends to each
 * b-tree (or writes it where it last wrote) instead of here and there:
 * a 100k-line import's aggregate flushes took 342 M instructions in key
 * order, 378 M in the order the keys were first met (and 363 M with the
 * text parts in hash order and four times the accumulators).  These
 * tables are keyed without a rowid, so even rows appended split a page
 * every 30 rows or so (SQLite balances such a b-tree's last pages at
 * each split).  Text compares as SQLite's BINARY collation does (strcmp
 * compares unsigned bytes).
 *   agg_store_day     (store, day)
 *   agg_member_day    (day, member)
 *   agg_category_day  (day, store, category)
 */
static int agg_cmp(const void *x, const void *y)
{
	const struct agg *a = *(const struct agg *const *)x, *b = *(const struct agg *const *)y;
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->kind == AGG_STORE_DAY && (c = strcmp(a->store, b->store)) != 0)
		return c;
	if (a->day != b->day)
		return a->day < b->day ? -1 : 1;
	if (a->kind == AGG_MEMBER_DAY)
		return (a->member > b->member) - (a->member < b->member);
	if (a->kind == AGG_CATEGORY_DAY && (c = strcmp(a->store, b->store)) != 0)
		return c;
	return strcmp(a->category, b->category);
}

static const struct mbr_rows_sql agg_sql[3] = {
	[AGG_STORE_DAY] = MBR_ROWS_SQL("INSERT OR FAIL INTO agg_store_day(store, day, receipts, returns, amount, discount, items,"
				       " member_receipts, member_amount, points_earned) VALUES ",
				       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				       " ON CONFLICT(store, day) DO UPDATE SET receipts = receipts + excluded.receipts,"
				       " returns = returns + excluded.returns, amount = amount + excluded.amount,"
				       " discount = discount + excluded.discount, items = items + excluded.items,"
				       " member_receipts = member_receipts + excluded.member_receipts,"
				       " member_amount = member_amount + excluded.member_amount,"
				       " points_earned = points_earned + excluded.points_earned", 10),
	[AGG_MEMBER_DAY] = MBR_ROWS_SQL("INSERT OR FAIL INTO agg_member_day(member, day, receipts, amount, points_earned) VALUES ",
					"(?, ?, ?, ?, ?)",
					" ON CONFLICT(day, member) DO UPDATE SET receipts = receipts + excluded.receipts,"
					" amount = amount + excluded.amount, points_earned = points_earned + excluded.points_earned",
					5),
	[AGG_CATEGORY_DAY] = MBR_ROWS_SQL("INSERT OR FAIL INTO agg_category_day(category, store, day, lines, qty, amount) VALUES ",
					  "(?, ?, ?, ?, ?, ?)",
					  " ON CONFLICT(day, store, category) DO UPDATE SET lines = lines + excluded.lines,"
					  " qty = qty + excluded.qty, amount = amount + excluded.amount", 6),
};

/* Bind accumulator i of a run of one kind (ctx: struct agg **). */
static void agg_bind(sqlite3_stmt *st, int b, size_t i, void *ctx)
{
	const struct agg *a = ((struct agg **)ctx)[i];
	int k;

	if (a->kind == AGG_STORE_DAY) {
		sqlite3_bind_text(st, b + 1, a->store, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, b + 2, a->day);
		for (k = 0; k < 8; k++)
			sqlite3_bind_int64(st, b + 3 + k, a->v[k]);
	} else if (a->kind == AGG_MEMBER_DAY) {
		sqlite3_bind_int64(st, b + 1, a->member);
		sqlite3_bind_int64(st, b + 2, a->day);
		for (k = 0; k < 3; k++)
			sqlite3_bind_int64(st, b + 3 + k, a->v[k]);
	} else {
		sqlite3_bind_text(st, b + 1, a->category, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, b + 2, a->store, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, b + 3, a->day);
		for (k = 0; k < 3; k++)
			sqlite3_bind_int64(st, b + 4 + k, a->v[k]);
	}
}

/* Write the accumulators out, each table's in key order, and empty the buffer. */
static int agg_flush(struct mbr_sale_import *im)
{
	size_t i, j, n = 0;
	int rc;

	for (i = 0; i < AGG_SLOTS; i++)
		if (im->agg[i].used)
			im->agg_order[n++] = &im->agg[i];
	if (n)
		qsort(im->agg_order, n, sizeof(im->agg_order[0]), agg_cmp);
	for (i = 0; i < n; i = j) {
		int kind = im->agg_order[i]->kind;

		for (j = i; j < n && im->agg_order[j]->kind == kind; j++)
			;
		if ((rc = mbr_rows_write(im->db, &agg_sql[kind], j - i, agg_bind, &im->agg_order[i])) < 0)
			return rc;
	}
	for (i = 0; i < n; i++)
		im->agg_order[i]->used = 0;
	im->nagg = 0;
	return 0;
}

/* The accumulator for a key (store and category: name_intern's; NO_NAME
 * where the kind has none), flushing the buffer first when it is 3/4
 * full. */
static int agg_get(struct mbr_sale_import *im, int kind, int64_t member, int64_t day, const char *store,
		   const char *category, struct agg **out)
{
	size_t i;
	struct agg *a;
	uint64_t h;
	int rc;

	if (im->nagg * 4 >= AGG_SLOTS * 3 && (rc = agg_flush(im)) < 0)
		return rc;
	h = agg_hash(kind, member, day, store, category);
	for (i = (size_t)h & (AGG_SLOTS - 1);; i = (i + 1) & (AGG_SLOTS - 1)) {
		a = &im->agg[i];
		if (!a->used)
			break;
		if (a->hash == h && a->kind == kind && a->member == member && a->day == day && a->store == store &&
		    a->category == category) {
			*out = a;
			return 0;
		}
	}
	memset(a, 0, sizeof(*a));
	a->used = 1;
	a->hash = h;
	a->kind = kind;
	a->member = member;
	a->day = day;
	a->store = store;
	a->category = category;
	im->nagg++;
	*out = a;
	return 0;
}

static int agg_update(struct mbr_sale_import *im, int64_t day, int64_t member, int64_t total, int64_t discount,
		      int64_t items, int64_t points, int is_return)
{
	const char *store = name_intern(im, im->store);
	struct agg *a;
	size_t i;
	int rc;

	if ((rc = agg_get(im, AGG_STORE_DAY, 0, day, store, NO_NAME, &a)) < 0)
		return rc;
	a->v[0] += is_return ? 0 : 1;
	a->v[1] += is_return ? 1 : 0;
	a->v[2] += total;
	a->v[3] += discount;
	a->v[4] += items;
	a->v[5] += member && !is_return ? 1 : 0;
	a->v[6] += member ? total : 0;
	a->v[7] += points;
	if (member) {
		if ((rc = agg_get(im, AGG_MEMBER_DAY, member, day, NO_NAME, NO_NAME, &a)) < 0)
			return rc;
		a->v[0] += is_return ? 0 : 1;
		a->v[1] += total;
		a->v[2] += points;
	}
	for (i = 0; i < im->nlines; i++) {
		const struct line *l = &im->lines[i];

		if ((rc = agg_get(im, AGG_CATEGORY_DAY, 0, day, store, l->category, &a)) < 0)
			return rc;
		a->v[0] += 1;
		a->v[1] += l->qty;
		a->v[2] += l->amount;
	}
	return 0;
}

/* May the receipt's stored-value and gift-card payments be made? 0, 1 (rejected) or < 0. */
static int check_prepaid(struct mbr_sale_import *im, const struct payment *pay, int npay, int64_t member,
			 int is_return, int64_t ts)
{
	int i, rc;

	for (i = 0; i < npay; i++) {
		struct mbr_sv bal;
		struct mbr_gift g;
		char a[MBR_MONEY_BUFSZ], b[MBR_MONEY_BUFSZ];

		if (!strcmp(pay[i].method, "stored_value")) {
			struct mbr_sv_account acct = { member, NULL };

			if (!member) {
				receipt_bad(im, "%s:%ld: payment: stored value needs a member", im->file, im->first_line);
				return 1;
			}
			if (is_return)
				continue;
			if ((rc = mbr_sv_usable(im->db, &acct, ts)) == MBR_EINVAL) {
				receipt_bad(im, "%s:%ld: payment: %s", im->file, im->first_line, mbr_db_errmsg(im->db));
				return 1;
			}
			if (rc < 0 || (rc = mbr_sv_balance(im->db, &acct, &bal)) < 0)
				return rc;
		} else if (!strcmp(pay[i].method, "gift_card")) {
			rc = mbr_gift_get(im->db, pay[i].gift, &g);
			if (rc == MBR_ENOTFOUND) {
				receipt_bad(im, "%s:%ld: payment: %s", im->file, im->first_line, mbr_db_errmsg(im->db));
				return 1;
			}
			if (rc < 0)
				return rc;
			/* at the sale's time, as count cards and coupons are */
			if (strcmp(g.state, "active") || (g.expires_at && g.expires_at <= ts)) {
				receipt_bad(im, "%s:%ld: payment: gift card %s is %s", im->file, im->first_line, g.code,
					    strcmp(g.state, "active") ? g.state : "expired");
				return 1;
			}
			if (is_return)
				continue;
			bal = g.balance;
		} else {
			continue;
		}
		if (bal.principal + bal.bonus < pay[i].amount) {
			receipt_bad(im, "%s:%ld: payment: %s holds %s, the receipt pays %s with it", im->file, im->first_line,
				    !strcmp(pay[i].method, "gift_card") ? "the gift card" : "the member's stored value",
				    mbr_money_format(bal.principal + bal.bonus, mbr_db_exponent(im->db), a),
				    mbr_money_format(pay[i].amount, mbr_db_exponent(im->db), b));
			return 1;
		}
	}
	return 0;
}

/*
 * Split a return's credit of back to account a into principal and bonus
 * in the proportion the referenced sale drew them from that account,
 * cumulatively: after this credit, the principal credited back to it
 * over all the sale's returns is floor(credited so far x principal
 * drawn / drawn), so returns in parts add up to exactly what one whole
 * return gives, and a bonus never comes back as principal.
 */
static int return_credit_split(struct mbr_sale_import *im, const struct original *o, const struct mbr_sv_account *a,
			       int64_t back, struct mbr_sv *used)
{
	sqlite3_stmt *st = mbr_stmt(im->db,
		"SELECT -COALESCE(SUM(principal), 0), -COALESCE(SUM(bonus), 0) FROM sv_ledger"
		" WHERE sale = ?1 AND kind = 'spend' AND (member = ?2 OR gift = ?3)"
		" UNION ALL SELECT COALESCE(SUM(l.principal), 0), COALESCE(SUM(l.bonus), 0)"
		" FROM sv_ledger l JOIN sales s ON s.id = l.sale"
		" WHERE s.original = ?1 AND l.kind = 'credit' AND (l.member = ?2 OR l.gift = ?3)");
	int64_t drawn_p, drawn_b, done_p, done_b, after, want_p;
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, o->id);
	if (a->member)
		sqlite3_bind_int64(st, 2, a->member);
	if (a->gift)
		sqlite3_bind_text(st, 3, a->gift, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		drawn_p = sqlite3_column_int64(st, 0);
		drawn_b = sqlite3_column_int64(st, 1);
		rc = sqlite3_step(st);
		done_p = sqlite3_column_int64(st, 0);
		done_b = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return mbr_db_sqlerr(im->db, "returns");
	after = done_p + done_b + back;
	if (drawn_p + drawn_b <= 0 || after >= drawn_p + drawn_b)
		want_p = drawn_p + (after - drawn_p - drawn_b);	/* all that was drawn, and beyond as principal */
	else
		want_p = (int64_t)((__int128)after * drawn_p / (drawn_p + drawn_b));
	used->principal = want_p - done_p;
	if (used->principal < 0)
		used->principal = 0;
	if (used->principal > back)
		used->principal = back;
	used->bonus = back - used->principal;
	return 0;
}

/* "STORE/RECEIPT", the open receipt's reference in ledgers (both fit:
 * 31 and 63 bytes at most). */
static void receipt_ref(const struct mbr_sale_import *im, char *ref, size_t size)
{
	size_t a = strlen(im->store), b = strlen(im->receipt);

	if (a + 1 + b >= size) {
		snprintf(ref, size, "%s/%s", im->store, im->receipt);
		return;
	}
	memcpy(ref, im->store, a);
	ref[a] = '/';
	memcpy(ref + a + 1, im->receipt, b + 1);
}

/*
 * Pay (or, for returns, pay back) the receipt's stored-value and
 * gift-card parts, and use its count-card uses.  A return's share of
 * its sale's prepaid payment goes back in the proportion of principal
 * and bonus the sale drew; any other credit, as principal.
 */
static int pay_prepaid(struct mbr_sale_import *im, const struct payment *pay, int npay, int64_t member,
		       const struct original *orig, int64_t sale, int64_t ts)
{
	struct mbr_db *db = im->db;
	int64_t sv_p = 0, sv_b = 0;
	char ref[128];
	size_t k;
	int i, rc;

	for (i = 0; i < npay; i++) {
		struct mbr_sv_account acct = { member, NULL };
		struct mbr_sv used;

		if (!strcmp(pay[i].method, "gift_card")) {
			acct.member = 0;
			acct.gift = pay[i].gift;
		} else if (strcmp(pay[i].method, "stored_value")) {
			continue;
		}
		receipt_ref(im, ref, sizeof(ref));	/* here: most receipts need none */
		if (pay[i].amount > 0) {
			if ((rc = mbr_sv_spend(db, &acct, pay[i].amount, sale, im->store, ts, ref, &used)) < 0)
				return rc == MBR_EINVAL ? MBR_EDB : rc;	/* checked above: cannot fail now */
			sv_p += used.principal;
			sv_b += used.bonus;
		} else if (pay[i].amount < 0) {
			int64_t back = -pay[i].amount;

			used.principal = back;	/* a credit of its own (no sale named): principal */
			used.bonus = 0;
			if (orig && pay[i].share && (rc = return_credit_split(im, orig, &acct, back, &used)) < 0)
				return rc;
			if ((rc = mbr_sv_credit(db, &acct, &used, sale, im->store, ts, ref)) < 0)
				return rc;
			sv_p -= used.principal;
			sv_b -= used.bonus;
		}
	}
	if (sv_p || sv_b) {
		sqlite3_stmt *st = mbr_stmt(db, "UPDATE sales SET sv_principal = ?, sv_bonus = ? WHERE id = ?");

		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, sv_p);
		sqlite3_bind_int64(st, 2, sv_b);
		sqlite3_bind_int64(st, 3, sale);
		if ((rc = mbr_stmt_done(db, st)) < 0)
			return rc;
	}
	for (k = 0; k < im->nlines; k++) {
		const struct line *l = &im->lines[k];

		if (l->card_uses > 0 &&
		    (rc = mbr_count_use(db, member, im->text.buf + l->sku, l->card_uses, sale, im->store, ts)) < 0)
			return rc;
		if (l->card_uses < 0 && orig &&
		    (rc = mbr_count_give_back(db, orig->id, im->text.buf + l->sku, -l->card_uses, sale, im->store, ts)) < 0)
			return rc == MBR_EINVAL ? MBR_EDB : rc;	/* checked above: cannot fail now */
	}
	return 0;
}

/* Units of sku that sale sold (its lines of either sign, summed). */
static int units_sold(struct mbr_db *db, int64_t sale, const char *sku, int64_t *sold)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT COALESCE(SUM(qty), 0) FROM sale_lines WHERE sale = ? AND sku = ?");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, sale);
	sqlite3_bind_text(st, 2, sku, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*sold = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : mbr_db_sqlerr(db, "sale lines");
}

/* Units of the receipt's k-th line's SKU it gives back (all its lines of that SKU). */
static int64_t units_back(const struct mbr_sale_import *im, size_t k)
{
	const char *sku = im->text.buf + im->lines[k].sku;
	int64_t back = 0;
	size_t j;

	for (j = 0; j < im->nlines; j++)
		if (!strcmp(im->text.buf + im->lines[j].sku, sku))
			back -= im->lines[j].qty;
	return back;
}

/*
 * A member's return that names no sale is scored as of the sale it gives
 * back, when one can be told: by the rules version that scored that sale,
 * with that day's multipliers and birthday, not the return's.  Else goods
 * bought on a double-points day and given back on another day without
 * naming the sale would keep half their points.  The sale is the latest
 * of the member's 100 latest sales that earned points or were paid with
 * them (ledger entries; a sale paid all in points earns none, and its
 * return takes none), at or before the return's time, that is not a
 * return, sold every product given back in
 * at least the units given back, and has at least the return's amount
 * left of its total (what earlier returns, named or matched, left).  The
 * return then counts against it as a named one does (return_matches), so
 * that the same goods cannot be given back against it twice.  Fills m:
 * the sale, its time and the points it has left to reverse (a cap on the
 * reversal).  1 if a sale matched, 0 if none, < 0 on error.
 */
struct match {
	int64_t sale, when, cap, version;
};

static int match_sale(struct mbr_sale_import *im, int64_t member, int64_t ts, int64_t amount, struct match *m)
{
	sqlite3_stmt *st = mbr_stmt(im->db,
		"SELECT s.id, s.ts, MAX(s.points_earned - s.points_reversed, 0), s.rules_version FROM points_ledger l"
		" JOIN sales s ON s.id = l.sale"
		" WHERE l.member = ?1 AND l.ts <= ?2 AND (l.kind = 'earn' OR l.kind = 'redeem') AND l.source = 'sale'"
		"   AND s.member = ?1 AND s.original IS NULL AND NOT " RECEIPT_IS_RETURN_SQL("s.")
		"   AND s.total - s.returned >= ?3"
		" ORDER BY l.ts DESC, l.id DESC LIMIT 100");
	int rc, found = 0;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, member);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_int64(st, 3, amount);
	while (!found && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t sale = sqlite3_column_int64(st, 0), sold;
		size_t k;

		found = 1;
		for (k = 0; k < im->nlines && found; k++) {
			int64_t back = units_back(im, k);

			if (back <= 0)
				continue;
			if ((rc = units_sold(im->db, sale, im->text.buf + im->lines[k].sku, &sold)) < 0) {
				sqlite3_reset(st);
				return rc;
			}
			found = sold >= back;
		}
		if (found) {
			m->sale = sale;
			m->when = sqlite3_column_int64(st, 1);
			m->cap = sqlite3_column_int64(st, 2);
			m->version = sqlite3_column_int64(st, 3);
		}
	}
	if (!found && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		return mbr_db_sqlerr(im->db, "sales");
	}
	sqlite3_reset(st);
	return found;
}

/*
 * Can a sale of member match the open return (match_sale)?  0 when none
 * can: no sale this import recorded sold the member every SKU given back
 * (sold_maybe), and the member has no ledger entry from before the
 * import (none at all on a first load).  Then match_sale's query, which
 * reads every one of the member's entries and the sale of each (a third
 * of a return's cost, at random pages), is not run.  Else 1 (or < 0).
 */
static int match_possible(struct mbr_sale_import *im, int64_t member)
{
	sqlite3_stmt *st;
	size_t k;
	int rc;

	for (k = 0; k < im->nlines; k++)
		if (units_back(im, k) > 0 && !sold_maybe(im, member, im->text.buf + im->lines[k].sku))
			break;
	if (k == im->nlines)
		return 1;	/* this import may have sold them all */
	if (!im->ledger_before)
		return 0;
	/* entries before the import's cannot be pending: no flush */
	st = mbr_stmt_settled(im->db, "SELECT 1 FROM points_ledger WHERE member = ? AND id <= ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, member);
	sqlite3_bind_int64(st, 2, im->ledger_before);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc == SQLITE_ROW;
	return mbr_db_sqlerr(im->db, "points ledger");
}

/*
 * A return naming its sale gives back goods the sale sold: of each SKU,
 * at most the units the sale had (what is left of the sale's total,
 * checked apart, keeps its returns within what it was paid, so a unit
 * may come back in parts, as price adjustments do).  0, 1 (rejected) or
 * < 0.
 */
static int return_units_sold(struct mbr_sale_import *im, const struct original *o)
{
	size_t k, j;
	int rc;

	for (k = 0; k < im->nlines; k++) {
		const char *sku = im->text.buf + im->lines[k].sku;
		int64_t back = 0, sold;

		for (j = 0; j < k && strcmp(im->text.buf + im->lines[j].sku, sku); j++)
			;
		if (j < k)
			continue;	/* this SKU is counted already */
		back = units_back(im, k);
		if (back <= 0)
			continue;
		if ((rc = units_sold(im->db, o->id, sku, &sold)) < 0)
			return rc;
		if (back > sold) {
			receipt_bad(im, "%s:%ld: qty: %lld of %s returned, but receipt '%s' sold %lld of it",
				    im->file, im->lines[k].lineno, (long long)back, sku, im->original,
				    (long long)(sold > 0 ? sold : 0));
			return 1;
		}
	}
	return 0;
}

/*
 * A return of a sale that was paid (in part) with count-card uses: as
 * many returned units of each SKU as the sale paid with uses, less what
 * its earlier returns gave back, are given back as uses (card_uses < 0)
 * instead of money; only the rest is paid back.
 */
static int return_count_uses(struct mbr_sale_import *im, const struct original *o, int64_t *total, int64_t *discount)
{
	size_t k, j;
	int rc;

	for (k = 0; k < im->nlines; k++) {
		struct line *l = &im->lines[k];
		const char *sku = im->text.buf + l->sku;
		int64_t avail, n, back;

		if (l->qty >= 0)
			continue;
		if ((rc = mbr_count_returnable(im->db, o->id, sku, &avail)) == MBR_EINVAL) {
			receipt_bad(im, "%s:%ld: %s", im->file, im->first_line, mbr_db_errmsg(im->db));
			return 1;
		}
		if (rc < 0)
			return rc;
		for (j = 0; j < k; j++)		/* earlier lines of the same SKU took some */
			if (!strcmp(im->text.buf + im->lines[j].sku, sku))
				avail += im->lines[j].card_uses;
		if (avail <= 0)
			continue;
		n = -l->qty < avail ? -l->qty : avail;
		back = n * l->unit_price;
		if (back > -l->amount)
			back = -l->amount;
		l->card_uses = -n;
		l->discount -= back;
		l->amount += back;
		*total += back;
		*discount -= back;
	}
	return 0;
}

/* Take count-card uses for the receipt's lines (not yet written). */
static int apply_count_cards(struct mbr_sale_import *im, int64_t member, int64_t ts, int64_t *total, int64_t *discount)
{
	size_t k, j;
	int rc;

	for (k = 0; k < im->nlines; k++) {
		struct line *l = &im->lines[k];
		const char *sku = im->text.buf + l->sku;
		int64_t avail, off;

		l->card_uses = 0;
		if (l->qty <= 0)
			continue;
		if ((rc = mbr_count_available(im->db, member, sku, ts, &avail)) < 0)
			return rc;
		for (j = 0; j < k; j++)		/* earlier lines of the same SKU took some */
			if (!strcmp(im->text.buf + im->lines[j].sku, sku))
				avail -= im->lines[j].card_uses;
		if (avail <= 0)
			continue;
		l->card_uses = l->qty < avail ? l->qty : avail;
		off = l->card_uses * l->unit_price;
		if (off > l->amount)
			off = l->amount;
		l->discount += off;
		l->amount -= off;
		*total -= off;
		*discount += off;
	}
	return 0;
}

/* Is line k in the comma list of categories ("": every line)? */
static int line_in_categories(struct mbr_sale_import *im, size_t k, const char *cats)
{
	const char *cat = im->lines[k].category;
	size_t n = strlen(cat);

	if (!*cats)
		return 1;
	while (*cats) {
		size_t m = strcspn(cats, ",");
		if (m == n && !strncmp(cats, cat, m))
			return 1;
		cats += m + (cats[m] != '\0');
	}
	return 0;
}

/*
 * Take a coupon's discount d off what is left of the lines of its
 * categories, pro rata to those amounts (a line with nothing left takes
 * nothing), exactly in minor units: a line takes floor(d * cum / pool)
 * less the same for the lines before it, cum being the amounts left up to
 * and including it.  The shares sum to d, none is more than its line has
 * left, and the rounding remainder falls on the later lines, the last
 * taking what completes d.  d is at most pool (see apply_coupons).
 */
static void coupon_take_off(struct mbr_sale_import *im, const char *cats, int64_t d)
{
	__int128 pool = 0, cum = 0;
	int64_t before = 0, upto;
	size_t k;

	for (k = 0; k < im->nlines; k++)
		if (im->lines[k].coupon_left > 0 && line_in_categories(im, k, cats))
			pool += im->lines[k].coupon_left;
	if (pool == 0)
		return;
	for (k = 0; k < im->nlines; k++) {
		struct line *l = &im->lines[k];

		if (l->coupon_left <= 0 || !line_in_categories(im, k, cats))
			continue;
		cum += l->coupon_left;
		upto = (int64_t)(d * cum / pool);
		l->coupon_left -= upto - before;
		before = upto;
	}
}

/*
 * Check the receipt's coupons (codes separated by ';') against its member,
 * store, time and amount; each, in the order given, takes its discount off
 * what earlier coupons left of the amount it applies to (the lines of its
 * categories, or the whole receipt), and that discount is then shared out
 * over those lines (coupon_take_off) for the coupons after it.
 * Several coupons on one receipt must all allow stacking ("all").
 * Returns 0, 1 (rejected, im->bad says why) or < 0.
 */
static int apply_coupons(struct mbr_sale_import *im, const struct mbr_sale_member *sm, int64_t ts, int is_return,
			 int *ncodes, char codes[][MBR_CODE_SZ], int64_t *amounts, int64_t *discount)
{
	const char *p = im->coupon;
	int64_t total = 0, left;
	size_t k;
	int n = 0, i, rc, stack_all[MAX_COUPONS];

	for (k = 0; k < im->nlines; k++) {
		im->lines[k].coupon_left = im->lines[k].amount;
		total += im->lines[k].amount;
	}
	left = total;
	*discount = 0;
	if (is_return) {
		receipt_bad(im, "%s:%ld: coupon: a return cannot use a coupon", im->file, im->first_line);
		return 1;
	}
	if (total == 0) {
		/* say so, not "a return": all its lines may be paid with count-card uses */
		receipt_bad(im, "%s:%ld: coupon: the receipt has nothing left to take a discount off",
			    im->file, im->first_line);
		return 1;
	}
	while (*p) {
		size_t l = strcspn(p, ";|");
		char code[MBR_CODE_SZ];
		struct mbr_coupon_use u;
		struct mbr_coupon c;
		int64_t amount = 0;

		if (l == 0) {
			p += p[l] != '\0';
			continue;
		}
		if (l >= sizeof(code)) {
			receipt_bad(im, "%s:%ld: coupon: '%.*s...' is too long to be a code", im->file, im->first_line, 20,
				    p);
			return 1;
		}
		memcpy(code, p, l);
		code[l] = '\0';
		p += l + (p[l] != '\0');
		if (n == MAX_COUPONS) {
			receipt_bad(im, "%s:%ld: coupon: more than %d coupons", im->file, im->first_line, MAX_COUPONS);
			return 1;
		}
		memset(&u, 0, sizeof(u));
		u.member = sm->id;
		u.store = im->store;
		u.now = ts;
		u.has_amount = 0;
		if ((rc = mbr_coupon_check(im->db, code, &u, &c)) < 0) {
			if (rc != MBR_EINVAL && rc != MBR_ENOTFOUND)
				return rc;
			receipt_bad(im, "%s:%ld: coupon: %s", im->file, im->first_line, mbr_db_errmsg(im->db));
			return 1;
		}
		/* the amount it applies to: what is left of its categories'
		 * lines, or of everything */
		for (k = 0; k < im->nlines; k++)
			if (line_in_categories(im, k, c.categories))
				amount += im->lines[k].coupon_left;
		if (amount > left)
			amount = left;
		u.has_amount = 1;
		u.amount = amount;
		if ((rc = mbr_coupon_check(im->db, code, &u, &c)) < 0) {
			if (rc != MBR_EINVAL && rc != MBR_ENOTFOUND)
				return rc;
			receipt_bad(im, "%s:%ld: coupon: %s", im->file, im->first_line, mbr_db_errmsg(im->db));
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (!strcmp(codes[i], c.code)) {
				receipt_bad(im, "%s:%ld: coupon: %s given twice", im->file, im->first_line, c.code);
				return 1;
			}
		}
		mbr_copy(codes[n], MBR_CODE_SZ, c.code);
		amounts[n] = amount;
		stack_all[n] = !strcmp(c.stack, "all");
		n++;
		coupon_take_off(im, c.categories, c.discount);
		left -= c.discount;
		*discount += c.discount;
	}
	if (n > 1) {
		for (i = 0; i < n; i++) {
			if (!stack_all[i]) {
				receipt_bad(im, "%s:%ld: coupon: %s does not stack with other coupons", im->file,
					    im->first_line, codes[i]);
				return 1;
			}
		}
	}
	*ncodes = n;
	return 0;
}

/*
 * Validate and write the collected receipt.  Returns 0 when written or
 * skipped as a duplicate, 1 when rejected (im->bad says why), < 0 on a
 * database error.
 */
/*
 * A receipt either sells or returns: a SKU may have lines of both signs
 * (a line voided on the receipt), but SKUs bought on balance and SKUs
 * given back on balance on one receipt are an exchange, which is a
 * return and a sale: scored as one, the returned goods' points would
 * net against the new goods (and below the minimum spend, never come
 * back).  Returns 1 (rejected, said) or 0.
 */
static int mixed_receipt(struct mbr_sale_import *im)
{
	size_t k, j;
	int plus = 0, minus = 0;

	for (k = 0; k < im->nlines; k++) {
		plus |= im->lines[k].qty > 0;
		minus |= im->lines[k].qty < 0;
	}
	if (!plus || !minus)
		return 0;
	plus = minus = 0;
	for (k = 0; k < im->nlines; k++) {
		const char *sku = im->text.buf + im->lines[k].sku;
		int64_t net = 0;

		for (j = 0; j < im->nlines; j++)
			if (!strcmp(im->text.buf + im->lines[j].sku, sku))
				net += im->lines[j].qty;
		plus |= net > 0;
		minus |= net < 0;
	}
	if (plus && minus) {
		receipt_bad(im, "%s:%ld: qty: the receipt sells some goods and returns others; record an exchange"
			    " as a return and a sale", im->file, im->first_line);
		return 1;
	}
	return 0;
}

/*
 * Sales, with their lines and payments (JSON in the sales row, see
 * schema.c), are written behind, PEND_SALES receipts in a few multi-row
 * statements (mbr_rows_write), with ids given here instead of by SQLite.
 * Anything that reads sales, lines or payments must see them first: a
 * receipt that reads them (a return, one naming an original, coupons,
 * count cards) flushes before it reads, and one that writes rows naming
 * its sale in other tables, or whose payments are prepaid, flushes at
 * once after them; the duplicate probe looks at the pending receipts; the
 * import's end flushes.
 */
static const struct mbr_rows_sql sales_sql = MBR_ROWS_SQL(
	"INSERT OR FAIL INTO sales(id, store, receipt, ts, day, member, original, total, discount, items, points_earned,"
	" points_residue, points_paid, rules_version, batch, coupon, coupon_discount, lines, payments) VALUES ",
	"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "", 19);

static void bind_opt_id(sqlite3_stmt *st, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void sale_bind(sqlite3_stmt *st, int b, size_t i, void *ctx)
{
	const struct mbr_sale_import *im = ctx;
	const struct pend_sale *p = &im->psale[i];

	sqlite3_bind_int64(st, b + 1, p->id);
	sqlite3_bind_text(st, b + 2, im->ptext.buf + p->store, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, b + 3, im->ptext.buf + p->receipt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, b + 4, p->ts);
	sqlite3_bind_int64(st, b + 5, p->day);
	bind_opt_id(st, b + 6, p->member);
	bind_opt_id(st, b + 7, p->original);
	sqlite3_bind_int64(st, b + 8, p->total);
	sqlite3_bind_int64(st, b + 9, p->discount);
	sqlite3_bind_int64(st, b + 10, p->items);
	sqlite3_bind_int64(st, b + 11, p->points);
	sqlite3_bind_int64(st, b + 12, p->residue);
	sqlite3_bind_int64(st, b + 13, p->paid);
	sqlite3_bind_int64(st, b + 14, p->version);
	bind_opt_id(st, b + 15, p->batch);
	if (p->coupon != NO_TEXT)
		sqlite3_bind_text(st, b + 16, im->ptext.buf + p->coupon, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, b + 16);
	sqlite3_bind_int64(st, b + 17, p->coupon_discount);
	sqlite3_bind_text(st, b + 18, im->ptext.buf + p->lines, (int)p->lines_len, SQLITE_STATIC);
	sqlite3_bind_text(st, b + 19, im->ptext.buf + p->payments, (int)p->payments_len, SQLITE_STATIC);
}

/* Write the pending sales. */
static int pend_flush(struct mbr_sale_import *im)
{
	int rc;

	if (!im->npsale)
		return 0;
	if ((rc = mbr_rows_write(im->db, &sales_sql, im->npsale, sale_bind, im)) < 0)
		return rc;
	im->npsale = 0;
	mbr_buf_reset(&im->ptext);
	return 0;
}

/* Is the open receipt among the pending ones? */
static int pend_has(const struct mbr_sale_import *im)
{
	size_t i;

	for (i = 0; i < im->npsale; i++)
		if (!strcmp(im->ptext.buf + im->psale[i].receipt, im->receipt) &&
		    !strcmp(im->ptext.buf + im->psale[i].store, im->store))
			return 1;
	return 0;
}

static size_t pend_text(struct mbr_sale_import *im, const char *s)
{
	size_t off = im->ptext.len;

	mbr_buf_add(&im->ptext, s, strlen(s) + 1);
	return off;
}

/* The id the next sale gets: past every id sales ever had (undone sales
 * leave their ids to nobody: ledger entries may name them). */
static int next_sale_id(struct mbr_sale_import *im, int64_t *id)
{
	int rc;

	if (!im->next_sale &&
	    (rc = mbr_query_i64(im->db, "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'sales'), 0),"
				" COALESCE((SELECT MAX(id) FROM sales), 0)) + 1", "sales", &im->next_sale)) < 0)
		return rc;
	*id = im->next_sale++;
	return 0;
}

/* JSON: a string, escaped, and an integer, written at p (room enough:
 * 6 bytes a byte of s, 20 for v); each returns the end.  Strings are
 * escaped as SQLite's json_quote escapes them, so that a search for
 * json_quote(sku) in the text finds it (mbr_product_upsert). */
static char *json_str(char *p, const char *s)
{
	static const char hex[] = "0123456789abcdef", shorts[] = "\bb\ff\nn\rr\tt";

	*p++ = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *e;

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c && c < 0x20 && (e = memchr(shorts, c, sizeof(shorts) - 1)) != NULL) {
			*p++ = '\\';
			*p++ = e[1];
		} else if (c < 0x20) {
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 15];
			p += 6;
		} else {
			*p++ = (char)c;
		}
	}
	*p++ = '"';
	return p;
}

static char *json_int(char *p, int64_t v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				    "8081828384858687888990919293949596979899";
	char d[24], *q = d + sizeof(d);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	while (u >= 10) {	/* two digits at a time */
		uint64_t r = u % 100;

		u /= 100;
		*--q = pairs[2 * r + 1];
		*--q = pairs[2 * r];
	}
	if (u || q == d + sizeof(d))
		*--q = (char)('0' + u);
	if (v < 0)
		*--q = '-';
	memcpy(p, q, (size_t)(d + sizeof(d) - q));
	return p + (d + sizeof(d) - q);
}

/*
 * Add the open receipt's sale (p, strings set here) to the pending rows,
 * with its lines, [[sku, qty, unit_price, discount, amount], ...] (the
 * last two left out when they can be worked out: schema.c, 8), and
 * payments, [[method, amount], ...], as JSON (read through the views
 * sale_lines and payments).
 */
static void pend_add(struct mbr_sale_import *im, struct pend_sale *p, const struct payment *pay, int npay)
{
	size_t k;
	int i;

	p->store = pend_text(im, im->store);
	p->receipt = pend_text(im, im->receipt);
	seen_add(im);
	if (p->coupon != NO_TEXT)
		p->coupon = pend_text(im, im->coupon);
	p->lines = im->ptext.len;
	mbr_buf_addc(&im->ptext, '[');
	for (k = 0; k < im->nlines; k++) {
		const struct line *l = &im->lines[k];
		int64_t gross = l->qty * l->unit_price;	/* did not overflow: write_receipt */
		char j[6 * SKU_MAX + 4 * 21 + 8], *e = j;

		if (p->member && l->qty > 0)
			sold_add(im, p->member, im->text.buf + l->sku);
		if (k)
			*e++ = ',';
		*e++ = '[';
		e = json_str(e, im->text.buf + l->sku);
		*e++ = ',';
		e = json_int(e, l->qty);
		*e++ = ',';
		e = json_int(e, l->unit_price);
		/* what the sale_lines view can work out is left out (schema.c, 8) */
		if (l->discount || l->amount != gross) {
			*e++ = ',';
			e = json_int(e, l->discount);
			if (l->amount != gross - l->discount) {
				*e++ = ',';
				e = json_int(e, l->amount);
			}
		}
		*e++ = ']';
		mbr_buf_add(&im->ptext, j, (size_t)(e - j));
	}
	mbr_buf_add(&im->ptext, "]", 2);
	p->lines_len = im->ptext.len - 1 - p->lines;
	p->payments = im->ptext.len;
	mbr_buf_addc(&im->ptext, '[');
	for (i = 0; i < npay; i++) {
		char j[6 * sizeof(pay[0].method) + 21 + 8], *e = j;

		if (i)
			*e++ = ',';
		*e++ = '[';
		e = json_str(e, pay[i].method);
		*e++ = ',';
		e = json_int(e, pay[i].amount);
		*e++ = ']';
		mbr_buf_add(&im->ptext, j, (size_t)(e - j));
	}
	mbr_buf_add(&im->ptext, "]", 2);
	p->payments_len = im->ptext.len - 1 - p->payments;
	im->psale[im->npsale++] = *p;
}

static int write_receipt(struct mbr_sale_import *im)
{
	struct mbr_db *db = im->db;
	struct payment pay[MAX_PAYMENTS];
	struct mbr_sale_member sm;
	struct original orig;
	struct recorded rec;
	struct match mt = { 0, 0, INT64_MAX, 0 };	/* the sale a return naming none matched */
	const struct mbr_rules *r, *sr;	/* rules of the receipt's day; what scores it */
	sqlite3_stmt *st;
	int64_t total = 0, discount = 0, items = 0, ts = im->last_ts, day, member = 0;
	int64_t earned = 0, residue = 0, reversed = 0, paid_points = 0, refund_points = 0, eligible, sale = 0;
	int64_t lines_total, coupon_discount = 0;
	char codes[MAX_COUPONS][MBR_CODE_SZ];
	int64_t coupon_amounts[MAX_COUPONS];
	int ncoupons = 0;
	__int128 weighted = 0;
	int npay = 0, rc, i, is_return, have_orig = 0, matched = 0, bad_pay, exp = mbr_db_exponent(db);
	char ref[128];
	size_t k;

	memset(&sm, 0, sizeof(sm));
	memset(&orig, 0, sizeof(orig));
	if (!im->bad.len && rejected_has(im))
		receipt_bad(im, "%s:%ld: receipt: '%s' appears again after other receipts, and its first lines were"
			    " rejected; a receipt's lines must be together (fix the file, import it again)",
			    im->file, im->first_line, im->receipt);
	if (im->bad.len)
		return 1;
	/* totals, before the duplicate check compares them */
	for (k = 0; k < im->nlines; k++) {
		struct line *l = &im->lines[k];
		int64_t amt;

		if (mbr_mul_i64(l->qty, l->unit_price, &amt) < 0 || mbr_add_i64(amt, -l->discount, &amt) < 0 ||
		    mbr_add_i64(total, amt, &total) < 0 || mbr_add_i64(discount, l->discount, &discount) < 0) {
			receipt_bad(im, "%s:%ld: amount: receipt total overflows", im->file, l->lineno);
			return 1;
		}
		l->amount = amt;
		items += l->qty;
	}
	if (total > RECEIPT_MAX || total < -RECEIPT_MAX) {
		char max[MBR_MONEY_BUFSZ];

		receipt_bad(im, "%s:%ld: amount: the receipt's total is beyond %s either way", im->file,
			    im->first_line, mbr_money_format(RECEIPT_MAX, im->db->exp, max));
		return 1;
	}
	rc = existing_receipt(im, &rec);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if (rec.batch && rec.batch == im->batch) {
			/* Its first run is already written in this batch: these
			 * lines are refused, and the message says how to fix it. */
			receipt_bad(im, "%s:%ld: receipt: '%s' appears again after other receipts; a receipt's lines"
				    " must be together (sort the file by receipt, undo the batch, import again)",
				    im->file, im->first_line, im->receipt);
			return 1;
		}
		/* an earlier batch recorded it: skipped if it is the same */
		if ((rc = same_receipt(im, &rec, total, discount, items)) != 0)
			return rc;
		im->st.duplicates++;
		return 0;
	}
	if (mixed_receipt(im))
		return 1;
	is_return = receipt_is_return(total, items);
	/* what it reads below may be pending */
	if ((im->original[0] || is_return || im->coupon[0] || im->count_cards) && (rc = pend_flush(im)) < 0)
		return rc;
	day = mbr_local_day(ts);
	r = sr = mbr_rules_at(&im->rules, day);

	if (im->member[0]) {
		rc = find_member(im, im->member, &sm);
		if (rc == MBR_ENOTFOUND) {
			receipt_bad(im, "%s:%ld: member: unknown member '%s'", im->file, im->first_line, im->member);
			return 1;
		}
		if (rc == MBR_EINVAL) {		/* a key two members answer to */
			receipt_bad(im, "%s:%ld: member: %s", im->file, im->first_line, mbr_db_errmsg(db));
			return 1;
		}
		if (rc < 0)
			return rc;
		member = sm.id;
		/* count cards: lines of a SKU the member holds uses of are paid
		 * with uses, not money */
		if (sm.active && !is_return && im->count_cards &&
		    (rc = apply_count_cards(im, member, ts, &total, &discount)) != 0)
			return rc;
	}
	if (im->original[0]) {
		rc = find_original(im, &orig);
		if (rc == MBR_ENOTFOUND) {
			receipt_bad(im, "%s:%ld: original: no receipt '%s' at store %s", im->file, im->first_line,
				    im->original, im->store);
			return 1;
		}
		if (rc < 0)
			return rc;
		if (orig.is_return) {
			receipt_bad(im, "%s:%ld: original: '%s' is itself a return; name the sale it gave back", im->file,
				    im->first_line, im->original);
			return 1;
		}
		if (!is_return) {
			receipt_bad(im, "%s:%ld: original: only a return may reference a sale", im->file, im->first_line);
			return 1;
		}
		if (member && orig.member && member != orig.member) {
			receipt_bad(im, "%s:%ld: member: the return names another member than receipt '%s'",
				    im->file, im->first_line, im->original);
			return 1;
		}
		if (!member && orig.member) {
			struct mbr_member m;
			if ((rc = mbr_member_get_id(db, orig.member, &m)) < 0)
				return rc;
			member = m.id;
			sm.id = m.id;
			mbr_copy(sm.uid, sizeof(sm.uid), m.uid);
			sm.active = !strcmp(m.status, "active");
		}
		have_orig = 1;
		if ((rc = return_units_sold(im, &orig)) != 0)
			return rc;
		/* units the sale paid with count-card uses come back as uses */
		if ((rc = return_count_uses(im, &orig, &total, &discount)) != 0)
			return rc;
		if (-total > orig.total - orig.returned) {
			char a[MBR_MONEY_BUFSZ], b[MBR_MONEY_BUFSZ];
			receipt_bad(im, "%s:%ld: original: return of %s exceeds the %s left of receipt '%s'",
				    im->file, im->first_line, mbr_money_format(-total, exp, a),
				    mbr_money_format(orig.total - orig.returned, exp, b), im->original);
			return 1;
		}
	}
	lines_total = total;
	if (im->coupon[0]) {
		if ((rc = apply_coupons(im, &sm, ts, is_return, &ncoupons, codes, coupon_amounts, &coupon_discount)) != 0)
			return rc;
		total -= coupon_discount;
		discount += coupon_discount;
	}
	bad_pay = parse_payments(im, im->payment, pay, &npay) < 0;
	if (!bad_pay && have_orig && (rc = return_prepaid_parts(im, &orig, pay, &npay, total)) != 0)
		return rc;
	if (bad_pay || settle_payments(im, pay, &npay, total) < 0) {
		/* receipt_bad has the reason without location: add it */
		struct mbr_buf b = MBR_BUF_INIT;
		mbr_buf_addf(&b, "%s:%ld: %s", im->file, im->first_line, im->bad.buf);
		mbr_buf_reset(&im->bad);
		mbr_buf_add(&im->bad, b.buf, b.len);
		mbr_buf_release(&b);
		return 1;
	}

	if ((rc = check_prepaid(im, pay, npay, member, is_return, ts)) != 0)
		return rc;

	/* points */
	eligible = total;
	for (i = 0; i < npay; i++) {
		if (!strcmp(pay[i].method, "points")) {
			if (!member) {
				receipt_bad(im, "%s:%ld: payment: points need a member", im->file, im->first_line);
				return 1;
			}
			/* rounded up: the member pays at least the value.  A
			 * return that names no sale gives back as many as the
			 * same amount costs, which must be whole points: rounding
			 * up would make value (0.50 back as a point worth 1.00,
			 * again and again), rounding down would keep some (one
			 * naming its sale: below) */
			if (!is_return) {
				paid_points = (int64_t)(((__int128)pay[i].amount * r->redeem_points + r->redeem_value - 1) / r->redeem_value);
			} else if (!have_orig) {
				__int128 worth = (__int128)-pay[i].amount * r->redeem_points;

				if (worth % r->redeem_value) {
					char a[MBR_MONEY_BUFSZ], v[MBR_MONEY_BUFSZ];

					receipt_bad(im, "%s:%ld: payment: %s is not a whole number of points"
						    " (redeem %lld = %s); pay the rest back another way",
						    im->file, im->first_line, mbr_money_format(-pay[i].amount, exp, a),
						    (long long)r->redeem_points, mbr_money_format(r->redeem_value, exp, v));
					return 1;
				}
				refund_points = (int64_t)(worth / r->redeem_value);
			}
			if (!r->earn_on_points && !is_return)
				eligible -= pay[i].amount;
		} else if ((!strcmp(pay[i].method, "stored_value") || !strcmp(pay[i].method, "gift_card")) &&
			   !r->earn_on_stored_value && !is_return) {
			eligible -= pay[i].amount;
		}
		/* how a return is paid back does not lessen what it takes
		 * back: a return naming no sale reverses what its goods earn
		 * when bought (else refunding in points or stored value
		 * would keep the points a cash purchase earned) */
	}
	if (member && !is_return && paid_points) {
		int64_t bal;

		if (!sm.active) {
			receipt_bad(im, "%s:%ld: payment: member %s is not active and cannot pay with points",
				    im->file, im->first_line, sm.uid);
			return 1;
		}
		if ((rc = mbr_points_spendable(db, member, ts, &bal)) < 0)
			return rc;
		if (bal < paid_points) {
			receipt_bad(im, "%s:%ld: payment: member %s has %lld points, the receipt pays with %lld",
				    im->file, im->first_line, sm.uid, (long long)bal, (long long)paid_points);
			return 1;
		}
	}
	/* a return takes back what its sale earned whatever the member's
	 * state (freezing a card must not keep points a return reverses) */
	if (member && have_orig) {
		int64_t cum = orig.returned - total;	/* total <= 0 */
		int64_t take = muldiv(orig.points_earned, cum, orig.total), lapsed;

		/* points of the sale's lot that lapsed were taken by expiry
		 * already: a return does not take them a second time */
		if ((rc = mbr_points_lot_expired(db, orig.earn_lot, &lapsed)) < 0)
			return rc;
		if (take > orig.points_earned - lapsed)
			take = orig.points_earned - lapsed;
		reversed = take > orig.reversed ? take - orig.reversed : 0;
		refund_points = muldiv(orig.points_paid, cum, orig.total) - orig.refunded;
	} else if (member && (sm.active || is_return)) {
		if (is_return || total >= r->min_spend) {
			char d[MBR_TIME_BUFSZ];
			int64_t when = ts;
			int birthday = 0;

			/* a return is scored as of the sale it gives back, when
			 * one matches: its day's rules, multipliers and birthday */
			if (is_return) {
				if ((matched = match_possible(im, member)) > 0)
					matched = match_sale(im, member, ts, -total, &mt);
				if (matched < 0)
					return matched;
				if (matched) {
					/* the version that scored it, even if one
					 * loaded since now covers its day */
					when = mt.when;
					if (!(sr = mbr_rules_version(&im->rules, mt.version)))
						sr = mbr_rules_at(&im->rules, mbr_local_day(when));
				}
			}
			for (k = 0; k < im->nlines; k++) {
				const struct line *l = &im->lines[k];

				weighted += (__int128)l->amount * mbr_rules_line_bp(sr, im->text.buf + l->sku, l->category);
			}
			if (sr->birthday_bp && sm.birthday_md[0]) {
				mbr_date_format(when, d);
				birthday = !strcmp(d + 5, sm.birthday_md);
			}
			earned = mbr_rules_points(sr, weighted, eligible, lines_total,
						  mbr_rules_receipt_bp(sr, sm.tier, mbr_local_day(when), birthday), &residue);
			if (earned > MBR_POINTS_MAX || earned < -MBR_POINTS_MAX) {
				receipt_bad(im, "%s:%ld: points: the receipt would %s more than %lld points",
					    im->file, im->first_line, is_return ? "reverse" : "earn", MBR_POINTS_MAX);
				return 1;
			}
			if (is_return) {
				reversed = -earned < mt.cap ? -earned : mt.cap;	/* rounded toward zero */
				earned = 0;
				residue = 0;
			}
		}
	}

	/* write */
	{
		struct pend_sale p;
		int prepaid = 0;

		if ((rc = next_sale_id(im, &sale)) < 0)
			return rc;
		p.id = sale;
		p.ts = ts;
		p.day = day;
		p.member = member;
		p.original = have_orig ? orig.id : 0;
		p.total = total;
		p.discount = discount;
		p.items = items;
		p.points = earned - reversed;
		p.residue = residue;
		p.paid = paid_points - refund_points;
		p.version = sr->version;
		p.batch = im->batch;
		p.coupon = ncoupons ? 0 : NO_TEXT;
		p.coupon_discount = coupon_discount;
		pend_add(im, &p, pay, npay);
		for (i = 0; i < npay; i++)
			prepaid |= !strcmp(pay[i].method, "stored_value") || !strcmp(pay[i].method, "gift_card");
		/* rows below name the sale, in tables the ones above do not
		 * cover: written now, as is anything a later receipt may read */
		if ((ncoupons || prepaid || is_return || have_orig || matched || im->count_cards ||
		     im->npsale == PEND_SALES || im->ptext.len >= PEND_TEXT) &&
		    (rc = pend_flush(im)) < 0)
			return rc;
	}
	for (i = 0; i < ncoupons; i++) {
		struct mbr_coupon_use u;

		/* checked above in this transaction: this cannot be refused now */
		memset(&u, 0, sizeof(u));
		u.member = member;
		u.store = im->store;
		u.now = ts;
		u.has_amount = 1;
		u.amount = coupon_amounts[i];
		if ((rc = mbr_coupon_redeem(db, codes[i], &u, sale, im->receipt, NULL)) < 0)
			return rc == MBR_EINVAL || rc == MBR_ENOTFOUND ? MBR_EDB : rc;
	}

	if (member) {
		struct mbr_post p;

		receipt_ref(im, ref, sizeof(ref));
		memset(&p, 0, sizeof(p));
		p.member = member;
		p.source = "sale";
		p.sale = sale;
		p.ref = ref;
		p.store = im->store;
		p.batch = im->batch;
		p.ts = ts;
		if (paid_points) {
			p.kind = "redeem";
			p.reason = "paid with points";
			p.points = -paid_points;
			if ((rc = mbr_points_post(db, &p, NULL)) < 0)
				return rc;
		}
		if (earned) {
			p.kind = "earn";
			p.reason = "purchase";
			p.points = earned;
			p.expires_at = mbr_rules_expiry(r, ts);
			if ((rc = mbr_points_post(db, &p, NULL)) < 0)
				return rc;
		}
		if (reversed) {
			p.kind = "reversal";
			p.reason = have_orig ? "return of referenced sale" : "return";
			p.points = -reversed;
			p.expires_at = 0;
			p.lot = have_orig ? orig.earn_lot : 0;
			if ((rc = mbr_points_post(db, &p, NULL)) < 0)
				return rc;
			p.lot = 0;
		}
		if (refund_points) {
			p.kind = "refund";
			p.reason = "points paid on returned goods";
			p.points = refund_points;
			/* a named sale's points go back where they came
			 * from, with their expiry; others lapse as earned now */
			p.expires_at = mbr_rules_expiry(r, ts);
			p.restore = have_orig ? orig.redeem : 0;
			p.restored = have_orig ? orig.refunded : 0;
			if ((rc = mbr_points_post(db, &p, NULL)) < 0)
				return rc;
		}
	}
	if ((rc = pay_prepaid(im, pay, npay, member, have_orig ? &orig : NULL, sale, ts)) < 0)
		return rc;
	if (matched) {
		st = mbr_stmt(db, "INSERT INTO return_matches(ret, sale) VALUES (?, ?)");
		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, sale);
		sqlite3_bind_int64(st, 2, mt.sale);
		if ((rc = mbr_stmt_done(db, st)) < 0)
			return rc;
	}
	/* the sale given back keeps count: a matched return gives back no
	 * paid points of it (it refunds by value, above) */
	if (have_orig || matched) {
		st = mbr_stmt(db, "UPDATE sales SET returned = returned + ?, points_reversed = points_reversed + ?,"
				  " points_refunded = points_refunded + ? WHERE id = ?");
		if (!st)
			return MBR_EDB;
		sqlite3_bind_int64(st, 1, -total);
		sqlite3_bind_int64(st, 2, reversed);
		sqlite3_bind_int64(st, 3, have_orig ? refund_points : 0);
		sqlite3_bind_int64(st, 4, have_orig ? orig.id : mt.sale);
		if ((rc = mbr_stmt_done(db, st)) < 0)
			return rc;
	}
	/* by the figures written, as AGG_RETURN_SQL counts it (count-card
	 * uses and coupons never make a sale a return or the reverse) */
	if ((rc = agg_update(im, day, member, total, discount, items, earned - reversed,
			     receipt_is_return(total, items))) < 0)
		return rc;

	im->st.receipts++;
	im->st.lines += (long)im->nlines;
	if (is_return)
		im->st.returns++;
	if (matched)
		im->st.matched_returns++;
	im->st.amount += total;
	im->st.points_earned += earned;
	im->st.points_reversed += reversed;
	im->st.points_redeemed += paid_points;
	im->st.points_refunded += refund_points;
	mbr_copy(im->st.last_receipt, sizeof(im->st.last_receipt), im->receipt);
	im->st.last_points = earned - reversed;
	im->st.last_total = total;
	return 0;
}

/* Close the receipt being collected: write it or reject it. */
static int finish_receipt(struct mbr_sale_import *im)
{
	int rc;

	if (!im->open)
		return 0;
	rc = write_receipt(im);
	if (rc == 1)
		rc = reject_receipt(im) < 0 ? MBR_EIO : 0;
	receipt_reset(im);
	return rc;
}

int mbr_sale_line(struct mbr_sale_import *im, const char *const *v, const char *file, long lineno,
		  const char *const *raw, size_t nraw)
{
	return sale_line(im, v, file, lineno, raw, nraw, NULL, NULL, 0);
}

int mbr_sale_line_noted(struct mbr_sale_import *im, const char *const *v, const char *file, long lineno,
			const char *const *raw, size_t nraw, const char *note, size_t note_len)
{
	return sale_line(im, v, file, lineno, raw, nraw, NULL, note, note_len);
}

int mbr_sale_bad_line(struct mbr_sale_import *im, const char *const *v, const char *file, long lineno,
		      const char *const *raw, size_t nraw, const char *why)
{
	return sale_line(im, v, file, lineno, raw, nraw, why, NULL, 0);
}

/* One line item; why, when not NULL, says the line could not be read,
 * which rejects its whole receipt; note is mbr_sale_ahead_note's. */
static int sale_line(struct mbr_sale_import *im, const char *const *v, const char *file, long lineno,
		     const char *const *raw, size_t nraw, const char *why, const char *note, size_t note_len)
{
	struct mbr_db *db = im->db;
	char store[32], receipt[64], sku[SKU_MAX];
	uint64_t sku_hash;
	const char *tsv;
	struct line *l;
	int exp = mbr_db_exponent(db), rc;

	/* the product's slot, in flight while the rest is parsed (a SKU with
	 * spaces around it fetches another) */
	if (v[MBR_S_SKU])
		prod_prefetch(im, prod_hash(v[MBR_S_SKU]));
	/* which receipt? */
	if (trim_copy(store, sizeof(store), v[MBR_S_STORE] && !blank(v[MBR_S_STORE]) ? v[MBR_S_STORE]
				 : im->o.store ? im->o.store : "") < 0)
		store[0] = '\0';
	if (trim_copy(receipt, sizeof(receipt), val(v, MBR_S_RECEIPT)) < 0)
		receipt[0] = '\0';
	if (im->open && (strcmp(store, im->store) || strcmp(receipt, im->receipt)))
		if ((rc = finish_receipt(im)) < 0)
			return rc;
	if (!im->open) {
		im->open = 1;
		mbr_copy(im->store, sizeof(im->store), store);
		mbr_copy(im->receipt, sizeof(im->receipt), receipt);
		mbr_copy(im->file, sizeof(im->file), file);
		im->first_line = lineno;
		seen_open(im);
		if (!*store) {
			receipt_bad(im, "%s:%ld: store: missing (give a store column or --store)", file, lineno);
		} else if (strcmp(store, im->store_ok)) {
			if ((rc = mbr_store_exists(db, store)) < 0)
				return rc;
			if (rc == 0)
				receipt_bad(im, "%s:%ld: store: unknown store '%s' (add it with mbr-db store-add)", file, lineno, store);
			else
				mbr_copy(im->store_ok, sizeof(im->store_ok), store);
		}
		if (!*receipt)
			receipt_bad(im, "%s:%ld: receipt: missing or longer than 63 bytes", file, lineno);
		/* the receipt's time is its first line's (parsed ahead, if noted) */
		tsv = val(v, MBR_S_TS);
		if (note_len)
			take_note(im, note, note_len, tsv, 0);
		if (strcmp(tsv, im->last_ts_text) || !im->last_ts_text[0]) {
			mbr_copy(im->last_ts_text, sizeof(im->last_ts_text), tsv);
			if (im->has_ts_ahead)
				im->last_ts = im->ts_ahead;
			else if (mbr_time_parse(tsv, im->o.time_format, &im->last_ts) < 0) {
				im->last_ts_text[0] = '\0';
				receipt_bad(im, "%s:%ld: ts: '%s' is not a time%s%s", file, lineno, tsv,
					    im->o.time_format ? " in format " : "", im->o.time_format ? im->o.time_format : "");
			}
		}
	}
	keep_raw(im, raw, nraw);
	im->nin++;
	if (why) {
		receipt_bad(im, "%s", why);
		return 0;
	}
	if (!im->member[0] && v[MBR_S_MEMBER]) {
		if (trim_copy(im->member, sizeof(im->member), v[MBR_S_MEMBER]) < 0)
			receipt_bad(im, "%s:%ld: member: longer than 63 bytes", file, lineno);
		else if (note_len) {
			take_note(im, note, note_len, NULL, 1);
			if (im->has_ahead) {
				/* what writing the receipt touches of its member,
				 * on its way into the cache meanwhile */
				sold_prefetch(im, im->ahead.id);
				mbr_points_prefetch(db, im->ahead.id);
			}
		}
	}
	if (!im->payment[0] && v[MBR_S_PAYMENT] && trim_copy(im->payment, sizeof(im->payment), v[MBR_S_PAYMENT]) < 0)
		receipt_bad(im, "%s:%ld: payment: longer than 255 bytes", file, lineno);
	if (!im->coupon[0] && v[MBR_S_COUPON] && trim_copy(im->coupon, sizeof(im->coupon), v[MBR_S_COUPON]) < 0)
		receipt_bad(im, "%s:%ld: coupon: longer than 127 bytes", file, lineno);
	if (!im->original[0] && v[MBR_S_ORIGINAL] && trim_copy(im->original, sizeof(im->original), v[MBR_S_ORIGINAL]) < 0)
		receipt_bad(im, "%s:%ld: original: longer than 63 bytes", file, lineno);

	if (im->nlines == MAX_LINES) {
		receipt_bad(im, "%s:%ld: receipt: more than %d lines", file, lineno, MAX_LINES);
		return 0;
	}
	if (im->nlines == im->alines) {
		im->alines = im->alines ? 2 * im->alines : 64;
		im->lines = realloc(im->lines, im->alines * sizeof(*im->lines));
		if (!im->lines)
			abort();
	}
	l = &im->lines[im->nlines];
	memset(l, 0, sizeof(*l));
	l->lineno = lineno;
	if (trim_copy(sku, sizeof(sku), val(v, MBR_S_SKU)) < 0 || !sku[0]) {
		receipt_bad(im, "%s:%ld: sku: missing or longer than %d bytes", file, lineno, SKU_MAX - 1);
		return 0;
	}
	sku_hash = prod_hash(sku);
	rc = parse_qty(val(v, MBR_S_QTY), &l->qty);
	if (rc < 0) {
		receipt_bad(im, "%s:%ld: qty: '%s' is not a whole number", file, lineno, val(v, MBR_S_QTY));
		return 0;
	}
	if (rc > 0) {
		receipt_bad(im, "%s:%ld: qty: '%s' is out of range (at most %lld units a line)", file, lineno,
			    val(v, MBR_S_QTY), QTY_MAX);
		return 0;
	}
	if (mbr_money_parse(val(v, MBR_S_UNIT_PRICE), exp, &l->unit_price) < 0) {
		receipt_bad(im, "%s:%ld: unit_price: '%s' is not an amount", file, lineno, val(v, MBR_S_UNIT_PRICE));
		return 0;
	}
	if (l->unit_price < 0) {
		receipt_bad(im, "%s:%ld: unit_price: '%s' is negative (returns have a negative qty)", file, lineno,
			    val(v, MBR_S_UNIT_PRICE));
		return 0;
	}
	if (v[MBR_S_DISCOUNT] && !blank(v[MBR_S_DISCOUNT])) {
		if (mbr_money_parse(v[MBR_S_DISCOUNT], exp, &l->discount) < 0) {
			receipt_bad(im, "%s:%ld: discount: '%s' is not an amount", file, lineno, v[MBR_S_DISCOUNT]);
			return 0;
		}
		/* a discount goes with the line's sign: a returned line gives back its discount */
		if (l->discount < 0) {
			receipt_bad(im, "%s:%ld: discount: must not be negative", file, lineno);
			return 0;
		}
		if (l->qty < 0)
			l->discount = -l->discount;
	}
	/* a line sells or returns goods: no money moves without them */
	if (l->qty == 0) {
		receipt_bad(im, "%s:%ld: qty: 0 sells or returns nothing", file, lineno);
		return 0;
	}
	{
		/* the discount follows the line's sign; unit prices are >= 0 */
		__int128 gross = (__int128)(l->qty < 0 ? -l->qty : l->qty) * l->unit_price;

		if ((l->discount < 0 ? -(__int128)l->discount : l->discount) > gross) {
			receipt_bad(im, "%s:%ld: discount: '%s' is more than the line's qty x unit_price", file, lineno,
				    v[MBR_S_DISCOUNT]);
			return 0;
		}
	}
	l->sku = keep_text(im, sku);
	im->nlines++;
	{
		struct product *p = prod_find(im, sku, sku_hash);

		if (!p->sku) {
			/* unknown SKU: into the catalogue, with what the line says of it */
			const char *name = val(v, MBR_S_NAME), *cat = val(v, MBR_S_CATEGORY);
			char nm[256], ct[64];

			if (trim_copy(nm, sizeof(nm), name) < 0)
				nm[0] = '\0';
			if (trim_copy(ct, sizeof(ct), cat) < 0)
				ct[0] = '\0';
			if ((rc = mbr_product_upsert(db, sku, nm, ct, NULL)) < 0)
				return rc;	/* a new product: moves no category */
			prod_put(im, sku, ct);
			im->st.new_products++;
			p = prod_slot(im, sku);	/* prod_put may have moved it */
		}
		im->lines[im->nlines - 1].category = p->category;
	}
	return 0;
}

int mbr_sale_import_end(struct mbr_sale_import *im, struct mbr_sale_stats *st)
{
	int rc = finish_receipt(im);

	if (rc == 0)
		rc = pend_flush(im);
	if (rc == 0)
		rc = agg_flush(im);
	if (rc == 0 && im->batch)
		rc = mbr_batch_finish(im->db, im->batch, im->st.receipts, 0,
				      im->st.rejected_receipts);
	*st = im->st;
	return rc;
}

const struct mbr_sale_stats *mbr_sale_import_stats(struct mbr_sale_import *im)
{
	return &im->st;
}

void mbr_sale_import_free(struct mbr_sale_import *im)
{
	size_t i;

	if (!im)
		return;
	for (i = 0; i < im->aprod; i++)
		free(im->prod[i].sku);
	free(im->prod);
	for (i = 0; i < im->anames; i++)
		free(im->names[i]);
	free(im->names);
	free(im->agg);
	free(im->agg_order);
	free(im->seen);
	free(im->sold);
	free(im->psale);
	mbr_buf_release(&im->ptext);
	free(im->lines);
	free(im->rawrow);
	free(im->rawn);
	free(im->rejected_slot);
	mbr_buf_release(&im->rejected);
	mbr_buf_release(&im->text);
	mbr_buf_release(&im->bad);
	mbr_buf_release(&im->raw);
	mbr_rules_set_free(&im->rules);
	free(im);
}

/* ------------------------------------------------------------ aggregates */

/* The aggregates recomputed from sales and lines, as SELECTs. */
#define AGG_RETURN_SQL RECEIPT_IS_RETURN_SQL("")
#define AGG_STORE_DAY_SQL \
	"SELECT store, day, SUM(NOT " AGG_RETURN_SQL "), SUM(" AGG_RETURN_SQL "), SUM(total), SUM(discount), SUM(items)," \
	" SUM(member IS NOT NULL AND NOT " AGG_RETURN_SQL "), SUM(CASE WHEN member IS NOT NULL THEN total ELSE 0 END)," \
	" SUM(points_earned) FROM sales GROUP BY store, day"
#define AGG_MEMBER_DAY_SQL \
	"SELECT member, day, SUM(NOT " AGG_RETURN_SQL "), SUM(total), SUM(points_earned) FROM sales" \
	" WHERE member IS NOT NULL GROUP BY member, day"
#define AGG_CATEGORY_DAY_SQL \
	"SELECT COALESCE(p.category, '') AS category, s.store AS store, s.day AS day, COUNT(*), SUM(l.qty), SUM(l.amount)" \
	" FROM sale_lines l JOIN sales s ON s.id = l.sale LEFT JOIN products p ON p.sku = l.sku" \
	" GROUP BY 1, 2, 3"
/* What returns gave back of each sale, named (original) or matched
 * (return_matches): its amount, the points they reversed and, named
 * ones only, the paid points they refunded.  Callers add conditions on
 * the return (s), then GROUP BY 1. */
#define RETURNS_BY_SALE_SQL \
	"SELECT COALESCE(s.original, m.sale) AS o, SUM(-s.total) AS t, SUM(-s.points_earned) AS rev," \
	" SUM(CASE WHEN s.original IS NOT NULL THEN -s.points_paid ELSE 0 END) AS ref" \
	" FROM sales s LEFT JOIN return_matches m ON m.ret = s.id WHERE (s.original IS NOT NULL OR m.sale IS NOT NULL)"

int mbr_agg_rebuild(struct mbr_db *db)
{
	return mbr_db_exec(db,
		"DELETE FROM agg_store_day; DELETE FROM agg_member_day; DELETE FROM agg_category_day;"
		"INSERT INTO agg_store_day(store, day, receipts, returns, amount, discount, items, member_receipts,"
		" member_amount, points_earned) " AGG_STORE_DAY_SQL ";"
		"INSERT INTO agg_member_day(member, day, receipts, amount, points_earned) " AGG_MEMBER_DAY_SQL ";"
		"INSERT INTO agg_category_day(category, store, day, lines, qty, amount) " AGG_CATEGORY_DAY_SQL ";");
}

int mbr_sales_redate(struct mbr_db *db, long *moved)
{
	sqlite3_stmt *sel = mbr_stmt(db, "SELECT id, ts, day FROM sales"), *upd;
	int rc;

	*moved = 0;
	if (!sel)
		return MBR_EDB;
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		int64_t day = mbr_local_day(sqlite3_column_int64(sel, 1));

		if (day == sqlite3_column_int64(sel, 2))
			continue;
		if (!(upd = mbr_stmt(db, "UPDATE sales SET day = ? WHERE id = ?"))) {
			sqlite3_reset(sel);
			return MBR_EDB;
		}
		sqlite3_bind_int64(upd, 1, day);
		sqlite3_bind_int64(upd, 2, sqlite3_column_int64(sel, 0));
		if ((rc = mbr_stmt_done(db, upd)) < 0) {
			sqlite3_reset(sel);
			return rc;
		}
		(*moved)++;
	}
	sqlite3_reset(sel);
	if (rc != SQLITE_DONE)
		return mbr_db_sqlerr(db, "sales");
	return *moved ? mbr_agg_rebuild(db) : 0;
}

/*
 * Compare the maintained aggregates with a recomputation from the raw
 * sales; each differing key is passed to fn.  Category aggregates are
 * compared too: they use the catalogue's current categories, so a
 * product moved to another category shows up here until the aggregates
 * are rebuilt.
 */
int mbr_agg_verify(struct mbr_db *db, mbr_problem_fn fn, void *ctx, int *problems)
{
	static const struct { const char *name, *sql; } q[] = {
		{ "store/day", "SELECT DISTINCT 'store ' || store || ' on ' || date(day * 86400, 'unixepoch') FROM ("
			"SELECT * FROM (" AGG_STORE_DAY_SQL ") EXCEPT SELECT store, day, receipts, returns, amount, discount,"
			" items, member_receipts, member_amount, points_earned FROM agg_store_day"
			" UNION SELECT * FROM (SELECT store, day, receipts, returns, amount, discount, items,"
			" member_receipts, member_amount, points_earned FROM agg_store_day"
			" EXCEPT SELECT * FROM (" AGG_STORE_DAY_SQL ")))" },
		{ "member/day", "SELECT DISTINCT 'member ' || COALESCE((SELECT uid FROM members WHERE members.id = x.member),"
			" '#' || x.member) || ' on ' || date(x.day * 86400, 'unixepoch') FROM ("
			"SELECT * FROM (" AGG_MEMBER_DAY_SQL ") EXCEPT SELECT member, day, receipts, amount, points_earned"
			" FROM agg_member_day UNION SELECT * FROM (SELECT member, day, receipts, amount, points_earned"
			" FROM agg_member_day EXCEPT SELECT * FROM (" AGG_MEMBER_DAY_SQL "))) AS x" },
		{ "category/day", "SELECT DISTINCT 'category ' || quote(category) || ' store ' || store || ' on '"
			" || date(day * 86400, 'unixepoch') FROM ("
			"SELECT * FROM (SELECT * FROM (" AGG_CATEGORY_DAY_SQL ") EXCEPT SELECT category, store, day, lines,"
			" qty, amount FROM agg_category_day) UNION SELECT * FROM (SELECT category, store, day, lines,"
			" qty, amount FROM agg_category_day EXCEPT SELECT * FROM (" AGG_CATEGORY_DAY_SQL ")))" },
		/* each sale's count of what returns gave back of it */
		{ "returns", "SELECT 'receipt ' || s.store || '/' || s.receipt FROM sales s LEFT JOIN ("
			RETURNS_BY_SALE_SQL " GROUP BY 1) AS r ON r.o = s.id WHERE s.returned != COALESCE(r.t, 0)"
			" OR s.points_reversed != COALESCE(r.rev, 0) OR s.points_refunded != COALESCE(r.ref, 0)" },
	};
	struct mbr_buf b = MBR_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		sqlite3_stmt *st;
		int rc;

		if (sqlite3_prepare_v2(db->sql, q[i].sql, -1, &st, NULL) != SQLITE_OK)
			return mbr_db_sqlerr(db, "aggregates");
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			mbr_buf_reset(&b);
			mbr_buf_addf(&b, "%s aggregate differs from the sales: %s", q[i].name,
				     (const char *)sqlite3_column_text(st, 0));
			fn(b.buf, ctx);
			(*problems)++;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			mbr_buf_release(&b);
			return mbr_db_sqlerr(db, "aggregates");
		}
	}
	mbr_buf_release(&b);
	return 0;
}

/* ---------------------------------------------------------------- undo */

int mbr_sale_undo(struct mbr_db *db, int64_t batch, long *receipts)
{
	sqlite3_stmt *st;
	char target[32];
	int rc;

	*receipts = 0;
	st = mbr_stmt(db, "SELECT kind, undone_at FROM batches WHERE id = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, batch);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? mbr_db_fail(db, MBR_ENOTFOUND, "no batch %lld", (long long)batch)
					 : mbr_db_sqlerr(db, "batches");
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "sales")) {
		rc = mbr_db_fail(db, MBR_EINVAL, "batch %lld is a %s batch, not sales", (long long)batch,
				 (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		return rc;
	}
	if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
		sqlite3_reset(st);
		return mbr_db_fail(db, MBR_EINVAL, "batch %lld was already undone", (long long)batch);
	}
	sqlite3_reset(st);

	/* What blocks: returns recorded later against this batch's sales,
	 * naming them or matched to them */
	st = mbr_stmt(db, "SELECT r.store, r.receipt, s.receipt, 'references' FROM sales r JOIN sales s ON r.original = s.id"
			  " WHERE s.batch = ?1 AND COALESCE(r.batch, 0) != ?1"
			  " UNION ALL SELECT r.store, r.receipt, s.receipt, 'gave back goods of' FROM return_matches m"
			  " JOIN sales s ON s.id = m.sale JOIN sales r ON r.id = m.ret"
			  " WHERE s.batch = ?1 AND COALESCE(r.batch, 0) != ?1 LIMIT 1");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, batch);
	if (sqlite3_step(st) == SQLITE_ROW) {
		rc = mbr_db_fail(db, MBR_EINVAL, "batch %lld cannot be undone: return %s/%s (another batch) %s its receipt '%s'",
				 (long long)batch, sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
				 sqlite3_column_text(st, 3), sqlite3_column_text(st, 2));
		sqlite3_reset(st);
		return rc;
	}
	sqlite3_reset(st);
	/* Points, then prepaid value and coupons its sales used, come back;
	 * each first checks that nothing was built on the batch since. */
	if ((rc = mbr_points_undo_batch(db, batch)) < 0 || (rc = mbr_prepaid_undo_batch(db, batch)) < 0 ||
	    (rc = mbr_coupon_undo_batch(db, batch)) < 0)
		return rc;
	/* Returns in this batch against older sales, named or matched,
	 * give those sales back what they counted. */
	st = mbr_stmt(db, "UPDATE sales SET returned = returned - r.t, points_reversed = points_reversed - r.rev,"
			  " points_refunded = points_refunded - r.ref FROM (" RETURNS_BY_SALE_SQL " AND s.batch = ?1"
			  " GROUP BY 1) AS r WHERE sales.id = r.o AND COALESCE(sales.batch, 0) != ?1");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, batch);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	st = mbr_stmt(db, "SELECT COUNT(*) FROM sales WHERE batch = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, batch);
	if (sqlite3_step(st) == SQLITE_ROW)
		*receipts = (long)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	st = mbr_stmt(db, "DELETE FROM sales WHERE batch = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, batch);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	st = mbr_stmt(db, "UPDATE batches SET undone_at = ? WHERE id = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, mbr_now());
	sqlite3_bind_int64(st, 2, batch);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	if ((rc = mbr_agg_rebuild(db)) < 0)
		return rc;
	snprintf(target, sizeof(target), "batch %lld", (long long)batch);
	return mbr_audit(db, "sales.undo", target, "");
}

/* ------------------------------------------------------------- catalogue */

int mbr_product_get(struct mbr_db *db, const char *sku, struct mbr_product *p)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT sku, name, category, price FROM products WHERE sku = ?");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, sku, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		mbr_copy(p->sku, sizeof(p->sku), (const char *)sqlite3_column_text(st, 0));
		mbr_copy(p->name, sizeof(p->name), (const char *)sqlite3_column_text(st, 1));
		mbr_copy(p->category, sizeof(p->category), (const char *)sqlite3_column_text(st, 2));
		p->price = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? mbr_db_fail(db, MBR_ENOTFOUND, "no product '%s'", sku) : mbr_db_sqlerr(db, "products");
}

int mbr_products_each(struct mbr_db *db, mbr_name_fn fn, void *ctx)
{
	return mbr_each_pair(db, "SELECT sku, name FROM products ORDER BY sku", fn, ctx);
}
