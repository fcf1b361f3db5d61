/* rpc.h - the protocol loop: framing of stdin lines, JSON-RPC validation,
 * one worker thread per request, one writer for stdout (docs/protocol.md).
 *
 * Threads: the reader (em_rpc_feed / em_rpc_run_fd) parses lines and
 * handles notifications, `shutdown` and errors inline; each request runs
 * its method on its own worker. Replies and notifications are written as
 * whole lines under one mutex, so they never interleave within a line.
 * The em_request functions of request.h are implemented here.
 */
#ifndef EM_RPC_H
#define EM_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include "util/error.h"
#include "util/json.h"
#include "protocol/request.h"

typedef struct em_rpc em_rpc;

/* A method: on success sets *out to the result's JSON text (an object,
 * caller of the method frees with free()) and returns EM_OK; otherwise
 * returns an em_code and fills err. params is the request's `params`
 * object or NULL, borrowed while the method runs. app is em_rpc_new's. */
typedef int (*em_rpc_method_fn)(char **out, em_request *req, yajl_val params,
                                void *app, em_error *err);

typedef struct em_rpc_method {
    const char *name;
    em_rpc_method_fn fn;
} em_rpc_method;

/* Writes one protocol line (len bytes, newline included). Returns 0 on
 * success; a failed write is reported on stderr and otherwise ignored
 * (the module is gone; stdin EOF follows). */
typedef int (*em_rpc_write_fn)(void *ud, const char *line, size_t len);

/* What em_rpc_feed and em_rpc_run_fd report. */
#define EM_RPC_GO_ON 0
#define EM_RPC_STOP 1   /* `shutdown` was answered: stop reading, exit 0 */

/* methods: array ended by a {NULL, NULL} entry, borrowed for the loop's
 * life. on_shutdown(app) runs after every request ended and before the
 * `shutdown` reply (it wipes the tokens); may be NULL. Caller frees *out
 * with em_rpc_free. */
int em_rpc_new(em_rpc **out, const em_rpc_method *methods, void *app,
               void (*on_shutdown)(void *app), em_rpc_write_fn write, void *write_ud);

/* Cancels every running request, joins the workers, frees. */
void em_rpc_free(em_rpc **rpc);

/* Feeds bytes read from stdin; complete lines are handled at once (requests
 * start on workers). Returns EM_RPC_GO_ON or EM_RPC_STOP. */
int em_rpc_feed(em_rpc *rpc, const char *data, size_t len);

/* stdin closed: cancels every running request and waits for them. */
void em_rpc_eof(em_rpc *rpc);

/* Waits until every started request has finished (tests, golden files). */
void em_rpc_wait_idle(em_rpc *rpc);

/* Reads fd until EOF (then em_rpc_eof) or `shutdown`. Returns EM_OK. */
int em_rpc_run_fd(em_rpc *rpc, int fd);

/* Flow control for paged results: blocks until the module has sent `ack`
 * for page (or a later one). EM_OK, or EM_ECANCELLED when the request is
 * cancelled first. A NULL req returns EM_OK at once. */
int em_rpc_wait_ack(em_request *req, long page);

#endif
