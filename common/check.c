/*
 * common/check.c: the report of lamina_check(): a growing array of lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"

int lm_check_add(struct lamina_check_report *report, bool repaired, const char *fmt, ...)
{
	struct lamina_check_problem *p = realloc(report->problems, (report->n_problems + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	report->problems = p;
	p += report->n_problems;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&p->what, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	p->repaired = repaired;
	report->n_problems++;
	return 0;
}

void lamina_check_report_release(struct lamina_check_report *report)
{
	if (!report)
		return;
	for (size_t i = 0; i < report->n_problems; i++)
		free(report->problems[i].what);
	free(report->problems);
	memset(report, 0, sizeof(*report));
}
