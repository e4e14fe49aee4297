/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "gossip.h"
#include "ident.h"
#include "log.h"

#define ENDORSEMENT_FILE_MAX (2 + GOSSIP_CERT_MAX + 2 + GOSSIP_SIG_MAX)
/* "opengslb-rotate" | id len | id | certificate */
#define ENDORSEMENT_DATA_MAX (GOSSIP_CERT_MAX + GOSSIP_AGENT_ID_MAX + 64)

int ident_endorsement_encode(const uint8_t *prev_cert, size_t prev_cert_len,
			     const uint8_t *sig, size_t sig_len, uint8_t **out,
			     size_t *out_len)
{
	if (prev_cert_len == 0 || prev_cert_len > GOSSIP_CERT_MAX ||
	    sig_len == 0 || sig_len > GOSSIP_SIG_MAX) {
		return GSLB_EINVAL;
	}
	size_t len = 2 + prev_cert_len + 2 + sig_len;
	uint8_t *buf = malloc(len);
	if (buf == NULL) {
		return GSLB_ENOMEM;
	}
	uint8_t *p = buf;
	*p++ = (uint8_t)(prev_cert_len >> 8);
	*p++ = (uint8_t)prev_cert_len;
	memcpy(p, prev_cert, prev_cert_len);
	p += prev_cert_len;
	*p++ = (uint8_t)(sig_len >> 8);
	*p++ = (uint8_t)sig_len;
	memcpy(p, sig, sig_len);
	*out = buf;
	*out_len = len;
	return GSLB_EOK;
}

int ident_endorsement_decode(const uint8_t *buf, size_t len,
			     const uint8_t **prev_cert, size_t *prev_cert_len,
			     const uint8_t **sig, size_t *sig_len)
{
	if (len < 2) {
		return GSLB_EMALF;
	}
	size_t clen = (size_t)buf[0] << 8 | buf[1];
	if (clen == 0 || clen > GOSSIP_CERT_MAX || len - 2 < clen + 2) {
		return GSLB_EMALF;
	}
	const uint8_t *p = buf + 2 + clen;
	size_t slen = (size_t)p[0] << 8 | p[1];
	if (slen == 0 || slen > GOSSIP_SIG_MAX || len - 2 - clen - 2 != slen) {
		return GSLB_EMALF;
	}
	*prev_cert = buf + 2;
	*prev_cert_len = clen;
	*sig = p + 2;
	*sig_len = slen;
	return GSLB_EOK;
}

static char *endorsement_path(const char *cert_path)
{
	size_t n = strlen(cert_path) + sizeof(IDENT_ENDORSEMENT_SUFFIX);
	char *path = malloc(n);
	if (path != NULL) {
		snprintf(path, n, "%s%s", cert_path, IDENT_ENDORSEMENT_SUFFIX);
	}
	return path;
}

/* Writes data to path through a temporary file and a rename, so a reader
 * sees the old file or the new one, never a part. */
static int write_atomic(const char *path, const uint8_t *data, size_t len,
			mode_t mode, char *err, size_t err_len)
{
	size_t n = strlen(path) + sizeof(".XXXXXX");
	char *tmp = malloc(n);
	if (tmp == NULL) {
		snprintf(err, err_len, "%s: out of memory", path);
		return GSLB_ENOMEM;
	}
	snprintf(tmp, n, "%s.XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, err_len, "cannot create %s: %s", tmp,
			 strerror(errno));
		free(tmp);
		return GSLB_EIO;
	}
	int e = 0;
	if (fchmod(fd, mode) != 0) {
		e = errno;
	}
	for (size_t done = 0; e == 0 && done < len;) {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0 && errno != EINTR) {
			e = errno;
		} else if (w > 0) {
			done += (size_t)w;
		}
	}
	if (e == 0 && fsync(fd) != 0) {
		e = errno;
	}
	if (close(fd) != 0 && e == 0) {
		e = errno;
	}
	if (e == 0 && rename(tmp, path) != 0) {
		e = errno;
	}
	if (e != 0) {
		snprintf(err, err_len, "cannot write %s: %s", path,
			 strerror(e));
		unlink(tmp);
		free(tmp);
		return GSLB_EIO;
	}
	free(tmp);
	return GSLB_EOK;
}

static int read_small(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
		if (got == cap) {
			/* Larger than any endorsement can be. */
			close(fd);
			return GSLB_EMALF;
		}
	}
	close(fd);
	*len = got;
	return GSLB_EOK;
}

/* Whether prev_cert's key signed sig over the endorsement of the current
 * certificate for agent_id; why not in why. */
static bool endorsement_ok(const struct ident *ident, const char *agent_id,
			   const uint8_t *prev, size_t prev_len,
			   const uint8_t *sig, size_t sig_len, const char **why)
{
	size_t cert_len;
	const uint8_t *cert = gslb_identity_cert(ident->id, &cert_len);
	if (prev_len == cert_len && memcmp(prev, cert, cert_len) == 0) {
		*why = "it names the current certificate as the previous one";
		return false;
	}
	uint8_t data[ENDORSEMENT_DATA_MAX];
	int n = gossip_endorsement_data(agent_id, cert, cert_len, data,
					sizeof(data));
	if (n < 0) {
		*why = "the certificate is too large";
		return false;
	}
	struct gslb_cert *pc = NULL;
	if (gslb_cert_parse(prev, prev_len, &pc) != GSLB_EOK) {
		*why = "the previous certificate does not parse";
		return false;
	}
	bool ok = gslb_cert_verify(pc, data, (size_t)n, sig, sig_len);
	gslb_cert_free(pc);
	if (!ok) {
		*why = "its signature is not the previous key's over this "
		       "certificate and agent id";
	}
	return ok;
}

static void load_endorsement(struct ident *ident, const char *agent_id,
			     const char *cert_path)
{
	char *path = endorsement_path(cert_path);
	uint8_t buf[ENDORSEMENT_FILE_MAX + 1];
	size_t len = 0;
	const uint8_t *prev, *sig;
	size_t prev_len, sig_len;
	const char *why = NULL;

	if (path == NULL) {
		return;
	}
	int ret = read_small(path, buf, sizeof(buf), &len);
	if (ret == GSLB_ENOENT) {
		free(path);
		return;
	}
	if (ret != GSLB_EOK) {
		why = ret == GSLB_EMALF ? "too large" : gslb_strerror(ret);
	} else if (ident_endorsement_decode(buf, len, &prev, &prev_len, &sig,
					    &sig_len) != GSLB_EOK) {
		why = "malformed";
	} else if (endorsement_ok(ident, agent_id, prev, prev_len, sig, sig_len,
				  &why)) {
		ident->prev_cert = malloc(prev_len);
		ident->endorsement = malloc(sig_len);
		if (ident->prev_cert == NULL || ident->endorsement == NULL) {
			free(ident->prev_cert);
			free(ident->endorsement);
			ident->prev_cert = ident->endorsement = NULL;
			why = "out of memory";
		} else {
			memcpy(ident->prev_cert, prev, prev_len);
			memcpy(ident->endorsement, sig, sig_len);
			ident->prev_cert_len = prev_len;
			ident->endorsement_len = sig_len;
			char fp[GSLB_FINGERPRINT_LEN + 1];
			gslb_fingerprint(prev, prev_len, fp);
			log_info("agent",
				 "registrations carry the endorsement by the "
				 "previous certificate %s (%s)",
				 fp, path);
		}
	}
	if (why != NULL) {
		log_warn("agent",
			 "ignoring %s: %s; overwatches that pinned an older "
			 "certificate will refuse this one",
			 path, why);
	}
	free(path);
}

int ident_open(struct ident *ident, const char *agent_id, const char *region,
	       const char *cert_path, const char *key_path, bool *created,
	       char *err, size_t err_len)
{
	*ident = (struct ident){ 0 };
	*created = false;
	if (err_len > 0) {
		err[0] = '\0';
	}
	int ret = gslb_identity_load(cert_path, key_path, &ident->id, err,
				     err_len);
	if (ret == GSLB_ENOENT) {
		ret = gslb_identity_create(region, &ident->id, err, err_len);
		if (ret != GSLB_EOK) {
			return ret;
		}
		ret = gslb_identity_save(ident->id, cert_path, key_path, err,
					 err_len);
		if (ret != GSLB_EOK) {
			ident_clear(ident);
			return ret;
		}
		*created = true;
		/* One left from an earlier identity endorses nothing now. */
		char *path = endorsement_path(cert_path);
		if (path != NULL) {
			unlink(path);
			free(path);
		}
		return GSLB_EOK;
	}
	if (ret != GSLB_EOK) {
		if (err[0] == '\0') {
			snprintf(err, err_len, "cannot load %s: %s", cert_path,
				 gslb_strerror(ret));
		}
		return ret;
	}
	load_endorsement(ident, agent_id, cert_path);
	return GSLB_EOK;
}

bool ident_due(const struct ident *ident, int64_t now)
{
	return gslb_identity_not_after(ident->id) - now <
	       (int64_t)GSLB_IDENTITY_RENEW_DAYS * 86400;
}

int ident_rotate(struct ident *ident, const char *agent_id, const char *region,
		 const char *cert_path, const char *key_path, char *err,
		 size_t err_len)
{
	struct gslb_identity *nid = NULL;
	uint8_t data[ENDORSEMENT_DATA_MAX];
	uint8_t sig[GSLB_SIGNATURE_MAX];
	size_t sig_len = sizeof(sig);
	uint8_t *file = NULL;
	size_t file_len = 0;
	uint8_t *prev = NULL, *endorsement = NULL;
	char *path = endorsement_path(cert_path);

	int ret = path != NULL ? GSLB_EOK : GSLB_ENOMEM;
	if (ret == GSLB_EOK) {
		ret = gslb_identity_create(region, &nid, err, err_len);
	}
	size_t cert_len = 0, old_len = 0;
	const uint8_t *cert = NULL, *old = NULL;
	if (ret == GSLB_EOK) {
		cert = gslb_identity_cert(nid, &cert_len);
		old = gslb_identity_cert(ident->id, &old_len);
		int n = gossip_endorsement_data(agent_id, cert, cert_len, data,
						sizeof(data));
		ret = n < 0 ? n : GSLB_EOK;
		if (ret == GSLB_EOK) {
			ret = gslb_identity_sign(ident->id, data, (size_t)n,
						 sig, &sig_len);
		}
		if (ret != GSLB_EOK) {
			snprintf(err, err_len,
				 "cannot sign the endorsement: %s",
				 gslb_strerror(ret));
		}
	}
	if (ret == GSLB_EOK) {
		ret = ident_endorsement_encode(old, old_len, sig, sig_len,
					       &file, &file_len);
		prev = malloc(old_len);
		endorsement = malloc(sig_len);
		if (ret == GSLB_EOK && (prev == NULL || endorsement == NULL)) {
			ret = GSLB_ENOMEM;
		}
		if (ret != GSLB_EOK) {
			snprintf(err, err_len,
				 "cannot encode the endorsement: %s",
				 gslb_strerror(ret));
		}
	}
	/* The endorsement first: if we stop between the two, the next start
	 * finds the old certificate and ignores an endorsement of another. */
	if (ret == GSLB_EOK) {
		ret = write_atomic(path, file, file_len, 0644, err, err_len);
	}
	if (ret == GSLB_EOK) {
		ret = gslb_identity_save(nid, cert_path, key_path, err,
					 err_len);
	}
	if (ret != GSLB_EOK) {
		if (nid != NULL) {
			gslb_identity_free(nid);
		}
		free(prev);
		free(endorsement);
		free(file);
		free(path);
		return ret;
	}
	memcpy(prev, old, old_len);
	memcpy(endorsement, sig, sig_len);
	free(ident->prev_cert);
	free(ident->endorsement);
	gslb_identity_free(ident->id);
	ident->id = nid;
	ident->prev_cert = prev;
	ident->prev_cert_len = old_len;
	ident->endorsement = endorsement;
	ident->endorsement_len = sig_len;
	free(file);
	free(path);
	return GSLB_EOK;
}

void ident_clear(struct ident *ident)
{
	if (ident->id != NULL) {
		gslb_identity_free(ident->id);
	}
	free(ident->prev_cert);
	free(ident->endorsement);
	*ident = (struct ident){ 0 };
}
