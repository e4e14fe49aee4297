/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The agent's identity on disk: its certificate and key (lib/identity),
 * made on first start and rotated before they expire, and the endorsement
 * that lets the overwatches, which pinned the old certificate, accept the
 * new one.
 *
 * The endorsement file, <cert_path>.endorsement, holds the certificate
 * the current one replaced and its key's signature over
 * gossip_endorsement_data(agent id, current certificate):
 *
 *   u16 BE length | previous certificate DER | u16 BE length | signature
 *
 * Every registration carries both, until the next rotation replaces them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "identity.h"

#define IDENT_ENDORSEMENT_SUFFIX ".endorsement"

struct ident {
	struct gslb_identity *id;
	/* From the endorsement file; NULL/0 when there is none. */
	uint8_t *prev_cert;
	size_t prev_cert_len;
	uint8_t *endorsement;
	size_t endorsement_len;
};

/* The endorsement file's bytes (caller frees *out). GSLB_EINVAL for
 * lengths beyond the protocol's limits, GSLB_ENOMEM. */
int ident_endorsement_encode(const uint8_t *prev_cert, size_t prev_cert_len,
			     const uint8_t *sig, size_t sig_len, uint8_t **out,
			     size_t *out_len) GSLB_WARN_UNUSED;
/* Splits the file's bytes; the results point into buf. GSLB_EMALF. */
int ident_endorsement_decode(const uint8_t *buf, size_t len,
			     const uint8_t **prev_cert, size_t *prev_cert_len,
			     const uint8_t **sig,
			     size_t *sig_len) GSLB_WARN_UNUSED;

/*
 * Loads the identity, or makes and saves one when there is none (*created
 * set). Loads the endorsement file if there is one and it endorses this
 * certificate for agent_id (one that does not is ignored with a warning).
 * GSLB_EOK, or an error with the reason in err.
 */
int ident_open(struct ident *ident, const char *agent_id, const char *region,
	       const char *cert_path, const char *key_path, bool *created,
	       char *err, size_t err_len) GSLB_WARN_UNUSED;

/* Less than GSLB_IDENTITY_RENEW_DAYS left at wall-clock unix second now. */
bool ident_due(const struct ident *ident, int64_t now);

/*
 * Replaces the identity with a new one, endorsed by the old: writes the
 * endorsement file, then the new certificate and key. On failure the old
 * identity stays in use (and on disk, unless only its key could not be
 * written: err says which file). GSLB_EOK or an error with err.
 */
int ident_rotate(struct ident *ident, const char *agent_id, const char *region,
		 const char *cert_path, const char *key_path, char *err,
		 size_t err_len) GSLB_WARN_UNUSED;

void ident_clear(struct ident *ident);
