#!/usr/bin/env bats
# mbr-db check: what it proves beyond the cached balances of 10-db.bats --
# points lots against the balance and their ledger entries, personal data
# that must open with the key (erased members have none), dangling
# references -- and that every problem speaks the user's terms: members
# by uid, ledger entries as history shows them (S01:n), dates as
# YYYY-MM-DD, money as decimal amounts of the database's currency.
# A check that finds problems prints them on stdout, one a line, says how
# many on stderr and exits 1 (mbr-db(1)).  Damage is done with sqlite3.

bats_require_minimum_version 1.5.0

load common

setup() {
	shop_setup
}

# Members M0001..M0005 are S01-2..S01-6; rules with 12-month expiry; M0001
# earns 120 (lot of entry S01:1, lapsing 2027-11-22) and spends 50,
# M0004 (S01-5) earns 30 (S01:2).
load_lots() {
	mbr-add -q "$EX/members.csv"
	mbr-points -q rules load "$EX/rules.txt" >/dev/null
	mbr-points -q earn M0001 120 --reason welcome >/dev/null
	mbr-points -q earn M0004 30 --reason welcome >/dev/null
	mbr-points -q redeem M0001 50 --reason gift >/dev/null
}

sound() {
	run --separate-stderr mbr-db check
	echo "$output"; echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-db: $MBR_DB: ok" ]
}

# the members.id of uid $1
mid() { q "SELECT id FROM members WHERE uid = '$1'"; }

@test "check: lots earned, spent, expired, and erased members are sound" {
	load_lots
	[ "$(q 'SELECT member, points, remaining FROM points_lots ORDER BY id')" = "$(printf '%s\n' 1\|120\|70 4\|30\|30)" ]
	sound
	mbr-member -q --yes erase M0002
	sound
	# a year on, the lots lapse: expiry entries, lots empty, still sound
	MBR_NOW=2028-01-01T00:00:00Z mbr-points -q expire
	[ "$(q 'SELECT SUM(remaining) FROM points_lots')" = 0 ]
	sound
}

@test "check: a lot holding less than nothing, or more than it was opened with, is found (exit 1)" {
	load_lots
	q "UPDATE points_lots SET remaining = -1 WHERE id = 1"
	run --separate-stderr mbr-db check
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "points lot out of range: member S01-2, lot of entry S01:1 (2026-11-22, lapses 2027-11-22), remaining -1 of 120" ]
	[ "$stderr" = "mbr-db: $MBR_DB: 1 problem found" ]
	# more than it was opened with: and more than the balance too
	q "UPDATE points_lots SET remaining = 121 WHERE id = 1"
	run --separate-stderr mbr-db check
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "open points lots exceed the balance: S01-2, open lots 121, balance 70
points lot out of range: member S01-2, lot of entry S01:1 (2026-11-22, lapses 2027-11-22), remaining 121 of 120" ]
	[ "$stderr" = "mbr-db: $MBR_DB: 2 problems found" ]
	# a lot that never lapses says so
	q "UPDATE points_lots SET remaining = -5, expires_at = NULL WHERE id = 2"
	q "UPDATE points_lots SET remaining = 70 WHERE id = 1"
	run --separate-stderr mbr-db check
	[ "$status" -eq 1 ]
	[ "$output" = "points lot out of range: member S01-5, lot of entry S01:2 (2026-11-22, never lapses), remaining -5 of 30" ]
}

@test "check: a lot that disagrees with its ledger entry (member, points) is found (exit 1)" {
	load_lots
	q "UPDATE points_lots SET member = $(mid S01-5) WHERE id = 1"
	run --separate-stderr mbr-db check
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "open points lots exceed the balance: S01-5, open lots 100, balance 30
points lot differs from its ledger entry: lot of entry S01:1 (2026-11-22), member S01-5 (entry: S01-2), points 120 (entry: 120)" ]
	[ "$stderr" = "mbr-db: $MBR_DB: 2 problems found" ]
	q "UPDATE points_lots SET member = $(mid S01-2), points = 500 WHERE id = 1"
	run --separate-stderr mbr-db check
	[ "$status" -eq 1 ]
	[ "$output" = "points lot differs from its ledger entry: lot of entry S01:1 (2026-11-22), member S01-2 (entry: S01-2), points 500 (entry: 120)" ]
}

@test "check: personal data that does not decrypt with the key is found, naming the member (exit 1)" {
	load_lots
	mbr-member -q --yes erase M0002
	sound
	# bytes changed
	q "UPDATE member_pii SET pii = substr(pii, 1, 30) || x'00' || substr(pii, 32) WHERE member = $(mid S01-4)"
	run --separate-stderr mbr-db check
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "personal data of member S01-4 does not decrypt with this database's key (altered, or sealed under another key)" ]
	[ "$stderr" = "mbr-db: $MBR_DB: 1 problem found" ]
	# sealed under another database's key, for a member of the same uid
	mbr-db -q -d other.db init --store S01
	mbr-db -q -d other.db store-add S02
	mbr-add -q -d other.db "$EX/members.csv"
	q "ATTACH 'other.db' AS o; UPDATE main.member_pii SET pii = (SELECT p.pii FROM o.member_pii p
		JOIN o.members m ON m.id = p.member WHERE m.uid = 'S01-2') WHERE member = $(mid S01-2)"
	run --separate-stderr mbr-db check
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "personal data of member S01-2 does not decrypt with this database's key (altered, or sealed under another key)
personal data of member S01-4 does not decrypt with this database's key (altered, or sealed under another key)" ]
	[ "$stderr" = "mbr-db: $MBR_DB: 2 problems found" ]
}

@test "check: personal data left on an erased member is found (exit 1)" {
	load_lots
	q "UPDATE members SET status = 'erased' WHERE uid = 'S01-6'"
	run --separate-stderr mbr-db check
	[ "$status" -eq 1 ]
	[ "$output" = "personal data of member S01-6 is still there, though the member was erased" ]
}

@test "check: stored value problems are decimal amounts of the database's currency (exit 1)" {
	load_lots
	mbr-card -q topup M0001 1000
	sound
	q "UPDATE members SET sv_principal = sv_principal + 1 WHERE uid = 'S01-2'"
	run --separate-stderr mbr-db check
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "stored value differs from ledger: S01-2, cached principal 1000.01 bonus 0.00, ledger principal 1000.00 bonus 0.00" ]
	q "UPDATE members SET sv_principal = 100000, sv_bonus = -150 WHERE uid = 'S01-2'"
	run --separate-stderr mbr-db check
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "stored value differs from ledger: S01-2, cached principal 1000.00 bonus -1.50, ledger principal 1000.00 bonus 0.00
stored value below zero: member S01-2, principal 1000.00, bonus -1.50" ]
	# a currency without decimals: whole amounts
	mbr-db -q -d jp.db init --store S01 --currency JPY --exponent 0
	mbr-db -q -d jp.db store-add S02
	mbr-add -q -d jp.db "$EX/members.csv"
	mbr-card -q -d jp.db topup M0001 1000
	sqlite3 jp.db "UPDATE members SET sv_principal = 1001 WHERE uid = 'S01-2'"
	run --separate-stderr mbr-db -d jp.db check
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "stored value differs from ledger: S01-2, cached principal 1001 bonus 0, ledger principal 1000 bonus 0" ]
}

@test "check: a dangling reference names the member and the column (exit 1)" {
	load_lots
	q "PRAGMA foreign_keys = OFF; UPDATE members SET store = 'GONE' WHERE uid = 'S01-3'"
	run --separate-stderr mbr-db check
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "foreign key: member S01-3, store refers to a missing row of stores" ]
	[ "$stderr" = "mbr-db: $MBR_DB: 1 problem found" ]
}
