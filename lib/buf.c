/*
 * buf.c - struct mbr_buf, the one growable string of libmbr, and the
 * mapping from MBR_E* codes to exit statuses.
 *
 * The buffer keeps git's strbuf invariants: buf is never NULL, buf[len] is
 * always '\0', and alloc is 0 exactly while buf points at the shared
 * mbr_buf_empty (which is never written except for its terminating NUL
 * being read).  Running out of memory prints "mbr: out of memory" and
 * aborts; this file is the only place in the library allowed to do so.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbr.h"
#include "banned.h"

char mbr_buf_empty[1];

/* Report an allocation failure and abort; never returns. */
static void oom(void)
{
	fputs("mbr: out of memory\n", stderr);
	abort();
}

/* Map an MBR_E* code to the exit status every program uses. */
int mbr_exit_status(int err)
{
	switch (err) {
	case MBR_OK:
		return MBR_EXIT_OK;
	case MBR_EINVAL:
	case MBR_ENOTFOUND:
	case MBR_EEXIST:
		return MBR_EXIT_DATA;
	case MBR_EPERM:
		return MBR_EXIT_PERM;
	case MBR_EUSAGE:
		return MBR_EXIT_USAGE;
	case MBR_EDB:
	case MBR_EIO:
	case MBR_EKEY:
	case MBR_ENOMEM:
	case MBR_EBUSY:
	default:
		return MBR_EXIT_DB;
	}
}

/* Make b an empty buffer that owns no memory. */
void mbr_buf_init(struct mbr_buf *b)
{
	b->buf = mbr_buf_empty;
	b->len = 0;
	b->alloc = 0;
}

/* Free b's memory and leave it empty (and reusable) as after init. */
void mbr_buf_release(struct mbr_buf *b)
{
	if (b->alloc)
		free(b->buf);
	mbr_buf_init(b);
}

/* Empty b's contents, keeping its memory for reuse. */
void mbr_buf_reset(struct mbr_buf *b)
{
	b->len = 0;
	if (b->alloc)
		b->buf[0] = '\0';
}

/*
 * Ensure b can take extra more bytes plus the terminating NUL without
 * another allocation.  Aborts on overflow of size_t or out of memory.
 */
void mbr_buf_grow(struct mbr_buf *b, size_t extra)
{
	size_t need, n;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		oom();
	need = b->len + extra + 1;
	if (b->alloc >= need)
		return;
	n = b->alloc ? b->alloc : 16;
	while (n < need)
		n = n > SIZE_MAX / 2 ? need : n * 2;
	if (b->alloc) {
		p = realloc(b->buf, n);
	} else {
		p = malloc(n);
		if (p) {
			/* leaving the static empty string: carry len (0) over */
			memcpy(p, b->buf, b->len);
			p[b->len] = '\0';
		}
	}
	if (!p)
		oom();
	b->buf = p;
	b->alloc = n;
}

/* mbr_buf_add when b may need to grow (mbr.h) */
void mbr_buf_add_grow(struct mbr_buf *b, const void *data, size_t len)
{
	const char *d = data;

	if (!len)
		return;
	if (b->alloc && d >= b->buf && d < b->buf + b->alloc) {
		size_t off = (size_t)(d - b->buf);

		mbr_buf_grow(b, len);
		d = b->buf + off;
	} else {
		mbr_buf_grow(b, len);
	}
	memmove(b->buf + b->len, d, len);
	b->len += len;
	b->buf[b->len] = '\0';
}

/* Append the NUL-terminated string s. */
void mbr_buf_adds(struct mbr_buf *b, const char *s)
{
	mbr_buf_add(b, s, strlen(s));
}

/* mbr_buf_addc when b may need to grow (mbr.h) */
void mbr_buf_addc_grow(struct mbr_buf *b, int c)
{
	mbr_buf_grow(b, 1);
	b->buf[b->len++] = (char)c;
	b->buf[b->len] = '\0';
}

/* Append printf-formatted text. */
void mbr_buf_addf(struct mbr_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mbr_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

/* Append vprintf-formatted text; ap is consumed as by vprintf. */
void mbr_buf_vaddf(struct mbr_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(b->buf + b->len, b->alloc ? b->alloc - b->len : 0, fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->buf[b->len] = '\0';	/* encoding error: append nothing */
		return;
	}
	if ((size_t)n + 1 > (b->alloc ? b->alloc - b->len : 0)) {
		mbr_buf_grow(b, (size_t)n);
		n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, ap);
		if (n < 0) {
			b->buf[b->len] = '\0';
			return;
		}
	}
	b->len += (size_t)n;
}

void mbr_copy(char *dst, size_t n, const char *s)
{
	size_t l = s ? strlen(s) : 0;

	if (n == 0)
		return;
	if (l >= n)
		l = n - 1;
	if (l)
		memcpy(dst, s, l);
	dst[l] = '\0';
}
