/* methods.h - the request methods of docs/protocol.md (initialize, connect,
 * list, disconnect, invoke) for the protocol loop. `shutdown`, `ack` and
 * `cancel` are handled by rpc.c itself.
 */
#ifndef EM_METHODS_H
#define EM_METHODS_H

#include "protocol/rpc.h"

/* The method table for em_rpc_new; app is the em_conn_table. */
extern const em_rpc_method em_methods[];

/* em_rpc_new's on_shutdown: closes every connection, wiping its tokens. */
void em_methods_shutdown(void *app);

#endif
