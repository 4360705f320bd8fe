/*
 * fuzz_rules.c - libFuzzer target for the rules text parser.
 */
#include <stdlib.h>
#include <string.h>

#include "mbr.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct mbr_rules r;
	struct mbr_buf err = MBR_BUF_INIT;
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	mbr_time_set_zone("UTC");
	mbr_rules_parse(s, 2, &r, &err);
	mbr_buf_release(&err);
	free(s);
	return 0;
}
