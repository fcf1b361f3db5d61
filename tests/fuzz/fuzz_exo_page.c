/* fuzz_exo_page.c - the streaming Exchange page parser.
 *
 * Input: byte 0 picks the chunk size (1..256) and byte 1 the object limit
 * (0 = none); the rest is the page body, fed in chunks as curl would.
 * Every object must be valid JSON without "@odata." keys, and no yajl
 * allocation may outlive the page.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exchange/exo.h"
#include "util/json.h"

/* Aborts when any key of v, at any depth, contains "@odata.". */
static void check_keys(yajl_val v)
{
    size_t i;

    if (YAJL_IS_OBJECT(v)) {
        for (i = 0; i < v->u.object.len; i++) {
            if (strstr(v->u.object.keys[i], "@odata.") != NULL)
                abort();
            check_keys(v->u.object.values[i]);
        }
    } else if (YAJL_IS_ARRAY(v)) {
        for (i = 0; i < v->u.array.len; i++)
            check_keys(v->u.array.values[i]);
    }
}

static int check_object(void *ud, const char *json, size_t len)
{
    yajl_val v = NULL;
    long *count = ud;

    /* What we pass on must be JSON again (nesting is bounded by the parser). */
    if (em_json_parse(&v, json, len, NULL) != EM_OK)
        abort();
    check_keys(v);
    em_json_free(&v);
    (*count)++;
    return EM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    em_exo_page *page = NULL;
    em_error err = {0};
    size_t chunk, off;
    long limit, count = 0;
    int rc = EM_OK;

    if (size < 2)
        return 0;
    chunk = (size_t)data[0] + 1;
    limit = data[1] % 8;
    data += 2;
    size -= 2;
    if (em_exo_page_new(&page, limit, check_object, &count) != EM_OK)
        return 0;
    for (off = 0; off < size && rc == EM_OK; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;

        rc = em_exo_page_feed(page, (const char *)data + off, n, &err);
    }
    if (rc == EM_OK)
        rc = em_exo_page_finish(page, &err);
    if (limit > 0 && count > limit)
        abort();
    if (count != em_exo_page_objects(page))
        abort();
    em_exo_page_free(&page);
    if (em_json_outstanding() != 0)
        abort();
    return 0;
}
