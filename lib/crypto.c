/*
 * crypto.c - everything that touches libsodium: the key file (creating
 * and loading it), the subkeys derived from it, authenticated encryption
 * of personal data, keyed lookup hashes (so a phone number can be found
 * without being stored in clear), the keyed hash chain of the audit log;
 * and, because it belongs with protecting personal data, the masking of
 * phone numbers, e-mail addresses and names for display.
 *
 * The key file holds one 32-byte master key as 64 lower-case hex digits
 * and a newline, mode 0600.  The master key is used only to derive the
 * subkeys (crypto_kdf, context "mbr-key_"): 1 encrypts, 2 keys the lookup
 * hash, 3 keys the audit chain, so no key serves two purposes.  Subkeys
 * live in sodium_malloc'd, read-only, zeroed-on-free memory.  This is the
 * only file that includes <sodium.h>.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"
#include "banned.h"

#define KDF_CONTEXT	"mbr-key_"	/* exactly crypto_kdf_CONTEXTBYTES */
#define SUBKEY_AEAD	1
#define SUBKEY_LOOKUP	2
#define SUBKEY_CHAIN	3
#define KEY_HEX		(2 * MBR_KEY_BYTES)

struct mbr_key {
	unsigned char aead[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned char lookup[crypto_generichash_KEYBYTES];
	unsigned char chain[crypto_generichash_KEYBYTES];
	/* BLAKE2b states with the key block already absorbed: a lookup hash
	 * then costs one compression, not two (it is per imported row) */
	crypto_generichash_state lookup_st, chain_st;
};
/* sodium_malloc puts an object at the end of a page: its size must keep
 * the states' 64-byte alignment */
_Static_assert(sizeof(struct mbr_key) % 64 == 0, "struct mbr_key must be a multiple of 64 bytes");

/* Reset err (if any) and put a formatted message in it. */
static void seterr(struct mbr_buf *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void seterr(struct mbr_buf *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	mbr_buf_reset(err);
	va_start(ap, fmt);
	mbr_buf_vaddf(err, fmt, ap);
	va_end(ap);
}

/* Start libsodium once per process; MBR_EKEY if it cannot start. */
int mbr_crypto_init(void)
{
	static int done;

	if (done)
		return MBR_OK;
	if (sodium_init() < 0)
		return MBR_EKEY;
	done = 1;
	return MBR_OK;
}

/* fsync the directory holding path so a new file's name is durable too. */
static void sync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd;

	if (!slash) {
		dir[0] = '.';
		dir[1] = '\0';
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

/*
 * Create a new key file at path: a random master key as 64 lower-case hex
 * digits and a newline, mode 0600, synced to disk.  An existing file is
 * never touched: MBR_EKEY "key file 'PATH' already exists".  Any other
 * failure is MBR_EKEY with "key file 'PATH': reason", and a partly
 * written file is removed.  err may be NULL.
 */
int mbr_key_generate(const char *path, struct mbr_buf *err)
{
	unsigned char key[MBR_KEY_BYTES];
	char hex[KEY_HEX + 2];
	size_t off = 0;
	ssize_t n;
	int fd, e;

	if (mbr_crypto_init() < 0) {
		seterr(err, "cannot initialise libsodium");
		return MBR_EKEY;
	}
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			seterr(err, "key file '%s' already exists", path);
		else
			seterr(err, "key file '%s': %s", path, strerror(errno));
		return MBR_EKEY;
	}
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	hex[KEY_HEX] = '\n';
	hex[KEY_HEX + 1] = '\0';

	e = 0;
	if (fchmod(fd, 0600) < 0)	/* whatever the umask said */
		e = errno;
	while (!e && off < KEY_HEX + 1) {
		n = write(fd, hex + off, KEY_HEX + 1 - off);
		if (n < 0) {
			if (errno != EINTR)
				e = errno;
			continue;
		}
		off += (size_t)n;
	}
	if (!e && fsync(fd) < 0)
		e = errno;
	if (close(fd) < 0 && !e)
		e = errno;
	sodium_memzero(hex, sizeof(hex));
	if (e) {
		unlink(path);
		seterr(err, "key file '%s': %s", path, strerror(e));
		return MBR_EKEY;
	}
	sync_parent(path);
	return MBR_OK;
}

/*
 * Load the key file at path and derive the subkeys into *out (free with
 * mbr_key_free).  The file must hold exactly 64 hex digits, optionally
 * followed by white space (the newline).  MBR_EKEY with "key file 'PATH':
 * No such file or directory" (or the system's other reason: permission
 * denied, is a directory, ...) or "key file 'PATH' is malformed";
 * MBR_ENOMEM if secure memory cannot be had.  err may be NULL.
 */
int mbr_key_load(const char *path, struct mbr_key **out, struct mbr_buf *err)
{
	char text[KEY_HEX + 64];
	unsigned char master[MBR_KEY_BYTES];
	struct mbr_key *k;
	size_t len = 0, i, binlen = 0;
	ssize_t n;
	int fd, e = 0, bad = 0;

	*out = NULL;
	if (mbr_crypto_init() < 0) {
		seterr(err, "cannot initialise libsodium");
		return MBR_EKEY;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, "key file '%s': %s", path, strerror(errno));
		return MBR_EKEY;
	}
	while (len < sizeof(text)) {
		n = read(fd, text + len, sizeof(text) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			e = errno;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (e) {
		sodium_memzero(text, sizeof(text));
		seterr(err, "key file '%s': %s", path, strerror(e));
		return MBR_EKEY;
	}

	if (len < KEY_HEX || len == sizeof(text))
		bad = 1;
	for (i = 0; !bad && i < KEY_HEX; i++)
		if (!((text[i] >= '0' && text[i] <= '9') ||
		      (text[i] >= 'a' && text[i] <= 'f') ||
		      (text[i] >= 'A' && text[i] <= 'F')))
			bad = 1;
	for (i = KEY_HEX; !bad && i < len; i++)
		if (!strchr(" \t\r\n", text[i]) || text[i] == '\0')
			bad = 1;
	if (!bad && (sodium_hex2bin(master, sizeof(master), text, KEY_HEX,
				    NULL, &binlen, NULL) < 0 || binlen != sizeof(master)))
		bad = 1;
	sodium_memzero(text, sizeof(text));
	if (bad) {
		sodium_memzero(master, sizeof(master));
		seterr(err, "key file '%s' is malformed", path);
		return MBR_EKEY;
	}

	k = sodium_malloc(sizeof(*k));
	if (!k) {
		sodium_memzero(master, sizeof(master));
		seterr(err, "key file '%s': out of secure memory", path);
		return MBR_ENOMEM;
	}
	crypto_kdf_derive_from_key(k->aead, sizeof(k->aead), SUBKEY_AEAD, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(k->lookup, sizeof(k->lookup), SUBKEY_LOOKUP, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(k->chain, sizeof(k->chain), SUBKEY_CHAIN, KDF_CONTEXT, master);
	crypto_generichash_init(&k->lookup_st, k->lookup, sizeof(k->lookup), MBR_HASH_BYTES);
	crypto_generichash_init(&k->chain_st, k->chain, sizeof(k->chain), MBR_CHAIN_BYTES);
	sodium_memzero(master, sizeof(master));
	sodium_mprotect_readonly(k);
	*out = k;
	return MBR_OK;
}

/* Wipe and free a key from mbr_key_load; NULL is fine. */
void mbr_key_free(struct mbr_key *k)
{
	if (k)
		sodium_free(k);
}

/*
 * A fresh nonce for every seal: 16 random bytes drawn once per process
 * (again after a fork, so parent and child never share them) followed by
 * a 64-bit counter.  XChaCha20's 192-bit nonce makes random prefixes
 * safe, and drawing them once saves a getrandom(2) per sealed record,
 * which was a tenth of a bulk member import.
 */
static unsigned char nonce_prefix[16];
static uint64_t nonce_counter;
static int nonce_ready;

static void nonce_after_fork(void)
{
	nonce_ready = 0;	/* the child draws its own prefix */
}

static void next_nonce(unsigned char *nonce)
{
	unsigned char *prefix = nonce_prefix;
	int i;

	if (!nonce_ready) {
		static int registered;

		if (!registered) {
			pthread_atfork(NULL, NULL, nonce_after_fork);
			registered = 1;
		}
		randombytes_buf(nonce_prefix, sizeof(nonce_prefix));
		nonce_counter = 0;
		nonce_ready = 1;
	}
	memcpy(nonce, prefix, sizeof(nonce_prefix));
	for (i = 0; i < 8; i++)
		nonce[16 + i] = (unsigned char)(nonce_counter >> (8 * i));
	nonce_counter++;
}

/*
 * Encrypt ptlen bytes of pt, binding ad (not stored), into out:
 * nonce (24 random bytes) || ciphertext || tag (16), that is ptlen +
 * MBR_SEAL_OVERHEAD bytes.  out must not overlap pt.
 */
void mbr_seal(const struct mbr_key *k, const void *ad, size_t adlen,
	      const void *pt, size_t ptlen, unsigned char *out)
{
	unsigned char *nonce = out;

	next_nonce(nonce);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL,
		pt, ptlen, ad, adlen, NULL, nonce, k->aead);
}

/*
 * Decrypt what mbr_seal produced, with the same ad, into pt (ctlen -
 * MBR_SEAL_OVERHEAD bytes) and set *ptlen (if not NULL).  MBR_EKEY when
 * the input is too short or does not authenticate (wrong key, wrong ad,
 * tampering); pt's contents are then undefined.
 */
int mbr_unseal(const struct mbr_key *k, const void *ad, size_t adlen,
	       const unsigned char *ct, size_t ctlen, void *pt, size_t *ptlen)
{
	const size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	unsigned long long mlen = 0;

	if (ctlen < MBR_SEAL_OVERHEAD)
		return MBR_EKEY;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &mlen, NULL,
						       ct + nb, ctlen - nb,
						       ad, adlen, ct, k->aead) < 0)
		return MBR_EKEY;
	if (ptlen)
		*ptlen = (size_t)mlen;
	return MBR_OK;
}

/*
 * Keyed BLAKE2b (16 bytes) over one byte kind || s[0..len): equal values
 * of one kind hash equal under one key; the kind byte keeps a phone and a
 * card number with the same digits apart.
 */
void mbr_lookup_hash(const struct mbr_key *k, enum mbr_hash_kind kind,
		     const char *s, size_t len, unsigned char out[MBR_HASH_BYTES])
{
	crypto_generichash_state st = k->lookup_st;
	unsigned char kb = (unsigned char)kind;

	crypto_generichash_update(&st, &kb, 1);
	crypto_generichash_update(&st, (const unsigned char *)s, len);
	crypto_generichash_final(&st, out, MBR_HASH_BYTES);
}

/* Keyed BLAKE2b (32 bytes) over prev (32 bytes) || data[0..len). */
void mbr_chain_hash(const struct mbr_key *k, const unsigned char prev[MBR_CHAIN_BYTES],
		    const void *data, size_t len, unsigned char out[MBR_CHAIN_BYTES])
{
	crypto_generichash_state st = k->chain_st;

	crypto_generichash_update(&st, prev, MBR_CHAIN_BYTES);
	crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, out, MBR_CHAIN_BYTES);
}

/* ---------------------------------------------------------------- masks */

/*
 * Append n bytes to out (size outsz, fill *o) only if they fit with the
 * terminating NUL; once something did not fit nothing more is added, so
 * output is cut between characters, never inside one.
 */
static void put(char *out, size_t outsz, size_t *o, const char *s, size_t n)
{
	if (*o == SIZE_MAX || *o + n >= outsz) {
		*o = SIZE_MAX;	/* out stays terminated after the last fit */
		return;
	}
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
}

/*
 * Length in bytes of the UTF-8 character at s (1 for an invalid byte, so
 * that broken text still masks one byte per "character").
 */
static size_t utf8_len(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n, i;

	if (u[0] < 0x80)
		return 1;
	else if ((u[0] & 0xe0) == 0xc0)
		n = 2;
	else if ((u[0] & 0xf0) == 0xe0)
		n = 3;
	else if ((u[0] & 0xf8) == 0xf0)
		n = 4;
	else
		return 1;
	for (i = 1; i < n; i++)
		if ((u[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

/* First character of s kept, every further one replaced by one '*'. */
static void mask_chars(const char *s, size_t len, char *out, size_t outsz, size_t *o)
{
	size_t i = 0, n;

	while (i < len) {
		n = utf8_len(s + i);
		if (i + n > len)
			n = len - i;
		if (i == 0)
			put(out, outsz, o, s, n);
		else
			put(out, outsz, o, "*", 1);
		i += n;
	}
}

/*
 * Mask a phone number for display: 8 or more characters keep the first 3
 * and last 4 ("13812345678" -> "138****5678"); shorter ones keep only the
 * last 2 ("12345" -> "***45"), and 2 or fewer are masked entirely.
 * "" stays "".  out (outsz bytes) is always NUL-terminated when outsz > 0.
 */
void mbr_mask_phone(const char *phone, char *out, size_t outsz)
{
	size_t n = strlen(phone), i, o = 0, head, tail;

	if (outsz)
		out[0] = '\0';
	if (n >= 8) {
		head = 3;
		tail = 4;
	} else {
		head = 0;
		tail = n > 2 ? 2 : 0;
	}
	put(out, outsz, &o, phone, head);
	for (i = head; i < n - tail; i++)
		put(out, outsz, &o, "*", 1);
	put(out, outsz, &o, phone + n - tail, tail);
}

/*
 * Mask an e-mail address for display: the first character of the local
 * part, "***", then '@' and the domain ("zhang@example.com" ->
 * "z***@example.com").  Without '@' the text is masked as a name.
 * "" stays "".
 */
void mbr_mask_email(const char *email, char *out, size_t outsz)
{
	const char *at = strrchr(email, '@');
	size_t o = 0, first;

	if (outsz)
		out[0] = '\0';
	if (!at) {
		mbr_mask_name(email, out, outsz);
		return;
	}
	if (at > email) {
		first = utf8_len(email);
		if (first > (size_t)(at - email))
			first = (size_t)(at - email);
		put(out, outsz, &o, email, first);
	}
	put(out, outsz, &o, "***", 3);
	put(out, outsz, &o, at, strlen(at));
}

/*
 * Mask a name for display, UTF-8 aware: the first character kept and
 * each further character (blanks included) replaced by one '*'
 * ("张三丰" -> "张**", "Ann Lee" -> "A******").  "" stays "".
 */
void mbr_mask_name(const char *name, char *out, size_t outsz)
{
	size_t o = 0;

	if (outsz)
		out[0] = '\0';
	mask_chars(name, strlen(name), out, outsz, &o);
}

/* ------------------------------------------------------- masks read back */

/*
 * The shapes of the masks above, to refuse a masked export fed back as
 * data (s is n bytes, trimmed).  Each is exactly what its mask makes of
 * a value long enough to hide something.
 */

/* "*" or "**"; "***45" (1-5 stars, 2 digits); "138****5678" or "+86****5678". */
int mbr_masked_phone(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i] == '*'; i++)
		;
	if (i == n)
		return n >= 1 && n <= 2;
	if (i >= 1 && i <= 5 && n == i + 2)
		return s[i] >= '0' && s[i] <= '9' && s[i + 1] >= '0' && s[i + 1] <= '9';
	if (n < 8 || !(s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 1; i < n; i++) {
		int star = i >= 3 && i < n - 4;

		if (star ? s[i] != '*' : !(s[i] >= '0' && s[i] <= '9'))
			return 0;
	}
	return 1;	/* n >= 8: at least one star */
}

/* "z***@example.com" or "***@example.com". */
int mbr_masked_email(const char *s, size_t n)
{
	size_t local = n, first;

	while (local > 0 && s[local - 1] != '@')
		local--;
	if (local == 0)
		return 0;	/* no '@' */
	local--;		/* the local part's length */
	if (local == 3)
		return !memcmp(s, "***", 3);
	first = utf8_len(s);
	return local == first + 3 && !memcmp(s + first, "***", 3);
}

/* "A******", "张**": one character, then one or more stars. */
int mbr_masked_name(const char *s, size_t n)
{
	size_t i = utf8_len(s);

	if (i >= n)
		return 0;
	for (; i < n; i++)
		if (s[i] != '*')
			return 0;
	return 1;
}
