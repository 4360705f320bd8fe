/*
 * test_crypto.c - unit tests for lib/crypto.c: key files, subkey
 * derivation, sealing, lookup and chain hashes, and the display masks.
 *
 * libsodium is called directly here only to recompute expected values
 * from the documented construction (subkeys via crypto_kdf, context
 * "mbr-key_"), so a change of format cannot pass unnoticed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "internal.h"
#include "banned.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mbr-test-crypto.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return mbr_crypto_init();
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	chmod(dir, 0700);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A path inside the test directory. */
static const char *tmp(const char *name)
{
	static char path[4][128];
	static int n;

	n = (n + 1) % 4;
	snprintf(path[n], sizeof(path[n]), "%s/%s", dir, name);
	return path[n];
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static struct mbr_key *new_key(const char *name)
{
	struct mbr_buf err = MBR_BUF_INIT;
	struct mbr_key *k = NULL;

	assert_int_equal(mbr_key_generate(tmp(name), &err), MBR_OK);
	assert_int_equal(mbr_key_load(tmp(name), &k, &err), MBR_OK);
	assert_non_null(k);
	mbr_buf_release(&err);
	return k;
}

static void test_generate_file(void **state)
{
	struct mbr_buf err = MBR_BUF_INIT;
	const char *path = tmp("gen.key");
	char text[128];
	struct stat st;
	FILE *fp;
	size_t n, i;
	mode_t old;

	(void)state;
	old = umask(0);		/* the mode must not depend on the umask */
	assert_int_equal(mbr_key_generate(path, &err), MBR_OK);
	umask(0277);
	assert_int_equal(mbr_key_generate(tmp("gen2.key"), &err), MBR_OK);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(tmp("gen2.key"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(text, 1, sizeof(text), fp);
	fclose(fp);
	assert_int_equal(n, 65);
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", text[i]));
	assert_int_equal(text[64], '\n');
	mbr_buf_release(&err);
}

static void test_generate_refuses_existing(void **state)
{
	struct mbr_buf err = MBR_BUF_INIT, want = MBR_BUF_INIT;
	const char *path = tmp("exists.key");
	char text[80];
	FILE *fp;
	size_t n;

	(void)state;
	write_file(path, "precious\n");
	assert_int_equal(mbr_key_generate(path, &err), MBR_EKEY);
	mbr_buf_addf(&want, "key file '%s' already exists", path);
	assert_string_equal(err.buf, want.buf);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	assert_string_equal(text, "precious\n");

	/* a second generate of a fresh key refuses too, and err may be NULL */
	assert_int_equal(mbr_key_generate(tmp("twice.key"), NULL), MBR_OK);
	assert_int_equal(mbr_key_generate(tmp("twice.key"), NULL), MBR_EKEY);

	mbr_buf_reset(&want);
	mbr_buf_addf(&want, "key file '%s': No such file or directory", tmp("no/dir.key"));
	assert_int_equal(mbr_key_generate(tmp("no/dir.key"), &err), MBR_EKEY);
	assert_string_equal(err.buf, want.buf);
	mbr_buf_release(&err);
	mbr_buf_release(&want);
}

/* Loading path must fail with MBR_EKEY and exactly the message want. */
static void load_fails(const char *path, const char *want)
{
	struct mbr_buf err = MBR_BUF_INIT, msg = MBR_BUF_INIT;
	struct mbr_key *k = (struct mbr_key *)&k;

	mbr_buf_addf(&msg, want, path);
	assert_int_equal(mbr_key_load(path, &k, &err), MBR_EKEY);
	assert_null(k);
	assert_string_equal(err.buf, msg.buf);
	mbr_buf_release(&err);
	mbr_buf_release(&msg);
}

static void test_load_errors(void **state)
{
	static const char *const malformed[] = {
		"",
		"\n",
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeef\n",	/* 63 */
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0\n",	/* 65 */
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\njunk\n",
		" 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
		"0x112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
		"this is not a key at all, it is a sentence that is quite long indeed.\n",
	};
	struct mbr_key *k = NULL;
	size_t i;

	(void)state;
	load_fails(tmp("missing.key"), "key file '%s': No such file or directory");
	assert_int_equal(mkdir(tmp("adir.key"), 0700), 0);
	load_fails(tmp("adir.key"), "key file '%s': Is a directory");
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		write_file(tmp("bad.key"), malformed[i]);
		load_fails(tmp("bad.key"), "key file '%s' is malformed");
	}

	/* accepted variations: no newline, CRLF, upper case */
	write_file(tmp("ok1.key"), "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	assert_int_equal(mbr_key_load(tmp("ok1.key"), &k, NULL), MBR_OK);
	mbr_key_free(k);
	write_file(tmp("ok2.key"), "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\r\n");
	assert_int_equal(mbr_key_load(tmp("ok2.key"), &k, NULL), MBR_OK);
	mbr_key_free(k);
	mbr_key_free(NULL);

	if (geteuid() == 0)
		return;		/* root reads anything: the permission case cannot be shown */
	write_file(tmp("locked.key"), "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
	assert_int_equal(chmod(tmp("locked.key"), 0), 0);
	load_fails(tmp("locked.key"), "key file '%s': Permission denied");
}

static void test_seal_round_trip(void **state)
{
	struct mbr_key *k = new_key("seal.key");
	const char *pt = "13812345678";
	unsigned char ct[64], ct2[64];
	char back[64];
	size_t len = 99;

	(void)state;
	mbr_seal(k, "S01-7", 5, pt, 11, ct);
	assert_int_equal(mbr_unseal(k, "S01-7", 5, ct, 11 + MBR_SEAL_OVERHEAD, back, &len), MBR_OK);
	assert_int_equal(len, 11);
	assert_memory_equal(back, pt, 11);
	assert_memory_not_equal(ct + 24, pt, 11);	/* not in clear */

	mbr_seal(k, "S01-7", 5, pt, 11, ct2);		/* fresh nonce each time */
	assert_memory_not_equal(ct, ct2, 11 + MBR_SEAL_OVERHEAD);

	mbr_seal(k, NULL, 0, "", 0, ct);		/* empty text, no ad */
	assert_int_equal(mbr_unseal(k, NULL, 0, ct, MBR_SEAL_OVERHEAD, back, &len), MBR_OK);
	assert_int_equal(len, 0);
	assert_int_equal(mbr_unseal(k, NULL, 0, ct, MBR_SEAL_OVERHEAD, back, NULL), MBR_OK);

	mbr_seal(k, "", 0, "张三丰", strlen("张三丰"), ct);
	assert_int_equal(mbr_unseal(k, "", 0, ct, strlen("张三丰") + MBR_SEAL_OVERHEAD, back, &len), MBR_OK);
	assert_int_equal(len, strlen("张三丰"));
	assert_memory_equal(back, "张三丰", len);
	mbr_key_free(k);
}

static void test_seal_failures(void **state)
{
	struct mbr_key *k = new_key("fail.key"), *other = new_key("other.key");
	unsigned char ct[64], bad[64];
	size_t n = 11 + MBR_SEAL_OVERHEAD, i;
	char back[64];

	(void)state;
	mbr_seal(k, "S01-7", 5, "13812345678", 11, ct);
	for (i = 0; i < n; i++) {	/* any flipped bit: nonce, ciphertext, tag */
		memcpy(bad, ct, n);
		bad[i] ^= 0x01;
		assert_int_equal(mbr_unseal(k, "S01-7", 5, bad, n, back, NULL), MBR_EKEY);
	}
	assert_int_equal(mbr_unseal(k, "S01-8", 5, ct, n, back, NULL), MBR_EKEY);	/* wrong ad */
	assert_int_equal(mbr_unseal(k, "S01-7", 4, ct, n, back, NULL), MBR_EKEY);
	assert_int_equal(mbr_unseal(k, NULL, 0, ct, n, back, NULL), MBR_EKEY);
	assert_int_equal(mbr_unseal(other, "S01-7", 5, ct, n, back, NULL), MBR_EKEY);	/* wrong key */
	assert_int_equal(mbr_unseal(k, "S01-7", 5, ct, n - 1, back, NULL), MBR_EKEY);	/* truncated */
	assert_int_equal(mbr_unseal(k, "S01-7", 5, ct, MBR_SEAL_OVERHEAD - 1, back, NULL), MBR_EKEY);
	assert_int_equal(mbr_unseal(k, "S01-7", 5, ct, 0, back, NULL), MBR_EKEY);
	assert_int_equal(mbr_unseal(k, "S01-7", 5, ct, n, back, NULL), MBR_OK);	/* still fine */
	mbr_key_free(k);
	mbr_key_free(other);
}

static void test_lookup_hash(void **state)
{
	struct mbr_key *k = new_key("hash.key"), *other = new_key("hash2.key"), *again = NULL;
	unsigned char a[MBR_HASH_BYTES], b[MBR_HASH_BYTES];

	(void)state;
	mbr_lookup_hash(k, MBR_HASH_PHONE, "13812345678", 11, a);
	mbr_lookup_hash(k, MBR_HASH_PHONE, "13812345678", 11, b);
	assert_memory_equal(a, b, sizeof(a));		/* deterministic */
	assert_int_equal(mbr_key_load(tmp("hash.key"), &again, NULL), MBR_OK);
	mbr_lookup_hash(again, MBR_HASH_PHONE, "13812345678", 11, b);
	assert_memory_equal(a, b, sizeof(a));		/* same file, same hash */
	mbr_lookup_hash(other, MBR_HASH_PHONE, "13812345678", 11, b);
	assert_memory_not_equal(a, b, sizeof(a));	/* other key */
	mbr_lookup_hash(k, MBR_HASH_CARD, "13812345678", 11, b);
	assert_memory_not_equal(a, b, sizeof(a));	/* other kind */
	mbr_lookup_hash(k, MBR_HASH_PHONE, "13812345679", 11, b);
	assert_memory_not_equal(a, b, sizeof(a));
	mbr_lookup_hash(k, MBR_HASH_PHONE, "138123456789", 11, b);	/* only len bytes count */
	assert_memory_equal(a, b, sizeof(a));
	mbr_key_free(k);
	mbr_key_free(other);
	mbr_key_free(again);
}

static void test_chain_hash(void **state)
{
	struct mbr_key *k = new_key("chain.key"), *other = new_key("chain2.key");
	unsigned char zero[MBR_CHAIN_BYTES] = { 0 }, h1[MBR_CHAIN_BYTES], h2[MBR_CHAIN_BYTES];
	unsigned char h3[MBR_CHAIN_BYTES];

	(void)state;
	mbr_chain_hash(k, zero, "entry 1", 7, h1);
	mbr_chain_hash(k, zero, "entry 1", 7, h2);
	assert_memory_equal(h1, h2, sizeof(h1));
	mbr_chain_hash(k, h1, "entry 1", 7, h2);	/* depends on prev */
	assert_memory_not_equal(h1, h2, sizeof(h1));
	mbr_chain_hash(k, zero, "entry 2", 7, h3);	/* and on data */
	assert_memory_not_equal(h1, h3, sizeof(h1));
	mbr_chain_hash(other, zero, "entry 1", 7, h3);	/* and on the key */
	assert_memory_not_equal(h1, h3, sizeof(h1));
	mbr_chain_hash(k, zero, "", 0, h3);
	assert_memory_not_equal(h1, h3, sizeof(h1));
	mbr_key_free(k);
	mbr_key_free(other);
}

/* The documented construction, recomputed with libsodium directly. */
static void test_known_answers(void **state)
{
	static const char hexkey[] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
	unsigned char master[32], sub[32], want[32], got[32], prev[32];
	unsigned char ct[64], pt[8];
	unsigned long long ptlen;
	struct mbr_key *k = NULL;
	unsigned char in[12];
	int i;

	(void)state;
	for (i = 0; i < 32; i++) {
		master[i] = (unsigned char)i;
		prev[i] = (unsigned char)(0xa0 + i);
	}
	write_file(tmp("known.key"), hexkey);
	assert_int_equal(mbr_key_load(tmp("known.key"), &k, NULL), MBR_OK);

	/* lookup hash: BLAKE2b-128 keyed with subkey 2 over kind || text */
	crypto_kdf_derive_from_key(sub, 32, 2, "mbr-key_", master);
	in[0] = MBR_HASH_PHONE;
	memcpy(in + 1, "13812345678", 11);
	crypto_generichash(want, MBR_HASH_BYTES, in, 12, sub, 32);
	mbr_lookup_hash(k, MBR_HASH_PHONE, "13812345678", 11, got);
	assert_memory_equal(got, want, MBR_HASH_BYTES);

	/* chain hash: BLAKE2b-256 keyed with subkey 3 over prev || data */
	crypto_kdf_derive_from_key(sub, 32, 3, "mbr-key_", master);
	{
		unsigned char msg[32 + 4];

		memcpy(msg, prev, 32);
		memcpy(msg + 32, "data", 4);
		crypto_generichash(want, 32, msg, sizeof(msg), sub, 32);
	}
	mbr_chain_hash(k, prev, "data", 4, got);
	assert_memory_equal(got, want, 32);

	/* sealed data opens with XChaCha20-Poly1305 under subkey 1 */
	crypto_kdf_derive_from_key(sub, 32, 1, "mbr-key_", master);
	mbr_seal(k, "ad", 2, "secret", 6, ct);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &ptlen, NULL,
		ct + 24, 6 + 16, (const unsigned char *)"ad", 2, ct, sub), 0);
	assert_int_equal(ptlen, 6);
	assert_memory_equal(pt, "secret", 6);
	mbr_key_free(k);
}

static void test_mask_phone(void **state)
{
	static const char *const cases[][2] = {
		{ "13812345678", "138****5678" },
		{ "8613812345678", "861******5678" },
		{ "12345678", "123*5678" },
		{ "1234567", "*****67" },
		{ "12345", "***45" },
		{ "123", "*23" },
		{ "12", "**" },
		{ "1", "*" },
		{ "", "" },
	};
	char out[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mbr_mask_phone(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
	mbr_mask_phone("13812345678", out, 6);	/* truncated, still terminated */
	assert_string_equal(out, "138**");
	mbr_mask_phone("13812345678", out, 1);
	assert_string_equal(out, "");
}

static void test_mask_email(void **state)
{
	static const char *const cases[][2] = {
		{ "zhang@example.com", "z***@example.com" },
		{ "z@example.com", "z***@example.com" },
		{ "@example.com", "***@example.com" },
		{ "张三@例子.cn", "张***@例子.cn" },
		{ "a\"b@c\"@x.org", "a***@x.org" },
		{ "nobody", "n*****" },		/* no '@': masked as a name */
		{ "", "" },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mbr_mask_email(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
	mbr_mask_email("zhang@example.com", out, 8);
	assert_string_equal(out, "z***");
}

static void test_mask_name(void **state)
{
	static const char *const cases[][2] = {
		{ "张三丰", "张**" },
		{ "张三", "张*" },
		{ "张", "张" },
		{ "Ann Lee", "A******" },
		{ "A", "A" },
		{ "Zoë", "Z**" },
		{ "欧阳 Nana", "欧******" },	/* 7 characters */
		{ "😀ab", "😀**" },
		{ "\xe5\xbc", "\xe5*" },		/* broken UTF-8: byte by byte */
		{ "", "" },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mbr_mask_name(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
	mbr_mask_name("张三丰", out, 3);	/* the first character does not fit: never cut it */
	assert_string_equal(out, "");
	mbr_mask_name("张三丰", out, 5);
	assert_string_equal(out, "张*");
}

/* What a mask makes of a value that has something to hide reads back as
 * masked; real values do not. */
static void test_masked_shapes(void **state)
{
	static const char *const phones[] = { "13812345678", "+441234567890", "12345678", "1234567", "12345", "12" };
	static const char *const emails[] = { "zhang@example.com", "z@example.com", "@example.com", "张三@例子.cn" };
	static const char *const names[] = { "张三丰", "Ann Lee", "Zoë", "😀ab", "*x" };
	static const char *const plain_phones[] = { "13812345678", "+8613812345678", "138-1234-5678", "1*2" };
	static const char *const plain_emails[] = { "ann.lee@example.org", "a**@x.org", "ab***@x.org", "a***" };
	static const char *const plain_names[] = { "A", "张", "A*b", "Ann Lee" };
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
		mbr_mask_phone(phones[i], out, sizeof(out));
		assert_true(mbr_masked_phone(out, strlen(out)));
	}
	for (i = 0; i < sizeof(emails) / sizeof(emails[0]); i++) {
		mbr_mask_email(emails[i], out, sizeof(out));
		assert_true(mbr_masked_email(out, strlen(out)));
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		mbr_mask_name(names[i], out, sizeof(out));
		assert_true(mbr_masked_name(out, strlen(out)));
	}
	for (i = 0; i < sizeof(plain_phones) / sizeof(plain_phones[0]); i++)
		assert_false(mbr_masked_phone(plain_phones[i], strlen(plain_phones[i])));
	for (i = 0; i < sizeof(plain_emails) / sizeof(plain_emails[0]); i++)
		assert_false(mbr_masked_email(plain_emails[i], strlen(plain_emails[i])));
	for (i = 0; i < sizeof(plain_names) / sizeof(plain_names[0]); i++)
		assert_false(mbr_masked_name(plain_names[i], strlen(plain_names[i])));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_file),
		cmocka_unit_test(test_generate_refuses_existing),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_seal_round_trip),
		cmocka_unit_test(test_seal_failures),
		cmocka_unit_test(test_lookup_hash),
		cmocka_unit_test(test_chain_hash),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_mask_phone),
		cmocka_unit_test(test_mask_email),
		cmocka_unit_test(test_mask_name),
		cmocka_unit_test(test_masked_shapes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
