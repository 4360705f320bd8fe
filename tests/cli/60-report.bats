#!/usr/bin/env bats
# mbr-report sales: by day, month and store over --from/--to, in CSV, JSON
# lines and a table; the figures come from the maintained aggregates, and
# `mbr-db check` proves those equal a recomputation from the sales.
#
# The example days (see 40-sale.bats for the points):
#   2025-03-01 S01 R1001 40.20 (disc 1.00) R1002 6.00 R1003 46.90 R1004 119.70
#              S02 R2001 24.30
#   2025-03-02 S01 R1005 12.80, R1006 -39.90 (return of R1004)
#              S02 R2002 31.20

bats_require_minimum_version 1.5.0

load common

setup() {
	shop_setup
	mbr-add -q "$EX/members.csv"
	mbr-sale -q products "$EX/products.csv"
	mbr-points -q rules load "$EX/rules.txt"
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	mbr-sale -q import "$EX/sales-2025-03-02.csv"
}

HEAD=receipts,returns,amount,discount,items,member_receipts,member_amount,avg_receipt,points

@test "sales --by day: csv header and exact values" {
	run --separate-stderr mbr-report sales --by day --format csv
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "day,$HEAD
2025-03-01,5,0,237.10,1.00,15,4,231.10,47.42,389
2025-03-02,2,1,4.10,0.00,2,2,4.10,2.05,52" ]
}

@test "reading programs leave no -wal or -shm file behind (a cron report does not litter)" {
	[ ! -e shop.db-wal ] && [ ! -e shop.db-shm ]
	mbr-report sales --by store >/dev/null
	mbr-points balance M0001 >/dev/null
	mbr-member find M0001 >/dev/null
	mbr-db check >/dev/null
	[ ! -e shop.db-wal ]
	[ ! -e shop.db-shm ]
	# and they still write nothing
	before=$(sqlite3 shop.db .dump | md5sum)
	mbr-report sales --by day >/dev/null
	[ "$(sqlite3 shop.db .dump | md5sum)" = "$before" ]
}

@test "output that cannot be written: one message saying so, and a failing status" {
	[ -w /dev/full ] || skip "no /dev/full"
	for cmd in "mbr-report sales" "mbr-member export" "mbr-points balance M0001"; do
		run --separate-stderr bash -c "$cmd >/dev/full"
		echo "$cmd: $status: $stderr"
		[ "$status" -eq 4 ]
		[ "$stderr" = "${cmd%% *}: write error on standard output: No space left on device" ]
	done
}

@test "sales: by day is the default, and CSV when piped" {
	run --separate-stderr mbr-report sales
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "day,$HEAD" ]
	[ "${#lines[@]}" -eq 3 ]
}

@test "sales --by month and --by store" {
	run --separate-stderr mbr-report sales --by month --format csv
	[ "$status" -eq 0 ]
	[ "$output" = "month,$HEAD
2025-03,7,1,241.20,1.00,17,6,235.20,34.45,441" ]
	run --separate-stderr mbr-report sales --by store --format csv
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "store,$HEAD
S01,5,1,185.70,1.00,12,4,179.70,37.14,290
S02,2,0,55.50,0.00,5,2,55.50,27.75,151" ]
}

@test "sales --from/--to limit the business days" {
	run --separate-stderr mbr-report sales --by day --from 2025-03-02 --to 2025-03-02 --format csv
	[ "$status" -eq 0 ]
	[ "$output" = "day,$HEAD
2025-03-02,2,1,4.10,0.00,2,2,4.10,2.05,52" ]
	run --separate-stderr mbr-report sales --by store --from 2025-03-01 --to 2025-03-01 --format csv
	[ "$output" = "store,$HEAD
S01,4,0,212.80,1.00,12,3,206.80,53.20,331
S02,1,0,24.30,0.00,3,1,24.30,24.30,58" ]
	run --separate-stderr mbr-report sales --by day --from 2025-03-03 --format csv
	[ "$status" -eq 0 ]
	[ "$output" = "day,$HEAD" ]
	run --separate-stderr mbr-report sales --by day --to 2025-03-01 --format csv
	[ "${#lines[@]}" -eq 2 ]
	# other date spellings are accepted
	run --separate-stderr mbr-report sales --by day --from 20250302 --to 2025/03/02 --format csv
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == 2025-03-02,* ]]
}

@test "sales: bad options are usage errors" {
	run --separate-stderr mbr-report sales --by week
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"--by 'week' must be day, month or store"* ]]
	run --separate-stderr mbr-report sales --from 2025-02-30
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--from '2025-02-30' is not a date"* ]]
	for f in json table; do
		run --separate-stderr mbr-report sales --format $f --excel
		[ "$status" -eq 2 ]
		[ "${stderr_lines[0]}" = "mbr-report: --excel goes with csv or tsv, not $f" ]
		run --separate-stderr mbr-member export --excel --format $f
		[ "$status" -eq 2 ]
	done
	run --separate-stderr mbr-report sales --format xml
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-report nosuch
	[ "$status" -eq 2 ]
}

@test "sales --format json: one object per line that jq parses" {
	run --separate-stderr mbr-report sales --by day --format json
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	for l in "${lines[@]}"; do
		printf '%s\n' "$l" | jq -e . >/dev/null
	done
	printf '%s\n' "$output" | jq -se 'length == 2'
	printf '%s\n' "$output" | jq -se '.[0].day == "2025-03-01" and .[0].receipts == 5 and .[0].amount == 237.10 and .[0].points == 389'
	printf '%s\n' "$output" | jq -se '.[1].returns == 1 and .[1].amount == 4.10 and .[1].avg_receipt == 2.05'
	run --separate-stderr mbr-report sales --by store --format json
	printf '%s\n' "$output" | jq -se 'map(.store) == ["S01", "S02"]'
}

@test "sales --format table: aligned columns, no commas" {
	run --separate-stderr mbr-report sales --by store --format table
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *store* ]]
	[[ "$output" == *member_amount* ]]
	[[ "$output" != *"store,receipts"* ]]
	printf '%s\n' "$output" | grep -q 'S01.*185\.70'
	printf '%s\n' "$output" | grep -q 'S02.*55\.50'
}

@test "sales --format csv --excel: BOM and CRLF" {
	run --separate-stderr mbr-report sales --by month --format csv --excel
	[ "$status" -eq 0 ]
	mbr-report sales --by month --format csv --excel >x.csv
	[ "$(head -c 3 x.csv | od -An -tx1 | tr -d ' ')" = efbbbf ]
	[ "$(grep -c $'\r$' x.csv)" -eq 2 ]
}

@test "aggregates: check passes after imports, returns and single sales" {
	mbr-sale -q add --ts '2025-03-03 10:00:00' --member M0002 R9 A100:2:12.80 B201:1:7.20 >/dev/null
	mbr-sale -q add --ts '2025-03-03 11:00:00' --original R9 R10 A100:-1:12.80 >/dev/null
	mbr-sale -q add --ts '2025-03-03 12:00:00' --member M0003 R11 C300:-2:2.00 >/dev/null
	run --separate-stderr mbr-db check
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == *": ok" ]]
	# the report is the aggregates, and they equal a sum over the sales
	got=$(mbr-report sales --by day --format csv | awk -F, '$1 == "2025-03-03" { print $2, $3, $4 }')
	[ "$got" = "1 2 16.00" ]
	[ "$(q "SELECT SUM(total >= 0), SUM(total < 0), SUM(total) FROM sales WHERE day = (SELECT MAX(day) FROM sales)")" = "1|2|1600" ]
}

@test "aggregates: tampering with agg_store_day makes check fail" {
	run --separate-stderr mbr-db check
	[ "$status" -eq 0 ]
	q "UPDATE agg_store_day SET amount = amount + 1 WHERE store = 'S01' AND day = (SELECT MIN(day) FROM agg_store_day)"
	run --separate-stderr mbr-db check
	echo "$output"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$output" == *"store/day aggregate differs from the sales: store S01 on 20"* ]]
	[[ "$stderr" == *"problem"* ]]
	# a row the sales do not have is found too
	q "UPDATE agg_store_day SET amount = amount - 1 WHERE store = 'S01' AND day = (SELECT MIN(day) FROM agg_store_day)"
	q "INSERT INTO agg_store_day(store, day, receipts, amount) VALUES ('S02', 1, 1, 100)"
	run --separate-stderr mbr-db check
	[ "$status" -eq 1 ]
	[[ "$output" == *"store S02 on 1970-01-02"* ]]
}

@test "aggregates: tampering with agg_member_day makes check fail" {
	q "UPDATE agg_member_day SET points_earned = points_earned + 1 WHERE member = (SELECT MIN(member) FROM agg_member_day)"
	run --separate-stderr mbr-db check
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"member/day aggregate differs from the sales"* ]]
}

@test "birthdays --days 300: offsets past 127 are right, and no member in range is left out" {
	for b in B6:1985-11-23 B9:1990-09-13 B10:1990-06-01 B12:1991-10-20 B1:1990-01-05; do
		mbr-add -q --member-no "${b%%:*}" --birthday "${b#*:}" >/dev/null
	done
	run --separate-stderr mbr-report birthdays --from 2025-01-01 --days 300 --format csv
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "member_no,uid,birthday,in_days,tier,store" ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -E '^B[0-9]+,' | cut -d, -f1,3,4)" = "$(printf '%s\n' \
		B9,09-13,255 B10,06-01,151 B12,10-20,292 B1,01-05,4)" ]
}

@test "an option a report does not use is a usage error (exit 2), as mbr-report(1) says" {
	run --separate-stderr mbr-report sales --days 5
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "mbr-report: --days does not go with sales" ]
	grep -q 'An option that a report does not use is a usage error' "$MBR_TOP/man/mbr-report.1"
	! grep -q 'does not use are ignored' "$MBR_TOP/man/mbr-report.1"
}

@test "sales --store: one store's days; categories per store and range; an unknown store is exit 3" {
	run --separate-stderr mbr-report sales --store S02 --format csv
	[ "$status" -eq 0 ]
	[ "$output" = "day,$HEAD
2025-03-01,1,0,24.30,0.00,3,1,24.30,24.30,58
2025-03-02,1,0,31.20,0.00,2,1,31.20,31.20,93" ]
	# the stores' days add up to the chain's
	[ "$(mbr-report sales --store S01 --by month | sed -n 2p)" = "2025-03,5,1,185.70,1.00,12,4,179.70,37.14,290" ]
	run --separate-stderr mbr-report categories --format csv
	[ "$status" -eq 0 ]
	[ "$output" = "category,lines,qty,amount,share
日化,3,3,119.70,49.6
生鲜,3,5,60.20,24.9
乳品,3,4,48.30,20.0
饮料,2,5,13.00,5.3" ]
	# a day whose return outweighs its sales: shares of what sold, none
	# for the category that gave back more than it sold
	run --separate-stderr mbr-report categories --store S01 --from 2025-03-02 --to 2025-03-02
	[ "$output" = "category,lines,qty,amount,share
乳品,1,1,12.80,100.0
日化,1,-1,-39.90," ]
	run --separate-stderr mbr-report categories --store S09
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-report: no store 'S09'" ]
	run --separate-stderr mbr-report sales --store S09
	[ "$status" -eq 3 ]
	run --separate-stderr mbr-report tiers --store S01
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-report: --store does not go with tiers" ]
	# the category aggregate is what mbr-db check proves against the lines
	mbr-db -q check
}

@test "rfm: scores and segments over a window, manager only, erased members left out" {
	run --separate-stderr mbr-report rfm --to 2025-03-31
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "uid,tier,store,last_purchase,recency_days,frequency,monetary,r,f,m,rfm,segment
S01-2,,S01,2025-03-02,29,2,53.00,5,5,4,554,champions
S01-3,,S01,2025-03-01,30,1,46.90,2,3,3,233,hibernating
S01-4,,S02,2025-03-01,30,1,24.30,2,3,1,231,hibernating
S01-5,,S02,2025-03-01,30,1,79.80,2,3,5,235,hibernating
S01-6,,S01,2025-03-02,29,1,31.20,5,3,2,532,new" ]
	# a window of the second day only: M0004's return alone is no purchase
	run --separate-stderr mbr-report rfm --from 2025-03-02 --to 2025-03-02 --format csv
	[ "$output" = "uid,tier,store,last_purchase,recency_days,frequency,monetary,r,f,m,rfm,segment
S01-2,,S01,2025-03-02,0,1,12.80,3,3,2,332,regular
S01-6,,S01,2025-03-02,0,1,31.20,3,3,4,334,regular" ]
	# the default window is the year up to today (2026-11-22): nobody
	run --separate-stderr mbr-report rfm
	[ "$status" -eq 0 ]
	[ "$output" = "uid,tier,store,last_purchase,recency_days,frequency,monetary,r,f,m,rfm,segment" ]
	mbr-member -q --yes erase M0001
	run --separate-stderr mbr-report rfm --to 2025-03-31 --format json
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	! grep -q S01-2 <<<"$output"
	jq -e 'select(.uid == "S01-6") | .monetary == 31.20 and .r == 5 and .rfm == "532"' <<<"${lines[3]}"
	mbr-db -q grant li cashier
	run --separate-stderr mbr-report --operator li rfm
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	run --separate-stderr mbr-report rfm --from 2025-03-02 --to 2025-03-01
	[ "$status" -eq 2 ]
}

@test "a date beyond the years 1900 to 2100 says what the range is" {
	run --separate-stderr mbr-report sales --to 2199-12-31
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-report: --to '2199-12-31' is not a date (YYYY-MM-DD, 1900 to 2100)" ]
	run --separate-stderr mbr-report sales --from 1900-01-01 --to 2100-12-31
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
}

@test "--from after --to is a usage error for every report with a range, not an empty report" {
	for r in sales categories rfm cohorts settlement; do
		run --separate-stderr mbr-report --from 2025-03-02 --to 2025-03-01 "$r"
		[ "$status" -eq 2 ]
		[ "$output" = "" ]
		[ "${stderr_lines[0]}" = "mbr-report: --from 2025-03-02 is after --to 2025-03-01" ]
	done
	# one day is fine
	run --separate-stderr mbr-report --from 2025-03-02 --to 2025-03-02 sales
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	mbr-db -q grant li manager
	run --separate-stderr mbr-report --operator nobody sales
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"; a report needs cashier "* ]]
}

@test "cohorts: a row a month from each cohort's first purchase to the last sale, empty months included" {
	mbr-add -q --member-no M0009 --name Zed --phone 13600009999 --store S02
	mbr-sale -q add --ts '2025-05-10 10:00:00' --member M0001 R3001 A100:1:12.80 >/dev/null
	mbr-sale -q add --ts '2025-04-03 10:00:00' --member M0009 R3002 A100:1:12.80 >/dev/null
	run --separate-stderr mbr-report cohorts --format csv
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "cohort,members,month,offset,active,retention
2025-03,5,2025-03,0,5,100.0
2025-03,5,2025-04,1,0,0.0
2025-03,5,2025-05,2,1,20.0
2025-04,1,2025-04,0,1,100.0
2025-04,1,2025-05,1,0,0.0" ]
	run --separate-stderr mbr-report cohorts --from 2025-04-01 --format csv
	[ "$output" = "cohort,members,month,offset,active,retention
2025-04,1,2025-04,0,1,100.0
2025-04,1,2025-05,1,0,0.0" ]
	# cashiers may read it: it names nobody
	mbr-db -q grant li cashier
	run --separate-stderr mbr-report --operator li cohorts
	[ "$status" -eq 0 ]
}

@test "tiers and negative: members per tier, and the members who owe points" {
	run --separate-stderr mbr-report tiers --format csv
	[ "$status" -eq 0 ]
	[ "$output" = "tier,members,points,negative,stored_value
,5,391,0,0.00
SILVER,0,0,0,0.00
GOLD,0,0,0,0.00" ]
	run --separate-stderr mbr-report negative
	[ "$status" -eq 0 ]
	[ "$output" = "member_no,uid,points,tier,store,last_entry" ]
	# M0004 spends what R1004 left, then returns another of its goods
	MBR_NOW=2025-03-03T01:00:00Z mbr-points -q redeem M0004 "$(mbr-points balance M0004 | sed -n 2p | cut -d, -f1)" >/dev/null
	mbr-sale -q add --ts '2025-03-03 12:30:00' --original R1004 R1007 D400:-1:39.90 >/dev/null
	run --separate-stderr mbr-report negative --format csv
	[ "$status" -eq 0 ]
	[ "$output" = "member_no,uid,points,tier,store,last_entry
M0004,S01-5,-60,,S02,2025-03-03" ]
	run --separate-stderr mbr-report tiers --format csv
	[ "${lines[1]}" = ",5,211,1,0.00" ]
	mbr-db -q grant li cashier
	run --separate-stderr mbr-report --operator li negative
	[ "$status" -eq 5 ]
	run --separate-stderr mbr-report --operator li tiers
	[ "$status" -eq 0 ]
	mbr-db -q check
}

@test "the key: reports of figures run without it; birthdays and negative, which print personal data, fail before any output" {
	mv shop.db.key away.key
	run --separate-stderr mbr-report sales --by store
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	for r in birthdays negative; do
		run --separate-stderr mbr-report "$r"
		[ "$status" -eq 4 ]
		[ "$output" = "" ]
		[[ "$stderr" == *"key file '$T/shop.db.key'"* ]] || [[ "$stderr" == *"key file 'shop.db.key'"* ]]
	done
	mv away.key shop.db.key
	run --separate-stderr mbr-report negative
	[ "$status" -eq 0 ]
}

@test "--format html: a page with a bar chart and the table, for reports only" {
	run --separate-stderr mbr-report sales --by store --format html
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${lines[0]}" = "<!DOCTYPE html>" ]
	grep -qx '<title>sales by store</title>' <<<"$output"
	# a bar and a row for each store, the header row too
	[ "$(grep -o '<rect ' <<<"$output" | wc -l)" -eq 2 ]
	[ "$(grep -c '^<tr>' <<<"$output")" -eq 2 ]
	grep -q '<tr><td>S01</td><td class="n">5</td><td class="n">1</td><td class="n">185.70</td>' <<<"$output"
	[ "${lines[-1]}" = "</html>" ]
	run --separate-stderr mbr-report categories --store S01 --from 2025-03-02 --to 2025-03-02 --format html
	[ "$status" -eq 0 ]
	grep -qx '<title>categories, store S01, from 2025-03-02 to 2025-03-02</title>' <<<"$output"
	# a negative amount is a bar of its own colour
	grep -q 'fill="#c0504d"' <<<"$output"
	run --separate-stderr mbr-report sales --format html --excel
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-report: --excel goes with csv or tsv, not html" ]
	for f in json table; do
		run --separate-stderr mbr-report sales --format $f --excel
		[ "$status" -eq 2 ]
		[ "${stderr_lines[0]}" = "mbr-report: --excel goes with csv or tsv, not $f" ]
		run --separate-stderr mbr-member export --excel --format $f
		[ "$status" -eq 2 ]
	done
	run --separate-stderr mbr-report sales --format xml
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-report: format 'xml' must be table, csv, tsv, json or html" ]
	# other programs print records, not pages
	run --separate-stderr mbr-member export --format html
	[ "$status" -eq 2 ]
}

@test "churn: active, new, retained, reactivated and churned members month by month, quiet months included" {
	mbr-add -q --member-no M0009 --name Zed --phone 13600009999 --store S02 >/dev/null
	mbr-sale -q add --ts '2025-05-10 10:00:00' --member M0001 R3001 A100:1:12.80 >/dev/null
	mbr-sale -q add --ts '2025-05-11 10:00:00' --member M0009 R3002 A100:1:10.00 >/dev/null
	run --separate-stderr mbr-report churn --format csv
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	# March: five members, all new; April quiet: all five churned; May:
	# M0009 new, M0001 back
	[ "$output" = "month,active,new,retained,reactivated,churned,churn_rate,spend,avg_spend,clv
2025-03,5,5,0,0,0,,235.20,47.04,
2025-04,0,0,0,0,5,100.0,0.00,0.00,
2025-05,2,1,0,1,0,,22.80,11.40," ]
	run --separate-stderr mbr-report churn --from 2025-04-01 --to 2025-04-30 --format csv
	[ "${lines[1]}" = "2025-04,0,0,0,0,5,100.0,0.00,0.00," ]
	[ "${#lines[@]}" -eq 2 ]
	run --separate-stderr mbr-report churn --store S01
	[ "$status" -eq 2 ]
}

@test "members: enrolled per month or home store, with their status, buyers and spend" {
	run --separate-stderr mbr-report members --format csv
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	# the five example members, enrolled "today" (MBR_NOW): four bought
	# (M0002 by phone), M0005 bought too: 31.20
	[ "$output" = "month,enrolled,active,frozen,erased,buyers,spend,avg_spend
2026-11,5,5,0,0,5,235.20,47.04" ]
	mbr-member -q freeze M0003
	run --separate-stderr mbr-report members --by store --format csv
	[ "$output" = "store,enrolled,active,frozen,erased,buyers,spend,avg_spend
S01,3,3,0,0,3,131.10,43.70
S02,2,1,1,0,2,104.10,52.05" ]
	run --separate-stderr mbr-report members --from 2026-11-23
	[ "$output" = "month,enrolled,active,frozen,erased,buyers,spend,avg_spend" ]
	run --separate-stderr mbr-report members --by day
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-report: members are reported --by month or store" ]
}
