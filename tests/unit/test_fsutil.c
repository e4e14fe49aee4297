/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"

static char root[] = "/tmp/gslb-fsutil-XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(root, sizeof(root), "/tmp/gslb-fsutil-XXXXXX");
}

static mode_t mode_of(const char *path)
{
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	return sb.st_mode & 07777;
}

START_TEST(creates_parents)
{
	char path[128], parent[128];
	snprintf(path, sizeof(path), "%s/a/b//c/", root);
	snprintf(parent, sizeof(parent), "%s/a/b", root);
	mode_t old = umask(022);
	ck_assert_int_eq(gslb_mkdirs(path, 0750), GSLB_EOK);
	umask(old);
	ck_assert_uint_eq(mode_of(path), 0750);
	ck_assert_uint_eq(mode_of(parent), 0750);
	/* Again: what exists is fine and left as it is. */
	ck_assert_int_eq(chmod(parent, 0700), 0);
	ck_assert_int_eq(gslb_mkdirs(path, 0755), GSLB_EOK);
	ck_assert_uint_eq(mode_of(parent), 0700);
}
END_TEST

START_TEST(file_in_the_way)
{
	char file[128], path[128];
	snprintf(file, sizeof(file), "%s/file", root);
	int fd = open(file, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(gslb_mkdirs(file, 0750), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/file/below", root);
	ck_assert_int_eq(gslb_mkdirs(path, 0750), -ENOTDIR);
}
END_TEST

START_TEST(dirname_of_paths)
{
	/* The directories the daemons make before leaving root. */
	static const char *const cases[][2] = {
		{ "/run/opengslb/overwatch.sock", "/run/opengslb" },
		{ "/agent.crt", "/" },
		{ "agent.crt", "." },
		{ "/var/lib/opengslb/", "/var/lib/opengslb" },
	};
	char buf[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gslb_dirname(cases[i][0], buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i][1]);
	}
	gslb_dirname("/a/bcdef/g", buf, 5);
	ck_assert_str_eq(buf, "/a/b");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fsutil");
	TCase *tc = tcase_create("mkdirs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, creates_parents);
	tcase_add_test(tc, file_in_the_way);
	tcase_add_test(tc, dirname_of_paths);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	const int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
