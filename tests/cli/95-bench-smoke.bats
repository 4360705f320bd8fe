#!/usr/bin/env bats
# The benchmark script runs end to end on small data (BENCH_SMALL=1, sizes
# divided by 100) and prints its ratio lines.  No timing is asserted: the
# figures are for `make bench` to print, not for a test to judge.

@test "bench: BENCH_SMALL run completes and prints ratios" {
	export BENCH_DIR="$BATS_TEST_TMPDIR/bench"
	cd "$MBR_TOP"
	run env BENCH_SMALL=1 sh scripts/bench
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | grep -c 'ratio')" -eq 3 ]
	printf '%s\n' "$output" | grep -q '^members 10k: mbr-add .*ratio'
	printf '%s\n' "$output" | grep -q '^sales 10k: mbr-sale import .*ratio'
	printf '%s\n' "$output" | grep -q '^sales 30k: mbr-sale import .*ratio'
	printf '%s\n' "$output" | grep -q '^report sales --by store after sales 30k: [0-9]* ms'
	[ "$(grep -c ratio "$BENCH_DIR/results.txt")" -eq 3 ]
}
