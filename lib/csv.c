/*
 * csv.c - the record reader: CSV/TSV input from a file or stdin, plain or
 * gzip (told apart by content, and inflated here as it streams in: members
 * one after another are read as one input, and anything after them but
 * zero padding is a read error, on a pipe as on a file), in UTF-8 or any
 * encoding iconv(3) knows, with a header row matched against the caller's
 * columns.  It owns libcsv and the input side of zlib; nothing else in mbr
 * includes <csv.h>.
 *
 * The input flows through these stages, each with a fixed buffer, so that
 * memory stays flat however large the file is:
 *
 *   read(2) -> [inflate] -> [iconv to UTF-8] -> line splitter -> libcsv -> record arrays
 *
 * The line splitter hands libcsv one physical line at a time (a line longer
 * than MBR_FIELD_MAX is handed over in parts of at most that size).  That
 * is what makes line numbers exact: a record starts on the first non-blank
 * line fed after the previous record ended, and a record can only end at
 * the end of a fed line because libcsv is told that LF alone ends a row.
 * The line's own terminator is fed as "\n", or as the original "\r\n" when
 * the line ends inside a quoted field (so a CRLF in a field is kept).
 *
 * Data errors (invalid UTF-8, a NUL byte, an over-long field, malformed
 * CSV, too many fields) make mbr_reader_next return MBR_EINVAL with *row
 * set to the bad record, so that the caller can write it to a rejects file
 * and carry on with the next record.
 */
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csv.h>
#include <zlib.h>

#include "mbr.h"
#include "banned.h"

#define SEG_MAX		MBR_FIELD_MAX		/* most bytes fed to libcsv at once */
#define TEXT_SZ		(4 * MBR_FIELD_MAX)	/* UTF-8 text buffer */
#define RAW_SZ		MBR_FIELD_MAX		/* undecoded input (iconv only) */
#define IN_SZ		(128 * 1024)		/* bytes asked of read(2) at once */
#define BAD_BYTE	0xFF			/* marks an unconvertible input byte */

/*
 * libcsv 3.0's parser state for "inside a field" (libcsv.c: FIELD_BEGUN).
 * Only read, to know whether a line ends inside a quoted field.
 */
#define LIBCSV_FIELD_BEGUN 2
#define LIBCSV_FIELD_MIGHT_HAVE_ENDED 3	/* after a quote in a quoted field */

/* What next_segment hands back. */
enum seg {
	SEG_LINE,	/* a whole line (or the end of a long one), newline stripped */
	SEG_PART,	/* a part of a long line; more of the same line follows */
	SEG_LAST,	/* the last line of the input, without a newline */
	SEG_EOF,	/* nothing left */
};

/* What the input is known to be (struct mbr_reader's in_mode). */
enum in_mode {
	IN_SNIFF,	/* nothing read yet: plain or gzip? */
	IN_PLAIN,	/* not gzip: bytes pass through unchanged */
	IN_MEMBER,	/* gzip, inside a member */
	IN_BETWEEN,	/* gzip, after a member: another one, zero padding or the end */
	IN_PADDING,	/* gzip, after zero bytes that follow a member: only zeros may follow */
};

/* A map entry "native=foreign": header text foreign means column col. */
struct map_entry {
	const char *foreign;
	size_t col;
	int found;			/* a header of the file is it */
};

struct mbr_reader {
	char *file;			/* the path as given, for messages */
	char *encoding;			/* the iconv name, for messages */
	int fd;				/* the input; -1 before it is open */
	dev_t dev;			/* the input's regular file, for mbr_reader_is */
	ino_t ino;
	iconv_t cd;			/* (iconv_t)-1: the input is UTF-8 */
	int fatal;			/* sticky error code (read error, no memory) */
	struct mbr_buf fatal_msg;

	/* input stages */
	enum in_mode in_mode;
	unsigned char *in;		/* IN_SZ bytes read; unused part is zs.next_in, zs.avail_in */
	z_stream zs;			/* inflates gzip; its input cursor serves plain input too */
	int zs_ready;			/* inflateInit2 was called: inflateEnd at close */
	int fd_eof;			/* read(2) said the end */
	long long in_pos;		/* bytes read from fd so far */
	long long gz_end;		/* where the last whole gzip member ended */
	char *raw;			/* undecoded bytes awaiting iconv */
	size_t rawlen;
	char *text;			/* UTF-8 text; unconsumed part is [pos, len) */
	size_t pos, len;
	int in_eof;			/* read_input has nothing more */
	int eof;			/* and all of it is in text */
	int bom_checked;
	long line;			/* physical line of the next segment */
	int midline;			/* the last segment was a SEG_PART */
	long rec_line;			/* physical line where the record being read starts */
	int skip_rest;			/* discard up to the end of this physical line */

	/* libcsv and the record being assembled */
	struct csv_parser csv;
	int delim_set;
	int ignore_cb;			/* callbacks discard (while resetting) */
	int started, done;		/* record has begun / has ended */
	int discarding;			/* the current field is too long: drop it */
	struct mbr_buf arena;		/* field texts, each NUL-terminated */
	size_t *off, *flen;		/* per field: offset in arena, length */
	const char **rawp;		/* per field: pointer, set when the record ends */
	size_t nf, fcap;
	int bad;			/* the record has a data error */
	long bad_line;
	long bad_col;			/* file column of the error, or -1 */
	struct mbr_buf why;
	struct mbr_buf scratch;

	/* header and columns */
	int header_done;
	char **hdr;			/* trimmed header names, file order */
	size_t nhdr;
	const struct mbr_col *cols;
	size_t ncols;
	long *colmap;			/* reader column -> file column, or -1 */
	const char **val;
	size_t *vlen;
	struct mbr_row row;

	struct prefetch *pf;		/* reading ahead in a thread, or NULL */
};

/* -------------------------------------------------------------- helpers */

/* ASCII-only case-insensitive comparison of two byte strings. */
static int name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return 0;
	}
	return 1;
}

static int is_blank(int c)
{
	return c == ' ' || c == '\t';
}

/* The UTF-8 ideographic space U+3000, which Chinese spreadsheets leave around headers. */
static const char IDEO_SPACE[] = "\xe3\x80\x80";

/* Trim blanks (space, tab, U+3000) from both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
	for (;;) {
		if (*n && is_blank((*s)[0])) {
			(*s)++;
			(*n)--;
		} else if (*n >= 3 && !memcmp(*s, IDEO_SPACE, 3)) {
			*s += 3;
			*n -= 3;
		} else {
			break;
		}
	}
	for (;;) {
		if (*n && is_blank((*s)[*n - 1]))
			(*n)--;
		else if (*n >= 3 && !memcmp(*s + *n - 3, IDEO_SPACE, 3))
			*n -= 3;
		else
			break;
	}
}

/* Does c's name or one of its '|'-separated aliases equal [s, s + n)? */
static int col_matches(const struct mbr_col *c, const char *s, size_t n)
{
	const char *a, *bar;

	if (name_eq(c->name, strlen(c->name), s, n))
		return 1;
	for (a = c->aliases; a && *a; a = bar ? bar + 1 : NULL) {
		bar = strchr(a, '|');
		if (name_eq(a, bar ? (size_t)(bar - a) : strlen(a), s, n))
			return 1;
	}
	return 0;
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes): 1 to 4, or 0
 * when the bytes there are not UTF-8 (mbr_utf8_decode).  A NUL byte is
 * valid UTF-8 here.
 */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned cp;

	return mbr_utf8_decode(s, n, &cp);
}

/*
 * Note the record's first data error (later ones are not reported):
 * file column col (-1: none) on line line, reason from fmt.
 */
static void set_bad(struct mbr_reader *r, long line, long col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_bad(struct mbr_reader *r, long line, long col, const char *fmt, ...)
{
	va_list ap;

	if (r->bad)
		return;
	r->bad = 1;
	r->bad_line = line;
	r->bad_col = col;
	mbr_buf_reset(&r->why);
	va_start(ap, fmt);
	mbr_buf_vaddf(&r->why, fmt, ap);
	va_end(ap);
}

/* Name of file column col for messages. */
static const char *file_colname(struct mbr_reader *r, size_t col, char *tmp, size_t tmpsz)
{
	if (!r->header_done)
		return "header";
	if (col < r->nhdr)
		return r->hdr[col];
	snprintf(tmp, tmpsz, "field %zu", col + 1);
	return tmp;
}

/* Set a sticky error that ends reading (I/O, memory); returns code. */
static int fail(struct mbr_reader *r, int code, struct mbr_buf *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct mbr_reader *r, int code, struct mbr_buf *err, const char *fmt, ...)
{
	va_list ap;

	r->fatal = code;
	mbr_buf_reset(&r->fatal_msg);
	va_start(ap, fmt);
	mbr_buf_vaddf(&r->fatal_msg, fmt, ap);
	va_end(ap);
	mbr_buf_reset(err);
	mbr_buf_add(err, r->fatal_msg.buf, r->fatal_msg.len);
	return code;
}

/* Grow an array of n elements of size sz to hold at least want; aborts
 * when out of memory, as struct mbr_buf does. */
static void grow_array(void *pp, size_t sz, size_t want)
{
	void **p = pp;
	void *q = realloc(*p, want * sz);

	if (!q) {
		fputs("mbr: out of memory\n", stderr);
		abort();
	}
	*p = q;
}

/* ---------------------------------------------------------------- input */

static int wait_readable(struct mbr_reader *r);
static int pf_start(struct mbr_reader *r, const struct mbr_reader_opts *opts);
static void pf_free(struct mbr_reader *r);

/*
 * read(2) up to n bytes of the input into buf, again when a signal cut it
 * short: > 0, 0 at the end, or < 0 with err set.
 */
static int read_fd(struct mbr_reader *r, void *buf, size_t n, struct mbr_buf *err)
{
	ssize_t got;

	if (r->pf && wait_readable(r) < 0)
		return fail(r, MBR_EIO, err, "%s: reading stopped", r->file);
	do
		got = read(r->fd, buf, n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return fail(r, MBR_EIO, err, "%s: read error: %s", r->file, strerror(errno));
	r->in_pos += got;
	return (int)got;
}

/*
 * Move the unused input in r->in to its front and read more after it:
 * > 0, 0 at the end (r->fd_eof set), or < 0 with err set.
 */
static int refill(struct mbr_reader *r, struct mbr_buf *err)
{
	z_stream *zs = &r->zs;
	int got;

	if (r->fd_eof)
		return 0;
	if (zs->avail_in && zs->next_in != r->in)
		memmove(r->in, zs->next_in, zs->avail_in);
	zs->next_in = r->in;
	got = read_fd(r, r->in + zs->avail_in, IN_SZ - zs->avail_in, err);
	if (got > 0)
		zs->avail_in += (uInt)got;
	else if (got == 0)
		r->fd_eof = 1;
	return got;
}

/*
 * Tell plain input from gzip by its first two bytes, as zlib's gzread
 * did: 0x1f 0x8b is gzip; anything else, an empty or one-byte input
 * included, passes through unchanged.  0, or < 0 with err set.
 */
static int sniff_input(struct mbr_reader *r, struct mbr_buf *err)
{
	z_stream *zs = &r->zs;
	int rc = 1;

	while (zs->avail_in < 2 && (rc = refill(r, err)) > 0)
		;
	if (rc < 0)
		return rc;
	if (zs->avail_in < 2 || zs->next_in[0] != 0x1f || zs->next_in[1] != 0x8b) {
		r->in_mode = IN_PLAIN;
		return 0;
	}
	if (inflateInit2(zs, 16 + MAX_WBITS) != Z_OK)
		return fail(r, MBR_ENOMEM, err, "%s: out of memory", r->file);
	r->zs_ready = 1;
	r->in_mode = IN_MEMBER;
	return 0;
}

/*
 * "from byte N" (where the gzip data ended), with the input's size when
 * it is a regular file.  Only for the message of a read error.
 */
static void gz_end_text(struct mbr_reader *r, char *buf, size_t sz)
{
	struct stat st;

	if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode))
		snprintf(buf, sz, "from byte %lld of %lld", r->gz_end, (long long)st.st_size);
	else
		snprintf(buf, sz, "from byte %lld", r->gz_end);
}

/*
 * Inflate gzip input into dst, at most n bytes: > 0, 0 at the end, or < 0
 * with err set.  Members may follow one another, as gzip(1) allows, and
 * zero bytes (tape padding) may follow the last one, to the end.  Anything
 * else after a member (cat more.csv >> day.csv.gz) is a read error, as is
 * a member cut short or corrupt: the import stops and records nothing,
 * rather than lines being lost without a word.  Each member's output is
 * handed back before what follows it is looked at.
 */
static int read_gzip(struct mbr_reader *r, unsigned char *dst, size_t n, struct mbr_buf *err)
{
	z_stream *zs = &r->zs;
	char where[64];
	int rc, zrc;

	for (;;) {
		if (r->in_mode == IN_MEMBER) {
			if (!zs->avail_in && (rc = refill(r, err)) <= 0) {
				if (rc < 0)
					return rc;
				return fail(r, MBR_EIO, err, "%s: read error: unexpected end of file inside gzip data,"
					    " at byte %lld (is it cut short?)", r->file, r->in_pos);
			}
			zs->next_out = dst;
			zs->avail_out = (uInt)n;
			zrc = inflate(zs, Z_NO_FLUSH);
			if (zrc == Z_STREAM_END) {
				r->gz_end = r->in_pos - zs->avail_in;
				r->in_mode = IN_BETWEEN;
			} else if (zrc == Z_MEM_ERROR) {
				return fail(r, MBR_ENOMEM, err, "%s: out of memory", r->file);
			} else if (zrc != Z_OK && !(zrc == Z_BUF_ERROR && !zs->avail_in)) {
				return fail(r, MBR_EIO, err, "%s: read error: corrupt gzip data near byte %lld: %s",
					    r->file, r->in_pos - zs->avail_in, zs->msg ? zs->msg : "cannot inflate");
			}
			if (zs->avail_out < n)
				return (int)(n - zs->avail_out);
			continue;
		}
		/* after a member: another member, zero padding, or the end */
		for (rc = 1; zs->avail_in < 2 && rc > 0;)
			rc = refill(r, err);
		if (rc < 0)
			return rc;
		if (!zs->avail_in) {
			r->in_eof = 1;
			return 0;
		}
		if (r->in_mode == IN_BETWEEN && zs->avail_in >= 2 && zs->next_in[0] == 0x1f && zs->next_in[1] == 0x8b) {
			if (inflateReset(zs) != Z_OK)
				return fail(r, MBR_EIO, err, "%s: read error: cannot inflate", r->file);
			r->in_mode = IN_MEMBER;
			continue;
		}
		while (zs->avail_in && !*zs->next_in) {
			zs->next_in++;
			zs->avail_in--;
		}
		if (zs->avail_in) {
			gz_end_text(r, where, sizeof(where));
			return fail(r, MBR_EIO, err, "%s: data after the end of its gzip stream, %s,"
				    " would not be read (is text appended to a compressed file?)", r->file, where);
		}
		r->in_mode = IN_PADDING;
	}
}

/*
 * Read up to n bytes of the (decompressed) input into dst: > 0, 0 at the
 * end, or < 0 with the error set.  Plain input goes straight from read(2)
 * into dst when n is large, as it is when fill asks (no copy); through
 * r->in otherwise, so that small asks make no small reads.
 */
static int read_input(struct mbr_reader *r, char *dst, size_t n, struct mbr_buf *err)
{
	z_stream *zs = &r->zs;
	int rc;

	if (r->in_eof)
		return 0;
	if (r->in_mode == IN_SNIFF && (rc = sniff_input(r, err)) < 0)
		return rc;
	if (r->in_mode != IN_PLAIN)
		return read_gzip(r, (unsigned char *)dst, n, err);
	if (!zs->avail_in) {
		rc = n >= IN_SZ / 2 ? read_fd(r, dst, n, err) : refill(r, err);
		if (rc == 0)
			r->in_eof = 1;
		if (rc <= 0 || n >= IN_SZ / 2)
			return rc;
	}
	if (n > zs->avail_in)
		n = zs->avail_in;
	memcpy(dst, zs->next_in, n);
	zs->next_in += n;
	zs->avail_in -= (uInt)n;
	return (int)n;
}

/*
 * Convert raw input into text at r->text + r->len, at most room bytes.
 * A byte sequence the encoding does not allow becomes one BAD_BYTE (never
 * produced by a conversion to UTF-8), so that the field holding it is
 * reported later with its line and column.  Returns bytes produced (> 0),
 * 0 at the end of input, or < 0 on a read error.
 */
static int convert(struct mbr_reader *r, size_t room, struct mbr_buf *err)
{
	char *out = r->text + r->len, *in;
	size_t outleft = room, inleft;
	int n;

	while (outleft == room) {
		if (r->rawlen < RAW_SZ && !r->in_eof) {
			n = read_input(r, r->raw + r->rawlen, RAW_SZ - r->rawlen, err);
			if (n < 0)
				return n;
			r->rawlen += (size_t)n;
		}
		if (r->rawlen == 0) {
			if (!r->in_eof)
				continue;
			iconv(r->cd, NULL, NULL, &out, &outleft);	/* flush a shift state */
			break;
		}
		in = r->raw;
		inleft = r->rawlen;
		while (inleft && outleft > 4) {
			if (iconv(r->cd, &in, &inleft, &out, &outleft) != (size_t)-1)
				continue;
			if (errno == E2BIG)
				break;
			if (errno == EINVAL && !r->in_eof)
				break;		/* incomplete sequence: read more */
			/* EILSEQ, or an incomplete sequence at the very end */
			*out++ = (char)BAD_BYTE;
			outleft--;
			if (errno == EINVAL) {
				inleft = 0;
			} else {
				in++;
				inleft--;
			}
		}
		memmove(r->raw, in, inleft);
		r->rawlen = inleft;
	}
	r->len += room - outleft;
	return (int)(room - outleft);
}

/* Add more text to r->text after moving the unconsumed part to the front:
 * > 0, 0 at the end of input, < 0 on error. */
static int fill(struct mbr_reader *r, struct mbr_buf *err)
{
	size_t room;
	int n;

	if (r->pos) {
		memmove(r->text, r->text + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	room = TEXT_SZ - r->len;
	if (r->cd != (iconv_t)-1)
		n = convert(r, room, err);
	else
		n = read_input(r, r->text + r->len, room, err);
	if (n > 0 && r->cd == (iconv_t)-1)
		r->len += (size_t)n;
	return n;
}

/*
 * The next piece of text for libcsv (see enum seg): *s and *n are the line
 * without its newline; *crlf tells whether that newline was CRLF.  A part
 * of a long line never ends in CR, so a CRLF is never split.  Returns an
 * enum seg, or < 0 on a read error.
 */
static int next_segment(struct mbr_reader *r, const char **s, size_t *n, int *crlf,
			struct mbr_buf *err)
{
	for (;;) {
		char *p = r->text + r->pos, *nl;
		size_t avail = r->len - r->pos, len;
		int rc;

		if (!r->bom_checked && (avail >= 3 || r->eof)) {
			r->bom_checked = 1;
			if (avail >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
				r->pos += 3;
			continue;
		}
		nl = r->bom_checked ? memchr(p, '\n', avail < SEG_MAX + 2 ? avail : SEG_MAX + 2) : NULL;
		if (nl) {
			len = (size_t)(nl - p);
			*crlf = len && p[len - 1] == '\r';
			if (*crlf)
				len--;
			if (len <= SEG_MAX) {
				*s = p;
				*n = len;
				r->pos += (size_t)(nl - p) + 1;
				return SEG_LINE;
			}
		}
		if (avail > SEG_MAX) {
			len = p[SEG_MAX - 1] == '\r' ? SEG_MAX - 1 : SEG_MAX;
			*s = p;
			*n = len;
			*crlf = 0;
			r->pos += len;
			return SEG_PART;
		}
		if (r->eof && r->bom_checked) {
			if (!avail)
				return SEG_EOF;
			len = avail;
			if (p[len - 1] == '\r')
				len--;
			*s = p;
			*n = len;
			*crlf = 0;
			r->pos = r->len;
			return SEG_LAST;
		}
		if ((rc = fill(r, err)) < 0)
			return rc;
		r->eof = rc == 0;
	}
}

/* -------------------------------------------------------------- records */

static int never_space(unsigned char c)
{
	(void)c;
	return 0;	/* blanks are data: "a ,b" keeps "a " */
}

static int lf_ends_row(unsigned char c)
{
	return c == '\n';
}

/* Make room for one more field in the record arrays. */
static void field_room(struct mbr_reader *r)
{
	size_t n;

	if (r->nf < r->fcap)
		return;
	n = r->fcap ? 2 * r->fcap : 16;
	grow_array(&r->off, sizeof(*r->off), n);
	grow_array(&r->flen, sizeof(*r->flen), n);
	grow_array(&r->rawp, sizeof(*r->rawp), n);
	r->fcap = n;
}

/*
 * Append field text to the arena, checking that it is UTF-8 without NUL
 * bytes.  Offending bytes are replaced by U+FFFD in the copy, and the
 * record is marked bad with the first problem found.
 */
static void add_checked(struct mbr_reader *r, size_t col, const unsigned char *s, size_t n)
{
	size_t i = 0, start = 0, k;

	for (;;) {
		while (i < n && s[i] && s[i] < 0x80)
			i++;
		if (i == n)
			break;
		if (s[i] && (k = utf8_seq(s + i, n - i)) != 0) {
			i += k;
			continue;
		}
		mbr_buf_add(&r->arena, s + start, i - start);
		mbr_buf_add(&r->arena, "\xEF\xBF\xBD", 3);
		if (!s[i])
			set_bad(r, r->rec_line, (long)col, "NUL byte");
		else if (r->cd != (iconv_t)-1 && s[i] == BAD_BYTE)
			set_bad(r, r->rec_line, -1, "invalid %s byte sequence", r->encoding);
		else
			set_bad(r, r->rec_line, (long)col, "invalid UTF-8");
		start = ++i;
	}
	mbr_buf_add(&r->arena, s + start, n - start);
}

/* libcsv field callback: store the field (or "" if it is too long). */
static void on_field(void *s, size_t n, void *data)
{
	struct mbr_reader *r = data;
	size_t col = r->nf;

	if (r->ignore_cb)
		return;
	if (r->discarding || n > MBR_FIELD_MAX) {
		set_bad(r, r->rec_line, (long)col, "field longer than %d bytes", MBR_FIELD_MAX);
		r->discarding = 0;
		n = 0;
	}
	field_room(r);
	r->off[col] = r->arena.len;
	add_checked(r, col, s, n);
	r->flen[col] = r->arena.len - r->off[col];
	mbr_buf_addc(&r->arena, '\0');
	r->nf++;
}

/* libcsv row callback. */
static void on_row(int c, void *data)
{
	struct mbr_reader *r = data;

	(void)c;
	if (!r->ignore_cb)
		r->done = 1;
}

/* Return libcsv to "no row begun", discarding whatever it holds. */
static void parser_reset(struct mbr_reader *r)
{
	r->ignore_cb = 1;
	csv_set_opts(&r->csv, CSV_STRICT);	/* without CSV_STRICT_FINI fini always resets */
	csv_fini(&r->csv, on_field, on_row, r);
	csv_set_opts(&r->csv, CSV_STRICT | CSV_STRICT_FINI);
	r->ignore_cb = 0;
	r->discarding = 0;
}

/*
 * A field grows in libcsv's buffer until it ends.  Once it passes
 * MBR_FIELD_MAX the record is bad and the field's text is thrown away as
 * it comes, so a giant field costs time but not memory.  The last byte is
 * kept when it is a quote that may close the field (libcsv removes it then).
 */
static void check_field_size(struct mbr_reader *r)
{
	struct csv_parser *p = &r->csv;

	if (p->entry_pos <= MBR_FIELD_MAX)
		return;
	set_bad(r, r->rec_line, (long)r->nf, "field longer than %d bytes", MBR_FIELD_MAX);
	r->discarding = 1;
	if (p->pstate == LIBCSV_FIELD_MIGHT_HAVE_ENDED) {
		p->entry_buf[0] = p->entry_buf[p->entry_pos - 1];
		p->entry_pos = 1;
	} else {
		p->entry_pos = 0;
	}
}

/*
 * libcsv stopped at s[at] (strict mode).  Record the error, keep what was
 * read of the field with the rest of the line as its last raw field, and
 * reset the parser; the caller skips the rest of the physical line.
 */
static int parse_error(struct mbr_reader *r, const char *s, size_t n, size_t at, struct mbr_buf *err)
{
	struct csv_parser *p = &r->csv;
	int code = csv_error(p);

	if (code != CSV_EPARSE)
		return fail(r, MBR_ENOMEM, err, "%s:%ld: %s", r->file, r->line, csv_strerror(code));
	if (p->quoted)
		set_bad(r, r->line, (long)r->nf, "malformed CSV: closing quote not followed by a delimiter");
	else
		set_bad(r, r->line, (long)r->nf, "malformed CSV: quote in an unquoted field");
	mbr_buf_reset(&r->scratch);
	if (!r->discarding && p->entry_pos)
		mbr_buf_add(&r->scratch, p->entry_buf, p->entry_pos);
	mbr_buf_add(&r->scratch, s + at, n - at);
	parser_reset(r);
	on_field(r->scratch.buf, r->scratch.len, r);
	r->done = 1;
	return 0;
}

/* Choose the delimiter from the first line: TSV if it has a tab and no comma. */
static void set_delim(struct mbr_reader *r, const char *s, size_t n)
{
	if (memchr(s, '\t', n) && !memchr(s, ',', n))
		csv_set_delim(&r->csv, '\t');
	r->delim_set = 1;
}

/* Is [s, s + n) nothing but blanks (a line to skip between records)? */
static int blank_line(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_blank(s[i]) && s[i] != '\r')
			return 0;
	return 1;
}

/*
 * Read the next record into r's field arrays.  Returns 1 (check r->bad),
 * 0 at the end of input, or a negative code with err set on a fatal error.
 */
static int read_record(struct mbr_reader *r, struct mbr_buf *err)
{
	const char *s;
	size_t n, used;
	int kind, crlf;

	r->nf = 0;
	mbr_buf_reset(&r->arena);
	r->bad = r->done = r->started = 0;
	for (;;) {
		if ((kind = next_segment(r, &s, &n, &crlf, err)) < 0)
			return kind;
		if (kind == SEG_EOF) {
			if (!r->started)
				return 0;
			if (csv_fini(&r->csv, on_field, on_row, r) != 0) {
				set_bad(r, r->rec_line, (long)r->nf, "malformed CSV: quoted field not closed");
				if (r->discarding)
					r->csv.entry_pos = 0;
				csv_set_opts(&r->csv, CSV_STRICT);
				csv_fini(&r->csv, on_field, on_row, r);
				csv_set_opts(&r->csv, CSV_STRICT | CSV_STRICT_FINI);
			}
			r->started = 0;
			return r->done;
		}
		if (r->skip_rest) {
			r->skip_rest = kind == SEG_PART;
			if (kind == SEG_LINE)
				r->line++;
			continue;
		}
		if (!r->started && !r->midline && blank_line(s, n)) {
			if (kind == SEG_LINE)
				r->line++;
			continue;
		}
		if (!r->started) {
			r->started = 1;
			r->rec_line = r->line;
			if (!r->delim_set)
				set_delim(r, s, n);
		}
		used = csv_parse(&r->csv, s, n, on_field, on_row, r);
		if (used < n || csv_error(&r->csv) != CSV_SUCCESS) {
			int rc = parse_error(r, s, n, used, err);

			if (rc < 0)
				return rc;
			r->skip_rest = kind == SEG_PART;
			r->midline = 0;
			if (kind == SEG_LINE)
				r->line++;
			return 1;
		}
		check_field_size(r);
		r->midline = kind == SEG_PART;
		if (kind == SEG_LINE) {
			int in_quotes = r->csv.quoted && r->csv.pstate == LIBCSV_FIELD_BEGUN;

			if (in_quotes && crlf)
				csv_parse(&r->csv, "\r\n", 2, on_field, on_row, r);
			else
				csv_parse(&r->csv, "\n", 1, on_field, on_row, r);
			check_field_size(r);
			r->line++;
		}
		if (r->done)
			return 1;
	}
}

/* Point rawp at the record's fields (the arena may have moved). */
static void finish_fields(struct mbr_reader *r)
{
	size_t i;

	for (i = 0; i < r->nf; i++)
		r->rawp[i] = r->arena.buf + r->off[i];
}

/* err = "file:line: column: reason" for the record's data error. */
static void record_error(struct mbr_reader *r, struct mbr_buf *err)
{
	char tmp[32];

	mbr_buf_reset(err);
	mbr_buf_addf(err, "%s:%ld: ", r->file, r->bad_line);
	if (r->bad_col >= 0)
		mbr_buf_addf(err, "%s: ", file_colname(r, (size_t)r->bad_col, tmp, sizeof(tmp)));
	mbr_buf_add(err, r->why.buf, r->why.len);
}

/* ---------------------------------------------------------------- header */

/* Trim blanks from both ends of the writable string s, in place. */
static char *trim_inplace(char *s)
{
	size_t n;

	while (is_blank(*s))
		s++;
	n = strlen(s);
	while (n && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/*
 * Parse opts->map ("native=foreign,...") into entries whose foreign names
 * point into *copy (the caller frees both).  A native name must be one of
 * the columns (name or alias); MBR_EUSAGE otherwise.
 */
static int parse_map(struct mbr_reader *r, const char *map, char **copy, struct map_entry **out,
		     size_t *nout, struct mbr_buf *err)
{
	char *item, *next, *eq, *native;
	size_t n = 0, cap = 0, i, j;

	*out = NULL;
	*nout = 0;
	if (!(*copy = strdup(map)))
		return fail(r, MBR_ENOMEM, err, "out of memory");
	for (item = *copy; item; item = next) {
		if ((next = strchr(item, ',')))
			*next++ = '\0';
		if (!(eq = strchr(item, '='))) {
			mbr_buf_reset(err);
			mbr_buf_addf(err, "--map: '%s' is not native=foreign", item);
			return MBR_EUSAGE;
		}
		*eq = '\0';
		native = trim_inplace(item);
		for (i = 0; i < r->ncols; i++)
			if (col_matches(&r->cols[i], native, strlen(native)))
				break;
		if (i == r->ncols) {
			mbr_buf_reset(err);
			mbr_buf_addf(err, "--map: unknown column '%s'", native);
			return MBR_EUSAGE;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			grow_array(out, sizeof(**out), cap);
		}
		(*out)[n].foreign = trim_inplace(eq + 1);
		(*out)[n].col = i;
		(*out)[n].found = 0;
		/* one file column feeds one native column, and the other way */
		for (j = 0; j < n; j++) {
			if ((*out)[j].col == i || name_eq((*out)[j].foreign, strlen((*out)[j].foreign),
							  (*out)[n].foreign, strlen((*out)[n].foreign))) {
				mbr_buf_reset(err);
				mbr_buf_addf(err, "--map: '%s=%s' and '%s=%s' map the same column twice",
					     r->cols[(*out)[j].col].name, (*out)[j].foreign, r->cols[i].name,
					     (*out)[n].foreign);
				return MBR_EUSAGE;
			}
		}
		n++;
	}
	*nout = n;
	return 0;
}

/* err = "file:line: header: " + reason; returns MBR_EINVAL. */
static int header_error(struct mbr_reader *r, struct mbr_buf *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int header_error(struct mbr_reader *r, struct mbr_buf *err, const char *fmt, ...)
{
	va_list ap;

	mbr_buf_reset(err);
	mbr_buf_addf(err, "%s:%ld: header: ", r->file, r->rec_line);
	va_start(ap, fmt);
	mbr_buf_vaddf(err, fmt, ap);
	va_end(ap);
	return MBR_EINVAL;
}

/* Match the header names against the columns, filling r->colmap. */
static int match_header(struct mbr_reader *r, const struct mbr_reader_opts *opts, struct mbr_buf *err)
{
	struct map_entry *map = NULL;
	char *mapcopy = NULL;
	size_t nmap = 0, i, j, k;
	int rc = 0;

	if (!r->cols) {
		for (j = 0; j < r->nhdr; j++)
			r->colmap[j] = (long)j;
		return 0;
	}
	if (opts && opts->map && (rc = parse_map(r, opts->map, &mapcopy, &map, &nmap, err)) < 0)
		goto out;
	for (j = 0; j < r->nhdr; j++) {
		const char *h = r->hdr[j];
		size_t hl = strlen(h);

		if (name_eq(h, hl, "reject_reason", 13))
			continue;
		for (k = 0; k < nmap; k++)
			if (name_eq(map[k].foreign, strlen(map[k].foreign), h, hl))
				break;
		if (k < nmap) {
			i = map[k].col;
			map[k].found = 1;
		} else {
			for (i = 0; i < r->ncols; i++)
				if (col_matches(&r->cols[i], h, hl))
					break;
		}
		if (i == r->ncols) {
			if (opts && opts->ignore_unknown)
				continue;
			rc = header_error(r, err, "unknown column '%s'", h);
			goto out;
		}
		if (r->colmap[i] >= 0) {
			rc = header_error(r, err, "duplicate column '%s' (also '%s')", h, r->hdr[r->colmap[i]]);
			goto out;
		}
		r->colmap[i] = (long)j;
	}
	/* a misspelt --map would otherwise leave its column empty, silently
	 * (with --ignore-unknown, or when the native name is there too) */
	for (k = 0; k < nmap; k++) {
		if (!map[k].found) {
			rc = header_error(r, err, "--map %s=%s: the file has no column '%s'", r->cols[map[k].col].name,
					  map[k].foreign, map[k].foreign);
			goto out;
		}
	}
	for (i = 0; i < r->ncols; i++) {
		if ((r->cols[i].flags & MBR_COL_REQUIRED) && r->colmap[i] < 0) {
			rc = header_error(r, err, "missing column '%s'", r->cols[i].name);
			goto out;
		}
	}
out:
	free(map);
	free(mapcopy);
	return rc;
}

/* Read the header row, keep its trimmed names and match them. */
static int read_header(struct mbr_reader *r, const struct mbr_reader_opts *opts, struct mbr_buf *err)
{
	size_t j, n, ncols;
	int rc;

	if ((rc = read_record(r, err)) < 0)
		return rc;
	if (rc == 0) {
		mbr_buf_reset(err);
		mbr_buf_addf(err, "%s: empty input, no header row", r->file);
		return MBR_EINVAL;
	}
	if (r->bad) {
		record_error(r, err);
		return MBR_EINVAL;
	}
	finish_fields(r);
	r->nhdr = r->nf;
	if (!(r->hdr = calloc(r->nhdr, sizeof(*r->hdr))))
		return fail(r, MBR_ENOMEM, err, "out of memory");
	for (j = 0; j < r->nhdr; j++) {
		const char *s = r->rawp[j];

		n = r->flen[j];
		trim(&s, &n);
		if (!(r->hdr[j] = strndup(s, n)))
			return fail(r, MBR_ENOMEM, err, "out of memory");
	}
	for (j = 0; j < r->nhdr && !r->cols; j++)
		for (n = 0; n < j; n++)
			if (name_eq(r->hdr[j], strlen(r->hdr[j]), r->hdr[n], strlen(r->hdr[n])))
				return header_error(r, err, "duplicate column '%s'", r->hdr[j]);
	ncols = r->cols ? r->ncols : r->nhdr;
	r->ncols = ncols;
	r->colmap = malloc((ncols + 1) * sizeof(*r->colmap));
	r->val = malloc((ncols + 1) * sizeof(*r->val));
	r->vlen = malloc((ncols + 1) * sizeof(*r->vlen));
	if (!r->colmap || !r->val || !r->vlen)
		return fail(r, MBR_ENOMEM, err, "out of memory");
	for (j = 0; j < ncols; j++)
		r->colmap[j] = -1;
	r->header_done = 1;
	return match_header(r, opts, err);
}

/* ------------------------------------------------------------ interface */

/* Is enc one of the names that mean "no conversion"? */
static int is_utf8(const char *enc)
{
	return !enc || name_eq(enc, strlen(enc), "utf-8", 5) || name_eq(enc, strlen(enc), "utf8", 4);
}

/*
 * Open path ("-": standard input, duplicated so that closing the reader
 * leaves it open) and the buffer it is read through.  Whether it is gzip
 * is told by its first read (read_input).
 */
static int open_input(struct mbr_reader *r, const char *path, struct mbr_buf *err)
{
	struct stat st;
	int fd;

	fd = strcmp(path, "-") == 0 ? fcntl(0, F_DUPFD_CLOEXEC, 0) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(r, MBR_EIO, err, "%s: %s", path, strerror(errno));
	r->fd = fd;
	if (fstat(fd, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return fail(r, MBR_EIO, err, "%s: %s", path, strerror(EISDIR));
		if (S_ISREG(st.st_mode)) {	/* what writing to it could destroy */
			r->dev = st.st_dev;
			r->ino = st.st_ino;
		}
	}
	if (!(r->in = malloc(IN_SZ)))
		return fail(r, MBR_ENOMEM, err, "%s: out of memory", path);
	r->zs.next_in = r->in;
	r->zs.avail_in = 0;
	return 0;
}

int mbr_reader_is(struct mbr_reader *r, const char *path)
{
	struct stat st;

	return (r->ino && stat(path, &st) == 0 && st.st_dev == r->dev && st.st_ino == r->ino) ||
	       (strcmp(r->file, "-") && mbr_same_file(path, r->file));
}

/*
 * Open a reader (see mbr.h).  With cols == NULL every header column is a
 * reader column, in file order, and opts->map is not used; otherwise a
 * "reject_reason" header column is skipped.  On failure *out is NULL and
 * err says why.
 */
int mbr_reader_open(struct mbr_reader **out, const char *path,
		    const struct mbr_col *cols, size_t ncols,
		    const struct mbr_reader_opts *opts, struct mbr_buf *err)
{
	struct mbr_reader *r;
	const char *enc = opts ? opts->encoding : NULL;
	int rc;

	*out = NULL;
	if (!(r = calloc(1, sizeof(*r))))
		return MBR_ENOMEM;
	r->fd = -1;
	r->cd = (iconv_t)-1;
	mbr_buf_init(&r->fatal_msg);
	mbr_buf_init(&r->arena);
	mbr_buf_init(&r->why);
	mbr_buf_init(&r->scratch);
	r->line = 1;
	r->cols = cols;
	r->ncols = ncols;
	csv_init(&r->csv, CSV_STRICT | CSV_STRICT_FINI);
	csv_set_space_func(&r->csv, never_space);
	csv_set_term_func(&r->csv, lf_ends_row);
	csv_set_blk_size(&r->csv, 4096);
	if (!(r->file = strdup(path)) || !(r->text = malloc(TEXT_SZ))) {
		mbr_reader_close(r);
		return MBR_ENOMEM;
	}
	r->row.file = r->file;
	if (!is_utf8(enc)) {
		r->cd = iconv_open("UTF-8", enc);
		if (r->cd == (iconv_t)-1) {
			mbr_buf_reset(err);
			mbr_buf_addf(err, "unknown encoding '%s'", enc);
			mbr_reader_close(r);
			return MBR_EUSAGE;	/* a bad option value */
		}
		if (!(r->encoding = strdup(enc)) || !(r->raw = malloc(RAW_SZ))) {
			mbr_reader_close(r);
			return MBR_ENOMEM;
		}
	}
	if ((rc = open_input(r, path, err)) < 0 || (rc = read_header(r, opts, err)) < 0) {
		mbr_reader_close(r);
		return rc;
	}
	r->row.val = r->val;
	r->row.len = r->vlen;
	/* without a thread the reader reads as it is called: no harm */
	if (opts && opts->prefetch)
		(void)pf_start(r, opts);
	*out = r;
	return 0;
}

/*
 * Read the next record into r's field arrays (rawp, flen, nf): 1, 1 with
 * r->bad set for a record with a data error (its message in msg), 0 at
 * the end, or a final negative code with msg set.
 */
static int read_one(struct mbr_reader *r, struct mbr_buf *msg)
{
	int rc;

	if (r->fatal) {
		mbr_buf_reset(msg);
		mbr_buf_add(msg, r->fatal_msg.buf, r->fatal_msg.len);
		return r->fatal;
	}
	if ((rc = read_record(r, msg)) <= 0)
		return rc;
	finish_fields(r);
	/* fewer fields is as bad as more: a line broken inside an unquoted
	 * field would otherwise load as two short records */
	if (r->nf != r->nhdr)
		set_bad(r, r->rec_line, -1, "row has %zu field%s, header has %zu", r->nf, r->nf == 1 ? "" : "s",
			r->nhdr);
	if (r->bad)
		record_error(r, msg);
	return 1;
}

/* val/vlen by reader column from a record's fields (file order). */
static void map_cols(const struct mbr_reader *r, const char **raw, const size_t *len, size_t nf,
		     const char **val, size_t *vlen)
{
	size_t i;
	long j;

	for (i = 0; i < r->ncols; i++) {
		j = r->colmap[i];
		if (j < 0) {
			val[i] = NULL;
			vlen[i] = 0;
		} else if ((size_t)j < nf) {
			val[i] = raw[j];
			vlen[i] = len[j];
		} else {
			val[i] = "";
			vlen[i] = 0;
		}
	}
}

/* Point r->row at a record's fields (file order), by reader column. */
static void set_row(struct mbr_reader *r, const char **raw, const size_t *len, size_t nf, long line)
{
	map_cols(r, raw, len, nf, r->val, r->vlen);
	r->row.line = line;
	r->row.raw = raw;
	r->row.nraw = nf;
	r->row.note = "";
	r->row.note_len = 0;
}

/* ------------------------------------------------------------- read-ahead */

/*
 * With opts->prefetch, a thread reads and parses records ahead of the
 * caller (decompression, decoding and libcsv are a seventh of a sale
 * import) and hands them over in chunks: each holds whole records, as
 *
 *   struct pf_rec, then the message (msglen bytes and a NUL), then per
 *   field its length (size_t) and its bytes and a NUL
 *
 * A ring of PF_CHUNKS chunks bounds the memory; the caller reads a
 * chunk while the thread fills the next.  The last record of the input
 * is an end (rc 0) or a final error.  Everything the thread touches is
 * its own (the input stages, libcsv, the field arrays, fatal); the caller
 * keeps to val, vlen, row and the chunk it reads.  The thread stops at
 * mbr_reader_close: it waits on a full ring or on input with poll(2) in
 * steps of PF_POLL_MS, looking at stop between them.
 */
#define PF_CHUNKS	4
#define PF_CHUNK_SZ	(128 * 1024)	/* a chunk is handed over once this full */
#define PF_POLL_MS	100

struct pf_rec {
	int rc;				/* as read_one returned, MBR_EINVAL for a bad record */
	long line;
	size_t nf, msglen, notelen;	/* the note follows the fields, and a NUL */
};

struct prefetch {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct mbr_buf chunk[PF_CHUNKS];
	size_t head, count;		/* chunks filled, from chunk[head] */
	size_t fill;			/* the chunk the thread fills */
	int stop;			/* mbr_reader_close: end the thread */
	/* the thread's: a record's values by column, for opts->note */
	void (*note)(void *ctx, const char *const *val, struct mbr_buf *note);
	void *note_ctx;
	const char **nval;
	size_t *nlen;
	struct mbr_buf notes;
	/* the caller's side */
	size_t pos;			/* read offset in chunk[head] */
	int held;			/* chunk[head] is being read */
	const char **raw;
	size_t *len, nraw;
	int final;			/* the input's last record was read */
	struct pf_rec last;
	struct mbr_buf last_msg;
};

static int pf_stopped(struct prefetch *pf)
{
	int stop;

	pthread_mutex_lock(&pf->mu);
	stop = pf->stop;
	pthread_mutex_unlock(&pf->mu);
	return stop;
}

/* The thread: take a free chunk to fill (0), or -1 when stopped. */
static int pf_acquire(struct prefetch *pf)
{
	int stop;

	pthread_mutex_lock(&pf->mu);
	while (pf->count == PF_CHUNKS && !pf->stop)
		pthread_cond_wait(&pf->cv, &pf->mu);
	pf->fill = (pf->head + pf->count) % PF_CHUNKS;
	stop = pf->stop;
	pthread_mutex_unlock(&pf->mu);
	mbr_buf_reset(&pf->chunk[pf->fill]);
	return stop ? -1 : 0;
}

/* The thread: hand the chunk being filled over. */
static void pf_publish(struct prefetch *pf)
{
	pthread_mutex_lock(&pf->mu);
	pf->count++;
	pthread_cond_broadcast(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
}

/*
 * Before a read(2) in the thread: 0 when input is ready, < 0 when
 * stopped.  Records read so far are handed over before waiting, so that
 * input arriving slowly (a pipe, a terminal) is not held back.
 */
static int wait_readable(struct mbr_reader *r)
{
	struct prefetch *pf = r->pf;
	struct pollfd p = { .fd = r->fd, .events = POLLIN };

	if (poll(&p, 1, 0) != 0)
		return 0;	/* ready, hung up or an error read(2) will tell */
	if (pf->chunk[pf->fill].len) {
		pf_publish(pf);
		if (pf_acquire(pf) < 0)
			return -1;
	}
	for (;;) {
		if (pf_stopped(pf))
			return -1;
		if (poll(&p, 1, PF_POLL_MS) != 0)
			return 0;
	}
}

/* Append the record read_one left in r (rc) to chunk b, with its note. */
static void pf_put(struct mbr_reader *r, struct mbr_buf *b, int rc, const struct mbr_buf *msg)
{
	struct prefetch *pf = r->pf;
	struct pf_rec h;
	size_t i;

	h.rc = rc == 1 && r->bad ? MBR_EINVAL : rc;
	h.line = r->rec_line;
	h.nf = rc == 1 ? r->nf : 0;
	h.msglen = rc < 0 || (rc == 1 && r->bad) ? msg->len : 0;
	mbr_buf_reset(&pf->notes);
	if (h.rc == 1 && pf->note) {
		map_cols(r, r->rawp, r->flen, r->nf, pf->nval, pf->nlen);
		pf->note(pf->note_ctx, pf->nval, &pf->notes);
	}
	h.notelen = pf->notes.len;
	mbr_buf_add(b, &h, sizeof(h));
	mbr_buf_add(b, msg->buf, h.msglen);
	mbr_buf_addc(b, '\0');
	for (i = 0; i < h.nf; i++) {
		mbr_buf_add(b, &r->flen[i], sizeof(r->flen[i]));
		mbr_buf_add(b, r->rawp[i], r->flen[i]);
		mbr_buf_addc(b, '\0');
	}
	mbr_buf_add(b, pf->notes.buf, h.notelen);
	mbr_buf_addc(b, '\0');
}

static void *pf_main(void *arg)
{
	struct mbr_reader *r = arg;
	struct prefetch *pf = r->pf;
	struct mbr_buf msg = MBR_BUF_INIT;
	int rc = 1;

	while (rc == 1 && pf_acquire(pf) == 0) {
		do {
			rc = read_one(r, &msg);
			if (rc < 0 && pf_stopped(pf))
				break;	/* stopped while waiting for input: nobody reads on */
			pf_put(r, &pf->chunk[pf->fill], rc, &msg);
		} while (rc == 1 && pf->chunk[pf->fill].len < PF_CHUNK_SZ);
		pf_publish(pf);
	}
	mbr_buf_release(&msg);
	return NULL;
}

/* Start reading ahead: 0, or < 0 when no thread could be started (the
 * reader then reads as it is called). */
static int pf_start(struct mbr_reader *r, const struct mbr_reader_opts *opts)
{
	struct prefetch *pf = calloc(1, sizeof(*pf));
	sigset_t all, old;
	size_t i;
	int rc;

	if (!pf)
		return MBR_ENOMEM;
	pthread_mutex_init(&pf->mu, NULL);
	pthread_cond_init(&pf->cv, NULL);
	for (i = 0; i < PF_CHUNKS; i++)
		mbr_buf_init(&pf->chunk[i]);
	mbr_buf_init(&pf->last_msg);
	mbr_buf_init(&pf->notes);
	if (opts->note) {
		pf->note = opts->note;
		pf->note_ctx = opts->note_ctx;
		if (!(pf->nval = calloc(r->ncols + 1, sizeof(*pf->nval))) ||
		    !(pf->nlen = calloc(r->ncols + 1, sizeof(*pf->nlen))))
			abort();	/* out of memory, as struct mbr_buf */
	}
	r->pf = pf;
	/* signals go to the caller's thread, whose handlers expect them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&pf->thread, NULL, pf_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		r->pf = NULL;
		pthread_mutex_destroy(&pf->mu);
		pthread_cond_destroy(&pf->cv);
		mbr_buf_release(&pf->notes);
		free(pf->nval);
		free(pf->nlen);
		free(pf);
		return MBR_ENOMEM;
	}
	return 0;
}

static void pf_free(struct mbr_reader *r)
{
	struct prefetch *pf = r->pf;
	size_t i;

	pthread_mutex_lock(&pf->mu);
	pf->stop = 1;
	pthread_cond_broadcast(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
	pthread_join(pf->thread, NULL);
	pthread_mutex_destroy(&pf->mu);
	pthread_cond_destroy(&pf->cv);
	for (i = 0; i < PF_CHUNKS; i++)
		mbr_buf_release(&pf->chunk[i]);
	mbr_buf_release(&pf->last_msg);
	mbr_buf_release(&pf->notes);
	free(pf->nval);
	free(pf->nlen);
	free(pf->raw);
	free(pf->len);
	free(pf);
	r->pf = NULL;
}

/* The next record handed over by the thread, as mbr_reader_next. */
static int pf_next(struct mbr_reader *r, struct mbr_row **row, struct mbr_buf *err)
{
	struct prefetch *pf = r->pf;
	struct pf_rec h;
	const char *p;
	size_t i;

	if (pf->final)
		goto last;
	/* Within the chunk held, no lock: the thread never touches a chunk
	 * once handed over, and took the lock to hand it over. */
	if (!pf->held || pf->pos == pf->chunk[pf->head].len) {
		pthread_mutex_lock(&pf->mu);
		if (pf->held) {
			/* the chunk is read: give it back */
			pf->held = 0;
			pf->head = (pf->head + 1) % PF_CHUNKS;
			pf->count--;
			pthread_cond_broadcast(&pf->cv);
		}
		while (!pf->count)
			pthread_cond_wait(&pf->cv, &pf->mu);
		pf->held = 1;
		pf->pos = 0;
		pthread_mutex_unlock(&pf->mu);
	}
	p = pf->chunk[pf->head].buf + pf->pos;
	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	if (h.rc != 1 && h.rc != MBR_EINVAL) {
		pf->final = 1;
		pf->last = h;
		mbr_buf_reset(&pf->last_msg);
		mbr_buf_add(&pf->last_msg, p, h.msglen);
		goto last;
	}
	mbr_buf_reset(err);
	mbr_buf_add(err, p, h.msglen);
	p += h.msglen + 1;
	if (h.nf > pf->nraw) {
		grow_array(&pf->raw, sizeof(*pf->raw), h.nf);
		grow_array(&pf->len, sizeof(*pf->len), h.nf);
		pf->nraw = h.nf;
	}
	for (i = 0; i < h.nf; i++) {
		memcpy(&pf->len[i], p, sizeof(pf->len[i]));
		p += sizeof(pf->len[i]);
		pf->raw[i] = p;
		p += pf->len[i] + 1;
	}
	set_row(r, pf->raw, pf->len, h.nf, h.line);
	r->row.note = p;
	r->row.note_len = h.notelen;
	p += h.notelen + 1;
	pf->pos = (size_t)(p - pf->chunk[pf->head].buf);
	*row = &r->row;
	return h.rc;
last:
	if (pf->last.rc < 0) {
		mbr_buf_reset(err);
		mbr_buf_add(err, pf->last_msg.buf, pf->last_msg.len);
	}
	return pf->last.rc;
}

/* ---------------------------------------------------------------- records */

/*
 * Read the next record (see mbr.h).  Returns 1 with *row set; 0 at the
 * end; MBR_EINVAL for a bad record, with err set and *row set to the
 * record so that it can be written to a rejects file: raw holds its fields
 * as read (bytes that were not UTF-8, and NUL bytes, replaced by U+FFFD;
 * a field over MBR_FIELD_MAX bytes as ""; for malformed CSV the field in
 * error holds the rest of the line as read).  Calling again continues with
 * the next record.  Other negative codes (read errors) are final: *row is
 * NULL and every later call returns the same error.
 */
int mbr_reader_next(struct mbr_reader *r, struct mbr_row **row, struct mbr_buf *err)
{
	int rc;

	*row = NULL;
	if (r->pf)
		return pf_next(r, row, err);
	if ((rc = read_one(r, err)) <= 0)
		return rc;
	set_row(r, (const char **)r->rawp, r->flen, r->nf, r->rec_line);
	*row = &r->row;
	return r->bad ? MBR_EINVAL : 1;
}

int mbr_reader_has(struct mbr_reader *r, size_t i)
{
	return i < r->ncols && r->colmap[i] >= 0;
}

const char *const *mbr_reader_header(struct mbr_reader *r, size_t *n)
{
	*n = r->nhdr;
	return (const char *const *)r->hdr;
}

const char *mbr_reader_colname(struct mbr_reader *r, size_t i)
{
	if (i < r->ncols && r->colmap[i] >= 0)
		return r->hdr[r->colmap[i]];
	return r->cols && i < r->ncols ? r->cols[i].name : "?";
}

/* Free r and close its input (stdin itself stays open).  NULL is fine. */
void mbr_reader_close(struct mbr_reader *r)
{
	size_t j;

	if (!r)
		return;
	if (r->pf)
		pf_free(r);
	if (r->fd >= 0)
		close(r->fd);
	if (r->zs_ready)
		inflateEnd(&r->zs);
	if (r->cd != (iconv_t)-1)
		iconv_close(r->cd);
	csv_free(&r->csv);
	for (j = 0; r->hdr && j < r->nhdr; j++)
		free(r->hdr[j]);
	free(r->hdr);
	free(r->colmap);
	free(r->val);
	free(r->vlen);
	free(r->off);
	free(r->flen);
	free(r->rawp);
	free(r->in);
	free(r->raw);
	free(r->text);
	free(r->file);
	free(r->encoding);
	mbr_buf_release(&r->fatal_msg);
	mbr_buf_release(&r->arena);
	mbr_buf_release(&r->why);
	mbr_buf_release(&r->scratch);
	free(r);
}

/*
 * err = "file:line: COLUMN: reason", COLUMN being the file's header text
 * for reader column col (or the column's own name); col < 0 leaves the
 * column part out.  row NULL gives "file: reason".
 */
void mbr_row_error(struct mbr_buf *err, struct mbr_reader *r, const struct mbr_row *row,
		   int col, const char *fmt, ...)
{
	va_list ap;

	mbr_buf_reset(err);
	if (row)
		mbr_buf_addf(err, "%s:%ld: ", row->file, row->line);
	else
		mbr_buf_addf(err, "%s: ", r->file);
	if (col >= 0)
		mbr_buf_addf(err, "%s: ", mbr_reader_colname(r, (size_t)col));
	va_start(ap, fmt);
	mbr_buf_vaddf(err, fmt, ap);
	va_end(ap);
}
