/* http.h - every HTTP request the helper makes goes through here (libcurl).
 *
 * One CURLSH share (DNS, TLS sessions) serves all threads, and a pool of
 * curl handles keeps connections open between requests (any thread takes
 * one), so a cached token costs no new TLS handshake. (libcurl 7.88's
 * shared connection cache is not thread safe: curl known bug 11.11, so
 * connections live in the pooled handles instead.) TLS verification is always
 * on; EXCHANGEMFA_CA_FILE names an extra CA bundle that is trusted in
 * addition to the system store (tests, TLS-inspecting proxies). libcurl's
 * proxy environment variables keep working. Accept-Encoding: gzip is always
 * offered. CURLcode values are translated to em_code here.
 */
#ifndef EM_HTTP_H
#define EM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include "util/error.h"
#include "util/buf.h"

struct em_request;

/* Called with each chunk of the response body when em_http_request.on_body
 * is set. Return 0 to go on, non-zero to abort the transfer (the call then
 * fails with the code the callback stored in its own state, or EM_ECANCELLED). */
typedef int (*em_http_body_fn)(void *ud, const char *data, size_t len);

typedef struct em_http_request {
    const char *method;             /* "GET" or "POST" */
    const char *url;
    const char *const *headers;     /* NULL-terminated "Name: value" list, or NULL */
    const char *body;               /* POST body, or NULL */
    size_t body_len;
    long timeout_ms;                /* whole transfer; 0 = 120000 */
    long stall_ms;                  /* fail with EM_ETIMEOUT when nothing arrives for
                                       this long (waiting for the answer too); 0 = off */
    size_t max_body;                /* stored-body cap; 0 = 16 MiB; over it: EM_EBADRESPONSE */
    em_http_body_fn on_body;        /* stream the body instead of storing it (2xx only;
                                       non-2xx bodies are always stored for the error) */
    void *on_body_ud;
    bool allow_http;                /* plain http too: only the managed identity endpoint
                                       (IMDS, App Service's local one); else https only */
} em_http_request;

typedef struct em_http_response {
    long status;
    em_buf body;                    /* the body (empty when streamed via on_body) */
    char *content_type;             /* or NULL */
    char *retry_after;              /* Retry-After header value, or NULL */
    char *www_authenticate;         /* WWW-Authenticate header value, or NULL */
    char *request_id;               /* request-id header value, or NULL */
    char *exception_type;           /* x-ExceptionType (Exchange's error class), or NULL */
    char *rate_limit_remaining;     /* Rate-Limit-Remaining (requests left), or NULL */
    char *rate_limit_reset;         /* Rate-Limit-Reset (seconds until refilled), or NULL */
} em_http_response;

/* Lets every request use plain http, and connections and the cache take
 * http:// authorities: for the unit tests' fake servers, which speak it
 * (tests/unit/fake_server.h). The helper never calls it. */
void em_http_allow_plain_http(void);

/* Whether em_http_allow_plain_http was called. */
bool em_http_plain_http_allowed(void);

/* Process-wide set-up; call once from main before any thread starts. */
int em_http_global_init(em_error *err);
void em_http_global_cleanup(void);

/* Performs one request. Any HTTP status is a success of this call (check
 * out->status); failures are transport ones: EM_ENETWORK, EM_ETLS,
 * EM_ETIMEOUT, EM_ECANCELLED (ctx cancelled: the transfer aborts within
 * about 100 ms), EM_EBADRESPONSE (body over max_body), EM_ENOMEM.
 * ctx may be NULL. out is zeroed first; caller frees with em_http_response_free
 * (also after a failure). */
int em_http_perform(em_http_response *out, const em_http_request *req,
                    struct em_request *ctx, em_error *err);
void em_http_response_free(em_http_response *resp);

/* Keeps one received header line (len bytes, CRLF included or not) in resp
 * when it is one of the headers above; a status line ("HTTP/...") forgets
 * those kept so far (a redirect, 100 Continue). EM_OK or EM_ENOMEM. The
 * header callback of em_http_perform; fuzzed (tests/fuzz/fuzz_http_headers.c). */
int em_http_keep_header(em_http_response *resp, const char *line, size_t len);

/* Appends key=value (both URL-encoded) to an application/x-www-form-urlencoded
 * body, with '&' between pairs. */
int em_http_form_add(em_buf *form, const char *key, const char *value);

#endif
