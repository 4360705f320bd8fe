/*
 * fuzz_csv.c - libFuzzer target for the CSV/TSV reader: any bytes, read
 * to the end through the member columns, never crash or hang.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbr.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char path[] = "/tmp/mbr-fuzz-XXXXXX";
	struct mbr_reader_opts ro = { .ignore_unknown = 1 };
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	int fd = mkstemp(path), rc, n = 0;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	if (mbr_reader_open(&r, path, mbr_member_cols, MBR_F_COUNT, &ro, &err) == 0) {
		while ((rc = mbr_reader_next(r, &row, &err)) != 0 && n++ < 100000)
			if (rc < 0 && rc != MBR_EINVAL)
				break;
	}
	mbr_reader_close(r);
	mbr_buf_release(&err);
	unlink(path);
	return 0;
}
