/* version.h — henbun's version, and the pair of macros every public header wraps its
 * declarations in.  Included by autograd.h (so by everything); users rarely include it.
 *
 *   printf("henbun %s\n", henbun_version());        // the library you linked: "0.3.0"
 *   #if HENBUN_VERSION >= 300                        // the headers you compiled with
 *
 * HENBUN_BEGIN_DECLS / HENBUN_END_DECLS give the declarations C linkage under C++ and
 * default visibility: the installed library is built with -fvisibility=hidden, so exactly
 * what the public headers declare is exported from libhenbun.so and nothing else. */
#ifndef HENBUN_VERSION_H
#define HENBUN_VERSION_H

/* Semantic versioning: MAJOR changes break the ABI (it is the .so's soname number). */
#define HENBUN_VERSION_MAJOR 0
#define HENBUN_VERSION_MINOR 3
#define HENBUN_VERSION_PATCH 0
#define HENBUN_VERSION_STRING "0.3.0"
/* One comparable number: MAJOR * 10000 + MINOR * 100 + PATCH (0.3.0 is 300). */
#define HENBUN_VERSION \
    (HENBUN_VERSION_MAJOR * 10000 + HENBUN_VERSION_MINOR * 100 + HENBUN_VERSION_PATCH)

#if defined(__GNUC__)
#define HENBUN_VISIBLE_BEGIN_ _Pragma("GCC visibility push(default)")
#define HENBUN_VISIBLE_END_ _Pragma("GCC visibility pop")
#else
#define HENBUN_VISIBLE_BEGIN_
#define HENBUN_VISIBLE_END_
#endif
#ifdef __cplusplus
#define HENBUN_BEGIN_DECLS extern "C" { HENBUN_VISIBLE_BEGIN_
#define HENBUN_END_DECLS HENBUN_VISIBLE_END_ }
#else
#define HENBUN_BEGIN_DECLS HENBUN_VISIBLE_BEGIN_
#define HENBUN_END_DECLS HENBUN_VISIBLE_END_
#endif

HENBUN_BEGIN_DECLS
/* The version of the library actually linked, "MAJOR.MINOR.PATCH"; compare it with
 * HENBUN_VERSION_STRING to catch headers and library from different releases. */
const char *henbun_version(void);
HENBUN_END_DECLS

#endif
