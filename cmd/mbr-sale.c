/*
 * mbr-sale - record sales and returns: import POS line items (one
 * transaction, all or nothing unless --skip-bad), record one sale from
 * flags or at the interactive till (-i), load the product catalogue,
 * undo a batch.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

static const char usage[] =
	"usage: mbr-sale [-nq] [-d file] [--operator name] [--encoding enc] [--skip-bad]\n"
	"                [--rejects file] [--ignore-unknown] [--map native=foreign,...]\n"
	"                [--time-format fmt] [--store code] import [file | -]\n"
	"       mbr-sale [-nq] [-d file] [--operator name] [--store code] [--ts time]\n"
	"                [--member member] [--payment method[:amount];...] [--original receipt]\n"
	"                [--coupon code] add receipt sku:qty:price[:discount] ...\n"
	"       mbr-sale [-nq] [-d file] [--operator name] [--encoding enc] products [file | -]\n"
	"       mbr-sale [-nq] [-d file] [--operator name] undo batch\n"
	"       mbr-sale [-n] [-d file] [--operator name] [--store code] -i\n";

enum { OPT_MAP = CLI_OPT_NEXT, OPT_TIME_FORMAT, OPT_STORE, OPT_TS, OPT_MEMBER, OPT_PAYMENT, OPT_ORIGINAL, OPT_COUPON };

static const char shortopts[] = "d:hinq";

static const struct option options[] = {
	{ "coupon", required_argument, NULL, OPT_COUPON },
	{ "dry-run", no_argument, NULL, CLI_OPT_DRY_RUN },
	{ "encoding", required_argument, NULL, CLI_OPT_ENCODING },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ "ignore-unknown", no_argument, NULL, CLI_OPT_IGNORE_UNKNOWN },
	{ "interactive", no_argument, NULL, 'i' },
	{ "map", required_argument, NULL, OPT_MAP },
	{ "member", required_argument, NULL, OPT_MEMBER },
	{ "operator", required_argument, NULL, CLI_OPT_OPERATOR },
	{ "original", required_argument, NULL, OPT_ORIGINAL },
	{ "payment", required_argument, NULL, OPT_PAYMENT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "rejects", required_argument, NULL, CLI_OPT_REJECTS },
	{ "skip-bad", no_argument, NULL, CLI_OPT_SKIP_BAD },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "time-format", required_argument, NULL, OPT_TIME_FORMAT },
	{ "ts", required_argument, NULL, OPT_TS },
	{ "version", no_argument, NULL, CLI_OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

#define MAX_SHOWN_ERRORS 50

static struct mbr_cli cli;
static const char *map, *time_format, *store, *ts, *member, *payment, *original, *coupon;

struct import {
	struct cli_rejects *rejects;
	long errors;
	int empty;	/* nothing to record: roll back, leave no batch */
};

static int on_error(const char *msg, void *p)
{
	struct import *im = p;

	im->errors++;
	if (cli.skip_bad ? !cli.quiet : im->errors <= MAX_SHOWN_ERRORS)
		cli_warn(&cli, "%s", msg);
	if (im->errors == MAX_SHOWN_ERRORS + 1 && !cli.skip_bad)
		cli_warn(&cli, "more errors follow; only the first %d are shown", MAX_SHOWN_ERRORS);
	return 0;
}

static int on_reject(const char *const *raw, size_t nraw, const char *reason, void *p)
{
	struct import *im = p;

	return cli_rejects_row(im->rejects, raw, nraw, reason);
}

static void summary(const char *what, const struct mbr_sale_stats *s, int exp)
{
	char amt[MBR_MONEY_BUFSZ];

	if (cli.quiet)
		return;
	if (s->batch)
		cli_warn(&cli, "%s%s: batch %lld: %ld receipts (%ld returns), %ld lines, amount %s;"
			 " points +%lld earned, -%lld reversed, -%lld redeemed, +%lld refunded",
			 cli.dry_run ? "dry run, nothing written: " : "", what, (long long)s->batch,
			 s->receipts, s->returns, s->lines, mbr_money_format(s->amount, exp, amt),
			 (long long)s->points_earned, (long long)s->points_reversed,
			 (long long)s->points_redeemed, (long long)s->points_refunded);
	else
		cli_warn(&cli, "%s: nothing recorded, no batch: 0 receipts", what);
	if (s->duplicates)
		cli_warn(&cli, "%ld receipt%s already imported, skipped%s", s->duplicates, s->duplicates == 1 ? "" : "s",
			 s->receipts ? "" : ": nothing new in this file");
	if (s->matched_returns)
		cli_warn(&cli, "%ld return%s naming no sale scored as of the member's sale of the goods",
			 s->matched_returns, s->matched_returns == 1 ? "" : "s");
	if (s->new_products)
		cli_warn(&cli, "%ld new product%s added to the catalogue", s->new_products, s->new_products == 1 ? "" : "s");
	if (s->rejected_receipts)
		cli_warn(&cli, "%ld receipt%s (%ld line%s) rejected", s->rejected_receipts,
			 s->rejected_receipts == 1 ? "" : "s", s->rejected_lines, s->rejected_lines == 1 ? "" : "s");
}

/*
 * A run that records no receipt and no product (a file recorded already,
 * all rejected, or empty) changes nothing: finish rolls it back, so that
 * it leaves not even a batch or an audit entry.
 */
static void check_empty(int rc, struct mbr_sale_stats *s, struct import *im)
{
	if (rc == 0 && !s->receipts && !s->new_products) {
		im->empty = 1;
		s->batch = 0;
	}
}

/* Commit (or roll back for --dry-run, errors or an empty run) and pick the exit status. */
static int finish(struct mbr_db *db, int rc, struct import *im)
{
	if (rc < 0) {
		mbr_rollback(db);
		cli_warn(&cli, "%s", mbr_db_errmsg(db));
		cli_warn(&cli, "nothing imported");
		return mbr_exit_status(rc);
	}
	if (im->errors && !cli.skip_bad) {
		mbr_rollback(db);
		cli_warn(&cli, "%ld bad receipt%s; nothing imported", im->errors, im->errors == 1 ? "" : "s");
		return MBR_EXIT_DATA;
	}
	if (cli.dry_run || im->empty) {
		mbr_rollback(db);
	} else if ((rc = mbr_commit(db)) < 0) {
		return cli_db_error(&cli, db, rc);
	}
	return -1;	/* go on: the caller prints the summary */
}

static int import(const char *path)
{
	struct mbr_sale_opts so;
	struct mbr_sale_import *si = NULL;
	struct mbr_sale_stats stats;
	struct mbr_reader_opts ro;
	struct mbr_reader *rd = NULL;
	struct mbr_buf err = MBR_BUF_INIT;
	struct import im = { NULL, 0, 0 };
	struct mbr_row *row;
	struct mbr_sale_ahead *ahead = NULL;
	struct mbr_db *db;
	long n = 0;
	int rc, status;

	db = cli_open(&cli, MBR_OPEN_RW);
	cli_require(&cli, db, MBR_ROLE_MANAGER, "importing sales");
	cli_reader_opts(&cli, &ro);
	ro.map = map;
	/* members are looked up in the reading thread; without it, here */
	if (mbr_sale_ahead_open(cli.db_path, &ahead) == 0) {
		ro.note = mbr_sale_ahead_note;
		ro.note_ctx = ahead;
	}
	rc = mbr_reader_open(&rd, path, mbr_sale_cols, MBR_S_COUNT, &ro, &err);
	if (rc < 0) {
		cli_warn(&cli, "%s", err.buf);
		status = mbr_exit_status(rc);
		goto out;
	}
	if (!mbr_reader_has(rd, MBR_S_STORE) && !store) {
		cli_warn(&cli, "%s:1: header: no store column; give --store", path);
		status = MBR_EXIT_DATA;
		goto out;
	}
	im.rejects = cli_rejects_open(&cli, rd);
	memset(&so, 0, sizeof(so));
	so.store = store;
	so.time_format = time_format;
	so.error = on_error;
	so.reject = im.rejects ? on_reject : NULL;	/* rows are kept only when they may be written */
	so.ctx = &im;
	if ((rc = mbr_begin_bulk(db)) < 0 || (rc = mbr_sale_import_begin(db, &so, path, &si)) < 0) {
		mbr_rollback(db);
		status = cli_db_error(&cli, db, rc);
		goto out;
	}
	mbr_sale_ahead_go(ahead, si);
	while ((rc = mbr_reader_next(rd, &row, &err)) != 0) {
		if (rc == MBR_EINVAL) {
			/* a row the reader could not take rejects its whole receipt */
			if (row && row->val) {
				if ((rc = mbr_sale_bad_line(si, row->val, row->file, row->line, row->raw, row->nraw,
							    err.buf)) < 0)
					break;
				continue;
			}
			on_error(err.buf, &im);
			rc = 0;
			continue;
		}
		if (rc < 0) {
			mbr_db_fail(db, rc, "%s", err.buf);
			break;
		}
		if ((rc = mbr_sale_line_noted(si, row->val, row->file, row->line, row->raw, row->nraw, row->note,
					      row->note_len)) < 0)
			break;
		cli_progress(&cli, "lines", ++n);
	}
	cli_progress_done(&cli);
	if (rc == 0)
		rc = mbr_sale_import_end(si, &stats);
	check_empty(rc, &stats, &im);
	status = finish(db, rc, &im);
	if (status < 0) {
		summary(path, &stats, mbr_db_exponent(db));
		status = im.errors ? MBR_EXIT_REJECTED : MBR_EXIT_OK;
	}
out:
	status = cli_rejects_close(&cli, im.rejects, status);
	mbr_sale_import_free(si);
	mbr_sale_ahead_cancel(ahead);	/* its thread may wait for go */
	mbr_reader_close(rd);
	mbr_sale_ahead_free(ahead);
	mbr_buf_release(&err);
	mbr_db_close(db);
	return status;
}

/* add RECEIPT SKU:QTY:PRICE[:DISCOUNT]...: one sale through the same path as imports. */
static int add(const char *receipt, int nitems, char **items)
{
	struct mbr_sale_opts so;
	struct mbr_sale_import *si = NULL;
	struct mbr_sale_stats stats;
	struct import im = { NULL, 0, 0 };
	struct mbr_db *db;
	char now[MBR_TIME_BUFSZ];
	int i, rc, status;

	if (nitems < 1)
		cli_usage_error(&cli, "add needs at least one sku:qty:price item");
	db = cli_open(&cli, MBR_OPEN_RW);
	cli_require(&cli, db, MBR_ROLE_CASHIER, "recording a sale");
	if (!ts)
		ts = mbr_time_format(mbr_now(), now);
	memset(&so, 0, sizeof(so));
	so.store = store ? store : mbr_db_store(db);
	so.error = on_error;
	so.ctx = &im;
	if ((rc = mbr_begin(db)) < 0 || (rc = mbr_sale_import_begin(db, &so, "add", &si)) < 0) {
		mbr_rollback(db);
		status = cli_db_error(&cli, db, rc);
		goto out;
	}
	for (i = 0; i < nitems && rc == 0; i++) {
		char buf[512];
		const char *f[4], *v[MBR_S_COUNT] = { 0 };

		if (strlen(items[i]) >= sizeof(buf))
			cli_usage_error(&cli, "item %d is longer than %zu bytes", i + 1, sizeof(buf) - 1);
		if (mbr_sale_item_split(items[i], buf, sizeof(buf), f) < 0)
			cli_usage_error(&cli, "item '%s' is not sku:qty:price[:discount]", items[i]);
		v[MBR_S_STORE] = so.store;
		v[MBR_S_RECEIPT] = receipt;
		v[MBR_S_TS] = ts;
		v[MBR_S_MEMBER] = member;
		v[MBR_S_SKU] = f[0];
		v[MBR_S_QTY] = f[1];
		v[MBR_S_UNIT_PRICE] = f[2];
		v[MBR_S_DISCOUNT] = f[3];
		v[MBR_S_PAYMENT] = payment;
		v[MBR_S_ORIGINAL] = original;
		v[MBR_S_COUPON] = coupon;
		rc = mbr_sale_line(si, v, "add", i + 1, NULL, 0);
	}
	if (rc == 0)
		rc = mbr_sale_import_end(si, &stats);
	check_empty(rc, &stats, &im);
	status = finish(db, rc, &im);
	if (status < 0) {
		char amt[MBR_MONEY_BUFSZ];

		status = MBR_EXIT_OK;
		if (stats.duplicates) {
			cli_warn(&cli, "receipt '%s' at store %s is already recorded; nothing written", receipt, so.store);
		} else {
			printf("%s,%s,%s,%lld\n", so.store, receipt, mbr_money_format(stats.last_total, mbr_db_exponent(db), amt),
			       (long long)stats.last_points);
			if (!cli.quiet)
				cli_warn(&cli, "%sbatch %lld: sale %s/%s recorded: total %s, points %+lld",
					 cli.dry_run ? "dry run: " : "", (long long)stats.batch, so.store, receipt, amt,
					 (long long)stats.last_points);
		}
	}
out:
	mbr_sale_import_free(si);
	mbr_db_close(db);
	return status;
}

static const struct mbr_col product_cols[] = {
	{ "sku", "item|barcode|商品编码|条码|货号", MBR_COL_REQUIRED },
	{ "name", "description|商品名称|品名", 0 },
	{ "category", "类别|品类|分类", 0 },
	{ "price", "unit_price|单价|价格", 0 },
};

static int products(const char *path)
{
	struct mbr_reader_opts ro;
	struct mbr_reader *rd = NULL;
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_row *row;
	struct mbr_db *db;
	int64_t batch = 0;
	long n = 0, errors = 0;
	int rc, status = MBR_EXIT_OK, moved = 0;

	db = cli_open(&cli, MBR_OPEN_RW);
	cli_require(&cli, db, MBR_ROLE_MANAGER, "loading products");
	cli_reader_opts(&cli, &ro);
	if ((rc = mbr_reader_open(&rd, path, product_cols, 4, &ro, &err)) < 0) {
		cli_warn(&cli, "%s", err.buf);
		status = mbr_exit_status(rc);
		goto out;
	}
	if ((rc = mbr_begin(db)) < 0 || (rc = mbr_batch_start(db, "products", path, &batch)) < 0) {
		status = cli_db_error(&cli, db, rc);
		goto out;
	}
	while ((rc = mbr_reader_next(rd, &row, &err)) != 0) {
		int64_t price;
		const char *ps = row ? row->val[3] : NULL;

		if (rc == MBR_EINVAL) {
			cli_warn(&cli, "%s", err.buf);
			errors++;
			continue;
		}
		if (rc < 0) {
			cli_warn(&cli, "%s", err.buf);
			break;
		}
		if (!*row->val[0]) {
			mbr_row_error(&err, rd, row, 0, "missing");
			cli_warn(&cli, "%s", err.buf);
			errors++;
			continue;
		}
		if (ps && *ps && (mbr_money_parse(ps, mbr_db_exponent(db), &price) < 0 || price < 0)) {
			mbr_row_error(&err, rd, row, 3, "'%s' is not an amount", ps);
			cli_warn(&cli, "%s", err.buf);
			errors++;
			continue;
		}
		/* a column the file does not have keeps what the catalogue says */
		rc = mbr_product_upsert(db, row->val[0], row->val[1], row->val[2], ps && *ps ? &price : NULL);
		if (rc < 0) {
			cli_warn(&cli, "%s", mbr_db_errmsg(db));
			break;
		}
		moved |= rc;
		rc = 0;
		n++;
	}
	if (rc < 0 || errors) {
		mbr_rollback(db);
		if (rc == 0)
			cli_warn(&cli, "%ld bad record%s; nothing loaded", errors, errors == 1 ? "" : "s");
		status = rc < 0 ? mbr_exit_status(rc) : MBR_EXIT_DATA;
		goto out;
	}
	/* sales of products that changed category are counted in the new one */
	if (moved && (rc = mbr_agg_rebuild(db)) < 0) {
		mbr_rollback(db);
		status = cli_db_error(&cli, db, rc);
		goto out;
	}
	if (cli.dry_run)
		mbr_rollback(db);
	else if ((rc = mbr_batch_finish(db, batch, n, 0, 0)) < 0 || (rc = mbr_commit(db)) < 0) {
		mbr_rollback(db);
		status = cli_db_error(&cli, db, rc);
		goto out;
	}
	if (!cli.quiet)
		cli_warn(&cli, "%s%s: %ld products loaded%s", cli.dry_run ? "dry run, nothing written: " : "", path, n,
			 moved ? "; category figures of earlier sales restated" : "");
out:
	mbr_reader_close(rd);
	mbr_buf_release(&err);
	mbr_db_close(db);
	return status;
}

static int undo(const char *batchtext)
{
	struct mbr_db *db;
	int64_t batch;
	long receipts = 0;
	int rc, status = MBR_EXIT_OK;

	db = cli_open(&cli, MBR_OPEN_RW);
	cli_require(&cli, db, MBR_ROLE_MANAGER, "undoing a batch");
	if ((rc = mbr_batch_find(db, batchtext, &batch)) < 0 || (rc = mbr_begin(db)) < 0) {
		status = cli_db_error(&cli, db, rc);
		mbr_db_close(db);
		return status;
	}
	rc = mbr_sale_undo(db, batch, &receipts);
	if (rc < 0) {
		mbr_rollback(db);
		status = cli_db_error(&cli, db, rc);
	} else if (cli.dry_run) {
		mbr_rollback(db);
	} else if ((rc = mbr_commit(db)) < 0) {
		status = cli_db_error(&cli, db, rc);
	}
	if (status == MBR_EXIT_OK && !cli.quiet)
		cli_warn(&cli, "%sbatch %lld undone: %ld receipts removed", cli.dry_run ? "dry run: " : "", (long long)batch,
			 receipts);
	mbr_db_close(db);
	return status;
}

/* ------------------------------------------------------------ the till */

static int print_count_card(const struct mbr_count_card *c, void *p)
{
	(void)p;
	if (!strcmp(c->state, "active") && c->uses_left > 0)
		fprintf(stderr, "  count card %s: %lld uses of %s left\n", c->uid, (long long)c->uses_left, c->sku);
	return 0;
}

static int print_coupon(const char *code, const char *campaign, void *p)
{
	(void)p;
	fprintf(stderr, "  coupon %s (%s)\n", code, campaign);
	return 0;
}

struct till_line {
	char sku[64];
	int64_t qty, price, discount;
	int64_t card_off;	/* paid with count-card uses */
};

/* Does text name payment methods as the till takes them ("card:50;cash")? */
static int payment_ok(const char *text)
{
	char buf[256], *p = buf, *item;

	if (strlen(text) >= sizeof(buf))
		return 0;
	snprintf(buf, sizeof(buf), "%s", text);
	while ((item = strsep(&p, ";")) != NULL) {
		char *colon = strchr(item, ':'), *eq = strchr(item, '=');

		if (colon)
			*colon = '\0';
		if (eq)			/* gift_card=CODE */
			*eq = '\0';
		if (*item && (!mbr_payment_method_valid(item) || !strcmp(item, "points")))
			return 0;
	}
	return 1;
}

/* Ask until the answer is acceptable; 0 at end of input. */
static int ask(const char *prompt, const char *const *words, struct mbr_buf *line)
{
	return cli_readline(prompt, words, line);
}

/* One sale of the till, as the import engine sees it. */
struct till_sale {
	const char *store, *receipt, *ts, *member, *pay, *coupon;
	const struct till_line *items;
	int n;
	int commit;	/* 0: price it through the engine and roll back */
};

/*
 * Run the sale through the same engine as imports, in a transaction that
 * is committed only when t->commit: the till shows what will be recorded
 * (total after every discount, points) from the engine itself.  Returns
 * 0, 1 (refused; the reasons are shown) or < 0.
 */
static int till_sale(struct mbr_db *db, const struct till_sale *t, struct mbr_sale_stats *stats)
{
	struct mbr_sale_opts so;
	struct mbr_sale_import *si = NULL;
	struct import im = { NULL, 0, 0 };
	int exp = mbr_db_exponent(db), i, rc;

	memset(&so, 0, sizeof(so));
	so.store = t->store;
	so.error = on_error;
	so.ctx = &im;
	rc = mbr_begin(db);
	if (rc == 0)
		rc = mbr_sale_import_begin(db, &so, "till", &si);
	for (i = 0; i < t->n && rc == 0; i++) {
		const char *v[MBR_S_COUNT] = { 0 };
		char qty[24], price[MBR_MONEY_BUFSZ], disc[MBR_MONEY_BUFSZ];

		snprintf(qty, sizeof(qty), "%lld", (long long)t->items[i].qty);
		v[MBR_S_STORE] = t->store;
		v[MBR_S_RECEIPT] = t->receipt;
		v[MBR_S_TS] = t->ts;
		v[MBR_S_MEMBER] = t->member;
		v[MBR_S_SKU] = t->items[i].sku;
		v[MBR_S_QTY] = qty;
		v[MBR_S_UNIT_PRICE] = mbr_money_format(t->items[i].price, exp, price);
		v[MBR_S_DISCOUNT] = mbr_money_format(t->items[i].discount, exp, disc);
		v[MBR_S_PAYMENT] = t->pay;
		v[MBR_S_COUPON] = t->coupon;
		rc = mbr_sale_line(si, v, "till", i + 1, NULL, 0);
	}
	if (rc == 0)
		rc = mbr_sale_import_end(si, stats);
	mbr_sale_import_free(si);
	if (rc < 0 || im.errors || !t->commit) {
		mbr_rollback(db);
		return rc < 0 ? rc : im.errors ? 1 : 0;
	}
	return mbr_commit(db);
}

/*
 * The interactive cashier: member, items, coupon, points, payment,
 * confirmation.  Nothing is written before the sale is confirmed; end of
 * input or Ctrl-C at any prompt leaves the database as it was.  The sale
 * then goes through the same engine as imports.
 */
static int till(void)
{
	struct mbr_buf line = MBR_BUF_INIT, prompt = MBR_BUF_INIT;
	struct cli_words skus = { NULL, 0, 0 };
	struct mbr_db *db = cli_open(&cli, MBR_OPEN_RW);
	struct mbr_rules_set rs;
	int exp = mbr_db_exponent(db), status = MBR_EXIT_OK, seq = 0;
	const char *st = store ? store : mbr_db_store(db);
	char a[MBR_MONEY_BUFSZ], b[MBR_MONEY_BUFSZ], prompt_money[MBR_MONEY_BUFSZ];

	cli_require(&cli, db, MBR_ROLE_CASHIER, "the cashier");
	mbr_products_each(db, cli_words_add, &skus);
	if (mbr_rules_set_load(db, &rs) < 0) {
		status = cli_db_error(&cli, db, MBR_EDB);
		goto out;
	}
	if (cli_interactive())
		fprintf(stderr, "mbr-sale at store %s; Tab completes SKUs; Ctrl-D or Ctrl-C cancels the sale.\n", st);
	for (;;) {
		struct till_line items[200];
		struct mbr_member m;
		struct mbr_coupon k;
		const struct mbr_rules *r = mbr_rules_at(&rs, mbr_local_day(mbr_now()));
		const struct mbr_tier *tier = NULL;
		char used[MBR_CODE_SZ] = "", pay[256] = "cash", receipt[64], now[MBR_TIME_BUFSZ];
		int64_t subtotal = 0, tier_off = 0, coupon_off = 0, points_money = 0, due;
		int n = 0, have_member = 0, i, rc;
		struct till_sale sale;
		struct mbr_sale_stats stats;

		/* member */
		for (;;) {
			if (!ask("member (card or phone; empty for none): ", NULL, &line))
				goto out;
			if (!line.len)
				break;
			if (mbr_member_get(db, line.buf, &m) == 0 && !strcmp(m.status, "active")) {
				struct mbr_member_view v;

				mbr_member_view(&m, 0, &v);
				have_member = 1;
				tier = mbr_rules_tier(r, m.tier);
				fprintf(stderr, "  %s %s %s tier %s, %lld points\n", m.uid, v.name, v.phone,
					m.tier[0] ? m.tier : "-", (long long)m.points);
				{
					struct mbr_sv_account acct = { m.id, NULL };
					struct mbr_sv sv;

					if (mbr_sv_balance(db, &acct, &sv) == 0 && (sv.principal || sv.bonus))
						fprintf(stderr, "  stored value %s (principal %s, bonus %s)\n",
							mbr_money_format(sv.principal + sv.bonus, exp, a),
							mbr_money_format(sv.principal, exp, b),
							mbr_money_format(sv.bonus, exp, prompt_money));
				}
				mbr_count_each(db, m.id, print_count_card, NULL);
				mbr_coupons_of_member(db, m.id, print_coupon, NULL);
				break;
			}
			fprintf(stderr, "  %s\n", mbr_db_errmsg(db)[0] && strcmp(mbr_db_errmsg(db), "no error") &&
				strncmp(mbr_db_errmsg(db), "no member", 9) ? mbr_db_errmsg(db) : "no such active member");
		}
		/* items */
		for (;;) {
			struct mbr_product p;
			struct till_line *l = &items[n];
			int64_t amount;

			if (!ask("sku (empty to finish): ", skus.w, &line))
				goto out;
			if (!line.len)
				break;
			if (n == (int)(sizeof(items) / sizeof(items[0]))) {
				fprintf(stderr, "  at most %d lines\n", n);
				break;
			}
			if (mbr_product_get(db, line.buf, &p) < 0) {
				fprintf(stderr, "  unknown SKU '%s'\n", line.buf);
				continue;
			}
			snprintf(l->sku, sizeof(l->sku), "%s", p.sku);
			for (;;) {
				if (!ask("qty [1]: ", NULL, &line))
					goto out;
				l->qty = line.len ? strtoll(line.buf, NULL, 10) : 1;
				if (l->qty != 0 && l->qty > -10000 && l->qty < 10000)
					break;
				fprintf(stderr, "  a quantity is a whole number, not 0\n");
			}
			mbr_buf_reset(&prompt);
			if (p.price >= 0)
				mbr_buf_addf(&prompt, "price [%s]: ", mbr_money_format(p.price, exp, a));
			else
				mbr_buf_adds(&prompt, "price: ");
			for (;;) {
				if (!ask(prompt.buf, NULL, &line))
					goto out;
				if (!line.len && p.price >= 0) {
					l->price = p.price;
					break;
				}
				if (mbr_money_parse(line.buf, exp, &l->price) == 0 && l->price >= 0)
					break;
				fprintf(stderr, "  '%s' is not an amount\n", line.buf);
			}
			amount = l->qty * l->price;
			l->discount = l->card_off = 0;
			if (have_member && l->qty > 0) {
				int64_t avail = 0, uses;
				int j;

				mbr_count_available(db, m.id, l->sku, mbr_now(), &avail);
				for (j = 0; j < n; j++)
					if (!strcmp(items[j].sku, l->sku) && items[j].price)
						avail -= items[j].card_off / items[j].price;
				uses = avail > 0 ? (l->qty < avail ? l->qty : avail) : 0;
				l->card_off = uses * l->price;
				if (uses)
					fprintf(stderr, "  %lld paid with count-card uses\n", (long long)uses);
			}
			/* the engine takes the uses off again on import: only shown here */
			subtotal += amount - l->card_off;
			fprintf(stderr, "  %s %s x %lld = %s\n", p.name, mbr_money_format(l->price, exp, a),
				(long long)l->qty, mbr_money_format(amount - l->card_off, exp, b));
			n++;
		}
		if (n == 0) {
			fprintf(stderr, "no items: nothing recorded\n");
			continue;
		}
		/* coupon */
		for (;;) {
			struct mbr_coupon_use u;

			if (!ask("coupon (empty for none): ", NULL, &line))
				goto out;
			if (!line.len)
				break;
			memset(&u, 0, sizeof(u));
			u.member = have_member ? m.id : 0;
			u.store = st;
			u.has_amount = 1;
			u.amount = subtotal;
			if (mbr_coupon_check(db, line.buf, &u, &k) == 0) {
				snprintf(used, sizeof(used), "%s", k.code);
				coupon_off = k.discount;
				fprintf(stderr, "  coupon %s: %s off%s%s\n", k.code, mbr_money_format(k.discount, exp, a),
					k.gift_sku[0] ? ", gift " : "", k.gift_sku);
				break;
			}
			fprintf(stderr, "  coupon refused: %s\n", mbr_db_errmsg(db));
		}
		/* the tier discount, unless the coupon does not stack with it */
		if (tier && tier->discount_bp && (!used[0] || strcmp(k.stack, "none"))) {
			for (i = 0; i < n; i++) {
				int64_t amt = items[i].qty * items[i].price - items[i].card_off;
				int64_t off = amt > 0 ? (int64_t)((__int128)amt * tier->discount_bp / 10000) : 0;

				items[i].discount = off;
				tier_off += off;
			}
			fprintf(stderr, "  tier %s discount: %s\n", tier->code, mbr_money_format(tier_off, exp, a));
		}
		/* what is due, as the engine will record it (coupons on
		 * categories, after the tier discount, count-card uses) */
		mbr_time_format(mbr_now(), now);
		snprintf(receipt, sizeof(receipt), "T%.4s%.2s%.2s%.2s%.2s%.2s-%d-%d", now, now + 5, now + 8, now + 11,
			 now + 14, now + 17, (int)getpid() % 100000, ++seq);
		memset(&sale, 0, sizeof(sale));
		sale.store = st;
		sale.receipt = receipt;
		sale.ts = now;
		sale.member = have_member ? m.uid : NULL;
		sale.pay = "cash";
		sale.coupon = used[0] ? used : NULL;
		sale.items = items;
		sale.n = n;
		if ((rc = till_sale(db, &sale, &stats)) < 0) {
			status = cli_db_error(&cli, db, rc);
			goto out;
		}
		if (rc > 0) {
			fprintf(stderr, "sale refused: nothing recorded\n");
			continue;
		}
		due = stats.last_total;
		if (due != subtotal - tier_off - coupon_off)
			fprintf(stderr, "  due after every discount: %s\n", mbr_money_format(due, exp, a));
		/* points */
		if (have_member && m.points > 0 && due > 0) {
			int64_t max = (int64_t)((__int128)m.points * r->redeem_value / r->redeem_points);

			if (max > due)
				max = due;
			mbr_buf_reset(&prompt);
			mbr_buf_addf(&prompt, "pay with points, amount up to %s [0]: ", mbr_money_format(max, exp, a));
			for (;;) {
				if (!ask(prompt.buf, NULL, &line))
					goto out;
				if (!line.len) {
					points_money = 0;
					break;
				}
				if (mbr_money_parse(line.buf, exp, &points_money) == 0 && points_money >= 0 && points_money <= max)
					break;
				fprintf(stderr, "  an amount from 0 to %s\n", a);
			}
		}
		/* payment */
		mbr_buf_reset(&prompt);
		mbr_buf_addf(&prompt, "payment of %s [cash] (cash card wechat alipay stored_value gift_card=CODE other;"
			     " split as card:50;cash): ",
			     mbr_money_format(due - points_money, exp, a));
		for (;;) {
			static const char *const methods[] = { "cash", "card", "wechat", "alipay", "stored_value", "gift_card=",
							       "other", NULL };

			if (!ask(prompt.buf, methods, &line))
				goto out;
			if (payment_ok(line.buf))
				break;
			fprintf(stderr, "  '%s' is not a payment (cash, card, wechat, alipay, stored_value, gift_card=CODE,"
				" other; split as card:50;cash)\n",
				line.buf);
		}
		if (points_money)
			snprintf(pay, sizeof(pay), "points:%s;%s", mbr_money_format(points_money, exp, b),
				 line.len ? line.buf : "cash");
		else
			snprintf(pay, sizeof(pay), "%s", line.len ? line.buf : "cash");
		fprintf(stderr, "total %s, to pay %s (%s)\n", mbr_money_format(due, exp, a),
			mbr_money_format(due - points_money, exp, b), pay);
		if (!ask("confirm sale? [y/N] ", NULL, &line))
			goto out;
		if (line.buf[0] != 'y' && line.buf[0] != 'Y') {
			fprintf(stderr, "cancelled: nothing recorded\n");
			continue;
		}
		/* write it */
		mbr_time_format(mbr_now(), now);
		sale.ts = now;
		sale.pay = pay;
		sale.commit = !cli.dry_run;
		if ((rc = till_sale(db, &sale, &stats)) < 0) {
			status = cli_db_error(&cli, db, rc);
			goto out;
		}
		if (rc > 0) {
			fprintf(stderr, "sale refused: nothing recorded\n");
			continue;
		}
		mbr_money_format(stats.last_total, exp, a);
		if (cli.dry_run) {
			fprintf(stderr, "dry run: %s/%s not recorded: total %s, points %+lld\n", st, receipt, a,
				(long long)stats.last_points);
			continue;
		}
		printf("%s,%s,%s,%lld\n", st, receipt, a, (long long)stats.last_points);
		fflush(stdout);
		fprintf(stderr, "recorded %s/%s (batch %lld): total %s, points %+lld\n", st, receipt, (long long)stats.batch, a,
			(long long)stats.last_points);
	}
out:
	if (cli_interactive())
		fputc('\n', stderr);
	mbr_rules_set_free(&rs);
	cli_words_free(&skus);
	mbr_buf_release(&line);
	mbr_buf_release(&prompt);
	mbr_db_close(db);
	return status;
}

int main(int argc, char *argv[])
{
	const char *cmd;
	int opt, nargs, interactive = 0;
	char **args;

	cli_init(&cli, "mbr-sale", usage);
	while ((opt = getopt_long(argc, argv, shortopts, options, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_MAP: map = optarg; break;
		case OPT_TIME_FORMAT: time_format = optarg; break;
		case OPT_STORE: store = optarg; break;
		case OPT_TS: ts = optarg; break;
		case OPT_MEMBER: member = optarg; break;
		case OPT_PAYMENT: payment = optarg; break;
		case OPT_ORIGINAL: original = optarg; break;
		case OPT_COUPON: coupon = optarg; break;
		case 'i': interactive = 1; break;
		default: cli_usage_error(&cli, NULL);
		}
	}
	cli_check_options(&cli, argc, argv, optind, shortopts, options);
	if (cli.rejects && !cli.skip_bad)
		cli_usage_error(&cli, "--rejects needs --skip-bad");
	if (interactive) {
		if (optind < argc)
			cli_usage_error(&cli, "-i takes no command");
		return cli_close_stdout(&cli, till());
	}
	if (optind >= argc)
		cli_usage_error(&cli, "missing command");
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;
	if (!strcmp(cmd, "import")) {
		if (nargs > 1)
			cli_usage_error(&cli, "one input file at a time");
		return cli_close_stdout(&cli, import(nargs ? args[0] : "-"));
	}
	if (!strcmp(cmd, "add")) {
		if (nargs < 1)
			cli_usage_error(&cli, "add needs a receipt number");
		return cli_close_stdout(&cli, add(args[0], nargs - 1, args + 1));
	}
	if (!strcmp(cmd, "products")) {
		if (nargs > 1)
			cli_usage_error(&cli, "one input file at a time");
		return cli_close_stdout(&cli, products(nargs ? args[0] : "-"));
	}
	if (!strcmp(cmd, "undo")) {
		if (nargs != 1)
			cli_usage_error(&cli, "undo takes one batch number");
		return cli_close_stdout(&cli, undo(args[0]));
	}
	cli_usage_error(&cli, "unknown command '%s'", cmd);
}
