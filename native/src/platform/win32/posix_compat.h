/* posix_compat.h (Windows) - the few POSIX functions mingw-w64's C library
 * lacks, under their POSIX names, so the portable files need no #ifdef.
 * CMake force-includes this header into every file of the Windows build
 * (-include); posix_compat.c defines them. */
#ifndef EM_POSIX_COMPAT_H
#define EM_POSIX_COMPAT_H

#include <stddef.h>
#include <time.h>

char *strndup(const char *s, size_t n);
void *memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len);
time_t timegm(struct tm *tm);

#endif
