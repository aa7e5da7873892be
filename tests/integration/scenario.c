/*
 * tests/integration/scenario.c: the standard layout, the common
 * observations and the suite runner shared by the scenario binaries
 * (scenario.h). The comparison itself is tests/lib/oracle.c's.
 */
#include <grp.h>
#include <sys/wait.h>

#include "tests/integration/scenario.h"

const char *const std_lower0[] = {
	"file lo lower\\n",
	"xattr lo user.a 1",
	"file both lower both\\n",
	"data lobig 256K 3",
	"sparse losparse 1M 512K data",
	"file lomode secret\\n",
	"mode lomode 0600",
	"owner lomode 1000:1000",
	"file loexec #!/bin/sh\\n",
	"mode loexec 0755",
	"file losuid #!/bin/sh\\n",
	"owner losuid 1000:1000",
	"mode losuid 06775",
	"file lodir/a a\\n",
	"file lodir/sub/b b\\n",
	"xattr lodir user.d dir",
	"dir loempty",
	"file bothdir/lo lo\\n",
	"file bothdir/same from lower\\n",
	"symlink lolink lo",
	"symlink dangling nowhere",
	"fifo lofifo",
	"chr lochr 1 3",
	"sock losock",
	NULL,
};

const char *const std_lower1[] = {
	"file lo shadowed\\n",
	"file deep deep\\n",
	"file lodir/low1 low1\\n",
	"file bothdir/bottom bottom\\n",
	"file wo whited out\\n",
	"file opqdir/hidden hidden\\n",
	NULL,
};

const char *const std_upper[] = {
	"file up upper\\n",
	"xattr up user.u up",
	"file both upper both\\n",
	"file updir/x x\\n",
	"dir upempty",
	"file bothdir/up up\\n",
	"file bothdir/same from upper\\n",
	"symlink uplink up",
	"whiteout wo",
	"opaque opqdir",
	"file opqdir/new new\\n",
	NULL,
};

void obs(struct tl_ctx *ctx, const char *rel)
{
	struct stat st;

	tl_log_fstatat(LOG, ROOT, rel, AT_SYMLINK_NOFOLLOW);
	if (fstatat(ROOT, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		tl_log_content(LOG, ROOT, rel);
}

void obs_ls(struct tl_ctx *ctx, const char *rel)
{
	tl_log_listdir(LOG, ROOT, rel);
}

void write_at(struct tl_ctx *ctx, const char *rel, int flags, const char *text, off_t offset)
{
	int fd = T(openat(ROOT, rel, flags | O_CLOEXEC, 0644));

	if (offset < 0)
		TV(write(fd, text, strlen(text)));
	else
		TV(pwrite(fd, text, strlen(text), offset));
	CLOSE(fd);
}

const char *parent_of(struct tl_ctx *ctx, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	char *buf = ctx->paths[ctx->next_path++ % ELEMENTSOF(ctx->paths)];

	if (!slash)
		return ".";
	snprintf(buf, sizeof(ctx->paths[0]), "%.*s", (int)(slash - rel), rel);
	return buf;
}

/* The child's side of in_child(): runs fn, sends its log through fd. */
static _Noreturn void child_run(struct tl_ctx *ctx, uid_t uid, gid_t gid,
				void (*fn)(struct tl_ctx *ctx, const void *arg), const void *arg, int fd)
{
	struct tl_log log = TL_LOG_INIT;
	FILE *out = fdopen(fd, "w");

	if (uid && (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0))
		_exit(2);
	ctx->log = &log;
	fn(ctx, arg);
	for (size_t i = 0; out && i < log.n; i++)
		fprintf(out, "%s\n", log.lines[i]);
	_exit(out && fclose(out) == 0 ? 0 : 3);
}

void in_child(struct tl_ctx *ctx, uid_t uid, gid_t gid, void (*fn)(struct tl_ctx *ctx, const void *arg),
	      const void *arg)
{
	int pipefd[2], status;
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	ssize_t n;
	FILE *in;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		tl_fail("in_child: %m");
	if (pid == 0) {
		close(pipefd[0]);
		child_run(ctx, uid, gid, fn, arg, pipefd[1]);
	}
	close(pipefd[1]);
	in = fdopen(pipefd[0], "r");
	while (in && (n = getline(&line, &size, in)) > 0) {
		line[n - 1] = line[n - 1] == '\n' ? '\0' : line[n - 1];
		tl_log_add(LOG, "child: %s", line);
	}
	if (in)
		fclose(in);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		tl_log_add(LOG, "child: ended with status 0x%x", status);
}

/* The table the loop test indexes; set by scenario_main before the run
 * (Check forks each test from the process that set it). */
static const struct tl_scenario *table;

/* LAMINA_TEST_WH_FORM=1 (make check-wh-form): lamina-fuse writes its
 * whiteouts in the ".wh.NAME" form, as a rootless daemon that cannot mknod
 * does. The merged view must still be the kernel's; only the kernel cannot
 * read such an upper (interop a). */
static bool wh_form(void)
{
	const char *e = getenv("LAMINA_TEST_WH_FORM");
	return e && !strcmp(e, "1");
}

START_TEST(test_scenario)
{
	struct tl_scenario sc = table[_i];
	if (wh_form()) {
		setenv("LAMINA_DISABLE_OVL_WHITEOUT", "1", 1);
		sc.flags |= TL_ORACLE_NO_INTEROP_A;
	}
	tl_oracle_assert(&sc);
}
END_TEST

int scenario_main(const char *prog, const struct tl_scenario *t, size_t n, const TTest *const *lamina_only)
{
	Suite *s = suite_create(prog);
	TCase *tc = tcase_create("oracle");
	unsigned needs = TL_NEED_ROOT | TL_NEED_FUSE | TL_NEED_OVERLAY;

	if (tl_oracle_fuse_backend() == TL_LAMINA)
		needs |= TL_NEED_LAMINA;
	table = t;
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
	tcase_add_loop_test(tc, test_scenario, 0, (int)n);
	suite_add_tcase(s, tc);
	if (lamina_only && tl_oracle_fuse_backend() == TL_LAMINA) {
		tc = tcase_create("lamina-only");
		tcase_set_timeout(tc, 60);
		tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
		for (size_t i = 0; lamina_only[i]; i++)
			tcase_add_test(tc, lamina_only[i]);
		suite_add_tcase(s, tc);
	}
	return tl_run_suite(s, prog, needs);
}
