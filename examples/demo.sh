#!/bin/sh
# demo.sh - build a demo database from the example CSVs and show what it
# holds.  Run by `make demo` from the top of the tree; writes demo.db and
# demo.db.key there (removed first, so the demo can be run again).
set -e
top=$(pwd)
PATH="$top/bin:$PATH"
export MBR_DB="$top/demo.db"
unset MBR_KEY
rm -f demo.db demo.db.key demo.db-wal demo.db-shm

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
# plain when NO_COLOR is set or stdout is not a terminal (make demo > file)
if [ -n "$NO_COLOR" ] || ! [ -t 1 ]; then step() { printf '\n$ %s\n' "$*"; }; fi

step mbr-db init --store S01
mbr-db init --store S01
step mbr-db store-add S02 '二号店'
mbr-db store-add S02 '二号店'
step mbr-add examples/members.csv
mbr-add examples/members.csv
step mbr-add --encoding GB18030 examples/legacy-gb18030.csv
mbr-add --encoding GB18030 examples/legacy-gb18030.csv
step mbr-add --name 周杰 --phone 13900001234 --store S02
mbr-add --name 周杰 --phone 13900001234 --store S02
step mbr-member find 13812345678 --format table
mbr-member find 13812345678 --format table
step mbr-member export --format table
mbr-member export --format table
step mbr-member show M0002 --format table
mbr-member show M0002 --format table
step mbr-sale products examples/products.csv
mbr-sale products examples/products.csv
step mbr-points rules load examples/rules.txt
mbr-points rules load examples/rules.txt
step mbr-card topup M0001 1000 --payment wechat
mbr-card topup M0001 1000 --payment wechat >/dev/null
# the nightly batch on the two example days; the files it writes (tiers,
# birthday coupons, the day's page) go to a scratch directory
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for day in 2025-03-01 2025-03-02; do
	step examples/nightly.sh examples/sales-$day.csv $day
	(cd "$work" && sh "$top/examples/nightly.sh" "$top/examples/sales-$day.csv" $day)
done
step mbr-points history M0004 --format table
mbr-points history M0004 --format table
step mbr-report sales --by day --format table
mbr-report sales --by day --format table
step mbr-db check
mbr-db check
echo
echo "demo database: $MBR_DB (key: $MBR_DB.key); try: MBR_DB=demo.db mbr-member export --format json"
