/*
 * common/log.c: the sink behind common/log.h. One write per line, so lines of
 * concurrent threads do not interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/log.h"

int lm_log_max_level = LM_LOG_WARN;
static bool log_to_syslog; /* set once at start-up, read-only afterwards */

void lm_log_set_level(int level)
{
	lm_log_max_level = level;
}

void lm_log_use_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_to_syslog = true;
}

void lm_log_write(int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (log_to_syslog) {
		line[n] = '\0';
		syslog(level, "%s", line);
		return;
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return; /* nowhere left to report it */
}
