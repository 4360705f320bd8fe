/*
 * rules.c - earning rules, tiers and expiry policy: the text format, its
 * parser, versions with an effective date, and scoring a receipt.
 *
 * Rules are data: `mbr-points rules load FILE` stores the text of a new
 * version (kept verbatim, so `rules show` gives back exactly what was
 * loaded and the file can live under version control); every receipt is
 * scored by the version in force at its time, and records its points, so
 * a return reverses what was earned, never what today's rules would give.
 *
 * The format, one directive per line, '#' starts a comment:
 *
 *   effective 2026-01-01            date the version takes effect (store time)
 *   base 1 per 1.00                 points per amount paid
 *   min_spend 10.00                 receipts below this earn nothing
 *   expiry never | months N | year-end N
 *   redeem 100 = 1.00               value of points used as payment
 *   earn_on points|stored_value     payments that earn points too (default none)
 *   tier CODE rank N spend|points THRESHOLD [window DAYS] [discount P%]
 *        [earn xM] [name TEXT]
 *   multiplier category NAME xM | sku SKU xM | tier CODE xM
 *   multiplier weekday mon,sat,... xM | dates FROM..TO xM
 *   birthday xM                     on the member's birthday (month and day)
 *   topup AMOUNT bonus BONUS [from DATE] [to DATE]
 *                                   stored-value top-up bonus (充值满1000送100);
 *                                   the rule with the highest AMOUNT reached applies
 *
 * Multipliers are exact decimals with up to 4 places (x1.25).  They
 * multiply: a line earns amount * base * (sku or category multiplier) *
 * (tier, weekday, date range and birthday multipliers).
 *
 * Rounding (stated in mbr-points(1)): a receipt's points are its exact
 * points rounded down; the fraction left is stored with the sale in
 * millionths of a point (sales.points_residue), so nothing is lost
 * unseen and nothing is counted twice.  Returns without a referenced sale
 * reverse their exact points rounded toward zero.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

#define BP 10000	/* multipliers and percentages in basis points */

void mbr_rules_default(struct mbr_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->base_points = 1;
	r->base_per = 1;	/* set to one currency unit by mbr_rules_parse */
	r->expiry = MBR_EXPIRY_NEVER;
	r->redeem_points = 100;
	r->redeem_value = 0;	/* one currency unit: set by parse */
}

/* Split line into words (modifies it); returns the count. */
static int split(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			break;
		if (n == max)
			return max + 1;
		w[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

/* "x1.25" or "1.25" -> 12500 basis points. */
static int parse_mult(const char *s, int64_t *bp)
{
	int64_t v;

	if (*s == 'x' || *s == 'X')
		s++;
	if (mbr_money_parse(s, 4, &v) < 0 || v < 0 || v > 1000 * BP)
		return MBR_EINVAL;
	*bp = v;
	return 0;
}

/* "5%" -> 500 basis points. */
static int parse_percent(const char *s, int64_t *bp)
{
	char tmp[32];
	size_t n = strlen(s);
	int64_t v;

	if (n == 0 || n >= sizeof(tmp) || s[n - 1] != '%')
		return MBR_EINVAL;
	memcpy(tmp, s, n - 1);
	tmp[n - 1] = '\0';
	if (mbr_money_parse(tmp, 2, &v) < 0 || v < 0 || v > 100 * 100)
		return MBR_EINVAL;
	*bp = v;
	return 0;
}

static int parse_count(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s))
		return MBR_EINVAL;
	v = strtoll(s, &end, 10);
	if (*end || v < min || v > max)
		return MBR_EINVAL;
	*out = v;
	return 0;
}

static int parse_day(const char *s, int64_t *day)
{
	char d[11];
	int64_t t;

	if (mbr_date_normalize(s, d) < 0 || mbr_time_parse(d, NULL, &t) < 0)
		return MBR_EINVAL;
	*day = mbr_local_day(t);
	return 0;
}

static int parse_weekdays(const char *s, unsigned *mask)
{
	static const char *const names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
	const char *p = s;

	*mask = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		int i, found = 0;

		for (i = 0; i < 7; i++) {
			if (n == 3 && !strncasecmp(p, names[i], 3)) {
				*mask |= 1u << i;
				found = 1;
			}
		}
		if (!found && n == 1 && p[0] >= '1' && p[0] <= '7') {
			*mask |= 1u << ((p[0] - '0') % 7);	/* 1 = Monday ... 7 = Sunday */
			found = 1;
		}
		if (!found)
			return MBR_EINVAL;
		p += n;
		if (*p == ',')
			p++;
	}
	return *mask ? 0 : MBR_EINVAL;
}

static int copy_code(char *dst, size_t n, const char *s)
{
	size_t l = strlen(s);

	if (l == 0 || l >= n)
		return MBR_EINVAL;
	memcpy(dst, s, l + 1);
	return 0;
}

#define FAIL(...) do { mbr_buf_addf(err, "%d: ", lineno); mbr_buf_addf(err, __VA_ARGS__); return MBR_EINVAL; } while (0)

static int parse_tier(struct mbr_rules *r, char **w, int n, int lineno, int exp, struct mbr_buf *err)
{
	struct mbr_tier *t;
	int i;

	if (r->ntiers == MBR_MAX_TIERS)
		FAIL("more than %d tiers", MBR_MAX_TIERS);
	t = &r->tiers[r->ntiers];
	memset(t, 0, sizeof(*t));
	t->window_days = 365;
	t->earn_mult_bp = BP;
	if (n < 6 || copy_code(t->code, sizeof(t->code), w[1]) < 0 || !mbr_store_code_valid(t->code))
		FAIL("tier needs: tier CODE rank N spend|points THRESHOLD");
	for (i = 2; i < n; i += 2) {
		if (i + 1 >= n)
			FAIL("tier %s: '%s' needs a value", t->code, w[i]);
		if (!strcmp(w[i], "rank")) {
			if (parse_count(w[i + 1], 0, 1000, &t->rank) < 0)
				FAIL("tier %s: bad rank '%s'", t->code, w[i + 1]);
		} else if (!strcmp(w[i], "spend")) {
			t->basis_points = 0;
			if (mbr_money_parse(w[i + 1], exp, &t->threshold) < 0 || t->threshold < 0)
				FAIL("tier %s: bad spend threshold '%s'", t->code, w[i + 1]);
		} else if (!strcmp(w[i], "points")) {
			t->basis_points = 1;
			if (parse_count(w[i + 1], 0, INT64_MAX / 2, &t->threshold) < 0)
				FAIL("tier %s: bad points threshold '%s'", t->code, w[i + 1]);
		} else if (!strcmp(w[i], "window")) {
			if (parse_count(w[i + 1], 1, 3660, &t->window_days) < 0)
				FAIL("tier %s: bad window '%s' (days)", t->code, w[i + 1]);
		} else if (!strcmp(w[i], "discount")) {
			if (parse_percent(w[i + 1], &t->discount_bp) < 0)
				FAIL("tier %s: bad discount '%s' (e.g. 5%%)", t->code, w[i + 1]);
		} else if (!strcmp(w[i], "earn")) {
			if (parse_mult(w[i + 1], &t->earn_mult_bp) < 0)
				FAIL("tier %s: bad earn multiplier '%s' (e.g. x1.5)", t->code, w[i + 1]);
		} else if (!strcmp(w[i], "name")) {
			if (copy_code(t->name, sizeof(t->name), w[i + 1]) < 0)
				FAIL("tier %s: bad name", t->code);
		} else {
			FAIL("tier %s: unknown word '%s'", t->code, w[i]);
		}
	}
	for (i = 0; i < r->ntiers; i++) {
		if (!strcmp(r->tiers[i].code, t->code))
			FAIL("tier %s defined twice", t->code);
		if (r->tiers[i].rank == t->rank)
			FAIL("tiers %s and %s have the same rank", r->tiers[i].code, t->code);
	}
	r->ntiers++;
	return 0;
}

static int parse_multiplier(struct mbr_rules *r, char **w, int n, int lineno, struct mbr_buf *err)
{
	struct mbr_mult *m;

	if (r->nmults == MBR_MAX_MULTS)
		FAIL("more than %d multipliers", MBR_MAX_MULTS);
	if (n != 4)
		FAIL("multiplier needs: multiplier category|sku|tier|weekday|dates WHAT xM");
	m = &r->mults[r->nmults];
	memset(m, 0, sizeof(*m));
	m->line = lineno;
	if (parse_mult(w[3], &m->bp) < 0)
		FAIL("bad multiplier '%s' (e.g. x2)", w[3]);
	if (!strcmp(w[1], "category") || !strcmp(w[1], "sku") || !strcmp(w[1], "tier")) {
		m->kind = w[1][0] == 'c' ? MBR_MULT_CATEGORY : w[1][0] == 's' ? MBR_MULT_SKU : MBR_MULT_TIER;
		if (copy_code(m->key, sizeof(m->key), w[2]) < 0)
			FAIL("bad %s '%s'", w[1], w[2]);
	} else if (!strcmp(w[1], "weekday")) {
		m->kind = MBR_MULT_WEEKDAY;
		if (parse_weekdays(w[2], &m->weekdays) < 0)
			FAIL("bad weekdays '%s' (e.g. sat,sun)", w[2]);
	} else if (!strcmp(w[1], "dates")) {
		char *dots = strstr(w[2], "..");

		m->kind = MBR_MULT_DATES;
		if (!dots)
			FAIL("bad dates '%s' (FROM..TO)", w[2]);
		*dots = '\0';
		if (parse_day(w[2], &m->from_day) < 0 || parse_day(dots + 2, &m->to_day) < 0 || m->to_day < m->from_day)
			FAIL("bad dates '%s..%s'", w[2], dots + 2);
	} else {
		FAIL("unknown multiplier kind '%s'", w[1]);
	}
	r->nmults++;
	return 0;
}

static int parse_topup(struct mbr_rules *r, char **w, int n, int lineno, int exp, struct mbr_buf *err)
{
	struct mbr_topup_rule *t;
	int i;

	if (r->ntopups == MBR_MAX_TOPUPS)
		FAIL("more than %d topup rules", MBR_MAX_TOPUPS);
	t = &r->topups[r->ntopups];
	t->from_day = INT64_MIN;
	t->to_day = INT64_MAX;
	if (n < 4 || strcmp(w[2], "bonus") || mbr_money_parse(w[1], exp, &t->min) < 0 || t->min <= 0 ||
	    mbr_money_parse(w[3], exp, &t->bonus) < 0 || t->bonus < 0)
		FAIL("topup needs: topup AMOUNT bonus BONUS [from DATE] [to DATE]");
	for (i = 4; i < n; i += 2) {
		if (i + 1 >= n)
			FAIL("topup: '%s' needs a date", w[i]);
		if (!strcmp(w[i], "from")) {
			if (parse_day(w[i + 1], &t->from_day) < 0)
				FAIL("topup: bad date '%s'", w[i + 1]);
		} else if (!strcmp(w[i], "to")) {
			if (parse_day(w[i + 1], &t->to_day) < 0)
				FAIL("topup: bad date '%s'", w[i + 1]);
		} else {
			FAIL("topup: unknown word '%s'", w[i]);
		}
	}
	if (t->to_day < t->from_day)
		FAIL("topup: the dates end before they start");
	r->ntopups++;
	return 0;
}

/*
 * Parse rules text into r.  On MBR_EINVAL err is "N: reason", N being the
 * line of the text at fault, so that a caller that read the text from a
 * file says "file:N: reason" as the CSV imports do.  Errors found once the
 * whole text is read point at a line too: a tier defined twice or with a
 * rank taken at the later definition, a multiplier for an unknown tier at
 * the multiplier, a missing effective date at line 1.  Tier codes and
 * ranks are unique within this text only: another version may reuse them
 * freely.
 */
int mbr_rules_parse(const char *text, int exp, struct mbr_rules *r, struct mbr_buf *err)
{
	struct mbr_buf line = MBR_BUF_INIT;
	const char *p = text;
	int lineno = 0, rc = 0, have_effective = 0;
	int64_t unit = 1;
	int i;

	mbr_buf_reset(err);
	for (i = 0; i < exp; i++)
		unit *= 10;
	mbr_rules_default(r);
	r->base_per = unit;
	r->redeem_value = unit;
	while (*p && rc == 0) {
		size_t n = strcspn(p, "\n");
		char *w[40];
		int nw;

		lineno++;
		mbr_buf_reset(&line);
		mbr_buf_add(&line, p, n);
		p += n;
		if (*p == '\n')
			p++;
		if (line.len && line.buf[line.len - 1] == '\r')
			line.buf[--line.len] = '\0';
		nw = split(line.buf, w, 39);
		if (nw == 0)
			continue;
		if (nw > 39) {
			mbr_buf_addf(err, "%d: too many words", lineno);
			rc = MBR_EINVAL;
		} else if (!strcmp(w[0], "effective")) {
			if (nw != 2 || parse_day(w[1], &r->effective_day) < 0) {
				mbr_buf_addf(err, "%d: effective needs a date (YYYY-MM-DD)", lineno);
				rc = MBR_EINVAL;
			}
			have_effective = 1;
		} else if (!strcmp(w[0], "base")) {
			if (nw != 4 || strcmp(w[2], "per") || parse_count(w[1], 0, 1000000, &r->base_points) < 0 ||
			    mbr_money_parse(w[3], exp, &r->base_per) < 0) {
				mbr_buf_addf(err, "%d: base needs: base POINTS per AMOUNT (e.g. base 1 per 1.00)", lineno);
				rc = MBR_EINVAL;
			} else if (r->base_per <= 0) {
				mbr_buf_addf(err, "%d: base: the amount '%s' must be above 0", lineno, w[3]);
				rc = MBR_EINVAL;
			}
		} else if (!strcmp(w[0], "min_spend")) {
			if (nw != 2 || mbr_money_parse(w[1], exp, &r->min_spend) < 0 || r->min_spend < 0) {
				mbr_buf_addf(err, "%d: min_spend needs an amount", lineno);
				rc = MBR_EINVAL;
			}
		} else if (!strcmp(w[0], "expiry")) {
			if (nw == 2 && !strcmp(w[1], "never")) {
				r->expiry = MBR_EXPIRY_NEVER;
			} else if (nw == 3 && !strcmp(w[1], "months") && parse_count(w[2], 1, 1200, &r->expiry_n) == 0) {
				r->expiry = MBR_EXPIRY_MONTHS;
			} else if (nw == 3 && !strcmp(w[1], "year-end") && parse_count(w[2], 0, 100, &r->expiry_n) == 0) {
				r->expiry = MBR_EXPIRY_YEAR_END;
			} else {
				mbr_buf_addf(err, "%d: expiry needs: never | months N | year-end N", lineno);
				rc = MBR_EINVAL;
			}
		} else if (!strcmp(w[0], "redeem")) {
			if (nw != 4 || strcmp(w[2], "=") || parse_count(w[1], 1, 1000000000, &r->redeem_points) < 0 ||
			    mbr_money_parse(w[3], exp, &r->redeem_value) < 0) {
				mbr_buf_addf(err, "%d: redeem needs: redeem POINTS = AMOUNT (e.g. redeem 100 = 1.00)", lineno);
				rc = MBR_EINVAL;
			} else if (r->redeem_value <= 0) {
				mbr_buf_addf(err, "%d: redeem: the amount '%s' must be above 0", lineno, w[3]);
				rc = MBR_EINVAL;
			}
		} else if (!strcmp(w[0], "earn_on")) {
			int k;
			for (k = 1; k < nw && rc == 0; k++) {
				if (!strcmp(w[k], "points"))
					r->earn_on_points = 1;
				else if (!strcmp(w[k], "stored_value"))
					r->earn_on_stored_value = 1;
				else {
					mbr_buf_addf(err, "%d: earn_on takes points, stored_value", lineno);
					rc = MBR_EINVAL;
				}
			}
		} else if (!strcmp(w[0], "birthday")) {
			if (nw != 2 || parse_mult(w[1], &r->birthday_bp) < 0) {
				mbr_buf_addf(err, "%d: birthday needs a multiplier (e.g. birthday x2)", lineno);
				rc = MBR_EINVAL;
			}
		} else if (!strcmp(w[0], "topup")) {
			rc = parse_topup(r, w, nw, lineno, exp, err);
		} else if (!strcmp(w[0], "tier")) {
			rc = parse_tier(r, w, nw, lineno, exp, err);
		} else if (!strcmp(w[0], "multiplier")) {
			rc = parse_multiplier(r, w, nw, lineno, err);
		} else {
			mbr_buf_addf(err, "%d: unknown directive '%s'", lineno, w[0]);
			rc = MBR_EINVAL;
		}
	}
	mbr_buf_release(&line);
	if (rc == 0 && !have_effective) {
		mbr_buf_adds(err, "1: rules need an 'effective YYYY-MM-DD' line");
		rc = MBR_EINVAL;
	}
	if (rc == 0) {
		for (i = 0; i < r->nmults; i++) {
			int k, found = r->mults[i].kind != MBR_MULT_TIER;
			for (k = 0; k < r->ntiers && !found; k++)
				found = !strcmp(r->tiers[k].code, r->mults[i].key);
			if (!found) {
				mbr_buf_addf(err, "%d: multiplier for unknown tier '%s'", r->mults[i].line,
					     r->mults[i].key);
				rc = MBR_EINVAL;
				break;
			}
		}
	}
	return rc;
}

/* ------------------------------------------------------------- scoring */

const struct mbr_tier *mbr_rules_tier(const struct mbr_rules *r, const char *code)
{
	int i;

	if (!code || !*code)
		return NULL;
	for (i = 0; i < r->ntiers; i++)
		if (!strcmp(r->tiers[i].code, code))
			return &r->tiers[i];
	return NULL;
}

/* Multiplier of one line: its SKU's if one is set, else its category's. */
int64_t mbr_rules_line_bp(const struct mbr_rules *r, const char *sku, const char *category)
{
	int64_t cat = BP, by_sku = -1;
	int i;

	/* a sku multiplier before a category one; of several naming the
	 * same product or category, the last */
	for (i = 0; i < r->nmults; i++) {
		const struct mbr_mult *m = &r->mults[i];

		if (m->kind == MBR_MULT_SKU && sku && !strcmp(m->key, sku))
			by_sku = m->bp;
		if (m->kind == MBR_MULT_CATEGORY && category && !strcmp(m->key, category))
			cat = m->bp;
	}
	return by_sku >= 0 ? by_sku : cat;
}

/* Product of two basis-point multipliers, exact to the basis point. */
static int64_t mul_bp(int64_t a, int64_t b)
{
	return (int64_t)((__int128)a * b / BP);
}

int64_t mbr_rules_receipt_bp(const struct mbr_rules *r, const char *tier, int64_t day, int birthday)
{
	const struct mbr_tier *t = mbr_rules_tier(r, tier);
	int64_t bp = t ? t->earn_mult_bp : BP;
	int wday = (int)(((day % 7) + 7 + 4) % 7);	/* 1970-01-01 was a Thursday */
	int i;

	for (i = 0; i < r->nmults; i++) {
		const struct mbr_mult *m = &r->mults[i];

		if ((m->kind == MBR_MULT_WEEKDAY && (m->weekdays & (1u << wday))) ||
		    (m->kind == MBR_MULT_DATES && day >= m->from_day && day <= m->to_day) ||
		    (m->kind == MBR_MULT_TIER && tier && !strcmp(m->key, tier)))
			bp = mul_bp(bp, m->bp);
	}
	if (birthday && r->birthday_bp)
		bp = mul_bp(bp, r->birthday_bp);
	return bp;
}

/*
 * Points for weighted = sum(line amount * line multiplier in bp), scaled by
 * eligible/total (the share of the receipt paid by methods that earn) and
 * by the receipt multiplier.  Exact with 128-bit intermediates; the result
 * is rounded toward zero and the fraction returned in millionths.
 */
int64_t mbr_rules_points(const struct mbr_rules *r, __int128 weighted, int64_t eligible, int64_t total,
			 int64_t receipt_bp, int64_t *residue_ppm)
{
	unsigned __int128 b, t, e, n, d, q;
	int neg;

	*residue_ppm = 0;
	if (total == 0 || eligible == 0 || weighted == 0)
		return 0;
	/*
	 * points = weighted * receipt_bp * base_points * eligible / total
	 *          / (BP * BP * base_per), rounded toward zero.
	 * In magnitudes: b = weighted * receipt_bp * base_points stays below
	 * 2^127 for any receipt int64 can hold; the eligible/total share is
	 * applied as (b / t) * e + (b % t) * e / t, exact because e <= t.
	 */
	neg = (weighted < 0) != (total < 0);
	if (eligible < 0)
		neg = !neg;
	b = (unsigned __int128)(weighted < 0 ? -weighted : weighted) * (uint64_t)receipt_bp * (uint64_t)r->base_points;
	t = (unsigned __int128)(total < 0 ? -(__int128)total : total);
	e = (unsigned __int128)(eligible < 0 ? -(__int128)eligible : eligible);
	if (e > t)
		e = t;		/* never more than the whole receipt earns */
	n = b / t * e + b % t * e / t;
	d = (unsigned __int128)BP * BP * (uint64_t)r->base_per;
	q = n / d;
	if (q > INT64_MAX)
		return neg ? -INT64_MAX : INT64_MAX;
	*residue_ppm = (int64_t)(n % d * 1000000 / d);
	if (neg) {
		*residue_ppm = -*residue_ppm;
		return -(int64_t)q;
	}
	return (int64_t)q;
}

/* Expiry of points earned at time t (UTC); 0 = never. */
int64_t mbr_rules_expiry(const struct mbr_rules *r, int64_t t)
{
	char d[MBR_TIME_BUFSZ], buf[32];
	int y, m, day;
	int64_t out;

	if (r->expiry == MBR_EXPIRY_NEVER)
		return 0;
	mbr_date_format(t, d);
	if (sscanf(d, "%d-%d-%d", &y, &m, &day) != 3)
		return 0;
	if (r->expiry == MBR_EXPIRY_MONTHS) {
		static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		int months = m - 1 + (int)r->expiry_n, last;

		y += months / 12;
		m = months % 12 + 1;
		last = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
		if (day > last)
			day = last;
		/* lapses at the start of the day N months on */
		snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, day);
	} else {
		/* end of the year N years on: lapses at the start of Jan 1 after it */
		snprintf(buf, sizeof(buf), "%04d-01-01", y + (int)r->expiry_n + 1);
	}
	if (mbr_time_parse(buf, NULL, &out) < 0)
		return 0;
	return out;
}

int64_t mbr_rules_topup_bonus(const struct mbr_rules *r, int64_t amount, int64_t day)
{
	const struct mbr_topup_rule *best = NULL;
	int i;

	for (i = 0; i < r->ntopups; i++) {
		const struct mbr_topup_rule *t = &r->topups[i];

		if (amount >= t->min && day >= t->from_day && day <= t->to_day && (!best || t->min > best->min))
			best = t;
	}
	return best ? best->bonus : 0;
}
