/*
 * tests/integration/test-daemon.c: laminad against the Docker plugin
 * protocols (anchors.md section E), over its real socket, replaying the
 * calls dockerd 20.10 makes (clients.md): volume create/ls/inspect/mount/
 * unmount/rm, a tmpfs volume really mounted, and a volume the CLI made used
 * through the plugin; graph import, run, diff, commit and rmi; 16 clients
 * at once; bad input of every kind, each followed by a request that must
 * still be served; SIGTERM with a request in flight; the socket's mode.
 * What laminad did is checked through the lamina CLI on the same store.
 *
 * Needs root (mounts); skipped (77) without it or while $LAMINAD (the
 * built laminad) does not exist.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/cleanup.h"
#include "tests/integration/daemontest.h"
#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"

/* Docker's layer IDs: 64 hex digits; a container's init layer is "ID-init". */
#define H16(c) c c c c c c c c c c c c c c c c
#define H64(c) H16(c) H16(c) H16(c) H16(c)
#define L1 H64("1")
#define L2 H64("2")
#define CT H64("c")
#define CT_INIT H64("c") "-init"
#define CALLER1 H64("a")
#define CALLER2 H64("b")

/* ------------------------------------------------------------- volumes */

/* The users of volume name as lamina volume inspect shows them: "ID=N ...". */
static char *lamina_users(const char *name)
{
	json_t *j = dt_lamina_json("volume inspect '%s'", name);
	json_t *users = json_object_get(json_object_get(json_array_get(j, 0), "Status"), "Users");
	struct tl_buf b = TL_BUF_INIT;
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u)
		tl_buf_printf(&b, "%s=%lld ", json_string_value(json_object_get(u, "ID")),
			      (long long)json_integer_value(json_object_get(u, "Count")));
	json_decref(j);
	return b.s ? b.s : tl_strdup("");
}

static bool lamina_volume_listed(const char *name)
{
	int status;
	_cleanup_free_ char *out = dt_lamina(&status, "volume ls -q");
	ck_assert_int_eq(status, 0);
	_cleanup_free_ char *all = tl_strdupf("\n%s", out), *line = tl_strdupf("\n%s\n", name);
	return strstr(all, line) != NULL;
}

/* Get's Volume, asserted to be name with a Mountpoint and an RFC 3339 CreatedAt. */
static char *volume_get_mountpoint(const char *name)
{
	json_t *j = dt_okf("VolumeDriver.Get", "{\"Name\":\"%s\"}", name);
	json_t *v = json_object_get(j, "Volume");
	ck_assert_str_eq(dt_str(v, "Name"), name);
	const char *created = dt_str(v, "CreatedAt");
	int y, mo, d, h, mi, s;
	ck_assert_msg(sscanf(created, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) == 6 && y >= 2000,
		      "CreatedAt '%s' is not RFC 3339", created);
	ck_assert_msg(json_is_object(json_object_get(v, "Status")), "Get %s: no Status object", name);
	char *mp = tl_strdup(dt_str(v, "Mountpoint"));
	json_decref(j);
	return mp;
}

static char *volume_mount(const char *name, const char *caller)
{
	json_t *j = dt_okf("VolumeDriver.Mount", "{\"Name\":\"%s\",\"ID\":\"%s\"}", name, caller);
	char *mp = tl_strdup(dt_str(j, "Mountpoint"));
	json_decref(j);
	struct stat st;
	ck_assert_msg(mp[0] == '/' && stat(mp, &st) == 0 && S_ISDIR(st.st_mode), "Mount %s: Mountpoint '%s'", name,
		      mp);
	return mp;
}

static void volume_unmount(const char *name, const char *caller)
{
	json_decref(dt_okf("VolumeDriver.Unmount", "{\"Name\":\"%s\",\"ID\":\"%s\"}", name, caller));
}

static bool list_has(const char *name)
{
	json_t *j = dt_ok("VolumeDriver.List", "{}");
	json_t *vols = json_object_get(j, "Volumes"), *v;
	ck_assert_msg(json_is_array(vols), "List: no Volumes array");
	bool found = false;
	size_t i;
	json_array_foreach(vols, i, v)
		found |= !strcmp(dt_str(v, "Name"), name);
	json_decref(j);
	return found;
}

/* The number of lines of laminad's log that name what. */
static size_t log_lines_naming(const char *what)
{
	_cleanup_free_ char *log = dt_read(dt.log);
	size_t n = 0;
	for (char *line = log, *end; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		n += strstr(line, what) != NULL;
	}
	return n;
}

START_TEST(volume_calls_as_dockerd)
{
	/* docker volume create -d lamina v1 */
	json_t *j = dt_ok("Plugin.Activate", NULL);
	_cleanup_free_ char *impl = json_dumps(json_object_get(j, "Implements"), JSON_COMPACT);
	ck_assert_msg(impl && strstr(impl, "\"VolumeDriver\"") && strstr(impl, "\"GraphDriver\""), "Implements %s",
		      impl);
	json_decref(j);
	j = dt_ok("VolumeDriver.Capabilities", "{}");
	ck_assert_str_eq(dt_str(json_object_get(j, "Capabilities"), "Scope"), "local");
	json_decref(j);
	free(dt_err("VolumeDriver.Get", "{\"Name\":\"v1\"}", "v1"));
	json_decref(dt_ok("VolumeDriver.Create", "{\"Name\":\"v1\",\"Opts\":null}"));
	ck_assert(list_has("v1"));
	_cleanup_free_ char *mp = volume_get_mountpoint("v1");
	json_decref(dt_ok("VolumeDriver.Path", "{\"Name\":\"v1\"}"));
	/* docker run -v v1:/data, twice at once */
	_cleanup_free_ char *m1 = volume_mount("v1", CALLER1), *m2 = volume_mount("v1", CALLER2);
	ck_assert_str_eq(m1, m2);
	json_t *path = dt_ok("VolumeDriver.Path", "{\"Name\":\"v1\"}");
	ck_assert_str_eq(dt_str(path, "Mountpoint"), m1);
	json_decref(path);
	tl_file(m1, "written-by-container", "hello\n");
	_cleanup_free_ char *users = lamina_users("v1");
	ck_assert_msg(strstr(users, CALLER1 "=1") && strstr(users, CALLER2 "=1"), "lamina users: %s", users);
	/* the file is in the volume lamina shows */
	json_t *ins = dt_lamina_json("volume inspect v1");
	_cleanup_free_ char *f = tl_strdupf("%s/written-by-container", dt_str(json_array_get(ins, 0), "Mountpoint"));
	json_decref(ins);
	_cleanup_free_ char *content = dt_read(f);
	ck_assert_msg(content && !strcmp(content, "hello\n"), "%s: %s", f, content ? content : "missing");
	volume_unmount("v1", CALLER1);
	free(dt_err("VolumeDriver.Remove", "{\"Name\":\"v1\"}", "v1")); /* still used by CALLER2 */
	ck_assert(lamina_volume_listed("v1"));
	volume_unmount("v1", CALLER2);
	_cleanup_free_ char *after = lamina_users("v1");
	ck_assert_str_eq(after, "");
	/* docker volume rm v1 */
	json_decref(dt_ok("VolumeDriver.Remove", "{\"Name\":\"v1\"}"));
	free(dt_err("VolumeDriver.Get", "{\"Name\":\"v1\"}", "v1"));
	ck_assert(!list_has("v1"));
	ck_assert(!lamina_volume_listed("v1"));
	dt_lamina_check_clean();
	dt_stop_ok();
	/* one log line per request: the two Mounts each have theirs */
	ck_assert_uint_ge(log_lines_naming("VolumeDriver.Mount"), 2);
	ck_assert_uint_ge(log_lines_naming("VolumeDriver.Unmount"), 2);
	ck_assert_uint_ge(log_lines_naming("Plugin.Activate"), 1);
}
END_TEST

static void assert_tmpfs(const char *mp)
{
	_cleanup_free_ char *type = dt_mounted_type(mp);
	ck_assert_msg(type && !strcmp(type, "tmpfs"), "%s: mounted %s, want tmpfs", mp, type ? type : "nothing");
}

START_TEST(volume_tmpfs_really_mounted)
{
	json_decref(dt_ok("VolumeDriver.Create",
			  "{\"Name\":\"t1\",\"Opts\":{\"type\":\"tmpfs\",\"device\":\"tmpfs\",\"o\":\"size=1m\"}}"));
	_cleanup_free_ char *mp = volume_mount("t1", CALLER1), *mp2 = volume_mount("t1", CALLER2);
	ck_assert_str_eq(mp, mp2);
	assert_tmpfs(mp);
	volume_unmount("t1", CALLER1);
	assert_tmpfs(mp); /* CALLER2 still uses it */
	volume_unmount("t1", CALLER2);
	_cleanup_free_ char *gone = dt_mounted_type(mp);
	ck_assert_msg(!gone, "%s still mounted (%s) after the last Unmount", mp, gone);
	json_decref(dt_ok("VolumeDriver.Remove", "{\"Name\":\"t1\"}"));
	dt_lamina_check_clean();
	dt_stop_ok();
}
END_TEST

START_TEST(volume_made_by_cli_is_usable)
{
	int status;
	free(dt_lamina(&status, "volume create fromcli"));
	ck_assert_int_eq(status, 0);
	ck_assert(list_has("fromcli"));
	_cleanup_free_ char *mp = volume_mount("fromcli", CALLER1);
	tl_file(mp, "x", "y");
	volume_unmount("fromcli", CALLER1);
	json_decref(dt_ok("VolumeDriver.Remove", "{\"Name\":\"fromcli\"}"));
	ck_assert(!lamina_volume_listed("fromcli"));
	dt_stop_ok();
}
END_TEST

/* --------------------------------------------------------------- graph */

static void graph_init(void)
{
	json_decref(dt_okf("GraphDriver.Init",
			   "{\"Home\":\"%s/docker/lamina\",\"Opts\":null,\"UIDMaps\":null,\"GIDMaps\":null}", tl_scratch));
}

/* POST /GraphDriver.ApplyDiff?id=ID&parent=PARENT, the tar chunked in
 * pieces as dockerd streams it; the reply. */
static int apply_diff_post(const char *id, const char *parent, const void *tar, size_t len, struct pc_reply *r,
			   char *why, size_t why_size)
{
	_cleanup_free_ char *target = tl_strdupf("/GraphDriver.ApplyDiff?id=%s&parent=%s", id, parent);
	return pc_post(dt.sock, target, tar, len, 4096, r, why, why_size);
}

/* ApplyDiff that must succeed; returns Size. */
static long long apply_diff(const char *id, const char *parent, const void *tar, size_t len)
{
	struct pc_reply r;
	char why[512];
	int e = apply_diff_post(id, parent, tar, len, &r, why, sizeof(why));
	ck_assert_msg(e == 0, "ApplyDiff %s: no reply: %s", id, why);
	json_t *j = pc_reply_json(&r);
	const char *err = json_string_value(json_object_get(j, "Err"));
	json_t *size = json_object_get(j, "Size");
	ck_assert_msg(r.status == 200 && (!err || !*err) && json_is_integer(size), "ApplyDiff %s: HTTP %d: %.300s", id,
		      r.status, r.body);
	long long n = json_integer_value(size);
	json_decref(j);
	pc_reply_release(&r);
	return n;
}

static char *graph_get(const char *id)
{
	json_t *j = dt_okf("GraphDriver.Get", "{\"ID\":\"%s\",\"MountLabel\":\"\"}", id);
	char *dir = tl_strdup(dt_str(j, "Dir"));
	json_decref(j);
	struct stat st;
	ck_assert_msg(dir[0] == '/' && stat(dir, &st) == 0 && S_ISDIR(st.st_mode), "Get %s: Dir '%s'", id, dir);
	return dir;
}

static void graph_call_id(const char *endpoint, const char *id)
{
	json_decref(dt_okf(endpoint, "{\"ID\":\"%s\"}", id));
}

static void graph_create(const char *endpoint, const char *id, const char *parent)
{
	json_decref(dt_okf(endpoint, "{\"ID\":\"%s\",\"Parent\":\"%s\",\"MountLabel\":\"\",\"StorageOpt\":{}}", id,
			   parent));
}

/* Content of root/rel, asserted equal to want (NULL: asserted absent). */
static void assert_file(const char *root, const char *rel, const char *want)
{
	_cleanup_free_ char *path = tl_strdupf("%s/%s", root, rel);
	_cleanup_free_ char *got = dt_read(path);
	if (!want) {
		struct stat st;
		ck_assert_msg(lstat(path, &st) < 0, "%s: present, want absent", path);
		return;
	}
	ck_assert_msg(got && !strcmp(got, want), "%s: '%s', want '%s'", path, got ? got : "(missing)", want);
}

/* What a tar holds: "name|" for each entry (without "./" and a trailing
 * "/"), the bytes of its regular files, and the content of one entry. */
struct tar_seen {
	struct tl_buf names;
	long long file_bytes;
};

static void tar_read(const void *tar, size_t len, struct tar_seen *seen, const char *want, char **ret_content)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_memory(a, tar, len), ARCHIVE_OK);
	struct archive_entry *e;
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		name += !strncmp(name, "./", 2) ? 2 : 0;
		size_t n = strlen(name);
		n -= n && name[n - 1] == '/';
		tl_buf_printf(&seen->names, "|%.*s", (int)n, name);
		if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e))
			seen->file_bytes += archive_entry_size(e);
		if (want && (size_t)strlen(want) == n && !strncmp(name, want, n)) {
			struct tl_buf c = TL_BUF_INIT;
			char buf[4096];
			la_ssize_t k;
			while ((k = archive_read_data(a, buf, sizeof(buf))) > 0)
				tl_buf_printf(&c, "%.*s", (int)k, buf);
			*ret_content = c.s ? c.s : tl_strdup("");
		}
	}
	ck_assert_msg(r == ARCHIVE_EOF, "Diff's tar: %s", archive_error_string(a));
	tl_buf_printf(&seen->names, "|");
	archive_read_free(a);
}

static bool tar_has(const struct tar_seen *seen, const char *name)
{
	_cleanup_free_ char *key = tl_strdupf("|%s|", name);
	return strstr(tl_buf_str(&seen->names), key) != NULL;
}

/* Sorted as list_tree() lists a folder (parents first, then by name). */
static const struct tl_tar_entry base_layer[] = {
	{ .type = 'd', .name = "bin" },
	{ .type = 'l', .name = "bin/link", .data = "sh" },
	{ .type = 'f', .name = "bin/sh", .data = "#!/bin/true\nprogram bytes\n" },
	{ .type = 'd', .name = "etc" },
	{ .type = 'f', .name = "etc/motd", .data = "hello\n" },
	{ .type = 'd', .name = "usr" },
	{ .type = 'd', .name = "usr/share" },
	{ .type = 'd', .name = "usr/share/doc" },
	{ .type = 'f', .name = "usr/share/doc/README", .data = "docs\n" },
	{ 0 },
};
#define BASE_BYTES ((long long)(strlen("hello\n") + strlen("#!/bin/true\nprogram bytes\n") + strlen("docs\n")))

/* The names below root/rel, one a line, each folder before its content,
 * sorted by name in each folder (the order base_layer lists them in). */
static void list_tree(const char *root, const char *rel, struct tl_buf *out)
{
	_cleanup_free_ char *path = tl_strdupf("%s/%s", root, rel);
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);
	ck_assert_msg(n >= 0, "scandir %s: %s", path, strerror(errno));
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (strcmp(name, ".") && strcmp(name, "..")) {
			_cleanup_free_ char *sub = tl_strdupf("%s%s%s", rel, *rel ? "/" : "", name);
			tl_buf_printf(out, "%s\n", sub);
			_cleanup_free_ char *full = tl_strdupf("%s/%s", root, sub);
			struct stat st;
			if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode))
				list_tree(root, sub, out);
		}
		free(names[i]);
	}
	free(names);
}

/* docker import: Create + ApplyDiff of the base layer; visible to lamina. */
static void import_base(void)
{
	size_t len;
	_cleanup_free_ void *tar = tl_tar_build(base_layer, TL_TAR_PAX, &len);
	graph_create("GraphDriver.Create", L1, "");
	ck_assert_int_eq(apply_diff(L1, "", tar, len), BASE_BYTES);
	int status;
	_cleanup_free_ char *ls = dt_lamina(&status, "layer ls --format json");
	ck_assert_msg(status == 0 && strstr(ls, L1), "lamina layer ls does not show %s: %s", L1, ls);
	/* docker save reads the layer back from Get's Dir: exactly its files */
	_cleanup_free_ char *dir = graph_get(L1);
	struct tl_buf want = TL_BUF_INIT, got = TL_BUF_INIT;
	for (const struct tl_tar_entry *e = base_layer; e->type; e++)
		tl_buf_printf(&want, "%s\n", e->name);
	list_tree(dir, "", &got);
	ck_assert_msg(!strcmp(tl_buf_str(&want), tl_buf_str(&got)), "Get %s shows:\n%swant:\n%s", L1, tl_buf_str(&got),
		      tl_buf_str(&want));
	tl_buf_release(&want);
	tl_buf_release(&got);
	assert_file(dir, "bin/sh", "#!/bin/true\nprogram bytes\n");
	graph_call_id("GraphDriver.Put", L1);
}

/* docker run: the init layer written, then the container's layer changed. */
static char *run_container(void)
{
	graph_create("GraphDriver.CreateReadWrite", CT_INIT, L1);
	_cleanup_free_ char *init = graph_get(CT_INIT);
	assert_file(init, "etc/motd", "hello\n");
	tl_file(init, "etc/hostname", "init\n");
	graph_call_id("GraphDriver.Put", CT_INIT);
	graph_create("GraphDriver.CreateReadWrite", CT, CT_INIT);
	char *dir = graph_get(CT);
	assert_file(dir, "etc/hostname", "init\n");
	tl_file(dir, "new", "brand new\n");
	tl_file(dir, "etc/motd", "changed\n");
	_cleanup_free_ char *readme = tl_strdupf("%s/usr/share/doc/README", dir);
	_cleanup_free_ char *doc = tl_strdupf("%s/usr/share/doc", dir);
	ck_assert_int_eq(unlink(readme), 0);
	ck_assert_int_eq(rmdir(doc), 0);
	return dir;
}

/* The Kind Changes gives path, or -1 when absent. */
static int change_kind(json_t *changes, const char *path)
{
	size_t i;
	json_t *c;
	json_array_foreach(changes, i, c)
		if (!strcmp(dt_str(c, "Path"), path))
			return (int)json_integer_value(json_object_get(c, "Kind"));
	return -1;
}

static void check_changes(void)
{
	json_t *j = dt_okf("GraphDriver.Changes", "{\"ID\":\"%s\",\"Parent\":\"%s\"}", CT, CT_INIT);
	json_t *ch = json_object_get(j, "Changes");
	_cleanup_free_ char *dump = json_dumps(ch, JSON_COMPACT);
	ck_assert_msg(change_kind(ch, "/new") == 1 && change_kind(ch, "/etc/motd") == 0 &&
			      change_kind(ch, "/usr/share/doc") == 2 && change_kind(ch, "/etc/hostname") == -1 &&
			      change_kind(ch, "/bin/sh") == -1 && change_kind(ch, "/usr/share/doc/README") == -1,
		      "Changes: %s", dump);
	json_decref(j);
}

/* docker commit: Diff's raw tar, applied as a new layer L2 on L1. */
static void commit_container(void)
{
	struct pc_reply r;
	dt_post("GraphDriver.Diff", "{\"ID\":\"" CT "\",\"Parent\":\"" CT_INIT "\"}", &r);
	ck_assert_msg(r.status == 200 && r.len >= 1024, "Diff: HTTP %d, %zu bytes: %.200s", r.status, r.len, r.body);
	struct tar_seen seen = { TL_BUF_INIT, 0 };
	_cleanup_free_ char *motd = NULL;
	tar_read(r.body, r.len, &seen, "etc/motd", &motd);
	ck_assert_msg(tar_has(&seen, "new") && tar_has(&seen, "usr/share/.wh.doc") && !tar_has(&seen, "etc/hostname") &&
			      !tar_has(&seen, "bin/sh") && !tar_has(&seen, "usr/share/doc/README"),
		      "Diff's entries: %s", tl_buf_str(&seen.names));
	ck_assert_msg(motd && !strcmp(motd, "changed\n"), "Diff's etc/motd: %s", motd ? motd : "(missing)");
	graph_create("GraphDriver.Create", L2, L1);
	ck_assert_int_eq(apply_diff(L2, L1, r.body, r.len), seen.file_bytes);
	tl_buf_release(&seen.names);
	pc_reply_release(&r);
	_cleanup_free_ char *dir = graph_get(L2);
	assert_file(dir, "new", "brand new\n");
	assert_file(dir, "etc/motd", "changed\n");
	assert_file(dir, "bin/sh", "#!/bin/true\nprogram bytes\n");
	assert_file(dir, "usr/share/doc", NULL);
	assert_file(dir, "etc/hostname", NULL);
	graph_call_id("GraphDriver.Put", L2);
}

/* Exists answers the question: {"Exists": bool}, with no Err either way
 * (a missing layer is an answer, not a failure). */
static void assert_exists(const char *id, bool want)
{
	json_t *j = dt_okf("GraphDriver.Exists", "{\"ID\":\"%s\"}", id);
	json_t *e = json_object_get(j, "Exists");
	ck_assert_msg(want ? json_is_true(e) : !json_is_true(e), "Exists %s: want %s", id, want ? "true" : "false");
	json_decref(j);
}

static void check_inspect_calls(void)
{
	json_t *j = dt_okf("GraphDriver.DiffSize", "{\"ID\":\"%s\",\"Parent\":\"%s\"}", CT, CT_INIT);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "Size")),
			 (long long)(strlen("brand new\n") + strlen("changed\n")));
	json_decref(j);
	j = dt_okf("GraphDriver.GetMetadata", "{\"ID\":\"%s\"}", CT);
	json_t *md = json_object_get(j, "Metadata");
	ck_assert_msg(json_is_object(md) && json_object_size(md) > 0, "GetMetadata: no pairs");
	json_decref(j);
	assert_exists(L1, true);
}

static void check_status(void)
{
	json_t *j = dt_ok("GraphDriver.Status", "{}");
	json_t *st = json_object_get(j, "Status"), *pair;
	ck_assert_msg(json_is_array(st) && json_array_size(st) > 0, "Status: no pairs");
	size_t i;
	json_array_foreach(st, i, pair)
		ck_assert(json_array_size(pair) == 2 && json_is_string(json_array_get(pair, 0)) &&
			  json_is_string(json_array_get(pair, 1)));
	json_decref(j);
}

START_TEST(graph_import_run_diff_commit_rmi)
{
	json_decref(dt_ok("Plugin.Activate", NULL));
	graph_init();
	json_t *j = dt_ok("GraphDriver.Capabilities", "{}");
	ck_assert(json_is_boolean(json_object_get(json_object_get(j, "Capabilities"), "ReproducesExactDiffs")));
	json_decref(j);
	check_status();
	import_base();
	_cleanup_free_ char *dir = run_container();
	check_changes();
	commit_container();
	check_inspect_calls();
	graph_call_id("GraphDriver.Put", CT);
	graph_call_id("GraphDriver.Remove", CT);
	graph_call_id("GraphDriver.Remove", CT_INIT);
	graph_call_id("GraphDriver.Remove", L2);
	graph_call_id("GraphDriver.Remove", L1);
	json_decref(dt_ok("GraphDriver.Cleanup", "{}"));
	int status;
	_cleanup_free_ char *ls = dt_lamina(&status, "layer ls -q");
	ck_assert_msg(status == 0 && !*ls, "layers left after rmi: %s", ls);
	dt_lamina_check_clean();
	assert_exists(L1, false);
	assert_exists(H64("9"), false);
	dt_stop_ok();
}
END_TEST

/* --------------------------------------------------------- concurrency */

#define N_CLIENTS 16

struct client {
	pthread_t thread;
	int n;
	char failure[512]; /* empty: every answer was right */
};

/* One call from a thread: fills c->failure unless the reply is HTTP 200,
 * JSON, and has (want_err) or has not a non-empty Err. Returns the JSON. */
static json_t *client_call(struct client *c, const char *endpoint, const char *body, bool want_err)
{
	if (c->failure[0])
		return NULL;
	struct pc_reply r;
	char why[256];
	_cleanup_free_ char *target = tl_strdupf("/%s", endpoint);
	if (pc_post(dt.sock, target, body, strlen(body), 0, &r, why, sizeof(why)) < 0) {
		snprintf(c->failure, sizeof(c->failure), "client %d: %s %s: %s", c->n, endpoint, body, why);
		return NULL;
	}
	json_t *j = pc_reply_json(&r);
	const char *err = json_string_value(json_object_get(j, "Err"));
	bool has_err = err && *err;
	if (!json_is_object(j) || has_err != want_err || (!want_err && r.status != 200))
		snprintf(c->failure, sizeof(c->failure), "client %d: %s %s: HTTP %d %.200s", c->n, endpoint, body,
			 r.status, r.body);
	pc_reply_release(&r);
	return j;
}

static void *client_run(void *arg)
{
	struct client *c = arg;
	_cleanup_free_ char *name = tl_strdupf("{\"Name\":\"conc%d\"}", c->n);
	json_decref(client_call(c, "VolumeDriver.Create", name, false));
	json_t *j = client_call(c, "VolumeDriver.Get", name, false);
	const char *got = json_string_value(json_object_get(json_object_get(j, "Volume"), "Name"));
	if (j && (!got || strncmp(got, "conc", 4) || atoi(got + 4) != c->n))
		snprintf(c->failure, sizeof(c->failure), "client %d: Get answered volume %s", c->n, got);
	json_decref(j);
	j = client_call(c, "GraphDriver.Status", "{}", false);
	if (j && !json_is_array(json_object_get(j, "Status")))
		snprintf(c->failure, sizeof(c->failure), "client %d: Status without pairs", c->n);
	json_decref(j);
	json_decref(client_call(c, "VolumeDriver.Remove", name, false));
	json_decref(client_call(c, "VolumeDriver.Get", name, true));
	return NULL;
}

START_TEST(sixteen_clients_at_once)
{
	graph_init();
	struct client c[N_CLIENTS] = { 0 };
	for (int i = 0; i < N_CLIENTS; i++) {
		c[i].n = i;
		ck_assert_int_eq(pthread_create(&c[i].thread, NULL, client_run, &c[i]), 0);
	}
	for (int i = 0; i < N_CLIENTS; i++)
		pthread_join(c[i].thread, NULL);
	for (int i = 0; i < N_CLIENTS; i++)
		ck_assert_msg(!c[i].failure[0], "%s", c[i].failure);
	int status;
	_cleanup_free_ char *ls = dt_lamina(&status, "volume ls -q");
	ck_assert_msg(status == 0 && !*ls, "volumes left: %s", ls);
	dt_lamina_check_clean();
	dt_stop_ok();
}
END_TEST

/* ----------------------------------------------------------- bad input */

/*
 * body (len bytes) to target must be refused: an error status or a non-empty
 * Err, or the connection dropped. Then the daemon must still serve.
 */
static void assert_refused(const char *target, const void *body, size_t len)
{
	struct pc_reply r;
	char why[512];
	if (pc_post(dt.sock, target, body, len, 0, &r, why, sizeof(why)) == 0) {
		json_t *j = pc_reply_json(&r);
		const char *err = json_string_value(json_object_get(j, "Err"));
		ck_assert_msg(r.status >= 400 || (err && *err), "%s %.100s: accepted: HTTP %d %.300s", target,
			      (const char *)body, r.status, r.body);
		json_decref(j);
		pc_reply_release(&r);
	}
	json_decref(dt_ok("Plugin.Activate", NULL));
}

static void assert_refused_str(const char *target, const char *body)
{
	assert_refused(target, body, strlen(body));
}

START_TEST(malformed_json_refused)
{
	static const char *const bodies[] = { "{\"Name\": \"m1\", ", "not json at all", "[1,2", "\"Name\"" };
	for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++)
		assert_refused_str("/VolumeDriver.Create", bodies[i]);
	assert_refused_str("/GraphDriver.Create", "{\"ID\":");
	ck_assert(!list_has("m1"));
	dt_stop_ok();
}
END_TEST

START_TEST(wrong_shape_refused)
{
	static const char *const bodies[] = {
		"{\"Name\": 5}",
		"{\"Name\": [\"w\"]}",
		"{\"Name\": \"w\", \"Opts\": \"size=1m\"}",
		"{\"Name\": \"w\", \"Opts\": {\"type\": 7}}",
		"{}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++)
		assert_refused_str("/VolumeDriver.Create", bodies[i]);
	json_t *j = dt_ok("VolumeDriver.List", "{}");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "Volumes")), 0);
	json_decref(j);
	assert_refused_str("/VolumeDriver.Mount", "{\"Name\":\"w\",\"ID\":[1]}");
	assert_refused_str("/GraphDriver.Get", "{\"ID\":{}}");
	dt_stop_ok();
}
END_TEST

START_TEST(unknown_endpoint_404)
{
	static const char *const targets[] = { "/VolumeDriver.Frobnicate", "/Nope", "/", "/GraphDriver." };
	for (size_t i = 0; i < sizeof(targets) / sizeof(*targets); i++) {
		struct pc_reply r;
		char why[512];
		ck_assert_msg(pc_post(dt.sock, targets[i], "{}", 2, 0, &r, why, sizeof(why)) == 0, "%s: %s", targets[i],
			      why);
		ck_assert_msg(r.status == 404, "%s: HTTP %d, want 404", targets[i], r.status);
		pc_reply_release(&r);
		json_decref(dt_ok("Plugin.Activate", NULL));
	}
	dt_stop_ok();
}
END_TEST

START_TEST(body_over_limit_refused)
{
	size_t pad = 2 * 1024 * 1024;
	struct tl_buf b = TL_BUF_INIT;
	tl_buf_printf(&b, "{\"Name\":\"big\",\"Opts\":{\"pad\":\"");
	char *fill = tl_malloc(pad + 1);
	memset(fill, 'x', pad);
	fill[pad] = '\0';
	tl_buf_printf(&b, "%s\"}}", fill);
	free(fill);
	assert_refused("/VolumeDriver.Create", b.s, b.len);
	tl_buf_release(&b);
	ck_assert(!list_has("big"));
	dt_stop_ok();
}
END_TEST

/* A tar big enough that sending half of it needs the daemon to read. */
static void *big_tar(size_t *len)
{
	size_t size = 4 * 1024 * 1024;
	char *data = tl_malloc(size);
	for (size_t i = 0; i < size; i++)
		data[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	struct tl_tar_entry e[] = {
		{ .type = 'd', .name = "data" },
		{ .type = 'f', .name = "data/first", .data = "first\n" },
		{ .type = 'f', .name = "data/big", .data = data, .len = size },
		{ .type = 'f', .name = "data/last", .data = "last\n" },
		{ 0 },
	};
	void *tar = tl_tar_build(e, TL_TAR_PAX, len);
	free(data);
	return tar;
}
#define BIG_TAR_BYTES ((long long)(4 * 1024 * 1024 + strlen("first\n") + strlen("last\n")))

/* Starts a chunked ApplyDiff and sends upto bytes of tar; returns the fd. */
static int apply_diff_start(const char *id, const void *tar, size_t upto)
{
	char why[512];
	int fd = pc_connect(dt.sock, why, sizeof(why));
	ck_assert_msg(fd >= 0, "%s", why);
	_cleanup_free_ char *target = tl_strdupf("/GraphDriver.ApplyDiff?id=%s&parent=", id);
	ck_assert_msg(pc_send_head(fd, target, -1, why, sizeof(why)) == 0, "%s", why);
	for (size_t off = 0; off < upto; off += 65536)
		ck_assert_msg(pc_send_chunk(fd, (const char *)tar + off, upto - off < 65536 ? upto - off : 65536, why,
					    sizeof(why)) == 0,
			      "ApplyDiff %s at %zu: %s", id, off, why);
	return fd;
}

/*
 * Remove id, which the daemon may refuse (Err) while it is still winding up
 * an upload the client cut: tried again, each answer logged, until it
 * succeeds. The deadline (60 s) is for a daemon that never lets go, not a
 * timing assertion.
 */
static void remove_eventually(const char *id)
{
	_cleanup_free_ char *body = tl_strdupf("{\"ID\":\"%s\"}", id);
	for (int i = 0; i < 600; i++) {
		struct pc_reply r;
		dt_post("GraphDriver.Remove", body, &r);
		json_t *j = pc_reply_json(&r);
		const char *err = json_string_value(json_object_get(j, "Err"));
		bool done = r.status == 200 && (!err || !*err);
		if (!done)
			fprintf(stderr, "Remove %s: HTTP %d %s (again)\n", id, r.status, r.body);
		json_decref(j);
		pc_reply_release(&r);
		if (done)
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
	ck_abort_msg("Remove %s refused for 60 s after its upload was cut", id);
}

START_TEST(disconnect_mid_applydiff)
{
	graph_init();
	size_t len;
	_cleanup_free_ void *tar = big_tar(&len);
	graph_create("GraphDriver.Create", L1, "");
	close(apply_diff_start(L1, tar, len / 2));
	json_decref(dt_ok("Plugin.Activate", NULL));
	/* what dockerd does after a failed ApplyDiff: Remove, then try again */
	remove_eventually(L1);
	int status;
	_cleanup_free_ char *ls = dt_lamina(&status, "layer ls -q");
	ck_assert_msg(status == 0 && !*ls, "layers left after the cut upload and Remove: %s", ls);
	dt_lamina_check_clean();
	graph_create("GraphDriver.Create", L1, "");
	ck_assert_int_eq(apply_diff(L1, "", tar, len), BIG_TAR_BYTES);
	_cleanup_free_ char *dir = graph_get(L1);
	assert_file(dir, "data/last", "last\n");
	graph_call_id("GraphDriver.Put", L1);
	graph_call_id("GraphDriver.Remove", L1);
	dt_lamina_check_clean();
	dt_stop_ok();
}
END_TEST

START_TEST(hostile_tar_refused)
{
	graph_init();
	static const struct tl_tar_entry up[] = {
		{ .type = 'd', .name = "etc" },
		{ .type = 'f', .name = "../escape", .data = "boom" },
		{ 0 },
	};
	static const struct tl_tar_entry through_link[] = {
		{ .type = 'l', .name = "lnk", .data = "/" },
		{ .type = 'f', .name = "lnk/lamina-pwned", .data = "boom" },
		{ 0 },
	};
	const struct {
		const struct tl_tar_entry *e;
		const char *entry;
	} cases[] = { { up, "../escape" }, { through_link, "lnk/lamina-pwned" } };
	for (size_t i = 0; i < 2; i++) {
		size_t len;
		_cleanup_free_ void *tar = tl_tar_build(cases[i].e, TL_TAR_PAX, &len);
		graph_create("GraphDriver.Create", L1, "");
		struct pc_reply r;
		char why[512];
		ck_assert_msg(apply_diff_post(L1, "", tar, len, &r, why, sizeof(why)) == 0, "%s", why);
		json_t *j = pc_reply_json(&r);
		const char *err = json_string_value(json_object_get(j, "Err"));
		ck_assert_msg(err && strstr(err, cases[i].entry), "hostile tar with '%s': HTTP %d %.300s", cases[i].entry,
			      r.status, r.body);
		json_decref(j);
		pc_reply_release(&r);
		ck_assert_msg(access("/lamina-pwned", F_OK) < 0, "/lamina-pwned written");
		json_decref(dt_ok("Plugin.Activate", NULL));
		dt_post("GraphDriver.Remove", "{\"ID\":\"" L1 "\"}", &r);
		pc_reply_release(&r);
	}
	_cleanup_free_ char *escaped = tl_strdupf("%s/escape", dt.root);
	ck_assert_msg(access(escaped, F_OK) < 0, "%s written", escaped);
	dt_lamina_check_clean();
	dt_stop_ok();
}
END_TEST

/* ------------------------------------------------------------ lifetime */

START_TEST(sigterm_finishes_the_request_in_flight)
{
	graph_init();
	size_t len;
	_cleanup_free_ void *tar = big_tar(&len);
	graph_create("GraphDriver.Create", L1, "");
	int fd = apply_diff_start(L1, tar, len / 2);
	ck_assert_int_eq(kill(dt.pid, SIGTERM), 0);
	char why[512];
	int sent = 0;
	for (size_t off = len / 2; off < len && sent == 0; off += 65536)
		sent = pc_send_chunk(fd, (const char *)tar + off, len - off < 65536 ? len - off : 65536, why, sizeof(why));
	if (sent == 0)
		sent = pc_send_chunk(fd, NULL, 0, why, sizeof(why));
	struct pc_reply r;
	if (pc_read_reply(fd, &r, why, sizeof(why)) == 0) {
		json_t *j = pc_reply_json(&r);
		const char *err = json_string_value(json_object_get(j, "Err"));
		if (r.status == 200 && (!err || !*err)) /* completed: all of it */
			ck_assert_int_eq(json_integer_value(json_object_get(j, "Size")), BIG_TAR_BYTES);
		else /* failed cleanly: said so */
			ck_assert_msg(r.status >= 400 || (err && *err), "HTTP %d %.300s", r.status, r.body);
		json_decref(j);
		pc_reply_release(&r);
	} else {
		fprintf(stderr, "ApplyDiff during SIGTERM: connection dropped (%s)\n", why);
	}
	close(fd);
	dt_wait_exit_ok();
	dt_lamina_check_clean();
}
END_TEST

START_TEST(socket_is_root_only)
{
	struct stat st;
	ck_assert_int_eq(lstat(dt.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_msg((st.st_mode & 07777) == 0600, "socket mode %04o, want 0600", st.st_mode & 07777);
	ck_assert_int_eq(st.st_uid, 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		_exit(pc_connect(dt.sock, NULL, 0) == -EACCES ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody could connect (status 0x%x)", status);
	dt_stop_ok();
}
END_TEST

static Suite *daemon_suite(void)
{
	Suite *s = suite_create("laminad");
	TCase *tc = tcase_create("protocol");
	tcase_add_checked_fixture(tc, dt_setup, dt_teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, volume_calls_as_dockerd);
	tcase_add_test(tc, volume_tmpfs_really_mounted);
	tcase_add_test(tc, volume_made_by_cli_is_usable);
	tcase_add_test(tc, graph_import_run_diff_commit_rmi);
	tcase_add_test(tc, sixteen_clients_at_once);
	tcase_add_test(tc, malformed_json_refused);
	tcase_add_test(tc, wrong_shape_refused);
	tcase_add_test(tc, unknown_endpoint_404);
	tcase_add_test(tc, body_over_limit_refused);
	tcase_add_test(tc, disconnect_mid_applydiff);
	tcase_add_test(tc, hostile_tar_refused);
	tcase_add_test(tc, sigterm_finishes_the_request_in_flight);
	tcase_add_test(tc, socket_is_root_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *prog = getenv("LAMINAD"), *lamina = getenv("LAMINA");
	if (!prog || access(prog, X_OK) < 0) {
		fprintf(stderr, "test-daemon: SKIP: laminad not built (LAMINAD=%s)\n", prog ? prog : "unset");
		return 77;
	}
	if (!lamina || access(lamina, X_OK) < 0) {
		fprintf(stderr, "test-daemon: SKIP: the lamina CLI not found (LAMINA=%s)\n", lamina ? lamina : "unset");
		return 77;
	}
	return tl_run_suite(daemon_suite(), "test-daemon", TL_NEED_ROOT);
}
