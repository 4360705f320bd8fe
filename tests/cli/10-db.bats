#!/usr/bin/env bats
# mbr-db: init (modes, key file, refusing to overwrite, --store/--role,
# bad settings), check (sound, and after tampering with sqlite3), backup
# and restore (round trip, another key, not a backup), migrate, roles
# (grant, revoke, refusals with exit 5 and the reason), config.  Exit
# statuses are those of mbr-db(1): 0 ok, 1 check found problems, 2 usage,
# 3 bad data, 4 database/key/I/O, 5 refused.  Every test starts from a
# fresh database in its own temp dir; status, stdout and stderr are
# asserted separately.

bats_require_minimum_version 1.5.0

load common

setup() {
	shop_setup
}

# every member with its personal data in clear, and its points
members() { mbr-member --reveal export --format csv "$@"; }

# the database's content, as SQL text
dump() { sqlite3 "${1:-$MBR_DB}" .dump; }

load_members() {
	mbr-add -q "$EX/members.csv"
	mbr-points -q earn M0001 120 --reason welcome >/dev/null
	mbr-points -q earn M0004 30 --reason welcome >/dev/null
}

# ------------------------------------------------------------------ init

@test "init: database and key file are created 0600 whatever the umask; the operator is admin" {
	run --separate-stderr sh -c 'umask 000; mbr-db -d new.db --operator boss init'
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-db: created new.db (store S01, store)" ]
	[ "$(stat -c %a new.db)" = 600 ]
	[ "$(stat -c %a new.db.key)" = 600 ]
	# 64 hex digits and a newline
	grep -Eqx '[0-9a-f]{64}' new.db.key
	[ "$(wc -c <new.db.key)" -eq 65 ]
	[ "$(mbr-db -d new.db --operator boss operators --format csv)" = "$(printf 'operator,role\nboss,admin')" ]
	[ "$(sqlite3 new.db "SELECT operator || ',' || target || ',' || detail FROM audit WHERE action = 'db.init'")" = "boss,S01,store" ]
	[ "$(sqlite3 new.db 'PRAGMA journal_mode')" = wal ]
	mbr-db -q -d new.db --operator boss check
}

@test "init: MBR_KEY puts the key file there (0600), none beside the database; later commands need it" {
	mkdir -m 700 keys
	run --separate-stderr env MBR_KEY="$T/keys/k1" mbr-db -d other.db init --store S07
	[ "$status" -eq 0 ]
	[ "$(stat -c %a keys/k1)" = 600 ]
	[ "$(stat -c %a other.db)" = 600 ]
	[ ! -e other.db.key ]
	run --separate-stderr env MBR_KEY="$T/keys/k1" mbr-add -d other.db --name 'Key Elsewhere' --phone 13900000001
	[ "$status" -eq 0 ]
	[ "$output" = "S07-1" ]
	# without MBR_KEY the key is looked for beside the database
	run --separate-stderr mbr-member -d other.db find 13900000001
	echo "$stderr"
	[ "$status" -eq 4 ]
	[[ "$output" != *13900000001* ]]
	[[ "$output" != *S07-1* ]]
	[ "$stderr" = "mbr-member: key file 'other.db.key': No such file or directory" ]
}

@test "init: an existing database is never overwritten (exit 3), neither is its key" {
	load_members
	cp -p shop.db db.copy
	cp -p shop.db.key key.copy
	run --separate-stderr mbr-db init --store S09
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-db: database '$MBR_DB' already exists" ]
	cmp shop.db db.copy
	cmp shop.db.key key.copy
	[ "$(q "SELECT value FROM settings WHERE key = 'store_code'")" = S01 ]
	[ "$(members | wc -l)" -eq 6 ]
}

@test "init: an existing key file is kept and used" {
	mbr-db -q -d a.db init
	cp a.db.key b.db.key
	run --separate-stderr mbr-db -d b.db init
	[ "$status" -eq 0 ]
	cmp a.db.key b.db.key
	mbr-db -q -d b.db check
}

@test "init --store --role: a head office; its code prefixes uids and is fixed" {
	run --separate-stderr mbr-db -d hq.db init --store HQ1 --role hq --currency HKD --exponent 1 --time-zone Asia/Hong_Kong
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-db: created hq.db (store HQ1, hq)" ]
	run --separate-stderr mbr-db -d hq.db config
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'store_code=HQ1\nstore_role=hq\ncurrency=HKD\ncurrency_exp=1\ntime_zone=Asia/Hong_Kong')" ]
	[ "$(mbr-db -d hq.db config store_role)" = hq ]
	[ "$(mbr-db -d hq.db stores --format csv)" = "$(printf 'store,name\nHQ1,')" ]
	[ "$(mbr-add -d hq.db -q --phone 13900000002)" = "HQ1-1" ]
	# store_code and currency_exp are fixed; the role may change
	run --separate-stderr mbr-db -d hq.db config store_code S01
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-db: setting 'store_code' is fixed when the database is created" ]
	run --separate-stderr mbr-db -d hq.db config currency_exp 2
	[ "$status" -eq 3 ]
	run --separate-stderr mbr-db -d hq.db config store_role store
	[ "$status" -eq 0 ]
	[ "$(mbr-db -d hq.db config store_role)" = store ]
	[ "$(sqlite3 hq.db "SELECT action || ',' || target || ',' || detail FROM audit ORDER BY id DESC LIMIT 1")" = "setting.set,store_role,store" ]
}

@test "init: bad settings are bad data (exit 3) and leave no file behind" {
	while IFS='|' read -r args msg; do
		echo "== $args"
		run --separate-stderr mbr-db -d bad.db init $args
		echo "$stderr"
		[ "$status" -eq 3 ]
		[ "$output" = "" ]
		[ "$stderr" = "mbr-db: $msg" ]
		[ -z "$(ls bad.db* 2>/dev/null)" ]
	done <<-'EOF'
	--role shop|role 'shop' must be 'store' or 'hq'
	--store S-1|store code 'S-1' must be 1-16 letters, digits or '_'
	--store ABCDEFGHIJKLMNOPQ|store code 'ABCDEFGHIJKLMNOPQ' must be 1-16 letters, digits or '_'
	--exponent 7|currency exponent '7' must be 0-6
	--currency usd|currency 'usd' must be 3 upper-case letters (ISO 4217, e.g. CNY)
	--time-zone Mars/Base|unknown time zone 'Mars/Base'
	EOF
}

@test "init: --exponent and --currency that are not what mbr-db(1) says are refused (exit 3)" {
	for args in "--exponent abc" "--exponent 2x" "--exponent ''" "--currency EURO" "--currency Y"; do
		echo "== $args"
		eval "run --separate-stderr mbr-db -d bad.db init $args"
		echo "$stderr"
		[ "$status" -eq 3 ]
		[ "$output" = "" ]
		[ -n "$stderr" ]
		[ -z "$(ls bad.db* 2>/dev/null)" ]
	done
}

@test "init and other commands: no database named is a usage error; a missing one is never created" {
	unset MBR_DB
	run --separate-stderr mbr-db init
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-db: no database: use -d FILE or set MBR_DB" ]
	[[ "${stderr_lines[1]}" == "usage: mbr-db "* ]]
	for cmd in check migrate vacuum "backup x.gz" operators "grant li cashier" audit; do
		run --separate-stderr mbr-db -d nosuch.db $cmd
		[ "$status" -eq 4 ]
		[ "$stderr" = "mbr-db: database 'nosuch.db' does not exist (create it with mbr-db init)" ]
		[ ! -e nosuch.db ]
		[ ! -e nosuch.db-wal ]
	done
}

@test "usage: --help to stdout (exit 0), --version, unknown command and option (exit 2)" {
	run --separate-stderr mbr-db --help
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[[ "${lines[0]}" == "usage: mbr-db [-q] [-d file] [--operator name] init"* ]]
	run --separate-stderr mbr-db --version
	[ "$status" -eq 0 ]
	[ "$output" = "mbr-db 0.1.0" ]
	run --separate-stderr mbr-db frobnicate
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "mbr-db: unknown command 'frobnicate'" ]
	run --separate-stderr mbr-db --bogus check
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	run --separate-stderr mbr-db check extra
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-db: too many arguments" ]
}

# ----------------------------------------------------------------- check

@test "check: a sound database passes (exit 0, nothing on stdout)" {
	load_members
	run --separate-stderr mbr-db check
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-db: $MBR_DB: ok" ]
	run --separate-stderr mbr-db -q check
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
}

@test "check: the ledgers and the audit log refuse UPDATE and DELETE outright" {
	load_members
	before=$(dump)
	for sql in "UPDATE points_ledger SET points = 1" "DELETE FROM points_ledger" \
		"UPDATE audit SET detail = 'x'" "DELETE FROM audit WHERE id = 1"; do
		run sqlite3 "$MBR_DB" "$sql"
		echo "$output"
		[ "$status" -ne 0 ]
		[[ "$output" == *"append-only"* ]]
	done
	[ "$(dump)" = "$before" ]
}

@test "check: a points ledger entry edited behind the triggers is found (exit 1)" {
	load_members
	q "DROP TRIGGER points_ledger_no_update; UPDATE points_ledger SET points = 1200 WHERE points = 120"
	run --separate-stderr mbr-db check
	echo "$output"; echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$output" = "points balance differs from ledger: S01-2, cached 120, ledger 1200" ]
	[ "$stderr" = "mbr-db: $MBR_DB: 1 problem found" ]
}

@test "check: a balance changed directly is found (exit 1)" {
	load_members
	q "INSERT OR REPLACE INTO points_balances(member, points) SELECT id, 5000 FROM members WHERE uid = 'S01-5'"
	run --separate-stderr mbr-db check
	[ "$status" -eq 1 ]
	[ "$output" = "points balance differs from ledger: S01-5, cached 5000, ledger 30" ]
}

@test "check: a ledger entry removed behind the triggers is found (exit 1)" {
	load_members
	q "DROP TRIGGER points_ledger_no_delete; DELETE FROM points_lots; DELETE FROM points_ledger WHERE points = 30"
	run --separate-stderr mbr-db check
	[ "$status" -eq 1 ]
	[ "$output" = "points balance differs from ledger: S01-5, cached 30, ledger 0" ]
}

@test "check: an altered or removed audit entry breaks the hash chain (exit 1)" {
	load_members
	n=$(q 'SELECT COUNT(*) FROM audit')
	[ "$n" -ge 5 ]
	cp shop.db t.db
	cp shop.db.key t.db.key
	# a changed operator in entry 2
	q "DROP TRIGGER audit_no_update; UPDATE audit SET operator = 'mallory' WHERE id = 2"
	run --separate-stderr mbr-db check
	[ "$status" -eq 1 ]
	[ "$output" = "audit log: entry 2 was altered (hash chain broken)" ]
	[ "$stderr" = "mbr-db: $MBR_DB: 1 problem found" ]
	# a changed time, hash recomputed without the key: still found
	sqlite3 t.db "DROP TRIGGER audit_no_update; UPDATE audit SET ts = ts + 1, hash = randomblob(32) WHERE id = 3"
	run --separate-stderr mbr-db -d t.db check
	[ "$status" -eq 1 ]
	[ "$output" = "audit log: entry 3 was altered (hash chain broken)" ]
	# an entry in the middle removed
	cp shop.db.key u.db.key
	cp t.db u.db
	sqlite3 u.db "DROP TRIGGER IF EXISTS audit_no_delete; DELETE FROM audit WHERE id = 1"
	run --separate-stderr mbr-db -d u.db check
	[ "$status" -eq 1 ]
	[ "$output" = "audit log: entry 1 is missing" ]
}

@test "check: needs the database's key; another key is refused (exit 4)" {
	load_members
	mbr-db -q -d other.db init
	run --separate-stderr env MBR_KEY="$T/other.db.key" mbr-db check
	echo "$stderr"
	[ "$status" -eq 4 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-db: key file '$T/other.db.key' does not belong to database '$MBR_DB'" ]
}

# ------------------------------------------------------- backup, restore

@test "backup/restore: a gzip file 0600 that restores the data exactly; both audited" {
	load_members
	want=$(members)
	run --separate-stderr mbr-db backup b1.db.gz
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-db: backed up $MBR_DB to b1.db.gz" ]
	[ "$(stat -c %a b1.db.gz)" = 600 ]
	gzip -t b1.db.gz
	[ "$(gzip -dc b1.db.gz | head -c 15)" = "SQLite format 3" ]
	[ -z "$(ls | grep -E 'tmp|part')" ]
	[ "$(q "SELECT action FROM audit ORDER BY id DESC LIMIT 1")" = db.backup ]
	# the key is not in the backup
	[ "$(gzip -dc b1.db.gz | grep -acF "$(head -c 64 shop.db.key)")" = 0 ]
	# change things, then restore (the backup's own audit entry was written
	# after the copy was taken, so the restored log goes init ... restore)
	mbr-member -q --yes erase M0002
	mbr-add -q --phone 13900000003
	mbr-points -q earn M0001 7 >/dev/null
	[ "$(members)" != "$want" ]
	run --separate-stderr mbr-db restore b1.db.gz
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-db: restored $MBR_DB from b1.db.gz" ]
	[ "$(members)" = "$want" ]
	[ "$(stat -c %a shop.db)" = 600 ]
	mbr-db -q check
	[ "$(q "SELECT group_concat(action, ' ') FROM (SELECT action FROM audit WHERE action LIKE 'db.%' ORDER BY id)")" = "db.init db.restore" ]
	[ -z "$(ls | grep -E 'tmp|part')" ]
}

@test "init makes 8192-byte pages; a backup restores over a database of the other page size, which it keeps" {
	[ "$(q "PRAGMA page_size")" = 8192 ]
	load_members
	want=$(members)
	# a database as mbr made them before 8192-byte pages (SQLite's 4096)
	sqlite3 shop.db "PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096; VACUUM; PRAGMA journal_mode = WAL" >/dev/null
	[ "$(q "PRAGMA page_size")" = 4096 ]
	mbr-db -q backup old.db.gz
	mbr-points -q earn M0001 7 >/dev/null
	# the 4096 backup over an 8192 database with the same key
	mbr-db -q -d new.db init
	cp -p shop.db.key new.db.key
	run --separate-stderr mbr-db -d new.db restore old.db.gz
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-db: restored new.db from old.db.gz" ]
	[ "$(sqlite3 new.db "PRAGMA page_size; PRAGMA journal_mode")" = "$(printf '8192\nwal')" ]
	[ "$(mbr-member -d new.db --reveal export)" = "$want" ]
	mbr-db -q -d new.db check
	# and an 8192 backup over the 4096 database
	mbr-db -q -d new.db backup new.db.gz
	[ "$(members)" != "$want" ]
	run --separate-stderr mbr-db restore new.db.gz
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(q "PRAGMA page_size")" = 4096 ]
	[ "$(q "PRAGMA journal_mode")" = wal ]
	[ "$(members)" = "$want" ]
	mbr-db -q check
	[ -z "$(ls | grep -E 'tmp|part')" ]
}

@test "backup: refuses the database's own files and any existing file (exit 3), and leaves them untouched" {
	load_members
	want=$(members)
	key=$(cat shop.db.key)
	echo keep > old.gz
	for target in shop.db shop.db.key ./shop.db "$T/shop.db-wal" shop.db-shm shop.db-journal; do
		run --separate-stderr mbr-db backup "$target"
		echo "$target: $stderr"
		[ "$status" -eq 3 ]
		[ "$stderr" = "mbr-db: backup '$target' is one of the database's own files" ]
	done
	ln shop.db.key hard-link-to-key
	run --separate-stderr mbr-db backup hard-link-to-key
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-db: backup 'hard-link-to-key' is one of the database's own files" ]
	run --separate-stderr mbr-db backup old.gz
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-db: backup 'old.gz' exists; remove it first" ]
	[ "$(cat old.gz)" = keep ]
	[ "$(cat shop.db.key)" = "$key" ]
	[ ! -e shop.db-journal ]
	[ "$(members)" = "$want" ]
	[ -z "$(ls | grep -E 'tmp|part')" ]
	mbr-db -q check
}

@test "restore: into a new path creates the database from the backup (0600), with the key copied there" {
	load_members
	want=$(members)
	mbr-db -q backup b.db.gz
	mkdir -m 700 elsewhere
	cp -p shop.db.key elsewhere/copy.db.key
	run --separate-stderr mbr-db -d elsewhere/copy.db restore b.db.gz
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(stat -c %a elsewhere/copy.db)" = 600 ]
	[ "$(mbr-member -d elsewhere/copy.db --reveal export)" = "$want" ]
	mbr-db -q -d elsewhere/copy.db check
}

@test "restore: refused with another database's key (exit 4); nothing replaced" {
	load_members
	mbr-db -q backup b.db.gz
	mbr-db -q -d other.db init
	mbr-add -q -d other.db --phone 13900000004 >/dev/null
	cp other.db other.copy
	run --separate-stderr mbr-db -d other.db restore b.db.gz
	echo "$stderr"
	[ "$status" -eq 4 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-db: not restored: key file 'other.db.key' does not belong to database 'b.db.gz' (the key is not in the backup: put the database's key file there, or name it with MBR_KEY)" ]
	cmp other.db other.copy
	[ "$(mbr-member -d other.db export | wc -l)" -eq 2 ]
	# and with no key at all where the new database would be
	run --separate-stderr mbr-db -d fresh.db restore b.db.gz
	[ "$status" -eq 4 ]
	[[ "$stderr" == "mbr-db: not restored: key file 'fresh.db.key': No such file or directory"* ]]
	[ ! -e fresh.db ]
	[ -z "$(ls | grep -E 'tmp')" ]
}

@test "restore: a file that is not a backup is refused (exit 4); nothing replaced" {
	load_members
	mbr-db -q backup good.gz
	before=$(dump)
	echo 'not a database' | gzip >junk.gz
	run --separate-stderr mbr-db restore junk.gz
	echo "$stderr"
	[ "$status" -eq 4 ]
	[[ "$stderr" == "mbr-db: backup 'junk.gz' is not a sound mbr database"* ]]
	# as strict as gzip -t: not gzip, cut short at the trailer, data after it
	sqlite3 "$MBR_DB" .dump >plain.gz
	head -c $(($(stat -c %s good.gz) - 8)) good.gz >cut.gz
	{ cat good.gz; echo more; } >trailing.gz
	while IFS='|' read -r f msg; do
		run --separate-stderr mbr-db restore "$f"
		echo "$stderr"
		[ "$status" -eq 4 ]
		[ "$stderr" = "mbr-db: backup '$f': $msg" ]
	done <<-'EOF'
	plain.gz|not a sound gzip file (incorrect header check)
	cut.gz|cut short (unexpected end of gzip data)
	trailing.gz|data after the end of its gzip stream
	EOF
	run --separate-stderr mbr-db restore missing.gz
	[ "$status" -eq 4 ]
	[ "$stderr" = "mbr-db: backup 'missing.gz': No such file or directory" ]
	[ "$(dump)" = "$before" ]
	mbr-db -q check
}

@test "backup needs manager, restore over a database needs admin (exit 5)" {
	load_members
	mbr-db -q grant li cashier
	mbr-db -q grant wang manager
	run --separate-stderr mbr-db --operator li backup b.gz
	[ "$status" -eq 5 ]
	[ "$stderr" = "mbr-db: operator 'li' is cashier; backup needs manager" ]
	[ ! -e b.gz ]
	run --separate-stderr mbr-db --operator wang backup b.gz
	[ "$status" -eq 0 ]
	mbr-member -q --yes erase M0003
	before=$(dump)
	run --separate-stderr mbr-db --operator wang restore b.gz
	[ "$status" -eq 5 ]
	[ "$stderr" = "mbr-db: operator 'wang' is manager; restore needs admin" ]
	[ "$(dump)" = "$before" ]
}

# ------------------------------------------- backup to stdout, restore from stdin

# A database that compresses to well over a pipe's 64 KiB buffer: a
# backup to a pipe nobody reads blocks while its temporary copy exists.
# (The pipes of these tests are on fd 7: bats keeps 3 for itself.)
pad_database() {
	q "CREATE TABLE pad(b); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${1:-64})
	   INSERT INTO pad SELECT randomblob(4096) FROM n"
}

# no temporary copy, partial backup or their journals left in the directory
no_temp_files() {
	! ls -A | grep -E '\.(tmp|part)'
}

@test "backup - | restore -: a pipeline copies the database exactly into another; both audited with target -" {
	load_members
	want=$(members)
	cp -p shop.db.key copy.db.key
	run --separate-stderr bash -c 'set -o pipefail; mbr-db -q backup - | mbr-db -d copy.db restore -'
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-db: restored copy.db from standard input" ]
	[ "$(mbr-member -d copy.db --reveal export)" = "$want" ]
	[ "$(stat -c %a copy.db)" = 600 ]
	mbr-db -q -d copy.db check
	[ "$(q "SELECT action || ' ' || target FROM audit WHERE action LIKE 'db.%' ORDER BY id DESC LIMIT 1")" = "db.backup -" ]
	[ "$(sqlite3 copy.db "SELECT action || ' ' || target FROM audit WHERE action LIKE 'db.%' ORDER BY id DESC LIMIT 1")" = "db.restore -" ]
	no_temp_files
	# to a file through stdout, and back over the live database from stdin
	run --separate-stderr sh -c 'mbr-db backup - >b.gz'
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-db: backed up $MBR_DB to standard output" ]
	gzip -t b.gz
	[ "$(gzip -dc b.gz | head -c 15)" = "SQLite format 3" ]
	[ ! -e ./- ]
	mbr-member -q --yes erase M0002
	[ "$(members)" != "$want" ]
	run --separate-stderr mbr-db restore - <b.gz
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-db: restored $MBR_DB from standard input" ]
	[ "$(members)" = "$want" ]
	mbr-db -q check
	no_temp_files
}

@test "backup - and restore -: a terminal is refused (exit 2), nothing written" {
	command -v script >/dev/null || skip "script(1) is not installed"
	before=$(dump)
	for cmd in 'backup -' 'restore -'; do
		run script -qec "mbr-db $cmd" /dev/null </dev/null
		echo "$cmd: $output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"mbr-db: refusing to "*" a backup "*" a terminal"* ]]
		[[ "$output" == *"usage: mbr-db "* ]]
	done
	[ "$(dump)" = "$before" ]
	[ ! -e ./- ]
}

@test "restore -: standard input is checked as strictly as a file (exit 4); nothing replaced" {
	load_members
	mbr-db -q backup good.gz
	cp shop.db before.db
	echo 'not a database' | gzip >junk.gz
	sqlite3 "$MBR_DB" .dump >plain.gz
	head -c $(($(stat -c %s good.gz) - 8)) good.gz >cut.gz
	{ cat good.gz; echo more; } >trailing.gz
	: >empty.gz
	while IFS='|' read -r f msg; do
		run --separate-stderr mbr-db restore - <"$f"
		echo "$f: $stderr"
		[ "$status" -eq 4 ]
		[ "$output" = "" ]
		[[ "$stderr" == "mbr-db: backup on standard input"$msg ]]
		cmp shop.db before.db
	done <<-'EOF'
	junk.gz| is not a sound mbr database*
	plain.gz|: not a sound gzip file (incorrect header check)
	cut.gz|: cut short (unexpected end of gzip data)
	trailing.gz|: data after the end of its gzip stream
	empty.gz|: cut short (unexpected end of gzip data)
	EOF
	# through a pipe too, and into a database that does not exist yet
	run --separate-stderr sh -c '{ cat good.gz; echo more; } | mbr-db -d new.db restore -'
	[ "$status" -eq 4 ]
	[ "$stderr" = "mbr-db: backup on standard input: data after the end of its gzip stream" ]
	[ ! -e new.db ]
	no_temp_files
	mbr-db -q check
}

# Wait up to 10 s for process $1 to end; kill it and fail if it does not,
# so that a signal that does not end it fails the test instead of hanging it.
ended() {
	local i
	for i in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	echo "process $1 still running 10 s after the signal" >&2
	return 1
}

@test "backup, restore: SIGTERM or SIGHUP in the middle leaves no temporary file; the database is untouched" {
	load_members
	pad_database 64
	mbr-db -q backup good.gz
	cp shop.db before.db
	mkfifo pipe
	# a signal ignored when the tests started (SIGHUP under nohup) stays
	# ignored for the programs too (as it should): test only the others
	sigs=TERM
	ign=$(awk '/^SigIgn:/ { print $2 }' /proc/$$/status)
	(( (16#$ign & 1) == 0 )) && sigs="TERM HUP"
	for sig in $sigs; do
		# backup - into a pipe that is opened but not read: it blocks, copy made
		mbr-db backup - >pipe 2>err &
		pid=$!
		exec 7<pipe
		for i in $(seq 600); do ls | grep -q '\.tmp' && break; sleep 0.05; done
		ls | grep -q '^shop\.db\.tmp'
		kill -$sig $pid
		ended $pid
		status=0
		wait $pid || status=$?
		exec 7<&-
		echo "backup, SIG$sig: $status $(cat err)"
		[ "$status" -eq $((128 + $(kill -l $sig))) ]
		no_temp_files
		# restore - from a pipe that gives half a backup and stays open
		mbr-db restore - <pipe 2>err &
		pid=$!
		exec 7>pipe
		head -c 100000 good.gz >&7
		for i in $(seq 600); do ls | grep -q '\.tmp' && break; sleep 0.05; done
		ls | grep -q '^shop\.db\.tmp'
		kill -$sig $pid
		ended $pid
		status=0
		wait $pid || status=$?
		exec 7>&-
		echo "restore, SIG$sig: $status $(cat err)"
		[ "$status" -eq $((128 + $(kill -l $sig))) ]
		no_temp_files
	done
	# a reader that goes away: SIGPIPE (141), or exit 4 where it is ignored
	run --separate-stderr bash -c 'mbr-db backup - | head -c 10 >/dev/null; exit ${PIPESTATUS[0]}'
	[ "$status" -eq 141 ] || [ "$status" -eq 4 ]
	no_temp_files
	cmp shop.db before.db
	mbr-db -q check
}

@test "backup to a file: SIGTERM while it compresses leaves neither the copy nor the partial file" {
	load_members
	pad_database 4096
	cp shop.db before.db
	killed=0
	for try in 1 2 3 4 5; do
		rm -f b.gz
		mbr-db -q backup b.gz &
		pid=$!
		# the partial .gz appears once the copy is made; kill while it grows
		while kill -0 $pid 2>/dev/null && ! ls | grep -q '\.part'; do :; done
		kill -TERM $pid 2>/dev/null || true
		status=0
		wait $pid || status=$?
		no_temp_files
		if [ "$status" -eq 143 ]; then
			killed=1
			[ ! -e b.gz ]
			break
		fi
		[ "$status" -eq 0 ]	# done before the signal: try again
	done
	[ "$killed" = 1 ]
	cmp shop.db before.db
}

# --------------------------------------------------------------- migrate

@test "migrate: an up-to-date database is left as it is, however often; needs admin" {
	load_members
	before=$(dump)
	for i in 1 2; do
		run --separate-stderr mbr-db migrate
		[ "$status" -eq 0 ]
		[ "$output" = "" ]
		[ "$stderr" = "mbr-db: schema version 10, up to date" ]
	done
	[ "$(dump)" = "$before" ]
	mbr-db -q grant wang manager
	run --separate-stderr mbr-db --operator wang migrate
	[ "$status" -eq 5 ]
	[ "$stderr" = "mbr-db: operator 'wang' is manager; migrate needs admin" ]
}

@test "migrate: a schema newer than this mbr is refused by every command (exit 4)" {
	q 'PRAGMA user_version = 11'
	for cmd in check migrate operators; do
		run --separate-stderr mbr-db $cmd
		[ "$status" -eq 4 ]
		[ "$stderr" = "mbr-db: database '$MBR_DB' has schema version 11, newer than this mbr (10)" ]
	done
	run --separate-stderr mbr-add --phone 13900000005
	[ "$status" -eq 4 ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 0 ]
}

# ------------------------------------------------------------------ vacuum

# the content of every table and index but the audit log, as sorted SQL
# text, whatever the page size and the order of the schema's rows
content() {
	sqlite3 "$MBR_DB" .dump | grep -v -e '^PRAGMA' -e '^INSERT INTO audit ' -e "^INSERT INTO sqlite_sequence VALUES('audit'" | sort
}

@test "vacuum: gives the free pages back and makes 4096-byte pages 8192; content, check and WAL mode kept; audited" {
	load_members
	pad_database 300
	q "DROP TABLE pad"
	free=$(q "PRAGMA freelist_count")
	(( free >= 150 ))
	size=$(stat -c %s shop.db)
	want=$(content)
	run --separate-stderr mbr-db vacuum
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == "mbr-db: vacuumed $MBR_DB: $size -> "*" bytes ($free free pages given back), page size 8192 -> 8192" ]]
	[ "$(q "PRAGMA freelist_count")" = 0 ]
	(( $(stat -c %s shop.db) < size ))
	[ "$(q "PRAGMA journal_mode")" = wal ]
	[ "$(content)" = "$want" ]
	[ "$(q "SELECT action || ' ' || detail FROM audit ORDER BY id DESC LIMIT 1")" = \
	  "db.vacuum pages $((size / 8192)) ($free free) of 8192 bytes -> $(q "PRAGMA page_count") of 8192" ]
	mbr-db -q check
	# a database as mbr made them before 8192-byte pages (SQLite's 4096)
	sqlite3 shop.db "PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096; VACUUM; PRAGMA journal_mode = WAL" >/dev/null
	[ "$(q "PRAGMA page_size")" = 4096 ]
	want=$(content)
	run --separate-stderr mbr-db vacuum
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *", page size 4096 -> 8192" ]]
	[ "$(q "PRAGMA page_size")" = 8192 ]
	[ "$(q "PRAGMA journal_mode")" = wal ]
	[ "$(content)" = "$want" ]
	[ "$(members)" = "$(mbr-member --reveal export --format csv)" ]
	mbr-db -q check
	mbr-points -q earn M0001 5 >/dev/null
	[ ! -e shop.db-journal ]
}

@test "vacuum -n says what it would do and writes nothing; vacuum needs admin (exit 5)" {
	load_members
	pad_database 100
	q "DROP TABLE pad"
	free=$(q "PRAGMA freelist_count")
	pages=$(q "PRAGMA page_count")
	before=$(dump)
	run --separate-stderr mbr-db -n vacuum
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "mbr-db: would vacuum $MBR_DB: $pages pages of 8192 bytes, $free of them free" ]
	[ "${stderr_lines[1]}" = "mbr-db: dry run, nothing written" ]
	[ "$(dump)" = "$before" ]
	sqlite3 shop.db "PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096; VACUUM; PRAGMA journal_mode = WAL" >/dev/null
	pages=$(q "PRAGMA page_count")
	run --separate-stderr mbr-db -n vacuum
	[ "$status" -eq 0 ]
	[ "${stderr_lines[0]}" = "mbr-db: would vacuum $MBR_DB: $pages pages of 4096 bytes, 0 of them free; pages would become 8192 bytes" ]
	[ "$(q "PRAGMA page_size")" = 4096 ]
	free=$(q "PRAGMA freelist_count")
	mbr-db -q grant wang manager
	run --separate-stderr mbr-db --operator wang vacuum
	[ "$status" -eq 5 ]
	[ "$stderr" = "mbr-db: operator 'wang' is manager; vacuum needs admin" ]
	[ "$(q "PRAGMA freelist_count")" = "$free" ]
}

@test "vacuum: changing the page size while another program has the database open is refused (exit 4), nothing changed" {
	load_members
	sqlite3 shop.db "PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096; VACUUM; PRAGMA journal_mode = WAL" >/dev/null
	before=$(content)
	# a reader in the middle of a transaction, held open on fd 7
	mkfifo in
	sqlite3 shop.db <in >/dev/null &
	reader=$!
	exec 7>in
	echo "BEGIN; SELECT count(*) FROM members;" >&7
	sleep 0.5
	run --separate-stderr mbr-db vacuum
	echo "$stderr"
	[ "$status" -eq 4 ]
	[ "$stderr" = "mbr-db: $MBR_DB is open in another program: changing its page size needs it alone (stop the others and run vacuum again)" ]
	[ "$(q "PRAGMA page_size")" = 4096 ]
	[ "$(q "PRAGMA journal_mode")" = wal ]
	exec 7>&-
	wait $reader
	[ "$(content)" = "$before" ]
	run --separate-stderr mbr-db vacuum
	[ "$status" -eq 0 ]
	[ "$(q "PRAGMA page_size")" = 8192 ]
	mbr-db -q check
}

@test "open: a file that is not an mbr database is refused (exit 4) and not changed" {
	echo 'hello' >junk.db
	sqlite3 empty.db 'CREATE TABLE t(x)'
	for f in junk.db empty.db; do
		cp "$f" "$f.orig"
		run --separate-stderr mbr-db -d "$f" check
		echo "$stderr"
		[ "$status" -eq 4 ]
		[[ "$stderr" == "mbr-db: '$f' is not an mbr database"* ]]
		cmp "$f" "$f.orig"
	done
}

# ----------------------------------------------------------------- roles

@test "grant/revoke: roles are given, replaced and taken away; each change audited" {
	run --separate-stderr mbr-db grant li cashier
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	mbr-db -q grant wang manager
	[ "$(mbr-db operators --format csv)" = "$(printf 'operator,role\nadmin1,admin\nli,cashier\nwang,manager')" ]
	[ "$(mbr-db operators --format tsv | sed -n 3p)" = "$(printf 'li\tcashier')" ]
	# a second grant replaces the role
	mbr-db -q grant li manager
	[ "$(mbr-db operators --format csv | grep '^li,')" = "li,manager" ]
	mbr-db -q revoke li
	[ "$(mbr-db operators --format csv)" = "$(printf 'operator,role\nadmin1,admin\nwang,manager')" ]
	[ "$(q "SELECT group_concat(action || ' ' || target || ' ' || detail, '; ') FROM (SELECT * FROM audit WHERE action LIKE 'operator.%' ORDER BY id)")" = \
	  "operator.grant admin1 admin; operator.grant li cashier; operator.grant wang manager; operator.grant li manager; operator.revoke li none" ]
	# li can do nothing now, and is told how to get a role
	run --separate-stderr mbr-member --operator li find M0001
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-member: operator 'li' has no role in this database; find needs cashier (an admin can run: mbr-db grant li cashier)" ]
	mbr-db -q check
}

@test "grant/revoke: the last admin cannot lose the admin role (exit 3); with a second admin it can" {
	before=$(dump)
	run --separate-stderr mbr-db grant admin1 cashier
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-db: refusing to take the admin role from 'admin1', the last admin" ]
	run --separate-stderr mbr-db grant admin1 manager
	[ "$status" -eq 3 ]
	[ "$(dump)" = "$before" ]
	# another admin cannot take it either while admin1 is the only one
	mbr-db -q grant boss manager
	run --separate-stderr mbr-db --operator boss revoke admin1
	[ "$status" -eq 5 ]
	# with a second admin, the first may step down
	mbr-db -q grant root admin
	mbr-db -q grant admin1 manager
	[ "$(mbr-db --operator root operators --format csv)" = "$(printf 'operator,role\nadmin1,manager\nboss,manager\nroot,admin')" ]
	run --separate-stderr mbr-db --operator root revoke root
	[ "$status" -eq 3 ]
	run --separate-stderr mbr-db --operator root grant root cashier
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-db: refusing to take the admin role from 'root', the last admin" ]
}

@test "grant: a role that is not cashier, manager or admin is refused; revoking your own role is bad data (exit 3)" {
	before=$(dump)
	run --separate-stderr mbr-db grant li boss
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "mbr-db: role 'boss' must be cashier, manager or admin" ]
	run --separate-stderr mbr-db revoke admin1
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-db: refusing to revoke your own role" ]
	[ "$(dump)" = "$before" ]
	run --separate-stderr mbr-db grant li
	[ "$status" -eq 2 ]
}

@test "operator names: control characters are refused (exit 3) from --operator, MBR_OPERATOR and grant" {
	before=$(dump)
	run --separate-stderr mbr-db grant "$(printf 'li\tfang')" cashier
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-db: operator name must not hold control characters" ]
	run --separate-stderr mbr-db --operator "$(printf 'admin1\033[2J')" stores
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-db: operator name must not hold control characters" ]
	MBR_OPERATOR=$'admin1\r' run --separate-stderr mbr-db stores
	[ "$status" -eq 3 ]
	# an empty --operator is a mistake, not "the login user" (exit 2)
	run --separate-stderr mbr-db --operator '' grant li admin
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-db: --operator needs a name" ]
	[ "$(dump)" = "$before" ]
	# UTF-8 names are fine
	run --separate-stderr mbr-db grant 王芳 cashier
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$MBR_DB" "SELECT role FROM operators WHERE name = '王芳'")" = cashier ]
}

@test "roles: a cashier is refused admin and manager work (exit 5), saying who needs what; nothing changes" {
	load_members
	mbr-db -q grant li cashier
	before=$(dump)
	while IFS='|' read -r prog args msg; do
		echo "== $prog $args"
		run --separate-stderr $prog --operator li $args
		echo "$stderr"
		[ "$status" -eq 5 ]
		[ "$output" = "" ]
		[ "$stderr" = "$prog: operator 'li' is cashier; $msg" ]
	done <<-'EOF'
	mbr-db|grant li admin|grant needs admin
	mbr-db|revoke wang|revoke needs admin
	mbr-db|store-add S03|adding a store needs admin
	mbr-db|config time_zone UTC|changing a setting needs admin
	mbr-db|migrate|migrate needs admin
	mbr-db|audit|reading the audit log needs manager
	mbr-member|--yes erase M0001|erasing a member needs admin
	mbr-member|export|export needs manager
	mbr-member|set M0001 note=x|changing a member needs manager
	mbr-member|--reveal find M0001|--reveal needs admin
	EOF
	[ "$(dump)" = "$before" ]
	# what a cashier may do
	run --separate-stderr mbr-db --operator li check
	[ "$status" -eq 0 ]
	run --separate-stderr mbr-db --operator li operators
	[ "$status" -eq 0 ]
	run --separate-stderr mbr-db --operator li config time_zone
	[ "$status" -eq 0 ]
	[ "$output" = Asia/Shanghai ]
}

@test "config time_zone: recorded sales move to their business day in the new zone, aggregates with them" {
	export MBR_NOW=2025-12-01T00:00:00Z
	mbr-add -q --member-no M1 --name A --phone 13800000001 >/dev/null
	mbr-sale -q add --ts '2025-03-31T16:30:00Z' --member M1 R1 X:1:10.00 >/dev/null
	mbr-sale -q add --ts '2025-03-31T10:00:00Z' R2 X:1:5.00 >/dev/null
	[ "$(mbr-report sales --format csv | cut -d, -f1,2 | sed 1d | tr '\n' ' ')" = "2025-03-31,1 2025-04-01,1 " ]
	mbr-db config time_zone America/New_York
	[ "$(mbr-report sales --format csv | cut -d, -f1,2 | sed 1d | tr '\n' ' ')" = "2025-03-31,2 " ]
	[ "$(q 'SELECT COUNT(*) FROM agg_member_day WHERE day = 20178')" = 1 ]
	mbr-db -q check
	mbr-db config time_zone Asia/Shanghai
	[ "$(mbr-report sales --format csv | cut -d, -f1,2 | sed 1d | tr '\n' ' ')" = "2025-03-31,1 2025-04-01,1 " ]
	mbr-db -q check
}

@test "store-add, stores, config: an admin adds stores and changes settings; bad values are exit 3" {
	run --separate-stderr mbr-db store-add NORTH 'North Street 北街'
	[ "$status" -eq 0 ]
	[ "$(mbr-db stores --format csv)" = "$(printf 'store,name\nNORTH,North Street 北街\nS01,\nS02,')" ]
	run --separate-stderr mbr-db store-add NORTH again
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-db: store 'NORTH' already exists" ]
	# a code that differs only in case would be a second store people mix up
	run --separate-stderr mbr-db store-add north
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-db: store 'north' differs from store 'NORTH' only in case" ]
	run --separate-stderr mbr-db store-add 'N-1'
	[ "$status" -eq 3 ]
	run --separate-stderr mbr-db config time_zone Europe/Paris
	[ "$status" -eq 0 ]
	[ "$(mbr-db config time_zone)" = Europe/Paris ]
	run --separate-stderr mbr-db config time_zone Nowhere/Land
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-db: unknown time zone 'Nowhere/Land'" ]
	run --separate-stderr mbr-db config colour blue
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-db: unknown setting 'colour'" ]
	[ "$(mbr-db config time_zone)" = Europe/Paris ]
	run --separate-stderr mbr-db audit --format csv
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "id,time,operator,program,action,target,detail" ]
	[[ "${lines[-1]}" == *",admin1,mbr-db,setting.set,time_zone,Europe/Paris" ]]
	mbr-db -q check
}

# --------------------------------------------------------------- dry run

# what a dry run must leave as it was: the file, the content, the audit log
snapshot() {
	cksum <"$MBR_DB"
	dump
	mbr-db audit --format csv
}

@test "-n: grant, revoke, store-add, config, migrate, restore say what they would do and write nothing" {
	load_members
	mbr-db -q grant wang manager
	mbr-db -q backup b.gz
	before=$(snapshot)
	[ ! -e "$MBR_DB-wal" ] || [ ! -s "$MBR_DB-wal" ]
	while IFS='|' read -r args would; do
		run --separate-stderr mbr-db $args
		echo "$args: $stderr"
		[ "$status" -eq 0 ]
		[ "$output" = "" ]
		[ "$stderr" = "$(printf 'mbr-db: %s\nmbr-db: dry run, nothing written' "$would")" ]
		[ "$(snapshot)" = "$before" ]
	done <<-EOF
	-n grant li cashier|would grant 'li' the role cashier
	--dry-run grant wang admin|would grant 'wang' the role admin
	-n revoke wang|would revoke the role of 'wang'
	-n store-add S03 Third|would add store S03 'Third'
	-n store-add S04|would add store S04
	-n config time_zone UTC|would set time_zone to 'UTC'
	-n config currency HKD|would set currency to 'HKD'
	-n migrate|schema version 10, up to date
	-n restore b.gz|would restore $MBR_DB from b.gz
	EOF
	run --separate-stderr mbr-db -n restore - <b.gz
	[ "$status" -eq 0 ]
	[ "$stderr" = "$(printf 'mbr-db: would restore %s from standard input\nmbr-db: dry run, nothing written' "$MBR_DB")" ]
	# -q: silent
	run --separate-stderr mbr-db -nq grant li cashier
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(snapshot)" = "$before" ]
	[ "$(mbr-db operators --format csv | grep -c '^li,')" = 0 ]
	[ -z "$(ls | grep -E 'tmp|part')" ]
	# without -n the same commands do write
	mbr-db -q grant li cashier
	[ "$(mbr-db operators --format csv | grep '^li,')" = "li,cashier" ]
}

@test "-n: every check still runs; a refusal has its usual status and message, and nothing is written" {
	load_members
	mbr-db -q grant li cashier
	echo 'not a database' | gzip >junk.gz
	mbr-db -q backup b.gz
	mbr-db -q -d other.db init
	before=$(snapshot)
	while IFS='|' read -r want args msg; do
		run --separate-stderr mbr-db $args
		echo "$args: $status $stderr"
		[ "$status" -eq "$want" ]
		[ "$output" = "" ]
		[[ "$stderr" == "mbr-db: "$msg ]]
		[[ "$stderr" != *"dry run"* ]]
		[ "$(snapshot)" = "$before" ]
	done <<-'EOF'
	3|-n grant li boss|role 'boss' must be cashier, manager or admin
	3|-n revoke admin1|refusing to revoke your own role
	3|-n grant admin1 cashier|*admin*
	3|-n store-add S02|store 'S02' already exists
	3|-n config time_zone Nowhere/Land|unknown time zone 'Nowhere/Land'
	3|-n config store_code S09|*store_code*
	4|-n restore junk.gz|backup 'junk.gz' is not a sound mbr database*
	4|-n restore missing.gz|backup 'missing.gz': No such file or directory
	5|-n --operator li grant li admin|operator 'li' is cashier; grant needs admin
	5|-n --operator li restore b.gz|operator 'li' is cashier; restore needs admin
	5|-n --operator li migrate|operator 'li' is cashier; migrate needs admin
	EOF
	# restore -n checks the key too: another database's is refused
	cp -p other.db other.before
	run --separate-stderr mbr-db -d other.db -n restore b.gz
	[ "$status" -eq 4 ]
	[[ "$stderr" == "mbr-db: not restored: key file 'other.db.key' does not belong to database 'b.gz'"* ]]
	cmp other.db other.before
	# into a new path: checked in full, nothing created
	cp -p shop.db.key new.db.key
	run --separate-stderr mbr-db -d new.db -n restore b.gz
	[ "$status" -eq 0 ]
	[ ! -e new.db ]
	[ -z "$(ls | grep -E 'tmp|part')" ]
}

@test "migrate -n: says from which schema version to which; the database stays as it was until migrate" {
	load_members
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	old_lines=$(q 'SELECT * FROM sale_lines ORDER BY sale, line')
	old_pays=$(q 'SELECT * FROM payments ORDER BY sale, method')
	# back to schema 5: lines and payments in tables of their own
	q "CREATE TEMP TABLE old_lines AS SELECT * FROM sale_lines;
	   DROP VIEW sale_lines; DROP VIEW payments;
	   CREATE TABLE sale_lines(sale INTEGER NOT NULL, line INTEGER NOT NULL, sku TEXT NOT NULL,
	     qty INTEGER NOT NULL, unit_price INTEGER NOT NULL, discount INTEGER NOT NULL DEFAULT 0,
	     amount INTEGER NOT NULL, PRIMARY KEY (sale, line)) WITHOUT ROWID;
	   CREATE TABLE payments(sale INTEGER NOT NULL, method TEXT NOT NULL, amount INTEGER NOT NULL,
	     PRIMARY KEY (sale, method)) WITHOUT ROWID;
	   INSERT INTO sale_lines SELECT sale, line, sku, qty, unit_price, discount, amount FROM temp.old_lines;
	   INSERT INTO payments SELECT s.id, j.value ->> 0, j.value ->> 1 FROM sales s, json_each(s.payments) AS j;
	   ALTER TABLE sales DROP COLUMN lines; ALTER TABLE sales DROP COLUMN payments;
	   PRAGMA user_version = 5"
	before=$(cksum <"$MBR_DB")
	run --separate-stderr mbr-db -n migrate
	[ "$status" -eq 0 ]
	[ "$stderr" = "$(printf 'mbr-db: would migrate schema version 5 -> 10\nmbr-db: dry run, nothing written')" ]
	[ "$(cksum <"$MBR_DB")" = "$before" ]
	[ "$(q 'PRAGMA user_version')" = 5 ]
	run --separate-stderr mbr-db migrate
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-db: schema version 5 -> 10" ]
	[ "$(q 'PRAGMA user_version')" = 10 ]
	[ "$(q "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE name LIKE 'members\_%\_brief' ESCAPE '\' ORDER BY 1)")" = 'members_card_brief members_phone_brief' ]
	[ "$(q "SELECT group_concat(name) FROM pragma_index_info('points_ledger_member')")" = member ]
	[ -n "$old_lines" ]
	[ "$(q 'SELECT * FROM sale_lines ORDER BY sale, line')" = "$old_lines" ]
	[ "$(q 'SELECT * FROM payments ORDER BY sale, method')" = "$old_pays" ]
	mbr-db -q check
}
