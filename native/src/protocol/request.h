/* request.h - what a running request can do: notice cancellation, wait,
 * and send notifications that belong to it.
 *
 * The protocol loop (rpc.c) creates one em_request per incoming request and
 * runs it on a worker thread; everything below is thread-safe. A NULL
 * request is allowed everywhere (unit tests): never cancelled, notifications
 * dropped.
 */
#ifndef EM_REQUEST_H
#define EM_REQUEST_H

#include <stdbool.h>
#include "util/error.h"

typedef struct em_request em_request;

/* True once the module sent `cancel` for this request or stdin closed. */
bool em_request_cancelled(const em_request *req);

/* Sleeps up to ms milliseconds; returns EM_ECANCELLED at once when the
 * request is cancelled (before or during the wait), else EM_OK. */
int em_request_sleep(em_request *req, long ms);

/* Sends the notification {"jsonrpc":"2.0","method":<method>,"params":{"requestId":<id>,...}}.
 * params_json is a JSON object text ("{...}") whose members follow
 * requestId; the caller builds it with yajl_gen. Returns EM_OK or EM_ENOMEM. */
int em_request_notify(em_request *req, const char *method, const char *params_json);

/* Sends a notification with one string member,
 * {"requestId":<id>,<key>:<value>}: `warning` with `message`, `browserUrl`
 * with `url` (docs/protocol.md). Returns EM_OK or EM_ENOMEM. */
int em_request_notify_string(em_request *req, const char *method, const char *key,
                             const char *value);

/* The request's JSON-RPC id (0 for NULL). */
long em_request_id(const em_request *req);

#endif
