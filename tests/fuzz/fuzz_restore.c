/*
 * fuzz_restore.c - libFuzzer target for the backup reader of mbr-db
 * restore, reached through mbr_db_restore_check: the strict gunzip of
 * lib/check.c (gunzip_to) and then the inflated file opened and checked
 * as an mbr database.  The first byte picks whether the rest is the
 * backup file as is, or a database image that is compressed here (so
 * that the database checks are reached past the gzip CRC); the database
 * path is never replaced.  Never crash or leak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "mbr.h"

static char dir[] = "/tmp/mbr-fuzz-restore-XXXXXX";

static void cleanup(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_restore: cannot remove %s\n", dir);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static char dbpath[128], gzpath[128];
	struct mbr_buf err = MBR_BUF_INIT;
	gzFile gz;
	FILE *fp;

	if (!dbpath[0]) {
		if (!mkdtemp(dir))
			abort();
		snprintf(dbpath, sizeof(dbpath), "%s/t.db", dir);
		snprintf(gzpath, sizeof(gzpath), "%s/t.db.gz", dir);
		unsetenv("MBR_KEY");
		setenv("MBR_OPERATOR", "fuzz", 1);
		atexit(cleanup);
	}
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if (!(gz = gzopen(gzpath, "wb1")))
			return 0;
		if (size > 1 && gzwrite(gz, data + 1, (unsigned)(size - 1)) != (int)(size - 1)) {
			gzclose(gz);
			return 0;
		}
		if (gzclose(gz) != Z_OK)
			return 0;
	} else {
		if (!(fp = fopen(gzpath, "wb")))
			return 0;
		if (fwrite(data + 1, 1, size - 1, fp) != size - 1) {
			fclose(fp);
			return 0;
		}
		if (fclose(fp) != 0)
			return 0;
	}
	mbr_db_restore_check(dbpath, gzpath, &err);
	if (access(dbpath, F_OK) == 0)
		abort();	/* a check must not create the database */
	mbr_buf_release(&err);
	unlink(gzpath);
	return 0;
}
