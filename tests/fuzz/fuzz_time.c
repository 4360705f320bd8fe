/*
 * fuzz_time.c - libFuzzer target for the date and time parsers.
 */
#include <stdlib.h>
#include <string.h>

#include "mbr.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static int ready;
	char s[80], d[11];
	int64_t t;

	if (!ready) {
		mbr_time_set_zone("Asia/Shanghai");
		ready = 1;
	}
	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	mbr_time_parse(s, NULL, &t);
	mbr_time_parse(s, "%d-%m-%Y %H:%M", &t);
	if (mbr_date_normalize(s, d) == 0 && strlen(d) != 10)
		abort();
	return 0;
}
