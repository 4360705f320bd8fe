#!/bin/sh
# nightly.sh - the nightly batch of one store database:
#   1. load the day's POS sales (bad receipts go to FILE.rejects, the rest loads),
#   2. expire points lots lapsed by the end of the day,
#   3. re-evaluate member tiers (changes saved as tiers-DAY.csv),
#   4. issue birthday coupons to members whose birthday is in the next 7 days
#      (campaign BDAY<year>, made on first use: 20.00 off from 100.00, one per member),
#   5. print the day's figures per store and per category, the coupons'
#      state, and what is owed in stored value, gift cards, count cards and
#      points; write the day per store as a web page (sales-DAY.html),
#   6. prove the database sound.
#
# usage: MBR_DB=shop.db nightly.sh sales-file [day]
# day (YYYY-MM-DD) defaults to yesterday.  Exit status: 0 all went well,
# 1 some receipts were rejected (see FILE.rejects), else the failing step's.
set -u
: "${MBR_DB:?set MBR_DB to the database}"
[ $# -ge 1 ] || { echo "usage: nightly.sh sales-file [day]" >&2; exit 2; }
file=$1
day=${2:-$(date -d yesterday +%F)}
status=0

mbr-sale import --skip-bad --rejects "$file.rejects" "$file"
rc=$?
case $rc in
0) rm -f "$file.rejects" ;;
1) status=1; echo "nightly: some receipts rejected, see $file.rejects" >&2 ;;
*) echo "nightly: sales import failed ($rc); nothing loaded" >&2; exit "$rc" ;;
esac

mbr-points expire --as-of "$day" || exit $?
mbr-points tiers --as-of "$day" --format csv > "tiers-$day.csv" || exit $?
year=${day%%-*}
camp=${MBR_BIRTHDAY_CAMPAIGN:-BDAY$year}
if ! mbr-coupon show "$camp" >/dev/null 2>&1; then
	mbr-coupon -q create "$camp" --type amount --value 20.00 --min-spend 100.00 \
		--per-member 1 --to "$year-12-31" || exit $?
fi
mbr-report birthdays --from "$day" --days 7 --format csv |
	mbr-coupon -q --skip-held issue "$camp" > "birthday-coupons-$day.csv" || exit $?

echo "sales of $day"
mbr-report sales --by store --from "$day" --to "$day" --format table || exit $?
mbr-report sales --by store --from "$day" --to "$day" --format html > "sales-$day.html" || exit $?
echo "categories"
mbr-report categories --from "$day" --to "$day" --format table || exit $?
echo "coupons"
mbr-report coupons --format table || exit $?
echo "liability"
mbr-report liability --format table || exit $?
mbr-db check -q || exit $?
exit "$status"
