/* test_util.h - small helpers shared by the cmocka tests of this folder. */
#ifndef EM_TEST_UTIL_H
#define EM_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

/* Reads EM_TEST_DATA/<rel> into a NUL-terminated buffer; *len gets its
 * size (0 when missing). Caller frees. NULL when missing. */
static inline char *test_read_file(const char *rel, size_t *len)
{
    char path[1024];
    FILE *f;
    char *data;
    long size;

    *len = 0;
    snprintf(path, sizeof(path), "%s/%s", EM_TEST_DATA, rel);
    f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)size + 1);
    if (data != NULL && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    if (data == NULL)
        return NULL;
    data[size] = '\0';
    *len = (size_t)size;
    return data;
}

#endif
