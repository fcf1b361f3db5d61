/* exo.h - Exchange Online admin REST: InvokeCommand paging.
 *
 * A page is parsed incrementally as it arrives (yajl's event parser on each
 * received chunk): each complete item of `value` is re-generated without
 * its annotations ("@odata." and "@data.") and handed on at once, so no page is ever held
 * whole in memory.
 */
#ifndef EM_EXO_H
#define EM_EXO_H

#include <stdbool.h>
#include <stddef.h>
#include "util/error.h"
#include "net/http.h"
#include "util/json.h"
#include "protocol/request.h"
#include "exchange/window.h"

/* Limits on what one page may carry. */
#define EM_EXO_ITEM_MAX (8u * 1024u * 1024u)    /* one re-generated item */
#define EM_EXO_TOKEN_MAX EM_EXO_ITEM_MAX        /* one token while it arrives */
#define EM_EXO_LINK_MAX 8192                    /* @odata.nextLink */
#define EM_EXO_WARNINGS_MAX 64                  /* kept per page */
#define EM_EXO_WARNING_LEN_MAX 4096
/* Exchange's warning when ResultSize cuts a list short. */
#define EM_EXO_MORE_RESULTS "There are more results available than are currently displayed. To view " \
                            "them, increase the value for the ResultSize parameter."

/* ---- page parser ---- */

/* Receives each item as JSON text (len bytes, borrowed for the call).
 * Returns EM_OK, or an em_code that stops the page with that error. */
typedef int (*em_exo_object_fn)(void *ud, const char *json, size_t len);

typedef struct em_exo_page em_exo_page;

/* max_objects: stop after this many items (0 = no limit). on_object may be
 * NULL (items counted only). Caller frees with em_exo_page_free. */
int em_exo_page_new(em_exo_page **out, long max_objects, em_exo_object_fn on_object,
                    void *ud);
void em_exo_page_free(em_exo_page **page);

/* Feeds the next bytes of the page. EM_OK (also once the limit was reached:
 * the rest is ignored, see em_exo_page_full), EM_EBADRESPONSE (not the
 * OData page shape; message says what), EM_ENOMEM, or on_object's code. */
int em_exo_page_feed(em_exo_page *page, const char *data, size_t len, em_error *err);

/* The page ended: checks that it was complete. EM_OK or EM_EBADRESPONSE. */
int em_exo_page_finish(em_exo_page *page, em_error *err);

/* True once max_objects items were delivered (later items are skipped, the
 * rest of the page is still read for its warnings and nextLink). */
bool em_exo_page_full(const em_exo_page *page);
/* After a failed em_exo_page_finish: the page only ended early (its text
 * was valid as far as it went), as when a connection is closed mid-page. */
bool em_exo_page_cut(const em_exo_page *page);
/* Full, and the page ended or its rest did not parse: stop the transfer. */
bool em_exo_page_read_enough(const em_exo_page *page);
/* While on_object runs: the item's typed members as "Name:Kind,Name:Kind"
 * (names are property names: letters, digits, '_', '.'), or NULL. Kinds: Guid, DateTime, Int32, Int64
 * (from a "Name@data.type" or "Name@odata.type" hint), Size (a string such
 * as "1.5 GB (1,610,612,736 bytes)") and Unlimited (the string "Unlimited"). */
const char *em_exo_page_item_types(const em_exo_page *page);
long em_exo_page_objects(const em_exo_page *page);
/* @odata.nextLink, or NULL. Borrowed, valid while the page lives. */
const char *em_exo_page_next_link(const em_exo_page *page);
/* @adminapi.warnings: count and each text (borrowed). */
size_t em_exo_page_warning_count(const em_exo_page *page);
const char *em_exo_page_warning(const em_exo_page *page, size_t i);

/* ---- errors ---- */

/* Maps a non-2xx Exchange answer to an em_code and fills err: 404 or
 * ManagementObjectNotFoundException -> EM_ENOTFOUND, 401 ->
 * EM_EUNAUTHORIZED, 403 -> EM_EACCESS, 429 or the plain-text throttling
 * answer (any status) -> EM_ETHROTTLED (retry_after from Retry-After),
 * other -> EM_EEXCHANGE. The message is Exchange's
 * (details[0].message without its "id|Class|" prefix, else error.message,
 * else the first line of a plain-text body). */
int em_exo_map_error(const em_http_response *resp, em_error *err);

/* ---- retry policy (docs/native.md, Resilience) ---- */

#define EM_EXO_RETRIES_MAX 5            /* backoff waits for one page */
#define EM_EXO_TIMEOUT_RETRIES_MAX 2    /* of those, after a timeout (each costs the stall time) */
#define EM_EXO_WAIT_MAX_MS 60000L       /* cap of one wait, Retry-After included */

typedef enum em_exo_retry_action {
    EM_EXO_GIVE_UP,     /* report the error */
    EM_EXO_RENEW,       /* 401: renew the token, retry at once */
    EM_EXO_CLAIMS,      /* 401 claims challenge (CAE): a token with its claims, retry at once */
    EM_EXO_WAIT         /* wait, then retry the page */
} em_exo_retry_action;

/* What the failed attempts of one page used so far. */
typedef struct em_exo_retries {
    int waits;          /* backoff waits */
    int timeouts;       /* of those, after EM_ETIMEOUT */
    bool renewed;       /* the one renewal after a plain 401 */
    bool claims_met;    /* the one renewal for a claims challenge (CAE) */
} em_exo_retries;

/* Decides after a failed attempt. rc is em_http_perform's code: EM_OK with
 * resp the non-2xx answer, or a transport failure (resp NULL allowed).
 * replayable: the cmdlet only reads, so a request that may have reached
 * Exchange can be sent again (network errors and timeouts are retried only
 * then). Waits (*out in ms): Retry-After seconds when the answer has them,
 * else base_ms * 2^waits with equal jitter (half fixed, half
 * jitter-chosen), each capped at EM_EXO_WAIT_MAX_MS. Retried: 429, the
 * plain-text throttling answer, 503, 504, 502 when replayable, a 5xx whose exception is
 * DCOverloadedException, ServerInMMException, StorageTransientException
 * or ADTransientException; EM_ENETWORK, EM_ETIMEOUT when replayable. */
em_exo_retry_action em_exo_retry_decide(long *out, int rc, const em_http_response *resp,
                                        const em_exo_retries *done, bool replayable,
                                        long base_ms, unsigned jitter);

/* The first backoff wait: EXCHANGEMFA_RETRY_BASE_MS (a test knob, 1..60000)
 * read once, default 2000. */
long em_exo_retry_base_ms(void);
/* A random value for the jitter of em_exo_retry_decide. */
unsigned em_exo_jitter(void);
/* The stall timeout of a page: EXCHANGEMFA_STALL_TIMEOUT_MS (a test knob,
 * 1000..900000) read once, default 60000. */
long em_exo_stall_ms(void);

/* ---- invoke ---- */

/* Gives a copy of a bearer token (caller frees with em_free_secret). stale
 * is NULL, or the token that just got 401: then a renewed one is wanted.
 * claims is NULL, or the claims request of a claims challenge (CAE) that
 * the renewed token must satisfy. */
typedef int (*em_exo_token_fn)(char **out, void *ud, const char *stale, const char *claims,
                               em_request *req, em_error *err);

typedef struct em_exo_call {
    const char *connection_uri;     /* origin, e.g. https://outlook.office365.com */
    const char *tenant;             /* URL segment: domain or tenant id */
    const char *connection_id;      /* connection-id header */
    /* X-AnchorMailbox: a UPN (sent as UPN:<upn>), or a value with its own
     * prefix such as APP:SystemMailbox{...}@tenant (contains ':', sent as
     * is); NULL or "" for none. */
    const char *anchor_mailbox;
    const char *cmdlet;
    yajl_val parameters;            /* object or NULL */
    yajl_val select;                /* array of property names or NULL */
    long result_size;               /* 0 = every page */
    long page_size;                 /* 1..1000 */
    em_exo_token_fn get_token;
    void *token_ud;
    /* The connection's window (window.h): each page attempt waits for a
     * place in it and reports its answer; NULL: no limit. */
    em_exo_window *window;
} em_exo_call;

typedef struct em_exo_result {
    long objects;
    long pages;
} em_exo_result;

/* Runs the cmdlet, sending `object`, `warning` and `page` notifications
 * through req, waiting for `ack` per docs/protocol.md. Failed attempts of a
 * page follow em_exo_retry_decide; a page retried after it broke off
 * mid-body skips the objects already sent, so none comes twice (Exchange
 * answers the same request with the same page). Errors: em_exo_map_error's,
 * http.h's, EM_EBADRESPONSE, EM_EINVAL (cmdlet or select names); after
 * retries the message says how many attempts were made. */
int em_exo_invoke(em_exo_result *out, const em_exo_call *call, em_request *req,
                  em_error *err);

/* Checks names that go into headers and URLs. */
bool em_exo_valid_cmdlet(const char *name);
bool em_exo_valid_property(const char *name);

#endif
