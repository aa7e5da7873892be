/*
 * tests/unit/voltest.c: the volume tests' shared helpers (voltest.h).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"
#include "tests/unit/voltest.h"

struct lamina_store *vt_store;

void vt_setup(void)
{
	tl_scratch_setup();
	vt_store = vt_open();
}

void vt_teardown(void)
{
	vt_store = lamina_store_close(vt_store);
	tl_scratch_teardown();
}

const char *vt_root(void)
{
	static char buf[2048];
	snprintf(buf, sizeof(buf), "%s/root", tl_scratch);
	return buf;
}

struct lamina_store *vt_open(void)
{
	struct lamina_store *s = NULL;
	struct lm_error err = { 0 };
	int r = lamina_store_open(vt_root(), &s, &err);
	ck_assert_msg(r == 0, "store open: %d %s", r, err.msg);
	return s;
}

/* "k=v" strings to key/value pairs (pointing into a copy, freed with it). */
static struct lamina_kv *kv_parse(const char *const *in, size_t *n, char ***copies)
{
	size_t m = 0;
	while (in && in[m])
		m++;
	struct lamina_kv *kv = tl_malloc((m ? m : 1) * sizeof(*kv));
	*copies = tl_malloc((m ? m : 1) * sizeof(char *));
	for (size_t i = 0; i < m; i++) {
		char *c = (*copies)[i] = tl_strdup(in[i]);
		char *eq = strchr(c, '=');
		ck_assert_msg(eq, "'%s' is not k=v", c);
		*eq = '\0';
		kv[i].key = c;
		kv[i].value = eq + 1;
	}
	*n = m;
	return kv;
}

static void kv_copies_free(char **copies, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(copies[i]);
	free(copies);
}

int vt_create(struct lamina_store *s, const char *name, const char *const *opts, const char *const *labels,
	      struct lamina_volume **ret, struct lm_error *err)
{
	char **oc, **lc;
	struct lamina_volume_create_opts o = { .name = name };
	struct lamina_kv *okv = kv_parse(opts, &o.n_options, &oc);
	struct lamina_kv *lkv = kv_parse(labels, &o.n_labels, &lc);
	o.options = okv;
	o.labels = lkv;
	int r = lamina_volume_create(s, &o, ret, err);
	kv_copies_free(oc, o.n_options);
	kv_copies_free(lc, o.n_labels);
	free(okv);
	free(lkv);
	return r;
}

char *vt_create_ok(struct lamina_store *s, const char *name, const char *const *opts, const char *const *labels)
{
	struct lm_error err = { 0 };
	struct lamina_volume *v = NULL;
	int r = vt_create(s, name, opts, labels, &v, &err);
	ck_assert_msg(r == 0, "create '%s': %d %s", name ? name : "(anonymous)", r, err.msg);
	char *n = tl_strdup(v->name);
	lamina_volume_free(v);
	return n;
}

void vt_write(const char *root, const char *rel, const char *content)
{
	_cleanup_free_ char *path = tl_strdupf("%s/%s", root, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	ck_assert_int_eq(tl_mkdir_p(path, 0755), 0);
	*slash = '/';
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "open '%s': %m", path);
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
}

bool vt_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

const char *vt_data(const char *name)
{
	static char bufs[4][8192];
	static unsigned next;
	char *b = bufs[next++ % 4];
	snprintf(b, sizeof(bufs[0]), "%s/volumes/%s/_data", vt_root(), name);
	return b;
}

/* A mountinfo field with its octal escapes (\040) undone, in place. */
static void unescape(char *s)
{
	char *out = s;
	while (*s) {
		if (s[0] == '\\' && s[1] && s[2] && s[3]) {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

char *vt_mounted_type(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	char *found = NULL;
	ck_assert_ptr_nonnull(f);
	while (getline(&line, &size, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPER */
		char mnt[4096], type[256];
		const char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 || sscanf(dash + 3, "%255s", type) != 1)
			continue;
		unescape(mnt);
		if (!strcmp(mnt, path)) {
			free(found);
			found = tl_strdup(type); /* the last one listed is on top */
		}
	}
	return found;
}

int vt_child_body(int (*fn)(struct lamina_store *s, void *arg), void *arg)
{
	struct lamina_store *s = NULL;
	if (lamina_store_open(vt_root(), &s, NULL) < 0)
		return 100;
	int r = fn(s, arg);
	lamina_store_close(s);
	return r < 0 ? (-r & 0xff) : 0;
}

int vt_child(int (*fn)(struct lamina_store *s, void *arg), void *arg, const char *crashpoint)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (crashpoint)
			setenv("LAMINA_CRASHPOINT", crashpoint, 1);
		_exit(vt_child_body(fn, arg));
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	return status;
}

pid_t vt_spawn(int (*fn)(struct lamina_store *s, void *arg), void *arg, int child_closes)
{
	vt_store = lamina_store_close(vt_store); /* no sqlite connection across a fork */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		lm_close(child_closes);
		_exit(vt_child_body(fn, arg));
	}
	vt_store = vt_open();
	return pid;
}

void vt_reap(pid_t pid)
{
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %#x", (int)pid, status);
}

void vt_assert_killed(int status, const char *crashpoint)
{
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "crashpoint '%s' was not reached (the child %s %d)", crashpoint,
		      WIFEXITED(status) ? "exited with" : "died of signal",
		      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

size_t vt_check(struct lamina_store *s, bool repair, const char *want, bool fixed)
{
	struct lamina_check_report rep;
	struct lm_error err = { 0 };
	int r = lamina_check(s, repair, &rep, &err);
	ck_assert_msg(r == 0, "check: %d %s", r, err.msg);
	bool seen = false;
	for (size_t i = 0; i < rep.n_problems; i++) {
		fprintf(stderr, "check%s: %s%s\n", repair ? " --repair" : "", rep.problems[i].what,
			rep.problems[i].repaired ? " (repaired)" : "");
		if (!want || !strstr(rep.problems[i].what, want))
			continue;
		seen = true;
		ck_assert_msg(rep.problems[i].repaired == fixed, "check: '%s' repaired=%d, want %d",
			      rep.problems[i].what, rep.problems[i].repaired, fixed);
	}
	ck_assert_msg(want ? seen : rep.n_problems == 0, "check%s: wanted %s, got %zu problems (first: %s)",
		      repair ? " --repair" : "", want ? want : "nothing", rep.n_problems,
		      rep.n_problems ? rep.problems[0].what : "-");
	size_t n = rep.n_problems;
	lamina_check_report_release(&rep);
	return n;
}

size_t vt_tmp_entries(void)
{
	_cleanup_free_ char *tmp = tl_strdupf("%s/tmp", vt_root());
	return vt_entries(tmp);
}

size_t vt_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	ck_assert_msg(d, "opendir '%s': %m", dir);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	return n;
}

char *vt_read(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open '%s': %m", path);
	size_t len;
	return tl_fd_read_all(fd, &len);
}
