/*
 * tests/lib/tarapply.c: the GNU tar oracle for layer chains (tarbuild.h):
 * changeset tars applied in order into one folder as a runtime without a
 * union file system applies them, by other code than lamina's: the names
 * listed with libarchive, the deletions done with rm and find, the
 * extraction done by GNU tar.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"

/* Runs argv, ends the test unless it exits 0. */
static void run(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		tl_fail("fork: %m");
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		tl_fail("'%s' on '%s' failed (status %d)", argv[0], argv[1], status);
}

/* The deletions one .wh. name asks for in dir (lower layers only). */
static void delete_for(const char *dir, const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	int dirlen = (int)(base - name);
	if (strncmp(base, ".wh.", 4))
		return;
	char *path;
	if (!strcmp(base, ".wh..wh..opq")) {
		path = tl_strdupf("%s/%.*s", dir, dirlen, name);
		run((char *const[]){ "find", path, "-mindepth", "1", "-delete", NULL });
	} else {
		path = tl_strdupf("%s/%.*s%s", dir, dirlen, name, base + 4);
		run((char *const[]){ "rm", "-rf", "--", path, NULL });
	}
	free(path);
}

static void apply_one(const char *dir, const char *tar)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, tar, 64 * 1024) != ARCHIVE_OK)
		tl_fail("'%s': %s", tar, archive_error_string(a));
	struct archive_entry *e;
	int ar;
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		delete_for(dir, archive_entry_pathname(e));
	if (ar != ARCHIVE_EOF)
		tl_fail("'%s': %s", tar, archive_error_string(a));
	archive_read_free(a);
	run((char *const[]){ "tar", "-x", "-p", "--numeric-owner", "--xattrs", "--xattrs-include=*",
			     "--exclude=.wh.*", "-f", (char *)tar, "-C", (char *)dir, NULL });
}

void tl_layers_untar(const char *dir, const char *const *tars, size_t n)
{
	for (size_t i = 0; i < n; i++)
		apply_one(dir, tars[i]);
}
