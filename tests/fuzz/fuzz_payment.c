/*
 * fuzz_payment.c - libFuzzer target for the payment column of a sale line
 * ("card:100.00;cash", "gift_card=CODE:10|points"), parsed by the static
 * parse_payments and settle_payments of lib/sale.c and reached here, as
 * an import reaches it, through mbr_sale_import_begin / mbr_sale_line /
 * mbr_sale_import_end on a database made once in a temporary directory.
 * The member M001 holds points and stored value and one gift card
 * exists, so that the prepaid methods get past their checks.  Input: the
 * first byte picks member, sale or return and unit price; the rest is
 * the payment text.  Each receipt is rolled back.  A bad payment must
 * reject its receipt, never fail the import (< 0 is a database error).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_NAME "fuzz_payment"
#include "fuzz_db.h"


static int no_message(const char *msg, void *ctx)
{
	(void)msg, (void)ctx;
	return 0;
}

static void setup(void)
{
	struct mbr_member m;
	struct mbr_sv_account a = { 0, NULL };
	struct mbr_sv added;

	fuzz_db_open();
	fuzz_member("M001", 5000, &m);
	must(mbr_begin(db), "begin");
	a.member = m.id;
	must(mbr_sv_topup(db, &a, 50000, "cash", NULL, &added), "topup");
	must(mbr_gift_create(db, 1, 10000, 0, 0, NULL, NULL), "gift");
	must(mbr_commit(db), "commit");
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const prices[] = { "100.00", "0.01", "0", "99999999.99" };
	struct mbr_sale_opts o = { 0 };
	struct mbr_sale_import *im = NULL;
	struct mbr_sale_stats st;
	const char *v[MBR_S_COUNT] = { 0 };
	char *pay;
	int rc;

	if (!db)
		setup();
	if (size < 1 || size > 1024)
		return 0;
	if (!(pay = malloc(size)))
		return 0;
	memcpy(pay, data + 1, size - 1);
	pay[size - 1] = '\0';
	v[MBR_S_STORE] = "S01";
	v[MBR_S_RECEIPT] = "R1";
	v[MBR_S_TS] = "2025-06-10 10:00";
	v[MBR_S_MEMBER] = data[0] & 1 ? "M001" : NULL;
	v[MBR_S_SKU] = "SKU1";
	v[MBR_S_QTY] = data[0] & 2 ? "-1" : "1";
	v[MBR_S_UNIT_PRICE] = prices[(data[0] >> 2) & 3];
	v[MBR_S_PAYMENT] = pay;
	o.error = no_message;
	must(mbr_begin(db), "begin");
	rc = mbr_sale_import_begin(db, &o, "fuzz.csv", &im);
	if (rc == MBR_OK)
		rc = mbr_sale_line(im, v, "fuzz.csv", 2, NULL, 0);
	if (rc == MBR_OK)
		rc = mbr_sale_import_end(im, &st);
	if (rc < 0) {
		fprintf(stderr, "fuzz_payment: payment '%s': %d %s\n", pay, rc, mbr_db_errmsg(db));
		abort();
	}
	mbr_sale_import_free(im);
	mbr_rollback(db);
	free(pay);
	return 0;
}
