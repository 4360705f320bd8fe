/*
 * coupon.c - coupon campaigns and codes: creation, code generation with a
 * check character, issuing to members (also for points), validation,
 * redemption (at most once, whatever runs concurrently), expiry, voiding,
 * and the per-campaign summary.
 *
 * Codes are 11 symbols drawn by libsodium's CSPRNG from a 32-symbol
 * alphabet without look-alikes (no 0 O 1 I), 55 random bits, plus one
 * check symbol: the Damm-style check over GF(32), interim = 2*interim + d,
 * chosen so the whole code folds to 0.  Because 2 != 0 and 2 != 1 in
 * GF(32), any single mistyped symbol and any swap of two adjacent symbols
 * changes the result (see mbr_coupon_code_ok), so such mistakes are told
 * apart from unknown codes.  Codes loaded from elsewhere need not carry
 * the check symbol.
 *
 * Discounts (stated in mbr-coupon(1)): amount: min(value, amount);
 * percent: amount * percent rounded down to the minor unit, at most cap;
 * threshold: value once the amount reaches min_spend; gift: no money off,
 * the gift SKU is named.  Every type needs the amount to reach min_spend,
 * and every type but gift must take something off it.
 * A coupon used on a sale stays used when goods are returned (forfeited).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "banned.h"

static const char alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

#define CODE_RANDOM 11

/* Value of a code symbol, or -1. */
static int sym(char c)
{
	const char *p;

	c = (char)toupper((unsigned char)c);
	p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

/* Multiply by x (2) in GF(2^5) modulo x^5 + x^2 + 1. */
static int gf_mul2(int v)
{
	v <<= 1;
	if (v & 0x20)
		v ^= 0x25;
	return v;
}

static int fold(const char *s, size_t n)
{
	int interim = 0;
	size_t i;

	for (i = 0; i < n; i++)
		interim = gf_mul2(interim) ^ sym(s[i]);
	return interim;
}

void mbr_coupon_code_new(char out[MBR_CODE_SZ])
{
	int i;

	for (i = 0; i < CODE_RANDOM; i++)
		out[i] = alphabet[randombytes_uniform(32)];
	out[CODE_RANDOM] = alphabet[gf_mul2(fold(out, CODE_RANDOM))];
	out[CODE_RANDOM + 1] = '\0';
}

int mbr_coupon_code_ok(const char *code)
{
	size_t i, n = strlen(code);

	if (n != CODE_RANDOM + 1)
		return 0;
	for (i = 0; i < n; i++)
		if (sym(code[i]) < 0)
			return 0;
	return fold(code, n) == 0;
}

int mbr_coupon_code_normalize(const char *in, char out[MBR_CODE_SZ])
{
	size_t k = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '-' || c == ' ' || c == '\t')
			continue;
		if (!isalnum(c) || k + 1 >= MBR_CODE_SZ)
			return MBR_EINVAL;
		out[k++] = (char)toupper(c);
	}
	out[k] = '\0';
	return k >= 4 ? 0 : MBR_EINVAL;
}

/* ------------------------------------------------------------ campaigns */

static const char *text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

static int64_t opt_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

static void bind_opt(sqlite3_stmt *st, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

void mbr_campaign_clear(struct mbr_campaign *c)
{
	memset(c, 0, sizeof(*c));
	c->cap = c->total_limit = c->per_member = c->points_cost = -1;
	mbr_copy(c->stack, sizeof(c->stack), "none");
}

#define CAMPAIGN_COLS "code, type, value, gift_sku, cap, min_spend, valid_from, valid_to, total_limit," \
		      " per_member, points_cost, stores, categories, stack, created_at, closed_at"

static void campaign_from_row(sqlite3_stmt *st, struct mbr_campaign *c)
{
	mbr_campaign_clear(c);
	mbr_copy(c->code, sizeof(c->code), text(st, 0));
	mbr_copy(c->type, sizeof(c->type), text(st, 1));
	c->value = sqlite3_column_int64(st, 2);
	mbr_copy(c->gift_sku, sizeof(c->gift_sku), text(st, 3));
	c->cap = opt_int(st, 4);
	c->min_spend = sqlite3_column_int64(st, 5);
	c->valid_from = opt_int(st, 6) < 0 ? 0 : sqlite3_column_int64(st, 6);
	c->valid_to = opt_int(st, 7) < 0 ? 0 : sqlite3_column_int64(st, 7);
	c->total_limit = opt_int(st, 8);
	c->per_member = opt_int(st, 9);
	c->points_cost = opt_int(st, 10);
	mbr_copy(c->stores, sizeof(c->stores), text(st, 11));
	mbr_copy(c->categories, sizeof(c->categories), text(st, 12));
	mbr_copy(c->stack, sizeof(c->stack), text(st, 13));
	c->created_at = sqlite3_column_int64(st, 14);
	c->closed_at = opt_int(st, 15) < 0 ? 0 : sqlite3_column_int64(st, 15);
}

static int campaign_check(struct mbr_db *db, const struct mbr_campaign *c)
{
	if (!mbr_store_code_valid(c->code))
		return mbr_db_fail(db, MBR_EINVAL, "campaign code '%s' must be 1-16 letters, digits or '_'", c->code);
	if (strcmp(c->type, "amount") && strcmp(c->type, "percent") && strcmp(c->type, "threshold") &&
	    strcmp(c->type, "gift"))
		return mbr_db_fail(db, MBR_EINVAL, "type '%s' must be amount, percent, threshold or gift", c->type);
	if (!strcmp(c->type, "percent") && (c->value <= 0 || c->value > 10000))
		return mbr_db_fail(db, MBR_EINVAL, "a percent coupon needs a value between 0 and 100");
	if ((!strcmp(c->type, "amount") || !strcmp(c->type, "threshold")) && c->value <= 0)
		return mbr_db_fail(db, MBR_EINVAL, "an %s coupon needs a positive value", c->type);
	if (!strcmp(c->type, "threshold") && c->min_spend <= 0)
		return mbr_db_fail(db, MBR_EINVAL, "a threshold coupon needs --min-spend");
	if (!strcmp(c->type, "gift") && !c->gift_sku[0])
		return mbr_db_fail(db, MBR_EINVAL, "a gift coupon needs the gift's SKU as its value");
	if (c->valid_from && c->valid_to && c->valid_to <= c->valid_from)
		return mbr_db_fail(db, MBR_EINVAL, "the validity window ends before it starts");
	if (strcmp(c->stack, "none") && strcmp(c->stack, "tier") && strcmp(c->stack, "all"))
		return mbr_db_fail(db, MBR_EINVAL, "stack '%s' must be none, tier or all", c->stack);
	return 0;
}

/*
 * A comma list of stores or categories as given: blanks around each item
 * are trimmed ('S01, S02' is S01 and S02), an empty item is refused, and
 * so is a store that is not known.  "" stays "" (all).  0 or MBR_EINVAL.
 */
static int clean_list(struct mbr_db *db, const char *what, char list[256], int stores)
{
	char out[256];			/* never longer than list: only blanks go */
	const char *p = list;
	size_t k = 0;
	int rc;

	if (!*list)
		return 0;
	for (;;) {
		size_t l = strcspn(p, ","), start;
		const char *b = p, *e = p + l;

		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (e == b)
			return mbr_db_fail(db, MBR_EINVAL, "%s '%s' has an empty item", what, list);
		if (k)
			out[k++] = ',';
		start = k;
		memcpy(out + k, b, (size_t)(e - b));
		k += (size_t)(e - b);
		out[k] = '\0';
		if (stores && (rc = mbr_store_exists(db, out + start)) <= 0)
			return rc < 0 ? rc : mbr_db_fail(db, MBR_EINVAL, "%s: no store '%s'", what, out + start);
		if (!p[l])
			break;
		p += l + 1;
	}
	mbr_copy(list, 256, out);
	return 0;
}

/* Check a campaign and clean its lists into *out, which is what is stored. */
static int campaign_prepare(struct mbr_db *db, const struct mbr_campaign *c, struct mbr_campaign *out)
{
	int rc;

	_Static_assert(sizeof(out->stores) == 256 && sizeof(out->categories) == 256, "clean_list's size");
	*out = *c;
	/* a gift names its SKU and takes no money off; the other types take
	 * money off and name no gift, also when an edit changed the type */
	if (!strcmp(out->type, "gift"))
		out->value = 0;
	else
		out->gift_sku[0] = '\0';
	if ((rc = campaign_check(db, out)) < 0 || (rc = clean_list(db, "stores", out->stores, 1)) < 0 ||
	    (rc = clean_list(db, "categories", out->categories, 0)) < 0)
		return rc;
	return 0;
}

static void bind_campaign(sqlite3_stmt *st, const struct mbr_campaign *c)
{
	sqlite3_bind_text(st, 1, c->code, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, c->value);
	if (c->gift_sku[0])
		sqlite3_bind_text(st, 4, c->gift_sku, -1, SQLITE_STATIC);
	bind_opt(st, 5, c->cap);
	sqlite3_bind_int64(st, 6, c->min_spend);
	bind_opt(st, 7, c->valid_from ? c->valid_from : -1);
	bind_opt(st, 8, c->valid_to ? c->valid_to : -1);
	bind_opt(st, 9, c->total_limit);
	bind_opt(st, 10, c->per_member);
	bind_opt(st, 11, c->points_cost);
	sqlite3_bind_text(st, 12, c->stores, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, c->categories, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, c->stack, -1, SQLITE_STATIC);
}

int mbr_campaign_create(struct mbr_db *db, const struct mbr_campaign *given)
{
	struct mbr_campaign cc, *c = &cc;
	sqlite3_stmt *st;
	int rc;

	if ((rc = campaign_prepare(db, given, c)) < 0)
		return rc;
	st = mbr_stmt(db, "INSERT INTO campaigns(" CAMPAIGN_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
			  " ?10, ?11, ?12, ?13, ?14, ?15, NULL)");
	if (!st)
		return MBR_EDB;
	bind_campaign(st, c);
	sqlite3_bind_int64(st, 15, mbr_now());
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc == MBR_EEXIST ? mbr_db_fail(db, rc, "campaign '%s' already exists", c->code) : rc;
	return mbr_audit(db, "campaign.create", c->code, c->type);
}

int mbr_campaign_update(struct mbr_db *db, const struct mbr_campaign *given)
{
	struct mbr_campaign cc, *c = &cc;
	sqlite3_stmt *st;
	int rc;

	if ((rc = campaign_prepare(db, given, c)) < 0)
		return rc;
	st = mbr_stmt(db, "UPDATE campaigns SET type = ?2, value = ?3, gift_sku = ?4, cap = ?5, min_spend = ?6,"
			  " valid_from = ?7, valid_to = ?8, total_limit = ?9, per_member = ?10, points_cost = ?11,"
			  " stores = ?12, categories = ?13, stack = ?14 WHERE code = ?1");
	if (!st)
		return MBR_EDB;
	bind_campaign(st, c);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	return mbr_audit(db, "campaign.edit", c->code, "");
}

int mbr_campaign_get(struct mbr_db *db, const char *code, struct mbr_campaign *c)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT " CAMPAIGN_COLS " FROM campaigns WHERE code = ?");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, code, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		campaign_from_row(st, c);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? mbr_db_fail(db, MBR_ENOTFOUND, "no campaign '%s'", code)
				 : mbr_db_sqlerr(db, "campaigns");
}

int mbr_campaign_close(struct mbr_db *db, const char *code)
{
	struct mbr_campaign c;
	sqlite3_stmt *st;
	int rc;

	if ((rc = mbr_campaign_get(db, code, &c)) < 0)
		return rc;
	if (c.closed_at)
		return mbr_db_fail(db, MBR_EINVAL, "campaign '%s' is already closed", code);
	st = mbr_stmt(db, "UPDATE campaigns SET closed_at = ? WHERE code = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, mbr_now());
	sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	return mbr_audit(db, "campaign.close", code, "");
}

int mbr_campaigns_each(struct mbr_db *db, mbr_campaign_fn fn, void *ctx)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT " CAMPAIGN_COLS " FROM campaigns ORDER BY code");
	struct mbr_campaign c;
	int rc;

	if (!st)
		return MBR_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;

		campaign_from_row(st, &c);
		if ((r = fn(&c, ctx)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "campaigns");
}

/* ---------------------------------------------------------------- codes */

static int insert_code(struct mbr_db *db, const char *campaign, const char *code, int64_t batch)
{
	sqlite3_stmt *st = mbr_stmt(db, "INSERT INTO coupons(code, campaign, state, created_at, batch) VALUES (?, ?, 'new', ?, ?)");

	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, campaign, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, mbr_now());
	if (batch)
		sqlite3_bind_int64(st, 4, batch);
	return mbr_stmt_done(db, st);
}

static int open_campaign(struct mbr_db *db, const char *campaign, struct mbr_campaign *c)
{
	int rc = mbr_campaign_get(db, campaign, c);

	if (rc < 0)
		return rc;
	if (c->closed_at)
		return mbr_db_fail(db, MBR_EINVAL, "campaign '%s' is closed", campaign);
	return 0;
}

/* Count coupons of a campaign handed out (issued, redeemed or expired after issue). */
static int count_issued(struct mbr_db *db, const char *campaign, int64_t member, int64_t *n)
{
	sqlite3_stmt *st = member
		? mbr_stmt(db, "SELECT COUNT(*) FROM coupons WHERE member = ? AND campaign = ?")
		: mbr_stmt(db, "SELECT COUNT(*) FROM coupons WHERE campaign = ?2 AND member IS NOT NULL");

	if (!st)
		return MBR_EDB;
	if (member)
		sqlite3_bind_int64(st, 1, member);
	sqlite3_bind_text(st, 2, campaign, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return mbr_db_sqlerr(db, "coupons");
	}
	*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int mbr_coupon_count(struct mbr_db *db, const char *campaign, int64_t member, int64_t *n)
{
	return count_issued(db, campaign, member, n);
}

int mbr_coupon_generate(struct mbr_db *db, const char *campaign, long n, int64_t batch, mbr_code_fn fn, void *ctx)
{
	struct mbr_campaign c;
	char code[MBR_CODE_SZ];
	long i;
	int rc;

	if ((rc = open_campaign(db, campaign, &c)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		mbr_coupon_code_new(code);
		rc = insert_code(db, campaign, code, batch);
		if (rc == MBR_EEXIST) {		/* 2^55 codes: a clash is as good as impossible, but cheap to survive */
			i--;
			continue;
		}
		if (rc < 0)
			return rc;
		if (fn && (rc = fn(code, ctx)) != 0)
			return rc;
	}
	return 0;
}

int mbr_coupon_load(struct mbr_db *db, const char *campaign, const char *code, int64_t batch)
{
	char norm[MBR_CODE_SZ];
	int rc;

	if (mbr_coupon_code_normalize(code, norm) < 0)
		return mbr_db_fail(db, MBR_EINVAL, "'%s' is not a coupon code (4 to 39 letters and digits)", code);
	rc = insert_code(db, campaign, norm, batch);
	if (rc == MBR_EEXIST)
		return mbr_db_fail(db, MBR_EEXIST, "code %s already exists", norm);
	return rc;
}

int mbr_coupon_issue(struct mbr_db *db, const char *campaign, const struct mbr_member *m, int64_t batch,
		     char code[MBR_CODE_SZ])
{
	struct mbr_campaign c;
	sqlite3_stmt *st;
	int64_t n, now = mbr_now();
	int rc;

	if ((rc = open_campaign(db, campaign, &c)) < 0)
		return rc;
	if (strcmp(m->status, "active"))
		return mbr_db_fail(db, MBR_EINVAL, "member %s is %s", m->uid, m->status);
	if (c.valid_to && now >= c.valid_to)
		return mbr_db_fail(db, MBR_EINVAL, "campaign '%s' has ended", campaign);
	if (c.per_member >= 0) {
		if ((rc = count_issued(db, campaign, m->id, &n)) < 0)
			return rc;
		if (n >= c.per_member)
			return mbr_db_fail(db, MBR_EINVAL, "member %s already has %lld coupon%s of '%s' (limit %lld)",
					   m->uid, (long long)n, n == 1 ? "" : "s", campaign, (long long)c.per_member);
	}
	if (c.total_limit >= 0) {
		if ((rc = count_issued(db, campaign, 0, &n)) < 0)
			return rc;
		if (n >= c.total_limit)
			return mbr_db_fail(db, MBR_EINVAL, "campaign '%s' has issued all %lld coupons", campaign,
					   (long long)c.total_limit);
	}
	/* a code generated or loaded beforehand, else a new one */
	st = mbr_stmt(db, "SELECT code FROM coupons WHERE campaign = ? AND state = 'new' LIMIT 1");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, campaign, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		mbr_copy(code, MBR_CODE_SZ, text(st, 0));
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		do {
			mbr_coupon_code_new(code);
			rc = insert_code(db, campaign, code, batch);
		} while (rc == MBR_EEXIST);
		if (rc < 0)
			return rc;
	} else if (rc != SQLITE_ROW) {
		return mbr_db_sqlerr(db, "coupons");
	}
	st = mbr_stmt(db, "UPDATE coupons SET member = ?, state = 'issued', issued_at = ?, batch = COALESCE(?, batch)"
			  " WHERE code = ? AND state = 'new'");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, m->id);
	sqlite3_bind_int64(st, 2, now);
	if (batch)
		sqlite3_bind_int64(st, 3, batch);
	sqlite3_bind_text(st, 4, code, -1, SQLITE_STATIC);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	if (!batch)
		return mbr_audit(db, "coupon.issue", code, m->uid);
	return 0;
}

int mbr_coupon_buy(struct mbr_db *db, const char *campaign, const struct mbr_member *m, char code[MBR_CODE_SZ])
{
	struct mbr_campaign c;
	struct mbr_post p;
	int64_t bal;
	int rc;

	if ((rc = open_campaign(db, campaign, &c)) < 0)
		return rc;
	if (c.points_cost < 0)
		return mbr_db_fail(db, MBR_EINVAL, "campaign '%s' cannot be bought with points", campaign);
	if ((rc = mbr_points_spendable(db, m->id, 0, &bal)) < 0)
		return rc;
	if (bal < c.points_cost)
		return mbr_db_fail(db, MBR_EINVAL, "member %s has %lld points; a '%s' coupon costs %lld",
				   m->uid, (long long)bal, campaign, (long long)c.points_cost);
	if ((rc = mbr_coupon_issue(db, campaign, m, 0, code)) < 0)
		return rc;
	if (c.points_cost == 0)
		return 0;
	memset(&p, 0, sizeof(p));
	p.member = m->id;
	p.kind = "redeem";
	p.source = "coupon";
	p.reason = "coupon bought with points";
	p.ref = code;
	p.points = -c.points_cost;
	return mbr_points_post(db, &p, NULL);
}

/* ----------------------------------------------------------- redemption */

/* Is item in the comma list (empty list: everything)? */
static int in_list(const char *list, const char *item)
{
	size_t n = strlen(item);
	const char *p = list;

	if (!*list)
		return 1;
	while (*p) {
		size_t l = strcspn(p, ",");
		if (l == n && !strncmp(p, item, n))
			return 1;
		p += l;
		if (*p)
			p++;
	}
	return 0;
}

int64_t mbr_campaign_discount(const struct mbr_campaign *c, int64_t amount)
{
	int64_t d = 0;

	if (amount <= 0 || amount < c->min_spend)
		return 0;
	if (!strcmp(c->type, "amount") || !strcmp(c->type, "threshold"))
		d = c->value;
	else if (!strcmp(c->type, "percent")) {
		d = (int64_t)((__int128)amount * c->value / 10000);	/* rounded down */
		if (c->cap >= 0 && d > c->cap)
			d = c->cap;
	}
	return d > amount ? amount : d;
}

int mbr_coupon_check(struct mbr_db *db, const char *codetext, const struct mbr_coupon_use *u,
		     struct mbr_coupon *out)
{
	struct mbr_campaign c;
	struct mbr_coupon k;
	sqlite3_stmt *st;
	char code[MBR_CODE_SZ];
	int64_t now = u->now ? u->now : mbr_now(), discount;
	int rc;

	memset(&k, 0, sizeof(k));
	if (mbr_coupon_code_normalize(codetext, code) < 0)
		return mbr_db_fail(db, MBR_ENOTFOUND, "unknown: '%s' is not a coupon code", codetext);
	st = mbr_stmt(db, "SELECT c.code, c.campaign, COALESCE(m.uid, ''), c.state, COALESCE(c.member, 0)"
			  " FROM coupons c LEFT JOIN members m ON m.id = c.member WHERE c.code = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		mbr_copy(k.code, sizeof(k.code), text(st, 0));
		mbr_copy(k.campaign, sizeof(k.campaign), text(st, 1));
		mbr_copy(k.member_uid, sizeof(k.member_uid), text(st, 2));
		mbr_copy(k.state, sizeof(k.state), text(st, 3));
		k.member = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		if (strlen(code) == CODE_RANDOM + 1 && !mbr_coupon_code_ok(code))
			return mbr_db_fail(db, MBR_ENOTFOUND, "mistyped: %s fails its check character", code);
		return mbr_db_fail(db, MBR_ENOTFOUND, "unknown: no coupon %s", code);
	}
	if (rc != SQLITE_ROW)
		return mbr_db_sqlerr(db, "coupons");
	if (out)
		*out = k;
	if ((rc = mbr_campaign_get(db, k.campaign, &c)) < 0)
		return rc;
	if (!strcmp(k.state, "redeemed"))
		return mbr_db_fail(db, MBR_EINVAL, "used: coupon %s was already redeemed", code);
	if (!strcmp(k.state, "voided"))
		return mbr_db_fail(db, MBR_EINVAL, "voided: coupon %s was voided", code);
	if (!strcmp(k.state, "expired") || (c.valid_to && now >= c.valid_to))
		return mbr_db_fail(db, MBR_EINVAL, "expired: coupon %s is past its validity", code);
	if (c.valid_from && now < c.valid_from)
		return mbr_db_fail(db, MBR_EINVAL, "not started: coupon %s is not valid yet", code);
	if (c.closed_at)
		return mbr_db_fail(db, MBR_EINVAL, "closed: campaign '%s' is closed", c.code);
	if (!strcmp(k.state, "new"))
		return mbr_db_fail(db, MBR_EINVAL, "not issued: coupon %s was never issued", code);
	if (u->member && k.member && u->member != k.member)
		return mbr_db_fail(db, MBR_EINVAL, "other member: coupon %s belongs to member %s", code, k.member_uid);
	if (u->store && *u->store && !in_list(c.stores, u->store))
		return mbr_db_fail(db, MBR_EINVAL, "wrong store: coupon %s is not valid at store %s", code, u->store);
	if (u->has_amount && u->amount < c.min_spend) {
		char a[MBR_MONEY_BUFSZ];
		return mbr_db_fail(db, MBR_EINVAL, "below minimum: coupon %s needs a spend of %s", code,
				   mbr_money_format(c.min_spend, db->exp, a));
	}
	discount = u->has_amount ? mbr_campaign_discount(&c, u->amount) : 0;
	/* a coupon is not used up for nothing; a gift gives an item, not money */
	if (u->has_amount && strcmp(c.type, "gift") && discount == 0) {
		char a[MBR_MONEY_BUFSZ];
		if (c.categories[0])
			return mbr_db_fail(db, MBR_EINVAL, "no discount: coupon %s takes nothing off this receipt"
					   " (nothing left of the lines of its categories)", code);
		return mbr_db_fail(db, MBR_EINVAL, "no discount: coupon %s takes nothing off an amount of %s", code,
				   mbr_money_format(u->amount, db->exp, a));
	}
	if (out) {
		out->discount = discount;
		mbr_copy(out->gift_sku, sizeof(out->gift_sku), c.gift_sku);
		mbr_copy(out->stack, sizeof(out->stack), c.stack);
		mbr_copy(out->categories, sizeof(out->categories), c.categories);
	}
	return 0;
}

int mbr_coupon_redeem(struct mbr_db *db, const char *codetext, const struct mbr_coupon_use *u,
		      int64_t sale, const char *receipt, struct mbr_coupon *out)
{
	struct mbr_coupon k;
	sqlite3_stmt *st;
	int rc;

	if ((rc = mbr_coupon_check(db, codetext, u, &k)) < 0)
		return rc;
	/* The state test in the WHERE clause, under the write lock of the
	 * caller's transaction, is what makes a code redeemable once. */
	st = mbr_stmt(db, "UPDATE coupons SET state = 'redeemed', redeemed_at = ?, sale = ?, store = ?, receipt = ?,"
			  " discount = ? WHERE code = ? AND state = 'issued'");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, u->now ? u->now : mbr_now());
	if (sale)
		sqlite3_bind_int64(st, 2, sale);
	if (u->store)
		sqlite3_bind_text(st, 3, u->store, -1, SQLITE_STATIC);
	if (receipt)
		sqlite3_bind_text(st, 4, receipt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, k.discount);
	sqlite3_bind_text(st, 6, k.code, -1, SQLITE_STATIC);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	if (sqlite3_changes(db->sql) != 1)
		return mbr_db_fail(db, MBR_EINVAL, "used: coupon %s was already redeemed", k.code);
	if (out)
		*out = k;
	if (!sale)
		return mbr_audit(db, "coupon.redeem", k.code, receipt ? receipt : "");
	return 0;
}

int mbr_coupon_void(struct mbr_db *db, const char *codetext)
{
	char code[MBR_CODE_SZ];
	sqlite3_stmt *st;
	int rc;

	if (mbr_coupon_code_normalize(codetext, code) < 0)
		return mbr_db_fail(db, MBR_ENOTFOUND, "unknown: '%s' is not a coupon code", codetext);
	/* past its campaign's last day a coupon is expired, whether or not
	 * expire has run: check says so below */
	st = mbr_stmt(db, "UPDATE coupons SET state = 'voided', ended_at = ?1 WHERE code = ?2 AND state IN ('new', 'issued')"
			  " AND campaign NOT IN (SELECT code FROM campaigns WHERE valid_to IS NOT NULL AND valid_to <= ?1)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, mbr_now());
	sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	if (sqlite3_changes(db->sql) != 1) {
		struct mbr_coupon_use u;
		memset(&u, 0, sizeof(u));
		rc = mbr_coupon_check(db, code, &u, NULL);
		return rc < 0 ? rc : mbr_db_fail(db, MBR_EINVAL, "coupon %s cannot be voided", code);
	}
	return mbr_audit(db, "coupon.void", code, "");
}

int mbr_coupon_expire(struct mbr_db *db, int64_t as_of, long *n)
{
	sqlite3_stmt *st = mbr_stmt(db, "UPDATE coupons SET state = 'expired', ended_at = ?1"
					" WHERE state IN ('new', 'issued') AND campaign IN"
					" (SELECT code FROM campaigns WHERE valid_to IS NOT NULL AND valid_to <= ?1)");
	int rc;

	*n = 0;
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, as_of);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	*n = sqlite3_changes(db->sql);
	if (*n) {
		char detail[48];
		snprintf(detail, sizeof(detail), "%ld coupons", *n);
		return mbr_audit(db, "coupon.expire", "", detail);
	}
	return 0;
}

int mbr_coupon_undo_batch(struct mbr_db *db, int64_t batch)
{
	sqlite3_stmt *st = mbr_stmt(db, "UPDATE coupons SET state = 'issued', redeemed_at = NULL, sale = NULL, store = NULL,"
					" receipt = NULL, discount = NULL"
					" WHERE state = 'redeemed' AND sale IN (SELECT id FROM sales WHERE batch = ?)");

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, batch);
	return mbr_stmt_done(db, st);
}

int mbr_coupon_summary(struct mbr_db *db, mbr_report_fn fn, void *ctx)
{
	sqlite3_stmt *st = mbr_stmt(db,
		"SELECT k.code, k.type,"
		" (SELECT COUNT(*) FROM coupons c WHERE c.campaign = k.code AND c.member IS NOT NULL),"
		" (SELECT COUNT(*) FROM coupons c WHERE c.campaign = k.code AND c.state = 'redeemed'),"
		" (SELECT COUNT(*) FROM coupons c WHERE c.campaign = k.code AND c.state = 'expired'),"
		" (SELECT COUNT(*) FROM coupons c WHERE c.campaign = k.code AND c.state = 'voided'),"
		" (SELECT COALESCE(SUM(c.discount), 0) FROM coupons c WHERE c.campaign = k.code AND c.state = 'redeemed'),"
		" (SELECT COALESCE(SUM(s.total), 0) FROM sales s WHERE s.id IN"	/* a receipt counts once */
		"   (SELECT c.sale FROM coupons c WHERE c.campaign = k.code AND c.state = 'redeemed'))"
		" FROM campaigns k ORDER BY k.code");
	char b[8][MBR_MONEY_BUFSZ];
	const char *v[9];
	int rc, i;

	if (!st)
		return MBR_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t issued = sqlite3_column_int64(st, 2), redeemed = sqlite3_column_int64(st, 3);
		int r;

		v[0] = text(st, 0);
		v[1] = text(st, 1);
		for (i = 2; i < 6; i++) {
			snprintf(b[i], sizeof(b[i]), "%lld", (long long)sqlite3_column_int64(st, i));
			v[i] = b[i];
		}
		/* redemption rate in percent with one decimal, exact */
		if (issued)
			snprintf(b[0], sizeof(b[0]), "%lld.%lld", (long long)(redeemed * 1000 / issued / 10),
				 (long long)(redeemed * 1000 / issued % 10));
		else
			snprintf(b[0], sizeof(b[0]), "0.0");
		v[6] = b[0];
		v[7] = mbr_money_format(sqlite3_column_int64(st, 6), db->exp, b[6]);
		v[8] = mbr_money_format(sqlite3_column_int64(st, 7), db->exp, b[7]);
		if ((r = fn(v, ctx)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "coupons");
}

const struct mbr_col mbr_coupon_summary_cols[9] = {
	{ "campaign", NULL, 0 }, { "type", NULL, 0 }, { "issued", NULL, MBR_COL_NUMBER },
	{ "redeemed", NULL, MBR_COL_NUMBER }, { "expired", NULL, MBR_COL_NUMBER }, { "voided", NULL, MBR_COL_NUMBER },
	{ "redemption_rate", NULL, MBR_COL_NUMBER | MBR_COL_CHART }, { "discount", NULL, MBR_COL_NUMBER },
	{ "sales", NULL, MBR_COL_NUMBER },
};

int mbr_coupons_of_member(struct mbr_db *db, int64_t member, mbr_name_fn fn, void *ctx)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT c.code, c.campaign FROM coupons c JOIN campaigns k ON k.code = c.campaign"
					" WHERE c.member = ? AND c.state = 'issued' AND k.closed_at IS NULL"
					" AND (k.valid_to IS NULL OR k.valid_to > ?2) AND (k.valid_from IS NULL OR k.valid_from <= ?2)"
					" ORDER BY c.issued_at");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, member);
	sqlite3_bind_int64(st, 2, mbr_now());
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r = fn(text(st, 0), text(st, 1), ctx);
		if (r) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "coupons");
}
