/* posix_compat.c (Windows) - strndup, memmem and timegm (posix_compat.h). */
#include "platform/win32/posix_compat.h"

#include <stdlib.h>
#include <string.h>

char *strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *copy = malloc(len + 1);

    if (copy != NULL) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

void *memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len)
{
    const unsigned char *h = haystack;

    if (needle_len == 0)
        return (void *)haystack;
    for (size_t i = 0; i + needle_len <= haystack_len; i++) {
        if (h[i] == *(const unsigned char *)needle && memcmp(h + i, needle, needle_len) == 0)
            return (void *)(h + i);
    }
    return NULL;
}

time_t timegm(struct tm *tm)
{
    return _mkgmtime(tm);
}
