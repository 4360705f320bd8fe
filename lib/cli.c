/*
 * cli.c - the shared command-line layer of the mbr-* programs (see cli.h):
 * common options, messages, exit statuses, progress, and the readline
 * wrapper.  This is the only lib/ file that prints or exits, and it is
 * used only by cmd/.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cli.h"
#include "banned.h"

void cli_init(struct mbr_cli *c, const char *prog, const char *usage)
{
	const char *q;

	memset(c, 0, sizeof(*c));
	c->prog = prog;
	c->usage = usage;
	c->db_path = getenv("MBR_DB");
	c->operator = getenv("MBR_OPERATOR");
	c->format = MBR_FMT_AUTO;
	q = getenv("MBR_QUIET");
	c->quiet = q && *q && strcmp(q, "0");
}

static void print_usage(struct mbr_cli *c, FILE *fp)
{
	fputs(c->usage, fp);
}

static int is_control(unsigned cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);	/* C0, DEL, C1 */
}

/*
 * "prog: message" and a newline on stderr.  Messages quote what users
 * typed or files held: bytes that are not UTF-8, and control characters
 * other than tab and newline, are shown as \xHH, so that a message can
 * neither garble the terminal nor hide what the input was.
 */
static void vwarn(struct mbr_cli *c, const char *fmt, va_list ap)
{
	struct mbr_buf b = MBR_BUF_INIT;
	const unsigned char *p, *end;
	unsigned cp;
	size_t k;

	mbr_buf_vaddf(&b, fmt, ap);
	fprintf(stderr, "%s: ", c->prog);
	p = (const unsigned char *)(b.buf ? b.buf : "");
	end = p + b.len;
	while (p < end) {
		k = mbr_utf8_decode(p, (size_t)(end - p), &cp);
		if (k && (!is_control(cp) || cp == '\t' || cp == '\n')) {
			fwrite(p, 1, k, stderr);
			p += k;
			continue;
		}
		for (k = k ? k : 1; k; k--)
			fprintf(stderr, "\\x%02x", *p++);
	}
	fputc('\n', stderr);
	mbr_buf_release(&b);
}

void cli_warn(struct mbr_cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(c, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------ options per command */

/*
 * The usage text (the man page's SYNOPSIS) says which options each form
 * of a program takes; getopt only knows which the program takes at all.
 * cli_check_options holds the command line to the usage: an option none
 * of the matching forms shows is a usage error, so that
 * "mbr-points history M --as-of D" is refused instead of printing the
 * whole history as if it were as of D.
 *
 * A form is one "usage:" entry (with its continuation lines).  Its
 * options are the -x and --name words, in brackets or not; its command
 * is the first plain word outside brackets ("earn | redeem | adjust" are
 * three), and its second plain word tells "rules load" from "rules show".
 */

#define FORM_MAX 32
#define FORM_WORDS 8
#define FORM_OPTS 40
#define WORD_SZ 32

struct form {
	char cmd[FORM_WORDS][WORD_SZ];	/* alternatives of the first word */
	int ncmd;
	char sub[WORD_SZ];		/* the second word, or "" */
	char opt[FORM_OPTS][WORD_SZ];	/* "-n", "--reason", ... */
	int nopt;
};

/* getopt's own long names for short options (cli_common_option) */
static const struct {
	const char *name;
	char shortopt;
} long_short[] = { { "dry-run", 'n' }, { "quiet", 'q' } };

static const struct option *long_find(const struct option *lo, const char *name, size_t n)
{
	const struct option *hit = NULL;
	int hits = 0;

	for (; lo && lo->name; lo++) {
		if (strlen(lo->name) == n && !strncmp(lo->name, name, n))
			return lo;
		if (!strncmp(lo->name, name, n)) {	/* getopt takes a unique prefix */
			hit = lo;
			hits++;
		}
	}
	return hits == 1 ? hit : NULL;
}

/* The name an option has in the usage text: "-q" for --quiet, "--as-of". */
static void opt_name(const struct option *o, char out[WORD_SZ])
{
	size_t i;

	for (i = 0; i < sizeof(long_short) / sizeof(long_short[0]); i++) {
		if (!strcmp(o->name, long_short[i].name)) {
			snprintf(out, WORD_SZ, "-%c", long_short[i].shortopt);
			return;
		}
	}
	snprintf(out, WORD_SZ, "--%s", o->name);
}

static void form_add_opt(struct form *f, const char *name, size_t n)
{
	if (f->nopt < FORM_OPTS && n < WORD_SZ) {
		memcpy(f->opt[f->nopt], name, n);
		f->opt[f->nopt][n] = '\0';
		f->nopt++;
	}
}

/* Read one usage word (brackets stripped) into form f. */
static void form_word(struct form *f, const char *w, size_t n, int in_opt_group, int *skip_arg, int *alt,
		      const struct option *lo)
{
	size_t i;

	if (*skip_arg) {	/* the argument of a mandatory --name arg */
		*skip_arg = 0;
		return;
	}
	if (n > 1 && w[0] == '-') {
		if (w[1] == '-') {
			const struct option *o = long_find(lo, w + 2, n - 2);
			form_add_opt(f, w, n);
			if (!in_opt_group && o && o->has_arg == required_argument)
				*skip_arg = 1;
		} else {
			for (i = 1; i < n; i++) {
				char s[2] = { '-', w[i] };
				form_add_opt(f, s, 2);
			}
		}
		return;
	}
	if (in_opt_group || n >= WORD_SZ)
		return;	/* an option's argument, or not a command */
	if (n == 1 && w[0] == '|') {
		*alt = 1;
		return;
	}
	if ((f->ncmd == 0 || *alt) && f->ncmd < FORM_WORDS && !f->sub[0]) {
		memcpy(f->cmd[f->ncmd], w, n);
		f->cmd[f->ncmd][n] = '\0';
		f->ncmd++;
	} else if (f->ncmd && !f->sub[0]) {
		memcpy(f->sub, w, n);
		f->sub[n] = '\0';
	}
	*alt = 0;
}

/* Split the usage text into forms; returns how many. */
static int parse_forms(const struct mbr_cli *c, const struct option *lo, struct form *forms)
{
	const char *p = c->usage;
	size_t plen = strlen(c->prog);
	int nf = 0, depth = 0, skip_arg = 0, alt = 0, plain;
	unsigned opt_groups = 0;	/* bit d: the group at depth d+1 holds options */

	while (*p) {
		const char *e = p + strcspn(p, " \n"), *w = p;
		size_t n;
		int opens = 0, closes = 0, lead;

		if (e == p) {
			p++;
			continue;
		}
		/* "usage:" and the program's name start a new form */
		if ((size_t)(e - p) == 6 && !strncmp(p, "usage:", 6)) {
			p = e;
			continue;
		}
		if ((size_t)(e - p) == plen && !strncmp(p, c->prog, plen)) {
			if (nf == FORM_MAX)
				break;
			memset(&forms[nf++], 0, sizeof(forms[0]));
			depth = skip_arg = alt = 0;
			opt_groups = 0;
			p = e;
			continue;
		}
		if (!nf) {
			p = e;
			continue;
		}
		for (w = p; w < e; w++) {
			opens += *w == '[';
			closes += *w == ']';
		}
		for (lead = 0; p + lead < e && p[lead] == '['; lead++)
			;
		w = p + lead;
		n = (size_t)(e - w);
		while (n && w[n - 1] == ']')
			n--;
		if (n && memchr(w, '[', n))	/* "price[:discount]": up to the bracket */
			n = (size_t)((const char *)memchr(w, '[', n) - w);
		if (lead && depth + lead <= 31 && depth >= 0) {
			int d;
			for (d = depth; d < depth + lead; d++) {
				if (n && w[0] == '-')
					opt_groups |= 1u << d;
				else
					opt_groups &= ~(1u << d);
			}
		}
		plain = depth + lead == 0;
		if (plain || (depth + lead <= 32 && (opt_groups >> (depth + lead - 1) & 1u)) || (n && w[0] == '-'))
			form_word(&forms[nf - 1], w, n, !plain, &skip_arg, &alt, lo);
		depth += opens - closes;
		if (depth < 0)
			depth = 0;
		p = e;
	}
	return nf;
}

/* Is word one of the n words of w (a form's commands or options)? */
static int has_word(const char (*w)[WORD_SZ], int n, const char *word)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(w[i], word))
			return 1;
	return 0;
}

/* Exit with a usage error unless one of the forms in use shows option name. */
static void option_fits(struct mbr_cli *c, const struct form *forms, int nf, unsigned use, const char *name,
			const char *cmd)
{
	int i;

	for (i = 0; i < nf; i++)
		if ((use >> i & 1u) && has_word(forms[i].opt, forms[i].nopt, name))
			return;
	cli_usage_error(c, "%s does not go with %s", name, cmd ? cmd : "this form");
}

/* ------------------------------------------------------ operator names */

/*
 * The operator's name (--operator, else $MBR_OPERATOR) must be UTF-8 text
 * without control characters (mbr(7)): it is printed in messages, tables
 * and the audit log.  Another is refused with exit 3 before anything
 * prints it raw: a name that is not UTF-8 is shown with its bad bytes
 * (and control characters) as \xHH, so that it can neither garble the
 * terminal nor hide what it is; one with control characters gets the
 * library's message, which does not show it.  Its length is the
 * library's to check (mbr_set_operator).
 */
static void operator_check(struct mbr_cli *c)
{
	const unsigned char *p = (const unsigned char *)c->operator;
	int control = 0, not_utf8 = 0;
	unsigned cp;
	size_t k;

	if (!p)
		return;
	for (; *p; p += k ? k : 1) {
		k = mbr_utf8_decode(p, strlen((const char *)p), &cp);
		if (!k)
			not_utf8 = 1;
		else if (is_control(cp))
			control = 1;
	}
	if (not_utf8)	/* cli_warn shows the bad bytes as \xHH */
		cli_warn(c, "operator name '%s' is not UTF-8 text", c->operator);
	else if (control)	/* the message of mbr_set_operator for a C0 control */
		cli_warn(c, "operator name must not hold control characters");
	if (control || not_utf8)
		exit(MBR_EXIT_DATA);
}

static void check_forms(struct mbr_cli *c, int argc, char *const argv[], int first_operand, const char *shortopts,
			const struct option *longopts)
{
	static struct form forms[FORM_MAX];
	int nf = parse_forms(c, longopts, forms), i, j, any_cmd = 0, any_sub = 0;
	unsigned use = 0;
	const char *cmd = first_operand < argc ? cli_operand(argv[first_operand]) : NULL;
	const char *sub = first_operand + 1 < argc ? cli_operand(argv[first_operand + 1]) : NULL;

	for (i = 0; i < nf; i++)
		any_cmd |= forms[i].ncmd > 0;
	/* the forms this command line is */
	for (i = 0; i < nf; i++) {
		if (!any_cmd || (cmd ? has_word(forms[i].cmd, forms[i].ncmd, cmd) : forms[i].ncmd == 0)) {
			use |= 1u << i;
			any_sub |= sub && !strcmp(forms[i].sub, sub);
		}
	}
	if (any_sub)	/* "rules show": only the forms naming show */
		for (i = 0; i < nf; i++)
			if (strcmp(forms[i].sub, sub))
				use &= ~(1u << i);
	if (!use)
		return;	/* not a command: the program says so */
	/* getopt has put the options (and their values) before first_operand */
	for (i = 1; i < first_operand && i < argc; i++) {
		const char *a = argv[i];
		char name[WORD_SZ];

		if (a[0] != '-' || !a[1])
			continue;
		if (!strcmp(a, "--"))
			break;
		if (a[1] == '-') {
			size_t n = strcspn(a + 2, "=");
			const struct option *o = long_find(longopts, a + 2, n);

			if (!o)
				continue;	/* getopt refused it already */
			opt_name(o, name);
			option_fits(c, forms, nf, use, name, cmd);
			if (!a[2 + n] && o->has_arg == required_argument)
				i++;	/* its value */
			continue;
		}
		for (j = 1; a[j]; j++) {	/* "-nq", "-dfile", "-d file" */
			const char *s = strchr(shortopts, a[j]);

			snprintf(name, sizeof(name), "-%c", a[j]);
			option_fits(c, forms, nf, use, name, cmd);
			if (s && s[1] == ':') {
				if (!a[j + 1])
					i++;	/* its value */
				break;
			}
		}
	}
}

void cli_check_options(struct mbr_cli *c, int argc, char *const argv[], int first_operand, const char *shortopts,
		       const struct option *longopts)
{
	check_forms(c, argc, argv, first_operand, shortopts, longopts);
	/* --excel shapes CSV and TSV: with another format it would do nothing */
	if (c->excel && c->format != MBR_FMT_AUTO && c->format != MBR_FMT_CSV && c->format != MBR_FMT_TSV)
		cli_usage_error(c, "--excel goes with csv or tsv, not %s",
				c->format == MBR_FMT_JSON ? "json" : c->format == MBR_FMT_HTML ? "html" : "table");
	/* the options are all read, so the operator is known: checked here
	 * too because mbr-db init makes it admin without cli_open */
	operator_check(c);
}

#define NEG_MARK '\x1f'

void cli_hide_negatives(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] == '-' && a[1] >= '0' && a[1] <= '9' && strspn(a + 1, "0123456789.") == strlen(a + 1)) {
			size_t n = strlen(a) + 2;
			char *m = malloc(n);

			if (!m)
				abort();
			snprintf(m, n, "%c%s", NEG_MARK, a);
			argv[i] = m;	/* lives as long as the process */
		}
	}
}

const char *cli_operand(const char *arg)
{
	return arg && *arg == NEG_MARK ? arg + 1 : arg;
}

void cli_usage_error(struct mbr_cli *c, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vwarn(c, fmt, ap);
		va_end(ap);
	}
	print_usage(c, stderr);
	exit(MBR_EXIT_USAGE);
}

int cli_common_option(struct mbr_cli *c, int opt, const char *arg)
{
	switch (opt) {
	case 'd':
		c->db_path = arg;
		return 1;
	case 'q':
		c->quiet = 1;
		return 1;
	case 'n':
	case CLI_OPT_DRY_RUN:
		c->dry_run = 1;
		return 1;
	case CLI_OPT_OPERATOR:
		/* an empty name is a mistake, not a request to be the login user */
		if (!*arg)
			cli_usage_error(c, "--operator needs a name");
		c->operator = arg;
		return 1;
	case CLI_OPT_FORMAT:
		if (mbr_format_parse(arg, &c->format) < 0)
			cli_usage_error(c, "format '%s' must be table, csv, tsv or json", arg);
		return 1;
	case CLI_OPT_EXCEL:
		c->excel = 1;
		return 1;
	case CLI_OPT_ENCODING:
		c->encoding = arg;
		return 1;
	case CLI_OPT_SKIP_BAD:
		c->skip_bad = 1;
		return 1;
	case CLI_OPT_REJECTS:
		c->rejects = arg;
		return 1;
	case CLI_OPT_IGNORE_UNKNOWN:
		c->ignore_unknown = 1;
		return 1;
	case 'h':
	case CLI_OPT_HELP:
		print_usage(c, stdout);
		exit(cli_close_stdout(c, MBR_EXIT_OK));
	case CLI_OPT_VERSION:
		printf("%s %s\n", c->prog, MBR_VERSION);
		exit(cli_close_stdout(c, MBR_EXIT_OK));
	case '?':
		/* getopt has printed what was wrong */
		cli_usage_error(c, NULL);
	}
	return 0;
}

static int stdout_reported;	/* a write error on stdout was said already */

int cli_db_error(struct mbr_cli *c, struct mbr_db *db, int err)
{
	/* output that could not be written sets no database message */
	if (err == MBR_EIO && ferror(stdout) && !strcmp(mbr_db_errmsg(db), "no error")) {
		int e = errno;

		if (!stdout_reported)
			cli_warn(c, "write error on standard output%s%s", e ? ": " : "", e ? strerror(e) : "");
		stdout_reported = 1;
	} else {
		cli_warn(c, "%s", mbr_db_errmsg(db));
	}
	return mbr_exit_status(err);
}

struct mbr_db *cli_open(struct mbr_cli *c, unsigned flags)
{
	struct mbr_db *db;
	int rc;

	if (!c->db_path || !*c->db_path)
		cli_usage_error(c, "no database: use -d FILE or set MBR_DB");
	operator_check(c);
	rc = mbr_db_open(c->db_path, flags, c->prog, &db);
	if (rc == 0 && c->operator && *c->operator)
		rc = mbr_set_operator(db, c->operator);
	if (rc < 0) {
		int status = cli_db_error(c, db, rc);
		mbr_db_close(db);
		exit(status);
	}
	return db;
}

void cli_require(struct mbr_cli *c, struct mbr_db *db, enum mbr_role need, const char *action)
{
	int rc = mbr_require(db, need, action);

	if (rc < 0) {
		int status = cli_db_error(c, db, rc);
		mbr_db_close(db);
		exit(status);
	}
}

static int progress_shown;

void cli_progress(struct mbr_cli *c, const char *what, long n)
{
	static struct timespec last;
	struct timespec now;

	if (c->quiet || (n & 1023) || !isatty(2))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (progress_shown && (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 < 250)
		return;
	last = now;
	fprintf(stderr, "\r%s: %ld %s", c->prog, n, what);
	progress_shown = 1;
}

void cli_progress_done(struct mbr_cli *c)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		progress_shown = 0;
	}
}

int cli_close_stdout(struct mbr_cli *c, int status)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		if (errno == EPIPE)
			return status;
		if (!stdout_reported)
			cli_warn(c, "write error on standard output: %s", strerror(errno));
		return status ? status : MBR_EXIT_DB;
	}
	return status;
}

int64_t cli_date(struct mbr_cli *c, const char *opt, const char *s, int end_of_day)
{
	char d[11], next[MBR_TIME_BUFSZ];
	int64_t t;

	if (mbr_date_normalize(s, d) < 0 || mbr_time_parse(d, NULL, &t) < 0)
		cli_usage_error(c, "%s '%s' is not a date (YYYY-MM-DD, 1900 to 2100)", opt, s);
	if (!end_of_day)
		return t;
	/* the next local midnight: a day and a half later, that date's start
	 * (days are 23 to 25 hours long where clocks change) */
	mbr_date_format(t + 36 * 3600, next);
	mbr_time_parse(next, NULL, &t);
	return t;
}

enum mbr_format cli_format(struct mbr_cli *c)
{
	if (c->format != MBR_FMT_AUTO)
		return c->format;
	/* --excel means CSV for a spreadsheet, even on a terminal */
	return isatty(1) && !c->excel ? MBR_FMT_TABLE : MBR_FMT_CSV;
}

/* ------------------------------------------------------------ prompting */

static const char *const *completion_words;

static char *complete_word(const char *text, int state)
{
	static size_t i, len;
	const char *w;

	if (!state) {
		i = 0;
		len = strlen(text);
	}
	while (completion_words && (w = completion_words[i]) != NULL) {
		i++;
		if (!strncmp(w, text, len))
			return strdup(w);
	}
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)start;
	(void)end;
	rl_attempted_completion_over = 1;	/* never fall back to file names */
	rl_completion_append_character = '\0';	/* "SKU " would not be the SKU */
	return rl_completion_matches(text, complete_word);
}

int cli_interactive(void)
{
	return isatty(0) && isatty(2);
}

int cli_readline(const char *prompt, const char *const *words, struct mbr_buf *out)
{
	static int ready;
	char *line;

	mbr_buf_reset(out);
	if (!cli_interactive()) {
		int ch, got = 0;

		while ((ch = getchar()) != EOF) {
			got = 1;
			if (ch == '\n')
				break;
			mbr_buf_addc(out, ch);
		}
		while (out->len && strchr("\r \t", out->buf[out->len - 1]))
			out->buf[--out->len] = '\0';
		return got;
	}
	if (!ready) {
		rl_outstream = stderr;
		rl_readline_name = "mbr";
		rl_attempted_completion_function = complete;
		using_history();
		ready = 1;
	}
	completion_words = words;
	line = readline(prompt);
	completion_words = NULL;
	if (!line)
		return 0;
	mbr_buf_adds(out, line);
	if (*line)
		add_history(line);
	free(line);
	while (out->len && (out->buf[out->len - 1] == ' ' || out->buf[out->len - 1] == '\t'))
		out->buf[--out->len] = '\0';	/* what Tab or the cashier left at the end */
	return 1;
}

/* ---------------------------------------------------------- reject files */

struct cli_rejects {
	FILE *fp;
	const char *path;
	struct mbr_out *out;
	struct mbr_col *cols;
	const char **vals;	/* one row's fields, room for cap */
	size_t cap;
	size_t nh;		/* input header columns */
	size_t reason_at;	/* the input's own reject_reason column, or SIZE_MAX */
};

struct cli_rejects *cli_rejects_open(struct mbr_cli *c, struct mbr_reader *rd)
{
	const char *const *hdr;
	struct cli_rejects *r;
	size_t i, n = 0;
	int fd;

	if (!c->skip_bad || !c->rejects)
		return NULL;
	/* opening it for writing would truncate the input being read */
	if (mbr_reader_is(rd, c->rejects))
		cli_usage_error(c, "--rejects %s is the input file", c->rejects);
	r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	hdr = mbr_reader_header(rd, &r->nh);
	r->path = c->rejects;
	/* rejected records hold personal data in clear: owner only */
	fd = open(c->rejects, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) < 0 || !(r->fp = fdopen(fd, "w"))) {
		cli_warn(c, "%s: %s", c->rejects, strerror(errno));
		exit(errno == EACCES || errno == EPERM ? MBR_EXIT_PERM : MBR_EXIT_DB);
	}
	r->cap = r->nh + 1;
	r->cols = calloc(r->nh + 1, sizeof(*r->cols));
	r->vals = calloc(r->cap, sizeof(*r->vals));
	if (!r->cols || !r->vals)
		abort();
	/* a rejects file fed back has its old reason column: replace it */
	r->reason_at = SIZE_MAX;
	for (i = 0; i < r->nh; i++) {
		if (!strcasecmp(hdr[i], "reject_reason"))
			r->reason_at = i;
		else
			r->cols[n++].name = hdr[i];
	}
	r->cols[n].name = "reject_reason";
	r->out = mbr_out_new(r->fp, MBR_FMT_CSV, 0, r->cols, n + 1);
	return r;
}

const char *cli_reason(const char *msg)
{
	/* "file:12: column: why" -> "column: why" */
	const char *a = strstr(msg, ": ");

	if (a) {
		const char *colon = memchr(msg, ':', (size_t)(a - msg));
		if (colon && colon != a)
			return a + 2;
	}
	return msg;
}

/*
 * A record is written with all its fields in file order (but the old
 * reject_reason), then the reason: a record shorter than the header is
 * padded with empty fields, and one longer keeps its extra fields, so
 * that once its quoting is fixed it lines up with the header again.  In
 * a fed-back record with extra fields the old reason is the last one.
 */
int cli_rejects_row(struct cli_rejects *r, const char *const *raw, size_t nraw, const char *reason)
{
	size_t i, k = 0, count, skip;

	if (!r)
		return 0;
	if (!raw)
		nraw = 0;
	count = nraw > r->nh ? nraw : r->nh;
	skip = nraw > r->nh && r->reason_at + 1 == r->nh ? nraw - 1 : r->reason_at;
	if (count + 1 > r->cap) {
		r->cap = 2 * (count + 1);
		if (!(r->vals = realloc(r->vals, r->cap * sizeof(*r->vals))))
			abort();
	}
	for (i = 0; i < count; i++)
		if (i != skip)
			r->vals[k++] = i < nraw ? raw[i] : "";
	r->vals[k++] = cli_reason(reason);
	return mbr_out_fields(r->out, r->vals, k);
}

int cli_rejects_close(struct mbr_cli *c, struct cli_rejects *r, int status)
{
	int bad;

	if (!r)
		return status;
	bad = mbr_out_end(r->out) < 0;
	bad |= fclose(r->fp) != 0;
	if (bad) {
		cli_warn(c, "%s: write error", r->path);
		status = MBR_EXIT_DB;
	}
	free(r->cols);
	free(r->vals);
	free(r);
	return status;
}

void cli_reader_opts(struct mbr_cli *c, struct mbr_reader_opts *ro)
{
	memset(ro, 0, sizeof(*ro));
	ro->encoding = c->encoding;
	ro->ignore_unknown = c->ignore_unknown;
	ro->prefetch = 1;	/* every program's input is an import: read it ahead */
}

int cli_words_add(const char *code, const char *name, void *p)
{
	struct cli_words *ws = p;

	(void)name;
	if (ws->n + 2 > ws->alloc) {
		ws->alloc = ws->alloc ? 2 * ws->alloc : 64;
		ws->w = realloc(ws->w, ws->alloc * sizeof(*ws->w));
		if (!ws->w)
			abort();
	}
	ws->w[ws->n] = strdup(code);
	if (!ws->w[ws->n])
		abort();
	ws->w[++ws->n] = NULL;
	return 0;
}

void cli_words_free(struct cli_words *ws)
{
	size_t i;

	for (i = 0; i < ws->n; i++)
		free((void *)ws->w[i]);
	free(ws->w);
	ws->w = NULL;
	ws->n = ws->alloc = 0;
}
