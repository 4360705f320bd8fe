/*
 * check.c - proving a database sound, and online backup and restore.
 *
 * mbr_db_check runs SQLite's integrity and foreign-key checks, compares
 * every cached balance with its ledger, and verifies the audit chain.
 * Backups go through the SQLite online backup API into a temporary file
 * that is then gzip-compressed; restore reverses that, checks the copy,
 * and copies it over the target with the backup API again, so other
 * connections see either the old or the new database, never a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"
#include "banned.h"

static int report_rows(struct mbr_db *db, const char *sql, const char *prefix,
		       mbr_problem_fn fn, void *ctx, int *problems)
{
	sqlite3_stmt *st;
	struct mbr_buf b = MBR_BUF_INIT;
	int rc, i;

	if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) != SQLITE_OK)
		return mbr_db_sqlerr(db, "check");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int n = sqlite3_column_count(st);
		const char *first = (const char *)sqlite3_column_text(st, 0);

		if (n == 1 && first && !strcmp(first, "ok"))
			continue;
		mbr_buf_reset(&b);
		mbr_buf_adds(&b, prefix);
		for (i = 0; i < n; i++) {
			const char *t = (const char *)sqlite3_column_text(st, i);
			mbr_buf_adds(&b, i ? ", " : ": ");
			mbr_buf_adds(&b, t ? t : "NULL");
		}
		fn(b.buf, ctx);
		(*problems)++;
	}
	sqlite3_finalize(st);
	mbr_buf_release(&b);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "check");
}

int mbr_db_check(struct mbr_db *db, mbr_problem_fn fn, void *ctx)
{
	int problems = 0, rc;
	int64_t entries;

	if ((rc = report_rows(db, "PRAGMA integrity_check", "integrity", fn, ctx, &problems)) < 0 ||
	    (rc = report_rows(db, "PRAGMA foreign_key_check", "foreign key", fn, ctx, &problems)) < 0)
		return rc;
	rc = report_rows(db,
		"SELECT m.uid, 'cached ' || m.points, 'ledger ' || COALESCE(SUM(l.points), 0)"
		" FROM members m LEFT JOIN points_ledger l ON l.member = m.id"
		" GROUP BY m.id HAVING m.points != COALESCE(SUM(l.points), 0)",
		"points balance differs from ledger", fn, ctx, &problems);
	if (rc < 0)
		return rc;
	rc = report_rows(db,
		"SELECT m.uid, 'cached ' || m.sv_principal || '+' || m.sv_bonus,"
		" 'ledger ' || COALESCE(SUM(l.principal), 0) || '+' || COALESCE(SUM(l.bonus), 0)"
		" FROM members m LEFT JOIN sv_ledger l ON l.member = m.id GROUP BY m.id"
		" HAVING m.sv_principal != COALESCE(SUM(l.principal), 0) OR m.sv_bonus != COALESCE(SUM(l.bonus), 0)",
		"stored value differs from ledger", fn, ctx, &problems);
	if (rc < 0)
		return rc;
	rc = report_rows(db,
		"SELECT g.code, 'cached ' || g.principal || '+' || g.bonus,"
		" 'ledger ' || COALESCE(SUM(l.principal), 0) || '+' || COALESCE(SUM(l.bonus), 0)"
		" FROM gift_cards g LEFT JOIN sv_ledger l ON l.gift = g.code GROUP BY g.code"
		" HAVING g.principal != COALESCE(SUM(l.principal), 0) OR g.bonus != COALESCE(SUM(l.bonus), 0)",
		"gift card differs from ledger", fn, ctx, &problems);
	if (rc < 0)
		return rc;
	rc = report_rows(db,
		"SELECT 'member ' || uid, 'principal ' || sv_principal, 'bonus ' || sv_bonus FROM members"
		" WHERE sv_principal < 0 OR sv_bonus < 0",
		"stored value below zero", fn, ctx, &problems);
	if (rc < 0)
		return rc;
	rc = report_rows(db,
		"SELECT c.uid, 'cached ' || c.uses_left, 'ledger ' || COALESCE(SUM(l.uses), 0)"
		" FROM count_cards c LEFT JOIN count_card_ledger l ON l.card = c.id GROUP BY c.id"
		" HAVING c.uses_left != COALESCE(SUM(l.uses), 0) OR c.uses_left < 0",
		"count card uses differ from ledger", fn, ctx, &problems);
	if (rc < 0)
		return rc;
	rc = report_rows(db,
		"SELECT m.uid, 'open lots ' || COALESCE(SUM(t.remaining), 0), 'balance ' || m.points"
		" FROM members m LEFT JOIN points_lots t ON t.member = m.id AND t.remaining > 0"
		" GROUP BY m.id HAVING COALESCE(SUM(t.remaining), 0) > MAX(m.points, 0)",
		"open points lots exceed the balance", fn, ctx, &problems);
	if (rc < 0)
		return rc;
	if ((rc = mbr_agg_verify(db, fn, ctx, &problems)) < 0)
		return rc;
	rc = mbr_audit_verify(db, &entries);
	if (rc == MBR_EINVAL) {
		fn(mbr_db_errmsg(db), ctx);
		problems++;
	} else if (rc < 0) {
		return rc;
	}
	return problems ? mbr_db_fail(db, MBR_EINVAL, "%d problem%s found", problems, problems == 1 ? "" : "s") : 0;
}

/* ------------------------------------------------------------- backup */

/* path with its directory resolved (realpath), into out; -1 if it cannot be. */
static int resolved(const char *path, struct mbr_buf *out)
{
	const char *slash = strrchr(path, '/');
	struct mbr_buf dir = MBR_BUF_INIT;
	char *real;

	if (slash)
		mbr_buf_add(&dir, path, slash == path ? 1 : (size_t)(slash - path));
	else
		mbr_buf_adds(&dir, ".");
	real = realpath(dir.buf, NULL);
	mbr_buf_release(&dir);
	if (!real)
		return -1;
	mbr_buf_reset(out);
	mbr_buf_addf(out, "%s/%s", real, slash ? slash + 1 : path);
	free(real);
	return 0;
}

int mbr_same_file(const char *a, const char *b)
{
	struct mbr_buf ra = MBR_BUF_INIT, rb = MBR_BUF_INIT;
	struct stat sa, sb;
	int same;

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	same = resolved(a, &ra) == 0 && resolved(b, &rb) == 0 && !strcmp(ra.buf, rb.buf);
	mbr_buf_release(&ra);
	mbr_buf_release(&rb);
	return same;
}

/*
 * A backup must not land on the database's own files (the database, its
 * -wal, -shm and -journal, its key: overwriting the key loses every
 * member's personal data for good), nor on any existing file.
 */
static int backup_target_ok(struct mbr_db *db, const char *gzpath)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	struct mbr_buf b = MBR_BUF_INIT;
	struct stat st;
	size_t i;
	int same = mbr_same_file(gzpath, db->key_path);

	for (i = 0; !same && i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		mbr_buf_reset(&b);
		mbr_buf_addf(&b, "%s%s", db->path, suffix[i]);
		same = mbr_same_file(gzpath, b.buf);
	}
	mbr_buf_release(&b);
	if (same)
		return mbr_db_fail(db, MBR_EINVAL, "backup '%s' is one of the database's own files", gzpath);
	if (lstat(gzpath, &st) == 0)
		return mbr_db_fail(db, MBR_EEXIST, "backup '%s' exists; remove it first", gzpath);
	return 0;
}

/* A private temporary file next to path; returns its name in tmp. */
static int temp_beside(const char *path, struct mbr_buf *tmp)
{
	int fd;

	mbr_buf_reset(tmp);
	mbr_buf_addf(tmp, "%s.tmpXXXXXX", path);
	fd = mkstemp(tmp->buf);
	if (fd >= 0) {
		fchmod(fd, 0600);
		close(fd);
	}
	return fd < 0 ? -1 : 0;
}

static void unlink_db_files(const char *path)
{
	struct mbr_buf b = MBR_BUF_INIT;

	unlink(path);
	mbr_buf_addf(&b, "%s-wal", path);
	unlink(b.buf);
	mbr_buf_reset(&b);
	mbr_buf_addf(&b, "%s-shm", path);
	unlink(b.buf);
	mbr_buf_reset(&b);
	mbr_buf_addf(&b, "%s-journal", path);
	unlink(b.buf);
	mbr_buf_release(&b);
}

/* Copy database src (schema main) into a fresh connection to dst. */
static int copy_db(sqlite3 *src, sqlite3 *dst)
{
	sqlite3_backup *bk = sqlite3_backup_init(dst, "main", src, "main");
	int rc;

	if (!bk)
		return sqlite3_errcode(dst);
	do {
		rc = sqlite3_backup_step(bk, 256);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(50);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(bk);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int mbr_db_backup(struct mbr_db *db, const char *gzpath)
{
	struct mbr_buf tmp = MBR_BUF_INIT, out = MBR_BUF_INIT;
	sqlite3 *dst = NULL;
	char buf[65536];
	gzFile gz = NULL;
	int fd = -1, rc = 0, ofd;
	ssize_t n;

	if ((rc = backup_target_ok(db, gzpath)) < 0)
		return rc;
	if (temp_beside(gzpath, &tmp) < 0) {
		int e = errno;
		mbr_buf_release(&tmp);
		return mbr_db_fail(db, e == EACCES ? MBR_EPERM : MBR_EIO, "backup '%s': %s", gzpath, strerror(e));
	}
	if (sqlite3_open_v2(tmp.buf, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
	    copy_db(db->sql, dst) != SQLITE_OK) {
		rc = mbr_db_fail(db, MBR_EDB, "backup: %s", dst ? sqlite3_errmsg(dst) : "cannot open");
		goto out;
	}
	/* A backup copy is a plain rollback-journal file: restorable anywhere. */
	sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	sqlite3_close(dst);
	dst = NULL;

	mbr_buf_addf(&out, "%s.partXXXXXX", gzpath);
	ofd = mkstemp(out.buf);
	if (ofd < 0 || fchmod(ofd, 0600) < 0 || !(gz = gzdopen(ofd, "wb6"))) {
		rc = mbr_db_fail(db, MBR_EIO, "backup '%s': %s", gzpath, strerror(errno));
		goto out;
	}
	if ((fd = open(tmp.buf, O_RDONLY)) < 0) {
		rc = mbr_db_fail(db, MBR_EIO, "backup: %s", strerror(errno));
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (gzwrite(gz, buf, (unsigned)n) != n) {
			rc = mbr_db_fail(db, MBR_EIO, "backup '%s': write error", gzpath);
			goto out;
		}
	}
	if (n < 0) {
		rc = mbr_db_fail(db, MBR_EIO, "backup: %s", strerror(errno));
		goto out;
	}
	if (gzclose(gz) != Z_OK) {
		gz = NULL;
		rc = mbr_db_fail(db, MBR_EIO, "backup '%s': write error", gzpath);
		goto out;
	}
	gz = NULL;
	/* link, not rename: a file that appeared meanwhile is not replaced
	 * (rename only where the file system has no hard links) */
	if (link(out.buf, gzpath) == 0) {
		unlink(out.buf);
	} else if (errno == EEXIST) {
		rc = mbr_db_fail(db, MBR_EEXIST, "backup '%s' exists; remove it first", gzpath);
		goto out;
	} else if ((errno != EPERM && errno != ENOTSUP) || rename(out.buf, gzpath) < 0) {
		rc = mbr_db_fail(db, MBR_EIO, "backup '%s': %s", gzpath, strerror(errno));
		goto out;
	}
	mbr_buf_reset(&out);
	rc = mbr_audit_outside_tx(db, "db.backup", gzpath, "");
out:
	if (fd >= 0)
		close(fd);
	if (gz)
		gzclose(gz);
	if (dst)
		sqlite3_close(dst);
	unlink_db_files(tmp.buf);
	if (out.len)
		unlink(out.buf);
	mbr_buf_release(&tmp);
	mbr_buf_release(&out);
	return rc;
}

/*
 * Inflate a backup into path.  Strict, as gzip -t is: the file must be
 * gzip, end with its trailer (CRC and length, which inflate checks), and
 * hold nothing after it; gzread would take plain files as they are and
 * stop quietly at a missing trailer or trailing data.
 */
static int gunzip_to(const char *gzpath, const char *path, struct mbr_buf *err)
{
	unsigned char in[65536], out[65536];
	z_stream zs;
	int fd, outfd, zrc = Z_OK, rc = 0;
	ssize_t n = 0;

	if ((fd = open(gzpath, O_RDONLY)) < 0) {
		mbr_buf_addf(err, "backup '%s': %s", gzpath, strerror(errno));
		return MBR_EIO;
	}
	if ((outfd = open(path, O_WRONLY | O_TRUNC)) < 0) {
		mbr_buf_addf(err, "restore: %s", strerror(errno));
		close(fd);
		return MBR_EIO;
	}
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		mbr_buf_addf(err, "restore: out of memory");
		close(fd);
		close(outfd);
		return MBR_ENOMEM;
	}
	while (zrc != Z_STREAM_END) {
		if (zs.avail_in == 0) {
			if ((n = read(fd, in, sizeof(in))) < 0) {
				mbr_buf_addf(err, "backup '%s': %s", gzpath, strerror(errno));
				rc = MBR_EIO;
				break;
			}
			if (n == 0) {
				mbr_buf_addf(err, "backup '%s': cut short (unexpected end of gzip data)", gzpath);
				rc = MBR_EIO;
				break;
			}
			zs.next_in = in;
			zs.avail_in = (uInt)n;
		}
		zs.next_out = out;
		zs.avail_out = sizeof(out);
		zrc = inflate(&zs, Z_NO_FLUSH);
		if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
			mbr_buf_addf(err, "backup '%s': not a sound gzip file (%s)", gzpath,
				     zs.msg ? zs.msg : "bad data");
			rc = MBR_EIO;
			break;
		}
		if (sizeof(out) - zs.avail_out &&
		    write(outfd, out, sizeof(out) - zs.avail_out) != (ssize_t)(sizeof(out) - zs.avail_out)) {
			mbr_buf_addf(err, "restore: %s", strerror(errno));
			rc = MBR_EIO;
			break;
		}
	}
	/* nothing may follow the trailer */
	if (rc == 0 && (zs.avail_in > 0 || (n = read(fd, in, 1)) != 0)) {
		mbr_buf_addf(err, "backup '%s': data after the end of its gzip stream", gzpath);
		rc = MBR_EIO;
	}
	inflateEnd(&zs);
	close(fd);
	if (rc < 0) {
		close(outfd);
		return rc;
	}
	if (fsync(outfd) < 0 || close(outfd) < 0) {
		mbr_buf_addf(err, "restore: %s", strerror(errno));
		return MBR_EIO;
	}
	return 0;
}

int mbr_db_restore(const char *dbpath, const char *gzpath, struct mbr_buf *err)
{
	struct mbr_buf tmp = MBR_BUF_INIT;
	struct mbr_db *copydb = NULL;
	sqlite3 *dst = NULL;
	struct stat st;
	int rc;

	mbr_buf_reset(err);
	if (temp_beside(dbpath, &tmp) < 0) {
		int e = errno;
		mbr_buf_release(&tmp);
		mbr_buf_addf(err, "restore '%s': %s", dbpath, strerror(e));
		return e == EACCES ? MBR_EPERM : MBR_EIO;
	}
	if ((rc = gunzip_to(gzpath, tmp.buf, err)) < 0)
		goto out;
	/* The copy must be a sound mbr database before it replaces anything. */
	rc = mbr_db_open(tmp.buf, 0, "mbr-db", &copydb);
	if (rc == 0) {
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(copydb->sql, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK) {
			if (sqlite3_step(q) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(q, 0), "ok"))
				rc = mbr_db_fail(copydb, MBR_EDB, "integrity check failed");
			sqlite3_finalize(q);
		}
	}
	if (rc < 0) {
		mbr_buf_addf(err, "backup '%s' is not a sound mbr database: %s", gzpath, mbr_db_errmsg(copydb));
		rc = MBR_EDB;
		goto out;
	}
	{
		/* The key that will serve the restored database must be its own:
		 * check before anything is replaced. */
		const struct mbr_key *k;
		const char *env = getenv("MBR_KEY");
		struct mbr_buf kp = MBR_BUF_INIT;

		if (env && *env)
			mbr_buf_adds(&kp, env);
		else
			mbr_buf_addf(&kp, "%s.key", dbpath);
		free(copydb->key_path);
		copydb->key_path = strdup(kp.buf);
		mbr_buf_release(&kp);
		/* messages name the backup, not the temporary copy */
		free(copydb->path);
		copydb->path = strdup(gzpath);
		if (!copydb->key_path || !copydb->path)
			abort();
		if ((rc = mbr_db_key(copydb, &k)) < 0) {
			mbr_buf_addf(err, "not restored: %s (the key is not in the backup: put the database's"
				     " key file there, or name it with MBR_KEY)", mbr_db_errmsg(copydb));
			goto out;
		}
	}
	if (stat(dbpath, &st) < 0) {
		/* No database yet: the checked copy becomes it. */
		mbr_db_close(copydb);
		copydb = NULL;
		if (rename(tmp.buf, dbpath) < 0) {
			mbr_buf_addf(err, "restore '%s': %s", dbpath, strerror(errno));
			rc = MBR_EIO;
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (sqlite3_open_v2(dbpath, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		mbr_buf_addf(err, "restore '%s': %s", dbpath, sqlite3_errmsg(dst));
		rc = MBR_EIO;
		goto out;
	}
	sqlite3_busy_timeout(dst, 60000);
	if ((rc = copy_db(copydb->sql, dst)) != SQLITE_OK) {
		mbr_buf_addf(err, "restore '%s': %s", dbpath, sqlite3_errmsg(dst));
		rc = rc == SQLITE_READONLY ? MBR_EPERM : MBR_EDB;
		goto out;
	}
	rc = 0;
out:
	if (rc == 0) {
		/* Live databases run in WAL mode; a restored one too. */
		sqlite3 *w = NULL;
		if (sqlite3_open_v2(dbpath, &w, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
			sqlite3_exec(w, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
		sqlite3_close(w);
	}
	if (copydb)
		mbr_db_close(copydb);
	if (dst)
		sqlite3_close(dst);
	unlink_db_files(tmp.buf);
	mbr_buf_release(&tmp);
	return rc;
}
