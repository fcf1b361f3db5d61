/* loopback.h - the redirect target of the browser sign-in: a one-shot HTTP
 * listener (libmicrohttpd) on the loopback interface and a random port
 * (RFC 8252 7.3).
 *
 * The redirect URI sent is http://localhost:<port> by default, as MSAL
 * sends it: Microsoft's public clients are registered with
 * http://localhost, and Entra matches loopback redirects ignoring the port
 * only (http://127.0.0.1 is another registration). "localhost" is answered
 * on 127.0.0.1 and, where the machine has it, on ::1 with the same port (a
 * browser may try either first): two listeners, never a wildcard address.
 *
 * It accepts exactly one valid callback on the redirect path: the right `state`
 * (constant-time compare) and, when the provider sends or promised one
 * (RFC 9207), the right `iss`. Callbacks with a wrong or missing state get a
 * plain 400 page and the wait goes on; other paths (favicon.ico) get 404.
 * The first valid callback, a success or the provider's error, ends the
 * wait once its page is sent, and the listener closes, so a replayed
 * callback cannot even connect. Nothing is logged; the code never leaves
 * this module except through em_loopback_wait's out.
 */
#ifndef EM_LOOPBACK_H
#define EM_LOOPBACK_H

#include <stdbool.h>
#include <stddef.h>
#include "util/error.h"
#include "protocol/request.h"

/* What a valid callback must carry. Borrowed during em_loopback_check;
 * em_loopback_start copies it. */
typedef struct em_loopback_expect {
    const char *state;          /* required */
    const char *issuer;         /* the provider's issuer, may hold "{tenantid}"; NULL: iss unchecked */
    bool iss_required;          /* discovery said authorization_response_iss_parameter_supported */
} em_loopback_expect;

/* The parameters of one callback query; NULL when absent. */
typedef struct em_loopback_callback {
    char *code;                 /* secret until redeemed */
    char *state;
    char *iss;
    char *error;
    char *error_description;
} em_loopback_callback;

/* Largest query string accepted, bytes. */
#define EM_LOOPBACK_MAX_QUERY (16 * 1024)

/* Parses an application/x-www-form-urlencoded query (without '?') of len
 * bytes (no NUL needed) into *out (zeroed first). Unknown keys are ignored;
 * a known key twice, a bad %-escape, an encoded NUL or a query over
 * EM_LOOPBACK_MAX_QUERY is EM_EINVAL. Clear with em_loopback_callback_clear
 * (also after a failure). */
int em_loopback_parse_query(em_loopback_callback *out, const char *query, size_t len, em_error *err);
void em_loopback_callback_clear(em_loopback_callback *cb);

/* Judges a callback:
 * - EM_EINVAL: not ours (state missing or different): answer 400, keep waiting;
 * - EM_OK: a valid success (cb->code is set);
 * - any other code ends the sign-in: iss missing or wrong (EM_EAUTH), the
 *   provider's error (access_denied EM_EDECLINED; invalid_client,
 *   unauthorized_client, invalid_scope, invalid_request,
 *   unsupported_response_type EM_ECONFIG; others EM_EAUTH; err gets
 *   server_code, aadsts and the first line of error_description), a
 *   callback without code (EM_EBADRESPONSE). */
int em_loopback_check(const em_loopback_callback *cb, const em_loopback_expect *expect, em_error *err);

/* The redirect URI asked for when none is given. */
#define EM_LOOPBACK_DEFAULT_REDIRECT "http://localhost"
#define EM_LOOPBACK_PATH_MAX 256

typedef enum em_loopback_host {
    EM_LOOPBACK_LOCALHOST,      /* listens on 127.0.0.1 and ::1 (where available) */
    EM_LOOPBACK_IPV4,           /* 127.0.0.1 only */
    EM_LOOPBACK_IPV6            /* ::1 only */
} em_loopback_host;

/* A redirect URI template: http://localhost, http://127.0.0.1 or
 * http://[::1] (scheme and host in any case), an optional port (1..65535;
 * none: the kernel picks one) and an optional path of [A-Za-z0-9-._~/]
 * starting with '/'; no user, query or fragment. */
typedef struct em_loopback_redirect {
    em_loopback_host host;
    int port;                   /* 0: random */
    char path[EM_LOOPBACK_PATH_MAX]; /* "" or "/..." */
} em_loopback_redirect;

/* Parses a redirect URI template; EM_EINVAL saying what is wrong. */
int em_loopback_parse_redirect(em_loopback_redirect *out, const char *uri, em_error *err);

typedef struct em_loopback em_loopback;

/* Starts listening for redirect (a template as em_loopback_parse_redirect
 * takes; NULL: EM_LOOPBACK_DEFAULT_REDIRECT). Caller frees with
 * em_loopback_free. EM_EINVAL for a bad template, EM_ENETWORK when no
 * socket can be had (a fixed port in use, ::1 asked for and missing). */
int em_loopback_start(em_loopback **out, const em_loopback_expect *expect, const char *redirect,
                      em_error *err);

/* The redirect URI to send: the template with the listener's port, e.g.
 * "http://localhost:<port>" (no slash added: what MSAL sends), borrowed
 * while lb lives. The callback is answered on the template's path, "/"
 * when it has none. */
const char *em_loopback_redirect_uri(const em_loopback *lb);
int em_loopback_port(const em_loopback *lb);
/* True when the listener also answers on ::1. */
bool em_loopback_on_ipv6(const em_loopback *lb);

/* Waits for the valid callback, at most timeout_ms (0 = 2 minutes),
 * checking cancellation every 100 ms, then closes the listener (whatever
 * the outcome). On EM_OK *out_code holds the code (caller frees with
 * em_free_secret). Errors: those of em_loopback_check, EM_ETIMEOUT (its
 * message names what the browser may have shown instead: AADSTS50011 for a
 * redirect URI the app is not registered with, AADSTS65001 for missing
 * consent; and -Device), EM_ECANCELLED, EM_EINVAL (already waited). */
int em_loopback_wait(char **out_code, em_loopback *lb, long timeout_ms, em_request *ctx, em_error *err);

/* Closes the listener if open, wipes the code and frees. */
void em_loopback_free(em_loopback **lb);

#endif
