/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Runs a fuzz target over every file of its corpus, so that `make check`
 * replays what the fuzzers found without needing clang. The corpus is
 * $srcdir/tests/fuzz/corpus/FUZZ_NAME, or the directories given.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

static int replay_dir(const char *dir, unsigned *count)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		perror(dir);
		return -1;
	}
	struct dirent *e;
	int ret = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (replay_file(path) != 0) {
			ret = -1;
		}
		(*count)++;
	}
	closedir(d);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int ret = 0;
	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			ret |= replay_dir(argv[i], &count);
		}
	} else {
		const char *srcdir = getenv("srcdir");
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
			 srcdir != NULL ? srcdir : ".", FUZZ_NAME);
		ret = replay_dir(dir, &count);
	}
	if (count == 0) {
		fprintf(stderr, "no corpus files replayed\n");
		return 1;
	}
	printf("%u passed, 0 failed\n", count);
	return ret == 0 ? 0 : 1;
}
