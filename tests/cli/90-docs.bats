#!/usr/bin/env bats
# 90-docs.bats - the manual pages: clean under mandoc -Tlint, SYNOPSIS
# identical (word for word) to each program's usage, --help and --version
# as documented, and every EXAMPLES command runs.

PROGS="mbr-db mbr-add mbr-member mbr-sale mbr-points mbr-report mbr-coupon mbr-card"

setup() {
	top=${MBR_TOP:-$(pwd)}
	tmp=$(mktemp -d)
}

teardown() {
	rm -rf "$tmp"
}

# The words of a page's SYNOPSIS section as rendered, one line.
synopsis_words() {
	mandoc -Tascii "$1" | col -b |
		sed -n '/^SYNOPSIS$/,/^[A-Z][A-Z ]*$/p' | sed '1d;$d' |
		tr -s ' \t\n' '   ' | sed 's/^ *//; s/ *$//'
}

# The words of a program's --help, without "usage:", one line.
help_words() {
	"$1" --help | sed '1s/^usage://' |
		tr -s ' \t\n' '   ' | sed 's/^ *//; s/ *$//'
}

# The "$ command" lines of a page's EXAMPLES section (continuations
# joined), as a shell script on standard output.
example_commands() {
	mandoc -Tascii "$1" | col -b |
		sed -n '/^EXAMPLES$/,/^[A-Z][A-Z ]*$/p' |
		awk '
			cont { sub(/^[ \t]+/, ""); line = line " " $0 }
			!cont && /^[ \t]+\$ / { sub(/^[ \t]+\$ /, ""); line = $0; cont = 1 }
			cont {
				if (line ~ /\\$/) { sub(/\\$/, "", line); next }
				print line; cont = 0
			}'
}

@test "docs: mandoc -Tlint is silent for every page" {
	run sh -c "mandoc -Tlint -Wwarning '$top'/man/*.[157] 2>&1"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "docs: every program has a page, and mbr.7 and mbr-csv.5 exist" {
	for p in $PROGS; do
		[ -f "$top/man/$p.1" ]
	done
	[ -f "$top/man/mbr.7" ]
	[ -f "$top/man/mbr-csv.5" ]
}

@test "docs: SYNOPSIS of each page equals the program's usage" {
	for p in $PROGS; do
		want=$(help_words "$p")
		have=$(synopsis_words "$top/man/$p.1")
		if [ "$want" != "$have" ]; then
			echo "$p --help: $want"
			echo "$p.1 SYNOPSIS: $have"
			false
		fi
	done
}

@test "docs: --help exits 0 and writes only to stdout" {
	for p in $PROGS; do
		"$p" --help >"$tmp/out" 2>"$tmp/err"
		rc=$?
		[ "$rc" -eq 0 ]
		[ -s "$tmp/out" ]
		[ ! -s "$tmp/err" ]
		head -n 1 "$tmp/out" | grep -q "^usage: $p "
	done
}

@test "docs: --version prints the program and 0.1.0" {
	for p in $PROGS; do
		"$p" --version >"$tmp/out" 2>"$tmp/err"
		rc=$?
		[ "$rc" -eq 0 ]
		[ "$(cat "$tmp/out")" = "$p 0.1.0" ]
		[ ! -s "$tmp/err" ]
	done
}

# Run a page's EXAMPLES in a fresh directory holding the example CSVs.
# Pages whose examples do not start with init get shop.db with the stores
# of examples/members.csv first, and with its members if $2 is "members".
run_examples() {
	page=$1
	cp "$top"/examples/*.csv "$top/examples/rules.txt" "$top/examples/nightly.sh" "$tmp/"
	example_commands "$page" >"$tmp/examples.sh"
	[ -s "$tmp/examples.sh" ]
	if ! head -n 1 "$tmp/examples.sh" | grep -q ' init'; then
		(cd "$tmp" && mbr-db -q -d shop.db init --store S01 &&
			mbr-db -q -d shop.db store-add S02) || return 1
		if [ "$2" = members ]; then
			(cd "$tmp" && mbr-add -q -d shop.db members.csv) || return 1
		fi
	fi
	(cd "$tmp" && bash -e -x examples.sh)
}

@test "docs: EXAMPLES of mbr(7) run" {
	run_examples "$top/man/mbr.7"
}

@test "docs: EXAMPLES of mbr-db(1) run" {
	run_examples "$top/man/mbr-db.1"
}

@test "docs: EXAMPLES of mbr-add(1) run" {
	run_examples "$top/man/mbr-add.1"
}

@test "docs: EXAMPLES of mbr-member(1) run" {
	run_examples "$top/man/mbr-member.1" members
}

@test "docs: EXAMPLES of mbr-sale(1) run" {
	run_examples "$top/man/mbr-sale.1" members
}

@test "docs: EXAMPLES of mbr-points(1) run" {
	run_examples "$top/man/mbr-points.1" members
}

@test "docs: EXAMPLES of mbr-report(1) run" {
	run_examples "$top/man/mbr-report.1" members
}

@test "docs: EXAMPLES of mbr-coupon(1) run" {
	run_examples "$top/man/mbr-coupon.1" members
}

@test "docs: EXAMPLES of mbr-card(1) run" {
	run_examples "$top/man/mbr-card.1" members
}
