#!/bin/sh
# nightly.sh - the nightly batch of one store database:
#   1. load the day's POS sales (bad receipts go to FILE.rejects, the rest loads),
#   2. expire points lots lapsed by the end of the day,
#   3. re-evaluate member tiers (changes saved as tiers-DAY.csv),
#   4. print the day's figures per store,
#   5. prove the database sound.
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
echo "sales of $day"
mbr-report sales --by store --from "$day" --to "$day" --format table || exit $?
mbr-db check -q || exit $?
exit "$status"
