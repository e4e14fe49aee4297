/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdnssec/binary.h>
#include <libdnssec/crypto.h>
#include <libdnssec/error.h>
#include <libdnssec/key.h>
#include <libdnssec/keystore.h>
#include <libdnssec/nsec.h>
#include <libdnssec/sign.h>

#include "dnssec.h"
#include "error.h"
#include "log.h"

/* type(2) alg(1) labels(1) original TTL(4) expiration(4) inception(4)
 * key tag(2), then the signer name. */
#define RRSIG_SIGNER_OFFSET 18
#define DNSKEY_FLAGS_CSK    257

void dnssec_global_init(void)
{
	dnssec_crypto_init();
}

void dnssec_global_cleanup(void)
{
	dnssec_crypto_cleanup();
}

const char *dnssec_algorithm_name(int algorithm)
{
	switch (algorithm) {
	case GSLB_DNSSEC_ECDSAP256SHA256:
		return "ECDSAP256SHA256";
	case GSLB_DNSSEC_ECDSAP384SHA384:
		return "ECDSAP384SHA384";
	case GSLB_DNSSEC_ED25519:
		return "ED25519";
	default:
		return "unknown";
	}
}

static unsigned algorithm_bits(int algorithm)
{
	return algorithm == GSLB_DNSSEC_ECDSAP384SHA384 ? 384 : 256;
}

/* The public key's size in DNSKEY: libdnssec checks a PEM's key type
 * (ECDSA) but not its curve. */
static size_t public_key_size(int algorithm)
{
	switch (algorithm) {
	case GSLB_DNSSEC_ECDSAP256SHA256:
		return 64;
	case GSLB_DNSSEC_ECDSAP384SHA384:
		return 96;
	case GSLB_DNSSEC_ED25519:
		return 32;
	default:
		return 0;
	}
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return -errno;
	}
	uint8_t buf[8192];
	size_t n = fread(buf, 1, sizeof(buf), f);
	bool eof = feof(f);
	fclose(f);
	if (!eof || n == 0) {
		return GSLB_EINVAL;
	}
	*out = malloc(n);
	if (*out == NULL) {
		return GSLB_ENOMEM;
	}
	memcpy(*out, buf, n);
	*len = n;
	return GSLB_EOK;
}

int dnssec_key_generate(int algorithm, const char *tmp_dir, uint8_t **pem,
			size_t *pem_len)
{
	/* libdnssec 3.2 generates keys only into a keystore directory: use a
	 * fresh private one and take the key back out of it. */
	char dir[4096];
	if (snprintf(dir, sizeof(dir), "%s/keygen-XXXXXX", tmp_dir) >=
		    (int)sizeof(dir) ||
	    mkdtemp(dir) == NULL) {
		return GSLB_EIO;
	}
	dnssec_keystore_t *ks = NULL;
	char *id = NULL;
	int ret = GSLB_EIO;
	int r;
	if (dnssec_keystore_init_pkcs8(&ks) != DNSSEC_EOK ||
	    dnssec_keystore_init(ks, dir) != DNSSEC_EOK ||
	    dnssec_keystore_open(ks, dir) != DNSSEC_EOK) {
		goto out;
	}
	r = dnssec_keystore_generate(ks, (dnssec_key_algorithm_t)algorithm,
				     algorithm_bits(algorithm), NULL, &id);
	if (r != DNSSEC_EOK) {
		log_error("dnssec", "cannot generate a %s key: %s",
			  dnssec_algorithm_name(algorithm), dnssec_strerror(r));
		goto out;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s.pem", dir, id);
	ret = read_file(path, pem, pem_len);
	dnssec_keystore_remove(ks, id);
out:
	free(id);
	if (ks != NULL) {
		dnssec_keystore_close(ks);
		dnssec_keystore_deinit(ks);
	}
	/* Nothing of the key may stay on disk, whatever happened. */
	DIR *d = opendir(dir);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] != '.') {
				unlinkat(dirfd(d), e->d_name, 0);
			}
		}
		closedir(d);
	}
	rmdir(dir);
	return ret;
}

void zone_key_free(struct zone_key *key)
{
	if (key == NULL) {
		return;
	}
	dnssec_key_free(key->priv);
	free(key->zone);
	free(key->apex);
	free(key->node_id);
	if (key->pem != NULL) {
		explicit_bzero(key->pem, key->pem_len);
	}
	free(key->pem);
	free(key->dnskey);
	free(key->ds);
	free(key);
}

int zone_key_load(const char *zone, int algorithm, const uint8_t *pem,
		  size_t pem_len, int64_t created, const char *node_id,
		  struct zone_key **out)
{
	struct zone_key *k = calloc(1, sizeof(*k));
	if (k == NULL) {
		return GSLB_ENOMEM;
	}
	k->zone = strdup(zone);
	k->apex = knot_dname_from_str_alloc(zone);
	k->node_id = strdup(node_id != NULL ? node_id : "");
	k->pem = malloc(pem_len > 0 ? pem_len : 1);
	if (k->zone == NULL || k->apex == NULL || k->node_id == NULL ||
	    k->pem == NULL) {
		zone_key_free(k);
		return GSLB_ENOMEM;
	}
	knot_dname_to_lower(k->apex);
	memcpy(k->pem, pem, pem_len);
	k->pem_len = pem_len;
	k->algorithm = algorithm;
	k->created = created;

	dnssec_key_t *dk = NULL;
	dnssec_binary_t bin = { .size = pem_len, .data = k->pem };
	char *id = NULL;
	dnssec_binary_t rd = { 0 };
	dnssec_binary_t ds = { 0 };
	int ret = GSLB_EINVAL;
	if (dnssec_key_new(&dk) != DNSSEC_EOK) {
		zone_key_free(k);
		return GSLB_ENOMEM;
	}
	k->priv = dk;
	if (dnssec_key_set_algorithm(dk, (uint8_t)algorithm) != DNSSEC_EOK ||
	    dnssec_key_load_pkcs8(dk, &bin) != DNSSEC_EOK ||
	    dnssec_key_get_algorithm(dk) != algorithm ||
	    !dnssec_key_can_sign(dk) ||
	    dnssec_key_set_dname(dk, k->apex) != DNSSEC_EOK ||
	    dnssec_key_set_flags(dk, DNSKEY_FLAGS_CSK) != DNSSEC_EOK ||
	    dnssec_key_get_keyid(dk, &id) != DNSSEC_EOK ||
	    dnssec_key_get_rdata(dk, &rd) != DNSSEC_EOK ||
	    rd.size != 4 + public_key_size(algorithm) ||
	    dnssec_key_create_ds(dk, DNSSEC_KEY_DIGEST_SHA256, &ds) !=
		    DNSSEC_EOK) {
		goto out;
	}
	snprintf(k->key_id, sizeof(k->key_id), "%s", id);
	k->key_tag = dnssec_key_get_keytag(dk);
	k->dnskey = malloc(rd.size);
	k->ds = malloc(ds.size);
	if (k->dnskey == NULL || k->ds == NULL) {
		ret = GSLB_ENOMEM;
		goto out;
	}
	memcpy(k->dnskey, rd.data, rd.size);
	k->dnskey_len = rd.size;
	memcpy(k->ds, ds.data, ds.size);
	k->ds_len = ds.size;
	ret = GSLB_EOK;
out:
	free(id);
	dnssec_binary_free(&ds);
	if (ret != GSLB_EOK) {
		zone_key_free(k);
		return ret;
	}
	*out = k;
	return GSLB_EOK;
}

static char *b64(const uint8_t *data, size_t len)
{
	dnssec_binary_t in = { .size = len, .data = (uint8_t *)data };
	dnssec_binary_t enc = { 0 };
	if (dnssec_binary_to_base64(&in, &enc) != DNSSEC_EOK) {
		return NULL;
	}
	char *s = malloc(enc.size + 1);
	if (s != NULL) {
		memcpy(s, enc.data, enc.size);
		s[enc.size] = '\0';
	}
	dnssec_binary_free(&enc);
	return s;
}

char *zone_key_public_b64(const struct zone_key *key)
{
	/* DNSKEY RDATA: flags(2) protocol(1) algorithm(1) public key */
	return b64(key->dnskey + 4, key->dnskey_len - 4);
}

char *zone_key_ds_digest_hex(const struct zone_key *key)
{
	size_t n = key->ds_len - 4;
	char *s = malloc(2 * n + 1);
	if (s == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(s + 2 * i, 3, "%02X", key->ds[4 + i]);
	}
	s[2 * n] = '\0';
	return s;
}

char *zone_key_ds_text(const struct zone_key *key)
{
	char *hex = zone_key_ds_digest_hex(key);
	char *s = NULL;
	if (hex != NULL &&
	    asprintf(&s, "%s. IN DS %u %d %d %s", key->zone, key->key_tag,
		     key->algorithm, DNSSEC_DS_SHA256, hex) < 0) {
		s = NULL;
	}
	free(hex);
	return s;
}

char *zone_key_dnskey_text(const struct zone_key *key)
{
	char *pub = zone_key_public_b64(key);
	char *s = NULL;
	if (pub != NULL &&
	    asprintf(&s, "%s. %d IN DNSKEY %d 3 %d %s", key->zone,
		     DNSSEC_DNSKEY_TTL, DNSKEY_FLAGS_CSK, key->algorithm,
		     pub) < 0) {
		s = NULL;
	}
	free(pub);
	return s;
}

/* The signature cache: RRset wire form → RRSIG RDATA. */
struct sig_entry {
	struct sig_entry *next;
	uint64_t hash;
	int64_t last_used;
	uint32_t expiration;
	uint32_t wire_len;
	knot_rdata_t *rrsig;
	uint8_t wire[];
};

struct signer {
	const struct zone_key *key;
	dnssec_sign_ctx_t *ctx;
	uint8_t *scratch; /* canonical RRset wire */
	struct sig_entry **buckets;
	size_t n_buckets; /* a power of two */
	size_t n_entries;
	uint64_t signed_new;
	uint64_t cache_hits;
	uint64_t failures;
};

#define SCRATCH_SIZE KNOT_WIRE_MAX_PKTSIZE

int signer_new(const struct zone_key *key, struct signer **out)
{
	struct signer *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return GSLB_ENOMEM;
	}
	s->key = key;
	s->n_buckets = 256;
	s->buckets = calloc(s->n_buckets, sizeof(*s->buckets));
	s->scratch = malloc(SCRATCH_SIZE);
	if (s->buckets == NULL || s->scratch == NULL ||
	    dnssec_sign_new(&s->ctx, key->priv) != DNSSEC_EOK) {
		signer_free(s);
		return GSLB_ENOMEM;
	}
	*out = s;
	return GSLB_EOK;
}

static void entry_free(struct sig_entry *e)
{
	free(e->rrsig);
	free(e);
}

void signer_free(struct signer *s)
{
	if (s == NULL) {
		return;
	}
	for (size_t i = 0; s->buckets != NULL && i < s->n_buckets; i++) {
		struct sig_entry *e = s->buckets[i];
		while (e != NULL) {
			struct sig_entry *next = e->next;
			entry_free(e);
			e = next;
		}
	}
	free(s->buckets);
	free(s->scratch);
	dnssec_sign_free(s->ctx);
	free(s);
}

const struct zone_key *signer_key(const struct signer *s)
{
	return s->key;
}

static uint64_t wire_hash(const uint8_t *p, size_t len)
{
	/* FNV-1a, 64 bits: the content is ours, not an attacker's. */
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void grow(struct signer *s)
{
	size_t n = s->n_buckets * 2;
	struct sig_entry **b = calloc(n, sizeof(*b));
	if (b == NULL) {
		return; /* longer chains, still correct */
	}
	for (size_t i = 0; i < s->n_buckets; i++) {
		struct sig_entry *e = s->buckets[i];
		while (e != NULL) {
			struct sig_entry *next = e->next;
			struct sig_entry **slot = &b[e->hash & (n - 1)];
			e->next = *slot;
			*slot = e;
			e = next;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->n_buckets = n;
}

/* Signs wire (the RRset rr in canonical form); NULL on failure. */
static knot_rdata_t *make_rrsig(struct signer *s, const knot_rrset_t *rr,
				const uint8_t *wire, size_t wire_len,
				int64_t now, uint32_t *expiration)
{
	const uint8_t *signer_name = s->key->apex;
	size_t slen = knot_dname_size(signer_name);
	uint8_t hdr[RRSIG_SIGNER_OFFSET + KNOT_DNAME_MAXLEN];
	uint8_t labels = (uint8_t)knot_dname_labels(rr->owner, NULL);
	uint32_t inception = (uint32_t)(now - DNSSEC_INCEPTION_PAST);
	*expiration = (uint32_t)(now + DNSSEC_SIG_LIFETIME);
	knot_wire_write_u16(hdr, rr->type);
	hdr[2] = (uint8_t)s->key->algorithm;
	hdr[3] = labels;
	knot_wire_write_u32(hdr + 4, rr->ttl);
	knot_wire_write_u32(hdr + 8, *expiration);
	knot_wire_write_u32(hdr + 12, inception);
	knot_wire_write_u16(hdr + 16, s->key->key_tag);
	memcpy(hdr + RRSIG_SIGNER_OFFSET, signer_name, slen);
	size_t hlen = RRSIG_SIGNER_OFFSET + slen;

	dnssec_binary_t h = { .size = hlen, .data = hdr };
	dnssec_binary_t w = { .size = wire_len, .data = (uint8_t *)wire };
	dnssec_binary_t sig = { 0 };
	if (dnssec_sign_init(s->ctx) != DNSSEC_EOK ||
	    dnssec_sign_add(s->ctx, &h) != DNSSEC_EOK ||
	    dnssec_sign_add(s->ctx, &w) != DNSSEC_EOK ||
	    dnssec_sign_write(s->ctx, DNSSEC_SIGN_NORMAL, &sig) != DNSSEC_EOK) {
		return NULL;
	}
	size_t len = hlen + sig.size;
	knot_rdata_t *rd = malloc(knot_rdata_size((uint16_t)len));
	if (rd != NULL) {
		uint8_t buf[RRSIG_SIGNER_OFFSET + KNOT_DNAME_MAXLEN + 512];
		memcpy(buf, hdr, hlen);
		memcpy(buf + hlen, sig.data, sig.size);
		knot_rdata_init(rd, (uint16_t)len, buf);
	}
	dnssec_binary_free(&sig);
	return rd;
}

const knot_rdata_t *signer_sign(struct signer *s, const knot_rrset_t *rr,
				int64_t now)
{
	int len = knot_rrset_to_wire(rr, s->scratch, SCRATCH_SIZE, NULL);
	if (len <= 0) {
		s->failures++;
		return NULL;
	}
	uint64_t h = wire_hash(s->scratch, (size_t)len);
	struct sig_entry **slot = &s->buckets[h & (s->n_buckets - 1)];
	struct sig_entry *e = *slot;
	for (; e != NULL; e = e->next) {
		if (e->hash == h && e->wire_len == (uint32_t)len &&
		    memcmp(e->wire, s->scratch, (size_t)len) == 0) {
			break;
		}
	}
	if (e != NULL && (int64_t)e->expiration - now >= DNSSEC_SIG_REFRESH) {
		e->last_used = now;
		s->cache_hits++;
		return e->rrsig;
	}

	uint32_t expiration;
	knot_rdata_t *rd =
		make_rrsig(s, rr, s->scratch, (size_t)len, now, &expiration);
	if (rd == NULL) {
		s->failures++;
		return NULL;
	}
	s->signed_new++;
	if (e != NULL) { /* refreshed in place */
		free(e->rrsig);
		e->rrsig = rd;
		e->expiration = expiration;
		e->last_used = now;
		return rd;
	}
	e = malloc(sizeof(*e) + (size_t)len);
	if (e == NULL) {
		free(rd);
		s->failures++;
		return NULL;
	}
	e->hash = h;
	e->last_used = now;
	e->expiration = expiration;
	e->wire_len = (uint32_t)len;
	e->rrsig = rd;
	memcpy(e->wire, s->scratch, (size_t)len);
	e->next = *slot;
	*slot = e;
	if (++s->n_entries > 2 * s->n_buckets) {
		grow(s);
	}
	return rd;
}

void signer_sweep(struct signer *s, int64_t keep_since)
{
	for (size_t i = 0; i < s->n_buckets; i++) {
		struct sig_entry **p = &s->buckets[i];
		while (*p != NULL) {
			struct sig_entry *e = *p;
			if (e->last_used < keep_since) {
				*p = e->next;
				entry_free(e);
				s->n_entries--;
			} else {
				p = &e->next;
			}
		}
	}
}

void signer_get_stats(const struct signer *s, struct signer_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->signed_new = s->signed_new;
	st->cache_hits = s->cache_hits;
	st->failures = s->failures;
	st->cached = s->n_entries;
	for (size_t i = 0; i < s->n_buckets; i++) {
		for (const struct sig_entry *e = s->buckets[i]; e != NULL;
		     e = e->next) {
			int64_t due =
				(int64_t)e->expiration - DNSSEC_SIG_REFRESH;
			if (st->next_refresh == 0 || due < st->next_refresh) {
				st->next_refresh = due;
			}
		}
	}
}

size_t dnssec_type_bitmap(const uint16_t *types, size_t n, uint8_t *out,
			  size_t max)
{
	dnssec_nsec_bitmap_t *bm = dnssec_nsec_bitmap_new();
	if (bm == NULL) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		dnssec_nsec_bitmap_add(bm, types[i]);
	}
	size_t len = dnssec_nsec_bitmap_size(bm);
	if (len > max) {
		len = 0;
	} else {
		dnssec_nsec_bitmap_write(bm, out);
	}
	dnssec_nsec_bitmap_free(bm);
	return len;
}

int dnssec_nsec3_hash_name(const knot_dname_t *name,
			   uint8_t out[DNSSEC_NSEC3_HASH_LEN])
{
	const dnssec_nsec3_params_t params = {
		.algorithm = DNSSEC_NSEC3_ALGORITHM_SHA1,
	};
	dnssec_binary_t in = { .size = knot_dname_size(name),
			       .data = (uint8_t *)name };
	dnssec_binary_t hash = { 0 };
	if (dnssec_nsec3_hash(&in, &params, &hash) != DNSSEC_EOK) {
		return GSLB_EINVAL;
	}
	int ret = GSLB_EINVAL;
	if (hash.size == DNSSEC_NSEC3_HASH_LEN) {
		memcpy(out, hash.data, DNSSEC_NSEC3_HASH_LEN);
		ret = GSLB_EOK;
	}
	dnssec_binary_free(&hash);
	return ret;
}
