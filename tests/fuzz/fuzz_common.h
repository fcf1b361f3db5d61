/* fuzz_common.h - what every fuzz target checks the same way. */
#ifndef EM_FUZZ_COMMON_H
#define EM_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* abort() rather than assert(): the replay mains build as RelWithDebInfo. */
static inline void require(bool ok)
{
    if (!ok)
        abort();
}

/* An error for humans: terminated, one line, no control characters. */
static inline void require_clean_error(const em_error *err)
{
    require(memchr(err->message, '\0', sizeof err->message) != NULL);
    for (const char *p = err->message; *p != '\0'; p++)
        require((unsigned char)*p >= 0x20 && *p != 0x7f);
}

/* The input as a NUL-terminated string (cut at its first NUL), caller frees. */
static inline char *input_string(const unsigned char *data, size_t size)
{
    char *s = malloc(size + 1);

    require(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
