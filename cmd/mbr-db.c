/*
 * mbr-db - create, check, back up, restore, migrate and vacuum an mbr database;
 * grant roles to operators; add stores; show and change settings; list
 * the audit log.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

static const char usage[] =
	"usage: mbr-db [-q] [-d file] [--operator name] init [--store code] [--role store|hq]\n"
	"              [--currency code] [--exponent n] [--time-zone zone]\n"
	"       mbr-db [-q] [-d file] [--operator name] check\n"
	"       mbr-db [-q] [-d file] [--operator name] backup file.gz\n"
	"       mbr-db [-nq] [-d file] [--operator name] restore file.gz\n"
	"       mbr-db [-nq] [-d file] [--operator name] migrate\n"
	"       mbr-db [-nq] [-d file] [--operator name] vacuum\n"
	"       mbr-db [-nq] [-d file] [--operator name] grant operator cashier|manager|admin\n"
	"       mbr-db [-nq] [-d file] [--operator name] revoke operator\n"
	"       mbr-db [-d file] [--operator name] [--format fmt] [--excel] operators\n"
	"       mbr-db [-d file] [--operator name] [--format fmt] [--excel] stores\n"
	"       mbr-db [-nq] [-d file] [--operator name] store-add code [name]\n"
	"       mbr-db [-nq] [-d file] [--operator name] config [key [value]]\n"
	"       mbr-db [-d file] [--operator name] [--format fmt] [--excel] audit\n";

enum { OPT_STORE = CLI_OPT_NEXT, OPT_ROLE, OPT_CURRENCY, OPT_EXPONENT, OPT_TZ };

static const char shortopts[] = "d:hnq";

static const struct option options[] = {
	{ "currency", required_argument, NULL, OPT_CURRENCY },
	{ "dry-run", no_argument, NULL, CLI_OPT_DRY_RUN },
	{ "excel", no_argument, NULL, CLI_OPT_EXCEL },
	{ "exponent", required_argument, NULL, OPT_EXPONENT },
	{ "format", required_argument, NULL, CLI_OPT_FORMAT },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ "operator", required_argument, NULL, CLI_OPT_OPERATOR },
	{ "quiet", no_argument, NULL, 'q' },
	{ "role", required_argument, NULL, OPT_ROLE },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "time-zone", required_argument, NULL, OPT_TZ },
	{ "version", no_argument, NULL, CLI_OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static struct mbr_cli cli;

static void need_args(int have, int min, int max)
{
	if (have < min)
		cli_usage_error(&cli, "missing argument");
	if (have > max)
		cli_usage_error(&cli, "too many arguments");
}

static int cmd_init(const struct mbr_init_opts *o)
{
	struct mbr_buf err = MBR_BUF_INIT;
	int rc;

	if (!cli.db_path || !*cli.db_path)
		cli_usage_error(&cli, "no database: use -d FILE or set MBR_DB");
	if (cli.operator && *cli.operator)
		setenv("MBR_OPERATOR", cli.operator, 1);
	rc = mbr_db_init(cli.db_path, o, &err);
	if (rc < 0) {
		cli_warn(&cli, "%s", err.buf);
		mbr_buf_release(&err);
		return mbr_exit_status(rc);
	}
	mbr_buf_release(&err);
	if (!cli.quiet)
		cli_warn(&cli, "created %s (store %s, %s)", cli.db_path, o->store ? o->store : "S01",
			 o->role ? o->role : "store");
	return MBR_EXIT_OK;
}

static void print_problem(const char *problem, void *ctx)
{
	(void)ctx;
	printf("%s\n", problem);
}

static int cmd_check(struct mbr_db *db)
{
	int rc;

	cli_require(&cli, db, MBR_ROLE_CASHIER, "check");
	rc = mbr_db_check(db, print_problem, NULL);
	if (rc == MBR_EINVAL) {
		cli_warn(&cli, "%s: %s", cli.db_path, mbr_db_errmsg(db));
		return MBR_EXIT_REJECTED;
	}
	if (rc < 0)
		return cli_db_error(&cli, db, rc);
	if (!cli.quiet)
		cli_warn(&cli, "%s: ok", cli.db_path);
	return MBR_EXIT_OK;
}

struct out_ctx {
	struct mbr_out *out;
};

static int print_operator(const char *name, enum mbr_role r, void *p)
{
	struct out_ctx *o = p;
	const char *v[2] = { name, mbr_role_name(r) };

	return mbr_out_row(o->out, v);
}

static int print_store(const char *code, const char *name, void *p)
{
	struct out_ctx *o = p;
	const char *v[2] = { code, name };

	return mbr_out_row(o->out, v);
}

static int list(struct mbr_db *db, int stores)
{
	static const struct mbr_col ops[] = { { "operator", NULL, 0 }, { "role", NULL, 0 } };
	static const struct mbr_col sts[] = { { "store", NULL, 0 }, { "name", NULL, 0 } };
	struct out_ctx o;
	int rc;

	cli_require(&cli, db, MBR_ROLE_CASHIER, stores ? "listing stores" : "listing operators");
	o.out = mbr_out_new(stdout, cli_format(&cli), cli.excel, stores ? sts : ops, 2);
	rc = stores ? mbr_stores_each(db, print_store, &o) : mbr_operators_each(db, print_operator, &o);
	if (mbr_out_end(o.out) < 0 && rc == 0)
		rc = MBR_EIO;
	return rc < 0 ? cli_db_error(&cli, db, rc) : MBR_EXIT_OK;
}

/*
 * End a change begun with mbr_begin: commit it, or under -n roll it back
 * (with its audit entry) and say on stderr what it would have done.
 */
static int change_done(struct mbr_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int change_done(struct mbr_db *db, const char *fmt, ...)
{
	struct mbr_buf what = MBR_BUF_INIT;
	va_list ap;
	int rc;

	if (!cli.dry_run)
		return (rc = mbr_commit(db)) < 0 ? cli_db_error(&cli, db, rc) : MBR_EXIT_OK;
	mbr_rollback(db);
	if (!cli.quiet) {
		va_start(ap, fmt);
		mbr_buf_vaddf(&what, fmt, ap);
		va_end(ap);
		cli_warn(&cli, "would %s", what.buf);
		cli_warn(&cli, "dry run, nothing written");
	}
	mbr_buf_release(&what);
	return MBR_EXIT_OK;
}

/* grant, or revoke when role is NULL: an admin-only change. */
static int grant(struct mbr_db *db, const char *name, const char *role)
{
	enum mbr_role r = MBR_ROLE_NONE;
	int rc;

	if (role && (mbr_role_parse(role, &r) < 0 || r == MBR_ROLE_NONE))
		return cli_warn(&cli, "role '%s' must be cashier, manager or admin", role), MBR_EXIT_DATA;
	cli_require(&cli, db, MBR_ROLE_ADMIN, role ? "grant" : "revoke");
	if (!role && !strcmp(name, mbr_operator(db)))
		return cli_warn(&cli, "refusing to revoke your own role"), MBR_EXIT_DATA;
	if ((rc = mbr_begin(db)) < 0)
		return cli_db_error(&cli, db, rc);
	if ((rc = mbr_grant(db, name, r)) < 0) {
		mbr_rollback(db);
		return cli_db_error(&cli, db, rc);
	}
	if (role)
		return change_done(db, "grant '%s' the role %s", name, mbr_role_name(r));
	return change_done(db, "revoke the role of '%s'", name);
}

static int store_add(struct mbr_db *db, const char *code, const char *name)
{
	int rc;

	cli_require(&cli, db, MBR_ROLE_ADMIN, "adding a store");
	if ((rc = mbr_begin(db)) < 0)
		return cli_db_error(&cli, db, rc);
	if ((rc = mbr_store_add(db, code, name)) < 0) {
		mbr_rollback(db);
		return cli_db_error(&cli, db, rc);
	}
	if (*name)
		return change_done(db, "add store %s '%s'", code, name);
	return change_done(db, "add store %s", code);
}

static int config(struct mbr_db *db, int argc, char **argv)
{
	static const char *const keys[] = { "store_code", "store_role", "currency", "currency_exp", "time_zone", NULL };
	char v[256];
	int rc, i;

	if (argc == 2) {
		cli_require(&cli, db, MBR_ROLE_ADMIN, "changing a setting");
		if ((rc = mbr_begin(db)) < 0)
			return cli_db_error(&cli, db, rc);
		if ((rc = mbr_setting_set(db, argv[0], argv[1])) < 0) {
			mbr_rollback(db);
			return cli_db_error(&cli, db, rc);
		}
		return change_done(db, "set %s to '%s'", argv[0], argv[1]);
	}
	cli_require(&cli, db, MBR_ROLE_CASHIER, "reading settings");
	if (argc == 1) {
		if ((rc = mbr_setting_get(db, argv[0], v, sizeof(v))) < 0)
			return cli_db_error(&cli, db, rc);
		printf("%s\n", v);
		return MBR_EXIT_OK;
	}
	for (i = 0; keys[i]; i++)
		if (mbr_setting_get(db, keys[i], v, sizeof(v)) == 0)
			printf("%s=%s\n", keys[i], v);
	return MBR_EXIT_OK;
}

static int print_audit(const struct mbr_audit_entry *e, void *p)
{
	struct out_ctx *o = p;
	char when[MBR_TIME_BUFSZ], id[24];
	const char *v[7];

	snprintf(id, sizeof(id), "%lld", (long long)e->id);
	mbr_time_format(e->ts, when);
	v[0] = id;
	v[1] = when;
	v[2] = e->operator;
	v[3] = e->program;
	v[4] = e->action;
	v[5] = e->target;
	v[6] = e->detail;
	return mbr_out_row(o->out, v);
}

static int audit_list(struct mbr_db *db)
{
	static const struct mbr_col cols[] = {
		{ "id", NULL, MBR_COL_NUMBER }, { "time", NULL, 0 }, { "operator", NULL, 0 },
		{ "program", NULL, 0 }, { "action", NULL, 0 }, { "target", NULL, 0 }, { "detail", NULL, 0 },
	};
	struct out_ctx o;
	int rc;

	cli_require(&cli, db, MBR_ROLE_MANAGER, "reading the audit log");
	o.out = mbr_out_new(stdout, cli_format(&cli), cli.excel, cols, 7);
	rc = mbr_audit_each(db, print_audit, &o);
	if (mbr_out_end(o.out) < 0 && rc == 0)
		rc = MBR_EIO;
	return rc < 0 ? cli_db_error(&cli, db, rc) : MBR_EXIT_OK;
}

/*
 * restore file.gz, or - for standard input; under -n the backup is
 * checked in full (mbr_db_restore_check) and nothing is replaced.
 */
static int restore(const char *gz)
{
	const char *from = strcmp(gz, "-") ? gz : "standard input";
	struct mbr_buf err = MBR_BUF_INIT;
	struct stat st;
	int rc;

	if (!cli.db_path || !*cli.db_path)
		cli_usage_error(&cli, "no database: use -d FILE or set MBR_DB");
	if (!strcmp(gz, "-") && isatty(0))
		cli_usage_error(&cli, "refusing to read a backup from a terminal");
	if (stat(cli.db_path, &st) == 0) {
		/* Replacing a database is for its admins. */
		struct mbr_db *db = cli_open(&cli, MBR_OPEN_RW | MBR_OPEN_MIGRATE);
		cli_require(&cli, db, MBR_ROLE_ADMIN, "restore");
		mbr_db_close(db);
	}
	rc = cli.dry_run ? mbr_db_restore_check(cli.db_path, gz, &err) : mbr_db_restore(cli.db_path, gz, &err);
	if (rc < 0) {
		cli_warn(&cli, "%s", err.buf);
		mbr_buf_release(&err);
		return mbr_exit_status(rc);
	}
	mbr_buf_release(&err);
	if (cli.dry_run) {
		if (!cli.quiet) {
			cli_warn(&cli, "would restore %s from %s", cli.db_path, from);
			cli_warn(&cli, "dry run, nothing written");
		}
		return MBR_EXIT_OK;
	}
	{
		struct mbr_db *db = cli_open(&cli, MBR_OPEN_RW | MBR_OPEN_MIGRATE);
		rc = mbr_audit_outside_tx(db, "db.restore", gz, "");
		if (rc < 0)
			rc = cli_db_error(&cli, db, rc);
		mbr_db_close(db);
		if (rc)
			return rc;
	}
	if (!cli.quiet)
		cli_warn(&cli, "restored %s from %s", cli.db_path, from);
	return MBR_EXIT_OK;
}

/* migrate; under -n only say from which schema version to which. */
static int migrate(struct mbr_db *db)
{
	int from, to, rc;

	cli_require(&cli, db, MBR_ROLE_ADMIN, "migrate");
	if (cli.dry_run) {
		if ((from = mbr_db_version(db)) < 0)
			return cli_db_error(&cli, db, MBR_EDB);
		to = mbr_db_latest_version();
		if (!cli.quiet) {
			if (from == to)
				cli_warn(&cli, "schema version %d, up to date", from);
			else
				cli_warn(&cli, "would migrate schema version %d -> %d", from, to);
			cli_warn(&cli, "dry run, nothing written");
		}
		return MBR_EXIT_OK;
	}
	if ((rc = mbr_db_migrate(db, &from, &to)) < 0)
		return cli_db_error(&cli, db, rc);
	if (!cli.quiet)
		cli_warn(&cli, from == to ? "schema version %d, up to date" : "schema version %d -> %d", from, to);
	return MBR_EXIT_OK;
}

/* vacuum; under -n only say what it would do. */
static int vacuum(struct mbr_db *db)
{
	struct mbr_db_pages b, a;
	int rc, want = mbr_db_page_size_wanted();

	cli_require(&cli, db, MBR_ROLE_ADMIN, "vacuum");
	if (cli.dry_run) {
		if ((rc = mbr_db_pages(db, &b)) < 0)
			return cli_db_error(&cli, db, rc);
		if (!cli.quiet) {
			char change[48] = "";

			if (b.page_size != want)
				snprintf(change, sizeof(change), "; pages would become %d bytes", want);
			cli_warn(&cli, "would vacuum %s: %lld pages of %d bytes, %lld of them free%s", cli.db_path,
				 b.pages, b.page_size, b.free_pages, change);
			cli_warn(&cli, "dry run, nothing written");
		}
		return MBR_EXIT_OK;
	}
	if ((rc = mbr_db_vacuum(db, &b, &a)) < 0)
		return cli_db_error(&cli, db, rc);
	if (!cli.quiet)
		cli_warn(&cli, "vacuumed %s: %lld -> %lld bytes (%lld free pages given back), page size %d -> %d",
			 cli.db_path, b.pages * b.page_size, a.pages * a.page_size, b.free_pages, b.page_size,
			 a.page_size);
	return MBR_EXIT_OK;
}

/* --exponent n: a bad number is bad data, as an out-of-range one is. */
static int exponent(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (!*s || *end || errno || n < 0 || n > 6) {
		cli_warn(&cli, "currency exponent '%s' must be 0-6", s);
		exit(MBR_EXIT_DATA);
	}
	return (int)n;
}

int main(int argc, char *argv[])
{
	struct mbr_init_opts init = { NULL, NULL, NULL, -1, NULL, NULL };
	struct mbr_db *db;
	const char *cmd;
	int opt, rc, nargs;
	char **args;

	cli_init(&cli, "mbr-db", usage);
	while ((opt = getopt_long(argc, argv, shortopts, options, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_STORE: init.store = optarg; break;
		case OPT_ROLE: init.role = optarg; break;
		case OPT_CURRENCY: init.currency = optarg; break;
		case OPT_EXPONENT: init.exponent = exponent(optarg); break;
		case OPT_TZ: init.time_zone = optarg; break;
		default: cli_usage_error(&cli, NULL);
		}
	}
	cli_check_options(&cli, argc, argv, optind, shortopts, options);
	if (optind >= argc)
		cli_usage_error(&cli, "missing command");
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;

	if (!strcmp(cmd, "init")) {
		need_args(nargs, 0, 0);
		return cli_close_stdout(&cli, cmd_init(&init));
	}
	if (!strcmp(cmd, "restore")) {
		need_args(nargs, 1, 1);
		return cli_close_stdout(&cli, restore(args[0]));
	}
	if (!strcmp(cmd, "migrate")) {
		need_args(nargs, 0, 0);
		db = cli_open(&cli, MBR_OPEN_RW | MBR_OPEN_MIGRATE);
		rc = migrate(db);
		mbr_db_close(db);
		return cli_close_stdout(&cli, rc);
	}

	if (!strcmp(cmd, "vacuum")) {
		need_args(nargs, 0, 0);
		db = cli_open(&cli, MBR_OPEN_RW);
		rc = vacuum(db);
		mbr_db_close(db);
		return cli_close_stdout(&cli, rc);
	}

	db = NULL;
	if (!strcmp(cmd, "check")) {
		need_args(nargs, 0, 0);
		db = cli_open(&cli, 0);
		rc = cmd_check(db);
	} else if (!strcmp(cmd, "backup")) {
		int to_stdout;

		need_args(nargs, 1, 1);
		to_stdout = !strcmp(args[0], "-");
		if (to_stdout && isatty(1))
			cli_usage_error(&cli, "refusing to write a backup to a terminal");
		db = cli_open(&cli, MBR_OPEN_RW);
		cli_require(&cli, db, MBR_ROLE_MANAGER, "backup");
		rc = mbr_db_backup(db, args[0]);
		rc = rc < 0 ? cli_db_error(&cli, db, rc) : MBR_EXIT_OK;
		if (rc == 0 && !cli.quiet)
			cli_warn(&cli, "backed up %s to %s", cli.db_path, to_stdout ? "standard output" : args[0]);
	} else if (!strcmp(cmd, "grant") || !strcmp(cmd, "revoke")) {
		int g = !strcmp(cmd, "grant");

		need_args(nargs, g ? 2 : 1, g ? 2 : 1);
		db = cli_open(&cli, MBR_OPEN_RW);
		rc = grant(db, args[0], g ? args[1] : NULL);
	} else if (!strcmp(cmd, "operators") || !strcmp(cmd, "stores")) {
		need_args(nargs, 0, 0);
		db = cli_open(&cli, 0);
		rc = list(db, cmd[0] == 's');
	} else if (!strcmp(cmd, "store-add")) {
		need_args(nargs, 1, 2);
		db = cli_open(&cli, MBR_OPEN_RW);
		rc = store_add(db, args[0], nargs > 1 ? args[1] : "");
	} else if (!strcmp(cmd, "config")) {
		need_args(nargs, 0, 2);
		db = cli_open(&cli, nargs == 2 ? MBR_OPEN_RW : 0);
		rc = config(db, nargs, args);
	} else if (!strcmp(cmd, "audit")) {
		need_args(nargs, 0, 0);
		db = cli_open(&cli, 0);
		rc = audit_list(db);
	} else {
		cli_usage_error(&cli, "unknown command '%s'", cmd);
	}
	mbr_db_close(db);
	return cli_close_stdout(&cli, rc);
}
