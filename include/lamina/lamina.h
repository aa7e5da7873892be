/*
 * lamina/lamina.h: the umbrella header of liblamina.
 */
#ifndef LAMINA_LAMINA_H
#define LAMINA_LAMINA_H

#include <lamina/error.h>
#include <lamina/store.h>
#include <lamina/union.h>
#include <lamina/volume.h>
#include <lamina/layer.h>
#include <lamina/image.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The library's version string ("0.1.0").
 * Thread-safety: safe.
 */
const char *lamina_version(void);

#ifdef __cplusplus
}
#endif
#endif
