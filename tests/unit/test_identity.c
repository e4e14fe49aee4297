/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "compiler.h"
#include "error.h"
#include "identity.h"

#define DAY 86400

static char root[] = "/tmp/gslb-identity-XXXXXX";
static char cert_path[128], key_path[128];

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(cert_path, sizeof(cert_path), "%s/agent.crt", root);
	snprintf(key_path, sizeof(key_path), "%s/agent.key", root);
}

static void teardown(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(root, sizeof(root), "/tmp/gslb-identity-XXXXXX");
}

static struct gslb_identity *create(const char *region)
{
	struct gslb_identity *id = NULL;
	char err[256] = "";
	ck_assert_msg(gslb_identity_create(region, &id, err, sizeof(err)) ==
			      GSLB_EOK,
		      "%s", err);
	ck_assert_ptr_nonnull(id);
	return id;
}

static struct gslb_cert *parse_own(const struct gslb_identity *id)
{
	size_t len = 0;
	const uint8_t *der = gslb_identity_cert(id, &len);
	ck_assert_ptr_nonnull(der);
	ck_assert_uint_gt(len, 0);
	struct gslb_cert *cert = NULL;
	ck_assert_int_eq(gslb_cert_parse(der, len, &cert), GSLB_EOK);
	ck_assert_ptr_nonnull(cert);
	return cert;
}

static void save(const struct gslb_identity *id, const char *cert,
		 const char *key)
{
	char err[256] = "";
	ck_assert_msg(gslb_identity_save(id, cert, key, err, sizeof(err)) ==
			      GSLB_EOK,
		      "%s", err);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* The whole file, NUL-terminated (caller frees). */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char *buf = calloc(1, 65536);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, 65535, f);
	fclose(f);
	return buf;
}

static mode_t file_mode(const char *path)
{
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	return sb.st_mode & 07777;
}

/* The certificate, parsed by GnuTLS itself. */
static gnutls_x509_crt_t raw_cert(const struct gslb_identity *id)
{
	size_t len = 0;
	const uint8_t *der = gslb_identity_cert(id, &len);
	gnutls_x509_crt_t crt;
	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	const gnutls_datum_t d = { (unsigned char *)der, (unsigned)len };
	ck_assert_int_eq(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER),
			 0);
	return crt;
}

START_TEST(create_region)
{
	struct gslb_identity *id = create("eu-west");
	struct gslb_cert *cert = parse_own(id);
	char cn[128];
	gslb_cert_common_name(cert, cn, sizeof(cn));
	ck_assert_str_eq(cn, "opengslb-agent-eu-west");
	/* Cut to the room given, always terminated. */
	gslb_cert_common_name(cert, cn, 9);
	ck_assert_str_eq(cn, "opengslb");
	gslb_cert_free(cert);
	gslb_identity_free(id);

	static const char *const none[] = { NULL, "" };
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(none); i++) {
		id = create(none[i]);
		cert = parse_own(id);
		gslb_cert_common_name(cert, cn, sizeof(cn));
		ck_assert_str_eq(cn, "opengslb-agent");
		gslb_cert_free(cert);
		gslb_identity_free(id);
	}
}
END_TEST

START_TEST(validity)
{
	const int64_t before = (int64_t)time(NULL);
	struct gslb_identity *id = create("us-east");
	const int64_t after = (int64_t)time(NULL);
	struct gslb_cert *cert = parse_own(id);

	const int64_t nb = gslb_cert_not_before(cert);
	const int64_t na = gslb_cert_not_after(cert);
	ck_assert_int_le(nb, before);
	ck_assert_int_ge(nb, before - 3600);
	ck_assert_int_le(nb, after - 3600);
	ck_assert_int_ge(na, before + GSLB_IDENTITY_VALIDITY_DAYS * DAY);
	ck_assert_int_le(na, after + GSLB_IDENTITY_VALIDITY_DAYS * DAY);
	ck_assert_int_eq(gslb_identity_not_after(id), na);
	/* Far from renewal when new. */
	ck_assert_int_gt(na - after, GSLB_IDENTITY_RENEW_DAYS * DAY);
	gslb_cert_free(cert);
	gslb_identity_free(id);
}
END_TEST

START_TEST(fingerprint)
{
	char fp[GSLB_FINGERPRINT_LEN + 1];
	gslb_fingerprint((const uint8_t *)"abc", 3, fp);
	ck_assert_str_eq(fp, "ba7816bf8f01cfea414140de5dae2223"
			     "b00361a396177a9cb410ff61f20015ad");

	struct gslb_identity *id = create("eu-west");
	const char *own = gslb_identity_fingerprint(id);
	ck_assert_uint_eq(strlen(own), GSLB_FINGERPRINT_LEN);
	ck_assert_uint_eq(strspn(own, "0123456789abcdef"),
			  GSLB_FINGERPRINT_LEN);
	size_t len = 0;
	const uint8_t *der = gslb_identity_cert(id, &len);
	gslb_fingerprint(der, len, fp);
	ck_assert_str_eq(fp, own);

	/* Two agents of one region still differ. */
	struct gslb_identity *other = create("eu-west");
	ck_assert_str_ne(gslb_identity_fingerprint(other), own);
	gslb_identity_free(other);
	gslb_identity_free(id);
}
END_TEST

/* What the header promises, read back with GnuTLS. */
START_TEST(certificate_fields)
{
	struct gslb_identity *id = create("ap-south");
	struct gslb_identity *other = create("ap-south");
	gnutls_x509_crt_t crt = raw_cert(id);
	gnutls_x509_crt_t crt2 = raw_cert(other);

	ck_assert_int_eq(gnutls_x509_crt_get_version(crt), 3);
	ck_assert_int_eq(gnutls_x509_crt_get_signature_algorithm(crt),
			 GNUTLS_SIGN_ECDSA_SHA256);
	char buf[256];
	size_t size = sizeof(buf);
	ck_assert_int_eq(gnutls_x509_crt_get_dn_by_oid(
				 crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, 0,
				 buf, &size),
			 0);
	ck_assert_str_eq(buf, "OpenGSLB Agent");
	/* Self-signed: issuer is subject, and the signature holds. */
	ck_assert_int_ne(gnutls_x509_crt_check_issuer(crt, crt), 0);
	unsigned int status = ~0u;
	ck_assert_int_eq(gnutls_x509_crt_verify(crt, &crt, 1, 0, &status), 0);
	ck_assert_uint_eq(status, 0);
	/* The other agent did not sign this one. */
	ck_assert_int_eq(gnutls_x509_crt_verify(crt, &crt2, 1, 0, &status), 0);
	ck_assert_uint_ne(status, 0);

	uint8_t serial[32], serial2[32];
	size_t serial_len = sizeof(serial), serial2_len = sizeof(serial2);
	ck_assert_int_eq(gnutls_x509_crt_get_serial(crt, serial, &serial_len),
			 0);
	ck_assert_int_eq(
		gnutls_x509_crt_get_serial(crt2, serial2, &serial2_len), 0);
	/* 128 random bits: 16 bytes, 17 with a sign byte, rarely fewer. */
	ck_assert_uint_ge(serial_len, 12);
	ck_assert_uint_le(serial_len, 17);
	ck_assert_uint_eq(serial[0] & 0x80, 0);
	ck_assert(serial_len != serial2_len ||
		  memcmp(serial, serial2, serial_len) != 0);

	unsigned int usage = 0, critical = 0;
	ck_assert_int_ge(gnutls_x509_crt_get_key_usage(crt, &usage, &critical),
			 0);
	ck_assert_uint_eq(usage, GNUTLS_KEY_DIGITAL_SIGNATURE);
	size = sizeof(buf);
	ck_assert_int_eq(
		gnutls_x509_crt_get_key_purpose_oid(crt, 0, buf, &size, NULL),
		0);
	ck_assert_str_eq(buf, GNUTLS_KP_TLS_WWW_CLIENT);
	size = sizeof(buf);
	ck_assert_int_eq(
		gnutls_x509_crt_get_key_purpose_oid(crt, 1, buf, &size, NULL),
		GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
	/* 0: not a CA. */
	ck_assert_int_eq(gnutls_x509_crt_get_ca_status(crt, &critical), 0);

	unsigned int bits = 0;
	ck_assert_int_eq(gnutls_x509_crt_get_pk_algorithm(crt, &bits),
			 GNUTLS_PK_ECDSA);
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	gnutls_datum_t x, y;
	ck_assert_int_eq(gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, &x, &y),
			 0);
	ck_assert_int_eq(curve, GNUTLS_ECC_CURVE_SECP256R1);
	gnutls_free(x.data);
	gnutls_free(y.data);

	gnutls_x509_crt_deinit(crt2);
	gnutls_x509_crt_deinit(crt);
	gslb_identity_free(other);
	gslb_identity_free(id);
}
END_TEST

START_TEST(sign_verify)
{
	static const uint8_t msg[] = "agent report: eu-west 10.0.0.1 up";
	struct gslb_identity *id = create("eu-west");
	struct gslb_identity *other = create("eu-west");
	struct gslb_cert *cert = parse_own(id);
	struct gslb_cert *other_cert = parse_own(other);

	uint8_t sig[GSLB_SIGNATURE_MAX];
	size_t sig_len = sizeof(sig);
	ck_assert_int_eq(
		gslb_identity_sign(id, msg, sizeof(msg), sig, &sig_len),
		GSLB_EOK);
	ck_assert_uint_gt(sig_len, 8);
	ck_assert_uint_le(sig_len, 72);
	/* DER: a SEQUENCE of two INTEGERs. */
	ck_assert_uint_eq(sig[0], 0x30);
	ck_assert_uint_eq(sig[1], sig_len - 2);
	ck_assert(gslb_cert_verify(cert, msg, sizeof(msg), sig, sig_len));

	uint8_t bad[sizeof(msg)];
	for (size_t i = 0; i < sizeof(msg); i++) {
		memcpy(bad, msg, sizeof(msg));
		bad[i] ^= 0x01;
		ck_assert_msg(
			!gslb_cert_verify(cert, bad, sizeof(msg), sig, sig_len),
			"data byte %zu", i);
	}
	ck_assert(!gslb_cert_verify(cert, msg, sizeof(msg) - 1, sig, sig_len));
	for (size_t i = 0; i < sig_len; i++) {
		sig[i] ^= 0x01;
		ck_assert_msg(
			!gslb_cert_verify(cert, msg, sizeof(msg), sig, sig_len),
			"signature byte %zu", i);
		sig[i] ^= 0x01;
	}
	ck_assert(!gslb_cert_verify(cert, msg, sizeof(msg), sig, sig_len - 1));
	ck_assert(!gslb_cert_verify(cert, msg, sizeof(msg), sig, 0));
	ck_assert(!gslb_cert_verify(cert, msg, sizeof(msg), NULL, 0));
	ck_assert(
		!gslb_cert_verify(other_cert, msg, sizeof(msg), sig, sig_len));
	ck_assert(gslb_cert_verify(cert, msg, sizeof(msg), sig, sig_len));

	/* Empty data signs and verifies too. */
	sig_len = sizeof(sig);
	ck_assert_int_eq(gslb_identity_sign(id, NULL, 0, sig, &sig_len),
			 GSLB_EOK);
	ck_assert(gslb_cert_verify(cert, NULL, 0, sig, sig_len));
	ck_assert(!gslb_cert_verify(cert, msg, 1, sig, sig_len));

	/* No room: nothing claimed as written. */
	sig_len = 8;
	ck_assert_int_eq(
		gslb_identity_sign(id, msg, sizeof(msg), sig, &sig_len),
		GSLB_EIO);
	ck_assert_uint_eq(sig_len, 8);

	gslb_cert_free(other_cert);
	gslb_cert_free(cert);
	gslb_identity_free(other);
	gslb_identity_free(id);
}
END_TEST

START_TEST(save_load)
{
	struct gslb_identity *id = create("eu-west");
	const mode_t old = umask(0);
	save(id, cert_path, key_path);
	umask(old);
	ck_assert_uint_eq(file_mode(cert_path), 0644);
	ck_assert_uint_eq(file_mode(key_path), 0600);

	size_t len;
	char *text = slurp(cert_path, &len);
	ck_assert_ptr_eq(strstr(text, "-----BEGIN CERTIFICATE-----\n"), text);
	free(text);
	text = slurp(key_path, &len);
	ck_assert_ptr_eq(strstr(text, "-----BEGIN PRIVATE KEY-----\n"), text);
	free(text);

	struct gslb_identity *loaded = NULL;
	char err[256] = "";
	ck_assert_msg(gslb_identity_load(cert_path, key_path, &loaded, err,
					 sizeof(err)) == GSLB_EOK,
		      "%s", err);
	ck_assert_str_eq(gslb_identity_fingerprint(loaded),
			 gslb_identity_fingerprint(id));
	ck_assert_int_eq(gslb_identity_not_after(loaded),
			 gslb_identity_not_after(id));
	size_t a_len, b_len;
	const uint8_t *a = gslb_identity_cert(id, &a_len);
	const uint8_t *b = gslb_identity_cert(loaded, &b_len);
	ck_assert_uint_eq(a_len, b_len);
	ck_assert_mem_eq(a, b, a_len);

	/* The loaded key is the original's. */
	static const uint8_t msg[] = "signed after a restart";
	uint8_t sig[GSLB_SIGNATURE_MAX];
	size_t sig_len = sizeof(sig);
	ck_assert_int_eq(
		gslb_identity_sign(loaded, msg, sizeof(msg), sig, &sig_len),
		GSLB_EOK);
	struct gslb_cert *cert = parse_own(id);
	ck_assert(gslb_cert_verify(cert, msg, sizeof(msg), sig, sig_len));
	gslb_cert_free(cert);

	/* Saving again replaces both and leaves no temporary file. */
	struct gslb_identity *next = create("eu-west");
	save(next, cert_path, key_path);
	gslb_identity_free(loaded);
	loaded = NULL;
	ck_assert_msg(gslb_identity_load(cert_path, key_path, &loaded, err,
					 sizeof(err)) == GSLB_EOK,
		      "%s", err);
	ck_assert_str_eq(gslb_identity_fingerprint(loaded),
			 gslb_identity_fingerprint(next));
	DIR *dir = opendir(root);
	ck_assert_ptr_nonnull(dir);
	int n = 0;
	for (struct dirent *e; (e = readdir(dir)) != NULL;) {
		if (strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0) {
			ck_assert_msg(strcmp(e->d_name, "agent.crt") == 0 ||
					      strcmp(e->d_name, "agent.key") ==
						      0,
				      "left behind: %s", e->d_name);
			n++;
		}
	}
	closedir(dir);
	ck_assert_int_eq(n, 2);

	gslb_identity_free(next);
	gslb_identity_free(loaded);
	gslb_identity_free(id);
}
END_TEST

/* A tight umask does not narrow the certificate; the key stays private
 * under a loose one (checked in save_load). */
START_TEST(save_modes_umask)
{
	struct gslb_identity *id = create(NULL);
	const mode_t old = umask(077);
	save(id, cert_path, key_path);
	umask(old);
	ck_assert_uint_eq(file_mode(cert_path), 0644);
	ck_assert_uint_eq(file_mode(key_path), 0600);
	gslb_identity_free(id);
}
END_TEST

START_TEST(save_nested)
{
	char dir[160], cert[200], key[200];
	snprintf(dir, sizeof(dir), "%s/var/lib/opengslb", root);
	snprintf(cert, sizeof(cert), "%s/agent.crt", dir);
	snprintf(key, sizeof(key), "%s/private/agent.key", dir);
	struct gslb_identity *id = create("eu-west");
	const mode_t old = umask(022);
	save(id, cert, key);
	umask(old);

	struct stat sb;
	ck_assert_int_eq(stat(dir, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 07777, 0755);
	ck_assert_uint_eq(file_mode(cert), 0644);
	ck_assert_uint_eq(file_mode(key), 0600);

	struct gslb_identity *loaded = NULL;
	char err[256] = "";
	ck_assert_msg(gslb_identity_load(cert, key, &loaded, err,
					 sizeof(err)) == GSLB_EOK,
		      "%s", err);
	ck_assert_str_eq(gslb_identity_fingerprint(loaded),
			 gslb_identity_fingerprint(id));
	gslb_identity_free(loaded);
	gslb_identity_free(id);
}
END_TEST

START_TEST(save_fails)
{
	struct gslb_identity *id = create("eu-west");
	char blocker[160], cert[200];
	/* A file where a directory should be. */
	snprintf(blocker, sizeof(blocker), "%s/file", root);
	write_file(blocker, "x", 1);
	snprintf(cert, sizeof(cert), "%s/sub/agent.crt", blocker);
	char err[256] = "";
	ck_assert_int_eq(
		gslb_identity_save(id, cert, key_path, err, sizeof(err)),
		GSLB_EIO);
	ck_assert_ptr_nonnull(strstr(err, blocker));
	/* Nothing half-written: the key was not saved either. */
	ck_assert_int_eq(access(key_path, F_OK), -1);
	gslb_identity_free(id);
}
END_TEST

/* A key written as SEC1 "EC PRIVATE KEY" (OpenSSL's traditional form). */
START_TEST(load_sec1_key)
{
	struct gslb_identity *id = create("eu-west");
	save(id, cert_path, key_path);

	size_t len;
	char *pkcs8 = slurp(key_path, &len);
	gnutls_x509_privkey_t xkey;
	ck_assert_int_eq(gnutls_x509_privkey_init(&xkey), 0);
	const gnutls_datum_t in = { (unsigned char *)pkcs8, (unsigned)len };
	ck_assert_int_eq(
		gnutls_x509_privkey_import_pkcs8(xkey, &in, GNUTLS_X509_FMT_PEM,
						 NULL, GNUTLS_PKCS_PLAIN),
		0);
	gnutls_datum_t sec1;
	ck_assert_int_eq(
		gnutls_x509_privkey_export2(xkey, GNUTLS_X509_FMT_PEM, &sec1),
		0);
	gnutls_x509_privkey_deinit(xkey);
	free(pkcs8);
	ck_assert_ptr_nonnull(
		strstr((char *)sec1.data, "-----BEGIN EC PRIVATE KEY-----"));
	write_file(key_path, sec1.data, sec1.size);
	gnutls_free(sec1.data);

	struct gslb_identity *loaded = NULL;
	char err[256] = "";
	ck_assert_msg(gslb_identity_load(cert_path, key_path, &loaded, err,
					 sizeof(err)) == GSLB_EOK,
		      "%s", err);
	static const uint8_t msg[] = "x";
	uint8_t sig[GSLB_SIGNATURE_MAX];
	size_t sig_len = sizeof(sig);
	ck_assert_int_eq(gslb_identity_sign(loaded, msg, 1, sig, &sig_len),
			 GSLB_EOK);
	struct gslb_cert *cert = parse_own(id);
	ck_assert(gslb_cert_verify(cert, msg, 1, sig, sig_len));
	gslb_cert_free(cert);
	gslb_identity_free(loaded);
	gslb_identity_free(id);
}
END_TEST

START_TEST(load_missing)
{
	struct gslb_identity *id = create("eu-west");
	struct gslb_identity *loaded = (struct gslb_identity *)1;
	char err[256] = "";
	ck_assert_int_eq(gslb_identity_load(cert_path, key_path, &loaded, err,
					    sizeof(err)),
			 GSLB_ENOENT);
	ck_assert_ptr_null(loaded);
	ck_assert_ptr_nonnull(strstr(err, cert_path));

	/* The certificate without its key. */
	save(id, cert_path, key_path);
	ck_assert_int_eq(unlink(key_path), 0);
	err[0] = '\0';
	ck_assert_int_eq(gslb_identity_load(cert_path, key_path, &loaded, err,
					    sizeof(err)),
			 GSLB_ENOENT);
	ck_assert_ptr_null(loaded);
	ck_assert_ptr_nonnull(strstr(err, key_path));
	gslb_identity_free(id);
}
END_TEST

static void expect_load_einval(const char *path, const char *what)
{
	struct gslb_identity *loaded = (struct gslb_identity *)1;
	char err[256] = "";
	ck_assert_int_eq(gslb_identity_load(cert_path, key_path, &loaded, err,
					    sizeof(err)),
			 GSLB_EINVAL);
	ck_assert_ptr_null(loaded);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	if (what != NULL) {
		ck_assert_msg(strstr(err, what) != NULL, "%s", err);
	}
}

START_TEST(load_garbage)
{
	struct gslb_identity *id = create("eu-west");
	save(id, cert_path, key_path);
	size_t len;
	char *good_cert = slurp(cert_path, &len);
	char *good_key = slurp(key_path, &len);

	static const char *const junk[] = {
		"",
		"hello\n",
		"-----BEGIN CERTIFICATE-----\nnot base64!\n"
		"-----END CERTIFICATE-----\n",
		"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n"
		"-----END CERTIFICATE-----\n",
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(junk); i++) {
		write_file(cert_path, junk[i], strlen(junk[i]));
		expect_load_einval(cert_path, NULL);
	}
	/* A key where the certificate should be. */
	write_file(cert_path, good_key, strlen(good_key));
	expect_load_einval(cert_path, NULL);

	write_file(cert_path, good_cert, strlen(good_cert));
	static const char *const bad_keys[] = {
		"",
		"hello\n",
		"-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n"
		"-----END PRIVATE KEY-----\n",
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(bad_keys); i++) {
		write_file(key_path, bad_keys[i], strlen(bad_keys[i]));
		expect_load_einval(key_path, NULL);
	}
	/* A directory is not a file. */
	ck_assert_int_eq(unlink(key_path), 0);
	ck_assert_int_eq(mkdir(key_path, 0700), 0);
	expect_load_einval(key_path, NULL);
	ck_assert_int_eq(rmdir(key_path), 0);

	write_file(key_path, good_key, strlen(good_key));
	struct gslb_identity *loaded = NULL;
	char err[256] = "";
	ck_assert_msg(gslb_identity_load(cert_path, key_path, &loaded, err,
					 sizeof(err)) == GSLB_EOK,
		      "%s", err);
	gslb_identity_free(loaded);
	free(good_cert);
	free(good_key);
	gslb_identity_free(id);
}
END_TEST

START_TEST(load_other_key)
{
	struct gslb_identity *id = create("eu-west");
	struct gslb_identity *other = create("eu-west");
	char other_cert[160], other_key[160];
	snprintf(other_cert, sizeof(other_cert), "%s/other.crt", root);
	snprintf(other_key, sizeof(other_key), "%s/other.key", root);
	save(id, cert_path, key_path);
	save(other, other_cert, other_key);
	ck_assert_int_eq(rename(other_key, key_path), 0);
	expect_load_einval(key_path, "does not match");
	gslb_identity_free(other);
	gslb_identity_free(id);
}
END_TEST

/* The certificate's public point with another key's private scalar: the
 * public keys compare equal, yet it cannot sign for the certificate. */
START_TEST(load_forged_key)
{
	struct gslb_identity *id = create("eu-west");
	save(id, cert_path, key_path);
	size_t len;
	char *pem = slurp(key_path, &len);
	gnutls_x509_privkey_t real, other, forged;
	ck_assert_int_eq(gnutls_x509_privkey_init(&real), 0);
	ck_assert_int_eq(gnutls_x509_privkey_init(&other), 0);
	ck_assert_int_eq(gnutls_x509_privkey_init(&forged), 0);
	const gnutls_datum_t in = { (unsigned char *)pem, (unsigned)len };
	ck_assert_int_eq(
		gnutls_x509_privkey_import_pkcs8(real, &in, GNUTLS_X509_FMT_PEM,
						 NULL, GNUTLS_PKCS_PLAIN),
		0);
	free(pem);
	ck_assert_int_eq(
		gnutls_x509_privkey_generate2(
			other, GNUTLS_PK_ECDSA,
			GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0,
			NULL, 0),
		0);
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x, y, k, x2, y2, k2;
	ck_assert_int_eq(
		gnutls_x509_privkey_export_ecc_raw(real, &curve, &x, &y, &k),
		0);
	ck_assert_int_eq(gnutls_x509_privkey_export_ecc_raw(other, &curve, &x2,
							    &y2, &k2),
			 0);
	ck_assert_int_eq(
		gnutls_x509_privkey_import_ecc_raw(forged, curve, &x, &y, &k2),
		0);
	gnutls_datum_t out;
	ck_assert_int_eq(gnutls_x509_privkey_export2_pkcs8(
				 forged, GNUTLS_X509_FMT_PEM, NULL,
				 GNUTLS_PKCS_PLAIN, &out),
			 0);
	write_file(key_path, out.data, out.size);
	expect_load_einval(key_path, "does not match");

	gnutls_free(out.data);
	gnutls_datum_t *parts[] = { &x, &y, &k, &x2, &y2, &k2 };
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(parts); i++) {
		gnutls_free(parts[i]->data);
	}
	gnutls_x509_privkey_deinit(forged);
	gnutls_x509_privkey_deinit(other);
	gnutls_x509_privkey_deinit(real);
	gslb_identity_free(id);
}
END_TEST

START_TEST(parse_garbage)
{
	struct gslb_cert *cert = (struct gslb_cert *)1;
	static const uint8_t junk[] = "not a certificate";
	ck_assert_int_eq(gslb_cert_parse(junk, sizeof(junk), &cert),
			 GSLB_EINVAL);
	ck_assert_ptr_null(cert);
	ck_assert_int_eq(gslb_cert_parse(junk, 0, &cert), GSLB_EINVAL);

	struct gslb_identity *id = create("eu-west");
	size_t len = 0;
	const uint8_t *der = gslb_identity_cert(id, &len);
	uint8_t *copy = malloc(len + 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, der, len);
	/* Cut short, or with a byte after the end. */
	ck_assert_int_eq(gslb_cert_parse(copy, len - 1, &cert), GSLB_EINVAL);
	ck_assert_int_eq(gslb_cert_parse(copy, len / 2, &cert), GSLB_EINVAL);
	copy[len] = 0;
	ck_assert_int_eq(gslb_cert_parse(copy, len + 1, &cert), GSLB_EINVAL);
	ck_assert_ptr_null(cert);
	ck_assert_int_eq(gslb_cert_parse(copy, len, &cert), GSLB_EOK);
	gslb_cert_free(cert);
	free(copy);
	gslb_identity_free(id);
}
END_TEST

/* A self-signed certificate for a key GnuTLS makes with algo and bits
 * (with the hash GnuTLS prefers for it). */
static void other_key_cert(gnutls_pk_algorithm_t algo, unsigned int bits,
			   gnutls_datum_t *der)
{
	gnutls_privkey_t key;
	gnutls_x509_crt_t crt;
	ck_assert_int_eq(gnutls_privkey_init(&key), 0);
	ck_assert_int_eq(gnutls_privkey_generate2(key, algo, bits, 0, NULL, 0),
			 0);
	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	const time_t now = time(NULL);
	static const uint8_t serial[] = { 0x01, 0x02 };
	ck_assert_int_eq(gnutls_x509_crt_set_version(crt, 3), 0);
	ck_assert_int_eq(
		gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), 0);
	ck_assert_int_eq(
		gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
					      0, "opengslb-agent-eu-west", 22),
		0);
	ck_assert_int_eq(gnutls_x509_crt_set_activation_time(crt, now - 60), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(crt, now + DAY),
			 0);
	gnutls_pubkey_t pub;
	ck_assert_int_eq(gnutls_pubkey_init(&pub), 0);
	ck_assert_int_eq(gnutls_pubkey_import_privkey(pub, key, 0, 0), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_pubkey(crt, pub), 0);
	ck_assert_int_eq(gnutls_x509_crt_privkey_sign(crt, crt, key, 0, 0), 0);
	ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der),
			 0);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	gnutls_privkey_deinit(key);
}

START_TEST(parse_other_keys)
{
	static const struct {
		gnutls_pk_algorithm_t algo;
		unsigned int bits;
		const char *name;
	} keys[] = {
		{ GNUTLS_PK_ECDSA,
		  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1), "P-384" },
		{ GNUTLS_PK_EDDSA_ED25519,
		  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519), "Ed25519" },
		{ GNUTLS_PK_RSA, 2048, "RSA" },
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(keys); i++) {
		gnutls_datum_t der;
		other_key_cert(keys[i].algo, keys[i].bits, &der);
		struct gslb_cert *cert = (struct gslb_cert *)1;
		ck_assert_msg(gslb_cert_parse(der.data, der.size, &cert) ==
				      GSLB_EINVAL,
			      "%s accepted", keys[i].name);
		ck_assert_ptr_null(cert);
		gnutls_free(der.data);
	}
	/* The same way with a P-256 key is accepted (the test can fail). */
	gnutls_datum_t der;
	other_key_cert(GNUTLS_PK_ECDSA,
		       GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), &der);
	struct gslb_cert *cert = NULL;
	ck_assert_int_eq(gslb_cert_parse(der.data, der.size, &cert), GSLB_EOK);
	gslb_cert_free(cert);
	gnutls_free(der.data);
}
END_TEST

/* The loader refuses a certificate whose key is not P-256 too. */
START_TEST(load_other_curve)
{
	gnutls_datum_t der, pem;
	other_key_cert(GNUTLS_PK_ECDSA,
		       GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1), &der);
	ck_assert_int_eq(gnutls_pem_base64_encode2("CERTIFICATE", &der, &pem),
			 0);
	write_file(cert_path, pem.data, pem.size);
	write_file(key_path, "x", 1);
	expect_load_einval(cert_path, "P-256");
	gnutls_free(pem.data);
	gnutls_free(der.data);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("certificate");
	tcase_add_test(tc, create_region);
	tcase_add_test(tc, validity);
	tcase_add_test(tc, fingerprint);
	tcase_add_test(tc, certificate_fields);
	tcase_add_test(tc, parse_garbage);
	tcase_add_test(tc, parse_other_keys);
	suite_add_tcase(s, tc);
	tc = tcase_create("signature");
	tcase_add_test(tc, sign_verify);
	suite_add_tcase(s, tc);
	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, save_load);
	tcase_add_test(tc, save_modes_umask);
	tcase_add_test(tc, save_nested);
	tcase_add_test(tc, save_fails);
	tcase_add_test(tc, load_sec1_key);
	tcase_add_test(tc, load_missing);
	tcase_add_test(tc, load_garbage);
	tcase_add_test(tc, load_other_key);
	tcase_add_test(tc, load_forged_key);
	tcase_add_test(tc, load_other_curve);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	const int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
