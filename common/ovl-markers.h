/*
 * common/ovl-markers.h: the names of the overlay on-disk markers that more
 * than one module reads or writes (unionfs/whiteout.c has its own copies of
 * the names; the graph store translates OCI tar entries to and from them).
 * DESIGN.md "On-disk format" has the rules.
 */
#ifndef LAMINA_COMMON_OVL_MARKERS_H
#define LAMINA_COMMON_OVL_MARKERS_H

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define LM_WH_PREFIX ".wh."          /* ".wh.NAME": NAME deleted (OCI, rootless form) */
#define LM_WH_META_PREFIX ".wh..wh." /* AUFS metadata names; ".wh..wh..opq" among them */
#define LM_WH_OPQ ".wh..wh..opq"     /* the folder holding it is opaque */
#define LM_OVL_XATTR_TRUSTED "trusted.overlay."
#define LM_OVL_XATTR_USER "user.overlay."
#define LM_OVL_OPAQUE_TRUSTED "trusted.overlay.opaque" /* = "y": opaque (kernel form) */
#define LM_OVL_OPAQUE_USER "user.overlay.opaque"       /* = "y": opaque (userxattr, rootless) */

/* The kernel's whiteout: a character device 0/0. */
static inline bool lm_ovl_is_whiteout_dev(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* An overlay private xattr (never a user's: not exported, not imported). */
static inline bool lm_ovl_xattr_is_private(const char *name)
{
	return !strncmp(name, LM_OVL_XATTR_TRUSTED, strlen(LM_OVL_XATTR_TRUSTED)) ||
	       !strncmp(name, LM_OVL_XATTR_USER, strlen(LM_OVL_XATTR_USER));
}

/* A ".wh." name (a marker, never a real name). */
static inline bool lm_wh_name(const char *name)
{
	return !strncmp(name, LM_WH_PREFIX, strlen(LM_WH_PREFIX));
}

#endif
