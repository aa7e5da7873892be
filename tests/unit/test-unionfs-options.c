/*
 * tests/unit/test-unionfs-options.c: the fuse-overlayfs compatible command
 * line, as podman, buildah, dockerd and mount.fuse3 send it (clients.md).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unionfs/unionfs.h"
#include "tests/lib/testlib.h"

static struct lamina_union_config *parse(int argc, char **argv, enum lamina_union_action *action,
					 struct lm_error *err, int *ret)
{
	struct lamina_union_config *c = NULL;
	*ret = lamina_union_config_parse_args(argc, argv, &c, action, err);
	return c;
}

START_TEST(podman_rootful_argv)
{
	char *argv[] = { "lamina-fuse", "-o",
			 "lowerdir=/g/l/A:/g/l/B,upperdir=/g/x/diff,workdir=/g/x/work,volatile", "/g/x/merged", NULL };
	enum lamina_union_action action;
	struct lm_error err = { 0 };
	int r;
	struct lamina_union_config *c = parse(4, argv, &action, &err, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(action, LAMINA_UNION_MOUNT);
	ck_assert_int_eq(c->nlowers, 2);
	ck_assert_str_eq(c->lowers[0], "/g/l/A");
	ck_assert_str_eq(c->lowers[1], "/g/l/B");
	ck_assert_str_eq(c->upper, "/g/x/diff");
	ck_assert_str_eq(c->work, "/g/x/work");
	ck_assert_str_eq(c->mountpoint, "/g/x/merged");
	ck_assert(!c->fsync);
	ck_assert(!c->foreground);
	lamina_union_config_free(c);
}
END_TEST

START_TEST(rootless_empty_option_ignored)
{
	char *argv[] = { "lamina-fuse", "-o", "lowerdir=/a,upperdir=/u,workdir=/w,,volatile", "/m", NULL };
	enum lamina_union_action action;
	int r;
	struct lamina_union_config *c = parse(4, argv, &action, NULL, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(c->nlowers, 1);
	lamina_union_config_free(c);
}
END_TEST

START_TEST(unimplemented_option_refused_by_name)
{
	static const char *const refused[] = { "uidmapping=:0:100000:65536", "squash_to_uid=1000", "squash_to_root",
					       "xattr_permissions=2", "redirect_dir=on", "metacopy=on", "bogus" };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char opts[256];
		snprintf(opts, sizeof(opts), "lowerdir=/a,%s", refused[i]);
		char *argv[] = { "lamina-fuse", "-o", opts, "/m", NULL };
		enum lamina_union_action action;
		struct lm_error err = { 0 };
		int r;
		struct lamina_union_config *c = parse(4, argv, &action, &err, &r);
		ck_assert_int_eq(r, -EINVAL);
		ck_assert_ptr_null(c);
		ck_assert_msg(strstr(err.msg, refused[i]) != NULL, "message '%s' does not name '%s'", err.msg,
			      refused[i]);
	}
}
END_TEST

START_TEST(escaped_colon_and_many_lowers)
{
	char opts[4096] = "lowerdir=/x\\:y";
	for (int i = 0; i < 199; i++)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), ":/l%d", i);
	struct lamina_union_config *c = lamina_union_config_new();
	ck_assert_int_eq(lamina_union_config_parse_opts(c, opts, NULL), 0);
	ck_assert_int_eq(c->nlowers, 200);
	ck_assert_str_eq(c->lowers[0], "/x:y");
	ck_assert_str_eq(c->lowers[199], "/l198");
	lamina_union_config_free(c);
}
END_TEST

START_TEST(writeback_and_timeout)
{
	struct lamina_union_config *c = lamina_union_config_new();
	ck_assert(!c->writeback);
	ck_assert(c->timeout > 3600);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "lowerdir=/a,writeback=1,timeout=0.5", NULL), 0);
	ck_assert(c->writeback);
	ck_assert(c->timeout == 0.5);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "writeback=0", NULL), 0);
	ck_assert(!c->writeback);
	ck_assert(c->uring);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "uring=0", NULL), 0);
	ck_assert(!c->uring);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "uring=1", NULL), 0);
	ck_assert(c->uring);
	ck_assert(c->dir_readahead);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "dir_readahead=0", NULL), 0);
	ck_assert(!c->dir_readahead);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "dir_readahead=1", NULL), 0);
	ck_assert(c->dir_readahead);
	ck_assert(c->dir_refresh);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "dir_refresh=0", NULL), 0);
	ck_assert(!c->dir_refresh);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "dir_refresh=1", NULL), 0);
	ck_assert(c->dir_refresh);
	/* a switch takes 0 or 1, nothing else */
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "dir_refresh=2", NULL), -EINVAL);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "dir_refresh=10", NULL), -EINVAL);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "uring", NULL), -EINVAL);
	ck_assert(c->dir_refresh && c->uring);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "timeout=-1", NULL), -EINVAL);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "timeout=soon", NULL), -EINVAL);
	lamina_union_config_free(c);
}
END_TEST

START_TEST(refused_option_leaves_config_unchanged)
{
	struct lamina_union_config *c = lamina_union_config_new();
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "lowerdir=/a,upperdir=/u,workdir=/w", NULL), 0);
	ck_assert_int_eq(lamina_union_config_parse_opts(c, "lowerdir=/b:/c,upperdir=/v,nope", NULL), -EINVAL);
	ck_assert_int_eq(c->nlowers, 1);
	ck_assert_str_eq(c->lowers[0], "/a");
	ck_assert_str_eq(c->upper, "/u");
	lamina_union_config_free(c);
}
END_TEST

START_TEST(mount_fuse3_form_and_passthrough)
{
	/* mount.fuse3 runs "TYPE SOURCE MOUNTPOINT -o OPTS" */
	char *argv[] = { "lamina-fuse", "mysource", "/m", "-o", "rw,nodev,noexec,lowerdir=/a", NULL };
	enum lamina_union_action action;
	int r;
	struct lamina_union_config *c = parse(5, argv, &action, NULL, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_str_eq(c->source, "mysource");
	ck_assert_str_eq(c->mountpoint, "/m");
	ck_assert_str_eq(c->fuse_opts, "rw,nodev,noexec");
	lamina_union_config_free(c);
}
END_TEST

START_TEST(flags_help_version)
{
	char *v[] = { "lamina-fuse", "--version", NULL };
	char *h[] = { "lamina-fuse", "--help", NULL };
	char *fd[] = { "lamina-fuse", "-f", "-d", "-o", "lowerdir=/a", "/m", NULL };
	enum lamina_union_action action;
	int r;
	struct lamina_union_config *c = parse(2, v, &action, NULL, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(action, LAMINA_UNION_VERSION);
	lamina_union_config_free(c);
	c = parse(2, h, &action, NULL, &r);
	ck_assert_int_eq(action, LAMINA_UNION_HELP);
	lamina_union_config_free(c);
	c = parse(6, fd, &action, NULL, &r);
	ck_assert_int_eq(r, 0);
	ck_assert(c->foreground && c->debug);
	lamina_union_config_free(c);
}
END_TEST

START_TEST(missing_pieces_are_errors)
{
	static char *cases[][5] = {
		{ "lamina-fuse", "-o", "upperdir=/u,workdir=/w", "/m", NULL },          /* no lowerdir */
		{ "lamina-fuse", "-o", "lowerdir=/a,upperdir=/u", "/m", NULL },         /* no workdir */
		{ "lamina-fuse", "-o", "lowerdir=/a", NULL, NULL },                    /* no mountpoint */
		{ "lamina-fuse", "-o", "lowerdir=/a::/b", "/m", NULL },                 /* empty layer */
		{ "lamina-fuse", "-x", "/m", NULL, NULL },                             /* unknown flag */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int argc = 0;
		while (cases[i][argc])
			argc++;
		enum lamina_union_action action;
		struct lm_error err = { 0 };
		int r;
		struct lamina_union_config *c = parse(argc, cases[i], &action, &err, &r);
		ck_assert_msg(r == -EINVAL, "case %zu: r=%d", i, r);
		ck_assert_ptr_null(c);
		ck_assert_msg(err.msg[0] != '\0', "case %zu has no message", i);
	}
}
END_TEST

START_TEST(too_many_lowers)
{
	size_t size = 600 * 8 + 16;
	char *opts = malloc(size);
	strcpy(opts, "lowerdir=/l");
	for (int i = 0; i < 600; i++)
		strcat(opts, ":/l");
	struct lamina_union_config *c = lamina_union_config_new();
	ck_assert_int_eq(lamina_union_config_parse_opts(c, opts, NULL), -EINVAL);
	lamina_union_config_free(c);
	free(opts);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("unionfs-options");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, podman_rootful_argv);
	tcase_add_test(tc, rootless_empty_option_ignored);
	tcase_add_test(tc, unimplemented_option_refused_by_name);
	tcase_add_test(tc, escaped_colon_and_many_lowers);
	tcase_add_test(tc, refused_option_leaves_config_unchanged);
	tcase_add_test(tc, writeback_and_timeout);
	tcase_add_test(tc, mount_fuse3_form_and_passthrough);
	tcase_add_test(tc, flags_help_version);
	tcase_add_test(tc, missing_pieces_are_errors);
	tcase_add_test(tc, too_many_lowers);
	suite_add_tcase(s, tc);
	return tl_run_suite(s, "test-unionfs-options", 0);
}
