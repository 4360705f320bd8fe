# mbr - store member consumption management toolkit
#
# make            build lib/libmbr.a and every program into bin/
# make check      install missing Debian packages (as root), build, run all tests
# make check-asan the same tests built with AddressSanitizer and UBSan
# make check-valgrind  the unit tests under valgrind (memcheck: uninitialised
#                 reads, bad frees, definite leaks)
# make demo       build, create a demo database from examples/ and show it
# make bench      benchmarks (ratios against sqlite3 .import, peak RSS)
# make lint       mandoc -Tlint on every man page
# make install    PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man

CC ?= cc
CFLAGS ?= -O2 -g
MBR_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -Ilib
LDLIBS = -lsqlite3 -lcsv -lsodium -lz -lreadline -lm -pthread

LIB_SRC  = $(sort $(wildcard lib/*.c))
LIB_OBJ  = $(LIB_SRC:.c=.o)
CMD_SRC  = $(sort $(wildcard cmd/mbr-*.c))
PROGS    = $(patsubst cmd/%.c,bin/%,$(CMD_SRC))
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNITS    = $(patsubst tests/unit/%.c,tests/unit/bin/%,$(UNIT_SRC))
TOOLS    = tests/bin/csvdump
MAN1     = $(sort $(wildcard man/*.1))
MAN5     = $(sort $(wildcard man/*.5))
MAN7     = $(sort $(wildcard man/*.7))
HDRS     = lib/mbr.h lib/internal.h lib/banned.h

all: lib/libmbr.a $(PROGS)

lib/%.o: lib/%.c $(HDRS)
	$(CC) $(MBR_CFLAGS) $(CFLAGS) -c -o $@ $<

lib/libmbr.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

bin/%: cmd/%.c lib/libmbr.a $(HDRS) lib/cli.h
	@mkdir -p bin
	$(CC) $(MBR_CFLAGS) $(CFLAGS) -o $@ $< lib/libmbr.a $(LDFLAGS) $(LDLIBS)

tests/unit/bin/%: tests/unit/%.c tests/unit/harness.h lib/libmbr.a $(HDRS)
	@mkdir -p tests/unit/bin
	$(CC) $(MBR_CFLAGS) $(CFLAGS) -o $@ $< lib/libmbr.a $(LDFLAGS) $(LDLIBS) -lcmocka

tests/bin/%: tests/tools/%.c lib/libmbr.a $(HDRS)
	@mkdir -p tests/bin
	$(CC) $(MBR_CFLAGS) $(CFLAGS) -o $@ $< lib/libmbr.a $(LDFLAGS) $(LDLIBS)

deps:
	@sh scripts/install-deps

check: deps
	@$(MAKE) --no-print-directory all $(UNITS) $(TOOLS)
	@sh tests/run

# The whole suite again, built with AddressSanitizer and UBSan, in a copy
# of the tree (.asan/) so that the normal build is left alone.
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
check-asan: deps
	@rm -rf .asan && mkdir .asan && cp -R Makefile cmd lib tests scripts examples man .asan/
	@cd .asan && $(MAKE) --no-print-directory clean >/dev/null && \
		$(MAKE) --no-print-directory CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
			all $(UNITS) $(TOOLS) >/dev/null && \
		MBR_SHARED="$${MBR_SHARED:-$(CURDIR)/../shared}" ASAN_OPTIONS=detect_leaks=1 \
			UBSAN_OPTIONS=print_stacktrace=1 sh tests/run

# Each unit test program under memcheck, which sees what the sanitizers do
# not (reads of uninitialised memory); a program with an error fails.
VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-origins=yes
check-valgrind: deps
	@$(MAKE) --no-print-directory all $(UNITS)
	@UNIT_WRAP="$(VALGRIND)" CLI=0 sh tests/run

demo: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/bench

# Fuzz targets (libFuzzer, clang): make fuzz FUZZ_SECONDS=60
FUZZ_SECONDS ?= 30
FUZZ_SRC = $(sort $(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	@mkdir -p tests/fuzz/bin
	@for f in $(FUZZ_SRC); do \
		n=$$(basename $$f .c); \
		clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(MBR_CFLAGS) -o tests/fuzz/bin/$$n $$f $(LIB_SRC) $(LDLIBS) || exit 1; \
		mkdir -p tests/fuzz/corpus/$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		tests/fuzz/bin/$$n -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 tests/fuzz/corpus/$$n 2>tests/fuzz/bin/$$n.log || { tail -30 tests/fuzz/bin/$$n.log; exit 1; }; \
	done

lint:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN5) $(MAN7)

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	cp $(PROGS) $(DESTDIR)$(BINDIR)/
	cp $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	cp $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	cp $(MAN7) $(DESTDIR)$(MANDIR)/man7/

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(BINDIR)/$${p#bin/}; done
	for m in $(MAN1); do rm -f $(DESTDIR)$(MANDIR)/man1/$${m#man/}; done
	for m in $(MAN5); do rm -f $(DESTDIR)$(MANDIR)/man5/$${m#man/}; done
	for m in $(MAN7); do rm -f $(DESTDIR)$(MANDIR)/man7/$${m#man/}; done

clean:
	rm -rf bin tests/bin tests/unit/bin tests/fuzz/bin .asan lib/*.o lib/libmbr.a demo.db demo.db.key

.PHONY: all deps check check-asan check-valgrind demo bench fuzz lint install uninstall clean
