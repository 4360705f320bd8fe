/*
 * test_audit.c - unit tests for lib/audit.c: every change leaves one
 * audit entry, the keyed hash chain verifies, and tampering with the log
 * from outside mbr (dropping the append-only triggers first, as an
 * attacker with the file but not the key would) is detected and the bad
 * entry named.  Audit text must never carry a member's personal data.
 *
 * Every test runs in a fresh temporary directory with MBR_KEY unset,
 * MBR_OPERATOR "tester" and MBR_NOW pinned.
 */
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

#include "internal.h"
#include "banned.h"

#define NOW "2026-11-22T10:00:00Z"
#define NOW_T 1795341600	/* the same, in seconds */

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mbr-test-audit.XXXXXX");
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
	int rc = mbr_db_open(path, MBR_OPEN_RW, "test-audit", &db);

	if (rc != MBR_OK)
		fail_msg("open '%s': %d %s", path, rc, db ? mbr_db_errmsg(db) : "(no handle)");
	return db;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *s = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	if (sqlite3_exec(s, sql, NULL, NULL, &msg) != SQLITE_OK) {
		char text[256];

		snprintf(text, sizeof(text), "%s", msg ? msg : "?");
		sqlite3_free(msg);
		sqlite3_close(s);
		fail_msg("raw '%s': %s", sql, text);
	}
	sqlite3_close(s);
}

/* ----------------------------------------------------------- reading */

struct entries {
	int n;
	int64_t last_id, last_ts;
	char last_op[64], last_prog[32], last_action[64], last_target[64], last_detail[128];
};

static int collect(const struct mbr_audit_entry *e, void *p)
{
	struct entries *c = p;

	c->n++;
	c->last_id = e->id;
	c->last_ts = e->ts;
	snprintf(c->last_op, sizeof(c->last_op), "%s", e->operator);
	snprintf(c->last_prog, sizeof(c->last_prog), "%s", e->program);
	snprintf(c->last_action, sizeof(c->last_action), "%s", e->action);
	snprintf(c->last_target, sizeof(c->last_target), "%s", e->target);
	snprintf(c->last_detail, sizeof(c->last_detail), "%s", e->detail);
	return 0;
}

static struct entries audit_log(struct mbr_db *db)
{
	struct entries c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(mbr_audit_each(db, collect, &c), MBR_OK);
	return c;
}

static void verify_ok(struct mbr_db *db, int64_t want)
{
	int64_t n = -1;
	int rc = mbr_audit_verify(db, &n);

	if (rc != MBR_OK)
		fail_msg("verify: %d %s", rc, mbr_db_errmsg(db));
	assert_int_equal(n, want);
}

/* Append n plain entries, each in its own transaction. */
static void add_entries(struct mbr_db *db, int n)
{
	char detail[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(detail, sizeof(detail), "note %d", i);
		assert_int_equal(mbr_audit_outside_tx(db, "test.note", "t", detail), MBR_OK);
	}
}

/* ------------------------------------------------------------ tests */

static void test_fresh_database(void **state)
{
	struct mbr_db *db = open_db(make_db("f.db"));
	struct entries c = audit_log(db);

	(void)state;
	/* init: store.add, operator.grant, db.init */
	assert_true(c.n >= 1);
	verify_ok(db, c.n);
	assert_string_equal(c.last_action, "db.init");
	assert_string_equal(c.last_target, "S01");
	assert_string_equal(c.last_op, "tester");
	assert_string_equal(c.last_prog, "mbr-db");
	assert_int_equal(c.last_ts, NOW_T);
	mbr_db_close(db);
}

/* ----- every change is audited: one table of operations */

struct fixture {
	const char *path;
	struct mbr_member m;
	int64_t batch;
};

static int op_setting(struct mbr_db *db, struct fixture *f) { return mbr_setting_set(db, "currency", "USD"); }
static int op_store(struct mbr_db *db, struct fixture *f) { return mbr_store_add(db, "S02", "Second"); }
static int op_grant(struct mbr_db *db, struct fixture *f) { return mbr_grant(db, "amy", MBR_ROLE_CASHIER); }
static int op_revoke(struct mbr_db *db, struct fixture *f) { return mbr_grant(db, "amy", MBR_ROLE_NONE); }

static int op_member_add(struct mbr_db *db, struct fixture *f)
{
	struct mbr_buf why = MBR_BUF_INIT;

	mbr_member_clear(&f->m);
	mbr_member_set_field(db, &f->m, MBR_F_MEMBER_NO, "C100", &why);
	mbr_member_set_field(db, &f->m, MBR_F_PHONE, "13800001111", &why);
	mbr_buf_release(&why);
	return mbr_member_add(db, &f->m, 0);
}

static int op_member_set(struct mbr_db *db, struct fixture *f)
{
	snprintf(f->m.email, sizeof(f->m.email), "x@example.com");
	return mbr_member_update(db, &f->m, "email");
}

static int op_freeze(struct mbr_db *db, struct fixture *f) { return mbr_member_set_status(db, f->m.id, "frozen"); }
static int op_unfreeze(struct mbr_db *db, struct fixture *f) { return mbr_member_set_status(db, f->m.id, "active"); }

static int op_upsert(struct mbr_db *db, struct fixture *f)
{
	struct mbr_member u;
	int updated = 0, rc;

	mbr_member_clear(&u);
	snprintf(u.member_no, sizeof(u.member_no), "C100");
	snprintf(u.name, sizeof(u.name), "New Name");
	rc = mbr_member_upsert(db, &u, 0, &updated);
	return rc < 0 ? rc : updated == 1 ? 0 : -100;
}

static int op_points(struct mbr_db *db, struct fixture *f)
{
	return mbr_points_change(db, &f->m, "adjust", 10, "goodwill");
}

/* A whole import is one entry, at its end: none per row. */
static int op_batch(struct mbr_db *db, struct fixture *f)
{
	struct mbr_member m;
	int rc;

	if ((rc = mbr_batch_start(db, "members", "in.csv", &f->batch)) < 0)
		return rc;
	mbr_member_clear(&m);
	snprintf(m.member_no, sizeof(m.member_no), "C200");
	if ((rc = mbr_member_add(db, &m, f->batch)) < 0)
		return rc;
	snprintf(m.member_no, sizeof(m.member_no), "C201");
	if ((rc = mbr_member_add(db, &m, f->batch)) < 0)
		return rc;
	return mbr_batch_finish(db, f->batch, 2, 0, 0);
}

static int op_erase(struct mbr_db *db, struct fixture *f) { return mbr_member_erase(db, f->m.id); }

struct op {
	const char *name;
	int (*fn)(struct mbr_db *, struct fixture *);
	int in_tx;		/* run between mbr_begin and mbr_commit */
	const char *action;
	const char *target;	/* NULL: the fixture member's uid */
};

static void test_every_change_audited(void **state)
{
	static const struct op ops[] = {
		{ "setting", op_setting, 1, "setting.set", "currency" },
		{ "store", op_store, 1, "store.add", "S02" },
		{ "grant", op_grant, 1, "operator.grant", "amy" },
		{ "revoke", op_revoke, 1, "operator.revoke", "amy" },
		{ "member add", op_member_add, 1, "member.add", NULL },
		{ "member set", op_member_set, 1, "member.set", NULL },
		{ "freeze", op_freeze, 1, "member.freeze", NULL },
		{ "unfreeze", op_unfreeze, 1, "member.unfreeze", NULL },
		{ "upsert", op_upsert, 1, "member.update", NULL },
		{ "points", op_points, 1, "points.change", NULL },
		{ "batch", op_batch, 1, "batch.finish", "batch " },
		{ "erase", op_erase, 1, "member.erase", NULL },
	};
	struct fixture f;
	struct mbr_db *db;
	struct entries before, after;
	size_t i;
	int rc;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.path = make_db("e.db");
	db = open_db(f.path);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		before = audit_log(db);
		if (ops[i].in_tx)
			assert_int_equal(mbr_begin(db), MBR_OK);
		rc = ops[i].fn(db, &f);
		if (rc != MBR_OK)
			fail_msg("%s: %d %s", ops[i].name, rc, mbr_db_errmsg(db));
		if (ops[i].in_tx)
			assert_int_equal(mbr_commit(db), MBR_OK);
		after = audit_log(db);
		if (after.n != before.n + 1)
			fail_msg("%s: %d audit entries, want 1", ops[i].name, after.n - before.n);
		assert_string_equal(after.last_action, ops[i].action);
		if (!ops[i].target)
			assert_string_equal(after.last_target, f.m.uid);
		else if (strncmp(after.last_target, ops[i].target, strlen(ops[i].target)))
			fail_msg("%s: target '%s', want '%s'", ops[i].name, after.last_target, ops[i].target);
		assert_string_equal(after.last_op, "tester");
		assert_string_equal(after.last_prog, "test-audit");
		assert_int_equal(after.last_ts, NOW_T);
		verify_ok(db, after.n);
	}

	/* the operator named in entries is the handle's */
	assert_int_equal(mbr_set_operator(db, "amy"), MBR_OK);
	assert_int_equal(mbr_audit_outside_tx(db, "test.who", "", ""), MBR_OK);
	after = audit_log(db);
	assert_string_equal(after.last_op, "amy");

	/* a refused change writes no entry */
	before = audit_log(db);
	assert_int_equal(mbr_store_add(db, "S02", "dup"), MBR_EEXIST);
	assert_int_equal(mbr_setting_set(db, "store_code", "X"), MBR_EINVAL);
	assert_int_equal(mbr_member_set_status(db, f.m.id, "frozen"), MBR_EINVAL);	/* erased */
	after = audit_log(db);
	assert_int_equal(after.n, before.n);

	/* a rolled-back change takes its entry with it */
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_store_add(db, "S09", ""), MBR_OK);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	after = audit_log(db);
	assert_int_equal(after.n, before.n);
	verify_ok(db, after.n);

	/* a backup is audited too (in a transaction of its own) */
	assert_int_equal(mbr_db_backup(db, tmp("e.db.gz")), MBR_OK);
	after = audit_log(db);
	assert_int_equal(after.n, before.n + 1);
	assert_string_equal(after.last_action, "db.backup");
	verify_ok(db, after.n);
	mbr_db_close(db);
}

static void test_verify_many(void **state)
{
	static const char *const odd[][2] = {
		{ "", "" },
		{ "a|b", "c" },
		{ "a", "b|c" },
		{ "3:abc", "0:" },
		{ "门店", "数量 12" },
		{ "line\nbreak", "tab\there" },
	};
	struct mbr_db *db = open_db(make_db("m.db"));
	struct entries c;
	size_t i;

	(void)state;
	add_entries(db, 300);
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		assert_int_equal(mbr_audit_outside_tx(db, "test.odd", odd[i][0], odd[i][1]), MBR_OK);
	assert_int_equal(mbr_audit_outside_tx(db, "test.null", NULL, NULL), MBR_OK);
	c = audit_log(db);
	assert_string_equal(c.last_target, "");
	assert_string_equal(c.last_detail, "");
	verify_ok(db, c.n);
	mbr_db_close(db);

	/* a later handle verifies the same chain and appends to it */
	db = open_db(tmp("m.db"));
	verify_ok(db, c.n);
	add_entries(db, 3);
	verify_ok(db, c.n + 3);
	mbr_db_close(db);
}

/* The append-only triggers stop a plain UPDATE or DELETE. */
static void test_triggers_block_edits(void **state)
{
	static const char *const sql[] = {
		"UPDATE audit SET detail = 'x' WHERE id = 1",
		"DELETE FROM audit WHERE id = 1",
	};
	const char *path = make_db("t.db");
	sqlite3 *s;
	size_t i;

	(void)state;
	assert_int_equal(sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		assert_int_not_equal(sqlite3_exec(s, sql[i], NULL, NULL, NULL), SQLITE_OK);
		assert_non_null(strstr(sqlite3_errmsg(s), "append-only"));
	}
	sqlite3_close(s);
}

struct tamper {
	const char *what;
	const char *sql;	/* run after dropping the triggers */
	const char *message;	/* expected in the verify message */
};

static void test_tampering_detected(void **state)
{
	static const struct tamper cases[] = {
		{ "detail", "UPDATE audit SET detail = 'forged' WHERE id = 5", "entry 5 " },
		{ "operator", "UPDATE audit SET operator = 'someone' WHERE id = 5", "entry 5 " },
		{ "program", "UPDATE audit SET program = 'x' WHERE id = 5", "entry 5 " },
		{ "action", "UPDATE audit SET action = 'test.other' WHERE id = 5", "entry 5 " },
		{ "target", "UPDATE audit SET target = 'u' WHERE id = 5", "entry 5 " },
		{ "time", "UPDATE audit SET ts = ts + 1 WHERE id = 5", "entry 5 " },
		{ "hash zeroed", "UPDATE audit SET hash = zeroblob(32) WHERE id = 5", "entry 5 " },
		{ "hash cut", "UPDATE audit SET hash = substr(hash, 1, 16) WHERE id = 5", "entry 5 " },
		{ "text moved between fields",
		  "UPDATE audit SET target = target || substr(detail, 1, 1), detail = substr(detail, 2) WHERE id = 5",
		  "entry 5 " },
		{ "middle deleted", "DELETE FROM audit WHERE id = 5", "entry 5 " },
		{ "first deleted", "DELETE FROM audit WHERE id = 1", "entry 1 " },
		{ "renumbered after delete",
		  "DELETE FROM audit WHERE id = 5; UPDATE audit SET id = id - 1 WHERE id > 5", "entry 5 " },
		{ "reordered",
		  "UPDATE audit SET id = -1 WHERE id = 4; UPDATE audit SET id = 4 WHERE id = 5;"
		  " UPDATE audit SET id = 5 WHERE id = -1", "entry 4 " },
		{ "forged entry appended",
		  "INSERT INTO audit(id, ts, operator, program, action, target, detail, hash)"
		  " SELECT MAX(id) + 1, 0, 'x', 'x', 'x', '', '', zeroblob(32) FROM audit", "entry 11 " },
	};
	struct mbr_buf sql = MBR_BUF_INIT;
	char name[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mbr_db *db;
		const char *path;
		int64_t n = -1;
		int rc;

		snprintf(name, sizeof(name), "t%zu.db", i);
		path = make_db(name);
		db = open_db(path);
		add_entries(db, 10 - audit_log(db).n);	/* entries 1..10 */
		verify_ok(db, 10);
		mbr_db_close(db);

		mbr_buf_reset(&sql);
		mbr_buf_addf(&sql, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; %s", cases[i].sql);
		raw_exec(path, sql.buf);

		db = open_db(path);
		rc = mbr_audit_verify(db, &n);
		if (rc != MBR_EINVAL)
			fail_msg("%s: verify returned %d (%s)", cases[i].what, rc, mbr_db_errmsg(db));
		/* the message names the first bad entry */
		mbr_buf_reset(&sql);
		mbr_buf_addf(&sql, "%s", mbr_db_errmsg(db));
		mbr_buf_addc(&sql, ' ');
		if (!strstr(sql.buf, cases[i].message))
			fail_msg("%s: message '%s' lacks '%s'", cases[i].what, mbr_db_errmsg(db), cases[i].message);
		assert_non_null(strstr(sql.buf, "audit"));
		mbr_db_close(db);
	}
	mbr_buf_release(&sql);
}

static void test_other_key_fails(void **state)
{
	const char *path = make_db("k.db");
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_db *db;
	int64_t n = -1;

	(void)state;
	assert_int_equal(mbr_key_generate(tmp("other.key"), &err), MBR_OK);
	setenv("MBR_KEY", tmp("other.key"), 1);
	db = open_db(path);
	assert_int_not_equal(mbr_audit_verify(db, &n), MBR_OK);
	mbr_db_close(db);

	/* no key at all */
	setenv("MBR_KEY", tmp("missing.key"), 1);
	db = open_db(path);
	assert_int_equal(mbr_audit_verify(db, &n), MBR_EKEY);
	assert_non_null(strstr(mbr_db_errmsg(db), "missing.key"));
	mbr_db_close(db);

	unsetenv("MBR_KEY");
	db = open_db(path);
	verify_ok(db, audit_log(db).n);
	mbr_db_close(db);
	mbr_buf_release(&err);
}

/*
 * A wrong key must not be able to append: an entry chained with another
 * key can never be verified again and the log cannot be repaired (it is
 * append-only), so one run with a mistyped MBR_KEY would break the chain
 * for good.  Expected: MBR_EKEY and nothing written.
 */
static void test_other_key_cannot_append(void **state)
{
	const char *path = make_db("w.db");
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_db *db;
	int n0, n1, rc, vrc;
	int64_t nv;
	char msg[256];

	(void)state;
	db = open_db(path);
	n0 = audit_log(db).n;
	mbr_db_close(db);

	assert_int_equal(mbr_key_generate(tmp("other.key"), &err), MBR_OK);
	setenv("MBR_KEY", tmp("other.key"), 1);
	db = open_db(path);
	rc = mbr_audit_outside_tx(db, "test.note", "t", "with the wrong key");
	mbr_db_close(db);

	unsetenv("MBR_KEY");
	db = open_db(path);
	n1 = audit_log(db).n;
	vrc = mbr_audit_verify(db, &nv);
	snprintf(msg, sizeof(msg), "%s", mbr_db_errmsg(db));
	mbr_db_close(db);
	mbr_buf_release(&err);
	if (rc != MBR_EKEY || n1 != n0 || vrc != MBR_OK)
		fail_msg("append with the wrong key returned %d; entries %d -> %d; verify with the right key"
			 " afterwards: %d (%s)", rc, n0, n1, vrc, vrc ? msg : "ok");
}

/* Does any column of any audit row contain s? */
static int audit_contains(const char *path, const char *s, char *where, size_t wsz)
{
	sqlite3 *q;
	sqlite3_stmt *st;
	int found = 0, i;

	assert_int_equal(sqlite3_open_v2(path, &q, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(q, "SELECT * FROM audit", -1, &st, NULL), SQLITE_OK);
	while (!found && sqlite3_step(st) == SQLITE_ROW) {
		for (i = 0; i < sqlite3_column_count(st); i++) {
			const void *p = sqlite3_column_blob(st, i);
			int len = sqlite3_column_bytes(st, i);

			if (p && len > 0 && memmem(p, (size_t)len, s, strlen(s))) {
				snprintf(where, wsz, "entry %lld column %s", (long long)sqlite3_column_int64(st, 0),
					 sqlite3_column_name(st, i));
				found = 1;
				break;
			}
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(q);
	return found;
}

static void test_no_personal_data(void **state)
{
	static const char *const secrets[] = {
		"Zhangsanfeng", "张三丰", "13912345678", "139-1234-5678", "unique@example.com",
		"CARDX9931", "1977-03-14", "allergic to cats", "Lisiguang", "13655554444", "李四光",
	};
	const char *path = make_db("p.db");
	struct mbr_db *db = open_db(path);
	struct mbr_buf why = MBR_BUF_INIT;
	struct mbr_member m, dup, u;
	char where[80];
	size_t i;
	int updated;

	(void)state;
	assert_int_equal(mbr_begin(db), MBR_OK);
	mbr_member_clear(&m);
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_MEMBER_NO, "CARDX9931", &why), MBR_OK);
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_NAME, "Zhangsanfeng 张三丰", &why), MBR_OK);
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_PHONE, "139-1234-5678", &why), MBR_OK);
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_EMAIL, "unique@example.com", &why), MBR_OK);
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_BIRTHDAY, "1977-03-14", &why), MBR_OK);
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_NOTE, "allergic to cats", &why), MBR_OK);
	assert_int_equal(mbr_member_add(db, &m, 0), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);

	/* failed duplicates, an update naming the field, an upsert, freeze, erase */
	dup = m;
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_add(db, &dup, 0), MBR_EEXIST);
	assert_int_equal(mbr_rollback(db), MBR_OK);
	assert_int_equal(mbr_begin(db), MBR_OK);
	assert_int_equal(mbr_member_set_field(db, &m, MBR_F_NAME, "Lisiguang 李四光", &why), MBR_OK);
	assert_int_equal(mbr_member_update(db, &m, "name"), MBR_OK);
	mbr_member_clear(&u);
	assert_int_equal(mbr_member_set_field(db, &u, MBR_F_MEMBER_NO, "CARDX9931", &why), MBR_OK);
	assert_int_equal(mbr_member_set_field(db, &u, MBR_F_PHONE, "13655554444", &why), MBR_OK);
	assert_int_equal(mbr_member_upsert(db, &u, 0, &updated), MBR_OK);
	assert_int_equal(updated, 1);
	assert_int_equal(mbr_member_set_status(db, m.id, "frozen"), MBR_OK);
	assert_int_equal(mbr_points_change(db, &u, "adjust", 5, "birthday gift"), MBR_OK);
	assert_int_equal(mbr_member_erase(db, m.id), MBR_OK);
	assert_int_equal(mbr_commit(db), MBR_OK);
	mbr_db_close(db);

	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (audit_contains(path, secrets[i], where, sizeof(where)))
			fail_msg("'%s' found in the audit log (%s)", secrets[i], where);
	/* but the member is named by uid */
	assert_true(audit_contains(path, m.uid, where, sizeof(where)));
	mbr_buf_release(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_change_audited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_triggers_block_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampering_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_key_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_key_cannot_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_personal_data, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
