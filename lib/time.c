/*
 * time.c - time and dates: the store's time zone (the process zone, set
 * through TZ), parsing local or offset date-times into UTC seconds,
 * formatting UTC seconds as local text, business days, calendar-date
 * normalisation, and the clock (which tests can pin with MBR_NOW).
 *
 * All instants are int64_t seconds since the epoch, UTC.  Local times are
 * interpreted in the process zone with mktime(3) / localtime_r(3); UTC
 * conversion uses timegm(3).  gmtime and localtime are banned (static
 * buffers).  A local time that does not exist (skipped by a DST change)
 * is rejected; one that occurs twice (repeated hour) means the earlier
 * instant.  A date alone means the first instant of that local day.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mbr.h"
#include "banned.h"

#define ZONEINFO "/usr/share/zoneinfo"

/* A broken-down date-time as written, before any zone is applied. */
struct civil {
	int year, mon, day;	/* mon 1..12 */
	int hour, min, sec;
};

static int is_blank(int c)
{
	return c == ' ' || c == '\t';
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in month mon (1..12) of year y. */
static int month_days(int y, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return mon == 2 && is_leap(y) ? 29 : days[mon - 1];
}

/* Is c a real calendar date and time of day (seconds 0..59)? */
static int civil_valid(const struct civil *c)
{
	return c->year >= 1 && c->year <= 9999 &&
	       c->mon >= 1 && c->mon <= 12 &&
	       c->day >= 1 && c->day <= month_days(c->year, c->mon) &&
	       c->hour >= 0 && c->hour <= 23 &&
	       c->min >= 0 && c->min <= 59 &&
	       c->sec >= 0 && c->sec <= 59;
}

static void civil_to_tm(const struct civil *c, struct tm *tm)
{
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = c->year - 1900;
	tm->tm_mon = c->mon - 1;
	tm->tm_mday = c->day;
	tm->tm_hour = c->hour;
	tm->tm_min = c->min;
	tm->tm_sec = c->sec;
	tm->tm_isdst = -1;
}

static int tm_matches(const struct tm *tm, const struct civil *c)
{
	return tm->tm_year == c->year - 1900 && tm->tm_mon == c->mon - 1 &&
	       tm->tm_mday == c->day && tm->tm_hour == c->hour &&
	       tm->tm_min == c->min && tm->tm_sec == c->sec;
}

/* The civil time c read as UTC: seconds since the epoch. */
static int64_t civil_utc(const struct civil *c)
{
	struct tm tm;

	civil_to_tm(c, &tm);
	tm.tm_isdst = 0;
	return (int64_t)timegm(&tm);
}

/*
 * If the local time of candidate t is exactly c, keep the earlier of t
 * and *best (found says whether *best holds one yet).
 */
static void consider(time_t t, const struct civil *c, int64_t *best, int *found)
{
	struct tm tm;

	if (!localtime_r(&t, &tm) || !tm_matches(&tm, c))
		return;
	if (!*found || (int64_t)t < *best)
		*best = (int64_t)t;
	*found = 1;
}

/* UTC offset (seconds east) in force at instant t, or 0 if unknown. */
static long offset_at(time_t t)
{
	struct tm tm;

	return localtime_r(&t, &tm) ? tm.tm_gmtoff : 0;
}

/*
 * Local civil time c in the process zone to UTC seconds.  mktime with
 * tm_isdst = -1 gives the first answer; the offsets in force a day
 * either side give the other candidates, so that a repeated local time
 * (DST ending) resolves to its earlier instant and a skipped one (DST
 * starting) is found not to exist: MBR_EINVAL.  With day_start, c is the
 * midnight that begins a date, and a skipped midnight (zones that change
 * at 24:00, such as America/Santiago) means the first instant of that
 * date, the end of the gap.
 */
/*
 * The offset of the last local hour converted, when the whole hour has
 * one offset: an import's timestamps come hour by hour, and mktime and
 * localtime per line were a twentieth of its time.  zone_gen changes
 * with the zone (set before any thread starts).  One cache per thread: a
 * sale import parses its times in its reading thread (sale.c).
 */
static unsigned zone_gen;
static _Thread_local struct {
	int valid;
	unsigned gen;
	int year, mon, day, hour;
	int64_t off;		/* local - UTC, seconds */
} hour_cache;

static int local_to_utc(const struct civil *c, int day_start, int64_t *utc)
{
	struct tm tm;
	time_t t, asutc;
	int64_t best = 0;
	int found = 0;

	if (hour_cache.valid && hour_cache.gen == zone_gen && hour_cache.hour == c->hour &&
	    hour_cache.day == c->day && hour_cache.mon == c->mon && hour_cache.year == c->year) {
		*utc = civil_utc(c) - hour_cache.off;
		return MBR_OK;
	}

	civil_to_tm(c, &tm);
	tm.tm_wday = -1;
	t = mktime(&tm);
	if (tm.tm_wday == -1)
		return MBR_EINVAL;	/* not representable */
	consider(t, c, &best, &found);
	asutc = (time_t)civil_utc(c);
	consider(asutc - offset_at(asutc - 86400), c, &best, &found);
	consider(asutc - offset_at(asutc + 86400), c, &best, &found);
	if (!found && day_start) {
		/* read with the offset from before the gap, c lands at its end */
		t = asutc - offset_at(asutc - 86400);
		if (localtime_r(&t, &tm) && tm.tm_year == c->year - 1900 &&
		    tm.tm_mon == c->mon - 1 && tm.tm_mday == c->day) {
			*utc = (int64_t)t;
			return MBR_OK;
		}
	}
	if (!found)
		return MBR_EINVAL;	/* skipped by a DST change */
	*utc = best;
	{
		/* remember the hour if its first and last second share the offset */
		int64_t off = civil_utc(c) - best, start = best - (c->min * 60 + c->sec);

		if (offset_at((time_t)start) == off && offset_at((time_t)(start + 3599)) == off) {
			hour_cache.valid = 1;
			hour_cache.gen = zone_gen;
			hour_cache.year = c->year;
			hour_cache.mon = c->mon;
			hour_cache.day = c->day;
			hour_cache.hour = c->hour;
			hour_cache.off = off;
		}
	}
	return MBR_OK;
}

/* Read exactly n decimal digits at *p into *v, advancing *p. */
static int digits(const char **p, int n, int *v)
{
	int i, r = 0;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		r = r * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = r;
	return 0;
}

/*
 * Parse an ISO 8601 date or date-time: "YYYY-MM-DD", then optionally
 * 'T' or ' ' and "HH:MM", optionally ":SS", optionally a fraction
 * ".ddd" (ignored), optionally "Z", "±HH:MM", "±HHMM" or "±HH".
 * Surrounding blanks are allowed, anything else is an error.  *has_off
 * says whether an offset was given; *off is it in seconds east of UTC.
 */
static int parse_iso(const char *s, struct civil *c, int *has_off, long *off,
		     int *date_only)
{
	int oh, om = 0, sign;

	memset(c, 0, sizeof(*c));
	*has_off = 0;
	*date_only = 1;
	*off = 0;
	while (is_blank((unsigned char)*s))
		s++;
	if (digits(&s, 4, &c->year) || *s++ != '-' || digits(&s, 2, &c->mon) ||
	    *s++ != '-' || digits(&s, 2, &c->day))
		return MBR_EINVAL;
	if ((*s == 'T' || *s == 't' || *s == ' ') && s[1] >= '0' && s[1] <= '9') {
		s++;
		*date_only = 0;
		if (digits(&s, 2, &c->hour) || *s++ != ':' || digits(&s, 2, &c->min))
			return MBR_EINVAL;
		if (*s == ':') {
			s++;
			if (digits(&s, 2, &c->sec))
				return MBR_EINVAL;
			if (*s == '.' || *s == ',') {
				s++;
				if (*s < '0' || *s > '9')
					return MBR_EINVAL;
				while (*s >= '0' && *s <= '9')
					s++;
			}
		}
		if (*s == 'Z' || *s == 'z') {
			s++;
			*has_off = 1;
		} else if (*s == '+' || *s == '-') {
			sign = *s++ == '-' ? -1 : 1;
			if (digits(&s, 2, &oh))
				return MBR_EINVAL;
			if (*s == ':') {
				s++;
				if (digits(&s, 2, &om))
					return MBR_EINVAL;
			} else if (*s >= '0' && *s <= '9') {
				if (digits(&s, 2, &om))
					return MBR_EINVAL;
			}
			if (oh > 23 || om > 59)
				return MBR_EINVAL;
			*has_off = 1;
			*off = sign * (oh * 3600L + om * 60L);
		}
	}
	while (is_blank((unsigned char)*s))
		s++;
	if (*s || !civil_valid(c))
		return MBR_EINVAL;
	return MBR_OK;
}

/*
 * Make tz (an IANA zone name such as "Asia/Shanghai", or "UTC") the
 * process zone for every local-time function.  The name must be a
 * compiled zone file under /usr/share/zoneinfo (no absolute paths, no
 * ".." components, no POSIX TZ rule strings); MBR_EINVAL otherwise, and
 * the current zone is left as it was.
 */
int mbr_time_set_zone(const char *tz)
{
	char path[512], magic[4];
	struct stat st;
	int fd, n;

	if (!tz || !*tz)
		return MBR_EINVAL;
	if (strcmp(tz, "UTC") != 0) {
		if (tz[0] == '/' || strstr(tz, "..") || strchr(tz, ','))
			return MBR_EINVAL;
		n = snprintf(path, sizeof(path), "%s/%s", ZONEINFO, tz);
		if (n < 0 || (size_t)n >= sizeof(path))
			return MBR_EINVAL;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			return MBR_EINVAL;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return MBR_EINVAL;
		n = (int)read(fd, magic, sizeof(magic));
		close(fd);
		if (n != 4 || memcmp(magic, "TZif", 4) != 0)
			return MBR_EINVAL;
	}
	if (setenv("TZ", tz, 1) < 0)
		return MBR_ENOMEM;
	tzset();
	zone_gen++;
	return MBR_OK;
}

/* Does fmt use the strptime conversion %z (numeric offset)? */
static int fmt_has_offset(const char *fmt)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%')
			continue;
		fmt++;
		if (*fmt == 'z')
			return 1;
		if (!*fmt)
			break;
	}
	return 0;
}

/*
 * Parse a date-time into UTC seconds.  With fmt NULL, ISO 8601 as
 * parse_iso describes: an explicit offset is honoured, otherwise the
 * time is local in the process zone (a date alone means the start of that
 * local day: midnight, or the end of a DST gap that swallowed midnight).
 * Otherwise fmt is a strptime(3) format that must consume all of s
 * (trailing blanks aside); fields it does not set default to 1970-01-01
 * 00:00:00, and a %z offset is honoured.  Calendar ranges are checked
 * (no 31 February, no second 60).  A local time skipped by a DST change
 * is MBR_EINVAL; a repeated one is the earlier instant.  *utc is set
 * only on success.
 */
int mbr_time_parse(const char *s, const char *fmt, int64_t *utc)
{
	struct civil c;
	struct tm tm;
	const char *end;
	long off = 0;
	int has_off = 0, date_only = 0;

	if (!s)
		return MBR_EINVAL;
	if (!fmt) {
		if (parse_iso(s, &c, &has_off, &off, &date_only) < 0)
			return MBR_EINVAL;
	} else {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = 70;
		tm.tm_mday = 1;
		end = strptime(s, fmt, &tm);
		if (!end)
			return MBR_EINVAL;
		while (is_blank((unsigned char)*end))
			end++;
		if (*end)
			return MBR_EINVAL;
		c.year = tm.tm_year + 1900;
		c.mon = tm.tm_mon + 1;
		c.day = tm.tm_mday;
		c.hour = tm.tm_hour;
		c.min = tm.tm_min;
		c.sec = tm.tm_sec;
		if (!civil_valid(&c))
			return MBR_EINVAL;
		if (fmt_has_offset(fmt)) {
			has_off = 1;
			off = tm.tm_gmtoff;
		}
	}
	if (has_off) {
		*utc = civil_utc(&c) - off;
		return MBR_OK;
	}
	return local_to_utc(&c, date_only, utc);
}

/* Local broken-down time of utc, or NULL outside years 0..9999. */
static struct tm *local_tm(int64_t utc, struct tm *tm)
{
	time_t t = (time_t)utc;

	if (!localtime_r(&t, tm) || tm->tm_year < -1900 || tm->tm_year > 9999 - 1900)
		return NULL;
	return tm;
}

/*
 * Local "YYYY-MM-DD HH:MM:SS" for utc, into buf (MBR_TIME_BUFSZ bytes);
 * returns buf.  An instant outside years 0..9999 gives "".
 */
char *mbr_time_format(int64_t utc, char *buf)
{
	struct tm tm;

	if (!local_tm(utc, &tm)) {
		buf[0] = '\0';
		return buf;
	}
	/* the modulos are no-ops after local_tm; they bound the lengths for gcc */
	snprintf(buf, MBR_TIME_BUFSZ, "%04u-%02u-%02u %02u:%02u:%02u",
		 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
		 (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
	return buf;
}

/*
 * Local business date "YYYY-MM-DD" for utc, into buf (MBR_TIME_BUFSZ
 * bytes); returns buf ("" outside years 0..9999).
 */
char *mbr_date_format(int64_t utc, char *buf)
{
	struct tm tm;

	if (!local_tm(utc, &tm)) {
		buf[0] = '\0';
		return buf;
	}
	snprintf(buf, MBR_TIME_BUFSZ, "%04u-%02u-%02u",
		 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
		 (unsigned)tm.tm_mday % 100u);
	return buf;
}

/*
 * The local calendar date of utc as days since 1970-01-01 (negative
 * before it): two instants are on the same business day exactly when
 * this is equal.  0 if the instant cannot be converted.
 */
/* The local day of utc and the zone's offset then; 0 and 1 if unknown. */
static int64_t day_and_offset(int64_t utc, long *off)
{
	time_t t = (time_t)utc;
	struct tm tm;
	struct civil c;

	*off = 1;
	if (!localtime_r(&t, &tm))
		return 0;
	memset(&c, 0, sizeof(c));
	c.year = tm.tm_year + 1900;
	c.mon = tm.tm_mon + 1;
	c.day = tm.tm_mday;
	*off = tm.tm_gmtoff;
	return civil_utc(&c) / 86400;	/* midnight UTC: an exact multiple */
}

/*
 * The local day of the last quarter hour converted, when the whole
 * quarter hour has one offset and one day (as it has wherever offsets and
 * their changes fall on quarter hours, which is everywhere since the
 * 1970s): an import's receipts come in time order, and localtime_r for
 * each cost more than a twentieth of an import.  One cache per thread.
 */
static _Thread_local struct {
	int valid;
	unsigned gen;
	int64_t quarter, day;
} day_cache;

int64_t mbr_local_day(int64_t utc)
{
	int64_t quarter = utc >= 0 ? utc / 900 : (utc - 899) / 900, day, first, last;
	long off, off_first, off_last;

	if (day_cache.valid && day_cache.gen == zone_gen && day_cache.quarter == quarter)
		return day_cache.day;
	day = day_and_offset(utc, &off);
	first = day_and_offset(quarter * 900, &off_first);
	last = day_and_offset(quarter * 900 + 899, &off_last);
	if (first == day && last == day && off_first == off && off_last == off) {
		day_cache.valid = 1;
		day_cache.gen = zone_gen;
		day_cache.quarter = quarter;
		day_cache.day = day;
	}
	return day;
}

/* Read 1 or 2 digits at *p into *v, advancing *p. */
static int one_or_two(const char **p, int *v)
{
	if (**p < '0' || **p > '9')
		return -1;
	if ((*p)[1] >= '0' && (*p)[1] <= '9')
		return digits(p, 2, v);
	return digits(p, 1, v);
}

/*
 * Check and normalise a calendar date: "YYYY-MM-DD", "YYYY/MM/DD" (month
 * and day may have one digit with either separator, "1990/1/5") or
 * "YYYYMMDD", surrounding blanks allowed, year 1900..2100, a real date
 * (leap years counted).  Writes "YYYY-MM-DD" into out (11 bytes) on
 * success; MBR_EINVAL otherwise, out untouched.
 */
int mbr_date_normalize(const char *s, char *out)
{
	struct civil c;
	char sep;

	if (!s)
		return MBR_EINVAL;
	memset(&c, 0, sizeof(c));
	while (is_blank((unsigned char)*s))
		s++;
	if (digits(&s, 4, &c.year))
		return MBR_EINVAL;
	if (*s == '-' || *s == '/') {
		sep = *s++;
		if (one_or_two(&s, &c.mon) || *s++ != sep || one_or_two(&s, &c.day))
			return MBR_EINVAL;
	} else if (digits(&s, 2, &c.mon) || digits(&s, 2, &c.day)) {
		return MBR_EINVAL;
	}
	while (is_blank((unsigned char)*s))
		s++;
	if (*s || c.year < 1900 || c.year > 2100 || !civil_valid(&c))
		return MBR_EINVAL;
	snprintf(out, 11, "%04u-%02u-%02u", (unsigned)c.year % 10000u,
		 (unsigned)c.mon % 100u, (unsigned)c.day % 100u);
	return MBR_OK;
}

/*
 * The current time, UTC seconds.  When the environment has MBR_NOW (for
 * tests and reproducible demos) it is used instead: an ISO 8601 date or
 * date-time read as UTC unless it carries an offset ("2026-11-22T10:00:00Z",
 * "2026-11-22").  An MBR_NOW that does not parse is ignored (the library
 * cannot report it here; programs may validate it themselves).
 */
int64_t mbr_now(void)
{
	const char *env = getenv("MBR_NOW");
	struct civil c;
	long off;
	int has_off, date_only;

	if (env && *env && parse_iso(env, &c, &has_off, &off, &date_only) == MBR_OK)
		return civil_utc(&c) - off;
	return (int64_t)time(NULL);
}
