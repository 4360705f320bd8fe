#!/usr/bin/env bats
# Reliability: kill -9 in the middle of a large import leaves the database
# sound with all of the file or none of it; several programs writing at
# once all succeed (no "database is locked"), lose nothing, and never let
# two redemptions spend the same points.

bats_require_minimum_version 1.5.0

setup() {
	T=$BATS_TEST_TMPDIR
	EX=$MBR_TOP/examples
	export MBR_NOW=2026-11-22T10:00:00Z MBR_OPERATOR=admin1 MBR_DB="$T/shop.db"
	unset MBR_KEY MBR_QUIET NO_COLOR
	cd "$T"
	new_db "$MBR_DB"
}

# a fresh database with stores S01, S02 and the example members
new_db() {
	rm -f "$1" "$1.key" "$1-wal" "$1-shm"
	mbr-db -q -d "$1" init --store S01
	mbr-db -q -d "$1" store-add S02
	mbr-add -q -d "$1" "$EX/members.csv"
}

q() { sqlite3 "$MBR_DB" "$@"; }

bal() {
	mbr-points balance --format csv "$1" | sed -n '2s/,.*//p'
}

# big.csv: $1 lines, 4 per receipt, members M0001..M0005 and walk-ins
make_big() {
	awk -v n="$1" 'BEGIN {
		print "store,receipt,ts,member,sku,qty,unit_price"
		for (i = 0; i < n; i++) {
			r = int(i / 4)
			m = r % 6 ? sprintf("M000%d", r % 6) : ""
			printf "S01,K%d,2025-03-%02d %02d:%02d:00,%s,P%d,%d,%d.%02d\n", r, 1 + r % 28, 8 + r % 12, r % 60, m, i % 50, 1 + i % 3, 1 + i % 40, i % 100
		}
	}' >big.csv
}

@test "kill -9 during a large import: all or nothing, and the database stays sound" {
	SECONDS=0
	make_big 200000
	receipts=50000
	for i in $(seq 1 20); do
		db=$T/k.db
		new_db "$db"
		pause=$(awk -v s="$i" 'BEGIN { srand(s); printf "%.2f", 0.05 + rand() * 1.45 }')
		mbr-sale -q -d "$db" import big.csv &
		pid=$!
		sleep "$pause"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true
		run --separate-stderr mbr-db -d "$db" check
		echo "iteration $i, killed after ${pause}s: check $status: $output $stderr"
		[ "$status" -eq 0 ]
		n=$(sqlite3 "$db" 'SELECT COUNT(*) FROM sales')
		l=$(sqlite3 "$db" 'SELECT COUNT(*) FROM points_ledger')
		echo "iteration $i: $n sales, $l ledger entries"
		[ "$n" -eq 0 ] || [ "$n" -eq "$receipts" ]
		if [ "$n" -eq 0 ]; then
			[ "$l" -eq 0 ]
			partial=$((partial + 1))
		else
			[ "$l" -gt 0 ]
		fi
	done
	echo "# kill test: ${partial:-0} of 20 runs killed before their commit, the others after it" >&3
	# a run to completion loads everything
	run --separate-stderr mbr-sale -d "$db" import big.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$db" 'SELECT COUNT(*) FROM sales')" -eq "$receipts" ]
	[ "$(sqlite3 "$db" 'SELECT COUNT(*) FROM sale_lines')" -eq 200000 ]
	mbr-db -q -d "$db" check
	echo "# kill test: ${SECONDS}s" >&3
}

@test "kill -9 during a large import into a database that already has sales" {
	make_big 200000
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	before=$(q 'SELECT COUNT(*), SUM(total) FROM sales')
	b1=$(bal M0001)
	mbr-sale -q import big.csv &
	pid=$!
	sleep 0.3
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" || true
	mbr-db -q check
	now=$(q 'SELECT COUNT(*) FROM sales')
	if [ "$now" -eq "${before%%|*}" ]; then
		[ "$(q 'SELECT COUNT(*), SUM(total) FROM sales')" = "$before" ]
		[ "$(bal M0001)" = "$b1" ]
	else
		[ "$now" -eq $((${before%%|*} + 50000)) ]
	fi
}

@test "concurrency: two imports and 20 earns at once all succeed and add up" {
	# default rules: 1 point per whole 1.00 of a receipt; each receipt 10.00
	for f in a:S01 b:S02; do
		awk -v s="${f#*:}" -v p="${f%:*}" 'BEGIN {
			print "store,receipt,ts,member,sku,qty,unit_price"
			for (r = 0; r < 20000; r++)
				printf "%s,%s%d,2025-03-01 %02d:%02d:%02d,M0001,X1,1,10.00\n", s, p, r, 8 + int(r / 3600) % 12, int(r / 60) % 60, r % 60
		}' >"${f%:*}.csv"
	done
	mbr-sale -q import a.csv 2>err.a &
	pa=$!
	mbr-sale -q import b.csv 2>err.b &
	pb=$!
	(
		fails=0
		for i in $(seq 1 20); do
			mbr-points -q earn M0001 1 >/dev/null 2>>err.earn || fails=$((fails + 1))
		done
		exit "$fails"
	) &
	pe=$!
	sa=0 sb=0 se=0
	wait "$pa" || sa=$?
	wait "$pb" || sb=$?
	wait "$pe" || se=$?
	cat err.a err.b err.earn
	[ "$sa" -eq 0 ]
	[ "$sb" -eq 0 ]
	[ "$se" -eq 0 ]
	! grep -qi 'locked\|busy' err.a err.b err.earn
	[ "$(q 'SELECT COUNT(*) FROM sales')" -eq 40000 ]
	[ "$(bal M0001)" -eq $((40000 * 10 + 20)) ]
	mbr-db -q check
}

@test "concurrency: two simultaneous redemptions of the whole balance, exactly one succeeds" {
	for round in 1 2 3 4 5; do
		mbr-points -q earn M0002 500 >/dev/null
		[ "$(bal M0002)" -eq 500 ]
		mbr-points redeem M0002 500 >out.1 2>err.1 &
		p1=$!
		mbr-points redeem M0002 500 >out.2 2>err.2 &
		p2=$!
		s1=0 s2=0
		wait "$p1" || s1=$?
		wait "$p2" || s2=$?
		echo "round $round: $s1 $s2"; cat out.1 out.2 err.1 err.2
		[ $((s1 == 0 ? 1 : 0)) -ne $((s2 == 0 ? 1 : 0)) ]
		[ "$s1" -eq 0 ] || [ "$s1" -eq 3 ]
		[ "$s2" -eq 0 ] || [ "$s2" -eq 3 ]
		cat err.1 err.2 | grep -q 'has 0 points, cannot redeem 500'
		! grep -qi 'locked\|busy' err.1 err.2
		[ "$(bal M0002)" -eq 0 ]
	done
	[ "$(q "SELECT COUNT(*) FROM points_ledger WHERE kind = 'redeem'")" -eq 5 ]
	mbr-db -q check
}

# the journal mode the file's header says: 1 a rollback journal, 2 the log
header_mode() {
	od -An -tu1 -j18 -N1 "$1" | tr -d ' '
}

# watch_import [VAR=VALUE...]: import big.csv (200k lines) in the
# background with those variables set, reading the report and the
# header's journal mode ($modes) until it ends; each report saw all of
# it or none of it, and all of it is there
watch_import() {
	env "$@" mbr-sale -q import big.csv &
	pid=$!
	seen="" modes=""
	while kill -0 "$pid" 2>/dev/null; do
		modes="$modes $(header_mode "$MBR_DB")"
		n=$(mbr-report sales --by store --format csv | awk -F, 'NR == 2 { print $2 }')
		seen="$seen ${n:-0}"
		sleep 0.05
	done
	wait "$pid"
	echo "receipts seen: $seen; header modes: $modes"
	for n in $seen; do
		[ "$n" -eq 0 ] || [ "$n" -eq 50000 ]
	done
	[ "$(q 'SELECT COUNT(*) FROM sales')" -eq 50000 ]
}

@test "concurrency: a reader during an import sees all of it or none of it" {
	make_big 200000
	watch_import
}

@test "kill -9 while an import holds the database: its rollback journal is rolled back at the next open, and the log comes back" {
	make_big 200000
	db=$T/k.db
	new_db "$db"
	[ "$(header_mode "$db")" = 2 ]
	size=$(stat -c %s "$db")
	# a small cache: pages go to the file from early on
	MBR_CACHE_KIB=1024 mbr-sale -q -d "$db" import big.csv &
	pid=$!
	# wait for the import to have written pages to the file (2 MB more)
	# with its journal on disk
	for i in $(seq 1 400); do
		[ -s "$db-journal" ] && [ "$(stat -c %s "$db")" -gt $((size + 2000000)) ] && break
		sleep 0.01
	done
	[ "$(header_mode "$db")" = 1 ]
	kill -9 "$pid"
	wait "$pid" || true
	[ -s "$db-journal" ]
	[ "$(stat -c %a "$db-journal")" = 600 ]	# owner-only, as the database
	run --separate-stderr mbr-db -d "$db" check
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ ! -e "$db-journal" ]
	[ "$(sqlite3 "$db" 'SELECT COUNT(*) FROM sales')" -eq 0 ]
	[ "$(sqlite3 "$db" 'SELECT COUNT(*) FROM points_ledger')" -eq 0 ]
	# the next program to write puts the log back; the import completes
	mbr-sale -q -d "$db" import big.csv
	[ "$(header_mode "$db")" = 2 ]
	[ "$(sqlite3 "$db" 'SELECT COUNT(*) FROM sales')" -eq 50000 ]
	mbr-db -q -d "$db" check
}

@test "concurrency: with MBR_SHARED_IMPORT the import keeps the log, and a reader meanwhile sees none of it until its commit" {
	make_big 200000
	watch_import MBR_SHARED_IMPORT=1
	for m in $modes; do
		[ "$m" -eq 2 ]
	done
}

@test "concurrency: an import that finds another program on the database keeps the log and does not wait for it" {
	make_big 20000
	# another program holds a read transaction open for two seconds
	sqlite3 "$MBR_DB" "BEGIN; SELECT COUNT(*) FROM members; SELECT 1 FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000000) SELECT COUNT(*) FROM c); COMMIT" >/dev/null &
	reader=$!
	sleep 0.3
	mbr-sale -q import big.csv &
	pid=$!
	modes=""
	while kill -0 "$pid" 2>/dev/null; do
		modes="$modes $(header_mode "$MBR_DB")"
		sleep 0.02
	done
	wait "$pid"
	kill -0 "$reader"	# the import did not wait for the reader
	wait "$reader"
	echo "header modes: $modes"
	for m in $modes; do
		[ "$m" -eq 2 ]
	done
	[ "$(q 'SELECT COUNT(*) FROM sales')" -eq 5000 ]
	mbr-db -q check
}
