/*
 * tests/unit/test-daemon-json.c: laminad's decoding of Docker's request
 * bodies (tools/daemon/json.c): what Docker sends (empty bodies, null maps,
 * absent fields) is accepted; malformed JSON and wrong types are refused
 * naming the field.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/testlib.h"
#include "tools/daemon/daemon.h"

static json_t *parse_ok(const char *body)
{
	struct lm_error err = { 0 };
	json_t *req = NULL;

	ck_assert_int_eq(lmd_json_parse(body, strlen(body), &req, &err), 0);
	ck_assert_ptr_nonnull(req);
	return req;
}

static void parse_bad(const char *body, const char *needle)
{
	struct lm_error err = { 0 };
	json_t *req = NULL;

	ck_assert_int_eq(lmd_json_parse(body, strlen(body), &req, &err), -EINVAL);
	ck_assert_ptr_null(req);
	ck_assert_msg(strstr(err.msg, needle), "'%s' lacks '%s'", err.msg, needle);
}

START_TEST(parse_bodies)
{
	json_t *req = parse_ok("");
	ck_assert(json_is_object(req) && json_object_size(req) == 0);
	json_decref(req);
	req = parse_ok("{\"Name\":\"v1\",\"Opts\":null}");
	ck_assert_int_eq(json_object_size(req), 2);
	json_decref(req);
	parse_bad("{bad", "not JSON");
	parse_bad("[1,2]", "expected a JSON object");
	parse_bad("\"x\"", "not JSON");
	parse_bad("{\"a\":1,\"a\":2}", "not JSON");
	/* a body that is cut short is not half-read */
	parse_bad("{\"Name\":\"v1\"", "not JSON");
}
END_TEST

START_TEST(strings)
{
	struct lm_error err = { 0 };
	json_t *req = parse_ok("{\"Name\":\"v1\",\"ID\":5,\"Parent\":null,\"Empty\":\"\"}");
	const char *s = "stale";

	ck_assert_int_eq(lmd_json_string(req, "Name", true, &s, &err), 0);
	ck_assert_str_eq(s, "v1");
	ck_assert_int_eq(lmd_json_string(req, "Parent", false, &s, &err), 0);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(lmd_json_string(req, "Missing", false, &s, &err), 0);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(lmd_json_string(req, "Missing", true, &s, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "request: field 'Missing' is missing");
	ck_assert_int_eq(lmd_json_string(req, "ID", false, &s, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "request: field 'ID': expected a string");
	ck_assert_int_eq(lmd_json_string(req, "Empty", true, &s, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "request: field 'Empty' is empty");
	ck_assert_int_eq(lmd_json_string(req, "Empty", false, &s, &err), 0);
	ck_assert_str_eq(s, "");
	json_decref(req);
}
END_TEST

START_TEST(maps)
{
	struct lm_error err = { 0 };
	json_t *req = parse_ok("{\"Opts\":{\"type\":\"tmpfs\",\"o\":\"size=1m\"},\"Null\":null,"
			       "\"List\":[\"a\"],\"Num\":{\"size\":1}}");
	struct lamina_kv *kv = (void *)1;
	size_t n = 99;

	ck_assert_int_eq(lmd_json_map(req, "Opts", &kv, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(kv[0].key, "type"); /* jansson keeps insertion order */
	ck_assert_str_eq(kv[0].value, "tmpfs");
	ck_assert_str_eq(kv[1].key, "o");
	ck_assert_str_eq(kv[1].value, "size=1m");
	free(kv);
	ck_assert_int_eq(lmd_json_map(req, "Null", &kv, &n, &err), 0);
	ck_assert_ptr_null(kv);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(lmd_json_map(req, "Absent", &kv, &n, &err), 0);
	ck_assert_ptr_null(kv);
	ck_assert_int_eq(lmd_json_map(req, "List", &kv, &n, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "request: field 'List': expected an object of strings");
	ck_assert_ptr_null(kv);
	ck_assert_int_eq(lmd_json_map(req, "Num", &kv, &n, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "request: field 'Num': value of 'size' is not a string");
	ck_assert_ptr_null(kv);
	json_decref(req);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon-json");
	TCase *tc = tcase_create("json");
	tcase_add_test(tc, parse_bodies);
	tcase_add_test(tc, strings);
	tcase_add_test(tc, maps);
	suite_add_tcase(s, tc);
	return tl_run_suite(s, "test-daemon-json", 0);
}
