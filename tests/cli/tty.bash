# tty.bash - drive an interactive program through a pseudo-terminal (tmux),
# for the bats files that test readline forms (load tty).  Each test runs
# its own tmux server on $SOCK in its temp dir $T (killed by the file's
# teardown).  Prompts are waited for by polling the screen, never by fixed
# sleeps.

# Seconds to wait for a prompt or text before failing (polled every
# 0.05 s, so a passing test waits no longer than its program takes): long
# enough for a loaded machine or a sanitizer build.
: "${TTY_WAIT:=30}"

need_tmux() {
	command -v tmux >/dev/null || skip "tmux is not installed (scripts/install-deps installs it)"
}

tm() { tmux -S "$SOCK" "$@"; }

# tty_start NAME WIDTH COMMAND: run COMMAND in a detached WIDTHx50 window
# NAME; its stdout goes to $T/NAME.out, its exit status to $T/NAME.exit.
# The wrapping shell traps SIGINT (a trap, not an ignore, so the program
# gets the default disposition and readline its own handler) so that it
# outlives a Ctrl-C and can write the status (130 then); the window then
# stays open for reading.
tty_start() {
	need_tmux
	TTY=$1
	rm -f "$T/$TTY.exit"
	tm new-session -d -s "$TTY" -x "$2" -y 50 \
		"trap : INT; env PATH='$PATH' LC_ALL=C.UTF-8 TERM=screen MBR_NOW=$MBR_NOW MBR_OPERATOR=$MBR_OPERATOR $3 >'$T/$TTY.out'; echo \$? >'$T/$TTY.exit'; sleep 60"
}

screen() { tm capture-pane -p -t "$TTY" -S -100 | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'; }

# The last non-blank line of the screen (trailing blanks dropped).
last_line() { screen | sed 's/[[:space:]]*$//' | sed '/^$/d' | tail -n 1; }

# Wait (up to TTY_WAIT seconds) until TEXT is on the screen.
wait_for() {
	local i
	for i in $(seq $((TTY_WAIT * 20))); do
		screen | grep -qF -- "$1" && return 0
		sleep 0.05
	done
	echo "timed out waiting for '$1'; the screen:"
	screen
	return 1
}

# Wait until the cursor's line is exactly the prompt TEXT (nothing typed yet).
prompt() {
	local i
	for i in $(seq $((TTY_WAIT * 20))); do
		[ "$(last_line)" = "$1" ] && return 0
		sleep 0.05
	done
	echo "timed out waiting for prompt '$1'; the screen:"
	screen
	return 1
}

# Type text literally and press Enter.
type_line() {
	tm send-keys -t "$TTY" -l -- "$1"
	tm send-keys -t "$TTY" Enter
}

# Wait for the program to end; prints "status N" (130 after Ctrl-C).
wait_exit() {
	local i
	for i in $(seq $((TTY_WAIT * 20))); do
		if [ -s "$T/$TTY.exit" ]; then
			echo "status $(cat "$T/$TTY.exit")"
			return 0
		fi
		sleep 0.05
	done
	echo "still running"
	screen >&2
	return 1
}
