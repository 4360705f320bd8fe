#!/usr/bin/env bats
# mbr-card: stored value (top-up with bonus tiers, balance, history, payout
# of unspent principal, adjust, freeze), gift cards and count cards; sales
# paid with them through mbr-sale import; the settlement and liability
# reports.  Every test starts from a fresh database in its own temp dir;
# status, stdout and stderr are asserted separately.
#
# The rules (rules.txt below): 1 point per 1.00, 100 points pay 1.00,
# 充值满500送30, 满1000送100.  Members come from examples/members.csv:
# M0001 is S01-2, M0002 S01-3, M0003 S01-4.

bats_require_minimum_version 1.5.0

load common

setup() {
	shop_setup
	mbr-add -q "$EX/members.csv"
	mbr-sale -q products "$EX/products.csv"
	cat >rules.txt <<-'EOF'
	effective 2025-01-01
	base 1 per 1.00
	redeem 100 = 1.00
	topup 500 bonus 30
	topup 1000 bonus 100
	EOF
	mbr-points -q rules load rules.txt
}

# balance as "principal,bonus,total"
bal() {
	mbr-card balance --format csv "$1" | sed -n '2s/^[^,]*,//p'
}

# the stored-value tables, to prove that nothing was written
snapshot() {
	for t in sv_ledger members gift_cards count_cards count_card_ledger sales payments points_ledger audit; do
		echo "== $t"
		q "SELECT * FROM $t ORDER BY 1"
	done
}

sound() {
	run --separate-stderr mbr-db check
	echo "$stderr"
	[ "$status" -eq 0 ]
}

# ------------------------------------------------------------------ top-up

@test "topup: bonus tiers, one fen short is the tier below; stdout is the balance, stderr says what was added" {
	run --separate-stderr mbr-card topup M0001 499.99
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-card: M0001: topped up 499.99, bonus 0.00" ]
	[ "$output" = "account,principal,bonus,total
S01-2,499.99,0.00,499.99" ]
	run --separate-stderr mbr-card topup M0001 500
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-card: M0001: topped up 500.00, bonus 30.00" ]
	run --separate-stderr mbr-card -q topup M0001 999.99
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${lines[1]}" = "S01-2,1999.98,60.00,2059.98" ]
	run --separate-stderr mbr-card --payment wechat --store S02 topup 13812345678 1000.00
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-card: 13812345678: topped up 1000.00, bonus 100.00" ]
	mbr-card -q topup M0001 5000
	[ "$(bal M0001)" = "7999.98,260.00,8259.98" ]
	[ "$(q "SELECT group_concat(bonus, ' ') FROM sv_ledger WHERE kind = 'topup'")" = "0 3000 3000 10000 10000" ]
	[ "$(q "SELECT method || ' ' || store FROM sv_ledger WHERE id = 4")" = "wechat S02" ]
	sound
}

@test "topup: refusals (exit 2 usage, 3 data), nothing written" {
	before=$(snapshot)
	run --separate-stderr mbr-card topup M0001 abc
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "mbr-card: amount 'abc' is not an amount" ]
	run --separate-stderr mbr-card topup M0001 -- -5.00
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-card topup M0001
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-card: wrong number of arguments for topup" ]
	run --separate-stderr mbr-card topup M9999 100
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-card: no member or gift card 'M9999'" ]
	run --separate-stderr mbr-card topup M0001 0
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: a top-up must be a positive amount" ]
	run --separate-stderr mbr-card --payment points topup M0001 100
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: a top-up is paid with cash, card, wechat, alipay or other" ]
	run --separate-stderr mbr-card --payment stored_value topup M0001 100
	[ "$status" -eq 3 ]
	run --separate-stderr mbr-card bogus M0001
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-card: unknown command 'bogus'" ]
	[ "$(snapshot)" = "$before" ]
}

@test "topup --dry-run: says so, writes nothing (not even the audit log)" {
	before=$(snapshot)
	run --separate-stderr mbr-card --dry-run topup M0001 1000
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"mbr-card: dry run, nothing written"* ]]
	echo "$output"
	# the balance printed is the one the top-up would leave
	[ "${lines[1]}" = "S01-2,1000.00,100.00,1100.00" ]
	[ "$(snapshot)" = "$before" ]
	[ "$(bal M0001)" = "0.00,0.00,0.00" ]
}

@test "balance and history: formats, running balances, a gift card as account" {
	mbr-card -q topup M0001 1000
	mbr-card -q --store S02 --payment card topup M0001 500
	run --separate-stderr mbr-card history --format csv M0001
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "entry,time,kind,principal,bonus,balance_principal,balance_bonus,method,store,ref
1,2026-11-22 18:00:00,topup,1000.00,100.00,1000.00,100.00,cash,S01,
2,2026-11-22 18:00:00,topup,500.00,30.00,1500.00,130.00,card,S02," ]
	run --separate-stderr mbr-card balance --format json M0001
	[ "$status" -eq 0 ]
	[ "$output" = '{"account":"S01-2","principal":1500.00,"bonus":130.00,"total":1630.00}' ]
	run --separate-stderr mbr-card balance --format tsv S01-2
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "S01-2	1500.00	130.00	1630.00" ]
	run --separate-stderr mbr-card balance M9999
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-card: no member or gift card 'M9999'" ]
	run --separate-stderr mbr-card balance
	[ "$status" -eq 2 ]
}

# ------------------------------------------------------------------- roles

@test "roles: a cashier tops up and pays out; adjust and freeze need a manager (exit 5); no role at all is refused" {
	mbr-db -q grant cash1 cashier
	mbr-db -q grant boss1 manager
	run --separate-stderr mbr-card --operator cash1 topup M0001 1000
	[ "$status" -eq 0 ]
	run --separate-stderr mbr-card --operator cash1 payout M0001
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "1000.00,100.00" ]
	[ "$stderr" = "mbr-card: M0001: 1000.00 of principal paid back by cash, 100.00 of bonus forfeited" ]
	mbr-card -q topup M0001 100
	before=$(snapshot)
	run --separate-stderr mbr-card --operator cash1 --reason "till error" adjust M0001 1.00
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-card: operator 'cash1' is cashier; adjusting stored value needs manager" ]
	run --separate-stderr mbr-card --operator cash1 freeze M0001
	[ "$status" -eq 5 ]
	[ "$stderr" = "mbr-card: operator 'cash1' is cashier; freezing stored value needs manager" ]
	run --separate-stderr mbr-card --operator cash1 gift-create 1 100
	[ "$status" -eq 5 ]
	run --separate-stderr mbr-card --operator nobody topup M0001 100
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"operator 'nobody' has no role in this database"* ]]
	run --separate-stderr mbr-card --operator nobody balance M0001
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	[ "$(snapshot)" = "$before" ]
	run --separate-stderr mbr-card --operator boss1 --reason "till error" adjust M0001 1.00 0.50
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "S01-2,101.00,0.50,101.50" ]
	[ "$(q "SELECT operator || ' ' || reason FROM sv_ledger WHERE kind = 'adjust'")" = "boss1 till error" ]
	sound
}

@test "adjust: --reason is required (exit 2); below zero refused (exit 3); negative amounts after --" {
	mbr-card -q topup M0001 500
	before=$(snapshot)
	run --separate-stderr mbr-card adjust M0001 1.00
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "mbr-card: adjust needs --reason" ]
	run --separate-stderr mbr-card --reason "" adjust M0001 1.00
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-card --reason typo adjust -- M0001 -500.01
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: an adjustment may not take a balance below zero" ]
	run --separate-stderr mbr-card --reason typo adjust -- M0001 0 -30.01
	[ "$status" -eq 3 ]
	run --separate-stderr mbr-card --reason typo adjust M0001 0
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: an adjustment of nothing changes nothing" ]
	run --separate-stderr mbr-card --reason typo adjust M0001 x
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-card -n --reason typo adjust -- M0001 -100.00 -10.00
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"dry run, nothing written"* ]]
	[ "${lines[1]}" = "S01-2,400.00,20.00,420.00" ]
	[ "$(snapshot)" = "$before" ]
	run --separate-stderr mbr-card --reason closing adjust -- M0001 -500.00 -30.00
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "S01-2,0.00,0.00,0.00" ]
	sound
}

@test "freeze: a frozen account cannot be spent or topped up (exit 3); unfreeze restores it" {
	mbr-card -q topup M0001 100
	run --separate-stderr mbr-card freeze M0001
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	before=$(snapshot)
	run --separate-stderr mbr-card topup M0001 100
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"is frozen"* ]]
	printf 'store,receipt,ts,member,sku,qty,unit_price,payment\nS01,F1,2026-11-22 09:00,M0001,A100,1,12.80,stored_value\n' >f.csv
	run --separate-stderr mbr-sale import f.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"f.csv:2: payment: the stored value of"*"is frozen"* ]]
	[ "$(snapshot)" = "$before" ]
	mbr-card -q unfreeze M0001
	run --separate-stderr mbr-sale -q import f.csv
	[ "$status" -eq 0 ]
	[ "$(bal M0001)" = "87.20,0.00,87.20" ]
	run --separate-stderr mbr-card freeze M9999
	[ "$status" -eq 3 ]
	sound
}

# ------------------------------------------------------------------ payout

@test "payout: one top-up (FIFO after a spend) pays unspent principal, forfeits its bonus; twice is refused" {
	mbr-card -q topup M0001 1000	# entry 1: 1000 + 100
	mbr-card -q topup M0001 500	# entry 2: 500 + 30
	# 550.00 of 1500 + 130: principal floor(55000*150000/163000) = 506.13, bonus 43.87, all from entry 1
	printf 'store,receipt,ts,member,sku,qty,unit_price,payment\nS01,P1,2026-11-22 09:00,M0001,X1,1,550.00,stored_value\n' >p.csv
	mbr-sale -q import p.csv
	[ "$(q "SELECT sv_principal, sv_bonus FROM sales WHERE receipt = 'P1'")" = "50613|4387" ]
	run --separate-stderr mbr-card -n --topup 1 payout M0001
	[ "$status" -eq 0 ]
	[ "$output" = "493.87,56.13" ]
	[ "$(q "SELECT COUNT(*) FROM sv_ledger")" = 3 ]
	run --separate-stderr mbr-card --topup 1 --payment card payout M0001
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "493.87,56.13" ]
	[ "$stderr" = "mbr-card: M0001: 493.87 of principal paid back by card, 56.13 of bonus forfeited" ]
	[ "$(bal M0001)" = "500.00,30.00,530.00" ]
	[ "$(q "SELECT group_concat(kind || ':' || principal || ':' || bonus || ':' || topup || ':' || method, ' ') FROM sv_ledger WHERE id > 3")" = "payout:-49387:0:1:card forfeit:0:-5613:1:" ]
	before=$(snapshot)
	run --separate-stderr mbr-card --topup 1 payout M0001
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-card: nothing left to pay back" ]
	run --separate-stderr mbr-card --topup 99 payout M0001
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: no unspent top-up #99 on this account" ]
	run --separate-stderr mbr-card --topup x payout M0001
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "mbr-card: --topup 'x' is not a ledger entry number" ]
	run --separate-stderr mbr-card --payment points payout M0001
	[ "$status" -eq 3 ]
	[ "$(snapshot)" = "$before" ]
	run --separate-stderr mbr-card payout M0001
	[ "$status" -eq 0 ]
	[ "$output" = "500.00,30.00" ]
	run --separate-stderr mbr-card payout M0001
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: nothing left to pay back" ]
	sound
}

@test "audit: top-up, payout and adjust are logged with money as money" {
	mbr-card -q topup M0001 1000
	mbr-card -q --reason goodwill adjust M0001 1.00 0.50
	mbr-card -q payout M0001
	run --separate-stderr mbr-db audit --format csv
	[ "$status" -eq 0 ]
	echo "$output" | grep 'sv\.'
	[[ "$output" == *"sv.topup,member"*"1000.00 paid by cash, bonus 100.00"* ]]
	[[ "$output" == *"sv.payout,member"*"principal 1001.00 paid back by cash, bonus 100.50 forfeited"* ]]
	[[ "$output" == *"sv.adjust,member"*"principal +1.00, bonus +0.50"* ]]
}

# -------------------------------------------------------------- gift cards

@test "gift-create: N codes with check characters, each holds the amount; manager only; --dry-run writes nothing" {
	run --separate-stderr mbr-card gift-create 3 200.00
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = "code" ]
	for c in "${lines[@]:1}"; do
		[[ "$c" =~ ^[0-9A-Z]{12}$ ]]
		[ "$(bal "$c")" = "200.00,0.00,200.00" ]
	done
	[ "$(q "SELECT COUNT(DISTINCT code), SUM(principal), SUM(bonus) FROM gift_cards")" = "3|60000|0" ]
	[ "$(q "SELECT COUNT(*) FROM batches WHERE kind = 'gift cards'")" = 1 ]
	# a code as typed: lower case, with dashes
	c=${lines[1]}
	typed=$(printf '%s-%s-%s' "${c:0:4}" "${c:4:4}" "${c:8:4}" | tr 'A-Z' 'a-z')
	[ "$(bal "$typed")" = "200.00,0.00,200.00" ]
	# a code with one character changed fails its check character
	wrong=${c:0:11}$( [ "${c:11:1}" = A ] && echo B || echo A )
	run --separate-stderr mbr-card balance "$wrong"
	[ "$status" -eq 3 ]
	before=$(snapshot)
	run --separate-stderr mbr-card -n gift-create 2 50
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"dry run, nothing written"* ]]
	run --separate-stderr mbr-card gift-create 0 50
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-card gift-create 2 -- -50
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-card gift-create 2 0
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: a gift card needs a positive value" ]
	[ "$(snapshot)" = "$before" ]
	sound
}

@test "gift cards: a sale paid gift_card=CODE, a split, more than it holds, expired and frozen ones (exit 3)" {
	mbr-card gift-create 2 100.00 | sed 1d >codes
	mbr-card --expires 2026-11-21 gift-create 1 100.00 | sed 1d >old
	g1=$(sed -n 1p codes) g2=$(sed -n 2p codes) g3=$(cat old)
	cat >g.csv <<-EOF
	store,receipt,ts,member,sku,qty,unit_price,payment
	S01,G1,2026-11-22 09:00,,A100,2,12.80,gift_card=$g1
	S01,G2,2026-11-22 09:10,M0001,B200,10,15.60,gift_card=$g2:100.00;cash
	EOF
	run --separate-stderr mbr-sale import g.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(bal "$g1")" = "74.40,0.00,74.40" ]
	[ "$(bal "$g2")" = "0.00,0.00,0.00" ]
	[ "$(q "SELECT group_concat(method || ':' || amount, ' ') FROM (SELECT method, amount FROM payments p JOIN sales s ON s.id = p.sale WHERE receipt = 'G2' ORDER BY method)")" = "cash:5600 gift_card:10000" ]
	# points are not earned on the gift-card share (the cash 56.00 earns 56)
	[ "$(q "SELECT points_earned FROM sales WHERE receipt = 'G2'")" = 56 ]
	before=$(snapshot)
	printf 'store,receipt,ts,sku,qty,unit_price,payment\nS01,G3,2026-11-22 09:20,A100,10,12.80,gift_card=%s\n' "$g1" >g3.csv
	run --separate-stderr mbr-sale import g3.csv
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"g3.csv:2: payment: the gift card holds 74.40, the receipt pays 128.00 with it"* ]]
	printf 'store,receipt,ts,sku,qty,unit_price,payment\nS01,G4,2026-11-22 09:20,A100,1,12.80,gift_card=%s\n' "$g3" >g4.csv
	run --separate-stderr mbr-sale import g4.csv
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"g4.csv:2: payment: gift card $g3 is expired"* ]]
	run --separate-stderr mbr-card topup "$g3" 10
	[ "$status" -eq 3 ]
	[ "$(snapshot)" = "$before" ]
	mbr-card -q freeze "$g1"
	before=$(snapshot)
	sed "s/$g3/$g1/" g4.csv >g5.csv
	run --separate-stderr mbr-sale import g5.csv
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"gift card $g1 is frozen"* ]]
	printf 'store,receipt,ts,sku,qty,unit_price,payment\nS01,G6,2026-11-22 09:20,A100,1,12.80,gift_card=NOSUCHCARD99\n' >g6.csv
	run --separate-stderr mbr-sale import g6.csv
	[ "$status" -eq 3 ]
	[ "$(snapshot)" = "$before" ]
	sound
}

@test "gift cards: the nightly import of yesterday's sales spends a card that expired at midnight; a sale after it is refused" {
	# good to the end of 2026-11-21; MBR_NOW is 2026-11-22
	g=$(mbr-card --expires 2026-11-21 gift-create 1 100.00 | sed 1d)
	cat >night.csv <<-EOF
	store,receipt,ts,member,sku,qty,unit_price,payment
	S01,N1,2026-11-21 23:58,,A100,1,12.80,gift_card=$g
	S01,N2,2026-11-22 00:00,,A100,1,12.80,gift_card=$g
	EOF
	run --separate-stderr mbr-sale import --skip-bad --rejects rej.csv night.csv
	echo "status $status: $stderr"
	[ "$status" -eq 1 ]	# some receipts rejected
	[[ "$stderr" == *"night.csv:3: payment: gift card $g is expired"* ]]
	[ "$(sed 1d rej.csv | cut -d, -f2)" = N2 ]
	[ "$(q "SELECT group_concat(receipt) FROM sales")" = N1 ]
	[ "$(bal "$g")" = "87.20,0.00,87.20" ]
	# the balance it kept is shown as expired (breakage)
	[[ "$(mbr-report liability --format csv)" == *"expired gift cards,1,87.20,0.00,87.20"* ]]
	sound
}

@test "gift cards: a sale paid with the code as typed (lower case, dashes) is paid from that card" {
	g=$(mbr-card gift-create 1 100.00 | sed 1d)
	typed=$(printf '%s-%s-%s' "${g:0:4}" "${g:4:4}" "${g:8:4}" | tr 'A-Z' 'a-z')
	printf 'store,receipt,ts,sku,qty,unit_price,payment\nS01,G1,2026-11-22 09:00,A100,1,12.80,gift_card=%s\n' "$typed" >g.csv
	run --separate-stderr mbr-sale import g.csv
	echo "status $status: $stderr"
	[ "$status" -eq 0 ]
	[ "$(bal "$g")" = "87.20,0.00,87.20" ]
	sound
}

# ---------------------------------------------------- stored value at sales

@test "import: stored_value payments split principal and bonus pro rata; beyond the balance the file is refused" {
	mbr-card -q topup M0001 1000
	cat >s.csv <<-'EOF'
	store,receipt,ts,member,sku,qty,unit_price,payment
	S01,V1,2026-11-22 09:00,M0001,X1,1,0.01,stored_value
	S01,V2,2026-11-22 09:10,M0001,X1,1,50.00,stored_value:30.00;cash
	EOF
	run --separate-stderr mbr-sale import s.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	# 0.01 of 1000+100 is all bonus; 30.00 of 1000+99.99: principal floor(3000*100000/109999) = 27.27
	[ "$(q "SELECT receipt, sv_principal, sv_bonus FROM sales ORDER BY receipt")" = "V1|0|1
V2|2727|273" ]
	[ "$(bal M0001)" = "972.73,97.26,1069.99" ]
	# no points on the stored-value share
	[ "$(q "SELECT points_earned FROM sales WHERE receipt = 'V2'")" = 20 ]
	before=$(snapshot)
	printf 'store,receipt,ts,member,sku,qty,unit_price,payment\nS01,V3,2026-11-22 09:20,M0001,X1,1,1070.00,stored_value\n' >big.csv
	run --separate-stderr mbr-sale import big.csv
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"big.csv:2: payment: the member's stored value holds 1069.99, the receipt pays 1070.00 with it"* ]]
	printf 'store,receipt,ts,sku,qty,unit_price,payment\nS01,V4,2026-11-22 09:20,X1,1,1.00,stored_value\n' >anon.csv
	run --separate-stderr mbr-sale import anon.csv
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"anon.csv:2: payment: stored value needs a member"* ]]
	run --separate-stderr mbr-sale -n import s.csv
	[ "$(snapshot)" = "$before" ]
	sound
}

@test "import: a referenced return paid back to stored value restores principal and bonus exactly" {
	mbr-card -q topup M0001 1000
	printf 'store,receipt,ts,member,sku,qty,unit_price,payment,original\nS01,V1,2026-11-22 09:00,M0001,X1,1,50.00,stored_value,\n' >s.csv
	mbr-sale -q import s.csv
	[ "$(bal M0001)" = "954.55,95.45,1050.00" ]
	printf 'store,receipt,ts,member,sku,qty,unit_price,payment,original\nS01,V1R,2026-11-22 11:00,M0001,X1,-1,50.00,stored_value:-50.00,V1\n' >r.csv
	run --separate-stderr mbr-sale import r.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(bal M0001)" = "1000.00,100.00,1100.00" ]
	[ "$(q "SELECT principal || ',' || bonus || ',' || ref FROM sv_ledger WHERE kind = 'credit'")" = "4545,455,S01/V1R" ]
	sound
}

@test "returns naming their sale give prepaid value back to the accounts that paid, never as cash or to another account" {
	mbr-card -q topup M0001 1000		# 1000.00 principal + 100.00 bonus
	mbr-sale -q add --member M0001 --payment stored_value R1 D400:10:11.00 >/dev/null
	[ "$(bal M0001)" = "900.00,90.00,990.00" ]
	# no payment named: the stored-value share goes back to stored value, bonus as bonus
	mbr-sale -q add --original R1 R2 D400:-10:11.00 >/dev/null
	[ "$(bal M0001)" = "1000.00,100.00,1100.00" ]
	[ "$(q "SELECT group_concat(method || ':' || amount) FROM payments WHERE sale = (SELECT id FROM sales WHERE receipt = 'R2')")" = "stored_value:-11000" ]
	# so a payout pays what was paid in, and the bonus stays forfeit
	[ "$(mbr-card payout M0001)" = "1000.00,100.00" ]
	# a gift card's value goes back to the gift card, not into cash ...
	g=$(mbr-card gift-create 1 50.00 | sed -n 2p)
	mbr-sale -q add --payment "gift_card=$g" R3 D400:1:50.00 >/dev/null
	mbr-sale -q add --original R3 R4 D400:-1:50.00 >/dev/null
	[ "$(bal "$g")" = "50.00,0.00,50.00" ]
	[ "$(q "SELECT group_concat(method || ':' || amount) FROM payments WHERE sale = (SELECT id FROM sales WHERE receipt = 'R4')")" = "gift_card:-5000" ]
	# ... nor into a member's stored value: stored_value named covers only the rest (none)
	mbr-sale -q add --member M0002 --payment "gift_card=$g" R5 D400:1:50.00 >/dev/null
	mbr-sale -q add --original R5 --payment stored_value R6 D400:-1:50.00 >/dev/null
	[ "$(bal "$g")" = "50.00,0.00,50.00" ]
	[ "$(bal M0002)" = "0.00,0.00,0.00" ]
	# half paid with stored value, half in cash: half of the return each way
	mbr-card -q topup M0003 100
	mbr-sale -q add --member M0003 --payment 'stored_value:20.00;cash' R7 D400:1:40.00 >/dev/null
	mbr-sale -q add --original R7 R8 D400:-1:40.00 >/dev/null
	[ "$(bal M0003)" = "100.00,0.00,100.00" ]
	[ "$(q "SELECT group_concat(method || ':' || amount) FROM (SELECT method, amount FROM payments WHERE sale = (SELECT id FROM sales WHERE receipt = 'R8') ORDER BY method)")" = "cash:-2000,stored_value:-2000" ]
	# a wrong share or another gift card is refused, naming the share
	mbr-sale -q add --member M0003 --payment stored_value R9 D400:1:40.00 >/dev/null
	run --separate-stderr mbr-sale add --original R9 --payment 'stored_value:-10.00;cash' R10 D400:-1:40.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"this return of receipt 'R9' gives back 40.00 to stored value by itself; leave stored_value out of its payment"* ]]
	sound
}

# ------------------------------------------------------------- count cards

@test "count cards: sell, use through a sale import, list, refund the unused at the price per use rounded down" {
	run --separate-stderr mbr-card count-sell M0001 WASH 10 15.00
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^S01-[0-9]+$ ]]
	card=$output
	cat >w.csv <<-'EOF'
	store,receipt,ts,member,sku,qty,unit_price,payment
	S01,W1,2026-11-22 09:00,M0001,WASH,3,5.00,cash
	S01,W1,2026-11-22 09:00,M0001,A100,1,12.80,cash
	S01,W2,2026-11-22 09:30,M0002,WASH,1,5.00,cash
	EOF
	run --separate-stderr mbr-sale import w.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(q "SELECT amount || ',' || discount FROM sale_lines WHERE sku = 'WASH' AND sale = (SELECT id FROM sales WHERE receipt = 'W1')")" = "0,1500" ]
	[ "$(q "SELECT total FROM sales WHERE receipt = 'W1'")" = 1280 ]
	[ "$(q "SELECT total FROM sales WHERE receipt = 'W2'")" = 500 ]	# M0002 holds no card
	run --separate-stderr mbr-card count-list --format csv M0001
	[ "$status" -eq 0 ]
	[ "$output" = "card,sku,uses,uses_left,price,expires,state,store
$card,WASH,10,7,15.00,,active,S01" ]
	run --separate-stderr mbr-card -n count-refund "$card"
	[ "$status" -eq 0 ]
	[ "$output" = "10.50" ]
	[ "$stderr" = "mbr-card: dry run, nothing written" ]
	[ "$(q "SELECT uses_left FROM count_cards")" = 7 ]
	run --separate-stderr mbr-card count-refund "$card"
	[ "$status" -eq 0 ]
	[ "$output" = "10.50" ]
	[ "$(q "SELECT uses_left || ',' || state FROM count_cards")" = "0,refunded" ]
	run --separate-stderr mbr-card count-refund "$card"
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: count card $card was already refunded" ]
	sound
}

@test "count cards: 3 uses for 10.00, one used, refund 6.66; refusals" {
	card=$(mbr-card count-sell --payment card M0003 MASSAGE 3 10.00)
	printf 'store,receipt,ts,member,sku,qty,unit_price\nS01,K1,2026-11-22 09:00,M0003,MASSAGE,1,4.00\n' >k.csv
	mbr-sale -q import k.csv
	run --separate-stderr mbr-card count-refund "$card"
	[ "$status" -eq 0 ]
	[ "$output" = "6.66" ]
	run --separate-stderr mbr-card count-refund S01-999
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: no count card S01-999" ]
	run --separate-stderr mbr-card count-sell M9999 WASH 10 15.00
	[ "$status" -eq 3 ]
	run --separate-stderr mbr-card count-sell M0001 WASH x 15.00
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-card count-sell M0001 WASH 0 15.00
	[ "$status" -eq 2 ]
	run --separate-stderr mbr-card --payment points count-sell M0001 WASH 5 15.00
	[ "$status" -eq 3 ]
	run --separate-stderr mbr-card --payment stored_value count-sell M0001 WASH 5 15.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"has 0.00 of stored value, not 15.00"* ]]
	mbr-card -q topup M0001 20
	run --separate-stderr mbr-card --payment stored_value count-sell M0001 WASH 5 15.00
	[ "$status" -eq 0 ]
	[ "$(bal M0001)" = "5.00,0.00,5.00" ]
	sound
}

# ------------------------------------------------------------------ reports

@test "report settlement: stored value paid in at S01 and spent at S02, points earned at S01 and redeemed at S02" {
	mbr-card -q topup M0001 1000	# at S01: 1000 + 100
	mbr-card -q --store S02 topup M0001 500	# at S02: 500 + 30
	cat >x.csv <<-'EOF'
	store,receipt,ts,member,sku,qty,unit_price,payment
	S02,X1,2026-11-20 10:00,M0001,X1,1,1200.00,stored_value
	S01,P1,2026-11-20 11:00,M0002,X1,1,100.00,cash
	S02,P2,2026-11-21 12:00,M0002,X1,1,10.00,points:0.50;cash
	EOF
	run --separate-stderr mbr-sale import x.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	run --separate-stderr mbr-report settlement --format csv
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	# 1200.00 of 1500 + 130: principal 1104.29, bonus 95.71; FIFO: S01's lot gives 1000.00 + 95.71
	[ "$output" = "paid_in_at,used_at,stored_value,principal,bonus,points,count_uses,count_value
S01,S02,1095.71,1000.00,95.71,50,0,0.00" ]
	run --separate-stderr mbr-report settlement --format csv --from 2026-11-21 --to 2026-11-21
	[ "$status" -eq 0 ]
	[ "$output" = "paid_in_at,used_at,stored_value,principal,bonus,points,count_uses,count_value
S01,S02,0.00,0.00,0.00,50,0,0.00" ]
	run --separate-stderr mbr-report settlement --format csv --from 2026-11-22
	[ "$output" = "paid_in_at,used_at,stored_value,principal,bonus,points,count_uses,count_value" ]
	run --separate-stderr mbr-report settlement --from nope
	[ "$status" -eq 2 ]
}

@test "report liability: stored value, gift cards, count cards and points owed" {
	mbr-card -q topup M0001 1000
	mbr-card -q topup M0002 500
	mbr-card gift-create 2 100.00 >/dev/null
	mbr-card count-sell M0003 WASH 3 10.00 >/dev/null
	printf 'store,receipt,ts,member,sku,qty,unit_price,payment\nS01,L1,2026-11-22 09:00,M0004,X1,1,88.00,cash\n' >l.csv
	mbr-sale -q import l.csv
	run --separate-stderr mbr-report liability --format csv
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "what,accounts,principal,bonus,total
stored value,2,1500.00,130.00,1630.00
gift cards,2,200.00,0.00,200.00
expired gift cards,0,0.00,0.00,0.00
count cards,1,10.00,0.00,10.00
expired count cards,0,0.00,0.00,0.00
points,1,88,,88" ]
	run --separate-stderr mbr-report liability --format table
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "what                 accounts  principal   bonus    total" ]
	[ "${lines[1]}" = "stored value                2    1500.00  130.00  1630.00" ]
	[ "${lines[6]}" = "points                      1         88               88" ]
}

@test "report liability: gift and count cards past their expiry are on rows of their own" {
	MBR_NOW="2026-01-01 10:00" mbr-card --expires 2026-01-31 gift-create 1 50.00 >/dev/null
	MBR_NOW="2026-01-01 10:00" mbr-card gift-create 1 20.00 >/dev/null
	MBR_NOW="2026-01-01 10:00" mbr-card --expires 2026-01-31 count-sell M0003 WASH 4 20.00 >/dev/null
	run --separate-stderr env MBR_NOW="2026-01-15 10:00" mbr-report liability --format csv
	[ "$status" -eq 0 ]
	[[ "$output" == *"
gift cards,2,70.00,0.00,70.00
expired gift cards,0,0.00,0.00,0.00
count cards,1,20.00,0.00,20.00
expired count cards,0,0.00,0.00,0.00
"* ]]
	run --separate-stderr env MBR_NOW="2026-02-01 10:00" mbr-report liability --format csv
	[ "$status" -eq 0 ]
	[[ "$output" == *"
gift cards,1,20.00,0.00,20.00
expired gift cards,1,50.00,0.00,50.00
count cards,0,0.00,0.00,0.00
expired count cards,1,20.00,0.00,20.00
"* ]]
}

@test "nightly.sh: the liability section shows what is owed in prepaid value" {
	mbr-card -q topup M0001 1000
	mbr-card count-sell M0003 WASH 3 10.00 >/dev/null
	cp "$EX/sales-2025-03-01.csv" .
	export PATH="$MBR_TOP/bin:$PATH"
	run --separate-stderr sh "$EX/nightly.sh" sales-2025-03-01.csv 2025-03-01
	echo "$output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	sec=$(printf '%s\n' "$output" | sed -n '/^liability$/,$p')
	[ "$(printf '%s\n' "$sec" | sed -n 2p)" = "what                 accounts  principal   bonus    total" ]
	printf '%s\n' "$sec" | grep -Eq '^stored value +1 +1000\.00 +100\.00 +1100\.00$'
	printf '%s\n' "$sec" | grep -Eq '^count cards +1 +10\.00 +0\.00 +10\.00$'
	printf '%s\n' "$sec" | grep -Eq '^points +4 +'
}

# -------------------------------------------------------------------- check

@test "mbr-db check: passes after everything above, fails (exit 1) after tampering a cached balance or uses_left" {
	mbr-card -q topup M0001 1000
	card=$(mbr-card count-sell M0001 WASH 10 15.00)
	mbr-card gift-create 1 50 >/dev/null
	sound
	q "UPDATE members SET sv_principal = sv_principal + 1 WHERE id = 1"
	run --separate-stderr mbr-db check
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "stored value differs from ledger: S01-2, cached principal 1000.01 bonus 100.00, ledger principal 1000.00 bonus 100.00" ]
	[[ "$stderr" == *"1 problem found"* ]]
	q "UPDATE members SET sv_principal = sv_principal - 1 WHERE id = 1"
	sound
	q "UPDATE count_cards SET uses_left = 9 WHERE uid = '$card'"
	run --separate-stderr mbr-db check
	[ "$status" -eq 1 ]
	[ "$output" = "count card uses differ from ledger: $card, cached 9, ledger 10" ]
	q "UPDATE count_cards SET uses_left = 10"
	q "UPDATE gift_cards SET bonus = 1"
	run --separate-stderr mbr-db check
	[ "$status" -eq 1 ]
	[[ "$output" == "gift card differs from ledger: "*", cached principal 50.00 bonus 0.01, ledger principal 50.00 bonus 0.00" ]]
}

# ------------------------------------------------------- edges found later

@test "payout after a mixed-sign adjustment pays what is there; a gift card is never paid out; a frozen account is unfrozen first" {
	mbr-card -q topup M0001 100
	mbr-card -q --reason "fix" adjust M0001 -1.00 0.50
	[ "$(bal M0001)" = "99.00,0.50,99.50" ]
	run --separate-stderr mbr-card -q freeze M0001
	run --separate-stderr mbr-card payout M0001
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"frozen"* ]]
	mbr-card -q unfreeze M0001
	run --separate-stderr mbr-card payout M0001
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "99.00,0.50" ]
	[ "$(bal M0001)" = "0.00,0.00,0.00" ]
	g=$(mbr-card gift-create 1 50 | sed -n 2p)
	run --separate-stderr mbr-card payout "$g"
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: a gift card is spent, not paid out" ]
	[ "$(bal "$g")" = "50.00,0.00,50.00" ]
	sound
}

@test "an unknown --store is refused for top-ups and card sales" {
	run --separate-stderr mbr-card --store NOPE topup M0001 100
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"no store 'NOPE'"* ]]
	run --separate-stderr mbr-card --store NOPE count-sell M0001 WASH 3 30
	[ "$status" -eq 3 ]
	[ "$(q "SELECT COUNT(*) FROM sv_ledger") $(q "SELECT COUNT(*) FROM count_cards")" = "0 0" ]
	mbr-card -q --store S02 topup M0001 100
	[ "$(q "SELECT store FROM sv_ledger")" = S02 ]
}

@test "count-refund: a card bought with stored value goes back to stored value, bonus as bonus; an expired card's uses lapsed" {
	mbr-card -q topup M0001 1000		# 1000 + 100
	card=$(mbr-card --payment stored_value count-sell M0001 WASH 10 110.00)
	# 110.00 of 1000 + 100 pro rata: principal 100.00, bonus 10.00
	[ "$(bal M0001)" = "900.00,90.00,990.00" ]
	run --separate-stderr mbr-card --payment cash count-refund "$card"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "110.00" ]
	[ "$stderr" = "mbr-card: $card: 110.00 paid back by stored_value" ]
	[ "$(bal M0001)" = "1000.00,100.00,1100.00" ]
	old=$(MBR_NOW=2026-01-01T10:00:00Z mbr-card --expires 2026-06-30 count-sell M0002 WASH 5 50)
	run --separate-stderr mbr-card count-refund "$old"
	[ "$status" -eq 3 ]
	echo "$stderr"
	[[ "$stderr" == *"count card $old expired on 2026-06-30"*"its uses lapsed"* ]]
	[ "$(q "SELECT state FROM count_cards WHERE uid = '$old'")" = active ]
	sound
}

@test "count-refund --payment stored_value: taken for a card bought with stored value, refused (exit 3) for one bought with cash" {
	mbr-card -q topup M0001 1000		# 1000 + 100
	card=$(mbr-card --payment stored_value count-sell M0001 WASH 10 110.00)
	run --separate-stderr mbr-card --payment stored_value count-refund "$card"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "110.00" ]
	[ "$stderr" = "mbr-card: $card: 110.00 paid back by stored_value" ]
	[ "$(bal M0001)" = "1000.00,100.00,1100.00" ]
	cash=$(mbr-card count-sell M0001 WASH 5 50.00)
	snap=$(snapshot)
	run --separate-stderr mbr-card --payment stored_value count-refund "$cash"
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: count card $cash was not bought with stored value; its refund is paid with cash, card, wechat, alipay or other" ]
	[ "$(snapshot)" = "$snap" ]
	sound
}

@test "undo of a sales batch gives back the stored value, gift-card value, count-card uses and coupons its sales used" {
	mbr-card -q topup M0001 1000		# 1000 + 100
	g=$(mbr-card gift-create 1 50 | sed -n 2p)
	card=$(mbr-card count-sell M0002 WASH 5 50.00)
	mbr-coupon -q create C5 --type amount --value 5
	c=$(mbr-coupon --member M0003 issue C5 | sed -n 2p | cut -d, -f2)
	before=$(for a in M0001 "$g"; do bal "$a"; done; q "SELECT uses_left FROM count_cards"; q "SELECT state FROM coupons")
	cat >u.csv <<-CSV
	store,receipt,ts,member,sku,qty,unit_price,payment,coupon
	S01,U1,2026-11-22 09:00,M0001,X1,1,110.00,stored_value,
	S01,U2,2026-11-22 09:05,,X1,1,20.00,gift_card=$g,
	S01,U3,2026-11-22 09:10,M0002,WASH,2,10.00,cash,
	S01,U4,2026-11-22 09:15,M0003,X1,1,30.00,cash,$c
	CSV
	run --separate-stderr mbr-sale import u.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	batch=$(q "SELECT batch FROM sales WHERE receipt = 'U1'")
	[ "$(bal M0001)" = "900.00,90.00,990.00" ]
	[ "$(bal "$g")" = "30.00,0.00,30.00" ]
	[ "$(q "SELECT uses_left FROM count_cards")" = 3 ]
	[ "$(q "SELECT state FROM coupons")" = redeemed ]
	run --separate-stderr mbr-sale undo "$batch"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(for a in M0001 "$g"; do bal "$a"; done; q "SELECT uses_left FROM count_cards"; q "SELECT state FROM coupons")" = "$before" ]
	[ "$(q "SELECT COUNT(*) FROM sales")" = 0 ]
	sound
	# the sales can be imported again, and use all of it again
	mbr-sale -q import u.csv
	[ "$(bal M0001)" = "900.00,90.00,990.00" ]
	[ "$(q "SELECT state FROM coupons")" = redeemed ]
	sound
}

@test "undo is refused when an account its sales paid from has stored-value activity since" {
	mbr-card -q topup M0001 1000
	printf 'store,receipt,ts,member,sku,qty,unit_price,payment\nS01,V1,2026-11-22 09:00,M0001,X1,1,110.00,stored_value\n' >v.csv
	mbr-sale -q import v.csv
	batch=$(q "SELECT batch FROM sales WHERE receipt = 'V1'")
	mbr-card -q payout M0001
	snap=$(snapshot)
	run --separate-stderr mbr-sale undo "$batch"
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"cannot be undone: S01-2 has stored-value activity since (payout"* ]]
	[ "$(snapshot)" = "$snap" ]
	sound
}

@test "undo: a return's batch, then its sale's batch (stored value back as before); a top-up since still blocks" {
	mbr-card -q topup M0001 1000		# 1000 + 100
	mbr-sale -q add --member M0001 --payment stored_value R1 X1:1:110.00
	sale=$(q "SELECT batch FROM sales WHERE receipt = 'R1'")
	mbr-sale -q add --original R1 --payment stored_value R2 X1:-1:110.00
	ret=$(q "SELECT batch FROM sales WHERE receipt = 'R2'")
	mbr-sale -q undo "$ret"
	[ "$(bal M0001)" = "900.00,90.00,990.00" ]
	run --separate-stderr mbr-sale undo "$sale"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-sale: batch $sale undone: 1 receipts removed" ]
	[ "$(bal M0001)" = "1000.00,100.00,1100.00" ]
	sound
	# real activity since an undone batch still blocks
	mbr-sale -q add --member M0001 --payment stored_value R3 X1:1:110.00
	sale=$(q "SELECT batch FROM sales WHERE receipt = 'R3'")
	mbr-sale -q add --original R3 --payment stored_value R4 X1:-1:110.00
	mbr-sale -q undo "$(q "SELECT batch FROM sales WHERE receipt = 'R4'")"
	mbr-card -q topup M0001 10
	snap=$(snapshot)
	run --separate-stderr mbr-sale undo "$sale"
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"cannot be undone: S01-2 has stored-value activity since (topup"* ]]
	[ "$(snapshot)" = "$snap" ]
}

@test "report settlement: an undone sale paid at another store shows no flow, and its payout is the top-up's" {
	mbr-card -q topup M0001 1000		# at S01: 1000 + 100
	mbr-points -q --reason seed earn M0001 50 >/dev/null	# at S01
	mbr-sale -q add --store S02 --member M0001 --payment 'stored_value;points:0.50' R1 X1:1:110.00
	[ "$(mbr-report settlement --format csv | sed -n 2p)" = "S01,S02,109.50,99.54,9.96,50,0,0.00" ]
	mbr-sale -q undo "$(q "SELECT batch FROM sales WHERE receipt = 'R1'")"
	run --separate-stderr mbr-report settlement --format csv
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "paid_in_at,used_at,stored_value,principal,bonus,points,count_uses,count_value" ]
	top=$(q "SELECT id FROM sv_ledger WHERE kind = 'topup'")
	run --separate-stderr mbr-card --topup "$top" payout M0001
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "1000.00,100.00" ]
	sound
}

@test "a return of a sale paid with count-card uses gives the uses back, and money only for what money paid" {
	card=$(mbr-card count-sell M0001 WASH 2 8.00)
	cat >w.csv <<-'CSV'
	store,receipt,ts,member,sku,qty,unit_price,original
	S01,W1,2026-11-22 09:00,M0001,WASH,3,5.00,
	S01,X1,2026-11-22 10:00,,WASH,-1,5.00,W1
	S01,X2,2026-11-22 11:00,,WASH,-2,5.00,W1
	CSV
	run --separate-stderr mbr-sale import w.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	# W1: two units paid with uses, one with 5.00; X1 gives one use back and no money;
	# X2 gives the other use back and the 5.00
	[ "$(q "SELECT receipt || ':' || total FROM sales ORDER BY id")" = "W1:500
X1:0
X2:-500" ]
	[ "$(q "SELECT uses_left FROM count_cards")" = 2 ]
	[ "$(q "SELECT uses FROM count_card_ledger WHERE kind = 'use' ORDER BY id")" = "-2
1
1" ]
	# nothing more to return
	printf 'store,receipt,ts,member,sku,qty,unit_price,original\nS01,X3,2026-11-22 12:00,,WASH,-1,5.00,W1\n' >x3.csv
	run --separate-stderr mbr-sale import x3.csv
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"exceeds"* ]]
	sound
}

@test "a return cannot give uses back to a count card refunded since" {
	card=$(mbr-card count-sell M0001 WASH 3 9.00)
	printf 'store,receipt,ts,member,sku,qty,unit_price\nS01,W1,2026-11-22 09:00,M0001,WASH,1,5.00\n' >w.csv
	mbr-sale -q import w.csv
	mbr-card -q count-refund "$card" >/dev/null
	printf 'store,receipt,ts,member,sku,qty,unit_price,original\nS01,X1,2026-11-22 10:00,,WASH,-1,5.00,W1\n' >x.csv
	run --separate-stderr mbr-sale import x.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"count card $card, whose uses paid for WASH, was refunded since"* ]]
	[ "$(q "SELECT COUNT(*) FROM sales")" = 1 ]
	sound
}

@test "report settlement: count cards sold at one store and used at another, at the price paid per use" {
	card=$(mbr-card count-sell M0001 WASH 3 10.00)	# sold at S01: 3.33 a use
	cat >c.csv <<-'CSV'
	store,receipt,ts,member,sku,qty,unit_price,original
	S02,C1,2026-11-20 10:00,M0001,WASH,2,5.00,
	S01,C2,2026-11-20 11:00,M0001,WASH,1,5.00,
	S02,C3,2026-11-21 10:00,M0001,WASH,-1,5.00,C1
	CSV
	mbr-sale -q import c.csv
	run --separate-stderr mbr-report settlement --format csv
	echo "$output"
	[ "$status" -eq 0 ]
	# two uses at S02 (6.66), one given back there (-3.33): one use, 3.33; the use at S01 is S01's own
	[ "$output" = "paid_in_at,used_at,stored_value,principal,bonus,points,count_uses,count_value
S01,S02,0.00,0.00,0.00,0,1,3.33" ]
	run --separate-stderr mbr-report settlement --format csv --from 2026-11-20 --to 2026-11-20
	[ "$output" = "paid_in_at,used_at,stored_value,principal,bonus,points,count_uses,count_value
S01,S02,0.00,0.00,0.00,0,2,6.66" ]
}

@test "a gift card code with two characters swapped is said to be mistyped, an unknown one unknown" {
	g=$(mbr-card gift-create 1 10 | sed -n 2p)
	# swap the first two adjacent characters that differ
	bad=$(printf '%s' "$g" | awk '{ for (i = 1; i < length($0); i++) if (substr($0, i, 1) != substr($0, i + 1, 1)) {
		print substr($0, 1, i - 1) substr($0, i + 1, 1) substr($0, i, 1) substr($0, i + 2); exit } }')
	[ -n "$bad" ] && [ "$bad" != "$g" ]
	run --separate-stderr mbr-card balance "$bad"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"mistyped: "*"fails its check character"* ]]
	run --separate-stderr mbr-card balance NOPE
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-card: no member or gift card 'NOPE'" ]
}
