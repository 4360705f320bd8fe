#!/usr/bin/env bats
# mbr-add: importing members from CSV/TSV (header aliases, any order and
# case, gzip, BOM and CRLF, GB18030, --dry-run, --update, --skip-bad with
# a rejects file, all or nothing), one member from options, and the form
# (-i) through a terminal (tmux) and through a pipe.  Bad input of every
# kind is refused with a clear message and the status of mbr-add(1)
# (3 bad data, 4 key or database error, 5 refused), and the database is
# left exactly as it was (`sqlite3 .dump` compared).  Personal data never
# reaches the database files in clear.  Every test starts from a fresh
# database in its own temp dir.

bats_require_minimum_version 1.5.0

load common

setup() {
	shop_setup
	SOCK=$T/tmux.sock
}

teardown() {
	if [ -S "${SOCK:-}" ]; then
		tmux -S "$SOCK" kill-server 2>/dev/null || true
	fi
}

dump() { sqlite3 "${1:-$MBR_DB}" .dump; }

# every member in clear, as CSV (audited: call it after the comparisons)
members() { mbr-member --reveal export --format csv "$@"; }

# one member in clear, as a CSV row without the header
member() { mbr-member --reveal show --format csv "$1" | sed 1d; }

# uid,member_no,name,phone,email,birthday,gender,tier,store of a member
brief() { member "$1" | cut -d, -f1-9; }

# Run a command with file modes enforced even for root (setpriv drops
# CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from what it may use).
unpriv() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	else
		command -v setpriv >/dev/null || skip "root, and no setpriv to give up file-mode overrides"
		setpriv --bounding-set=-dac_override,-dac_read_search -- "$@"
	fi
}

# Run "$@" with directory $1 mounted read-only (a private mount namespace).
on_ro_mount() {
	local dir=$1 u="unshare -m"

	shift
	[ "$(id -u)" -eq 0 ] || u="unshare -rm"
	$u sh -c 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"' "$dir" "$@"
}

# Run mbr-add on FILE, expect STATUS and the first stderr line MSG, no
# output, and the database unchanged.
refused() {
	local file=$1 want=$2 msg=$3 before

	before=$(dump)
	run --separate-stderr mbr-add "$file"
	echo "$stderr"
	[ "$status" -eq "$want" ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "$msg" ]
	[ "$(dump)" = "$before" ]
}

# ------------------------------------------------------------------ files

@test "import: the example file loads; summary on stderr, nothing on stdout; fields normalised" {
	run --separate-stderr mbr-add "$EX/members.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-add: $EX/members.csv: batch 1: 5 added, 0 updated, 0 rejected" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 5 ]
	[ "$(q "SELECT kind || ',' || added || ',' || rejected FROM batches")" = "members,5,0" ]
	# one audit entry for the batch, none per member
	[ "$(q "SELECT COUNT(*) FROM audit WHERE action = 'batch.finish' AND detail = 'added 5, updated 0, rejected 0'")" = 1 ]
	[ "$(q "SELECT COUNT(*) FROM audit WHERE action = 'member.add'")" = 0 ]
	# 139-0000-1111, 1990/7/2 and 女; +86 137 2222 3333 and 19880521
	[ "$(brief M0002)" = "S01-3,M0002,王芳,13900001111,wangfang@example.cn,1990-07-02,F,,S01" ]
	[ "$(brief M0003)" = "S01-4,M0003,李娜,13722223333,,1988-05-21,F,,S02" ]
	[ "$(brief M0004)" = "S01-5,M0004,Ann Lee,15011112222,ann.lee@example.org,1979-12-01,F,,S02" ]
	[ "$(member M0002 | cut -d, -f13)" = "prefers email" ]
	mbr-db -q check
}

@test "import: Chinese header names (会员卡号, 姓名, 手机号, 邮箱, 生日) in any order" {
	cat >cn.csv <<-'EOF'
	生日,手机号,姓名,邮箱,会员卡号,性别,门店
	1992-02-29,13511112222,刘洋,LiuYang@Example.COM,L1001,男,S02
	,137 3333 4444,孙丽,,L1003,女,
	EOF
	run --separate-stderr mbr-add cn.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-add: cn.csv: batch 1: 2 added, 0 updated, 0 rejected" ]
	[ "$(brief L1001)" = "S01-2,L1001,刘洋,13511112222,LiuYang@example.com,1992-02-29,M,,S02" ]
	[ "$(brief 13733334444)" = "S01-3,L1003,孙丽,13733334444,,,F,," ]
}

@test "import: header names ignore case and blanks; columns in any order; other aliases" {
	printf ' PHONE ,Name,E-Mail,MEMBER_NO,DOB,Sex,Remark\n' >mixed.csv
	printf '13600000001,Mixed Case,MC@Example.org,MC-01,1980/1/2,female,hello there\n' >>mixed.csv
	run --separate-stderr mbr-add mixed.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(member MC-01)" = "S01-2,MC-01,Mixed Case,13600000001,MC@example.org,1980-01-02,F,,,active,0,2026-11-22,hello there" ]
}

@test "import: gzip input is detected by content, from a file or standard input" {
	gzip -c "$EX/members.csv" >members.data
	run --separate-stderr mbr-add members.data
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-add: members.data: batch 1: 5 added, 0 updated, 0 rejected" ]
	[ "$(brief M0001)" = "S01-2,M0001,张伟,13812345678,zhang.wei@example.com,1985-03-14,M,,S01" ]
	# again through a pipe, as an update
	sed 's/prefers email/prefers phone/' "$EX/members.csv" | gzip | {
		run --separate-stderr mbr-add --update -
		echo "$stderr"
		[ "$status" -eq 0 ]
		[ "$stderr" = "mbr-add: -: batch 2: 0 added, 5 updated, 0 rejected" ]
	}
	[ "$(member M0002 | cut -d, -f13)" = "prefers phone" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 5 ]
}

@test "import: a UTF-8 byte order mark and CRLF line ends (as Excel saves) are read; TSV too" {
	printf '\xef\xbb\xbfmember_no,name,phone,note\r\nB1,"Crlf, One",13911110001,x\r\nB2,双,13911110002,"two, ""quoted"""\r\n' >excel.csv
	run --separate-stderr mbr-add excel.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-add: excel.csv: batch 1: 2 added, 0 updated, 0 rejected" ]
	[ "$(member B1)" = "S01-2,B1,\"Crlf, One\",13911110001,,,,,,active,0,2026-11-22,x" ]
	[ "$(brief B2)" = "S01-3,B2,双,13911110002,,,,," ]
	# no CR left at the end of the last field, no BOM in the first
	[ "$(mbr-member --reveal show --format json B1 | jq -r '.note + "|" + .member_no')" = "x|B1" ]
	[ "$(mbr-member --reveal show --format json B2 | jq -r .note)" = 'two, "quoted"' ]
	printf 'phone\tname\n13911110003\t制表符\n' >t.tsv
	run --separate-stderr mbr-add t.tsv
	[ "$status" -eq 0 ]
	[ "$(brief 13911110003)" = "S01-5,,制表符,13911110003,,,,," ]
}

@test "import --encoding GB18030: a legacy export is converted; without it the file is refused" {
	refused "$EX/legacy-gb18030.csv" 3 "mbr-add: $EX/legacy-gb18030.csv:1: header: invalid UTF-8"
	run --separate-stderr mbr-add --encoding GB18030 "$EX/legacy-gb18030.csv"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-add: $EX/legacy-gb18030.csv: batch 1: 3 added, 0 updated, 0 rejected" ]
	[ "$(members | cut -d, -f2-7,13 | sed 1d)" = "$(printf '%s\n' \
		'L1001,刘洋,13511112222,,1992-02-29,M,老系统迁移' \
		'L1002,赵敏,13622223333,,1987-08-08,F,' \
		'L1003,孙丽,13733334444,,,F,VIP客户')" ]
	run --separate-stderr mbr-add --encoding NO-SUCH "$EX/members.csv"
	[ "$status" -eq 2 ]
	[ "$stderr" = "mbr-add: unknown encoding 'NO-SUCH'" ]
}

@test "import --dry-run: everything is checked, nothing is written" {
	before=$(dump)
	run --separate-stderr mbr-add --dry-run "$EX/members.csv"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == "mbr-add: dry run, nothing written: $EX/members.csv: batch 1: 5 added, 0 updated, 0 rejected" ]]
	[ "$(dump)" = "$before" ]
	# a bad file still fails in a dry run
	sed '3s/wangfang@example.cn/not-an-email/' "$EX/members.csv" >bad.csv
	run --separate-stderr mbr-add -n bad.csv
	[ "$status" -eq 3 ]
	[ "${stderr_lines[0]}" = "mbr-add: bad.csv:3: email: 'not-an-email' is not an email address" ]
	run --separate-stderr mbr-add -n --name Dry --phone 13900000009
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-add: dry run, nothing written" ]
	[ "$(dump)" = "$before" ]
}

# ------------------------------------------------------------- one member

@test "one member from options: its uid on stdout; stored normalised; audited; a cashier may do it" {
	mbr-db -q grant li cashier
	run --separate-stderr mbr-add --operator li --name 'Zhou Jie' --phone '139 0000 1234' --store S02 \
		--gender M --birthday 1991-06-30 --email Zhou.Jie@EXAMPLE.net --note 'front desk'
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01-1" ]
	[ "$stderr" = "mbr-add: added member S01-1" ]
	[ "$(member 13900001234)" = "S01-1,,Zhou Jie,13900001234,Zhou.Jie@example.net,1991-06-30,M,,S02,active,0,2026-11-22,front desk" ]
	[ "$(q "SELECT operator || ',' || action || ',' || target FROM audit WHERE action = 'member.add'")" = "li,member.add,S01-1" ]
	# -q: only the uid
	run --separate-stderr mbr-add -q --member-no Q1
	[ "$status" -eq 0 ]
	[ "$output" = "S01-2" ]
	[ "$stderr" = "" ]
	# but importing a file needs manager
	run --separate-stderr mbr-add --operator li "$EX/members.csv"
	[ "$status" -eq 5 ]
	[ "$stderr" = "mbr-add: operator 'li' is cashier; importing members needs manager" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 2 ]
}

@test "--update: a cashier may add a new member but changing an existing one needs manager (options and -i), as for mbr-member set" {
	mbr-add -q "$EX/members.csv"
	mbr-db -q grant li cashier
	mbr-db -q grant wang manager
	before=$(dump)
	run --separate-stderr mbr-add --operator li --update --member-no M0002 --name 'Hacked Name' --email evil@x.com
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-add: operator 'li' is cashier; changing a member needs manager" ]
	run --separate-stderr mbr-member --operator li set M0002 name=x
	[ "$status" -eq 5 ]
	[ "$stderr" = "mbr-member: operator 'li' is cashier; changing a member needs manager" ]
	# the form, piped: answers for every field, then y
	printf 'M0001\nPiped Over\n\n\n\n\n\n\n\ny\n' | MBR_OPERATOR=li mbr-add --update -i >out 2>err || status=$?
	[ "${status:-0}" -eq 5 ]
	grep -qF "mbr-add: operator 'li' is cashier; changing a member needs manager" err
	[ "$(dump)" = "$before" ]
	# a new member is still fine for a cashier, with --update too
	run --separate-stderr mbr-add -q --operator li --update --member-no NEW1 --name 'New One'
	[ "$status" -eq 0 ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 6 ]
	# and a manager may change one
	run --separate-stderr mbr-add -q --operator wang --update --member-no M0002 --name 'Wang Fang'
	echo "$stderr"
	[ "$status" -eq 0 ]
}

@test "a masked export fed back is refused (exit 3), field by field, and nothing is overwritten" {
	printf 'member_no,name,email,phone,birthday\nV1,Ann Lee,ann.lee@example.org,,\nV2,Bob Ray,bob@example.com,13812345678,1990-03-14\n' >v.csv
	mbr-add -q v.csv
	before=$(dump)
	mbr-member export --format csv >masked.csv
	run --separate-stderr mbr-add --update --ignore-unknown masked.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "${stderr_lines[0]}" = "mbr-add: masked.csv:2: name: 'A******' looks masked: export with --reveal to re-import" ]
	[ "${stderr_lines[1]}" = "mbr-add: masked.csv:3: name: 'B******' looks masked: export with --reveal to re-import" ]
	[ "$(dump)" = "$before" ]
	# each masked field, on its own, from every way in
	while IFS='|' read -r field value; do
		echo "== $field $value"
		printf 'member_no,%s\nV1,%s\n' "$field" "$value" >one.csv
		run --separate-stderr mbr-add --update one.csv
		[ "$status" -eq 3 ]
		[ "${stderr_lines[0]}" = "mbr-add: one.csv:2: $field: '$value' looks masked: export with --reveal to re-import" ]
		run --separate-stderr mbr-add --update --member-no V1 --$field "$value"
		[ "$status" -eq 3 ]
		[ "$stderr" = "mbr-add: --$field: '$value' looks masked: export with --reveal to re-import" ]
		run --separate-stderr mbr-member set V1 "$field=$value"
		[ "$status" -eq 3 ]
		[ "$stderr" = "mbr-member: $field: '$value' looks masked: export with --reveal to re-import" ]
	done <<-'EOF'
	name|A******
	name|张**
	email|a***@example.org
	email|***@example.org
	phone|138****5678
	phone|***45
	birthday|****-03-14
	EOF
	[ "$(dump)" = "$before" ]
	# a revealed export goes back in unchanged
	mbr-member --reveal export --format csv >clear.csv
	run --separate-stderr mbr-add -q --update --ignore-unknown clear.csv
	[ "$status" -eq 0 ]
	[ "$(mbr-member --reveal show --format json V1 | jq -r '[.name, .email] | join("|")')" = "Ann Lee|ann.lee@example.org" ]
}

@test "one member: a bad value, no key field, an unknown store or a taken phone is exit 3, nothing written" {
	mbr-add -q "$EX/members.csv"
	before=$(dump)
	while IFS='|' read -r args msg; do
		echo "== $args"
		eval "run --separate-stderr mbr-add $args"
		echo "$stderr"
		[ "$status" -eq 3 ]
		[ "$output" = "" ]
		[ "$stderr" = "mbr-add: $msg" ]
	done <<-'EOF'
	--name X --phone 12|--phone: '12' is not a phone number (5-15 digits)
	--name 'No Key'|a member needs a member_no or a phone
	--phone 13900000011 --birthday 2030-01-01|--birthday: birthday 2030-01-01 is in the future
	--phone 13900000011 --birthday 1990-02-30|--birthday: '1990-02-30' is not a date (YYYY-MM-DD, 1900 to 2100)
	--phone 13900000011 --store S99|--store: unknown store 'S99'
	--phone 13900000011 --tier GOLD|--tier: unknown tier 'GOLD'
	--phone 13900000011 --gender X|--gender: 'X' is not a gender (M, F, male, female, 男, 女)
	--phone 13900000011 --email a@b|--email: 'a@b' is not an email address
	--phone 13900000011 --member-no 'M 1'|--member-no: 'M 1' is not a member number (letters, digits, - _ . /)
	--name Dup --phone '+86 138 1234 5678'|phone 138****5678 already belongs to member S01-2
	--member-no M0003|member_no 'M0003' already belongs to member S01-4
	--member-no S01-4 --phone 13900000011|--member-no: 'S01-4' is the uid of another member
	--update --member-no S01-2 --name X|--member-no: 'S01-2' is the uid of another member
	EOF
	[ "$(dump)" = "$before" ]
}

@test "import: a member number that is another member's uid is refused with its line (exit 3), nothing imported; one like a uid is not" {
	mbr-add -q "$EX/members.csv"
	before=$(dump)
	printf 'member_no,name,phone\nN1,One,13900000011\nS01-3,Two,13900000012\nS01-7,Three,13900000013\n' >uid.csv
	run --separate-stderr mbr-add uid.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	# S01-7 is the batch's uid, S01-8 the uid of line 2's member
	[ "$stderr" = "$(printf '%s\n' "mbr-add: uid.csv:3: member_no: 'S01-3' is the uid of another member" \
		"mbr-add: 1 bad record; nothing imported")" ]
	[ "$(dump)" = "$before" ]
	# a uid enrolled earlier in the same file counts too
	printf 'member_no,name,phone\nN1,One,13900000011\nS01-8,Two,13900000012\n' >same.csv
	run --separate-stderr mbr-add same.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "${stderr_lines[0]}" = "mbr-add: same.csv:3: member_no: 'S01-8' is the uid of another member" ]
	[ "$(dump)" = "$before" ]
	# --skip-bad commits the others
	run --separate-stderr mbr-add --skip-bad uid.csv
	[ "$status" -eq 1 ]
	[ "$(q "SELECT COUNT(*) FROM members")" = 7 ]
	# numbers that only look like a uid (another store's, zero-padded, a year) are numbers
	printf 'member_no,name\nS02-3,A\nS01-003,B\n2023-5,C\n' >like.csv
	run --separate-stderr mbr-add like.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	mbr-db -q check
}

@test "one member --update: the non-empty fields of the member with that phone change" {
	mbr-add -q "$EX/members.csv"
	run --separate-stderr mbr-add --update --phone '0086 138 1234 5678' --email NEW@Example.COM --note updated
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01-2" ]
	[ "$stderr" = "mbr-add: updated member S01-2" ]
	[ "$(member M0001)" = "S01-2,M0001,张伟,13812345678,NEW@example.com,1985-03-14,M,,S01,active,0,2026-11-22,updated" ]
	[ "$(q "SELECT COUNT(*) FROM audit WHERE action = 'member.update' AND target = 'S01-2'")" = 1 ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 5 ]
}

# ------------------------------------------------------ duplicates, update

@test "duplicates: twice in one file is an error naming the line; nothing imported (exit 3)" {
	cat >dup.csv <<-'EOF'
	member_no,name,phone
	D1,First,13800000001
	D2,Second,13800000002
	D1,Again,13800000003
	D4,Fourth,+86 138 0000 0002
	EOF
	before=$(dump)
	run --separate-stderr mbr-add dup.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	# the uids named were never committed: the lines say where the first ones are
	[ "${stderr_lines[0]}" = "mbr-add: dup.csv:4: member_no 'D1' already belongs to member S01-2 (line 2)" ]
	[ "${stderr_lines[1]}" = "mbr-add: dup.csv:5: phone 138****0002 already belongs to member S01-3 (line 3)" ]
	[ "${stderr_lines[2]}" = "mbr-add: 2 bad records; nothing imported" ]
	[ "${#stderr_lines[@]}" -eq 3 ]
	[ "$(dump)" = "$before" ]
}

@test "duplicates: a member already in the database is an error, unless --update, which updates it" {
	mbr-add -q "$EX/members.csv"
	cat >again.csv <<-'EOF'
	member_no,phone,email,note
	M0002,,wf@example.org,
	,150-1111-2222,,moved to S01
	N0001,13000000001,,new one
	EOF
	before=$(dump)
	run --separate-stderr mbr-add again.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "${stderr_lines[0]}" = "mbr-add: again.csv:2: member_no 'M0002' already belongs to member S01-3" ]
	[ "${stderr_lines[1]}" = "mbr-add: again.csv:3: phone 150****2222 already belongs to member S01-5" ]
	[ "${stderr_lines[2]}" = "mbr-add: 2 bad records; nothing imported" ]
	[ "$(dump)" = "$before" ]
	run --separate-stderr mbr-add --update again.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-add: again.csv: batch 2: 1 added, 2 updated, 0 rejected" ]
	# only the non-empty fields changed
	[ "$(member M0002)" = "S01-3,M0002,王芳,13900001111,wf@example.org,1990-07-02,F,,S01,active,0,2026-11-22,prefers email" ]
	[ "$(member M0004)" = "S01-5,M0004,Ann Lee,15011112222,ann.lee@example.org,1979-12-01,F,,S02,active,0,2026-11-22,moved to S01" ]
	[ "$(brief N0001)" = "S01-8,N0001,,13000000001,,,,," ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 6 ]
	# the same update again changes no member
	run --separate-stderr mbr-add -q --update again.csv
	[ "$status" -eq 0 ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 6 ]
	mbr-db -q check
}

# ------------------------------------------------------- skip-bad, errors

@test "--skip-bad --rejects: good records committed (exit 1); bad ones written with a reject_reason; fixed file goes back in" {
	cat >mix.csv <<-'EOF'
	member_no,name,phone,birthday
	G1,Good One,13911110001,1980-01-01
	B1,Bad Phone,12,
	G2,Good Two,13911110002,
	B2,"Bad, Date",13911110004,1980-13-01
	B3,Dup Phone,139 1111 0001,
	EOF
	run --separate-stderr mbr-add --skip-bad --rejects rej.csv mix.csv
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "mbr-add: mix.csv:3: phone: '12' is not a phone number (5-15 digits)" ]
	[ "${stderr_lines[1]}" = "mbr-add: mix.csv:5: birthday: '1980-13-01' is not a date (YYYY-MM-DD, 1900 to 2100)" ]
	[ "${stderr_lines[2]}" = "mbr-add: mix.csv:6: phone 139****0001 already belongs to member S01-2 (line 2)" ]
	[ "${stderr_lines[3]}" = "mbr-add: mix.csv: batch 1: 2 added, 0 updated, 3 rejected" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 2 ]
	[ "$(brief G2)" = "S01-3,G2,Good Two,13911110002,,,,," ]
	cat rej.csv
	[ "$(cat rej.csv)" = "$(printf '%s\n' \
		'member_no,name,phone,birthday,reject_reason' \
		"B1,Bad Phone,12,,phone: '12' is not a phone number (5-15 digits)" \
		"B2,\"Bad, Date\",13911110004,1980-13-01,\"birthday: '1980-13-01' is not a date (YYYY-MM-DD, 1900 to 2100)\"" \
		'B3,Dup Phone,139 1111 0001,,phone 139****0001 already belongs to member S01-2 (line 2)')" ]
	# fix two, feed the file back; the third is still bad
	sed -e 's/,12,,/,13911110003,,/' -e 's/1980-13-01/1980-12-01/' rej.csv >fixed.csv
	run --separate-stderr mbr-add --skip-bad --rejects rej2.csv fixed.csv
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$(sed 1d rej2.csv)" = "B3,Dup Phone,139 1111 0001,,phone 139****0001 already belongs to member S01-2" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 4 ]
	[ "$(mbr-member --reveal show --format json B2 | jq -r '[.name, .phone, .birthday] | join("|")')" = "Bad, Date|13911110004|1980-12-01" ]
	mbr-db -q check
}

@test "--rejects naming the input (same path, another name, a link, or standard input) is a usage error; the input is untouched" {
	printf 'member_no,phone\nK1,13911110001\nBAD,12\n' >in.csv
	cp in.csv want.csv
	ln -s in.csv link.csv
	for args in "--rejects in.csv in.csv" "--rejects ./in.csv in.csv" "--rejects $T/in.csv in.csv" \
		    "--rejects link.csv in.csv" "--rejects in.csv -"; do
		run --separate-stderr mbr-add --skip-bad $args <in.csv
		echo "$args: $stderr"
		[ "$status" -eq 2 ]
		[ "$output" = "" ]
		[ "${stderr_lines[0]}" = "mbr-add: --rejects $(echo "$args" | cut -d' ' -f2) is the input file" ]
		[ "${stderr_lines[1]%% *}" = "usage:" ]
		cmp in.csv want.csv
	done
	[ "$(q 'SELECT COUNT(*) FROM members')" = 0 ]
	# another file is fine, and so is reading standard input from a pipe
	run --separate-stderr mbr-add -q --skip-bad --rejects rej.csv - <in.csv
	[ "$status" -eq 1 ]
	[ "$(sed 1d rej.csv)" = "BAD,12,phone: '12' is not a phone number (5-15 digits)" ]
}

@test "--rejects: the file is created 0600 whatever the umask, and an old one becomes 0600" {
	printf 'member_no,name,phone\nA1,"Smith, John",12\n' >r.csv
	(umask 022 && mbr-add -q --skip-bad --rejects new.csv r.csv) || [ $? -eq 1 ]
	[ "$(stat -c %a new.csv)" = 600 ]
	[ "$(sed 1d new.csv)" = "A1,\"Smith, John\",12,phone: '12' is not a phone number (5-15 digits)" ]
	echo old >old.csv
	chmod 644 old.csv
	(umask 022 && mbr-add -q --skip-bad --rejects old.csv r.csv) || [ $? -eq 1 ]
	[ "$(stat -c %a old.csv)" = 600 ]
}

@test "--rejects: a record with more fields than the header keeps them all, before its reason; fixed, it imports whole" {
	printf 'member_no,name,phone,email\nA1,Smith, John,13800000001,john@example.com\nA2,Short,13800000002\n' >extra.csv
	run --separate-stderr mbr-add -q --skip-bad --rejects rej.csv extra.csv
	[ "$status" -eq 1 ]
	cat rej.csv
	[ "$(cat rej.csv)" = "$(printf '%s\n' \
		'member_no,name,phone,email,reject_reason' \
		'A1,Smith, John,13800000001,john@example.com,"row has 5 fields, header has 4"' \
		'A2,Short,13800000002,,"row has 3 fields, header has 4"')" ]
	# fed back unfixed: the old reason (the last field) is replaced, nothing else lost
	run --separate-stderr mbr-add -q --skip-bad --rejects rej2.csv rej.csv
	[ "$status" -eq 1 ]
	[ "$(sed -n 2p rej2.csv)" = 'A1,Smith, John,13800000001,john@example.com,"row has 6 fields, header has 5"' ]
	# quote the name and it lines up with the header again
	sed -n -e 1p -e '2s/Smith, John/"Smith, John"/p' rej.csv >fixed.csv
	run --separate-stderr mbr-add -q fixed.csv
	[ "$status" -eq 0 ]
	[ "$(mbr-member --reveal show --format json A1 | jq -r '[.name, .phone, .email] | join("|")')" = "Smith, John|13800000001|john@example.com" ]
}

@test "--skip-bad -q prints no rejected records; --rejects alone is a usage error" {
	printf 'phone\n12\n13911110001\n' >m.csv
	run --separate-stderr mbr-add -q --skip-bad m.csv
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 1 ]
	run --separate-stderr mbr-add --rejects r.csv m.csv
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-add: --rejects needs --skip-bad" ]
	[ ! -e r.csv ]
	run --separate-stderr mbr-add --name X m.csv
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-add a.csv b.csv
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-add --no-such-option
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
}

@test "all or nothing: every bad record is listed as file:line: column: reason, with the header's own names" {
	printf '%s\r\n' '会员卡号,姓名,手机号,邮箱,生日' \
		'A1,"two' 'lines",13900000001,,' \
		'A2,Ok,13900000002,ok@example.com,' \
		'A3,Bad Mail,13900000003,not-mail,' \
		'A4,Bad Day,13900000004,,1990-02-30' \
		'A5,Future,13900000005,,2027-01-01' >many.csv
	before=$(dump)
	run --separate-stderr mbr-add many.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "$(printf '%s\n' \
		'mbr-add: many.csv:2: 姓名: control characters are not allowed' \
		"mbr-add: many.csv:5: 邮箱: 'not-mail' is not an email address" \
		"mbr-add: many.csv:6: 生日: '1990-02-30' is not a date (YYYY-MM-DD, 1900 to 2100)" \
		'mbr-add: many.csv:7: 生日: birthday 2027-01-01 is in the future' \
		'mbr-add: 4 bad records; nothing imported')" ]
	[ "$(dump)" = "$before" ]
}

@test "all or nothing: at most 50 errors are shown" {
	{ echo phone; for i in $(seq 1 60); do echo "x$i"; done; } >bad60.csv
	run --separate-stderr mbr-add bad60.csv
	[ "$status" -eq 3 ]
	[ "${#stderr_lines[@]}" -eq 52 ]
	[ "${stderr_lines[49]}" = "mbr-add: bad60.csv:51: phone: 'x50' is not a phone number (5-15 digits)" ]
	[ "${stderr_lines[50]}" = "mbr-add: more errors follow; only the first 50 are shown" ]
	[ "${stderr_lines[51]}" = "mbr-add: 60 bad records; nothing imported" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 0 ]
}

# ------------------------------------------------------------ bad input

@test "bad input: malformed CSV (an unterminated quote) is exit 3, database unchanged" {
	mbr-add -q "$EX/members.csv"
	printf 'member_no,name,phone\nX1,"unterminated,13800000001\nX2,b,13800000002\n' >quote.csv
	refused quote.csv 3 "mbr-add: quote.csv:2: name: malformed CSV: quoted field not closed"
	[ "${stderr_lines[-1]}" = "mbr-add: 1 bad record; nothing imported" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 5 ]
}

@test "bad input: invalid UTF-8 is exit 3, database unchanged" {
	mbr-add -q "$EX/members.csv"
	printf 'member_no,name,phone\nX1,ok,13800000001\nX2,\xff\xfe,13800000002\n' >utf.csv
	refused utf.csv 3 "mbr-add: utf.csv:3: name: invalid UTF-8"
	[ "$(q 'SELECT COUNT(*) FROM members')" = 5 ]
}

@test "bad input: a NUL byte is exit 3, database unchanged" {
	mbr-add -q "$EX/members.csv"
	printf 'member_no,name,phone\nX1,a\0b,13800000001\n' >nul.csv
	refused nul.csv 3 "mbr-add: nul.csv:2: name: NUL byte"
	[ "$(q 'SELECT COUNT(*) FROM members')" = 5 ]
}

@test "bad input: a 10 MB field is exit 3, quickly and in bounded memory; database unchanged" {
	mbr-add -q "$EX/members.csv"
	{ printf 'member_no,name,phone\nX1,'; head -c 10485760 /dev/zero | tr '\0' a; printf ',13800000001\n'; } >big.csv
	[ "$(stat -c %s big.csv)" -gt 10485760 ]
	refused big.csv 3 "mbr-add: big.csv:2: name: field longer than 65536 bytes"
	[ "$(q 'SELECT COUNT(*) FROM members')" = 5 ]
	# the field is not held in memory: peak RSS well under its size
	if [ -x /usr/bin/time ] && [ -z "${ASAN_OPTIONS:-}" ]; then
		run /usr/bin/time -f %M -o rss mbr-add -q big.csv
		[ "$status" -eq 3 ]
		cat rss
		[ "$(tail -n 1 rss)" -lt 8192 ]
	fi
	# and as the note of a member in the middle of good ones, with --skip-bad
	{ printf 'phone,note\n13800000002,ok\n13800000003,'; head -c 10485760 /dev/zero | tr '\0' b; printf '\n13800000004,ok\n'; } >big2.csv
	run --separate-stderr mbr-add --skip-bad --rejects rej.csv big2.csv
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "${stderr_lines[0]}" = "mbr-add: big2.csv:3: note: field longer than 65536 bytes" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 7 ]
	[ "$(sed -n 2p rej.csv | cut -c1-12)" = "13800000003," ]
}

@test "bad input: wrong or missing headers are exit 3, database unchanged" {
	mbr-add -q "$EX/members.csv"
	printf 'member_no,name,colour\nX1,a,red\n' >unknown.csv
	refused unknown.csv 3 "mbr-add: unknown.csv:1: header: unknown column 'colour'"
	printf 'name,email\nA,a@example.com\n' >nokey.csv
	refused nokey.csv 3 "mbr-add: nokey.csv:1: header: needs a member_no or a phone column"
	printf '13800000001,Ann\n13800000002,Bob\n' >noheader.csv
	refused noheader.csv 3 "mbr-add: noheader.csv:1: header: unknown column '13800000001'"
	printf 'phone,手机号\n13800000001,13800000001\n' >twice.csv
	refused twice.csv 3 "mbr-add: twice.csv:1: header: duplicate column '手机号' (also 'phone')"
	: >empty.csv
	refused empty.csv 3 "mbr-add: empty.csv: empty input, no header row"
	# --ignore-unknown skips an unknown column, but not a missing key column
	run --separate-stderr mbr-add --ignore-unknown unknown.csv
	[ "$status" -eq 0 ]
	[ "$(brief X1)" = "S01-8,X1,a,,,,,," ]
	refused nokey.csv 3 "mbr-add: nokey.csv:1: header: needs a member_no or a phone column"
}

@test "bad input: a record with more or fewer fields than the header is exit 3, database unchanged" {
	printf 'member_no,phone\nA1,13800000001,extra\n' >wide.csv
	refused wide.csv 3 "mbr-add: wide.csv:2: row has 3 fields, header has 2"
	# a name with a stray line break: two short records, neither loaded
	printf 'member_no,name,phone\nA1,Ann\nLee,13800000001\n' >broken.csv
	refused broken.csv 3 "mbr-add: broken.csv:2: row has 2 fields, header has 3"
}

@test "bad input: SQL in a field is stored as text; the tables survive" {
	mbr-add -q "$EX/members.csv"
	cat >sql.csv <<-'EOF'
	member_no,name,phone,note
	R1,"Robert'); DROP TABLE members;--",13911110004,"x' OR '1'='1"
	EOF
	run --separate-stderr mbr-add sql.csv
	[ "$status" -eq 0 ]
	[ "$(member R1)" = "S01-8,R1,Robert'); DROP TABLE members;--,13911110004,,,,,,active,0,2026-11-22,x' OR '1'='1" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 6 ]
	run --separate-stderr mbr-member find "DROP TABLE"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "S01-8,R1,R******************************,139****0004,,,,,,active,0,2026-11-22," ]
	# as an option, and as a member number (refused: not a member number)
	run --separate-stderr mbr-add --phone 13911110005 --name "'; DELETE FROM audit; --"
	[ "$status" -eq 0 ]
	run --separate-stderr mbr-add --member-no "1; DROP TABLE members"
	[ "$status" -eq 3 ]
	[ "$(q "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('members', 'member_pii', 'audit')")" = 3 ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 7 ]
	mbr-db -q check
}

@test "key file: missing, another database's, malformed or unreadable is exit 4, database unchanged" {
	mbr-add -q "$EX/members.csv"
	mbr-db -q -d other.db init
	mv shop.db.key saved.key
	before=$(dump)
	run --separate-stderr mbr-add "$EX/members.csv"
	echo "$stderr"
	[ "$status" -eq 4 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "mbr-add: key file '$T/shop.db.key': No such file or directory" ]
	[ "${stderr_lines[-1]}" = "mbr-add: nothing imported" ]
	run --separate-stderr mbr-add --phone 13900000001
	[ "$status" -eq 4 ]
	[ "$stderr" = "mbr-add: key file '$T/shop.db.key': No such file or directory" ]
	# a well-formed key that is not this database's
	cp other.db.key shop.db.key
	run --separate-stderr mbr-add --phone 13900000001
	[ "$status" -eq 4 ]
	[ "$stderr" = "mbr-add: key file '$T/shop.db.key' does not belong to database '$MBR_DB'" ]
	run --separate-stderr env MBR_KEY="$T/other.db.key" mbr-add "$EX/members.csv"
	[ "$status" -eq 4 ]
	[ "${stderr_lines[0]}" = "mbr-add: key file '$T/other.db.key' does not belong to database '$MBR_DB'" ]
	# 63 hex digits; and a key with garbage after it
	head -c 63 saved.key >shop.db.key
	run --separate-stderr mbr-add --phone 13900000001
	[ "$status" -eq 4 ]
	[ "$stderr" = "mbr-add: key file '$T/shop.db.key' is malformed" ]
	{ cat saved.key; echo junk; } >shop.db.key
	run --separate-stderr mbr-add --phone 13900000001
	[ "$status" -eq 4 ]
	[ "$stderr" = "mbr-add: key file '$T/shop.db.key' is malformed" ]
	[ "$(dump)" = "$before" ]
	# the right key, unreadable
	cp -p saved.key shop.db.key
	chmod 000 shop.db.key
	run --separate-stderr unpriv mbr-add --phone 13900000001
	echo "$stderr"
	[ "$status" -eq 4 ]
	[ "$stderr" = "mbr-add: key file '$T/shop.db.key': Permission denied" ]
	[ "$(dump)" = "$before" ]
	chmod 600 shop.db.key
	mbr-add -q --phone 13900000001
}

@test "read-only database file (0444): writing is refused (exit 5), reading works, file unchanged" {
	mbr-add -q "$EX/members.csv"
	chmod 444 shop.db
	cp shop.db copy.db
	run --separate-stderr unpriv mbr-add "$EX/members.csv"
	echo "$stderr"
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-add: database '$MBR_DB' is read-only" ]
	run --separate-stderr unpriv mbr-add --phone 13900000001
	[ "$status" -eq 5 ]
	[ "$stderr" = "mbr-add: database '$MBR_DB' is read-only" ]
	run --separate-stderr unpriv mbr-member find M0001
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "S01-2,M0001,张*,138****5678,z***@example.com,****-03-14,M,,S01,active,0,2026-11-22," ]
	cmp shop.db copy.db
	chmod 600 shop.db
	[ "$(q 'SELECT COUNT(*) FROM members')" = 5 ]
}

@test "read-only directory: refused (exit 5) with the reason, not called a foreign database" {
	mbr-add -q "$EX/members.csv"
	mkdir ro
	cp shop.db shop.db.key ro/
	chmod 555 ro
	run --separate-stderr unpriv mbr-add -d ro/shop.db --phone 13900000001
	echo "$stderr"
	chmod 755 ro
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	[[ "$stderr" == "mbr-add: database 'ro/shop.db' "* ]]
	[[ "$stderr" != *"not an mbr database"* ]]
	cmp shop.db ro/shop.db
	[ -z "$(ls ro | grep -v '^shop.db$' | grep -v '^shop.db.key$')" ]
}

@test "read-only file system: writing is refused (exit 5), database unchanged" {
	mbr-add -q "$EX/members.csv"
	mkdir ro
	cp shop.db shop.db.key ro/
	on_ro_mount "$T/ro" true 2>/dev/null || skip "cannot mount read-only here (needs root or user namespaces)"
	run --separate-stderr on_ro_mount "$T/ro" mbr-add -d "$T/ro/shop.db" "$EX/members.csv"
	echo "$stderr"
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-add: database '$T/ro/shop.db' is read-only" ]
	run --separate-stderr on_ro_mount "$T/ro" mbr-add -d "$T/ro/shop.db" --phone 13900000001
	[ "$status" -eq 5 ]
	# reading needs the -shm file SQLite cannot create there: refused, saying why
	run --separate-stderr on_ro_mount "$T/ro" mbr-member -d "$T/ro/shop.db" find M0001
	echo "$stderr"
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"Read-only file system"* ]]
	cmp shop.db ro/shop.db
}

# --------------------------------------------------------------- privacy

@test "privacy: names, phones, e-mails, birthdays, notes and card numbers never reach the database files in clear" {
	mbr-add -q "$EX/members.csv"
	# another connection stays open, so the WAL is not checkpointed away
	mkfifo hold
	sqlite3 "$MBR_DB" <hold >held.out 2>&1 3>&- &
	exec 8>hold
	echo 'SELECT COUNT(*) FROM members;' >&8
	for i in $(seq 600); do [ -s held.out ] && break; sleep 0.05; done
	mbr-add -q --member-no ZJ-0001 --name 'Zhou Jie 周杰' --phone '139 0000 1234' --email zhou.jie@example.net \
		--birthday 1991-06-30 --note 'likes green tea' >/dev/null
	mbr-member -q set M0002 note='call after six' email=wf.new@example.org
	printf 'phone,name\n150 1111 2222,Ann Lee-Smith\n' | mbr-add -q --update -
	mbr-member --reveal find 13812345678 >/dev/null
	mbr-member --reveal find 'Ann' >/dev/null
	mbr-member --reveal show ZJ-0001 >/dev/null
	mbr-member -q find 13900001234 >/dev/null
	[ -s shop.db-wal ]
	secrets=(ZJ-0001 'Zhou Jie' 周杰 13900001234 zhou.jie@example 1991-06-30 'green tea'
		'call after six' wf.new@example 'Ann Lee' 15011112222 张伟 13812345678 zhang.wei
		1985-03-14 M0002 'prefers email' 王芳)
	for f in shop.db shop.db-wal; do
		for s in "${secrets[@]}"; do
			if grep -aqF -- "$s" "$f"; then
				echo "'$s' found in $f"
				return 1
			fi
		done
	done
	exec 8>&-
	wait
	for s in "${secrets[@]}"; do
		[ "$(grep -acF -- "$s" shop.db)" = 0 ]
	done
	# the same text is there in clear for an admin who asks
	[ "$(member ZJ-0001 | cut -d, -f3,4)" = "Zhou Jie 周杰,13900001234" ]
}

# -------------------------------------------------------------- the form

load tty

start_form() {
	tty_start form 160 "mbr-add -d '$MBR_DB' -i"
	prompt "$NO"
}

NO="member number (会员卡号):"
NAME="name (姓名):"
PHONE="phone (手机号):"
EMAIL="email (邮箱):"
BDAY="birthday YYYY-MM-DD (生日):"
GENDER="gender M/F (性别):"
TIER="tier (等级):"
STORE="store (门店):"
NOTE="note (备注):"
CONFIRM="add this member? [y/N]"

@test "form (tty): fields asked one by one, bad values refused and asked again, Tab completes codes; the member is added" {
	mbr-points -q rules load "$EX/rules.txt"
	mbr-db -q store-add NORTH 'North Street'
	start_form
	wait_for "Tab completes tier and store codes"
	type_line F-100
	prompt "$NAME"
	type_line "Form 表格"
	prompt "$PHONE"
	type_line 12
	wait_for "'12' is not a phone number (5-15 digits)"
	prompt "$PHONE"
	type_line "139 2222 0001"
	prompt "$EMAIL"
	type_line "no-at-sign"
	wait_for "'no-at-sign' is not an email address"
	prompt "$EMAIL"
	type_line ""
	prompt "$BDAY"
	type_line 2030-01-01
	wait_for "birthday 2030-01-01 is in the future"
	prompt "$BDAY"
	type_line 1990-05-06
	prompt "$GENDER"
	type_line 女
	prompt "$TIER"
	type_line PLATINUM
	wait_for "unknown tier 'PLATINUM'"
	prompt "$TIER"
	tm send-keys -t form -l GO
	tm send-keys -t form Tab
	wait_for "$TIER GOLD"
	tm send-keys -t form Enter
	prompt "$STORE"
	tm send-keys -t form -l NO
	tm send-keys -t form Tab
	wait_for "$STORE NORTH"
	tm send-keys -t form Enter
	prompt "$NOTE"
	type_line "walk-in"
	prompt "$CONFIRM"
	[ "$(q 'SELECT COUNT(*) FROM members')" = 0 ]
	type_line y
	wait_for "mbr-add: added member S01-1"
	prompt "$NO"
	tm send-keys -t form C-d
	[ "$(wait_exit)" = "status 0" ]
	[ "$(cat form.out)" = "S01-1" ]
	[ "$(member F-100)" = "S01-1,F-100,Form 表格,13922220001,,1990-05-06,F,GOLD,NORTH,active,0,2026-11-22,walk-in" ]
	[ "$(q "SELECT COUNT(*) FROM audit WHERE action = 'member.add' AND target = 'S01-1'")" = 1 ]
}

@test "form (tty): a member needs a number or a phone; 'n' at the end and Ctrl-D add nothing" {
	before=$(dump)
	start_form
	type_line ""
	prompt "$NAME"
	type_line "Nobody"
	prompt "$PHONE"
	type_line ""
	wait_for "a member needs a member number or a phone"
	prompt "$PHONE"
	type_line 13922220002
	for p in "$EMAIL" "$BDAY" "$GENDER" "$TIER" "$STORE" "$NOTE"; do
		prompt "$p"
		type_line ""
	done
	prompt "$CONFIRM"
	type_line n
	wait_for "not added"
	prompt "$NO"
	type_line N-2
	prompt "$NAME"
	type_line "Half Way"
	prompt "$PHONE"
	tm send-keys -t form C-d
	[ "$(wait_exit)" = "status 0" ]
	[ "$(cat form.out)" = "" ]
	[ "$(dump)" = "$before" ]
}

@test "form (tty): Ctrl-C in the middle adds nothing" {
	before=$(dump)
	start_form
	type_line C-3
	prompt "$NAME"
	type_line "Interrupted"
	prompt "$PHONE"
	type_line 13922220003
	prompt "$EMAIL"
	tm send-keys -t form -l "half@"
	tm send-keys -t form C-c
	[ "$(wait_exit)" = "status 130" ]
	[ "$(cat form.out)" = "" ]
	[ "$(dump)" = "$before" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 0 ]
}

@test "form (pipe): answers read line by line; a bad one is re-asked; end of input ends the form" {
	printf '%s\n' P-1 'Pipe Line' 12 13922220004 '' '' M '' S02 '' y P-2 'Cut Short' >answers
	run --separate-stderr mbr-add -i <answers
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01-1" ]
	[[ "$stderr" == *"'12' is not a phone number (5-15 digits)"* ]]
	[ "$(brief P-1)" = "S01-1,P-1,Pipe Line,13922220004,,,M,,S02" ]
	[ "$(q 'SELECT COUNT(*) FROM members')" = 1 ]
	run --separate-stderr mbr-add -i --name X
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-add: -i takes no field options or files" ]
}
