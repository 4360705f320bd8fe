#!/usr/bin/env bats
# mbr-sale -i, the interactive cashier: through a pseudo-terminal (tmux),
# field by field, as a cashier types; and the same flows through a pipe
# (stdin not a terminal: no readline, no prompts).  Every test starts from
# a fresh database in its own temp dir.
#
# tmux: each test runs its own server on a socket in the test's temp dir
# (killed in teardown).  Prompts are waited for by polling capture-pane,
# never by fixed sleeps.
#
# The rules: 1 point per 1.00, 100 points pay 1.00.  MBR_NOW is
# 2026-11-22 18:00 in Shanghai.  Coupons of campaign C5 take 5.00 off.

bats_require_minimum_version 1.5.0

load common

setup() {
	shop_setup
	mbr-add -q "$EX/members.csv"
	mbr-sale -q products "$EX/products.csv"
	printf 'sku,name,category,price\nWASH,洗车,服务,5.00\n' | mbr-sale -q products -
	printf 'effective 2025-01-01\nbase 1 per 1.00\nredeem 100 = 1.00\n' >rules.txt
	mbr-points -q rules load rules.txt
	mbr-points -q earn M0001 500 --reason seed >/dev/null
	mbr-coupon -q create C5 --type amount --value 5.00
	C1=$(mbr-coupon -q issue C5 --member M0001 | sed -n '2s/.*,//p')	# M0001's
	C2=$(mbr-coupon -q issue C5 --member M0002 | sed -n '2s/.*,//p')	# M0002's
	[ -n "$C1" ] && [ -n "$C2" ]
	SOCK=$T/tmux.sock
}

teardown() {
	if [ -S "${SOCK:-}" ]; then
		tmux -S "$SOCK" kill-server 2>/dev/null || true
	fi
}

# what a sale writes
snapshot() {
	for t in sales sale_lines payments points_ledger coupons sv_ledger count_cards count_card_ledger; do
		echo "== $t"
		q "SELECT * FROM $t ORDER BY 1"
	done
}

load tty

start_till() {
	tty_start till 200 "mbr-sale -d '$MBR_DB' -i"
	prompt "member (card or phone; empty for none):"
}

# Wait until the screen shows one of two texts; prints the one seen first.
wait_either() {
	local i scr
	for i in $(seq $((TTY_WAIT * 20))); do
		scr=$(screen)
		case $scr in *"$1"*) echo "$1"; return 0 ;; *"$2"*) echo "$2"; return 0 ;; esac
		sleep 0.05
	done
	echo "neither '$1' nor '$2' on the screen"
	screen
	return 1
}

PAY="payment of"
SKU="sku (empty to finish):"
COUPON="coupon (empty for none):"
MEMBER="member (card or phone; empty for none):"

# ------------------------------------------------------- through a terminal

@test "till (tty): a full sale — member, two items, coupon, points, split payment — is recorded whole" {
	start_till
	type_line M0001
	wait_for "S01-2 张* 138****5678 tier -, 500 points"
	wait_for "coupon $C1 (C5)"
	prompt "$SKU"
	type_line A100
	prompt "qty [1]:"
	type_line 2
	prompt "price [12.80]:"
	type_line ""
	wait_for "有机牛奶 1L 12.80 x 2 = 25.60"
	prompt "$SKU"
	type_line D400
	prompt "qty [1]:"
	type_line ""
	prompt "price [39.90]:"
	type_line 35.00
	wait_for "洗衣液 2kg 35.00 x 1 = 35.00"
	prompt "$SKU"
	type_line ""
	prompt "$COUPON"
	type_line "$(printf '%s' "$C1" | tr 'A-Z' 'a-z')"
	wait_for "coupon $C1: 5.00 off"
	prompt "pay with points, amount up to 5.00 [0]:"
	type_line 2.00
	prompt "$PAY 53.60 [cash] (cash card wechat alipay stored_value gift_card=CODE other; split as card:50;cash):"
	type_line "card:20;cash"
	wait_for "total 55.60, to pay 53.60 (points:2.00;card:20;cash)"
	prompt "confirm sale? [y/N]"
	type_line y
	wait_for "recorded S01/T20261122180000-"
	wait_for "total 55.60, points +53"
	prompt "$MEMBER"
	tm send-keys -t till C-d
	[ "$(wait_exit)" = "status 0" ]
	# the receipt line on stdout
	cat till.out
	[ "$(wc -l <till.out)" -eq 1 ]
	[[ "$(cat till.out)" =~ ^S01,T20261122180000-[0-9]+-1,55\.60,53$ ]]
	receipt=$(cut -d, -f2 till.out)
	# the sale, its lines and payments
	[ "$(q "SELECT receipt, total, discount, items, points_earned, points_paid, coupon FROM sales")" = "$receipt|5560|500|3|53|200|$C1" ]
	[ "$(q "SELECT group_concat(sku || ':' || qty || ':' || unit_price || ':' || amount, ' ') FROM (SELECT * FROM sale_lines ORDER BY line)")" = "A100:2:1280:2560 D400:1:3500:3500" ]
	[ "$(q "SELECT group_concat(method || ':' || amount, ' ') FROM (SELECT * FROM payments ORDER BY method)")" = "card:2000 cash:3360 points:200" ]
	# the coupon is redeemed on it, the other member's is not
	[ "$(q "SELECT state || ',' || receipt || ',' || discount FROM coupons WHERE code = '$C1'")" = "redeemed,$receipt,500" ]
	[ "$(q "SELECT state FROM coupons WHERE code = '$C2'")" = "issued" ]
	# points: 500 - 200 paid + 53 earned
	[ "$(q "SELECT COALESCE(SUM(points), 0) FROM points_balances WHERE member = 1")" = 353 ]
	[ "$(q "SELECT group_concat(kind || ':' || points, ' ') FROM (SELECT * FROM points_ledger WHERE sale IS NOT NULL ORDER BY id)")" = "redeem:-200 earn:53" ]
	mbr-db -q check
}

@test "till (tty): Tab completes a SKU from its first letters, and the completed SKU is taken" {
	start_till
	type_line M0003
	prompt "$SKU"
	tm send-keys -t till -l D4
	tm send-keys -t till Tab
	wait_for "$SKU D400"
	tm send-keys -t till Enter
	seen=$(wait_either "qty [1]:" "unknown SKU")
	screen
	[ "$seen" = "qty [1]:" ]
	prompt "qty [1]:"
}

@test "till (tty): Tab completes a payment method, and the completed method is taken" {
	start_till
	type_line ""
	prompt "$SKU"
	type_line C300
	prompt "qty [1]:"
	type_line ""
	prompt "price [2.00]:"
	type_line ""
	prompt "$SKU"
	type_line ""
	prompt "$COUPON"
	type_line ""
	prompt "$PAY 2.00 [cash] (cash card wechat alipay stored_value gift_card=CODE other; split as card:50;cash):"
	tm send-keys -t till -l wec
	tm send-keys -t till Tab
	wait_for "split as card:50;cash): wechat"
	tm send-keys -t till Enter
	seen=$(wait_either "confirm sale? [y/N]" "is not a payment")
	screen
	[ "$seen" = "confirm sale? [y/N]" ]
	wait_for "total 2.00, to pay 2.00 (wechat)"
}

@test "till (tty): answering n at confirm records nothing and starts over; Ctrl-C in the middle records nothing" {
	before=$(snapshot)
	start_till
	type_line M0001
	prompt "$SKU"
	type_line A100
	prompt "qty [1]:"
	type_line ""
	prompt "price [12.80]:"
	type_line ""
	prompt "$SKU"
	type_line ""
	prompt "$COUPON"
	type_line "$C1"
	prompt "pay with points, amount up to 5.00 [0]:"
	type_line 1.00
	prompt "$PAY 6.80 [cash] (cash card wechat alipay stored_value gift_card=CODE other; split as card:50;cash):"
	type_line ""
	prompt "confirm sale? [y/N]"
	type_line n
	wait_for "cancelled: nothing recorded"
	prompt "$MEMBER"
	[ "$(snapshot)" = "$before" ]
	# a second sale, interrupted at the quantity
	type_line M0002
	prompt "$SKU"
	type_line B200
	prompt "qty [1]:"
	tm send-keys -t till -l 3
	tm send-keys -t till C-c
	[ "$(wait_exit)" = "status 130" ]
	[ "$(cat till.out)" = "" ]
	[ "$(snapshot)" = "$before" ]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 0 ]
	mbr-db -q check
}

@test "till (tty): a refused coupon (someone else's, mistyped) says why and asks again; Up recalls the previous line" {
	start_till
	type_line M0001
	prompt "$SKU"
	type_line C300
	prompt "qty [1]:"
	type_line 1
	prompt "price [2.00]:"
	type_line ""
	prompt "$SKU"
	type_line ""
	prompt "$COUPON"
	type_line "$C2"
	wait_for "coupon refused: other member: coupon $C2 belongs to member S01-3"
	prompt "$COUPON"
	bad=${C1:0:11}$( [ "${C1:11:1}" = A ] && echo B || echo A )
	type_line "$bad"
	wait_for "coupon refused: mistyped: $bad fails its check character"
	prompt "$COUPON"
	# readline history: Up gives the mistyped code back, Up again the other member's
	tm send-keys -t till Up
	wait_for "$COUPON $bad"
	tm send-keys -t till Up
	wait_for "$COUPON $C2"
	[ "$(last_line)" = "$COUPON $C2" ]
	tm send-keys -t till C-u
	prompt "$COUPON"
	type_line "NOPE-NOPE-NOPE"
	prompt "$COUPON"
	[ "$(screen | grep -c 'coupon refused: ')" -eq 3 ]
	type_line ""
	prompt "pay with points, amount up to 2.00 [0]:"
	type_line 9.99
	wait_for "an amount from 0 to 2.00"
	prompt "pay with points, amount up to 2.00 [0]:"
	type_line ""
	prompt "$PAY 2.00 [cash] (cash card wechat alipay stored_value gift_card=CODE other; split as card:50;cash):"
	type_line bitcoin
	wait_for "'bitcoin' is not a payment"
	prompt "$PAY 2.00 [cash] (cash card wechat alipay stored_value gift_card=CODE other; split as card:50;cash):"
	type_line ""
	prompt "confirm sale? [y/N]"
	type_line y
	wait_for "recorded S01/"
	prompt "$MEMBER"
	tm send-keys -t till C-d
	[ "$(wait_exit)" = "status 0" ]
	[ "$(q "SELECT total || ',' || COALESCE(coupon, '-') FROM sales")" = "200,-" ]
	[ "$(q "SELECT COUNT(*) FROM coupons WHERE state = 'issued'")" = 2 ]
	mbr-db -q check
}

@test "till (tty): an unknown member or SKU is said and asked again" {
	start_till
	type_line M9999
	wait_for "no such active member"
	prompt "$MEMBER"
	type_line ""
	prompt "$SKU"
	type_line ZZZ
	wait_for "unknown SKU 'ZZZ'"
	prompt "$SKU"
	type_line ""
	wait_for "no items: nothing recorded"
	prompt "$MEMBER"
	tm send-keys -t till C-d
	[ "$(wait_exit)" = "status 0" ]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 0 ]
}

# ---------------------------------------------------------- through a pipe

@test "till (pipe): the full sale from stdin; one receipt line on stdout, no prompts" {
	run --separate-stderr mbr-sale -i <<-EOF
	M0001
	A100
	2

	D400

	35.00

	$C1
	2.00
	card:20;cash
	y
	EOF
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^S01,T20261122180000-[0-9]+-1,55\.60,53$ ]]
	[[ "$stderr" != *"member (card or phone"* ]]
	[[ "$stderr" != *"Tab completes"* ]]
	[[ "$stderr" == *"total 55.60, to pay 53.60 (points:2.00;card:20;cash)"* ]]
	[ "$(q "SELECT total, points_earned, points_paid, coupon FROM sales")" = "5560|53|200|$C1" ]
	[ "$(q "SELECT state FROM coupons WHERE code = '$C1'")" = redeemed ]
	[ "$(q "SELECT COALESCE(SUM(points), 0) FROM points_balances WHERE member = 1")" = 353 ]
	mbr-db -q check
}

@test "till (pipe): n at confirm, then end of input in the middle of a sale: nothing written, exit 0" {
	before=$(snapshot)
	run --separate-stderr mbr-sale -i <<-EOF
	M0001
	A100



	$C1

	card
	n
	M0002
	B200
	3
	EOF
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"cancelled: nothing recorded"* ]]
	[ "$(snapshot)" = "$before" ]
}

@test "till (pipe): a refused coupon is said and the next line is taken as the coupon" {
	run --separate-stderr mbr-sale -i <<-EOF
	M0001
	C300
	1


	$C2
	$C1
	cash
	y
	EOF
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"coupon refused: other member: coupon $C2 belongs to member S01-3"* ]]
	[[ "$stderr" == *"coupon $C1: 2.00 off"* ]]
	[ "$(q "SELECT total || ',' || coupon FROM sales")" = "0,$C1" ]
	mbr-db -q check
}

@test "till (pipe): stored value and a gift card as payment; a refused one does not record the sale" {
	mbr-card -q topup M0001 100
	g=$(mbr-card gift-create 1 20.00 | sed 1d)
	run --separate-stderr mbr-sale -i <<-EOF
	M0001
	A100
	1



	0
	stored_value:10;gift_card=$g:2.80
	y
	EOF
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"stored value 100.00 (principal 100.00, bonus 0.00)"* ]]
	[[ "$output" =~ ^S01,T[0-9-]+,12\.80,0$ ]]
	[ "$(mbr-card balance --format csv M0001 | sed -n 2p)" = "S01-2,90.00,0.00,90.00" ]
	[ "$(mbr-card balance --format csv "$g" | sed -n 2p)" = "$g,17.20,0.00,17.20" ]
	before=$(snapshot)
	run --separate-stderr mbr-sale -i <<-EOF
	M0001
	D400
	5



	0
	stored_value
	y
	EOF
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"the member's stored value holds 90.00, the receipt pays 199.50 with it"* ]]
	[[ "$stderr" == *"sale refused: nothing recorded"* ]]
	[ "$(snapshot)" = "$before" ]
	mbr-db -q check
}

@test "till (pipe): a member with 2 count-card uses buys 3: two are paid with uses, the third with money" {
	card=$(mbr-card count-sell M0002 WASH 2 8.00)
	run --separate-stderr mbr-sale -i <<-'EOF'
	M0002
	WASH
	3




	y
	EOF
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"2 paid with count-card uses"* ]]
	[[ "$stderr" == *"洗车 5.00 x 3 = 5.00"* ]]
	[[ "$stderr" == *"total 5.00, to pay 5.00 (cash)"* ]]
	[ "$(q "SELECT uses_left FROM count_cards WHERE uid = '$card'")" = 0 ]
	# what the till showed is what is recorded
	[ "$(q "SELECT total FROM sales")" = 500 ]
	[ "$(q "SELECT discount || ',' || amount FROM sale_lines")" = "1000,500" ]
	[ "$(q "SELECT amount FROM payments WHERE method = 'cash'")" = 500 ]
	[[ "$output" =~ ^S01,T[0-9-]+,5\.00,5$ ]]
	mbr-db -q check
}

@test "till (pipe): a tier discount and a percent coupon: the total shown is the total recorded; -n records nothing" {
	printf 'effective 2025-01-01\nbase 1 per 1.00\nredeem 100 = 1.00\ntier GOLD rank 1 spend 0.00 window 365 discount 10%%\n' >rules.txt
	mbr-points -q rules load rules.txt
	mbr-member -q set M0001 tier=GOLD
	mbr-coupon -q create P10 --type percent --value 10 --stack tier
	c=$(mbr-coupon -q issue P10 --member M0001 | sed -n '2s/.*,//p')
	sale() {
		printf 'M0001\nA100\n\n100.00\n\n%s\n\n\ny\n' "$c" | mbr-sale "$@" -i
	}
	snap=$(snapshot)
	run --separate-stderr sale -n
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"dry run: S01/T"*"not recorded: total 81.00"* ]]
	[ "$(snapshot)" = "$snap" ]
	run --separate-stderr sale
	echo "$stderr"
	[ "$status" -eq 0 ]
	# 100.00 less 10% tier = 90.00, less the 10% coupon on that = 81.00
	[[ "$stderr" == *"due after every discount: 81.00"* ]]
	[[ "$stderr" == *"total 81.00, to pay 81.00 (cash)"* ]]
	[[ "$output" =~ ^S01,T[0-9-]+,81\.00,81$ ]]
	[ "$(q "SELECT total FROM sales")" = 8100 ]
	mbr-db -q check
}
