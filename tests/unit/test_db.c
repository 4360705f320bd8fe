/*
 * test_db.c - unit tests for lib/db.c and lib/schema.c: creating and
 * opening databases (modes, refusals, foreign files), settings, roles,
 * transactions, chain-unique keys, stores and schema versions; and of
 * backup and restore (lib/check.c) through standard output and input,
 * and their temporary files on a signal.
 *
 * Every test runs in a fresh temporary directory with MBR_KEY unset,
 * MBR_OPERATOR "tester" and MBR_NOW pinned.  The raw sqlite3 API is used
 * only to build hostile files (foreign databases, lowered user_version),
 * as someone outside mbr would.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "internal.h"
#include "banned.h"

#define NOW "2026-11-22T10:00:00Z"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mbr-test-db.XXXXXX");
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
	chmod(dir, 0700);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A path inside the test directory (a few stay valid at once). */
static const char *tmp(const char *name)
{
	static char path[8][160];
	static int n;

	n = (n + 1) % 8;
	snprintf(path[n], sizeof(path[n]), "%s/%s", dir, name);
	return path[n];
}

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* Whole file into a malloc'd, NUL-terminated buffer. */
static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *p;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
	p[n] = '\0';
	fclose(fp);
	if (len)
		*len = (size_t)n;
	return p;
}

static void init_opts_default(struct mbr_init_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->exponent = -1;
}

/* Create a database with default options; returns its path. */
static const char *make_db(const char *name)
{
	static char keep[4][160];
	static int k;
	struct mbr_init_opts o;
	struct mbr_buf err = MBR_BUF_INIT;
	const char *path = tmp(name);
	int rc;

	init_opts_default(&o);
	rc = mbr_db_init(path, &o, &err);
	if (rc != MBR_OK)
		fail_msg("init '%s': %d %s", path, rc, err.buf);
	mbr_buf_release(&err);
	/* keep it: tmp()'s few buffers are soon reused */
	k = (k + 1) % 4;
	snprintf(keep[k], sizeof(keep[k]), "%s", path);
	return keep[k];
}

static struct mbr_db *open_db(const char *path, unsigned flags)
{
	struct mbr_db *db = NULL;
	int rc = mbr_db_open(path, flags, "test", &db);

	if (rc != MBR_OK)
		fail_msg("open '%s': %d %s", path, rc, db ? mbr_db_errmsg(db) : "(no handle)");
	return db;
}

/* Run SQL on a file with the plain sqlite3 API (as an outsider would). */
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

/* open must fail with code and a message containing want. */
static void open_fails(const char *path, unsigned flags, int code, const char *want)
{
	struct mbr_db *db = NULL;
	int rc = mbr_db_open(path, flags, "test", &db);

	char msg[512];

	assert_non_null(db);	/* set even on failure, for the message */
	snprintf(msg, sizeof(msg), "%s", mbr_db_errmsg(db));
	mbr_db_close(db);
	if (rc != code)
		fail_msg("open '%s': got %d (%s), want %d", path, rc, msg, code);
	if (!strstr(msg, want))
		fail_msg("open '%s': message '%s' lacks '%s'", path, msg, want);
}

static void setting_is(struct mbr_db *db, const char *key, const char *want)
{
	char v[64];
	int rc = mbr_setting_get(db, key, v, sizeof(v));

	if (rc != MBR_OK)
		fail_msg("setting '%s': %d %s", key, rc, mbr_db_errmsg(db));
	assert_string_equal(v, want);
}

static int mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (int)(st.st_mode & 07777);
}

/* ------------------------------------------------------------- init */

static void test_init_private_files(void **state)
{
	static const mode_t umasks[] = { 0, 022, 0277 };
	struct mbr_db *db;
	char name[32], key[40];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(umasks) / sizeof(umasks[0]); i++) {
		mode_t old = umask(umasks[i]);
		const char *path;

		snprintf(name, sizeof(name), "m%zu.db", i);
		path = make_db(name);
		umask(old);
		snprintf(key, sizeof(key), "%s.key", name);
		if (mode_of(path) != 0600)
			fail_msg("umask %03o: database mode %03o", (unsigned)umasks[i], mode_of(path));
		assert_true(exists(tmp(key)));
		if (mode_of(tmp(key)) != 0600)
			fail_msg("umask %03o: key mode %03o", (unsigned)umasks[i], mode_of(tmp(key)));
		/* no WAL/SHM companions left behind after init */
		snprintf(key, sizeof(key), "%s-wal", name);
		if (exists(tmp(key)))
			assert_int_equal(mode_of(tmp(key)) & 077, 0);
	}

	db = open_db(tmp("m0.db"), MBR_OPEN_RW);
	setting_is(db, "store_code", "S01");
	setting_is(db, "store_role", "store");
	setting_is(db, "currency", "CNY");
	setting_is(db, "currency_exp", "2");
	setting_is(db, "time_zone", "Asia/Shanghai");
	assert_int_equal(mbr_db_exponent(db), 2);
	assert_string_equal(mbr_db_store(db), "S01");
	mbr_db_close(db);
}

static void test_init_options(void **state)
{
	struct mbr_init_opts o;
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_db *db;

	(void)state;
	init_opts_default(&o);
	o.store = "HQ_1";
	o.role = "hq";
	o.currency = "JPY";
	o.exponent = 0;
	o.time_zone = "Europe/London";
	assert_int_equal(mbr_db_init(tmp("hq.db"), &o, &err), MBR_OK);
	db = open_db(tmp("hq.db"), 0);
	setting_is(db, "store_code", "HQ_1");
	setting_is(db, "store_role", "hq");
	setting_is(db, "currency", "JPY");
	setting_is(db, "currency_exp", "0");
	setting_is(db, "time_zone", "Europe/London");
	assert_int_equal(mbr_db_exponent(db), 0);
	assert_string_equal(mbr_db_store(db), "HQ_1");
	assert_int_equal(mbr_store_exists(db, "HQ_1"), 1);
	mbr_db_close(db);

	/* NULL options mean every default */
	assert_int_equal(mbr_db_init(tmp("null.db"), NULL, &err), MBR_OK);
	db = open_db(tmp("null.db"), 0);
	setting_is(db, "store_code", "S01");
	assert_int_equal(mbr_db_exponent(db), 2);
	mbr_db_close(db);
	mbr_buf_release(&err);
}

/* mbr_init_opts.key_path: "NULL: $MBR_KEY, else DB.key" (mbr.h). */
static void test_init_key_path_option(void **state)
{
	struct mbr_init_opts o;
	struct mbr_buf err = MBR_BUF_INIT;

	(void)state;
	init_opts_default(&o);
	o.key_path = tmp("custom.key");
	assert_int_equal(mbr_db_init(tmp("k.db"), &o, &err), MBR_OK);
	assert_true(exists(tmp("custom.key")));
	assert_false(exists(tmp("k.db.key")));
	mbr_buf_release(&err);
}

static void test_init_key_from_env(void **state)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_db *db;
	int64_t n;

	(void)state;
	setenv("MBR_KEY", tmp("env.key"), 1);
	make_db("e.db");
	assert_true(exists(tmp("env.key")));
	assert_false(exists(tmp("e.db.key")));
	assert_int_equal(mode_of(tmp("env.key")), 0600);
	db = open_db(tmp("e.db"), 0);
	assert_int_equal(mbr_audit_verify(db, &n), MBR_OK);
	mbr_db_close(db);
	mbr_buf_release(&err);
}

/* An existing key file is used, never replaced. */
static void test_init_keeps_existing_key(void **state)
{
	struct mbr_buf err = MBR_BUF_INIT;
	char *before, *after;

	(void)state;
	assert_int_equal(mbr_key_generate(tmp("shared.db.key"), &err), MBR_OK);
	before = read_file(tmp("shared.db.key"), NULL);
	make_db("shared.db");
	after = read_file(tmp("shared.db.key"), NULL);
	assert_string_equal(before, after);
	free(before);
	free(after);
	mbr_buf_release(&err);
}

static void test_init_refuses_existing(void **state)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_db *db;
	char *text;

	(void)state;
	write_file(tmp("precious.db"), "precious\n");
	assert_int_equal(mbr_db_init(tmp("precious.db"), NULL, &err), MBR_EEXIST);
	assert_non_null(strstr(err.buf, "already exists"));
	assert_non_null(strstr(err.buf, "precious.db"));
	text = read_file(tmp("precious.db"), NULL);
	assert_string_equal(text, "precious\n");
	free(text);
	assert_false(exists(tmp("precious.db.key")));

	/* a second init of a live database leaves it working */
	make_db("live.db");
	assert_int_equal(mbr_db_init(tmp("live.db"), NULL, &err), MBR_EEXIST);
	db = open_db(tmp("live.db"), MBR_OPEN_RW);
	setting_is(db, "store_code", "S01");
	mbr_db_close(db);
	mbr_buf_release(&err);
}

struct bad_init {
	const char *store, *role, *tz;
	int exponent;
	const char *quoted;	/* what the message must mention */
};

static void test_init_bad_options(void **state)
{
	static const struct bad_init cases[] = {
		{ "", NULL, NULL, -1, "''" },
		{ "S 01", NULL, NULL, -1, "'S 01'" },
		{ "S01-A", NULL, NULL, -1, "'S01-A'" },
		{ "门店", NULL, NULL, -1, "'门店'" },
		{ "ABCDEFGHIJKLMNOPQ", NULL, NULL, -1, "'ABCDEFGHIJKLMNOPQ'" },	/* 17 */
		{ NULL, "branch", NULL, -1, "'branch'" },
		{ NULL, "", NULL, -1, "''" },
		{ NULL, "HQ", NULL, -1, "'HQ'" },
		{ NULL, NULL, NULL, 7, "7" },
		{ NULL, NULL, NULL, 100, "100" },
		{ NULL, NULL, "Mars/Olympus", -1, "'Mars/Olympus'" },
		{ NULL, NULL, "../etc/passwd", -1, "'../etc/passwd'" },
	};
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_init_opts o;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		init_opts_default(&o);
		o.store = cases[i].store;
		o.role = cases[i].role;
		o.time_zone = cases[i].tz;
		o.exponent = cases[i].exponent;
		rc = mbr_db_init(tmp("bad.db"), &o, &err);
		if (rc != MBR_EINVAL)
			fail_msg("case %zu: got %d (%s)", i, rc, err.buf);
		if (!strstr(err.buf, cases[i].quoted))
			fail_msg("case %zu: message '%s' lacks %s", i, err.buf, cases[i].quoted);
		if (exists(tmp("bad.db")) || exists(tmp("bad.db.key")) || exists(tmp("bad.db-wal")))
			fail_msg("case %zu: files left behind", i);
	}
	/* the store code check itself */
	assert_true(mbr_store_code_valid("S01"));
	assert_true(mbr_store_code_valid("a_B_9"));
	assert_true(mbr_store_code_valid("ABCDEFGHIJKLMNOP"));	/* 16 */
	assert_false(mbr_store_code_valid("ABCDEFGHIJKLMNOPQ"));
	assert_false(mbr_store_code_valid(""));
	assert_false(mbr_store_code_valid("S-1"));
	assert_false(mbr_store_code_valid("S.1"));
	mbr_buf_release(&err);
}

/* ------------------------------------------------------------- open */

/* A batch by number or by chain-unique uid; a uid naming none is an error
 * that says what to give, a number is taken as it is. */
static void test_batch_find(void **state)
{
	struct mbr_db *db = open_db(make_db("batches.db"), MBR_OPEN_RW);
	int64_t batch = 0, found = -1;
	char uid[40];

	(void)state;
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_batch_start(db, "sales", "day.csv", &batch), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	{
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(db->sql, "SELECT uid FROM batches WHERE id = ?", -1, &st, NULL),
				 SQLITE_OK);
		sqlite3_bind_int64(st, 1, batch);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		snprintf(uid, sizeof(uid), "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	assert_int_equal(mbr_batch_find(db, uid, &found), MBR_OK);
	assert_int_equal(found, batch);
	found = -1;
	assert_int_equal(mbr_batch_find(db, "7", &found), MBR_OK);
	assert_int_equal(found, 7);
	assert_int_equal(mbr_batch_find(db, "S01-999", &found), MBR_ENOTFOUND);
	assert_string_equal(mbr_db_errmsg(db), "no batch 'S01-999' (give its number or its uid)");
	assert_int_equal(mbr_batch_find(db, "0", &found), MBR_ENOTFOUND);
	assert_int_equal(mbr_batch_find(db, "", &found), MBR_ENOTFOUND);
	mbr_db_close(db);
}

static void test_open_never_creates(void **state)
{
	(void)state;
	open_fails(tmp("typo.db"), 0, MBR_EIO, "does not exist");
	open_fails(tmp("typo.db"), MBR_OPEN_RW, MBR_EIO, "does not exist");
	open_fails(tmp("typo.db"), MBR_OPEN_RW | MBR_OPEN_MIGRATE, MBR_EIO, "'");
	assert_false(exists(tmp("typo.db")));
	assert_false(exists(tmp("typo.db-wal")));
	assert_false(exists(tmp("typo.db.key")));
	open_fails(tmp("no/such/dir.db"), MBR_OPEN_RW, MBR_EIO, "no/such/dir.db");
	assert_false(exists(tmp("no")));
	/* a directory is not a database */
	assert_int_equal(mkdir(tmp("adir"), 0700), 0);
	open_fails(tmp("adir"), MBR_OPEN_RW, MBR_EIO, "not a regular file");
}

static void test_open_foreign_files(void **state)
{
	char *text;

	(void)state;
	/* a SQLite database of some other program */
	raw_exec(tmp("other.db"), "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
	open_fails(tmp("other.db"), MBR_OPEN_RW, MBR_EDB, "not an mbr database");
	open_fails(tmp("other.db"), 0, MBR_EDB, "not an mbr database");

	/* an empty file (e.g. from touch) */
	write_file(tmp("empty.db"), "");
	open_fails(tmp("empty.db"), MBR_OPEN_RW, MBR_EDB, "not an mbr database");

	/* not SQLite at all: MBR_EDB, the message names the file (location
	 * first, as every message), and opening does not change it */
	write_file(tmp("notes.txt"), "member list\nzhang,138\n");
	open_fails(tmp("notes.txt"), MBR_OPEN_RW, MBR_EDB, "notes.txt");
	open_fails(tmp("notes.txt"), 0, MBR_EDB, "notes.txt");
	text = read_file(tmp("notes.txt"), NULL);
	assert_string_equal(text, "member list\nzhang,138\n");
	free(text);
}

static void test_open_readonly_file(void **state)
{
	const char *path;
	struct mbr_db *db;

	(void)state;
	if (geteuid() == 0)
		skip();		/* root ignores file permissions */
	path = make_db("ro.db");
	assert_int_equal(chmod(path, 0400), 0);
	open_fails(path, MBR_OPEN_RW, MBR_EPERM, "ro.db");
	db = open_db(path, 0);
	setting_is(db, "store_code", "S01");
	mbr_db_close(db);
}

/* Store codes are remembered as found (64 of them): more stores than
 * that, codes alike but for a byte, and codes not there all answer right. */
static void test_store_exists_many(void **state)
{
	const char *path = make_db("stores.db");
	struct mbr_db *db;
	char code[16];
	int i, pass;

	(void)state;
	db = open_db(path, MBR_OPEN_RW);
	for (i = 2; i <= 80; i++) {
		snprintf(code, sizeof(code), "S%02d", i);
		assert_int_equal(mbr_store_add(db, code, "a store"), MBR_OK);
	}
	for (pass = 0; pass < 2; pass++) {	/* the second pass answers from memory */
		for (i = 1; i <= 80; i++) {
			snprintf(code, sizeof(code), "S%02d", i);
			assert_int_equal(mbr_store_exists(db, code), 1);
		}
		assert_int_equal(mbr_store_exists(db, "S81"), 0);
		assert_int_equal(mbr_store_exists(db, "S0"), 0);
		assert_int_equal(mbr_store_exists(db, "S010"), 0);
		assert_int_equal(mbr_store_exists(db, "s01"), 0);
		assert_int_equal(mbr_store_exists(db, ""), 0);
	}
	mbr_db_close(db);
}

/* A handle opened without MBR_OPEN_RW refuses writes. */
static void test_open_readonly_handle(void **state)
{
	const char *path = make_db("r.db");
	struct mbr_db *db;
	int rc;

	(void)state;
	db = open_db(path, 0);
	rc = mbr_store_add(db, "S02", "Second");
	assert_true(rc < 0);
	assert_int_equal(rc, MBR_EPERM);
	rc = mbr_setting_set(db, "currency", "USD");
	assert_true(rc < 0);
	mbr_db_close(db);
	db = open_db(path, 0);
	assert_int_equal(mbr_store_exists(db, "S02"), 0);
	setting_is(db, "currency", "CNY");
	mbr_db_close(db);
}

/* ------------------------------------------------------------ settings */

struct setting_case {
	const char *key, *value;
	int rc;
	const char *after;	/* value read back afterwards */
};

static void test_settings(void **state)
{
	static const struct setting_case cases[] = {
		{ "time_zone", "America/New_York", MBR_OK, "America/New_York" },
		{ "time_zone", "Mars/Olympus", MBR_EINVAL, "America/New_York" },
		{ "time_zone", "", MBR_EINVAL, "America/New_York" },
		{ "time_zone", "Asia/Shanghai", MBR_OK, "Asia/Shanghai" },
		{ "currency", "USD", MBR_OK, "USD" },
		{ "currency", "US", MBR_EINVAL, "USD" },
		{ "currency", "DOLLAR", MBR_EINVAL, "USD" },
		{ "store_role", "hq", MBR_OK, "hq" },
		{ "store_role", "branch", MBR_EINVAL, "hq" },
		{ "store_code", "S99", MBR_EINVAL, "S01" },
		{ "currency_exp", "0", MBR_EINVAL, "2" },
	};
	const char *path = make_db("s.db");
	struct mbr_db *db = open_db(path, MBR_OPEN_RW);
	char v[64], out[MBR_TIME_BUFSZ];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(mbr_begin(db), MBR_OK);
		rc = mbr_setting_set(db, cases[i].key, cases[i].value);
		if (rc != cases[i].rc)
			fail_msg("set %s=%s: got %d (%s)", cases[i].key, cases[i].value, rc, mbr_db_errmsg(db));
		if (rc < 0 && !strstr(mbr_db_errmsg(db), cases[i].key) && !strstr(mbr_db_errmsg(db), cases[i].value))
			fail_msg("set %s=%s: message '%s' names neither", cases[i].key, cases[i].value,
				 mbr_db_errmsg(db));
		assert_int_equal(mbr_commit(db), MBR_OK);
		setting_is(db, cases[i].key, cases[i].after);
	}
	assert_int_equal(mbr_setting_set(db, "colour", "blue"), MBR_EINVAL);
	assert_non_null(strstr(mbr_db_errmsg(db), "'colour'"));
	assert_int_equal(mbr_setting_get(db, "colour", v, sizeof(v)), MBR_ENOTFOUND);
	assert_non_null(strstr(mbr_db_errmsg(db), "'colour'"));

	/* a refused zone leaves the process zone alone: 20:00Z is the next day in Shanghai */
	assert_int_equal(mbr_setting_set(db, "time_zone", "Nowhere/City"), MBR_EINVAL);
	assert_string_equal(mbr_date_format(1795377600 /* 2026-11-22T20:00:00Z */, out), "2026-11-23");
	mbr_db_close(db);

	/* settings persist, and open applies the zone */
	db = open_db(path, MBR_OPEN_RW);
	assert_int_equal(mbr_setting_set(db, "time_zone", "America/New_York"), MBR_OK);
	mbr_db_close(db);
	mbr_time_set_zone("UTC");
	db = open_db(path, 0);
	setting_is(db, "currency", "USD");
	setting_is(db, "time_zone", "America/New_York");
	assert_string_equal(mbr_date_format(1795377600, out), "2026-11-22");
	mbr_db_close(db);
}

/* --------------------------------------------------------------- roles */

struct role_ctx {
	char names[8][64];
	enum mbr_role roles[8];
	int n;
};

static int collect_operator(const char *name, enum mbr_role r, void *p)
{
	struct role_ctx *c = p;

	if (c->n < 8) {
		snprintf(c->names[c->n], sizeof(c->names[c->n]), "%s", name);
		c->roles[c->n] = r;
		c->n++;
	}
	return 0;
}

static void test_roles(void **state)
{
	struct mbr_db *db = open_db(make_db("r.db"), MBR_OPEN_RW);
	struct role_ctx c;

	(void)state;
	/* init made the operator running it an admin */
	assert_string_equal(mbr_operator(db), "tester");
	assert_int_equal(mbr_operator_role(db), MBR_ROLE_ADMIN);
	assert_int_equal(mbr_require(db, MBR_ROLE_ADMIN, "grant"), MBR_OK);

	/* an operator nobody granted anything */
	assert_int_equal(mbr_set_operator(db, "ghost"), MBR_OK);
	assert_string_equal(mbr_operator(db), "ghost");
	assert_int_equal(mbr_operator_role(db), MBR_ROLE_NONE);
	assert_int_equal(mbr_require(db, MBR_ROLE_CASHIER, "member add"), MBR_EPERM);
	assert_non_null(strstr(mbr_db_errmsg(db), "'ghost'"));
	assert_non_null(strstr(mbr_db_errmsg(db), "member add"));
	assert_non_null(strstr(mbr_db_errmsg(db), "cashier"));

	/* grant (by the admin), then act as ghost */
	assert_int_equal(mbr_set_operator(db, "tester"), MBR_OK);
	assert_int_equal(mbr_grant(db, "ghost", MBR_ROLE_MANAGER), MBR_OK);
	assert_int_equal(mbr_set_operator(db, "ghost"), MBR_OK);
	assert_int_equal(mbr_operator_role(db), MBR_ROLE_MANAGER);
	assert_int_equal(mbr_require(db, MBR_ROLE_CASHIER, "sale"), MBR_OK);
	assert_int_equal(mbr_require(db, MBR_ROLE_MANAGER, "points adjust"), MBR_OK);
	assert_int_equal(mbr_require(db, MBR_ROLE_ADMIN, "grant"), MBR_EPERM);
	assert_non_null(strstr(mbr_db_errmsg(db), "'ghost'"));
	assert_non_null(strstr(mbr_db_errmsg(db), "manager"));
	assert_non_null(strstr(mbr_db_errmsg(db), "admin"));

	/* a grant to the current operator takes effect at once */
	assert_int_equal(mbr_grant(db, "ghost", MBR_ROLE_CASHIER), MBR_OK);
	assert_int_equal(mbr_operator_role(db), MBR_ROLE_CASHIER);
	assert_int_equal(mbr_require(db, MBR_ROLE_MANAGER, "points adjust"), MBR_EPERM);

	/* revoke */
	assert_int_equal(mbr_grant(db, "ghost", MBR_ROLE_NONE), MBR_OK);
	assert_int_equal(mbr_operator_role(db), MBR_ROLE_NONE);
	assert_int_equal(mbr_require(db, MBR_ROLE_CASHIER, "sale"), MBR_EPERM);

	memset(&c, 0, sizeof(c));
	assert_int_equal(mbr_operators_each(db, collect_operator, &c), MBR_OK);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.names[0], "tester");
	assert_int_equal(c.roles[0], MBR_ROLE_ADMIN);

	/* bad operator names */
	assert_int_equal(mbr_set_operator(db, ""), MBR_EINVAL);
	assert_int_equal(mbr_set_operator(db, "0123456789012345678901234567890123456789012345678901234567890123"),
			 MBR_EINVAL);
	assert_string_equal(mbr_operator(db), "ghost");
	assert_int_equal(mbr_grant(db, "", MBR_ROLE_ADMIN), MBR_EINVAL);
	mbr_db_close(db);

	/* roles persist; MBR_OPERATOR picks the operator */
	setenv("MBR_OPERATOR", "ghost", 1);
	db = open_db(tmp("r.db"), 0);
	assert_string_equal(mbr_operator(db), "ghost");
	assert_int_equal(mbr_operator_role(db), MBR_ROLE_NONE);
	mbr_db_close(db);
	setenv("MBR_OPERATOR", "tester", 1);
	db = open_db(tmp("r.db"), 0);
	assert_int_equal(mbr_operator_role(db), MBR_ROLE_ADMIN);
	mbr_db_close(db);
}

/* A role outside the enum is bad input, not a "duplicate key". */
static void test_grant_rejects_bad_role(void **state)
{
	struct mbr_db *db = open_db(make_db("g.db"), MBR_OPEN_RW);

	int rc1, rc2;

	(void)state;
	rc1 = mbr_grant(db, "ghost", (enum mbr_role)7);
	rc2 = mbr_grant(db, "ghost", (enum mbr_role)-3);
	mbr_db_close(db);
	assert_int_equal(rc1, MBR_EINVAL);
	assert_int_equal(rc2, MBR_EINVAL);
}

static void test_role_parse(void **state)
{
	static const struct { const char *s; int rc; enum mbr_role r; } cases[] = {
		{ "none", MBR_OK, MBR_ROLE_NONE },
		{ "cashier", MBR_OK, MBR_ROLE_CASHIER },
		{ "manager", MBR_OK, MBR_ROLE_MANAGER },
		{ "admin", MBR_OK, MBR_ROLE_ADMIN },
		{ "Admin", MBR_EINVAL, MBR_ROLE_NONE },
		{ "admin ", MBR_EINVAL, MBR_ROLE_NONE },
		{ "", MBR_EINVAL, MBR_ROLE_NONE },
		{ "root", MBR_EINVAL, MBR_ROLE_NONE },
		{ "3", MBR_EINVAL, MBR_ROLE_NONE },
	};
	enum mbr_role r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = (enum mbr_role)42;
		if (mbr_role_parse(cases[i].s, &r) != cases[i].rc)
			fail_msg("'%s': wrong status", cases[i].s);
		if (cases[i].rc == MBR_OK) {
			assert_int_equal(r, cases[i].r);
			assert_string_equal(mbr_role_name(r), cases[i].s);
		} else if (r != (enum mbr_role)42) {
			fail_msg("'%s': output written on error", cases[i].s);
		}
	}
	assert_string_equal(mbr_role_name((enum mbr_role)99), "none");
}

/* -------------------------------------------------------- transactions */

static void test_transactions(void **state)
{
	const char *path = make_db("t.db");
	struct mbr_db *db = open_db(path, MBR_OPEN_RW);

	(void)state;
	assert_int_equal(mbr_commit(db), MBR_EDB);		/* none open */
	assert_int_equal(mbr_rollback(db), MBR_OK);		/* harmless */

	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_begin(db), MBR_EDB);		/* no nesting */
	assert_int_equal(mbr_store_add(db, "S02", "rolled back"), MBR_OK);
	assert_int_equal(mbr_store_exists(db, "S02"), 1);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	assert_int_equal(mbr_store_exists(db, "S02"), 0);

	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_store_add(db, "S03", "kept"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	mbr_db_close(db);

	db = open_db(path, 0);
	assert_int_equal(mbr_store_exists(db, "S02"), 0);
	assert_int_equal(mbr_store_exists(db, "S03"), 1);
	mbr_db_close(db);
}

/* The value of a pragma (e.g. "PRAGMA foreign_keys") on db's connection. */
static int pragma(struct mbr_db *db, const char *sql)
{
	sqlite3_stmt *st;
	int v;

	assert_int_equal(sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Foreign keys on and temporary storage in files (1) or off and in memory (2). */
static void assert_bulk(struct mbr_db *db, int bulk)
{
	assert_int_equal(pragma(db, "PRAGMA foreign_keys"), !bulk);
	assert_int_equal(pragma(db, "PRAGMA temp_store"), bulk ? 2 : 1);
}

/*
 * init makes 8192-byte pages; vacuum gives free pages back and makes a
 * 4096-byte database 8192, its content kept, in WAL mode, audited; with
 * another connection open it refuses a page size change (MBR_EBUSY) and
 * changes nothing.
 */
static void test_page_size_and_vacuum(void **state)
{
	const char *path = make_db("v.db");
	struct mbr_db *db = open_db(path, MBR_OPEN_RW);
	struct mbr_db_pages b, a;
	sqlite3 *other;
	int i;

	(void)state;
	assert_int_equal(mbr_db_page_size_wanted(), 8192);
	assert_int_equal(pragma(db, "PRAGMA page_size"), 8192);
	/* 40 stores, then free pages: a table of 200 pages dropped */
	assert_int_equal(mbr_begin(db), MBR_OK);
	for (i = 0; i < 40; i++) {
		char code[8];

		snprintf(code, sizeof(code), "X%02d", i);
		assert_int_equal(mbr_store_add(db, code, "kept"), MBR_OK);
	}
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(mbr_db_exec(db, "CREATE TABLE pad(b); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
				     " SELECT i + 1 FROM n WHERE i < 200) INSERT INTO pad SELECT randomblob(8000) FROM n;"
				     " DROP TABLE pad"), MBR_OK);
	assert_int_equal(mbr_db_pages(db, &b), MBR_OK);
	assert_true(b.free_pages >= 200);
	assert_int_equal(mbr_db_vacuum(db, &b, &a), MBR_OK);
	assert_true(b.free_pages >= 200);
	assert_int_equal(a.free_pages, 0);
	assert_int_equal(a.pages, b.pages - b.free_pages);
	assert_int_equal(a.page_size, 8192);
	assert_int_equal(pragma(db, "PRAGMA freelist_count"), 0);
	assert_int_equal(pragma(db, "SELECT COUNT(*) FROM stores WHERE name = 'kept'"), 40);
	assert_int_equal(pragma(db, "SELECT COUNT(*) FROM audit WHERE action = 'db.vacuum'"), 1);

	/* a database of 4096-byte pages, as mbr made them before */
	assert_int_equal(mbr_db_exec(db, "PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096; VACUUM;"
				     " PRAGMA journal_mode = WAL"), MBR_OK);
	assert_int_equal(pragma(db, "PRAGMA page_size"), 4096);
	/* another connection open: refused, nothing changed */
	assert_int_equal(sqlite3_open_v2(path, &other, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN; SELECT COUNT(*) FROM stores", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(mbr_db_vacuum(db, &b, &a), MBR_EBUSY);
	assert_non_null(strstr(mbr_db_errmsg(db), "is open in another program"));
	assert_int_equal(pragma(db, "PRAGMA page_size"), 4096);
	sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(other);
	assert_int_equal(mbr_db_vacuum(db, &b, &a), MBR_OK);
	assert_int_equal(b.page_size, 4096);
	assert_int_equal(a.page_size, 8192);
	assert_int_equal(pragma(db, "PRAGMA page_size"), 8192);
	assert_int_equal(pragma(db, "SELECT COUNT(*) FROM stores WHERE name = 'kept'"), 40);
	assert_int_equal(pragma(db, "SELECT COUNT(*) FROM audit WHERE action = 'db.vacuum'"), 2);
	mbr_db_close(db);
	{
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_open_v2(path, &other, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(other, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
		sqlite3_close(other);
	}
}

/* A bulk transaction has foreign keys off and temporary storage (with
 * statement journals) in memory, and only until it ends, however it ends. */
static void test_bulk_transactions(void **state)
{
	const char *path = make_db("t.db");
	struct mbr_db *db = open_db(path, MBR_OPEN_RW);

	(void)state;
	assert_bulk(db, 0);
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	assert_bulk(db, 1);
	assert_int_equal(mbr_begin_bulk(db), MBR_EDB);		/* no nesting */
	assert_int_equal(mbr_store_add(db, "S02", "kept"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_bulk(db, 0);
	assert_int_equal(mbr_store_exists(db, "S02"), 1);

	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	assert_bulk(db, 1);
	assert_int_equal(mbr_store_add(db, "S03", "rolled back"), MBR_OK);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	assert_bulk(db, 0);
	assert_int_equal(mbr_store_exists(db, "S03"), 0);

	/* a plain transaction keeps them */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_bulk(db, 0);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	mbr_db_close(db);
}

/* The text of the first column of the one row of sql on db's connection. */
static const char *text_of(struct mbr_db *db, const char *sql)
{
	static char text[64];
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(text, sizeof(text), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return text;
}

/* Is db's connection in the write-ahead log? */
static int in_wal(struct mbr_db *db)
{
	return !strcmp(text_of(db, "PRAGMA journal_mode"), "wal");
}

/*
 * A bulk transaction alone on the database holds it with a rollback
 * journal and synchronous FULL, and the log is back after commit and
 * rollback; with another connection open, or MBR_SHARED_IMPORT set, it
 * stays in the log.  What another connection committed in the log
 * between two held transactions is seen by the second (no page cached
 * from before it is trusted).  A database left out of the log goes back
 * to it when next opened to write.
 */
static void test_bulk_holds_database(void **state)
{
	const char *path = make_db("h.db");
	struct mbr_db *db = open_db(path, MBR_OPEN_RW), *other;

	(void)state;
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	assert_int_equal(mbr_db_held(db), 1);
	assert_int_equal(in_wal(db), 0);
	assert_int_equal(pragma(db, "PRAGMA synchronous"), 2);
	assert_int_equal(mbr_store_add(db, "S02", "kept"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(mbr_db_held(db), 0);
	assert_int_equal(in_wal(db), 1);
	assert_int_equal(pragma(db, "PRAGMA synchronous"), 1);
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	assert_int_equal(mbr_db_held(db), 1);
	assert_int_equal(mbr_store_add(db, "S03", "rolled back"), MBR_OK);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	assert_int_equal(mbr_db_held(db), 0);
	assert_int_equal(in_wal(db), 1);
	assert_int_equal(mbr_store_exists(db, "S02"), 1);
	assert_int_equal(mbr_store_exists(db, "S03"), 0);

	/* another program's commit in the log, then a held transaction */
	other = open_db(path, MBR_OPEN_RW);
	assert_int_equal(mbr_begin(other), MBR_OK);
	assert_int_equal(mbr_store_add(other, "S04", "by another"), MBR_OK);
	assert_int_equal(mbr_commit(other), MBR_OK);
	/* ... still open: not held */
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	assert_int_equal(mbr_db_held(db), 0);
	assert_int_equal(in_wal(db), 1);
	assert_int_equal(mbr_commit(db), MBR_OK);
	mbr_db_close(other);
	/* a change of one page, not the first (whose change counter a
	 * rollback journal's reader compares): db has the page cached */
	assert_string_equal(text_of(db, "SELECT name FROM stores WHERE code = 'S02'"), "kept");
	raw_exec(path, "UPDATE stores SET name = 'renamed' WHERE code = 'S02'");
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	assert_int_equal(mbr_db_held(db), 1);
	assert_int_equal(mbr_store_exists(db, "S04"), 1);
	assert_string_equal(text_of(db, "SELECT name FROM stores WHERE code = 'S02'"), "renamed");
	assert_int_equal(mbr_store_add(db, "S06", "kept"), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);

	setenv("MBR_SHARED_IMPORT", "1", 1);
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	assert_int_equal(mbr_db_held(db), 0);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	setenv("MBR_SHARED_IMPORT", "0", 1);
	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	assert_int_equal(mbr_db_held(db), 1);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	unsetenv("MBR_SHARED_IMPORT");
	assert_string_equal(text_of(db, "PRAGMA integrity_check"), "ok");
	mbr_db_close(db);

	/* left out of the log (a held import killed at the wrong moment) */
	raw_exec(path, "PRAGMA journal_mode = DELETE");
	db = open_db(path, 0);
	assert_int_equal(in_wal(db), 0);	/* a reader changes nothing */
	mbr_db_close(db);
	db = open_db(path, MBR_OPEN_RW);
	assert_int_equal(in_wal(db), 1);
	assert_int_equal(mbr_store_exists(db, "S06"), 1);
	mbr_db_close(db);
}

/* Step sql (one row or none) on db's connection: the step's result code. */
static int step_once(struct mbr_db *db, const char *sql)
{
	sqlite3_stmt *st;
	int rc;

	assert_int_equal(sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL), SQLITE_OK);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc;
}

/*
 * While a held transaction runs, a view (MBR_OPEN_IMMUTABLE) reads the
 * database as it stood when the transaction began: a page the transaction
 * has written to the file since cannot be read (SQLITE_BUSY, the view's
 * read transaction going on), the others can; once the transaction ends
 * nothing more can be read; with no held transaction no view opens.
 */
static void test_held_view(void **state)
{
	const char *path = make_db("w.db");
	struct mbr_db *db = open_db(path, MBR_OPEN_RW), *view = NULL;

	(void)state;
	assert_int_equal(mbr_db_open(path, MBR_OPEN_IMMUTABLE, "test", &view), MBR_EDB);
	assert_non_null(strstr(mbr_db_errmsg(view), "no view of it"));
	mbr_db_close(view);

	assert_int_equal(mbr_begin_bulk(db), MBR_OK);
	assert_int_equal(mbr_db_held(db), 1);
	view = open_db(path, MBR_OPEN_IMMUTABLE);
	assert_int_equal(mbr_db_exec(view, "BEGIN"), MBR_OK);
	assert_int_equal(step_once(view, "SELECT COUNT(*) FROM batches"), SQLITE_ROW);
	/* the stores table's page changed in the file */
	assert_int_equal(mbr_store_add(db, "S09", "new"), MBR_OK);
	assert_int_equal(sqlite3_db_cacheflush(db->sql), SQLITE_OK);
	assert_int_equal(step_once(view, "SELECT name FROM stores WHERE code = 'S01'"), SQLITE_BUSY);
	assert_int_equal(sqlite3_get_autocommit(view->sql), 0);
	assert_int_equal(step_once(view, "SELECT COUNT(*) FROM tiers"), SQLITE_ROW);
	assert_int_equal(step_once(view, "SELECT COUNT(*) FROM batches"), SQLITE_ROW);	/* its cache */
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(step_once(view, "SELECT COUNT(*) FROM products"), SQLITE_BUSY);
	mbr_db_close(view);
	assert_int_equal(mbr_store_exists(db, "S09"), 1);
	mbr_db_close(db);
}

/* A second writer waits, then gives up with MBR_EBUSY. */
static void test_transaction_busy(void **state)
{
	const char *path = make_db("b.db");
	struct mbr_db *a, *b;

	(void)state;
	setenv("MBR_BUSY_TIMEOUT", "0", 1);
	a = open_db(path, MBR_OPEN_RW);
	b = open_db(path, MBR_OPEN_RW);
	assert_int_equal(mbr_begin(a), MBR_OK);
	assert_int_equal(mbr_begin(b), MBR_EBUSY);
	assert_int_equal(mbr_rollback(b), MBR_OK);
	assert_int_equal(mbr_commit(a), MBR_OK);
	assert_int_equal(mbr_begin(b), MBR_OK);
	assert_int_equal(mbr_commit(b), MBR_OK);
	mbr_db_close(a);
	mbr_db_close(b);
	unsetenv("MBR_BUSY_TIMEOUT");
}

static void next_uid_is(struct mbr_db *db, const char *want)
{
	char uid[40];
	int rc = mbr_db_next_uid(db, "test", uid);

	if (rc != MBR_OK)
		fail_msg("next uid: %d %s", rc, mbr_db_errmsg(db));
	assert_string_equal(uid, want);
}

static void test_next_uid(void **state)
{
	const char *path = make_db("u.db");
	struct mbr_db *db = open_db(path, MBR_OPEN_RW);
	struct mbr_init_opts o;
	struct mbr_buf err = MBR_BUF_INIT;
	char uid[40];

	(void)state;
	assert_int_equal(mbr_db_next_uid(db, "test", uid), MBR_EDB);	/* outside a transaction */

	assert_int_equal(mbr_begin(db), MBR_OK);
	next_uid_is(db, "S01-1");
	next_uid_is(db, "S01-2");
	next_uid_is(db, "S01-3");
	assert_int_equal(mbr_commit(db), MBR_OK);

	assert_int_equal(mbr_begin(db), MBR_OK);
	next_uid_is(db, "S01-4");
	next_uid_is(db, "S01-5");
	assert_int_equal(mbr_rollback(db), MBR_OK);

	assert_int_equal(mbr_begin(db), MBR_OK);
	next_uid_is(db, "S01-4");		/* the rolled-back ones are reused */
	assert_int_equal(mbr_commit(db), MBR_OK);
	mbr_db_close(db);

	db = open_db(path, MBR_OPEN_RW);
	assert_int_equal(mbr_begin(db), MBR_OK);
	next_uid_is(db, "S01-5");		/* persisted across handles */
	assert_int_equal(mbr_commit(db), MBR_OK);
	mbr_db_close(db);

	/* the prefix is the store code */
	init_opts_default(&o);
	o.store = "B7";
	assert_int_equal(mbr_db_init(tmp("b7.db"), &o, &err), MBR_OK);
	db = open_db(tmp("b7.db"), MBR_OPEN_RW);
	assert_int_equal(mbr_begin(db), MBR_OK);
	next_uid_is(db, "B7-1");
	assert_int_equal(mbr_commit(db), MBR_OK);
	mbr_db_close(db);
	mbr_buf_release(&err);
}

/* -------------------------------------------------------------- stores */

struct names {
	char s[8][40];
	int n, stop_at;
};

static int collect_store(const char *code, const char *name, void *p)
{
	struct names *c = p;

	if (c->n < 8)
		snprintf(c->s[c->n++], sizeof(c->s[0]), "%s=%s", code, name);
	return c->n == c->stop_at ? 7 : 0;
}

static void test_stores(void **state)
{
	struct mbr_db *db = open_db(make_db("st.db"), MBR_OPEN_RW);
	struct names c;

	(void)state;
	assert_int_equal(mbr_store_exists(db, "S01"), 1);	/* init adds its own */
	assert_int_equal(mbr_store_exists(db, "S02"), 0);
	assert_int_equal(mbr_store_exists(db, "s01"), 0);	/* codes are exact */

	assert_int_equal(mbr_store_add(db, "S02", "Second Street"), MBR_OK);
	assert_int_equal(mbr_store_exists(db, "S02"), 1);
	assert_int_equal(mbr_store_add(db, "S02", "again"), MBR_EEXIST);
	assert_non_null(strstr(mbr_db_errmsg(db), "'S02'"));
	assert_int_equal(mbr_store_add(db, "S 3", "bad"), MBR_EINVAL);
	assert_non_null(strstr(mbr_db_errmsg(db), "'S 3'"));
	assert_int_equal(mbr_store_exists(db, "S 3"), 0);
	assert_int_equal(mbr_store_add(db, "A0", NULL), MBR_OK);

	memset(&c, 0, sizeof(c));
	assert_int_equal(mbr_stores_each(db, collect_store, &c), MBR_OK);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.s[0], "A0=");
	assert_string_equal(c.s[1], "S01=");
	assert_string_equal(c.s[2], "S02=Second Street");

	/* a callback's non-zero return stops the walk and is passed back */
	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	assert_int_equal(mbr_stores_each(db, collect_store, &c), 7);
	assert_int_equal(c.n, 2);
	mbr_db_close(db);
}

/* ---------------------------------------------------------- migrations */

static int count_audit(const struct mbr_audit_entry *e, void *p)
{
	(void)e;
	(*(int *)p)++;
	return 0;
}

static void test_migrations(void **state)
{
	struct mbr_db *db = open_db(make_db("v.db"), MBR_OPEN_RW);
	int from = -1, to = -1, n0 = 0, n1 = 0;

	(void)state;
	assert_true(mbr_db_latest_version() >= 1);
	assert_int_equal(mbr_db_latest_version(), mbr_nmigrations);
	assert_int_equal(mbr_db_version(db), mbr_db_latest_version());

	/* migrating a current database is a no-op, and not audited */
	assert_int_equal(mbr_audit_each(db, count_audit, &n0), MBR_OK);
	assert_int_equal(mbr_db_migrate(db, &from, &to), MBR_OK);
	assert_int_equal(from, mbr_db_latest_version());
	assert_int_equal(to, mbr_db_latest_version());
	assert_int_equal(mbr_audit_each(db, count_audit, &n1), MBR_OK);
	assert_int_equal(n0, n1);
	mbr_db_close(db);
}

static void set_user_version(const char *path, int v)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	raw_exec(path, sql);
}

/* SQL turning a database back into the schema migration 6 found: lines
 * and payments in tables of their own. */
#define UNDO_MIGRATION6 \
	"CREATE TEMP TABLE old_lines AS SELECT * FROM sale_lines;" \
	"DROP VIEW sale_lines; DROP VIEW payments;" \
	"CREATE TABLE sale_lines(sale INTEGER NOT NULL REFERENCES sales(id) ON DELETE CASCADE," \
	" line INTEGER NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL, unit_price INTEGER NOT NULL," \
	" discount INTEGER NOT NULL DEFAULT 0, amount INTEGER NOT NULL, PRIMARY KEY (sale, line)) WITHOUT ROWID;" \
	"CREATE TABLE payments(sale INTEGER NOT NULL REFERENCES sales(id) ON DELETE CASCADE," \
	" method TEXT NOT NULL, amount INTEGER NOT NULL, PRIMARY KEY (sale, method)) WITHOUT ROWID;" \
	"INSERT INTO sale_lines SELECT * FROM temp.old_lines;" \
	"INSERT INTO payments SELECT s.id, j.value ->> 0, j.value ->> 1 FROM sales s, json_each(s.payments) AS j;" \
	"ALTER TABLE sales DROP COLUMN lines; ALTER TABLE sales DROP COLUMN payments;" \
	"PRAGMA user_version = 5;"

/* Turn the database at path back into the schema migration 5 found:
 * balances in members.points, no points_balances. */
static void undo_migration5(const char *path)
{
	raw_exec(path, UNDO_MIGRATION6
		       "ALTER TABLE members ADD COLUMN points INTEGER NOT NULL DEFAULT 0;"
		       "UPDATE members SET points = COALESCE((SELECT points FROM points_balances WHERE member = id), 0);"
		       "DROP TABLE points_balances;"
		       "PRAGMA user_version = 4");
}

static void test_version_checks(void **state)
{
	const char *path = make_db("old.db");
	int latest = mbr_db_latest_version(), from, to;
	struct mbr_db *db;

	(void)state;
	/* an older schema: refused unless migrating */
	assert_int_equal(latest, 10);	/* 10 can run again; else undo it here */
	set_user_version(path, latest - 1);
	open_fails(path, MBR_OPEN_RW, MBR_EDB, latest - 1 == 0 ? "not an mbr database" : "migrate");
	open_fails(path, 0, MBR_EDB, "old.db");
	if (latest - 1 > 0) {
		db = open_db(path, MBR_OPEN_RW | MBR_OPEN_MIGRATE);
		assert_int_equal(mbr_db_version(db), latest - 1);
		assert_int_equal(mbr_db_migrate(db, &from, &to), MBR_OK);
		assert_int_equal(from, latest - 1);
		assert_int_equal(to, latest);
		mbr_db_close(db);
		mbr_db_close(open_db(path, MBR_OPEN_RW));
	} else {
		/* version 0 is an empty file, never an mbr database */
		open_fails(path, MBR_OPEN_RW | MBR_OPEN_MIGRATE, MBR_EDB, "not an mbr database");
	}

	/* a newer schema than this mbr knows: refused, even to migrate */
	set_user_version(path, latest + 1);
	open_fails(path, MBR_OPEN_RW, MBR_EDB, "newer");
	open_fails(path, MBR_OPEN_RW | MBR_OPEN_MIGRATE, MBR_EDB, "newer");

	set_user_version(path, latest);
	mbr_db_close(open_db(path, MBR_OPEN_RW));
}

/* Open the database at path and migrate it from schema from to the latest. */
static struct mbr_db *migrated(const char *path, int from)
{
	struct mbr_db *db = open_db(path, MBR_OPEN_RW | MBR_OPEN_MIGRATE);
	int was, to;

	assert_int_equal(mbr_db_migrate(db, &was, &to), MBR_OK);
	assert_int_equal(was, from);
	assert_int_equal(to, mbr_db_latest_version());
	return db;
}

/* Migration 5 moves members' balances from members.points to
 * points_balances, and rows of no points make none (then 6 runs). */
static void test_migration5_balances(void **state)
{
	const char *path = make_db("m5.db");
	struct mbr_db *db;

	(void)state;
	undo_migration5(path);
	raw_exec(path, "INSERT INTO members(id, uid, created_at, updated_at, points) VALUES"
		       " (1, 'S01-1', 0, 0, 120), (2, 'S01-2', 0, 0, 0), (3, 'S01-3', 0, 0, -30)");
	db = migrated(path, 4);
	assert_int_equal(pragma(db, "SELECT COUNT(*) FROM points_balances"), 2);
	assert_int_equal(pragma(db, "SELECT points FROM points_balances WHERE member = 1"), 120);
	assert_int_equal(pragma(db, "SELECT points FROM points_balances WHERE member = 3"), -30);
	assert_int_equal(pragma(db, "SELECT COUNT(*) FROM pragma_table_info('members') WHERE name = 'points'"), 0);
	mbr_db_close(db);
}

/* Migration 6 moves lines and payments into their sales' rows, in order,
 * and the views give back the same rows. */
static void test_migration6_lines(void **state)
{
	const char *path = make_db("m6.db");
	struct mbr_db *db;

	(void)state;
	raw_exec(path, UNDO_MIGRATION6
		       "INSERT INTO sales(id, store, receipt, ts, day, total) VALUES (1, 'S01', 'R1', 0, 0, 450),"
		       " (2, 'S01', 'R2', 0, 0, 0);"
		       "INSERT INTO sale_lines VALUES (1, 2, 'B', 1, 150, 0, 150), (1, 1, 'A\"x', 2, 150, 0, 300);"
		       "INSERT INTO payments VALUES (1, 'wechat', 400), (1, 'cash', 50);");
	db = migrated(path, 5);
	assert_int_equal(pragma(db, "SELECT COUNT(*) FROM sale_lines"), 2);
	assert_int_equal(pragma(db, "SELECT qty FROM sale_lines WHERE sale = 1 AND line = 1 AND sku = 'A\"x'"), 2);
	assert_int_equal(pragma(db, "SELECT amount FROM sale_lines WHERE sale = 1 AND line = 2 AND sku = 'B'"), 150);
	assert_int_equal(pragma(db, "SELECT amount FROM payments WHERE sale = 1 AND method = 'wechat'"), 400);
	assert_int_equal(pragma(db, "SELECT COUNT(*) FROM payments"), 2);
	assert_int_equal(pragma(db, "SELECT lines = '[]' AND payments = '[]' FROM sales WHERE id = 2"), 1);
	assert_int_equal(pragma(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'"
				" AND name IN ('sale_lines', 'payments')"), 0);
	mbr_db_close(db);
}

/* The schema's append-only triggers hold against the library's own handle. */
static void test_append_only_tables(void **state)
{
	static const char *const sql[] = {
		"UPDATE audit SET detail = 'x'",
		"DELETE FROM audit",
		"UPDATE points_ledger SET points = 1",
		"DELETE FROM points_ledger",
		"UPDATE sv_ledger SET principal = 1",
		"DELETE FROM sv_ledger",
	};
	struct mbr_db *db = open_db(make_db("a.db"), MBR_OPEN_RW);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		/* an empty ledger has no row for a trigger to fire on; audit has rows */
		int rc = mbr_db_exec(db, sql[i]);

		if (i < 2) {
			if (rc >= 0)
				fail_msg("'%s' allowed", sql[i]);
			assert_non_null(strstr(mbr_db_errmsg(db), "append-only"));
		}
	}
	mbr_db_close(db);
}

/* ------------------------------------------- backup and restore streams */

/* Names in the test directory that hold "tmp" or "part" (temporary files). */
static int temp_files(void)
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

/* Make path's database compress to well over a pipe's 64 KiB buffer. */
static void pad_db(const char *path)
{
	raw_exec(path, "CREATE TABLE pad(b); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
		       " WHERE i < 64) INSERT INTO pad SELECT randomblob(4096) FROM n");
}

/* Point fd (0 or 1) at path for a while; returns the saved descriptor. */
static int redirect(int fd, const char *path, int flags)
{
	int saved = dup(fd), f = open(path, flags, 0600);

	assert_true(saved >= 0 && f >= 0);
	assert_int_equal(dup2(f, fd), fd);
	close(f);
	return saved;
}

static void restore_fd(int fd, int saved)
{
	assert_int_equal(dup2(saved, fd), fd);
	close(saved);
}

static void test_backup_restore_streams(void **state)
{
	const char *path = make_db("s.db");
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_db *db = open_db(path, MBR_OPEN_RW);
	char key[200], *p;
	size_t len;
	int saved;

	(void)state;
	assert_int_equal(mbr_store_add(db, "S07", "Seventh"), MBR_OK);
	/* "-" is standard output: a gzip stream there, no file named "-" */
	fflush(stdout);
	saved = redirect(1, tmp("out.gz"), O_WRONLY | O_CREAT | O_TRUNC);
	assert_int_equal(mbr_db_backup(db, "-"), MBR_OK);
	restore_fd(1, saved);
	mbr_db_close(db);
	assert_false(exists(tmp("-")));
	assert_int_equal(temp_files(), 0);
	p = read_file(tmp("out.gz"), &len);
	assert_true(len > 20);
	assert_int_equal((unsigned char)p[0], 0x1f);
	assert_int_equal((unsigned char)p[1], 0x8b);
	free(p);

	/* "-" is standard input; checking it replaces and creates nothing */
	snprintf(key, sizeof(key), "%s.key", path);
	setenv("MBR_KEY", key, 1);
	saved = redirect(0, tmp("out.gz"), O_RDONLY);
	if (mbr_db_restore_check(tmp("copy.db"), "-", &err) != MBR_OK)
		fail_msg("restore check: %s", err.buf);
	assert_false(exists(tmp("copy.db")));
	assert_int_equal(temp_files(), 0);
	assert_int_equal(lseek(0, 0, SEEK_SET), 0);
	if (mbr_db_restore(tmp("copy.db"), "-", &err) != MBR_OK)
		fail_msg("restore: %s", err.buf);
	restore_fd(0, saved);
	assert_int_equal(temp_files(), 0);
	db = open_db(tmp("copy.db"), MBR_OPEN_RW);
	assert_int_equal(mbr_store_exists(db, "S07"), 1);
	mbr_db_close(db);

	/* the same strictness as for a file: trailing data, named as stdin */
	write_file(tmp("junk"), "junk");
	p = read_file(tmp("out.gz"), &len);
	{
		FILE *fp = fopen(tmp("trailing.gz"), "wb");
		assert_non_null(fp);
		assert_int_equal(fwrite(p, 1, len, fp), len);
		fputs("more", fp);
		assert_int_equal(fclose(fp), 0);
	}
	free(p);
	saved = redirect(0, tmp("trailing.gz"), O_RDONLY);
	assert_int_equal(mbr_db_restore_check(tmp("copy.db"), "-", &err), MBR_EIO);
	restore_fd(0, saved);
	assert_string_equal(err.buf, "backup on standard input: data after the end of its gzip stream");
	saved = redirect(0, tmp("junk"), O_RDONLY);
	assert_int_equal(mbr_db_restore_check(tmp("copy.db"), "-", &err), MBR_EIO);
	restore_fd(0, saved);
	assert_non_null(strstr(err.buf, "backup on standard input: not a sound gzip file"));
	assert_int_equal(temp_files(), 0);
	mbr_buf_release(&err);
}

/*
 * A child backs up to a pipe that is never read, so that it blocks with
 * its temporary copy made; then it gets sig.  ignore_hup: the child
 * ignores SIGHUP first (as under nohup).  Returns the child's wait status.
 */
static int backup_signalled(const char *path, int sig, int ignore_hup)
{
	int fds[2], status, i;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mbr_db *db = NULL;

		/* whatever the test runner's were (a background job ignores SIGINT) */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, ignore_hup ? SIG_IGN : SIG_DFL);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (mbr_db_open(path, MBR_OPEN_RW, "test", &db) != MBR_OK)
			_exit(90);
		_exit(mbr_db_backup(db, "-") == MBR_OK ? 0 : 91);
	}
	close(fds[1]);
	for (i = 0; i < 500 && !temp_files(); i++)
		usleep(10000);
	assert_true(temp_files() > 0);
	if (ignore_hup) {
		assert_int_equal(kill(pid, SIGHUP), 0);
		usleep(100000);
		assert_int_equal(waitpid(pid, &status, WNOHANG), 0);	/* still there */
		assert_true(temp_files() > 0);
	}
	assert_int_equal(kill(pid, sig), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fds[0]);
	return status;
}

static void test_backup_signal_removes_temp_files(void **state)
{
	const char *path = make_db("big.db");
	int status;

	(void)state;
	pad_db(path);
	status = backup_signalled(path, SIGTERM, 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_int_equal(temp_files(), 0);
	status = backup_signalled(path, SIGINT, 1);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGINT);
	assert_int_equal(temp_files(), 0);
}

static void on_term(int sig)
{
	(void)sig;
}

/* A program's own handlers and ignored signals are as they were after. */
static void test_backup_keeps_signal_dispositions(void **state)
{
	const char *path = make_db("d.db");
	struct mbr_db *db = open_db(path, MBR_OPEN_RW);
	struct sigaction sa, now, intr;

	(void)state;
	assert_int_equal(sigaction(SIGINT, NULL, &intr), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGTERM, &sa, NULL), 0);
	signal(SIGHUP, SIG_IGN);
	assert_int_equal(mbr_db_backup(db, tmp("d.gz")), MBR_OK);
	mbr_db_close(db);
	assert_int_equal(sigaction(SIGTERM, NULL, &now), 0);
	assert_ptr_equal(now.sa_handler, on_term);
	assert_int_equal(sigaction(SIGHUP, NULL, &now), 0);
	assert_ptr_equal(now.sa_handler, SIG_IGN);
	assert_int_equal(sigaction(SIGINT, NULL, &now), 0);
	assert_ptr_equal(now.sa_handler, intr.sa_handler);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	assert_int_equal(temp_files(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_private_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_key_path_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_key_from_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_keeps_existing_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_refuses_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_never_creates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_foreign_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_readonly_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_exists_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_readonly_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grant_rejects_bad_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_role_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_size_and_vacuum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_holds_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration5_balances, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration6_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_only_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_restore_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_signal_removes_temp_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_keeps_signal_dispositions, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
