/*
 * fuzz_csv_encoding.c - libFuzzer target for the CSV/TSV reader's
 * conversion of other encodings (--encoding, lib/csv.c convert): any
 * bytes in GB18030, GBK, Big5, Shift_JIS, ISO-2022-JP (a stateful one),
 * UTF-16 and Latin-1, read to the end, with the member columns or (cols
 * NULL) every header column taken as is.  The first byte picks the
 * encoding and the columns; the rest is the file.  Never crash or hang,
 * and every field handed out is UTF-8 without NUL bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbr.h"

static void check_utf8(const char *s, size_t n)
{
	unsigned cp;
	size_t k;

	if (strlen(s) != n)
		abort();	/* a NUL byte inside */
	while (n) {
		if (!(k = mbr_utf8_decode((const unsigned char *)s, n, &cp)))
			abort();
		s += k, n -= k;
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const encodings[] = { "GB18030", "GBK", "BIG5", "SHIFT_JIS", "ISO-2022-JP",
						 "UTF-16", "ISO-8859-1", "UTF-8" };
	char path[] = "/tmp/mbr-fuzz-XXXXXX";
	struct mbr_reader_opts ro = { .ignore_unknown = 1 };
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	size_t i, ncols;
	int fd, rc, n = 0, all;

	if (size < 1)
		return 0;
	ro.encoding = encodings[data[0] & 7];
	all = data[0] & 8;
	ncols = all ? 0 : MBR_F_COUNT;
	if ((fd = mkstemp(path)) < 0)
		return 0;
	if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	if (mbr_reader_open(&r, path, all ? NULL : mbr_member_cols, ncols, &ro, &err) == 0) {
		if (all)
			mbr_reader_header(r, &ncols);
		while ((rc = mbr_reader_next(r, &row, &err)) != 0 && n++ < 100000) {
			if (rc < 0 && rc != MBR_EINVAL)
				break;
			if (rc == 1)
				for (i = 0; i < ncols; i++)
					if (row->val[i])
						check_utf8(row->val[i], row->len[i]);
		}
	}
	mbr_reader_close(r);
	mbr_buf_release(&err);
	unlink(path);
	return 0;
}
