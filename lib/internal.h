/*
 * internal.h - what lib/ modules share among themselves and never show to
 * cmd/: the database handle's layout, the statement cache, and the crypto
 * primitives.  Only the lib/ sources and the unit tests include this.
 */
#ifndef MBR_INTERNAL_H
#define MBR_INTERNAL_H

#include <sqlite3.h>

#include "mbr.h"

/*
 * The page size of a database mbr-db init makes (SQLite's default is 4096).
 * A sale import writes each page to the log in a 24-byte header and the
 * page, reads it back at commit to rewrite checksums, and copies it at
 * the checkpoint: half as many pages is half as many of each, and fewer
 * b-tree pages to split and to balance.  1M sale lines into 200k members
 * took 9-17% less wall time with 8192 than with 4096, and no more with
 * 16384 (README, Benchmarks).  A database keeps the page size it was made
 * with.
 */
#define MBR_PAGE_SIZE 8192
#define MBR_STMT_CACHE 192	/* at most 255: cache_hint holds index + 1 in a byte */

struct mbr_key;

/* FNV-1a of a string: the in-memory hash tables' (never stored). */
static inline uint64_t mbr_hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

struct mbr_db {
	sqlite3 *sql;
	char *path;
	char *key_path;
	struct mbr_key *key;		/* loaded on first use, see mbr_db_key */
	unsigned flags;
	char program[32];
	char operator[64];
	int role;			/* enum mbr_role, or -1 until looked up */
	int exp;			/* currency exponent */
	char store[32];			/* this database's store code */
	int64_t uid_next;		/* next local sequence for chain-unique keys, 0 = unknown */
	struct {			/* store codes seen to exist (stores are never removed) */
		uint64_t hash;		/* of the code, compared first */
		char code[32];
	} known_store[64];
	int nknown_store;
	struct mbr_buf err;
	int in_tx;
	int bulk;		/* in a bulk transaction: foreign keys off (mbr_begin_bulk) */
	int held;		/* it holds the database, with a rollback journal (db.c, begin) */
	struct mbr_pending *pending;	/* ledger entries and balance changes not yet
					 * written (points.c), bulk only */
	struct {
		const char *sql;	/* the literal's address is the cache key */
		sqlite3_stmt *stmt;
		int ledger;		/* it names points_ledger: pending entries first */
	} cache[MBR_STMT_CACHE];
	unsigned char cache_hint[256];	/* by the SQL text's address: index + 1 into cache, or 0 */
	int ncache;
};

/*
 * The VFS every connection opens with (view.c): the default one, with a
 * view of the database as it stood when a held import began, for that
 * import's own reading thread (MBR_OPEN_IMMUTABLE).  mbr_view_track
 * starts it on the importing connection before it writes anything (one
 * import at a time in a process); mbr_view_end ends it, and the view's
 * reads fail from then on.
 */
#define MBR_VFS "mbr"
int mbr_view_register(void);
void mbr_view_track(sqlite3 *sql);
void mbr_view_end(sqlite3 *sql);

/*
 * Prepared statement for a string literal, prepared once per handle and
 * kept for the whole run.  The statement comes back reset with its
 * bindings cleared.  NULL on error (message set on db).
 */
sqlite3_stmt *mbr_stmt(struct mbr_db *db, const char *sql);
/* The same, for a query of ledger entries older than the transaction's:
 * pending entries are not written first (mbr_points_ledger_flush). */
sqlite3_stmt *mbr_stmt_settled(struct mbr_db *db, const char *sql);
/* The first column of the one row of a query without parameters (a
 * literal, as mbr_stmt's) into *v: 0, or < 0 naming what in the error. */
int mbr_query_i64(struct mbr_db *db, const char *sql, const char *what, int64_t *v);
/*
 * One INSERT (or upsert) of 1, 4 and 16 rows at once: writing many rows
 * takes a statement per 16, which costs SQLite a third less a row than a
 * statement each.  Define with MBR_ROWS_SQL(head, "(?, ?)", tail, ncols).
 * Make them INSERT OR FAIL: a row that breaks a constraint then ends the
 * statement without undoing the rows before it, so SQLite keeps no
 * statement journal (a copy of each page the statement changes, a tenth
 * of a sale import); every caller rolls its transaction back on error.
 */
struct mbr_rows_sql {
	const char *sql[3];	/* 1, 4 and 16 rows */
	int ncols;
};
#define MBR_ROWS4_(r) r ", " r ", " r ", " r
#define MBR_ROWS16_(r) MBR_ROWS4_(r) ", " MBR_ROWS4_(r) ", " MBR_ROWS4_(r) ", " MBR_ROWS4_(r)
#define MBR_ROWS_SQL(head, row, tail, ncols) \
	{ { head row tail, head MBR_ROWS4_(row) tail, head MBR_ROWS16_(row) tail }, ncols }
/* Bind row i's values to st's parameters base + 1 .. base + ncols, every
 * one of them (NULLs too: mbr_rows_write clears no bindings). */
typedef void (*mbr_bind_row_fn)(sqlite3_stmt *st, int base, size_t i, void *ctx);
/* Write rows 0 .. n - 1, binding each with bind. */
int mbr_rows_write(struct mbr_db *db, const struct mbr_rows_sql *q, size_t n, mbr_bind_row_fn bind, void *ctx);
/* Call fn(col0, col1) for each row of a two-column query without parameters. */
int mbr_each_pair(struct mbr_db *db, const char *sql, mbr_name_fn fn, void *ctx);
/* Run a statement that returns no rows (step to DONE, then reset). */
int mbr_stmt_done(struct mbr_db *db, sqlite3_stmt *st);
/* Turn the last SQLite error into an MBR_E* code with a message. */
int mbr_db_sqlerr(struct mbr_db *db, const char *what);
/* Set the page cache to its configured size (see db.c). */
int mbr_db_cache_default(struct mbr_db *db);
/* Execute fixed SQL text without parameters (schema, pragmas). */
int mbr_db_exec(struct mbr_db *db, const char *sql);
/* The integer a statement (a PRAGMA) gives on a connection, or -1. */
long long mbr_sqlite_int(sqlite3 *sql, const char *q);
/*
 * Rebuild the database open on sql with pages of page_size bytes: out of
 * WAL mode, VACUUM, back into WAL mode.  SQLITE_BUSY when SQLite keeps
 * WAL mode (it does while other connections have the database open),
 * nothing changed.  For mbr-db vacuum, and for a backup's copy that is
 * to replace a database of another page size.
 */
int mbr_sqlite_repage(sqlite3 *sql, int page_size);
/* The key, loaded on first use; MBR_EKEY with a message if unavailable. */
int mbr_db_key(struct mbr_db *db, const struct mbr_key **key);
/* Next chain-unique key "STORE-N" into out (40 bytes); within a transaction. */
int mbr_db_next_uid(struct mbr_db *db, const char *kind, char *out);
/*
 * SQL: does a ledger entry whose sale column is col belong to an undone
 * sales batch?  Only undo deletes sales, and a sale's id is never reused;
 * undo's compensating entries name the same sales, so an undone entry and
 * the entry that cancels it both match.  Neither is activity: the checks
 * before an undo and the settlement replays pass over them.
 */
#define MBR_UNDONE_SALE_SQL(col) "(" col " IS NOT NULL AND " col " NOT IN (SELECT id FROM sales))"

/* Schema: migrations[i] upgrades user_version i to i+1. */
extern const char *const mbr_migrations[];
extern const int mbr_nmigrations;
/*
 * The indexes a sale's member lookup reads (schema.c, migration 9), as
 * migration 9 made them; a bulk member import drops and makes them again
 * (member.c).  Part of a released migration: never edit, add another.
 */
#define MBR_MEMBER_BRIEF_INDEXES \
	"CREATE INDEX IF NOT EXISTS members_card_brief ON members(card_hash, tier, status, uid)" \
	" WHERE card_hash IS NOT NULL;" \
	"CREATE INDEX IF NOT EXISTS members_phone_brief ON members(phone_hash, tier, status, uid)" \
	" WHERE phone_hash IS NOT NULL;"

/* ---------------------------------------------------------------- crypto */

#define MBR_KEY_BYTES	32
#define MBR_HASH_BYTES	16
#define MBR_CHAIN_BYTES	32
#define MBR_SEAL_OVERHEAD (24 + 16)	/* nonce + tag */

enum mbr_hash_kind { MBR_HASH_PHONE = 1, MBR_HASH_CARD = 2, MBR_HASH_EMAIL = 3 };

/* sodium_init once; MBR_EKEY if libsodium cannot start. */
int mbr_crypto_init(void);
/*
 * Create a new random key file at path, mode 0600, refusing to overwrite
 * an existing file.  The file holds the key as 64 hex digits and a newline.
 */
int mbr_key_generate(const char *path, struct mbr_buf *err);
/* Load a key file; MBR_EKEY with a reason (missing, unreadable, malformed). */
int mbr_key_load(const char *path, struct mbr_key **out, struct mbr_buf *err);
void mbr_key_free(struct mbr_key *k);
/*
 * Authenticated encryption (XChaCha20-Poly1305, random nonce) of pt into
 * out, which must hold ptlen + MBR_SEAL_OVERHEAD bytes; ad (e.g. the row's
 * uid) is bound to the ciphertext but not stored.
 */
void mbr_seal(const struct mbr_key *k, const void *ad, size_t adlen,
	      const void *pt, size_t ptlen, unsigned char *out);
/* Inverse of mbr_seal; pt must hold ctlen - MBR_SEAL_OVERHEAD bytes.
 * MBR_EKEY if the ciphertext does not authenticate (wrong key, tampering). */
int mbr_unseal(const struct mbr_key *k, const void *ad, size_t adlen,
	       const unsigned char *ct, size_t ctlen, void *pt, size_t *ptlen);
/* Keyed hash of a normalised lookup value (phone, card number). */
void mbr_lookup_hash(const struct mbr_key *k, enum mbr_hash_kind kind,
		     const char *s, size_t len, unsigned char out[MBR_HASH_BYTES]);
/* Keyed chain hash for the audit log: out = H(prev || data). */
void mbr_chain_hash(const struct mbr_key *k, const unsigned char prev[MBR_CHAIN_BYTES],
		    const void *data, size_t len, unsigned char out[MBR_CHAIN_BYTES]);

/*
 * Points in a bulk transaction (points.c): ledger entries are written
 * behind, many a statement, and the changes to cached balances are kept
 * and written in member order, at the latest when the transaction
 * commits.  Every read of a cached balance adds what is pending
 * (mbr_points_pending); mbr_stmt writes the pending entries before it
 * hands out a statement that names points_ledger
 * (mbr_points_ledger_flush; mbr_stmt_settled does not); mbr_commit writes both
 * (mbr_points_pending_flush) and mbr_rollback drops both.
 */
int64_t mbr_points_pending(struct mbr_db *db, int64_t member);
/* Fetch into the cache what a change to member's pending balance touches. */
void mbr_points_prefetch(struct mbr_db *db, int64_t member);
int mbr_points_ledger_flush(struct mbr_db *db);
int mbr_points_pending_flush(struct mbr_db *db);
void mbr_points_pending_drop(struct mbr_db *db);

#endif /* MBR_INTERNAL_H */
