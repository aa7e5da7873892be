/*
 * tools/cli/output.c: how `lamina` prints: aligned tables, times and sizes
 * as Docker prints them, yes/no questions, and the small argument helpers
 * (string vectors, key=value pairs) the commands share.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void *xrealloc(void *p, size_t n, size_t size)
{
	p = reallocarray(p, n ? n : 1, size);
	if (!p) {
		fputs("lamina: out of memory\n", stderr);
		exit(CLI_FAILED);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fputs("lamina: out of memory\n", stderr);
		exit(CLI_FAILED);
	}
	return d;
}

void cli_strv_push(const char ***strv, size_t *n, const char *value)
{
	*strv = xrealloc(*strv, *n + 1, sizeof(**strv));
	(*strv)[(*n)++] = value;
}

bool cli_kv_push(struct lamina_kv **kv, size_t *n, const char *arg, bool need_value)
{
	const char *eq = strchr(arg, '=');
	struct lamina_kv *pair;

	if (!eq && need_value)
		return false;
	*kv = xrealloc(*kv, *n + 1, sizeof(**kv));
	pair = &(*kv)[(*n)++];
	pair->key = xstrdup(arg);
	if (eq) {
		pair->key[eq - arg] = '\0';
		pair->value = pair->key + (eq - arg) + 1;
	} else {
		pair->value = pair->key + strlen(pair->key); /* "" */
	}
	return true;
}

/* Each pair's value points into its key's allocation (cli_kv_parse). */
void cli_kv_array_free(struct lamina_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(kv[i].key);
	free(kv);
}

struct cli_table {
	size_t columns, rows;
	char **cells; /* rows * columns, row 0 the headers */
};

struct cli_table *cli_table_new(size_t columns, const char *const *headers)
{
	struct cli_table *t = xrealloc(NULL, 1, sizeof(*t));

	*t = (struct cli_table){ .columns = columns };
	cli_table_row(t, headers);
	return t;
}

void cli_table_row(struct cli_table *t, const char *const *cells)
{
	t->cells = xrealloc(t->cells, (t->rows + 1) * t->columns, sizeof(*t->cells));
	for (size_t c = 0; c < t->columns; c++)
		t->cells[t->rows * t->columns + c] = xstrdup(cells[c] ? cells[c] : "");
	t->rows++;
}

/* Columns are as wide as their widest cell plus three spaces, and at least
 * ten, as Docker's tabwriter (minwidth 10, padding 3); the last column is
 * not padded. */
void cli_table_print_free(struct cli_table *t, FILE *out)
{
	size_t *width = xrealloc(NULL, t->columns, sizeof(*width));

	for (size_t c = 0; c < t->columns; c++) {
		width[c] = 0;
		for (size_t r = 0; r < t->rows; r++)
			if (strlen(t->cells[r * t->columns + c]) > width[c])
				width[c] = strlen(t->cells[r * t->columns + c]);
	}
	for (size_t r = 0; r < t->rows; r++)
		for (size_t c = 0; c < t->columns; c++) {
			const char *cell = t->cells[r * t->columns + c];

			if (c + 1 < t->columns)
				fprintf(out, "%-*s", (int)(width[c] + 3 < 10 ? 10 : width[c] + 3), cell);
			else
				fprintf(out, "%s\n", cell);
		}
	for (size_t i = 0; i < t->rows * t->columns; i++)
		free(t->cells[i]);
	free(t->cells);
	free(width);
	free(t);
}

void cli_format_time(int64_t seconds, char *buf, size_t size)
{
	time_t when = (time_t)seconds;
	struct tm tm;
	char zone[8];
	size_t n;

	if (!localtime_r(&when, &tm) || (n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, size, "%lld", (long long)seconds);
		return;
	}
	if (tm.tm_gmtoff == 0) {
		snprintf(buf + n, size - n, "Z");
		return;
	}
	strftime(zone, sizeof(zone), "%z", &tm); /* +0100 -> +01:00 */
	snprintf(buf + n, size - n, "%.3s:%.2s", zone, zone + 3);
}

void cli_format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	double value = (double)bytes;
	size_t u = 0;

	while (value >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		value /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%.4g%s", value, units[u]);
}

bool cli_confirm(const char *question)
{
	char answer[16];

	printf("%s [y/N] ", question);
	fflush(stdout);
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	return answer[0] == 'y' || answer[0] == 'Y';
}

bool cli_parse_format(const struct cli_ctx *ctx, const char *value, bool *ret_json)
{
	if (strcmp(value, "json") == 0 || strcmp(value, "table") == 0) {
		*ret_json = strcmp(value, "json") == 0;
		return true;
	}
	cli_usage_error(ctx, "unknown format '%s' (table or json)", value);
	return false;
}

void cli_json_print(json_t *j, bool pretty)
{
	char *text = json_dumps(j, pretty ? JSON_INDENT(4) : JSON_COMPACT);

	if (text) {
		puts(text);
		free(text);
	}
	json_decref(j);
}
