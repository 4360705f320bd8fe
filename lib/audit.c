/*
 * audit.c - the audit log: every change is one append-only row (operator,
 * program, action, target, detail, time), hash-chained with a key kept
 * outside the database, so that editing, reordering or removing a row in
 * the middle of the log is detected by mbr_audit_verify.
 *
 * Entry i stores hash_i = H_k(hash_{i-1} || canonical(entry i)), with
 * hash_0 all zeros and H_k the keyed BLAKE2b of crypto.c.  The canonical
 * form length-prefixes every field, so no two entries serialise alike.
 * Audit text never holds personal data: callers name members by uid.
 *
 * Imports are audited per batch (one entry with the counts), not per row;
 * each imported row records its batch, which ties it to that entry.
 */
#include <string.h>

#include "internal.h"
#include "banned.h"

static void put_field(struct mbr_buf *b, const char *s)
{
	size_t n = strlen(s);

	mbr_buf_addf(b, "%zu:", n);
	mbr_buf_add(b, s, n);
}

static void canonical(struct mbr_buf *b, int64_t id, int64_t ts, const char *op, const char *prog,
		      const char *action, const char *target, const char *detail)
{
	mbr_buf_reset(b);
	mbr_buf_addf(b, "%lld|%lld|", (long long)id, (long long)ts);
	put_field(b, op);
	put_field(b, prog);
	put_field(b, action);
	put_field(b, target);
	put_field(b, detail);
}

int mbr_audit(struct mbr_db *db, const char *action, const char *target, const char *detail)
{
	const struct mbr_key *key;
	unsigned char prev[MBR_CHAIN_BYTES] = { 0 }, hash[MBR_CHAIN_BYTES];
	struct mbr_buf b = MBR_BUF_INIT;
	sqlite3_stmt *st;
	int64_t id = 1, ts = mbr_now();
	int rc;

	if ((rc = mbr_db_key(db, &key)) < 0)
		return rc;
	/* The caller holds the write lock (BEGIN IMMEDIATE), so the tail is stable. */
	st = mbr_stmt(db, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1");
	if (!st)
		return MBR_EDB;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0) + 1;
		if (sqlite3_column_bytes(st, 1) == MBR_CHAIN_BYTES)
			memcpy(prev, sqlite3_column_blob(st, 1), MBR_CHAIN_BYTES);
	} else if (rc != SQLITE_DONE) {
		return mbr_db_sqlerr(db, "audit");
	}
	sqlite3_reset(st);

	target = target ? target : "";
	detail = detail ? detail : "";
	canonical(&b, id, ts, db->operator, db->program, action, target, detail);
	mbr_chain_hash(key, prev, b.buf, b.len, hash);
	mbr_buf_release(&b);

	st = mbr_stmt(db, "INSERT INTO audit(id, ts, operator, program, action, target, detail, hash)"
			  " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_text(st, 3, db->operator, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, db->program, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 8, hash, sizeof(hash), SQLITE_STATIC);
	return mbr_stmt_done(db, st);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

int mbr_audit_verify(struct mbr_db *db, int64_t *entries)
{
	const struct mbr_key *key;
	unsigned char prev[MBR_CHAIN_BYTES] = { 0 }, hash[MBR_CHAIN_BYTES];
	struct mbr_buf b = MBR_BUF_INIT;
	sqlite3_stmt *st;
	int64_t n = 0, expect = 1;
	int rc;

	*entries = 0;
	if ((rc = mbr_db_key(db, &key)) < 0)
		return rc;
	st = mbr_stmt(db, "SELECT id, ts, operator, program, action, target, detail, hash FROM audit ORDER BY id");
	if (!st)
		return MBR_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);

		if (id != expect) {
			rc = mbr_db_fail(db, MBR_EINVAL, "audit log: entry %lld is missing", (long long)expect);
			goto out;
		}
		canonical(&b, id, sqlite3_column_int64(st, 1), col_text(st, 2), col_text(st, 3),
			  col_text(st, 4), col_text(st, 5), col_text(st, 6));
		mbr_chain_hash(key, prev, b.buf, b.len, hash);
		if (sqlite3_column_bytes(st, 7) != MBR_CHAIN_BYTES ||
		    memcmp(sqlite3_column_blob(st, 7), hash, MBR_CHAIN_BYTES)) {
			rc = mbr_db_fail(db, MBR_EINVAL, "audit log: entry %lld was altered (hash chain broken)", (long long)id);
			goto out;
		}
		memcpy(prev, hash, sizeof(prev));
		n++;
		expect++;
	}
	rc = rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "audit");
out:
	sqlite3_reset(st);
	mbr_buf_release(&b);
	*entries = n;
	return rc;
}

int mbr_audit_outside_tx(struct mbr_db *db, const char *action, const char *target, const char *detail)
{
	int rc;

	if ((rc = mbr_begin(db)) < 0)
		return rc;
	if ((rc = mbr_audit(db, action, target, detail)) < 0) {
		mbr_rollback(db);
		return rc;
	}
	return mbr_commit(db);
}

int mbr_audit_each(struct mbr_db *db, mbr_audit_fn fn, void *ctx)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT id, ts, operator, program, action, target, detail FROM audit ORDER BY id");
	struct mbr_audit_entry e;
	int rc;

	if (!st)
		return MBR_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;

		e.id = sqlite3_column_int64(st, 0);
		e.ts = sqlite3_column_int64(st, 1);
		e.operator = col_text(st, 2);
		e.program = col_text(st, 3);
		e.action = col_text(st, 4);
		e.target = col_text(st, 5);
		e.detail = col_text(st, 6);
		if ((r = fn(&e, ctx)) != 0) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "audit");
}
