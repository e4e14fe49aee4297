/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Agent identity: a self-signed X.509 certificate with an ECDSA P-256 key,
 * made with GnuTLS on the agent's first start, and what an overwatch needs
 * to pin and check it. The only code besides agentd/ that includes GnuTLS
 * directly.
 *
 * The certificate: subject CN "opengslb-agent-<region>" (or
 * "opengslb-agent"), O "OpenGSLB Agent", a random 128-bit serial, valid
 * from one hour ago for 365 days, digital signature usage, TLS client
 * purpose, not a CA. The fingerprint is the lower-case hex SHA-256 of the
 * DER certificate (64 characters).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

#define GSLB_FINGERPRINT_LEN        64
#define GSLB_IDENTITY_VALIDITY_DAYS 365
/* An agent makes a new certificate when less than this is left. */
#define GSLB_IDENTITY_RENEW_DAYS 30
/* DER ECDSA P-256 signatures are at most 72 bytes. */
#define GSLB_SIGNATURE_MAX 80

/* A certificate with its private key (the agent's own). */
struct gslb_identity;

/*
 * Makes a new key and self-signed certificate (nothing is written).
 * GSLB_EOK, GSLB_ENOMEM or GSLB_EIO (with the reason in err).
 */
int gslb_identity_create(const char *region, struct gslb_identity **out,
			 char *err, size_t err_len) GSLB_WARN_UNUSED;

/*
 * Loads cert_path (PEM CERTIFICATE) and key_path (PEM private key).
 * GSLB_ENOENT when either file is missing; GSLB_EINVAL (with err naming
 * the file and what is wrong) when one cannot be read or parsed, or the
 * key does not belong to the certificate.
 */
int gslb_identity_load(const char *cert_path, const char *key_path,
		       struct gslb_identity **out, char *err,
		       size_t err_len) GSLB_WARN_UNUSED;

/*
 * Writes the certificate (mode 0644) and key (mode 0600, never readable by
 * others even for a moment) atomically, creating missing directories (mode
 * 0755). GSLB_EIO with err naming the file.
 */
int gslb_identity_save(const struct gslb_identity *id, const char *cert_path,
		       const char *key_path, char *err,
		       size_t err_len) GSLB_WARN_UNUSED;

void gslb_identity_free(struct gslb_identity *id);

const uint8_t *gslb_identity_cert(const struct gslb_identity *id, size_t *len);
/* NUL-terminated, GSLB_FINGERPRINT_LEN characters. */
const char *gslb_identity_fingerprint(const struct gslb_identity *id);
/* Unix seconds. */
int64_t gslb_identity_not_after(const struct gslb_identity *id);

/* Signs data with ECDSA-SHA256; *sig_len in: room (GSLB_SIGNATURE_MAX),
 * out: bytes written. GSLB_EOK or GSLB_EIO. */
int gslb_identity_sign(const struct gslb_identity *id, const uint8_t *data,
		       size_t len, uint8_t *sig,
		       size_t *sig_len) GSLB_WARN_UNUSED;

/* A peer's certificate, parsed for checking its signatures. */
struct gslb_cert;

/* GSLB_EINVAL when der is not an X.509 certificate with an ECDSA P-256 key;
 * GSLB_ENOMEM. */
int gslb_cert_parse(const uint8_t *der, size_t len,
		    struct gslb_cert **out) GSLB_WARN_UNUSED;
void gslb_cert_free(struct gslb_cert *cert);

/* Unix seconds. */
int64_t gslb_cert_not_before(const struct gslb_cert *cert);
int64_t gslb_cert_not_after(const struct gslb_cert *cert);
/* The subject's CN, e.g. "opengslb-agent-eu-west" (into buf, "" if none). */
void gslb_cert_common_name(const struct gslb_cert *cert, char *buf, size_t len);

/* Whether sig is cert's key's ECDSA-SHA256 signature of data. */
bool gslb_cert_verify(const struct gslb_cert *cert, const uint8_t *data,
		      size_t len, const uint8_t *sig, size_t sig_len);

/* SHA-256 of der in lower-case hex, into out (65 bytes). */
void gslb_fingerprint(const uint8_t *der, size_t len,
		      char out[GSLB_FINGERPRINT_LEN + 1]);
