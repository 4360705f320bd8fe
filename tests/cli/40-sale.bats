#!/usr/bin/env bats
# mbr-sale: importing POS exports (all or nothing, --skip-bad with a
# rejects file, foreign layouts through --map), single sales with `add`,
# returns and their points, payments, undo of a batch, and the full UCI
# Online Retail file.  Every test starts from a fresh database in its own
# temp dir; status, stdout and stderr are asserted separately.
#
# Points of the example data (examples/rules.txt: 1 point per 1.00,
# 生鲜 x2, weekend x1.5, rounded down per receipt; 2025-03-01 is a Saturday,
# 2025-03-02 a Sunday):
#   R1001 M0001 (25.60 + 14.60 x2) x1.5 = 82.2  -> 82
#   R1002 no member                              -> 0
#   R1003 M0002 (39.90 + 7.00) x1.5 = 70.35      -> 70
#   R2001 M0003 (14.40 x2 + 9.90) x1.5 = 58.05   -> 58   (store S02)
#   R1004 M0004 119.70 x1.5 = 179.55             -> 179
#   day 1: 5 receipts, 8 lines, 237.10, 389 points

bats_require_minimum_version 1.5.0

load common

setup() {
	shop_setup
}

# members, products and rules from examples/
load_examples() {
	mbr-add -q "$EX/members.csv"
	mbr-sale -q products "$EX/products.csv"
	mbr-points -q rules load "$EX/rules.txt"
}

# the points balance of a member, as a bare number
bal() {
	mbr-points balance --format csv "$1" | sed -n '2s/,.*//p'
}

# everything but the audit log, the batches and the time-stamped settings
snapshot() {
	for t in sales sale_lines payments return_matches points_ledger points_lots members products agg_store_day agg_member_day agg_category_day; do
		echo "== $t"
		q "SELECT * FROM $t ORDER BY 1, 2"
	done
}

@test "import: the example day loads; summary names batch, receipts and points" {
	load_examples
	run --separate-stderr mbr-sale import "$EX/sales-2025-03-01.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	echo "$stderr"
	[[ "$stderr" =~ batch\ [0-9]+: ]]
	[[ "$stderr" == *"5 receipts (0 returns), 8 lines, amount 237.10"* ]]
	[[ "$stderr" == *"points +389 earned, -0 reversed, -0 redeemed, +0 refunded"* ]]
	[ "$(q 'SELECT COUNT(*), SUM(total), SUM(points_earned) FROM sales')" = "5|23710|389" ]
	[ "$(bal M0001)" = 82 ]
	[ "$(bal M0002)" = 70 ]
	[ "$(bal M0003)" = 58 ]
	[ "$(bal M0004)" = 179 ]
	[ "$(bal M0005)" = 0 ]
	run --separate-stderr mbr-db check
	[ "$status" -eq 0 ]
}

@test "import: re-importing the same file changes nothing" {
	load_examples
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	before=$(snapshot)
	batches=$(q 'SELECT COUNT(*) FROM batches')
	audit=$(q 'SELECT COUNT(*) FROM audit')
	run --separate-stderr mbr-sale import "$EX/sales-2025-03-01.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	echo "$stderr"
	[[ "$stderr" == *"sales-2025-03-01.csv: nothing recorded, no batch: 0 receipts"* ]]
	[[ "$stderr" == *"5 receipts already imported, skipped: nothing new in this file"* ]]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 5 ]
	[ "$(q 'SELECT COUNT(*) FROM points_ledger')" = 4 ]
	[ "$(snapshot)" = "$before" ]
	# not even a batch or an audit entry
	[ "$(q 'SELECT COUNT(*) FROM batches')" = "$batches" ]
	[ "$(q 'SELECT COUNT(*) FROM audit')" = "$audit" ]
	# a file with a header only records nothing either
	head -n 1 "$EX/sales-2025-03-01.csv" >"$BATS_TEST_TMPDIR/empty.csv"
	run --separate-stderr mbr-sale import "$BATS_TEST_TMPDIR/empty.csv"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"empty.csv: nothing recorded, no batch: 0 receipts"* ]]
	[ "$(q 'SELECT COUNT(*) FROM batches')" = "$batches" ]
	# nor does add of a receipt recorded already (S01,R1002,...,C300,3,2.00,,cash)
	run --separate-stderr mbr-sale add --store S01 --ts '2025-03-01 10:05:31' --payment cash R1002 C300:3:2.00
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-sale: receipt 'R1002' at store S01 is already recorded; nothing written" ]
	# but one that says something else under its number is refused (exit 3)
	run --separate-stderr mbr-sale add --store S01 --ts '2025-03-01 10:05:31' --payment cash R1002 C300:1:1.00
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	b=$(q "SELECT batch FROM sales WHERE receipt = 'R1002'")
	[ "${stderr_lines[0]}" = "mbr-sale: add:1: receipt: 'R1002' is already recorded with total 6.00 and 3 items, not 1.00 and 1; if these lines are part of it (its lines were apart in the file), undo batch $b, sort the file by receipt and import it again; else give this receipt another number" ]
	[ "${stderr_lines[1]}" = "mbr-sale: 1 bad receipt; nothing imported" ]
	[ "$(snapshot)" = "$before" ]
	[ "$(q 'SELECT COUNT(*) FROM batches')" = "$batches" ]
	[ "$(q 'SELECT COUNT(*) FROM audit')" = "$audit" ]
	mbr-db -q check
}

@test "import: points beyond what one operation may move are refused, never wrapped around" {
	mbr-add -q --member-no M1 --name A --phone 13800000001 >/dev/null
	printf 'effective 2025-01-01\nbase 1 per 0.01\nmultiplier dates 2025-01-01..2025-12-31 x1000\nmultiplier category big x1000\n' >r.txt
	mbr-points -q rules load r.txt
	printf 'sku,name,category,price\nB1,big,big,1.00\n' >p.csv
	mbr-sale -q products p.csv
	run --separate-stderr mbr-sale add --ts '2025-03-03 10:00' --member M1 R2 B1:1:100000000.00
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "${stderr_lines[0]}" = "mbr-sale: add:1: points: the receipt would earn more than 1000000000000 points" ]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 0 ]
	# the most is fine: 1.00 earns 100 x 1000 x 1000
	run --separate-stderr mbr-sale add --ts '2025-03-03 10:00' --member M1 R3 B1:1:10000.00
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R3,10000.00,1000000000000" ]
	mbr-db -q check
}

@test "import: a receipt total beyond 10^15 minor units is refused, so a day's figures cannot overflow" {
	# two receipts of 9e16 minor units each would overflow a day's sum
	printf 'store,receipt,ts,sku,qty,unit_price\nS01,R1,2025-03-03 10:00,A,100,900000000000000.00\nS01,R2,2025-03-03 11:00,A,1000,9000000000000.00\nS01,R3,2025-03-03 12:00,A,1,10000000000000.00\nS01,R4,2025-03-03 12:00,A,-1,10000000000000.01\n' >big.csv
	run --separate-stderr mbr-sale --skip-bad --rejects rej.csv import big.csv
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "${stderr_lines[0]}" = "mbr-sale: big.csv:2: amount: the receipt's total is beyond 10000000000000.00 either way" ]
	[ "${stderr_lines[1]}" = "mbr-sale: big.csv:3: amount: the receipt's total is beyond 10000000000000.00 either way" ]
	[ "${stderr_lines[2]}" = "mbr-sale: big.csv:5: amount: the receipt's total is beyond 10000000000000.00 either way" ]
	# the most goes in, and the day's figures are exact
	[ "$(q 'SELECT receipt, total FROM sales')" = "R3|1000000000000000" ]
	[ "$(mbr-report sales | sed -n 2p | cut -d, -f1-4)" = "2025-03-03,1,0,10000000000000.00" ]
	[ "$(wc -l <rej.csv)" = 4 ]
	mbr-db -q check
}

@test "import: a bad amount rejects the whole file (exit 3), nothing written" {
	load_examples
	sed '3s/,15\.60,/,abc,/' "$EX/sales-2025-03-01.csv" >bad.csv
	grep -q ',abc,' bad.csv
	before=$(snapshot)
	batches=$(q 'SELECT COUNT(*) FROM batches')
	run --separate-stderr mbr-sale import bad.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "mbr-sale: bad.csv:3: unit_price: 'abc' is not an amount" ]
	[[ "$stderr" == *"nothing imported"* ]]
	[ "$(snapshot)" = "$before" ]
	[ "$(q 'SELECT COUNT(*) FROM batches')" = "$batches" ]
}

@test "import --skip-bad --rejects: good receipts load, the bad receipt goes whole to the rejects file" {
	load_examples
	sed '3s/,15\.60,/,abc,/' "$EX/sales-2025-03-01.csv" >bad.csv
	run --separate-stderr mbr-sale import --skip-bad --rejects rej.csv bad.csv
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"bad.csv:3: unit_price: 'abc' is not an amount"* ]]
	[[ "$stderr" == *"4 receipts (0 returns), 6 lines"* ]]
	[[ "$stderr" == *"1 receipt (2 lines) rejected"* ]]
	# R1001 is out, the other four are in
	[ "$(q "SELECT group_concat(receipt, ' ') FROM (SELECT receipt FROM sales ORDER BY receipt)")" = "R1002 R1003 R1004 R2001" ]
	[ "$(bal M0001)" = 0 ]
	[ "$(bal M0004)" = 179 ]
	# header + reject_reason, then every line of R1001 with the reason
	cat rej.csv
	[ "$(sed -n 1p rej.csv)" = "store,receipt,ts,member,sku,qty,unit_price,discount,payment,reject_reason" ]
	[ "$(wc -l <rej.csv)" -eq 3 ]
	[ "$(sed -n 2p rej.csv)" = "S01,R1001,2025-03-01 09:12:00,M0001,A100,2,12.80,,wechat,unit_price: 'abc' is not an amount" ]
	[ "$(sed -n 3p rej.csv)" = "S01,R1001,2025-03-01 09:12:00,M0001,B200,1,abc,1.00,wechat,unit_price: 'abc' is not an amount" ]
	mbr-db -q check
}

@test "import: the fixed rejects file can be fed back" {
	load_examples
	sed '3s/,15\.60,/,abc,/' "$EX/sales-2025-03-01.csv" >bad.csv
	run mbr-sale -q import --skip-bad --rejects rej.csv bad.csv
	[ "$status" -eq 1 ]
	sed 's/,abc,/,15.60,/' rej.csv >fixed.csv
	run --separate-stderr mbr-sale import fixed.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(q 'SELECT COUNT(*), SUM(total) FROM sales')" = "5|23710" ]
	[ "$(bal M0001)" = 82 ]
}

@test "import: --rejects without --skip-bad is a usage error" {
	run --separate-stderr mbr-sale import --rejects rej.csv "$EX/sales-2025-03-01.csv"
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"--rejects needs --skip-bad"* ]]
	[ ! -e rej.csv ]
}

@test "import: an unknown member rejects its receipt" {
	load_examples
	cat >s.csv <<-'EOF'
	store,receipt,ts,member,sku,qty,unit_price
	S01,R1,2025-03-03 10:00:00,M0001,A100,1,12.80
	S01,R2,2025-03-03 10:05:00,M9999,A100,1,12.80
	EOF
	run --separate-stderr mbr-sale import s.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"s.csv:3: member: unknown member 'M9999'"* ]]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 0 ]
	run --separate-stderr mbr-sale import --skip-bad --rejects rej.csv s.csv
	echo "$stderr"
	[ "$status" -eq 1 ]
	[ "$(q 'SELECT receipt FROM sales')" = R1 ]
	[ "$(sed -n 2p rej.csv)" = "S01,R2,2025-03-03 10:05:00,M9999,A100,1,12.80,member: unknown member 'M9999'" ]
}

@test "import: an unknown store rejects its receipt with a hint to store-add" {
	load_examples
	cat >s.csv <<-'EOF'
	store,receipt,ts,sku,qty,unit_price
	S01,R1,2025-03-03 10:00:00,A100,1,12.80
	S09,R2,2025-03-03 10:05:00,A100,1,12.80
	EOF
	run --separate-stderr mbr-sale import --skip-bad --rejects rej.csv s.csv
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"s.csv:3: store: unknown store 'S09' (add it with mbr-db store-add)"* ]]
	[ "$(q 'SELECT store || receipt FROM sales')" = S01R1 ]
	[ "$(wc -l <rej.csv)" -eq 2 ]
	[[ "$(sed -n 2p rej.csv)" == *"store: unknown store 'S09' (add it with mbr-db store-add)" ]]
}

@test "import --store: an unknown store is refused before anything is read" {
	printf 'receipt,ts,sku,qty,unit_price\nR1,2025-03-03 10:00,A100,1,1.00\n' >s.csv
	run --separate-stderr mbr-sale import --store S77 s.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"unknown store 'S77' (add it with mbr-db store-add)"* ]]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 0 ]
}

@test "import: an unknown SKU is added to the catalogue" {
	load_examples
	cat >s.csv <<-'EOF'
	store,receipt,ts,sku,name,category,qty,unit_price
	S01,R1,2025-03-03 10:00:00,Z999,新品 试吃装,零食,2,3.30
	S01,R1,2025-03-03 10:00:00,A100,,,1,12.80
	EOF
	run --separate-stderr mbr-sale import s.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"1 new product added to the catalogue"* ]]
	[ "$(q "SELECT sku, name, category FROM products WHERE sku = 'Z999'")" = "Z999|新品 试吃装|零食" ]
	[ "$(q 'SELECT COUNT(*) FROM products')" = 8 ]
	[ "$(q 'SELECT total FROM sales')" = 1940 ]
	mbr-db -q check
}

@test "import --map --time-format --store --ignore-unknown: a foreign layout" {
	load_examples
	cat >f.csv <<-'EOF'
	InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
	536365,A100,6,01-12-2010 08:26,2.55,M0001,United Kingdom
	536365,C300,2,01-12-2010 08:26,2.00,M0001,United Kingdom
	536366,C301,1,02-12-2010 09:00,3.50,,France
	EOF
	map=receipt=InvoiceNo,sku=StockCode,qty=Quantity,ts=InvoiceDate,unit_price=UnitPrice,member=CustomerID
	# the unknown Country column is an error unless ignored
	run --separate-stderr mbr-sale import --map "$map" --time-format '%d-%m-%Y %H:%M' --store S02 f.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *Country* ]]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 0 ]
	# without a store column, --store is needed
	run --separate-stderr mbr-sale import --map "$map" --time-format '%d-%m-%Y %H:%M' --ignore-unknown f.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"no store column; give --store"* ]]
	run --separate-stderr mbr-sale import --map "$map" --time-format '%d-%m-%Y %H:%M' --ignore-unknown --store S02 f.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"2 receipts (0 returns), 3 lines, amount 22.80"* ]]
	# store time Asia/Shanghai: 2010-12-01 08:26 local is 00:26 UTC
	[ "$(q "SELECT store, receipt, ts, total FROM sales ORDER BY receipt")" = "S02|536365|$(date -u -d '2010-12-01 00:26:00' +%s)|1930
S02|536366|$(date -u -d '2010-12-02 01:00:00' +%s)|350" ]
	# 2010-12-01 is a Wednesday: 19.30 earns 19
	[ "$(bal M0001)" = 19 ]
	# a time not in the format is a data error with the format named
	printf 'InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n9,A100,1,2010-12-01 08:26,1.00,\n' >g.csv
	run --separate-stderr mbr-sale import --map "$map" --time-format '%d-%m-%Y %H:%M' --store S02 g.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"g.csv:2: ts: '2010-12-01 08:26' is not a time in format %d-%m-%Y %H:%M"* ]]
}

@test "returns: a referenced return reverses points in proportion, adding up exactly" {
	load_examples
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	[ "$(bal M0004)" = 179 ]
	# R1004 was 3 x D400 = 119.70 earning 179; return one at a time
	run --separate-stderr mbr-sale add --ts '2025-03-02 12:30:00' --original R1004 R1006 D400:-1:39.90
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R1006,-39.90,-59" ]
	[ "$(bal M0004)" = 120 ]
	run --separate-stderr mbr-sale add --ts '2025-03-03 12:30:00' --original R1004 R1007 D400:-1:39.90
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R1007,-39.90,-60" ]
	[ "$(bal M0004)" = 60 ]
	# more than is left of the sale is refused
	run --separate-stderr mbr-sale add --ts '2025-03-04 12:30:00' --original R1004 R1008 D400:-2:39.90
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"original: return of 79.80 exceeds the 39.90 left of receipt 'R1004'"* ]]
	# and so are more units than the sale had, or goods it did not have
	run --separate-stderr mbr-sale add --ts '2025-03-04 12:30:00' --original R1004 R1008 D400:-4:5.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"add:1: qty: 4 of D400 returned, but receipt 'R1004' sold 3 of it"* ]]
	run --separate-stderr mbr-sale add --ts '2025-03-04 12:30:00' --original R1004 R1008 A100:-1:12.80
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"add:1: qty: 1 of A100 returned, but receipt 'R1004' sold 0 of it"* ]]
	run --separate-stderr mbr-sale add --ts '2025-03-04 12:30:00' --original R1004 R1008 D400:-1:39.90
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R1008,-39.90,-60" ]
	[ "$(bal M0004)" = 0 ]
	[ "$(q "SELECT returned, points_reversed FROM sales WHERE receipt = 'R1004'")" = "11970|179" ]
	# the example return file does the same through an import
	mbr-db -q check
}

@test "returns: the example day 2 (points payment, referenced return) after day 1" {
	load_examples
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	run --separate-stderr mbr-sale import "$EX/sales-2025-03-02.csv"
	echo "$stderr"
	[ "$status" -eq 0 ]
	# R1005 pays 0.50 with 50 points, earns on 12.30 x1.5 = 18.45 -> 18;
	# R1006 returns a third of R1004: floor(179/3) = 59; R2002 31.20 x2 x1.5 = 93
	[[ "$stderr" == *"3 receipts (1 returns), 3 lines, amount 4.10; points +111 earned, -59 reversed, -50 redeemed, +0 refunded"* ]]
	[ "$(bal M0001)" = 50 ]
	[ "$(bal M0004)" = 120 ]
	[ "$(bal M0005)" = 93 ]
	mbr-db -q check
}

@test "returns: an unreferenced return reverses at the rate it would have earned" {
	load_examples
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	# a Saturday: 12.80 x1.5 = 19.2, rounded toward zero -> 19
	run --separate-stderr mbr-sale add --ts '2025-03-01 20:00:00' --member M0001 R7 A100:-1:12.80
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R7,-12.80,-19" ]
	[ "$(bal M0001)" = 63 ]
	# a Monday, but M0001 bought the fresh food (x2) on Saturday (x1.5) in
	# R1001: scored as of that sale, 15.60 x2 x1.5 = 46.8 -> 46, not the
	# Monday's 31 (which would let a member farm the weekend bonus)
	run --separate-stderr mbr-sale add --ts '2025-03-03 20:00:00' --member M0001 R8 B200:-1:15.60
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R8,-15.60,-46" ]
	[ "$(bal M0001)" = 17 ]
	[ "$(q "SELECT original IS NULL FROM sales WHERE receipt = 'R8'")" = 1 ]
	# goods the member never bought (D400 went to M0004): the Monday's rate, 39
	run --separate-stderr mbr-sale add --ts '2025-03-03 20:05:00' --member M0001 R9 D400:-1:39.90
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R9,-39.90,-39" ]
	# more units than the sale had: no match either, 2 x 12.80 = 25.6 -> 25
	run --separate-stderr mbr-sale add --ts '2025-03-03 20:10:00' --member M0001 R10 A100:-3:12.80
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R10,-38.40,-38" ]
	mbr-db -q check
}

@test "returns: an unreferenced return of goods bought on a bonus day takes back what they earned" {
	load_examples
	# M0005 buys fresh food (x2) on Sunday 2025-03-02 (x1.5): 20.00 x3 = 60
	printf '%s\n' 'store,receipt,ts,member,sku,qty,unit_price,category,payment' \
		'S01,F1,2025-03-02 10:00:00,M0005,FISH,2,10.00,生鲜,cash' >"$BATS_TEST_TMPDIR/buy.csv"
	mbr-sale -q import "$BATS_TEST_TMPDIR/buy.csv"
	[ "$(bal M0005)" = 60 ]
	# ... and returns it on Tuesday without naming the sale, in two returns
	printf '%s\n' 'store,receipt,ts,member,sku,qty,unit_price,category,payment' \
		'S01,F2,2025-03-04 10:00:00,M0005,FISH,-1,10.00,生鲜,cash' \
		'S02,F3,2025-03-04 11:00:00,M0005,FISH,-1,10.00,生鲜,cash' >"$BATS_TEST_TMPDIR/back.csv"
	run --separate-stderr mbr-sale import "$BATS_TEST_TMPDIR/back.csv"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"points +0 earned, -60 reversed"* ]]
	[[ "$stderr" == *"2 returns naming no sale scored as of the member's sale of the goods"* ]]
	# nothing kept: a Tuesday scoring would have taken back 40 and left 20
	[ "$(bal M0005)" = 0 ]
	[ "$(q "SELECT rules_version FROM sales WHERE receipt = 'F2'")" = "$(q "SELECT rules_version FROM sales WHERE receipt = 'F1'")" ]
	mbr-db -q check
}

@test "returns: an unreferenced return is scored by the rules version that scored its matched sale, not one loaded since" {
	mbr-add -q --member-no M1 --name A --phone 13800000001 >/dev/null
	printf 'effective 2025-01-01\nbase 2 per 1.00\n' >v1.txt
	mbr-points -q rules load v1.txt
	run --separate-stderr mbr-sale add --ts '2025-03-03 10:00' --member M1 R1 A:1:10.00
	[ "$output" = "S01,R1,10.00,20" ]
	# a correction effective before the sale, loaded after it
	printf 'effective 2025-03-01\nbase 1 per 1.00\n' >v2.txt
	mbr-points -q rules load v2.txt
	run --separate-stderr mbr-sale add --ts '2025-03-05 10:00' --member M1 R2 A:-1:10.00
	echo "$output $stderr"
	[ "$output" = "S01,R2,-10.00,-20" ]
	[ "$(mbr-points balance --format csv M1 | sed -n '2s/,.*//p')" = 0 ]
	mbr-db -q check
}

@test "returns: an unreferenced return counts against the sale it matched: no goods back twice, undo keeps count" {
	load_examples
	# M0005 buys 2 fish (x2) on Sunday (x1.5): 20.00 x3 = 60
	printf '%s\n' 'store,receipt,ts,member,sku,qty,unit_price,category,payment' \
		'S01,F1,2025-03-02 10:00:00,M0005,FISH,2,10.00,生鲜,cash' >"$BATS_TEST_TMPDIR/buy.csv"
	run --separate-stderr mbr-sale import "$BATS_TEST_TMPDIR/buy.csv"
	buy=$(printf '%s\n' "$stderr" | sed -n 's/.*: batch \([0-9]*\): .*/\1/p')
	# one fish back on Tuesday, naming no sale: as of F1, 30
	printf '%s\n' 'store,receipt,ts,member,sku,qty,unit_price,category,payment' \
		'S01,F2,2025-03-04 10:00:00,M0005,FISH,-1,10.00,生鲜,cash' >"$BATS_TEST_TMPDIR/back.csv"
	run --separate-stderr mbr-sale import "$BATS_TEST_TMPDIR/back.csv"
	back=$(printf '%s\n' "$stderr" | sed -n 's/.*: batch \([0-9]*\): .*/\1/p')
	[ "$(bal M0005)" = 30 ]
	[ "$(q "SELECT returned, points_reversed FROM sales WHERE receipt = 'F1'")" = "1000|30" ]
	[ "$(q "SELECT r.receipt, s.receipt FROM return_matches m JOIN sales r ON r.id = m.ret JOIN sales s ON s.id = m.sale")" = "F2|F1" ]
	# F1's batch cannot be undone under a return that gave its goods back
	run --separate-stderr mbr-sale undo "$buy"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"batch $buy cannot be undone: return S01/F2 (another batch) gave back goods of its receipt 'F1'"* ]]
	# undoing the return's batch gives F1 back what F2 counted
	run --separate-stderr mbr-sale undo "$back"
	[ "$status" -eq 0 ]
	[ "$(q "SELECT returned, points_reversed FROM sales WHERE receipt = 'F1'")" = "0|0" ]
	[ "$(q "SELECT COUNT(*) FROM return_matches")" = 0 ]
	mbr-db -q check
	mbr-sale -q import "$BATS_TEST_TMPDIR/back.csv"
	[ "$(q "SELECT returned, points_reversed FROM sales WHERE receipt = 'F1'")" = "1000|30" ]
	# the second fish: F1 has 10.00 and 30 points left, so it matches again
	run --separate-stderr mbr-sale add --ts '2025-03-04 11:00:00' --member M0005 F3 FISH:-1:10.00
	[ "$status" -eq 0 ]
	[ "$output" = "S01,F3,-10.00,-30" ]
	[ "$(q "SELECT returned, points_reversed FROM sales WHERE receipt = 'F1'")" = "2000|60" ]
	# a third fish (bought elsewhere): F1 has nothing left; a Tuesday, x2: 20
	# (before, it matched F1 again and took 30 of points F1 no longer had)
	run --separate-stderr mbr-sale add --ts '2025-03-04 12:00:00' --member M0005 F4 FISH:-1:10.00
	[ "$status" -eq 0 ]
	[ "$output" = "S01,F4,-10.00,-20" ]
	[ "$(q "SELECT COUNT(*) FROM return_matches m JOIN sales r ON r.id = m.ret WHERE r.receipt = 'F4'")" = 0 ]
	# and naming F1 now gives back nothing more of it
	run --separate-stderr mbr-sale add --ts '2025-03-04 13:00:00' --original F1 F5 FISH:-1:10.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"original: return of 10.00 exceeds the 0.00 left of receipt 'F1'"* ]]
	mbr-db -q check
	# check holds each sale's count to its returns
	q "UPDATE sales SET returned = 0 WHERE receipt = 'F1'"
	run --separate-stderr mbr-db check
	[ "$status" -ne 0 ]
	[[ "$stderr$output" == *"returns aggregate differs from the sales: receipt S01/F1"* ]]
}

@test "returns: goods paid for all in points earned nothing, and their return naming no sale takes nothing" {
	load_examples
	mbr-points -q --reason seed adjust M0001 5000 >/dev/null
	# a Wednesday: 39.90 all in points, 3990 points; earns nothing
	run --separate-stderr mbr-sale add --ts '2026-11-18 10:00' --member M0001 --payment 'points:39.90' P1 D400:1:39.90
	[ "$status" -eq 0 ]
	[ "$output" = "S01,P1,39.90,0" ]
	[ "$(bal M0001)" = 1010 ]
	# given back without naming P1: matched to it, so nothing is taken
	# (before, the return's day scored it: 39 points the goods never earned)
	run --separate-stderr mbr-sale add --ts '2026-11-20 10:00' --member M0001 P2 D400:-1:39.90
	[ "$status" -eq 0 ]
	[ "$output" = "S01,P2,-39.90,0" ]
	[ "$(bal M0001)" = 1010 ]
	[ "$(q "SELECT s.receipt FROM return_matches m JOIN sales s ON s.id = m.sale")" = P1 ]
	mbr-db -q check
}

@test "returns: points paid on a named sale go back to the lots they were paid from, keeping their expiry" {
	load_examples
	lots() { q "SELECT group_concat(remaining, ' ') FROM (SELECT remaining FROM points_lots ORDER BY id)"; }
	# two lots: 399 lapsing 2027-01-07, 199 lapsing 2027-06-10 (Wednesdays, x1)
	mbr-sale -q add --ts '2026-01-07 10:00' --member M0001 A1 D400:10:39.90 >/dev/null
	mbr-sale -q add --ts '2026-06-10 10:00' --member M0001 B1 D400:5:39.90 >/dev/null
	# 500 points pay 5.00 of C1: all of the first lot, 101 of the second
	mbr-sale -q add --ts '2026-11-18 10:00' --member M0001 --payment 'points:5.00;cash' C1 D400:2:39.90 >/dev/null
	[ "$(lots)" = "0 98 74" ]
	# half back: 250 points, last spent first: 101 to the second lot, 149 to
	# the first; no new lot (before, they lapsed 12 months after the return)
	run --separate-stderr mbr-sale add --ts '2026-11-20 10:00' --original C1 C2 D400:-1:39.90
	[ "$status" -eq 0 ]
	[ "$(lots)" = "149 199 37" ]
	[ "$(q "SELECT COUNT(*) FROM points_lots l JOIN points_ledger e ON e.id = l.id WHERE e.kind = 'refund'")" = 0 ]
	mbr-db -q check
	# undo puts the lots back as the sale left them, and the return again
	batch=$(q "SELECT batch FROM sales WHERE receipt = 'C2'")
	mbr-sale -q undo "$batch"
	[ "$(lots)" = "0 98 74" ]
	mbr-db -q check
	mbr-sale -q add --ts '2026-11-20 10:00' --original C1 C2 D400:-1:39.90 >/dev/null
	[ "$(lots)" = "149 199 37" ]
	# the other half after the first lot lapsed: its 250 points come back
	# lapsing at the return, and the next expiry takes them with the rest
	export MBR_NOW=2027-02-01T12:00:00Z
	run --separate-stderr mbr-sale add --ts '2027-02-01 10:00' --original C1 C3 D400:-1:39.90
	[ "$status" -eq 0 ]
	[ "$(q "SELECT l.points, datetime(l.expires_at, 'unixepoch') FROM points_lots l JOIN points_ledger e ON e.id = l.id WHERE e.kind = 'refund'")" = "250|2027-02-01 02:00:00" ]
	run --separate-stderr mbr-points expire
	[ "$stderr" = "mbr-points: 2 lots expired, 399 points" ]
	# what is left is the second lot: paying with points and returning the
	# goods did not lengthen the life of any point
	[ "$(bal M0001)" = 199 ]
	mbr-db -q check
}

@test "import: a receipt naming a key two members answer to is rejected with its line, not the whole import" {
	load_examples
	printf 'member_no,name,phone\n13900000001,Card,13700000001\nM7,Phone,13900000001\n' >"$BATS_TEST_TMPDIR/m.csv"
	mbr-add -q "$BATS_TEST_TMPDIR/m.csv"
	printf '%s\n' 'store,receipt,ts,member,sku,qty,unit_price' \
		'S01,A1,2025-03-03 10:00:00,13900000001,A100,1,12.80' \
		'S01,A2,2025-03-03 10:05:00,M0001,A100,1,12.80' >"$BATS_TEST_TMPDIR/s.csv"
	run --separate-stderr mbr-sale import "$BATS_TEST_TMPDIR/s.csv"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"s.csv:2: member: '13900000001' is ambiguous: it is the member number of member "* ]]
	[ "$(q "SELECT COUNT(*) FROM sales")" = 0 ]
	run --separate-stderr mbr-sale import --skip-bad --rejects "$BATS_TEST_TMPDIR/rej.csv" "$BATS_TEST_TMPDIR/s.csv"
	[ "$status" -eq 1 ]
	[ "$(q "SELECT receipt FROM sales")" = A2 ]
	grep -q '^S01,A1,.*ambiguous' "$BATS_TEST_TMPDIR/rej.csv"
}

@test "payments: a split card:100.00;cash is recorded per method" {
	load_examples
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	[ "$(q "SELECT method, amount FROM payments p JOIN sales s ON s.id = p.sale WHERE s.receipt = 'R1004' ORDER BY method")" = "card|10000
cash|1970" ]
	# amounts that do not add up are refused
	run --separate-stderr mbr-sale add --ts '2025-03-03 10:00:00' --payment 'card:10.00;cash:1.00' R9 A100:1:12.80
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"payment: payments add up to 11.00, the receipt to 12.80"* ]]
	run --separate-stderr mbr-sale add --ts '2025-03-03 10:00:00' --payment 'bitcoin' R9 A100:1:12.80
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"payment: unknown method 'bitcoin'"* ]]
	[ "$(q "SELECT COUNT(*) FROM sales WHERE receipt = 'R9'")" = 0 ]
}

@test "payments: points:5.00 redeems 500 points, and that share earns nothing" {
	load_examples
	mbr-points -q earn M0001 600 >/dev/null
	# a Monday, no multiplier: 25.60 - 5.00 paid with points = 20.60 earns 20
	run --separate-stderr mbr-sale add --ts '2025-03-03 10:00:00' --member M0001 --payment 'points:5.00;cash' R9 A100:2:12.80
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R9,25.60,20" ]
	[ "$(bal M0001)" = 120 ]
	[ "$(q "SELECT points_paid, points_earned FROM sales WHERE receipt = 'R9'")" = "500|20" ]
	[ "$(q "SELECT kind, points FROM points_ledger WHERE ref = 'S01/R9' ORDER BY id")" = "redeem|-500
earn|20" ]
	# more points than the member has: refused, nothing written
	run --separate-stderr mbr-sale add --ts '2025-03-03 11:00:00' --member M0001 --payment 'points:5.00;cash' R10 A100:2:12.80
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"has 120 points, the receipt pays with 500"* ]]
	[ "$(bal M0001)" = 120 ]
	# points need a member
	run --separate-stderr mbr-sale add --ts '2025-03-03 11:00:00' --payment 'points:1.00;cash' R11 A100:1:12.80
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"payment: points need a member"* ]]
	mbr-db -q check
}

@test "add: prints store,receipt,total,points on stdout and a line on stderr" {
	load_examples
	# MBR_NOW is Sunday 2026-11-22 18:00 store time: 25.60 x1.5 = 38.4 -> 38
	run --separate-stderr mbr-sale add R9 A100:2:12.80 --member M0001
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R9,25.60,38" ]
	[[ "$stderr" =~ ^mbr-sale:\ batch\ ([0-9]+):\ sale\ S01/R9\ recorded:\ total\ 25\.60,\ points\ \+38$ ]]
	[ "${BASH_REMATCH[1]}" = "$(q "SELECT batch FROM sales WHERE receipt = 'R9'")" ]
	[ "$(bal M0001)" = 38 ]
	# the same receipt again: nothing written
	run --separate-stderr mbr-sale add R9 A100:2:12.80 --member M0001
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"receipt 'R9' at store S01 is already recorded; nothing written"* ]]
	[ "$(bal M0001)" = 38 ]
	# -q: only the data line
	run --separate-stderr mbr-sale -q add --store S02 R9 C300:1:2.00
	[ "$status" -eq 0 ]
	[ "$output" = "S02,R9,2.00,0" ]
	[ "$stderr" = "" ]
	# a bad item is a usage error
	run --separate-stderr mbr-sale add R10 A100-2
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"item 'A100-2' is not sku:qty:price[:discount]"* ]]
	# the message names the item whole, colons and all
	run --separate-stderr mbr-sale add R10 A100:1:2.00:0:9
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"item 'A100:1:2.00:0:9' is not sku:qty:price[:discount]"* ]]
	run --separate-stderr mbr-sale add R10 "A100:1:$(printf '%0600d' 1)"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"item 1 is longer than 511 bytes"* ]]
	[ "$(sqlite3 "$MBR_DB" "SELECT count(*) FROM sales WHERE receipt = 'R10'")" = 0 ]
}

@test "add --dry-run writes nothing" {
	load_examples
	run --separate-stderr mbr-sale -n add R9 A100:2:12.80 --member M0001
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 0 ]
	[ "$(bal M0001)" = 0 ]
}

@test "undo: a batch is reversed, balances restored, check passes; a second undo is refused" {
	load_examples
	mbr-points -q earn M0001 10 >/dev/null
	run --separate-stderr mbr-sale import "$EX/sales-2025-03-01.csv"
	[ "$status" -eq 0 ]
	batch=$(printf '%s\n' "$stderr" | sed -n 's/.*: batch \([0-9]*\): .*/\1/p')
	[ -n "$batch" ]
	[ "$(bal M0001)" = 92 ]
	run --separate-stderr mbr-sale undo "$batch"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "mbr-sale: batch $batch undone: 5 receipts removed" ]
	[ "$(bal M0001)" = 10 ]
	[ "$(bal M0002)" = 0 ]
	[ "$(bal M0004)" = 0 ]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 0 ]
	[ "$(q 'SELECT COUNT(*) FROM agg_store_day')" = 0 ]
	run --separate-stderr mbr-db check
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	run --separate-stderr mbr-sale undo "$batch"
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"batch $batch was already undone"* ]]
	# the file can be imported again after an undo
	run --separate-stderr mbr-sale import "$EX/sales-2025-03-01.csv"
	[ "$status" -eq 0 ]
	[ "$(bal M0001)" = 92 ]
	mbr-db -q check
}

@test "undo: blocked by a later return, and the message names it" {
	load_examples
	run --separate-stderr mbr-sale import "$EX/sales-2025-03-01.csv"
	batch=$(printf '%s\n' "$stderr" | sed -n 's/.*: batch \([0-9]*\): .*/\1/p')
	mbr-sale -q import "$EX/sales-2025-03-02.csv"
	before=$(snapshot)
	run --separate-stderr mbr-sale undo "$batch"
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"batch $batch cannot be undone: return S01/R1006 (another batch) references its receipt 'R1004'"* ]]
	[ "$(snapshot)" = "$before" ]
	# errors: no such batch, not a sales batch, not a number
	run --separate-stderr mbr-sale undo 999
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"no batch 999"* ]]
	other=$(q "SELECT id FROM batches WHERE kind != 'sales' LIMIT 1")
	[ -n "$other" ]
	run --separate-stderr mbr-sale undo "$other"
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"batch $other is a "*" batch, not sales"* ]]
	run --separate-stderr mbr-sale undo x1
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-sale: no batch 'x1' (give its number or its uid)" ]
}

@test "undo: the later batch with the return can be undone, giving the sale back" {
	load_examples
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	run --separate-stderr mbr-sale import "$EX/sales-2025-03-02.csv"
	batch=$(printf '%s\n' "$stderr" | sed -n 's/.*: batch \([0-9]*\): .*/\1/p')
	# named by its chain-unique uid
	uid=$(q "SELECT uid FROM batches WHERE id = $batch")
	[[ "$uid" == S01-* ]]
	run --separate-stderr mbr-sale undo "$uid"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-sale: batch $batch undone: 3 receipts removed" ]
	[ "$(bal M0001)" = 82 ]
	[ "$(bal M0004)" = 179 ]
	[ "$(bal M0005)" = 0 ]
	[ "$(q "SELECT returned, points_reversed FROM sales WHERE receipt = 'R1004'")" = "0|0" ]
	mbr-db -q check
}

@test "undo: points a sale paid with go back to the lots they came from, with their expiry; expire leaves them" {
	load_examples
	mbr-points -q --reason seed adjust M0001 1000 >/dev/null	# lapses 2027-11-22 (12 months)
	open=$(q "SELECT datetime(expires_at, 'unixepoch'), remaining FROM points_lots WHERE remaining > 0")
	[ "$open" = "2027-11-21 16:00:00|1000" ]
	mbr-sale -q add --ts '2025-03-04 10:00' --member M0001 --payment 'points:5.00;cash' R1 A100:2:12.80
	batch=$(q "SELECT batch FROM sales WHERE receipt = 'R1'")
	[ "$(bal M0001)" = 520 ]
	run --separate-stderr mbr-sale undo "$batch"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(bal M0001)" = 1000 ]
	[ "$(q "SELECT datetime(expires_at, 'unixepoch'), remaining FROM points_lots WHERE remaining > 0")" = "$open" ]
	run --separate-stderr mbr-points expire
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-points: 0 lots expired, 0 points" ]
	[ "$(bal M0001)" = 1000 ]
	mbr-db -q check
}

@test "undo: the later batch first, then the earlier: a return's batch, then its sale's (points and lots as before)" {
	load_examples
	mbr-points -q --reason seed adjust M0001 1000 >/dev/null
	mbr-sale -q add --ts '2026-11-01 10:00' --member M0001 --payment 'points:2.00;cash' R1 A100:10:12.80
	sale=$(q "SELECT batch FROM sales WHERE receipt = 'R1'")
	before=$(q "SELECT id, datetime(expires_at, 'unixepoch'), remaining FROM points_lots WHERE remaining > 0")
	balance=$(bal M0001)
	mbr-sale -q add --ts '2026-11-20 10:00' --original R1 R2 A100:-4:12.80
	ret=$(q "SELECT batch FROM sales WHERE receipt = 'R2'")
	[ "$(bal M0001)" != "$balance" ]
	run --separate-stderr mbr-sale undo "$ret"
	echo "$stderr"
	[ "$status" -eq 0 ]
	# the reversed points are back in the sale's lot, which lapses as it did
	[ "$(bal M0001)" = "$balance" ]
	[ "$(q "SELECT id, datetime(expires_at, 'unixepoch'), remaining FROM points_lots WHERE remaining > 0")" = "$before" ]
	mbr-db -q check
	run --separate-stderr mbr-sale undo "$sale"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-sale: batch $sale undone: 1 receipts removed" ]
	[ "$(bal M0001)" = 1000 ]
	[ "$(q "SELECT datetime(expires_at, 'unixepoch'), remaining FROM points_lots WHERE remaining > 0")" = "2027-11-21 16:00:00|1000" ]
	mbr-db -q check
}

@test "undo: real points activity after an undone later batch still blocks the earlier one" {
	load_examples
	mbr-sale -q add --ts '2026-11-01 10:00' --member M0001 R1 A100:10:12.80
	sale=$(q "SELECT batch FROM sales WHERE receipt = 'R1'")
	mbr-sale -q add --ts '2026-11-20 10:00' --original R1 R2 A100:-4:12.80
	mbr-sale -q undo "$(q "SELECT batch FROM sales WHERE receipt = 'R2'")"
	mbr-points -q --reason gift earn M0001 5 >/dev/null
	id=$(q "SELECT MAX(id) FROM points_ledger")
	before=$(snapshot)
	run --separate-stderr mbr-sale undo "$sale"
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$stderr" = "mbr-sale: batch $sale cannot be undone: member S01-2 has points activity since (earn, ledger entry $id)" ]
	[ "$(snapshot)" = "$before" ]
}

@test "roles: a cashier may add a sale but not import or undo" {
	load_examples
	mbr-db -q grant c1 cashier
	run --separate-stderr mbr-sale --operator c1 import "$EX/sales-2025-03-01.csv"
	echo "$stderr"
	[ "$status" -eq 5 ]
	[ "$output" = "" ]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 0 ]
	run --separate-stderr mbr-sale import "$EX/sales-2025-03-01.csv"
	batch=$(printf '%s\n' "$stderr" | sed -n 's/.*: batch \([0-9]*\): .*/\1/p')
	run --separate-stderr mbr-sale --operator c1 undo "$batch"
	echo "$stderr"
	[ "$status" -eq 5 ]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 5 ]
	run --separate-stderr mbr-sale -q --operator c1 add R9 A100:1:12.80
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R9,12.80,0" ]
}

@test "returns: a return of a sale paid with points gives back points paid, in proportion" {
	load_examples
	mbr-points -q earn M0001 600 >/dev/null
	mbr-sale -q add --ts '2025-03-03 10:00:00' --member M0001 --payment 'points:5.00;cash' R9 A100:2:12.80 >/dev/null
	[ "$(bal M0001)" = 120 ]
	# half of it back: -floor(20/2) earned, +floor(500/2) paid
	run --separate-stderr mbr-sale add --ts '2025-03-04 10:00:00' --original R9 R10 A100:-1:12.80
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R10,-12.80,-10" ]
	[ "$(bal M0001)" = 360 ]
	run --separate-stderr mbr-sale add --ts '2025-03-04 11:00:00' --original R9 R11 A100:-1:12.80
	[ "$status" -eq 0 ]
	[ "$(bal M0001)" = 600 ]
	[ "$(q "SELECT returned, points_reversed, points_refunded FROM sales WHERE receipt = 'R9'")" = "2560|20|500" ]
	# the money back is what was not paid with points: 25.60 = 5.00 points + 20.60 cash,
	# each return 2.50 as points and 10.30 in cash, never 12.80 in cash and the points too
	[ "$(q "SELECT group_concat(method || ':' || amount, ';') FROM (SELECT p.method, p.amount FROM payments p
		JOIN sales s ON s.id = p.sale WHERE s.receipt IN ('R10', 'R11') ORDER BY s.receipt, p.method)")" = \
		"cash:-1030;points:-250;cash:-1030;points:-250" ]
	# the rule gives the points back: a payment column may name them only
	# with their share, or without an amount
	mbr-sale -q add --ts '2025-03-05 10:00:00' --member M0001 --payment 'points:5.00;cash' R12 A100:2:12.80 >/dev/null
	run --separate-stderr mbr-sale add --ts '2025-03-05 11:00:00' --original R12 --payment 'points:-4.00;cash' R13 A100:-2:12.80
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"this return of receipt 'R12' gives back 5.00 as points by itself; leave points out of its payment"* ]]
	run --separate-stderr mbr-sale add --ts '2025-03-05 11:00:00' --original R12 --payment 'points:-5.00;card' R13 A100:-2:12.80
	[ "$status" -eq 0 ]
	[ "$(q "SELECT group_concat(method || ':' || amount, ';') FROM (SELECT p.method, p.amount FROM payments p
		JOIN sales s ON s.id = p.sale WHERE s.receipt = 'R13' ORDER BY p.method)")" = "card:-2060;points:-500" ]
	# a return of a sale paid without points cannot pay points back (they would never arrive)
	mbr-sale -q add --ts '2025-03-06 10:00:00' --member M0001 R14 D400:1:39.90 >/dev/null
	run --separate-stderr mbr-sale add --ts '2025-03-06 11:00:00' --original R14 --payment 'points:-39.90' R15 D400:-1:39.90
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"receipt 'R14' was not paid with points; a return of it cannot pay points back"* ]]
	mbr-db -q check
}

@test "returns: a frozen member's return still takes back the points its sale earned" {
	load_examples
	mbr-sale -q add --ts '2025-03-03 10:00:00' --member M0001 R9 A100:2:12.80 >/dev/null
	[ "$(bal M0001)" = 25 ]
	mbr-member -q freeze M0001
	run --separate-stderr mbr-sale add --ts '2025-03-04 10:00:00' --original R9 R10 A100:-2:12.80
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(bal M0001)" = 0 ]
	mbr-db -q check
}

@test "returns: one that names no sale gives back points paid as points:-X, at the price points pay" {
	load_examples
	mbr-points -q earn M0001 600 >/dev/null
	# 100 points pay 1.00 (examples/rules.txt): 2.50 back is 250 points; the
	# whole 12.80 reverses 12, however it is paid back
	run --separate-stderr mbr-sale add --ts '2025-03-04 10:00:00' --member M0001 --payment 'points:-2.50;cash' R10 A100:-1:12.80
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(q "SELECT kind || ':' || points FROM points_ledger WHERE sale IS NOT NULL ORDER BY id")" = "reversal:-12
refund:250" ]
	# a cash sale refunded all in points or stored value still takes its points back
	mbr-sale -q add --ts '2025-03-11 10:00:00' --member M0002 C1 D400:1:100.00 >/dev/null
	b=$(bal M0002)
	mbr-sale -q add --ts '2025-03-12 10:00:00' --member M0002 --payment 'points:-100.00' C1R D400:-1:100.00 >/dev/null
	[ "$(bal M0002)" = $((b - 100 + 10000)) ]
	mbr-db -q check
}

@test "returns: one that names no sale pays back only whole points, never a point for less" {
	load_examples
	# a point worth 1.00: 0.50 back as points would be a whole point,
	# again at each return, so it is refused and nothing is written
	printf 'effective 2025-01-01\nredeem 1 = 1.00\n' >r1.txt
	mbr-points -q rules load r1.txt
	mbr-sale -q add --ts '2025-03-04 10:00:00' --member M0001 R1 A100:1:0.50 >/dev/null
	b=$(bal M0001)
	run --separate-stderr mbr-sale add --ts '2025-03-04 11:00:00' --member M0001 --payment 'points:-0.50' R2 A100:-1:0.50
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"add:1: payment: 0.50 is not a whole number of points (redeem 1 = 1.00); pay the rest back another way"* ]]
	[ "$(bal M0001)" = "$b" ]
	[ "$(q "SELECT COUNT(*) FROM sales WHERE receipt = 'R2'")" = 0 ]
	# a whole point back, the rest in cash
	run --separate-stderr mbr-sale add --ts '2025-03-04 11:00:00' --member M0001 --payment 'points:-1.00;cash' R3 A100:-1:1.50
	[ "$status" -eq 0 ]
	[ "$(q "SELECT kind || ':' || points FROM points_ledger WHERE kind = 'refund'")" = "refund:1" ]
	mbr-db -q check
}

@test "returns: points of the sale that lapsed are not taken back a second time" {
	load_examples
	mbr-sale -q add --ts '2025-03-04 10:00' --member M0004 R1 D400:1:39.90 >/dev/null	# +39, lapse 2026-03-04
	mbr-sale -q add --ts '2025-06-04 10:00' --member M0004 R2 D400:2:39.90 >/dev/null	# +79
	mbr-points -q expire --as-of 2026-03-04
	[ "$(bal M0004)" = 79 ]
	run --separate-stderr mbr-sale add --original R1 RR1 D400:-1:39.90
	[ "$status" -eq 0 ]
	[ "$output" = "S01,RR1,-39.90,0" ]
	[ "$(bal M0004)" = 79 ]
	# what was spent of a lot before it lapsed is still taken back
	mbr-sale -q add --ts '2025-07-01 10:00' --member M0001 R3 D400:3:39.90 >/dev/null	# +119, lapse 2026-07-01
	MBR_NOW=2025-08-01T10:00:00Z mbr-points -q --reason test redeem M0001 100 >/dev/null
	mbr-points -q expire --as-of 2026-07-01	# the 19 left lapse
	[ "$(bal M0001)" = 0 ]
	mbr-sale -q add --original R3 RR3 D400:-3:39.90 >/dev/null
	[ "$(q "SELECT points FROM points_ledger WHERE kind = 'reversal' AND ref = 'S01/RR3'")" = -100 ]
	[ "$(bal M0001)" = -100 ]
	mbr-db -q check
}

@test "receipts: an exchange (some goods bought, others given back) is refused; a voided line is not" {
	load_examples
	mbr-sale -q add --ts '2025-03-04 10:00:00' --member M0001 R1 B200:10:15.60 >/dev/null
	b=$(bal M0001)
	run --separate-stderr mbr-sale add --ts '2025-03-05 10:00:00' --member M0001 X1 B200:-10:15.60 D400:1:157.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"add:1: qty: the receipt sells some goods and returns others; record an exchange as a return and a sale"* ]]
	[ "$(bal M0001)" = "$b" ]
	# a line voided on the same receipt nets out
	run --separate-stderr mbr-sale add --ts '2025-03-05 10:00:00' --member M0001 X2 D400:2:39.90 D400:-1:39.90
	[ "$status" -eq 0 ]
	[ "$output" = "S01,X2,39.90,39" ]
	# no money without goods: quantity 0, a discount above the line
	run --separate-stderr mbr-sale add --member M0001 Q0 D400:0:1.00:5.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"add:1: qty: 0 sells or returns nothing"* ]]
	run --separate-stderr mbr-sale add --member M0001 Q1 D400:1:1.00:2.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"add:1: discount: '2.00' is more than the line's qty x unit_price"* ]]
	run --separate-stderr mbr-sale add --member M0001 Q2 D400:2:1.00:2.00
	[ "$status" -eq 0 ]
	mbr-db -q check
}

@test "import --skip-bad: a receipt whose first run was rejected is rejected again when it comes back later" {
	load_examples
	cat >d.csv <<-'EOF'
	store,receipt,ts,member,sku,qty,unit_price
	S01,R1,2025-03-04 10:00,M0001,A100,1,12.80
	S01,R1,2025-03-04 10:00,M0001,A100,x,12.80
	S01,R2,2025-03-04 10:05,M0002,A100,1,12.80
	S01,R1,2025-03-04 10:00,M0001,D400,5,39.90
	EOF
	run --separate-stderr mbr-sale import --skip-bad --rejects rej.csv d.csv
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"d.csv:5: receipt: 'R1' appears again after other receipts, and its first lines were rejected"* ]]
	[[ "$stderr" == *"2 receipts (3 lines) rejected"* ]]
	[ "$(q "SELECT group_concat(receipt) FROM sales")" = R2 ]
	# all of R1 is in the rejects file: fixed, it imports whole
	[ "$(grep -c '^S01,R1,' rej.csv)" = 3 ]
	sed -i 's/,x,/,1,/' rej.csv
	mbr-sale -q import rej.csv
	[ "$(q "SELECT total FROM sales WHERE receipt = 'R1'")" = 22510 ]
	# without --rejects the count of rejected lines is the same
	run --separate-stderr mbr-sale import --skip-bad d.csv
	[[ "$stderr" == *"2 receipts (3 lines) rejected"* ]]
	mbr-db -q check
}

@test "import --skip-bad: the rest of a receipt split apart in its file, fed back, is rejected, not skipped as recorded" {
	# the audit's reproduction: R1's second run is rejected, its first recorded
	printf 'store,receipt,ts,sku,qty,unit_price\nS01,R1,2025-03-01 10:00,A,1,10.00\nS01,R2,2025-03-01 10:05,A,1,1.00\nS01,R1,2025-03-01 10:00,B,1,90.00\n' >day.csv
	run --separate-stderr mbr-sale import --skip-bad --rejects rej.csv day.csv
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"day.csv:4: receipt: 'R1' appears again after other receipts"* ]]
	b=$(q "SELECT batch FROM sales WHERE receipt = 'R1'")
	[ "$(q "SELECT total FROM sales WHERE receipt = 'R1'")" = 1000 ]
	[ "$(sed -n 2p rej.csv)" = "S01,R1,2025-03-01 10:00,B,1,90.00,\"receipt: 'R1' appears again after other receipts; a receipt's lines must be together (sort the file by receipt, undo the batch, import again)\"" ]
	# fed back, the rejects are not "already imported, nothing new": the
	# receipt recorded under that number is not this one
	reason="receipt: 'R1' is already recorded with total 10.00 and 1 item, not 90.00 and 1; if these lines are part of it (its lines were apart in the file), undo batch $b, sort the file by receipt and import it again; else give this receipt another number"
	run --separate-stderr mbr-sale import rej.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "mbr-sale: rej.csv:2: $reason" ]
	[ "${stderr_lines[1]}" = "mbr-sale: 1 bad receipt; nothing imported" ]
	[[ "$stderr" != *"already imported"* ]]
	run --separate-stderr mbr-sale import --skip-bad --rejects rej2.csv rej.csv
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"1 receipt (1 line) rejected"* ]]
	[ "$(sed -n 2p rej2.csv)" = "S01,R1,2025-03-01 10:00,B,1,90.00,\"$reason\"" ]
	# the whole file again: R1's first run and R2 are the same receipts, R1's rest is not
	run --separate-stderr mbr-sale import day.csv
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"day.csv:4: $reason"* ]]
	[ "$(q 'SELECT SUM(total) FROM sales')" = 1100 ]
	# the way the message says: undo, sort, import again
	mbr-sale -q undo "$b"
	{ head -n 1 day.csv; tail -n +2 day.csv | sort -s -t, -k2,2; } >sorted.csv
	run --separate-stderr mbr-sale import sorted.csv
	[ "$status" -eq 0 ]
	[ "$(q "SELECT total || '|' || items FROM sales WHERE receipt = 'R1'")" = "10000|2" ]
	[ "$(mbr-report sales --format csv | sed -n 2p | cut -d, -f1-4)" = "2025-03-01,2,0,101.00" ]
	mbr-db -q check
}

@test "import: a line's JSON leaves out a discount of 0 and an amount of qty x price - discount; sale_lines gives all five" {
	load_examples
	cat >d.csv <<-'EOF'
	store,receipt,ts,member,sku,qty,unit_price,discount,payment
	S01,D1,2025-03-01 10:00:00,,C300,2,2.00,,cash
	S01,D1,2025-03-01 10:00:00,,C301,3,3.50,1.50,cash
	EOF
	mbr-sale -q import d.csv
	[ "$(q "SELECT lines FROM sales WHERE receipt = 'D1'")" = '[["C300",2,200],["C301",3,350,150]]' ]
	view() {
		q "SELECT line || ',' || sku || ',' || qty || ',' || unit_price || ',' || discount || ',' || amount
		   FROM sale_lines WHERE sale = (SELECT id FROM sales WHERE receipt = 'D1') ORDER BY line"
	}
	want="1,C300,2,200,0,400
2,C301,3,350,150,900"
	[ "$(view)" = "$want" ]
	[ "$(q "SELECT total || ',' || discount FROM sales WHERE receipt = 'D1'")" = "1300,150" ]
	mbr-db -q check
	# a sale as mbr wrote them before schema 8 (all five numbers) reads the same
	q "UPDATE sales SET lines = '[[\"C300\",2,200,0,400],[\"C301\",3,350,150,900]]' WHERE receipt = 'D1'"
	[ "$(view)" = "$want" ]
	mbr-db -q check
}

@test "import: a receipt recorded already is skipped only when it is the same (a POS retry); one that differs is rejected" {
	load_examples
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	mbr-sale -q import "$EX/sales-2025-03-02.csv"
	b1=$(q "SELECT batch FROM sales WHERE receipt = 'R1001'")
	b2=$(q "SELECT batch FROM sales WHERE receipt = 'R1006'")
	before=$(snapshot)
	# a POS retry: R1003 (member by phone) again, with a new receipt
	cat >retry.csv <<-'EOF'
	store,receipt,ts,member,sku,qty,unit_price,discount,payment
	S01,R1003,2025-03-01 11:40:00,13900001111,D400,1,39.90,,card
	S01,R1003,2025-03-01 11:40:00,13900001111,C301,2,3.50,,card
	S01,R1007,2025-03-03 09:00:00,,C300,1,2.00,,cash
	EOF
	run --separate-stderr mbr-sale import retry.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"1 receipts (0 returns), 1 lines, amount 2.00"* ]]
	[[ "$stderr" == *"1 receipt already imported, skipped"* ]]
	[ "$(bal M0002)" = 70 ]
	[ "$(q "SELECT COUNT(*) FROM sales WHERE receipt = 'R1003'")" = 1 ]
	mbr-sale -q undo "$(q "SELECT batch FROM sales WHERE receipt = 'R1007'")"
	# the second day again, with a return naming its sale and no member
	run --separate-stderr mbr-sale import "$EX/sales-2025-03-02.csv"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"3 receipts already imported, skipped: nothing new in this file"* ]]
	# a return naming no sale, twice
	mbr-sale -q add --ts '2025-03-03 10:00' --member M0002 X1 C301:-1:3.50 >/dev/null
	run --separate-stderr mbr-sale add --ts '2025-03-03 10:00' --member M0002 X1 C301:-1:3.50
	[ "$status" -eq 0 ]
	[ "$stderr" = "mbr-sale: receipt 'X1' at store S01 is already recorded; nothing written" ]
	mbr-sale -q undo "$(q "SELECT batch FROM sales WHERE receipt = 'X1'")"
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 8 ]
	before=$(snapshot)	# the undo left its compensating ledger entries
	# the same number, other lines: R1001 is 40.20 in 3 items
	printf 'store,receipt,ts,member,sku,qty,unit_price\nS01,R1001,2025-03-01 09:12:00,M0001,A100,2,12.80\nS01,R1008,2025-03-03 09:00:00,,C300,1,2.00\n' >other.csv
	run --separate-stderr mbr-sale import other.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "${stderr_lines[0]}" = "mbr-sale: other.csv:2: receipt: 'R1001' is already recorded with total 40.20 and 3 items, not 25.60 and 2; if these lines are part of it (its lines were apart in the file), undo batch $b1, sort the file by receipt and import it again; else give this receipt another number" ]
	[ "$(snapshot)" = "$before" ]
	run --separate-stderr mbr-sale import --skip-bad --rejects rej.csv other.csv
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"1 receipt (1 line) rejected"* ]]
	[ "$(grep -c '^S01,R1001,.*already recorded with total 40.20 and 3 items, not 25.60 and 2' rej.csv)" = 1 ]
	[ "$(q "SELECT total FROM sales WHERE receipt = 'R1008'")" = 200 ]
	mbr-sale -q undo "$(q "SELECT batch FROM sales WHERE receipt = 'R1008'")"
	# the same lines, another line discount, another member, another original
	run --separate-stderr mbr-sale add --ts '2025-03-01 10:05:31' R1002 C300:3:2.00:0.50
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"add:1: receipt: 'R1002' is already recorded with total 6.00 and 3 items, not 5.50 and 3;"* ]]
	run --separate-stderr mbr-sale add --ts '2025-03-01 10:05:31' --member M0001 R1002 C300:3:2.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"add:1: receipt: 'R1002' is already recorded with no member, not for 'M0001'"* ]]
	run --separate-stderr mbr-sale add --ts '2025-03-01 09:12:00' --member M0002 R1001 A100:2:12.80 B200:1:15.60:1.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"add:1: receipt: 'R1001' is already recorded for member S01-2, not for 'M0002'"* ]]
	run --separate-stderr mbr-sale add --ts '2025-03-02 12:30:00' --member M0004 R1006 D400:-1:39.90
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"add:1: receipt: 'R1006' is already recorded as a return of 'R1004', not naming no original"* ]]
	[ "$(snapshot)" = "$before" ]
	# an undone batch's receipts are not recorded any more: they import as new
	mbr-sale -q undo "$b2"
	mbr-sale -q undo "$b1"
	run --separate-stderr mbr-sale import other.csv
	[ "$status" -eq 0 ]
	[ "$(q "SELECT total FROM sales WHERE receipt = 'R1001'")" = 2560 ]
	mbr-db -q check
}

@test "returns: a receipt of zero total taking goods back is a return: it may name its sale, and the report counts it as one" {
	load_examples
	mbr-sale -q --ts '2025-03-03 10:00' --payment cash add R9 C300:2:0.00 >/dev/null
	# a free gift given back without naming its sale
	run --separate-stderr mbr-sale -q --ts '2025-03-03 11:00' --payment cash add R10 C300:-2:0.00
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R10,0.00,0" ]
	# and naming it: only a return may, and this is one
	run --separate-stderr mbr-sale --ts '2025-03-03 12:00' --payment cash --original R9 add R11 C300:-1:0.00
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R11,0.00,0" ]
	[ "$(q "SELECT o.receipt FROM sales s JOIN sales o ON o.id = s.original WHERE s.receipt = 'R11'")" = R9 ]
	# a return cannot be returned
	run --separate-stderr mbr-sale --ts '2025-03-03 12:00' --original R10 add R12 C300:-1:0.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"add:1: original: 'R10' is itself a return; name the sale it gave back"* ]]
	# the import summary counts it as the report does
	printf 'store,receipt,ts,sku,qty,unit_price,original\nS01,R13,2025-03-03 13:00,C300,-1,0.00,R9\n' >z.csv
	run --separate-stderr mbr-sale import z.csv
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"1 receipts (1 returns), 1 lines, amount 0.00"* ]]
	run --separate-stderr mbr-report sales --from 2025-03-03 --to 2025-03-03 --format csv
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "2025-03-03,1,3,0.00,0.00,-2,0,0.00,0.00,0" ]
	run --separate-stderr mbr-db check
	echo "$output $stderr"
	[ "$status" -eq 0 ]
}

@test "returns: a balance may go negative, and new points pay the debt first" {
	load_examples
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	# redeemed the next morning, before the points lapse
	MBR_NOW=2025-03-02T01:00:00Z mbr-points -q redeem M0004 179 >/dev/null
	run --separate-stderr mbr-sale -q add --ts '2025-03-02 12:30:00' --original R1004 R1006 D400:-1:39.90
	[ "$status" -eq 0 ]
	[ "$(bal M0004)" = -59 ]
	mbr-db -q check
	# a Monday: 39.90 earns 39, all of it paying the debt
	mbr-sale -q add --ts '2025-03-03 12:30:00' --member M0004 R1 D400:1:39.90 >/dev/null
	[ "$(bal M0004)" = -20 ]
	mbr-db -q check
	run --separate-stderr mbr-points -q expire --as-of 2026-03-03
	[ "$status" -eq 0 ]
	[ "$(bal M0004)" = -20 ]
	mbr-db -q check
}

@test "points rules: min_spend, birthday, frozen members" {
	load_examples
	# under min_spend 5.00: nothing
	run --separate-stderr mbr-sale -q add --ts '2025-03-13 10:00:00' --member M0001 B2 C300:2:2.00
	[ "$output" = "S01,B2,4.00,0" ]
	# M0001's birthday, 03-14 (a Friday): x2
	run --separate-stderr mbr-sale -q add --ts '2025-03-14 10:00:00' --member M0001 B1 A100:1:12.80
	[ "$output" = "S01,B1,12.80,25" ]
	# a frozen member's sale is recorded and earns nothing; it may not pay with points
	mbr-points -q earn M0005 100 >/dev/null
	mbr-member -q freeze M0005
	run --separate-stderr mbr-sale -q add --ts '2025-03-03 12:30:00' --member M0005 R2 D400:1:39.90
	[ "$status" -eq 0 ]
	[ "$output" = "S01,R2,39.90,0" ]
	run --separate-stderr mbr-sale -q add --ts '2025-03-03 12:40:00' --member M0005 --payment 'points:0.01;cash' R3 D400:1:39.90
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"is not active and cannot pay with points"* ]]
	[ "$(bal M0005)" = 100 ]
}

@test "import: Chinese headers, BOM, CRLF, gzip; stdin; GB18030; --dry-run" {
	load_examples
	printf '\xef\xbb\xbf门店,小票号,时间,会员,商品编码,数量,单价\r\nS01,Z1,2025-03-03 10:00:00,M0005,A100,1,12.80\r\n' | gzip >zh.csv.gz
	run --separate-stderr mbr-sale import zh.csv.gz
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"1 receipts (0 returns), 1 lines, amount 12.80; points +12 earned"* ]]
	printf 'store,receipt,ts,member,sku,qty,unit_price\nS01,Z2,2025-03-03 10:00:00,M0005,A100,1,12.80\n' >z2.csv
	run --separate-stderr mbr-sale import - <z2.csv
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"mbr-sale: -: batch "* ]]
	printf '门店,小票号,时间,会员,商品编码,品名,数量,单价\nS01,Z3,2025-03-03 10:00:00,M0005,G1,桂花糕,1,8.00\n' | iconv -f UTF-8 -t GB18030 >gb.csv
	run --separate-stderr mbr-sale import --encoding GB18030 gb.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(q "SELECT name FROM products WHERE sku = 'G1'")" = 桂花糕 ]
	printf 'store,receipt,ts,member,sku,qty,unit_price\nS01,Z4,2025-03-03 10:00:00,M0005,A100,1,12.80\n' >z4.csv
	run --separate-stderr mbr-sale -n import z4.csv
	[ "$status" -eq 0 ]
	[[ "$stderr" == "mbr-sale: dry run, nothing written: "* ]]
	[ "$(q "SELECT COUNT(*) FROM sales WHERE receipt = 'Z4'")" = 0 ]
	[ "$(bal M0005)" = 32 ]
}

@test "import: a receipt split apart in one file is an error; a missing file is an I/O error" {
	load_examples
	cat >s.csv <<-'EOF'
	store,receipt,ts,sku,qty,unit_price
	S01,R1,2025-03-03 10:00:00,A100,1,12.80
	S01,R2,2025-03-03 10:05:00,A100,1,12.80
	S01,R1,2025-03-03 10:00:00,C300,1,2.00
	EOF
	run --separate-stderr mbr-sale import s.csv
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"s.csv:4: receipt: 'R1' appears again"* ]]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 0 ]
	run --separate-stderr mbr-sale import nosuch.csv
	echo "$stderr"
	[ "$status" -eq 4 ]
	[[ "$stderr" == *nosuch.csv* ]]
	# a required column missing
	printf 'store,receipt,ts,sku,qty\nS01,R1,2025-03-03,A100,1\n' >m.csv
	run --separate-stderr mbr-sale import m.csv
	[ "$status" -eq 3 ]
	[[ "$stderr" == *unit_price* ]]
}

@test "import --skip-bad: a line the reader cannot take (bad UTF-8) rejects its whole receipt" {
	load_examples
	{
		echo 'store,receipt,ts,sku,name,qty,unit_price'
		echo 'S01,R1,2025-03-03 10:00:00,A100,milk,1,12.80'
		printf 'S01,R1,2025-03-03 10:00:00,G1,Voucher \243 40,1,40.00\n'
		echo 'S01,R1,2025-03-03 10:00:00,C300,water,1,2.00'
		echo 'S01,R2,2025-03-03 10:05:00,A100,milk,1,12.80'
	} >latin1.csv
	run --separate-stderr mbr-sale import --skip-bad --rejects rej.csv latin1.csv
	echo "$stderr"
	cat rej.csv
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"latin1.csv:3: name: invalid UTF-8"* ]]
	# never half a receipt: R1 is out whole, R2 is in
	[ "$(q 'SELECT group_concat(receipt) FROM sales')" = R2 ]
	[ "$(wc -l <rej.csv)" -eq 4 ]
	[ "$(grep -c '^S01,R1,' rej.csv)" -eq 3 ]
	# and the summary accounts for every line
	[[ "$stderr" == *"1 receipts (0 returns), 1 lines"* ]]
	[[ "$stderr" == *"1 receipt (3 lines) rejected"* ]]
}

# ------------------------------------------------------------ UCI data

@test "UCI Online Retail: the full file with --map, Latin-1 and --skip-bad" {
	src=$MBR_SHARED/data/online_retail.csv.gz
	[ -r "$src" ] || skip "no $src"
	SECONDS=0
	mbr-db -q store-add UK
	# enrol every CustomerID by member_no alone; sqlite3's CSV reader
	# copes with the quoted commas in Description
	zcat "$src" | iconv -f ISO-8859-1 -t UTF-8 >retail.csv
	{
		echo member_no
		sqlite3 -list -noheader :memory: '.import --csv retail.csv t' \
			"SELECT DISTINCT CustomerID FROM t WHERE CustomerID != '' ORDER BY 1"
	} >customers.csv
	[ "$(sed -n 1p customers.csv)" = member_no ]
	[ "$(($(wc -l <customers.csv) - 1))" -eq 4372 ]
	run --separate-stderr mbr-add customers.csv
	echo "$stderr"
	[ "$status" -eq 0 ]
	t_members=$SECONDS

	run --separate-stderr mbr-sale import --encoding ISO-8859-1 --skip-bad --rejects rej.csv --store UK \
		--map receipt=InvoiceNo,sku=StockCode,name=Description,qty=Quantity,ts=InvoiceDate,unit_price=UnitPrice,member=CustomerID \
		--ignore-unknown --time-format '%d-%m-%Y %H:%M' "$src"
	t_import=$((SECONDS - t_members))
	echo "# members ${t_members}s, import ${t_import}s" >&3
	printf '%s\n' "$stderr" | grep -v ': [^ ]*:[0-9]*: ' | head -20
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	summary=$(printf '%s\n' "$stderr" | grep ': batch [0-9]*: ')
	nlines=$(printf '%s\n' "$summary" | sed -n 's/.* receipts ([0-9]* returns), \([0-9]*\) lines,.*/\1/p')
	rejected=$(printf '%s\n' "$stderr" | sed -n 's/.* receipts\{0,1\} (\([0-9]*\) lines) rejected$/\1/p')
	echo "loaded lines $nlines, rejected lines $rejected"
	[ -n "$nlines" ] && [ -n "$rejected" ]
	# every line is either loaded or in the rejects file, once
	[ "$((nlines + rejected))" -eq 541909 ]
	[ "$(($(wc -l <rej.csv) - 1))" -eq "$rejected" ]
	[ "$(sed -n 1p rej.csv)" = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,reject_reason" ]
	[ "$(q 'SELECT COUNT(*) FROM sale_lines')" -eq "$nlines" ]
	receipts=$(printf '%s\n' "$summary" | sed -n 's/.*: batch [0-9]*: \([0-9]*\) receipts (.*/\1/p')
	[ "$(q 'SELECT COUNT(*) FROM sales')" -eq "$receipts" ]
	# 3,836 cancellations with a negative total and 1,336 receipts of
	# zero value taking goods back: 5,172 returns, for mbr-sale as for
	# the report (one definition of a return)
	[[ "$summary" == *"receipts (5172 returns)"* ]]
	[ "$(q "SELECT COUNT(*) FROM sales WHERE total < 0")" = 3836 ]
	# every reject has a reason; the two negative prices are among them
	sqlite3 :memory: '.import --csv rej.csv r' \
		"SELECT COUNT(*) FROM r WHERE reject_reason = ''" \
		"SELECT COUNT(*) FROM r WHERE UnitPrice LIKE '-%' AND reject_reason LIKE 'unit_price: %negative%'" >counts
	[ "$(cat counts)" = "0
2" ]
	grep -q '^A563186,B,Adjust bad debt,1,12-08-2011 14:51,-11062.06,,United Kingdom,' rej.csv
	grep -q '^A563187,B,Adjust bad debt,1,12-08-2011 14:52,-11062.06,,United Kingdom,' rej.csv
	# the £ of the gift vouchers came through as UTF-8
	[ "$(q "SELECT COUNT(*) FROM products WHERE name LIKE '%£%'")" -gt 0 ]
	run --separate-stderr mbr-db check
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	# the report (from the aggregates) agrees with the sales themselves
	run --separate-stderr mbr-report sales --by store --format csv
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "store,receipts,returns,amount,discount,items,member_receipts,member_amount,avg_receipt,points" ]
	want=$(q "SELECT (CASE WHEN s < 0 THEN '-' ELSE '' END) || (abs(s) / 100) || '.' || substr('0' || (abs(s) % 100), -2)
		FROM (SELECT SUM(total) AS s FROM sales WHERE store = 'UK')")
	got=$(printf '%s\n' "$output" | awk -F, '$1 == "UK" { print $4 }')
	echo "report $got, sales $want"
	[ "$got" = "$want" ]
	[ "$(printf '%s\n' "$output" | awk -F, '$1 == "UK" { print $3 }')" = 5172 ]
	echo "# UCI test: ${SECONDS}s in all" >&3
}

@test "products: a column the file lacks keeps the catalogue's; a new category restates earlier sales and check stays sound" {
	load_examples
	mbr-sale -q import "$EX/sales-2025-03-01.csv"
	[ "$(q "SELECT name || '|' || category || '|' || price FROM products WHERE sku = 'A100'")" = "有机牛奶 1L|乳品|1280" ]
	printf 'sku,price\nA100,9.99\n' | mbr-sale -q products -
	[ "$(q "SELECT name || '|' || category || '|' || price FROM products WHERE sku = 'A100'")" = "有机牛奶 1L|乳品|999" ]
	before=$(q "SELECT SUM(amount) FROM agg_category_day")
	run --separate-stderr sh -c "printf 'sku,category\nA100,牛奶\n' | mbr-sale products -"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"category figures of earlier sales restated"* ]]
	[ "$(q "SELECT COUNT(*) FROM agg_category_day WHERE category = '牛奶'")" -ge 1 ]
	[ "$(q "SELECT SUM(amount) FROM agg_category_day")" = "$before" ]
	mbr-db -q check
	# an empty cell is a value: the name becomes empty
	printf 'sku,name\nA100,\n' | mbr-sale -q products -
	[ "$(q "SELECT name FROM products WHERE sku = 'A100'")" = "" ]
}

@test "import --map: a map that is not native=foreign or names no sale column is a usage error (exit 2)" {
	printf 'store,receipt,ts,sku,qty,unit_price\nS01,R1,2025-03-01 10:00,A100,1,1.00\n' >s.csv
	run --separate-stderr mbr-sale import --map nonsense s.csv
	[ "$status" -eq 2 ]
	[ "$stderr" = "mbr-sale: --map: 'nonsense' is not native=foreign" ]
	run --separate-stderr mbr-sale import --map bogus=receipt s.csv
	[ "$status" -eq 2 ]
	[ "$stderr" = "mbr-sale: --map: unknown column 'bogus'" ]
	[ "$(q "SELECT COUNT(*) FROM sales")" = 0 ]
	run --separate-stderr mbr-sale import --map receipt=Ticket,store=Ticket s.csv
	[ "$status" -eq 2 ]
	[ "$stderr" = "mbr-sale: --map: 'receipt=Ticket' and 'store=Ticket' map the same column twice" ]
	run --separate-stderr mbr-sale import --map member=Kunde,member=Customer s.csv
	[ "$status" -eq 2 ]
}

@test "import --map: a foreign name the file does not have is an error, even with --ignore-unknown (no sale loses its member)" {
	load_examples
	printf 'Ticket,When,SKU,Qty,Price,Customer\nT1,2025-03-01 10:00,A100,1,12.80,M0001\n' >pos.csv
	run --separate-stderr mbr-sale --store S01 --ignore-unknown \
		--map receipt=Ticket,ts=When,sku=SKU,qty=Qty,unit_price=Price,member=Kunde import pos.csv
	[ "$status" -eq 3 ]
	[ "${stderr_lines[0]}" = "mbr-sale: pos.csv:1: header: --map member=Kunde: the file has no column 'Kunde'" ]
	[ "$(q "SELECT COUNT(*) FROM sales")" = 0 ]
	run --separate-stderr mbr-sale --store S01 --map receipt=Ticket,ts=When,sku=SKU,qty=Qty,unit_price=Price,member=Customer \
		import pos.csv
	[ "$status" -eq 0 ]
	[ "$(q "SELECT m.uid FROM sales s JOIN members m ON m.id = s.member")" = S01-2 ]
}

@test "add: a qty above 1000000000 units is out of range; one that is no number is not a whole number" {
	load_examples
	run --separate-stderr mbr-sale add --member M0001 H7 D400:2147483648:1.00
	echo "$stderr"
	[ "$status" -eq 3 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"add:1: qty: '2147483648' is out of range (at most 1000000000 units a line)"* ]]
	run --separate-stderr mbr-sale add --member M0001 H7 D400:-1000000001:1.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"qty: '-1000000001' is out of range (at most 1000000000 units a line)"* ]]
	run --separate-stderr mbr-sale add --member M0001 H7 D400:2.5:1.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"add:1: qty: '2.5' is not a whole number"* ]]
	run --separate-stderr mbr-sale add --member M0001 H7 D400:x:1.00
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"qty: 'x' is not a whole number"* ]]
	[ "$(q 'SELECT COUNT(*) FROM sales')" = 0 ]
	# the limit itself is a quantity
	run --separate-stderr mbr-sale -q add H8 D400:1000000000:0.01
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "S01,H8,10000000.00,0" ]
}
