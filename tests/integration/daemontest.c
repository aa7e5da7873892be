/*
 * tests/integration/daemontest.c: a real laminad for each test, the calls
 * to it and the lamina CLI on its store (daemontest.h).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/integration/daemontest.h"
#include "tests/lib/testlib.h"

struct dt_daemon dt;

void dt_setup(void)
{
	tl_scratch_setup();
	dt = (struct dt_daemon){
		.sock = tl_strdupf("%s/run/lamina.sock", tl_scratch),
		.root = tl_strdupf("%s/root", tl_scratch),
		.log = tl_strdupf("%s/laminad.log", tl_scratch),
	};
	_cleanup_free_ char *run = tl_strdupf("%s/run", tl_scratch);
	ck_assert_int_eq(tl_mkdir_p(run, 0755), 0);
	dt_start();
}

void dt_teardown(void)
{
	dt_kill();
	free(dt.sock);
	free(dt.root);
	free(dt.log);
	dt = (struct dt_daemon){ 0 };
	tl_scratch_teardown();
}

void dt_print_log(void)
{
	_cleanup_free_ char *log = dt_read(dt.log);
	fprintf(stderr, "---- laminad log (%s) ----\n%s---- end of log ----\n", dt.log, log ? log : "(none)\n");
}

static void exec_daemon(void)
{
	const char *prog = getenv("LAMINAD");
	int fd = open(dt.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(126);
	execl(prog, "laminad", "--socket", dt.sock, "--root", dt.root, (char *)NULL);
	fprintf(stderr, "exec %s: %s\n", prog, strerror(errno));
	_exit(127);
}

void dt_start(void)
{
	dt.pid = fork();
	ck_assert_int_ge(dt.pid, 0);
	if (dt.pid == 0)
		exec_daemon();
	for (int i = 0; i < 600; i++) {
		int status;
		if (waitpid(dt.pid, &status, WNOHANG) == dt.pid) {
			dt.pid = 0;
			dt_print_log();
			ck_abort_msg("laminad exited before its socket answered (wait status 0x%x)", status);
		}
		int fd = pc_connect(dt.sock, NULL, 0);
		if (fd >= 0) {
			close(fd);
			return;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
	}
	dt_print_log();
	ck_abort_msg("laminad: no answer on %s after 30 s", dt.sock);
}

void dt_stop_ok(void)
{
	ck_assert_int_gt(dt.pid, 0);
	ck_assert_int_eq(kill(dt.pid, SIGTERM), 0);
	dt_wait_exit_ok();
}

void dt_wait_exit_ok(void)
{
	int status = -1;
	int r = tl_pid_wait_gone(dt.pid, 60000, &status);
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		dt_print_log();
	ck_assert_msg(r == 0, "laminad still running 60 s after SIGTERM");
	dt.pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "laminad after SIGTERM: wait status 0x%x, want exit 0", status);
	struct stat st;
	ck_assert_msg(lstat(dt.sock, &st) < 0 && errno == ENOENT, "socket %s still there after laminad exited",
		      dt.sock);
}

void dt_kill(void)
{
	if (dt.pid <= 0)
		return;
	kill(dt.pid, SIGKILL);
	tl_pid_wait_gone(dt.pid, 10000, NULL);
	dt.pid = 0;
}

void dt_post(const char *endpoint, const char *body, struct pc_reply *r)
{
	_cleanup_free_ char *target = tl_strdupf("/%s", endpoint);
	char why[512];
	int e = pc_post(dt.sock, target, body, body ? strlen(body) : 0, 0, r, why, sizeof(why));
	ck_assert_msg(e == 0, "%s %s: no reply: %s", endpoint, body ? body : "(empty)", why);
}

json_t *dt_ok(const char *endpoint, const char *body)
{
	struct pc_reply r;
	dt_post(endpoint, body, &r);
	json_t *j = pc_reply_json(&r);
	json_t *err = json_object_get(j, "Err");
	bool ok = r.status == 200 && json_is_object(j) && (!err || (json_is_string(err) && !*json_string_value(err)));
	if (!ok)
		dt_print_log();
	ck_assert_msg(ok, "%s %s: want success, got HTTP %d: %.300s", endpoint, body ? body : "(empty)", r.status,
		      r.body);
	pc_reply_release(&r);
	return j;
}

json_t *dt_okf(const char *endpoint, const char *fmt, ...)
{
	struct tl_buf b = TL_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	tl_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	json_t *j = dt_ok(endpoint, tl_buf_str(&b));
	tl_buf_release(&b);
	return j;
}

char *dt_err(const char *endpoint, const char *body, const char *want)
{
	struct pc_reply r;
	dt_post(endpoint, body, &r);
	json_t *j = pc_reply_json(&r);
	const char *err = json_string_value(json_object_get(j, "Err"));
	ck_assert_msg(err && *err, "%s %.200s: want {\"Err\": \"...\"}, got HTTP %d: %.300s", endpoint,
		      body ? body : "(empty)", r.status, r.body);
	ck_assert_msg(!want || strstr(err, want), "%s %.200s: Err '%s' does not name '%s'", endpoint,
		      body ? body : "(empty)", err, want);
	char *ret = tl_strdup(err);
	json_decref(j);
	pc_reply_release(&r);
	return ret;
}

const char *dt_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	if (!s) {
		_cleanup_free_ char *dump = json_dumps(obj, JSON_COMPACT);
		ck_abort_msg("no string \"%s\" in %.300s", key, dump ? dump : "(null)");
	}
	return s;
}

static char *lamina_v(int *ret_status, const char *fmt, va_list ap)
{
	struct tl_buf cmd = TL_BUF_INIT, out = TL_BUF_INIT;
	tl_buf_printf(&cmd, "'%s' --root '%s' ", getenv("LAMINA"), dt.root);
	tl_buf_vprintf(&cmd, fmt, ap);
	FILE *p = popen(tl_buf_str(&cmd), "r");
	ck_assert_msg(p, "popen %s: %s", tl_buf_str(&cmd), strerror(errno));
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		tl_buf_printf(&out, "%.*s", (int)n, buf);
	int status = pclose(p);
	*ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	if (*ret_status)
		fprintf(stderr, "%s: exit %d\n", tl_buf_str(&cmd), *ret_status);
	tl_buf_release(&cmd);
	return out.s ? out.s : tl_strdup("");
}

char *dt_lamina(int *ret_status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *out = lamina_v(ret_status, fmt, ap);
	va_end(ap);
	return out;
}

json_t *dt_lamina_json(const char *fmt, ...)
{
	int status;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *out = lamina_v(&status, fmt, ap);
	va_end(ap);
	ck_assert_msg(status == 0, "lamina %s: exit %d: %s", fmt, status, out);
	json_t *j = json_loads(out, JSON_DECODE_ANY, NULL);
	ck_assert_msg(j, "lamina %s: not JSON: %.300s", fmt, out);
	return j;
}

void dt_lamina_check_clean(void)
{
	int status;
	_cleanup_free_ char *out = dt_lamina(&status, "check 2>&1");
	ck_assert_msg(status == 0 && strstr(out, "no problems found"), "lamina check (exit %d): %s", status, out);
}

char *dt_mounted_type(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	ck_assert(f);
	char line[8192], mnt[4096], type[256];
	char *found = NULL;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 || !sep || sscanf(sep, " - %255s", type) != 1)
			continue;
		if (!strcmp(mnt, path)) { /* later lines are mounted on top */
			free(found);
			found = tl_strdup(type);
		}
	}
	fclose(f);
	return found;
}

char *dt_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct tl_buf b = TL_BUF_INIT;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		tl_buf_printf(&b, "%.*s", (int)n, buf);
	close(fd);
	return b.s ? b.s : tl_strdup("");
}
