#!/usr/bin/env bats
# mbr-points: balances (now and as of a date) in every format, history
# with a running balance, earn/redeem/adjust/transfer with their roles and
# refusals, FIFO expiry (idempotent), rules load/show, nightly tiers.
# Every test starts from a fresh database in its own temp dir.

bats_require_minimum_version 1.5.0

load common

setup() {
	shop_setup
}

load_examples() {
	mbr-add -q "$EX/members.csv"
	mbr-sale -q products "$EX/products.csv"
	mbr-points -q rules load "$EX/rules.txt"
}

# examples plus both days of sales: M0001 82 on 03-01, then -50 +18 on 03-02
load_sales() {
	load_examples
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	mbr-sale -q import "$EX/sales-2025-03-02.csv"
}

bal() {
	mbr-points balance --format csv "$1" | sed -n '2s/,.*//p'
}

uid() {
	mbr-points balance --format csv "$1" | sed -n '2p' | cut -d, -f2
}

@test "balance: csv is a header then a row starting with the number" {
	load_sales
	run --separate-stderr mbr-points balance --format csv M0001
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "points,member,member_no,as_of" ]
	[[ "${lines[1]}" == "50,S01-"*",M0001,2026-11-22 18:00:00" ]]
}

@test "balance: tsv, json and table" {
	load_sales
	run --separate-stderr mbr-points balance --format tsv M0001
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(printf 'points\tmember\tmember_no\tas_of')" ]
	[[ "${lines[1]}" == "$(printf '50\tS01-')"* ]]
	run --separate-stderr mbr-points balance --format json M0001
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(printf '%s\n' "$output" | jq -r '.points')" = 50 ]
	[ "$(printf '%s\n' "$output" | jq -r '.member_no')" = M0001 ]
	run --separate-stderr mbr-points balance --format table M0001
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *points* ]]
	[[ "$output" == *M0001* ]]
	[[ "$output" != *"points,member"* ]]
	# piped without --format: CSV
	run --separate-stderr mbr-points balance M0001
	[ "${lines[0]}" = "points,member,member_no,as_of" ]
	# by phone and by uid too
	[ "$(bal 13812345678)" = 50 ]
	[ "$(bal "$(uid M0001)")" = 50 ]
}

@test "balance: --as-of a past date reads the ledger up to that day's end" {
	load_sales
	run --separate-stderr mbr-points balance --format csv --as-of 2025-03-01 M0001
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == "82,"*",M0001,2025-03-01" ]]
	run --separate-stderr mbr-points balance --format csv --as-of 2025-02-28 M0001
	[[ "${lines[1]}" == "0,"* ]]
	run --separate-stderr mbr-points balance --format csv --as-of 2025-03-02 M0004
	[[ "${lines[1]}" == "120,"* ]]
	run --separate-stderr mbr-points balance --as-of 2025-13-01 M0001
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--as-of '2025-13-01' is not a date"* ]]
}

@test "balance: --as-of leaves out a sales batch undone since, as if never imported" {
	load_examples
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	run --separate-stderr mbr-sale import "$EX/sales-2025-03-02.csv"
	batch=$(printf '%s\n' "$stderr" | sed -n 's/.*: batch \([0-9]*\): .*/\1/p')
	[ "$(mbr-points balance --format csv --as-of 2025-03-02 M0001 | sed -n '2s/,.*//p')" = 50 ]
	mbr-sale -q undo "$batch"
	# now, and on the day of the undone sales, the balance is day 1's
	[ "$(bal M0001)" = 82 ]
	[ "$(mbr-points balance --format csv --as-of 2025-03-02 M0001 | sed -n '2s/,.*//p')" = 82 ]
	[ "$(mbr-points balance --format csv --as-of 2025-03-02 M0004 | sed -n '2s/,.*//p')" = 179 ]
	# the ledger keeps the undone entries and their cancellations
	[ "$(mbr-points history --format csv M0001 | grep -c ',undo,')" -ge 2 ]
	# a past day's balance plus the entries since is the balance now
	[ "$(mbr-points balance --format csv --as-of 2099-12-31 M0001 | sed -n '2s/,.*//p')" = 82 ]
}

@test "balance: an unknown member is a data error" {
	load_examples
	run --separate-stderr mbr-points balance M9999
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == *M9999* ]]
}

@test "history: every entry with a running balance" {
	load_sales
	run --separate-stderr mbr-points history --format csv M0001
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = "time,kind,points,balance,source,ref,store,reason,entry" ]
	[[ "${lines[1]}" == "2025-03-01 09:12:00,earn,+82,82,sale,S01/R1001,S01,purchase,S01:"* ]]
	[[ "${lines[2]}" == "2025-03-02 10:00:00,redeem,-50,32,sale,S01/R1005,S01,paid with points,S01:"* ]]
	[[ "${lines[3]}" == "2025-03-02 10:00:00,earn,+18,50,sale,S01/R1005,S01,purchase,S01:"* ]]
	run --separate-stderr mbr-points history --format csv M0004
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[2]}" == *",reversal,-59,120,sale,S01/R1006,S01,return of referenced sale,"* ]]
	# json lines parse
	run --separate-stderr mbr-points history --format json M0001
	[ "$(printf '%s\n' "$output" | jq -s 'map(.balance) | join(" ")' -r)" = "82 32 50" ]
}

@test "history and past balances go by the entries' times, not the order they were recorded in" {
	load_sales
	# a till's earlier receipt recorded after both days: M0001 earned 10
	# on 2025-02-28
	printf 'store,receipt,ts,member,sku,qty,unit_price\nS01,R0900,2025-02-28 18:00:00,M0001,A100,1,10.00\n' >late.csv
	mbr-sale -q import late.csv
	run --separate-stderr mbr-points history --format csv M0001
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
	[[ "${lines[1]}" == "2025-02-28 18:00:00,earn,+"*",sale,S01/R0900,"* ]]
	early=$(printf '%s\n' "${lines[1]}" | cut -d, -f4)
	[[ "${lines[2]}" == "2025-03-01 09:12:00,earn,+82,$((early + 82)),sale,S01/R1001,"* ]]
	[[ "${lines[3]}" == "2025-03-02 10:00:00,redeem,-50,$((early + 32)),"* ]]
	[[ "${lines[4]}" == "2025-03-02 10:00:00,earn,+18,$((early + 50)),"* ]]
	[ "$(mbr-points balance --format csv --as-of 2025-02-28 M0001 | sed -n '2s/,.*//p')" = "$early" ]
	[ "$(mbr-points balance --format csv --as-of 2025-03-01 M0001 | sed -n '2s/,.*//p')" = $((early + 82)) ]
	[ "$(bal M0001)" = $((early + 50)) ]
}

@test "earn and redeem: print the new balance; redeeming more than the balance writes nothing" {
	load_examples
	run --separate-stderr mbr-points earn M0005 100
	[ "$status" -eq 0 ]
	[ "$output" = 100 ]
	run --separate-stderr mbr-points redeem M0005 30
	[ "$status" -eq 0 ]
	[ "$output" = 70 ]
	n=$(q 'SELECT COUNT(*) FROM points_ledger')
	run --separate-stderr mbr-points redeem M0005 71
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"has 70 points, cannot redeem 71"* ]]
	[ "$(q 'SELECT COUNT(*) FROM points_ledger')" = "$n" ]
	[ "$(bal M0005)" = 70 ]
	# not a positive number: usage
	for bad in 0 -5 abc 1.5; do
		run --separate-stderr mbr-points earn M0005 "$bad"
		[ "$status" -eq 2 ]
	done
	run --separate-stderr mbr-points -n earn M0005 5
	[ "$status" -eq 0 ]
	[ "$(bal M0005)" = 70 ]
	mbr-db -q check
}

@test "adjust: needs --reason (exit 2) and a manager (cashier: exit 5)" {
	load_examples
	mbr-db -q grant c1 cashier
	mbr-db -q grant m1 manager
	n=$(q 'SELECT COUNT(*) FROM points_ledger')
	run --separate-stderr mbr-points --operator m1 adjust M0001 50
	echo "$stderr"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"adjust needs --reason"* ]]
	run --separate-stderr mbr-points --operator c1 --reason goodwill adjust M0001 50
	echo "$stderr"
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	[[ "$stderr" == *c1* ]]
	[ "$(q 'SELECT COUNT(*) FROM points_ledger')" = "$n" ]
	run --separate-stderr mbr-points --operator m1 --reason goodwill adjust M0001 50
	[ "$status" -eq 0 ]
	[ "$output" = 50 ]
	run --separate-stderr mbr-points --operator m1 --reason 'data fix' adjust -- M0001 -80
	[ "$status" -eq 0 ]
	[ "$output" = -30 ]
	[ "$(q "SELECT kind, points, reason, operator FROM points_ledger ORDER BY id")" = "adjust|50|goodwill|m1
adjust|-80|data fix|m1" ]
	# a cashier may earn and redeem
	run --separate-stderr mbr-points --operator c1 earn M0002 5
	[ "$status" -eq 0 ]
	mbr-db -q check
}

@test "adjust: a negative amount as the synopsis shows it (adjust member -80)" {
	load_examples
	mbr-points -q earn M0001 100 >/dev/null
	# getopt must not take "-80" for options -8 -0
	run --separate-stderr mbr-points --reason 'data fix' adjust M0001 -80
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = 20 ]
}

@test "transfer: moves points between members; more than the balance is refused" {
	load_sales
	# before the points of 2025-03 lapse
	export MBR_NOW=2025-03-10T02:00:00Z
	run --separate-stderr mbr-points --reason gift transfer M0001 M0002 30
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(bal M0001)" = 20 ]
	[ "$(bal M0002)" = 100 ]
	run --separate-stderr mbr-points transfer M0001 M0002 21
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"has 20 points, cannot transfer 21"* ]]
	run --separate-stderr mbr-points transfer M0001 M0001 1
	[ "$status" -eq 3 ]
	[ "$(bal M0001)" = 20 ]
	# the received lot lapses no later than the points it came from
	[ "$(q "SELECT COUNT(*) FROM points_lots t JOIN points_ledger l ON l.id = t.id WHERE l.kind = 'transfer' AND t.expires_at IS NULL")" = 0 ]
	mbr-db -q grant c1 cashier
	run --separate-stderr mbr-points --operator c1 transfer M0002 M0001 1
	[ "$status" -eq 5 ]
	mbr-db -q check
}

@test "expire --as-of: lapsed lots expire once; a second run changes nothing" {
	load_sales
	# points earned 2025-03-01/02 lapse 12 months on
	run --separate-stderr mbr-points expire --as-of 2026-02-28
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-points: 0 lots expired, 0 points" ]
	run --separate-stderr mbr-points expire --as-of 2026-03-01
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	# lots of 03-01: M0001 32 left of 82, M0002 70, M0003 58, M0004 120 left of 179
	[ "$stderr" = "mbr-points: 4 lots expired, 280 points" ]
	[ "$(bal M0001)" = 18 ]
	[ "$(bal M0004)" = 0 ]
	n=$(q 'SELECT COUNT(*) FROM points_ledger')
	run --separate-stderr mbr-points expire --as-of 2026-03-01
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-points: 0 lots expired, 0 points" ]
	[ "$(q 'SELECT COUNT(*) FROM points_ledger')" = "$n" ]
	run --separate-stderr mbr-points expire --as-of 2026-03-02
	[ "$stderr" = "mbr-points: 2 lots expired, 111 points" ]
	[ "$(bal M0001)" = 0 ]
	[ "$(bal M0005)" = 0 ]
	mbr-db -q check
}

@test "expire and tiers: an --as-of after today is refused and changes nothing (points lapse in their time)" {
	load_sales
	n=$(q 'SELECT COUNT(*) FROM points_ledger')
	dump=$(q 'SELECT m.id, m.tier, b.points FROM members m LEFT JOIN points_balances b ON b.member = m.id ORDER BY m.id')
	# today is 2026-11-22 (MBR_NOW); the 2025-03 lots lapse 2026-03, later ones not yet
	for cmd in expire tiers; do
		run --separate-stderr mbr-points $cmd --as-of 2026-11-23
		echo "$stderr"
		[ "$status" -eq 2 ]
		[ "$output" = "" ]
		[ "${stderr_lines[0]}" = "mbr-points: --as-of '2026-11-23' is after today (2026-11-22): $cmd runs for today or a past day" ]
	done
	[ "$(q 'SELECT COUNT(*) FROM points_ledger')" = "$n" ]
	[ "$(q 'SELECT m.id, m.tier, b.points FROM members m LEFT JOIN points_balances b ON b.member = m.id ORDER BY m.id')" = "$dump" ]
	# today itself is fine
	run --separate-stderr mbr-points expire --as-of 2026-11-22
	[ "$status" -eq 0 ]
	# json lines give a signed change as a number
	[ "$(mbr-points history --format json M0001 | jq -c -s 'map(.points | type) | unique')" = '["number"]' ]
	[ "$(mbr-points history --format json M0001 | jq -s 'map(.points) | add')" = "$(mbr-points balance M0001 | sed 1d | cut -d, -f1)" ]
}

@test "rules load: a byte order mark is skipped; gzip is refused saying so" {
	printf '\xef\xbb\xbfeffective 2025-01-01\ntier SILVER rank 1 spend 500.00 name 银卡\n' >bom.txt
	run --separate-stderr mbr-points rules load bom.txt
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(mbr-points rules show | head -c 9)" = effective ]
	gzip -c bom.txt >r.gz
	run --separate-stderr mbr-points rules load r.gz
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-points: r.gz: a rules file is plain text, not gzip: gunzip it first" ]
}

@test "rules load: a bad line is a data error naming file:line, nothing stored" {
	printf 'effective 2025-01-01\nbase 1 per 1.00\nmultiplier weekday funday x2\n' >bad.txt
	run --separate-stderr mbr-points rules load bad.txt
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-points: bad.txt:3: bad weekdays 'funday' (e.g. sat,sun)" ]
	printf 'effective 2025-01-01\nbogus 1\n' >bad2.txt
	run --separate-stderr mbr-points rules load bad2.txt
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-points: bad2.txt:2: unknown directive 'bogus'" ]
	printf 'base 1 per 1.00\n' >bad3.txt
	run --separate-stderr mbr-points rules load bad3.txt
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"effective"* ]]
	[ "$(q 'SELECT COUNT(*) FROM rules_versions')" = 0 ]
	# a missing file, and a cashier
	run --separate-stderr mbr-points rules load nosuch.txt
	[ "$status" -ne 0 ]
	mbr-db -q grant c1 cashier
	run --separate-stderr mbr-points --operator c1 rules load "$EX/rules.txt"
	[ "$status" -eq 5 ]
}

@test "rules load: errors found after the whole file is read still say file:line" {
	# a tier defined twice, or a rank given twice: the later line
	printf 'effective 2025-01-01\ntier GOLD rank 2 spend 5.00\n\ntier GOLD rank 3 spend 9.00\n' >dup.txt
	run --separate-stderr mbr-points rules load dup.txt
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-points: dup.txt:4: tier GOLD defined twice" ]
	printf 'effective 2025-01-01\ntier SILVER rank 1 spend 5.00\n# gap\ntier GOLD rank 1 spend 9.00\n' >rank.txt
	run --separate-stderr mbr-points rules load rank.txt
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-points: rank.txt:4: tiers SILVER and GOLD have the same rank" ]
	# a multiplier for a tier the file does not define: the multiplier's line
	printf 'effective 2025-01-01\nmultiplier tier GOLD x2\ntier SILVER rank 1 spend 5.00\n' >mt.txt
	run --separate-stderr mbr-points rules load mt.txt
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-points: mt.txt:2: multiplier for unknown tier 'GOLD'" ]
	# no effective line: line 1, where it goes
	printf '# no date\nbase 1 per 1.00\n' >noeff.txt
	run --separate-stderr mbr-points rules load noeff.txt
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-points: noeff.txt:1: rules need an 'effective YYYY-MM-DD' line" ]
	# standard input is '-', as in the CSV imports
	run --separate-stderr mbr-points rules load - <dup.txt
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-points: -:4: tier GOLD defined twice" ]
	[ "$(q 'SELECT COUNT(*) FROM rules_versions')" = 0 ]
}

@test "rules load: a new version may rename tiers and give their ranks to others; members keep their code until tiers" {
	mbr-add -q "$EX/members.csv"
	# v1: every member reaches GOLD (rank 2), above SILVER (rank 1)
	printf 'effective 2025-01-01\ntier SILVER rank 1 spend 0.00\ntier GOLD rank 2 spend 0.00 earn x2\n' >v1.txt
	mbr-points -q rules load v1.txt
	mbr-points -q tiers --as-of 2025-03-01 >/dev/null
	[ "$(q "SELECT DISTINCT tier FROM members")" = GOLD ]
	# v2 drops GOLD, gives its rank 2 to SILVER and SILVER's rank 1 to PLATINUM
	printf 'effective 2025-06-01\ntier PLATINUM rank 1 spend 0.00\ntier SILVER rank 2 spend 0.00\n' >v2.txt
	run --separate-stderr mbr-points rules load v2.txt
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-points: rules version 2 loaded" ]
	# members keep GOLD: v1 is still in force before 2025-06-01, and GOLD
	# stays a tier a member may have
	[ "$(q "SELECT DISTINCT tier FROM members")" = GOLD ]
	# GOLD earns x2 under v1, and is no tier (x1) under v2
	mbr-sale -q products "$EX/products.csv"
	[ "$(mbr-sale -q add --ts '2025-05-30 10:00:00' --member M0001 T1 D400:1:39.90)" = "S01,T1,39.90,79" ]
	[ "$(mbr-sale -q add --ts '2025-06-02 10:00:00' --member M0001 T2 D400:1:39.90)" = "S01,T2,39.90,39" ]
	run --separate-stderr mbr-points tiers --as-of 2025-05-31
	[ "$status" -eq 0 ]
	[ "$output" = "member,old_tier,new_tier,change" ]
	# under v2, GOLD is no tier of the rules in force: GOLD counts as none
	# and the evaluation gives the best tier of v2 (SILVER, rank 2), up
	run --separate-stderr mbr-points tiers --as-of 2025-06-01
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$(uid M0001),GOLD,SILVER,up" ]
	[ "$(q "SELECT DISTINCT tier FROM members")" = SILVER ]
	# and GOLD may come back with rank 2 again, after a version that swaps ranks
	printf 'effective 2025-07-01\ntier PLATINUM rank 2 spend 0.00\ntier SILVER rank 1 spend 0.00\n' >v3.txt
	mbr-points -q rules load v3.txt
	printf 'effective 2025-08-01\ntier SILVER rank 1 spend 0.00\ntier GOLD rank 2 spend 0.00\n' >v4.txt
	mbr-points -q rules load v4.txt
	mbr-points -q tiers --as-of 2025-08-01 >/dev/null
	[ "$(q "SELECT DISTINCT tier FROM members")" = GOLD ]
	[ "$(q 'SELECT COUNT(*) FROM rules_versions')" = 4 ]
	mbr-db -q check
}

@test "rules show: exactly the text loaded; the built-in statement by default" {
	run --separate-stderr mbr-points rules show
	[ "$status" -eq 0 ]
	[ "$output" = "# built-in default: 1 point per whole currency unit of a receipt's paid total,
# rounded down per receipt; points never expire; no tiers" ]
	run --separate-stderr mbr-points rules load "$EX/rules.txt"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"rules version 1 loaded"* ]]
	mbr-points rules show >shown.txt
	cmp shown.txt "$EX/rules.txt"
	# before the version's effective date, the default is in force
	run --separate-stderr mbr-points --as-of 2024-12-31 rules show
	[[ "$output" == "# built-in default:"* ]]
	# a later version takes over from its date
	printf 'effective 2026-01-01\nbase 2 per 1.00\n' >v2.txt
	mbr-points -q rules load v2.txt
	mbr-points rules show >now.txt
	cmp now.txt v2.txt
	mbr-points --as-of 2025-12-31 rules show >then.txt
	cmp then.txt "$EX/rules.txt"
}

@test "tiers --as-of: CSV of the upgrades; a second run prints only the header" {
	load_examples
	# M0001 spends 518.70 (>= 500.00: SILVER), M0002 2034.90 (>= 2000.00: GOLD)
	mbr-sale -q add --ts '2025-03-05 10:00:00' --member M0001 T1 D400:13:39.90 >/dev/null
	mbr-sale -q add --ts '2025-03-06 10:00:00' --member M0002 T2 D400:51:39.90 >/dev/null
	run --separate-stderr mbr-points tiers --as-of 2025-03-10
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "member,old_tier,new_tier,change" ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[1]}" = "$(uid M0001),,SILVER,up" ]
	[ "${lines[2]}" = "$(uid M0002),,GOLD,up" ]
	run --separate-stderr mbr-points tiers --as-of 2025-03-10
	[ "$status" -eq 0 ]
	[ "$output" = "member,old_tier,new_tier,change" ]
	# a year on the spend has left the window: both go down
	run --separate-stderr mbr-points tiers --as-of 2026-03-10
	[ "${lines[1]}" = "$(uid M0001),SILVER,,down" ]
	[ "${lines[2]}" = "$(uid M0002),GOLD,,down" ]
	# a cashier may not evaluate tiers
	mbr-db -q grant c1 cashier
	run --separate-stderr mbr-points --operator c1 tiers
	[ "$status" -eq 5 ]
	mbr-db -q check
}

@test "tiers: the tier's earn multiplier applies to later sales" {
	load_examples
	mbr-sale -q add --ts '2025-03-05 10:00:00' --member M0001 T1 D400:13:39.90 >/dev/null
	mbr-points -q tiers --as-of 2025-03-10 >/dev/null
	# SILVER x1.2 on a Tuesday: 39.90 x1.2 = 47.88 -> 47
	run --separate-stderr mbr-sale -q add --ts '2025-03-11 10:00:00' --member M0001 T3 D400:1:39.90
	[ "$status" -eq 0 ]
	[ "$output" = "S01,T3,39.90,47" ]
}

@test "spending: lots lapsed by the time of a spend are expired first, as expire would" {
	load_examples
	# a Tuesday: 119.70 earns 119 points, lapsing 2026-03-04 00:00
	mbr-sale -q add --ts '2025-03-04 10:00' --member M0004 R1 D400:3:39.90 >/dev/null
	mbr-points -q expire --as-of 2026-03-01
	n=$(q 'SELECT COUNT(*) FROM points_ledger')
	# a sale of 2026-03-10 paying with them is refused, nothing written
	run --separate-stderr mbr-sale add --ts '2026-03-10 10:00' --member M0004 --payment 'points:1.19;cash' R2 D400:1:39.90
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"add:1: payment: member $(uid M0004) has 0 points, the receipt pays with 119"* ]]
	# so are a redeem and a transfer on that day
	export MBR_NOW=2026-03-10T02:00:00Z
	run --separate-stderr mbr-points redeem M0004 119
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"has 0 points, cannot redeem 119"* ]]
	run --separate-stderr mbr-points transfer M0004 M0001 1
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"has 0 points, cannot transfer 1"* ]]
	[ "$(q 'SELECT COUNT(*) FROM points_ledger')" = "$n" ]
	# with newer points (a Wednesday, 79.80: 79) the spend goes through,
	# after the lapsed lot's expire entry, dated when it lapsed
	mbr-sale -q add --ts '2025-06-04 10:00' --member M0004 R3 D400:2:39.90 >/dev/null
	run --separate-stderr mbr-sale -q add --ts '2026-03-10 10:00' --member M0004 --payment 'points:0.50;cash' R2 D400:1:39.90
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R2,39.90,39" ]
	run --separate-stderr mbr-points redeem M0004 60
	[ "$status" -eq 0 ]
	[ "$output" = 8 ]
	mbr-points history --format csv M0004 | cut -d, -f1-6 >history.csv
	cat history.csv
	[ "$(cat history.csv)" = "time,kind,points,balance,source,ref
2025-03-04 10:00:00,earn,+119,119,sale,S01/R1
2025-06-04 10:00:00,earn,+79,198,sale,S01/R3
2026-03-04 00:00:00,expire,-119,79,expiry,
2026-03-10 10:00:00,redeem,-50,29,sale,S01/R2
2026-03-10 10:00:00,earn,+39,68,sale,S01/R2
2026-03-10 10:00:00,redeem,-60,8,operator," ]
	# the nightly expiry finds nothing more
	run --separate-stderr mbr-points expire --as-of 2026-03-10
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-points: 0 lots expired, 0 points" ]
	mbr-db -q check
}

@test "rules load: an amount of 0 in redeem or base says it must be above 0" {
	printf 'effective 2025-01-01\nredeem 100 = 0.00\n' >r0.txt
	run --separate-stderr mbr-points rules load r0.txt
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-points: r0.txt:2: redeem: the amount '0.00' must be above 0" ]
	printf 'effective 2025-01-01\nbase 1 per 0.00\n' >b0.txt
	run --separate-stderr mbr-points rules load b0.txt
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-points: b0.txt:2: base: the amount '0.00' must be above 0" ]
	# a malformed line still shows the form
	printf 'effective 2025-01-01\nredeem 100 1.00\n' >r1.txt
	run --separate-stderr mbr-points rules load r1.txt
	[ "$status" -eq 3 ]
	[[ "$stderr" == "mbr-points: r1.txt:2: redeem needs: redeem POINTS = AMOUNT"* ]]
	[ "$(q 'SELECT COUNT(*) FROM rules_versions')" = 0 ]
}

@test "operator names: not UTF-8, or with control characters, are refused (exit 3) and shown escaped, never raw" {
	load_examples
	before=$(q 'SELECT COUNT(*) FROM audit')
	# --operator, MBR_OPERATOR (overlong, surrogate, cut short): exit 3, the bytes as \xHH
	run --separate-stderr mbr-points --operator $'ab\xff' balance M0001
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = 'mbr-points: operator name '\''ab\xff'\'' is not UTF-8 text' ]
	MBR_OPERATOR=$'\xc0\xaf' run --separate-stderr mbr-points balance M0001
	[ "$status" -eq 3 ]
	[ "$stderr" = 'mbr-points: operator name '\''\xc0\xaf'\'' is not UTF-8 text' ]
	run --separate-stderr mbr-points --operator $'li\xed\xa0\x80' earn M0001 5
	[ "$status" -eq 3 ]
	[ "$stderr" = 'mbr-points: operator name '\''li\xed\xa0\x80'\'' is not UTF-8 text' ]
	run --separate-stderr mbr-points --operator $'\xe7\x8e' balance M0001
	[ "$status" -eq 3 ]
	[ "$stderr" = 'mbr-points: operator name '\''\xe7\x8e'\'' is not UTF-8 text' ]
	# a C1 control (U+009B, the 8-bit CSI) is a control character too
	run --separate-stderr mbr-points --operator $'admin1\xc2\x9b2J' balance M0001
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-points: operator name must not hold control characters" ]
	# --operator wins over a bad MBR_OPERATOR
	MBR_OPERATOR=$'\xff' run --separate-stderr mbr-points --operator admin1 balance M0001
	[ "$status" -eq 0 ]
	# mbr-db init makes its operator admin: refused too, and no file is made
	run --separate-stderr mbr-db -d new.db --operator $'boss\xfe' init
	[ "$status" -eq 3 ]
	[ "$stderr" = 'mbr-db: operator name '\''boss\xfe'\'' is not UTF-8 text' ]
	[ ! -e new.db ]
	# nothing was written
	[ "$(q 'SELECT COUNT(*) FROM audit')" = "$before" ]
	# UTF-8 names are fine
	mbr-db -q grant 王芳 cashier
	run --separate-stderr mbr-points --operator 王芳 balance M0001
	[ "$status" -eq 0 ]
}
