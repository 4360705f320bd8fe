/*
 * fuzz_csv.c - libFuzzer target for the CSV/TSV reader: any bytes, read
 * to the end through the member columns, never crash or hang; and read
 * ahead in a thread (opts->prefetch) they give the same records, lines,
 * fields and messages as read as called.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbr.h"

/* Read path to the end (at most 100000 records) into a transcript t. */
static void transcript(const char *path, int prefetch, struct mbr_buf *t)
{
	struct mbr_reader_opts ro = { .ignore_unknown = 1, .prefetch = prefetch };
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	size_t i;
	int rc, n = 0;

	rc = mbr_reader_open(&r, path, mbr_member_cols, MBR_F_COUNT, &ro, &err);
	mbr_buf_addf(t, "open %d %s\n", rc, rc ? err.buf : "");
	if (rc == 0) {
		while ((rc = mbr_reader_next(r, &row, &err)) != 0 && n++ < 100000) {
			mbr_buf_addf(t, "%d %s|", rc, rc < 0 ? err.buf : "");
			if (row) {
				mbr_buf_addf(t, "%ld:", row->line);
				for (i = 0; i < row->nraw; i++)
					mbr_buf_addf(t, "%zu=%s,", strlen(row->raw[i]), row->raw[i]);
				for (i = 0; i < MBR_F_COUNT; i++)
					mbr_buf_addf(t, "%s;", row->val[i] ? row->val[i] : "(null)");
			}
			mbr_buf_addc(t, '\n');
			if (rc < 0 && rc != MBR_EINVAL)
				break;
		}
	}
	mbr_reader_close(r);
	mbr_buf_release(&err);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char path[] = "/tmp/mbr-fuzz-XXXXXX";
	struct mbr_buf a = MBR_BUF_INIT, b = MBR_BUF_INIT;
	int fd = mkstemp(path);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	transcript(path, 0, &a);
	transcript(path, 1, &b);
	if (a.len != b.len || memcmp(a.buf, b.buf, a.len)) {
		fprintf(stderr, "read as called:\n%s\nread ahead:\n%s\n", a.buf, b.buf);
		abort();
	}
	mbr_buf_release(&a);
	mbr_buf_release(&b);
	unlink(path);
	return 0;
}
