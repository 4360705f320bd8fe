/*
 * cli.h - what every mbr-* program shares and the library proper must not
 * do: option defaults, messages on stderr, exiting, progress lines,
 * prompting.  Only cmd/ includes this (through lib/cli.c in libmbr.a).
 */
#ifndef MBR_CLI_H
#define MBR_CLI_H

#include <getopt.h>

#include "mbr.h"

/* Options every program takes, with their long-option values. */
enum {
	CLI_OPT_OPERATOR = 0x1000,
	CLI_OPT_HELP,
	CLI_OPT_VERSION,
	CLI_OPT_FORMAT,
	CLI_OPT_EXCEL,
	CLI_OPT_ENCODING,
	CLI_OPT_DRY_RUN,
	CLI_OPT_SKIP_BAD,
	CLI_OPT_REJECTS,
	CLI_OPT_IGNORE_UNKNOWN,
	CLI_OPT_NEXT	/* programs number their own options from here */
};

struct mbr_cli {
	const char *prog;	/* "mbr-add" */
	const char *usage;	/* identical to the man page SYNOPSIS */
	const char *db_path;	/* -d, else $MBR_DB */
	const char *operator;	/* --operator, else $MBR_OPERATOR, else OS user */
	enum mbr_format format;	/* --format */
	int excel;		/* --excel */
	int quiet;		/* -q */
	int dry_run;		/* -n, --dry-run */
	const char *encoding;	/* --encoding */
	int skip_bad;		/* --skip-bad */
	const char *rejects;	/* --rejects FILE */
	int ignore_unknown;	/* --ignore-unknown */
};

void cli_init(struct mbr_cli *c, const char *prog, const char *usage);
/*
 * Handle an option every program shares (-d, -q, -n, --operator, --format,
 * --excel, --encoding, --skip-bad, --rejects, --ignore-unknown, --help,
 * --version).  Returns 1 if handled, 0 if the option is the program's own;
 * exits on --help (usage to stdout, 0), --version, and bad values (2).
 */
int cli_common_option(struct mbr_cli *c, int opt, const char *arg);
/*
 * "adjust M -80" or "adjust M -1.50": a negative number is an operand,
 * not options -8 -0.  cli_hide_negatives, before getopt, hides the dash
 * of every such argument behind a mark; cli_operand gives the argument
 * back as typed.
 */
void cli_hide_negatives(int argc, char **argv);
const char *cli_operand(const char *arg);
/*
 * After getopt: refuse (usage error, exit 2) an option that the usage
 * text does not show for the command in argv[first_operand] (the forms
 * without a command when there is none; every form when no form has
 * one).  shortopts and longopts are what getopt_long was given.
 */
void cli_check_options(struct mbr_cli *c, int argc, char *const argv[], int first_operand, const char *shortopts,
		       const struct option *longopts);
/* One usage line to stderr ("usage: ..." first line), exit 2. */
void cli_usage_error(struct mbr_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* "prog: message" on stderr. */
void cli_warn(struct mbr_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Open the database (-d or $MBR_DB); on failure print the reason and exit
 * with its status.  Applies --operator.
 */
struct mbr_db *cli_open(struct mbr_cli *c, unsigned flags);
/* Print the handle's error, return the matching exit status. */
int cli_db_error(struct mbr_cli *c, struct mbr_db *db, int err);
/* Require a role or exit (5) with the reason. */
void cli_require(struct mbr_cli *c, struct mbr_db *db, enum mbr_role need, const char *action);
/* Progress on stderr when it is a terminal and not quiet; at most ~4 a second. */
void cli_progress(struct mbr_cli *c, const char *what, long n);
void cli_progress_done(struct mbr_cli *c);
/* Flush and close stdout; MBR_EXIT_DB (with a message) on a write error. */
int cli_close_stdout(struct mbr_cli *c, int status);
/* Output format to use: --format, else table on a terminal, else CSV. */
enum mbr_format cli_format(struct mbr_cli *c);
/*
 * The date option opt's value s (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD, years
 * 1900 to 2100) as the UTC time of the local midnight that starts it, or
 * with end_of_day the one that ends it; a usage error (exit 2) otherwise.
 */
int64_t cli_date(struct mbr_cli *c, const char *opt, const char *s, int end_of_day);

/*
 * Read one line for an interactive form.  On a terminal (stdin and stderr)
 * this is readline with history and tab completion from words (NULL-
 * terminated, may be NULL); the prompt goes to stderr so stdout carries
 * only data.  Elsewhere it reads a plain line without a prompt.  Returns 1
 * with the line in out (no newline), 0 at end of input or on Ctrl-C.
 */
int cli_readline(const char *prompt, const char *const *words, struct mbr_buf *out);
int cli_interactive(void);	/* stdin and stderr are terminals */

/* Completion words, NULL-terminated in w; cli_words_add is an mbr_name_fn. */
struct cli_words {
	const char **w;
	size_t n, alloc;
};
int cli_words_add(const char *code, const char *name, void *words);
void cli_words_free(struct cli_words *ws);

/*
 * Reject files (--skip-bad --rejects FILE, created 0600): the input's
 * header plus a reject_reason column, one row per rejected input row,
 * all its fields as read, then the reason.  cli_rejects_open returns NULL
 * (nothing to write) without --rejects, exits with a usage error when
 * FILE is the input (before opening it), and exits on an open error.
 */
struct cli_rejects;
struct cli_rejects *cli_rejects_open(struct mbr_cli *c, struct mbr_reader *rd);
int cli_rejects_row(struct cli_rejects *r, const char *const *raw, size_t nraw, const char *reason);
/* Close; returns status, or MBR_EXIT_DB after a write error. */
int cli_rejects_close(struct mbr_cli *c, struct cli_rejects *r, int status);
/* The reason without its "file:line: " prefix (the reject file locates it). */
const char *cli_reason(const char *msg);

/* Read options shared by the importers into reader options. */
void cli_reader_opts(struct mbr_cli *c, struct mbr_reader_opts *ro);

#endif
