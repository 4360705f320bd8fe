# common.bash - what the command tests share (load common).

# A fresh shop: the test's temp dir $T becomes the working directory and
# holds shop.db ($MBR_DB), initialised for store S01 with store S02 added,
# by operator admin1 at a fixed time; $EX is examples/.
shop_setup() {
	T=$BATS_TEST_TMPDIR
	EX=$MBR_TOP/examples
	export MBR_NOW=2026-11-22T10:00:00Z MBR_OPERATOR=admin1 MBR_DB="$T/shop.db"
	unset MBR_KEY MBR_QUIET NO_COLOR
	cd "$T" || return 1
	mbr-db -q -d "$MBR_DB" init --store S01
	mbr-db -q store-add S02
}

# One query's result from the shop's database.
q() { sqlite3 "$MBR_DB" "$@"; }
