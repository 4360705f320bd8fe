/*
 * test_buf.c - unit tests for lib/buf.c: struct mbr_buf and its strbuf
 * invariants, and mbr_exit_status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mbr.h"
#include "banned.h"

/* The invariants every function must leave behind. */
static void check_invariants(const struct mbr_buf *b)
{
	assert_non_null(b->buf);
	assert_int_equal(b->buf[b->len], '\0');
	if (b->alloc == 0) {
		assert_ptr_equal(b->buf, mbr_buf_empty);
		assert_int_equal(b->len, 0);
	} else {
		assert_true(b->len < b->alloc);
	}
}

static void test_init(void **state)
{
	struct mbr_buf a = MBR_BUF_INIT, b;

	(void)state;
	mbr_buf_init(&b);
	check_invariants(&a);
	check_invariants(&b);
	assert_string_equal(a.buf, "");
	mbr_buf_release(&a);	/* releasing an unused buffer is fine */
	check_invariants(&a);
	mbr_buf_reset(&b);	/* so is resetting one */
	check_invariants(&b);
}

static void test_add(void **state)
{
	struct mbr_buf b = MBR_BUF_INIT;

	(void)state;
	mbr_buf_adds(&b, "hello");
	check_invariants(&b);
	mbr_buf_addc(&b, ',');
	mbr_buf_add(&b, " world!!", 6);
	check_invariants(&b);
	assert_string_equal(b.buf, "hello, world");
	assert_int_equal(b.len, 12);
	mbr_buf_add(&b, "", 0);
	mbr_buf_adds(&b, "");
	assert_int_equal(b.len, 12);
	mbr_buf_release(&b);
	check_invariants(&b);
	assert_string_equal(mbr_buf_empty, "");
}

static void test_add_nul_bytes(void **state)
{
	struct mbr_buf b = MBR_BUF_INIT;

	(void)state;
	mbr_buf_add(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.buf, "a\0b", 4);
	mbr_buf_release(&b);
}

static void test_add_self(void **state)
{
	struct mbr_buf b = MBR_BUF_INIT;
	int i;

	(void)state;
	mbr_buf_adds(&b, "abc");
	for (i = 0; i < 10; i++)	/* forces reallocation while reading b */
		mbr_buf_add(&b, b.buf, b.len);
	assert_int_equal(b.len, 3 * 1024);
	for (i = 0; i < 3 * 1024; i++)
		assert_int_equal(b.buf[i], "abc"[i % 3]);
	check_invariants(&b);
	mbr_buf_release(&b);
}

static void test_grow_and_reset(void **state)
{
	struct mbr_buf b = MBR_BUF_INIT;
	size_t alloc;
	char *p;

	(void)state;
	mbr_buf_grow(&b, 100);
	assert_true(b.alloc >= 101);
	assert_int_equal(b.len, 0);
	check_invariants(&b);
	p = b.buf;
	alloc = b.alloc;
	mbr_buf_add(&b, "0123456789", 10);
	assert_ptr_equal(b.buf, p);	/* grow reserved enough */
	mbr_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.alloc, alloc);
	assert_ptr_equal(b.buf, p);
	assert_string_equal(b.buf, "");
	check_invariants(&b);
	mbr_buf_release(&b);
}

/* mbr_buf_add and mbr_buf_addc append in place while there is room
 * (inline, mbr.h) and grow otherwise: fill exactly to the last byte,
 * then one more, both ways, and append part of b to itself in place. */
static void test_room_edges(void **state)
{
	struct mbr_buf b = MBR_BUF_INIT;
	size_t alloc;
	char *p;

	(void)state;
	mbr_buf_addc(&b, 'x');		/* from the static empty string */
	check_invariants(&b);
	mbr_buf_reset(&b);
	mbr_buf_grow(&b, 20);
	alloc = b.alloc;
	p = b.buf;
	while (b.len + 2 < alloc)
		mbr_buf_add(&b, "ab", 1);
	mbr_buf_add(&b, "c", 1);	/* the last byte before the NUL */
	assert_int_equal(b.len, alloc - 1);
	assert_ptr_equal(b.buf, p);
	assert_int_equal(b.alloc, alloc);
	check_invariants(&b);
	mbr_buf_add(&b, "d", 1);	/* no room: grows */
	assert_true(b.alloc > alloc);
	assert_int_equal(b.len, alloc);
	assert_int_equal(b.buf[alloc - 2], 'c');
	assert_int_equal(b.buf[alloc - 1], 'd');
	check_invariants(&b);
	mbr_buf_reset(&b);
	alloc = b.alloc;
	while (b.len + 2 < alloc)
		mbr_buf_addc(&b, 'e');
	mbr_buf_addc(&b, 'f');
	assert_int_equal(b.len, alloc - 1);
	assert_int_equal(b.alloc, alloc);
	mbr_buf_addc(&b, 'g');
	assert_true(b.alloc > alloc);
	assert_int_equal(b.buf[alloc - 1], 'g');
	check_invariants(&b);
	mbr_buf_reset(&b);
	mbr_buf_adds(&b, "abc");
	mbr_buf_add(&b, b.buf + 1, 2);	/* in place: room is there */
	assert_string_equal(b.buf, "abcbc");
	check_invariants(&b);
	mbr_buf_release(&b);
}

static void test_addf(void **state)
{
	struct mbr_buf b = MBR_BUF_INIT;
	char big[5000];

	(void)state;
	mbr_buf_addf(&b, "%s:%d: %s", "sales.csv", 12, "bad");
	assert_string_equal(b.buf, "sales.csv:12: bad");
	check_invariants(&b);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mbr_buf_addf(&b, "[%s]", big);	/* longer than the spare room */
	assert_int_equal(b.len, 17 + 2 + 4999);
	assert_int_equal(b.buf[17], '[');
	assert_int_equal(b.buf[b.len - 1], ']');
	check_invariants(&b);
	mbr_buf_reset(&b);
	mbr_buf_addf(&b, "%s", "");
	assert_int_equal(b.len, 0);
	check_invariants(&b);
	mbr_buf_release(&b);
}

static void test_many_addc(void **state)
{
	struct mbr_buf b = MBR_BUF_INIT;
	int i;

	(void)state;
	for (i = 0; i < 100000; i++)
		mbr_buf_addc(&b, 'a' + i % 26);
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.buf[99999], 'a' + 99999 % 26);
	check_invariants(&b);
	mbr_buf_release(&b);
}

static void test_exit_status(void **state)
{
	(void)state;
	assert_int_equal(mbr_exit_status(MBR_OK), 0);
	assert_int_equal(mbr_exit_status(MBR_EINVAL), MBR_EXIT_DATA);
	assert_int_equal(mbr_exit_status(MBR_ENOTFOUND), MBR_EXIT_DATA);
	assert_int_equal(mbr_exit_status(MBR_EEXIST), MBR_EXIT_DATA);
	assert_int_equal(mbr_exit_status(MBR_EDB), MBR_EXIT_DB);
	assert_int_equal(mbr_exit_status(MBR_EIO), MBR_EXIT_DB);
	assert_int_equal(mbr_exit_status(MBR_EKEY), MBR_EXIT_DB);
	assert_int_equal(mbr_exit_status(MBR_ENOMEM), MBR_EXIT_DB);
	assert_int_equal(mbr_exit_status(MBR_EBUSY), MBR_EXIT_DB);
	assert_int_equal(mbr_exit_status(MBR_EPERM), MBR_EXIT_PERM);
	assert_int_equal(MBR_EXIT_DATA, 3);
	assert_int_equal(MBR_EXIT_DB, 4);
	assert_int_equal(MBR_EXIT_PERM, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_add_nul_bytes),
		cmocka_unit_test(test_add_self),
		cmocka_unit_test(test_grow_and_reset),
		cmocka_unit_test(test_room_edges),
		cmocka_unit_test(test_addf),
		cmocka_unit_test(test_many_addc),
		cmocka_unit_test(test_exit_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
