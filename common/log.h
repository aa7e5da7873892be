/*
 * common/log.h: leveled logging to stderr or syslog.
 *
 * A file defines pr_fmt before including this header to prefix its lines
 * ("unionfs: "). The level is tested before the message is formatted, so a
 * disabled log_debug() costs one load and one compare.
 */
#ifndef LAMINA_COMMON_LOG_H
#define LAMINA_COMMON_LOG_H

#include <stdbool.h>

enum lm_log_level { LM_LOG_ERR = 3, LM_LOG_WARN = 4, LM_LOG_INFO = 6, LM_LOG_DEBUG = 7 };

/* The process-wide threshold and sink; set once by the program at start-up,
 * before threads exist. */
extern int lm_log_max_level;
void lm_log_set_level(int level);
void lm_log_use_syslog(const char *ident);

void lm_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif

#define lm_log(level, fmt, ...)                                              \
	do {                                                                 \
		if ((level) <= lm_log_max_level)                             \
			lm_log_write((level), pr_fmt(fmt), ##__VA_ARGS__);   \
	} while (0)

#define log_error(fmt, ...) lm_log(LM_LOG_ERR, fmt, ##__VA_ARGS__)
#define log_warn(fmt, ...) lm_log(LM_LOG_WARN, fmt, ##__VA_ARGS__)
#define log_info(fmt, ...) lm_log(LM_LOG_INFO, fmt, ##__VA_ARGS__)
#define log_debug(fmt, ...) lm_log(LM_LOG_DEBUG, fmt, ##__VA_ARGS__)
#define log_debug_enabled() (LM_LOG_DEBUG <= lm_log_max_level)

#endif
