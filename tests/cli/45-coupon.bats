#!/usr/bin/env bats
# mbr-coupon: campaigns (create, list, show, edit, close), codes (generate,
# load, the check character), issuing from a pipe and to one member, limits,
# buying with points, every check reason, redemption at most once under
# concurrency, void, expire, the summary and `mbr-report coupons`, coupons
# on sale imports and `mbr-sale add --coupon`, the forfeiture rule on
# returns, and the manual page (lint, SYNOPSIS, EXAMPLES).  Every test
# starts from a fresh database in its own temp dir; status, stdout and
# stderr are asserted separately.
#
# MBR_NOW is Sunday 2026-11-22 18:00 in the store's zone (Asia/Shanghai).
# Sales are rung up on Monday 2026-11-23 (no weekend bonus): with
# examples/rules.txt 1 point per whole 1.00 paid (日化 x1, 生鲜 x2).

bats_require_minimum_version 1.5.0

ALPHABET=23456789ABCDEFGHJKLMNPQRSTUVWXYZ

load common

setup() {
	shop_setup
	mbr-add -q "$EX/members.csv"
}

load_catalogue() {
	mbr-sale -q products "$EX/products.csv"
	mbr-points -q rules load "$EX/rules.txt"
}

# the points balance of a member, as a bare number
bal() {
	mbr-points balance --format csv "$1" | sed -n '2s/,.*//p'
}

# issue one coupon of campaign $1 to member $2; print the code
give() {
	mbr-coupon -q --member "$2" issue "$1" | sed -n '2s/^.*,//p'
}

# the coupon tables and what hangs on them
snapshot() {
	for t in coupons campaigns sales sale_lines payments points_ledger points_lots agg_store_day; do
		echo "== $t"
		q "SELECT * FROM $t ORDER BY 1, 2"
	done
}

# the summary row of campaign $1 (CSV)
summary_row() {
	mbr-report coupons --format csv | grep "^$1,"
}

# `check` must refuse: exit 1, nothing on stdout, the reason first on stderr
refused() {
	local reason=$1
	shift
	run --separate-stderr mbr-coupon "$@"
	echo "mbr-coupon $*: status $status, stdout '$output', stderr '$stderr'"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == "mbr-coupon: $reason: "* ]]
}

# code $1 with symbol $2 (0-based) replaced by the next one of the alphabet
mistype() {
	local c=$1 i=$2 s k
	s=${c:i:1}
	k=${ALPHABET%%"$s"*}
	k=$(((${#k} + 1) % 32))
	printf '%s%s%s\n' "${c:0:i}" "${ALPHABET:k:1}" "${c:i+1}"
}

# ------------------------------------------------------------ campaigns

@test "create: each type; list and show print the campaign as given" {
	run --separate-stderr mbr-coupon create A10 --type amount --value 10.00
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	mbr-coupon create P15 --type percent --value 15 --cap 20.00
	mbr-coupon create P7 --type percent --value 7.5 --from 2026-12-01 --to 2026-12-31 --stores S01,S02 \
		--categories 生鲜,乳品 --stack all
	mbr-coupon create T100 --type threshold --value 20 --min-spend 100 --limit 50 --per-member 2
	mbr-coupon create GIFT --type gift --value C301 --points-cost 200 --stack tier
	run --separate-stderr mbr-coupon list --format csv
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	[ "${lines[0]}" = "campaign,type,value,cap,min_spend,from,to,limit,per_member,points_cost,stores,categories,stack,status" ]
	# no minimum spend is an empty field, as no cap is
	[ "${lines[1]}" = "A10,amount,10.00,,,,,,,,,,none,open" ]
	[ "${lines[2]}" = "GIFT,gift,C301,,,,,,,200,,,tier,open" ]
	[ "${lines[3]}" = "P15,percent,15.00%,20.00,,,,,,,,,none,open" ]
	[ "${lines[4]}" = 'P7,percent,7.50%,,,2026-12-01,2026-12-31,,,,"S01,S02","生鲜,乳品",all,open' ]
	[ "${lines[5]}" = "T100,threshold,20.00,,100.00,,,50,2,,,,none,open" ]
	run --separate-stderr mbr-coupon show --format csv P7
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[1]}" = 'P7,percent,7.50%,,,2026-12-01,2026-12-31,,,,"S01,S02","生鲜,乳品",all,open' ]
	run --separate-stderr mbr-coupon show NOPE
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"no campaign 'NOPE'"* ]]
	# JSON lines parse
	run --separate-stderr mbr-coupon list --format json
	[ "$(printf '%s\n' "$output" | jq -rs 'map(.campaign) | join(" ")')" = "A10 GIFT P15 P7 T100" ]
	# min_spend is null when there is none, as cap is, and a number otherwise
	[ "$(printf '%s\n' "$output" | jq -cs 'map(.min_spend == null)')" = '[true,true,true,true,false]' ]
	[[ "${lines[0]}" == *'"cap":null,"min_spend":null,'* ]]
	[[ "${lines[2]}" == *'"cap":20.00,"min_spend":null,'* ]]
	[[ "${lines[4]}" == *'"cap":null,"min_spend":100.00,'* ]]
	run --separate-stderr mbr-coupon show --format tsv A10
	[ "${lines[1]}" = "$(printf 'A10\tamount\t10.00\t\t\t\t\t\t\t\t\t\tnone\topen')" ]
	run --separate-stderr mbr-coupon show --format table A10
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[1]}" | tr -s ' ')" = "A10 amount 10.00 none open" ]
	[[ "$(mbr-coupon show --format table T100)" == *100.00* ]]
}

@test "create: refusals write nothing (usage 2, bad campaign 3)" {
	mbr-coupon create A10 --type amount --value 10
	before=$(snapshot)
	# percent out of 0-100, or not a number: usage
	for v in 101 0 100.001 abc -5; do
		run --separate-stderr mbr-coupon create P --type percent --value "$v"
		echo "percent $v: $status $stderr"
		[ "$status" -eq 2 ]
		[[ "$stderr" == *"is not a percentage (0-100)"* ]]
	done
	run --separate-stderr mbr-coupon create P --type percent --value 100
	[ "$status" -eq 0 ]
	mbr-coupon close P
	before=$(snapshot)
	# threshold without --min-spend
	run --separate-stderr mbr-coupon create T --type threshold --value 20
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"a threshold coupon needs --min-spend"* ]]
	# gift without value: --value is required
	run --separate-stderr mbr-coupon create G --type gift
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"create needs --type and --value"* ]]
	run --separate-stderr mbr-coupon create G --type gift --value ''
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"a gift coupon needs the gift's SKU"* ]]
	# amounts
	run --separate-stderr mbr-coupon create A --type amount --value 12.345
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-coupon create A --type amount --value 0
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"needs a positive value"* ]]
	run --separate-stderr mbr-coupon create X --type bogus --value 1
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"type 'bogus' must be amount, percent, threshold or gift"* ]]
	run --separate-stderr mbr-coupon create X --type amount --value 1 --stack some
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"stack 'some' must be none, tier or all"* ]]
	run --separate-stderr mbr-coupon create X --type amount --value 1 --from 2026-12-31 --to 2026-12-01
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"ends before it starts"* ]]
	run --separate-stderr mbr-coupon create X --type amount --value 1 --to 2026-02-30
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-coupon create A10 --type amount --value 5
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"campaign 'A10' already exists"* ]]
	run --separate-stderr mbr-coupon create 'BAD-CODE' --type amount --value 5
	[ "$status" -eq 3 ]
	[ "$(snapshot)" = "$before" ]
}

@test "edit changes only the options given; --dry-run changes nothing; close" {
	mbr-coupon create A --type amount --value 10 --min-spend 50 --stores S01
	run --separate-stderr mbr-coupon edit A --value 12.50 --to 2026-12-31
	[ "$status" -eq 0 ]
	[ "$(mbr-coupon show --format csv A | sed -n 2p)" = "A,amount,12.50,,50.00,,2026-12-31,,,,S01,,none,open" ]
	run --separate-stderr mbr-coupon -n edit A --value 99
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"dry run, nothing written"* ]]
	[ "$(mbr-coupon show --format csv A | sed -n 2p)" = "A,amount,12.50,,50.00,,2026-12-31,,,,S01,,none,open" ]
	run --separate-stderr mbr-coupon edit A --type percent --value 150
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-coupon edit NOPE --value 1
	[ "$status" -eq 3 ]
	# --min-spend 0 takes the minimum away: shown empty again
	mbr-coupon edit A --min-spend 0
	[ "$(mbr-coupon show --format csv A | sed -n 2p)" = "A,amount,12.50,,,,2026-12-31,,,,S01,,none,open" ]
	c=$(give A M0001)
	run --separate-stderr mbr-coupon close A
	[ "$status" -eq 0 ]
	[[ "$(mbr-coupon show --format csv A | sed -n 2p)" == *",closed" ]]
	run --separate-stderr mbr-coupon close A
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"already closed"* ]]
	# a closed campaign issues, generates and sells nothing, and its coupons are refused
	run --separate-stderr mbr-coupon --member M0002 issue A
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"campaign 'A' is closed"* ]]
	run --separate-stderr mbr-coupon generate A 2
	[ "$status" -eq 3 ]
	refused closed --amount 60 check "$c"
}

@test "roles: a cashier checks but cannot create, generate, issue from a pipe or void" {
	mbr-coupon create A --type amount --value 10
	c=$(give A M0001)
	mbr-db -q grant li cashier
	run --separate-stderr mbr-coupon --operator li create B --type amount --value 1
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"operator 'li' is cashier; campaigns needs manager"* ]]
	run --separate-stderr mbr-coupon --operator li generate A 1
	[ "$status" -eq 5 ]
	run --separate-stderr sh -c 'mbr-member export --format csv | mbr-coupon --operator li issue A'
	[ "$status" -eq 5 ]
	run --separate-stderr mbr-coupon --operator li void "$c"
	[ "$status" -eq 5 ]
	run --separate-stderr mbr-coupon --operator li --amount 20 check "$c"
	[ "$status" -eq 0 ]
	[ "$output" = "$c,A,10.00" ]
	run --separate-stderr mbr-coupon --operator li --member M0002 issue A
	[ "$status" -eq 0 ]
	run --separate-stderr mbr-coupon --operator nobody list
	[ "$status" -eq 5 ]
}

# ---------------------------------------------------------------- codes

@test "generate: a code header and N distinct 12-symbol codes, all 'not issued'" {
	mbr-coupon create A --type amount --value 10
	run --separate-stderr mbr-coupon generate A 20
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${#lines[@]}" -eq 21 ]
	[ "${lines[0]}" = code ]
	[ "$(printf '%s\n' "${lines[@]:1}" | sort -u | wc -l)" -eq 20 ]
	for c in "${lines[@]:1}"; do
		[[ "$c" =~ ^[$ALPHABET]{12}$ ]]
	done
	codes=("${lines[@]:1}")
	for c in "${codes[@]}"; do
		refused "not issued" check "$c"
		[[ "$stderr" == *"$c was never issued"* ]]
	done
	[ "$(q "SELECT COUNT(*) FROM coupons WHERE campaign = 'A' AND state = 'new'")" = 20 ]
	# --dry-run prints codes but keeps none
	run --separate-stderr mbr-coupon -n generate A 3
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "$(q "SELECT COUNT(*) FROM coupons")" = 20 ]
	run --separate-stderr mbr-coupon generate A x
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-coupon generate NOPE 3
	[ "$status" -eq 3 ]
}

@test "codes: input in lower case, with dashes and blanks is the same code" {
	mbr-coupon create A --type amount --value 10
	c=$(give A M0001)
	lower=$(printf '%s' "$c" | tr 'A-Z' 'a-z')
	dashed="${lower:0:4}-${lower:4:4} ${lower:8:4}"
	run --separate-stderr mbr-coupon --amount 20 check "$dashed"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "$c,A,10.00" ]
}

@test "codes: every single mistyped symbol and every adjacent swap is 'mistyped'" {
	mbr-coupon create A --type amount --value 10
	c=$(give A M0001)
	for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
		refused mistyped check "$(mistype "$c" $i)"
		[[ "$stderr" == *"fails its check character"* ]]
	done
	# a look-alike outside the alphabet (O for 0 is impossible: use I)
	refused mistyped check "I${c:1}"
	n=0
	for i in 0 1 2 3 4 5 6 7 8 9 10; do
		[ "${c:i:1}" != "${c:i+1:1}" ] || continue
		refused mistyped check "${c:0:i}${c:i+1:1}${c:i:1}${c:i+2}"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
	# a well-formed code that is simply not there is unknown
	refused unknown check ABCD
	refused unknown check 'no$such'
}

@test "load: codes made elsewhere, normalized; a duplicate loads nothing" {
	mbr-coupon create A --type amount --value 10
	printf 'code\nabcd-efgh-jk\nWXYZ 2345\n' >codes.csv
	run --separate-stderr mbr-coupon load A codes.csv
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"2 codes loaded into 'A'"* ]]
	[ "$(q "SELECT code FROM coupons ORDER BY code" | tr '\n' ' ')" = "ABCDEFGHJK WXYZ2345 " ]
	refused "not issued" check abcd-efgh-jk
	printf 'code\nQQQQ7777\nWXYZ2345\n' | {
		run --separate-stderr mbr-coupon load A -
		[ "$status" -eq 3 ]
		[[ "$stderr" == *"code WXYZ2345 already exists"* ]]
	}
	[ "$(q "SELECT COUNT(*) FROM coupons")" = 2 ]
	# loaded codes are handed out first, and then work without a check character
	[ "$(give A M0001)" != "" ]
	[ "$(give A M0002)" != "" ]
	[ "$(q "SELECT COUNT(*) FROM coupons WHERE state = 'issued'")" = 2 ]
	[ "$(q "SELECT COUNT(*) FROM coupons")" = 2 ]
	run --separate-stderr mbr-coupon --member M0001 --amount 30 check "$(q "SELECT code FROM coupons c JOIN members m ON m.id = c.member WHERE m.uid = 'S01-2'")"
	[ "$status" -eq 0 ]
}

# --------------------------------------------------------------- issuing

@test "issue: one code per member from mbr-member export; again with --skip-held issues none" {
	mbr-coupon create A --type amount --value 10
	pool=$(mbr-coupon generate A 3 | sed 1d | sort)
	run --separate-stderr sh -c 'mbr-member export --format csv | mbr-coupon issue A'
	printf '%s\n' "$output"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	[ "${lines[0]}" = "member,code" ]
	[ "$(printf '%s\n' "${lines[@]:1}" | cut -d, -f1 | tr '\n' ' ')" = "M0001 M0002 M0003 M0004 M0005 " ]
	[ "$(printf '%s\n' "${lines[@]:1}" | cut -d, -f2 | sort -u | wc -l)" -eq 5 ]
	[[ "$stderr" == *"5 coupons of 'A' issued, 0 already held, 0 rejected"* ]]
	# the generated pool went out first
	[ "$(comm -23 <(echo "$pool") <(printf '%s\n' "${lines[@]:1}" | cut -d, -f2 | sort))" = "" ]
	# each belongs to its member
	for l in "${lines[@]:1}"; do
		run --separate-stderr mbr-coupon --member "${l%%,*}" --amount 10 check "${l#*,}"
		[ "$status" -eq 0 ]
	done
	run --separate-stderr sh -c 'mbr-member export --format csv | mbr-coupon --skip-held issue A'
	[ "$status" -eq 0 ]
	[ "$output" = "member,code" ]
	[[ "$stderr" == *"0 coupons of 'A' issued, 5 already held, 0 rejected"* ]]
	[ "$(q "SELECT COUNT(*) FROM coupons WHERE campaign = 'A'")" = 5 ]
	[ "$(summary_row A)" = "A,amount,5,0,0,0,0.0,0.00,0.00" ]
}

@test "issue: by uid, phone or member column; a bad record issues nothing unless --skip-bad" {
	mbr-coupon create A --type amount --value 10
	printf 'uid\nS01-2\n' | mbr-coupon -q issue A >out.csv
	[ "$(sed -n 2p out.csv | cut -d, -f1)" = S01-2 ]
	printf 'phone,other\n13900001111,x\n' | mbr-coupon -q issue A >out.csv
	[ "$(sed -n 2p out.csv | cut -d, -f1)" = 13900001111 ]
	printf 'member\nM0003\n' | mbr-coupon -q issue A >out.csv
	[ "$(sed -n 2p out.csv | cut -d, -f1)" = M0003 ]
	n=$(q "SELECT COUNT(*) FROM coupons")
	[ "$n" = 3 ]
	printf 'member_no\nM0004\nM9999\n' >in.csv
	run --separate-stderr mbr-coupon issue A in.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"in.csv:3"*"no member 'M9999'"* ]]
	[[ "$stderr" == *"no coupon issued"* ]]
	[ "$output" = "" ]	# no code of the rolled-back issue reaches the pipe
	[ "$(q "SELECT COUNT(*) FROM coupons")" = 3 ]
	run --separate-stderr mbr-coupon --skip-bad --rejects rej.csv issue A in.csv
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == M0004,* ]]
	[ "$(q "SELECT COUNT(*) FROM coupons")" = 4 ]
	grep -q '^M9999,' rej.csv
	head -n 1 rej.csv | grep -q reject_reason
	# no member column at all
	run --separate-stderr sh -c 'printf "name\nx\n" | mbr-coupon issue A'
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"needs a member column"* ]]
	# --member and a file do not go together
	run --separate-stderr mbr-coupon --member M0001 issue A in.csv
	[ "$status" -eq 2 ]
}

@test "issue: per-member and total limits" {
	mbr-coupon create ONE --type amount --value 10 --per-member 1
	[ -n "$(give ONE M0001)" ]
	run --separate-stderr mbr-coupon --member M0001 issue ONE
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"already has 1 coupon of 'ONE' (limit 1)"* ]]
	[ -n "$(give ONE M0002)" ]
	# total limit 3 over 5 members: all or nothing
	mbr-coupon create THREE --type amount --value 10 --limit 3
	run --separate-stderr sh -c 'mbr-member export --format csv | mbr-coupon issue THREE'
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"campaign 'THREE' has issued all 3 coupons"* ]]
	[ "$(q "SELECT COUNT(*) FROM coupons WHERE campaign = 'THREE'")" = 0 ]
	run --separate-stderr sh -c 'mbr-member export --format csv | mbr-coupon --skip-bad issue THREE'
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "$(summary_row THREE)" = "THREE,amount,3,0,0,0,0.0,0.00,0.00" ]
	# a voided coupon still counts against the limit
	mbr-coupon void "$(q "SELECT code FROM coupons WHERE campaign = 'THREE' LIMIT 1")"
	run --separate-stderr mbr-coupon --member M0005 issue THREE
	[ "$status" -eq 3 ]
}

@test "issue: not to a frozen member, not after the campaign's last day" {
	mbr-coupon create OLD --type amount --value 10 --to 2026-11-21
	run --separate-stderr mbr-coupon --member M0001 issue OLD
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"campaign 'OLD' has ended"* ]]
	# the last day itself still counts
	mbr-coupon create TODAY --type amount --value 10 --to 2026-11-22
	[ -n "$(give TODAY M0001)" ]
}

@test "buy: points pay for a coupon; the ledger shows it" {
	mbr-coupon create PTS --type amount --value 5 --points-cost 100
	mbr-coupon create FREE --type amount --value 5
	mbr-points -q earn M0001 250
	run --separate-stderr mbr-coupon --member M0001 buy PTS
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[$ALPHABET]{12}$ ]]
	code=$output
	[ "$(bal M0001)" = 150 ]
	run --separate-stderr mbr-points history --format csv M0001
	printf '%s\n' "$output"
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[2]}" == *",redeem,-100,150,coupon,$code,S01,coupon bought with points,"* ]]
	run --separate-stderr mbr-coupon --member M0001 --amount 5 check "$code"
	[ "$status" -eq 0 ]
	[ "$output" = "$code,PTS,5.00" ]
	mbr-coupon --member M0001 buy PTS >/dev/null
	[ "$(bal M0001)" = 50 ]
	n=$(q "SELECT COUNT(*) FROM points_ledger")
	run --separate-stderr mbr-coupon --member M0001 buy PTS
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"member S01-2 has 50 points; a 'PTS' coupon costs 100"* ]]
	[ "$(q "SELECT COUNT(*) FROM points_ledger")" = "$n" ]
	[ "$(q "SELECT COUNT(*) FROM coupons")" = 2 ]
	run --separate-stderr mbr-coupon --member M0001 buy FREE
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"cannot be bought with points"* ]]
	run --separate-stderr mbr-coupon buy PTS
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-db check
	[ "$status" -eq 0 ]
}

# ------------------------------------------------------- check and redeem

@test "check: the discount of each type; exit 0" {
	mbr-coupon create A10 --type amount --value 10.00
	mbr-coupon create P15 --type percent --value 15 --cap 20.00
	mbr-coupon create P75 --type percent --value 7.5
	mbr-coupon create T --type threshold --value 20 --min-spend 100
	mbr-coupon create G --type gift --value C301
	a=$(give A10 M0001) p=$(give P15 M0001) h=$(give P75 M0001) t=$(give T M0001) g=$(give G M0001)
	run --separate-stderr mbr-coupon --member M0001 --store S01 --amount 68.00 check "$a"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "$a,A10,10.00" ]
	run --separate-stderr mbr-coupon --amount 6.50 check "$a"
	[ "$output" = "$a,A10,6.50" ]
	run --separate-stderr mbr-coupon --amount 100 check "$p"
	[ "$output" = "$p,P15,15.00" ]
	run --separate-stderr mbr-coupon --amount 500 check "$p"
	[ "$output" = "$p,P15,20.00" ]
	# 7.5% of 33.33 = 2.49975: rounded down
	run --separate-stderr mbr-coupon --amount 33.33 check "$h"
	[ "$output" = "$h,P75,2.49" ]
	run --separate-stderr mbr-coupon --amount 100 check "$t"
	[ "$output" = "$t,T,20.00" ]
	run --separate-stderr mbr-coupon --amount 5 check "$g"
	[ "$status" -eq 0 ]
	[ "$output" = "$g,G,0.00,gift C301" ]
	# without --amount: valid, no discount worked out
	run --separate-stderr mbr-coupon check "$a"
	[ "$status" -eq 0 ]
	[ "$output" = "$a,A10,0.00" ]
	# check writes nothing
	[ "$(q "SELECT COUNT(*) FROM coupons WHERE state = 'issued'")" = 5 ]
}

@test "check: each refusal exits 1 with its reason on stderr" {
	mbr-coupon create A --type amount --value 10 --stores S02
	mbr-coupon create T --type threshold --value 20 --min-spend 100
	mbr-coupon create LATER --type amount --value 10 --from 2026-12-01
	mbr-coupon create SHORT --type amount --value 10 --to 2026-11-30
	a=$(give A M0001) t=$(give T M0001) l=$(give LATER M0001) s=$(give SHORT M0001)
	refused "other member" --member M0002 check "$a"
	[[ "$stderr" == *"belongs to member S01-2"* ]]
	refused "wrong store" --store S01 check "$a"
	run --separate-stderr mbr-coupon --store S02 check "$a"
	[ "$status" -eq 0 ]
	refused "below minimum" --amount 99.99 check "$t"
	[[ "$stderr" == *"needs a spend of 100.00"* ]]
	refused "not started" check "$l"
	MBR_NOW=2026-11-30T16:00:00Z run --separate-stderr mbr-coupon check "$l"
	[ "$status" -eq 0 ]
	refused mistyped check "$(mistype "$a" 3)"
	i=0
	while [ "${a:i:1}" = "${a:i+1:1}" ]; do i=$((i + 1)); done
	refused mistyped check "${a:0:i}${a:i+1:1}${a:i:1}${a:i+2}"
	refused unknown check 2345
	# expired: by expire --as-of, and past the last day whether or not expire ran
	run --separate-stderr mbr-coupon check "$s"
	[ "$status" -eq 0 ]
	MBR_NOW=2026-11-30T16:00:00Z refused expired check "$s"
	MBR_NOW=2026-12-01T02:00:00Z mbr-coupon -q expire --as-of 2026-11-30
	refused expired check "$s"
	# used
	mbr-coupon -q --amount 100 redeem "$t"
	refused used --amount 100 check "$t"
	# voided
	mbr-coupon void "$a"
	refused voided check "$a"
	# an unknown member is a data error, not a refusal
	run --separate-stderr mbr-coupon --member M9999 check "$t"
	[ "$status" -eq 3 ]
}

@test "redeem: prints the discount; a second redeem is refused as used" {
	mbr-coupon create P --type percent --value 15
	c=$(give P M0001)
	run --separate-stderr mbr-coupon --member M0001 --store S01 --receipt R42 --amount 100 redeem "$c"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "15.00" ]
	[ "$(q "SELECT state, store, receipt, discount FROM coupons WHERE code = '$c'")" = "redeemed|S01|R42|1500" ]
	refused used --amount 100 redeem "$c"
	[[ "$stderr" == *"$c was already redeemed"* ]]
	[ "$(summary_row P)" = "P,percent,1,1,0,0,100.0,15.00,0.00" ]
	# redeem needs --amount; refusals write nothing
	c2=$(give P M0002)
	run --separate-stderr mbr-coupon redeem "$c2"
	[ "$status" -eq 2 ]
	refused "other member" --member M0001 --amount 100 redeem "$c2"
	refused "not issued" --amount 100 redeem "$(mbr-coupon generate P 1 | sed 1d)"
	[ "$(q "SELECT state FROM coupons WHERE code = '$c2'")" = issued ]
	run --separate-stderr mbr-coupon -n --amount 100 redeem "$c2"
	[ "$status" -eq 0 ]
	[ "$(q "SELECT state FROM coupons WHERE code = '$c2'")" = issued ]
	# the audit log has the redemption
	mbr-db audit --format csv | grep -q "coupon.redeem,$c"
}

@test "redeem: 8 processes at once, exactly one wins, none reports a lock" {
	mbr-coupon create P --type amount --value 10
	c=$(give P M0001)
	for i in 1 2 3 4 5 6 7 8; do
		(set +e; mbr-coupon redeem "$c" --amount 100 >"out$i" 2>"err$i"; echo $? >"rc$i") &
	done
	wait
	cat rc* err* out*
	[ "$(cat rc* | grep -c '^0$')" -eq 1 ]
	[ "$(cat rc* | grep -c '^1$')" -eq 7 ]
	[ "$(cat out*)" = "10.00" ]
	! grep -qi lock err*
	[ "$(grep -l 'used: coupon' err* | wc -l)" -eq 7 ]
	[ "$(q "SELECT COUNT(*) FROM coupons WHERE state = 'redeemed'")" = 1 ]
	run --separate-stderr mbr-db check
	[ "$status" -eq 0 ]
}

@test "void: a new or issued coupon; not a used or voided one" {
	mbr-coupon create A --type amount --value 10
	c=$(give A M0001) u=$(give A M0002)
	n=$(mbr-coupon generate A 1 | sed 1d)
	run --separate-stderr mbr-coupon void "$c"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	mbr-coupon void "$n"
	refused voided check "$c"
	run --separate-stderr mbr-coupon void "$c"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"voided"* ]]
	mbr-coupon -q --amount 20 redeem "$u"
	run --separate-stderr mbr-coupon void "$u"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"used"* ]]
	run --separate-stderr mbr-coupon void ABCDEFGH
	[ "$status" -eq 3 ]
	[ "$(summary_row A)" = "A,amount,2,1,0,2,50.0,10.00,0.00" ]
}

@test "expire --as-of: coupons of campaigns whose last day is before the end of that day" {
	mbr-coupon create E --type amount --value 10 --to 2026-11-30
	mbr-coupon create F --type amount --value 10 --to 2026-12-01
	mbr-coupon create N --type amount --value 10
	e=$(give E M0001) f=$(give F M0001) k=$(give N M0001)
	mbr-coupon generate E 2 >/dev/null
	# --as-of is today or a past day; run on 2026-11-30 and 2026-12-01
	export MBR_NOW=2026-11-30T02:00:00Z
	run --separate-stderr mbr-coupon expire --as-of 2026-11-29
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"0 coupons expired"* ]]
	run --separate-stderr mbr-coupon check "$e"
	[ "$status" -eq 0 ]
	export MBR_NOW=2026-12-01T02:00:00Z
	run --separate-stderr mbr-coupon expire --as-of 2026-11-30
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"3 coupons expired"* ]]
	refused expired check "$e"
	run --separate-stderr mbr-coupon check "$f"
	[ "$status" -eq 0 ]
	# without --as-of: as of now
	MBR_NOW=2026-12-01T16:00:00Z run --separate-stderr mbr-coupon expire
	[[ "$stderr" == *"1 coupon expired"* ]]
	[ "$(q "SELECT state FROM coupons WHERE code = '$k'")" = issued ]
	[ "$(summary_row E)" = "E,amount,1,0,3,0,0.0,0.00,0.00" ]
	run --separate-stderr mbr-coupon expire --as-of 2026-13-01
	[ "$status" -eq 2 ]
}

@test "expire --as-of: a later day is refused, and today ends nothing still good" {
	mbr-coupon create E --type amount --value 10 --to 2026-11-22
	mbr-coupon create F --type amount --value 10 --to 2026-11-30
	e=$(give E M0001) f=$(give F M0001)
	before=$(snapshot)
	# MBR_NOW is 2026-11-22 18:00 in the store: a later day would end
	# coupons that can still be used, for good
	run --separate-stderr mbr-coupon expire --as-of 2026-11-30
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[[ "$stderr" == "mbr-coupon: --as-of '2026-11-30' is after today (2026-11-22): expire runs for today or a past day"* ]]
	[ "$(snapshot)" = "$before" ]
	# today: E may be used until midnight, so it is not expired at 18:00
	run --separate-stderr mbr-coupon expire --as-of 2026-11-22
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-coupon: 0 coupons expired" ]
	run --separate-stderr mbr-coupon --amount 20 check "$e"
	[ "$status" -eq 0 ]
	[ "$output" = "$e,E,10.00" ]
	# the next morning it is
	MBR_NOW=2026-11-22T16:00:00Z run --separate-stderr mbr-coupon expire --as-of 2026-11-22
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-coupon: 1 coupon expired" ]
	[ "$(q "SELECT code, state FROM coupons ORDER BY state")" = "$e|expired
$f|issued" ]
}

@test "expire --as-of reads the date in the store's time zone, not the machine's" {
	mbr-coupon create W --type amount --value 10 --to 2026-11-22
	c=$(give W M0001)
	# 2026-11-22 ends at 16:00Z in Asia/Shanghai; in Kiritimati (+14) at 10:00Z
	MBR_NOW=2026-11-23T10:00:00Z TZ=Pacific/Kiritimati run --separate-stderr mbr-coupon expire --as-of 2026-11-22
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-coupon: 1 coupon expired" ]
	[ "$(q "SELECT state FROM coupons WHERE code = '$c'")" = expired ]
	# and --to of create, --from of edit, are the store's days too
	TZ=Pacific/Kiritimati mbr-coupon create V --type amount --value 10 --to 2026-11-30
	TZ=Pacific/Kiritimati mbr-coupon edit V --from 2026-11-25
	[ "$(q "SELECT valid_from, valid_to FROM campaigns WHERE code = 'V'")" = \
		"$(date -d '2026-11-24T16:00:00Z' +%s)|$(date -d '2026-11-30T16:00:00Z' +%s)" ]
}

@test "void: a coupon past its campaign's last day is refused as expired before expire runs" {
	mbr-coupon create W --type amount --value 10 --to 2026-11-25
	c=$(give W M0001)
	n=$(mbr-coupon generate W 1 | sed 1d)
	export MBR_NOW=2026-11-26T10:00:00Z
	for k in "$c" "$n"; do
		run --separate-stderr mbr-coupon void "$k"
		echo "$k: $status $stderr"
		[ "$status" -eq 3 ]
		[ "$stderr" = "mbr-coupon: expired: coupon $k is past its validity" ]
	done
	[ "$(q "SELECT state FROM coupons ORDER BY state")" = "issued
new" ]
	mbr-coupon -q expire
	[ "$(summary_row W | cut -d, -f3-6)" = "1,0,2,0" ]
	# on its last day it may still be voided
	mbr-coupon create X --type amount --value 10 --to 2026-11-26
	x=$(give X M0001)
	run --separate-stderr mbr-coupon void "$x"
	[ "$status" -eq 0 ]
}

@test "summary equals mbr-report coupons; table, csv and json" {
	mbr-coupon create A --type amount --value 10
	c=$(give A M0001)
	give A M0002 >/dev/null
	mbr-coupon -q --amount 50 redeem "$c"
	run --separate-stderr mbr-coupon summary --format csv
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "campaign,type,issued,redeemed,expired,voided,redemption_rate,discount,sales" ]
	[ "${lines[1]}" = "A,amount,2,1,0,0,50.0,10.00,0.00" ]
	[ "$output" = "$(mbr-report coupons --format csv)" ]
	[ "$(mbr-coupon summary --format json | jq '.redemption_rate == 50 and .discount == 10 and .issued == 2')" = true ]
	mbr-coupon summary --format table | grep -q '^A '
}

# ------------------------------------------------------ coupons on sales

@test "sale import: the coupon column comes off before points; the report shows it" {
	load_catalogue
	mbr-coupon create A10 --type amount --value 10.00
	c=$(give A10 M0002)
	export MBR_NOW=2026-11-23T10:00:00Z
	cat >day.csv <<-EOF
	store,receipt,ts,member,sku,qty,unit_price,discount,payment,coupon
	S01,R1,2026-11-23 09:00:00,M0002,D400,2,39.90,,cash,$c
	S01,R2,2026-11-23 09:05:00,M0003,D400,2,39.90,,cash,
	EOF
	run --separate-stderr mbr-sale import day.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	# 79.80 - 10.00 = 69.80 -> 69 points; without the coupon 79.80 -> 79
	[ "$(bal M0002)" = 69 ]
	[ "$(bal M0003)" = 79 ]
	[ "$(q "SELECT total, coupon, coupon_discount FROM sales WHERE receipt = 'R1'")" = "6980|$c|1000" ]
	[ "$(q "SELECT state, receipt, discount FROM coupons WHERE code = '$c'")" = "redeemed|R1|1000" ]
	run --separate-stderr mbr-report coupons --format csv
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "A10,amount,1,1,0,0,100.0,10.00,69.80" ]
	refused used --amount 100 check "$c"
	# re-importing the file is a no-op and does not trip over the used coupon
	run --separate-stderr mbr-sale import day.csv
	[ "$status" -eq 0 ]
	[ "$(bal M0002)" = 69 ]
	run --separate-stderr mbr-db check
	[ "$status" -eq 0 ]
}

@test "sale import: a receipt whose coupon does not pass is rejected, nothing written" {
	load_catalogue
	mbr-coupon create A10 --type amount --value 10.00 --min-spend 50
	mbr-coupon create S2 --type amount --value 5 --stores S02
	mine=$(give A10 M0002) other=$(give A10 M0003) used=$(give A10 M0002) s2=$(give S2 M0002)
	mbr-coupon -q --amount 60 redeem "$used"
	export MBR_NOW=2026-11-23T10:00:00Z
	before=$(snapshot)
	for bad in "$other:other member" "$used:used" "$s2:wrong store" "$(mistype "$mine" 5):mistyped" \
		"ZZZZ9999:unknown"; do
		code=${bad%%:*} why=${bad#*:}
		printf 'store,receipt,ts,member,sku,qty,unit_price,payment,coupon\n' >bad.csv
		printf 'S01,R9,2026-11-23 09:00:00,M0004,A100,1,12.80,cash,\n' >>bad.csv
		printf 'S01,R1,2026-11-23 09:00:00,M0002,D400,2,39.90,cash,%s\n' "$code" >>bad.csv
		run --separate-stderr mbr-sale import bad.csv
		echo "$why: $status $stderr"
		[ "$status" -eq 3 ]
		[[ "$stderr" == *"bad.csv:3: coupon: $why: "* ]]
		[ "$(snapshot)" = "$before" ]
	done
	# below the minimum: 39.90 < 50.00
	printf 'store,receipt,ts,member,sku,qty,unit_price,payment,coupon\nS01,R1,2026-11-23 09:00:00,M0002,D400,1,39.90,cash,%s\n' \
		"$mine" >bad.csv
	run --separate-stderr mbr-sale import bad.csv
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"coupon: below minimum: "* ]]
	[ "$(snapshot)" = "$before" ]
	[ "$(q "SELECT state FROM coupons WHERE code = '$mine'")" = issued ]
}

@test "sale import: a coupon code too long to be one rejects the receipt" {
	load_catalogue
	export MBR_NOW=2026-11-23T10:00:00Z
	before=$(snapshot)
	# 45 symbols: more than a code can have; it must not be silently dropped
	long=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
	printf 'store,receipt,ts,member,sku,qty,unit_price,payment,coupon\nS01,R1,2026-11-23 09:00:00,M0002,D400,2,39.90,cash,%s\n' \
		"$long" >bad.csv
	run --separate-stderr mbr-sale import bad.csv
	echo "long code: $status $stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"bad.csv:2: coupon: "* ]]
	[ "$(snapshot)" = "$before" ]
}

@test "mbr-sale add --coupon; a return does not restore the coupon" {
	load_catalogue
	mbr-coupon create A10 --type amount --value 10.00
	c=$(give A10 M0004)
	export MBR_NOW=2026-11-23T10:00:00Z
	run --separate-stderr mbr-sale add --member M0004 --coupon "$c" --ts '2026-11-23 09:00:00' R5 D400:1:39.90
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R5,29.90,29" ]
	[ "$(bal M0004)" = 29 ]
	refused used check "$c"
	# returning the goods gives back what was paid; the coupon stays used (forfeited)
	run --separate-stderr mbr-sale add --original R5 --ts '2026-11-23 09:30:00' R5R D400:-1:39.90:10.00
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$(bal M0004)" = 0 ]
	[ "$(q "SELECT state FROM coupons WHERE code = '$c'")" = redeemed ]
	refused used check "$c"
	[ "$(summary_row A10 | cut -d, -f3-8)" = "1,1,0,0,100.0,10.00" ]
	# a return cannot carry a coupon
	c2=$(give A10 M0004)
	run --separate-stderr mbr-sale add --member M0004 --coupon "$c2" --ts '2026-11-23 09:40:00' R6 D400:-1:39.90
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"a return cannot use a coupon"* ]]
	[ "$(q "SELECT state FROM coupons WHERE code = '$c2'")" = issued ]
}

@test "sale: several coupons stack only when all say --stack all; categories" {
	load_catalogue
	mbr-coupon create K1 --type amount --value 1 --stack all
	mbr-coupon create K2 --type percent --value 10 --stack all --categories 日化
	mbr-coupon create SOLO --type amount --value 5
	a=$(give K1 M0005) b=$(give K2 M0005) s=$(give SOLO M0005)
	export MBR_NOW=2026-11-23T10:00:00Z
	run --separate-stderr mbr-sale add --member M0005 --coupon "$a;$s" --ts '2026-11-23 09:00:00' R6 D400:1:39.90
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"coupon: $s does not stack with other coupons"* ]]
	[ "$(q "SELECT COUNT(*) FROM coupons WHERE state = 'redeemed'")" = 0 ]
	# K1's 1.00 is shared over the lines pro rata: 0.75 off the 日化 line
	# 39.90, 0.25 off 12.80; K2 takes 10% of the 39.15 left of the 日化
	# line (3.91): 52.70 - 1.00 - 3.91 = 47.79
	run --separate-stderr mbr-sale add --member M0005 --coupon "$a;$b" --ts '2026-11-23 09:00:00' R6 \
		D400:1:39.90 A100:1:12.80
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R6,47.79,47" ]
	[ "$(q "SELECT COUNT(*) FROM coupons WHERE state = 'redeemed'")" = 2 ]
}

@test "sale: a second coupon of some categories works on what earlier coupons left of its lines" {
	load_catalogue
	mbr-coupon create A --type amount --value 10.00 --categories 乳品 --stack all
	mbr-coupon create B --type percent --value 50 --categories 乳品 --stack all
	mbr-coupon create K --type amount --value 1.00 --stack all
	a=$(give A M0001) b=$(give B M0001)
	export MBR_NOW=2026-11-23T10:00:00Z
	# A takes 10.00 off the 12.80 乳品 line; B 50% of the 2.80 left of it
	run --separate-stderr mbr-sale add --member M0001 --coupon "$a;$b" --ts '2026-11-23 09:00:00' R1 \
		A100:1:12.80 D400:1:39.90
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R1,41.30,41" ]
	[ "$(q "SELECT campaign, discount FROM coupons ORDER BY campaign")" = "A|1000
B|140" ]
	[ "$(q "SELECT total, coupon_discount FROM sales")" = "4130|1140" ]
	# K's 1.00 over both lines pro rata, exactly: 12.80 x 100 / 52.70 is
	# 0.24 off the 乳品 line (rounded down), 0.76 off the other (the rest);
	# B: 50% of 12.56 = 6.28; 52.70 - 1.00 - 6.28 = 45.42
	k=$(give K M0002) b=$(give B M0002)
	run --separate-stderr mbr-sale add --member M0002 --coupon "$k;$b" --ts '2026-11-23 09:10:00' R2 \
		A100:1:12.80 D400:1:39.90
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R2,45.42,45" ]
	[ "$(q "SELECT discount FROM coupons WHERE code = '$b'")" = 628 ]
}

@test "sale: a coupon on a receipt whose total is 0.00 is refused as such, not as a return" {
	load_catalogue
	mbr-coupon create A --type amount --value 1.00
	c=$(give A M0001)
	mbr-card -q --payment card count-sell M0001 C300 5 8.00
	export MBR_NOW=2026-11-23T10:00:00Z
	run --separate-stderr mbr-sale add --member M0001 --coupon "$c" --ts '2026-11-23 09:00:00' R1 C300:2:2.00
	echo "$output $stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"coupon: the receipt has nothing left to take a discount off"* ]]
	[[ "$stderr" != *"return"* ]]
	[ "$(q "SELECT state FROM coupons WHERE code = '$c'")" = issued ]
	[ "$(q "SELECT COUNT(*) FROM sales")" = 0 ]
}

@test "no discount: a coupon that takes nothing off is refused, not used up; a gift is not" {
	load_catalogue
	mbr-coupon create D --type amount --value 5 --categories 乳品
	mbr-coupon create A --type amount --value 20.00 --categories 乳品 --stack all
	mbr-coupon create B --type amount --value 5.00 --categories 乳品 --stack all
	mbr-coupon create G --type gift --value C301
	d=$(give D M0002) a=$(give A M0001) b=$(give B M0001) g=$(give G M0001)
	export MBR_NOW=2026-11-23T10:00:00Z
	before=$(snapshot)
	# no line of its categories on the receipt
	run --separate-stderr mbr-sale add --member M0002 --coupon "$d" --ts '2026-11-23 09:00:00' R3 D400:1:39.90
	echo "$output $stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"coupon: no discount: coupon $d takes nothing off this receipt (nothing left of the lines of its categories)"* ]]
	# nothing left of them once the first coupon took the 12.80 乳品 line
	run --separate-stderr mbr-sale add --member M0001 --coupon "$a;$b" --ts '2026-11-23 09:00:00' R4 \
		A100:1:12.80 D400:1:39.90
	echo "$output $stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"coupon: no discount: coupon $b takes nothing off this receipt"* ]]
	[ "$(snapshot)" = "$before" ]
	# redeem and check on an amount of 0.00: refused (exit 1), still issued
	refused "no discount" --amount 0 redeem "$b"
	[[ "$stderr" == *"coupon $b takes nothing off this receipt"* ]]
	mbr-coupon create N --type amount --value 5
	n=$(give N M0001)
	refused "no discount" --amount 0 redeem "$n"
	[[ "$stderr" == *"coupon $n takes nothing off an amount of 0.00"* ]]
	refused "no discount" --amount 0 check "$n"
	[ "$(q "SELECT COUNT(*) FROM coupons WHERE state = 'issued'")" = 5 ]
	# a gift gives an item: 0.00 off is what it is
	run --separate-stderr mbr-coupon --amount 0 redeem "$g"
	[ "$status" -eq 0 ]
	[ "$output" = "0.00" ]
}

@test "edit --type needs --value: a value never changes meaning; a type that is not gift names no gift" {
	mbr-coupon create P --type percent --value 15
	mbr-coupon create G --type gift --value C301
	before=$(snapshot)
	# 15 (percent) would become 15.00 off, 5.00 off would become 5%
	run --separate-stderr mbr-coupon edit P --type amount
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[[ "$stderr" == "mbr-coupon: --type amount needs --value: the value of a percent campaign does not carry over"* ]]
	run --separate-stderr mbr-coupon edit G --type percent
	[ "$status" -eq 2 ]
	[ "$(snapshot)" = "$before" ]
	# the same type again needs no value
	run --separate-stderr mbr-coupon edit P --type percent --cap 3.00
	[ "$status" -eq 0 ]
	[ "$(mbr-coupon show --format csv P | sed -n 2p)" = "P,percent,15.00%,3.00,,,,,,,,,none,open" ]
	# a gift campaign made percent keeps no gift SKU: its coupons name no gift
	run --separate-stderr mbr-coupon edit G --type percent --value 10
	[ "$status" -eq 0 ]
	[ "$(q "SELECT type, value, COALESCE(gift_sku, '') FROM campaigns WHERE code = 'G'")" = "percent|1000|" ]
	c=$(give G M0001)
	run --separate-stderr mbr-coupon --amount 50 check "$c"
	[ "$status" -eq 0 ]
	[ "$output" = "$c,G,5.00" ]
}

@test "list and show print long --stores and --categories whole; too long a list is refused" {
	for s in S03 S04 S05 S06 S07 S08 S09 S10 S11 S12 S13 S14; do mbr-db -q store-add $s; done
	cats=生鲜,乳品,日化,零食,饮料,粮油,冷冻,烘焙
	stores=S01,S02,S03,S04,S05,S06,S07,S08,S09,S10,S11,S12,S13,S14
	mbr-coupon create C --type amount --value 1.00 --categories "$cats" --stores "$stores"
	run --separate-stderr mbr-coupon show --format json C
	[ "$status" -eq 0 ]
	[[ "$output" == *"\"stores\":\"$stores\",\"categories\":\"$cats\","* ]]
	run --separate-stderr mbr-coupon list --format tsv
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | sed -n 2p | cut -f 11,12)" = "$stores	$cats" ]
	# a list longer than a campaign keeps is refused, not cut short
	long=$(printf '生鲜%03d,' $(seq 1 40))
	before=$(snapshot)
	run --separate-stderr mbr-coupon edit C --categories "${long%,}"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "mbr-coupon: --categories '"*"' is too long (at most 255 bytes)"* ]]
	[ "$(snapshot)" = "$before" ]
}

@test "create, edit: --stores and --categories items are trimmed; empty items and unknown stores refused" {
	load_catalogue
	run --separate-stderr mbr-coupon create S --type amount --value 5 --stores 'S01, S02' --categories ' 乳品 , 日化'
	[ "$status" -eq 0 ]
	[ "$(q "SELECT stores, categories FROM campaigns WHERE code = 'S'")" = "S01,S02|乳品,日化" ]
	s=$(give S M0001)
	export MBR_NOW=2026-11-23T10:00:00Z
	run --separate-stderr mbr-sale add --store S02 --member M0001 --coupon "$s" --ts '2026-11-23 09:00:00' R4 D400:1:39.90
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$(q "SELECT discount, store FROM coupons WHERE code = '$s'")" = "500|S02" ]
	before=$(snapshot)
	for l in 'S01,S09' 'S01,,S02' 'S01,' ' ' 's01'; do
		run --separate-stderr mbr-coupon create X --type amount --value 5 --stores "$l"
		echo "--stores '$l': $status $stderr"
		[ "$status" -eq 3 ]
	done
	run --separate-stderr mbr-coupon create X --type amount --value 5 --stores 'S01, S09'
	[ "$stderr" = "mbr-coupon: stores: no store 'S09'" ]
	run --separate-stderr mbr-coupon create X --type amount --value 5 --stores 'S01,,S02'
	[ "$stderr" = "mbr-coupon: stores 'S01,,S02' has an empty item" ]
	run --separate-stderr mbr-coupon edit S --stores S03
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-coupon: stores: no store 'S03'" ]
	run --separate-stderr mbr-coupon edit S --categories '乳品,,日化'
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-coupon: categories '乳品,,日化' has an empty item" ]
	[ "$(snapshot)" = "$before" ]
	# an empty list is every store, as before
	run --separate-stderr mbr-coupon edit S --stores ''
	[ "$status" -eq 0 ]
	[ "$(q "SELECT stores FROM campaigns WHERE code = 'S'")" = "" ]
}

@test "summary: sales count a receipt once even with two coupons of the campaign on it" {
	load_catalogue
	mbr-coupon create K1 --type amount --value 1 --stack all
	a=$(give K1 M0005) b=$(give K1 M0005)
	export MBR_NOW=2026-11-23T10:00:00Z
	mbr-sale -q add --member M0005 --coupon "$a;$b" --ts '2026-11-23 09:00:00' R6 D400:1:39.90
	[ "$(q "SELECT total FROM sales")" = 3790 ]
	run --separate-stderr mbr-report coupons --format csv
	printf '%s\n' "$output"
	# the discount is per coupon (2.00), the sales are the one receipt's 37.90
	[ "${lines[1]}" = "K1,amount,2,2,0,0,100.0,2.00,37.90" ]
}

# ---------------------------------------------------------- manual page

@test "man: mbr-coupon.1 is lint-clean and its SYNOPSIS is the usage" {
	run sh -c "mandoc -Tlint -Wwarning '$MBR_TOP/man/mbr-coupon.1' 2>&1"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	have=$(mandoc -Tascii "$MBR_TOP/man/mbr-coupon.1" | col -b |
		sed -n '/^SYNOPSIS$/,/^[A-Z][A-Z ]*$/p' | sed '1d;$d' | tr -s ' \t\n' '   ' | sed 's/^ *//; s/ *$//')
	want=$(mbr-coupon --help | sed '1s/^usage://' | tr -s ' \t\n' '   ' | sed 's/^ *//; s/ *$//')
	echo "have: $have"
	echo "want: $want"
	[ "$have" = "$want" ]
	run --separate-stderr mbr-coupon --version
	[ "$output" = "mbr-coupon 0.1.0" ]
}

@test "man: the EXAMPLES of mbr-coupon.1 run" {
	# a member with a birthday in the coming week (M0004: 12-01)
	export MBR_NOW=2026-11-28T02:00:00Z
	rm -f shop.db shop.db.key
	mbr-db -q -d shop.db init --store S01
	mbr-db -q -d shop.db store-add S02
	cp "$EX"/*.csv .
	mbr-add -q -d shop.db members.csv
	unset MBR_DB
	mandoc -Tascii "$MBR_TOP/man/mbr-coupon.1" | col -b |
		sed -n '/^EXAMPLES$/,/^[A-Z][A-Z ]*$/p' |
		awk '
			cont { sub(/^[ \t]+/, ""); line = line " " $0 }
			!cont && /^[ \t]+\$ / { sub(/^[ \t]+\$ /, ""); line = $0; cont = 1 }
			cont {
				if (line ~ /\\$/) { sub(/\\$/, "", line); next }
				print line; cont = 0
			}' >examples.sh
	cat examples.sh
	[ "$(grep -c . examples.sh)" -ge 10 ]
	run bash -e -x examples.sh
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p bday-coupons.csv)" = "member,code" ]
	[ "$(cut -d, -f1 bday-coupons.csv | sed 1d)" = M0004 ]
	[ "$(sed 1d xmas-codes.csv | wc -l)" -eq 500 ]
	[ "$(sed 1d xmas-issued.csv | wc -l)" -eq 5 ]
	[ "$(sqlite3 shop.db "SELECT state, receipt FROM coupons WHERE campaign = 'SPRING'")" = "redeemed|R1042" ]
	[[ "$output" == *"TEA,gift,1,0,0,0,0.0,0.00,0.00"* ]]
}
