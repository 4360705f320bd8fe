/*
 * cli.c - the shared command-line layer of the mbr-* programs (see cli.h):
 * common options, messages, exit statuses, progress, and the readline
 * wrapper.  This is the only lib/ file that prints or exits, and it is
 * used only by cmd/.
 */
#include <errno.h>
#include <signal.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
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

void cli_warn(struct mbr_cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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
		fprintf(stderr, "%s: ", c->prog);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
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

int cli_db_error(struct mbr_cli *c, struct mbr_db *db, int err)
{
	cli_warn(c, "%s", mbr_db_errmsg(db));
	return mbr_exit_status(err);
}

struct mbr_db *cli_open(struct mbr_cli *c, unsigned flags)
{
	struct mbr_db *db;
	int rc;

	if (!c->db_path || !*c->db_path)
		cli_usage_error(c, "no database: use -d FILE or set MBR_DB");
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
		cli_warn(c, "write error on standard output: %s", strerror(errno));
		return status ? status : MBR_EXIT_DB;
	}
	return status;
}

enum mbr_format cli_format(struct mbr_cli *c)
{
	if (c->format != MBR_FMT_AUTO)
		return c->format;
	return isatty(1) ? MBR_FMT_TABLE : MBR_FMT_CSV;
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
	const char **vals;
	size_t *keep;		/* input columns written, by index */
	size_t n;		/* how many */
};

struct cli_rejects *cli_rejects_open(struct mbr_cli *c, struct mbr_reader *rd)
{
	const char *const *hdr;
	struct cli_rejects *r;
	size_t i, nh;

	if (!c->skip_bad || !c->rejects)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	hdr = mbr_reader_header(rd, &nh);
	r->path = c->rejects;
	if (!(r->fp = fopen(c->rejects, "w"))) {
		cli_warn(c, "%s: %s", c->rejects, strerror(errno));
		exit(errno == EACCES ? MBR_EXIT_PERM : MBR_EXIT_DB);
	}
	r->cols = calloc(nh + 1, sizeof(*r->cols));
	r->vals = calloc(nh + 1, sizeof(*r->vals));
	r->keep = calloc(nh + 1, sizeof(*r->keep));
	if (!r->cols || !r->vals || !r->keep)
		abort();
	/* a rejects file fed back has its old reason column: replace it */
	for (i = 0; i < nh; i++) {
		if (!strcasecmp(hdr[i], "reject_reason"))
			continue;
		r->keep[r->n] = i;
		r->cols[r->n++].name = hdr[i];
	}
	r->cols[r->n].name = "reject_reason";
	r->out = mbr_out_new(r->fp, MBR_FMT_CSV, 0, r->cols, r->n + 1);
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

int cli_rejects_row(struct cli_rejects *r, const char *const *raw, size_t nraw, const char *reason)
{
	size_t i;

	if (!r)
		return 0;
	for (i = 0; i < r->n; i++)
		r->vals[i] = r->keep[i] < nraw && raw ? raw[r->keep[i]] : "";
	r->vals[r->n] = cli_reason(reason);
	return mbr_out_row(r->out, r->vals);
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
	free(r->keep);
	free(r);
	return status;
}

void cli_reader_opts(struct mbr_cli *c, struct mbr_reader_opts *ro)
{
	memset(ro, 0, sizeof(*ro));
	ro->encoding = c->encoding;
	ro->ignore_unknown = c->ignore_unknown;
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
