/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "error.h"
#include "fsutil.h"
#include "identity.h"

#define CN_PREFIX     "opengslb-agent"
#define ORGANIZATION  "OpenGSLB Agent"
#define SERIAL_BYTES  16
#define BACKDATE_SECS 3600
/* Certificates and keys are a few hundred bytes; anything this big is not
 * one of ours. */
#define MAX_FILE_SIZE (256 * 1024)

struct gslb_cert {
	gnutls_x509_crt_t crt;
	gnutls_pubkey_t pub;
	int64_t not_before;
	int64_t not_after;
};

struct gslb_identity {
	gnutls_privkey_t key;
	struct gslb_cert *cert;
	uint8_t *der;
	size_t der_len;
	char fingerprint[GSLB_FINGERPRINT_LEN + 1];
};

static int enomem_or(int gnutls_ret, int other)
{
	return gnutls_ret == GNUTLS_E_MEMORY_ERROR ? GSLB_ENOMEM : other;
}

/* ---- peer certificates ------------------------------------------------ */

static bool is_p256(gnutls_pubkey_t pub)
{
	if (gnutls_pubkey_get_pk_algorithm(pub, NULL) != GNUTLS_PK_ECDSA) {
		return false;
	}
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };
	if (gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, 0) < 0) {
		return false;
	}
	gnutls_free(x.data);
	gnutls_free(y.data);
	return curve == GNUTLS_ECC_CURVE_SECP256R1;
}

int gslb_cert_parse(const uint8_t *der, size_t len, struct gslb_cert **out)
{
	*out = NULL;
	if (der == NULL || len == 0 || len > UINT_MAX) {
		return GSLB_EINVAL;
	}
	struct gslb_cert *cert = calloc(1, sizeof(*cert));
	if (cert == NULL) {
		return GSLB_ENOMEM;
	}
	int ret = gnutls_x509_crt_init(&cert->crt);
	if (ret < 0) {
		cert->crt = NULL;
		gslb_cert_free(cert);
		return GSLB_ENOMEM;
	}
	const gnutls_datum_t d = { (unsigned char *)der, (unsigned int)len };
	ret = gnutls_x509_crt_import(cert->crt, &d, GNUTLS_X509_FMT_DER);
	if (ret < 0) {
		gslb_cert_free(cert);
		return enomem_or(ret, GSLB_EINVAL);
	}
	/* One certificate, one fingerprint: only the exact DER is taken (GnuTLS
	 * 3.7 refuses trailing bytes itself; this does not rely on it). */
	gnutls_datum_t again = { NULL, 0 };
	ret = gnutls_x509_crt_export2(cert->crt, GNUTLS_X509_FMT_DER, &again);
	if (ret < 0) {
		gslb_cert_free(cert);
		return enomem_or(ret, GSLB_EINVAL);
	}
	const bool exact =
		again.size == len && memcmp(again.data, der, len) == 0;
	gnutls_free(again.data);
	if (!exact) {
		gslb_cert_free(cert);
		return GSLB_EINVAL;
	}
	ret = gnutls_pubkey_init(&cert->pub);
	if (ret < 0) {
		cert->pub = NULL;
		gslb_cert_free(cert);
		return GSLB_ENOMEM;
	}
	ret = gnutls_pubkey_import_x509(cert->pub, cert->crt, 0);
	if (ret < 0 || !is_p256(cert->pub)) {
		gslb_cert_free(cert);
		return enomem_or(ret, GSLB_EINVAL);
	}
	const time_t nb = gnutls_x509_crt_get_activation_time(cert->crt);
	const time_t na = gnutls_x509_crt_get_expiration_time(cert->crt);
	if (nb == (time_t)-1 || na == (time_t)-1) {
		gslb_cert_free(cert);
		return GSLB_EINVAL;
	}
	cert->not_before = (int64_t)nb;
	cert->not_after = (int64_t)na;
	*out = cert;
	return GSLB_EOK;
}

void gslb_cert_free(struct gslb_cert *cert)
{
	if (cert == NULL) {
		return;
	}
	if (cert->pub != NULL) {
		gnutls_pubkey_deinit(cert->pub);
	}
	if (cert->crt != NULL) {
		gnutls_x509_crt_deinit(cert->crt);
	}
	free(cert);
}

int64_t gslb_cert_not_before(const struct gslb_cert *cert)
{
	return cert->not_before;
}

int64_t gslb_cert_not_after(const struct gslb_cert *cert)
{
	return cert->not_after;
}

void gslb_cert_common_name(const struct gslb_cert *cert, char *buf, size_t len)
{
	if (len == 0) {
		return;
	}
	buf[0] = '\0';
	size_t size = 0;
	int ret = gnutls_x509_crt_get_dn_by_oid(
		cert->crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, NULL, &size);
	if (ret != GNUTLS_E_SHORT_MEMORY_BUFFER || size == 0) {
		return;
	}
	char *cn = malloc(size);
	if (cn == NULL) {
		return;
	}
	ret = gnutls_x509_crt_get_dn_by_oid(
		cert->crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &size);
	if (ret >= 0) {
		snprintf(buf, len, "%s", cn);
	}
	free(cn);
}

bool gslb_cert_verify(const struct gslb_cert *cert, const uint8_t *data,
		      size_t len, const uint8_t *sig, size_t sig_len)
{
	if (len > UINT_MAX || sig == NULL || sig_len == 0 ||
	    sig_len > GSLB_SIGNATURE_MAX) {
		return false;
	}
	static const uint8_t empty[1];
	const gnutls_datum_t d = { (unsigned char *)(data != NULL ? data
								  : empty),
				   (unsigned int)len };
	const gnutls_datum_t s = { (unsigned char *)sig,
				   (unsigned int)sig_len };
	return gnutls_pubkey_verify_data2(cert->pub, GNUTLS_SIGN_ECDSA_SHA256,
					  0, &d, &s) >= 0;
}

void gslb_fingerprint(const uint8_t *der, size_t len,
		      char out[GSLB_FINGERPRINT_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t digest[GSLB_FINGERPRINT_LEN / 2];
	out[0] = '\0';
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, digest) < 0) {
		return;
	}
	for (size_t i = 0; i < sizeof(digest); i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0x0f];
	}
	out[GSLB_FINGERPRINT_LEN] = '\0';
}

/* ---- the agent's own identity ------------------------------------------ */

void gslb_identity_free(struct gslb_identity *id)
{
	if (id == NULL) {
		return;
	}
	if (id->key != NULL) {
		gnutls_privkey_deinit(id->key);
	}
	gslb_cert_free(id->cert);
	free(id->der);
	free(id);
}

const uint8_t *gslb_identity_cert(const struct gslb_identity *id, size_t *len)
{
	*len = id->der_len;
	return id->der;
}

const char *gslb_identity_fingerprint(const struct gslb_identity *id)
{
	return id->fingerprint;
}

int64_t gslb_identity_not_after(const struct gslb_identity *id)
{
	return gslb_cert_not_after(id->cert);
}

int gslb_identity_sign(const struct gslb_identity *id, const uint8_t *data,
		       size_t len, uint8_t *sig, size_t *sig_len)
{
	if (len > UINT_MAX) {
		return GSLB_EIO;
	}
	static const uint8_t empty[1];
	const gnutls_datum_t d = { (unsigned char *)(data != NULL ? data
								  : empty),
				   (unsigned int)len };
	gnutls_datum_t s = { NULL, 0 };
	if (gnutls_privkey_sign_data2(id->key, GNUTLS_SIGN_ECDSA_SHA256, 0, &d,
				      &s) < 0) {
		return GSLB_EIO;
	}
	int ret = GSLB_EIO;
	if (s.size <= *sig_len) {
		memcpy(sig, s.data, s.size);
		*sig_len = s.size;
		ret = GSLB_EOK;
	}
	gnutls_free(s.data);
	return ret;
}

/* Takes der (malloc'd) and key; on failure frees both. */
static int identity_new(gnutls_privkey_t key, uint8_t *der, size_t der_len,
			struct gslb_identity **out)
{
	struct gslb_identity *id = calloc(1, sizeof(*id));
	if (id == NULL) {
		gnutls_privkey_deinit(key);
		free(der);
		return GSLB_ENOMEM;
	}
	id->key = key;
	id->der = der;
	id->der_len = der_len;
	const int ret = gslb_cert_parse(der, der_len, &id->cert);
	if (ret != GSLB_EOK) {
		gslb_identity_free(id);
		return ret;
	}
	gslb_fingerprint(der, der_len, id->fingerprint);
	*out = id;
	return GSLB_EOK;
}

/* Everything but the signature; a GnuTLS error code. */
static int fill_cert(gnutls_x509_crt_t crt, gnutls_pubkey_t pub, const char *cn,
		     const uint8_t *serial, size_t serial_len,
		     const uint8_t *key_id, size_t key_id_len, time_t now)
{
	int ret = gnutls_x509_crt_set_version(crt, 3);
	if (ret < 0) {
		return ret;
	}
	ret = gnutls_x509_crt_set_serial(crt, serial, serial_len);
	if (ret < 0) {
		return ret;
	}
	ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
					    cn, (unsigned)strlen(cn));
	if (ret < 0) {
		return ret;
	}
	ret = gnutls_x509_crt_set_dn_by_oid(
		crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, ORGANIZATION,
		(unsigned)strlen(ORGANIZATION));
	if (ret < 0) {
		return ret;
	}
	ret = gnutls_x509_crt_set_activation_time(crt, now - BACKDATE_SECS);
	if (ret < 0) {
		return ret;
	}
	ret = gnutls_x509_crt_set_expiration_time(
		crt, now + (time_t)GSLB_IDENTITY_VALIDITY_DAYS * 86400);
	if (ret < 0) {
		return ret;
	}
	ret = gnutls_x509_crt_set_pubkey(crt, pub);
	if (ret < 0) {
		return ret;
	}
	ret = gnutls_x509_crt_set_subject_key_id(crt, key_id, key_id_len);
	if (ret < 0) {
		return ret;
	}
	ret = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
	if (ret < 0) {
		return ret;
	}
	ret = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (ret < 0) {
		return ret;
	}
	return gnutls_x509_crt_set_key_purpose_oid(crt,
						   GNUTLS_KP_TLS_WWW_CLIENT, 0);
}

/* Builds and self-signs the certificate for key into *der (malloc'd). */
static int make_cert(gnutls_privkey_t key, const char *region, uint8_t **der,
		     size_t *der_len, char *err, size_t err_len)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d = { NULL, 0 };
	char cn[256];
	/* One zero byte in front keeps the 128 random bits a positive
	 * INTEGER; the encoder drops it when it is not needed. */
	uint8_t serial[1 + SERIAL_BYTES] = { 0 };
	uint8_t key_id[64];
	size_t key_id_len = sizeof(key_id);
	const time_t now = time(NULL);

	if (region != NULL && region[0] != '\0') {
		snprintf(cn, sizeof(cn), CN_PREFIX "-%s", region);
	} else {
		snprintf(cn, sizeof(cn), CN_PREFIX);
	}
	const char *what = "cannot initialise a certificate";
	int ret = gnutls_x509_crt_init(&crt);
	if (ret < 0) {
		crt = NULL;
		goto out;
	}
	what = "cannot take the public key";
	ret = gnutls_pubkey_init(&pub);
	if (ret < 0) {
		pub = NULL;
		goto out;
	}
	ret = gnutls_pubkey_import_privkey(pub, key, 0, 0);
	if (ret < 0) {
		goto out;
	}

	what = "cannot make a serial number";
	ret = gnutls_rnd(GNUTLS_RND_NONCE, serial + 1, SERIAL_BYTES);
	if (ret < 0) {
		goto out;
	}
	what = "cannot compute the key id";
	ret = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA1, key_id,
				       &key_id_len);
	if (ret < 0) {
		goto out;
	}

	what = "cannot fill in the certificate";
	ret = fill_cert(crt, pub, cn, serial, sizeof(serial), key_id,
			key_id_len, now);
	if (ret < 0) {
		goto out;
	}
	what = "cannot sign the certificate";
	ret = gnutls_x509_crt_privkey_sign(crt, crt, key, GNUTLS_DIG_SHA256, 0);
	if (ret < 0) {
		goto out;
	}
	what = "cannot encode the certificate";
	ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d);
	if (ret < 0) {
		goto out;
	}
	*der = malloc(d.size);
	if (*der == NULL) {
		ret = GNUTLS_E_MEMORY_ERROR;
	} else {
		memcpy(*der, d.data, d.size);
		*der_len = d.size;
	}
	gnutls_free(d.data);
out:
	if (pub != NULL) {
		gnutls_pubkey_deinit(pub);
	}
	if (crt != NULL) {
		gnutls_x509_crt_deinit(crt);
	}
	if (ret < 0) {
		snprintf(err, err_len, "agent certificate: %s: %s", what,
			 gnutls_strerror(ret));
		return enomem_or(ret, GSLB_EIO);
	}
	return GSLB_EOK;
}

int gslb_identity_create(const char *region, struct gslb_identity **out,
			 char *err, size_t err_len)
{
	*out = NULL;
	gnutls_privkey_t key = NULL;
	int ret = gnutls_privkey_init(&key);
	if (ret < 0) {
		snprintf(err, err_len, "agent key: %s", gnutls_strerror(ret));
		return GSLB_ENOMEM;
	}
	ret = gnutls_privkey_generate2(
		key, GNUTLS_PK_ECDSA,
		GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0);
	if (ret < 0) {
		snprintf(err, err_len, "agent key: cannot generate: %s",
			 gnutls_strerror(ret));
		gnutls_privkey_deinit(key);
		return enomem_or(ret, GSLB_EIO);
	}
	uint8_t *der = NULL;
	size_t der_len = 0;
	ret = make_cert(key, region, &der, &der_len, err, err_len);
	if (ret != GSLB_EOK) {
		gnutls_privkey_deinit(key);
		return ret;
	}
	ret = identity_new(key, der, der_len, out);
	if (ret != GSLB_EOK) {
		snprintf(err, err_len,
			 "agent certificate: cannot parse what was made: %s",
			 gslb_strerror(ret));
		return ret == GSLB_ENOMEM ? ret : GSLB_EIO;
	}
	return GSLB_EOK;
}

/* ---- files ------------------------------------------------------------- */

/*
 * Reads path whole into a NUL-terminated buffer (caller frees; wipe it
 * first when it held a key). GSLB_ENOENT, GSLB_ENOMEM or GSLB_EINVAL, with
 * err filled.
 */
static int read_file(const char *path, gnutls_datum_t *out, char *err,
		     size_t err_len)
{
	out->data = NULL;
	out->size = 0;
	const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		const int e = errno;
		snprintf(err, err_len, "%s: %s", path, strerror(e));
		return e == ENOENT ? GSLB_ENOENT : GSLB_EINVAL;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		close(fd);
		return GSLB_EINVAL;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", path);
		close(fd);
		return GSLB_EINVAL;
	}
	if (sb.st_size > MAX_FILE_SIZE) {
		snprintf(
			err, err_len,
			"%s: too big for a PEM certificate or key (%lld bytes)",
			path, (long long)sb.st_size);
		close(fd);
		return GSLB_EINVAL;
	}
	const size_t size = (size_t)sb.st_size;
	unsigned char *buf = malloc(size + 1);
	if (buf == NULL) {
		snprintf(err, err_len, "%s: out of memory", path);
		close(fd);
		return GSLB_ENOMEM;
	}
	size_t got = 0;
	while (got < size) {
		const ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			gnutls_memset(buf, 0, size);
			free(buf);
			close(fd);
			return GSLB_EINVAL;
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	out->data = buf;
	out->size = (unsigned int)got;
	return GSLB_EOK;
}

static void wipe_free(gnutls_datum_t *d)
{
	if (d->data != NULL) {
		gnutls_memset(d->data, 0, d->size);
		free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

/* Whether key's public half is the one in cert. */
static bool key_matches(gnutls_privkey_t key, const struct gslb_cert *cert)
{
	gnutls_pubkey_t pub = NULL;
	if (gnutls_pubkey_init(&pub) < 0) {
		return false;
	}
	gnutls_datum_t a = { NULL, 0 }, b = { NULL, 0 };
	bool same = gnutls_pubkey_import_privkey(pub, key, 0, 0) >= 0 &&
		    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) >= 0 &&
		    gnutls_pubkey_export2(cert->pub, GNUTLS_X509_FMT_DER, &b) >=
			    0 &&
		    a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	gnutls_pubkey_deinit(pub);
	if (!same) {
		return false;
	}
	/* The public point in the key file could disagree with its private
	 * scalar: a signature settles it. */
	static const uint8_t probe[] = "opengslb identity key check";
	const gnutls_datum_t d = { (unsigned char *)probe, sizeof(probe) };
	gnutls_datum_t s = { NULL, 0 };
	if (gnutls_privkey_sign_data2(key, GNUTLS_SIGN_ECDSA_SHA256, 0, &d,
				      &s) < 0) {
		return false;
	}
	same = gnutls_pubkey_verify_data2(cert->pub, GNUTLS_SIGN_ECDSA_SHA256,
					  0, &d, &s) >= 0;
	gnutls_free(s.data);
	return same;
}

int gslb_identity_load(const char *cert_path, const char *key_path,
		       struct gslb_identity **out, char *err, size_t err_len)
{
	*out = NULL;
	gnutls_datum_t pem = { NULL, 0 }, der = { NULL, 0 };
	gnutls_privkey_t key = NULL;
	struct gslb_cert *cert = NULL;
	uint8_t *cert_der = NULL;
	size_t cert_len = 0;
	int gret = 0;
	int ret = read_file(cert_path, &pem, err, err_len);
	if (ret != GSLB_EOK) {
		return ret;
	}
	ret = gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der);
	free(pem.data);
	if (ret < 0) {
		snprintf(err, err_len,
			 "%s: not a PEM certificate (no readable \"BEGIN "
			 "CERTIFICATE\" block: %s)",
			 cert_path, gnutls_strerror(ret));
		return enomem_or(ret, GSLB_EINVAL);
	}
	/* Our own copy, so that everything in the identity is malloc'd. */
	cert_der = malloc(der.size);
	if (cert_der == NULL) {
		gnutls_free(der.data);
		snprintf(err, err_len, "%s: out of memory", cert_path);
		return GSLB_ENOMEM;
	}
	memcpy(cert_der, der.data, der.size);
	cert_len = der.size;
	gnutls_free(der.data);

	ret = gslb_cert_parse(cert_der, cert_len, &cert);
	if (ret != GSLB_EOK) {
		snprintf(err, err_len,
			 ret == GSLB_ENOMEM ? "%s: out of memory"
					    : "%s: not an X.509 certificate "
					      "with an ECDSA P-256 key",
			 cert_path);
		free(cert_der);
		return ret;
	}

	ret = read_file(key_path, &pem, err, err_len);
	if (ret != GSLB_EOK) {
		goto fail;
	}
	gret = gnutls_privkey_init(&key);
	if (gret < 0) {
		key = NULL;
		wipe_free(&pem);
		snprintf(err, err_len, "%s: %s", key_path,
			 gnutls_strerror(gret));
		ret = GSLB_ENOMEM;
		goto fail;
	}
	/* PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY", unencrypted. */
	gret = gnutls_privkey_import_x509_raw(key, &pem, GNUTLS_X509_FMT_PEM,
					      NULL, 0);
	wipe_free(&pem);
	if (gret < 0) {
		snprintf(err, err_len,
			 "%s: not an unencrypted PEM private key (%s)",
			 key_path, gnutls_strerror(gret));
		ret = enomem_or(gret, GSLB_EINVAL);
		goto fail;
	}
	if (!key_matches(key, cert)) {
		snprintf(err, err_len,
			 "%s: the key does not match the certificate in %s",
			 key_path, cert_path);
		ret = GSLB_EINVAL;
		goto fail;
	}
	gslb_cert_free(cert);
	ret = identity_new(key, cert_der, cert_len, out);
	if (ret != GSLB_EOK) {
		snprintf(err, err_len, "%s: %s", cert_path, gslb_strerror(ret));
	}
	return ret;
fail:
	if (key != NULL) {
		gnutls_privkey_deinit(key);
	}
	gslb_cert_free(cert);
	free(cert_der);
	return ret;
}

/* Makes the directory that will hold path. */
static int make_parent(const char *path, char *err, size_t err_len)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL || slash == path) {
		return GSLB_EOK;
	}
	char *dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL) {
		snprintf(err, err_len, "%s: out of memory", path);
		return GSLB_ENOMEM;
	}
	const int ret = gslb_mkdirs(dir, 0755);
	if (ret != GSLB_EOK) {
		snprintf(err, err_len, "%s: cannot create the directory: %s",
			 dir, gslb_strerror(ret));
	}
	free(dir);
	return ret == GSLB_EOK ? GSLB_EOK : GSLB_EIO;
}

/* Flushes the directory holding path so that a rename in it lasts. */
static void sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL   ? strdup(".")
		    : slash == path ? strdup("/")
				    : strndup(path, (size_t)(slash - path));
	if (dir == NULL) {
		return;
	}
	const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

/*
 * Writes data to a new temporary file next to path with mode, and returns
 * its name in *tmp (caller frees, renames or unlinks). mkostemp opens with
 * O_CREAT | O_EXCL and mode 0600: no one else can open it, whatever the
 * umask, before fchmod gives it its final mode.
 */
static int write_temp(const char *path, const void *data, size_t len,
		      mode_t mode, char **tmp, char *err, size_t err_len)
{
	*tmp = NULL;
	const size_t n = strlen(path) + sizeof(".XXXXXX");
	char *name = malloc(n);
	if (name == NULL) {
		snprintf(err, err_len, "%s: out of memory", path);
		return GSLB_ENOMEM;
	}
	snprintf(name, n, "%s.XXXXXX", path);
	const int fd = mkostemp(name, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, "%s: cannot create a temporary file: %s",
			 path, strerror(errno));
		free(name);
		return GSLB_EIO;
	}
	const char *what = "cannot write";
	size_t done = 0;
	while (done < len) {
		const ssize_t w =
			write(fd, (const uint8_t *)data + done, len - done);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			goto fail;
		}
		done += (size_t)w;
	}
	what = "cannot set the mode of";
	if (fchmod(fd, mode) != 0) {
		goto fail;
	}
	what = "cannot flush";
	if (fsync(fd) != 0) {
		goto fail;
	}
	what = "cannot close";
	if (close(fd) != 0) {
		snprintf(err, err_len, "%s: %s %s: %s", path, what, name,
			 strerror(errno));
		unlink(name);
		free(name);
		return GSLB_EIO;
	}
	*tmp = name;
	return GSLB_EOK;
fail:;
	const int e = errno;
	snprintf(err, err_len, "%s: %s %s: %s", path, what, name,
		 e != 0 ? strerror(e) : "short write");
	close(fd);
	unlink(name);
	free(name);
	return GSLB_EIO;
}

/* The private key as unencrypted PKCS#8 PEM (wipe and gnutls_free it). */
static int export_key(gnutls_privkey_t key, gnutls_datum_t *pem)
{
	gnutls_x509_privkey_t xkey = NULL;
	int ret = gnutls_privkey_export_x509(key, &xkey);
	if (ret < 0) {
		return ret;
	}
	ret = gnutls_x509_privkey_export2_pkcs8(xkey, GNUTLS_X509_FMT_PEM, NULL,
						GNUTLS_PKCS_PLAIN, pem);
	gnutls_x509_privkey_deinit(xkey);
	return ret;
}

int gslb_identity_save(const struct gslb_identity *id, const char *cert_path,
		       const char *key_path, char *err, size_t err_len)
{
	int ret = make_parent(cert_path, err, err_len);
	if (ret == GSLB_EOK) {
		ret = make_parent(key_path, err, err_len);
	}
	if (ret != GSLB_EOK) {
		return ret;
	}

	const gnutls_datum_t der = { id->der, (unsigned int)id->der_len };
	gnutls_datum_t cert_pem = { NULL, 0 }, key_pem = { NULL, 0 };
	char *cert_tmp = NULL, *key_tmp = NULL;
	int gret = gnutls_pem_base64_encode2("CERTIFICATE", &der, &cert_pem);
	if (gret < 0) {
		snprintf(err, err_len, "%s: cannot encode the certificate: %s",
			 cert_path, gnutls_strerror(gret));
		return enomem_or(gret, GSLB_EIO);
	}
	gret = export_key(id->key, &key_pem);
	if (gret < 0) {
		snprintf(err, err_len, "%s: cannot encode the key: %s",
			 key_path, gnutls_strerror(gret));
		ret = enomem_or(gret, GSLB_EIO);
		goto out;
	}

	/* Both complete on disk before either replaces an old file, so that
	 * only a crash between the two renames can pair a new key with an
	 * old certificate (and load then says so). */
	ret = write_temp(key_path, key_pem.data, key_pem.size, 0600, &key_tmp,
			 err, err_len);
	if (ret != GSLB_EOK) {
		goto out;
	}
	ret = write_temp(cert_path, cert_pem.data, cert_pem.size, 0644,
			 &cert_tmp, err, err_len);
	if (ret != GSLB_EOK) {
		goto out;
	}
	if (rename(key_tmp, key_path) != 0) {
		snprintf(err, err_len, "%s: cannot rename %s to it: %s",
			 key_path, key_tmp, strerror(errno));
		ret = GSLB_EIO;
		goto out;
	}
	free(key_tmp);
	key_tmp = NULL;
	if (rename(cert_tmp, cert_path) != 0) {
		snprintf(err, err_len, "%s: cannot rename %s to it: %s",
			 cert_path, cert_tmp, strerror(errno));
		ret = GSLB_EIO;
		goto out;
	}
	free(cert_tmp);
	cert_tmp = NULL;
	sync_parent(key_path);
	sync_parent(cert_path);
out:
	if (key_tmp != NULL) {
		unlink(key_tmp);
		free(key_tmp);
	}
	if (cert_tmp != NULL) {
		unlink(cert_tmp);
		free(cert_tmp);
	}
	if (key_pem.data != NULL) {
		gnutls_memset(key_pem.data, 0, key_pem.size);
		gnutls_free(key_pem.data);
	}
	gnutls_free(cert_pem.data);
	return ret;
}
