/*
 * mbr-report - reports: sales by day, month or store and sales by
 * category over a range of business dates, members' RFM scores and
 * cohorts (all from the maintained aggregates), coupon campaigns, members
 * with a birthday in the coming days, settlement between stores, what is
 * owed in prepaid value and points, members per tier and members whose
 * points balance is negative.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

static const char usage[] =
	"usage: mbr-report [-d file] [--operator name] [--format fmt] [--excel] [--by day|month|store]\n"
	"                  [--store code] [--from date] [--to date] sales\n"
	"       mbr-report [-d file] [--operator name] [--format fmt] [--excel] [--store code] [--from date]\n"
	"                  [--to date] categories\n"
	"       mbr-report [-d file] [--operator name] [--format fmt] [--excel] [--from date] [--to date]\n"
	"                  rfm | cohorts | churn\n"
	"       mbr-report [-d file] [--operator name] [--format fmt] [--excel] [--by month|store] [--from date]\n"
	"                  [--to date] members\n"
	"       mbr-report [-d file] [--operator name] [--format fmt] [--excel] tiers | negative\n"
	"       mbr-report [-d file] [--operator name] [--format fmt] [--excel] coupons\n"
	"       mbr-report [-d file] [--operator name] [--format fmt] [--excel] [--from date] [--days n]\n"
	"                  birthdays\n"
	"       mbr-report [-d file] [--operator name] [--format fmt] [--excel] [--from date] [--to date]\n"
	"                  settlement\n"
	"       mbr-report [-d file] [--operator name] [--format fmt] [--excel] liability\n";

enum { OPT_BY = CLI_OPT_NEXT, OPT_FROM, OPT_TO, OPT_DAYS, OPT_STORE };

static const char shortopts[] = "d:hq";

static const struct option options[] = {
	{ "by", required_argument, NULL, OPT_BY },
	{ "days", required_argument, NULL, OPT_DAYS },
	{ "excel", no_argument, NULL, CLI_OPT_EXCEL },
	{ "format", required_argument, NULL, CLI_OPT_FORMAT },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ "operator", required_argument, NULL, CLI_OPT_OPERATOR },
	{ "quiet", no_argument, NULL, 'q' },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "to", required_argument, NULL, OPT_TO },
	{ "version", no_argument, NULL, CLI_OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static struct mbr_cli cli;

static int row(const char *const *vals, void *p)
{
	return mbr_out_row(p, vals);
}

static const char *const reports[] = {
	"sales", "categories", "rfm", "cohorts", "churn", "members", "tiers", "negative", "coupons", "birthdays",
	"settlement", "liability",
};

int main(int argc, char *argv[])
{
	static const char *const by_names[] = { "day", "month", "store" };
	struct mbr_col cols[MBR_REPORT_SALES_NCOLS], mcols[MBR_REPORT_MEMBER_NCOLS];
	enum mbr_report_by by = MBR_BY_DAY;
	const char *from = NULL, *to = NULL, *store = NULL, *report;
	int days = 7;
	int64_t from_day = INT32_MIN, to_day = INT32_MAX;
	struct mbr_out *out;
	struct mbr_db *db;
	char title[256];
	int opt, rc, i, by_set = 0;

	cli_init(&cli, "mbr-report", usage);
	while ((opt = getopt_long(argc, argv, shortopts, options, NULL)) != -1) {
		/* reports alone may be a web page */
		if (opt == CLI_OPT_FORMAT && !strcmp(optarg, "html")) {
			cli.format = MBR_FMT_HTML;
			continue;
		}
		if (opt == CLI_OPT_FORMAT && mbr_format_parse(optarg, &cli.format) < 0)
			cli_usage_error(&cli, "format '%s' must be table, csv, tsv, json or html", optarg);
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_BY:
			for (i = 0; i < 3 && strcmp(optarg, by_names[i]); i++)
				;
			if (i == 3)
				cli_usage_error(&cli, "--by '%s' must be day, month or store", optarg);
			by = (enum mbr_report_by)i;
			by_set = 1;
			break;
		case OPT_DAYS: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 0 || v > 366)
				cli_usage_error(&cli, "--days '%s' must be 0-366", optarg);
			days = (int)v;
			break;
		}
		case OPT_FROM: from = optarg; break;
		case OPT_TO: to = optarg; break;
		case OPT_STORE: store = optarg; break;
		default: cli_usage_error(&cli, NULL);
		}
	}
	cli_check_options(&cli, argc, argv, optind, shortopts, options);
	if (optind >= argc)
		cli_usage_error(&cli, "missing report name");
	report = argv[optind];
	for (i = 0; i < (int)(sizeof(reports) / sizeof(reports[0])) && strcmp(report, reports[i]); i++)
		;
	if (i == (int)(sizeof(reports) / sizeof(reports[0])))
		cli_usage_error(&cli, "unknown report '%s'", report);
	if (argc - optind > 1)
		cli_usage_error(&cli, "too many arguments");
	db = cli_open(&cli, 0);
	if (from)
		from_day = mbr_local_day(cli_date(&cli, "--from", from, 0));
	if (to)
		to_day = mbr_local_day(cli_date(&cli, "--to", to, 0));
	if (from && to && from_day > to_day)
		cli_usage_error(&cli, "--from %s is after --to %s", from, to);
	cli_require(&cli, db, MBR_ROLE_CASHIER, "a report");
	/* before any output: an unknown store, or a missing key for the
	 * reports that print personal data, prints no header */
	rc = mbr_store_check(db, store);
	if (rc == 0 && (!strcmp(report, "birthdays") || !strcmp(report, "negative")))
		rc = mbr_db_key_ready(db);
	if (rc < 0) {
		rc = cli_db_error(&cli, db, rc);
		mbr_db_close(db);
		return cli_close_stdout(&cli, rc);
	}
	if (!strcmp(report, "sales")) {
		memcpy(cols, mbr_report_sales_cols, sizeof(cols));
		cols[0].name = by_names[by];
		out = mbr_out_new(stdout, cli_format(&cli), cli.excel, cols, MBR_REPORT_SALES_NCOLS);
		rc = mbr_report_sales(db, by, store, from_day, to_day, row, out);
	} else if (!strcmp(report, "categories")) {
		out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mbr_report_category_cols,
				  MBR_REPORT_CATEGORY_NCOLS);
		rc = mbr_report_categories(db, store, from_day, to_day, row, out);
	} else if (!strcmp(report, "rfm")) {
		/* a list of members, like an export */
		cli_require(&cli, db, MBR_ROLE_MANAGER, "the rfm report");
		/* a year up to today unless told */
		if (!to)
			to_day = mbr_local_day(mbr_now());
		if (!from)
			from_day = to_day - 364;
		if (from_day > to_day)
			cli_usage_error(&cli, "--from %s is after today", from);
		out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mbr_report_rfm_cols, MBR_REPORT_RFM_NCOLS);
		rc = mbr_report_rfm(db, from_day, to_day, row, out);
	} else if (!strcmp(report, "cohorts")) {
		out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mbr_report_cohort_cols, MBR_REPORT_COHORT_NCOLS);
		rc = mbr_report_cohorts(db, from_day, to_day, row, out);
	} else if (!strcmp(report, "members")) {
		if (by_set && by == MBR_BY_DAY)
			cli_usage_error(&cli, "members are reported --by month or store");
		if (!by_set)
			by = MBR_BY_MONTH;
		memcpy(mcols, mbr_report_member_cols, sizeof(mcols));
		mcols[0].name = by_names[by];
		out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mcols, MBR_REPORT_MEMBER_NCOLS);
		rc = mbr_report_members(db, by, from_day, to_day, row, out);
	} else if (!strcmp(report, "churn")) {
		out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mbr_report_churn_cols, MBR_REPORT_CHURN_NCOLS);
		rc = mbr_report_churn(db, from_day, to_day, row, out);
	} else if (!strcmp(report, "tiers")) {
		out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mbr_report_tier_cols, MBR_REPORT_TIER_NCOLS);
		rc = mbr_report_tiers(db, row, out);
	} else if (!strcmp(report, "negative")) {
		cli_require(&cli, db, MBR_ROLE_MANAGER, "the negative report");
		out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mbr_report_negative_cols,
				  MBR_REPORT_NEGATIVE_NCOLS);
		rc = mbr_report_negative(db, row, out);
	} else if (!strcmp(report, "coupons")) {
		out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mbr_coupon_summary_cols, 9);
		rc = mbr_coupon_summary(db, row, out);
	} else if (!strcmp(report, "settlement")) {
		/* for finance: CSV unless told otherwise */
		cli_require(&cli, db, MBR_ROLE_MANAGER, "the settlement report");
		out = mbr_out_new(stdout, cli.format == MBR_FMT_AUTO ? MBR_FMT_CSV : cli.format, cli.excel,
				  mbr_settlement_cols, MBR_SETTLEMENT_NCOLS);
		rc = mbr_report_settlement(db, from_day, to_day, row, out);
	} else if (!strcmp(report, "liability")) {
		out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mbr_liability_cols, MBR_LIABILITY_NCOLS);
		rc = mbr_report_liability(db, row, out);
	} else {
		out = mbr_out_new(stdout, cli_format(&cli), cli.excel, mbr_report_birthday_cols,
				  MBR_REPORT_BIRTHDAY_NCOLS);
		/* counted from --from, else from today */
		rc = mbr_report_birthdays(db, from ? from_day : mbr_local_day(mbr_now()), days, row, out);
	}
	if (cli.format == MBR_FMT_HTML) {
		int with_by = !strcmp(report, "sales") || !strcmp(report, "members");

		snprintf(title, sizeof(title), "%s%s%s%s%s%s%s%s%s", report, with_by ? " by " : "",
			 with_by ? by_names[by] : "", store ? ", store " : "", store ? store : "", from ? ", from " : "",
			 from ? from : "", to ? " to " : "", to ? to : "");
		mbr_out_title(out, title);
	}
	if (mbr_out_end(out) < 0 && rc == 0)
		rc = MBR_EIO;
	rc = rc < 0 ? cli_db_error(&cli, db, rc) : MBR_EXIT_OK;
	mbr_db_close(db);
	return cli_close_stdout(&cli, rc);
}
