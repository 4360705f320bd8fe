/*
 * fuzz_money.c - libFuzzer target for mbr_money_parse and
 * mbr_money_format: parsing never crashes, and whatever parses formats
 * back to text that parses to the same value.
 */
#include <stdlib.h>
#include <string.h>

#include "mbr.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char s[64], buf[MBR_MONEY_BUFSZ];
	int64_t v, w;
	int exp;

	if (size < 1 || size >= sizeof(s))
		return 0;
	exp = data[0] % 7;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (mbr_money_parse(s, exp, &v) == 0) {
		mbr_money_format(v, exp, buf);
		if (mbr_money_parse(buf, exp, &w) != 0 || w != v)
			abort();
	}
	return 0;
}
