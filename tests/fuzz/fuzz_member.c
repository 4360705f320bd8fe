/*
 * fuzz_member.c - libFuzzer target for member field normalisation,
 * mbr_member_set_field with db NULL (phone, member_no, email, birthday,
 * gender, and the other fields).  Input: the first byte picks the field
 * (one past the last is an unknown field), the rest is the value.
 * Whatever is accepted must be normalised for good: setting the stored
 * value again gives it back unchanged (an export re-imported stays the
 * same), and a birthday is "YYYY-MM-DD", a gender "M" or "F".  The
 * stored value is then masked and viewed as mbr-member show does.
 */
#include <stdlib.h>
#include <string.h>

#include "mbr.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static int ready;
	struct mbr_buf why = MBR_BUF_INIT;
	struct mbr_member m, again;
	struct mbr_member_view v;
	enum mbr_member_field f;
	char s[2048], kept[MBR_FIELD_SZ], mask[256];
	char *dst;
	size_t sz;

	if (!ready) {
		setenv("MBR_NOW", "2025-07-01T02:00:00Z", 1);
		mbr_time_set_zone("Asia/Shanghai");
		ready = 1;
	}
	if (size < 1 || size > sizeof(s))
		return 0;
	f = (enum mbr_member_field)(data[0] % (MBR_F_COUNT + 1));
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	mbr_member_clear(&m);
	if (mbr_member_set_field(NULL, &m, f, s, &why) != MBR_OK || f == MBR_F_COUNT) {
		if (f == MBR_F_COUNT && why.len == 0)
			abort();	/* an unknown field must say why */
		mbr_buf_release(&why);
		return 0;
	}
	dst = mbr_member_field(&m, f, &sz);
	if (strlen(dst) >= sz)
		abort();
	if (f == MBR_F_BIRTHDAY && dst[0] && strlen(dst) != 10)
		abort();
	if (f == MBR_F_GENDER && dst[0] && strcmp(dst, "M") && strcmp(dst, "F"))
		abort();
	mbr_copy(kept, sizeof(kept), dst);
	mbr_member_clear(&again);
	if (mbr_member_set_field(NULL, &again, f, kept, &why) != MBR_OK ||
	    strcmp(mbr_member_field(&again, f, NULL), kept))
		abort();	/* normalised text is not stable */
	mbr_mask_phone(m.phone, mask, sizeof(mask));
	mbr_mask_email(m.email, mask, sizeof(mask));
	mbr_mask_name(m.name, mask, sizeof(mask));
	mbr_member_view(&m, 0, &v);
	mbr_member_view(&m, 1, &v);
	mbr_buf_release(&why);
	return 0;
}
