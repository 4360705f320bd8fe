/*
 * mbr-coupon - coupon campaigns: create, list, show, edit, close; codes:
 * generate, load, issue (to members read from a pipe), buy with points;
 * check, redeem, void, expire; the per-campaign summary.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

static const char usage[] =
	"usage: mbr-coupon [-nq] [-d file] [--operator name] --type amount|percent|threshold|gift --value value\n"
	"                  [--cap amount] [--min-spend amount] [--from date] [--to date] [--limit n]\n"
	"                  [--per-member n] [--points-cost points] [--stores list] [--categories list]\n"
	"                  [--stack none|tier|all] create | edit campaign\n"
	"       mbr-coupon [-d file] [--operator name] [--format fmt] [--excel] list | summary\n"
	"       mbr-coupon [-d file] [--operator name] [--format fmt] show campaign\n"
	"       mbr-coupon [-nq] [-d file] [--operator name] close campaign\n"
	"       mbr-coupon [-nq] [-d file] [--operator name] generate campaign n\n"
	"       mbr-coupon [-nq] [-d file] [--operator name] [--encoding enc] load campaign [file | -]\n"
	"       mbr-coupon [-nq] [-d file] [--operator name] [--encoding enc] [--skip-bad] [--rejects file]\n"
	"                  [--member member] [--skip-held] issue campaign [file | -]\n"
	"       mbr-coupon [-nq] [-d file] [--operator name] --member member buy campaign\n"
	"       mbr-coupon [-d file] [--operator name] [--member member] [--store code] [--amount amount]\n"
	"                  check code\n"
	"       mbr-coupon [-nq] [-d file] [--operator name] [--member member] [--store code] [--receipt no]\n"
	"                  --amount amount redeem code\n"
	"       mbr-coupon [-nq] [-d file] [--operator name] void code\n"
	"       mbr-coupon [-nq] [-d file] [--operator name] [--as-of date] expire\n";

enum {
	OPT_TYPE = CLI_OPT_NEXT, OPT_VALUE, OPT_CAP, OPT_MIN_SPEND, OPT_FROM, OPT_TO, OPT_LIMIT, OPT_PER_MEMBER,
	OPT_POINTS_COST, OPT_STORES, OPT_CATEGORIES, OPT_STACK, OPT_MEMBER, OPT_STORE, OPT_AMOUNT, OPT_RECEIPT,
	OPT_AS_OF, OPT_SKIP_HELD,
};

static const char shortopts[] = "d:hnq";

static const struct option options[] = {
	{ "amount", required_argument, NULL, OPT_AMOUNT },
	{ "as-of", required_argument, NULL, OPT_AS_OF },
	{ "cap", required_argument, NULL, OPT_CAP },
	{ "categories", required_argument, NULL, OPT_CATEGORIES },
	{ "dry-run", no_argument, NULL, CLI_OPT_DRY_RUN },
	{ "encoding", required_argument, NULL, CLI_OPT_ENCODING },
	{ "excel", no_argument, NULL, CLI_OPT_EXCEL },
	{ "format", required_argument, NULL, CLI_OPT_FORMAT },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "member", required_argument, NULL, OPT_MEMBER },
	{ "min-spend", required_argument, NULL, OPT_MIN_SPEND },
	{ "operator", required_argument, NULL, CLI_OPT_OPERATOR },
	{ "per-member", required_argument, NULL, OPT_PER_MEMBER },
	{ "points-cost", required_argument, NULL, OPT_POINTS_COST },
	{ "quiet", no_argument, NULL, 'q' },
	{ "receipt", required_argument, NULL, OPT_RECEIPT },
	{ "rejects", required_argument, NULL, CLI_OPT_REJECTS },
	{ "skip-bad", no_argument, NULL, CLI_OPT_SKIP_BAD },
	{ "skip-held", no_argument, NULL, OPT_SKIP_HELD },
	{ "stack", required_argument, NULL, OPT_STACK },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "stores", required_argument, NULL, OPT_STORES },
	{ "to", required_argument, NULL, OPT_TO },
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "value", required_argument, NULL, OPT_VALUE },
	{ "version", no_argument, NULL, CLI_OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static struct mbr_cli cli;
/* campaign options as given (NULL = not given), applied over defaults or the stored campaign */
static const char *o_type, *o_value, *o_cap, *o_min_spend, *o_from, *o_to, *o_limit, *o_per_member,
	*o_points_cost, *o_stores, *o_categories, *o_stack;
static const char *member, *store, *amount, *receipt, *as_of;
static int skip_held;	/* issue: members holding a coupon of the campaign already are skipped */

static void fail_exit(struct mbr_db *db, int rc)
{
	int status = cli_db_error(&cli, db, rc);

	mbr_rollback(db);
	mbr_db_close(db);
	exit(status);
}

static int64_t money(struct mbr_db *db, const char *opt, const char *s)
{
	int64_t v;

	if (mbr_money_parse(s, mbr_db_exponent(db), &v) < 0 || v < 0)
		cli_usage_error(&cli, "%s '%s' is not an amount", opt, s);
	return v;
}

static int64_t count(const char *opt, const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (!*s || *end || v < 0)
		cli_usage_error(&cli, "%s '%s' is not a whole number", opt, s);
	return v;
}

/* Copy an option's text into a campaign field; too long is a usage error,
 * never a silently shortened list (a category cut in the middle). */
static void set_text(char *dst, size_t n, const char *opt, const char *s)
{
	if (strlen(s) >= n)
		cli_usage_error(&cli, "%s '%.20s...' is too long (at most %zu bytes)", opt, s, n - 1);
	snprintf(dst, n, "%s", s);
}

static void apply_options(struct mbr_db *db, struct mbr_campaign *c)
{
	/* the value is read by the type: 15 is 15.00 off or 15%, so a new
	 * type without a new value would silently change what coupons are worth */
	if (o_type && strcmp(o_type, c->type) && !o_value)
		cli_usage_error(&cli, "--type %s needs --value: the value of a %s campaign does not carry over", o_type,
				c->type);
	if (o_type)
		set_text(c->type, sizeof(c->type), "--type", o_type);
	if (o_value) {
		if (!strcmp(c->type, "gift")) {
			set_text(c->gift_sku, sizeof(c->gift_sku), "--value", o_value);
			c->value = 0;
		} else if (!strcmp(c->type, "percent")) {
			/* percent as a decimal: 15 or 7.5 -> basis points */
			if (mbr_money_parse(o_value, 2, &c->value) < 0 || c->value <= 0 || c->value > 10000)
				cli_usage_error(&cli, "--value '%s' is not a percentage (0-100)", o_value);
		} else {
			c->value = money(db, "--value", o_value);
		}
	}
	if (o_cap)
		c->cap = money(db, "--cap", o_cap);
	if (o_min_spend)
		c->min_spend = money(db, "--min-spend", o_min_spend);
	if (o_from)
		c->valid_from = cli_date(&cli, "--from", o_from, 0);
	if (o_to)
		c->valid_to = cli_date(&cli, "--to", o_to, 1);
	if (o_limit)
		c->total_limit = count("--limit", o_limit);
	if (o_per_member)
		c->per_member = count("--per-member", o_per_member);
	if (o_points_cost)
		c->points_cost = count("--points-cost", o_points_cost);
	if (o_stores)
		set_text(c->stores, sizeof(c->stores), "--stores", o_stores);
	if (o_categories)
		set_text(c->categories, sizeof(c->categories), "--categories", o_categories);
	if (o_stack)
		set_text(c->stack, sizeof(c->stack), "--stack", o_stack);
}

/* Commit, or roll back for --dry-run; exits on failure. */
static void done(struct mbr_db *db)
{
	int rc;

	if (cli.dry_run) {
		mbr_rollback(db);
		if (!cli.quiet)
			cli_warn(&cli, "dry run, nothing written");
		return;
	}
	if ((rc = mbr_commit(db)) < 0)
		fail_exit(db, rc);
}

static void begin(struct mbr_db *db)
{
	int rc = mbr_begin(db);

	if (rc < 0)
		fail_exit(db, rc);
}

static void get_member(struct mbr_db *db, const char *key, struct mbr_member *m)
{
	int rc = mbr_member_get_brief(db, key, m);

	if (rc < 0)
		fail_exit(db, rc);
}

/* ------------------------------------------------------------ listing */

/* Each field's buffer holds the longest list a campaign keeps (256). */
#define FIELD_SZ 256

static void campaign_row(const struct mbr_campaign *c, int exp, char b[][FIELD_SZ], const char **v)
{
	char d[MBR_TIME_BUFSZ];
	int i;

	for (i = 0; i < 15; i++)
		v[i] = b[i];
	snprintf(b[0], FIELD_SZ, "%s", c->code);
	snprintf(b[1], FIELD_SZ, "%s", c->type);
	if (!strcmp(c->type, "percent"))
		snprintf(b[2], FIELD_SZ, "%lld.%02lld%%", (long long)(c->value / 100), (long long)(c->value % 100));
	else if (!strcmp(c->type, "gift"))
		snprintf(b[2], FIELD_SZ, "%s", c->gift_sku);
	else
		mbr_money_format(c->value, exp, b[2]);
	if (c->cap >= 0)
		mbr_money_format(c->cap, exp, b[3]);
	else
		b[3][0] = '\0';
	/* a minimum of 0 is none: empty (JSON null), as an unset cap */
	if (c->min_spend > 0)
		mbr_money_format(c->min_spend, exp, b[4]);
	else
		b[4][0] = '\0';
	snprintf(b[5], FIELD_SZ, "%s", c->valid_from ? mbr_date_format(c->valid_from, d) : "");
	snprintf(b[6], FIELD_SZ, "%s", c->valid_to ? mbr_date_format(c->valid_to - 1, d) : "");
	snprintf(b[7], FIELD_SZ, c->total_limit >= 0 ? "%lld" : "", (long long)c->total_limit);
	snprintf(b[8], FIELD_SZ, c->per_member >= 0 ? "%lld" : "", (long long)c->per_member);
	snprintf(b[9], FIELD_SZ, c->points_cost >= 0 ? "%lld" : "", (long long)c->points_cost);
	snprintf(b[10], FIELD_SZ, "%s", c->stores);
	snprintf(b[11], FIELD_SZ, "%s", c->categories);
	snprintf(b[12], FIELD_SZ, "%s", c->stack);
	snprintf(b[13], FIELD_SZ, "%s", c->closed_at ? "closed" : "open");
	b[14][0] = '\0';
}

static const struct mbr_col campaign_cols[14] = {
	{ "campaign", NULL, 0 }, { "type", NULL, 0 }, { "value", NULL, 0 }, { "cap", NULL, MBR_COL_NUMBER },
	{ "min_spend", NULL, MBR_COL_NUMBER }, { "from", NULL, 0 }, { "to", NULL, 0 },
	{ "limit", NULL, MBR_COL_NUMBER }, { "per_member", NULL, MBR_COL_NUMBER },
	{ "points_cost", NULL, MBR_COL_NUMBER }, { "stores", NULL, 0 }, { "categories", NULL, 0 },
	{ "stack", NULL, 0 }, { "status", NULL, 0 },
};

struct list_ctx {
	struct mbr_out *out;
	int exp;
};

static int list_one(const struct mbr_campaign *c, void *p)
{
	struct list_ctx *l = p;
	char b[15][FIELD_SZ];
	const char *v[15];

	campaign_row(c, l->exp, b, v);
	return mbr_out_row(l->out, v);
}

static int report_row(const char *const *v, void *p)
{
	return mbr_out_row(p, v);
}

/* -------------------------------------------------------------- issuing */

static const struct mbr_col issue_cols[] = {
	{ "member", "会员", 0 },
	{ "member_no", "card|card_no|会员卡号|卡号", 0 },
	{ "uid", NULL, 0 },
	{ "phone", "mobile|手机号|手机", 0 },
};

struct code_out {
	struct mbr_out *out;
	const char *member;
};

static int print_code(const char *code, void *p)
{
	struct code_out *o = p;
	const char *v[2] = { o->member, code };

	return mbr_out_row(o->out, o->member ? v : v + 1);
}

static int issue(struct mbr_db *db, const char *campaign, const char *path)
{
	static const struct mbr_col out_cols[] = { { "member", NULL, 0 }, { "code", NULL, 0 } };
	struct mbr_reader_opts ro;
	struct mbr_reader *rd = NULL;
	struct mbr_buf err = MBR_BUF_INIT;
	struct cli_rejects *rej = NULL;
	struct mbr_campaign c;
	struct code_out co;
	struct mbr_member m;
	struct mbr_row *row;
	char code[MBR_CODE_SZ];
	int64_t batch = 0, held;
	long issued = 0, bad = 0, skipped = 0;
	int rc, status = MBR_EXIT_OK;
	FILE *tmp;

	cli_require(&cli, db, member ? MBR_ROLE_CASHIER : MBR_ROLE_MANAGER, "issuing coupons");
	if ((rc = mbr_campaign_get(db, campaign, &c)) < 0)
		fail_exit(db, rc);
	/* codes are held in a temporary file and shown once committed: a
	 * refused run prints nothing a pipeline could take for real codes */
	if (!(tmp = tmpfile())) {
		cli_warn(&cli, "temporary file: %s", strerror(errno));
		return MBR_EXIT_DB;
	}
	co.out = mbr_out_new(tmp, cli.format == MBR_FMT_AUTO ? MBR_FMT_CSV : cli.format, cli.excel, out_cols, 2);
	begin(db);
	if (member) {
		get_member(db, member, &m);
		if ((rc = mbr_coupon_issue(db, campaign, &m, 0, code)) < 0)
			fail_exit(db, rc);
		co.member = member;
		print_code(code, &co);
		done(db);
		goto out;
	}
	cli_reader_opts(&cli, &ro);
	ro.ignore_unknown = 1;	/* reports piped in carry many other columns */
	if ((rc = mbr_reader_open(&rd, path, issue_cols, 4, &ro, &err)) < 0) {
		cli_warn(&cli, "%s", err.buf);
		mbr_rollback(db);
		status = mbr_exit_status(rc);
		goto out;
	}
	if (!mbr_reader_has(rd, 0) && !mbr_reader_has(rd, 1) && !mbr_reader_has(rd, 2) && !mbr_reader_has(rd, 3)) {
		cli_warn(&cli, "%s:1: header: needs a member column (member, member_no, uid or phone)", path);
		mbr_rollback(db);
		status = MBR_EXIT_DATA;
		goto out;
	}
	rej = cli_rejects_open(&cli, rd);
	if ((rc = mbr_batch_start(db, "coupons", path, &batch)) < 0)
		fail_exit(db, rc);
	while ((rc = mbr_reader_next(rd, &row, &err)) != 0) {
		const char *key = NULL;
		int i;

		if (rc == MBR_EINVAL) {
			bad++;
			cli_warn(&cli, "%s", err.buf);
			if (row)
				cli_rejects_row(rej, row->raw, row->nraw, err.buf);
			continue;
		}
		if (rc < 0) {
			cli_warn(&cli, "%s", err.buf);
			mbr_rollback(db);
			status = mbr_exit_status(rc);
			goto out;
		}
		for (i = 0; i < 4 && !key; i++)
			if (row->val[i] && *row->val[i])
				key = row->val[i];
		rc = key ? mbr_member_get_brief(db, key, &m) : MBR_EINVAL;
		if (rc == 0 && skip_held) {
			if ((rc = mbr_coupon_count(db, campaign, m.id, &held)) < 0)
				fail_exit(db, rc);
			if (held) {
				skipped++;
				continue;
			}
		}
		if (rc == 0)
			rc = mbr_coupon_issue(db, campaign, &m, batch, code);
		if (rc == MBR_EINVAL || rc == MBR_ENOTFOUND) {
			bad++;
			if (key)
				mbr_row_error(&err, rd, row, -1, "%s", mbr_db_errmsg(db));
			else
				mbr_row_error(&err, rd, row, -1, "no member given");
			if (!cli.quiet || !cli.skip_bad)
				cli_warn(&cli, "%s", err.buf);
			cli_rejects_row(rej, row->raw, row->nraw, err.buf);
			continue;
		}
		if (rc < 0)
			fail_exit(db, rc);
		co.member = key;
		print_code(code, &co);
		issued++;
	}
	if (bad && !cli.skip_bad) {
		mbr_rollback(db);
		cli_warn(&cli, "%ld bad record%s; no coupon issued", bad, bad == 1 ? "" : "s");
		status = MBR_EXIT_DATA;
		goto out;
	}
	if ((rc = mbr_batch_finish(db, batch, issued, 0, bad)) < 0)
		fail_exit(db, rc);
	done(db);
	if (!cli.quiet)
		cli_warn(&cli, "%sbatch %lld: %ld coupon%s of '%s' issued, %ld already held, %ld rejected",
			 cli.dry_run ? "dry run: " : "", (long long)batch, issued, issued == 1 ? "" : "s", campaign,
			 skipped, bad);
	status = bad ? MBR_EXIT_REJECTED : MBR_EXIT_OK;
out:
	if (mbr_out_end(co.out) < 0)
		status = MBR_EXIT_DB;
	if (status == MBR_EXIT_OK || status == MBR_EXIT_REJECTED) {
		char buf[8192];
		size_t n;

		rewind(tmp);
		while ((n = fread(buf, 1, sizeof(buf), tmp)) > 0)
			fwrite(buf, 1, n, stdout);
	}
	fclose(tmp);
	status = cli_rejects_close(&cli, rej, status);
	mbr_reader_close(rd);
	mbr_buf_release(&err);
	return status;
}

static int load(struct mbr_db *db, const char *campaign, const char *path)
{
	static const struct mbr_col cols[] = { { "code", "coupon|券码", MBR_COL_REQUIRED } };
	struct mbr_reader_opts ro;
	struct mbr_reader *rd = NULL;
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_campaign c;
	struct mbr_row *row;
	int64_t batch = 0;
	long n = 0, bad = 0;
	int rc;

	cli_require(&cli, db, MBR_ROLE_MANAGER, "loading coupon codes");
	if ((rc = mbr_campaign_get(db, campaign, &c)) < 0)
		fail_exit(db, rc);
	cli_reader_opts(&cli, &ro);
	if ((rc = mbr_reader_open(&rd, path, cols, 1, &ro, &err)) < 0) {
		cli_warn(&cli, "%s", err.buf);
		mbr_buf_release(&err);
		return mbr_exit_status(rc);
	}
	begin(db);
	if ((rc = mbr_batch_start(db, "codes", path, &batch)) < 0)
		fail_exit(db, rc);
	while ((rc = mbr_reader_next(rd, &row, &err)) != 0) {
		if (rc == MBR_EINVAL) {
			bad++;
			cli_warn(&cli, "%s", err.buf);
			continue;
		}
		if (rc < 0)
			break;
		rc = mbr_coupon_load(db, campaign, row->val[0], batch);
		if (rc == MBR_EINVAL || rc == MBR_EEXIST) {
			bad++;
			mbr_row_error(&err, rd, row, 0, "%s", mbr_db_errmsg(db));
			cli_warn(&cli, "%s", err.buf);
			continue;
		}
		if (rc < 0)
			break;
		n++;
	}
	mbr_reader_close(rd);
	if (rc < 0) {
		cli_warn(&cli, "%s", err.len ? err.buf : mbr_db_errmsg(db));
		mbr_rollback(db);
		mbr_buf_release(&err);
		return mbr_exit_status(rc);
	}
	mbr_buf_release(&err);
	if (bad) {
		mbr_rollback(db);
		cli_warn(&cli, "%ld bad code%s; nothing loaded", bad, bad == 1 ? "" : "s");
		return MBR_EXIT_DATA;
	}
	if ((rc = mbr_batch_finish(db, batch, n, 0, 0)) < 0)
		fail_exit(db, rc);
	done(db);
	if (!cli.quiet)
		cli_warn(&cli, "%ld code%s loaded into '%s'", n, n == 1 ? "" : "s", campaign);
	return MBR_EXIT_OK;
}

/* ---------------------------------------------------------- redemption */

static void use_from_options(struct mbr_db *db, struct mbr_coupon_use *u)
{
	struct mbr_member m;

	memset(u, 0, sizeof(*u));
	if (member) {
		get_member(db, member, &m);
		u->member = m.id;
	}
	u->store = store;
	if (amount) {
		u->has_amount = 1;
		u->amount = money(db, "--amount", amount);
	}
}

int main(int argc, char *argv[])
{
	struct mbr_db *db;
	struct mbr_campaign c;
	struct mbr_coupon k;
	struct mbr_coupon_use u;
	const char *cmd;
	char **args, code[MBR_CODE_SZ], amt[MBR_MONEY_BUFSZ];
	int opt, nargs, rc, status = MBR_EXIT_OK;

	cli_init(&cli, "mbr-coupon", usage);
	while ((opt = getopt_long(argc, argv, shortopts, options, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_TYPE: o_type = optarg; break;
		case OPT_VALUE: o_value = optarg; break;
		case OPT_CAP: o_cap = optarg; break;
		case OPT_MIN_SPEND: o_min_spend = optarg; break;
		case OPT_FROM: o_from = optarg; break;
		case OPT_TO: o_to = optarg; break;
		case OPT_LIMIT: o_limit = optarg; break;
		case OPT_PER_MEMBER: o_per_member = optarg; break;
		case OPT_POINTS_COST: o_points_cost = optarg; break;
		case OPT_STORES: o_stores = optarg; break;
		case OPT_CATEGORIES: o_categories = optarg; break;
		case OPT_STACK: o_stack = optarg; break;
		case OPT_MEMBER: member = optarg; break;
		case OPT_STORE: store = optarg; break;
		case OPT_AMOUNT: amount = optarg; break;
		case OPT_RECEIPT: receipt = optarg; break;
		case OPT_AS_OF: as_of = optarg; break;
		case OPT_SKIP_HELD: skip_held = 1; break;
		default: cli_usage_error(&cli, NULL);
		}
	}
	cli_check_options(&cli, argc, argv, optind, shortopts, options);
	if (cli.rejects && !cli.skip_bad)
		cli_usage_error(&cli, "--rejects needs --skip-bad");
	if (optind >= argc)
		cli_usage_error(&cli, "missing command");
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;

#define ARGS(lo, hi) do { if (nargs < (lo) || nargs > (hi)) cli_usage_error(&cli, "wrong number of arguments for %s", cmd); } while (0)
	if (!strcmp(cmd, "list") || !strcmp(cmd, "summary")) {
		struct list_ctx l;

		ARGS(0, 0);
		db = cli_open(&cli, 0);
		cli_require(&cli, db, MBR_ROLE_CASHIER, cmd);
		l.exp = mbr_db_exponent(db);
		if (cmd[0] == 'l') {
			l.out = mbr_out_new(stdout, cli_format(&cli), cli.excel, campaign_cols, 14);
			rc = mbr_campaigns_each(db, list_one, &l);
		} else {
			l.out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mbr_coupon_summary_cols, 9);
			rc = mbr_coupon_summary(db, report_row, l.out);
		}
		if (mbr_out_end(l.out) < 0 && rc == 0)
			rc = MBR_EIO;
		if (rc < 0)
			status = cli_db_error(&cli, db, rc);
	} else if (!strcmp(cmd, "show")) {
		struct list_ctx l;

		ARGS(1, 1);
		db = cli_open(&cli, 0);
		cli_require(&cli, db, MBR_ROLE_CASHIER, cmd);
		if ((rc = mbr_campaign_get(db, args[0], &c)) < 0)
			fail_exit(db, rc);
		l.exp = mbr_db_exponent(db);
		l.out = mbr_out_new(stdout, cli_format(&cli), cli.excel, campaign_cols, 14);
		list_one(&c, &l);
		if (mbr_out_end(l.out) < 0)
			status = MBR_EXIT_DB;
	} else if (!strcmp(cmd, "create") || !strcmp(cmd, "edit")) {
		ARGS(1, 1);
		db = cli_open(&cli, MBR_OPEN_RW);
		cli_require(&cli, db, MBR_ROLE_MANAGER, "campaigns");
		begin(db);
		if (cmd[0] == 'c') {
			if (!o_type || !o_value)
				cli_usage_error(&cli, "create needs --type and --value");
			mbr_campaign_clear(&c);
			snprintf(c.code, sizeof(c.code), "%s", args[0]);
			apply_options(db, &c);
			rc = mbr_campaign_create(db, &c);
		} else {
			if ((rc = mbr_campaign_get(db, args[0], &c)) < 0)
				fail_exit(db, rc);
			apply_options(db, &c);
			rc = mbr_campaign_update(db, &c);
		}
		if (rc < 0)
			fail_exit(db, rc);
		done(db);
	} else if (!strcmp(cmd, "close")) {
		ARGS(1, 1);
		db = cli_open(&cli, MBR_OPEN_RW);
		cli_require(&cli, db, MBR_ROLE_MANAGER, "campaigns");
		begin(db);
		if ((rc = mbr_campaign_close(db, args[0])) < 0)
			fail_exit(db, rc);
		done(db);
	} else if (!strcmp(cmd, "generate")) {
		struct code_out co = { NULL, NULL };
		static const struct mbr_col cols[] = { { "code", NULL, 0 } };
		int64_t batch;
		long n;

		ARGS(2, 2);
		n = (long)count("n", args[1]);
		db = cli_open(&cli, MBR_OPEN_RW);
		cli_require(&cli, db, MBR_ROLE_MANAGER, "generating codes");
		begin(db);
		if ((rc = mbr_batch_start(db, "codes", args[0], &batch)) < 0)
			fail_exit(db, rc);
		co.out = mbr_out_new(stdout, cli.format == MBR_FMT_AUTO ? MBR_FMT_CSV : cli.format, cli.excel, cols, 1);
		rc = mbr_coupon_generate(db, args[0], n, batch, print_code, &co);
		if (rc == 0)
			rc = mbr_batch_finish(db, batch, n, 0, 0);
		if (mbr_out_end(co.out) < 0 && rc == 0)
			rc = MBR_EIO;
		if (rc < 0)
			fail_exit(db, rc);
		done(db);
	} else if (!strcmp(cmd, "load")) {
		ARGS(1, 2);
		db = cli_open(&cli, MBR_OPEN_RW);
		status = load(db, args[0], nargs > 1 ? args[1] : "-");
	} else if (!strcmp(cmd, "issue")) {
		ARGS(1, 2);
		if (member && nargs > 1)
			cli_usage_error(&cli, "--member and an input file do not go together");
		db = cli_open(&cli, MBR_OPEN_RW);
		status = issue(db, args[0], nargs > 1 ? args[1] : "-");
	} else if (!strcmp(cmd, "buy")) {
		struct mbr_member m;

		ARGS(1, 1);
		if (!member)
			cli_usage_error(&cli, "buy needs --member");
		db = cli_open(&cli, MBR_OPEN_RW);
		cli_require(&cli, db, MBR_ROLE_CASHIER, "buying a coupon");
		begin(db);
		get_member(db, member, &m);
		if ((rc = mbr_coupon_buy(db, args[0], &m, code)) < 0)
			fail_exit(db, rc);
		done(db);
		printf("%s\n", code);
	} else if (!strcmp(cmd, "check")) {
		ARGS(1, 1);
		db = cli_open(&cli, 0);
		cli_require(&cli, db, MBR_ROLE_CASHIER, "checking a coupon");
		use_from_options(db, &u);
		rc = mbr_coupon_check(db, args[0], &u, &k);
		if (rc == MBR_EINVAL || rc == MBR_ENOTFOUND) {
			cli_warn(&cli, "%s", mbr_db_errmsg(db));
			status = MBR_EXIT_REJECTED;
		} else if (rc < 0) {
			status = cli_db_error(&cli, db, rc);
		} else {
			printf("%s,%s,%s%s%s\n", k.code, k.campaign, mbr_money_format(k.discount, mbr_db_exponent(db), amt),
			       k.gift_sku[0] ? ",gift " : "", k.gift_sku);
		}
	} else if (!strcmp(cmd, "redeem")) {
		ARGS(1, 1);
		if (!amount)
			cli_usage_error(&cli, "redeem needs --amount");
		db = cli_open(&cli, MBR_OPEN_RW);
		cli_require(&cli, db, MBR_ROLE_CASHIER, "redeeming a coupon");
		begin(db);
		use_from_options(db, &u);
		rc = mbr_coupon_redeem(db, args[0], &u, 0, receipt, &k);
		if (rc == MBR_EINVAL || rc == MBR_ENOTFOUND) {
			mbr_rollback(db);
			cli_warn(&cli, "%s", mbr_db_errmsg(db));
			status = MBR_EXIT_REJECTED;
		} else if (rc < 0) {
			fail_exit(db, rc);
		} else {
			done(db);
			printf("%s\n", mbr_money_format(k.discount, mbr_db_exponent(db), amt));
		}
	} else if (!strcmp(cmd, "void")) {
		ARGS(1, 1);
		db = cli_open(&cli, MBR_OPEN_RW);
		cli_require(&cli, db, MBR_ROLE_MANAGER, "voiding a coupon");
		begin(db);
		if ((rc = mbr_coupon_void(db, args[0])) < 0)
			fail_exit(db, rc);
		done(db);
	} else if (!strcmp(cmd, "expire")) {
		long n;
		int64_t t;

		ARGS(0, 0);
		db = cli_open(&cli, MBR_OPEN_RW);	/* sets the store's time zone, which the date is in */
		t = mbr_now();
		if (as_of) {
			/* today or a past day: a later one would end coupons that
			 * are still good, and nothing brings them back; today
			 * counts up to now, not to midnight, for the same reason */
			int64_t end = cli_date(&cli, "--as-of", as_of, 1);

			if (mbr_local_day(cli_date(&cli, "--as-of", as_of, 0)) > mbr_local_day(t)) {
				char today[MBR_TIME_BUFSZ];

				mbr_date_format(t, today);
				cli_usage_error(&cli, "--as-of '%s' is after today (%.10s): expire runs for today or a"
						" past day", as_of, today);
			}
			if (end < t)
				t = end;
		}
		cli_require(&cli, db, MBR_ROLE_MANAGER, "expiring coupons");
		begin(db);
		if ((rc = mbr_coupon_expire(db, t, &n)) < 0)
			fail_exit(db, rc);
		done(db);
		if (!cli.quiet)
			cli_warn(&cli, "%ld coupon%s expired", n, n == 1 ? "" : "s");
	} else {
		cli_usage_error(&cli, "unknown command '%s'", cmd);
	}
	mbr_db_close(db);
	return cli_close_stdout(&cli, status);
}
