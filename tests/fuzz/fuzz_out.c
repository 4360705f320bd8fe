/*
 * fuzz_out.c - libFuzzer target for the record writers (lib/out.c):
 * table, CSV, TSV, JSON lines and HTML, with and without excel, fields
 * of arbitrary bytes.  Input: the first byte picks the format, excel,
 * and whether records carry one field more than the columns (as reject
 * files do); the rest is NUL-separated fields: the HTML title, then
 * records of four (a field that is the single byte 0x01 is NULL).
 * Properties checked beyond the sanitizers: JSON and tables write one
 * line per record and no raw control character; HTML escapes all the
 * markup in the data (the page has as many '<', '>' and '"' as the same
 * page with that markup replaced by letters in the data); and CSV/TSV of UTF-8
 * fields, without excel, read back through mbr_reader unchanged (a
 * record of blank fields too: its first field is quoted, so that its line
 * is not blank).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbr.h"

#define NCOLS 4
#define MAXF 64

static const struct mbr_col cols[NCOLS] = {
	{ "key", NULL, 0 },
	{ "amount", NULL, MBR_COL_NUMBER | MBR_COL_CHART },
	{ "name", NULL, 0 },
	{ "n", NULL, MBR_COL_NUMBER },
};

struct input {
	enum mbr_format fmt;
	int excel, extra;
	const char *title;
	const char *f[MAXF];	/* records' fields */
	size_t nf;
};

/* Write the records of in; the output is returned (malloc'd) with its size. */
static char *render(const struct input *in, size_t *len)
{
	const char *vals[NCOLS + 1];
	struct mbr_out *o;
	char *buf = NULL;
	size_t r, i;
	FILE *fp = open_memstream(&buf, len);

	if (!fp)
		abort();
	if (!(o = mbr_out_new(fp, in->fmt, in->excel, cols, NCOLS)))
		abort();
	mbr_out_title(o, in->title);
	for (r = 0; r * NCOLS < in->nf; r++) {
		for (i = 0; i < NCOLS; i++)
			vals[i] = r * NCOLS + i < in->nf ? in->f[r * NCOLS + i] : NULL;
		vals[NCOLS] = "extra";
		if ((in->extra ? mbr_out_fields(o, vals, NCOLS + 1) : mbr_out_row(o, vals)) != 0)
			abort();
	}
	if (mbr_out_end(o) != 0 || fclose(fp) != 0)
		abort();
	return buf;
}

static size_t count(const char *s, size_t n, char c)
{
	size_t k = 0;

	while (n--)
		k += *s++ == c;
	return k;
}

static int utf8(const char *s)
{
	size_t n = strlen(s), k;
	unsigned cp;

	while (n) {
		if (!(k = mbr_utf8_decode((const unsigned char *)s, n, &cp)) || cp == 0xFEFF)
			return 0;
		s += k, n -= k;
	}
	return 1;
}

/* Lines and control characters of JSON and table output. */
static void check_lines(const char *out, size_t len, size_t nrows)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)out[i] < 0x20 && out[i] != '\n')
			abort();
	if (count(out, len, '\n') != nrows)
		abort();
}

/* HTML: the data's markup is all escaped. */
static void check_html(const struct input *in, const char *out, size_t len)
{
	static char copy[4096];
	struct input plain = *in;
	size_t i, k = 0, plen;
	char *p, *c;

	for (i = 0; i <= in->nf; i++) {
		const char *s = i < in->nf ? in->f[i] : in->title;

		if (!s) {
			if (i < in->nf)
				plain.f[i] = NULL;
			continue;
		}
		c = copy + k;
		for (; *s; s++)	/* 'z' is no part of a number strtod reads */
			copy[k++] = strchr("<>&\"'", *s) ? 'z' : *s;
		copy[k++] = '\0';
		if (i < in->nf)
			plain.f[i] = c;
		else
			plain.title = c;
	}
	p = render(&plain, &plen);
	if (count(out, len, '<') != count(p, plen, '<') || count(out, len, '>') != count(p, plen, '>') ||
	    count(out, len, '"') != count(p, plen, '"'))
		abort();
	free(p);
}

/* CSV/TSV: read back what was written. */
static void check_read_back(const struct input *in, const char *out, size_t len)
{
	char path[] = "/tmp/mbr-fuzz-XXXXXX";
	struct mbr_reader_opts ro = { 0 };
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	size_t i, n = 0;
	int fd = mkstemp(path), rc;

	if (fd < 0)
		return;
	if (write(fd, out, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return;
	}
	close(fd);
	if (mbr_reader_open(&r, path, cols, NCOLS, &ro, &err) != 0) {
		fprintf(stderr, "fuzz_out: read back: %s\n", err.buf);
		abort();
	}
	while ((rc = mbr_reader_next(r, &row, &err)) == 1) {
		for (i = 0; i < NCOLS; i++) {
			const char *want = n * NCOLS + i < in->nf && in->f[n * NCOLS + i] ? in->f[n * NCOLS + i] : "";

			if (row->len[i] != strlen(want) || memcmp(row->val[i], want, row->len[i])) {
				fprintf(stderr, "fuzz_out: record %zu field %zu read back differs\n", n, i);
				abort();
			}
		}
		n++;
	}
	if (rc != 0) {
		fprintf(stderr, "fuzz_out: read back: %s\n", err.buf);
		abort();
	}
	if (n != (in->nf + NCOLS - 1) / NCOLS)
		abort();
	mbr_reader_close(r);
	mbr_buf_release(&err);
	unlink(path);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const enum mbr_format fmts[] = { MBR_FMT_AUTO, MBR_FMT_TABLE, MBR_FMT_CSV, MBR_FMT_TSV,
						MBR_FMT_JSON, MBR_FMT_HTML };
	struct input in;
	char *text, *s, *out;
	size_t len, i, nrows;
	int all_utf8 = 1;

	if (size < 1 || size > 2048)
		return 0;
	memset(&in, 0, sizeof(in));
	in.fmt = fmts[data[0] % 6];
	in.excel = (data[0] >> 3) & 1;
	in.extra = (data[0] >> 4) & 1;
	if (!(text = malloc(size)))
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	/* fields end at NUL bytes; the last at the end */
	in.title = text;
	for (s = text + strlen(text); s < text + size - 1 && in.nf < MAXF; s += strlen(s)) {
		s++;
		in.f[in.nf++] = strcmp(s, "\x01") ? s : NULL;
	}
	out = render(&in, &len);
	nrows = (in.nf + NCOLS - 1) / NCOLS;
	for (i = 0; i < in.nf; i++)
		if (in.f[i] && !utf8(in.f[i]))
			all_utf8 = 0;
	if (in.fmt == MBR_FMT_JSON)
		check_lines(out, len, nrows);
	else if (in.fmt == MBR_FMT_TABLE)
		check_lines(out, len, nrows + 1);
	else if (in.fmt == MBR_FMT_HTML)
		check_html(&in, out, len);
	else if (!in.excel && !in.extra && all_utf8)
		check_read_back(&in, out, len);
	free(out);
	free(text);
	return 0;
}
