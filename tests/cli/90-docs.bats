#!/usr/bin/env bats
# 90-docs.bats - the manual pages: clean under mandoc -Tlint, SYNOPSIS
# identical (word for word) to each program's usage, --help and --version
# as documented, every EXAMPLES command runs, and each command takes the
# options its SYNOPSIS line shows and refuses the others.

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

# The forms of a program's --help, one a line: the command words
# ("earn|redeem|adjust", empty for a form without one), a tab, and the
# options the form shows (" -n -q -d --operator ...").  Written apart
# from lib/cli.c's parser, so that the two check each other.
usage_forms() {
	"$1" --help | awk -v prog="$1" '
		function flush() { if (inform) print cmds "\t" opts; cmds = ""; opts = "" }
		{
			for (i = 1; i <= NF; i++) {
				w = $i
				if (w == "usage:") continue
				if (w == prog) { flush(); inform = 1; depth = 0; want = 1; skip = 0; continue }
				o = gsub(/\[/, "[", w); c = gsub(/\]/, "]", w)
				core = w; sub(/^\[+/, "", core); sub(/\[.*$/, "", core); sub(/\]+$/, "", core)
				lead = match(w, /^\[+/) ? RLENGTH : 0
				if (skip) skip = 0
				else if (core ~ /^--/) { opts = opts " " core; if (depth + lead == 0) skip = 1 }
				else if (core ~ /^-./) { n = split(substr(core, 2), L, ""); for (k = 1; k <= n; k++) opts = opts " -" L[k] }
				else if (depth + lead == 0) {
					if (core == "|") want = 1
					else if (want) { cmds = cmds (cmds == "" ? "" : "|") core; want = 0 }
				}
				depth += o - c
			}
		}
		END { flush() }'
}

# try PROG OPT CMD: run PROG with OPT (and a value, if its usage shows
# one) and command CMD against a database that does not exist; stderr in
# $tmp/err, its first line in $err, the exit status in $rc
try_option() {
	case $2 in
	--format) v=csv ;;
	--by) v=day ;;
	--days | --value | --exponent | --limit | --per-member | --points-cost) v=1 ;;
	--role) v=store ;;
	--type) v=amount ;;
	--stack) v=all ;;
	--time-zone) v=UTC ;;
	--currency) v=CNY ;;
	*) v=x ;;
	esac
	if [ "$help_of" != "$1" ]; then
		help=" $("$1" --help | tr -s ' \n' '  ') "
		help_of=$1
	fi
	# "[--format fmt]" or "--reason text" take a value, "[--excel]" not
	if [[ $2 == --* ]] && [[ $help == *"[$2 "* || $help == *" $2 "* ]]; then
		"$1" -d "$tmp/none.db" "$2" "$v" $3 </dev/null >/dev/null 2>"$tmp/err" && rc=0 || rc=$?
	else
		"$1" -d "$tmp/none.db" "$2" $3 </dev/null >/dev/null 2>"$tmp/err" && rc=0 || rc=$?
	fi
	err=
	read -r err <"$tmp/err" || true
}

@test "options: a command refuses every option its SYNOPSIS line does not show (exit 2, naming both)" {
	n=0
	for p in $PROGS; do
		usage_forms "$p" >"$tmp/forms"
		all=$(cut -f 2 "$tmp/forms" | tr ' ' '\n' | sort -u)
		for cmd in $(cut -f 1 "$tmp/forms" | tr '|' '\n' | sort -u); do
			ok=$(awk -F '\t' -v c="$cmd" '{ n = split($1, a, "|"); for (i = 1; i <= n; i++) if (a[i] == c) print $2 }' "$tmp/forms" |
				tr ' ' '\n' | sort -u)
			for o in $(comm -23 <(echo "$all") <(echo "$ok")); do
				try_option "$p" "$o" "$cmd"
				if [ "$rc" -ne 2 ] || [ "$err" != "$p: $o does not go with $cmd" ]; then
					echo "$p $o $cmd: exit $rc: $(cat "$tmp/err")"
					false
				fi
				n=$((n + 1))
			done
		done
	done
	echo "$n refusals" >&3
	[ "$n" -gt 100 ]
	[ ! -e "$tmp/none.db" ]
	# the form without a command, and a value the option takes
	run mbr-sale -d "$tmp/none.db" --map a=b -i
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "mbr-sale: --map does not go with this form" ]
	run mbr-points -d "$tmp/none.db" --reas=x balance M1
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "mbr-points: --reason does not go with balance" ]
	# "rules load" and "rules show" are told apart by their second word
	run mbr-points -d "$tmp/none.db" --as-of 2025-01-01 rules load x
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "mbr-points: --as-of does not go with rules" ]
}

@test "options: a command takes every option its SYNOPSIS line shows" {
	for p in $PROGS; do
		usage_forms "$p" | while IFS="$(printf '\t')" read -r cmds opts; do
			[ -n "$cmds" ] || continue
			for cmd in $(echo "$cmds" | tr '|' ' '); do
				for o in $opts; do
					[ "$o" != -d ] || continue
					try_option "$p" "$o" "$cmd"
					if [[ $err == *"does not go with"* ]]; then
						echo "$p $o $cmd: $(cat "$tmp/err")"
						exit 1
					fi
				done
			done
		done
		rm -f "$tmp/none.db" "$tmp/none.db.key"
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
