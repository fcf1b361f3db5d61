/* loopback.c - one-shot redirect listener for the browser sign-in
 * (libmicrohttpd, loopback addresses only).
 *
 * Each address (127.0.0.1, ::1) gets its own MHD daemon with one internal
 * polling thread; both share the state below under one lock, so one valid
 * callback in total ends the sign-in and stops both. The raw request URI is captured by
 * the URI log callback and parsed here (em_loopback_parse_query, fuzzed),
 * so duplicate parameters are seen rather than silently merged. The waiter
 * is woken from the request-completed callback, after the browser got its
 * page, and then stops the daemon.
 */
#define _POSIX_C_SOURCE 200809L

#include "identity/loopback.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "platform/platform.h"
#include "platform_sockets.h"   /* sockaddr_in6: the platform's own header */
#include "util/buf.h"

#define LOOPBACK_DEFAULT_TIMEOUT_MS (2L * 60 * 1000)
/* Random ports tried for a "localhost" listener when the one 127.0.0.1 got
 * is taken on ::1 by somebody else. */
#define LOOPBACK_PORT_TRIES 8
#define LOOPBACK_POLL_MS 100
#define LOOPBACK_DESCRIPTION_MAX 300
/* Any local process can connect: a connection gets this long for each
 * request head, however slowly it trickles in (MHD's own timeout is reset
 * by every byte), and only so many may wait for theirs; past that the
 * oldest is dropped, so the browser's connection always gets in. */
#define LOOPBACK_HEAD_DEADLINE_MS 5000L
#define LOOPBACK_WAITING_MAX 16
#define LOOPBACK_CONNECTIONS_MAX 64     /* per daemon, MHD's limit */

/* One accepted connection, oldest first in em_loopback's list. */
typedef struct lb_conn {
    MHD_socket fd;              /* MHD's: only shut down here, never closed */
    struct timespec since;      /* CLOCK_MONOTONIC, when its current head began */
    bool waiting;               /* its request head has not arrived yet */
    struct lb_conn *prev, *next;
} lb_conn;

struct em_loopback {
    struct MHD_Daemon *daemon4;     /* 127.0.0.1, or NULL */
    struct MHD_Daemon *daemon6;     /* ::1, or NULL */
    int port;
    char path[EM_LOOPBACK_PATH_MAX]; /* where the callback is answered */
    char redirect_uri[EM_LOOPBACK_PATH_MAX + 32];
    char *state;
    char *issuer;
    bool iss_required;
    pthread_mutex_t lock;       /* guards everything below */
    pthread_cond_t cond;        /* signalled when finished turns true */
    bool answered;              /* the ending callback got its answer queued */
    bool finished;              /* ...and its request completed: the wait ends */
    bool waited;
    int outcome;
    char *code;
    em_error why;
    lb_conn *oldest, *newest;   /* the connections open on both daemons */
    int waiting;                /* of those, how many wait for a request head */
};

/* Per request: the raw URI, and whether its answer ends the sign-in. */
typedef struct lb_request {
    char *uri;
    bool ending;
} lb_request;

/* ---- query parsing ----------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes len bytes of a form component ('+' is a space) into a new
 * string; NULL on a bad escape, an encoded NUL or ENOMEM (*nomem set). */
static char *form_decode(const char *s, size_t len, bool *nomem)
{
    char *out = malloc(len + 1);
    size_t n = 0;

    if (out == NULL) {
        *nomem = true;
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                OPENSSL_cleanse(out, len + 1);
                free(out);
                return NULL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '\0') {
            OPENSSL_cleanse(out, len + 1);
            free(out);
            return NULL;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return out;
}

void em_loopback_callback_clear(em_loopback_callback *cb)
{
    if (cb == NULL)
        return;
    em_free_secret(&cb->code);
    free(cb->state);
    free(cb->iss);
    free(cb->error);
    free(cb->error_description);
    memset(cb, 0, sizeof *cb);
}

int em_loopback_parse_query(em_loopback_callback *out, const char *query, size_t len, em_error *err)
{
    size_t pos = 0;

    if (out == NULL || (query == NULL && len > 0))
        return em_error_set(err, EM_EINVAL, "no query to parse");
    memset(out, 0, sizeof *out);
    if (len > EM_LOOPBACK_MAX_QUERY)
        return em_error_set(err, EM_EINVAL, "the callback query is too long");
    while (pos < len) {
        const char *pair = query + pos;
        const char *amp = memchr(pair, '&', len - pos);
        size_t pair_len = amp == NULL ? len - pos : (size_t)(amp - pair);
        const char *eq = memchr(pair, '=', pair_len);
        size_t key_len = eq == NULL ? pair_len : (size_t)(eq - pair);
        const char *value = eq == NULL ? pair + pair_len : eq + 1;
        size_t value_len = pair_len - key_len - (eq == NULL ? 0 : 1);
        bool nomem = false;
        char *key = NULL;
        char **slot = NULL;

        pos += pair_len + 1;
        if (pair_len == 0)
            continue;
        key = form_decode(pair, key_len, &nomem);
        if (key == NULL)
            goto bad;
        if (strcmp(key, "code") == 0)
            slot = &out->code;
        else if (strcmp(key, "state") == 0)
            slot = &out->state;
        else if (strcmp(key, "iss") == 0)
            slot = &out->iss;
        else if (strcmp(key, "error") == 0)
            slot = &out->error;
        else if (strcmp(key, "error_description") == 0)
            slot = &out->error_description;
        free(key);
        if (slot == NULL)
            continue;
        if (*slot != NULL)
            return em_error_set(err, EM_EINVAL, "the callback repeats a parameter");
        *slot = form_decode(value, value_len, &nomem);
        if (*slot == NULL)
            goto bad;
        continue;
    bad:
        if (nomem)
            return em_error_set(err, EM_ENOMEM, "out of memory");
        return em_error_set(err, EM_EINVAL, "the callback query has a bad escape");
    }
    return EM_OK;
}

/* ---- judging ------------------------------------------------------------ */

static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a);

    return la == strlen(b) && CRYPTO_memcmp(a, b, la) == 0;
}

/* iss equals issuer, where "{tenantid}" in issuer stands for one non-empty
 * path segment. */
static bool issuer_matches(const char *issuer, const char *iss)
{
    static const char tmpl[] = "{tenantid}";
    const char *at = strstr(issuer, tmpl);
    size_t head = 0, tail = 0, len = strlen(iss);
    const char *suffix = NULL;

    if (at == NULL)
        return strcmp(issuer, iss) == 0;
    head = (size_t)(at - issuer);
    suffix = at + sizeof tmpl - 1;
    tail = strlen(suffix);
    if (len <= head + tail || strncmp(iss, issuer, head) != 0 ||
        strcmp(iss + len - tail, suffix) != 0)
        return false;
    for (const char *p = iss + head; p < iss + len - tail; p++) {
        if (*p == '/' || *p == '?' || *p == '#' || *p == '{' || *p == '}')
            return false;
    }
    return true;
}

/* First line of text, printable ASCII and UTF-8 kept, controls dropped. */
static void first_line(char *out, size_t size, const char *text)
{
    size_t n = 0;

    for (const char *p = text; *p != '\0' && *p != '\r' && *p != '\n' && n + 1 < size; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != 0x7f)
            out[n++] = (char)c;
    }
    /* Do not end inside a UTF-8 character. */
    if (n + 1 >= size) {
        while (n > 0 && ((unsigned char)out[n - 1] & 0xC0) == 0x80)
            n--;
        if (n > 0 && (unsigned char)out[n - 1] >= 0xC0)
            n--;
    }
    out[n] = '\0';
}

static long aadsts_in(const char *text)
{
    const char *at = text == NULL ? NULL : strstr(text, "AADSTS");
    long n = 0;

    if (at == NULL)
        return 0;
    for (const char *p = at + 6; isdigit((unsigned char)*p) && n < 100000000; p++)
        n = n * 10 + (*p - '0');
    return n;
}

static int provider_error(const em_loopback_callback *cb, em_error *err)
{
    static const char *const config[] = {"invalid_client", "unauthorized_client", "invalid_scope",
                                         "invalid_request", "unsupported_response_type"};
    char line[LOOPBACK_DESCRIPTION_MAX];
    char code[EM_ERROR_CODE_MAX];
    const char *lead = "the browser sign-in failed";
    em_code rc = EM_EAUTH;
    size_t n = 0;

    for (const char *p = cb->error; *p != '\0' && n + 1 < sizeof code; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '"' && *p != '\\')
            code[n++] = *p;
    }
    code[n] = '\0';
    if (strcmp(code, "access_denied") == 0) {
        lead = "the sign-in was declined or cancelled in the browser";
        rc = EM_EDECLINED;
    }
    for (size_t i = 0; i < sizeof config / sizeof config[0]; i++) {
        if (strcmp(code, config[i]) == 0) {
            lead = "the identity platform refused the sign-in request (check the app id, tenant and scope)";
            rc = EM_ECONFIG;
        }
    }
    first_line(line, sizeof line, cb->error_description == NULL ? "" : cb->error_description);
    if (err != NULL) {
        snprintf(err->server_code, sizeof err->server_code, "%s", code);
        err->aadsts = aadsts_in(cb->error_description);
    }
    if (line[0] != '\0')
        return em_error_set(err, rc, "%s (%s): %s", lead, code, line);
    return em_error_set(err, rc, "%s (%s)", lead, code);
}

int em_loopback_check(const em_loopback_callback *cb, const em_loopback_expect *expect, em_error *err)
{
    if (cb == NULL || expect == NULL || expect->state == NULL)
        return em_error_set(err, EM_EINVAL, "nothing to check");
    if (cb->state == NULL || !same_secret(cb->state, expect->state))
        return em_error_set(err, EM_EINVAL, "the callback's state is not this sign-in's");
    if (expect->issuer != NULL && cb->iss == NULL && expect->iss_required)
        return em_error_set(err, EM_EAUTH, "the sign-in answer lacks the issuer (iss) its provider "
                                           "promised: it may come from another provider");
    if (expect->issuer != NULL && cb->iss != NULL && !issuer_matches(expect->issuer, cb->iss))
        return em_error_set(err, EM_EAUTH, "the sign-in answer comes from another issuer than the "
                                           "authority's: refused (mix-up protection, RFC 9207)");
    if (cb->error != NULL)
        return provider_error(cb, err);
    if (cb->code == NULL || cb->code[0] == '\0')
        return em_error_set(err, EM_EBADRESPONSE, "the sign-in answer has neither a code nor an error");
    return EM_OK;
}

/* ---- the redirect URI -------------------------------------------------- */

int em_loopback_parse_redirect(em_loopback_redirect *out, const char *uri, em_error *err)
{
    static const struct {
        const char *name;
        em_loopback_host host;
    } hosts[] = {{"localhost", EM_LOOPBACK_LOCALHOST}, {"127.0.0.1", EM_LOOPBACK_IPV4},
                 {"[::1]", EM_LOOPBACK_IPV6}};
    static const char scheme[] = "http://";
    const char *p = uri;
    size_t i = 0;

    if (out == NULL || uri == NULL)
        return em_error_set(err, EM_EINVAL, "no redirect URI to parse");
    memset(out, 0, sizeof *out);
    if (strncasecmp(p, scheme, sizeof scheme - 1) != 0)
        return em_error_set(err, EM_EINVAL, "the redirect URI must start with http:// "
                                            "(a loopback address; https is not used on loopback)");
    p += sizeof scheme - 1;
    for (i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        size_t n = strlen(hosts[i].name);
        if (strncasecmp(p, hosts[i].name, n) == 0 && (p[n] == '\0' || p[n] == ':' || p[n] == '/'))
            break;
    }
    if (i == sizeof hosts / sizeof hosts[0])
        return em_error_set(err, EM_EINVAL, "the redirect URI's host must be localhost, 127.0.0.1 or [::1]");
    out->host = hosts[i].host;
    p += strlen(hosts[i].name);
    if (*p == ':') {
        long port = 0;
        const char *digits = ++p;
        while (isdigit((unsigned char)*p) && p - digits < 5)
            port = port * 10 + (*p++ - '0');
        if (p == digits || isdigit((unsigned char)*p) || port < 1 || port > 65535)
            return em_error_set(err, EM_EINVAL, "the redirect URI's port must be 1..65535");
        out->port = (int)port;
    }
    if (*p != '\0' && *p != '/')
        return em_error_set(err, EM_EINVAL, "the redirect URI may have a port and a path only "
                                            "(no user, query or fragment)");
    if (strlen(p) >= sizeof out->path)
        return em_error_set(err, EM_EINVAL, "the redirect URI's path is too long");
    for (const char *c = p; *c != '\0'; c++) {
        if (!isalnum((unsigned char)*c) && strchr("-._~/", *c) == NULL)
            return em_error_set(err, EM_EINVAL, "the redirect URI's path may hold letters, digits "
                                                "and - . _ ~ / only");
    }
    memcpy(out->path, p, strlen(p) + 1);
    return EM_OK;
}

/* ---- the listener ------------------------------------------------------- */

static void html_escape(em_buf *out, const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        switch (*p) {
        case '&': em_buf_puts(out, "&amp;"); break;
        case '<': em_buf_puts(out, "&lt;"); break;
        case '>': em_buf_puts(out, "&gt;"); break;
        case '"': em_buf_puts(out, "&quot;"); break;
        case '\'': em_buf_puts(out, "&#39;"); break;
        default: em_buf_append(out, p, 1); break;
        }
    }
}

static void page(em_buf *out, const char *title, const char *text)
{
    em_buf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ExchangeMfa: ");
    html_escape(out, title);
    em_buf_puts(out, "</title></head>\n<body style=\"font-family:sans-serif;margin:3em\"><h1>");
    html_escape(out, title);
    em_buf_puts(out, "</h1>\n<p>");
    html_escape(out, text);
    em_buf_puts(out, "</p></body></html>\n");
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status, const em_buf *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(body->len, body->data, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_NO;

    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Connection", "close");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Decides the answer to one request to "/"; called under lb->lock. */
static unsigned int judge(em_loopback *lb, lb_request *req, em_buf *body)
{
    em_loopback_callback cb = {0};
    em_loopback_expect expect = {lb->state, lb->issuer, lb->iss_required};
    const char *q = req->uri == NULL ? NULL : strchr(req->uri, '?');
    em_error why = {0};
    unsigned int status = 400;
    int rc = EM_OK;

    if (lb->answered) {
        page(body, "Sign-in already finished", "This sign-in is already finished. You can close this window.");
        goto out;
    }
    rc = em_loopback_parse_query(&cb, q == NULL ? "" : q + 1, q == NULL ? 0 : strlen(q + 1), &why);
    if (rc == EM_OK)
        rc = em_loopback_check(&cb, &expect, &why);
    if (rc == EM_EINVAL || rc == EM_ENOMEM) {
        page(body, "Not a sign-in answer",
             "This address does not belong to a sign-in in progress. You can close this window.");
        goto out;
    }
    lb->answered = true;
    lb->outcome = rc;
    lb->why = why;
    req->ending = true;
    if (rc == EM_OK) {
        lb->code = cb.code;
        cb.code = NULL;
        status = 200;
        page(body, "Signed in", "You are signed in. You can close this window and return to PowerShell.");
    } else {
        page(body, "Sign-in failed", why.message);
    }
out:
    em_loopback_callback_clear(&cb);
    return status;
}

static long ms_since(const struct timespec *t)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t->tv_sec) * 1000L + (now.tv_nsec - t->tv_nsec) / 1000000L;
}

/* Marks whether c waits for a request head (lock held). */
static void set_waiting(em_loopback *lb, lb_conn *c, bool waiting)
{
    if (c == NULL || c->waiting == waiting || c->fd == MHD_INVALID_SOCKET)
        return;
    c->waiting = waiting;
    lb->waiting += waiting ? 1 : -1;
    if (waiting)
        clock_gettime(CLOCK_MONOTONIC, &c->since);
}

/* Drops, oldest first, the connections past their head deadline or beyond
 * LOOPBACK_WAITING_MAX (lock held). shutdown() makes MHD see the end and
 * close the connection itself. */
static void drop_slow_connections(em_loopback *lb)
{
    lb_conn *c;

    for (c = lb->oldest; c != NULL; c = c->next) {
        if (!c->waiting)
            continue;
        if (lb->waiting > LOOPBACK_WAITING_MAX || ms_since(&c->since) >= LOOPBACK_HEAD_DEADLINE_MS) {
            set_waiting(lb, c, false);
            em_platform_socket_shutdown((uintptr_t)c->fd);
            c->fd = MHD_INVALID_SOCKET;
        }
    }
}

static void connection_event(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode code)
{
    em_loopback *lb = cls;
    lb_conn *c = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

        c = calloc(1, sizeof *c);
        if (c == NULL || info == NULL) {
            free(c);
            return;
        }
        c->fd = info->connect_fd;
        pthread_mutex_lock(&lb->lock);
        c->prev = lb->newest;
        if (lb->newest != NULL)
            lb->newest->next = c;
        else
            lb->oldest = c;
        lb->newest = c;
        set_waiting(lb, c, true);
        drop_slow_connections(lb);
        pthread_mutex_unlock(&lb->lock);
        *socket_context = c;
        return;
    }
    if (c == NULL)
        return;
    pthread_mutex_lock(&lb->lock);
    set_waiting(lb, c, false);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        lb->oldest = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        lb->newest = c->prev;
    pthread_mutex_unlock(&lb->lock);
    free(c);
    *socket_context = NULL;
}

/* The connection's lb_conn, or NULL. */
static lb_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info != NULL ? info->socket_context : NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_size, void **con_cls)
{
    em_loopback *lb = cls;
    lb_request *req = *con_cls;
    em_buf body = EM_BUF_INIT;
    unsigned int status = 404;
    enum MHD_Result ret = MHD_NO;
    (void)version;
    (void)data;

    pthread_mutex_lock(&lb->lock);
    set_waiting(lb, conn_of(conn), false);  /* its head arrived */
    pthread_mutex_unlock(&lb->lock);
    if (*data_size > 0) {
        *data_size = 0;         /* bodies are ignored */
        return MHD_YES;
    }
    if (req == NULL)
        return MHD_NO;
    if (strcmp(method, "GET") != 0) {
        status = 405;
        page(&body, "Not supported", "Only GET is answered here.");
    } else if (strcmp(url, lb->path) != 0) {
        page(&body, "Not found", "Nothing here.");
    } else {
        pthread_mutex_lock(&lb->lock);
        status = judge(lb, req, &body);
        pthread_mutex_unlock(&lb->lock);
    }
    ret = respond(conn, status, &body);
    em_buf_free(&body);
    return ret;
}

static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
    lb_request *req = calloc(1, sizeof *req);
    (void)cls;
    (void)conn;

    if (req != NULL && uri != NULL)
        req->uri = strdup(uri);
    return req;
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    em_loopback *lb = cls;
    lb_request *req = *con_cls;
    (void)toe;

    pthread_mutex_lock(&lb->lock);
    set_waiting(lb, conn_of(conn), true);   /* kept alive: the next head has its deadline too */
    if (req != NULL && req->ending) {
        lb->finished = true;
        pthread_cond_broadcast(&lb->cond);
    }
    pthread_mutex_unlock(&lb->lock);
    if (req == NULL)
        return;
    em_free_secret(&req->uri);
    free(req);
    *con_cls = NULL;
}

/* One MHD daemon on 127.0.0.1 or ::1 and port (0: the kernel picks). */
static struct MHD_Daemon *listen_on(em_loopback *lb, int family, int port)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct sockaddr *addr = (struct sockaddr *)&v4;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD;

    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    v4.sin_family = AF_INET;
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    v4.sin_port = htons((uint16_t)port);
    if (family == AF_INET6) {
        v6.sin6_family = AF_INET6;
        v6.sin6_addr = in6addr_loopback;
        v6.sin6_port = htons((uint16_t)port);
        addr = (struct sockaddr *)&v6;
        flags |= MHD_USE_IPv6;
    }
    return MHD_start_daemon(flags, 0, NULL, NULL, handle, lb,
                            MHD_OPTION_SOCK_ADDR, addr,
                            MHD_OPTION_URI_LOG_CALLBACK, uri_seen, lb,
                            MHD_OPTION_NOTIFY_COMPLETED, request_done, lb,
                            MHD_OPTION_NOTIFY_CONNECTION, connection_event, lb,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)LOOPBACK_CONNECTIONS_MAX,
                            MHD_OPTION_END);
}

static int port_of(struct MHD_Daemon *daemon)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);

    return info == NULL ? 0 : info->port;
}

static void stop(em_loopback *lb)
{
    if (lb->daemon4 != NULL)
        MHD_stop_daemon(lb->daemon4);
    if (lb->daemon6 != NULL)
        MHD_stop_daemon(lb->daemon6);
    lb->daemon4 = NULL;
    lb->daemon6 = NULL;
}

/* The daemons for redirect: "localhost" on 127.0.0.1 and ::1 with the same
 * port, another random port when ::1 has the first one taken. */
static int listen_for(em_loopback *lb, const em_loopback_redirect *redirect, em_error *err)
{
    bool want4 = redirect->host != EM_LOOPBACK_IPV6;
    bool want6 = redirect->host == EM_LOOPBACK_IPV6 ||
                 (redirect->host == EM_LOOPBACK_LOCALHOST && em_platform_ipv6_loopback());
    int tries = redirect->port == 0 && want4 && want6 ? LOOPBACK_PORT_TRIES : 1;

    for (int i = 0; i < tries; i++) {
        int port = redirect->port;
        if (want4 && (lb->daemon4 = listen_on(lb, AF_INET, port)) == NULL)
            break;
        if (want4 && (port = port_of(lb->daemon4)) == 0)
            break;
        if (want6 && (lb->daemon6 = listen_on(lb, AF_INET6, port)) == NULL) {
            stop(lb);
            continue;
        }
        lb->port = want6 ? port_of(lb->daemon6) : port;
        if (lb->port > 0)
            return EM_OK;
        break;
    }
    stop(lb);
    if (redirect->port != 0)
        return em_error_set(err, EM_ENETWORK, "cannot listen on loopback port %d for the sign-in "
                                              "answer: is it in use?", redirect->port);
    if (redirect->host == EM_LOOPBACK_IPV6)
        return em_error_set(err, EM_ENETWORK, "cannot listen on [::1] for the sign-in answer: "
                                              "use http://localhost or http://127.0.0.1");
    return em_error_set(err, EM_ENETWORK, "cannot listen on the loopback address for the sign-in answer");
}

int em_loopback_start(em_loopback **out, const em_loopback_expect *expect, const char *redirect,
                      em_error *err)
{
    static const char *const host_names[] = {"localhost", "127.0.0.1", "[::1]"};
    em_loopback_redirect template;
    em_loopback *lb = NULL;
    int rc = EM_OK;

    if (out == NULL || expect == NULL || expect->state == NULL || expect->state[0] == '\0')
        return em_error_set(err, EM_EINVAL, "the loopback listener needs a state");
    *out = NULL;
    rc = em_loopback_parse_redirect(&template, redirect ? redirect : EM_LOOPBACK_DEFAULT_REDIRECT, err);
    if (rc != EM_OK)
        return rc;
    lb = calloc(1, sizeof *lb);
    if (lb == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    pthread_mutex_init(&lb->lock, NULL);
    pthread_cond_init(&lb->cond, NULL);
    lb->state = strdup(expect->state);
    lb->issuer = expect->issuer == NULL ? NULL : strdup(expect->issuer);
    lb->iss_required = expect->iss_required;
    if (lb->state == NULL || (expect->issuer != NULL && lb->issuer == NULL)) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(lb->path, sizeof lb->path, "%s", template.path[0] != '\0' ? template.path : "/");
    /* Set before the daemons run: their threads read path unlocked. */
    rc = listen_for(lb, &template, err);
    if (rc != EM_OK)
        goto fail;
    snprintf(lb->redirect_uri, sizeof lb->redirect_uri, "http://%s:%d%s", host_names[template.host],
             lb->port, template.path);
    *out = lb;
    return EM_OK;
fail:
    em_loopback_free(&lb);
    return rc;
}

const char *em_loopback_redirect_uri(const em_loopback *lb)
{
    return lb == NULL ? NULL : lb->redirect_uri;
}

int em_loopback_port(const em_loopback *lb)
{
    return lb == NULL ? 0 : lb->port;
}

bool em_loopback_on_ipv6(const em_loopback *lb)
{
    return lb != NULL && lb->daemon6 != NULL;
}

int em_loopback_wait(char **out_code, em_loopback *lb, long timeout_ms, em_request *ctx, em_error *err)
{
    struct timespec deadline;
    int rc = EM_OK;

    if (out_code == NULL || lb == NULL)
        return em_error_set(err, EM_EINVAL, "nothing to wait for");
    *out_code = NULL;
    if (timeout_ms <= 0)
        timeout_ms = LOOPBACK_DEFAULT_TIMEOUT_MS;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&lb->lock);
    if (lb->waited) {
        pthread_mutex_unlock(&lb->lock);
        return em_error_set(err, EM_EINVAL, "this listener was already used");
    }
    lb->waited = true;
    for (;;) {
        struct timespec now, until;
        if (lb->finished) {
            rc = lb->outcome;
            break;
        }
        if (em_request_cancelled(ctx)) {
            rc = em_error_set(err, EM_ECANCELLED, "the sign-in was cancelled");
            break;
        }
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec > deadline.tv_sec ||
            (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec)) {
            rc = em_error_set(err, EM_ETIMEOUT,
                              "no sign-in answer reached %s within %ld seconds. If the browser showed "
                              "an error instead, such as AADSTS50011 (the app is not registered for "
                              "this redirect URI: see -RedirectUri) or AADSTS65001 (the app lacks "
                              "consent in this tenant), fix that or sign in with -Device",
                              lb->redirect_uri, timeout_ms / 1000);
            break;
        }
        until = now;
        until.tv_nsec += LOOPBACK_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&lb->cond, &lb->lock, &until);
        drop_slow_connections(lb);
    }
    if (lb->finished && rc == EM_OK) {
        *out_code = lb->code;
        lb->code = NULL;
    } else if (lb->finished && err != NULL) {
        *err = lb->why;
    }
    pthread_mutex_unlock(&lb->lock);
    stop(lb);
    return rc;
}

void em_loopback_free(em_loopback **lbp)
{
    em_loopback *lb = NULL;

    if (lbp == NULL || *lbp == NULL)
        return;
    lb = *lbp;
    stop(lb);
    em_free_secret(&lb->code);
    em_free_secret(&lb->state);
    free(lb->issuer);
    pthread_cond_destroy(&lb->cond);
    pthread_mutex_destroy(&lb->lock);
    OPENSSL_cleanse(lb, sizeof *lb);
    free(lb);
    *lbp = NULL;
}
