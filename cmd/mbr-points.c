/*
 * mbr-points - points balances and history, earn/redeem/adjust/transfer,
 * FIFO expiry, nightly tier evaluation, and the earning rules.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

static const char usage[] =
	"usage: mbr-points [-d file] [--operator name] [--format fmt] [--as-of date] balance member\n"
	"       mbr-points [-d file] [--operator name] [--format fmt] [--excel] history member\n"
	"       mbr-points [-nq] [-d file] [--operator name] [--reason text] earn | redeem | adjust member points\n"
	"       mbr-points [-nq] [-d file] [--operator name] [--reason text] transfer from to points\n"
	"       mbr-points [-nq] [-d file] [--operator name] [--as-of date] expire\n"
	"       mbr-points [-nq] [-d file] [--operator name] [--format fmt] [--as-of date] tiers\n"
	"       mbr-points [-nq] [-d file] [--operator name] rules load file\n"
	"       mbr-points [-d file] [--operator name] [--as-of date] rules show\n";

enum { OPT_AS_OF = CLI_OPT_NEXT, OPT_REASON };

static const char shortopts[] = "d:hnq";

static const struct option options[] = {
	{ "as-of", required_argument, NULL, OPT_AS_OF },
	{ "dry-run", no_argument, NULL, CLI_OPT_DRY_RUN },
	{ "excel", no_argument, NULL, CLI_OPT_EXCEL },
	{ "format", required_argument, NULL, CLI_OPT_FORMAT },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ "operator", required_argument, NULL, CLI_OPT_OPERATOR },
	{ "quiet", no_argument, NULL, 'q' },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "version", no_argument, NULL, CLI_OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static struct mbr_cli cli;
static const char *as_of, *reason;

/* --as-of DATE: the start of the day after DATE (so "as of" means at its
 * end) and the day itself; without it, now and today. */
static void as_of_time(int64_t *end, int64_t *day)
{
	if (!as_of) {
		*end = mbr_now();
		*day = mbr_local_day(*end);
		return;
	}
	*day = mbr_local_day(cli_date(&cli, "--as-of", as_of, 0));
	*end = cli_date(&cli, "--as-of", as_of, 1);
}

/* --as-of for work that writes (expire, tiers): today or a past day.  A
 * later day would lapse lots and downgrade members before their time. */
static void as_of_past(int64_t *end, int64_t *day, const char *what)
{
	as_of_time(end, day);
	if (as_of && *day > mbr_local_day(mbr_now())) {
		char today[MBR_TIME_BUFSZ];

		mbr_date_format(mbr_now(), today);
		cli_usage_error(&cli, "--as-of '%s' is after today (%.10s): %s runs for today or a past day",
				as_of, today, what);
	}
}

static int64_t parse_points(const char *s, int allow_negative)
{
	char *end;
	long long v;

	s = cli_operand(s);
	v = strtoll(s, &end, 10);

	if (*s == '\0' || *end || (!allow_negative && v <= 0) || v == 0 || v > MBR_POINTS_MAX || v < -MBR_POINTS_MAX)
		cli_usage_error(&cli, "'%s' is not a %swhole number of points", s, allow_negative ? "non-zero " : "positive ");
	return v;
}

static void get_member(struct mbr_db *db, const char *key, struct mbr_member *m)
{
	int rc = mbr_member_get(db, key, m);

	if (rc < 0) {
		int status = rc == MBR_ENOTFOUND ? (cli_warn(&cli, "%s", mbr_db_errmsg(db)), MBR_EXIT_DATA)
						 : cli_db_error(&cli, db, rc);
		mbr_db_close(db);
		exit(status);
	}
}

static int balance(struct mbr_db *db, const char *key)
{
	static const struct mbr_col cols[] = {
		{ "points", NULL, MBR_COL_NUMBER }, { "member", NULL, 0 }, { "member_no", NULL, 0 }, { "as_of", NULL, 0 },
	};
	struct mbr_member m;
	struct mbr_out *out;
	char pts[24], when[MBR_TIME_BUFSZ];
	const char *v[4];
	int64_t end, day, bal;
	int rc;

	cli_require(&cli, db, MBR_ROLE_CASHIER, "balance");
	get_member(db, key, &m);
	as_of_time(&end, &day);
	if ((rc = mbr_points_balance(db, m.id, as_of ? end : 0, &bal)) < 0)
		return cli_db_error(&cli, db, rc);
	snprintf(pts, sizeof(pts), "%lld", (long long)bal);
	if (as_of)
		mbr_date_format(end - 1, when);
	else
		mbr_time_format(end, when);
	v[0] = pts;
	v[1] = m.uid;
	v[2] = m.member_no;
	v[3] = when;
	out = mbr_out_new(stdout, cli_format(&cli), cli.excel, cols, 4);
	rc = mbr_out_row(out, v);
	if (mbr_out_end(out) < 0 || rc < 0)
		return cli_db_error(&cli, db, MBR_EIO);
	return MBR_EXIT_OK;
}

static int print_entry(const struct mbr_ledger_entry *e, void *p)
{
	struct mbr_out *out = p;
	char when[MBR_TIME_BUFSZ], pts[24], bal[24];
	const char *v[9];

	mbr_time_format(e->ts, when);
	snprintf(pts, sizeof(pts), "%+lld", (long long)e->points);
	snprintf(bal, sizeof(bal), "%lld", (long long)e->balance);
	v[0] = when;
	v[1] = e->kind;
	v[2] = pts;
	v[3] = bal;
	v[4] = e->source;
	v[5] = e->ref;
	v[6] = e->store;
	v[7] = e->reason;
	v[8] = e->uid;
	return mbr_out_row(out, v);
}

static int history(struct mbr_db *db, const char *key)
{
	static const struct mbr_col cols[] = {
		{ "time", NULL, 0 }, { "kind", NULL, 0 }, { "points", NULL, MBR_COL_NUMBER },
		{ "balance", NULL, MBR_COL_NUMBER }, { "source", NULL, 0 }, { "ref", NULL, 0 },
		{ "store", NULL, 0 }, { "reason", NULL, 0 }, { "entry", NULL, 0 },
	};
	struct mbr_member m;
	struct mbr_out *out;
	int rc;

	cli_require(&cli, db, MBR_ROLE_CASHIER, "history");
	get_member(db, key, &m);
	out = mbr_out_new(stdout, cli_format(&cli), cli.excel, cols, 9);
	rc = mbr_points_history(db, m.id, print_entry, out);
	if (mbr_out_end(out) < 0 && rc == 0)
		rc = MBR_EIO;
	return rc < 0 ? cli_db_error(&cli, db, rc) : MBR_EXIT_OK;
}

/* Run the change, then commit or (for --dry-run) roll back. */
static int commit(struct mbr_db *db, int rc)
{
	if (rc < 0) {
		mbr_rollback(db);
		return cli_db_error(&cli, db, rc);
	}
	if (cli.dry_run) {
		mbr_rollback(db);
		if (!cli.quiet)
			cli_warn(&cli, "dry run, nothing written");
		return MBR_EXIT_OK;
	}
	if ((rc = mbr_commit(db)) < 0)
		return cli_db_error(&cli, db, rc);
	return MBR_EXIT_OK;
}

static int change(struct mbr_db *db, const char *kind, const char *key, const char *amount)
{
	int adjust = !strcmp(kind, "adjust");
	int64_t pts = parse_points(amount, adjust), bal;
	struct mbr_member m;
	int rc, status;

	if (adjust && (!reason || !*reason))
		cli_usage_error(&cli, "adjust needs --reason");
	cli_require(&cli, db, adjust ? MBR_ROLE_MANAGER : MBR_ROLE_CASHIER, adjust ? "adjusting points" : kind);
	if ((rc = mbr_begin(db)) < 0)
		return cli_db_error(&cli, db, rc);
	get_member(db, key, &m);
	rc = mbr_points_change(db, &m, kind, pts, reason ? reason : "");
	if (rc == MBR_EINVAL) {
		mbr_rollback(db);
		cli_warn(&cli, "%s", mbr_db_errmsg(db));
		return MBR_EXIT_DATA;
	}
	if ((status = commit(db, rc)) != MBR_EXIT_OK)
		return status;
	if (mbr_points_balance(db, m.id, 0, &bal) == 0)
		printf("%lld\n", (long long)bal);
	return MBR_EXIT_OK;
}

static int transfer(struct mbr_db *db, const char *from, const char *to, const char *amount)
{
	int64_t pts = parse_points(amount, 0);
	struct mbr_member a, b;
	int rc;

	cli_require(&cli, db, MBR_ROLE_MANAGER, "transferring points");
	if ((rc = mbr_begin(db)) < 0)
		return cli_db_error(&cli, db, rc);
	get_member(db, from, &a);
	get_member(db, to, &b);
	rc = mbr_points_transfer(db, &a, &b, pts, reason ? reason : "");
	if (rc == MBR_EINVAL) {
		mbr_rollback(db);
		cli_warn(&cli, "%s", mbr_db_errmsg(db));
		return MBR_EXIT_DATA;
	}
	return commit(db, rc);
}

static int expire(struct mbr_db *db)
{
	int64_t end, day, pts;
	long n;
	int rc, status;

	cli_require(&cli, db, MBR_ROLE_MANAGER, "expiring points");
	as_of_past(&end, &day, "expire");
	if ((rc = mbr_begin(db)) < 0)
		return cli_db_error(&cli, db, rc);
	/* lots lapsing at or before the end of the day: up to its last second */
	rc = mbr_points_expire(db, as_of ? end - 1 : end, &n, &pts);
	if ((status = commit(db, rc)) != MBR_EXIT_OK)
		return status;
	if (!cli.quiet)
		cli_warn(&cli, "%s%ld lots expired, %lld points", cli.dry_run ? "dry run: " : "", n, (long long)pts);
	return MBR_EXIT_OK;
}

static int print_change(int64_t member, const char *uid, const char *old_tier, const char *new_tier,
			const char *direction, void *p)
{
	struct mbr_out *out = p;
	const char *v[4] = { uid, old_tier, new_tier, direction };

	(void)member;
	return mbr_out_row(out, v);
}

static int tiers(struct mbr_db *db)
{
	static const struct mbr_col cols[] = {
		{ "member", NULL, 0 }, { "old_tier", NULL, 0 }, { "new_tier", NULL, 0 }, { "change", NULL, 0 },
	};
	struct mbr_out *out;
	int64_t end, day;
	int rc, status;

	cli_require(&cli, db, MBR_ROLE_MANAGER, "evaluating tiers");
	as_of_past(&end, &day, "tiers");
	if ((rc = mbr_begin(db)) < 0)
		return cli_db_error(&cli, db, rc);
	/* tier changes print as CSV by default: they feed other programs */
	out = mbr_out_new(stdout, cli.format == MBR_FMT_AUTO ? MBR_FMT_CSV : cli.format, cli.excel, cols, 4);
	rc = mbr_tiers_evaluate(db, day, print_change, out);
	if (mbr_out_end(out) < 0 && rc == 0)
		rc = MBR_EIO;
	status = commit(db, rc);
	return status;
}

static int rules(struct mbr_db *db, int argc, char **argv)
{
	struct mbr_buf text = MBR_BUF_INIT;
	int64_t end, day, version;
	int rc, status;

	if (argc >= 1 && !strcmp(argv[0], "show") && argc == 1) {
		cli_require(&cli, db, MBR_ROLE_CASHIER, "showing rules");
		as_of_time(&end, &day);
		rc = mbr_rules_text(db, day, &text);
		if (rc == MBR_ENOTFOUND) {
			printf("# built-in default: 1 point per whole currency unit of a receipt's paid total,\n"
			       "# rounded down per receipt; points never expire; no tiers\n");
			rc = 0;
		} else if (rc == 0) {
			fputs(text.buf, stdout);
			if (text.len && text.buf[text.len - 1] != '\n')
				putchar('\n');
		}
		mbr_buf_release(&text);
		return rc < 0 ? cli_db_error(&cli, db, rc) : MBR_EXIT_OK;
	}
	if (argc == 2 && !strcmp(argv[0], "load")) {
		FILE *fp = !strcmp(argv[1], "-") ? stdin : fopen(argv[1], "r");
		char buf[4096];
		size_t n;

		cli_require(&cli, db, MBR_ROLE_ADMIN, "loading rules");
		if (!fp) {
			cli_warn(&cli, "%s: %m", argv[1]);
			return MBR_EXIT_DB;
		}
		while ((n = fread(buf, 1, sizeof(buf), fp)) > 0 && text.len < 1024 * 1024)
			mbr_buf_add(&text, buf, n);
		if (fp != stdin)
			fclose(fp);
		if (text.len >= 2 && (unsigned char)text.buf[0] == 0x1f && (unsigned char)text.buf[1] == 0x8b) {
			cli_warn(&cli, "%s: a rules file is plain text, not gzip: gunzip it first", argv[1]);
			mbr_buf_release(&text);
			return MBR_EXIT_DATA;
		}
		if (text.len >= 1024 * 1024 || memchr(text.buf, '\0', text.len)) {
			cli_warn(&cli, "%s: not a rules file", argv[1]);
			mbr_buf_release(&text);
			return MBR_EXIT_DATA;
		}
		if ((rc = mbr_begin(db)) < 0)
			return cli_db_error(&cli, db, rc);
		/* a byte order mark, as Windows editors write, is not text */
		rc = mbr_rules_load(db, text.buf + (text.len >= 3 && !memcmp(text.buf, "\xef\xbb\xbf", 3) ? 3 : 0),
				    &version);
		mbr_buf_release(&text);
		if (rc == MBR_EINVAL) {
			mbr_rollback(db);
			/* "N: reason" (mbr_rules_parse): file:N: reason, as the CSV imports */
			cli_warn(&cli, "%s:%s", argv[1], mbr_db_errmsg(db));
			return MBR_EXIT_DATA;
		}
		if ((status = commit(db, rc)) == MBR_EXIT_OK && !cli.quiet)
			cli_warn(&cli, "%srules version %lld loaded", cli.dry_run ? "dry run: " : "", (long long)version);
		return status;
	}
	cli_usage_error(&cli, "rules takes: load FILE, or show");
}

int main(int argc, char *argv[])
{
	struct mbr_db *db;
	const char *cmd;
	int opt, nargs, rc;
	char **args;

	cli_init(&cli, "mbr-points", usage);
	cli_hide_negatives(argc, argv);
	while ((opt = getopt_long(argc, argv, shortopts, options, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_AS_OF: as_of = optarg; break;
		case OPT_REASON: reason = optarg; break;
		default: cli_usage_error(&cli, NULL);
		}
	}
	cli_check_options(&cli, argc, argv, optind, shortopts, options);
	if (optind >= argc)
		cli_usage_error(&cli, "missing command");
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;

#define NEED(n) do { if (nargs != (n)) cli_usage_error(&cli, "%s takes %d argument%s", cmd, (n), (n) == 1 ? "" : "s"); } while (0)
	if (!strcmp(cmd, "balance") || !strcmp(cmd, "history")) {
		NEED(1);
		db = cli_open(&cli, 0);
		rc = cmd[0] == 'b' ? balance(db, args[0]) : history(db, args[0]);
	} else if (!strcmp(cmd, "earn") || !strcmp(cmd, "redeem") || !strcmp(cmd, "adjust")) {
		NEED(2);
		db = cli_open(&cli, MBR_OPEN_RW);
		rc = change(db, cmd, args[0], args[1]);
	} else if (!strcmp(cmd, "transfer")) {
		NEED(3);
		db = cli_open(&cli, MBR_OPEN_RW);
		rc = transfer(db, args[0], args[1], args[2]);
	} else if (!strcmp(cmd, "expire")) {
		NEED(0);
		db = cli_open(&cli, MBR_OPEN_RW);
		rc = expire(db);
	} else if (!strcmp(cmd, "tiers")) {
		NEED(0);
		db = cli_open(&cli, MBR_OPEN_RW);
		rc = tiers(db);
	} else if (!strcmp(cmd, "rules")) {
		db = cli_open(&cli, nargs >= 1 && !strcmp(args[0], "load") ? MBR_OPEN_RW : 0);
		rc = rules(db, nargs, args);
	} else {
		cli_usage_error(&cli, "unknown command '%s'", cmd);
	}
	mbr_db_close(db);
	return cli_close_stdout(&cli, rc);
}
