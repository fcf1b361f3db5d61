/* fuzz_rpc_line.c - the protocol loop: framing, JSON-RPC validation and
 * dispatch to the real methods (all but connect, which would go to the
 * network; with no connection open, nothing else does).
 *
 * Input: byte 0 picks the chunk size (1..256); the rest is what the module
 * would write to stdin. Every line the helper writes must be one JSON
 * object ending in a single newline; no yajl allocation may leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connection/connection.h"
#include "util/json.h"
#include "protocol/methods.h"
#include "protocol/protocol.h"
#include "protocol/rpc.h"

static int check_line(void *ud, const char *line, size_t len)
{
    yajl_val v = NULL;

    (void)ud;
    if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1) != NULL)
        abort();
    if (em_json_parse(&v, line, len - 1, NULL) != EM_OK || !YAJL_IS_OBJECT(v))
        abort();
    em_json_free(&v);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    em_rpc_method methods[8];
    em_conn_table *conns = NULL;
    em_rpc *rpc = NULL;
    size_t chunk, off, n = 0, i;

    if (size < 1)
        return 0;
    for (i = 0; em_methods[i].name != NULL; i++) {
        if (strcmp(em_methods[i].name, EM_M_CONNECT) != 0)
            methods[n++] = em_methods[i];
    }
    methods[n].name = NULL;
    methods[n].fn = NULL;
    chunk = (size_t)data[0] + 1;
    data++;
    size--;
    if (em_conn_table_new(&conns) != EM_OK ||
        em_rpc_new(&rpc, methods, conns, em_methods_shutdown, check_line, NULL) != EM_OK)
        abort();
    for (off = 0; off < size; off += chunk) {
        size_t len = size - off < chunk ? size - off : chunk;

        if (em_rpc_feed(rpc, (const char *)data + off, len) == EM_RPC_STOP)
            break;
    }
    em_rpc_eof(rpc);
    em_rpc_free(&rpc);
    em_conn_table_free(&conns);
    if (em_json_outstanding() != 0)
        abort();
    return 0;
}
