/* main.c - exchangemfa-helper: serves the module's protocol on stdin/stdout
 * (docs/protocol.md) until `shutdown` or stdin EOF, then exits 0. */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "connection/connection.h"
#include "net/http.h"
#include "platform/platform.h"
#include "protocol/methods.h"
#include "protocol/protocol.h"
#include "protocol/rpc.h"

/* Writes one whole line to stdout (fd 1), retrying short writes. */
static int write_stdout(void *ud, const char *line, size_t len)
{
    (void)ud;
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, line, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        line += n;
        len -= (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    em_conn_table *conns = NULL;
    em_rpc *rpc = NULL;
    em_error err = {0};
    int status = 1;

    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("exchangemfa-helper %s (protocol %d)\n", EM_VERSION, EM_PROTOCOL_VERSION);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "usage: exchangemfa-helper [--version]\n"
                        "Speaks the ExchangeMfa protocol on stdin/stdout; started by the module.\n");
        return 2;
    }
    em_platform_init();
    if (em_http_global_init(&err) != EM_OK) {
        fprintf(stderr, "exchangemfa-helper: %s\n", err.message);
        return 1;
    }
    if (em_conn_table_new(&conns) != EM_OK ||
        em_rpc_new(&rpc, em_methods, conns, em_methods_shutdown, write_stdout, NULL) != EM_OK) {
        fprintf(stderr, "exchangemfa-helper: out of memory\n");
        goto cleanup;
    }
    em_rpc_run_fd(rpc, STDIN_FILENO);
    status = 0;
cleanup:
    em_rpc_free(&rpc);
    em_conn_table_free(&conns);
    em_http_global_cleanup();
    return status;
}
