/*
 * test_check.c - unit tests for lib/check.c: mbr_db_check on sound and
 * damaged databases (cached balances that differ from their ledgers,
 * points lots that do not fit the balance or their ledger entry, personal
 * data that does not open with the key, a broken audit chain, dangling
 * references), the wording of the problems, and gzip backup and restore,
 * including restores from files that are not sound mbr backups, which
 * must fail with a clear message and leave the target untouched.
 *
 * Damage is done with the raw sqlite3 API on the closed file, as someone
 * editing the database outside mbr would.  Every test runs in a fresh
 * temporary directory with MBR_KEY unset, MBR_OPERATOR "tester" and
 * MBR_NOW pinned.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <zlib.h>

#include "internal.h"
#include "banned.h"

#define NOW "2026-11-22T10:00:00Z"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mbr-test-check.XXXXXX");
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
	int rc = mbr_db_open(path, MBR_OPEN_RW, "test-check", &db);

	if (rc != MBR_OK)
		fail_msg("open '%s': %d %s", path, rc, db ? mbr_db_errmsg(db) : "(no handle)");
	return db;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *s = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	if (sqlite3_exec(s, sql, NULL, NULL, &msg) != SQLITE_OK) {
		char text[256];

		snprintf(text, sizeof(text), "%s", msg ? msg : "?");
		sqlite3_free(msg);
		sqlite3_close(s);
		fail_msg("raw '%s': %s", sql, text);
	}
	sqlite3_close(s);
}

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

static void spill(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

static void gzip_bytes(const char *path, const void *p, size_t n)
{
	gzFile gz = gzopen(path, "wb");

	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, p, (unsigned)n), (int)n);
	assert_int_equal(gzclose(gz), Z_OK);
}

/* Decompress a gzip file into memory. */
static unsigned char *gunzip_file(const char *path, size_t *len)
{
	gzFile gz = gzopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	unsigned char *p = malloc(cap);
	int r;

	assert_non_null(gz);
	assert_non_null(p);
	while ((r = gzread(gz, p + n, (unsigned)(cap - n))) > 0) {
		n += (size_t)r;
		if (n == cap) {
			cap *= 2;
			p = realloc(p, cap);
			assert_non_null(p);
		}
	}
	assert_true(r == 0);
	gzclose(gz);
	*len = n;
	return p;
}

/* ----------------------------------------------------------- problems */

struct problems {
	int n;
	char line[16][256];
};

static void collect(const char *problem, void *ctx)
{
	struct problems *p = ctx;

	if (p->n < 16)
		snprintf(p->line[p->n], sizeof(p->line[0]), "%s", problem);
	p->n++;
}

static void check_clean(struct mbr_db *db)
{
	struct problems p;
	int rc;

	memset(&p, 0, sizeof(p));
	rc = mbr_db_check(db, collect, &p);
	if (rc != MBR_OK || p.n)
		fail_msg("check: %d (%s), %d problems, first '%s'", rc, mbr_db_errmsg(db), p.n, p.line[0]);
}

/* The index of a problem line containing both a and b, or -1. */
static int problem_with(const struct problems *p, const char *a, const char *b)
{
	int i;

	for (i = 0; i < p->n && i < 16; i++)
		if (strstr(p->line[i], a) && (!b || strstr(p->line[i], b)))
			return i;
	return -1;
}

static void add_members(struct mbr_db *db, int n, int with_points)
{
	struct mbr_member m;
	int i;

	assert_int_equal(mbr_begin(db), MBR_OK);
	for (i = 0; i < n; i++) {
		mbr_member_clear(&m);
		snprintf(m.member_no, sizeof(m.member_no), "C%03d", i + 1);
		snprintf(m.phone, sizeof(m.phone), "138000000%02d", i + 1);
		snprintf(m.name, sizeof(m.name), "Member %d 会员", i + 1);
		if (mbr_member_add(db, &m, 0) != MBR_OK)
			fail_msg("add: %s", mbr_db_errmsg(db));
		if (with_points && mbr_points_change(db, &m, "adjust", 10 * (i + 1), "opening balance") != MBR_OK)
			fail_msg("points: %s", mbr_db_errmsg(db));
	}
	assert_int_equal(mbr_commit(db), MBR_OK);
}

static void test_check_fresh(void **state)
{
	struct mbr_db *db = open_db(make_db("f.db"));

	(void)state;
	check_clean(db);
	add_members(db, 5, 0);
	check_clean(db);
	mbr_db_close(db);
}

static void test_check_with_points(void **state)
{
	const char *path = make_db("p.db");
	struct mbr_db *db = open_db(path);
	struct mbr_member m;

	(void)state;
	add_members(db, 5, 1);
	check_clean(db);
	assert_int_equal(mbr_member_get(db, "C003", &m), MBR_OK);
	assert_int_equal(m.points, 30);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_points_change(db, &m, "redeem", 12, "gift"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	check_clean(db);

	/* a backup that cannot be written fails cleanly and names the file */
	assert_int_equal(mbr_db_backup(db, tmp("no/such/dir/b.gz")), MBR_EIO);
	assert_non_null(strstr(mbr_db_errmsg(db), "no/such/dir/b.gz"));
	check_clean(db);
	mbr_db_close(db);
}

struct damage {
	const char *what;
	const char *sql;
	const char *line_a, *line_b;	/* a problem line must contain both; NULL a: the uid of member */
	int64_t member;			/* members.id the damage is about */
};

static void test_check_detects_damage(void **state)
{
	/* members: id 1 (C001, 10 points), id 2 (C002, 20 points), id 3 (X1, no points) */
	static const struct damage cases[] = {
		{ "points cache", "UPDATE points_balances SET points = 5 WHERE member = 2", NULL, "points", 2 },
		{ "points cache, no ledger", "INSERT INTO points_balances(member, points) VALUES (3, 5)", NULL, "ledger 0", 3 },
		{ "stored value cache", "UPDATE members SET sv_principal = 100 WHERE id = 1", NULL,
		  "stored value differs from ledger", 1 },
		{ "stored value in decimals", "UPDATE members SET sv_principal = 100 WHERE id = 1", NULL,
		  "cached principal 1.00 bonus 0.00, ledger principal 0.00 bonus 0.00", 1 },
		{ "stored value below zero", "UPDATE members SET sv_bonus = -250 WHERE id = 2", NULL,
		  "bonus -2.50", 2 },
		{ "audit detail",
		  "DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'forged' WHERE id = 2",
		  "audit", "entry 2", 0 },
		{ "audit entry removed",
		  "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 3", "audit", "entry 3", 0 },
		{ "dangling store",
		  "PRAGMA foreign_keys = OFF; UPDATE members SET store = 'GONE' WHERE id = 1",
		  NULL, "store refers to a missing row of stores", 1 },
	};
	struct problems p;
	char name[32], uid[40];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mbr_db *db;
		const char *path;

		snprintf(name, sizeof(name), "d%zu.db", i);
		path = make_db(name);
		db = open_db(path);
		add_members(db, 2, 1);
		{
			struct mbr_member m;

			assert_int_equal(mbr_begin(db), MBR_OK);
			mbr_member_clear(&m);
			snprintf(m.member_no, sizeof(m.member_no), "X1");
			assert_int_equal(mbr_member_add(db, &m, 0), MBR_OK);
			assert_int_equal(mbr_commit(db), MBR_OK);
			assert_int_equal(m.id, 3);
			if (cases[i].member) {
				assert_int_equal(mbr_member_get_id(db, cases[i].member, &m), MBR_OK);
				snprintf(uid, sizeof(uid), "%s", m.uid);
			}
		}
		check_clean(db);
		mbr_db_close(db);

		raw_exec(path, cases[i].sql);

		db = open_db(path);
		memset(&p, 0, sizeof(p));
		rc = mbr_db_check(db, collect, &p);
		if (rc != MBR_EINVAL)
			fail_msg("%s: check returned %d (%s)", cases[i].what, rc, mbr_db_errmsg(db));
		if (p.n == 0)
			fail_msg("%s: no problem reported", cases[i].what);
		if (problem_with(&p, cases[i].line_a ? cases[i].line_a : uid, cases[i].line_b) < 0)
			fail_msg("%s: no problem line with '%s' and '%s' (first: '%s')", cases[i].what,
				 cases[i].line_a ? cases[i].line_a : uid, cases[i].line_b, p.line[0]);
		assert_non_null(strstr(mbr_db_errmsg(db), "problem"));
		mbr_db_close(db);
	}
}

/* Only the damaged member is named. */
static void test_check_names_only_the_bad_member(void **state)
{
	const char *path = make_db("n.db");
	struct mbr_db *db = open_db(path);
	struct mbr_member m;
	struct problems p;
	char uid[40];
	int i;

	(void)state;
	add_members(db, 3, 0);
	assert_int_equal(mbr_member_get(db, "C002", &m), MBR_OK);
	snprintf(uid, sizeof(uid), "%s", m.uid);
	mbr_db_close(db);

	{
		char sql[256];

		snprintf(sql, sizeof(sql), "INSERT INTO points_balances(member, points)"
			 " SELECT id, 5 FROM members WHERE uid = '%s'", uid);
		raw_exec(path, sql);
	}
	db = open_db(path);
	memset(&p, 0, sizeof(p));
	assert_int_equal(mbr_db_check(db, collect, &p), MBR_EINVAL);
	assert_true(problem_with(&p, uid, "cached 5") >= 0);
	assert_true(problem_with(&p, uid, "ledger 0") >= 0);
	for (i = 0; i < p.n && i < 16; i++) {
		if (!strstr(p.line[i], uid))
			fail_msg("a problem not about %s: '%s'", uid, p.line[i]);
		assert_null(strchr(p.line[i], '\n'));	/* one line each */
	}
	mbr_db_close(db);
}

/* ------------------------------------------------ lots, personal data */

/*
 * A database whose members hold points in lots: C001 (id 1) earns 100
 * expiring a year on and 40 that never expire, then redeems 30 (out of
 * the lot: 70 left of it); C002 (id 2) earns 20 expiring, C003 (id 3)
 * none.  Returns the ledger id of C001's lot.
 */
static int64_t lots_db(const char *path)
{
	struct mbr_db *db = open_db(path);
	struct mbr_post p;
	int64_t lot = 0;

	add_members(db, 3, 0);
	assert_int_equal(mbr_begin(db), MBR_OK);
	memset(&p, 0, sizeof(p));
	p.member = 1;
	p.kind = "earn";
	p.source = "operator";
	p.points = 100;
	p.expires_at = mbr_now() + 365 * 86400;
	assert_int_equal(mbr_points_post(db, &p, &lot), MBR_OK);
	p.points = 40;
	p.expires_at = 0;
	assert_int_equal(mbr_points_post(db, &p, NULL), MBR_OK);
	p.kind = "redeem";
	p.points = -30;
	assert_int_equal(mbr_points_post(db, &p, NULL), MBR_OK);
	p.member = 2;
	p.kind = "earn";
	p.points = 20;
	p.expires_at = mbr_now() + 365 * 86400;
	assert_int_equal(mbr_points_post(db, &p, NULL), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	check_clean(db);
	mbr_db_close(db);
	return lot;
}

/* Each damage to the lots is found, in the user's terms: member uid,
 * ledger entry as history shows it, dates, points. */
static void test_check_points_lots(void **state)
{
	static const struct {
		const char *what, *sql;
		const char *line;	/* the whole problem line; %s: C001's lot entry "S01:n" */
	} cases[] = {
		{ "remaining below zero", "UPDATE points_lots SET remaining = -1 WHERE member = 1",
		  "points lot out of range: member S01-1, lot of entry %s (2026-11-22, lapses 2027-11-22),"
		  " remaining -1 of 100" },
		{ "remaining above the lot's points", "UPDATE points_lots SET points = 60 WHERE member = 1",
		  "points lot out of range: member S01-1, lot of entry %s (2026-11-22, lapses 2027-11-22),"
		  " remaining 70 of 60" },
		{ "more than the balance", "UPDATE points_lots SET points = 200, remaining = 120 WHERE member = 1",
		  "open points lots exceed the balance: S01-1, open lots 120, balance 110" },
		{ "a lot larger than its entry", "UPDATE points_lots SET points = 500 WHERE member = 1",
		  "points lot differs from its ledger entry: lot of entry %s (2026-11-22), member S01-1 (entry: S01-1),"
		  " points 500 (entry: 100)" },
		{ "a lot moved to another member", "UPDATE points_lots SET member = 3 WHERE member = 1",
		  "points lot differs from its ledger entry: lot of entry %s (2026-11-22), member S01-3 (entry: S01-1),"
		  " points 100 (entry: 100)" },
	};
	char name[32], want[256], entry[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct problems p;
		struct mbr_db *db;
		const char *path;
		int64_t lot;

		snprintf(name, sizeof(name), "l%zu.db", i);
		path = make_db(name);
		lot = lots_db(path);
		snprintf(entry, sizeof(entry), "S01:%lld", (long long)lot);
		raw_exec(path, cases[i].sql);
		db = open_db(path);
		memset(&p, 0, sizeof(p));
		if (mbr_db_check(db, collect, &p) != MBR_EINVAL)
			fail_msg("%s: check passed (%s)", cases[i].what, mbr_db_errmsg(db));
		snprintf(want, sizeof(want), cases[i].line, entry);
		if (problem_with(&p, want, NULL) < 0)
			fail_msg("%s: no line '%s' (%d problems, first '%s')", cases[i].what, want, p.n, p.line[0]);
		mbr_db_close(db);
	}
}

/* Personal data that does not open with the key is found and its member
 * named; erased members, who have none, pass. */
static void test_check_personal_data(void **state)
{
	static const struct {
		const char *what, *sql, *line;
	} cases[] = {
		{ "altered", "UPDATE member_pii SET pii = substr(pii, 1, 30) || x'00' || substr(pii, 32) WHERE member = 2",
		  "personal data of member S01-2 does not decrypt with this database's key (altered, or sealed under another key)" },
		{ "another member's", "UPDATE member_pii SET pii = (SELECT pii FROM member_pii WHERE member = 1) WHERE member = 3",
		  "personal data of member S01-3 does not decrypt" },
		{ "sealed under another key",
		  "ATTACH 'other.db' AS o; UPDATE member_pii SET pii = (SELECT pii FROM o.member_pii WHERE member = 1)"
		  " WHERE member = 1",
		  "personal data of member S01-1 does not decrypt" },
		{ "kept for an erased member", "UPDATE members SET status = 'erased' WHERE id = 2",
		  "personal data of member S01-2 is still there, though the member was erased" },
	};
	const char *other = make_db("other.db");
	struct mbr_db *db = open_db(other);
	char name[32], sql[512];
	size_t i;

	(void)state;
	add_members(db, 3, 0);		/* the same uids, another key */
	mbr_db_close(db);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct problems p;
		const char *path;
		int k;

		snprintf(name, sizeof(name), "k%zu.db", i);
		path = make_db(name);
		db = open_db(path);
		add_members(db, 3, 1);
		/* an erased member is sound */
		assert_int_equal(mbr_begin(db), MBR_OK);
		{
			struct mbr_member m;

			mbr_member_clear(&m);
			snprintf(m.member_no, sizeof(m.member_no), "GONE");
			assert_int_equal(mbr_member_add(db, &m, 0), MBR_OK);
			assert_int_equal(mbr_member_erase(db, m.id), MBR_OK);
		}
		assert_int_equal(mbr_commit(db), MBR_OK);
		check_clean(db);
		mbr_db_close(db);

		/* other.db is in the test's directory, not the working one */
		if (strstr(cases[i].sql, "'other.db'"))
			snprintf(sql, sizeof(sql), "ATTACH '%s' AS o; UPDATE member_pii SET pii ="
				 " (SELECT pii FROM o.member_pii WHERE member = 1) WHERE member = 1", other);
		else
			snprintf(sql, sizeof(sql), "%s", cases[i].sql);
		raw_exec(path, sql);
		db = open_db(path);
		memset(&p, 0, sizeof(p));
		if (mbr_db_check(db, collect, &p) != MBR_EINVAL)
			fail_msg("%s: check passed (%s)", cases[i].what, mbr_db_errmsg(db));
		if (problem_with(&p, cases[i].line, NULL) < 0)
			fail_msg("%s: no line '%s' (%d problems, first '%s')", cases[i].what, cases[i].line, p.n, p.line[0]);
		/* only that member is named */
		for (k = 0; k < p.n && k < 16; k++)
			assert_non_null(strstr(p.line[k], "personal data of member "));
		assert_int_equal(p.n, 1);
		mbr_db_close(db);
	}
}

/* --------------------------------------------------- backup, restore */

struct snapshot {
	int n;
	char line[16][512];
};

static int snap_cb(const struct mbr_member *m, void *ctx)
{
	struct snapshot *s = ctx;

	if (s->n < 16)
		snprintf(s->line[s->n], sizeof(s->line[0]), "%s|%s|%s|%s|%s|%lld", m->uid, m->member_no,
			 m->name, m->phone, m->status, (long long)m->points);
	s->n++;
	return 0;
}

static struct snapshot snapshot(struct mbr_db *db)
{
	struct snapshot s;

	memset(&s, 0, sizeof(s));
	if (mbr_member_each(db, snap_cb, &s) != MBR_OK)
		fail_msg("members: %s", mbr_db_errmsg(db));
	return s;
}

static void same_members(const struct snapshot *a, const struct snapshot *b)
{
	int i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n && i < 16; i++)
		assert_string_equal(a->line[i], b->line[i]);
}

static int mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (int)(st.st_mode & 07777);
}

/* Leftover temporary files of backup or restore in the test directory. */
static int leftovers(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".tmp") || strstr(e->d_name, ".part"))
			n++;
	closedir(d);
	return n;
}

static void test_backup_restore_new_path(void **state)
{
	const char *path = make_db("live.db");
	struct mbr_db *db = open_db(path);
	struct mbr_buf err = MBR_BUF_INIT;
	struct snapshot before, after;
	struct mbr_member m;
	unsigned char *p;
	size_t len;
	char key[160];

	(void)state;
	add_members(db, 6, 1);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_get(db, "C002", &m), MBR_OK);
	assert_int_equal(mbr_member_erase(db, m.id), MBR_OK);
	assert_int_equal(mbr_member_set_status(db, 3, "frozen"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	before = snapshot(db);

	assert_int_equal(mbr_db_backup(db, tmp("live.db.gz")), MBR_OK);
	mbr_db_close(db);
	assert_int_equal(mode_of(tmp("live.db.gz")), 0600);
	p = slurp(tmp("live.db.gz"), &len);
	assert_non_null(p);
	assert_true(len > 20);
	assert_int_equal(p[0], 0x1f);
	assert_int_equal(p[1], 0x8b);
	free(p);
	assert_int_equal(leftovers(), 0);

	/* the key does not travel with the backup: without it, no restore */
	assert_int_equal(mbr_db_restore(tmp("copy.db"), tmp("live.db.gz"), &err), MBR_EKEY);
	assert_non_null(strstr(err.buf, "copy.db.key"));
	assert_int_equal(access(tmp("copy.db"), F_OK), -1);
	mbr_buf_reset(&err);
	/* the operator brings it */
	snprintf(key, sizeof(key), "%s.key", path);
	setenv("MBR_KEY", key, 1);
	if (mbr_db_restore(tmp("copy.db"), tmp("live.db.gz"), &err) != MBR_OK)
		fail_msg("restore: %s", err.buf);
	assert_int_equal(mode_of(tmp("copy.db")), 0600);
	assert_int_equal(leftovers(), 0);
	db = open_db(tmp("copy.db"));
	check_clean(db);
	after = snapshot(db);
	same_members(&before, &after);
	assert_int_equal(mbr_member_get(db, "138-0000-0005", &m), MBR_OK);
	assert_string_equal(m.member_no, "C005");
	assert_int_equal(m.points, 50);
	assert_int_equal(mbr_member_get(db, "C002", &m), MBR_ENOTFOUND);	/* still erased */

	/* the restored copy carries on: uids continue, it stays sound */
	assert_int_equal(mbr_begin(db), MBR_OK);
	mbr_member_clear(&m);
	snprintf(m.member_no, sizeof(m.member_no), "C100");
	assert_int_equal(mbr_member_add(db, &m, 0), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	/* a new uid, beyond every one the backup held */
	{
		long newn = strtol(strrchr(m.uid, '-') + 1, NULL, 10);
		int k;

		assert_true(newn > 0);
		for (k = 0; k < before.n; k++)
			assert_true(strtol(strchr(before.line[k], '-') + 1, NULL, 10) < newn);
	}
	check_clean(db);
	mbr_db_close(db);
	unsetenv("MBR_KEY");
	mbr_buf_release(&err);
}

static void test_restore_over_existing(void **state)
{
	const char *path = make_db("live.db");
	struct mbr_db *db = open_db(path);
	struct mbr_buf err = MBR_BUF_INIT;
	struct snapshot before, after;

	(void)state;
	add_members(db, 3, 1);
	before = snapshot(db);
	assert_int_equal(mbr_db_backup(db, tmp("b.gz")), MBR_OK);
	{
		struct mbr_member m;

		assert_int_equal(mbr_begin(db), MBR_OK);
		mbr_member_clear(&m);
		snprintf(m.member_no, sizeof(m.member_no), "LATE");
		assert_int_equal(mbr_member_add(db, &m, 0), MBR_OK);
		assert_int_equal(mbr_commit(db), MBR_OK);
	}
	mbr_db_close(db);

	if (mbr_db_restore(path, tmp("b.gz"), &err) != MBR_OK)
		fail_msg("restore: %s", err.buf);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(leftovers(), 0);
	db = open_db(path);
	after = snapshot(db);
	same_members(&before, &after);
	{
		struct mbr_member m;

		assert_int_equal(mbr_member_get(db, "LATE", &m), MBR_ENOTFOUND);
	}
	check_clean(db);
	mbr_db_close(db);
	mbr_buf_release(&err);
}

/* Build the bad backup named by kind from a good one (good.gz). */
static void make_bad(const char *kind, const char *out)
{
	unsigned char *p;
	size_t len, i;

	if (!strcmp(kind, "missing"))
		return;
	if (!strcmp(kind, "empty")) {
		spill(out, "", 0);
	} else if (!strcmp(kind, "text")) {
		spill(out, "uid,name\nS01-1,x\n", 17);
	} else if (!strcmp(kind, "gzip text")) {
		gzip_bytes(out, "uid,name\nS01-1,x\n", 17);
	} else if (!strcmp(kind, "gzip foreign sqlite")) {
		raw_exec(tmp("foreign.db"), "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
		p = slurp(tmp("foreign.db"), &len);
		gzip_bytes(out, p, len);
		free(p);
	} else if (!strcmp(kind, "truncated gzip")) {
		p = slurp(tmp("good.gz"), &len);
		spill(out, p, len / 2);
		free(p);
	} else if (!strcmp(kind, "flipped gzip")) {
		p = slurp(tmp("good.gz"), &len);
		for (i = len / 3; i < len / 3 + 64 && i < len; i++)
			p[i] ^= 0x55;
		spill(out, p, len);
		free(p);
	} else if (!strcmp(kind, "corrupt pages")) {
		/* a well-formed gzip of a database whose b-tree pages are garbage */
		p = gunzip_file(tmp("good.gz"), &len);
		assert_true(len > 8 * 4096);
		memset(p + 2 * 4096, 0xff, 4 * 4096);
		gzip_bytes(out, p, len);
		free(p);
	} else if (!strcmp(kind, "truncated database")) {
		/* a well-formed gzip of the first pages only */
		p = gunzip_file(tmp("good.gz"), &len);
		gzip_bytes(out, p, len / 2);
		free(p);
	} else {
		fail_msg("unknown kind '%s'", kind);
	}
}

static void test_restore_refuses_bad_backups(void **state)
{
	static const char *const kinds[] = {
		"missing", "empty", "text", "gzip text", "gzip foreign sqlite", "truncated gzip", "flipped gzip",
		"corrupt pages", "truncated database",
	};
	const char *path = make_db("live.db");
	struct mbr_db *db = open_db(path);
	struct mbr_buf err = MBR_BUF_INIT;
	unsigned char *orig, *now;
	size_t olen, nlen, i;
	char gz[32];
	int rc;

	(void)state;
	add_members(db, 40, 1);		/* enough to span several pages */
	assert_int_equal(mbr_db_backup(db, tmp("good.gz")), MBR_OK);
	mbr_db_close(db);
	orig = slurp(path, &olen);
	assert_non_null(orig);

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(gz, sizeof(gz), "bad%zu.gz", i);
		make_bad(kinds[i], tmp(gz));

		/* over a live database */
		rc = mbr_db_restore(path, tmp(gz), &err);
		if (rc >= 0)
			fail_msg("%s: restore accepted it", kinds[i]);
		if (!strstr(err.buf, gz))
			fail_msg("%s: message '%s' does not name %s", kinds[i], err.buf, gz);
		now = slurp(path, &nlen);
		if (!now || nlen != olen || memcmp(orig, now, olen))
			fail_msg("%s: the target was changed (%zu -> %zu bytes; %s)", kinds[i], olen, nlen, err.buf);
		free(now);
		if (access(tmp("live.db-wal"), F_OK) == 0)
			fail_msg("%s: the target got a WAL", kinds[i]);
		if (leftovers())
			fail_msg("%s: temporary files left behind", kinds[i]);

		/* to a new path: nothing is created */
		rc = mbr_db_restore(tmp("new.db"), tmp(gz), &err);
		if (rc >= 0)
			fail_msg("%s: restore to a new path accepted it", kinds[i]);
		if (access(tmp("new.db"), F_OK) == 0)
			fail_msg("%s: restore created the new database", kinds[i]);
		if (leftovers())
			fail_msg("%s: temporary files left behind (new path)", kinds[i]);
	}
	free(orig);

	/* the live database is still sound */
	db = open_db(path);
	check_clean(db);
	mbr_db_close(db);

	/* a target directory that does not exist */
	rc = mbr_db_restore(tmp("no/such/dir.db"), tmp("good.gz"), &err);
	assert_true(rc < 0);
	assert_true(err.len > 0);
	mbr_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_check_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_with_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_detects_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_names_only_the_bad_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_points_lots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_personal_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_restore_new_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_over_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_refuses_bad_backups, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
