/*
 * test_out.c - unit tests for lib/out.c: CSV, TSV, JSON lines and table
 * output, Excel mode, format names and display widths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mbr.h"
#include "banned.h"

static const struct mbr_col cols[] = {
	{ "name", NULL, 0 },
	{ "points", NULL, MBR_COL_NUMBER },
	{ "note", NULL, 0 },
};

/* Write rows (each 3 values) in fmt; returns the output (caller frees). */
static char *render(enum mbr_format fmt, int excel, const char *const (*rows)[3], size_t nrows)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&text, &len);
	struct mbr_out *o;

	assert_non_null(fp);
	o = mbr_out_new(fp, fmt, excel, cols, 3);
	assert_non_null(o);
	for (i = 0; i < nrows; i++)
		assert_int_equal(mbr_out_row(o, rows[i]), 0);
	assert_int_equal(mbr_out_end(o), 0);
	fclose(fp);
	return text;
}

static void test_format_parse(void **state)
{
	enum mbr_format f = MBR_FMT_AUTO;

	(void)state;
	assert_int_equal(mbr_format_parse("table", &f), 0);
	assert_int_equal(f, MBR_FMT_TABLE);
	assert_int_equal(mbr_format_parse("csv", &f), 0);
	assert_int_equal(f, MBR_FMT_CSV);
	assert_int_equal(mbr_format_parse("tsv", &f), 0);
	assert_int_equal(f, MBR_FMT_TSV);
	assert_int_equal(mbr_format_parse("json", &f), 0);
	assert_int_equal(f, MBR_FMT_JSON);
	assert_int_equal(mbr_format_parse("xml", &f), MBR_EINVAL);
	assert_int_equal(mbr_format_parse("", &f), MBR_EINVAL);
}

static void test_csv_quoting(void **state)
{
	const char *const rows[][3] = {
		{ "Ann", "12", "plain" },
		{ "a,b", "-3", "say \"hi\"" },
		{ "two\nlines", NULL, "cr\rhere" },
		{ "=1+2", "+5", " blanks kept " },
		{ "", "", "\"" },
	};
	char *s = render(MBR_FMT_CSV, 0, rows, 5);

	(void)state;
	assert_string_equal(s,
			    "name,points,note\n"
			    "Ann,12,plain\n"
			    "\"a,b\",-3,\"say \"\"hi\"\"\"\n"
			    "\"two\nlines\",,\"cr\rhere\"\n"
			    "=1+2,+5, blanks kept \n"
			    ",,\"\"\"\"\n");
	free(s);
}

static void test_tsv(void **state)
{
	const char *const rows[][3] = {
		{ "a,b", "1", "tab\there" },
		{ "q\"", "2", "x" },
	};
	char *s = render(MBR_FMT_TSV, 0, rows, 2);

	(void)state;
	assert_string_equal(s, "name\tpoints\tnote\na,b\t1\t\"tab\there\"\n\"q\"\"\"\t2\tx\n");
	free(s);
}

/* TSV: a record of blank fields would be a blank line, which readers
 * skip; its first field is quoted (found by fuzz_out). */
static void test_tsv_blank_record(void **state)
{
	const char *const rows[][3] = { { "", NULL, "" }, { " ", "\t", "" }, { "", "1", "" } };
	char *s = render(MBR_FMT_TSV, 0, rows, 3);

	(void)state;
	assert_string_equal(s, "name\tpoints\tnote\n\"\"\t\t\n\" \"\t\"\t\"\t\n\t1\t\n");
	free(s);
	s = render(MBR_FMT_CSV, 0, rows, 1);
	assert_string_equal(s, "name,points,note\n\"\",,\n");
	free(s);
}

static void test_excel(void **state)
{
	const char *const rows[][3] = { { "张三", "1", "x" } };
	char *s = render(MBR_FMT_CSV, 1, rows, 1);

	(void)state;
	assert_string_equal(s, "\xEF\xBB\xBFname,points,note\r\n张三,1,x\r\n");
	free(s);
	s = render(MBR_FMT_TSV, 1, rows, 1);
	assert_string_equal(s, "\xEF\xBB\xBFname\tpoints\tnote\r\n张三\t1\tx\r\n");
	free(s);
	s = render(MBR_FMT_JSON, 1, rows, 1);	/* excel only changes CSV/TSV */
	assert_string_equal(s, "{\"name\":\"张三\",\"points\":1,\"note\":\"x\"}\n");
	free(s);
}

/* --excel: what a spreadsheet would run as a formula is written as text;
 * numbers (a number column, or a value like -12.50) are left alone. */
static void test_excel_formulas(void **state)
{
	const char *const rows[][3] = {
		{ "=1+1", "-5", "+cmd|calc" },
		{ "@SUM(1)", "=1", "-12.50" },
		{ "-", "", "\tx" },
		{ "=a,\"b\"", "7", "a=b" },
	};
	char *s = render(MBR_FMT_CSV, 1, rows, 4);

	(void)state;
	assert_string_equal(s, "\xEF\xBB\xBFname,points,note\r\n"
			       "'=1+1,-5,'+cmd|calc\r\n"
			       "'@SUM(1),=1,-12.50\r\n"
			       "'-,,'\tx\r\n"
			       "\"'=a,\"\"b\"\"\",7,a=b\r\n");
	free(s);
	s = render(MBR_FMT_CSV, 0, rows, 1);	/* plain CSV is byte-exact */
	assert_string_equal(s, "name,points,note\n=1+1,-5,+cmd|calc\n");
	free(s);
}

/* --excel: text made of digits (a phone, member number 00123) is written
 * as ="..." so that Excel keeps it as text instead of 1.38E+10 or 123;
 * numbers and text with anything else are left alone. */
static void test_excel_digits(void **state)
{
	const char *const rows[][3] = {
		{ "13812345678", "13812345678", "00123" },
		{ "0", "007", "12a" },
		{ "", "1", "1.5" },
	};
	char *s = render(MBR_FMT_CSV, 1, rows, 3);

	(void)state;
	assert_string_equal(s, "\xEF\xBB\xBFname,points,note\r\n"
			       "\"=\"\"13812345678\"\"\",13812345678,\"=\"\"00123\"\"\"\r\n"
			       "\"=\"\"0\"\"\",007,12a\r\n"
			       ",1,1.5\r\n");
	free(s);
	s = render(MBR_FMT_TSV, 1, rows, 1);
	assert_string_equal(s, "\xEF\xBB\xBFname\tpoints\tnote\r\n"
			       "\"=\"\"13812345678\"\"\"\t13812345678\t\"=\"\"00123\"\"\"\r\n");
	free(s);
	s = render(MBR_FMT_CSV, 0, rows, 1);	/* plain CSV is byte-exact */
	assert_string_equal(s, "name,points,note\n13812345678,13812345678,00123\n");
	free(s);
}

/* HTML: a page with the title, a bar chart of the chart column (negative
 * bars apart) and the table, every text escaped; no chart without a chart
 * column or with nothing but zeros. */
static void test_html(void **state)
{
	static const struct mbr_col ccols[] = {
		{ "store", NULL, 0 }, { "amount", NULL, MBR_COL_NUMBER | MBR_COL_CHART },
	};
	const char *const rows[][3] = { { "<b>&'\"", "10", "x" }, { "S2", "-5.00", "" } };
	char *text = NULL;
	size_t len = 0, i;
	FILE *fp;
	struct mbr_out *o;
	char *s;

	(void)state;
	fp = open_memstream(&text, &len);
	o = mbr_out_new(fp, MBR_FMT_HTML, 0, ccols, 2);
	mbr_out_title(o, "sales <by> store");
	for (i = 0; i < 2; i++)
		assert_int_equal(mbr_out_row(o, rows[i]), 0);
	assert_int_equal(mbr_out_end(o), 0);
	fclose(fp);
	assert_non_null(strstr(text, "<title>sales &lt;by&gt; store</title>"));
	assert_non_null(strstr(text, "<h1>sales &lt;by&gt; store</h1>"));
	/* 10 is the largest: the whole 480 pixels; -5.00 half, in red */
	assert_non_null(strstr(text, "<rect x=\"160\" y=\"3\" width=\"480\" height=\"14\" fill=\"#4a7ebb\"/>"));
	assert_non_null(strstr(text, "<rect x=\"160\" y=\"23\" width=\"240\" height=\"14\" fill=\"#c0504d\"/>"));
	assert_non_null(strstr(text, "<tr><td>&lt;b&gt;&amp;&#39;&quot;</td><td class=\"n\">10</td></tr>"));
	assert_non_null(strstr(text, "<th>store</th><th class=\"n\">amount</th>"));
	assert_null(strstr(text, "<b>"));
	assert_non_null(strstr(text, "</tbody>\n</table>\n</body>\n</html>\n"));
	free(text);
	/* values that are no finite number draw no bar (found by fuzz_out) */
	text = NULL;
	fp = open_memstream(&text, &len);
	o = mbr_out_new(fp, MBR_FMT_HTML, 0, ccols, 2);
	{
		const char *const odd[][2] = { { "a", "inf" }, { "b", "nan" }, { "c", "2" }, { "d", "1e400" } };

		for (i = 0; i < 4; i++)
			assert_int_equal(mbr_out_row(o, odd[i]), 0);
	}
	assert_int_equal(mbr_out_end(o), 0);
	fclose(fp);
	assert_non_null(strstr(text, "<rect x=\"160\" y=\"3\" width=\"0\""));
	assert_non_null(strstr(text, "<rect x=\"160\" y=\"43\" width=\"480\""));
	assert_non_null(strstr(text, "<rect x=\"160\" y=\"63\" width=\"0\""));
	free(text);
	/* no chart column: a table only */
	s = render(MBR_FMT_HTML, 0, rows, 2);
	assert_null(strstr(s, "<svg"));
	assert_non_null(strstr(s, "<title>mbr</title>"));
	assert_non_null(strstr(s, "<td>x</td>"));
	free(s);
}

static void test_json(void **state)
{
	const char *const rows[][3] = {
		{ "q\"b\\s/", "-12.50", "line\nnext\ttab\x01" },
		{ "会员 😀", "007", NULL },
		{ "bad \xFF byte", "1e5", "" },
		{ "x", "abc", "\x7f" },
		{ "y", "", "z" },
		{ "z", "1.", "0" },
		{ "p", "+10", "+1" },
		{ "q", "+-1", "" },
	};
	char *s = render(MBR_FMT_JSON, 0, rows, 8);

	(void)state;
	assert_string_equal(s,
			    "{\"name\":\"q\\\"b\\\\s/\",\"points\":-12.50,\"note\":\"line\\u000anext\\u0009tab\\u0001\"}\n"
			    "{\"name\":\"会员 😀\",\"points\":\"007\",\"note\":null}\n"
			    "{\"name\":\"bad \\ufffd byte\",\"points\":1e5,\"note\":\"\"}\n"
			    "{\"name\":\"x\",\"points\":\"abc\",\"note\":\"\x7f\"}\n"
			    "{\"name\":\"y\",\"points\":null,\"note\":\"z\"}\n"
			    "{\"name\":\"z\",\"points\":\"1.\",\"note\":\"0\"}\n"
			    "{\"name\":\"p\",\"points\":10,\"note\":\"+1\"}\n"
			    "{\"name\":\"q\",\"points\":\"+-1\",\"note\":\"\"}\n");
	free(s);
}

static void test_table(void **state)
{
	const char *const rows[][3] = {
		{ "张三", "120", "VIP" },
		{ "Bob", "5", "" },
		{ "Zoë", NULL, "two\nlines" },
	};
	char *s = render(MBR_FMT_TABLE, 0, rows, 3);

	(void)state;
	/* 张三 is 4 cells wide; points right-aligned; no trailing blanks */
	assert_string_equal(s,
			    "name  points  note\n"
			    "张三     120  VIP\n"
			    "Bob        5\n"
			    "Zoë           two lines\n");
	free(s);
	s = render(MBR_FMT_TABLE, 1, rows, 0);	/* header only; excel does nothing */
	assert_string_equal(s, "name  points  note\n");
	free(s);
}

static void test_auto_is_csv_off_a_terminal(void **state)
{
	const char *const rows[][3] = { { "a", "1", "b" } };
	char *s = render(MBR_FMT_AUTO, 0, rows, 1);

	(void)state;
	assert_string_equal(s, "name,points,note\na,1,b\n");
	free(s);
}

static void test_write_error(void **state)
{
	const char *const row[3] = { "a", "1", "b" };
	FILE *fp = fopen("/dev/full", "w");
	struct mbr_out *o;

	(void)state;
	if (!fp)
		skip();
	o = mbr_out_new(fp, MBR_FMT_CSV, 0, cols, 3);
	mbr_out_row(o, row);
	assert_int_equal(mbr_out_end(o), MBR_EIO);
	fclose(fp);
	assert_int_equal(mbr_out_end(NULL), 0);
}

static void test_text_width(void **state)
{
	(void)state;
	assert_int_equal(mbr_text_width(""), 0);
	assert_int_equal(mbr_text_width("abc"), 3);
	assert_int_equal(mbr_text_width("会员"), 4);
	assert_int_equal(mbr_text_width("한국"), 4);		/* Hangul syllables */
	assert_int_equal(mbr_text_width("ｶﾀｶﾅ"), 4);		/* halfwidth katakana: narrow */
	assert_int_equal(mbr_text_width("ＡＢ"), 4);		/* fullwidth Latin */
	assert_int_equal(mbr_text_width("e\xCC\x81"), 1);	/* e + combining acute */
	assert_int_equal(mbr_text_width("😀"), 2);
	assert_int_equal(mbr_text_width("£5"), 2);
	assert_int_equal(mbr_text_width("a\xFF"), 2);		/* a bad byte is one cell */
	assert_int_equal(mbr_text_width("\xF0\xA0\x80\x80"), 2);	/* U+20000 */
	assert_int_equal(mbr_text_width("🚀"), 2);		/* U+1F680, transport */
	assert_int_equal(mbr_text_width("🪴"), 2);		/* U+1FAB4 */
	assert_int_equal(mbr_text_width("a\xE2\x80\x8B" "b"), 2);	/* zero-width space */
	assert_int_equal(mbr_text_width("❤\xEF\xB8\x8F"), 1);	/* U+2764 + VS16 */
	assert_int_equal(mbr_text_width("👍\xF0\x9F\x8F\xBD"), 2);	/* + skin tone */
	/* 👩 ZWJ 👧: the joiner takes no cell */
	assert_int_equal(mbr_text_width("\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"), 4);
	assert_int_equal(mbr_text_width("a\xD6\x91"), 1);	/* Hebrew point */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_csv_quoting),
		cmocka_unit_test(test_tsv),
		cmocka_unit_test(test_tsv_blank_record),
		cmocka_unit_test(test_excel),
		cmocka_unit_test(test_excel_formulas),
		cmocka_unit_test(test_excel_digits),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_auto_is_csv_off_a_terminal),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_text_width),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
