/*
 * db.c - the database handle: creating and opening the SQLite file,
 * migrations, settings, transactions, the prepared-statement cache,
 * chain-unique keys, operators and roles, batches.
 *
 * This is the only module that calls sqlite3_open.  A database is created
 * only by mbr_db_init (and mbr_db_restore), never because a name was
 * mistyped; the file and its WAL/SHM companions are owner-only (0600).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "banned.h"

/* How long a writer waits for another one before giving up (ms). */
#define MBR_BUSY_MS_DEFAULT (10 * 60 * 1000)

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p) {
		fputs("mbr: out of memory\n", stderr);
		abort();
	}
	return p;
}

int mbr_db_fail(struct mbr_db *db, int code, const char *fmt, ...)
{
	va_list ap;

	mbr_buf_reset(&db->err);
	va_start(ap, fmt);
	mbr_buf_vaddf(&db->err, fmt, ap);
	va_end(ap);
	return code;
}

const char *mbr_db_errmsg(struct mbr_db *db)
{
	return db->err.len ? db->err.buf : "no error";
}

int mbr_db_sqlerr(struct mbr_db *db, const char *what)
{
	int rc = db->sql ? sqlite3_extended_errcode(db->sql) : SQLITE_CANTOPEN;
	const char *msg = db->sql ? sqlite3_errmsg(db->sql) : "cannot open";
	int code = MBR_EDB;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = MBR_EBUSY;
		break;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		code = MBR_EPERM;
		break;
	case SQLITE_CONSTRAINT:
		code = MBR_EEXIST;
		break;
	case SQLITE_NOMEM:
		code = MBR_ENOMEM;
		break;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
		code = MBR_EIO;
		break;
	}
	return mbr_db_fail(db, code, "%s: %s", what, msg);
}

int mbr_db_exec(struct mbr_db *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db->sql, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = mbr_db_sqlerr(db, "database");
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

/* The statement for sql, reset, its bindings cleared when clear; pending
 * ledger entries written first if it names points_ledger, unless
 * settled. */
static sqlite3_stmt *stmt_get(struct mbr_db *db, const char *sql, int clear, int settled)
{
	/* statements are named by their text's address (a literal), and
	 * found first through a hint indexed by that address */
	unsigned char *hint = &db->cache_hint[((uintptr_t)sql >> 3) & 255];
	sqlite3_stmt *st;
	int i = *hint - 1;

	if (i < 0 || db->cache[i].sql != sql)
		for (i = 0; i < db->ncache && db->cache[i].sql != sql; i++)
			;
	if (i < db->ncache) {
		*hint = (unsigned char)(i + 1);
		if (db->cache[i].ledger && !settled && db->pending && mbr_points_ledger_flush(db) < 0)
			return NULL;
		st = db->cache[i].stmt;
		sqlite3_reset(st);
		if (clear)
			sqlite3_clear_bindings(st);
		return st;
	}
	if (db->pending && !settled && strstr(sql, "points_ledger") && mbr_points_ledger_flush(db) < 0)
		return NULL;
	if (sqlite3_prepare_v3(db->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		mbr_db_sqlerr(db, "prepare");
		return NULL;
	}
	if (db->ncache < MBR_STMT_CACHE) {
		db->cache[db->ncache].sql = sql;
		db->cache[db->ncache].stmt = st;
		db->cache[db->ncache].ledger = strstr(sql, "points_ledger") != NULL;
		*hint = (unsigned char)(db->ncache + 1);
		db->ncache++;
	} else {
		/* Cache full: a programming error; keep working, leak nothing. */
		sqlite3_finalize(st);
		mbr_db_fail(db, MBR_EDB, "statement cache full");
		return NULL;
	}
	return st;
}

int mbr_stmt_done(struct mbr_db *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		rc = mbr_db_sqlerr(db, "database");
		sqlite3_reset(st);
		return rc;
	}
	sqlite3_reset(st);
	return 0;
}

sqlite3_stmt *mbr_stmt(struct mbr_db *db, const char *sql)
{
	return stmt_get(db, sql, 1, 0);
}

sqlite3_stmt *mbr_stmt_settled(struct mbr_db *db, const char *sql)
{
	return stmt_get(db, sql, 1, 1);
}

int mbr_query_i64(struct mbr_db *db, const char *sql, const char *what, int64_t *v)
{
	sqlite3_stmt *st = mbr_stmt(db, sql);
	int rc;

	if (!st)
		return MBR_EDB;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : mbr_db_sqlerr(db, what);
}

/* The binders bind every parameter of their rows (NULLs too): no
 * bindings to clear. */
int mbr_rows_write(struct mbr_db *db, const struct mbr_rows_sql *q, size_t n, mbr_bind_row_fn bind, void *ctx)
{
	static const size_t rows[3] = { 1, 4, 16 };
	size_t i = 0, j;
	int k, rc;

	while (i < n) {
		sqlite3_stmt *st;

		for (k = 2; rows[k] > n - i; k--)
			;
		if (!(st = stmt_get(db, q->sql[k], 0, 0)))
			return MBR_EDB;
		for (j = 0; j < rows[k]; j++, i++)
			bind(st, (int)j * q->ncols, i, ctx);
		if ((rc = mbr_stmt_done(db, st)) < 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------- opening */

/* Set the journal mode: SQLITE_OK, SQLITE_BUSY if SQLite kept another. */
static int journal_mode(sqlite3 *sql, const char *mode)
{
	char q[48];
	sqlite3_stmt *st;
	int rc, same = 0;

	snprintf(q, sizeof(q), "PRAGMA journal_mode = %s", mode);	/* mode: a literal of ours */
	if ((rc = sqlite3_prepare_v2(sql, q, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		same = !sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), mode);
	sqlite3_finalize(st);
	/*
	 * Pages cached from the log may be stale: other connections' commits
	 * since this one's last read were in the log, which the change just
	 * checkpointed, and the file's change counter (all a rollback journal
	 * reader compares) may not say so.  Drop them: a bulk import that then
	 * wrote from a stale index page broke the index (test_bulk_ledger).
	 */
	if (rc == SQLITE_ROW && same)
		sqlite3_db_release_memory(sql);
	if (rc == SQLITE_ROW)
		return same ? SQLITE_OK : SQLITE_BUSY;
	return rc == SQLITE_LOCKED ? SQLITE_BUSY : rc;
}

/* Is the connection's journal the write-ahead log?  (After a first read:
 * until then SQLite has not looked at the file.) */
static int is_wal(sqlite3 *sql)
{
	sqlite3_stmt *st;
	int wal = 0;

	if (sqlite3_prepare_v2(sql, "PRAGMA journal_mode", -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		wal = !sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	return wal;
}

static int busy_ms(void)
{
	const char *s = getenv("MBR_BUSY_TIMEOUT");

	if (s && *s)
		return atoi(s) * 1000;
	return MBR_BUSY_MS_DEFAULT;
}

/* Set the journal mode, waiting at most ms for other programs' locks:
 * SQLITE_OK, or SQLITE_BUSY (or another error) with the mode unchanged. */
static int journal_try(struct mbr_db *db, const char *mode, int ms)
{
	int rc;

	sqlite3_busy_timeout(db->sql, ms);
	rc = journal_mode(db->sql, mode);
	sqlite3_busy_timeout(db->sql, busy_ms());
	return rc;
}

static void default_operator(char *out, size_t n)
{
	const char *env = getenv("MBR_OPERATOR");
	struct passwd *pw;

	if (env && *env) {
		mbr_copy(out, n, env);
		return;
	}
	pw = getpwuid(geteuid());
	if (pw && pw->pw_name)
		mbr_copy(out, n, pw->pw_name);
	else
		snprintf(out, n, "uid%ld", (long)geteuid());
}

static struct mbr_db *db_new(const char *path, unsigned flags, const char *program)
{
	static int configured;
	struct mbr_db *db = calloc(1, sizeof(*db));
	const char *kp = getenv("MBR_KEY");
	struct mbr_buf b = MBR_BUF_INIT;

	if (!db) {
		fputs("mbr: out of memory\n", stderr);
		abort();
	}
	if (!configured) {
		/* No allocation statistics (each costs a global mutex).
		 * Multi-thread mode: a sale import looks members up through a
		 * second connection in its reading thread (sale.c); a
		 * connection is never used by two threads at once, so
		 * connections take no mutex of their own (NOMUTEX below). */
		sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
		sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
		configured = 1;
	}
	mbr_buf_init(&db->err);
	db->path = xstrdup(path);
	if (kp && *kp) {
		db->key_path = xstrdup(kp);
	} else {
		mbr_buf_addf(&b, "%s.key", path);
		db->key_path = xstrdup(b.buf);
		mbr_buf_release(&b);
	}
	db->flags = flags;
	db->role = -1;
	db->exp = 2;
	mbr_copy(db->program, sizeof(db->program), program ? program : "mbr");
	default_operator(db->operator, sizeof(db->operator));
	return db;
}

/*
 * The page cache is most of the memory a run takes: 12 MiB keeps the
 * largest import under 32 MiB resident.  MBR_CACHE_KIB overrides it
 * (for benchmarks).
 */
int mbr_db_cache_default(struct mbr_db *db)
{
	const char *e = getenv("MBR_CACHE_KIB");
	long kib = e && *e ? atol(e) : 12288;
	char sql[64];

	if (kib < 1024)
		kib = 1024;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%ld", kib);	/* a number, not data */
	return mbr_db_exec(db, sql);
}

/* Pragmas every connection gets. */
static int db_configure(struct mbr_db *db)
{
	/*
	 * SQLite's page cache frees and reallocates pages all through a big
	 * transaction; with glibc's default trim threshold every free at the
	 * top of the heap gave memory back and the next malloc asked again
	 * (a quarter of a million brk calls per 300k sale lines).  Keep it.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_TOP_PAD, 4 * 1024 * 1024);
	/* a view never waits: a page it may not read stays so (view.c) */
	sqlite3_busy_timeout(db->sql, (db->flags & MBR_OPEN_IMMUTABLE) ? 0 : busy_ms());
	sqlite3_extended_result_codes(db->sql, 1);
	{
		int rc = mbr_db_cache_default(db);

		if (rc < 0)
			return rc;
	}
	return mbr_db_exec(db,
		"PRAGMA foreign_keys = ON;"
		"PRAGMA synchronous = NORMAL;"
		"PRAGMA temp_store = FILE;");
}

static int load_settings(struct mbr_db *db)
{
	char v[64];
	int rc;

	if ((rc = mbr_setting_get(db, "currency_exp", v, sizeof(v))) == 0)
		db->exp = atoi(v);
	else if (rc != MBR_ENOTFOUND)
		return rc;
	if ((rc = mbr_setting_get(db, "store_code", db->store, sizeof(db->store))) < 0)
		return rc == MBR_ENOTFOUND ? mbr_db_fail(db, MBR_EDB, "database '%s' has no store_code setting", db->path) : rc;
	if (mbr_setting_get(db, "time_zone", v, sizeof(v)) == 0 && mbr_time_set_zone(v) < 0)
		return mbr_db_fail(db, MBR_EDB, "database '%s': unknown time zone '%s'", db->path, v);
	return 0;
}

/*
 * The first read of a database failed.  A WAL database cannot even be
 * read where SQLite may not create its -shm file, in a read-only
 * directory or file system: that is the file permissions refusing, not
 * a foreign file.
 */
static int first_read_failed(struct mbr_db *db, const char *path)
{
	const char *slash = strrchr(path, '/');
	struct mbr_buf dir = MBR_BUF_INIT;
	int rc = sqlite3_errcode(db->sql) & 0xff;

	if (rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN) {
		if (slash)
			mbr_buf_add(&dir, path, slash == path ? 1 : (size_t)(slash - path));
		else
			mbr_buf_adds(&dir, ".");
		if (access(dir.buf, W_OK) < 0) {
			rc = mbr_db_fail(db, MBR_EPERM, "database '%s' cannot be opened: directory '%s': %s"
					 " (SQLite keeps the database's -shm and -wal files there)",
					 path, dir.buf, strerror(errno));
			mbr_buf_release(&dir);
			return rc;
		}
		mbr_buf_release(&dir);
	}
	return mbr_db_fail(db, MBR_EDB, "'%s' is not an mbr database (%s)", path, sqlite3_errmsg(db->sql));
}

int mbr_db_open(const char *path, unsigned flags, const char *program, struct mbr_db **out)
{
	struct mbr_db *db = db_new(path, flags, program);
	struct stat st;
	int oflags = (flags & MBR_OPEN_RW) ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	/* the default VFS with what a held import's view needs (view.c) */
	const char *vfs = mbr_view_register() == 0 ? MBR_VFS : NULL;
	int v;

	*out = db;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return mbr_db_fail(db, MBR_EIO, "database '%s' does not exist (create it with mbr-db init)", path);
		return mbr_db_fail(db, errno == EACCES ? MBR_EPERM : MBR_EIO, "database '%s': %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return mbr_db_fail(db, MBR_EIO, "database '%s' is not a regular file", path);
	if (access(path, R_OK) < 0)
		return mbr_db_fail(db, MBR_EPERM, "database '%s': %s", path, strerror(errno));
	/*
	 * A reader that may write the file opens it for writing but answers
	 * only queries: SQLite's last connection to close then removes the
	 * -wal and -shm files, which a read-only connection leaves behind
	 * (a cron report would litter the directory).
	 */
	if (!(flags & MBR_OPEN_RW) && access(path, W_OK) == 0)
		oflags = SQLITE_OPEN_READWRITE;
	if (flags & MBR_OPEN_IMMUTABLE) {
		/* no locks, no journal or log looked at: see view.c */
		struct mbr_buf uri = MBR_BUF_INIT;
		const char *c;

		mbr_buf_adds(&uri, "file:");
		for (c = path; *c; c++)
			if (*c == '%' || *c == '?' || *c == '#')
				mbr_buf_addf(&uri, "%%%02X", (unsigned char)*c);
			else
				mbr_buf_addc(&uri, *c);
		mbr_buf_adds(&uri, "?immutable=1&mbr_view=1");
		v = vfs ? sqlite3_open_v2(uri.buf, &db->sql, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
					  vfs)
			: SQLITE_CANTOPEN;
		mbr_buf_release(&uri);
		if (v != SQLITE_OK)
			return mbr_db_fail(db, MBR_EDB, "database '%s': no view of it (%s)", path,
					   db->sql ? sqlite3_errmsg(db->sql) : "no VFS");
	} else if (sqlite3_open_v2(path, &db->sql, oflags | SQLITE_OPEN_NOMUTEX, vfs) != SQLITE_OK) {
		return mbr_db_sqlerr(db, path);
	}
	if ((flags & MBR_OPEN_RW) && sqlite3_db_readonly(db->sql, "main") == 1)
		return mbr_db_fail(db, MBR_EPERM, "database '%s' is read-only", path);
	if (!(flags & MBR_OPEN_RW) && oflags == SQLITE_OPEN_READWRITE &&
	    sqlite3_exec(db->sql, "PRAGMA query_only = ON", NULL, NULL, NULL) != SQLITE_OK)
		return mbr_db_sqlerr(db, path);
	if (db_configure(db) < 0 || (v = mbr_db_version(db)) < 0)
		return first_read_failed(db, path);
	if (v == 0)
		return mbr_db_fail(db, MBR_EDB, "'%s' is not an mbr database", path);
	if (v > mbr_nmigrations)
		return mbr_db_fail(db, MBR_EDB, "database '%s' has schema version %d, newer than this mbr (%d)",
				   path, v, mbr_nmigrations);
	if (v < mbr_nmigrations && !(flags & MBR_OPEN_MIGRATE))
		return mbr_db_fail(db, MBR_EDB, "database '%s' has schema version %d; run mbr-db migrate (version %d)",
				   path, v, mbr_nmigrations);
	/* back to the log if an import that held the database could not put
	 * it back (see begin); not now if another program has it */
	if ((flags & MBR_OPEN_RW) && !is_wal(db->sql))
		(void)journal_try(db, "WAL", 0);
	return load_settings(db);
}

void mbr_db_close(struct mbr_db *db)
{
	int i;

	if (!db)
		return;
	if (db->held && db->sql)
		mbr_view_end(db->sql);	/* closed in its held transaction */
	for (i = 0; i < db->ncache; i++)
		sqlite3_finalize(db->cache[i].stmt);
	if (db->sql)
		sqlite3_close(db->sql);
	if (db->key)
		mbr_key_free(db->key);
	mbr_points_pending_drop(db);
	free(db->path);
	free(db->key_path);
	mbr_buf_release(&db->err);
	free(db);
}

/* The key's fingerprint: a keyed hash of a fixed text, as hex. */
static void key_fingerprint(const struct mbr_key *k, char hex[2 * MBR_CHAIN_BYTES + 1])
{
	static const unsigned char zero[MBR_CHAIN_BYTES];
	static const char text[] = "mbr key check";
	unsigned char h[MBR_CHAIN_BYTES];
	int i;

	mbr_chain_hash(k, zero, text, sizeof(text) - 1, h);
	for (i = 0; i < MBR_CHAIN_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

/* Does the loaded key belong to this database (settings.key_check)? */
static int key_matches(struct mbr_db *db)
{
	char want[2 * MBR_CHAIN_BYTES + 1], have[2 * MBR_CHAIN_BYTES + 1];
	int rc = mbr_setting_get(db, "key_check", want, sizeof(want));

	if (rc == MBR_ENOTFOUND)
		return 0;	/* being created: init stores it */
	if (rc < 0)
		return rc;
	key_fingerprint(db->key, have);
	if (strcmp(want, have))
		return mbr_db_fail(db, MBR_EKEY, "key file '%s' does not belong to database '%s'",
				   db->key_path, db->path);
	return 0;
}

int mbr_db_key_ready(struct mbr_db *db)
{
	const struct mbr_key *key;

	return mbr_db_key(db, &key);
}

int mbr_db_key(struct mbr_db *db, const struct mbr_key **key)
{
	if (!db->key) {
		struct mbr_buf err = MBR_BUF_INIT;
		int rc = mbr_key_load(db->key_path, &db->key, &err);

		if (rc < 0) {
			mbr_db_fail(db, rc, "%s", err.buf);
			mbr_buf_release(&err);
			return rc;
		}
		mbr_buf_release(&err);
		/* A key of another database would seal, hash and chain wrongly
		 * for good: refuse it before it is used. */
		if ((rc = key_matches(db)) < 0) {
			mbr_key_free(db->key);
			db->key = NULL;
			return rc;
		}
	}
	*key = db->key;
	return 0;
}

int mbr_db_version(struct mbr_db *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db->sql, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return mbr_db_sqlerr(db, "schema version");
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	else
		mbr_db_sqlerr(db, "schema version");
	sqlite3_finalize(st);
	return v;
}

int mbr_db_latest_version(void)
{
	return mbr_nmigrations;
}

int mbr_db_migrate(struct mbr_db *db, int *from, int *to)
{
	struct mbr_buf sql = MBR_BUF_INIT;
	int v, rc;

	if ((rc = mbr_begin(db)) < 0)
		return rc;
	v = mbr_db_version(db);
	if (v < 0) {
		mbr_rollback(db);
		return MBR_EDB;
	}
	*from = v;
	for (; v < mbr_nmigrations; v++) {
		if ((rc = mbr_db_exec(db, mbr_migrations[v])) < 0)
			break;
		mbr_buf_reset(&sql);
		mbr_buf_addf(&sql, "PRAGMA user_version = %d", v + 1);	/* an integer literal; no bindings for PRAGMA */
		if ((rc = mbr_db_exec(db, sql.buf)) < 0)
			break;
	}
	mbr_buf_release(&sql);
	*to = v;
	if (rc < 0) {
		mbr_rollback(db);
		return rc;
	}
	if (*from != *to) {
		char detail[64];

		snprintf(detail, sizeof(detail), "schema %d -> %d", *from, *to);
		if (*from > 0 && (rc = mbr_audit(db, "db.migrate", "", detail)) < 0) {
			mbr_rollback(db);
			return rc;
		}
	}
	return mbr_commit(db);
}

/* ------------------------------------------------------------- init */

static int insert_setting(struct mbr_db *db, const char *k, const char *v)
{
	sqlite3_stmt *st = mbr_stmt(db, "INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)");

	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
	return mbr_stmt_done(db, st);
}

int mbr_store_code_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 16)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* A currency code: three upper-case ASCII letters, as ISO 4217 writes them (CNY, HKD). */
static int currency_valid(const char *s)
{
	int i;

	for (i = 0; i < 3; i++)
		if (!(s[i] >= 'A' && s[i] <= 'Z'))
			return 0;
	return s[3] == '\0';
}

int mbr_db_init(const char *path, const struct mbr_init_opts *o, struct mbr_buf *err)
{
	const char *store = o && o->store ? o->store : "S01";
	const char *role = o && o->role ? o->role : "store";
	const char *cur = o && o->currency ? o->currency : "CNY";
	const char *tz = o && o->time_zone ? o->time_zone : "Asia/Shanghai";
	int exp = o && o->exponent >= 0 ? o->exponent : 2;
	struct mbr_db *db;
	char num[16], pragma[48];
	int fd, rc, from, to;
	int key_created = 0;

	mbr_buf_reset(err);
	if (!mbr_store_code_valid(store)) {
		mbr_buf_addf(err, "store code '%s' must be 1-16 letters, digits or '_'", store);
		return MBR_EINVAL;
	}
	if (strcmp(role, "store") && strcmp(role, "hq")) {
		mbr_buf_addf(err, "role '%s' must be 'store' or 'hq'", role);
		return MBR_EINVAL;
	}
	if (!currency_valid(cur)) {
		mbr_buf_addf(err, "currency '%s' must be 3 upper-case letters (ISO 4217, e.g. CNY)", cur);
		return MBR_EINVAL;
	}
	if (exp < 0 || exp > 6) {
		mbr_buf_addf(err, "currency exponent %d must be 0-6", exp);
		return MBR_EINVAL;
	}
	if (mbr_time_set_zone(tz) < 0) {
		mbr_buf_addf(err, "unknown time zone '%s'", tz);
		return MBR_EINVAL;
	}
	if ((rc = mbr_crypto_init()) < 0) {
		mbr_buf_adds(err, "libsodium failed to start");
		return rc;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		mbr_buf_addf(err, errno == EEXIST ? "database '%s' already exists" : "database '%s': %s",
			     path, strerror(errno));
		return errno == EACCES ? MBR_EPERM : errno == EEXIST ? MBR_EEXIST : MBR_EIO;
	}
	fchmod(fd, 0600);	/* whatever the umask */
	close(fd);

	db = db_new(path, MBR_OPEN_RW, "mbr-db");
	if (o && o->key_path) {
		free(db->key_path);
		db->key_path = xstrdup(o->key_path);
	}
	if (access(db->key_path, F_OK) < 0) {
		if ((rc = mbr_key_generate(db->key_path, err)) < 0)
			goto fail;
		key_created = 1;
	}
	if (sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = mbr_db_sqlerr(db, path);
		goto fail_msg;
	}
	/* before anything is written: the file is empty until WAL mode is set */
	snprintf(pragma, sizeof(pragma), "PRAGMA page_size = %d", MBR_PAGE_SIZE);	/* a number of ours */
	if ((rc = mbr_db_exec(db, pragma)) < 0 || (rc = db_configure(db)) < 0 ||
	    (rc = mbr_db_exec(db, "PRAGMA journal_mode = WAL")) < 0)
		goto fail_msg;
	if ((rc = mbr_db_migrate(db, &from, &to)) < 0)
		goto fail_msg;
	mbr_copy(db->store, sizeof(db->store), store);
	db->exp = exp;
	snprintf(num, sizeof(num), "%d", exp);
	if ((rc = mbr_begin(db)) < 0)
		goto fail_msg;
	{
		const struct mbr_key *k;
		char fp[2 * MBR_CHAIN_BYTES + 1];

		if ((rc = mbr_db_key(db, &k)) < 0) {
			mbr_rollback(db);
			goto fail_msg;
		}
		key_fingerprint(k, fp);
		if ((rc = insert_setting(db, "key_check", fp)) < 0) {
			mbr_rollback(db);
			goto fail_msg;
		}
	}
	if ((rc = insert_setting(db, "store_code", store)) < 0 ||
	    (rc = insert_setting(db, "store_role", role)) < 0 ||
	    (rc = insert_setting(db, "currency", cur)) < 0 ||
	    (rc = insert_setting(db, "currency_exp", num)) < 0 ||
	    (rc = insert_setting(db, "time_zone", tz)) < 0 ||
	    (rc = mbr_store_add(db, store, "")) < 0 ||
	    (rc = mbr_grant(db, db->operator, MBR_ROLE_ADMIN)) < 0 ||
	    (rc = mbr_audit(db, "db.init", store, role)) < 0) {
		mbr_rollback(db);
		goto fail_msg;
	}
	if ((rc = mbr_commit(db)) < 0)
		goto fail_msg;
	mbr_db_close(db);
	return 0;

fail_msg:
	mbr_buf_reset(err);
	mbr_buf_adds(err, mbr_db_errmsg(db));
fail:
	if (key_created)
		unlink(db->key_path);
	mbr_db_close(db);
	unlink(path);
	{
		struct mbr_buf p = MBR_BUF_INIT;
		mbr_buf_addf(&p, "%s-wal", path);
		unlink(p.buf);
		mbr_buf_reset(&p);
		mbr_buf_addf(&p, "%s-shm", path);
		unlink(p.buf);
		mbr_buf_release(&p);
	}
	return rc;
}

/* ------------------------------------------------------------ settings */

int mbr_setting_get(struct mbr_db *db, const char *key, char *out, size_t outsz)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT value FROM settings WHERE key = ?");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		mbr_copy(out, outsz, (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return mbr_db_fail(db, MBR_ENOTFOUND, "no setting '%s'", key);
	return mbr_db_sqlerr(db, "settings");
}

/* Settings an admin may change, and how each is checked. */
static int setting_check(struct mbr_db *db, const char *key, const char *value)
{
	if (!strcmp(key, "time_zone")) {
		if (mbr_time_set_zone(value) < 0)
			return mbr_db_fail(db, MBR_EINVAL, "unknown time zone '%s'", value);
		return 0;
	}
	if (!strcmp(key, "currency")) {
		if (!currency_valid(value))
			return mbr_db_fail(db, MBR_EINVAL, "currency '%s' must be 3 upper-case letters (ISO 4217, e.g. CNY)", value);
		return 0;
	}
	if (!strcmp(key, "store_role")) {
		if (strcmp(value, "store") && strcmp(value, "hq"))
			return mbr_db_fail(db, MBR_EINVAL, "store_role '%s' must be 'store' or 'hq'", value);
		return 0;
	}
	if (!strcmp(key, "currency_exp") || !strcmp(key, "store_code"))
		return mbr_db_fail(db, MBR_EINVAL, "setting '%s' is fixed when the database is created", key);
	return mbr_db_fail(db, MBR_EINVAL, "unknown setting '%s'", key);
}

int mbr_setting_set(struct mbr_db *db, const char *key, const char *value)
{
	int rc;

	if ((rc = setting_check(db, key, value)) < 0)
		return rc;
	if ((rc = insert_setting(db, key, value)) < 0)
		return rc;
	/* business days follow the zone: sales and reports move with it
	 * (setting_check has made it the zone in use) */
	if (!strcmp(key, "time_zone")) {
		long moved;

		if ((rc = mbr_sales_redate(db, &moved)) < 0)
			return rc;
	}
	return mbr_audit(db, "setting.set", key, value);
}

int mbr_db_exponent(struct mbr_db *db)
{
	return db->exp;
}

const char *mbr_db_store(struct mbr_db *db)
{
	return db->store;
}

/* --------------------------------------------------------- transactions */

static void end_bulk(struct mbr_db *db);

/*
 * A bulk transaction, for sale and member imports.  SQLite's foreign-key
 * enforcement is off until it ends: an import writes only references it
 * has just checked or made (the store or tier it looked up, the member it
 * found, the sale it inserted, its batch), and enforcement cost a look-up
 * and a statement journal per row written, about a tenth of an import.
 * mbr-db check runs SQLite's foreign_key_check over everything.
 * Temporary storage is in memory, and statement journals with it (a
 * statement's undo, should it fail half-way; an import's statements each
 * change a few pages).  With temp_store FILE, the first statement whose
 * journal passed 64 KiB (16 sales written at once touch up to 20 index
 * pages) made the journal a temporary file for the rest of the
 * transaction, and every later statement wrote its pages there: 1.5
 * million write(2) calls per million sale lines.  member.c sets it back to
 * FILE for its index sorts.  (Both pragmas are set before BEGIN, which
 * fixes where the journals go, and reset after.)  Points balances are
 * written behind in it (points.c).
 *
 * When no other program has the database open, a bulk transaction holds
 * it: the database leaves the write-ahead log for a rollback journal
 * until the transaction ends.  In the log every page an import writes is
 * written twice, to the log and then by the checkpoint to the database
 * (510 MB for 3M sale lines); with a rollback journal the new pages that
 * are nearly all an import writes go to the database once, and only the
 * few pages it changes are copied to the journal first: an import took
 * about a fifth less time (3M sale lines, five pairs).  The cost: once
 * the transaction first spills pages to the file, other programs wait
 * for it to end to read as well as to write (MBR_BUSY_TIMEOUT), where in
 * the log they read what was there before.  MBR_SHARED_IMPORT (set, not
 * 0) keeps the log.  Synchronous is FULL meanwhile: with a rollback
 * journal NORMAL can lose the database to a power cut.  The log comes
 * back when the transaction ends (end_bulk), or, if another program then
 * holds the database, when the next program opens it to write.  (FULL is
 * set for every bulk transaction, before BEGIN as SQLite requires: in the
 * log it costs one more sync, at the commit.)
 */
static int shared_import(void)
{
	const char *s = getenv("MBR_SHARED_IMPORT");

	return s && *s && strcmp(s, "0");
}

static int begin(struct mbr_db *db, int bulk)
{
	int rc;

	if (db->in_tx)
		return mbr_db_fail(db, MBR_EDB, "transaction already open");
	if (bulk && (rc = mbr_db_exec(db, "PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;"
				      " PRAGMA synchronous = FULL")) < 0)
		return rc;
	db->bulk = bulk;
	/* not waiting: anyone else's lock means they have it open */
	if (bulk && !shared_import())
		(void)journal_try(db, "DELETE", 0);
	if ((rc = mbr_db_exec(db, "BEGIN IMMEDIATE")) < 0) {
		end_bulk(db);
		return rc;
	}
	db->in_tx = 1;
	db->uid_next = 0;
	/* known only now: another program may have changed it meanwhile */
	db->held = bulk && !is_wal(db->sql);
	if (db->held)
		mbr_view_track(db->sql);	/* before anything is written */
	return 0;
}

int mbr_begin(struct mbr_db *db)
{
	return begin(db, 0);
}

int mbr_begin_bulk(struct mbr_db *db)
{
	return begin(db, 1);
}

/* Write back the uid sequence kept in memory during the transaction. */
static int flush_uid(struct mbr_db *db)
{
	sqlite3_stmt *st;

	if (!db->uid_next)
		return 0;
	st = mbr_stmt(db, "INSERT OR REPLACE INTO sequences(kind, next) VALUES ('uid', ?)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, db->uid_next);
	return mbr_stmt_done(db, st);
}

/* Foreign keys back on after a bulk transaction, and the log if it held
 * the database (see begin).  Waiting a second at most for a reader: an
 * import that waits for the write lock meanwhile would have the log
 * wait for all of it; it puts the log back when it ends. */
static void end_bulk(struct mbr_db *db)
{
	if (db->held)
		mbr_view_end(db->sql);
	if (db->bulk) {
		db->bulk = 0;
		sqlite3_exec(db->sql, "PRAGMA foreign_keys = ON; PRAGMA temp_store = FILE; PRAGMA synchronous = NORMAL",
			     NULL, NULL, NULL);
		if (!is_wal(db->sql))
			(void)journal_try(db, "WAL", 1000);
	}
	db->held = 0;
}

int mbr_db_held(const struct mbr_db *db)
{
	return db->held;
}

int mbr_commit(struct mbr_db *db)
{
	int rc;

	if (!db->in_tx)
		return mbr_db_fail(db, MBR_EDB, "no transaction open");
	if ((rc = flush_uid(db)) < 0 || (rc = mbr_points_pending_flush(db)) < 0) {
		mbr_rollback(db);
		return rc;
	}
	if ((rc = mbr_db_exec(db, "COMMIT")) < 0) {
		mbr_rollback(db);
		return rc;
	}
	db->in_tx = 0;
	db->uid_next = 0;
	mbr_points_pending_drop(db);	/* written; its next ledger id is this transaction's */
	end_bulk(db);
	return 0;
}

int mbr_rollback(struct mbr_db *db)
{
	int i;

	if (!db->in_tx)
		return 0;
	for (i = 0; i < db->ncache; i++)
		sqlite3_reset(db->cache[i].stmt);
	db->in_tx = 0;
	db->uid_next = 0;
	db->nknown_store = 0;	/* one may have been added in what is undone */
	mbr_points_pending_drop(db);	/* balance changes undone with their entries */
	if (sqlite3_get_autocommit(db->sql)) {
		end_bulk(db);
		return 0;	/* SQLite already rolled back */
	}
	i = mbr_db_exec(db, "ROLLBACK");
	end_bulk(db);
	return i;
}

/*
 * One sequence per database serves every kind of chain-unique key, so
 * "S01-17" names exactly one row of one table chain-wide and keys never
 * need the kind in them.  The counter lives in memory during a
 * transaction and is written back at commit (one write per import, not
 * one per row).
 */
int mbr_db_next_uid(struct mbr_db *db, const char *kind, char *out)
{
	(void)kind;
	if (!db->in_tx)
		return mbr_db_fail(db, MBR_EDB, "chain-unique key outside a transaction");
	if (!db->uid_next) {
		sqlite3_stmt *st = mbr_stmt(db, "SELECT next FROM sequences WHERE kind = 'uid'");
		int rc;

		if (!st)
			return MBR_EDB;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			db->uid_next = sqlite3_column_int64(st, 0);
		else if (rc == SQLITE_DONE)
			db->uid_next = 1;
		else
			return mbr_db_sqlerr(db, "sequence");
		sqlite3_reset(st);
	}
	snprintf(out, 40, "%s-%lld", db->store, (long long)db->uid_next++);
	return 0;
}

/* ------------------------------------------------------------- stores */

int mbr_store_add(struct mbr_db *db, const char *code, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if (!mbr_store_code_valid(code))
		return mbr_db_fail(db, MBR_EINVAL, "store code '%s' must be 1-16 letters, digits or '_'", code);
	/* S01 and s01 would be two stores that people and tills mix up */
	st = mbr_stmt(db, "SELECT code FROM stores WHERE code = ?1 COLLATE NOCASE AND code != ?1");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char other[32];

		mbr_copy(other, sizeof(other), (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		return mbr_db_fail(db, MBR_EEXIST, "store '%s' differs from store '%s' only in case", code, other);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return mbr_db_sqlerr(db, "stores");
	st = mbr_stmt(db, "INSERT INTO stores(code, name, created_at) VALUES (?, ?, ?)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, mbr_now());
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc == MBR_EEXIST ? mbr_db_fail(db, rc, "store '%s' already exists", code) : rc;
	return mbr_audit(db, "store.add", code, name ? name : "");
}

int mbr_store_exists(struct mbr_db *db, const char *code)
{
	uint64_t h = mbr_hash_str(code);
	sqlite3_stmt *st;
	int rc, i;

	/* asked for each receipt imported: the codes of a chain (most have
	 * fewer than 64 stores) are remembered, each with a hash */
	for (i = 0; i < db->nknown_store; i++)
		if (db->known_store[i].hash == h && !strcmp(db->known_store[i].code, code))
			return 1;
	if (!(st = mbr_stmt(db, "SELECT 1 FROM stores WHERE code = ?")))
		return MBR_EDB;
	sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW) {
		if (strlen(code) < sizeof(db->known_store[0].code) &&
		    db->nknown_store < (int)(sizeof(db->known_store) / sizeof(db->known_store[0]))) {
			db->known_store[db->nknown_store].hash = h;
			mbr_copy(db->known_store[db->nknown_store++].code, sizeof(db->known_store[0].code), code);
		}
		return 1;
	}
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "stores");
}

int mbr_each_pair(struct mbr_db *db, const char *sql, mbr_name_fn fn, void *ctx)
{
	sqlite3_stmt *st = mbr_stmt(db, sql);
	int rc;

	if (!st)
		return MBR_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *a = sqlite3_column_text(st, 0), *b = sqlite3_column_text(st, 1);
		int r = fn(a ? (const char *)a : "", b ? (const char *)b : "", ctx);

		if (r) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "database");
}

int mbr_stores_each(struct mbr_db *db, mbr_name_fn fn, void *ctx)
{
	return mbr_each_pair(db, "SELECT code, name FROM stores ORDER BY code", fn, ctx);
}

int mbr_tiers_each(struct mbr_db *db, mbr_name_fn fn, void *ctx)
{
	return mbr_each_pair(db, "SELECT code, name FROM tiers ORDER BY rank", fn, ctx);
}

int mbr_tier_exists(struct mbr_db *db, const char *code)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT 1 FROM tiers WHERE code = ?");
	int rc;

	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "tiers");
}

/* ---------------------------------------------------- operators, roles */

static const char *const role_names[] = { "none", "cashier", "manager", "admin" };

const char *mbr_role_name(enum mbr_role r)
{
	return r >= MBR_ROLE_NONE && r <= MBR_ROLE_ADMIN ? role_names[r] : "none";
}

int mbr_role_parse(const char *s, enum mbr_role *r)
{
	int i;

	for (i = MBR_ROLE_NONE; i <= MBR_ROLE_ADMIN; i++) {
		if (!strcmp(s, role_names[i])) {
			*r = (enum mbr_role)i;
			return 0;
		}
	}
	return MBR_EINVAL;
}

/*
 * An operator name: 1-63 bytes, no control characters (it is printed in
 * audit lines, messages and tables); UTF-8 names such as 王芳 are fine.
 */
static int operator_name_check(struct mbr_db *db, const char *name)
{
	const unsigned char *p;

	if (!name || !*name || strlen(name) > 63)
		return mbr_db_fail(db, MBR_EINVAL, "operator name must be 1-63 bytes");
	for (p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return mbr_db_fail(db, MBR_EINVAL, "operator name must not hold control characters");
	return 0;
}

int mbr_set_operator(struct mbr_db *db, const char *name)
{
	int rc;

	if ((rc = operator_name_check(db, name)) < 0)
		return rc;
	mbr_copy(db->operator, sizeof(db->operator), name);
	db->role = -1;
	return 0;
}

const char *mbr_operator(struct mbr_db *db)
{
	return db->operator;
}

enum mbr_role mbr_operator_role(struct mbr_db *db)
{
	sqlite3_stmt *st;
	enum mbr_role r = MBR_ROLE_NONE;

	if (db->role >= 0)
		return (enum mbr_role)db->role;
	st = mbr_stmt(db, "SELECT role FROM operators WHERE name = ?");
	if (!st)
		return MBR_ROLE_NONE;
	sqlite3_bind_text(st, 1, db->operator, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		mbr_role_parse((const char *)sqlite3_column_text(st, 0), &r);
	sqlite3_reset(st);
	db->role = r;
	return r;
}

int mbr_require(struct mbr_db *db, enum mbr_role need, const char *action)
{
	enum mbr_role have = mbr_operator_role(db);

	if (have >= need)
		return 0;
	if (have == MBR_ROLE_NONE)
		return mbr_db_fail(db, MBR_EPERM,
				   "operator '%s' has no role in this database; %s needs %s (an admin can run: mbr-db grant %s %s)",
				   db->operator, action, mbr_role_name(need), db->operator, mbr_role_name(need));
	return mbr_db_fail(db, MBR_EPERM, "operator '%s' is %s; %s needs %s",
			   db->operator, mbr_role_name(have), action, mbr_role_name(need));
}

int mbr_grant(struct mbr_db *db, const char *name, enum mbr_role r)
{
	sqlite3_stmt *st;
	int rc, last;

	if ((rc = operator_name_check(db, name)) < 0)
		return rc;
	if (r < MBR_ROLE_NONE || r > MBR_ROLE_ADMIN)
		return mbr_db_fail(db, MBR_EINVAL, "no such role");
	if (r < MBR_ROLE_ADMIN) {
		/* nobody could grant, restore or migrate any more */
		st = mbr_stmt(db, "SELECT EXISTS (SELECT 1 FROM operators WHERE name = ?1 AND role = 'admin')"
				  " AND NOT EXISTS (SELECT 1 FROM operators WHERE name != ?1 AND role = 'admin')");
		if (!st)
			return MBR_EDB;
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		last = rc == SQLITE_ROW && sqlite3_column_int(st, 0);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW)
			return mbr_db_sqlerr(db, "operators");
		if (last)
			return mbr_db_fail(db, MBR_EINVAL, "refusing to take the admin role from '%s', the last admin", name);
	}
	if (r == MBR_ROLE_NONE) {
		st = mbr_stmt(db, "DELETE FROM operators WHERE name = ?");
		if (!st)
			return MBR_EDB;
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	} else {
		st = mbr_stmt(db, "INSERT OR REPLACE INTO operators(name, role, granted_at, granted_by) VALUES (?, ?, ?, ?)");
		if (!st)
			return MBR_EDB;
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, mbr_role_name(r), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, mbr_now());
		sqlite3_bind_text(st, 4, db->operator, -1, SQLITE_STATIC);
	}
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	if (!strcmp(name, db->operator))
		db->role = -1;
	return mbr_audit(db, r == MBR_ROLE_NONE ? "operator.revoke" : "operator.grant", name, mbr_role_name(r));
}

int mbr_operators_each(struct mbr_db *db, mbr_operator_fn fn, void *ctx)
{
	sqlite3_stmt *st = mbr_stmt(db, "SELECT name, role FROM operators ORDER BY name");
	int rc;

	if (!st)
		return MBR_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum mbr_role r = MBR_ROLE_NONE;
		int x;

		mbr_role_parse((const char *)sqlite3_column_text(st, 1), &r);
		if ((x = fn((const char *)sqlite3_column_text(st, 0), r, ctx)) != 0) {
			sqlite3_reset(st);
			return x;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "operators");
}

/* ------------------------------------------------------------- batches */

int mbr_batch_start(struct mbr_db *db, const char *kind, const char *source, int64_t *batch)
{
	sqlite3_stmt *st;
	char uid[40];
	int rc;

	if ((rc = mbr_db_next_uid(db, "batch", uid)) < 0)
		return rc;
	st = mbr_stmt(db, "INSERT INTO batches(uid, kind, source, operator, started_at) VALUES (?, ?, ?, ?, ?)");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, source ? source : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, db->operator, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, mbr_now());
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	*batch = sqlite3_last_insert_rowid(db->sql);
	return 0;
}

int mbr_batch_find(struct mbr_db *db, const char *key, int64_t *batch)
{
	sqlite3_stmt *st;
	char *end;
	long long n = strtoll(key, &end, 10);
	int rc;

	if (*key >= '0' && *key <= '9' && !*end && n > 0) {
		*batch = n;
		return 0;
	}
	if (!(st = mbr_stmt(db, "SELECT id FROM batches WHERE uid = ?")))
		return MBR_EDB;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*batch = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return mbr_db_sqlerr(db, "batches");
	return mbr_db_fail(db, MBR_ENOTFOUND, "no batch '%s' (give its number or its uid)", key);
}

int mbr_batch_finish(struct mbr_db *db, int64_t batch, long added, long updated, long rejected)
{
	sqlite3_stmt *st;
	char detail[160], target[32];
	int rc;

	st = mbr_stmt(db, "UPDATE batches SET finished_at = ?, added = ?, updated = ?, rejected = ? WHERE id = ?");
	if (!st)
		return MBR_EDB;
	sqlite3_bind_int64(st, 1, mbr_now());
	sqlite3_bind_int64(st, 2, added);
	sqlite3_bind_int64(st, 3, updated);
	sqlite3_bind_int64(st, 4, rejected);
	sqlite3_bind_int64(st, 5, batch);
	if ((rc = mbr_stmt_done(db, st)) < 0)
		return rc;
	snprintf(target, sizeof(target), "batch %lld", (long long)batch);
	snprintf(detail, sizeof(detail), "added %ld, updated %ld, rejected %ld", added, updated, rejected);
	return mbr_audit(db, "batch.finish", target, detail);
}

int mbr_db_checkpoint(struct mbr_db *db)
{
	if (sqlite3_wal_checkpoint_v2(db->sql, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK)
		return mbr_db_sqlerr(db, "checkpoint");
	return 0;
}

/* ------------------------------------------------------------- vacuum */

long long mbr_sqlite_int(sqlite3 *sql, const char *q)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(sql, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int mbr_sqlite_repage(sqlite3 *sql, int page_size)
{
	char q[48];
	int rc, back;

	if ((rc = journal_mode(sql, "DELETE")) != SQLITE_OK)
		return rc;
	snprintf(q, sizeof(q), "PRAGMA page_size = %d; VACUUM", page_size);	/* a number of ours */
	rc = sqlite3_exec(sql, q, NULL, NULL, NULL);
	/* back to WAL whatever happened: live databases run in it */
	back = journal_mode(sql, "WAL");
	return rc != SQLITE_OK ? rc : back;
}

int mbr_db_pages(struct mbr_db *db, struct mbr_db_pages *p)
{
	p->page_size = (int)mbr_sqlite_int(db->sql, "PRAGMA page_size");
	p->pages = mbr_sqlite_int(db->sql, "PRAGMA page_count");
	p->free_pages = mbr_sqlite_int(db->sql, "PRAGMA freelist_count");
	if (p->page_size <= 0 || p->pages < 0 || p->free_pages < 0)
		return mbr_db_sqlerr(db, "page count");
	return 0;
}

int mbr_db_page_size_wanted(void)
{
	return MBR_PAGE_SIZE;
}

int mbr_db_vacuum(struct mbr_db *db, struct mbr_db_pages *before, struct mbr_db_pages *after)
{
	char detail[160];
	int rc;

	if ((rc = mbr_db_pages(db, before)) < 0)
		return rc;
	if (before->page_size == MBR_PAGE_SIZE) {
		/* through the log, which the last connection to close copies
		 * back and removes; readers meanwhile read what they began with */
		if ((rc = mbr_db_exec(db, "VACUUM")) < 0)
			return rc;
	} else if ((rc = mbr_sqlite_repage(db->sql, MBR_PAGE_SIZE)) == SQLITE_BUSY) {
		return mbr_db_fail(db, MBR_EBUSY, "%s is open in another program: changing its page size needs it"
				   " alone (stop the others and run vacuum again)", db->path);
	} else if (rc != SQLITE_OK) {
		return mbr_db_sqlerr(db, "vacuum");
	}
	if ((rc = mbr_db_pages(db, after)) < 0)
		return rc;
	snprintf(detail, sizeof(detail), "pages %lld (%lld free) of %d bytes -> %lld of %d", before->pages,
		 before->free_pages, before->page_size, after->pages, after->page_size);
	return mbr_audit_outside_tx(db, "db.vacuum", "", detail);
}
