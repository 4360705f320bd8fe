/*
 * fuzz_coupon.c - libFuzzer target for coupon code validation:
 * mbr_coupon_code_normalize, mbr_coupon_code_ok (the check character)
 * and mbr_coupon_check on a database made once in a temporary directory
 * (one campaign, one loaded code).  Properties checked: a normalised code
 * is 4-39 upper-case letters and digits and normalises to itself; and,
 * as coupon.c promises, once the first 11 symbols of the input are given
 * their check symbol, every single mistyped symbol and every swap of two
 * adjacent different symbols fails the check.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_NAME "fuzz_coupon"
#include "fuzz_db.h"

static const char symbols[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

static void setup(void)
{
	struct mbr_campaign c;

	fuzz_db_open();
	mbr_campaign_clear(&c);
	mbr_copy(c.code, sizeof(c.code), "C1");
	mbr_copy(c.type, sizeof(c.type), "amount");
	c.value = 500;
	must(mbr_begin(db), "begin");
	must(mbr_campaign_create(db, &c), "campaign");
	must(mbr_coupon_load(db, "C1", "WELCOME2025", 0), "load");
	must(mbr_commit(db), "commit");
}

/* The code with its check symbol: 11 symbols taken from s, then the one
 * of 32 that mbr_coupon_code_ok accepts.  0, or -1 if s has too few. */
static int with_check(const char *s, char code[13])
{
	size_t k = 0;
	int i;

	for (; *s && k < 11; s++)
		if (strchr(symbols, toupper((unsigned char)*s)))
			code[k++] = (char)toupper((unsigned char)*s);
	if (k < 11)
		return -1;
	code[12] = '\0';
	for (i = 0; i < 32; i++) {
		code[11] = symbols[i];
		if (mbr_coupon_code_ok(code))
			return 0;
	}
	abort();	/* every 11 symbols have a check symbol */
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char s[128], out[MBR_CODE_SZ], again[MBR_CODE_SZ], code[13], t;
	struct mbr_coupon_use u = { 0, NULL, 1, 10000, 0 };
	struct mbr_coupon k;
	size_t i, n;
	int j;

	if (!db)
		setup();
	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (mbr_coupon_code_normalize(s, out) == MBR_OK) {
		n = strlen(out);
		if (n < 4 || n >= MBR_CODE_SZ)
			abort();
		for (i = 0; i < n; i++)
			if (!isdigit((unsigned char)out[i]) && !isupper((unsigned char)out[i]))
				abort();
		if (mbr_coupon_code_normalize(out, again) != MBR_OK || strcmp(out, again))
			abort();
	}
	if (mbr_coupon_code_ok(s) && (mbr_coupon_code_normalize(s, out) != MBR_OK || !mbr_coupon_code_ok(out)))
		abort();
	mbr_coupon_check(db, s, &u, &k);
	if (with_check(s, code) == 0) {
		for (i = 0; i < 12; i++) {
			t = code[i];
			for (j = 0; j < 32; j++) {
				if (symbols[j] == t)
					continue;
				code[i] = symbols[j];
				if (mbr_coupon_code_ok(code))
					abort();	/* a mistyped symbol passes */
			}
			code[i] = t;
			if (i < 11 && code[i] != code[i + 1]) {
				code[i] = code[i + 1];
				code[i + 1] = t;
				if (mbr_coupon_code_ok(code))
					abort();	/* a swap passes */
				code[i + 1] = code[i];
				code[i] = t;
			}
		}
		if (!mbr_coupon_code_ok(code))
			abort();
	}
	return 0;
}
