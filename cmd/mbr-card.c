/*
 * mbr-card - prepaid value: members' stored value (top-up, balance,
 * history, payout of unspent principal, adjust, freeze), gift cards, and
 * count cards.  The rules are stated in lib/card.c and mbr-card(1).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

static const char usage[] =
	"usage: mbr-card [-nq] [-d file] [--operator name] [--payment method] [--store code] topup account amount\n"
	"       mbr-card [-d file] [--operator name] [--format fmt] balance account\n"
	"       mbr-card [-d file] [--operator name] [--format fmt] [--excel] history account\n"
	"       mbr-card [-nq] [-d file] [--operator name] [--payment method] [--topup id] payout account\n"
	"       mbr-card [-nq] [-d file] [--operator name] --reason text adjust account principal [bonus]\n"
	"       mbr-card [-nq] [-d file] [--operator name] freeze | unfreeze account\n"
	"       mbr-card [-nq] [-d file] [--operator name] [--expires date] gift-create n amount\n"
	"       mbr-card [-nq] [-d file] [--operator name] [--payment method] [--store code] [--expires date]\n"
	"                count-sell member sku uses price\n"
	"       mbr-card [-d file] [--operator name] [--format fmt] count-list member\n"
	"       mbr-card [-nq] [-d file] [--operator name] [--payment method] count-refund card\n";

enum { OPT_PAYMENT = CLI_OPT_NEXT, OPT_STORE, OPT_TOPUP, OPT_REASON, OPT_EXPIRES };

static const char shortopts[] = "d:hnq";

static const struct option options[] = {
	{ "dry-run", no_argument, NULL, CLI_OPT_DRY_RUN },
	{ "excel", no_argument, NULL, CLI_OPT_EXCEL },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "format", required_argument, NULL, CLI_OPT_FORMAT },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ "operator", required_argument, NULL, CLI_OPT_OPERATOR },
	{ "payment", required_argument, NULL, OPT_PAYMENT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "topup", required_argument, NULL, OPT_TOPUP },
	{ "version", no_argument, NULL, CLI_OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static struct mbr_cli cli;
static const char *payment = "cash", *store, *topup, *reason, *expires;
static struct mbr_db *db;
static char gift_code[MBR_CODE_SZ];

static void fail_exit(int rc)
{
	int status = rc == MBR_ENOTFOUND ? (cli_warn(&cli, "%s", mbr_db_errmsg(db)), MBR_EXIT_DATA)
					 : cli_db_error(&cli, db, rc);

	mbr_rollback(db);
	mbr_db_close(db);
	exit(status);
}

static void begin(void)
{
	int rc = mbr_begin(db);

	if (rc < 0)
		fail_exit(rc);
}

/* Commit, or roll back for --dry-run. */
static void done(void)
{
	int rc;

	if (cli.dry_run) {
		mbr_rollback(db);
		if (!cli.quiet)
			cli_warn(&cli, "dry run, nothing written");
		return;
	}
	if ((rc = mbr_commit(db)) < 0)
		fail_exit(rc);
}

static int64_t money(const char *what, const char *s, int allow_negative)
{
	int64_t v;

	s = cli_operand(s);
	if (mbr_money_parse(s, mbr_db_exponent(db), &v) < 0 || (!allow_negative && v < 0))
		cli_usage_error(&cli, "%s '%s' is not an amount", what, s);
	return v;
}

/* An account: a member (member_no, phone or uid), else a gift card code. */
static void account(const char *key, struct mbr_sv_account *a, struct mbr_member *m)
{
	struct mbr_gift g;
	int rc;

	memset(a, 0, sizeof(*a));
	rc = mbr_member_get_brief(db, key, m);
	if (rc == 0) {
		a->member = m->id;
		return;
	}
	if (rc != MBR_ENOTFOUND)
		fail_exit(rc);
	if ((rc = mbr_gift_get(db, key, &g)) < 0) {
		/* a code that fails its check character says so */
		if (rc == MBR_ENOTFOUND && strncmp(mbr_db_errmsg(db), "mistyped", 8))
			mbr_db_fail(db, MBR_ENOTFOUND, "no member or gift card '%s'", key);
		fail_exit(rc);
	}
	mbr_copy(gift_code, sizeof(gift_code), g.code);
	a->gift = gift_code;
	memset(m, 0, sizeof(*m));
}

/*
 * An account's balance, read inside the command's transaction so that a
 * --dry-run shows the balance the change would leave, printed after it.
 */
static void get_balance(const struct mbr_sv_account *a, struct mbr_sv *b)
{
	int rc;

	if ((rc = mbr_sv_balance(db, a, b)) < 0)
		fail_exit(rc);
}

static void print_balance(const struct mbr_sv_account *a, const struct mbr_member *m, const struct mbr_sv *b)
{
	static const struct mbr_col cols[] = {
		{ "account", NULL, 0 }, { "principal", NULL, MBR_COL_NUMBER }, { "bonus", NULL, MBR_COL_NUMBER },
		{ "total", NULL, MBR_COL_NUMBER },
	};
	struct mbr_out *out;
	char p[MBR_MONEY_BUFSZ], bo[MBR_MONEY_BUFSZ], t[MBR_MONEY_BUFSZ];
	const char *v[4];

	v[0] = a->gift ? a->gift : m->uid;
	v[1] = mbr_money_format(b->principal, mbr_db_exponent(db), p);
	v[2] = mbr_money_format(b->bonus, mbr_db_exponent(db), bo);
	v[3] = mbr_money_format(b->principal + b->bonus, mbr_db_exponent(db), t);
	out = mbr_out_new(stdout, cli_format(&cli), cli.excel, cols, 4);
	mbr_out_row(out, v);
	if (mbr_out_end(out) < 0)
		fail_exit(MBR_EIO);
}

static int print_line(const struct mbr_sv_line *l, void *p)
{
	char when[MBR_TIME_BUFSZ], a[MBR_MONEY_BUFSZ], b[MBR_MONEY_BUFSZ], c[MBR_MONEY_BUFSZ], d[MBR_MONEY_BUFSZ];
	char id[24];
	const char *v[10];
	int exp = mbr_db_exponent(db);

	snprintf(id, sizeof(id), "%lld", (long long)l->id);
	v[0] = id;
	v[1] = mbr_time_format(l->ts, when);
	v[2] = l->kind;
	v[3] = mbr_money_format(l->principal, exp, a);
	v[4] = mbr_money_format(l->bonus, exp, b);
	v[5] = mbr_money_format(l->balance_principal, exp, c);
	v[6] = mbr_money_format(l->balance_bonus, exp, d);
	v[7] = l->method;
	v[8] = l->store;
	v[9] = l->ref[0] ? l->ref : l->reason;
	return mbr_out_row(p, v);
}

static const struct mbr_col count_cols[] = {
	{ "card", NULL, 0 }, { "sku", NULL, 0 }, { "uses", NULL, MBR_COL_NUMBER },
	{ "uses_left", NULL, MBR_COL_NUMBER }, { "price", NULL, MBR_COL_NUMBER }, { "expires", NULL, 0 },
	{ "state", NULL, 0 }, { "store", NULL, 0 },
};

static int print_count(const struct mbr_count_card *c, void *p)
{
	char u[24], l[24], pr[MBR_MONEY_BUFSZ], ex[MBR_TIME_BUFSZ];
	const char *v[8];

	snprintf(u, sizeof(u), "%lld", (long long)c->uses);
	snprintf(l, sizeof(l), "%lld", (long long)c->uses_left);
	v[0] = c->uid;
	v[1] = c->sku;
	v[2] = u;
	v[3] = l;
	v[4] = mbr_money_format(c->price, mbr_db_exponent(db), pr);
	v[5] = c->expires_at ? mbr_date_format(c->expires_at - 1, ex) : "";
	v[6] = c->state;
	v[7] = c->store;
	return mbr_out_row(p, v);
}

static int print_code(const char *code, void *p)
{
	const char *v[1] = { code };

	return mbr_out_row(p, v);
}

int main(int argc, char *argv[])
{
	struct mbr_sv_account a;
	struct mbr_member m;
	struct mbr_sv s, b;
	const char *cmd;
	char **args, x[MBR_MONEY_BUFSZ], y[MBR_MONEY_BUFSZ];
	int opt, nargs, rc, exp;

	cli_init(&cli, "mbr-card", usage);
	cli_hide_negatives(argc, argv);
	while ((opt = getopt_long(argc, argv, shortopts, options, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_PAYMENT: payment = optarg; break;
		case OPT_STORE: store = optarg; break;
		case OPT_TOPUP: topup = optarg; break;
		case OPT_REASON: reason = optarg; break;
		case OPT_EXPIRES: expires = optarg; break;
		default: cli_usage_error(&cli, NULL);
		}
	}
	cli_check_options(&cli, argc, argv, optind, shortopts, options);
	if (optind >= argc)
		cli_usage_error(&cli, "missing command");
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;
#define ARGS(lo, hi) do { if (nargs < (lo) || nargs > (hi)) cli_usage_error(&cli, "wrong number of arguments for %s", cmd); } while (0)

	if (!strcmp(cmd, "balance") || !strcmp(cmd, "history") || !strcmp(cmd, "count-list")) {
		ARGS(1, 1);
		db = cli_open(&cli, 0);
		cli_require(&cli, db, MBR_ROLE_CASHIER, cmd);
		if (!strcmp(cmd, "count-list")) {
			struct mbr_out *out = mbr_out_new(stdout, cli_format(&cli), cli.excel, count_cols, 8);

			if ((rc = mbr_member_get_brief(db, args[0], &m)) < 0)
				fail_exit(rc);
			rc = mbr_count_each(db, m.id, print_count, out);
			if (mbr_out_end(out) < 0 && rc == 0)
				rc = MBR_EIO;
			if (rc < 0)
				fail_exit(rc);
		} else if (!strcmp(cmd, "balance")) {
			account(args[0], &a, &m);
			get_balance(&a, &s);
			print_balance(&a, &m, &s);
		} else {
			static const struct mbr_col cols[] = {
				{ "entry", NULL, MBR_COL_NUMBER }, { "time", NULL, 0 }, { "kind", NULL, 0 },
				{ "principal", NULL, MBR_COL_NUMBER }, { "bonus", NULL, MBR_COL_NUMBER },
				{ "balance_principal", NULL, MBR_COL_NUMBER }, { "balance_bonus", NULL, MBR_COL_NUMBER },
				{ "method", NULL, 0 }, { "store", NULL, 0 }, { "ref", NULL, 0 },
			};
			struct mbr_out *out;

			account(args[0], &a, &m);
			out = mbr_out_new(stdout, cli_format(&cli), cli.excel, cols, 10);
			rc = mbr_sv_history(db, &a, print_line, out);
			if (mbr_out_end(out) < 0 && rc == 0)
				rc = MBR_EIO;
			if (rc < 0)
				fail_exit(rc);
		}
		mbr_db_close(db);
		return cli_close_stdout(&cli, MBR_EXIT_OK);
	}

	db = cli_open(&cli, MBR_OPEN_RW);
	exp = mbr_db_exponent(db);
	if (!strcmp(cmd, "topup")) {
		int64_t amount;

		ARGS(2, 2);
		amount = money("amount", args[1], 0);
		cli_require(&cli, db, MBR_ROLE_CASHIER, "a top-up");
		begin();
		account(args[0], &a, &m);
		if ((rc = mbr_sv_topup(db, &a, amount, payment, store, &s)) < 0)
			fail_exit(rc);
		get_balance(&a, &b);
		done();
		if (!cli.quiet)
			cli_warn(&cli, "%s: topped up %s, bonus %s", args[0], mbr_money_format(s.principal, exp, x),
				 mbr_money_format(s.bonus, exp, y));
		print_balance(&a, &m, &b);
	} else if (!strcmp(cmd, "payout")) {
		int64_t id = 0;

		ARGS(1, 1);
		if (topup) {
			char *end;
			id = strtoll(topup, &end, 10);
			if (*end || id <= 0)
				cli_usage_error(&cli, "--topup '%s' is not a ledger entry number", topup);
		}
		cli_require(&cli, db, MBR_ROLE_CASHIER, "a payout");
		begin();
		account(args[0], &a, &m);
		if ((rc = mbr_sv_payout(db, &a, id, payment, &s)) < 0)
			fail_exit(rc);
		done();
		printf("%s,%s\n", mbr_money_format(s.principal, exp, x), mbr_money_format(s.bonus, exp, y));
		if (!cli.quiet)
			cli_warn(&cli, "%s: %s of principal paid back by %s, %s of bonus forfeited", args[0], x, payment, y);
	} else if (!strcmp(cmd, "adjust")) {
		ARGS(2, 3);
		if (!reason || !*reason)
			cli_usage_error(&cli, "adjust needs --reason");
		cli_require(&cli, db, MBR_ROLE_MANAGER, "adjusting stored value");
		begin();
		account(args[0], &a, &m);
		rc = mbr_sv_adjust(db, &a, money("principal", args[1], 1), nargs > 2 ? money("bonus", args[2], 1) : 0,
				   reason);
		if (rc < 0)
			fail_exit(rc);
		get_balance(&a, &b);
		done();
		print_balance(&a, &m, &b);
	} else if (!strcmp(cmd, "freeze") || !strcmp(cmd, "unfreeze")) {
		ARGS(1, 1);
		cli_require(&cli, db, MBR_ROLE_MANAGER, "freezing stored value");
		begin();
		account(args[0], &a, &m);
		if ((rc = mbr_sv_freeze(db, &a, cmd[0] == 'f')) < 0)
			fail_exit(rc);
		done();
	} else if (!strcmp(cmd, "gift-create")) {
		static const struct mbr_col cols[] = { { "code", NULL, 0 } };
		struct mbr_out *out;
		int64_t batch;
		char *end;
		long n;

		ARGS(2, 2);
		n = strtol(args[0], &end, 10);
		if (*end || n <= 0 || n > 1000000)
			cli_usage_error(&cli, "'%s' is not a number of cards (1-1000000)", args[0]);
		cli_require(&cli, db, MBR_ROLE_MANAGER, "creating gift cards");
		begin();
		if ((rc = mbr_batch_start(db, "gift cards", "", &batch)) < 0)
			fail_exit(rc);
		out = mbr_out_new(stdout, cli.format == MBR_FMT_AUTO ? MBR_FMT_CSV : cli.format, cli.excel, cols, 1);
		rc = mbr_gift_create(db, n, money("amount", args[1], 0),
				     expires ? cli_date(&cli, "--expires", expires, 1) : 0, batch, print_code, out);
		if (rc == 0)
			rc = mbr_batch_finish(db, batch, n, 0, 0);
		if (mbr_out_end(out) < 0 && rc == 0)
			rc = MBR_EIO;
		if (rc < 0)
			fail_exit(rc);
		done();
	} else if (!strcmp(cmd, "count-sell")) {
		char uid[40], *end;
		int64_t uses;

		ARGS(4, 4);
		uses = strtoll(args[2], &end, 10);
		if (*end || uses <= 0)
			cli_usage_error(&cli, "'%s' is not a number of uses", args[2]);
		cli_require(&cli, db, MBR_ROLE_CASHIER, "selling a count card");
		begin();
		if ((rc = mbr_member_get_brief(db, args[0], &m)) < 0)
			fail_exit(rc);
		rc = mbr_count_sell(db, &m, args[1], uses, money("price", args[3], 0),
				    expires ? cli_date(&cli, "--expires", expires, 1) : 0, store, payment, uid);
		if (rc < 0)
			fail_exit(rc);
		done();
		printf("%s\n", uid);
	} else if (!strcmp(cmd, "count-refund")) {
		int64_t back;

		ARGS(1, 1);
		cli_require(&cli, db, MBR_ROLE_CASHIER, "refunding a count card");
		begin();
		if ((rc = mbr_count_refund(db, args[0], &payment, &back)) < 0)
			fail_exit(rc);
		done();
		printf("%s\n", mbr_money_format(back, exp, x));
		if (!cli.quiet && !cli.dry_run)
			cli_warn(&cli, "%s: %s paid back by %s", args[0], x, payment);
	} else {
		cli_usage_error(&cli, "unknown command '%s'", cmd);
	}
	mbr_db_close(db);
	return cli_close_stdout(&cli, MBR_EXIT_OK);
}
