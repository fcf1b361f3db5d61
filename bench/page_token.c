/* page_token.c - the time the page reader takes over one large token
 * (issue 13, item 1). Prints figures, asserts nothing.
 *
 *   cmake --build build/native --target bench_page_token
 *   build/native/bench_page_token
 *
 * A 40 MB string in an item (refused at EM_EXO_TOKEN_MAX), and a 7 MB one
 * (allowed), fed in 16 KiB chunks as curl hands them over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exchange/exo.h"

static double seconds_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void measure(size_t token)
{
    static const char head[] = "{\"value\":[{\"Name\":\"", tail[] = "\"}]}";
    size_t len = sizeof(head) - 1 + token + sizeof(tail) - 1, off;
    char *text = malloc(len);
    em_exo_page *page = NULL;
    em_error err = {0};
    double start;
    int rc = EM_OK;

    if (text == NULL || em_exo_page_new(&page, 0, NULL, NULL) != EM_OK)
        exit(1);
    memcpy(text, head, sizeof(head) - 1);
    memset(text + sizeof(head) - 1, 'a', token);
    memcpy(text + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
    start = seconds_now();
    for (off = 0; off < len && rc == EM_OK; off += 16384)
        rc = em_exo_page_feed(page, text + off, len - off < 16384 ? len - off : 16384, &err);
    if (rc == EM_OK)
        rc = em_exo_page_finish(page, &err);
    printf("%5.1f MB token: %.3f s, %s\n", (double)token / 1e6, seconds_now() - start,
           rc == EM_OK ? "read" : err.message);
    em_exo_page_free(&page);
    free(text);
}

int main(void)
{
    measure(7u * 1000u * 1000u);
    measure(40u * 1000u * 1000u);
    return 0;
}
