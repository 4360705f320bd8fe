/*
 * harness.h - what the unit tests of the database modules share: a fresh
 * temporary directory per test (MBR_KEY unset, MBR_OPERATOR "tester",
 * MBR_NOW pinned to HARNESS_NOW, the zone Asia/Shanghai), a database
 * initialised in it for store S01, and assertions on it.  Included by one
 * test file each, after cmocka.h and internal.h; a file uses what it needs.
 */
#ifndef MBR_TEST_HARNESS_H
#define MBR_TEST_HARNESS_H

#define HARNESS_UNUSED __attribute__((unused))

static char dir[64];
static char dbpath[128];

/* The per-test set-up: name goes into the directory's name. */
static HARNESS_UNUSED int harness_setup(const char *name, const char *now)
{
	snprintf(dir, sizeof(dir), "/tmp/mbr-test-%s.XXXXXX", name);
	if (!mkdtemp(dir))
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/t.db", dir);
	unsetenv("MBR_KEY");
	unsetenv("MBR_BUSY_TIMEOUT");
	setenv("MBR_OPERATOR", "tester", 1);
	setenv("MBR_NOW", now, 1);
	return mbr_time_set_zone("Asia/Shanghai") == 0 ? 0 : -1;
}

static HARNESS_UNUSED int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Local "YYYY-MM-DD HH:MM[:SS]" in the store's zone as UTC seconds. */
static HARNESS_UNUSED int64_t local(const char *s)
{
	int64_t t;

	if (mbr_time_parse(s, NULL, &t) != MBR_OK)
		fail_msg("time '%s' not parsed", s);
	return t;
}

/* Another read-write connection to the database at dbpath. */
static HARNESS_UNUSED struct mbr_db *open_db(void)
{
	struct mbr_db *db = NULL;
	int rc = mbr_db_open(dbpath, MBR_OPEN_RW, "test", &db);

	if (rc != MBR_OK)
		fail_msg("open '%s': %d %s", dbpath, rc, db ? mbr_db_errmsg(db) : "(no handle)");
	return db;
}

/* A database initialised for store S01 at dbpath, opened read-write. */
static HARNESS_UNUSED struct mbr_db *new_db(void)
{
	struct mbr_init_opts o = { .store = "S01", .time_zone = "Asia/Shanghai", .exponent = -1 };
	struct mbr_buf err = MBR_BUF_INIT;
	int rc = mbr_db_init(dbpath, &o, &err);

	if (rc != MBR_OK)
		fail_msg("init '%s': %d %s", dbpath, rc, err.buf);
	mbr_buf_release(&err);
	return open_db();
}

static HARNESS_UNUSED void problem(const char *p, void *ctx)
{
	struct mbr_buf *b = ctx;

	mbr_buf_adds(b, p);
	mbr_buf_addc(b, '\n');
}

/* mbr_db_check must pass with nothing to say. */
static HARNESS_UNUSED void assert_sound(struct mbr_db *db)
{
	struct mbr_buf b = MBR_BUF_INIT;
	int rc = mbr_db_check(db, problem, &b);

	if (rc != MBR_OK || b.len)
		fail_msg("db check %d: %s\n%s", rc, mbr_db_errmsg(db), b.buf);
	mbr_buf_release(&b);
}

/* mbr_db_check must fail and name what (a substring of a problem line). */
static HARNESS_UNUSED void assert_unsound(struct mbr_db *db, const char *what)
{
	struct mbr_buf b = MBR_BUF_INIT;
	int rc = mbr_db_check(db, problem, &b);

	if (rc == MBR_OK || !b.len)
		fail_msg("db check passed after tampering (%s)", what);
	if (!strstr(b.buf, what))
		fail_msg("db check problems do not mention '%s':\n%s", what, b.buf);
	mbr_buf_release(&b);
}

/* One integer from SQL; NULL reads as -777, no row as -999. */
static HARNESS_UNUSED int64_t qi(struct mbr_db *db, const char *fmt, ...)
{
	char sql[512];
	sqlite3_stmt *st;
	int64_t v = -999;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("sql '%s': %s", sql, sqlite3_errmsg(db->sql));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -777 : sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* SQL behind the library's back (tampering, set-up). */
static HARNESS_UNUSED void raw(struct mbr_db *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db->sql, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("raw '%s': %s", sql, msg ? msg : "?");
}

/* Add a member by member_no; its id, and the member into out if given. */
static HARNESS_UNUSED int64_t add_member(struct mbr_db *db, const char *no, struct mbr_member *out)
{
	struct mbr_buf why = MBR_BUF_INIT;
	struct mbr_member m;

	mbr_member_clear(&m);
	if (mbr_member_set_field(db, &m, MBR_F_MEMBER_NO, no, &why) != MBR_OK)
		fail_msg("member_no %s: %s", no, why.buf);
	assert_int_equal(mbr_begin(db), MBR_OK);
	if (mbr_member_add(db, &m, 0) != MBR_OK)
		fail_msg("add %s: %s", no, mbr_db_errmsg(db));
	assert_int_equal(mbr_commit(db), MBR_OK);
	assert_int_equal(mbr_member_get(db, no, &m), MBR_OK);
	if (out)
		*out = m;
	mbr_buf_release(&why);
	return m.id;
}

static HARNESS_UNUSED void load_rules(struct mbr_db *db, const char *text)
{
	int64_t v;

	assert_int_equal(mbr_begin(db), MBR_OK);
	if (mbr_rules_load(db, text, &v) != MBR_OK)
		fail_msg("rules: %s", mbr_db_errmsg(db));
	assert_int_equal(mbr_commit(db), MBR_OK);
}

/* The messages of rejected records an import reports (its error callback). */
struct errors {
	int n;
	struct mbr_buf all;	/* each message on its own line */
};

static HARNESS_UNUSED int on_error(const char *msg, void *ctx)
{
	struct errors *e = ctx;

	e->n++;
	mbr_buf_adds(&e->all, msg);
	mbr_buf_addc(&e->all, '\n');
	return 0;
}

static HARNESS_UNUSED struct errors errs_init(void)
{
	struct errors e = { 0, MBR_BUF_INIT };

	return e;
}

#endif
