/*
 * member.c - members: validation and normalisation of their fields,
 * enrolment, upsert, lookup, search, update, freeze and erasure.
 *
 * Personal data (member_no, name, phone, email, birthday, note) is stored
 * only sealed in member_pii.pii, with the member's uid as associated data;
 * exact lookup by member_no or phone goes through keyed hashes
 * (card_hash, phone_hash), so no plaintext of them reaches the file.
 * Gender, tier, home store and status are not personal data in the sense
 * of the brief and are stored plainly for reports.
 *
 * The field table mbr_member_cols serves CSV headers, `set FIELD=VALUE`,
 * the interactive form and export columns alike.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

const struct mbr_col mbr_member_cols[MBR_F_COUNT] = {
	[MBR_F_MEMBER_NO] = { "member_no", "member|card|card_no|会员卡号|会员号|卡号|会员编号", 0 },
	[MBR_F_NAME] = { "name", "姓名|名字|会员姓名", 0 },
	[MBR_F_PHONE] = { "phone", "mobile|tel|手机号|手机|手机号码|电话|联系电话", 0 },
	[MBR_F_EMAIL] = { "email", "e-mail|mail|邮箱|电子邮箱|电子邮件", 0 },
	[MBR_F_BIRTHDAY] = { "birthday", "birth_date|dob|生日|出生日期", 0 },
	[MBR_F_GENDER] = { "gender", "sex|性别", 0 },
	[MBR_F_TIER] = { "tier", "level|等级|会员等级|级别", 0 },
	[MBR_F_STORE] = { "store", "store_code|门店|开卡门店|所属门店", 0 },
	[MBR_F_NOTE] = { "note", "notes|remark|备注", 0 },
};

#define PII_VERSION 1
/* Sealed fields, in this order, in member_pii.pii. */
static const enum mbr_member_field pii_fields[] = {
	MBR_F_MEMBER_NO, MBR_F_NAME, MBR_F_PHONE, MBR_F_EMAIL, MBR_F_BIRTHDAY, MBR_F_NOTE,
};
#define NPII (sizeof(pii_fields) / sizeof(pii_fields[0]))
#define PII_MAX (1 + NPII * 2 + sizeof(struct mbr_member))

void mbr_member_clear(struct mbr_member *m)
{
	memset(m, 0, sizeof(*m));
}

char *mbr_member_field(struct mbr_member *m, enum mbr_member_field f, size_t *size)
{
	char *p;
	size_t n;

	switch (f) {
	case MBR_F_MEMBER_NO: p = m->member_no; n = sizeof(m->member_no); break;
	case MBR_F_NAME: p = m->name; n = sizeof(m->name); break;
	case MBR_F_PHONE: p = m->phone; n = sizeof(m->phone); break;
	case MBR_F_EMAIL: p = m->email; n = sizeof(m->email); break;
	case MBR_F_BIRTHDAY: p = m->birthday; n = sizeof(m->birthday); break;
	case MBR_F_GENDER: p = m->gender; n = sizeof(m->gender); break;
	case MBR_F_TIER: p = m->tier; n = sizeof(m->tier); break;
	case MBR_F_STORE: p = m->store; n = sizeof(m->store); break;
	case MBR_F_NOTE: p = m->note; n = sizeof(m->note); break;
	default: p = NULL; n = 0; break;
	}
	if (size)
		*size = n;
	return p;
}

/* Does name equal one of the '|'-separated aliases (ASCII case-insensitive)? */
static int alias_match(const char *aliases, const char *name)
{
	size_t n = strlen(name);
	const char *p = aliases;

	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);

		if (l == n && !strncasecmp(p, name, n))
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

int mbr_member_field_lookup(const char *name)
{
	int i;

	for (i = 0; i < MBR_F_COUNT; i++)
		if (!strcasecmp(mbr_member_cols[i].name, name) || alias_match(mbr_member_cols[i].aliases, name))
			return i;
	return -1;
}

/* Trim blanks (ASCII space, tab, CR, LF, and U+3000 ideographic space). */
static void trim(const char *s, const char **start, size_t *len)
{
	const char *e;

	for (;;) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		else if (!strncmp(s, "\xe3\x80\x80", 3))
			s += 3;
		else
			break;
	}
	e = s + strlen(s);
	for (;;) {
		if (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
			e--;
		else if (e - s >= 3 && !strncmp(e - 3, "\xe3\x80\x80", 3))
			e -= 3;
		else
			break;
	}
	*start = s;
	*len = (size_t)(e - s);
}

static int has_control(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

/*
 * Phone numbers are kept as digits with an optional leading '+'.
 * Separators (space, '-', '.', parentheses) are dropped; a mainland China
 * number written +86 or 0086 followed by 11 digits is stored as the 11
 * digits, so all three spellings find the same member.
 */
static int norm_phone(const char *s, size_t n, char *out, size_t outsz, struct mbr_buf *why)
{
	char d[40];
	size_t i, k = 0;
	int plus = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9') {
			if (k >= sizeof(d) - 1)
				goto bad;
			d[k++] = c;
		} else if (c == '+' && k == 0 && !plus) {
			plus = 1;
		} else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
			goto bad;
		}
	}
	d[k] = '\0';
	if (plus && k == 13 && !strncmp(d, "86", 2) && d[2] == '1') {
		memmove(d, d + 2, 12);
		k = 11;
		plus = 0;
	} else if (!plus && k == 15 && !strncmp(d, "0086", 4) && d[4] == '1') {
		memmove(d, d + 4, 12);
		k = 11;
	}
	if (k < 5 || k > 15)
		goto bad;
	if (k + (size_t)plus + 1 > outsz)
		goto bad;
	snprintf(out, outsz, "%s%s", plus ? "+" : "", d);
	return 0;
bad:
	mbr_buf_addf(why, "'%.*s' is not a phone number (5-15 digits)", (int)(n > 40 ? 40 : n), s);
	return MBR_EINVAL;
}

static int norm_email(const char *s, size_t n, char *out, size_t outsz, struct mbr_buf *why)
{
	const char *at = memchr(s, '@', n);
	size_t i;

	if (n >= outsz || !at || at == s || at == s + n - 1 || memchr(at + 1, '@', (size_t)(s + n - at - 1)) ||
	    !memchr(at + 1, '.', (size_t)(s + n - at - 1)))
		goto bad;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == ',' || s[i] == ';' || s[i] == '<' || s[i] == '>')
			goto bad;
	memcpy(out, s, n);
	out[n] = '\0';
	for (i = (size_t)(at - s) + 1; i < n; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return 0;
bad:
	mbr_buf_addf(why, "'%.*s' is not an email address", (int)(n > 60 ? 60 : n), s);
	return MBR_EINVAL;
}

static int norm_gender(const char *s, size_t n, char *out, struct mbr_buf *why)
{
	static const struct { const char *in, *out; } g[] = {
		{ "m", "M" }, { "male", "M" }, { "男", "M" }, { "f", "F" }, { "female", "F" }, { "女", "F" },
	};
	size_t i;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		if (strlen(g[i].in) == n && !strncasecmp(g[i].in, s, n)) {
			mbr_copy(out, 2, g[i].out);
			return 0;
		}
	}
	mbr_buf_addf(why, "'%.*s' is not a gender (M, F, male, female, 男, 女)", (int)(n > 20 ? 20 : n), s);
	return MBR_EINVAL;
}

static int norm_member_no(const char *s, size_t n, char *out, size_t outsz, struct mbr_buf *why)
{
	size_t i;

	if (n > 32) {
		mbr_buf_adds(why, "member number longer than 32 characters");
		return MBR_EINVAL;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/')) {
			mbr_buf_addf(why, "'%.*s' is not a member number (letters, digits, - _ . /)", (int)n, s);
			return MBR_EINVAL;
		}
	}
	memcpy(out, s, n);
	out[n] = '\0';
	(void)outsz;
	return 0;
}

/*
 * The id of the member whose uid is uid into *id: 0, MBR_ENOTFOUND, or
 * another error.
 */
static int member_of_uid(struct mbr_db *db, const char *uid, int64_t *id)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT id FROM members WHERE uid = ?");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? MBR_ENOTFOUND : mbr_db_sqlerr(db, "member");
}

/*
 * A member number that is another member's uid would make that uid name
 * two members, and every lookup by it ambiguous (see lookup): refuse it.
 * Only a number shaped like a uid, a known store's code, '-' and a
 * sequence number without leading zeros (mbr_db_next_uid), is looked
 * up: a bulk enrolment drops the uid index (mbr_member_bulk_begin), and
 * legacy numbers ("2023-0001") must not cost a scan each.  A member's
 * own uid as its number names no one else.
 */
static int not_another_uid(struct mbr_db *db, const struct mbr_member *m, const char *no, struct mbr_buf *why)
{
	const char *dash = strrchr(no, '-');
	char store[32];
	int64_t id;
	int rc;

	if (!dash || dash == no || (size_t)(dash - no) >= sizeof(store) || dash[1] < '1' || dash[1] > '9' ||
	    strspn(dash + 1, "0123456789") != strlen(dash + 1) || (m->uid[0] && !strcmp(no, m->uid)))
		return 0;
	memcpy(store, no, (size_t)(dash - no));
	store[dash - no] = '\0';
	if (!mbr_store_code_valid(store) || (rc = mbr_store_exists(db, store)) == 0)
		return 0;
	if (rc > 0 && (rc = member_of_uid(db, no, &id)) == MBR_ENOTFOUND)
		return 0;
	if (rc < 0) {
		mbr_buf_adds(why, mbr_db_errmsg(db));
		return rc;
	}
	mbr_buf_addf(why, "'%s' is the uid of another member", no);
	return MBR_EINVAL;
}

/*
 * Is s (n bytes, trimmed) one of mbr's own masks for field f?  A masked
 * export fed back (say to change tiers) must not overwrite the real data
 * with asterisks.  A birthday is masked as "****-MM-DD" (mbr_member_view).
 */
static int looks_masked(enum mbr_member_field f, const char *s, size_t n)
{
	switch (f) {
	case MBR_F_NAME:
		return mbr_masked_name(s, n);
	case MBR_F_PHONE:
		return mbr_masked_phone(s, n);
	case MBR_F_EMAIL:
		return mbr_masked_email(s, n);
	case MBR_F_BIRTHDAY:
		return n == 10 && !memcmp(s, "****-", 5) && isdigit((unsigned char)s[5]) &&
		       isdigit((unsigned char)s[6]) && s[7] == '-' && isdigit((unsigned char)s[8]) &&
		       isdigit((unsigned char)s[9]);
	default:
		return 0;
	}
}

int mbr_member_set_field(struct mbr_db *db, struct mbr_member *m, enum mbr_member_field f,
			 const char *value, struct mbr_buf *why)
{
	const char *s;
	size_t n, size;
	char *dst = mbr_member_field(m, f, &size);
	char date[11];
	int rc;

	mbr_buf_reset(why);
	if (!dst) {
		mbr_buf_adds(why, "unknown field");
		return MBR_EINVAL;
	}
	trim(value ? value : "", &s, &n);
	if (n == 0) {
		dst[0] = '\0';
		return 0;
	}
	if (looks_masked(f, s, n)) {
		mbr_buf_addf(why, "'%.*s' looks masked: export with --reveal to re-import", (int)(n > 60 ? 60 : n), s);
		return MBR_EINVAL;
	}
	switch (f) {
	case MBR_F_MEMBER_NO:
		if ((rc = norm_member_no(s, n, dst, size, why)) < 0 || !db)
			return rc;
		if ((rc = not_another_uid(db, m, dst, why)) < 0)
			dst[0] = '\0';
		return rc;
	case MBR_F_PHONE:
		return norm_phone(s, n, dst, size, why);
	case MBR_F_EMAIL:
		return norm_email(s, n, dst, size, why);
	case MBR_F_GENDER:
		return norm_gender(s, n, dst, why);
	case MBR_F_BIRTHDAY: {
		static char today[MBR_TIME_BUFSZ];
		static int64_t today_minute = -1;
		char tmp[32];
		int64_t now = mbr_now();

		if (n >= sizeof(tmp) || (memcpy(tmp, s, n), tmp[n] = '\0', mbr_date_normalize(tmp, date) < 0)) {
			mbr_buf_addf(why, "'%.*s' is not a date (YYYY-MM-DD, 1900 to 2100)", (int)(n > 20 ? 20 : n), s);
			return MBR_EINVAL;
		}
		/* today's local date, worked out once a minute: imports check
		 * a million birthdays, and zone arithmetic is not free */
		if (now / 60 != today_minute) {
			mbr_date_format(now, today);
			today_minute = now / 60;
		}
		if (strcmp(date, today) > 0) {
			mbr_buf_addf(why, "birthday %s is in the future", date);
			return MBR_EINVAL;
		}
		mbr_copy(dst, size, date);
		return 0;
	}
	case MBR_F_TIER:
	case MBR_F_STORE:
		if (n >= size) {
			mbr_buf_addf(why, "code longer than %zu characters", size - 1);
			return MBR_EINVAL;
		}
		memcpy(dst, s, n);
		dst[n] = '\0';
		if (db) {
			rc = f == MBR_F_TIER ? mbr_tier_exists(db, dst) : mbr_store_exists(db, dst);
			if (rc < 0) {
				mbr_buf_adds(why, mbr_db_errmsg(db));
				return rc;
			}
			if (rc == 0) {
				mbr_buf_addf(why, "unknown %s '%s'", f == MBR_F_TIER ? "tier" : "store", dst);
				dst[0] = '\0';
				return MBR_EINVAL;
			}
		}
		return 0;
	case MBR_F_NAME:
	case MBR_F_NOTE:
		if (n >= size) {
			mbr_buf_addf(why, "longer than %zu bytes", size - 1);
			return MBR_EINVAL;
		}
		if (has_control(s, n)) {
			mbr_buf_adds(why, "control characters are not allowed");
			return MBR_EINVAL;
		}
		memcpy(dst, s, n);
		dst[n] = '\0';
		return 0;
	default:
		break;
	}
	mbr_buf_adds(why, "unknown field");
	return MBR_EINVAL;
}

/* ------------------------------------------------------- sealing */

static size_t pii_pack(const struct mbr_member *m, unsigned char *out)
{
	size_t i, k = 0;

	out[k++] = PII_VERSION;
	for (i = 0; i < NPII; i++) {
		const char *s = mbr_member_field((struct mbr_member *)m, pii_fields[i], NULL);
		size_t n = strlen(s);

		out[k++] = (unsigned char)(n & 0xff);
		out[k++] = (unsigned char)(n >> 8);
		memcpy(out + k, s, n);
		k += n;
	}
	return k;
}

static int pii_unpack(struct mbr_member *m, const unsigned char *p, size_t n)
{
	size_t i, k = 1;

	if (n < 1 || p[0] != PII_VERSION)
		return MBR_EKEY;
	for (i = 0; i < NPII; i++) {
		size_t size, l;
		char *dst = mbr_member_field(m, pii_fields[i], &size);

		if (k + 2 > n)
			return MBR_EKEY;
		l = (size_t)p[k] | (size_t)p[k + 1] << 8;
		k += 2;
		if (k + l > n || l >= size)
			return MBR_EKEY;
		memcpy(dst, p + k, l);
		dst[l] = '\0';
		k += l;
	}
	return 0;
}

/* Keyed hashes of member_no and phone (empty: NULL column). */
struct hashes {
	unsigned char card[MBR_HASH_BYTES], phone[MBR_HASH_BYTES];
	int has_card, has_phone;
};

static void compute_hashes(const struct mbr_key *key, const struct mbr_member *m, struct hashes *h)
{
	h->has_card = m->member_no[0] != '\0';
	h->has_phone = m->phone[0] != '\0';
	if (h->has_card)
		mbr_lookup_hash(key, MBR_HASH_CARD, m->member_no, strlen(m->member_no), h->card);
	if (h->has_phone)
		mbr_lookup_hash(key, MBR_HASH_PHONE, m->phone, strlen(m->phone), h->phone);
}

static void bind_hash(sqlite3_stmt *st, int i, const unsigned char *h, int present)
{
	if (present)
		sqlite3_bind_blob(st, i, h, MBR_HASH_BYTES, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s && *s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/*
 * The member holding a hash: its uid into out, and into where " (line N)"
 * when batch (non-zero) added it, since a member of the batch being
 * imported may never be committed.  0 if found.
 */
static int holder(struct mbr_db *db, int card, const unsigned char *h, int64_t except, int64_t batch,
		  char *out, size_t n, char *where, size_t wn)
{
	sqlite3_stmt *st = mbr_stmt(db, card ? "SELECT uid, batch, batch_line FROM members WHERE card_hash = ? AND id != ?"
					     : "SELECT uid, batch, batch_line FROM members WHERE phone_hash = ? AND id != ?");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_blob(st, 1, h, MBR_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, except);
	rc = sqlite3_step(st);
	where[0] = '\0';
	if (rc == SQLITE_ROW) {
		mbr_copy(out, n, (const char *)sqlite3_column_text(st, 0));
		if (batch && sqlite3_column_int64(st, 1) == batch && sqlite3_column_type(st, 2) != SQLITE_NULL)
			snprintf(where, wn, " (line %lld)", (long long)sqlite3_column_int64(st, 2));
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : MBR_ENOTFOUND;
}

/* After a UNIQUE failure: say which key collides, and with whom. */
static int duplicate_error(struct mbr_db *db, const struct mbr_member *m, const struct hashes *h, int64_t self,
			   int64_t batch)
{
	char uid[40], masked[40], where[40];

	if (h->has_card && holder(db, 1, h->card, self, batch, uid, sizeof(uid), where, sizeof(where)) == 0)
		return mbr_db_fail(db, MBR_EEXIST, "member_no '%s' already belongs to member %s%s", m->member_no, uid, where);
	if (h->has_phone && holder(db, 0, h->phone, self, batch, uid, sizeof(uid), where, sizeof(where)) == 0) {
		mbr_mask_phone(m->phone, masked, sizeof(masked));
		return mbr_db_fail(db, MBR_EEXIST, "phone %s already belongs to member %s%s", masked, uid, where);
	}
	return mbr_db_fail(db, MBR_EEXIST, "duplicate member");
}

static int store_pii(struct mbr_db *db, int64_t id, const unsigned char *ct, size_t n)
{
	sqlite3_stmt *st = mbr_stmt(db, "INSERT OR REPLACE INTO member_pii(member, pii) VALUES (?, ?)");

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_blob(st, 2, ct, (int)n, SQLITE_STATIC);
	return mbr_stmt_done(db, st);
}

int mbr_member_add(struct mbr_db *db, struct mbr_member *m, int64_t batch)
{
	const struct mbr_key *key;
	unsigned char pt[PII_MAX], ct[PII_MAX + MBR_SEAL_OVERHEAD];
	struct hashes h;
	sqlite3_stmt *st;
	size_t n;
	int64_t now = mbr_now();
	int rc;

	if (!m->member_no[0] && !m->phone[0])
		return mbr_db_fail(db, MBR_EINVAL, "a member needs a member_no or a phone");
	if ((rc = mbr_db_key(db, &key)) < 0)
		return rc;
	if ((rc = mbr_db_next_uid(db, "member", m->uid)) < 0)
		return rc;
	compute_hashes(key, m, &h);
	n = pii_pack(m, pt);
	mbr_seal(key, m->uid, strlen(m->uid), pt, n, ct);
	st = mbr_stmt(db, "INSERT INTO members(uid, card_hash, phone_hash, gender, tier, store,"
			  " created_at, updated_at, batch, batch_line) VALUES (?1, ?2, ?3, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, m->uid, -1, SQLITE_STATIC);
	bind_hash(st, 2, h.card, h.has_card);
	bind_hash(st, 3, h.phone, h.has_phone);
	sqlite3_bind_text(st, 5, m->gender, -1, SQLITE_STATIC);
	bind_opt_text(st, 6, m->tier);
	bind_opt_text(st, 7, m->store);
	sqlite3_bind_int64(st, 8, now);
	sqlite3_bind_int64(st, 9, now);
	if (batch)
		sqlite3_bind_int64(st, 10, batch);
	if (m->line)
		sqlite3_bind_int64(st, 11, m->line);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		if ((sqlite3_extended_errcode(db->sql) & 0xff) == SQLITE_CONSTRAINT)
			return duplicate_error(db, m, &h, 0, batch);
		return mbr_db_sqlerr(db, "add member");
	}
	m->id = sqlite3_last_insert_rowid(db->sql);
	if ((rc = store_pii(db, m->id, ct, n + MBR_SEAL_OVERHEAD)) < 0)
		return rc;
	mbr_copy(m->status, sizeof(m->status), "active");
	m->created_at = m->updated_at = now;
	if (!batch)
		return mbr_audit(db, "member.add", m->uid, "");
	return 0;
}

#define MEMBER_POINTS "COALESCE((SELECT points FROM points_balances WHERE member = members.id), 0)"
#define MEMBER_COLS "id, uid, (SELECT pii FROM member_pii WHERE member = members.id), gender, tier, store," \
		    " status, " MEMBER_POINTS ", created_at, updated_at"
/*
 * What a sale needs, for hot paths: no personal data (column 2 NULL), no
 * points (0), no gender, store or times; all of it is in the
 * members_*_brief indexes (schema.c, migration 9), which a lookup by a
 * key's hash names so that it reads no page of members.
 */
#define MEMBER_BRIEF_COLS "id, uid, NULL, '', tier, NULL, status, 0, 0, 0"

/* Fill m from a row selected with MEMBER_COLS, unsealing its personal data. */
static int member_from_row(struct mbr_db *db, sqlite3_stmt *st, struct mbr_member *m)
{
	const struct mbr_key *key;
	unsigned char pt[PII_MAX];
	const char *t;
	size_t ptlen;
	int rc;

	mbr_member_clear(m);
	m->id = sqlite3_column_int64(st, 0);
	mbr_copy(m->uid, sizeof(m->uid), (const char *)sqlite3_column_text(st, 1));
	if ((t = (const char *)sqlite3_column_text(st, 3)))
		mbr_copy(m->gender, sizeof(m->gender), t);
	if ((t = (const char *)sqlite3_column_text(st, 4)))
		mbr_copy(m->tier, sizeof(m->tier), t);
	if ((t = (const char *)sqlite3_column_text(st, 5)))
		mbr_copy(m->store, sizeof(m->store), t);
	mbr_copy(m->status, sizeof(m->status), (const char *)sqlite3_column_text(st, 6));
	m->points = sqlite3_column_int64(st, 7) + mbr_points_pending(db, m->id);
	m->created_at = sqlite3_column_int64(st, 8);
	m->updated_at = sqlite3_column_int64(st, 9);
	if (sqlite3_column_type(st, 2) == SQLITE_NULL)
		return 0;	/* erased */
	if ((rc = mbr_db_key(db, &key)) < 0)
		return rc;
	if ((size_t)sqlite3_column_bytes(st, 2) > sizeof(pt) + MBR_SEAL_OVERHEAD ||
	    mbr_unseal(key, m->uid, strlen(m->uid), sqlite3_column_blob(st, 2),
		       (size_t)sqlite3_column_bytes(st, 2), pt, &ptlen) < 0 ||
	    pii_unpack(m, pt, ptlen) < 0)
		return mbr_db_fail(db, MBR_EKEY, "member %s: personal data does not decrypt with key '%s' (wrong key?)",
				   m->uid, db->key_path);
	return 0;
}

static int get_one(struct mbr_db *db, sqlite3_stmt *st, struct mbr_member *m)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		rc = member_from_row(db, st, m);
		sqlite3_reset(st);
		return rc;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? MBR_ENOTFOUND : mbr_db_sqlerr(db, "member");
}

int mbr_member_get_id(struct mbr_db *db, int64_t id, struct mbr_member *m)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT " MEMBER_COLS " FROM members WHERE id = ?");

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, id);
	return get_one(db, st, m);
}

/* Look up by keyed hash of kind for value (already normalised); brief
 * leaves the personal data out (and unsealed). */
static int get_by_hash(struct mbr_db *db, enum mbr_hash_kind kind, const char *value, int brief,
		       struct mbr_member *m)
{
	static const char *const sql[2][2] = {
		{ "SELECT " MEMBER_COLS " FROM members WHERE phone_hash = ?",
		  "SELECT " MEMBER_COLS " FROM members WHERE card_hash = ?" },
		{ "SELECT " MEMBER_BRIEF_COLS " FROM members INDEXED BY members_phone_brief WHERE phone_hash = ?",
		  "SELECT " MEMBER_BRIEF_COLS " FROM members INDEXED BY members_card_brief WHERE card_hash = ?" },
	};
	const struct mbr_key *key;
	unsigned char h[MBR_HASH_BYTES];
	sqlite3_stmt *st;
	int rc;

	if ((rc = mbr_db_key(db, &key)) < 0)
		return rc;
	mbr_lookup_hash(key, kind, value, strlen(value), h);
	st = mbr_stmt(db, sql[brief != 0][kind == MBR_HASH_CARD]);
	if (!st)
		return MBR_EDB;
	sqlite3_bind_blob(st, 1, h, sizeof(h), SQLITE_TRANSIENT);
	return get_one(db, st, m);
}

static int lookup(struct mbr_db *db, const char *keytext, int brief, struct mbr_member *m)
{
	struct mbr_member probe;
	struct mbr_buf why = MBR_BUF_INIT;
	sqlite3_stmt *st;
	int rc = MBR_ENOTFOUND;

	mbr_member_clear(&probe);
	if (mbr_member_set_field(NULL, &probe, MBR_F_MEMBER_NO, keytext, &why) == 0 && probe.member_no[0])
		rc = get_by_hash(db, MBR_HASH_CARD, probe.member_no, brief, m);
	if (rc == 0 && (isdigit((unsigned char)*keytext) || *keytext == '+') &&
	    mbr_member_set_field(NULL, &probe, MBR_F_PHONE, keytext, &why) == 0 && probe.phone[0]) {
		/* a member number shaped like a phone may be another
		 * member's phone: say so rather than pick one */
		struct mbr_member other;
		int r2 = get_by_hash(db, MBR_HASH_PHONE, probe.phone, 1, &other);

		if (r2 == 0 && other.id != m->id)
			rc = mbr_db_fail(db, MBR_EINVAL, "'%s' is ambiguous: it is the member number of member %s and the"
					 " phone of member %s; name the member by its uid", keytext, m->uid, other.uid);
		else if (r2 < 0 && r2 != MBR_ENOTFOUND)
			rc = r2;
	} else if (rc == MBR_ENOTFOUND && mbr_member_set_field(NULL, &probe, MBR_F_PHONE, keytext, &why) == 0 &&
		   probe.phone[0]) {
		rc = get_by_hash(db, MBR_HASH_PHONE, probe.phone, brief, m);
	}
	if (rc == MBR_ENOTFOUND) {
		st = mbr_stmt(db, brief ? "SELECT " MEMBER_BRIEF_COLS " FROM members WHERE uid = ?"
					: "SELECT " MEMBER_COLS " FROM members WHERE uid = ?");
		if (!st) {
			rc = MBR_EDB;
		} else {
			sqlite3_bind_text(st, 1, keytext, -1, SQLITE_TRANSIENT);
			rc = get_one(db, st, m);
		}
	} else if (rc == 0 && strchr(keytext, '-')) {
		/* a member number or phone shaped like a uid (STORE-SEQ) may be
		 * another member's uid: say so rather than pick one */
		int64_t other;
		int r2 = member_of_uid(db, keytext, &other);

		if (r2 == 0 && other != m->id)
			rc = mbr_db_fail(db, MBR_EINVAL, "'%s' is ambiguous: member %s has it as member number or"
					 " phone, and it is another member's uid; name the member by another of its keys",
					 keytext, m->uid);
		else if (r2 < 0 && r2 != MBR_ENOTFOUND)
			rc = r2;
	}
	mbr_buf_release(&why);
	if (rc == MBR_ENOTFOUND)
		return mbr_db_fail(db, MBR_ENOTFOUND, "no member '%s'", keytext);
	return rc;
}

int mbr_member_get(struct mbr_db *db, const char *keytext, struct mbr_member *m)
{
	return lookup(db, keytext, 0, m);
}

int mbr_member_get_brief(struct mbr_db *db, const char *keytext, struct mbr_member *m)
{
	return lookup(db, keytext, 1, m);
}

int mbr_member_each(struct mbr_db *db, mbr_member_fn fn, void *ctx)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT " MEMBER_COLS " FROM members ORDER BY id");
	struct mbr_member m;
	int rc;

	if (!st)
		return MBR_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r = member_from_row(db, st, &m);

		if (r == 0)
			r = fn(&m, ctx);
		if (r) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "members");
}

struct find_ctx {
	const char *query;
	mbr_member_fn fn;
	void *ctx;
	long found;
};

/* Case-insensitive (ASCII) substring test; Chinese text matches bytewise. */
static int contains(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

static int find_cb(const struct mbr_member *m, void *p)
{
	struct find_ctx *f = p;

	if (m->name[0] && contains(m->name, f->query)) {
		f->found++;
		return f->fn(m, f->ctx);
	}
	return 0;
}

int mbr_member_find(struct mbr_db *db, const char *query, mbr_member_fn fn, void *ctx)
{
	struct mbr_member m;
	struct find_ctx f = { query, fn, ctx, 0 };
	int rc;

	/* every name contains the empty string: that is no query */
	if (!*query)
		return mbr_db_fail(db, MBR_EINVAL, "empty query");
	rc = mbr_member_get(db, query, &m);
	if (rc == 0)
		return fn(&m, ctx) < 0 ? MBR_EDB : 0;
	if (rc != MBR_ENOTFOUND)
		return rc;
	/* Names are sealed: a name search unseals every member (a scan). */
	rc = mbr_member_each(db, find_cb, &f);
	if (rc < 0)
		return rc;
	if (f.found == 0)
		return mbr_db_fail(db, MBR_ENOTFOUND, "no member matches '%s'", query);
	return 0;
}

/* Write m's fields (sealed data, hashes, plain columns) over row m->id. */
static int store_member(struct mbr_db *db, const struct mbr_member *m, int64_t batch)
{
	const struct mbr_key *key;
	unsigned char pt[PII_MAX], ct[PII_MAX + MBR_SEAL_OVERHEAD];
	struct hashes h;
	sqlite3_stmt *st;
	size_t n;
	int rc;

	if (!m->member_no[0] && !m->phone[0])
		return mbr_db_fail(db, MBR_EINVAL, "a member needs a member_no or a phone");
	if ((rc = mbr_db_key(db, &key)) < 0)
		return rc;
	compute_hashes(key, m, &h);
	n = pii_pack(m, pt);
	mbr_seal(key, m->uid, strlen(m->uid), pt, n, ct);
	st = mbr_stmt(db, "UPDATE members SET card_hash = ?1, phone_hash = ?2, gender = ?4, tier = ?5,"
			  " store = ?6, updated_at = ?7, batch = COALESCE(?8, batch) WHERE id = ?9");
	if (!st)
		return MBR_EDB;
	bind_hash(st, 1, h.card, h.has_card);
	bind_hash(st, 2, h.phone, h.has_phone);
	sqlite3_bind_text(st, 4, m->gender, -1, SQLITE_STATIC);
	bind_opt_text(st, 5, m->tier);
	bind_opt_text(st, 6, m->store);
	sqlite3_bind_int64(st, 7, mbr_now());
	if (batch)
		sqlite3_bind_int64(st, 8, batch);
	sqlite3_bind_int64(st, 9, m->id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		if ((sqlite3_extended_errcode(db->sql) & 0xff) == SQLITE_CONSTRAINT)
			return duplicate_error(db, m, &h, m->id, batch);
		return mbr_db_sqlerr(db, "update member");
	}
	return store_pii(db, m->id, ct, n + MBR_SEAL_OVERHEAD);
}

int mbr_member_may_change(struct mbr_db *db)
{
	return mbr_require(db, MBR_ROLE_MANAGER, "changing a member");
}

int mbr_member_upsert(struct mbr_db *db, struct mbr_member *m, int64_t batch, int *updated)
{
	struct mbr_member old;
	int rc = MBR_ENOTFOUND, f;

	*updated = 0;
	if (m->member_no[0])
		rc = get_by_hash(db, MBR_HASH_CARD, m->member_no, 0, &old);
	if (rc == MBR_ENOTFOUND && m->phone[0])
		rc = get_by_hash(db, MBR_HASH_PHONE, m->phone, 0, &old);
	if (rc == MBR_ENOTFOUND)
		return mbr_member_add(db, m, batch);
	if (rc < 0)
		return rc;
	if ((rc = mbr_member_may_change(db)) < 0)
		return rc;
	if (!strcmp(old.status, "erased"))
		return mbr_db_fail(db, MBR_EINVAL, "member %s was erased", old.uid);
	for (f = 0; f < MBR_F_COUNT; f++) {
		size_t size;
		const char *v = mbr_member_field(m, (enum mbr_member_field)f, NULL);
		char *dst = mbr_member_field(&old, (enum mbr_member_field)f, &size);

		if (*v)
			mbr_copy(dst, size, v);
	}
	if ((rc = store_member(db, &old, batch)) < 0)
		return rc;
	*m = old;
	*updated = 1;
	if (!batch)
		return mbr_audit(db, "member.update", m->uid, "");
	return 0;
}

int mbr_member_update(struct mbr_db *db, struct mbr_member *m, const char *what)
{
	int rc;

	if ((rc = mbr_member_may_change(db)) < 0)
		return rc;
	if (!strcmp(m->status, "erased"))
		return mbr_db_fail(db, MBR_EINVAL, "member %s was erased", m->uid);
	if ((rc = store_member(db, m, 0)) < 0)
		return rc;
	return mbr_audit(db, "member.set", m->uid, what ? what : "");
}

int mbr_member_set_status(struct mbr_db *db, int64_t id, const char *status)
{
	struct mbr_member m;
	sqlite3_stmt *st;
	char action[32];
	int rc;

	if (strcmp(status, "active") && strcmp(status, "frozen"))
		return mbr_db_fail(db, MBR_EINVAL, "status '%s' must be active or frozen", status);
	if ((rc = mbr_member_get_id(db, id, &m)) < 0)
		return rc;
	if (!strcmp(m.status, "erased"))
		return mbr_db_fail(db, MBR_EINVAL, "member %s was erased", m.uid);
	if (!strcmp(m.status, status))
		return 0;
	st = mbr_stmt(db, "UPDATE members SET status = ?, updated_at = ? WHERE id = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, mbr_now());
	sqlite3_bind_int64(st, 3, id);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	snprintf(action, sizeof(action), "member.%s", !strcmp(status, "frozen") ? "freeze" : "unfreeze");
	return mbr_audit(db, action, m.uid, "");
}

/*
 * An erased member can no longer be paid anything back, so erasure waits
 * until the member's stored value is paid out and the count cards with
 * uses left (and not expired: their uses lapsed) are refunded.
 */
static int prepaid_left(struct mbr_db *db, const struct mbr_member *m)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT sv_principal + sv_bonus FROM members WHERE id = ?");
	char am[MBR_MONEY_BUFSZ];
	int64_t sv = 0;
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, m->id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		sv = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return mbr_db_sqlerr(db, "stored value");
	if (sv)
		return mbr_db_fail(db, MBR_EINVAL, "member %s has %s of stored value left; pay it out first (mbr-card payout)",
				   m->uid, mbr_money_format(sv, db->exp, am));
	st = mbr_stmt(db, "SELECT uid, uses_left FROM count_cards WHERE member = ? AND state = 'active' AND uses_left > 0"
			  " AND (expires_at IS NULL OR expires_at > ?) ORDER BY id LIMIT 1");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, m->id);
	sqlite3_bind_int64(st, 2, mbr_now());
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = mbr_db_fail(db, MBR_EINVAL, "member %s has %lld uses left on count card %s; refund it first"
				 " (mbr-card count-refund)", m->uid, (long long)sqlite3_column_int64(st, 1),
				 (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		return rc;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "count cards");
}

/*
 * Points cannot be spent, moved or adjusted once their member is erased
 * (mbr-points refuses an erased member), so erasure forfeits a positive
 * balance, which would otherwise stay in the liability for good: lots
 * lapsed by now expire first, as ever, then one 'expire' entry, reason
 * "erased", takes the rest.  Its kind is that of expiry because it is
 * one: it empties the member's lots and records what it took from each
 * (mbr_points_post), so a later return of a sale whose lot it emptied
 * does not take those points again (mbr_points_lot_expired).  A debt (a
 * negative balance) stays: it is owed to the business, not by it.
 * *forfeited: the points taken, 0 if none.
 */
static int forfeit_points(struct mbr_db *db, const struct mbr_member *m, int64_t *forfeited)
{
	struct mbr_post p;
	int64_t now = mbr_now(), balance;
	int rc;

	*forfeited = 0;
	if ((rc = mbr_points_spendable(db, m->id, now, &balance)) < 0 || balance <= 0)
		return rc;
	memset(&p, 0, sizeof(p));
	p.member = m->id;
	p.kind = "expire";
	p.source = "operator";
	p.reason = "erased";
	p.ts = now;
	p.points = -balance;
	if ((rc = mbr_points_post(db, &p, NULL)) < 0)
		return rc;
	*forfeited = balance;
	return 0;
}

int mbr_member_erase(struct mbr_db *db, int64_t id)
{
	struct mbr_member m;
	sqlite3_stmt *st;
	int64_t forfeited;
	char detail[64] = "";
	int rc;

	if ((rc = mbr_member_get_id(db, id, &m)) < 0)
		return rc;
	if (!strcmp(m.status, "erased"))
		return mbr_db_fail(db, MBR_EINVAL, "member %s was already erased", m.uid);
	if ((rc = prepaid_left(db, &m)) < 0)
		return rc;
	if ((rc = forfeit_points(db, &m, &forfeited)) < 0)
		return rc;
	if (forfeited)
		snprintf(detail, sizeof(detail), "%lld points forfeited", (long long)forfeited);
	/* secure_delete overwrites the freed content in the database pages. */
	if ((rc = mbr_db_exec(db, "PRAGMA secure_delete = ON")) < 0)
		return rc;
	st = mbr_stmt(db, "DELETE FROM member_pii WHERE member = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	st = mbr_stmt(db, "UPDATE members SET card_hash = NULL, phone_hash = NULL, gender = '',"
			  " status = 'erased', updated_at = ? WHERE id = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, mbr_now());
	sqlite3_bind_int64(st, 2, id);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	return mbr_audit(db, "member.erase", m.uid, detail);
}

int mbr_member_erase_checkpoint(struct mbr_db *db, int max_ms)
{
	sqlite3_stmt *st = mbr_stmt(db, "PRAGMA busy_timeout");
	int ms = 0, rc;

	if (!st)
		return MBR_EDB;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		ms = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return mbr_db_sqlerr(db, "busy timeout");
	sqlite3_busy_timeout(db->sql, ms < max_ms ? ms : max_ms);
	rc = mbr_db_checkpoint(db);
	sqlite3_busy_timeout(db->sql, ms);
	return rc;
}

/* ------------------------------------------------------- bulk */

int mbr_member_bulk_begin(struct mbr_db *db)
{
	return mbr_db_exec(db, "DROP INDEX members_uid; DROP INDEX members_card; DROP INDEX members_phone;"
			   " DROP INDEX members_card_brief; DROP INDEX members_phone_brief;");
}

/* Report each row of a duplicate group but the oldest. */
static int report_dups(struct mbr_db *db, const char *sql, const char *what, mbr_problem_fn fn, void *ctx, long *n)
{
	struct mbr_buf b = MBR_BUF_INIT;
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) != SQLITE_OK)
		return mbr_db_sqlerr(db, "duplicates");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mbr_member m;
		char masked[80];
		int64_t id = sqlite3_column_int64(st, 0);

		if ((rc = mbr_member_get_id(db, id, &m)) < 0)
			break;
		if (!strcmp(what, "phone"))
			mbr_mask_phone(m.phone, masked, sizeof(masked));
		else
			snprintf(masked, sizeof(masked), "'%s'", m.member_no);
		mbr_buf_reset(&b);
		mbr_buf_addf(&b, "%lld: %s: %s already belongs to member %s", (long long)sqlite3_column_int64(st, 2),
			     what, masked, (const char *)sqlite3_column_text(st, 1));
		fn(b.buf, ctx);
		(*n)++;
	}
	sqlite3_finalize(st);
	mbr_buf_release(&b);
	return rc == SQLITE_DONE ? 0 : rc < 0 ? rc : mbr_db_sqlerr(db, "duplicates");
}

int mbr_member_bulk_end(struct mbr_db *db, mbr_problem_fn fn, void *ctx, long *duplicates)
{
	int rc;

	*duplicates = 0;
	/* The index sorts take as much memory again as the page cache:
	 * halve the cache meanwhile, so a million members stay in budget,
	 * and let them spill to temporary files (a bulk transaction keeps
	 * temporary storage in memory, see begin in db.c). */
	if ((rc = mbr_db_exec(db, "PRAGMA cache_size = -6000; PRAGMA temp_store = FILE")) < 0)
		return rc;
	/* uids come from one sequence: they cannot clash */
	rc = mbr_db_exec(db, "CREATE UNIQUE INDEX members_uid ON members(uid);");
	if (rc == 0)
		rc = mbr_db_exec(db, "CREATE UNIQUE INDEX members_card ON members(card_hash) WHERE card_hash IS NOT NULL;"
				     "CREATE UNIQUE INDEX members_phone ON members(phone_hash) WHERE phone_hash IS NOT NULL;");
	if (rc == 0)
		rc = mbr_db_exec(db, MBR_MEMBER_BRIEF_INDEXES);
	mbr_db_cache_default(db);
	if (rc == 0)
		return 0;
	/* Some key is taken twice: sorting finds the groups; the oldest
	 * member of each keeps its key, every other one is reported. */
	rc = report_dups(db,
		"SELECT m.id, f.uid, m.batch_line FROM members m JOIN"
		" (SELECT card_hash AS h, MIN(id) AS first FROM members WHERE card_hash IS NOT NULL"
		"  GROUP BY card_hash HAVING COUNT(*) > 1) d ON m.card_hash = d.h AND m.id != d.first"
		" JOIN members f ON f.id = d.first ORDER BY m.id", "member_no", fn, ctx, duplicates);
	if (rc < 0)
		return rc;
	rc = report_dups(db,
		"SELECT m.id, f.uid, m.batch_line FROM members m JOIN"
		" (SELECT phone_hash AS h, MIN(id) AS first FROM members WHERE phone_hash IS NOT NULL"
		"  GROUP BY phone_hash HAVING COUNT(*) > 1) d ON m.phone_hash = d.h AND m.id != d.first"
		" JOIN members f ON f.id = d.first ORDER BY m.id", "phone", fn, ctx, duplicates);
	if (rc < 0)
		return rc;
	return mbr_db_fail(db, MBR_EEXIST, "%ld duplicate member_no or phone", *duplicates);
}

/* ------------------------------------------------------- display */

const struct mbr_col mbr_member_view_cols[MBR_VIEW_COUNT] = {
	{ "uid", NULL, 0 },
	{ "member_no", NULL, 0 },
	{ "name", NULL, 0 },
	{ "phone", NULL, 0 },
	{ "email", NULL, 0 },
	{ "birthday", NULL, 0 },
	{ "gender", NULL, 0 },
	{ "tier", NULL, 0 },
	{ "store", NULL, 0 },
	{ "status", NULL, 0 },
	{ "points", NULL, MBR_COL_NUMBER },
	{ "created", NULL, 0 },
	{ "note", NULL, 0 },
};

void mbr_member_view(const struct mbr_member *m, int reveal, struct mbr_member_view *v)
{
	if (reveal) {
		mbr_copy(v->name, sizeof(v->name), m->name);
		mbr_copy(v->phone, sizeof(v->phone), m->phone);
		mbr_copy(v->email, sizeof(v->email), m->email);
		mbr_copy(v->birthday, sizeof(v->birthday), m->birthday);
		mbr_copy(v->note, sizeof(v->note), m->note);
	} else {
		mbr_mask_name(m->name, v->name, sizeof(v->name));
		mbr_mask_phone(m->phone, v->phone, sizeof(v->phone));
		mbr_mask_email(m->email, v->email, sizeof(v->email));
		/* the year is masked; month and day stay for birthday campaigns */
		if (m->birthday[0])
			snprintf(v->birthday, sizeof(v->birthday), "****%s", m->birthday + 4);
		else
			v->birthday[0] = '\0';
		v->note[0] = '\0';
	}
	snprintf(v->points, sizeof(v->points), "%lld", (long long)m->points);
	if (m->created_at)
		mbr_date_format(m->created_at, v->created);
	else
		v->created[0] = '\0';
	v->val[0] = m->uid;
	v->val[1] = m->member_no;
	v->val[2] = v->name;
	v->val[3] = v->phone;
	v->val[4] = v->email;
	v->val[5] = v->birthday;
	v->val[6] = m->gender;
	v->val[7] = m->tier;
	v->val[8] = m->store;
	v->val[9] = m->status;
	v->val[10] = v->points;
	v->val[11] = v->created;
	v->val[12] = v->note;
}
