/*
 * fuzz_gzip.c - libFuzzer target for the gzip input of the CSV/TSV
 * reader (lib/csv.c read_gzip: members one after another, zero padding,
 * trailing data, truncation, corrupt deflate data).  The first byte picks
 * how the rest is framed: raw bytes behind a gzip magic, one member, two
 * members, or one member followed by zeros, by plain text, or cut short;
 * the file is then read to the end through the member columns as
 * mbr-add does.  Never crash, hang or leak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "mbr.h"

/* Append data (n bytes) as one gzip member, at level (0-9). */
static void add_member(struct mbr_buf *b, const unsigned char *data, size_t n, int level)
{
	z_stream zs;
	unsigned char out[4096];
	int zrc;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	zs.next_in = (unsigned char *)data;
	zs.avail_in = (uInt)n;
	do {
		zs.next_out = out;
		zs.avail_out = sizeof(out);
		zrc = deflate(&zs, Z_FINISH);
		mbr_buf_add(b, out, sizeof(out) - zs.avail_out);
	} while (zrc == Z_OK || (zrc == Z_BUF_ERROR && zs.avail_out == 0));
	if (zrc != Z_STREAM_END)
		abort();
	deflateEnd(&zs);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char path[] = "/tmp/mbr-fuzz-XXXXXX";
	struct mbr_reader_opts ro = { .ignore_unknown = 1 };
	struct mbr_buf err = MBR_BUF_INIT, file = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	const unsigned char *p = data + 1;
	size_t n = size - 1, half, i;
	int fd, rc, rows = 0, mode, level;

	if (size < 1)
		return 0;
	mode = data[0] & 7;
	level = (data[0] >> 3) % 10;
	half = n / 2;
	switch (mode) {
	case 0:		/* whatever follows a gzip magic */
		mbr_buf_add(&file, "\x1f\x8b", 2);
		mbr_buf_add(&file, p, n);
		break;
	case 1:
		add_member(&file, p, n, level);
		break;
	case 2:		/* cat a.gz b.gz */
		add_member(&file, p, half, level);
		add_member(&file, p + half, n - half, level);
		break;
	case 3:		/* zero padding, as tape blocks leave */
		add_member(&file, p, n, level);
		for (i = 0; i < (size_t)(data[0] >> 3) + 1; i++)
			mbr_buf_addc(&file, 0);
		break;
	case 4:		/* cat more.csv >> day.csv.gz */
		add_member(&file, p, half, level);
		mbr_buf_add(&file, p + half, n - half);
		break;
	case 5:		/* cut short */
		add_member(&file, p, n, level);
		file.len -= file.len > (size_t)(data[0] >> 3) ? (size_t)(data[0] >> 3) + 1 : 0;
		break;
	case 6:		/* zeros, then something else */
		add_member(&file, p, half, level);
		mbr_buf_add(&file, "\0\0\0", 3);
		mbr_buf_add(&file, p + half, n - half);
		break;
	default:	/* a member whose compressed bytes are flipped */
		add_member(&file, p, half, level);
		for (i = 0; i < n - half && i + 10 < file.len; i++)
			file.buf[i + 10] ^= (char)p[half + i];
		break;
	}
	if ((fd = mkstemp(path)) < 0) {
		mbr_buf_release(&file);
		return 0;
	}
	if (write(fd, file.buf, file.len) != (ssize_t)file.len) {
		close(fd);
		unlink(path);
		mbr_buf_release(&file);
		return 0;
	}
	close(fd);
	if (mbr_reader_open(&r, path, mbr_member_cols, MBR_F_COUNT, &ro, &err) == 0) {
		while ((rc = mbr_reader_next(r, &row, &err)) != 0 && rows++ < 100000)
			if (rc < 0 && rc != MBR_EINVAL)
				break;
	}
	mbr_reader_close(r);
	mbr_buf_release(&err);
	mbr_buf_release(&file);
	unlink(path);
	return 0;
}
