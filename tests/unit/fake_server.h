/* fake_server.h - the in-process fake servers the cmocka tests share: a
 * libmicrohttpd daemon on 127.0.0.1 (an ephemeral port), a handler that
 * collects the request body and hands it to the test's route, and a
 * thread-safe capture of the protocol lines a test loop writes.
 *
 * Header-only (static inline, as test_util.h), so every test_*.c target
 * links as it is. The server part needs EM_HAVE_MHD.
 */
#ifndef EM_FAKE_SERVER_H
#define EM_FAKE_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "net/http.h"

/* ---- captured protocol lines ---- */

typedef struct test_lines {
    pthread_mutex_t lock;
    em_buf text;
} test_lines;

/* An em_rpc write callback: appends the line to the test_lines ud. */
static inline int test_lines_capture(void *ud, const char *line, size_t len)
{
    test_lines *l = ud;

    pthread_mutex_lock(&l->lock);
    em_buf_append(&l->text, line, len);
    pthread_mutex_unlock(&l->lock);
    return 0;
}

/* Whether what was written so far contains what. */
static inline bool test_lines_contain(test_lines *l, const char *what)
{
    bool found = false;

    pthread_mutex_lock(&l->lock);
    found = l->text.data != NULL && strstr(l->text.data, what) != NULL;
    pthread_mutex_unlock(&l->lock);
    return found;
}

/* The value of the first "url":"..." written (JSON escapes undone) into out;
 * false when none was written yet. */
static inline bool test_lines_url(test_lines *l, char *out, size_t size)
{
    const char *at = NULL;
    size_t n = 0;

    pthread_mutex_lock(&l->lock);
    at = l->text.data == NULL ? NULL : strstr(l->text.data, "\"url\":\"");
    if (at != NULL) {
        for (const char *p = at + 7; *p != '"' && *p != '\0' && n + 1 < size; p++) {
            if (*p == '\\')
                p++;
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    pthread_mutex_unlock(&l->lock);
    return at != NULL;
}

#ifdef EM_HAVE_MHD

#include "platform_sockets.h"   /* sockaddr_in: the platform's header */
#include <microhttpd.h>

/* Starts handler on 127.0.0.1 with an ephemeral port; origin gets
 * "http://127.0.0.1:PORT". NULL when the daemon does not start. */
/* fake_listen with uri_log (may be NULL) called with each raw request URI,
 * query undecoded; what it returns starts the request's *con_cls. */
static inline struct MHD_Daemon *fake_listen_logged(char *origin, size_t size, unsigned int flags,
                                                    MHD_AccessHandlerCallback handler, void *cls,
                                                    MHD_RequestCompletedCallback done,
                                                    void *(*uri_log)(void *, const char *,
                                                                     struct MHD_Connection *))
{
    struct sockaddr_in addr;
    struct MHD_Daemon *d = NULL;

    em_http_allow_plain_http();    /* the fake servers speak plain http */
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(flags, 0, NULL, NULL, handler, cls,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_NOTIFY_COMPLETED, done, cls,
                         MHD_OPTION_URI_LOG_CALLBACK, uri_log, cls,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
    if (d != NULL)
        snprintf(origin, size, "http://127.0.0.1:%u",
                 (unsigned)MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    return d;
}

static inline struct MHD_Daemon *fake_listen(char *origin, size_t size, unsigned int flags,
                                             MHD_AccessHandlerCallback handler, void *cls,
                                             MHD_RequestCompletedCallback done)
{
    return fake_listen_logged(origin, size, flags, handler, cls, done, NULL);
}

/* Answers one request, under the server's lock: *status (200 preset), body,
 * and a Location header when location is set. form is the request body
 * ("" when none). */
typedef void (*fake_route)(void *ctx, struct MHD_Connection *conn, const char *url, const char *form,
                           int *status, em_buf *body, char *location, size_t location_size);

/* A thread-per-connection server that collects each request body. */
typedef struct fake_server {
    struct MHD_Daemon *daemon;
    char base[64];              /* http://127.0.0.1:PORT */
    fake_route route;
    void *ctx;                  /* the route's */
    pthread_mutex_t *lock;      /* held around route */
} fake_server;

static inline enum MHD_Result fake_server_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                                 const char *method, const char *version, const char *data,
                                                 size_t *data_size, void **con_cls)
{
    fake_server *s = cls;
    em_buf *upload = *con_cls;
    em_buf body = EM_BUF_INIT;
    struct MHD_Response *resp = NULL;
    enum MHD_Result ret;
    char location[1024] = "";
    int status = 200;
    (void)version;
    (void)method;

    if (upload == NULL) {
        upload = calloc(1, sizeof *upload);
        *con_cls = upload;
        return upload == NULL ? MHD_NO : MHD_YES;
    }
    if (*data_size > 0) {
        em_buf_append(upload, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(s->lock);
    s->route(s->ctx, conn, url, upload->data == NULL ? "" : upload->data, &status, &body, location,
             sizeof location);
    pthread_mutex_unlock(s->lock);
    resp = MHD_create_response_from_buffer(body.len, body.data, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", status == 404 ? "text/plain" : "application/json");
    if (location[0] != '\0')
        MHD_add_response_header(resp, "Location", location);
    ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    em_buf_free(&body);
    return ret;
}

static inline void fake_server_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                                    enum MHD_RequestTerminationCode toe)
{
    em_buf *upload = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (upload != NULL) {
        em_buf_free(upload);
        free(upload);
    }
    *con_cls = NULL;
}

/* Starts s (route, ctx and lock set by the caller); false when it cannot. */
static inline bool fake_server_start(fake_server *s)
{
    s->daemon = fake_listen(s->base, sizeof s->base,
                            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                            fake_server_handle, s, fake_server_done);
    return s->daemon != NULL;
}

#endif /* EM_HAVE_MHD */

#endif
