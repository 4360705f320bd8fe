/*
 * test_member.c - unit tests for lib/member.c: field normalisation and
 * refusals, enrolment, lookup by member_no / any spelling of the phone /
 * uid, duplicates, upsert, update, status, erasure, name search, the
 * masked view, and privacy: no personal data in plain text anywhere in
 * the database file or its WAL, before or after update and erasure.
 *
 * Every test runs in a fresh temporary directory with MBR_KEY unset,
 * MBR_OPERATOR "tester" and MBR_NOW pinned to 2026-11-22T10:00:00Z (18:00
 * in the database's zone, Asia/Shanghai).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "internal.h"
#include "banned.h"

#define NOW "2026-11-22T10:00:00Z"
#define NOW_T 1795341600

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mbr-test-member.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	unsetenv("MBR_KEY");
	unsetenv("MBR_BUSY_TIMEOUT");
	setenv("MBR_OPERATOR", "tester", 1);
	setenv("MBR_NOW", NOW, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *tmp(const char *name)
{
	static char path[8][160];
	static int n;

	n = (n + 1) % 8;
	snprintf(path[n], sizeof(path[n]), "%s/%s", dir, name);
	return path[n];
}

static const char *make_db(const char *name)
{
	static char keep[4][160];
	static int k;
	struct mbr_buf err = MBR_BUF_INIT;
	const char *path = tmp(name);
	int rc = mbr_db_init(path, NULL, &err);

	if (rc != MBR_OK)
		fail_msg("init '%s': %d %s", path, rc, err.buf);
	mbr_buf_release(&err);
	/* keep it: tmp()'s few buffers are soon reused */
	k = (k + 1) % 4;
	snprintf(keep[k], sizeof(keep[k]), "%s", path);
	return keep[k];
}

static struct mbr_db *open_db(const char *path)
{
	struct mbr_db *db = NULL;
	int rc = mbr_db_open(path, MBR_OPEN_RW, "test-member", &db);

	if (rc != MBR_OK)
		fail_msg("open '%s': %d %s", path, rc, db ? mbr_db_errmsg(db) : "(no handle)");
	return db;
}

static struct mbr_db *new_db(void)
{
	return open_db(make_db("m.db"));
}

/* A member from "field=value" pairs, NULL-terminated; every value must be accepted. */
static void fill(struct mbr_db *db, struct mbr_member *m, ...)
{
	struct mbr_buf why = MBR_BUF_INIT;
	const char *s;
	va_list ap;

	mbr_member_clear(m);
	va_start(ap, m);
	while ((s = va_arg(ap, const char *))) {
		const char *eq = strchr(s, '=');
		char name[32];
		int f;

		assert_non_null(eq);
		snprintf(name, sizeof(name), "%.*s", (int)(eq - s), s);
		f = mbr_member_field_lookup(name);
		assert_true(f >= 0);
		if (mbr_member_set_field(db, m, (enum mbr_member_field)f, eq + 1, &why) != MBR_OK)
			fail_msg("%s: %s", s, why.buf);
	}
	va_end(ap);
	mbr_buf_release(&why);
}

/* Add m in a transaction of its own; returns the status. */
static int add(struct mbr_db *db, struct mbr_member *m)
{
	int rc;

	assert_int_equal(mbr_begin(db), MBR_OK);
	rc = mbr_member_add(db, m, 0);
	if (rc == MBR_OK)
		assert_int_equal(mbr_commit(db), MBR_OK);
	else
		assert_int_equal(mbr_rollback(db), MBR_OK);
	return rc;
}

static void add_ok(struct mbr_db *db, struct mbr_member *m)
{
	int rc = add(db, m);

	if (rc != MBR_OK)
		fail_msg("add: %d %s", rc, mbr_db_errmsg(db));
}

static void get_ok(struct mbr_db *db, const char *key, struct mbr_member *m)
{
	int rc = mbr_member_get(db, key, m);

	if (rc != MBR_OK)
		fail_msg("get '%s': %d %s", key, rc, mbr_db_errmsg(db));
}

static void get_missing(struct mbr_db *db, const char *key)
{
	struct mbr_member m;
	int rc = mbr_member_get(db, key, &m);

	if (rc != MBR_ENOTFOUND)
		fail_msg("get '%s': got %d (%s), want not found", key, rc, mbr_db_errmsg(db));
}

/* ---------------------------------------------------- normalisation */

struct norm {
	enum mbr_member_field f;
	const char *in;
	int rc;
	const char *want;	/* the stored value when accepted */
};

static const struct norm norm_cases[] = {
	/* phones */
	{ MBR_F_PHONE, "138-1234-5678", MBR_OK, "13812345678" },
	{ MBR_F_PHONE, "+86 138 1234 5678", MBR_OK, "13812345678" },
	{ MBR_F_PHONE, "+8613812345678", MBR_OK, "13812345678" },
	{ MBR_F_PHONE, "008613812345678", MBR_OK, "13812345678" },
	{ MBR_F_PHONE, "0086 138-1234-5678", MBR_OK, "13812345678" },
	{ MBR_F_PHONE, "138.1234.5678", MBR_OK, "13812345678" },
	{ MBR_F_PHONE, "  13812345678\t", MBR_OK, "13812345678" },
	{ MBR_F_PHONE, "\xe3\x80\x80" "13812345678" "\xe3\x80\x80", MBR_OK, "13812345678" },	/* U+3000 */
	{ MBR_F_PHONE, "+44 20 7946 0958", MBR_OK, "+442079460958" },
	{ MBR_F_PHONE, "+86 10 6552 1234", MBR_OK, "+861065521234" },	/* landline: kept as written */
	{ MBR_F_PHONE, "(010) 6552-1234", MBR_OK, "01065521234" },
	{ MBR_F_PHONE, "12345", MBR_OK, "12345" },
	{ MBR_F_PHONE, "123456789012345", MBR_OK, "123456789012345" },
	{ MBR_F_PHONE, "", MBR_OK, "" },
	{ MBR_F_PHONE, "12ab", MBR_EINVAL, NULL },
	{ MBR_F_PHONE, "1234", MBR_EINVAL, NULL },
	{ MBR_F_PHONE, "1234567890123456", MBR_EINVAL, NULL },
	{ MBR_F_PHONE, "138+12345678", MBR_EINVAL, NULL },
	{ MBR_F_PHONE, "++8613812345678", MBR_EINVAL, NULL },
	{ MBR_F_PHONE, "+", MBR_EINVAL, NULL },
	{ MBR_F_PHONE, "138/1234/5678", MBR_EINVAL, NULL },
	{ MBR_F_PHONE, "１３８１２３４５６７８", MBR_EINVAL, NULL },	/* full-width digits */
	/* e-mail: the domain is lower-cased, the local part kept */
	{ MBR_F_EMAIL, "Zhang@Example.COM", MBR_OK, "Zhang@example.com" },
	{ MBR_F_EMAIL, " a.b+c@MAIL.Example.cn ", MBR_OK, "a.b+c@mail.example.cn" },
	{ MBR_F_EMAIL, "a@b", MBR_EINVAL, NULL },
	{ MBR_F_EMAIL, "no-at", MBR_EINVAL, NULL },
	{ MBR_F_EMAIL, "@example.com", MBR_EINVAL, NULL },
	{ MBR_F_EMAIL, "a@", MBR_EINVAL, NULL },
	{ MBR_F_EMAIL, "a@@example.com", MBR_EINVAL, NULL },
	{ MBR_F_EMAIL, "a@b@example.com", MBR_EINVAL, NULL },
	{ MBR_F_EMAIL, "a b@example.com", MBR_EINVAL, NULL },
	{ MBR_F_EMAIL, "a@example.com,b@example.com", MBR_EINVAL, NULL },
	{ MBR_F_EMAIL, "<a@example.com>", MBR_EINVAL, NULL },
	/* birthdays: relative to MBR_NOW, 2026-11-22 18:00 in Shanghai */
	{ MBR_F_BIRTHDAY, "1990/7/2", MBR_OK, "1990-07-02" },
	{ MBR_F_BIRTHDAY, "19900702", MBR_OK, "1990-07-02" },
	{ MBR_F_BIRTHDAY, "1990-07-02", MBR_OK, "1990-07-02" },
	{ MBR_F_BIRTHDAY, "2000-02-29", MBR_OK, "2000-02-29" },
	{ MBR_F_BIRTHDAY, "2026-11-22", MBR_OK, "2026-11-22" },	/* born today */
	{ MBR_F_BIRTHDAY, "2026-11-23", MBR_EINVAL, NULL },	/* tomorrow */
	{ MBR_F_BIRTHDAY, "2030-01-01", MBR_EINVAL, NULL },
	{ MBR_F_BIRTHDAY, "1990-02-30", MBR_EINVAL, NULL },
	{ MBR_F_BIRTHDAY, "1900-02-29", MBR_EINVAL, NULL },
	{ MBR_F_BIRTHDAY, "1990-13-01", MBR_EINVAL, NULL },
	{ MBR_F_BIRTHDAY, "1990-00-10", MBR_EINVAL, NULL },
	{ MBR_F_BIRTHDAY, "90-07-02", MBR_EINVAL, NULL },
	{ MBR_F_BIRTHDAY, "1990-07-02 junk", MBR_EINVAL, NULL },
	{ MBR_F_BIRTHDAY, "July 2", MBR_EINVAL, NULL },
	/* gender */
	{ MBR_F_GENDER, "男", MBR_OK, "M" },
	{ MBR_F_GENDER, "女", MBR_OK, "F" },
	{ MBR_F_GENDER, "M", MBR_OK, "M" },
	{ MBR_F_GENDER, "f", MBR_OK, "F" },
	{ MBR_F_GENDER, "female", MBR_OK, "F" },
	{ MBR_F_GENDER, "Male", MBR_OK, "M" },
	{ MBR_F_GENDER, " FEMALE ", MBR_OK, "F" },
	{ MBR_F_GENDER, "x", MBR_EINVAL, NULL },
	{ MBR_F_GENDER, "未知", MBR_EINVAL, NULL },
	{ MBR_F_GENDER, "ma", MBR_EINVAL, NULL },
	/* names and notes: trimmed, no control characters, bounded */
	{ MBR_F_NAME, "张三", MBR_OK, "张三" },
	{ MBR_F_NAME, "  Ann Lee  ", MBR_OK, "Ann Lee" },
	{ MBR_F_NAME, "a\x01" "b", MBR_EINVAL, NULL },
	{ MBR_F_NAME, "a\tb", MBR_EINVAL, NULL },
	{ MBR_F_NAME, "a\nb", MBR_EINVAL, NULL },
	{ MBR_F_NAME, "a\x1b[31mred", MBR_EINVAL, NULL },
	{ MBR_F_NAME, "a\x7f", MBR_EINVAL, NULL },
	{ MBR_F_NOTE, "likes tea; 喜欢茶", MBR_OK, "likes tea; 喜欢茶" },
	{ MBR_F_NOTE, "line\rfeed", MBR_EINVAL, NULL },
	/* member numbers */
	{ MBR_F_MEMBER_NO, "A-1_2.3/4", MBR_OK, "A-1_2.3/4" },
	{ MBR_F_MEMBER_NO, " C001 ", MBR_OK, "C001" },
	{ MBR_F_MEMBER_NO, "C 001", MBR_EINVAL, NULL },
	{ MBR_F_MEMBER_NO, "卡001", MBR_EINVAL, NULL },
	{ MBR_F_MEMBER_NO, "C001;DROP", MBR_EINVAL, NULL },
	{ MBR_F_MEMBER_NO, "12345678901234567890123456789012", MBR_OK, "12345678901234567890123456789012" },
	{ MBR_F_MEMBER_NO, "123456789012345678901234567890123", MBR_EINVAL, NULL },	/* 33 */
};

static void test_set_field_table(void **state)
{
	struct mbr_buf why = MBR_BUF_INIT;
	struct mbr_member m;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
		const struct norm *c = &norm_cases[i];
		const char *got;

		mbr_member_clear(&m);
		rc = mbr_member_set_field(NULL, &m, c->f, c->in, &why);
		if (rc != c->rc)
			fail_msg("%s '%s': got %d (%s), want %d", mbr_member_cols[c->f].name, c->in, rc, why.buf, c->rc);
		if (rc == MBR_OK) {
			got = mbr_member_field(&m, c->f, NULL);
			if (strcmp(got, c->want))
				fail_msg("%s '%s': stored '%s', want '%s'", mbr_member_cols[c->f].name, c->in, got, c->want);
		} else if (why.len == 0) {
			fail_msg("%s '%s': refused without a reason", mbr_member_cols[c->f].name, c->in);
		}
	}
	mbr_buf_release(&why);
}

static void test_set_field_lengths(void **state)
{
	struct mbr_buf why = MBR_BUF_INIT;
	struct mbr_member m;
	char big[MBR_FIELD_SZ + 8];

	(void)state;
	mbr_member_clear(&m);
	memset(big, 'n', sizeof(big));

	big[300] = '\0';		/* a 300-byte name */
	assert_int_equal(mbr_member_set_field(NULL, &m, MBR_F_NAME, big, &why), MBR_EINVAL);
	assert_non_null(strstr(why.buf, "longer"));
	assert_string_equal(m.name, "");
	big[255] = '\0';		/* the most that fits */
	assert_int_equal(mbr_member_set_field(NULL, &m, MBR_F_NAME, big, &why), MBR_OK);
	assert_int_equal(strlen(m.name), 255);

	big[255] = 'n';
	big[300] = 'n';
	big[MBR_FIELD_SZ] = '\0';
	assert_int_equal(mbr_member_set_field(NULL, &m, MBR_F_NOTE, big, &why), MBR_EINVAL);
	big[MBR_FIELD_SZ - 1] = '\0';
	assert_int_equal(mbr_member_set_field(NULL, &m, MBR_F_NOTE, big, &why), MBR_OK);

	/* an e-mail address longer than its buffer */
	memset(big, 'e', sizeof(big));
	memcpy(big + 250, "@example.com", 13);
	assert_int_equal(mbr_member_set_field(NULL, &m, MBR_F_EMAIL, big, &why), MBR_EINVAL);

	/* empty and NULL clear a field */
	assert_int_equal(mbr_member_set_field(NULL, &m, MBR_F_NAME, "   ", &why), MBR_OK);
	assert_string_equal(m.name, "");
	snprintf(m.phone, sizeof(m.phone), "13812345678");
	assert_int_equal(mbr_member_set_field(NULL, &m, MBR_F_PHONE, NULL, &why), MBR_OK);
	assert_string_equal(m.phone, "");

	/* an unknown field */
	assert_int_equal(mbr_member_set_field(NULL, &m, MBR_F_COUNT, "x", &why), MBR_EINVAL);
	mbr_buf_release(&why);
}

static void test_set_field_codes(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_buf why = MBR_BUF_INIT;
	struct mbr_member m;

	(void)state;
	mbr_member_clear(&m);
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_STORE, "S01", &why), MBR_OK);
	assert_string_equal(m.store, "S01");
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_STORE, "S99", &why), MBR_EINVAL);
	assert_non_null(strstr(why.buf, "'S99'"));
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_TIER, "GOLD", &why), MBR_EINVAL);
	assert_non_null(strstr(why.buf, "'GOLD'"));
	/* without a database codes are not checked */
	assert_int_equal(mbr_member_set_field(NULL, &m, MBR_F_STORE, "S99", &why), MBR_OK);
	assert_string_equal(m.store, "S99");
	mbr_buf_release(&why);
	mbr_db_close(db);
}

static void test_field_lookup(void **state)
{
	static const struct { const char *name; int f; } cases[] = {
		{ "member_no", MBR_F_MEMBER_NO }, { "会员卡号", MBR_F_MEMBER_NO }, { "Card", MBR_F_MEMBER_NO },
		{ "phone", MBR_F_PHONE }, { "MOBILE", MBR_F_PHONE }, { "手机号", MBR_F_PHONE },
		{ "姓名", MBR_F_NAME }, { "e-mail", MBR_F_EMAIL }, { "生日", MBR_F_BIRTHDAY },
		{ "sex", MBR_F_GENDER }, { "等级", MBR_F_TIER }, { "门店", MBR_F_STORE }, { "备注", MBR_F_NOTE },
		{ "bogus", -1 }, { "", -1 }, { "phone|mobile", -1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (mbr_member_field_lookup(cases[i].name) != cases[i].f)
			fail_msg("'%s': got %d, want %d", cases[i].name, mbr_member_field_lookup(cases[i].name),
				 cases[i].f);
}

/* --------------------------------------------------- add and lookup */

static void test_add_and_get(void **state)
{
	static const char *const keys[] = {
		"C001", " C001 ", "13812345678", "138-1234-5678", "+86 138 1234 5678", "008613812345678", "S01-1",
	};
	struct mbr_db *db = new_db();
	struct mbr_member m, g;
	size_t i;

	(void)state;
	fill(db, &m, "member_no=C001", "name=张三", "phone=138 1234 5678", "email=Zhang@Example.com",
	     "birthday=1990/7/2", "gender=男", "store=S01", "note=vip", NULL);
	add_ok(db, &m);
	assert_string_equal(m.uid, "S01-1");
	assert_true(m.id > 0);
	assert_string_equal(m.status, "active");

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		get_ok(db, keys[i], &g);
		if (g.id != m.id)
			fail_msg("'%s' found member %lld", keys[i], (long long)g.id);
	}
	assert_string_equal(g.uid, "S01-1");
	assert_string_equal(g.member_no, "C001");
	assert_string_equal(g.name, "张三");
	assert_string_equal(g.phone, "13812345678");
	assert_string_equal(g.email, "Zhang@example.com");
	assert_string_equal(g.birthday, "1990-07-02");
	assert_string_equal(g.gender, "M");
	assert_string_equal(g.store, "S01");
	assert_string_equal(g.note, "vip");
	assert_string_equal(g.status, "active");
	assert_int_equal(g.points, 0);
	assert_int_equal(g.created_at, NOW_T);
	assert_int_equal(g.updated_at, NOW_T);

	memset(&g, 0x5a, sizeof(g));
	assert_int_equal(mbr_member_get_id(db, m.id, &g), MBR_OK);
	assert_string_equal(g.name, "张三");
	assert_int_equal(mbr_member_get_id(db, m.id + 100, &g), MBR_ENOTFOUND);

	get_missing(db, "C002");
	assert_non_null(strstr(mbr_db_errmsg(db), "'C002'"));
	get_missing(db, "13812345679");
	get_missing(db, "S01-2");
	get_missing(db, "张三");		/* names are not keys */

	/* a phone-only and a card-only member; neither is refused */
	fill(db, &m, "phone=13900000001", NULL);
	add_ok(db, &m);
	assert_string_equal(m.uid, "S01-2");
	get_ok(db, "139 0000 0001", &g);
	fill(db, &m, "member_no=C003", NULL);
	add_ok(db, &m);
	get_ok(db, "C003", &g);
	assert_string_equal(g.phone, "");

	/* neither member_no nor phone */
	fill(db, &m, "name=Nobody", "email=n@example.com", NULL);
	assert_int_equal(add(db, &m), MBR_EINVAL);
	assert_non_null(strstr(mbr_db_errmsg(db), "member_no"));
	mbr_db_close(db);
}

static int count_cb(const struct mbr_member *m, void *p)
{
	(void)m;
	(*(int *)p)++;
	return 0;
}

static int count_members(struct mbr_db *db)
{
	int n = 0;

	assert_int_equal(mbr_member_each(db, count_cb, &n), MBR_OK);
	return n;
}

static void test_duplicates(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member a, b;

	(void)state;
	fill(db, &a, "member_no=C001", "phone=13812345678", "name=A", NULL);
	add_ok(db, &a);

	/* the same member_no */
	fill(db, &b, "member_no=C001", "phone=13900000000", "name=B", NULL);
	assert_int_equal(add(db, &b), MBR_EEXIST);
	assert_non_null(strstr(mbr_db_errmsg(db), "member_no"));
	assert_non_null(strstr(mbr_db_errmsg(db), a.uid));

	/* the same phone, spelt differently */
	fill(db, &b, "member_no=C002", "phone=+86 138-1234-5678", "name=B", NULL);
	assert_int_equal(add(db, &b), MBR_EEXIST);
	assert_non_null(strstr(mbr_db_errmsg(db), "phone"));
	assert_non_null(strstr(mbr_db_errmsg(db), a.uid));
	assert_null(strstr(mbr_db_errmsg(db), "13812345678"));	/* masked in messages */

	/* phone only, colliding */
	fill(db, &b, "phone=008613812345678", NULL);
	assert_int_equal(add(db, &b), MBR_EEXIST);
	assert_non_null(strstr(mbr_db_errmsg(db), a.uid));

	assert_int_equal(count_members(db), 1);
	mbr_db_close(db);
}

/* A key two members answer to is refused, whichever of them it would
 * pick: a member number that is another member's phone (or uid). */
static void test_ambiguous_keys(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member a, b, c, g;

	(void)state;
	fill(db, &a, "member_no=13900000001", "phone=13700000001", NULL);
	add_ok(db, &a);
	fill(db, &b, "member_no=M7", "phone=139 0000 0001", NULL);
	add_ok(db, &b);
	assert_int_equal(mbr_member_get(db, "13900000001", &g), MBR_EINVAL);
	assert_non_null(strstr(mbr_db_errmsg(db), "ambiguous"));
	assert_non_null(strstr(mbr_db_errmsg(db), a.uid));
	assert_non_null(strstr(mbr_db_errmsg(db), b.uid));
	assert_int_equal(mbr_member_get_brief(db, "13900000001", &g), MBR_EINVAL);
	/* each is found by its other keys */
	get_ok(db, a.uid, &g);
	assert_int_equal(g.id, a.id);
	get_ok(db, "13700000001", &g);
	assert_int_equal(g.id, a.id);
	get_ok(db, "M7", &g);
	assert_int_equal(g.id, b.id);
	/* a member number that is the member's own phone is no one else's */
	fill(db, &c, "member_no=13600000001", "phone=13600000001", NULL);
	add_ok(db, &c);
	get_ok(db, "13600000001", &g);
	assert_int_equal(g.id, c.id);
	mbr_db_close(db);
}

static void test_upsert(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member a, u, g;
	int updated = -1;

	(void)state;
	fill(db, &a, "member_no=C001", "phone=13812345678", "name=张三", "email=z@example.com",
	     "birthday=1990-07-02", "gender=M", "note=first", NULL);
	add_ok(db, &a);

	/* by member_no: only the non-empty fields change */
	fill(db, &u, "member_no=C001", "email=new@example.com", NULL);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_upsert(db, &u, 0, &updated), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(updated, 1);
	assert_string_equal(u.uid, a.uid);	/* m is the stored member afterwards */
	get_ok(db, "C001", &g);
	assert_string_equal(g.email, "new@example.com");
	assert_string_equal(g.name, "张三");
	assert_string_equal(g.phone, "13812345678");
	assert_string_equal(g.birthday, "1990-07-02");
	assert_string_equal(g.gender, "M");
	assert_string_equal(g.note, "first");

	/* by phone in another spelling */
	fill(db, &u, "phone=+86 138 1234 5678", "name=张三丰", NULL);
	updated = -1;
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_upsert(db, &u, 0, &updated), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(updated, 1);
	get_ok(db, "C001", &g);
	assert_string_equal(g.name, "张三丰");
	assert_string_equal(g.email, "new@example.com");

	/* nobody matches: added */
	fill(db, &u, "member_no=C002", "phone=13900000000", "name=李四", NULL);
	updated = -1;
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_upsert(db, &u, 0, &updated), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(updated, 0);
	assert_string_equal(u.uid, "S01-2");
	assert_int_equal(count_members(db), 2);

	/* an update that would take another member's phone is refused */
	fill(db, &u, "member_no=C002", "phone=13812345678", NULL);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_upsert(db, &u, 0, &updated), MBR_EEXIST);
	assert_non_null(strstr(mbr_db_errmsg(db), a.uid));
	assert_int_equal(mbr_rollback(db), MBR_OK);
	get_ok(db, "C002", &g);
	assert_string_equal(g.phone, "13900000000");
	mbr_db_close(db);
}

/* Give the member key names a new member_no and phone (one update). */
static void rekey(struct mbr_db *db, const char *key, const char *member_no, const char *phone)
{
	struct mbr_buf why = MBR_BUF_INIT;
	struct mbr_member g;

	get_ok(db, key, &g);
	assert_int_equal(mbr_member_set_field(db, &g, MBR_F_PHONE, phone, &why), MBR_OK);
	assert_int_equal(mbr_member_set_field(db, &g, MBR_F_MEMBER_NO, member_no, &why), MBR_OK);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_update(db, &g, "phone,member_no"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	mbr_buf_release(&why);
}

static void test_update_rehashes(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member a, b, g;
	struct mbr_buf why = MBR_BUF_INIT;

	(void)state;
	fill(db, &a, "member_no=C001", "phone=13812345678", "name=A", NULL);
	add_ok(db, &a);
	fill(db, &b, "member_no=C002", "phone=13900000000", "name=B", NULL);
	add_ok(db, &b);

	rekey(db, "C001", "C100", "137-0000-1111");

	get_missing(db, "13812345678");
	get_missing(db, "C001");
	get_ok(db, "13700001111", &g);
	assert_int_equal(g.id, a.id);
	get_ok(db, "C100", &g);
	assert_int_equal(g.id, a.id);
	assert_string_equal(g.name, "A");

	/* taking B's phone or number is refused, naming B */
	assert_int_equal(mbr_member_set_field(db, &g, MBR_F_PHONE, "13900000000", &why), MBR_OK);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_update(db, &g, "phone"), MBR_EEXIST);
	assert_non_null(strstr(mbr_db_errmsg(db), b.uid));
	assert_int_equal(mbr_rollback(db), MBR_OK);
	get_ok(db, "C100", &g);
	assert_int_equal(mbr_member_set_field(db, &g, MBR_F_MEMBER_NO, "C002", &why), MBR_OK);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_update(db, &g, "member_no"), MBR_EEXIST);
	assert_non_null(strstr(mbr_db_errmsg(db), b.uid));
	assert_int_equal(mbr_rollback(db), MBR_OK);

	/* removing both keys is refused */
	get_ok(db, "C100", &g);
	g.member_no[0] = g.phone[0] = '\0';
	assert_int_equal(mbr_member_update(db, &g, "phone"), MBR_EINVAL);
	get_ok(db, "C100", &g);
	mbr_buf_release(&why);
	mbr_db_close(db);
}

/* The plan of the prepared statement of db whose text names index: it
 * must read that index alone (a covering index: no page of members). */
static void assert_covering(struct mbr_db *db, const char *index)
{
	sqlite3_stmt *st = NULL, *plan;
	char sql[1024], want[128];
	int covering = 0;

	while ((st = sqlite3_next_stmt(db->sql, st)))
		if (strstr(sqlite3_sql(st), index))
			break;
	if (!st)
		fail_msg("no prepared statement reads %s", index);
	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", sqlite3_sql(st));
	snprintf(want, sizeof(want), "USING COVERING INDEX %s ", index);
	assert_int_equal(sqlite3_prepare_v2(db->sql, sql, -1, &plan, NULL), SQLITE_OK);
	while (sqlite3_step(plan) == SQLITE_ROW) {
		const char *detail = (const char *)sqlite3_column_text(plan, 3);

		if (strstr(detail, "members") && !strstr(detail, want))
			fail_msg("%s: %s", sqlite3_sql(st), detail);
		covering += strstr(detail, want) != NULL;
	}
	sqlite3_finalize(plan);
	assert_int_equal(covering, 1);
}

/*
 * A sale's member lookup (brief) gives what a sale needs, read from the
 * members_*_brief indexes alone, which follow every change of a key, the
 * tier and the status.
 */
static void test_brief_lookup(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member a, b, g;

	(void)state;
	fill(db, &a, "member_no=C001", "phone=13812345678", "name=A", "gender=F", NULL);
	add_ok(db, &a);
	fill(db, &b, "member_no=C002", "phone=13900000000", "name=B", NULL);
	add_ok(db, &b);
	assert_int_equal(mbr_db_exec(db, "INSERT INTO tiers(code, rank) VALUES ('GOLD', 1)"), MBR_OK);
	{
		char sql[96];

		snprintf(sql, sizeof(sql), "UPDATE members SET tier = 'GOLD' WHERE id = %lld", (long long)a.id);
		assert_int_equal(mbr_db_exec(db, sql), MBR_OK);
	}

	assert_int_equal(mbr_member_get_brief(db, "C001", &g), MBR_OK);
	assert_int_equal(g.id, a.id);
	assert_string_equal(g.uid, a.uid);
	assert_string_equal(g.tier, "GOLD");
	assert_string_equal(g.status, "active");
	assert_string_equal(g.name, "");	/* nothing personal, nothing unsealed */
	assert_string_equal(g.gender, "");
	assert_covering(db, "members_card_brief");
	assert_int_equal(mbr_member_get_brief(db, "138 1234 5678", &g), MBR_OK);
	assert_int_equal(g.id, a.id);
	assert_string_equal(g.tier, "GOLD");
	assert_covering(db, "members_phone_brief");
	assert_int_equal(mbr_member_get_brief(db, "C002", &g), MBR_OK);
	assert_int_equal(g.id, b.id);
	assert_string_equal(g.tier, "");

	/* status and keys changed: the lookups follow */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_set_status(db, a.id, "frozen"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(mbr_member_get_brief(db, "C001", &g), MBR_OK);
	assert_string_equal(g.status, "frozen");
	rekey(db, "C001", "C100", "13700001111");
	assert_int_equal(mbr_member_get_brief(db, "C001", &g), MBR_ENOTFOUND);
	assert_int_equal(mbr_member_get_brief(db, "13812345678", &g), MBR_ENOTFOUND);
	assert_int_equal(mbr_member_get_brief(db, "C100", &g), MBR_OK);
	assert_int_equal(g.id, a.id);
	assert_string_equal(g.status, "frozen");
	assert_int_equal(mbr_member_get_brief(db, "13700001111", &g), MBR_OK);
	assert_int_equal(g.id, a.id);

	/* erased: no keys left to find it by */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_erase(db, a.id), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(mbr_member_get_brief(db, "C100", &g), MBR_ENOTFOUND);
	assert_int_equal(mbr_member_get_brief(db, "13700001111", &g), MBR_ENOTFOUND);
	mbr_db_close(db);
}

/* Indexes on members, as a sorted list */
static void member_indexes(struct mbr_db *db, char *out, size_t n)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db->sql, "SELECT COALESCE(group_concat(name, ' '), '') FROM (SELECT name FROM"
					     " sqlite_schema WHERE type = 'index' AND tbl_name = 'members' ORDER BY name)",
					     -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static void keep_problem(const char *problem, void *ctx)
{
	snprintf(ctx, 256, "%s", problem);
}

/* A bulk enrolment drops the key indexes and makes every one again,
 * the brief ones too; one with a key taken twice changes nothing. */
static void test_bulk_indexes(void **state)
{
	static const char all[] = "members_card members_card_brief members_phone members_phone_brief members_uid";
	struct mbr_db *db = new_db();
	struct mbr_member a, b, g;
	char idx[256], problem[256] = "";
	long dups = 0;

	(void)state;
	member_indexes(db, idx, sizeof(idx));
	assert_string_equal(idx, all);
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	assert_int_equal(mbr_member_bulk_begin(db), MBR_OK);
	member_indexes(db, idx, sizeof(idx));
	assert_string_equal(idx, "");
	fill(db, &a, "member_no=C001", "phone=13812345678", NULL);
	assert_int_equal(mbr_member_add(db, &a, 0), MBR_OK);
	fill(db, &b, "member_no=C002", NULL);
	assert_int_equal(mbr_member_add(db, &b, 0), MBR_OK);
	assert_int_equal(mbr_member_bulk_end(db, keep_problem, problem, &dups), MBR_OK);
	assert_int_equal(dups, 0);
	assert_string_equal(problem, "");
	assert_int_equal(mbr_commit(db), MBR_OK);
	member_indexes(db, idx, sizeof(idx));
	assert_string_equal(idx, all);
	assert_int_equal(mbr_member_get_brief(db, "13812345678", &g), MBR_OK);
	assert_int_equal(g.id, a.id);
	assert_covering(db, "members_phone_brief");

	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	assert_int_equal(mbr_member_bulk_begin(db), MBR_OK);
	fill(db, &g, "member_no=C002", NULL);
	assert_int_equal(mbr_member_add(db, &g, 0), MBR_OK);	/* found at the end */
	assert_int_equal(mbr_member_bulk_end(db, keep_problem, problem, &dups), MBR_EEXIST);
	assert_int_equal(dups, 1);
	assert_non_null(strstr(problem, b.uid));
	assert_int_equal(mbr_rollback(db), MBR_OK);
	member_indexes(db, idx, sizeof(idx));
	assert_string_equal(idx, all);
	assert_int_equal(count_members(db), 2);
	mbr_db_close(db);
}

static void test_set_status(void **state)
{
	static const struct { const char *status; int rc; const char *after; } steps[] = {
		{ "frozen", MBR_OK, "frozen" },
		{ "frozen", MBR_OK, "frozen" },		/* already: no change, no error */
		{ "active", MBR_OK, "active" },
		{ "erased", MBR_EINVAL, "active" },	/* only mbr_member_erase erases */
		{ "closed", MBR_EINVAL, "active" },
		{ "", MBR_EINVAL, "active" },
	};
	struct mbr_db *db = new_db();
	struct mbr_member a, g;
	size_t i;
	int rc;

	(void)state;
	fill(db, &a, "member_no=C001", NULL);
	add_ok(db, &a);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(mbr_begin(db), MBR_OK);
		rc = mbr_member_set_status(db, a.id, steps[i].status);
		if (rc != steps[i].rc)
			fail_msg("status '%s': got %d (%s)", steps[i].status, rc, mbr_db_errmsg(db));
		assert_int_equal(mbr_commit(db), MBR_OK);
		get_ok(db, "C001", &g);
		assert_string_equal(g.status, steps[i].after);
	}
	assert_int_equal(mbr_member_set_status(db, a.id + 50, "frozen"), MBR_ENOTFOUND);
	mbr_db_close(db);
}

static void test_erase(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member a, b, g;
	int updated;

	(void)state;
	fill(db, &a, "member_no=C001", "phone=13812345678", "name=张三", "email=z@example.com",
	     "birthday=1990-07-02", "gender=女", "note=private", NULL);
	add_ok(db, &a);

	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_erase(db, a.id), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);

	get_missing(db, "13812345678");
	get_missing(db, "C001");
	get_ok(db, a.uid, &g);
	assert_int_equal(g.id, a.id);
	assert_string_equal(g.status, "erased");
	assert_string_equal(g.member_no, "");
	assert_string_equal(g.name, "");
	assert_string_equal(g.phone, "");
	assert_string_equal(g.email, "");
	assert_string_equal(g.birthday, "");
	assert_string_equal(g.gender, "");
	assert_string_equal(g.note, "");

	/* erased is final */
	assert_int_equal(mbr_member_erase(db, a.id), MBR_EINVAL);
	assert_non_null(strstr(mbr_db_errmsg(db), a.uid));
	assert_int_equal(mbr_member_set_status(db, a.id, "active"), MBR_EINVAL);
	snprintf(g.name, sizeof(g.name), "back again");
	snprintf(g.phone, sizeof(g.phone), "13812345678");
	assert_int_equal(mbr_member_update(db, &g, "name"), MBR_EINVAL);
	assert_int_equal(mbr_member_erase(db, a.id + 99), MBR_ENOTFOUND);

	/* the number and phone are free for a new member, who gets a new uid */
	fill(db, &b, "member_no=C001", "phone=13812345678", NULL);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_upsert(db, &b, 0, &updated), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(updated, 0);
	assert_string_not_equal(b.uid, a.uid);
	get_ok(db, a.uid, &g);
	assert_string_equal(g.status, "erased");
	mbr_db_close(db);
}

/* A member's balance, open lots, and ledger entries. */
static void points_state(struct mbr_db *db, int64_t id, int64_t *balance, int64_t *lots, int64_t *entries)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db->sql, "SELECT COALESCE((SELECT points FROM points_balances WHERE member = ?1), 0),"
					    " (SELECT COALESCE(SUM(remaining), 0) FROM points_lots"
					    " WHERE member = ?1), (SELECT COUNT(*) FROM points_ledger WHERE member = ?1)"
					    " FROM members WHERE id = ?1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	*balance = sqlite3_column_int64(st, 0);
	*lots = sqlite3_column_int64(st, 1);
	*entries = sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
}

static void post_ok(struct mbr_db *db, int64_t member, const char *kind, int64_t points, int64_t expires_at)
{
	struct mbr_post p;

	memset(&p, 0, sizeof(p));
	p.member = member;
	p.kind = kind;
	p.source = "operator";
	p.points = points;
	p.expires_at = expires_at;
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_post(db, &p, NULL), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
}

/*
 * Erasure forfeits a positive balance (it could never be spent or
 * written off after): one 'expire' entry, reason "erased", that empties
 * the lots; audited with the erasure.  A debt stays as it is.
 */
static void test_erase_forfeits_points(void **state)
{
	struct mbr_db *db = new_db();
	struct mbr_member a, b;
	int64_t bal, lots, n;
	sqlite3_stmt *st;

	(void)state;
	fill(db, &a, "member_no=C001", NULL);
	add_ok(db, &a);
	post_ok(db, a.id, "earn", 300, NOW_T + 30 * 86400);	/* a lot */
	post_ok(db, a.id, "earn", 200, 0);			/* never lapses: no lot */
	points_state(db, a.id, &bal, &lots, &n);
	assert_int_equal(bal, 500);
	assert_int_equal(lots, 300);
	assert_int_equal(n, 2);

	/* a dry run (rolled back) forfeits nothing */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_erase(db, a.id), MBR_OK);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	points_state(db, a.id, &bal, &lots, &n);
	assert_int_equal(bal, 500);
	assert_int_equal(n, 2);

	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_erase(db, a.id), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	points_state(db, a.id, &bal, &lots, &n);
	assert_int_equal(bal, 0);
	assert_int_equal(lots, 0);
	assert_int_equal(n, 3);
	assert_int_equal(sqlite3_prepare_v2(db->sql, "SELECT kind, points, reason, source, ts FROM points_ledger"
					    " WHERE member = ? ORDER BY id DESC LIMIT 1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, a.id);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "expire");
	assert_int_equal(sqlite3_column_int64(st, 1), -500);
	assert_string_equal((const char *)sqlite3_column_text(st, 2), "erased");
	assert_string_equal((const char *)sqlite3_column_text(st, 3), "operator");
	assert_int_equal(sqlite3_column_int64(st, 4), NOW_T);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db->sql, "SELECT detail FROM audit WHERE action = 'member.erase' AND target = ?",
					    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, a.uid, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "500 points forfeited");
	sqlite3_finalize(st);

	/* a debt stays: no entry, nothing in the audit detail */
	fill(db, &b, "member_no=C002", NULL);
	add_ok(db, &b);
	post_ok(db, b.id, "adjust", -40, 0);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_erase(db, b.id), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	points_state(db, b.id, &bal, &lots, &n);
	assert_int_equal(bal, -40);
	assert_int_equal(n, 1);
	assert_int_equal(sqlite3_prepare_v2(db->sql, "SELECT detail FROM audit WHERE action = 'member.erase' AND target = ?",
					    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, b.uid, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "");
	sqlite3_finalize(st);
	mbr_db_close(db);
}

static int busy_timeout_of(struct mbr_db *db)
{
	sqlite3_stmt *st;
	int ms;

	assert_int_equal(sqlite3_prepare_v2(db->sql, "PRAGMA busy_timeout", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	ms = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return ms;
}

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The checkpoint after an erasure waits for a reader at most max_ms, not
 * the handle's busy timeout (10 minutes by default), and leaves that
 * timeout as it was; a shorter MBR_BUSY_TIMEOUT is a shorter wait.
 */
static void test_erase_checkpoint_bounded(void **state)
{
	const char *path = make_db("w.db");
	struct mbr_db *db;
	struct mbr_member m;
	sqlite3 *reader;
	int64_t t0, took;

	(void)state;
	setenv("MBR_BUSY_TIMEOUT", "600", 1);
	db = open_db(path);
	assert_int_equal(busy_timeout_of(db), 600000);
	fill(db, &m, "member_no=C001", "name=张三", NULL);
	add_ok(db, &m);
	assert_int_equal(mbr_db_checkpoint(db), MBR_OK);

	/* a reader holding a snapshot from before the erasure */
	assert_int_equal(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(reader, "BEGIN; SELECT COUNT(*) FROM members;", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_erase(db, m.id), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);

	t0 = ms_now();
	assert_int_equal(mbr_member_erase_checkpoint(db, 300), MBR_EBUSY);
	took = ms_now() - t0;
	if (took < 250 || took > 3000)
		fail_msg("the checkpoint waited %lld ms, want about 300", (long long)took);
	assert_int_equal(busy_timeout_of(db), 600000);
	mbr_db_close(db);

	/* a busy timeout below the bound is the bound */
	setenv("MBR_BUSY_TIMEOUT", "0", 1);
	db = open_db(path);
	t0 = ms_now();
	assert_true(mbr_member_erase_checkpoint(db, 5000) < 0);
	took = ms_now() - t0;
	if (took > 2000)
		fail_msg("the checkpoint waited %lld ms, want none", (long long)took);
	assert_int_equal(busy_timeout_of(db), 0);

	/* the reader gone, the log is cleared */
	assert_int_equal(sqlite3_exec(reader, "COMMIT;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(reader);
	assert_int_equal(mbr_member_erase_checkpoint(db, 300), MBR_OK);
	mbr_db_close(db);
	unsetenv("MBR_BUSY_TIMEOUT");
}

/*
 * A member number that is another member's uid would make that uid name
 * two members: refused wherever a member number is validated with a
 * database.  The member's own uid, and numbers merely shaped like one
 * (a leading zero, an unknown store, a uid not given to a member), are
 * accepted.
 */
static void test_member_no_not_a_uid(void **state)
{
	static const struct {
		const char *no;
		int rc;
	} cases[] = {
		{ "S01-1", MBR_EINVAL },	/* a's uid */
		{ " S01-1 ", MBR_EINVAL },
		{ "S01-2", MBR_OK },		/* b's own */
		{ "S01-01", MBR_OK },
		{ "S01-99", MBR_OK },
		{ "S99-1", MBR_OK },
		{ "s01-1", MBR_OK },		/* uids are case-sensitive */
		{ "S01-", MBR_OK },
		{ "-1", MBR_OK },
		{ "S01-1x", MBR_OK },
	};
	struct mbr_db *db = new_db();
	struct mbr_buf why = MBR_BUF_INIT;
	struct mbr_member a, b, n;
	size_t i;

	(void)state;
	fill(db, &a, "member_no=C001", NULL);
	add_ok(db, &a);
	fill(db, &b, "member_no=C002", NULL);
	add_ok(db, &b);
	assert_string_equal(a.uid, "S01-1");
	assert_string_equal(b.uid, "S01-2");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mbr_member m = b;
		int rc = mbr_member_set_field(db, &m, MBR_F_MEMBER_NO, cases[i].no, &why);

		if (rc != cases[i].rc)
			fail_msg("member_no '%s': %d (%s), want %d", cases[i].no, rc, why.buf, cases[i].rc);
		if (rc == MBR_EINVAL) {
			assert_string_equal(why.buf, "'S01-1' is the uid of another member");
			assert_string_equal(m.member_no, "");
		}
	}
	/* a new member has no uid yet: b's is another member's */
	mbr_member_clear(&n);
	assert_int_equal(mbr_member_set_field(db, &n, MBR_F_MEMBER_NO, "S01-2", &why), MBR_EINVAL);
	assert_string_equal(why.buf, "'S01-2' is the uid of another member");
	/* without a database only the form is checked */
	assert_int_equal(mbr_member_set_field(NULL, &n, MBR_F_MEMBER_NO, "S01-2", &why), MBR_OK);
	mbr_buf_release(&why);
	mbr_db_close(db);
}

/* ------------------------------------------------------------- find */

struct found {
	char uids[8][40];
	int n, stop;
};

static int found_cb(const struct mbr_member *m, void *p)
{
	struct found *f = p;

	if (f->n < 8)
		snprintf(f->uids[f->n], sizeof(f->uids[0]), "%s", m->uid);
	f->n++;
	return f->stop && f->n >= f->stop ? 1 : 0;
}

struct find_case {
	const char *query;
	int rc, n;
	const char *first;
};

static void test_find(void **state)
{
	static const struct find_case cases[] = {
		{ "三", MBR_OK, 1, "S01-1" },
		{ "张三丰", MBR_OK, 1, "S01-1" },
		{ "张", MBR_OK, 2, "S01-1" },
		{ "zhang", MBR_OK, 2, "S01-2" },
		{ "ZHANG", MBR_OK, 2, "S01-2" },
		{ "Wei", MBR_OK, 1, "S01-2" },
		{ "13812345678", MBR_OK, 1, "S01-1" },		/* exact phone */
		{ "138-1234-5678", MBR_OK, 1, "S01-1" },
		{ "C004", MBR_OK, 1, "S01-4" },			/* exact member_no */
		{ "S01-3", MBR_OK, 1, "S01-3" },		/* exact uid */
		{ "1381234", MBR_ENOTFOUND, 0, NULL },		/* phones are not searched by part */
		{ "nobody", MBR_ENOTFOUND, 0, NULL },
		{ "", MBR_EINVAL, 0, NULL },			/* no query: every name would match */
	};
	struct mbr_db *db = new_db();
	struct mbr_member m;
	struct found f;
	size_t i;
	int rc;

	(void)state;
	fill(db, &m, "member_no=C001", "phone=13812345678", "name=张三丰", NULL);
	add_ok(db, &m);
	fill(db, &m, "member_no=C002", "phone=13800000002", "name=Zhang Wei", NULL);
	add_ok(db, &m);
	fill(db, &m, "member_no=C003", "phone=13800000003", "name=zhangsan 张", NULL);
	add_ok(db, &m);
	fill(db, &m, "member_no=C004", "phone=13800000004", "name=李四", NULL);
	add_ok(db, &m);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&f, 0, sizeof(f));
		rc = mbr_member_find(db, cases[i].query, found_cb, &f);
		if (rc != cases[i].rc || f.n != cases[i].n)
			fail_msg("find '%s': status %d, %d found; want %d, %d", cases[i].query, rc, f.n,
				 cases[i].rc, cases[i].n);
		if (cases[i].first)
			assert_string_equal(f.uids[0], cases[i].first);
	}

	/* the callback can stop the search */
	memset(&f, 0, sizeof(f));
	f.stop = 1;
	assert_int_equal(mbr_member_find(db, "zhang", found_cb, &f), MBR_OK);
	assert_int_equal(f.n, 1);

	/* erased members are not found by their old name */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_erase(db, 4), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	memset(&f, 0, sizeof(f));
	assert_int_equal(mbr_member_find(db, "李四", found_cb, &f), MBR_ENOTFOUND);
	assert_int_equal(f.n, 0);
	mbr_db_close(db);
}

/* ------------------------------------------------------------- view */

static void test_view(void **state)
{
	struct mbr_member m;
	struct mbr_member_view v;
	size_t i;

	(void)state;
	fill(NULL, &m, "member_no=C001", "name=张三", "phone=13812345678", "email=zhang@example.com",
	     "birthday=1990-07-02", "gender=M", "note=vip, call first", NULL);
	snprintf(m.uid, sizeof(m.uid), "S01-7");
	snprintf(m.status, sizeof(m.status), "active");
	m.points = 1234;
	m.created_at = NOW_T;	/* 18:00 in Shanghai */
	mbr_time_set_zone("Asia/Shanghai");

	mbr_member_view(&m, 0, &v);
	assert_string_equal(v.val[0], "S01-7");
	assert_string_equal(v.val[1], "C001");
	assert_string_equal(v.val[2], "张*");
	assert_string_equal(v.val[3], "138****5678");
	assert_string_equal(v.val[4], "z***@example.com");
	assert_string_equal(v.val[5], "****-07-02");
	assert_string_equal(v.val[6], "M");
	assert_string_equal(v.val[9], "active");
	assert_string_equal(v.val[10], "1234");
	assert_string_equal(v.val[11], "2026-11-22");
	assert_string_equal(v.val[12], "");
	for (i = 0; i < MBR_VIEW_COUNT; i++) {
		assert_non_null(v.val[i]);
		assert_null(strstr(v.val[i], "三"));
		assert_null(strstr(v.val[i], "1990"));
		assert_null(strstr(v.val[i], "vip"));
	}
	assert_string_equal(mbr_member_view_cols[2].name, "name");
	assert_string_equal(mbr_member_view_cols[12].name, "note");

	mbr_member_view(&m, 1, &v);
	assert_string_equal(v.val[2], "张三");
	assert_string_equal(v.val[3], "13812345678");
	assert_string_equal(v.val[4], "zhang@example.com");
	assert_string_equal(v.val[5], "1990-07-02");
	assert_string_equal(v.val[12], "vip, call first");

	/* empty fields stay empty when masked */
	mbr_member_clear(&m);
	mbr_member_view(&m, 0, &v);
	for (i = 0; i < MBR_VIEW_COUNT; i++)
		if (i != 10)
			assert_string_equal(v.val[i], "");
	assert_string_equal(v.val[10], "0");
}

/* --------------------------------------------------------- privacy */

/* Whole file, or NULL if it does not exist. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *p;
	long n;

	*len = 0;
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return p;
}

/* None of secrets may occur in the database file or its WAL. */
static void no_plaintext(const char *path, const char *const *secrets, size_t nsecrets, const char *when)
{
	static const char *const suffixes[] = { "", "-wal", "-journal" };
	char name[200];
	size_t i, j, len;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		unsigned char *p;

		snprintf(name, sizeof(name), "%s%s", path, suffixes[i]);
		p = slurp(name, &len);
		if (!p)
			continue;
		for (j = 0; j < nsecrets; j++)
			if (memmem(p, len, secrets[j], strlen(secrets[j])))
				fail_msg("%s: '%s' in plain text in %s", when, secrets[j], name);
		free(p);
	}
}

static const char *const first_secrets[] = {
	"Zhangsanfeng", "张三丰", "13912345678", "unique@example.com", "UNIQUE@EXAMPLE.COM",
	"PRIVCARD777", "1981-04-05", "secret note text",
};
static const char *const second_secrets[] = {
	"Wangwuzhou", "王五洲", "13766667777", "changed@example.org", "PRIVCARD888",
};

static void test_privacy_on_disk(void **state)
{
	const char *path = make_db("p.db");
	struct mbr_db *db = open_db(path);
	struct mbr_member m, other;
	struct mbr_buf why = MBR_BUF_INIT;
	char wal[200];
	size_t len;
	unsigned char *p;
	int i;

	(void)state;
	fill(db, &m, "member_no=PRIVCARD777", "name=Zhangsanfeng 张三丰", "phone=139-1234-5678",
	     "email=unique@EXAMPLE.com", "birthday=1981/4/5", "note=secret note text", NULL);
	add_ok(db, &m);
	for (i = 0; i < 20; i++) {	/* some company, to fill pages */
		char no[16];

		snprintf(no, sizeof(no), "C%03d", i);
		fill(db, &other, "name=Filler", "phone=13000000000", NULL);
		snprintf(other.member_no, sizeof(other.member_no), "%s", no);
		snprintf(other.phone, sizeof(other.phone), "130000000%02d", i);
		add_ok(db, &other);
	}

	/* while open, the WAL holds the recent pages */
	snprintf(wal, sizeof(wal), "%s-wal", path);
	p = slurp(wal, &len);
	assert_non_null(p);
	assert_true(len > 0);
	free(p);
	no_plaintext(path, first_secrets, 8, "after add (open)");
	mbr_db_close(db);
	no_plaintext(path, first_secrets, 8, "after add (closed)");

	/* update every personal field */
	db = open_db(path);
	get_ok(db, "PRIVCARD777", &m);
	assert_string_equal(m.name, "Zhangsanfeng 张三丰");	/* it is there, sealed */
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_NAME, "Wangwuzhou 王五洲", &why), MBR_OK);
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_PHONE, "13766667777", &why), MBR_OK);
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_EMAIL, "changed@example.org", &why), MBR_OK);
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_MEMBER_NO, "PRIVCARD888", &why), MBR_OK);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_update(db, &m, "name,phone,email,member_no"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	no_plaintext(path, first_secrets, 8, "after update (open)");
	no_plaintext(path, second_secrets, 5, "after update (open)");
	mbr_db_close(db);
	no_plaintext(path, first_secrets, 8, "after update (closed)");
	no_plaintext(path, second_secrets, 5, "after update (closed)");

	/* erase */
	db = open_db(path);
	get_ok(db, "13766667777", &m);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_erase(db, m.id), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	no_plaintext(path, first_secrets, 8, "after erase (open)");
	no_plaintext(path, second_secrets, 5, "after erase (open)");
	mbr_db_close(db);
	no_plaintext(path, first_secrets, 8, "after erase (closed)");
	no_plaintext(path, second_secrets, 5, "after erase (closed)");
	mbr_buf_release(&why);
}

/*
 * "Remove personal data for good": after erase and the checkpoint that
 * mbr.h prescribes, not even the sealed bytes remain in the file or WAL
 * (they would be readable again by anyone who later gets the key).
 */
static void test_erase_leaves_no_ciphertext(void **state)
{
	const char *path = make_db("c.db");
	struct mbr_db *db = open_db(path);
	struct mbr_member m;
	unsigned char ct[48];
	sqlite3 *q;
	sqlite3_stmt *st;
	size_t len;
	unsigned char *p;
	char wal[200];

	(void)state;
	fill(db, &m, "member_no=C001", "phone=13812345678", "name=张三", "note=to be forgotten", NULL);
	add_ok(db, &m);

	assert_int_equal(sqlite3_open_v2(path, &q, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(q, "SELECT pii FROM member_pii WHERE member = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, m.id);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_true(sqlite3_column_bytes(st, 0) >= (int)sizeof(ct));
	memcpy(ct, sqlite3_column_blob(st, 0), sizeof(ct));	/* nonce and the start of the text */
	sqlite3_finalize(st);
	sqlite3_close(q);

	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_erase(db, m.id), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(mbr_db_checkpoint(db), MBR_OK);

	p = slurp(path, &len);
	assert_non_null(p);
	if (memmem(p, len, ct, sizeof(ct)))
		fail_msg("the erased member's sealed data is still in %s", path);
	free(p);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	p = slurp(wal, &len);
	if (p && memmem(p, len, ct, sizeof(ct)))
		fail_msg("the erased member's sealed data is still in %s", wal);
	free(p);
	mbr_db_close(db);
}

/* ------------------------------------------------------------- keys */

static void test_wrong_key(void **state)
{
	const char *path = make_db("k.db");
	struct mbr_db *db = open_db(path);
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_member m, g;

	(void)state;
	fill(db, &m, "member_no=C001", "phone=13812345678", "name=张三", NULL);
	add_ok(db, &m);
	mbr_db_close(db);

	assert_int_equal(mbr_key_generate(tmp("other.key"), &err), MBR_OK);
	setenv("MBR_KEY", tmp("other.key"), 1);
	db = open_db(path);
	assert_int_equal(mbr_member_get(db, m.uid, &g), MBR_EKEY);
	assert_non_null(strstr(mbr_db_errmsg(db), "other.key"));
	/* refused before any row is read: the key is not this database's */
	assert_non_null(strstr(mbr_db_errmsg(db), "does not belong"));
	assert_int_equal(mbr_member_get_id(db, m.id, &g), MBR_EKEY);
	mbr_db_close(db);

	/* a missing key file */
	setenv("MBR_KEY", tmp("absent.key"), 1);
	db = open_db(path);
	assert_int_equal(mbr_member_get(db, "13812345678", &g), MBR_EKEY);
	assert_non_null(strstr(mbr_db_errmsg(db), "absent.key"));
	mbr_db_close(db);

	/* the right key again */
	unsetenv("MBR_KEY");
	db = open_db(path);
	get_ok(db, "13812345678", &g);
	assert_string_equal(g.name, "张三");
	mbr_db_close(db);
	mbr_buf_release(&err);
}

/*
 * With the wrong key every keyed lookup misses, so a lookup by phone or
 * number must say the key is wrong (not "no member"), and an enrolment
 * must not go through: it would add the same person a second time, sealed
 * with a key nobody else has.
 */
static void test_wrong_key_lookup_and_add(void **state)
{
	const char *path = make_db("k.db");
	struct mbr_db *db = open_db(path);
	struct mbr_buf err = MBR_BUF_INIT, why = MBR_BUF_INIT;
	struct mbr_member m, g;
	int rc, n;

	(void)state;
	fill(db, &m, "member_no=C001", "phone=13812345678", "name=张三", NULL);
	add_ok(db, &m);
	mbr_db_close(db);

	assert_int_equal(mbr_key_generate(tmp("other.key"), &err), MBR_OK);
	setenv("MBR_KEY", tmp("other.key"), 1);
	db = open_db(path);
	rc = mbr_member_get(db, "13812345678", &g);
	if (rc != MBR_EKEY)
		mbr_buf_addf(&why, "get by phone with the wrong key: %d (%s); ", rc, mbr_db_errmsg(db));
	fill(db, &m, "member_no=C001", "phone=13812345678", "name=张三", NULL);
	rc = add(db, &m);
	if (rc != MBR_EKEY)
		mbr_buf_addf(&why, "add with the wrong key: %d (%s); ", rc, rc ? mbr_db_errmsg(db) : m.uid);
	mbr_db_close(db);

	unsetenv("MBR_KEY");
	db = open_db(path);
	n = 0;
	rc = mbr_member_each(db, count_cb, &n);
	if (rc != MBR_OK || n != 1)
		mbr_buf_addf(&why, "with the right key again: mbr_member_each %d (%s), %d members, want 1",
			     rc, rc ? mbr_db_errmsg(db) : "ok", n);
	mbr_db_close(db);
	mbr_buf_release(&err);
	if (why.len) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", why.buf);
		mbr_buf_release(&why);
		fail_msg("%s", msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_field_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_field_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_field_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_field_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upsert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_rehashes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brief_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_indexes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_forfeits_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_checkpoint_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_member_no_not_a_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_privacy_on_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_leaves_no_ciphertext, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key_lookup_and_add, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
