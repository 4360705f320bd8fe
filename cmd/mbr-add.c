/*
 * mbr-add - enrol members: many from CSV/TSV (one transaction, all or
 * nothing unless --skip-bad), one from flags, or through an interactive
 * form.  --update turns adding into upserting by member_no, else phone.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "banned.h"

static const char usage[] =
	"usage: mbr-add [-nq] [-d file] [--operator name] [--encoding enc] [--update]\n"
	"               [--skip-bad] [--rejects file] [--ignore-unknown] [file | -]\n"
	"       mbr-add [-nq] [-d file] [--operator name] [--update] [--member-no no]\n"
	"               [--name name] [--phone phone] [--email email] [--birthday date]\n"
	"               [--gender M|F] [--tier code] [--store code] [--note text]\n"
	"       mbr-add [-n] [-d file] [--operator name] -i\n";

enum { OPT_UPDATE = CLI_OPT_NEXT, OPT_FIELD };

/* --member-no ... --note set member fields; their val is OPT_FIELD + field. */
static const char shortopts[] = "d:hinq";

static const struct option options[] = {
	{ "birthday", required_argument, NULL, OPT_FIELD + MBR_F_BIRTHDAY },
	{ "dry-run", no_argument, NULL, CLI_OPT_DRY_RUN },
	{ "email", required_argument, NULL, OPT_FIELD + MBR_F_EMAIL },
	{ "encoding", required_argument, NULL, CLI_OPT_ENCODING },
	{ "gender", required_argument, NULL, OPT_FIELD + MBR_F_GENDER },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ "ignore-unknown", no_argument, NULL, CLI_OPT_IGNORE_UNKNOWN },
	{ "interactive", no_argument, NULL, 'i' },
	{ "member-no", required_argument, NULL, OPT_FIELD + MBR_F_MEMBER_NO },
	{ "name", required_argument, NULL, OPT_FIELD + MBR_F_NAME },
	{ "note", required_argument, NULL, OPT_FIELD + MBR_F_NOTE },
	{ "operator", required_argument, NULL, CLI_OPT_OPERATOR },
	{ "phone", required_argument, NULL, OPT_FIELD + MBR_F_PHONE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "rejects", required_argument, NULL, CLI_OPT_REJECTS },
	{ "skip-bad", no_argument, NULL, CLI_OPT_SKIP_BAD },
	{ "store", required_argument, NULL, OPT_FIELD + MBR_F_STORE },
	{ "tier", required_argument, NULL, OPT_FIELD + MBR_F_TIER },
	{ "update", no_argument, NULL, OPT_UPDATE },
	{ "version", no_argument, NULL, CLI_OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

#define MAX_SHOWN_ERRORS 50

static struct mbr_cli cli;
static int update;

/* Add or upsert one member; *updated says which happened. */
static int save(struct mbr_db *db, struct mbr_member *m, int64_t batch, int *updated)
{
	*updated = 0;
	return update ? mbr_member_upsert(db, m, batch, updated) : mbr_member_add(db, m, batch);
}

/* ------------------------------------------------------------- import */

struct import {
	struct mbr_db *db;
	struct mbr_reader *rd;
	struct cli_rejects *rejects;
	struct mbr_buf err, why;
	int64_t batch;		/* rows carry it; the batch is audited once */
	long added, updated, errors;
};

/* Report a bad record: to the rejects file with --skip-bad, else on stderr. */
static int reject(struct import *im, const struct mbr_row *row, const char *msg)
{
	im->errors++;
	if (cli.skip_bad ? !cli.quiet : im->errors <= MAX_SHOWN_ERRORS)
		cli_warn(&cli, "%s", msg);
	if (im->errors == MAX_SHOWN_ERRORS + 1 && !cli.skip_bad)
		cli_warn(&cli, "more errors follow; only the first %d are shown", MAX_SHOWN_ERRORS);
	if (!row)
		return 0;
	return cli_rejects_row(im->rejects, row->raw, row->nraw, msg);
}

/* Files this large (~100k members) enrol in bulk: see mbr_member_bulk_begin. */
#define BULK_BYTES (8L * 1024 * 1024)

static int large_file(const char *path)
{
	struct stat st;

	return strcmp(path, "-") && stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= BULK_BYTES;
}

static const char *bulk_path;

/* A duplicate found at the end of a bulk enrolment: "N: phone: ..." */
static void bulk_duplicate(const char *msg, void *p)
{
	struct import *im = p;
	struct mbr_buf b = MBR_BUF_INIT;

	mbr_buf_addf(&b, "%s:%s", bulk_path, msg);
	reject(im, NULL, b.buf);
	mbr_buf_release(&b);
}

/* Import one record; *upd is set when it updated a member.  Returns 0,
 * 1 when the record was bad (and rejected), or < 0 to stop the import. */
static int import_row(struct import *im, const struct mbr_row *row, int *upd)
{
	struct mbr_member m;
	int f, rc;

	*upd = 0;
	mbr_member_clear(&m);
	m.line = row->line;
	for (f = 0; f < MBR_F_COUNT; f++) {
		if (!row->val[f])
			continue;
		rc = mbr_member_set_field(im->db, &m, (enum mbr_member_field)f, row->val[f], &im->why);
		if (rc == MBR_EINVAL) {
			mbr_row_error(&im->err, im->rd, row, f, "%s", im->why.buf);
			rc = reject(im, row, im->err.buf);
			return rc < 0 ? rc : 1;
		}
		if (rc < 0)
			return rc;
	}
	return save(im->db, &m, im->batch, upd);
}

static int import_file(const char *path)
{
	struct mbr_reader_opts ro;
	struct import im;
	struct mbr_row *row;
	int64_t batch = 0;
	int rc, status = MBR_EXIT_OK, upd, bulk = 0;

	memset(&im, 0, sizeof(im));
	mbr_buf_init(&im.err);
	mbr_buf_init(&im.why);
	cli_reader_opts(&cli, &ro);
	im.db = cli_open(&cli, MBR_OPEN_RW);
	cli_require(&cli, im.db, MBR_ROLE_MANAGER, "importing members");

	rc = mbr_reader_open(&im.rd, path, mbr_member_cols, MBR_F_COUNT, &ro, &im.err);
	if (rc < 0) {
		cli_warn(&cli, "%s", im.err.buf);
		status = mbr_exit_status(rc);
		goto out;
	}
	if (!mbr_reader_has(im.rd, MBR_F_MEMBER_NO) && !mbr_reader_has(im.rd, MBR_F_PHONE)) {
		cli_warn(&cli, "%s:1: header: needs a member_no or a phone column", path);
		status = MBR_EXIT_DATA;
		goto out;
	}
	im.rejects = cli_rejects_open(&cli, im.rd);
	if ((rc = mbr_begin_bulk(im.db)) < 0 || (rc = mbr_batch_start(im.db, "members", path, &batch)) < 0) {
		status = cli_db_error(&cli, im.db, rc);
		goto out;
	}
	im.batch = batch;
	/* Large all-or-nothing enrolments check duplicates once, at the end. */
	if (!update && !cli.skip_bad && large_file(path)) {
		if ((rc = mbr_member_bulk_begin(im.db)) < 0) {
			mbr_rollback(im.db);
			status = cli_db_error(&cli, im.db, rc);
			goto out;
		}
		bulk = 1;
	}
	for (;;) {
		rc = mbr_reader_next(im.rd, &row, &im.err);
		if (rc == 0)
			break;
		if (rc == MBR_EINVAL) {
			if ((rc = reject(&im, row, im.err.buf)) < 0)
				break;
			continue;
		}
		if (rc < 0) {
			cli_warn(&cli, "%s", im.err.buf);
			break;
		}
		rc = import_row(&im, row, &upd);
		if (rc == 1)
			continue;
		if (rc == MBR_EEXIST || rc == MBR_EINVAL) {
			mbr_row_error(&im.err, im.rd, row, -1, "%s", mbr_db_errmsg(im.db));
			if ((rc = reject(&im, row, im.err.buf)) < 0)
				break;
			continue;
		}
		if (rc < 0) {
			cli_warn(&cli, "%s", mbr_db_errmsg(im.db));
			break;
		}
		if (upd)
			im.updated++;
		else
			im.added++;
		cli_progress(&cli, "members", im.added + im.updated);
	}
	cli_progress_done(&cli);
	if (rc == 0 && bulk && !im.errors) {
		long dups;

		bulk_path = path;
		rc = mbr_member_bulk_end(im.db, bulk_duplicate, &im, &dups);
		if (rc == MBR_EEXIST)
			rc = 0;		/* counted in im.errors */
		else if (rc < 0)
			cli_warn(&cli, "%s", mbr_db_errmsg(im.db));
	}
	if (rc < 0) {
		mbr_rollback(im.db);
		status = mbr_exit_status(rc);
		cli_warn(&cli, "nothing imported");
		goto out;
	}
	if (im.errors && !cli.skip_bad) {
		mbr_rollback(im.db);
		cli_warn(&cli, "%ld bad record%s; nothing imported", im.errors, im.errors == 1 ? "" : "s");
		status = MBR_EXIT_DATA;
		goto out;
	}
	if (cli.dry_run) {
		mbr_rollback(im.db);
	} else if ((rc = mbr_batch_finish(im.db, batch, im.added, im.updated, im.errors)) < 0 ||
		   (rc = mbr_commit(im.db)) < 0) {
		mbr_rollback(im.db);
		status = cli_db_error(&cli, im.db, rc);
		goto out;
	}
	if (!cli.quiet)
		cli_warn(&cli, "%s%s: batch %lld: %ld added, %ld updated, %ld rejected",
			 cli.dry_run ? "dry run, nothing written: " : "", path, (long long)batch,
			 im.added, im.updated, im.errors);
	status = im.errors ? MBR_EXIT_REJECTED : MBR_EXIT_OK;
out:
	status = cli_rejects_close(&cli, im.rejects, status);
	mbr_reader_close(im.rd);
	mbr_buf_release(&im.err);
	mbr_buf_release(&im.why);
	mbr_db_close(im.db);
	return status;
}

/* ------------------------------------------------------------- one member */

/* Add m in a transaction of its own; prints the uid on stdout. */
static int add_one(struct mbr_db *db, struct mbr_member *m)
{
	int rc, upd = 0;

	if ((rc = mbr_begin(db)) < 0)
		return cli_db_error(&cli, db, rc);
	rc = save(db, m, 0, &upd);
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
	printf("%s\n", m->uid);
	if (!cli.quiet)
		cli_warn(&cli, "%s member %s", upd ? "updated" : "added", m->uid);
	return MBR_EXIT_OK;
}

static int add_from_flags(const char *values[MBR_F_COUNT])
{
	struct mbr_buf why = MBR_BUF_INIT;
	struct mbr_member m;
	struct mbr_db *db = cli_open(&cli, MBR_OPEN_RW);
	int f, rc, status;

	cli_require(&cli, db, MBR_ROLE_CASHIER, "adding a member");
	mbr_member_clear(&m);
	for (f = 0; f < MBR_F_COUNT; f++) {
		if (!values[f])
			continue;
		rc = mbr_member_set_field(db, &m, (enum mbr_member_field)f, values[f], &why);
		if (rc < 0) {
			cli_warn(&cli, "--%s: %s", f == MBR_F_MEMBER_NO ? "member-no" : mbr_member_cols[f].name, why.buf);
			mbr_buf_release(&why);
			mbr_db_close(db);
			return mbr_exit_status(rc);
		}
	}
	mbr_buf_release(&why);
	status = add_one(db, &m);
	mbr_db_close(db);
	return status;
}

/* ------------------------------------------------------------- the form */

static const char *const form_prompts[MBR_F_COUNT] = {
	[MBR_F_MEMBER_NO] = "member number (会员卡号)",
	[MBR_F_NAME] = "name (姓名)",
	[MBR_F_PHONE] = "phone (手机号)",
	[MBR_F_EMAIL] = "email (邮箱)",
	[MBR_F_BIRTHDAY] = "birthday YYYY-MM-DD (生日)",
	[MBR_F_GENDER] = "gender M/F (性别)",
	[MBR_F_TIER] = "tier (等级)",
	[MBR_F_STORE] = "store (门店)",
	[MBR_F_NOTE] = "note (备注)",
};

/*
 * Ask for one field until its value is valid (an empty answer leaves it
 * empty).  Returns 0, or -1 at end of input.
 */
static int ask(struct mbr_db *db, struct mbr_member *m, enum mbr_member_field f, const char *const *words,
	       struct mbr_buf *line, struct mbr_buf *why)
{
	struct mbr_buf prompt = MBR_BUF_INIT;
	int ok = -1;

	mbr_buf_addf(&prompt, "%s: ", form_prompts[f]);
	while (cli_readline(prompt.buf, words, line)) {
		if (mbr_member_set_field(db, m, f, line->buf, why) == 0) {
			ok = 0;
			break;
		}
		fprintf(stderr, "  %s\n", why->buf);
	}
	mbr_buf_release(&prompt);
	return ok;
}

static int form(void)
{
	struct mbr_buf line = MBR_BUF_INIT, why = MBR_BUF_INIT;
	struct cli_words tiers = { 0 }, stores = { 0 };
	struct mbr_db *db = cli_open(&cli, MBR_OPEN_RW);
	struct mbr_member m;
	int status = MBR_EXIT_OK, f;

	cli_require(&cli, db, MBR_ROLE_CASHIER, "adding a member");
	mbr_tiers_each(db, cli_words_add, &tiers);
	mbr_stores_each(db, cli_words_add, &stores);
	if (cli_interactive())
		fprintf(stderr, "New member; Tab completes tier and store codes; Ctrl-D at the first field ends.\n");
	for (;;) {
		mbr_member_clear(&m);
		for (f = 0; f < MBR_F_COUNT; f++) {
			const char *const *w = f == MBR_F_TIER ? tiers.w : f == MBR_F_STORE ? stores.w : NULL;

			if (ask(db, &m, (enum mbr_member_field)f, w, &line, &why) < 0)
				goto done;
			if (f == MBR_F_PHONE && !m.member_no[0] && !m.phone[0]) {
				fprintf(stderr, "  a member needs a member number or a phone\n");
				f--;
			}
		}
		if (!cli_readline("add this member? [y/N] ", NULL, &line))
			goto done;
		if (line.buf[0] != 'y' && line.buf[0] != 'Y') {
			fprintf(stderr, "not added\n");
			continue;
		}
		if ((status = add_one(db, &m)) != MBR_EXIT_OK && status != MBR_EXIT_DATA)
			break;
		fflush(stdout);
	}
done:
	if (cli_interactive())
		fputc('\n', stderr);
	cli_words_free(&tiers);
	cli_words_free(&stores);
	mbr_buf_release(&line);
	mbr_buf_release(&why);
	mbr_db_close(db);
	return status;
}

int main(int argc, char *argv[])
{
	const char *values[MBR_F_COUNT] = { 0 };
	int opt, interactive = 0, have_fields = 0;

	cli_init(&cli, "mbr-add", usage);
	while ((opt = getopt_long(argc, argv, shortopts, options, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		if (opt >= OPT_FIELD && opt < OPT_FIELD + MBR_F_COUNT) {
			values[opt - OPT_FIELD] = optarg;
			have_fields = 1;
			continue;
		}
		switch (opt) {
		case 'i': interactive = 1; break;
		case OPT_UPDATE: update = 1; break;
		default: cli_usage_error(&cli, NULL);
		}
	}
	cli_check_options(&cli, argc, argv, optind, shortopts, options);
	if (cli.rejects && !cli.skip_bad)
		cli_usage_error(&cli, "--rejects needs --skip-bad");
	if (interactive) {
		if (have_fields || optind < argc)
			cli_usage_error(&cli, "-i takes no field options or files");
		return cli_close_stdout(&cli, form());
	}
	if (have_fields) {
		if (optind < argc)
			cli_usage_error(&cli, "field options and a file do not go together");
		return cli_close_stdout(&cli, add_from_flags(values));
	}
	if (argc - optind > 1)
		cli_usage_error(&cli, "one input file at a time");
	return cli_close_stdout(&cli, import_file(optind < argc ? argv[optind] : "-"));
}
