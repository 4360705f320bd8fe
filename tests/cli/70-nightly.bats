#!/usr/bin/env bats
# examples/: the nightly batch script runs on the example data, the crontab
# names it, and the demo script runs (in a temp dir shaped like the tree,
# so that the tree gets no demo.db).

bats_require_minimum_version 1.5.0

load common

setup() {
	export PATH="$MBR_TOP/bin:$PATH"
	shop_setup
	mbr-add -q "$EX/members.csv"
	mbr-sale -q products "$EX/products.csv"
	mbr-points -q rules load "$EX/rules.txt"
}

@test "nightly.sh: the example day loads, reports and writes the tier changes" {
	cp "$EX/sales-2025-03-01.csv" .
	run --separate-stderr sh "$EX/nightly.sh" sales-2025-03-01.csv 2025-03-01
	printf '%s\n' "$output"
	printf 'stderr: %s\n' "$stderr"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "sales of 2025-03-01" ]
	[[ "$output" == *S01* ]]
	[[ "$output" == *S02* ]]
	printf '%s\n' "$output" | grep -q 'S01.*212\.80'
	printf '%s\n' "$output" | grep -q 'S02.*24\.30'
	[[ "$stderr" == *"5 receipts (0 returns), 8 lines, amount 237.10"* ]]
	[[ "$stderr" != *nightly:* ]]
	[ -f tiers-2025-03-01.csv ]
	[ "$(cat tiers-2025-03-01.csv)" = "member,old_tier,new_tier,change" ]
	# the day per category, and as a page with a chart for the mail
	printf '%s\n' "$output" | grep -q '^categories$'
	printf '%s\n' "$output" | grep -q '日化 .* 159\.60 .* 67\.3'
	grep -q '<title>sales by store, from 2025-03-01 to 2025-03-01</title>' sales-2025-03-01.html
	[ "$(grep -c '<rect ' sales-2025-03-01.html)" -eq 2 ]
	[ ! -e sales-2025-03-01.csv.rejects ]
	[ "$(sqlite3 "$MBR_DB" 'SELECT COUNT(*), SUM(points_earned) FROM sales')" = "5|389" ]
	mbr-db -q check
}

@test "nightly.sh: the next day, run twice, is a no-op the second time" {
	cp "$EX/sales-2025-03-01.csv" "$EX/sales-2025-03-02.csv" .
	sh "$EX/nightly.sh" sales-2025-03-01.csv 2025-03-01 >/dev/null 2>&1
	run --separate-stderr sh "$EX/nightly.sh" sales-2025-03-02.csv 2025-03-02
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | grep -q 'S01.*-27\.10'
	run --separate-stderr sh "$EX/nightly.sh" sales-2025-03-02.csv 2025-03-02
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"already imported"* ]]
	[ "$(sqlite3 "$MBR_DB" 'SELECT COUNT(*) FROM sales')" = 8 ]
}

@test "nightly.sh: a rejected receipt gives exit 1 and keeps the rejects file" {
	sed '3s/,15\.60,/,abc,/' "$EX/sales-2025-03-01.csv" >day.csv
	run --separate-stderr sh "$EX/nightly.sh" day.csv 2025-03-01
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"nightly: some receipts rejected, see day.csv.rejects"* ]]
	[ "${lines[0]}" = "sales of 2025-03-01" ]
	[ "$(wc -l <day.csv.rejects)" -eq 3 ]
	[ "$(sqlite3 "$MBR_DB" 'SELECT COUNT(*) FROM sales')" = 4 ]
}

@test "nightly.sh: usage and an unreadable file" {
	run --separate-stderr sh "$EX/nightly.sh"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"usage: nightly.sh"* ]]
	run --separate-stderr sh "$EX/nightly.sh" nosuch.csv 2025-03-01
	echo "$stderr"
	[ "$status" -gt 1 ]
	[[ "$stderr" == *"nightly: sales import failed"* ]]
	[ ! -e tiers-2025-03-01.csv ]
}

@test "nightly.sh: tier upgrades land in tiers-DAY.csv" {
	mbr-sale -q add --ts '2025-03-01 08:00:00' --member M0001 T1 D400:13:39.90 >/dev/null
	cp "$EX/sales-2025-03-01.csv" .
	run --separate-stderr sh "$EX/nightly.sh" sales-2025-03-01.csv 2025-03-01
	[ "$status" -eq 0 ]
	uid=$(mbr-points balance --format csv M0001 | sed -n 2p | cut -d, -f2)
	[ "$(cat tiers-2025-03-01.csv)" = "member,old_tier,new_tier,change
$uid,,SILVER,up" ]
}

@test "crontab: names nightly.sh and has valid five-field schedules" {
	grep -q 'nightly\.sh' "$EX/crontab"
	grep -v '^#' "$EX/crontab" | grep -v '^[A-Z_]*=' | grep -v '^$' >jobs
	[ "$(wc -l <jobs)" -ge 1 ]
	while read -r m h dom mon dow cmd; do
		for f in "$m" "$h" "$dom" "$mon" "$dow"; do
			[[ "$f" =~ ^[0-9*,/-]+$ ]]
		done
		[ -n "$cmd" ]
	done <jobs
}

@test "demo.sh: runs from a tree and leaves demo.db there" {
	mkdir demo
	ln -s "$MBR_TOP/bin" demo/bin
	ln -s "$MBR_TOP/examples" demo/examples
	cd demo
	unset MBR_DB MBR_OPERATOR
	run --separate-stderr env NO_COLOR=1 sh examples/demo.sh
	printf '%s\n' "$output" | tail -20
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$output" == *'$ mbr-db check'* ]]
	[[ "$output" == *"demo database: "* ]]
	# the nightly batch ran on both example days, and left no files behind
	[[ "$output" == *"sales of 2025-03-01"*"sales of 2025-03-02"*"liability"* ]]
	[ -z "$(find . -maxdepth 1 -name 'tiers-*' -o -maxdepth 1 -name 'birthday-coupons-*')" ]
	[ -z "$(find -L examples -name '*.rejects')" ]
	[ -f demo.db ]
	[ -f demo.db.key ]
	# the demo can be run again
	run --separate-stderr env NO_COLOR=1 sh examples/demo.sh
	[ "$status" -eq 0 ]
}
