/*
 * fuzz_db.h - the database of a fuzz target that needs one: made once for
 * store S01 (Asia/Shanghai, MBR_NOW pinned) in a temporary directory,
 * opened read-write into db, and removed at exit; fuzz_member adds a
 * member with points.  Define FUZZ_NAME (the
 * target's name, for messages and the directory) before including it.
 */
#ifndef FUZZ_DB_H
#define FUZZ_DB_H

#include <stdio.h>
#include <stdlib.h>

#include "mbr.h"

static struct mbr_db *db;
static char dir[] = "/tmp/mbr-" FUZZ_NAME "-XXXXXX";

/* rc must be MBR_OK, else the target stops (a bug of its set-up) */
static void must(int rc, const char *what)
{
	if (rc != MBR_OK) {
		fprintf(stderr, FUZZ_NAME ": %s: %d %s\n", what, rc, db ? mbr_db_errmsg(db) : "");
		abort();
	}
}

static void cleanup(void)
{
	char cmd[160];

	mbr_db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, FUZZ_NAME ": cannot remove %s\n", dir);
}

static void fuzz_db_open(void)
{
	struct mbr_init_opts o = { "S01", NULL, NULL, -1, "Asia/Shanghai", NULL };
	struct mbr_buf err = MBR_BUF_INIT;
	char path[128];

	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/t.db", dir);
	unsetenv("MBR_KEY");
	setenv("MBR_OPERATOR", "fuzz", 1);
	setenv("MBR_NOW", "2025-07-01T02:00:00Z", 1);
	if (mbr_db_init(path, &o, &err) != MBR_OK) {
		fprintf(stderr, FUZZ_NAME ": init: %s\n", err.buf);
		abort();
	}
	mbr_buf_release(&err);
	must(mbr_db_open(path, MBR_OPEN_RW, "fuzz", &db), "open");
	atexit(cleanup);
}

/* Add member `no` holding `points` points (committed), into m. */
static inline void fuzz_member(const char *no, int64_t points, struct mbr_member *m)
{
	struct mbr_buf err = MBR_BUF_INIT;

	mbr_member_clear(m);
	must(mbr_member_set_field(db, m, MBR_F_MEMBER_NO, no, &err), "member_no");
	must(mbr_begin(db), "begin");
	must(mbr_member_add(db, m, 0), "member add");
	must(mbr_commit(db), "commit");
	must(mbr_member_get(db, no, m), "member get");
	must(mbr_begin(db), "begin");
	must(mbr_points_change(db, m, "earn", points, "fuzz"), "points");
	must(mbr_commit(db), "commit");
	mbr_buf_release(&err);
}

#endif /* FUZZ_DB_H */
