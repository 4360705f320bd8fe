/*
 * csvdump - test tool: read a CSV/TSV file through the library's reader,
 * taking every header column as is, and write each record as a JSON line
 * keyed by the header names.  Used to check the reader against corpora.
 *
 * usage: csvdump [-e encoding] file
 * Exit status: 0; 2 usage; the library's status for a reader error (3 for
 * bad data, 4 for an unreadable file), with "csvdump: message" on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mbr.h"
#include "banned.h"

static void usage(void)
{
	fputs("usage: csvdump [-e encoding] file\n", stderr);
	exit(MBR_EXIT_USAGE);
}

int main(int argc, char *argv[])
{
	struct mbr_reader_opts ro = { 0 };
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_reader *r;
	struct mbr_row *row;
	struct mbr_out *out;
	struct mbr_col *cols;
	const char *const *hdr;
	size_t n, i;
	int c, rc, status = MBR_EXIT_OK;

	while ((c = getopt(argc, argv, "e:")) != -1) {
		switch (c) {
		case 'e':
			ro.encoding = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	if ((rc = mbr_reader_open(&r, argv[optind], NULL, 0, &ro, &err)) < 0) {
		fprintf(stderr, "csvdump: %s\n", err.buf);
		mbr_buf_release(&err);
		return mbr_exit_status(rc);
	}
	hdr = mbr_reader_header(r, &n);
	if (!(cols = calloc(n + 1, sizeof(*cols))))
		abort();
	for (i = 0; i < n; i++)
		cols[i].name = hdr[i];
	out = mbr_out_new(stdout, MBR_FMT_JSON, 0, cols, n);
	while ((rc = mbr_reader_next(r, &row, &err)) != 0) {
		if (rc < 0) {
			fprintf(stderr, "csvdump: %s\n", err.buf);
			status = mbr_exit_status(rc);
			break;
		}
		mbr_out_row(out, row->val);
	}
	if (mbr_out_end(out) < 0 || fclose(stdout) != 0) {
		fputs("csvdump: write error\n", stderr);
		status = MBR_EXIT_DB;
	}
	mbr_reader_close(r);
	free(cols);
	mbr_buf_release(&err);
	return status;
}
