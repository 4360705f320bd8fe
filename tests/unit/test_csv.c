/*
 * test_csv.c - unit tests for lib/csv.c: the record reader (header
 * matching, encodings, gzip, line numbers, data errors and carrying on
 * after them) and mbr_row_error.  Inputs are written to temp files, or
 * fed through standard input: from a file, or a pipe that a child process
 * writes (at once, or a byte at a time so that reads end anywhere).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "mbr.h"
#include "banned.h"

static const struct mbr_col member_cols[] = {
	{ "member_no", "会员卡号|卡号|card", MBR_COL_REQUIRED },
	{ "name", "姓名", 0 },
	{ "phone", "手机|电话", 0 },
};
#define NMEMBER 3

static char tmp_path[64];

/*
 * Every test runs twice: reading as called, and reading ahead in a thread
 * (opts->prefetch), which must give the same records, errors and lines.
 */
static int g_prefetch;

static int open_reader(struct mbr_reader **out, const char *path, const struct mbr_col *cols, size_t ncols,
		       const struct mbr_reader_opts *ro, struct mbr_buf *err)
{
	struct mbr_reader_opts o;

	if (ro)
		o = *ro;
	else
		memset(&o, 0, sizeof(o));
	o.prefetch = g_prefetch;
	return mbr_reader_open(out, path, cols, ncols, &o, err);
}
#define mbr_reader_open open_reader

/* Write len bytes to a new temp file; its name is in tmp_path. */
static const char *write_tmp(const char *data, size_t len)
{
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/mbr-test-csv-XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return tmp_path;
}

static const char *write_str(const char *s)
{
	return write_tmp(s, strlen(s));
}

/* Open s (a file's contents) with cols; expects success. */
static struct mbr_reader *open_str(const char *s, const struct mbr_col *cols, size_t ncols,
				   const struct mbr_reader_opts *ro)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	int rc = mbr_reader_open(&r, write_str(s), cols, ncols, ro, &err);

	if (rc != 0)
		fprintf(stderr, "open: %s\n", err.buf);
	assert_int_equal(rc, 0);
	assert_non_null(r);
	mbr_buf_release(&err);
	return r;
}

/* Open len bytes at s with cols; expects success. */
static struct mbr_reader *open_tmp(const char *s, size_t len, const struct mbr_col *cols, size_t ncols,
				   const struct mbr_reader_opts *ro)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	int rc = mbr_reader_open(&r, write_tmp(s, len), cols, ncols, ro, &err);

	if (rc != 0)
		fprintf(stderr, "open: %s\n", err.buf);
	assert_int_equal(rc, 0);
	mbr_buf_release(&err);
	return r;
}

/* Open s expecting failure with code and message want (PATH replaced by
 * the temp file's name). */
static void open_fails(const char *s, size_t len, const struct mbr_col *cols, size_t ncols,
		       const struct mbr_reader_opts *ro, int code, const char *want)
{
	struct mbr_buf err = MBR_BUF_INIT, exp = MBR_BUF_INIT;
	struct mbr_reader *r = (struct mbr_reader *)&r;
	const char *path = write_tmp(s, len);
	const char *p = strstr(want, "PATH");

	assert_int_equal(mbr_reader_open(&r, path, cols, ncols, ro, &err), code);
	if (code == 0) {
		assert_non_null(r);
		mbr_reader_close(r);
		unlink(path);
		return;
	}
	assert_null(r);
	if (p) {
		mbr_buf_add(&exp, want, (size_t)(p - want));
		mbr_buf_adds(&exp, path);
		mbr_buf_adds(&exp, p + 4);
	} else {
		mbr_buf_adds(&exp, want);
	}
	assert_string_equal(err.buf, exp.buf);
	unlink(path);
	mbr_buf_release(&err);
	mbr_buf_release(&exp);
}

/* Next record must succeed; returns it. */
static struct mbr_row *next_ok(struct mbr_reader *r)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_row *row = NULL;
	int rc = mbr_reader_next(r, &row, &err);

	if (rc != 1)
		fprintf(stderr, "next: %d %s\n", rc, err.buf);
	assert_int_equal(rc, 1);
	assert_non_null(row);
	mbr_buf_release(&err);
	return row;
}

/* Next record must be a data error with message want ("PATH" = file). */
static struct mbr_row *next_bad(struct mbr_reader *r, const char *want)
{
	struct mbr_buf err = MBR_BUF_INIT, exp = MBR_BUF_INIT;
	struct mbr_row *row = NULL;
	int rc = mbr_reader_next(r, &row, &err);
	const char *p = strstr(want, "PATH");

	assert_int_equal(rc, MBR_EINVAL);
	if (p) {
		mbr_buf_add(&exp, want, (size_t)(p - want));
		mbr_buf_adds(&exp, tmp_path);
		mbr_buf_adds(&exp, p + 4);
	} else {
		mbr_buf_adds(&exp, want);
	}
	assert_string_equal(err.buf, exp.buf);
	mbr_buf_release(&err);
	mbr_buf_release(&exp);
	return row;
}

static void next_end(struct mbr_reader *r)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_row *row = (struct mbr_row *)&row;

	assert_int_equal(mbr_reader_next(r, &row, &err), 0);
	assert_null(row);
	mbr_buf_release(&err);
}

static void done(struct mbr_reader *r)
{
	mbr_reader_close(r);
	unlink(tmp_path);
}

/* ---------------------------------------------------------------- header */

static void test_header_aliases_order_case(void **state)
{
	struct mbr_reader *r;
	struct mbr_row *row;
	const char *const *h;
	size_t n;

	(void)state;
	r = open_str(" 姓名 ,PHONE,卡号\n张三,13800138000,M001\n", member_cols, NMEMBER, NULL);
	h = mbr_reader_header(r, &n);
	assert_int_equal(n, 3);
	assert_string_equal(h[0], "姓名");	/* trimmed, file order */
	assert_string_equal(h[1], "PHONE");
	assert_string_equal(h[2], "卡号");
	assert_string_equal(mbr_reader_colname(r, 0), "卡号");
	assert_string_equal(mbr_reader_colname(r, 2), "PHONE");
	assert_true(mbr_reader_has(r, 0) && mbr_reader_has(r, 1) && mbr_reader_has(r, 2));
	row = next_ok(r);
	assert_string_equal(row->file, tmp_path);
	assert_int_equal(row->line, 2);
	assert_string_equal(row->val[0], "M001");
	assert_string_equal(row->val[1], "张三");
	assert_string_equal(row->val[2], "13800138000");
	assert_int_equal(row->len[1], strlen("张三"));
	assert_int_equal(row->nraw, 3);
	assert_string_equal(row->raw[0], "张三");
	next_end(r);
	done(r);

	/* ideographic spaces (U+3000) around header names are blanks too */
	r = open_str("\xe3\x80\x80姓名\xe3\x80\x80, PHONE\xe3\x80\x80\t,\t\xe3\x80\x80卡号\n张三,13800138000,M001\n",
		     member_cols, NMEMBER, NULL);
	h = mbr_reader_header(r, &n);
	assert_int_equal(n, 3);
	assert_string_equal(h[0], "姓名");
	assert_string_equal(h[1], "PHONE");
	assert_string_equal(h[2], "卡号");
	assert_true(mbr_reader_has(r, 0) && mbr_reader_has(r, 1) && mbr_reader_has(r, 2));
	done(r);

	r = open_str("Card,MEMBER_no_x\n1,2\n", member_cols, NMEMBER, &(struct mbr_reader_opts){ .ignore_unknown = 1 });
	assert_true(mbr_reader_has(r, 0));
	assert_false(mbr_reader_has(r, 1));
	row = next_ok(r);
	assert_string_equal(row->val[0], "1");
	assert_null(row->val[1]);	/* no such column */
	assert_int_equal(row->len[1], 0);
	assert_string_equal(mbr_reader_colname(r, 1), "name");
	done(r);
}

static void test_header_errors(void **state)
{
	struct mbr_reader_opts ign = { .ignore_unknown = 1 };

	(void)state;
	open_fails("name,phone\nx,y\n", 15, member_cols, NMEMBER, NULL, MBR_EINVAL,
		   "PATH:1: header: missing column 'member_no'");
	open_fails("member_no,name,会员卡号\n", strlen("member_no,name,会员卡号\n"), member_cols, NMEMBER, NULL,
		   MBR_EINVAL, "PATH:1: header: duplicate column '会员卡号' (also 'member_no')");
	open_fails("member_no,colour\n", 17, member_cols, NMEMBER, NULL, MBR_EINVAL,
		   "PATH:1: header: unknown column 'colour'");
	open_fails("member_no,colour\n", 17, member_cols, NMEMBER, &ign, 0, "");
	open_fails("", 0, member_cols, NMEMBER, NULL, MBR_EINVAL, "PATH: empty input, no header row");
	open_fails("\n \r\n\n", 5, member_cols, NMEMBER, NULL, MBR_EINVAL, "PATH: empty input, no header row");
	open_fails("\xEF\xBB\xBF", 3, member_cols, NMEMBER, NULL, MBR_EINVAL, "PATH: empty input, no header row");
	open_fails("\n\nfoo,bar\n", 10, member_cols, NMEMBER, NULL, MBR_EINVAL,
		   "PATH:3: header: unknown column 'foo'");
	open_fails("member_no,na\xffme\n", 16, member_cols, NMEMBER, NULL, MBR_EINVAL,
		   "PATH:1: header: invalid UTF-8");
	/* csv-edge bad-header-wrong-header.csv against foo,bar,baz */
	open_fails("qux,quux,quuz", 13,
		   (const struct mbr_col[]){ { "foo", NULL, MBR_COL_REQUIRED }, { "bar", NULL, MBR_COL_REQUIRED },
					     { "baz", NULL, MBR_COL_REQUIRED } }, 3,
		   &ign, MBR_EINVAL, "PATH:1: header: missing column 'foo'");
	/* every header column as is: names must still be distinct */
	open_fails("a,b,A\n", 6, NULL, 0, NULL, MBR_EINVAL, "PATH:1: header: duplicate column 'A'");
}

static void test_header_ignore_unknown_and_reject_reason(void **state)
{
	struct mbr_reader_opts ign = { .ignore_unknown = 1 };
	struct mbr_reader *r;
	struct mbr_row *row;

	(void)state;
	r = open_str("colour,member_no,reject_reason\nred,M1,bad phone\n", member_cols, NMEMBER, &ign);
	row = next_ok(r);
	assert_string_equal(row->val[0], "M1");
	assert_int_equal(row->nraw, 3);	/* raw keeps every field */
	assert_string_equal(row->raw[0], "red");
	assert_string_equal(row->raw[2], "bad phone");
	done(r);
	/* reject_reason is skipped even without ignore_unknown */
	r = open_str("member_no,reject_reason\nM1,x\n", member_cols, NMEMBER, NULL);
	assert_string_equal(next_ok(r)->val[0], "M1");
	done(r);
}

static void test_header_map(void **state)
{
	struct mbr_reader_opts ro = { .map = " member_no = CardNo ,姓名=Full Name" };
	struct mbr_reader *r;
	struct mbr_row *row;

	(void)state;
	r = open_str("full name,CARDNO\nAnn,C9\n", member_cols, NMEMBER, &ro);
	row = next_ok(r);
	assert_string_equal(row->val[0], "C9");
	assert_string_equal(row->val[1], "Ann");
	assert_string_equal(mbr_reader_colname(r, 0), "CARDNO");
	done(r);
	ro.map = "bogus=CardNo";
	open_fails("CardNo\n1\n", 9, member_cols, NMEMBER, &ro, MBR_EUSAGE, "--map: unknown column 'bogus'");
	ro.map = "member_no";
	open_fails("CardNo\n1\n", 9, member_cols, NMEMBER, &ro, MBR_EUSAGE, "--map: 'member_no' is not native=foreign");
}

static void test_open_errors(void **state)
{
	struct mbr_reader_opts ro = { .encoding = "NO-SUCH-ENCODING" };
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;

	(void)state;
	assert_int_equal(mbr_reader_open(&r, "/nonexistent/x.csv", member_cols, NMEMBER, NULL, &err), MBR_EIO);
	assert_null(r);
	assert_string_equal(err.buf, "/nonexistent/x.csv: No such file or directory");
	assert_int_equal(mbr_reader_open(&r, "/tmp", member_cols, NMEMBER, NULL, &err), MBR_EIO);
	assert_string_equal(err.buf, "/tmp: Is a directory");
	open_fails("member_no\n", 10, member_cols, NMEMBER, &ro, MBR_EUSAGE, "unknown encoding 'NO-SUCH-ENCODING'");
	mbr_reader_close(NULL);
	mbr_buf_release(&err);
}

/* ------------------------------------------------------------ input forms */

static void test_bom_crlf_short_rows(void **state)
{
	struct mbr_reader *r;
	struct mbr_row *row;

	(void)state;
	r = open_str("\xEF\xBB\xBFmember_no,name\r\nM1,Ann\r\n\r\nM2\r\nM3,\"a\r\nb\"\r\nM4,last", member_cols, NMEMBER,
		     NULL);
	row = next_ok(r);
	assert_int_equal(row->line, 2);
	assert_string_equal(row->val[0], "M1");
	assert_string_equal(row->val[1], "Ann");
	assert_null(row->val[2]);
	/* a short row is refused, as a long one is: it may be half of a
	 * record broken by a stray line break */
	row = next_bad(r, "PATH:4: row has 1 field, header has 2");
	assert_int_equal(row->nraw, 1);
	assert_string_equal(row->raw[0], "M2");
	row = next_ok(r);
	assert_int_equal(row->line, 5);
	assert_string_equal(row->val[1], "a\r\nb");	/* a CRLF inside quotes is data */
	row = next_ok(r);
	assert_int_equal(row->line, 7);
	assert_string_equal(row->val[1], "last");	/* no final newline */
	next_end(r);
	next_end(r);
	done(r);
}

static void test_blanks_are_data(void **state)
{
	struct mbr_reader *r;
	struct mbr_row *row;

	(void)state;
	r = open_str("a,b\n x , y\n", NULL, 0, NULL);
	row = next_ok(r);
	assert_string_equal(row->val[0], " x ");
	assert_string_equal(row->val[1], " y");
	done(r);
}

static void test_gzip(void **state)
{
	char path[] = "/tmp/mbr-test-csv-gz-XXXXXX";
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	int fd = mkstemp(path);
	gzFile gz;
	long i;

	(void)state;
	assert_true(fd >= 0);
	gz = gzdopen(fd, "wb");
	gzputs(gz, "\xEF\xBB\xBFmember_no,name\n");
	for (i = 0; i < 50000; i++)
		gzprintf(gz, "M%ld,\"n %ld\"\n", i, i);
	gzclose(gz);
	assert_int_equal(mbr_reader_open(&r, path, member_cols, NMEMBER, NULL, &err), 0);
	for (i = 0; i < 50000; i++) {
		char want[32];

		row = next_ok(r);
		snprintf(want, sizeof(want), "n %ld", i);
		assert_string_equal(row->val[1], want);
		assert_int_equal(row->line, i + 2);
	}
	next_end(r);
	mbr_reader_close(r);
	unlink(path);
	mbr_buf_release(&err);
}

/* Append text as one gzip member to the file at fd. */
static void gz_member(int fd, const char *text)
{
	gzFile gz = gzdopen(dup(fd), "ab");

	assert_non_null(gz);
	gzputs(gz, text);
	assert_int_equal(gzclose(gz), Z_OK);
}

/* Read path's rows to the end; the number read, and the last error in err. */
static long read_all(const char *path, struct mbr_buf *err, int *rc)
{
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	long n = 0;

	assert_int_equal(mbr_reader_open(&r, path, member_cols, NMEMBER, NULL, err), 0);
	while ((*rc = mbr_reader_next(r, &row, err)) > 0)
		n++;
	mbr_reader_close(r);
	return n;
}

/* Members one after another are read; zero padding after them is
 * allowed; anything else after them (text appended to a .gz file) is a
 * read error, not lines quietly lost. */
static void test_gzip_tail(void **state)
{
	char path[] = "/tmp/mbr-test-csv-gzt-XXXXXX";
	struct mbr_buf err = MBR_BUF_INIT;
	int fd = mkstemp(path), rc;
	static const char zeros[64];

	(void)state;
	assert_true(fd >= 0);
	gz_member(fd, "member_no,name\nM1,a\n");
	gz_member(fd, "M2,b\n");
	assert_int_equal(read_all(path, &err, &rc), 2);
	assert_int_equal(rc, 0);
	assert_int_equal(write(fd, zeros, sizeof(zeros)), (ssize_t)sizeof(zeros));
	assert_int_equal(read_all(path, &err, &rc), 2);
	assert_int_equal(rc, 0);
	assert_int_equal(write(fd, "M3,c\n", 5), 5);
	read_all(path, &err, &rc);
	assert_int_equal(rc, MBR_EIO);
	assert_non_null(strstr(err.buf, "data after the end of its gzip stream"));
	close(fd);
	unlink(path);
	mbr_buf_release(&err);
}

/* s converted from UTF-8 to enc with iconv, into out. */
static size_t to_encoding(const char *enc, const char *s, char *out, size_t outsz)
{
	iconv_t cd = iconv_open(enc, "UTF-8");
	char *in = (char *)s, *o = out;
	size_t inleft = strlen(s), outleft = outsz;

	assert_true(cd != (iconv_t)-1);
	assert_int_not_equal(iconv(cd, &in, &inleft, &o, &outleft), (size_t)-1);
	iconv_close(cd);
	return outsz - outleft;
}

/* Append len bytes at text to b as one gzip member. */
static void gz_append(struct mbr_buf *b, const char *text, size_t len)
{
	z_stream zs;
	size_t bound;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	bound = deflateBound(&zs, len);
	mbr_buf_grow(b, bound);
	zs.next_in = (unsigned char *)text;
	zs.avail_in = (uInt)len;
	zs.next_out = (unsigned char *)b->buf + b->len;
	zs.avail_out = (uInt)bound;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	b->len += zs.total_out;
	b->buf[b->len] = '\0';
	deflateEnd(&zs);
}

/* How a test input reaches the reader. */
enum feed {
	FEED_FILE,		/* a temp file, by its name */
	FEED_STDIN_FILE,	/* "-": standard input redirected from a temp file */
	FEED_PIPE,		/* "-": a pipe that a child process fills in one write */
	FEED_TRICKLE,		/* "-": a pipe written a byte at a time, so reads end anywhere */
};

static pid_t feeder;	/* the child process writing the pipe, or 0 */

/* Make standard input a pipe that a child process writes len bytes at data
 * into (a byte at a time if trickle); returns the old fd 0 for stdin_restore. */
static int stdin_from_pipe(const char *data, size_t len, int trickle)
{
	int p[2], saved = dup(0);

	assert_true(saved >= 0);
	assert_int_equal(pipe(p), 0);
	feeder = fork();
	assert_true(feeder >= 0);
	if (feeder == 0) {
		size_t off = 0;
		ssize_t w;

		close(p[0]);
		while (off < len) {
			w = write(p[1], data + off, trickle ? 1 : len - off);
			if (w <= 0)
				_exit(1);
			off += (size_t)w;
			if (trickle)
				usleep(200);
		}
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(dup2(p[0], 0), 0);
	close(p[0]);
	return saved;
}

/* Make standard input the file at path; returns the old fd 0. */
static int stdin_from_file(const char *path)
{
	int saved = dup(0), fd = open(path, O_RDONLY);

	assert_true(saved >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, 0), 0);
	close(fd);
	return saved;
}

/* Put back standard input (closing the pipe ends its writer) and reap the writer. */
static void stdin_restore(int saved)
{
	dup2(saved, 0);
	close(saved);
	if (feeder > 0)
		waitpid(feeder, NULL, 0);
	feeder = 0;
}

/*
 * Read len bytes at data fed as how, every header column taken as is;
 * each record goes into got as "field|field\n".  Returns the code that
 * ended reading: 0 at a clean end, or the failing open or next's code,
 * with its message in err.
 */
static int read_fed(const char *data, size_t len, enum feed how, const struct mbr_reader_opts *ro,
		    struct mbr_buf *got, struct mbr_buf *err)
{
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	const char *path = "-";
	int saved = -1, rc;
	size_t i;

	if (how == FEED_FILE || how == FEED_STDIN_FILE)
		path = write_tmp(data, len);
	if (how == FEED_STDIN_FILE) {
		saved = stdin_from_file(path);
		path = "-";
	} else if (how != FEED_FILE) {
		saved = stdin_from_pipe(data, len, how == FEED_TRICKLE);
	}
	mbr_buf_reset(got);
	if ((rc = mbr_reader_open(&r, path, NULL, 0, ro, err)) == 0) {
		while ((rc = mbr_reader_next(r, &row, err)) > 0) {
			for (i = 0; i < row->nraw; i++) {
				mbr_buf_adds(got, row->raw[i]);
				mbr_buf_addc(got, i + 1 < row->nraw ? '|' : '\n');
			}
		}
		mbr_reader_close(r);
	}
	if (saved >= 0)
		stdin_restore(saved);
	if (how == FEED_FILE || how == FEED_STDIN_FILE)
		unlink(tmp_path);
	return rc;
}

/*
 * Feed len bytes at data each way up to last (enum feed): each must read
 * the records want and end with code, and with message msg when code is
 * not 0: in msg, PATH stands for the input's name and " of SIZE" for
 * " of <len>" where the input is a regular file (nothing for a pipe).
 */
static void check_feeds(const char *data, size_t len, enum feed last, const struct mbr_reader_opts *ro,
			const char *want, int code, const char *msg)
{
	struct mbr_buf got = MBR_BUF_INIT, err = MBR_BUF_INIT, exp = MBR_BUF_INIT;
	const char *p;
	int how, rc;

	for (how = FEED_FILE; how <= (int)last; how++) {
		rc = read_fed(data, len, (enum feed)how, ro, &got, &err);
		if (rc != code || strcmp(got.buf, want))
			fprintf(stderr, "feed %d: %d %s\n", how, rc, err.buf);
		assert_int_equal(rc, code);
		assert_string_equal(got.buf, want);
		if (!code)
			continue;
		mbr_buf_reset(&exp);
		for (p = msg; *p;) {
			if (!strncmp(p, "PATH", 4)) {
				mbr_buf_adds(&exp, how == FEED_FILE ? tmp_path : "-");
				p += 4;
			} else if (!strncmp(p, " of SIZE", 8)) {
				if (how <= FEED_STDIN_FILE)
					mbr_buf_addf(&exp, " of %zu", len);
				p += 8;
			} else {
				mbr_buf_addc(&exp, *p++);
			}
		}
		assert_string_equal(err.buf, exp.buf);
	}
	mbr_buf_release(&got);
	mbr_buf_release(&err);
	mbr_buf_release(&exp);
}

static const char APPENDED[] = "PATH: data after the end of its gzip stream, from byte %zu of SIZE,"
			       " would not be read (is text appended to a compressed file?)";

/* Two members, one after another, read as one input, from a pipe too. */
static void test_gzip_members_stdin(void **state)
{
	struct mbr_buf in = MBR_BUF_INIT;

	(void)state;
	gz_append(&in, "member_no,name\nM1,a\n", 20);
	gz_append(&in, "M2,b\n", 5);
	check_feeds(in.buf, in.len, FEED_TRICKLE, NULL, "M1|a\nM2|b\n", 0, NULL);
	/* an empty member between them, and the header alone in the first */
	mbr_buf_reset(&in);
	gz_append(&in, "member_no,name\n", 15);
	gz_append(&in, "", 0);
	gz_append(&in, "M1,a\nM2,b", 9);
	check_feeds(in.buf, in.len, FEED_TRICKLE, NULL, "M1|a\nM2|b\n", 0, NULL);
	mbr_buf_release(&in);
}

/* Zero bytes after the last member (tape padding) are allowed, to the end. */
static void test_gzip_zero_padding_stdin(void **state)
{
	struct mbr_buf in = MBR_BUF_INIT;
	char msg[256];
	size_t end;

	(void)state;
	gz_append(&in, "member_no,name\nM1,a\n", 20);
	gz_append(&in, "M2,b\n", 5);
	end = in.len;
	mbr_buf_add(&in, "\0", 1);
	check_feeds(in.buf, in.len, FEED_TRICKLE, NULL, "M1|a\nM2|b\n", 0, NULL);
	mbr_buf_grow(&in, 300 * 1024);	/* across read chunks */
	memset(in.buf + in.len, 0, 300 * 1024);
	in.len += 300 * 1024;
	check_feeds(in.buf, in.len, FEED_PIPE, NULL, "M1|a\nM2|b\n", 0, NULL);
	/* but padding ends the input: a member after it is not read (as gzip(1) warns) */
	in.len = end + 8;
	gz_append(&in, "M3,c\n", 5);
	snprintf(msg, sizeof(msg), APPENDED, end);
	check_feeds(in.buf, in.len, FEED_TRICKLE, NULL, "M1|a\nM2|b\n", MBR_EIO, msg);
	mbr_buf_release(&in);
}

/* Text appended to gzip data is a read error on standard input as on a
 * file: before this, a pipe lost those lines without a word. */
static void test_gzip_appended_text_stdin(void **state)
{
	struct mbr_buf in = MBR_BUF_INIT;
	char msg[256];
	size_t end;

	(void)state;
	gz_append(&in, "member_no,name\nM1,a\n", 20);
	gz_append(&in, "M2,b\n", 5);
	end = in.len;
	mbr_buf_adds(&in, "M3,c\n");
	snprintf(msg, sizeof(msg), APPENDED, end);
	check_feeds(in.buf, in.len, FEED_TRICKLE, NULL, "M1|a\nM2|b\n", MBR_EIO, msg);
	/* after zero padding; a lone 0x1f; a gzip magic's first byte and text */
	in.len = end;
	mbr_buf_add(&in, "\0\0\0M3,c\n", 8);
	check_feeds(in.buf, in.len, FEED_TRICKLE, NULL, "M1|a\nM2|b\n", MBR_EIO, msg);
	in.len = end;
	mbr_buf_addc(&in, 0x1f);
	check_feeds(in.buf, in.len, FEED_TRICKLE, NULL, "M1|a\nM2|b\n", MBR_EIO, msg);
	in.len = end;
	mbr_buf_adds(&in, "\x1f" "M3,c\n");
	check_feeds(in.buf, in.len, FEED_TRICKLE, NULL, "M1|a\nM2|b\n", MBR_EIO, msg);
	/* a big member, so that the text comes chunks after the first read */
	mbr_buf_reset(&in);
	{
		struct mbr_buf text = MBR_BUF_INIT, want = MBR_BUF_INIT;
		long i;

		mbr_buf_adds(&text, "member_no,name\n");
		for (i = 0; i < 100000; i++) {
			mbr_buf_addf(&text, "M%ld,%lx\n", i, (unsigned long)(i * 2654435761u));
			mbr_buf_addf(&want, "M%ld|%lx\n", i, (unsigned long)(i * 2654435761u));
		}
		gz_append(&in, text.buf, text.len);
		assert_true(in.len > 2 * 128 * 1024);
		end = in.len;
		mbr_buf_adds(&in, "M3,c\n");
		snprintf(msg, sizeof(msg), APPENDED, end);
		check_feeds(in.buf, in.len, FEED_PIPE, NULL, want.buf, MBR_EIO, msg);
		mbr_buf_release(&text);
		mbr_buf_release(&want);
	}
	mbr_buf_release(&in);
}

/* A member cut short, or corrupt, is a read error whichever way it comes. */
static void test_gzip_truncated_corrupt_stdin(void **state)
{
	struct mbr_buf in = MBR_BUF_INIT, got = MBR_BUF_INIT, err = MBR_BUF_INIT;
	char msg[256];
	size_t end;
	int how;

	(void)state;
	gz_append(&in, "member_no,name\nM1,a\n", 20);
	gz_append(&in, "M2,b\n", 5);
	end = in.len;
	/* the last member without its trailer's last byte: its text is
	 * read, then the error (which stops an import all the same) */
	snprintf(msg, sizeof(msg), "PATH: read error: unexpected end of file inside gzip data, at byte %zu"
		 " (is it cut short?)", end - 1);
	check_feeds(in.buf, end - 1, FEED_TRICKLE, NULL, "M1|a\nM2|b\n", MBR_EIO, msg);
	/* only the magic of a second member */
	in.len = end;
	mbr_buf_add(&in, "\x1f\x8b", 2);
	snprintf(msg, sizeof(msg), "PATH: read error: unexpected end of file inside gzip data, at byte %zu"
		 " (is it cut short?)", end + 2);
	check_feeds(in.buf, in.len, FEED_TRICKLE, NULL, "M1|a\nM2|b\n", MBR_EIO, msg);
	/* cut short inside the header row: open fails */
	snprintf(msg, sizeof(msg), "PATH: read error: unexpected end of file inside gzip data, at byte 10"
		 " (is it cut short?)");
	check_feeds(in.buf, 10, FEED_TRICKLE, NULL, "", MBR_EIO, msg);
	/* a wrong CRC in the last member's trailer: whether that member's
	 * text comes before the error depends on where reads end (inflate
	 * reports the error with it); the input fails either way */
	in.len = end;
	in.buf[end - 8] ^= 0x55;
	for (how = FEED_FILE; how <= FEED_TRICKLE; how++) {
		assert_int_equal(read_fed(in.buf, in.len, (enum feed)how, NULL, &got, &err), MBR_EIO);
		assert_true(!strcmp(got.buf, "M1|a\n") || !strcmp(got.buf, "M1|a\nM2|b\n"));
		assert_non_null(strstr(err.buf, ": read error: corrupt gzip data near byte "));
		assert_non_null(strstr(err.buf, ": incorrect data check"));
	}
	mbr_buf_release(&in);
	mbr_buf_release(&got);
	mbr_buf_release(&err);
}

/* Input that does not start 0x1f 0x8b passes through unchanged. */
static void test_plain_stdin(void **state)
{
	static const char nul_after[] = "a,b\n1,2\n\0";

	(void)state;
	check_feeds("member_no,name\nM1,a\nM2,b", 24, FEED_TRICKLE, NULL, "M1|a\nM2|b\n", 0, NULL);
	check_feeds("\x1f" "a,b\n1,2\n", 9, FEED_TRICKLE, NULL, "1|2\n", 0, NULL);
	check_feeds("\x1f", 1, FEED_TRICKLE, NULL, "", 0, NULL);	/* a header row of one byte */
	check_feeds("\x8b\x1f", 2, FEED_TRICKLE, NULL, "", MBR_EINVAL, "PATH:1: header: invalid UTF-8");
	check_feeds("", 0, FEED_TRICKLE, NULL, "", MBR_EINVAL, "PATH: empty input, no header row");
	/* a NUL byte in plain text is a data error of its record, not the end */
	check_feeds(nul_after, sizeof(nul_after) - 1, FEED_TRICKLE, NULL, "1|2\n", MBR_EINVAL,
		    "PATH:3: a: NUL byte");
}

/*
 * Multi-byte characters split across gzip members and across read and
 * inflate chunks decode whole, in UTF-8 and through iconv.
 */
static void test_gzip_split_characters(void **state)
{
	static const char small[] = "a,b\n1,张三\n2,😀€\n";
	struct mbr_reader_opts gb = { .encoding = "GB18030" };
	struct mbr_buf in = MBR_BUF_INIT, text = MBR_BUF_INIT, want = MBR_BUF_INIT;
	size_t k, n, cut[2];
	char *enc;
	int i;

	(void)state;
	/* every place a member boundary can fall, characters included */
	for (k = 1; k < sizeof(small) - 1; k++) {
		mbr_buf_reset(&in);
		gz_append(&in, small, k);
		gz_append(&in, small + k, sizeof(small) - 1 - k);
		check_feeds(in.buf, in.len, FEED_PIPE, NULL, "1|张三\n2|😀€\n", 0, NULL);
	}
	mbr_buf_reset(&in);
	gz_append(&in, small, 8);	/* inside 张 */
	gz_append(&in, small + 8, sizeof(small) - 1 - 8);
	check_feeds(in.buf, in.len, FEED_TRICKLE, NULL, "1|张三\n2|😀€\n", 0, NULL);

	/* a large input in three members cut inside characters: the text
	 * buffer's and the reads' chunk ends fall inside them too */
	mbr_buf_adds(&text, "会员卡号,姓名\n");
	for (i = 0; i < 40000; i++) {
		mbr_buf_addf(&text, "M%d,张三丰%d€😀\n", i, i);
		mbr_buf_addf(&want, "M%d|张三丰%d€😀\n", i, i);
	}
	for (cut[0] = text.len / 3; (text.buf[cut[0]] & 0xC0) != 0x80; cut[0]++)
		;
	for (cut[1] = 2 * text.len / 3; (text.buf[cut[1]] & 0xC0) != 0x80; cut[1]++)
		;
	mbr_buf_reset(&in);
	gz_append(&in, text.buf, cut[0]);
	gz_append(&in, text.buf + cut[0], cut[1] - cut[0]);
	gz_append(&in, text.buf + cut[1], text.len - cut[1]);
	check_feeds(in.buf, in.len, FEED_PIPE, NULL, want.buf, 0, NULL);

	/* the same in GB18030, members cut inside its two- and four-byte forms */
	enc = malloc(text.len);
	assert_non_null(enc);
	n = to_encoding("GB18030", text.buf, enc, text.len);
	mbr_buf_reset(&in);
	for (cut[0] = n / 3; (unsigned char)enc[cut[0] - 1] < 0x80; cut[0]++)
		;
	gz_append(&in, enc, cut[0]);
	gz_append(&in, enc + cut[0], n - cut[0]);
	check_feeds(in.buf, in.len, FEED_PIPE, &gb, want.buf, 0, NULL);
	free(enc);
	mbr_buf_release(&in);
	mbr_buf_release(&text);
	mbr_buf_release(&want);
}

static void test_gb18030(void **state)
{
	struct mbr_reader_opts ro = { .encoding = "GB18030" };
	struct mbr_buf text = MBR_BUF_INIT;
	char enc[1 << 20];
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	size_t n;
	int i;

	(void)state;
	/* enough rows that multibyte characters straddle the read chunks */
	mbr_buf_adds(&text, "会员卡号,姓名,电话\n");
	for (i = 0; i < 20000; i++)
		mbr_buf_addf(&text, "M%d,张三丰%d€😀,139\n", i, i);
	n = to_encoding("GB18030", text.buf, enc, sizeof(enc));
	assert_true(memcmp(enc, "\xBB\xE1", 2) == 0);	/* 会 in GB18030 */
	assert_int_equal(mbr_reader_open(&r, write_tmp(enc, n), member_cols, NMEMBER, &ro, &err), 0);
	for (i = 0; i < 20000; i++) {
		char want[64];

		row = next_ok(r);
		snprintf(want, sizeof(want), "张三丰%d€😀", i);
		assert_string_equal(row->val[1], want);
		assert_int_equal(row->line, i + 2);
	}
	next_end(r);
	done(r);

	/* a byte GB18030 does not allow: reported with the line, then carry on */
	n = to_encoding("GB18030", "member_no,name\nM1,张\n", enc, sizeof(enc));
	memcpy(enc + n, "M2,\xFF\nM3,ok\nM4,\x81", 15);
	r = NULL;
	assert_int_equal(mbr_reader_open(&r, write_tmp(enc, n + 15), member_cols, NMEMBER, &ro, &err), 0);
	assert_string_equal(next_ok(r)->val[1], "张");
	row = next_bad(r, "PATH:3: invalid GB18030 byte sequence");
	assert_string_equal(row->raw[1], "\xEF\xBF\xBD");
	assert_string_equal(next_ok(r)->val[0], "M3");
	next_bad(r, "PATH:5: invalid GB18030 byte sequence");	/* cut short at the end */
	next_end(r);
	done(r);
	mbr_buf_release(&text);
	mbr_buf_release(&err);
}

static void test_latin1(void **state)
{
	struct mbr_reader_opts ro = { .encoding = "ISO-8859-1" };
	struct mbr_reader *r;
	struct mbr_row *row;

	(void)state;
	r = open_str("member_no,name\r\nM1,Gift Voucher \xA3" "50.00\r\n", member_cols, NMEMBER, &ro);
	row = next_ok(r);
	assert_string_equal(row->val[1], "Gift Voucher £50.00");
	done(r);
	ro.encoding = "utf8";	/* no conversion: the same bytes are bad UTF-8 */
	r = open_str("member_no,name\nM1,\xA3\n", member_cols, NMEMBER, &ro);
	next_bad(r, "PATH:2: name: invalid UTF-8");
	done(r);
}

static void test_tsv(void **state)
{
	struct mbr_reader *r;
	struct mbr_row *row;

	(void)state;
	r = open_str("member_no\tname\nM1\t\"a\tb, c\"\nM2\tx,y\n", member_cols, NMEMBER, NULL);
	row = next_ok(r);
	assert_string_equal(row->val[1], "a\tb, c");
	row = next_ok(r);
	assert_string_equal(row->val[1], "x,y");
	done(r);
	/* a comma in the header line means CSV, tabs and all */
	r = open_str("a\tb,c\n1\t2,3\n", NULL, 0, NULL);
	row = next_ok(r);
	assert_string_equal(row->val[0], "1\t2");
	assert_string_equal(row->val[1], "3");
	done(r);
}

/* -------------------------------------------------------- data problems */

static void test_bad_utf8_and_nul_then_continue(void **state)
{
	struct mbr_reader *r;
	struct mbr_row *row;
	static const char in[] = "member_no,name\nM1,a\xC3(b\nM2,ok\nM3,x\0y\nM4,\xED\xA0\x80\nM5,\xF0\x9F\x98\x80\n";

	(void)state;
	r = open_tmp(in, sizeof(in) - 1, member_cols, NMEMBER, NULL);
	row = next_bad(r, "PATH:2: name: invalid UTF-8");
	assert_int_equal(row->line, 2);
	assert_int_equal(row->nraw, 2);
	assert_string_equal(row->raw[0], "M1");
	assert_string_equal(row->raw[1], "a\xEF\xBF\xBD(b");
	row = next_ok(r);
	assert_string_equal(row->val[0], "M2");
	row = next_bad(r, "PATH:4: name: NUL byte");
	assert_string_equal(row->raw[1], "x\xEF\xBF\xBDy");
	next_bad(r, "PATH:5: name: invalid UTF-8");	/* a surrogate */
	assert_string_equal(next_ok(r)->val[1], "\xF0\x9F\x98\x80");
	next_end(r);
	done(r);
}

static void test_too_many_fields(void **state)
{
	struct mbr_reader *r;
	struct mbr_row *row;

	(void)state;
	r = open_str("member_no,name\nM1,a,b\nM2,c\n", member_cols, NMEMBER, NULL);
	row = next_bad(r, "PATH:2: row has 3 fields, header has 2");
	assert_int_equal(row->nraw, 3);
	assert_string_equal(row->raw[2], "b");
	assert_string_equal(next_ok(r)->val[0], "M2");
	next_end(r);
	done(r);
}

static void test_multiline_line_numbers(void **state)
{
	struct mbr_reader *r;
	struct mbr_row *row;

	(void)state;
	r = open_str("a,b\n\n1,\"x\n\ny\nz\"\n\n   \n2,\"\"\"q\"\"\"\n3,\"\n\"\n4,4\n", NULL, 0, NULL);
	row = next_ok(r);
	assert_int_equal(row->line, 3);
	assert_string_equal(row->val[1], "x\n\ny\nz");
	row = next_ok(r);
	assert_int_equal(row->line, 9);
	assert_string_equal(row->val[1], "\"q\"");
	row = next_ok(r);
	assert_int_equal(row->line, 10);
	assert_string_equal(row->val[1], "\n");
	row = next_ok(r);
	assert_int_equal(row->line, 12);
	next_end(r);
	done(r);
}

static void test_malformed_then_continue(void **state)
{
	struct mbr_reader *r;
	struct mbr_row *row;

	(void)state;
	r = open_str("member_no,name\nM1,This \"quotes\" x\nM2,\"Hey \" it\",3\nM3,ok\nM4,\"never\nclosed\n",
		     member_cols, NMEMBER, NULL);
	row = next_bad(r, "PATH:2: name: malformed CSV: quote in an unquoted field");
	assert_int_equal(row->nraw, 2);
	assert_string_equal(row->raw[1], "This \"quotes\" x");
	row = next_bad(r, "PATH:3: name: malformed CSV: closing quote not followed by a delimiter");
	assert_string_equal(row->raw[1], "Hey \" it\",3");
	assert_string_equal(next_ok(r)->val[0], "M3");
	row = next_bad(r, "PATH:5: name: malformed CSV: quoted field not closed");
	assert_int_equal(row->line, 5);
	assert_string_equal(row->raw[1], "never\nclosed\n");
	next_end(r);
	done(r);
}

/* A field of exactly MBR_FIELD_MAX bytes is fine; one byte more is not. */
static void test_field_limit(void **state)
{
	struct mbr_buf in = MBR_BUF_INIT;
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	size_t i;

	(void)state;
	mbr_buf_adds(&in, "a,b\n1,");
	for (i = 0; i < MBR_FIELD_MAX; i++)
		mbr_buf_addc(&in, 'x');
	mbr_buf_adds(&in, "\r\n2,\"");
	for (i = 0; i < MBR_FIELD_MAX + 1; i++)
		mbr_buf_addc(&in, i % 100 == 99 ? '\n' : 'y');
	mbr_buf_adds(&in, "\"\r\n3,z\r\n");
	assert_int_equal(mbr_reader_open(&r, write_tmp(in.buf, in.len), NULL, 0, NULL, &err), 0);
	row = next_ok(r);
	assert_int_equal(row->len[1], MBR_FIELD_MAX);
	row = next_bad(r, "PATH:3: b: field longer than 65536 bytes");
	assert_string_equal(row->raw[1], "");
	row = next_ok(r);
	assert_string_equal(row->val[1], "z");
	assert_int_equal(row->line, 3 + (MBR_FIELD_MAX + 1) / 100 + 1);
	next_end(r);
	done(r);
	mbr_buf_release(&in);
	mbr_buf_release(&err);
}

/* A 10 MB field: an error, no 10 MB buffer, and the next row reads. */
static void test_giant_field(void **state)
{
	size_t big = 10 * 1024 * 1024, hl = strlen("a,b\n1,\""), i;
	char *in = malloc(big + 64);
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	size_t heap0;

	(void)state;
	assert_non_null(in);
	heap0 = mallinfo2().uordblks;
	memcpy(in, "a,b\n1,\"", hl);
	for (i = 0; i < big; i++)
		in[hl + i] = (char)('a' + i % 26);
	memcpy(in + hl + big, "\"\n2,ok\n3,", 10);
	assert_int_equal(mbr_reader_open(&r, write_tmp(in, hl + big + 9), NULL, 0, NULL, &err), 0);
	next_bad(r, "PATH:2: b: field longer than 65536 bytes");
	row = next_ok(r);
	assert_string_equal(row->val[1], "ok");
	assert_int_equal(row->line, 3);
	row = next_ok(r);
	assert_string_equal(row->val[1], "");
	next_end(r);
	/* what the reader holds (malloc's count of bytes in use; 0 under
	 * valgrind, which replaces malloc): far less than the field */
	if (mallinfo2().uordblks > heap0 + 2 * 1024 * 1024)
		fail_msg("the reader holds %zu bytes for a 10 MB field", mallinfo2().uordblks - heap0);
	done(r);
	/* unquoted, in a single line, at the end of the file */
	memcpy(in, "a,b\n1,", 6);
	memset(in + 6, 'q', big);
	assert_int_equal(mbr_reader_open(&r, write_tmp(in, 6 + big), NULL, 0, NULL, &err), 0);
	next_bad(r, "PATH:2: b: field longer than 65536 bytes");
	next_end(r);
	done(r);
	free(in);
	mbr_buf_release(&err);
}

/* A line longer than MBR_FIELD_MAX made of ordinary fields reads whole. */
static void test_long_line(void **state)
{
	struct mbr_buf in = MBR_BUF_INIT;
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	const char *const *h;
	size_t i, n;

	(void)state;
	for (i = 0; i < 3000; i++)
		mbr_buf_addf(&in, "%scolumn_%05zu", i ? "," : "", i);
	mbr_buf_adds(&in, "\r\n");
	for (i = 0; i < 3000; i++)
		mbr_buf_addf(&in, "%s\"value\r\n%05zu\"", i ? "," : "", i);
	mbr_buf_adds(&in, "\r\nlast\r\n");
	assert_int_equal(mbr_reader_open(&r, write_tmp(in.buf, in.len), NULL, 0, NULL, &err), 0);
	h = mbr_reader_header(r, &n);
	assert_int_equal(n, 3000);
	assert_string_equal(h[2999], "column_02999");
	row = next_ok(r);
	assert_int_equal(row->line, 2);
	assert_int_equal(row->nraw, 3000);
	for (i = 0; i < 3000; i++) {
		char want[32];

		snprintf(want, sizeof(want), "value\r\n%05zu", i);
		assert_string_equal(row->val[i], want);
	}
	row = next_bad(r, "PATH:3003: row has 1 field, header has 3000");	/* after 3000 quoted CRLFs */
	assert_int_equal(row->line, 3003);
	assert_string_equal(row->raw[0], "last");
	next_end(r);
	done(r);
	mbr_buf_release(&in);
	mbr_buf_release(&err);
}

static void test_row_error(void **state)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r;
	struct mbr_row *row;

	(void)state;
	r = open_str("卡号,name\nM1,x\n", member_cols, NMEMBER, NULL);
	row = next_ok(r);
	mbr_buf_adds(&err, "old text");
	mbr_row_error(&err, r, row, 0, "'%s' is taken", "M1");
	assert_true(strstr(err.buf, ":2: 卡号: 'M1' is taken") != NULL);
	assert_true(strncmp(err.buf, tmp_path, strlen(tmp_path)) == 0);
	mbr_row_error(&err, r, row, 2, "absent");
	assert_true(strstr(err.buf, ":2: phone: absent") != NULL);
	mbr_row_error(&err, r, row, -1, "whole row");
	assert_true(strstr(err.buf, ":2: whole row") != NULL);
	done(r);
	mbr_buf_release(&err);
}

static void test_stdin(void **state)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r = NULL;
	struct mbr_row *row;
	int saved = dup(0);

	(void)state;
	assert_non_null(freopen(write_str("member_no\nM7\n"), "r", stdin));
	assert_int_equal(mbr_reader_open(&r, "-", member_cols, NMEMBER, NULL, &err), 0);
	row = next_ok(r);
	assert_string_equal(row->file, "-");
	assert_string_equal(row->val[0], "M7");
	mbr_reader_close(r);
	unlink(tmp_path);
	dup2(saved, 0);
	close(saved);
	mbr_buf_release(&err);
}

/* Many records, over several read-ahead chunks and round the ring, with a
 * bad record among them; and a reader closed long before the end. */
static void test_many_records(void **state)
{
	struct mbr_buf in = MBR_BUF_INIT, err = MBR_BUF_INIT;
	struct mbr_reader *r;
	struct mbr_row *row;
	char want[64];
	int i, rc;

	(void)state;
	mbr_buf_adds(&in, "member_no,name,phone\n");
	for (i = 0; i < 40000; i++) {
		if (i == 25000)
			mbr_buf_adds(&in, "BAD,\xff,1\n");
		mbr_buf_addf(&in, "M%d,name %d,%d\n", i, i, 13800000 + i);
	}
	r = open_tmp(in.buf, in.len, member_cols, NMEMBER, NULL);
	for (i = 0; i < 40000; i++) {
		if (i == 25000) {
			row = next_bad(r, "PATH:25002: name: invalid UTF-8");
			assert_string_equal(row->val[0], "BAD");
		}
		row = next_ok(r);
		snprintf(want, sizeof(want), "M%d", i);
		assert_string_equal(row->val[0], want);
		assert_int_equal(row->len[0], strlen(want));
		assert_int_equal(row->line, i + 2 + (i >= 25000));
		assert_int_equal(row->nraw, 3);
	}
	next_end(r);
	next_end(r);
	done(r);

	/* closed with the ring full: the thread stops */
	r = open_tmp(in.buf, in.len, member_cols, NMEMBER, NULL);
	for (i = 0; i < 10; i++)
		next_ok(r);
	done(r);
	(void)rc;
	mbr_buf_release(&in);
	mbr_buf_release(&err);
}

/* A note of the card number, in upper case */
static void upper_note(void *ctx, const char *const *val, struct mbr_buf *note)
{
	const char *p;

	++*(int *)ctx;
	for (p = val[0]; *p; p++)
		mbr_buf_addc(note, *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
}

/* opts->note: called in the reading thread for good records only, its
 * note handed over with the record; reading as called, no notes. */
static void test_notes(void **state)
{
	struct mbr_reader_opts ro = { .note = upper_note };
	struct mbr_reader *r;
	struct mbr_row *row;
	int calls = 0;

	(void)state;
	ro.note_ctx = &calls;
	r = open_str("member_no,name,phone\nab1,x,1\nbad,\xff,2\n,y,3\ncd2,z,4\n", member_cols, NMEMBER, &ro);
	row = next_ok(r);
	assert_int_equal(row->note_len, g_prefetch ? 3 : 0);
	if (g_prefetch)
		assert_string_equal(row->note, "AB1");
	row = next_bad(r, "PATH:3: name: invalid UTF-8");
	assert_int_equal(row->note_len, 0);
	row = next_ok(r);
	assert_int_equal(row->note_len, 0);	/* an empty note */
	row = next_ok(r);
	assert_int_equal(row->note_len, g_prefetch ? 3 : 0);
	if (g_prefetch)
		assert_string_equal(row->note, "CD2");
	next_end(r);
	done(r);
	assert_int_equal(calls, g_prefetch ? 3 : 0);
}

/* A reader on a pipe whose writer neither writes nor closes can still be
 * closed (its thread waits on input in steps and looks at stop). */
static void test_close_on_idle_pipe(void **state)
{
	static const char head[] = "member_no,name,phone\nM1,a,1\n";
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r;
	int fds[2], saved;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], head, sizeof(head) - 1), (ssize_t)(sizeof(head) - 1));
	saved = dup(0);
	dup2(fds[0], 0);
	close(fds[0]);
	assert_int_equal(mbr_reader_open(&r, "-", member_cols, NMEMBER, NULL, &err), 0);
	assert_string_equal(next_ok(r)->val[0], "M1");
	mbr_reader_close(r);	/* must return though the pipe stays open */
	close(fds[1]);
	dup2(saved, 0);
	close(saved);
	mbr_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_aliases_order_case),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_header_ignore_unknown_and_reject_reason),
		cmocka_unit_test(test_header_map),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_bom_crlf_short_rows),
		cmocka_unit_test(test_blanks_are_data),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_gzip_tail),
		cmocka_unit_test(test_gzip_members_stdin),
		cmocka_unit_test(test_gzip_zero_padding_stdin),
		cmocka_unit_test(test_gzip_appended_text_stdin),
		cmocka_unit_test(test_gzip_truncated_corrupt_stdin),
		cmocka_unit_test(test_plain_stdin),
		cmocka_unit_test(test_gzip_split_characters),
		cmocka_unit_test(test_gb18030),
		cmocka_unit_test(test_latin1),
		cmocka_unit_test(test_tsv),
		cmocka_unit_test(test_bad_utf8_and_nul_then_continue),
		cmocka_unit_test(test_too_many_fields),
		cmocka_unit_test(test_multiline_line_numbers),
		cmocka_unit_test(test_malformed_then_continue),
		cmocka_unit_test(test_field_limit),
		cmocka_unit_test(test_giant_field),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_row_error),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_many_records),
		cmocka_unit_test(test_close_on_idle_pipe),
		cmocka_unit_test(test_notes),
	};
	int failed;

	failed = cmocka_run_group_tests_name("reading as called", tests, NULL, NULL);
	g_prefetch = 1;
	return failed + cmocka_run_group_tests_name("reading ahead", tests, NULL, NULL);
}
