/*
 * mbr-member - find, show, export, change, freeze and erase members.
 * Personal data is masked on output unless --reveal is given and the
 * operator is an admin.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

static const char usage[] =
	"usage: mbr-member [-q] [-d file] [--operator name] [--format fmt] [--excel] [--reveal] find query\n"
	"       mbr-member [-q] [-d file] [--operator name] [--format fmt] [--excel] [--reveal] show member\n"
	"       mbr-member [-q] [-d file] [--operator name] [--format fmt] [--excel] [--reveal] export\n"
	"       mbr-member [-nq] [-d file] [--operator name] set member field=value ...\n"
	"       mbr-member [-nq] [-d file] [--operator name] freeze | unfreeze member\n"
	"       mbr-member [-nq] [-d file] [--operator name] [--yes] erase member\n";

enum { OPT_REVEAL = CLI_OPT_NEXT, OPT_YES };

static const char shortopts[] = "d:hnq";

static const struct option options[] = {
	{ "dry-run", no_argument, NULL, CLI_OPT_DRY_RUN },
	{ "excel", no_argument, NULL, CLI_OPT_EXCEL },
	{ "format", required_argument, NULL, CLI_OPT_FORMAT },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ "operator", required_argument, NULL, CLI_OPT_OPERATOR },
	{ "quiet", no_argument, NULL, 'q' },
	{ "reveal", no_argument, NULL, OPT_REVEAL },
	{ "version", no_argument, NULL, CLI_OPT_VERSION },
	{ "yes", no_argument, NULL, OPT_YES },
	{ NULL, 0, NULL, 0 },
};

/* The longest an erasure waits for readers to let go of the write-ahead
 * log: a front desk must not hang for MBR_BUSY_TIMEOUT (10 minutes by
 * default) because someone has a report open. */
#define ERASE_CHECKPOINT_MS 5000

static struct mbr_cli cli;
static int reveal, yes;

struct list {
	struct mbr_out *out;
	long n;
};

/* The output starts (a CSV header) with the first member: a lookup
 * that fails prints nothing a pipe could take for an empty result. */
static void start_output(struct list *l)
{
	if (!l->out)
		l->out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mbr_member_view_cols, MBR_VIEW_COUNT);
}

static int print_member(const struct mbr_member *m, void *p)
{
	struct list *l = p;
	struct mbr_member_view v;

	mbr_member_view(m, reveal, &v);
	start_output(l);
	l->n++;
	return mbr_out_row(l->out, v.val);
}

/* find and export: members as rows. */
static int list(struct mbr_db *db, const char *query)
{
	struct list l = { NULL, 0 };
	int rc;

	/* no key, no members: say so before a header could go out */
	if ((rc = mbr_db_key_ready(db)) < 0)
		return cli_db_error(&cli, db, rc);
	rc = query ? mbr_member_find(db, query, print_member, &l) : mbr_member_each(db, print_member, &l);
	if (!query && rc == 0)
		start_output(&l);	/* no members: an export is a header alone */
	if (l.out && mbr_out_end(l.out) < 0 && rc == 0)
		rc = MBR_EIO;
	if (rc == MBR_ENOTFOUND) {
		if (!cli.quiet)
			cli_warn(&cli, "%s", mbr_db_errmsg(db));
		return MBR_EXIT_REJECTED;
	}
	return rc < 0 ? cli_db_error(&cli, db, rc) : MBR_EXIT_OK;
}

/* show: one member, as "field  value" lines on a terminal, else one row. */
static int show(struct mbr_db *db, const struct mbr_member *m)
{
	static const struct mbr_col cols[] = { { "field", NULL, 0 }, { "value", NULL, 0 } };
	struct mbr_member_view v;
	struct mbr_out *out;
	enum mbr_format fmt = cli_format(&cli);
	int i, rc = 0;

	mbr_member_view(m, reveal, &v);
	if (fmt != MBR_FMT_TABLE) {
		out = mbr_out_new(stdout, fmt, cli.excel, mbr_member_view_cols, MBR_VIEW_COUNT);
		rc = mbr_out_row(out, v.val);
	} else {
		out = mbr_out_new(stdout, fmt, 0, cols, 2);
		for (i = 0; i < MBR_VIEW_COUNT && rc == 0; i++) {
			const char *kv[2] = { mbr_member_view_cols[i].name, v.val[i] };
			rc = mbr_out_row(out, kv);
		}
	}
	if (mbr_out_end(out) < 0 || rc < 0)
		return cli_db_error(&cli, db, MBR_EIO);
	return MBR_EXIT_OK;
}

/* Apply FIELD=VALUE arguments to m; a usage or data error exits. */
static void apply(struct mbr_db *db, struct mbr_member *m, int argc, char **argv, struct mbr_buf *what)
{
	struct mbr_buf why = MBR_BUF_INIT;
	int i;

	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		int f;

		if (!eq)
			cli_usage_error(&cli, "'%s' is not field=value", argv[i]);
		*eq = '\0';
		f = mbr_member_field_lookup(argv[i]);
		if (f < 0)
			cli_usage_error(&cli, "unknown field '%s' (member_no, name, phone, email, birthday, gender, tier, store, note)",
					argv[i]);
		if (mbr_member_set_field(db, m, (enum mbr_member_field)f, eq + 1, &why) < 0) {
			cli_warn(&cli, "%s: %s", argv[i], why.buf);
			mbr_db_close(db);
			exit(MBR_EXIT_DATA);
		}
		mbr_buf_addf(what, "%s%s", what->len ? "," : "", mbr_member_cols[f].name);
	}
	mbr_buf_release(&why);
}

/* Confirm an erasure on a terminal by typing the member's uid (main
 * refuses one without --yes when there is no terminal to ask on). */
static int confirmed(const struct mbr_member *m)
{
	struct mbr_buf line = MBR_BUF_INIT;
	struct mbr_buf prompt = MBR_BUF_INIT;
	int ok;

	if (yes || !cli_interactive())
		return 1;
	mbr_buf_addf(&prompt, "erase the personal data of %s for good? type %s to confirm: ", m->uid, m->uid);
	ok = cli_readline(prompt.buf, NULL, &line) && !strcmp(line.buf, m->uid);
	mbr_buf_release(&line);
	mbr_buf_release(&prompt);
	return ok;
}

static int change(struct mbr_db *db, const char *cmd, struct mbr_member *m, int argc, char **argv)
{
	struct mbr_buf what = MBR_BUF_INIT;
	int rc;

	if (!strcmp(cmd, "set")) {
		if (argc == 0)
			cli_usage_error(&cli, "set needs field=value arguments");
		if ((rc = mbr_member_may_change(db)) < 0)
			return cli_db_error(&cli, db, rc);
		apply(db, m, argc, argv, &what);
	} else if (!strcmp(cmd, "erase")) {
		cli_require(&cli, db, MBR_ROLE_ADMIN, "erasing a member");
		if (!confirmed(m)) {
			cli_warn(&cli, "not erased");
			return MBR_EXIT_REJECTED;
		}
	} else {
		cli_require(&cli, db, MBR_ROLE_MANAGER, "freezing a member");
	}
	if ((rc = mbr_begin(db)) < 0)
		return cli_db_error(&cli, db, rc);
	if (!strcmp(cmd, "set"))
		rc = mbr_member_update(db, m, what.buf);
	else if (!strcmp(cmd, "erase"))
		rc = mbr_member_erase(db, m->id);
	else
		rc = mbr_member_set_status(db, m->id, !strcmp(cmd, "freeze") ? "frozen" : "active");
	mbr_buf_release(&what);
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
	/* leave no copy of the erased data in the database files.  A
	 * reader's snapshot keeps the log from being copied back: the old
	 * pages stay in the database file, the new ones in the -wal */
	if (!strcmp(cmd, "erase") && mbr_member_erase_checkpoint(db, ERASE_CHECKPOINT_MS) < 0)
		cli_warn(&cli, "%s: erased, but a program reading the database kept its write-ahead log from being"
			 " cleared: a copy of the erased data stays in the database files (%s and %s-wal) until the"
			 " last program using the database ends", m->uid, cli.db_path, cli.db_path);
	else if (!cli.quiet)
		cli_warn(&cli, "%s: %s", m->uid, !strcmp(cmd, "set") ? "updated" : !strcmp(cmd, "erase") ? "erased"
					: !strcmp(cmd, "freeze") ? "frozen" : "active");
	return MBR_EXIT_OK;
}

static int add_uid(const struct mbr_member *m, void *p)
{
	struct mbr_buf *uids = p;

	mbr_buf_addf(uids, "%s%s", uids->len ? "," : "", m->uid);
	return 0;
}

/*
 * Audit a --reveal by the uids of the members it shows: the query itself
 * is often personal data (a phone, a name) and must not reach the log.
 */
static int audit_reveal(struct mbr_db *db, const char *cmd, const char *query)
{
	struct mbr_buf uids = MBR_BUF_INIT;
	struct mbr_member m;
	int rc;

	if (query && !strcmp(cmd, "find"))
		mbr_member_find(db, query, add_uid, &uids);
	else if (query && mbr_member_get(db, query, &m) == 0)
		add_uid(&m, &uids);
	rc = mbr_audit_outside_tx(db, "member.reveal", cmd, uids.buf);
	mbr_buf_release(&uids);
	return rc;
}

int main(int argc, char *argv[])
{
	struct mbr_db *db;
	struct mbr_member m;
	const char *cmd;
	int opt, rc, nargs;
	char **args;

	cli_init(&cli, "mbr-member", usage);
	while ((opt = getopt_long(argc, argv, shortopts, options, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_REVEAL: reveal = 1; break;
		case OPT_YES: yes = 1; break;
		default: cli_usage_error(&cli, NULL);
		}
	}
	cli_check_options(&cli, argc, argv, optind, shortopts, options);
	if (optind >= argc)
		cli_usage_error(&cli, "missing command");
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;

	if (!strcmp(cmd, "find") || !strcmp(cmd, "show")) {
		if (nargs != 1)
			cli_usage_error(&cli, "%s takes one argument", cmd);
		if (!strcmp(cmd, "find") && !*args[0])
			cli_usage_error(&cli, "find needs a non-empty query");
	} else if (!strcmp(cmd, "export")) {
		if (nargs != 0)
			cli_usage_error(&cli, "export takes no arguments");
	} else if (!strcmp(cmd, "set")) {
		if (nargs < 1)
			cli_usage_error(&cli, "set needs a member");
	} else if (!strcmp(cmd, "freeze") || !strcmp(cmd, "unfreeze") || !strcmp(cmd, "erase")) {
		if (nargs != 1)
			cli_usage_error(&cli, "%s takes one member", cmd);
		/* an irreversible change is not made on a redirected stdin's say-so */
		if (!strcmp(cmd, "erase") && !yes && !cli.dry_run && !cli_interactive())
			cli_usage_error(&cli, "erase needs --yes when not asked on a terminal");
	} else {
		cli_usage_error(&cli, "unknown command '%s'", cmd);
	}

	db = cli_open(&cli, !reveal && (!strcmp(cmd, "find") || !strcmp(cmd, "show") || !strcmp(cmd, "export"))
				    ? 0 : MBR_OPEN_RW);
	if (reveal) {
		/* Seeing personal data in clear is for admins, and leaves a trace. */
		cli_require(&cli, db, MBR_ROLE_ADMIN, "--reveal");
		if ((rc = audit_reveal(db, cmd, nargs ? args[0] : NULL)) < 0) {
			rc = cli_db_error(&cli, db, rc);
			mbr_db_close(db);
			return rc;
		}
	}
	if (!strcmp(cmd, "export"))
		cli_require(&cli, db, MBR_ROLE_MANAGER, "export");
	else
		cli_require(&cli, db, MBR_ROLE_CASHIER, cmd);

	if (!strcmp(cmd, "find")) {
		rc = list(db, args[0]);
	} else if (!strcmp(cmd, "export")) {
		rc = list(db, NULL);
	} else if ((rc = mbr_member_get(db, args[0], &m)) < 0) {
		rc = rc == MBR_ENOTFOUND ? (cli_warn(&cli, "%s", mbr_db_errmsg(db)), MBR_EXIT_DATA)
					 : cli_db_error(&cli, db, rc);
	} else if (!strcmp(cmd, "show")) {
		rc = show(db, &m);
	} else {
		rc = change(db, cmd, &m, nargs - 1, args + 1);
	}
	mbr_db_close(db);
	return cli_close_stdout(&cli, rc);
}
