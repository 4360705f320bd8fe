/*
 * fuzz_sale_line.c - libFuzzer target for sale lines as an import and
 * `mbr-sale add` feed them: every column of a line (store, receipt, ts,
 * member, sku, qty, unit_price, name, category, discount, payment,
 * original, coupon), several lines a receipt and several receipts an
 * input, through mbr_sale_import_begin / mbr_sale_line /
 * mbr_sale_import_end, on a database made once in a
 * temporary directory.  It holds member M001 with points and a sale R0 of
 * 2 x SKU1 at 10.00 that returns may name.
 *
 * Input: the first byte's bits choose the import's options (bit 0: a
 * --time-format of DD-MM-YYYY HH:MM; bit 1: --store S01; bit 2: the
 * first field of each line is an `add` item, SKU:QTY:PRICE[:DISCOUNT],
 * split by mbr_sale_item_split; bit 3: the columns a line leaves out
 * are those of a good sale line, so that one field can be varied alone);
 * the rest is lines (newline-separated, at most 32) of tab-separated
 * fields in the order above, a missing field being no such column.  (The
 * reading thread's notes are not fuzzed: only mbr-sale's own reader
 * writes them.)  Every import is rolled back.  A bad line must reject
 * its receipt, never fail the import (< 0 is a database error) or crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_NAME "fuzz_sale_line"
#include "fuzz_db.h"

#define MAX_LINES 32

static int no_message(const char *msg, void *ctx)
{
	(void)msg, (void)ctx;
	return 0;
}

static int no_reject(const char *const *raw, size_t nraw, const char *reason, void *ctx)
{
	(void)raw, (void)nraw, (void)reason, (void)ctx;
	return 0;
}

static void setup(void)
{
	struct mbr_member m;
	struct mbr_sale_opts o = { 0 };
	struct mbr_sale_import *im = NULL;
	struct mbr_sale_stats st;
	const char *v[MBR_S_COUNT] = { 0 };

	fuzz_db_open();
	fuzz_member("M001", 5000, &m);
	v[MBR_S_STORE] = "S01";
	v[MBR_S_RECEIPT] = "R0";
	v[MBR_S_TS] = "2025-06-01 10:00";
	v[MBR_S_MEMBER] = "M001";
	v[MBR_S_SKU] = "SKU1";
	v[MBR_S_QTY] = "2";
	v[MBR_S_UNIT_PRICE] = "10.00";
	must(mbr_begin(db), "begin");
	must(mbr_sale_import_begin(db, &o, "setup.csv", &im), "import begin");
	must(mbr_sale_line(im, v, "setup.csv", 2, NULL, 0), "sale line");
	must(mbr_sale_import_end(im, &st), "import end");
	mbr_sale_import_free(im);
	must(mbr_commit(db), "commit");
	if (st.receipts != 1)
		abort();
}

/* Split line (NUL-terminated, writable) at tabs into at most n fields. */
static size_t split(char *line, char **f, size_t n)
{
	size_t k = 0;

	while (k < n) {
		f[k++] = line;
		if (!(line = strchr(line, '\t')))
			break;
		*line++ = '\0';
	}
	return k;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const good[MBR_S_COUNT] = {
		[MBR_S_STORE] = "S01", [MBR_S_RECEIPT] = "R1", [MBR_S_TS] = "2025-06-10 10:00",
		[MBR_S_MEMBER] = "M001", [MBR_S_SKU] = "SKU1", [MBR_S_QTY] = "1", [MBR_S_UNIT_PRICE] = "10.00",
	};
	struct mbr_sale_opts o = { 0 };
	struct mbr_sale_import *im = NULL;
	struct mbr_sale_stats st;
	char *text, *line, *next;
	unsigned flags;
	long lineno = 1;
	int rc;

	if (!db)
		setup();
	if (size < 1 || size > 4096)
		return 0;
	flags = data[0];
	if (!(text = malloc(size)))
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	o.time_format = flags & 1 ? "%d-%m-%Y %H:%M" : NULL;
	o.store = flags & 2 ? "S01" : NULL;
	o.error = no_message;
	o.reject = no_reject;
	must(mbr_begin(db), "begin");
	rc = mbr_sale_import_begin(db, &o, "fuzz.csv", &im);
	for (line = text; rc == MBR_OK && line && lineno <= MAX_LINES; line = next) {
		char *f[MBR_S_COUNT], item[128];
		const char *v[MBR_S_COUNT] = { 0 }, *it[4];
		size_t n, i, k = 0;

		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (flags & 8)
			memcpy(v, good, sizeof(v));
		n = split(line, f, MBR_S_COUNT);
		if ((flags & 4) && n > 0) {
			/* an add item gives sku, qty, unit_price and discount */
			if (mbr_sale_item_split(f[k++], item, sizeof(item), it) == MBR_OK) {
				v[MBR_S_SKU] = it[0];
				v[MBR_S_QTY] = it[1];
				v[MBR_S_UNIT_PRICE] = it[2];
				v[MBR_S_DISCOUNT] = it[3];
			}
		}
		for (i = 0; k < n && i < MBR_S_COUNT; i++) {
			if ((flags & 4) && (i == MBR_S_SKU || i == MBR_S_QTY || i == MBR_S_UNIT_PRICE ||
					    i == MBR_S_DISCOUNT))
				continue;
			v[i] = f[k++];
		}
		lineno++;
		rc = mbr_sale_line(im, v, "fuzz.csv", lineno, (const char *const *)f, n);
	}
	if (rc == MBR_OK)
		rc = mbr_sale_import_end(im, &st);
	if (rc < 0) {
		fprintf(stderr, FUZZ_NAME ": %d %s\n", rc, mbr_db_errmsg(db));
		abort();
	}
	mbr_sale_import_free(im);
	mbr_rollback(db);
	free(text);
	return 0;
}
