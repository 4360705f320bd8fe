/*
 * mbr.h - the one public interface of libmbr.
 *
 * libmbr owns everything the mbr-* programs share: the SQLite database and
 * its schema, CSV/TSV input and table/CSV/TSV/JSON output, money and time,
 * personal-data encryption, roles and the audit log, and the business rules
 * (members, points, sales, ...).  Programs in cmd/ are thin: they parse
 * options, open the database, stream records and call functions declared here.
 *
 * Conventions (see ../STYLE.md):
 *  - Functions return 0 (MBR_OK) or a negative MBR_E* code.  They never print
 *    and never exit; the detail of the last error is kept on the handle
 *    (mbr_db_errmsg) or in a caller-supplied struct mbr_buf.
 *  - Money is int64_t minor units; points are int64_t; time is int64_t
 *    seconds since the epoch, UTC.
 *  - Strings passed in are borrowed; strings returned in structs live in the
 *    struct's own fixed buffers unless a comment says otherwise.
 */
#ifndef MBR_H
#define MBR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MBR_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

enum mbr_error {
	MBR_OK = 0,
	MBR_EINVAL = -1,	/* bad input data; nothing was written */
	MBR_ENOTFOUND = -2,	/* no such member, code, setting, ... */
	MBR_EEXIST = -3,	/* duplicate key */
	MBR_EDB = -4,		/* SQLite error, corrupt or foreign database */
	MBR_EIO = -5,		/* file could not be read or written */
	MBR_EPERM = -6,		/* the operator's role refuses the operation */
	MBR_EKEY = -7,		/* key file missing, unreadable or wrong */
	MBR_ENOMEM = -8,
	MBR_EBUSY = -9,		/* database stayed locked past the timeout */
	MBR_EUSAGE = -10,	/* a bad option value found late (--map) */
};

/*
 * Exit statuses, the same in every program (documented in mbr(7)).
 */
enum mbr_exit {
	MBR_EXIT_OK = 0,
	MBR_EXIT_REJECTED = 1,	/* some records rejected (--skip-bad), a check failed, nothing found */
	MBR_EXIT_USAGE = 2,	/* bad option or argument */
	MBR_EXIT_DATA = 3,	/* bad input data; nothing written */
	MBR_EXIT_DB = 4,	/* database, key or I/O error */
	MBR_EXIT_PERM = 5,	/* refused: operator role or file permission */
};

/* Map an MBR_E* code to the exit status above. */
int mbr_exit_status(int err);

/* --------------------------------------------------------------- buffers */

/*
 * A growable string.  Invariants (as git's strbuf): buf is never NULL
 * after mbr_buf_init; buf[len] == '\0'; alloc is 0 while buf points at a
 * static empty string.  Allocation failure aborts (as strbuf does): an
 * out-of-memory condition in a batch tool is not recoverable usefully.
 */
struct mbr_buf {
	char *buf;
	size_t len;
	size_t alloc;
};
#define MBR_BUF_INIT { mbr_buf_empty, 0, 0 }
extern char mbr_buf_empty[];

void mbr_buf_init(struct mbr_buf *b);
void mbr_buf_release(struct mbr_buf *b);
void mbr_buf_reset(struct mbr_buf *b);			/* len = 0, keep memory */
void mbr_buf_grow(struct mbr_buf *b, size_t extra);
void mbr_buf_add_grow(struct mbr_buf *b, const void *data, size_t len);
void mbr_buf_addc_grow(struct mbr_buf *b, int c);
void mbr_buf_adds(struct mbr_buf *b, const char *s);

/*
 * Append len bytes of data (which may contain NULs, and may point into b),
 * and one byte c.  Inline for the common case, room already there (a CSV
 * reader appends tens of times a line): the rest is in buf.c.
 */
static inline void mbr_buf_add(struct mbr_buf *b, const void *data, size_t len)
{
	if (len < b->alloc - b->len) {	/* alloc is 0 for the static empty string */
		memmove(b->buf + b->len, data, len);
		b->len += len;
		b->buf[b->len] = '\0';
	} else {
		mbr_buf_add_grow(b, data, len);
	}
}

static inline void mbr_buf_addc(struct mbr_buf *b, int c)
{
	if (b->alloc - b->len >= 2) {
		b->buf[b->len++] = (char)c;
		b->buf[b->len] = '\0';
	} else {
		mbr_buf_addc_grow(b, c);
	}
}
void mbr_buf_addf(struct mbr_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mbr_buf_vaddf(struct mbr_buf *b, const char *fmt, va_list ap);
/* Copy s (NULL = "") into dst of size n, cut to fit, always terminated. */
void mbr_copy(char *dst, size_t n, const char *s);

/* ---------------------------------------------------------------- money */

#define MBR_MONEY_BUFSZ 32

/*
 * Parse decimal text ("12.30", "-0.5", "7") into minor units with exp
 * decimal places (2 for CNY/USD, 0 for JPY).  Exact: no floating point.
 * Leading/trailing blanks are allowed; a leading '+' or '-'; at most exp
 * decimals unless the extra ones are zeros.  Returns MBR_EINVAL for bad
 * text or a value outside int64_t.
 */
int mbr_money_parse(const char *s, int exp, int64_t *out);
/* Format minor units as decimal text into buf (MBR_MONEY_BUFSZ); returns buf. */
char *mbr_money_format(int64_t v, int exp, char *buf);
/* Overflow-checked arithmetic: 0 or MBR_EINVAL. */
int mbr_add_i64(int64_t a, int64_t b, int64_t *out);
int mbr_mul_i64(int64_t a, int64_t b, int64_t *out);

/* ----------------------------------------------------------------- time */

#define MBR_TIME_BUFSZ 32

/*
 * Time zone of the store (an IANA name such as "Asia/Shanghai").  Sets the
 * process zone used by the local-time functions below; mbr_db_open calls it
 * with the database's time_zone setting.
 */
int mbr_time_set_zone(const char *tz);
/*
 * Parse a local date-time in the current zone into UTC seconds.  fmt NULL
 * means ISO 8601: "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]" or with 'T'; an
 * explicit "Z" or "+08:00" offset is honoured.  Otherwise fmt is a
 * strptime(3) format.  MBR_EINVAL if the text does not match.
 */
int mbr_time_parse(const char *s, const char *fmt, int64_t *utc);
/* Local "YYYY-MM-DD HH:MM:SS" for a UTC time, into buf (MBR_TIME_BUFSZ). */
char *mbr_time_format(int64_t utc, char *buf);
/* Local business date "YYYY-MM-DD" for a UTC time. */
char *mbr_date_format(int64_t utc, char *buf);
/* Business date of a UTC time as days since 1970-01-01 (local zone). */
int64_t mbr_local_day(int64_t utc);
/* Calendar date check and normalisation: accepts YYYY-MM-DD, YYYY/MM/DD,
 * YYYYMMDD; writes "YYYY-MM-DD" into out (11 bytes). */
int mbr_date_normalize(const char *s, char *out);
/* Current time, UTC seconds; honours MBR_NOW (ISO 8601, UTC) for tests. */
int64_t mbr_now(void);

/* ------------------------------------------------------------ CSV input */

/*
 * Column description, shared by readers and writers.  aliases is a
 * '|'-separated list of other accepted header names (Chinese ones among
 * them); header matching is case-insensitive and ignores surrounding blanks.
 */
struct mbr_col {
	const char *name;
	const char *aliases;	/* may be NULL */
	unsigned flags;
};
#define MBR_COL_REQUIRED 0x1	/* reader: header must have it */
#define MBR_COL_NUMBER	 0x2	/* writer: right-align, JSON number */
#define MBR_COL_CHART	 0x4	/* writer, HTML: the column the bar chart shows */

struct mbr_reader_opts {
	const char *encoding;	/* NULL or "UTF-8": no conversion; else iconv name */
	int ignore_unknown;	/* unknown header names are skipped, not an error */
	const char *map;	/* "native=foreign,..." renames, or NULL */
	int prefetch;		/* read and parse ahead in a thread (large imports) */
	/*
	 * With prefetch: called in the reading thread for each good record,
	 * with its values by reader column (NULL: no such column), to append
	 * to note what the caller will want of it (mbr_row.note); it must
	 * touch nothing the caller's thread uses meanwhile.
	 */
	void (*note)(void *ctx, const char *const *val, struct mbr_buf *note);
	void *note_ctx;
};

/*
 * One input record.  val[i]/len[i] correspond to the reader's column i;
 * val[i] is NULL when the file has no such column.  raw/nraw are the
 * record's fields in file order (for reject files).  Valid until the next
 * mbr_reader_next call.
 */
struct mbr_row {
	const char *file;	/* name for messages: the path, or "-" */
	long line;		/* physical line where the record starts */
	const char **val;
	const size_t *len;
	const char **raw;
	size_t nraw;
	const char *note;	/* what opts->note appended (note_len 0: none) */
	size_t note_len;
};

struct mbr_reader;

/*
 * Open path ("-" = stdin) for reading records.  The input may be gzip
 * (detected by content), may start with a UTF-8 BOM, may use LF or CRLF,
 * and is CSV or TSV (detected from the header line: a tab and no comma
 * means TSV).  The header row is read and matched against cols: a
 * missing required column, a duplicate column or (unless ignore_unknown)
 * an unknown one is MBR_EINVAL.  If cols is NULL every header column is
 * taken as is (ncols is then set from the header; see mbr_reader_header).
 * A column named "reject_reason" is always ignored, so reject files can be
 * fixed and fed back (except with cols NULL, where every column is taken;
 * opts->map is not used then either).  opts->encoding names an iconv(3)
 * encoding to convert from (an unknown one is MBR_EUSAGE: a bad option
 * value).  On error *out is NULL and err holds "file:line: header:
 * reason"; an unreadable file is MBR_EIO with "path: strerror".
 */
int mbr_reader_open(struct mbr_reader **out, const char *path,
		    const struct mbr_col *cols, size_t ncols,
		    const struct mbr_reader_opts *opts, struct mbr_buf *err);
/*
 * Read the next record: returns 1 and sets *row, 0 at end of input, or a
 * negative code with err set ("file:line: column: reason") for malformed
 * CSV, invalid UTF-8, a NUL byte, a field over MBR_FIELD_MAX bytes, more or
 * fewer fields than the header, or a read error.  On MBR_EINVAL *row is still set
 * to the bad record so that it can go to a rejects file: its raw fields are
 * as read, with bytes that are not UTF-8 (and NUL bytes) replaced by U+FFFD
 * and an over-long field given as "".  The reader may then be called again
 * to continue with the next record.  Other errors (MBR_EIO) are final and
 * leave *row NULL.  NULL in val means the header has no such column.
 */
int mbr_reader_next(struct mbr_reader *r, struct mbr_row **row, struct mbr_buf *err);
/* Does the file have reader column i? */
int mbr_reader_has(struct mbr_reader *r, size_t i);
/* Header names as found in the file, in file order. */
const char *const *mbr_reader_header(struct mbr_reader *r, size_t *n);
/* Header name (as in the file) of reader column i, or the column's own name. */
const char *mbr_reader_colname(struct mbr_reader *r, size_t i);
/* Is path the reader's input: the same regular file (standard input's
 * too) or the same path?  Writing to it would destroy the input. */
int mbr_reader_is(struct mbr_reader *r, const char *path);
void mbr_reader_close(struct mbr_reader *r);

#define MBR_FIELD_MAX (64 * 1024)

/* Append "file:line: column: " + formatted reason to err (reset first). */
void mbr_row_error(struct mbr_buf *err, struct mbr_reader *r, const struct mbr_row *row,
		   int col, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ----------------------------------------------------------- output */

enum mbr_format {
	MBR_FMT_AUTO,		/* table on a terminal, else CSV */
	MBR_FMT_TABLE,
	MBR_FMT_CSV,
	MBR_FMT_TSV,
	MBR_FMT_JSON,		/* JSON lines: one object per record */
	MBR_FMT_HTML,		/* a page with a table and a bar chart (reports) */
};

struct mbr_out;

/* "table", "csv", "tsv", "json" -> format; MBR_EINVAL otherwise. */
int mbr_format_parse(const char *s, enum mbr_format *f);
/*
 * Start writing records with the given columns to fp.  excel adds a UTF-8
 * BOM and CRLF line ends (CSV/TSV), and writes a field that a spreadsheet
 * would take for a formula (it starts with = + - @, a tab or CR and is
 * neither in a number column nor a number like -12.50) after a single
 * quote, so that it shows as text.  CSV/TSV start with a header row.
 * A table is buffered until mbr_out_end so that column widths fit (East
 * Asian wide characters count two cells).
 */
struct mbr_out *mbr_out_new(FILE *fp, enum mbr_format fmt, int excel,
			    const struct mbr_col *cols, size_t ncols);
/* HTML: the page's title and heading (kept, not copied; default "mbr"). */
void mbr_out_title(struct mbr_out *o, const char *title);
/* Write one record; vals[i] NULL is an empty field (JSON null). */
int mbr_out_row(struct mbr_out *o, const char *const *vals);
/* CSV/TSV: write one record of n fields, more than the columns if need be
 * (a reject file keeps a record's extra fields); other formats: mbr_out_row. */
int mbr_out_fields(struct mbr_out *o, const char *const *vals, size_t n);
/* Flush (tables are printed here) and free.  MBR_EIO on write error. */
int mbr_out_end(struct mbr_out *o);
/*
 * Decode the UTF-8 character at s (n > 0 bytes): its length (1-4) with
 * *cp set, or 0 if the bytes are not well-formed UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included).
 */
size_t mbr_utf8_decode(const unsigned char *s, size_t n, unsigned *cp);
/* Display width of UTF-8 text in terminal cells. */
size_t mbr_text_width(const char *s);

/* ------------------------------------------------------------- database */

struct mbr_db;

enum mbr_role { MBR_ROLE_NONE = 0, MBR_ROLE_CASHIER = 1, MBR_ROLE_MANAGER = 2, MBR_ROLE_ADMIN = 3 };

struct mbr_init_opts {
	const char *store;	/* store code, default "S01" */
	const char *role;	/* "store" (default) or "hq" */
	const char *currency;	/* default "CNY" */
	int exponent;		/* default 2; -1 = default */
	const char *time_zone;	/* default "Asia/Shanghai" */
	const char *key_path;	/* NULL: $MBR_KEY, else DB.key */
};

#define MBR_OPEN_RW	0x1	/* else read-only */
#define MBR_OPEN_MIGRATE 0x2	/* allow an older schema (for mbr-db migrate) */
#define MBR_OPEN_IMMUTABLE 0x4	/* read-only, taking no locks: the database as it
				 * stood when this process's held bulk transaction
				 * began; a page it wrote since fails (mbr_db_held) */

/*
 * Create a new database file (mode 0600, refusing an existing one), apply
 * every migration, store the settings and create the key file (0600) if it
 * does not exist.  The operator running init becomes admin.
 */
int mbr_db_init(const char *path, const struct mbr_init_opts *o, struct mbr_buf *err);
/*
 * Open an existing database; never creates one.  *out is set even on
 * failure (so the message can be read with mbr_db_errmsg) and must be
 * closed.  The key file ($MBR_KEY, else PATH.key) is loaded when first
 * needed.  program names the calling program for the audit log.
 */
int mbr_db_open(const char *path, unsigned flags, const char *program, struct mbr_db **out);
/* Load the key now (and check it is this database's): 0 or < 0 with the
 * message set, for a program that must fail before it writes output. */
int mbr_db_key_ready(struct mbr_db *db);
void mbr_db_close(struct mbr_db *db);
const char *mbr_db_errmsg(struct mbr_db *db);
/* Set the handle's error message; returns code (for `return mbr_db_fail(...)`). */
int mbr_db_fail(struct mbr_db *db, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Settings: store_code, store_role, currency, currency_exp, time_zone, ... */
int mbr_setting_get(struct mbr_db *db, const char *key, char *out, size_t outsz);
int mbr_setting_set(struct mbr_db *db, const char *key, const char *value);
int mbr_db_exponent(struct mbr_db *db);
const char *mbr_db_store(struct mbr_db *db);

/* Stores and tiers by code (for validation and completion). */
typedef int (*mbr_name_fn)(const char *code, const char *name, void *ctx);
int mbr_store_code_valid(const char *code);
int mbr_store_add(struct mbr_db *db, const char *code, const char *name);
int mbr_store_exists(struct mbr_db *db, const char *code);	/* 1, 0 or < 0 */
/* 0 if code is NULL or a store's; else MBR_ENOTFOUND "no store 'X'" (or < 0). */
int mbr_store_check(struct mbr_db *db, const char *code);
int mbr_stores_each(struct mbr_db *db, mbr_name_fn fn, void *ctx);
int mbr_tier_exists(struct mbr_db *db, const char *code);	/* 1, 0 or < 0 */
int mbr_tiers_each(struct mbr_db *db, mbr_name_fn fn, void *ctx);

/* Checkpoint and truncate the WAL (after erasing personal data). */
int mbr_db_checkpoint(struct mbr_db *db);

/*
 * Rebuild the database file (SQLite's VACUUM): its free pages (left by
 * migrations, undone batches, erasures) are given back to the file
 * system, and a database made with another page size gets the one
 * mbr-db init gives (8192).  Changing the page size takes the database out
 * of WAL mode for the rebuild, which needs it alone: MBR_EBUSY when
 * another program has it open.  mbr_db_pages fills the figures of before
 * (for a dry run); mbr_db_vacuum those of before and after, and audits
 * db.vacuum.
 */
struct mbr_db_pages {
	int page_size;
	long long pages, free_pages;
};
int mbr_db_pages(struct mbr_db *db, struct mbr_db_pages *p);
int mbr_db_page_size_wanted(void);
int mbr_db_vacuum(struct mbr_db *db, struct mbr_db_pages *before, struct mbr_db_pages *after);

/* Transactions (immediate: the write lock is taken at begin). */
int mbr_begin(struct mbr_db *db);
/* A transaction for a bulk import (sales, members): foreign keys are not
 * enforced, and points balances are written behind, until it ends. */
int mbr_begin_bulk(struct mbr_db *db);
/* 1 while db's bulk transaction holds the database with a rollback
 * journal: no other program reads or writes it until the transaction
 * ends, and the file changes only in the pages the transaction writes. */
int mbr_db_held(const struct mbr_db *db);
int mbr_commit(struct mbr_db *db);
int mbr_rollback(struct mbr_db *db);

/* Schema version and migrations. */
int mbr_db_version(struct mbr_db *db);
int mbr_db_latest_version(void);
int mbr_db_migrate(struct mbr_db *db, int *from, int *to);

/*
 * Operator and roles.  The operator is --operator / $MBR_OPERATOR, else the
 * OS user.  mbr_require returns MBR_EPERM with a message naming the
 * operator, its role and the action when the role is below need.
 */
int mbr_set_operator(struct mbr_db *db, const char *name);
const char *mbr_operator(struct mbr_db *db);
enum mbr_role mbr_operator_role(struct mbr_db *db);
int mbr_require(struct mbr_db *db, enum mbr_role need, const char *action);
int mbr_role_parse(const char *s, enum mbr_role *r);
const char *mbr_role_name(enum mbr_role r);
/* NONE revokes; MBR_EINVAL when it would take the admin role from the last admin. */
int mbr_grant(struct mbr_db *db, const char *operator, enum mbr_role r);
typedef int (*mbr_operator_fn)(const char *name, enum mbr_role r, void *ctx);
int mbr_operators_each(struct mbr_db *db, mbr_operator_fn fn, void *ctx);

/* Audit: append an entry (operator and program come from the handle). */
int mbr_audit(struct mbr_db *db, const char *action, const char *target, const char *detail);
/* The same in a transaction of its own (for actions that write nothing else). */
int mbr_audit_outside_tx(struct mbr_db *db, const char *action, const char *target, const char *detail);
struct mbr_audit_entry {
	int64_t id, ts;
	const char *operator, *program, *action, *target, *detail;
};
typedef int (*mbr_audit_fn)(const struct mbr_audit_entry *e, void *ctx);
int mbr_audit_each(struct mbr_db *db, mbr_audit_fn fn, void *ctx);
/* Verify the hash chain: 0 when sound; MBR_EINVAL with the first bad entry in the message. */
int mbr_audit_verify(struct mbr_db *db, int64_t *entries);

/*
 * Check a database: integrity_check, foreign keys, cached balances equal
 * ledger sums, points lots against balances and their ledger entries,
 * personal data opens with the key, report aggregates, audit chain.  Each problem is passed to fn (one line of
 * text); returns 0 when sound, MBR_EINVAL when a problem was found.
 */
typedef void (*mbr_problem_fn)(const char *problem, void *ctx);
int mbr_db_check(struct mbr_db *db, mbr_problem_fn fn, void *ctx);

/*
 * Online backup to a gzip file, and restore from one (replaces the
 * database).  gzpath "-" is standard output for a backup and standard
 * input for a restore (the caller refuses a terminal).  A backup never
 * replaces a file: MBR_EEXIST if gzpath exists, MBR_EINVAL if it names
 * the database, its -wal, -shm or -journal file or its key file (even
 * when they do not exist yet).  Both stream, in constant memory, through
 * a temporary copy of the database (beside gzpath, or beside the database
 * for "-"; for a restore beside dbpath) that is removed when they return,
 * and also when SIGHUP, SIGINT, SIGPIPE or SIGTERM ends the program
 * meanwhile (for those of the four whose disposition is the default;
 * they install a handler while they run, and put the old one back).
 * mbr_db_restore_check does what mbr_db_restore does short of replacing
 * anything: the backup is inflated and proved a sound mbr database whose
 * key is the one that would serve it at dbpath (MBR_KEY, else dbpath.key).
 */
int mbr_db_backup(struct mbr_db *db, const char *gzpath);
int mbr_db_restore(const char *dbpath, const char *gzpath, struct mbr_buf *err);
int mbr_db_restore_check(const char *dbpath, const char *gzpath, struct mbr_buf *err);

/*
 * Do paths a and b name the same file: the same inode when both exist,
 * else the same path once their directories are resolved?  For refusing
 * to write over an input or a database's own files.
 */
int mbr_same_file(const char *a, const char *b);

/* Batches: every import is one; its id is printed in the summary. */
int mbr_batch_start(struct mbr_db *db, const char *kind, const char *source, int64_t *batch);
int mbr_batch_finish(struct mbr_db *db, int64_t batch, long added, long updated, long rejected);
/* A batch by its number (as summaries print it) or its chain-unique uid
 * (S01-13): 0 with *batch, or MBR_ENOTFOUND for a uid that names none (a
 * number is not looked up). */
int mbr_batch_find(struct mbr_db *db, const char *key, int64_t *batch);

/* Masking of personal data for display: 138****5678, z***@example.com, 张*. */
void mbr_mask_phone(const char *phone, char *out, size_t outsz);
void mbr_mask_email(const char *email, char *out, size_t outsz);
void mbr_mask_name(const char *name, char *out, size_t outsz);
/*
 * Does text s (n bytes) have the shape of such a mask: what mbr_mask_phone,
 * _email or _name makes of a value long enough to hide something?  For
 * refusing a masked export fed back as data.
 */
int mbr_masked_phone(const char *s, size_t n);
int mbr_masked_email(const char *s, size_t n);
int mbr_masked_name(const char *s, size_t n);

/* -------------------------------------------------------------- members */

enum mbr_member_field {
	MBR_F_MEMBER_NO, MBR_F_NAME, MBR_F_PHONE, MBR_F_EMAIL, MBR_F_BIRTHDAY,
	MBR_F_GENDER, MBR_F_TIER, MBR_F_STORE, MBR_F_NOTE,
	MBR_F_COUNT
};

/* The member fields as columns (names and Chinese aliases), in enum order. */
extern const struct mbr_col mbr_member_cols[MBR_F_COUNT];

#define MBR_FIELD_SZ 1024

struct mbr_member {
	int64_t id;			/* local row id */
	char uid[40];			/* chain-unique: STORE-SEQ */
	char member_no[64];
	char name[256];
	char phone[32];
	char email[256];
	char birthday[11];		/* YYYY-MM-DD or "" */
	char gender[2];			/* "M", "F" or "" */
	char tier[32];
	char store[32];
	char note[MBR_FIELD_SZ];
	char status[8];			/* active, frozen, erased */
	int64_t points;
	int64_t created_at;
	int64_t updated_at;
	long line;			/* input line it came from (imports), else 0 */
};

void mbr_member_clear(struct mbr_member *m);
/* Access a field by enum: its buffer and size. */
char *mbr_member_field(struct mbr_member *m, enum mbr_member_field f, size_t *size);
/* Field by name (column name or alias); -1 if unknown. */
int mbr_member_field_lookup(const char *name);
/*
 * Validate and normalise one field value into m (phone digits, birthday
 * YYYY-MM-DD, gender M/F, ...).  On MBR_EINVAL, why holds the reason
 * (without location).  Tier and store codes are checked against the
 * database when db is not NULL, and so is a member number, which may not
 * be another member's uid.
 */
int mbr_member_set_field(struct mbr_db *db, struct mbr_member *m,
			 enum mbr_member_field f, const char *value, struct mbr_buf *why);
/*
 * Add a new member (status active).  Requires member_no or phone.
 * MBR_EEXIST when the member_no or phone belongs to another member (the
 * message names which).  Sets m->id and m->uid.  batch may be 0.
 */
int mbr_member_add(struct mbr_db *db, struct mbr_member *m, int64_t batch);
/*
 * Changing an existing member (mbr_member_upsert when it updates,
 * mbr_member_update) needs manager: 0, or MBR_EPERM with the reason.
 * Adding a member does not.
 */
int mbr_member_may_change(struct mbr_db *db);
/*
 * Update the member matching m's member_no (else phone) with m's non-empty
 * fields; adds the member when none matches.  *updated tells which.
 * Updating needs mbr_member_may_change (MBR_EPERM).
 */
int mbr_member_upsert(struct mbr_db *db, struct mbr_member *m, int64_t batch, int *updated);
/*
 * Bulk enrolment: between these two calls (in one transaction) the
 * uniqueness of member_no and phone is not checked row by row; the end
 * finds every duplicate at once (each reported to fn with its line, as
 * "N: phone: 138****5678 already belongs to member S01-7") and returns
 * MBR_EEXIST if there was any, so the caller rolls back.  Several times
 * faster for large files, whose random keyed hashes would otherwise make
 * every row a random index update.  Not for upserts.
 */
int mbr_member_bulk_begin(struct mbr_db *db);
int mbr_member_bulk_end(struct mbr_db *db, mbr_problem_fn fn, void *ctx, long *duplicates);
/* Find by member_no, phone or uid (exact). MBR_ENOTFOUND if none. */
int mbr_member_get(struct mbr_db *db, const char *key, struct mbr_member *m);
int mbr_member_get_id(struct mbr_db *db, int64_t id, struct mbr_member *m);
/* What a sale needs (id, uid, tier, status), for hot paths: personal
 * data, gender, store, times left empty (nothing unsealed), points 0. */
int mbr_member_get_brief(struct mbr_db *db, const char *key, struct mbr_member *m);
/* Members matching query: exact member_no/phone/uid, else name substring. */
typedef int (*mbr_member_fn)(const struct mbr_member *m, void *ctx);
int mbr_member_find(struct mbr_db *db, const char *query, mbr_member_fn fn, void *ctx);
int mbr_member_each(struct mbr_db *db, mbr_member_fn fn, void *ctx);
/* Save m's fields over the stored member m->id (audited as "member.set");
 * needs mbr_member_may_change (MBR_EPERM). */
int mbr_member_update(struct mbr_db *db, struct mbr_member *m, const char *what);
int mbr_member_set_status(struct mbr_db *db, int64_t id, const char *status);
/* Remove personal data for good; keeps uid and anonymous history.  A
 * positive points balance is forfeited (an 'expire' entry, "erased"); a
 * member holding stored value or count-card uses is refused. */
int mbr_member_erase(struct mbr_db *db, int64_t id);
/*
 * After an erasure is committed: checkpoint and truncate the WAL as
 * mbr_db_checkpoint does, waiting for readers at most max_ms (less if the
 * handle's busy timeout, MBR_BUSY_TIMEOUT, is shorter), then put the
 * busy timeout back.  < 0 (MBR_EBUSY) when a reader kept the log: a copy
 * of the erased data then stays in the database files until the last
 * program using the database ends.
 */
int mbr_member_erase_checkpoint(struct mbr_db *db, int max_ms);

/*
 * A member as output columns (uid, member_no, name, phone, email,
 * birthday, gender, tier, store, status, points, created, note).  Unless
 * reveal, personal data is masked (138****5678, 张*, ****-05-17) and the
 * free-text note is left out.
 */
#define MBR_VIEW_COUNT 13
extern const struct mbr_col mbr_member_view_cols[MBR_VIEW_COUNT];
struct mbr_member_view {
	char name[256], phone[32], email[256], birthday[11], note[MBR_FIELD_SZ];
	char points[24], created[MBR_TIME_BUFSZ];
	const char *val[MBR_VIEW_COUNT];
};
void mbr_member_view(const struct mbr_member *m, int reveal, struct mbr_member_view *v);

/* ---------------------------------------------------------------- rules */

#define MBR_MAX_TIERS 16
#define MBR_MAX_TOPUPS 16
#define MBR_MAX_MULTS 64

enum mbr_expiry { MBR_EXPIRY_NEVER, MBR_EXPIRY_MONTHS, MBR_EXPIRY_YEAR_END };
enum mbr_mult_kind { MBR_MULT_CATEGORY, MBR_MULT_SKU, MBR_MULT_TIER, MBR_MULT_WEEKDAY, MBR_MULT_DATES };

struct mbr_tier {
	char code[32];
	char name[64];
	int64_t rank;
	int basis_points;		/* 0: qualify by spend, 1: by points earned */
	int64_t threshold;		/* minor units or points */
	int64_t window_days;
	int64_t discount_bp;		/* 500 = 5% */
	int64_t earn_mult_bp;		/* 10000 = x1 */
};

struct mbr_mult {
	enum mbr_mult_kind kind;
	char key[64];			/* category, SKU or tier code */
	unsigned weekdays;		/* bit 0 = Sunday ... bit 6 = Saturday */
	int64_t from_day, to_day;	/* local days since 1970-01-01, inclusive */
	int64_t bp;
	int line;			/* in the rules text */
};

/* A top-up bonus: paying at least min gives bonus (充值满1000送100). */
struct mbr_topup_rule {
	int64_t min, bonus;
	int64_t from_day, to_day;	/* local days, inclusive; open ends are INT64 limits */
};

/* One version of the rules (see rules.c for the text format). */
struct mbr_rules {
	int64_t version;		/* rules_versions.id, 0 = built-in default */
	int64_t effective_day;		/* local day the version takes effect */
	int64_t base_points, base_per;	/* base_points per base_per minor units */
	int64_t min_spend;
	enum mbr_expiry expiry;
	int64_t expiry_n;
	int64_t redeem_points, redeem_value;	/* redeem_points pay redeem_value minor units */
	int earn_on_points, earn_on_stored_value;
	int64_t birthday_bp;		/* 0 = no birthday multiplier */
	int ntiers, nmults, ntopups;
	struct mbr_tier tiers[MBR_MAX_TIERS];
	struct mbr_topup_rule topups[MBR_MAX_TOPUPS];
	struct mbr_mult mults[MBR_MAX_MULTS];
};

/* The built-in default: 1 point per whole currency unit, never expiring, no tiers. */
void mbr_rules_default(struct mbr_rules *r);
/* Parse rules text; on MBR_EINVAL err says "N: reason", N the line at fault. */
int mbr_rules_parse(const char *text, int exp, struct mbr_rules *r, struct mbr_buf *err);
const struct mbr_tier *mbr_rules_tier(const struct mbr_rules *r, const char *code);
int64_t mbr_rules_line_bp(const struct mbr_rules *r, const char *sku, const char *category);
int64_t mbr_rules_receipt_bp(const struct mbr_rules *r, const char *tier, int64_t day, int birthday);
/* Points of a receipt, rounded toward zero; beyond int64 they saturate
 * (INT64_MAX or -INT64_MAX), which callers refuse as above MBR_POINTS_MAX. */
int64_t mbr_rules_points(const struct mbr_rules *r, __int128 weighted, int64_t eligible, int64_t total,
			 int64_t receipt_bp, int64_t *residue_ppm);
/* The most points one entry (an operation, a receipt) may move. */
#define MBR_POINTS_MAX 1000000000000LL
int64_t mbr_rules_expiry(const struct mbr_rules *r, int64_t t);
/* Bonus for a top-up of amount on a day: the rule with the highest
 * minimum the amount reaches, among those valid that day; 0 if none. */
int64_t mbr_rules_topup_bonus(const struct mbr_rules *r, int64_t amount, int64_t day);

/* All versions of the rules, to score each sale by the one in force. */
struct mbr_rules_set {
	struct mbr_rules deflt;		/* in force before any loaded version */
	struct mbr_rules *v;		/* by effective day, then load order */
	size_t n, alloc;
};
int mbr_rules_set_load(struct mbr_db *db, struct mbr_rules_set *rs);
const struct mbr_rules *mbr_rules_at(const struct mbr_rules_set *rs, int64_t day);
/* The version that scored a sale (sales.rules_version), or NULL. */
const struct mbr_rules *mbr_rules_version(const struct mbr_rules_set *rs, int64_t version);
void mbr_rules_set_free(struct mbr_rules_set *rs);
/* Store a new version (parsed first; MBR_EINVAL with "line N: ..."). */
int mbr_rules_load(struct mbr_db *db, const char *text, int64_t *version);
/* Text of the version in force on a day; MBR_ENOTFOUND for the default. */
int mbr_rules_text(struct mbr_db *db, int64_t day, struct mbr_buf *out);

/* --------------------------------------------------------------- points */

/* One ledger entry to post (see points.c for the lot rules). */
struct mbr_post {
	int64_t member;
	const char *kind;	/* earn redeem adjust transfer expire reversal refund */
	const char *source;	/* sale coupon operator expiry transfer undo */
	const char *reason;
	const char *ref;	/* e.g. "S01/R123" */
	const char *store;	/* NULL: this database's store */
	int64_t points;		/* signed */
	int64_t sale, batch;	/* 0 = none */
	int64_t ts;		/* 0 = now */
	int64_t expires_at;	/* positive entries: when the lot lapses, 0 = never */
	int64_t lot;		/* negative entries: consume this lot first */
	int64_t restore;	/* positive entries: points given back of this negative
				 * entry go back to its lots (expires_at: when it
				 * recorded none) */
	int64_t restored;	/* of it, given back before */
};
int mbr_points_post(struct mbr_db *db, const struct mbr_post *p, int64_t *ledger);
/* Balance now (cached), or of the ledger before a UTC time. */
int mbr_points_balance(struct mbr_db *db, int64_t member, int64_t before, int64_t *balance);
/* What a member can spend at time ts (0 = now): its lots lapsed by then are
 * expired first, as mbr_points_expire does (entries written), then the
 * balance.  mbr_points_post does the same before every spend (a redeem or
 * transfer out) and refuses one the balance does not cover (MBR_EINVAL). */
int mbr_points_spendable(struct mbr_db *db, int64_t member, int64_t ts, int64_t *balance);
/* Points expiry took from lot (a lot's id is the entry that opened it; 0: none). */
int mbr_points_lot_expired(struct mbr_db *db, int64_t lot, int64_t *points);
/* Operator earn, redeem (never below zero) or adjust (signed), audited. */
int mbr_points_change(struct mbr_db *db, const struct mbr_member *m, const char *kind, int64_t points,
		      const char *reason);
int mbr_points_transfer(struct mbr_db *db, const struct mbr_member *from, const struct mbr_member *to,
			int64_t points, const char *reason);
/* Expire every lot lapsed at or before as_of (UTC); idempotent. */
int mbr_points_expire(struct mbr_db *db, int64_t as_of, long *entries, int64_t *points);
/*
 * Part of mbr_sale_undo: cancel the points entries of a sales batch, each
 * with an adjust entry, leaving each member's balance and lots exactly as
 * before the batch; MBR_EINVAL, writing nothing, when a member of the
 * batch has points activity since (entries of undone batches aside).
 */
int mbr_points_undo_batch(struct mbr_db *db, int64_t batch);

struct mbr_ledger_entry {
	const char *uid, *kind, *reason, *source, *ref, *store, *operator;
	int64_t ts, points, balance;
};
typedef int (*mbr_ledger_fn)(const struct mbr_ledger_entry *e, void *ctx);
int mbr_points_history(struct mbr_db *db, int64_t member, mbr_ledger_fn fn, void *ctx);

typedef int (*mbr_tier_change_fn)(int64_t member, const char *uid, const char *old_tier,
				  const char *new_tier, const char *direction, void *ctx);
int mbr_tiers_evaluate(struct mbr_db *db, int64_t day, mbr_tier_change_fn fn, void *ctx);

/* ---------------------------------------------------------------- sales */

enum mbr_sale_col {
	MBR_S_STORE, MBR_S_RECEIPT, MBR_S_TS, MBR_S_MEMBER, MBR_S_SKU, MBR_S_QTY, MBR_S_UNIT_PRICE,
	MBR_S_NAME, MBR_S_CATEGORY, MBR_S_DISCOUNT, MBR_S_PAYMENT, MBR_S_ORIGINAL, MBR_S_COUPON,
	MBR_S_COUNT
};
extern const struct mbr_col mbr_sale_cols[MBR_S_COUNT];

struct mbr_sale_opts {
	const char *store;		/* for files without a store column */
	const char *time_format;	/* strptime(3) format of ts, NULL = ISO 8601 */
	int no_batch;			/* do not open a batch (single sales) */
	/* a rejected receipt: error once, then reject for each of its rows */
	int (*error)(const char *msg, void *ctx);
	int (*reject)(const char *const *raw, size_t nraw, const char *reason, void *ctx);
	void *ctx;
};

struct mbr_sale_stats {
	int64_t batch;
	long receipts, returns, lines, duplicates, new_products;
	long matched_returns;		/* returns naming no sale scored as of the member's sale of the goods */
	long rejected_receipts, rejected_lines;
	int64_t amount, points_earned, points_reversed, points_redeemed, points_refunded;
	char last_receipt[64];		/* for single sales: what was written */
	int64_t last_points, last_total;
};

/* What scoring needs of a receipt's member. */
struct mbr_sale_member {
	int64_t id;
	char uid[40];
	char tier[32];
	char birthday_md[6];		/* "MM-DD" or "" */
	int active;
};

struct mbr_sale_import;

/* Start recording sales in the caller's transaction (opens a batch). */
int mbr_sale_import_begin(struct mbr_db *db, const struct mbr_sale_opts *o, const char *source,
			  struct mbr_sale_import **out);
/*
 * Feed one line item (values indexed by enum mbr_sale_col, NULL = no such
 * column); file/lineno locate it for messages, raw/nraw are kept for the
 * reject callback.  Receipts are written when the next receipt starts or
 * at mbr_sale_import_end.  Returns < 0 only for database errors; bad
 * receipts go to the callbacks and are counted.
 */
int mbr_sale_line(struct mbr_sale_import *im, const char *const *v, const char *file, long lineno,
		  const char *const *raw, size_t nraw);
/* The same with the reader's note of the line (see mbr_sale_ahead_note). */
int mbr_sale_line_noted(struct mbr_sale_import *im, const char *const *v, const char *file, long lineno,
			const char *const *raw, size_t nraw, const char *note, size_t note_len);
/*
 * Members looked up ahead, in a reader's thread (see lib/sale.c): open on
 * the database's path; give mbr_sale_ahead_note and the handle to the
 * reader as its note callback; go once the import has begun (its
 * transaction holds the write lock); at the end cancel (it may still be
 * waiting for go), close the reader, then free.
 */
struct mbr_sale_ahead;
int mbr_sale_ahead_open(const char *path, struct mbr_sale_ahead **out);
void mbr_sale_ahead_note(void *ctx, const char *const *val, struct mbr_buf *note);
void mbr_sale_ahead_go(struct mbr_sale_ahead *a, const struct mbr_sale_import *im);
void mbr_sale_ahead_cancel(struct mbr_sale_ahead *a);
void mbr_sale_ahead_free(struct mbr_sale_ahead *a);
/* A line the reader refused (why = its error): its receipt is rejected whole. */
int mbr_sale_bad_line(struct mbr_sale_import *im, const char *const *v, const char *file, long lineno,
		      const char *const *raw, size_t nraw, const char *why);
int mbr_sale_import_end(struct mbr_sale_import *im, struct mbr_sale_stats *st);
const struct mbr_sale_stats *mbr_sale_import_stats(struct mbr_sale_import *im);
void mbr_sale_import_free(struct mbr_sale_import *im);
int mbr_payment_method_valid(const char *method);
/* Split an item of `mbr-sale add` (SKU:QTY:PRICE[:DISCOUNT]) into f, in buf. */
int mbr_sale_item_split(const char *item, char *buf, size_t size, const char *f[4]);
/* Reverse a whole sales batch (sales, points, aggregates) if nothing was
 * built on it since; otherwise MBR_EINVAL saying what blocks it. */
int mbr_sale_undo(struct mbr_db *db, int64_t batch, long *receipts);
/* Recompute the aggregates from the sales; compare them with it. */
int mbr_agg_rebuild(struct mbr_db *db);
/* The store's time zone changed: put each sale on its business day in
 * the zone now set, and rebuild the aggregates.  Sets *moved. */
int mbr_sales_redate(struct mbr_db *db, long *moved);
int mbr_agg_verify(struct mbr_db *db, mbr_problem_fn fn, void *ctx, int *problems);
struct mbr_product {
	char sku[64], name[256], category[64];
	int64_t price;			/* -1 = none */
};
int mbr_product_get(struct mbr_db *db, const char *sku, struct mbr_product *p);
int mbr_products_each(struct mbr_db *db, mbr_name_fn fn, void *ctx);
/*
 * Catalogue: add or update a product; a NULL name, category or price
 * keeps the old one (a new product gets "" and no price).  Returns 1 when
 * the category of a product already sold changed: the category aggregates
 * then need mbr_agg_rebuild (reports restate history in today's
 * categories); else 0 or < 0.
 */
int mbr_product_upsert(struct mbr_db *db, const char *sku, const char *name, const char *category,
		       const int64_t *price);

/* -------------------------------------------------------------- coupons */

#define MBR_CODE_SZ 40

struct mbr_campaign {
	char code[33];
	char type[12];			/* amount percent threshold gift */
	int64_t value;			/* minor units off, or basis points for percent */
	char gift_sku[64];
	int64_t cap;			/* -1 = none */
	int64_t min_spend;
	int64_t valid_from, valid_to;	/* UTC, 0 = open; valid_to exclusive */
	int64_t total_limit, per_member, points_cost;	/* -1 = none */
	char stores[256], categories[256];	/* comma lists, "" = all */
	char stack[8];			/* none tier all */
	int64_t created_at, closed_at;
};

struct mbr_coupon {
	char code[MBR_CODE_SZ];
	char campaign[33];
	char state[12];
	int64_t member;
	char member_uid[40];
	int64_t discount;		/* for the amount checked */
	char gift_sku[64];
	char stack[8];
	char categories[256];
};

/* What a coupon is being used on. */
struct mbr_coupon_use {
	int64_t member;			/* 0 = not said */
	const char *store;		/* NULL = not said */
	int has_amount;
	int64_t amount;			/* the eligible amount */
	int64_t now;			/* 0 = now */
};

typedef int (*mbr_campaign_fn)(const struct mbr_campaign *c, void *ctx);
typedef int (*mbr_code_fn)(const char *code, void *ctx);

void mbr_campaign_clear(struct mbr_campaign *c);
int mbr_campaign_create(struct mbr_db *db, const struct mbr_campaign *c);
int mbr_campaign_update(struct mbr_db *db, const struct mbr_campaign *c);
int mbr_campaign_get(struct mbr_db *db, const char *code, struct mbr_campaign *c);
int mbr_campaign_close(struct mbr_db *db, const char *code);
int mbr_campaigns_each(struct mbr_db *db, mbr_campaign_fn fn, void *ctx);
int64_t mbr_campaign_discount(const struct mbr_campaign *c, int64_t amount);

/* A new random code with its check character; is a code's check right? */
void mbr_coupon_code_new(char out[MBR_CODE_SZ]);
int mbr_coupon_code_ok(const char *code);
/* Upper-case, without blanks and dashes; MBR_EINVAL if not 4-39 letters/digits. */
int mbr_coupon_code_normalize(const char *in, char out[MBR_CODE_SZ]);
int mbr_coupon_generate(struct mbr_db *db, const char *campaign, long n, int64_t batch, mbr_code_fn fn, void *ctx);
int mbr_coupon_load(struct mbr_db *db, const char *campaign, const char *code, int64_t batch);
int mbr_coupon_issue(struct mbr_db *db, const char *campaign, const struct mbr_member *m, int64_t batch,
		     char code[MBR_CODE_SZ]);
/* Coupons of a campaign handed to a member (member 0: to anyone). */
int mbr_coupon_count(struct mbr_db *db, const char *campaign, int64_t member, int64_t *n);
int mbr_coupon_buy(struct mbr_db *db, const char *campaign, const struct mbr_member *m, char code[MBR_CODE_SZ]);
/*
 * May the code be used now?  0, or an error whose message starts with the
 * reason: unknown, mistyped, expired, not started, used, voided, closed,
 * not issued, other member, wrong store, below minimum, no discount.
 */
int mbr_coupon_check(struct mbr_db *db, const char *code, const struct mbr_coupon_use *u, struct mbr_coupon *out);
/* Check and mark used, at most once even under concurrency. */
int mbr_coupon_redeem(struct mbr_db *db, const char *code, const struct mbr_coupon_use *u,
		      int64_t sale, const char *receipt, struct mbr_coupon *out);
int mbr_coupon_void(struct mbr_db *db, const char *code);
/* A member's coupons usable now: fn(code, campaign). */
int mbr_coupons_of_member(struct mbr_db *db, int64_t member, mbr_name_fn fn, void *ctx);
int mbr_coupon_expire(struct mbr_db *db, int64_t as_of, long *n);

/* ---------------------------------------------------- prepaid value */

struct mbr_sv {
	int64_t principal, bonus;
};

/* A stored-value account: a member's (gift NULL) or a gift card's. */
struct mbr_sv_account {
	int64_t member;
	const char *gift;
};

/* One entry to post (card.c). */
struct mbr_sv_entry {
	const char *kind;		/* topup spend credit payout forfeit adjust */
	int64_t principal, bonus;	/* signed */
	const char *method, *ref, *reason, *store;
	int64_t topup, sale, ts;	/* 0 = none / now */
};

struct mbr_sv_line {
	int64_t id, ts, principal, bonus, topup;
	const char *kind, *method, *ref, *reason, *store;
	int64_t balance_principal, balance_bonus;
};
typedef int (*mbr_sv_fn)(const struct mbr_sv_line *l, void *ctx);

int mbr_sv_balance(struct mbr_db *db, const struct mbr_sv_account *a, struct mbr_sv *out);
/* 0 if the account may be spent from at time at (0: now), MBR_EINVAL
 * (frozen, void, expired by then) else.  A sale is judged at its own
 * time: a nightly import of yesterday's sales may spend a gift card that
 * expired at midnight, as the till did. */
int mbr_sv_usable(struct mbr_db *db, const struct mbr_sv_account *a, int64_t at);
/* Top up with money paid by method; the bonus comes from the rules in force. */
int mbr_sv_topup(struct mbr_db *db, const struct mbr_sv_account *a, int64_t amount, const char *method,
		 const char *store, struct mbr_sv *added);
/* Pay amount from the account, principal and bonus pro rata. */
int mbr_sv_spend(struct mbr_db *db, const struct mbr_sv_account *a, int64_t amount, int64_t sale, const char *store,
		 int64_t ts, const char *ref, struct mbr_sv *used);
/* Pay back to the account (a return). */
int mbr_sv_credit(struct mbr_db *db, const struct mbr_sv_account *a, const struct mbr_sv *amount, int64_t sale,
		  const char *store, int64_t ts, const char *ref);
int mbr_sv_adjust(struct mbr_db *db, const struct mbr_sv_account *a, int64_t principal, int64_t bonus,
		  const char *reason);
int mbr_sv_freeze(struct mbr_db *db, const struct mbr_sv_account *a, int frozen);
/* Pay back the unspent principal of one top-up (ledger id), or of all (0);
 * their unspent bonus is forfeited.  paid says how much of each. */
int mbr_sv_payout(struct mbr_db *db, const struct mbr_sv_account *a, int64_t topup, const char *method,
		  struct mbr_sv *paid);
int mbr_sv_history(struct mbr_db *db, const struct mbr_sv_account *a, mbr_sv_fn fn, void *ctx);

struct mbr_gift {
	char code[MBR_CODE_SZ];
	struct mbr_sv balance;
	char state[8];
	int64_t expires_at;		/* 0 = never */
};
/* n new gift cards of amount each (codes as coupons'), fn hears each code. */
int mbr_gift_create(struct mbr_db *db, long n, int64_t amount, int64_t expires_at, int64_t batch, mbr_code_fn fn,
		    void *ctx);
int mbr_gift_get(struct mbr_db *db, const char *code, struct mbr_gift *g);

struct mbr_count_card {
	char uid[40], sku[64], state[12], store[32];
	int64_t uses, uses_left, price, expires_at;
};
typedef int (*mbr_count_fn)(const struct mbr_count_card *c, void *ctx);
int mbr_count_sell(struct mbr_db *db, const struct mbr_member *m, const char *sku, int64_t uses, int64_t price,
		   int64_t expires_at, const char *store, const char *method, char uid[40]);
int mbr_count_available(struct mbr_db *db, int64_t member, const char *sku, int64_t at, int64_t *uses);
int mbr_count_use(struct mbr_db *db, int64_t member, const char *sku, int64_t n, int64_t sale, const char *store,
		  int64_t at);
/*
 * Pay back the unused uses at the price per use (rounded down), by
 * *method; a card bought with stored value is paid back to stored value
 * instead, and *method says "stored_value" (which *method may say
 * already, for such a card only).  An expired card's uses lapsed.
 */
int mbr_count_refund(struct mbr_db *db, const char *uid, const char **method, int64_t *refund);
int mbr_count_each(struct mbr_db *db, int64_t member, mbr_count_fn fn, void *ctx);
/*
 * Returns of a sale paid with count-card uses give the uses back:
 * mbr_count_returnable says how many of sku are still to give back,
 * mbr_count_give_back gives n of them back to the cards that paid (the
 * entry names the return ret).
 */
int mbr_count_returnable(struct mbr_db *db, int64_t sale, const char *sku, int64_t *uses);
int mbr_count_give_back(struct mbr_db *db, int64_t sale, const char *sku, int64_t n, int64_t ret, const char *store,
			int64_t at);
/*
 * Undo what the sales of a batch did to prepaid value, before they go:
 * each stored-value and gift-card entry of theirs is compensated by an
 * adjustment of the opposite amount, and count-card uses are given back.
 * Refused (MBR_EINVAL, saying what blocks) when an account has stored-value
 * activity since, or a card used was refunded since.
 */
int mbr_prepaid_undo_batch(struct mbr_db *db, int64_t batch);

/* -------------------------------------------------------------- reports */

enum mbr_report_by { MBR_BY_DAY, MBR_BY_MONTH, MBR_BY_STORE };
typedef int (*mbr_report_fn)(const char *const *vals, void *ctx);
/* key (day, month or store), receipts, returns, amount, discount, items,
 * member_receipts, member_amount, avg_receipt, points; of one store
 * unless store is NULL. */
#define MBR_REPORT_SALES_NCOLS 10
extern const struct mbr_col mbr_report_sales_cols[MBR_REPORT_SALES_NCOLS];
int mbr_report_sales(struct mbr_db *db, enum mbr_report_by by, const char *store, int64_t from_day,
		     int64_t to_day, mbr_report_fn fn, void *ctx);
/* Per category, over [from_day, to_day] and one store (NULL: all):
 * category, lines, qty, amount, share (% of the amount, one decimal). */
#define MBR_REPORT_CATEGORY_NCOLS 5
extern const struct mbr_col mbr_report_category_cols[MBR_REPORT_CATEGORY_NCOLS];
int mbr_report_categories(struct mbr_db *db, const char *store, int64_t from_day, int64_t to_day,
			  mbr_report_fn fn, void *ctx);
/* Recency, frequency and monetary value of the members (not erased) who
 * bought in [from_day, to_day]: uid, tier, store, last_purchase,
 * recency_days, frequency, monetary, r, f, m, rfm, segment. */
#define MBR_REPORT_RFM_NCOLS 12
extern const struct mbr_col mbr_report_rfm_cols[MBR_REPORT_RFM_NCOLS];
int mbr_report_rfm(struct mbr_db *db, int64_t from_day, int64_t to_day, mbr_report_fn fn, void *ctx);
/* Members by month of first purchase (cohorts first bought in
 * [from_day, to_day]) and how many of them bought in each month since:
 * cohort, members, month, offset, active, retention. */
#define MBR_REPORT_COHORT_NCOLS 6
extern const struct mbr_col mbr_report_cohort_cols[MBR_REPORT_COHORT_NCOLS];
int mbr_report_cohorts(struct mbr_db *db, int64_t from_day, int64_t to_day, mbr_report_fn fn, void *ctx);
/* Members enrolled in [from_day, to_day] by month of enrolment or home
 * store (by: MBR_BY_MONTH or MBR_BY_STORE): key, enrolled, active,
 * frozen, erased, buyers, spend, avg_spend. */
#define MBR_REPORT_MEMBER_NCOLS 8
extern const struct mbr_col mbr_report_member_cols[MBR_REPORT_MEMBER_NCOLS];
int mbr_report_members(struct mbr_db *db, enum mbr_report_by by, int64_t from_day, int64_t to_day,
		       mbr_report_fn fn, void *ctx);
/* Month by month: month, active, new, retained, reactivated, churned,
 * churn_rate, spend, avg_spend, clv (see report.c), the months meeting
 * [from_day, to_day]. */
#define MBR_REPORT_CHURN_NCOLS 10
extern const struct mbr_col mbr_report_churn_cols[MBR_REPORT_CHURN_NCOLS];
int mbr_report_churn(struct mbr_db *db, int64_t from_day, int64_t to_day, mbr_report_fn fn, void *ctx);
/* Members (not erased) per tier: tier, members, points, negative,
 * stored_value. */
#define MBR_REPORT_TIER_NCOLS 5
extern const struct mbr_col mbr_report_tier_cols[MBR_REPORT_TIER_NCOLS];
int mbr_report_tiers(struct mbr_db *db, mbr_report_fn fn, void *ctx);
/* Members whose points balance is below zero: member_no, uid, points,
 * tier, store, since (the day of the entry that took it below zero
 * last). */
#define MBR_REPORT_NEGATIVE_NCOLS 6
extern const struct mbr_col mbr_report_negative_cols[MBR_REPORT_NEGATIVE_NCOLS];
int mbr_report_negative(struct mbr_db *db, mbr_report_fn fn, void *ctx);
/* Active members whose birthday (month-day) falls within days of today
 * (a local day number): member_no, uid, birthday (MM-DD), in_days, tier, store. */
#define MBR_REPORT_BIRTHDAY_NCOLS 6
extern const struct mbr_col mbr_report_birthday_cols[MBR_REPORT_BIRTHDAY_NCOLS];
int mbr_report_birthdays(struct mbr_db *db, int64_t today, int days, mbr_report_fn fn, void *ctx);
/* Between stores (paid_in_at, used_at, stored_value, principal, bonus,
 * points, count_uses, count_value): stored value topped up at one store
 * and spent at another, points earned at one and redeemed at another,
 * count cards sold at one and used at another, in [from_day, to_day]. */
#define MBR_SETTLEMENT_NCOLS 8
extern const struct mbr_col mbr_settlement_cols[MBR_SETTLEMENT_NCOLS];
int mbr_report_settlement(struct mbr_db *db, int64_t from_day, int64_t to_day, mbr_report_fn fn, void *ctx);
/* What is owed now: stored value, gift cards, count cards, points. */
#define MBR_LIABILITY_NCOLS 5
extern const struct mbr_col mbr_liability_cols[MBR_LIABILITY_NCOLS];
int mbr_report_liability(struct mbr_db *db, mbr_report_fn fn, void *ctx);
/* Per campaign: campaign, type, issued, redeemed, expired, voided,
 * redemption_rate (%), discount, sales (totals of receipts using it). */
extern const struct mbr_col mbr_coupon_summary_cols[9];
/* Coupons redeemed on the sales of a batch being undone are issued again. */
int mbr_coupon_undo_batch(struct mbr_db *db, int64_t batch);
int mbr_coupon_summary(struct mbr_db *db, mbr_report_fn fn, void *ctx);

#endif /* MBR_H */
