/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"

void gslb_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || path[0] == '\0') {
		return;
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if (len >= sizeof(sun.sun_path) || (path[0] != '/' && path[0] != '@')) {
		log_warn("main", "NOTIFY_SOCKET %s is not usable", path);
		return;
	}
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@') {
		sun.sun_path[0] = '\0'; /* abstract namespace */
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return;
	}
	socklen_t salen =
		(socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sun, salen) < 0) {
		log_warn("main", "cannot notify systemd: %s", strerror(errno));
	}
	close(fd);
}

/* Directories the daemon must write to but, once switched, could not
 * create: /var/lib/opengslb, /run/opengslb. Existing ones stay as they
 * are. */
static int prepare_dirs(const char *const *dirs, size_t n_dirs, uid_t uid,
			gid_t gid, char *why, size_t why_size)
{
	for (size_t i = 0; i < n_dirs; i++) {
		struct stat st;
		if (stat(dirs[i], &st) == 0) {
			continue;
		}
		int ret = gslb_mkdirs(dirs[i], 0750);
		if (ret == GSLB_EOK && chown(dirs[i], uid, gid) != 0) {
			ret = -errno;
		}
		if (ret != GSLB_EOK) {
			snprintf(why, why_size, "cannot create %s: %s", dirs[i],
				 gslb_strerror(ret));
			return ret;
		}
		log_info("main", "created %s for uid %u", dirs[i],
			 (unsigned)uid);
	}
	return GSLB_EOK;
}

/* Only CAP_NET_BIND_SERVICE, permitted and effective, for the rest of the
 * process's life: setuid() kept the set (PR_SET_KEEPCAPS) but cleared the
 * effective one. */
static int keep_bind_capability(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { 0 };
	data[0].permitted = 1u << CAP_NET_BIND_SERVICE;
	data[0].effective = 1u << CAP_NET_BIND_SERVICE;
	return syscall(SYS_capset, &hdr, data) == 0 ? GSLB_EOK : -errno;
}

int gslb_drop_privileges(const char *user, const char *group,
			 const char *const *dirs, size_t n_dirs, char *why,
			 size_t why_size)
{
	if (geteuid() != 0) {
		struct passwd *me = user != NULL ? getpwnam(user) : NULL;
		if (user != NULL && (me == NULL || me->pw_uid != geteuid())) {
			log_warn("main",
				 "process.user %s ignored: not started as root "
				 "(running as uid %u)",
				 user, (unsigned)geteuid());
		}
		return GSLB_EOK;
	}
	if (user == NULL) {
		log_warn("main", "running as root: set process.user to run as "
				 "an unprivileged user");
		return GSLB_EOK;
	}

	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(why, why_size, "process.user: no user \"%s\"", user);
		return GSLB_ECONFIG;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (group != NULL) {
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			snprintf(why, why_size,
				 "process.group: no group \"%s\"", group);
			return GSLB_ECONFIG;
		}
		gid = gr->gr_gid;
	}
	if (uid == 0) {
		log_warn("main", "process.user %s is root", user);
		return GSLB_EOK;
	}

	int ret = prepare_dirs(dirs, n_dirs, uid, gid, why, why_size);
	if (ret != GSLB_EOK) {
		return ret;
	}
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0 ||
	    setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		ret = -errno;
		snprintf(why, why_size, "cannot switch to %s: %s", user,
			 strerror(errno));
		return ret;
	}
	ret = keep_bind_capability();
	(void)prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (ret != GSLB_EOK) {
		/* Binding a low port will say so if one is needed. */
		log_warn("main",
			 "cannot keep CAP_NET_BIND_SERVICE: ports below 1024 "
			 "cannot be bound (%s)",
			 gslb_strerror(ret));
	}
	log_info("main", "running as user %s (uid %u, gid %u)", user,
		 (unsigned)uid, (unsigned)gid);
	return GSLB_EOK;
}
