/*
 * common/check.h: building the report of lamina_check() (<lamina/store.h>).
 * Each module's checker adds its lines; lamina_check() is in volumes/check.c
 * and calls the graph store's checker (graphdriver/check.c) too.
 */
#ifndef LAMINA_COMMON_CHECK_H
#define LAMINA_COMMON_CHECK_H

#include <stdbool.h>

#include <lamina/store.h>

/* Appends one problem ("volume 'x': folder missing") to report. 0 or -ENOMEM. */
int lm_check_add(struct lamina_check_report *report, bool repaired, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
