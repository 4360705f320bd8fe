/*
 * check.c - proving a database sound, and online backup and restore.
 *
 * mbr_db_check runs SQLite's integrity and foreign-key checks, compares
 * every cached balance with its ledger and the points lots with the
 * balances, makes sure every member's personal data opens with the key,
 * compares the report aggregates with the sales (sale.c), and verifies
 * the audit chain.  Its problems speak the user's terms: members by uid,
 * sales as store/receipt, ledger entries as mbr-points history shows
 * them (store:number), dates as YYYY-MM-DD, money as decimal amounts.
 * Each check is one query over its tables, never one per member.
 * Backups go through the SQLite online backup API into a temporary file
 * that is then gzip-compressed; restore reverses that, checks the copy,
 * and copies it over the target with the backup API again, so other
 * connections see either the old or the new database, never a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"
#include "banned.h"

/* A ledger entry l as mbr-points history names it: origin store:number. */
#define ENTRY_UID(l) "COALESCE(" l ".origin, (SELECT value FROM settings WHERE key = 'store_code'))" \
		     " || ':' || COALESCE(" l ".origin_id, " l ".id)"

/* check_money(v): minor units as a decimal amount with the database's exponent. */
static void sql_money(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	const struct mbr_db *db = sqlite3_user_data(cx);
	char buf[MBR_MONEY_BUFSZ];

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		sqlite3_result_null(cx);
	else
		sqlite3_result_text(cx, mbr_money_format(sqlite3_value_int64(argv[0]), db->exp, buf), -1,
				    SQLITE_TRANSIENT);
}

/* check_date(ts): the store's business date YYYY-MM-DD of UTC seconds. */
static void sql_date(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	char buf[MBR_TIME_BUFSZ];

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		sqlite3_result_null(cx);
	else
		sqlite3_result_text(cx, mbr_date_format(sqlite3_value_int64(argv[0]), buf), -1, SQLITE_TRANSIENT);
}

/*
 * Pass each row of sql to fn as one line: prefix, then the columns after
 * ": " and between ", ".  A lone "ok" (the integrity check's) is no problem.
 */
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

/*
 * The checks that are one query each: what a row says, then the query.
 * A foreign key problem names its row the way a user knows it where the
 * table has such a name (WITHOUT ROWID tables report no row).
 */
static const struct {
	const char *prefix, *sql;
} checks[] = {
	{ "integrity", "PRAGMA integrity_check" },
	{ "foreign key",
	  "SELECT CASE f.\"table\""
	  " WHEN 'members' THEN 'member ' || (SELECT uid FROM members WHERE id = f.rowid)"
	  " WHEN 'member_pii' THEN 'personal data of member #' || f.rowid"
	  " WHEN 'sales' THEN 'sale ' || (SELECT store || '/' || receipt FROM sales WHERE id = f.rowid)"
	  " WHEN 'points_ledger' THEN 'points ledger entry ' || (SELECT " ENTRY_UID("l") " FROM points_ledger l WHERE l.id = f.rowid)"
	  " WHEN 'points_lots' THEN 'points lot of entry ' || COALESCE((SELECT " ENTRY_UID("l") " FROM points_ledger l"
	  "   WHERE l.id = f.rowid), '#' || f.rowid)"
	  " WHEN 'sv_ledger' THEN 'stored-value ledger entry ' || (SELECT " ENTRY_UID("l") " FROM sv_ledger l WHERE l.id = f.rowid)"
	  " WHEN 'count_cards' THEN 'count card ' || (SELECT uid FROM count_cards WHERE id = f.rowid)"
	  " ELSE 'a row of ' || f.\"table\" || COALESCE(' (#' || f.rowid || ')', '') END,"
	  " COALESCE(k.\"from\", 'a column') || ' refers to a missing row of ' || f.parent"
	  " FROM pragma_foreign_key_check AS f"
	  " LEFT JOIN pragma_foreign_key_list(f.\"table\") AS k ON k.id = f.fkid AND k.seq = 0" },
	{ "points balance differs from ledger",
	  "SELECT m.uid, 'cached ' || COALESCE(b.points, 0), 'ledger ' || COALESCE(SUM(l.points), 0)"
	  " FROM members m LEFT JOIN points_balances b ON b.member = m.id LEFT JOIN points_ledger l ON l.member = m.id"
	  " GROUP BY m.id HAVING COALESCE(b.points, 0) != COALESCE(SUM(l.points), 0)" },
	{ "stored value differs from ledger",
	  "SELECT m.uid, 'cached principal ' || check_money(m.sv_principal) || ' bonus ' || check_money(m.sv_bonus),"
	  " 'ledger principal ' || check_money(COALESCE(SUM(l.principal), 0))"
	  " || ' bonus ' || check_money(COALESCE(SUM(l.bonus), 0))"
	  " FROM members m LEFT JOIN sv_ledger l ON l.member = m.id GROUP BY m.id"
	  " HAVING m.sv_principal != COALESCE(SUM(l.principal), 0) OR m.sv_bonus != COALESCE(SUM(l.bonus), 0)" },
	{ "gift card differs from ledger",
	  "SELECT g.code, 'cached principal ' || check_money(g.principal) || ' bonus ' || check_money(g.bonus),"
	  " 'ledger principal ' || check_money(COALESCE(SUM(l.principal), 0))"
	  " || ' bonus ' || check_money(COALESCE(SUM(l.bonus), 0))"
	  " FROM gift_cards g LEFT JOIN sv_ledger l ON l.gift = g.code GROUP BY g.code"
	  " HAVING g.principal != COALESCE(SUM(l.principal), 0) OR g.bonus != COALESCE(SUM(l.bonus), 0)" },
	{ "stored value below zero",
	  "SELECT 'member ' || uid, 'principal ' || check_money(sv_principal), 'bonus ' || check_money(sv_bonus)"
	  " FROM members WHERE sv_principal < 0 OR sv_bonus < 0" },
	{ "count card uses differ from ledger",
	  "SELECT c.uid, 'cached ' || c.uses_left, 'ledger ' || COALESCE(SUM(l.uses), 0)"
	  " FROM count_cards c LEFT JOIN count_card_ledger l ON l.card = c.id GROUP BY c.id"
	  " HAVING c.uses_left != COALESCE(SUM(l.uses), 0) OR c.uses_left < 0" },
	/*
	 * Points lots (points.c).  A lot is opened by a positive ledger entry
	 * (its id is the entry's) for the points of it that can lapse; the
	 * points that never lapse have no lot: they are whatever part of the
	 * balance the lots do not cover.  A debt (a negative balance, left
	 * by a return that reversed points already spent) is paid from new
	 * points before any lot opens, and spending, expiry and undo take
	 * from lots at most what the member has.  So, for every lot
	 *     0 <= remaining <= points <= its entry's points, entry's member = lot's member
	 * and for every member, balance as in points_balances (= SUM(ledger)):
	 *     SUM(remaining of its lots) <= MAX(balance, 0)
	 * which is an inequality, not an equality, because the never-expiring
	 * part is not kept anywhere (balance - SUM(remaining) is it); a member
	 * in debt holds no open lot at all.
	 */
	{ "open points lots exceed the balance",
	  "SELECT m.uid, 'open lots ' || COALESCE(SUM(t.remaining), 0), 'balance ' || COALESCE(b.points, 0)"
	  " FROM members m LEFT JOIN points_balances b ON b.member = m.id"
	  " LEFT JOIN points_lots t ON t.member = m.id AND t.remaining > 0"
	  " GROUP BY m.id HAVING COALESCE(SUM(t.remaining), 0) > MAX(COALESCE(b.points, 0), 0)" },
	{ "points lot out of range",
	  "SELECT 'member ' || m.uid, 'lot of entry ' || " ENTRY_UID("l") " || ' (' || check_date(l.ts)"
	  " || COALESCE(', lapses ' || check_date(t.expires_at), ', never lapses') || ')',"
	  " 'remaining ' || t.remaining || ' of ' || t.points"
	  " FROM points_lots t JOIN members m ON m.id = t.member JOIN points_ledger l ON l.id = t.id"
	  " WHERE t.remaining < 0 OR t.remaining > t.points OR t.points <= 0" },
	{ "points lot differs from its ledger entry",
	  "SELECT 'lot of entry ' || " ENTRY_UID("l") " || ' (' || check_date(l.ts) || ')',"
	  " 'member ' || COALESCE((SELECT uid FROM members WHERE id = t.member), '?')"
	  " || ' (entry: ' || COALESCE((SELECT uid FROM members WHERE id = l.member), '?') || ')',"
	  " 'points ' || t.points || ' (entry: ' || l.points || ')'"
	  " FROM points_lots t JOIN points_ledger l ON l.id = t.id"
	  " WHERE t.member != l.member OR t.points > l.points" },
};

/*
 * Personal data (member_pii): an erased member has none left; every other
 * member's opens with the key, bound to the member's uid (member.c seals
 * it so).  A row altered, moved to another member, or sealed under another
 * key does not open.  One pass over the rows, one decryption each.
 */
static int check_personal_data(struct mbr_db *db, mbr_problem_fn fn, void *ctx, int *problems)
{
	const struct mbr_key *key;
	struct mbr_buf pt = MBR_BUF_INIT, line = MBR_BUF_INIT;
	sqlite3_stmt *st;
	int rc;

	if ((rc = mbr_db_key(db, &key)) < 0)
		return rc;
	if (sqlite3_prepare_v2(db->sql, "SELECT m.uid, m.status = 'erased', p.pii FROM member_pii p"
			       " JOIN members m ON m.id = p.member", -1, &st, NULL) != SQLITE_OK)
		return mbr_db_sqlerr(db, "check");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *uid = (const char *)sqlite3_column_text(st, 0);
		const unsigned char *ct = sqlite3_column_blob(st, 2);
		size_t n = (size_t)sqlite3_column_bytes(st, 2);
		const char *what = NULL;

		if (sqlite3_column_int(st, 1)) {
			what = "is still there, though the member was erased";
		} else {
			mbr_buf_reset(&pt);
			mbr_buf_grow(&pt, n);
			if (mbr_unseal(key, uid, strlen(uid), ct, n, pt.buf, NULL) < 0)
				what = "does not decrypt with this database's key (altered, or sealed under another key)";
		}
		if (!what)
			continue;
		mbr_buf_reset(&line);
		mbr_buf_addf(&line, "personal data of member %s %s", uid, what);
		fn(line.buf, ctx);
		(*problems)++;
	}
	sqlite3_finalize(st);
	mbr_buf_release(&pt);
	mbr_buf_release(&line);
	return rc == SQLITE_DONE ? 0 : mbr_db_sqlerr(db, "check");
}

int mbr_db_check(struct mbr_db *db, mbr_problem_fn fn, void *ctx)
{
	int problems = 0, rc;
	int64_t entries;
	size_t i;

	/* for the queries of checks[] only: not callable from the schema */
	if (sqlite3_create_function(db->sql, "check_money", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, db, sql_money,
				    NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(db->sql, "check_date", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, db, sql_date,
				    NULL, NULL) != SQLITE_OK)
		return mbr_db_sqlerr(db, "check");
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		if ((rc = report_rows(db, checks[i].sql, checks[i].prefix, fn, ctx, &problems)) < 0)
			return rc;
	if ((rc = check_personal_data(db, fn, ctx, &problems)) < 0)
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

/*
 * Temporary files of a backup or restore, and signals.  A backup or
 * restore keeps a whole copy of the database (and a backup its partial
 * .gz) in temporary files until it is done.  If SIGHUP, SIGINT, SIGPIPE
 * or SIGTERM ends the program meanwhile, temp_on_signal removes them
 * first, then lets the signal take its default effect.  The handler is
 * installed by temps_begin, only for the signals whose disposition is the
 * default (an ignored SIGHUP under nohup stays ignored; a program's own
 * handler is left alone), and taken away by temps_end.  The names are
 * stored beforehand in static buffers, with the signals blocked, so the
 * handler calls only unlink, signal and raise, which are async-signal-safe.
 */
static const int temp_signals[] = { SIGHUP, SIGINT, SIGPIPE, SIGTERM };
#define NTEMP_SIGNALS (sizeof(temp_signals) / sizeof(temp_signals[0]))
static struct sigaction temp_saved[NTEMP_SIGNALS];
static int temp_hooked[NTEMP_SIGNALS];
static char temp_names[8][4096 + 16];
static volatile sig_atomic_t temp_count;

static void temp_on_signal(int sig)
{
	int i, n = temp_count;

	for (i = 0; i < n; i++)
		unlink(temp_names[i]);
	signal(sig, SIG_DFL);
	raise(sig);	/* delivered, with its default effect, when the handler returns */
}

static void temps_block(sigset_t *old)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < NTEMP_SIGNALS; i++)
		sigaddset(&set, temp_signals[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void temps_begin(void)
{
	struct sigaction sa, cur;
	size_t i;

	temp_count = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = temp_on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NTEMP_SIGNALS; i++)
		sigaddset(&sa.sa_mask, temp_signals[i]);
	for (i = 0; i < NTEMP_SIGNALS; i++)
		temp_hooked[i] = sigaction(temp_signals[i], NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
				 cur.sa_handler == SIG_DFL && sigaction(temp_signals[i], &sa, &temp_saved[i]) == 0;
}

/* After the temporary files are gone: forget them, put the handlers back. */
static void temps_end(void)
{
	sigset_t old;
	size_t i;

	temps_block(&old);
	temp_count = 0;
	for (i = 0; i < NTEMP_SIGNALS; i++)
		if (temp_hooked[i])
			sigaction(temp_signals[i], &temp_saved[i], NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/*
 * Create a private (0600) temporary file "<path><tag>XXXXXX"; its name in
 * tmp.  It is removed on a signal between temps_begin and temps_end, and
 * with db_files so are its -wal, -shm and -journal.  Returns its open
 * descriptor, or -1 with errno set.
 */
static int temp_create(const char *path, const char *tag, int db_files, struct mbr_buf *tmp)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	sigset_t old;
	size_t i;
	int fd, e;

	mbr_buf_reset(tmp);
	mbr_buf_addf(tmp, "%s%sXXXXXX", path, tag);
	temps_block(&old);
	fd = mkstemp(tmp->buf);
	e = errno;
	if (fd >= 0) {
		fchmod(fd, 0600);
		/* a name too long for the buffers is removed on normal paths only */
		for (i = 0; i < (db_files ? 4 : 1); i++) {
			if (temp_count >= (sig_atomic_t)(sizeof(temp_names) / sizeof(temp_names[0])) ||
			    tmp->len + strlen(suffix[i]) >= sizeof(temp_names[0]))
				break;
			snprintf(temp_names[temp_count], sizeof(temp_names[0]), "%s%s", tmp->buf, suffix[i]);
			temp_count++;
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return fd;
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

/*
 * A database in WAL mode takes no copy of another page size (SQLite
 * refuses it as read-only): databases made before mbr-db init chose
 * 8192-byte pages have 4096, and a backup of either kind may be restored
 * over the other.  The inflated copy of the backup (copy, no connection
 * open to it) is rebuilt with the page size of the database it will
 * replace, which the restored database keeps.
 */
static int match_page_size(const char *copy, const char *live, struct mbr_buf *err)
{
	sqlite3 *db = NULL;
	long long want = -1;
	int rc = SQLITE_OK;

	if (sqlite3_open_v2(live, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		want = mbr_sqlite_int(db, "PRAGMA page_size");
	sqlite3_close(db);
	db = NULL;
	if (want <= 0)
		return 0;	/* the replacing step will say what is wrong with it */
	if ((rc = sqlite3_open_v2(copy, &db, SQLITE_OPEN_READWRITE, NULL)) == SQLITE_OK &&
	    mbr_sqlite_int(db, "PRAGMA page_size") != want)
		rc = mbr_sqlite_repage(db, (int)want);
	if (rc != SQLITE_OK)
		mbr_buf_addf(err, "restore '%s': giving the backup the database's page size (%lld): %s", live, want,
			     sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : MBR_EDB;
}

/* Copy database src (schema main) into a fresh connection to dst. */
static int copy_db(sqlite3 *src, sqlite3 *dst)
{
	sqlite3_backup *bk;
	int rc;

	if (!(bk = sqlite3_backup_init(dst, "main", src, "main")))
		return sqlite3_errcode(dst);
	do {
		rc = sqlite3_backup_step(bk, 256);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(50);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(bk);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* How messages name a backup: 'file.gz', or standard output or input for "-". */
static void backup_label(struct mbr_buf *b, const char *gzpath, int output)
{
	mbr_buf_reset(b);
	if (!strcmp(gzpath, "-"))
		mbr_buf_adds(b, output ? "backup to standard output" : "backup on standard input");
	else
		mbr_buf_addf(b, "backup '%s'", gzpath);
}

/*
 * The copy is made into a temporary file (beside the backup, or beside
 * the database for standard output) and compressed from there, 64 KiB at
 * a time: memory does not grow with the database.  A file backup is
 * written to a second temporary file that is linked into place when
 * complete.
 */
int mbr_db_backup(struct mbr_db *db, const char *gzpath)
{
	struct mbr_buf tmp = MBR_BUF_INIT, out = MBR_BUF_INIT, what = MBR_BUF_INIT;
	int to_stdout = !strcmp(gzpath, "-");
	sqlite3 *dst = NULL;
	char buf[65536];
	gzFile gz = NULL;
	int fd = -1, rc = 0, ofd;
	ssize_t n;

	if (!to_stdout && (rc = backup_target_ok(db, gzpath)) < 0)
		return rc;
	backup_label(&what, gzpath, 1);
	temps_begin();
	if ((fd = temp_create(to_stdout ? db->path : gzpath, ".tmp", 1, &tmp)) < 0) {
		int e = errno;
		mbr_buf_reset(&tmp);
		rc = mbr_db_fail(db, e == EACCES ? MBR_EPERM : MBR_EIO, "%s: %s", what.buf, strerror(e));
		goto out;
	}
	close(fd);
	fd = -1;
	if (sqlite3_open_v2(tmp.buf, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
	    copy_db(db->sql, dst) != SQLITE_OK) {
		rc = mbr_db_fail(db, MBR_EDB, "backup: %s", dst ? sqlite3_errmsg(dst) : "cannot open");
		goto out;
	}
	/* A backup copy is a plain rollback-journal file: restorable anywhere. */
	sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	sqlite3_close(dst);
	dst = NULL;

	/* gzclose closes the duplicate, not standard output itself */
	ofd = to_stdout ? fcntl(1, F_DUPFD_CLOEXEC, 0) : temp_create(gzpath, ".part", 0, &out);
	if (ofd < 0 || !(gz = gzdopen(ofd, "wb6"))) {
		rc = mbr_db_fail(db, MBR_EIO, "%s: %s", what.buf, strerror(errno));
		if (ofd >= 0)
			close(ofd);
		goto out;
	}
	if ((fd = open(tmp.buf, O_RDONLY)) < 0) {
		rc = mbr_db_fail(db, MBR_EIO, "backup: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		if ((n = read(fd, buf, sizeof(buf))) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (gzwrite(gz, buf, (unsigned)n) != n) {
			rc = mbr_db_fail(db, MBR_EIO, "%s: write error", what.buf);
			goto out;
		}
	}
	if (n < 0) {
		rc = mbr_db_fail(db, MBR_EIO, "backup: %s", strerror(errno));
		goto out;
	}
	if (gzclose(gz) != Z_OK) {
		gz = NULL;
		rc = mbr_db_fail(db, MBR_EIO, "%s: write error", what.buf);
		goto out;
	}
	gz = NULL;
	if (!to_stdout) {
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
	}
	rc = mbr_audit_outside_tx(db, "db.backup", gzpath, "");
out:
	if (fd >= 0)
		close(fd);
	if (gz)
		gzclose(gz);
	if (dst)
		sqlite3_close(dst);
	if (tmp.len)
		unlink_db_files(tmp.buf);
	if (out.len)
		unlink(out.buf);
	temps_end();
	mbr_buf_release(&tmp);
	mbr_buf_release(&out);
	mbr_buf_release(&what);
	return rc;
}

/* read(2), again when a signal interrupted it */
static ssize_t read_retry(int fd, void *buf, size_t n)
{
	ssize_t r;

	while ((r = read(fd, buf, n)) < 0 && errno == EINTR)
		;
	return r;
}

/*
 * Inflate a backup from fd (what names it in messages) into path, 64 KiB
 * at a time.  Strict, as gzip -t is: the data must be gzip, end with its
 * trailer (CRC and length, which inflate checks), and hold nothing after
 * it; gzread would take plain files as they are and stop quietly at a
 * missing trailer or trailing data.
 */
static int gunzip_to(int fd, const char *what, const char *path, struct mbr_buf *err)
{
	unsigned char in[65536], out[65536];
	z_stream zs;
	int outfd, zrc = Z_OK, rc = 0;
	ssize_t n = 0;

	if ((outfd = open(path, O_WRONLY | O_TRUNC)) < 0) {
		mbr_buf_addf(err, "restore: %s", strerror(errno));
		return MBR_EIO;
	}
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		mbr_buf_addf(err, "restore: out of memory");
		close(outfd);
		return MBR_ENOMEM;
	}
	while (zrc != Z_STREAM_END) {
		if (zs.avail_in == 0) {
			if ((n = read_retry(fd, in, sizeof(in))) < 0) {
				mbr_buf_addf(err, "%s: %s", what, strerror(errno));
				rc = MBR_EIO;
				break;
			}
			if (n == 0) {
				mbr_buf_addf(err, "%s: cut short (unexpected end of gzip data)", what);
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
			mbr_buf_addf(err, "%s: not a sound gzip file (%s)", what, zs.msg ? zs.msg : "bad data");
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
	/* nothing may follow the trailer (from a pipe: read to its end) */
	if (rc == 0 && (zs.avail_in > 0 || (n = read_retry(fd, in, 1)) != 0)) {
		if (n < 0)
			mbr_buf_addf(err, "%s: %s", what, strerror(errno));
		else
			mbr_buf_addf(err, "%s: data after the end of its gzip stream", what);
		rc = MBR_EIO;
	}
	inflateEnd(&zs);
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

/*
 * Restore from gzpath ("-": standard input) into dbpath, or with replace
 * 0 only prove that it could: the backup is inflated into a temporary
 * file beside dbpath and checked there in full either way.
 */
static int restore(const char *dbpath, const char *gzpath, int replace, struct mbr_buf *err)
{
	struct mbr_buf tmp = MBR_BUF_INIT, what = MBR_BUF_INIT;
	struct mbr_db *copydb = NULL;
	int from_stdin = !strcmp(gzpath, "-");
	sqlite3 *src = NULL, *dst = NULL;
	struct stat st;
	int rc, fd;

	mbr_buf_reset(err);
	backup_label(&what, gzpath, 0);
	temps_begin();
	if ((fd = temp_create(dbpath, ".tmp", 1, &tmp)) < 0) {
		int e = errno;
		mbr_buf_reset(&tmp);
		mbr_buf_addf(err, "restore '%s': %s", dbpath, strerror(e));
		rc = e == EACCES ? MBR_EPERM : MBR_EIO;
		goto out;
	}
	close(fd);
	if ((fd = from_stdin ? 0 : open(gzpath, O_RDONLY | O_CLOEXEC)) < 0) {
		mbr_buf_addf(err, "%s: %s", what.buf, strerror(errno));
		rc = MBR_EIO;
		goto out;
	}
	rc = gunzip_to(fd, what.buf, tmp.buf, err);
	if (!from_stdin)
		close(fd);
	if (rc < 0)
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
		mbr_buf_addf(err, "%s is not a sound mbr database: %s", what.buf, mbr_db_errmsg(copydb));
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
		copydb->path = strdup(from_stdin ? "standard input" : gzpath);
		if (!copydb->key_path || !copydb->path)
			abort();
		if ((rc = mbr_db_key(copydb, &k)) < 0) {
			mbr_buf_addf(err, "not restored: %s (the key is not in the backup: put the database's"
				     " key file there, or name it with MBR_KEY)", mbr_db_errmsg(copydb));
			goto out;
		}
	}
	if (!replace) {
		rc = 0;
		goto out;
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
	/* checked: from here on the copy is read as plain SQLite */
	mbr_db_close(copydb);
	copydb = NULL;
	if ((rc = match_page_size(tmp.buf, dbpath, err)) < 0)
		goto out;
	if (sqlite3_open_v2(tmp.buf, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		mbr_buf_addf(err, "restore '%s': %s", dbpath, sqlite3_errmsg(src));
		rc = MBR_EIO;
		goto out;
	}
	if (sqlite3_open_v2(dbpath, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		mbr_buf_addf(err, "restore '%s': %s", dbpath, sqlite3_errmsg(dst));
		rc = MBR_EIO;
		goto out;
	}
	sqlite3_busy_timeout(dst, 60000);
	if ((rc = copy_db(src, dst)) != SQLITE_OK) {
		mbr_buf_addf(err, "restore '%s': %s", dbpath, sqlite3_errmsg(dst));
		rc = rc == SQLITE_READONLY ? MBR_EPERM : MBR_EDB;
		goto out;
	}
	rc = 0;
out:
	if (rc == 0 && replace) {
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
	if (src)
		sqlite3_close(src);
	if (tmp.len)
		unlink_db_files(tmp.buf);
	temps_end();
	mbr_buf_release(&tmp);
	mbr_buf_release(&what);
	return rc;
}

int mbr_db_restore(const char *dbpath, const char *gzpath, struct mbr_buf *err)
{
	return restore(dbpath, gzpath, 1, err);
}

int mbr_db_restore_check(const char *dbpath, const char *gzpath, struct mbr_buf *err)
{
	return restore(dbpath, gzpath, 0, err);
}
