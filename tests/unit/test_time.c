/*
 * test_time.c - unit tests for lib/time.c: zones, ISO 8601 and strptime
 * parsing, local formatting, business days, date normalisation, MBR_NOW.
 *
 * Zones used: Asia/Shanghai (UTC+8, no DST), America/New_York (DST),
 * Europe/London and America/Santiago (DST change at midnight).  What happens around DST changes (documented in time.c
 * and checked here): a local time skipped when clocks go forward is
 * rejected with MBR_EINVAL; a local time that occurs twice when clocks go
 * back means the earlier instant (still on summer time); a date alone is
 * the first instant of that local day even when midnight was skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "mbr.h"
#include "banned.h"

/* UTC seconds for a UTC civil time (the expected values). */
static int64_t utc(int y, int mon, int d, int h, int min, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = min;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm);
}

static void zone(const char *tz)
{
	assert_int_equal(mbr_time_set_zone(tz), MBR_OK);
}

/* Parse s (ISO when fmt NULL), which must succeed with want. */
static void parses(const char *s, const char *fmt, int64_t want)
{
	int64_t t = 0;
	int rc = mbr_time_parse(s, fmt, &t);

	if (rc != MBR_OK)
		fail_msg("'%s' rejected (%d)", s, rc);
	if (t != want)
		fail_msg("'%s': got %lld, want %lld", s, (long long)t, (long long)want);
}

/* Parse s, which must fail and leave the output alone. */
static void rejects(const char *s, const char *fmt)
{
	int64_t t = 42;

	if (mbr_time_parse(s, fmt, &t) != MBR_EINVAL)
		fail_msg("'%s' accepted as %lld", s, (long long)t);
	assert_true(t == 42);
}

static void test_set_zone(void **state)
{
	char buf[MBR_TIME_BUFSZ];

	(void)state;
	zone("Asia/Shanghai");
	zone("UTC");
	zone("America/New_York");
	zone("Europe/London");
	assert_int_equal(mbr_time_set_zone("Nowhere/City"), MBR_EINVAL);
	assert_int_equal(mbr_time_set_zone(""), MBR_EINVAL);
	assert_int_equal(mbr_time_set_zone(NULL), MBR_EINVAL);
	assert_int_equal(mbr_time_set_zone("America"), MBR_EINVAL);	/* a directory */
	assert_int_equal(mbr_time_set_zone("/etc/localtime"), MBR_EINVAL);
	assert_int_equal(mbr_time_set_zone("../../../etc/passwd"), MBR_EINVAL);
	assert_int_equal(mbr_time_set_zone("Asia/../Asia/Shanghai"), MBR_EINVAL);
	assert_int_equal(mbr_time_set_zone("EST5EDT,M3.2.0,M11.1.0"), MBR_EINVAL);
	assert_int_equal(mbr_time_set_zone("CST-8"), MBR_EINVAL);
	/* a refused zone leaves the previous one in force */
	assert_string_equal(mbr_time_format(0, buf), "1970-01-01 01:00:00");	/* London 1970: BST all year */
	zone("Asia/Shanghai");
	assert_string_equal(mbr_time_format(0, buf), "1970-01-01 08:00:00");
}

static void test_iso_forms(void **state)
{
	int64_t t = utc(2026, 11, 22, 10, 0, 0);

	(void)state;
	zone("Asia/Shanghai");
	assert_true(t == 1795341600);
	parses("2026-11-22 18:00:00", NULL, t);
	parses("2026-11-22T18:00:00", NULL, t);
	parses("2026-11-22t18:00:00", NULL, t);
	parses("2026-11-22 18:00", NULL, t);
	parses("2026-11-22T18:00", NULL, t);
	parses("2026-11-22 18:00:00.123456", NULL, t);	/* fraction ignored */
	parses("2026-11-22 18:00:00,9", NULL, t);
	parses("  2026-11-22 18:00:00 ", NULL, t);
	parses("2026-11-22", NULL, utc(2026, 11, 21, 16, 0, 0));	/* local midnight */
	parses("2026-11-22T10:00:00Z", NULL, t);
	parses("2026-11-22T10:00Z", NULL, t);
	parses("2026-11-22T10:00:00.5Z", NULL, t);
	parses("2026-11-22 10:00:00z", NULL, t);
	parses("2026-11-22T18:00:00+08:00", NULL, t);
	parses("2026-11-22T18:00:00+0800", NULL, t);
	parses("2026-11-22T18:00:00+08", NULL, t);
	parses("2026-11-22T05:00:00-05:00", NULL, t);
	parses("2026-11-22T15:30:00+05:30", NULL, t);
	parses("2026-11-22T10:00:00+00:00", NULL, t);
	parses("2026-11-22T10:00:00-00:00", NULL, t);
	parses("2026-11-22 18:00:59", NULL, t + 59);
	parses("2026-11-22 23:59:59", NULL, t + 6 * 3600 - 1);
	parses("1970-01-01 08:00:00", NULL, 0);
	parses("1969-12-31T23:59:59Z", NULL, -1);	/* mktime's -1 is not an error */
	parses("1969-12-31 23:59:59+00:00", NULL, -1);
	parses("1900-01-01T00:00:00Z", NULL, utc(1900, 1, 1, 0, 0, 0));
	parses("2100-12-31T23:59:59Z", NULL, utc(2100, 12, 31, 23, 59, 59));
}

static void test_iso_bad(void **state)
{
	static const char *const bad[] = {
		"", " ", "now", "2026", "2026-11", "2026-11-", "26-11-22", "2026-1-5",
		"2026/11/22", "20261122", "2026-11-22x", "2026-11-22 18:00:00 junk",
		"2026-11-22 18:00:00 +08:00", "2026-11-22T", "2026-11-22 18",
		"2026-11-22 18:", "2026-11-22 18:0", "2026-11-22 8:00", "2026-11-22 18:00:0",
		"2026-11-22 18:00:00.", "2026-11-22T10:00:00.Z", "2026-11-22T10:00:00ZZ",
		"2026-11-22T10:00:00+8", "2026-11-22T10:00:00+08:0", "2026-11-22T10:00:00+25:00",
		"2026-11-22T10:00:00+08:60", "2026-11-22T10:00:00+", "2026-11-22Z",
		"2026-00-10", "2026-13-01", "2026-11-00", "2026-11-31", "2026-04-31",
		"2026-02-29", "1900-02-29", "2100-02-29", "2026-02-30", "2024-02-30",
		"2026-11-22 24:00", "2026-11-22 24:00:00", "2026-11-22 12:60",
		"2026-11-22 12:00:60", "2026-11-22 -1:00", "0000-01-01",
		"２０２６-11-22", "2026-11-22\n10:00",
	};
	size_t i;

	(void)state;
	zone("Asia/Shanghai");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		rejects(bad[i], NULL);
	rejects(NULL, NULL);
}

static void test_leap_days(void **state)
{
	(void)state;
	zone("UTC");
	parses("2024-02-29", NULL, utc(2024, 2, 29, 0, 0, 0));
	parses("2000-02-29 12:00", NULL, utc(2000, 2, 29, 12, 0, 0));
	parses("2028-02-29T23:59:59Z", NULL, utc(2028, 2, 29, 23, 59, 59));
	parses("2026-12-31 23:59:59", NULL, utc(2026, 12, 31, 23, 59, 59));
	rejects("2023-02-29", NULL);
	rejects("1900-02-29", NULL);
	rejects("2100-02-29", NULL);
	parses("29-02-2024", "%d-%m-%Y", utc(2024, 2, 29, 0, 0, 0));
	rejects("29-02-2023", "%d-%m-%Y");
}

static void test_strptime(void **state)
{
	const char *fmt = "%d-%m-%Y %H:%M";

	(void)state;
	zone("Europe/London");
	parses("01-12-2010 08:26", fmt, utc(2010, 12, 1, 8, 26, 0));	/* GMT */
	parses("01-07-2010 08:26", fmt, utc(2010, 7, 1, 7, 26, 0));	/* BST */
	parses("01-12-2010 08:26 ", fmt, utc(2010, 12, 1, 8, 26, 0));
	parses("1-12-2010 8:26", fmt, utc(2010, 12, 1, 8, 26, 0));
	rejects("01-12-2010 08:26x", fmt);
	rejects("01-12-2010", fmt);
	rejects("2010-12-01 08:26", fmt);
	rejects("31-02-2010 08:26", fmt);
	rejects("31-04-2010 08:26", fmt);
	rejects("01-13-2010 08:26", fmt);
	rejects("01-12-2010 25:26", fmt);
	rejects("", fmt);
	rejects("28-03-2010 01:30", fmt);	/* London skips 01:00-02:00 */
	parses("31-10-2010 01:30", fmt, utc(2010, 10, 31, 0, 30, 0));	/* twice: earlier */

	zone("Asia/Shanghai");
	parses("2010/12/01", "%Y/%m/%d", utc(2010, 11, 30, 16, 0, 0));
	parses("12/01/2010 08:26:07 PM", "%m/%d/%Y %I:%M:%S %p", utc(2010, 12, 1, 12, 26, 7));
	parses("2026-11-22 10:00:00 +0000", "%Y-%m-%d %H:%M:%S %z", utc(2026, 11, 22, 10, 0, 0));
	parses("2026-11-22 10:00:00 -0130", "%Y-%m-%d %H:%M:%S %z", utc(2026, 11, 22, 11, 30, 0));
	rejects("2026-11-22 10:00:60", "%Y-%m-%d %H:%M:%S");
}

static void test_dst_new_york(void **state)
{
	char buf[MBR_TIME_BUFSZ];

	(void)state;
	zone("America/New_York");
	parses("2021-01-15 12:00", NULL, utc(2021, 1, 15, 17, 0, 0));	/* EST */
	parses("2021-07-15 12:00", NULL, utc(2021, 7, 15, 16, 0, 0));	/* EDT */
	/* the same hour again in another zone: nothing of the last zone is kept */
	zone("Asia/Shanghai");
	parses("2021-07-15 12:30", NULL, utc(2021, 7, 15, 4, 30, 0));
	zone("America/New_York");
	parses("2021-07-15 12:30", NULL, utc(2021, 7, 15, 16, 30, 0));

	/* spring forward, 2021-03-14: 02:00-02:59 local does not exist */
	parses("2021-03-14 01:59:59", NULL, utc(2021, 3, 14, 6, 59, 59));
	rejects("2021-03-14 02:00", NULL);
	rejects("2021-03-14 02:30", NULL);
	rejects("2021-03-14 02:59:59", NULL);
	parses("2021-03-14 03:00", NULL, utc(2021, 3, 14, 7, 0, 0));
	parses("2021-03-14T02:30:00-05:00", NULL, utc(2021, 3, 14, 7, 30, 0));	/* explicit offset is fine */

	/* fall back, 2021-11-07: 01:00-01:59 local happens twice; the first wins */
	parses("2021-11-07 00:59:59", NULL, utc(2021, 11, 7, 4, 59, 59));
	parses("2021-11-07 01:00", NULL, utc(2021, 11, 7, 5, 0, 0));
	parses("2021-11-07 01:30", NULL, utc(2021, 11, 7, 5, 30, 0));
	parses("2021-11-07 01:59:59", NULL, utc(2021, 11, 7, 5, 59, 59));
	parses("2021-11-07 02:00", NULL, utc(2021, 11, 7, 7, 0, 0));
	parses("2021-11-07T01:30:00-05:00", NULL, utc(2021, 11, 7, 6, 30, 0));	/* the second, by offset */

	/* both instants of the repeated hour format the same */
	assert_string_equal(mbr_time_format(utc(2021, 11, 7, 5, 30, 0), buf), "2021-11-07 01:30:00");
	assert_string_equal(mbr_time_format(utc(2021, 11, 7, 6, 30, 0), buf), "2021-11-07 01:30:00");
	assert_string_equal(mbr_time_format(utc(2021, 3, 14, 7, 0, 0), buf), "2021-03-14 03:00:00");
	assert_string_equal(mbr_date_format(utc(2021, 11, 7, 4, 59, 59), buf), "2021-11-07");
	assert_string_equal(mbr_date_format(utc(2021, 11, 7, 3, 59, 59), buf), "2021-11-06");
}

static void test_midnight_gap(void **state)
{
	(void)state;
	/* Chile went to summer time at 24:00 on 2022-09-10: 00:00-00:59 on
	 * the 11th did not exist.  The date alone still means the start of
	 * that day (01:00 -03); the exact time 00:30 is rejected. */
	zone("America/Santiago");
	parses("2022-09-11", NULL, utc(2022, 9, 11, 4, 0, 0));
	rejects("2022-09-11 00:00", NULL);
	rejects("2022-09-11 00:30", NULL);
	parses("2022-09-11 01:00", NULL, utc(2022, 9, 11, 4, 0, 0));
	parses("2022-09-10", NULL, utc(2022, 9, 10, 4, 0, 0));
	assert_true(mbr_local_day(utc(2022, 9, 11, 4, 0, 0)) == utc(2022, 9, 11, 0, 0, 0) / 86400);
	assert_true(mbr_local_day(utc(2022, 9, 11, 3, 59, 59)) == utc(2022, 9, 10, 0, 0, 0) / 86400);
}

static void test_format(void **state)
{
	char buf[MBR_TIME_BUFSZ];
	int64_t t = utc(2026, 11, 22, 10, 0, 0);

	(void)state;
	zone("Asia/Shanghai");
	assert_ptr_equal(mbr_time_format(t, buf), buf);
	assert_string_equal(buf, "2026-11-22 18:00:00");
	assert_string_equal(mbr_time_format(0, buf), "1970-01-01 08:00:00");
	assert_string_equal(mbr_time_format(utc(2026, 11, 22, 15, 59, 59), buf), "2026-11-22 23:59:59");
	assert_string_equal(mbr_time_format(utc(2026, 11, 22, 16, 0, 0), buf), "2026-11-23 00:00:00");
	assert_string_equal(mbr_time_format(utc(2024, 2, 28, 16, 0, 5), buf), "2024-02-29 00:00:05");
	assert_ptr_equal(mbr_date_format(t, buf), buf);
	assert_string_equal(buf, "2026-11-22");
	assert_string_equal(mbr_date_format(utc(2026, 12, 31, 16, 0, 0), buf), "2027-01-01");
	assert_string_equal(mbr_time_format(INT64_MAX, buf), "");	/* out of range */
	assert_string_equal(mbr_date_format(INT64_MIN, buf), "");
	zone("UTC");
	assert_string_equal(mbr_time_format(-1, buf), "1969-12-31 23:59:59");
	assert_string_equal(mbr_time_format(t, buf), "2026-11-22 10:00:00");
}

static void test_round_trip(void **state)
{
	static const char *const zones[] = { "Asia/Shanghai", "America/New_York", "UTC" };
	char buf[MBR_TIME_BUFSZ];
	size_t z;
	int64_t t, back, start = utc(2020, 1, 1, 0, 0, 0);

	(void)state;
	for (z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		zone(zones[z]);
		/* every 7 hours 13 minutes 17 seconds over about 5 years */
		for (t = start; t < start + 5 * 366 * 86400LL; t += 7 * 3600 + 13 * 60 + 17) {
			mbr_time_format(t, buf);
			assert_int_equal(mbr_time_parse(buf, NULL, &back), MBR_OK);
			/* only the repeated hour in autumn may come back an hour early */
			if (back != t)
				assert_true(back == t - 3600 && strcmp(zones[z], "America/New_York") == 0);
		}
	}
}

static void test_local_day(void **state)
{
	(void)state;
	zone("UTC");
	assert_true(mbr_local_day(0) == 0);
	assert_true(mbr_local_day(86399) == 0);
	assert_true(mbr_local_day(86400) == 1);
	assert_true(mbr_local_day(-1) == -1);
	assert_true(mbr_local_day(-86400) == -1);
	assert_true(mbr_local_day(-86401) == -2);
	zone("Asia/Shanghai");
	assert_true(mbr_local_day(utc(2026, 11, 21, 16, 0, 0)) == utc(2026, 11, 22, 0, 0, 0) / 86400);
	assert_true(mbr_local_day(utc(2026, 11, 21, 15, 59, 59)) == utc(2026, 11, 21, 0, 0, 0) / 86400);
	assert_true(mbr_local_day(utc(1969, 12, 31, 16, 0, 0)) == 0);
	assert_true(mbr_local_day(utc(1969, 12, 31, 15, 59, 59)) == -1);
	zone("America/New_York");
	/* the 25-hour day: 00:00 EDT to 23:59:59 EST */
	assert_true(mbr_local_day(utc(2021, 11, 7, 4, 0, 0)) == utc(2021, 11, 7, 0, 0, 0) / 86400);
	assert_true(mbr_local_day(utc(2021, 11, 8, 4, 59, 59)) == utc(2021, 11, 7, 0, 0, 0) / 86400);
	assert_true(mbr_local_day(utc(2021, 11, 8, 5, 0, 0)) == utc(2021, 11, 8, 0, 0, 0) / 86400);
}

static void test_date_normalize(void **state)
{
	static const char *const good[][2] = {
		{ "2026-11-22", "2026-11-22" }, { "2026/11/22", "2026-11-22" },
		{ "20261122", "2026-11-22" }, { "1990/1/5", "1990-01-05" },
		{ "1990-1-5", "1990-01-05" }, { "1990/01/5", "1990-01-05" },
		{ "1990-12-1", "1990-12-01" }, { " 1990-05-17 ", "1990-05-17" },
		{ "2024-02-29", "2024-02-29" }, { "2000/2/29", "2000-02-29" },
		{ "19000101", "1900-01-01" }, { "2100-12-31", "2100-12-31" },
	};
	static const char *const bad[] = {
		"", "1990", "1990-05", "1990-5-", "90-05-17", "1990-05-17x", "1990-05/17",
		"1990/05-17", "1990.05.17", "199005", "1990051", "199005170",
		"1990-005-17", "1990-05-017", "1990--05-17", "1990/1/", "1990//5",
		"1899-12-31", "2101-01-01", "1990-00-10", "1990-13-01", "1990-01-00",
		"1990-01-32", "1990-04-31", "1990-02-29", "1900-02-29", "2100-02-29",
		"20230229", "abcd-ef-gh", "1990-05-17 00:00",
	};
	char out[11];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(out, 'x', sizeof(out));
		if (mbr_date_normalize(good[i][0], out) != MBR_OK)
			fail_msg("'%s' rejected", good[i][0]);
		assert_string_equal(out, good[i][1]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(out, "untouched", 10);
		if (mbr_date_normalize(bad[i], out) != MBR_EINVAL)
			fail_msg("'%s' accepted as %s", bad[i], out);
		assert_string_equal(out, "untouched");
	}
	assert_int_equal(mbr_date_normalize(NULL, out), MBR_EINVAL);
}

static void test_now(void **state)
{
	int64_t before, got;

	(void)state;
	zone("Asia/Shanghai");	/* MBR_NOW is UTC whatever the zone */
	setenv("MBR_NOW", "2026-11-22T10:00:00Z", 1);
	assert_true(mbr_now() == utc(2026, 11, 22, 10, 0, 0));
	setenv("MBR_NOW", "2026-11-22 10:00:00", 1);
	assert_true(mbr_now() == utc(2026, 11, 22, 10, 0, 0));
	setenv("MBR_NOW", "2026-11-22", 1);
	assert_true(mbr_now() == utc(2026, 11, 22, 0, 0, 0));
	setenv("MBR_NOW", "2026-11-22T18:00:00+08:00", 1);
	assert_true(mbr_now() == utc(2026, 11, 22, 10, 0, 0));

	before = (int64_t)time(NULL);
	setenv("MBR_NOW", "garbage", 1);	/* ignored */
	got = mbr_now();
	assert_true(got >= before && got <= before + 600);	/* the clock, not a pinned time */
	setenv("MBR_NOW", "", 1);
	got = mbr_now();
	assert_true(got >= before && got <= before + 600);	/* the clock, not a pinned time */
	unsetenv("MBR_NOW");
	got = mbr_now();
	assert_true(got >= before && got <= before + 600);	/* the clock, not a pinned time */
}

/* The local day straight from localtime_r, to hold mbr_local_day's cache to. */
static int64_t plain_day(int64_t when)
{
	time_t t = (time_t)when;
	struct tm tm;

	assert_non_null(localtime_r(&t, &tm));
	return utc(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, 0, 0, 0) / 86400;
}

/*
 * mbr_local_day keeps the day of the last quarter hour: it must equal
 * localtime_r second by second around midnights and offset changes, in
 * zones with whole-hour, half-hour, quarter-hour and odd historical
 * offsets, and forget the day when the zone changes.
 */
static void test_local_day_cache(void **state)
{
	static const struct {
		const char *tz;
		int64_t from;
	} cases[] = {
		{ "America/New_York", 1741503600 - 7200 },	/* 2025-03-09 DST starts */
		{ "America/New_York", 1762063200 - 7200 },	/* 2025-11-02 DST ends */
		{ "Asia/Kathmandu", 1741458600 - 7200 },	/* +05:45 midnight */
		{ "Asia/Kolkata", 1741458600 - 7200 },		/* +05:30 */
		{ "Australia/Lord_Howe", 1743868800 - 7200 },	/* a half-hour DST change */
		{ "Africa/Monrovia", 63072000 - 7200 },		/* 1972: -00:44:30 to UTC */
		{ "Asia/Shanghai", 1741449600 - 7200 },
	};
	size_t i;
	int64_t t;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		zone(cases[i].tz);
		for (t = cases[i].from; t < cases[i].from + 4 * 86400; t += 7)
			if (mbr_local_day(t) != plain_day(t))
				fail_msg("%s: %lld: %lld, not %lld", cases[i].tz, (long long)t,
					 (long long)mbr_local_day(t), (long long)plain_day(t));
	}
	/* a new zone, the same instant: a new day */
	zone("Asia/Shanghai");
	t = utc(2025, 3, 1, 20, 0, 0);			/* 04:00 on the 2nd in Shanghai */
	assert_int_equal(mbr_local_day(t), plain_day(t));
	zone("America/Los_Angeles");				/* 12:00 on the 1st */
	assert_int_equal(mbr_local_day(t), plain_day(t));
	assert_int_equal(mbr_local_day(t) + 1, utc(2025, 3, 2, 0, 0, 0) / 86400);
	zone("Asia/Shanghai");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_zone),
		cmocka_unit_test(test_iso_forms),
		cmocka_unit_test(test_iso_bad),
		cmocka_unit_test(test_leap_days),
		cmocka_unit_test(test_strptime),
		cmocka_unit_test(test_dst_new_york),
		cmocka_unit_test(test_midnight_gap),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_local_day),
		cmocka_unit_test(test_local_day_cache),
		cmocka_unit_test(test_date_normalize),
		cmocka_unit_test(test_now),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
