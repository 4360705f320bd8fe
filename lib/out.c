/*
 * out.c - record output: CSV, TSV, JSON lines, aligned tables and HTML
 * pages, the one way every mbr program prints records.  CSV, TSV and JSON
 * are streamed straight to the FILE (no allocation per record); a table
 * is kept in memory until mbr_out_end, because its column widths depend
 * on every row, and so is an HTML page, whose chart scales to the largest
 * value.  Widths count terminal cells: East Asian wide characters take two.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbr.h"
#include "banned.h"

struct mbr_out {
	FILE *fp;
	enum mbr_format fmt;
	int excel;			/* CSV/TSV for a spreadsheet: BOM, CRLF, no formulas */
	const char *eol;		/* "\n", or "\r\n" for excel */
	const struct mbr_col *cols;
	size_t ncols;
	const char *title;		/* HTML */
	/* table and HTML only: every cell, NUL-terminated, row after row */
	struct mbr_buf cells;
	size_t *off;			/* offset of each cell in cells */
	size_t ncells, cap;
};

/* Format by name ("table", "csv", "tsv", "json"); MBR_EINVAL for others. */
int mbr_format_parse(const char *s, enum mbr_format *f)
{
	static const struct {
		const char *name;
		enum mbr_format fmt;
	} names[] = {
		{ "table", MBR_FMT_TABLE }, { "csv", MBR_FMT_CSV },
		{ "tsv", MBR_FMT_TSV }, { "json", MBR_FMT_JSON },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*f = names[i].fmt;
			return 0;
		}
	}
	return MBR_EINVAL;
}

/* --------------------------------------------------------------- UTF-8 */

/* The one UTF-8 decoder of mbr (see mbr.h): out.c, csv.c and cli.c use it. */
size_t mbr_utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned c = s[0], min;
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c < 0xE0) {
		len = 2, c &= 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c < 0xF0) {
		len = 3, c &= 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c < 0xF5) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* Is c in one of the n sorted ranges r? */
static int in_ranges(unsigned c, const unsigned (*r)[2], size_t n)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c < r[mid][0])
			hi = mid;
		else if (c > r[mid][1])
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/*
 * Terminal cells of code point c: 2 for East Asian wide characters and
 * emoji, 0 for combining marks, zero-width spaces and joiners and
 * variation selectors (an emoji joined by ZWJ thus counts its parts'
 * widths, which most terminals draw as one glyph or side by side).
 */
static int cp_width(unsigned c)
{
	static const unsigned zero[][2] = {
		{ 0x0300, 0x036F }, { 0x0483, 0x0489 }, { 0x0591, 0x05BD }, { 0x0610, 0x061A },
		{ 0x064B, 0x065F }, { 0x1AB0, 0x1AFF }, { 0x1DC0, 0x1DFF }, { 0x200B, 0x200F },
		{ 0x202A, 0x202E }, { 0x2060, 0x2064 }, { 0x20D0, 0x20FF }, { 0x302A, 0x302F },
		{ 0x3099, 0x309A }, { 0xFE00, 0xFE0F }, { 0xFE20, 0xFE2F }, { 0xFEFF, 0xFEFF },
		{ 0x1F3FB, 0x1F3FF }, { 0xE0000, 0xE007F }, { 0xE0100, 0xE01EF },
	};
	static const unsigned wide[][2] = {
		{ 0x1100, 0x115F }, { 0x231A, 0x231B }, { 0x23E9, 0x23EC }, { 0x25FD, 0x25FE },
		{ 0x2614, 0x2615 }, { 0x2648, 0x2653 }, { 0x26AA, 0x26AB }, { 0x26BD, 0x26BE },
		{ 0x26C4, 0x26C5 }, { 0x26F2, 0x26F5 }, { 0x26FA, 0x26FD }, { 0x2705, 0x2705 },
		{ 0x270A, 0x270B }, { 0x2728, 0x2728 }, { 0x274C, 0x274C }, { 0x2753, 0x2757 },
		{ 0x2795, 0x2797 }, { 0x2B1B, 0x2B1C }, { 0x2E80, 0x303E }, { 0x3041, 0x33FF },
		{ 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF }, { 0xA000, 0xA4CF }, { 0xA960, 0xA97F },
		{ 0xAC00, 0xD7A3 }, { 0xF900, 0xFAFF }, { 0xFE10, 0xFE19 }, { 0xFE30, 0xFE6F },
		{ 0xFF00, 0xFF60 }, { 0xFFE0, 0xFFE6 }, { 0x16FE0, 0x16FE4 }, { 0x17000, 0x18CFF },
		{ 0x1B000, 0x1B2FF }, { 0x1F004, 0x1F004 }, { 0x1F0CF, 0x1F0CF }, { 0x1F18E, 0x1F18E },
		{ 0x1F191, 0x1F19A }, { 0x1F200, 0x1F251 }, { 0x1F300, 0x1F3FA }, { 0x1F400, 0x1F64F },
		{ 0x1F680, 0x1F6FF }, { 0x1F7E0, 0x1F7EB }, { 0x1F90C, 0x1F9FF }, { 0x1FA70, 0x1FAFF },
		{ 0x20000, 0x2FFFD }, { 0x30000, 0x3FFFD },
	};

	if (c < 0x300)
		return 1;
	if (in_ranges(c, zero, sizeof(zero) / sizeof(zero[0])))
		return 0;
	return in_ranges(c, wide, sizeof(wide) / sizeof(wide[0])) ? 2 : 1;
}

/* Display width of s; a byte that is not UTF-8 counts one cell. */
size_t mbr_text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), w = 0, k;
	unsigned c;

	while (n) {
		if ((k = mbr_utf8_decode(p, n, &c)) == 0) {
			k = 1;
			c = '?';
		}
		w += (size_t)cp_width(c);
		p += k;
		n -= k;
	}
	return w;
}

/* ---------------------------------------------------------- CSV and TSV */

/* One CSV/TSV field, after prefix (plain text): quoted (quotes doubled)
 * when it holds the delimiter, a quote, CR or LF; otherwise written as is. */
static void put_delimited(FILE *fp, const char *prefix, const char *s, int delim)
{
	const char *q;
	char special[] = { (char)delim, '"', '\r', '\n', '\0' };

	if (!s[strcspn(s, special)]) {
		fputs(prefix, fp);
		fputs(s, fp);
		return;
	}
	putc('"', fp);
	fputs(prefix, fp);
	while ((q = strchr(s, '"'))) {
		fwrite(s, 1, (size_t)(q - s) + 1, fp);
		putc('"', fp);
		s = q + 1;
	}
	fputs(s, fp);
	putc('"', fp);
}

static int json_number(const char *s);

/*
 * Would a spreadsheet take s for a formula?  It starts with = + - @, a
 * tab or CR, and is not a number (-12.50 stays a number).  With --excel
 * such a field is written with a leading single quote, so that Excel
 * shows it as text (OWASP's advice against CSV injection).
 */
static int formula_like(const char *s)
{
	return s[0] && strchr("=+-@\t\r", s[0]) && !json_number(s);
}

/*
 * Would a spreadsheet turn s, text made of digits only (a phone, a member
 * number such as 00123), into a number, showing 13812345678 as 1.38E+10
 * and dropping leading zeros?  With --excel such a field is written as
 * the formula ="00123", which Excel shows as the text 00123.
 */
static int digits_only(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/*
 * n fields as one CSV/TSV record with the writer's line end; NULL is an
 * empty field.  Fields past ncols (a reject file's extra ones) have no
 * column flags.
 */
static void put_delimited_row(struct mbr_out *o, const char *const *vals, size_t n)
{
	int delim = o->fmt == MBR_FMT_TSV ? '\t' : ',';
	size_t i;
	int blank;

	/* a record of blank fields would be a blank line (in TSV), which
	 * readers skip: its first field is then quoted to keep the record */
	for (i = 0; i < n && (!vals[i] || !vals[i][strspn(vals[i], " \t")]); i++)
		;
	blank = n > 0 && i == n;
	for (i = 0; i < n; i++) {
		const char *v = vals[i] ? vals[i] : "";
		int text = o->excel && !(i < o->ncols && (o->cols[i].flags & MBR_COL_NUMBER));

		if (i)
			putc(delim, o->fp);
		if (i == 0 && blank)
			fprintf(o->fp, "\"%s\"", v);	/* blanks only: no quote to double */
		else if (text && digits_only(v))
			fprintf(o->fp, "\"=\"\"%s\"\"\"", v);	/* the field ="v", quoted */
		else
			put_delimited(o->fp, text && formula_like(v) ? "'" : "", v, delim);
	}
	fputs(o->eol, o->fp);
}

/* ----------------------------------------------------------------- JSON */

/* s as a JSON string: quotes, backslashes and control characters escaped
 * (controls as \uXXXX), bytes that are not UTF-8 written as U+FFFD. */
static void put_json_string(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;
	size_t n = strlen(s), k;
	unsigned c;

	putc('"', fp);
	while (n) {
		if (*p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80) {
			p++, n--;
			continue;
		}
		if (*p >= 0x80 && (k = mbr_utf8_decode(p, n, &c)) != 0) {
			p += k, n -= k;
			continue;
		}
		fwrite(run, 1, (size_t)(p - run), fp);
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(fp, "\\u%04x", *p);
		else
			fputs("\\ufffd", fp);
		p++, n--;
		run = p;
	}
	fwrite(run, 1, (size_t)(p - run), fp);
	putc('"', fp);
}

/* Is s a number by JSON's grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? */
static int json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return 0;
	if (*s == '.') {
		if (!(*++s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* One JSON object on one line, keyed by column name; NULL is null, and so
 * is an empty number column; a number column holding a valid JSON number
 * (or one with a leading '+') is written bare. */
static void put_json_row(struct mbr_out *o, const char *const *vals)
{
	size_t i;

	putc('{', o->fp);
	for (i = 0; i < o->ncols; i++) {
		if (i)
			putc(',', o->fp);
		put_json_string(o->fp, o->cols[i].name);
		putc(':', o->fp);
		if (!vals[i] || ((o->cols[i].flags & MBR_COL_NUMBER) && !vals[i][0]))
			fputs("null", o->fp);
		else if ((o->cols[i].flags & MBR_COL_NUMBER) && json_number(vals[i]))
			fputs(vals[i], o->fp);
		else if ((o->cols[i].flags & MBR_COL_NUMBER) && vals[i][0] == '+' &&
			 vals[i][1] >= '0' && vals[i][1] <= '9' && json_number(vals[i] + 1))
			fputs(vals[i] + 1, o->fp);	/* "+5", a signed change: JSON has no '+' */
		else
			put_json_string(o->fp, vals[i]);
	}
	putc('}', o->fp);
	putc('\n', o->fp);
}

/* ---------------------------------------------------------------- table */

/* Keep one row of cells for the table; control characters become spaces
 * so that a value with a newline cannot break the layout. */
static void keep_table_row(struct mbr_out *o, const char *const *vals)
{
	size_t i, j, start;

	if (o->ncells + o->ncols > o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 64 * (o->ncols + 1);
		size_t *off;

		while (cap < o->ncells + o->ncols)
			cap *= 2;
		if (!(off = realloc(o->off, cap * sizeof(*off)))) {
			fputs("mbr: out of memory\n", stderr);
			abort();
		}
		o->off = off;
		o->cap = cap;
	}
	for (i = 0; i < o->ncols; i++) {
		start = o->cells.len;
		o->off[o->ncells++] = start;
		mbr_buf_adds(&o->cells, vals[i] ? vals[i] : "");
		for (j = start; j < o->cells.len; j++)
			if ((unsigned char)o->cells.buf[j] < 0x20 || o->cells.buf[j] == 0x7F)
				o->cells.buf[j] = ' ';
		mbr_buf_addc(&o->cells, '\0');
	}
}

/* Print a buffered row padded to widths w; trailing blanks are dropped. */
static void put_table_line(struct mbr_out *o, const char *const *cells, const size_t *w,
			   struct mbr_buf *line)
{
	size_t i, cw, pad;

	mbr_buf_reset(line);
	for (i = 0; i < o->ncols; i++) {
		if (i)
			mbr_buf_add(line, "  ", 2);
		cw = mbr_text_width(cells[i]);
		pad = w[i] > cw ? w[i] - cw : 0;
		if (o->cols[i].flags & MBR_COL_NUMBER)
			while (pad--)
				mbr_buf_addc(line, ' ');
		mbr_buf_adds(line, cells[i]);
		if (!(o->cols[i].flags & MBR_COL_NUMBER))
			while (pad--)
				mbr_buf_addc(line, ' ');
	}
	while (line->len && line->buf[line->len - 1] == ' ')
		line->len--;
	line->buf[line->len] = '\0';
	fwrite(line->buf, 1, line->len, o->fp);
	putc('\n', o->fp);
}

/* Print the buffered table: widths fit the widest cell or column name. */
static void put_table(struct mbr_out *o)
{
	struct mbr_buf line = MBR_BUF_INIT;
	const char **cells = calloc(o->ncols + 1, sizeof(*cells));
	size_t *w = calloc(o->ncols + 1, sizeof(*w));
	size_t i, r, nrows = o->ncols ? o->ncells / o->ncols : 0, cw;

	if (!cells || !w) {
		fputs("mbr: out of memory\n", stderr);
		abort();
	}
	for (i = 0; i < o->ncols; i++)
		w[i] = mbr_text_width(o->cols[i].name);
	for (r = 0; r < nrows; r++)
		for (i = 0; i < o->ncols; i++)
			if ((cw = mbr_text_width(o->cells.buf + o->off[r * o->ncols + i])) > w[i])
				w[i] = cw;
	for (i = 0; i < o->ncols; i++)
		cells[i] = o->cols[i].name;
	put_table_line(o, cells, w, &line);
	for (r = 0; r < nrows; r++) {
		for (i = 0; i < o->ncols; i++)
			cells[i] = o->cells.buf + o->off[r * o->ncols + i];
		put_table_line(o, cells, w, &line);
	}
	mbr_buf_release(&line);
	free(cells);
	free(w);
}

/* ----------------------------------------------------------------- HTML */

#define CHART_MAX_ROWS 400	/* more bars than that are no chart */

/* s as HTML text: & < > " ' escaped. */
static void put_html_text(FILE *fp, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", fp); break;
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '"': fputs("&quot;", fp); break;
		case '\'': fputs("&#39;", fp); break;
		default: putc(*s, fp);
		}
	}
}

/* A chart column's value: its number, 0 for text that is none and for
 * inf and nan (which would make the bars' widths undefined). */
static double chart_value(const char *s)
{
	double v = strtod(s, NULL);

	return isfinite(v) ? v : 0;
}

/*
 * A horizontal bar chart (inline SVG) of the first MBR_COL_CHART column,
 * one bar a row labelled by the first column, scaled to the largest
 * magnitude; negative values are drawn in another colour.  The values are
 * the printed decimals, read as doubles only to size the bars.  None when
 * there is no such column, no row, too many rows or nothing but zeros.
 */
static void put_html_chart(struct mbr_out *o, size_t nrows)
{
	const int label_w = 160, bar_w = 480, row_h = 20;
	double max = 0, v;
	size_t c, r;

	for (c = 0; c < o->ncols && !(o->cols[c].flags & MBR_COL_CHART); c++)
		;
	if (c == o->ncols || nrows == 0 || nrows > CHART_MAX_ROWS)
		return;
	for (r = 0; r < nrows; r++) {
		v = chart_value(o->cells.buf + o->off[r * o->ncols + c]);
		if (v < 0)
			v = -v;
		if (v > max)
			max = v;
	}
	if (max <= 0)
		return;
	fprintf(o->fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%zu\" role=\"img\""
		" aria-label=\"", label_w + bar_w + 120, nrows * (size_t)row_h + 4);
	put_html_text(o->fp, o->cols[c].name);
	fputs("\">\n<g font-family=\"sans-serif\" font-size=\"12\">\n", o->fp);
	for (r = 0; r < nrows; r++) {
		const char *val = o->cells.buf + o->off[r * o->ncols + c];
		long y = (long)r * row_h;
		int w;

		v = chart_value(val);
		w = (int)((v < 0 ? -v : v) / max * bar_w + 0.5);
		fprintf(o->fp, "<text x=\"%d\" y=\"%ld\" text-anchor=\"end\">", label_w - 6, y + 15);
		put_html_text(o->fp, o->cells.buf + o->off[r * o->ncols]);
		fprintf(o->fp, "</text><rect x=\"%d\" y=\"%ld\" width=\"%d\" height=\"14\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"%ld\">", label_w, y + 3, w, v < 0 ? "#c0504d" : "#4a7ebb",
			label_w + w + 4, y + 15);
		put_html_text(o->fp, val);
		fputs("</text>\n", o->fp);
	}
	fputs("</g>\n</svg>\n", o->fp);
}

/* The buffered rows as a page: title, chart, table; numbers right-aligned. */
static void put_html(struct mbr_out *o)
{
	const char *title = o->title ? o->title : "mbr";
	size_t i, r, nrows = o->ncols ? o->ncells / o->ncols : 0;

	fputs("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>", o->fp);
	put_html_text(o->fp, title);
	fputs("</title>\n<style>\n"
	      "body { font-family: sans-serif; margin: 1em 2em; }\n"
	      "table { border-collapse: collapse; margin-top: 1em; }\n"
	      "th, td { padding: 2px 10px; border-bottom: 1px solid #ddd; }\n"
	      "th { text-align: left; background: #f3f3f3; }\n"
	      ".n { text-align: right; font-variant-numeric: tabular-nums; }\n"
	      "</style>\n</head>\n<body>\n<h1>", o->fp);
	put_html_text(o->fp, title);
	fputs("</h1>\n", o->fp);
	put_html_chart(o, nrows);
	fputs("<table>\n<thead><tr>", o->fp);
	for (i = 0; i < o->ncols; i++) {
		fputs(o->cols[i].flags & MBR_COL_NUMBER ? "<th class=\"n\">" : "<th>", o->fp);
		put_html_text(o->fp, o->cols[i].name);
		fputs("</th>", o->fp);
	}
	fputs("</tr></thead>\n<tbody>\n", o->fp);
	for (r = 0; r < nrows; r++) {
		fputs("<tr>", o->fp);
		for (i = 0; i < o->ncols; i++) {
			fputs(o->cols[i].flags & MBR_COL_NUMBER ? "<td class=\"n\">" : "<td>", o->fp);
			put_html_text(o->fp, o->cells.buf + o->off[r * o->ncols + i]);
			fputs("</td>", o->fp);
		}
		fputs("</tr>\n", o->fp);
	}
	fputs("</tbody>\n</table>\n</body>\n</html>\n", o->fp);
}

/* ------------------------------------------------------------ interface */

/*
 * Start output (see mbr.h).  cols must outlive the writer.  MBR_FMT_AUTO
 * becomes a table when fp is a terminal, else CSV.  Returns NULL only
 * when out of memory.
 */
struct mbr_out *mbr_out_new(FILE *fp, enum mbr_format fmt, int excel,
			    const struct mbr_col *cols, size_t ncols)
{
	struct mbr_out *o = calloc(1, sizeof(*o));
	size_t i;

	if (!o)
		return NULL;
	if (fmt == MBR_FMT_AUTO)
		fmt = isatty(fileno(fp)) ? MBR_FMT_TABLE : MBR_FMT_CSV;
	o->fp = fp;
	o->fmt = fmt;
	o->cols = cols;
	o->ncols = ncols;
	o->eol = "\n";
	mbr_buf_init(&o->cells);
	if (fmt == MBR_FMT_CSV || fmt == MBR_FMT_TSV) {
		if (excel) {
			o->excel = 1;
			fputs("\xEF\xBB\xBF", fp);
			o->eol = "\r\n";
		}
		for (i = 0; i < ncols; i++) {
			if (i)
				putc(fmt == MBR_FMT_TSV ? '\t' : ',', fp);
			put_delimited(fp, "", cols[i].name, fmt == MBR_FMT_TSV ? '\t' : ',');
		}
		fputs(o->eol, fp);
	}
	return o;
}

/* Write one record (vals has ncols entries).  MBR_EIO once fp has failed. */
int mbr_out_row(struct mbr_out *o, const char *const *vals)
{
	switch (o->fmt) {
	case MBR_FMT_CSV:
	case MBR_FMT_TSV:
		put_delimited_row(o, vals, o->ncols);
		break;
	case MBR_FMT_JSON:
		put_json_row(o, vals);
		break;
	case MBR_FMT_TABLE:
	case MBR_FMT_AUTO:
	case MBR_FMT_HTML:
		keep_table_row(o, vals);
		break;
	}
	return ferror(o->fp) ? MBR_EIO : 0;
}

void mbr_out_title(struct mbr_out *o, const char *title)
{
	o->title = title;
}

/* Write one CSV/TSV record of n fields, n > ncols allowed (see mbr.h). */
int mbr_out_fields(struct mbr_out *o, const char *const *vals, size_t n)
{
	if (o->fmt != MBR_FMT_CSV && o->fmt != MBR_FMT_TSV)
		return mbr_out_row(o, vals);
	put_delimited_row(o, vals, n);
	return ferror(o->fp) ? MBR_EIO : 0;
}

/* Print a table, flush, free o.  MBR_EIO if anything failed to write.
 * fp stays open.  NULL is fine. */
int mbr_out_end(struct mbr_out *o)
{
	int rc;

	if (!o)
		return 0;
	if (o->fmt == MBR_FMT_TABLE)
		put_table(o);
	else if (o->fmt == MBR_FMT_HTML)
		put_html(o);
	rc = fflush(o->fp) != 0 || ferror(o->fp) ? MBR_EIO : 0;
	mbr_buf_release(&o->cells);
	free(o->off);
	free(o);
	return rc;
}
