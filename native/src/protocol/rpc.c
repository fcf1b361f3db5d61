/* rpc.c - the protocol loop and the em_request implementation. */
#include "protocol/rpc.h"
#include "platform/platform.h"
#include "util/buf.h"
#include "util/json.h"
#include "protocol/protocol.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

/* Requests running at once; more is a client bug, answered with an error. */
#define RPC_MAX_IN_FLIGHT 256

struct em_request {
    em_rpc *rpc;
    long id;
    const em_rpc_method *method;
    yajl_val msg;                   /* the parsed request line, owned */
    atomic_bool cancelled;
    long acked;                     /* highest page acked; under rpc->lock */
    pthread_t thread;
    bool done;                      /* the worker has replied; under rpc->lock */
    struct em_request *next;
};

struct em_rpc {
    const em_rpc_method *methods;
    void *app;
    void (*on_shutdown)(void *app);
    em_rpc_write_fn write;
    void *write_ud;
    pthread_mutex_t write_lock;     /* one whole line at a time on stdout */
    pthread_mutex_t lock;           /* requests list, acks, cancellation waits */
    pthread_cond_t cond;            /* broadcast on ack, cancel, request end */
    em_request *requests;           /* started, not yet joined */
    int in_flight;
    em_buf line;                    /* the line being read */
    bool discarding;                /* skipping the rest of an over-long line */
    bool stopped;                   /* `shutdown` answered */
    bool write_failed;              /* stdout is gone; under write_lock */
};

/* ---- output ---- */

/* Writes text plus the newline as one line. */
static void cancel_all(em_rpc *rpc);

static void rpc_write_line(em_rpc *rpc, const char *text, size_t len)
{
    em_buf line = EM_BUF_INIT;
    bool failed;

    if (em_buf_append(&line, text, len) != EM_OK || em_buf_append(&line, "\n", 1) != EM_OK) {
        fprintf(stderr, "exchangemfa-helper: out of memory writing a reply\n");
        goto free_line;
    }
    pthread_mutex_lock(&rpc->write_lock);
    failed = rpc->write(rpc->write_ud, line.data, line.len) != 0 && !rpc->write_failed;
    if (failed)
        rpc->write_failed = true;
    pthread_mutex_unlock(&rpc->write_lock);
    if (failed) {
        /* Nobody reads our answers any more: say so once, stop the work. */
        fprintf(stderr, "exchangemfa-helper: cannot write to stdout; cancelling requests\n");
        cancel_all(rpc);
    }
free_line:
    em_buf_free(&line);
}

static int gen_envelope(yajl_gen g, long id)
{
    int st = yajl_gen_map_open(g);

    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_JSONRPC, EM_JSONRPC_VERSION);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_str(g, EM_F_ID);
    if (st == yajl_gen_status_ok)
        st = id > 0 ? yajl_gen_integer(g, id) : yajl_gen_null(g);
    return st;
}

static int rpc_error_code(em_code code)
{
    switch (code) {
    case EM_EPARSE:
        return EM_RPC_PARSE_ERROR;
    case EM_EREQUEST:
        return EM_RPC_INVALID_REQUEST;
    case EM_ENOMETHOD:
        return EM_RPC_METHOD_NOT_FOUND;
    case EM_EINVAL:
        return EM_RPC_INVALID_PARAMS;
    default:
        return EM_RPC_SERVER_ERROR;
    }
}

/* Last resort, fixed text: the module still learns the request ended. */
static void rpc_reply_oom(em_rpc *rpc, long id)
{
    char line[200], idtext[24];
    int n;

    if (id > 0)
        snprintf(idtext, sizeof(idtext), "%ld", id);
    else
        snprintf(idtext, sizeof(idtext), "null");
    n = snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32000,"
                 "\"message\":\"out of memory\",\"data\":{\"name\":\"OutOfMemory\"}}}", idtext);
    rpc_write_line(rpc, line, (size_t)n);
}

/* Writes the error reply for id (0: null id). */
static void rpc_reply_error(em_rpc *rpc, long id, em_code code, em_error *err)
{
    const unsigned char *text = NULL;
    size_t len = 0;
    yajl_gen g = NULL;
    int st;

    if (code >= EM_OK || code <= EM__LAST)
        code = EM_EINTERNAL;
    em_json_utf8_fix(err->message);
    em_json_utf8_fix(err->server_code);
    em_json_utf8_fix(err->target);
    g = em_json_gen_new();
    if (g == NULL)
        goto oom;
    st = gen_envelope(g, id);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_str(g, EM_F_ERROR);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(g, EM_F_CODE, rpc_error_code(code));
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_MESSAGE,
                                err->message[0] ? err->message : em_code_name(code));
    if (st == yajl_gen_status_ok)
        st = em_json_gen_str(g, EM_F_DATA);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_NAME, em_code_name(code));
    if (st == yajl_gen_status_ok && err->http_status > 0)
        st = em_json_gen_kv_int(g, EM_F_HTTPSTATUS, err->http_status);
    if (st == yajl_gen_status_ok && err->server_code[0])
        st = em_json_gen_kv_str(g, EM_F_SERVERCODE, err->server_code);
    if (st == yajl_gen_status_ok && err->aadsts != 0)
        st = em_json_gen_kv_int(g, EM_F_AADSTS, err->aadsts);
    if (st == yajl_gen_status_ok && err->retry_after > 0)
        st = em_json_gen_kv_int(g, EM_F_RETRYAFTER, err->retry_after);
    if (st == yajl_gen_status_ok && err->target[0])
        st = em_json_gen_kv_str(g, EM_F_TARGET, err->target);
    if (st == yajl_gen_status_ok && err->exception_type[0])
        st = em_json_gen_kv_str(g, EM_F_EXCEPTIONTYPE, err->exception_type);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    if (st != yajl_gen_status_ok || yajl_gen_get_buf(g, &text, &len) != yajl_gen_status_ok)
        goto oom;
    rpc_write_line(rpc, (const char *)text, len);
    yajl_gen_free(g);
    return;
oom:
    if (g != NULL)
        yajl_gen_free(g);
    rpc_reply_oom(rpc, id);
}

static void rpc_reply_error_msg(em_rpc *rpc, long id, em_code code, const char *message)
{
    em_error err = {0};

    em_error_set(&err, code, "%s", message);
    rpc_reply_error(rpc, id, code, &err);
}

/* Writes {"jsonrpc":"2.0","id":id,"result":<result_json>}; result_json is
 * an object text made by yajl_gen. */
static int rpc_reply_result(em_rpc *rpc, long id, const char *result_json)
{
    em_buf line = EM_BUF_INIT;
    int rc;

    rc = em_buf_printf(&line, "{\"" EM_F_JSONRPC "\":\"" EM_JSONRPC_VERSION "\",\""
                       EM_F_ID "\":%ld,\"" EM_F_RESULT "\":%s}", id, result_json);
    if (rc == EM_OK)
        rpc_write_line(rpc, line.data, line.len);
    em_buf_free(&line);
    return rc;
}

/* ---- em_request (request.h) ---- */

bool em_request_cancelled(const em_request *req)
{
    return req != NULL && atomic_load(&((em_request *)req)->cancelled);
}

long em_request_id(const em_request *req)
{
    return req != NULL ? req->id : 0;
}

int em_request_sleep(em_request *req, long ms)
{
    struct timespec deadline;
    int rc = EM_OK;

    if (ms < 0)
        ms = 0;
    if (req == NULL) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        return EM_OK;
    }
    em_platform_deadline(&deadline, ms);
    pthread_mutex_lock(&req->rpc->lock);
    while (!atomic_load(&req->cancelled)) {
        if (pthread_cond_timedwait(&req->rpc->cond, &req->rpc->lock, &deadline) == ETIMEDOUT)
            break;
    }
    if (atomic_load(&req->cancelled))
        rc = EM_ECANCELLED;
    pthread_mutex_unlock(&req->rpc->lock);
    return rc;
}

int em_rpc_wait_ack(em_request *req, long page)
{
    int rc = EM_OK;

    if (req == NULL)
        return EM_OK;
    pthread_mutex_lock(&req->rpc->lock);
    while (req->acked < page && !atomic_load(&req->cancelled))
        pthread_cond_wait(&req->rpc->cond, &req->rpc->lock);
    if (req->acked < page)
        rc = EM_ECANCELLED;
    pthread_mutex_unlock(&req->rpc->lock);
    return rc;
}

int em_request_notify_string(em_request *req, const char *method, const char *key,
                             const char *value)
{
    yajl_gen g = em_json_gen_new();
    char *params = NULL;
    int st = g == NULL ? yajl_gen_in_error_state : yajl_gen_map_open(g);
    int rc;

    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, key, value);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    rc = st == yajl_gen_status_ok ? em_json_gen_dup(&params, g) : EM_ENOMEM;
    if (rc == EM_OK)
        rc = em_request_notify(req, method, params);
    free(params);
    if (g != NULL)
        yajl_gen_free(g);
    return rc;
}

int em_request_notify(em_request *req, const char *method, const char *params_json)
{
    em_buf line = EM_BUF_INIT;
    const char *members;
    int rc;

    if (req == NULL)
        return EM_OK;
    /* params_json is "{...}": its members follow requestId. */
    members = params_json;
    while (*members == ' ')
        members++;
    if (*members == '{')
        members++;
    while (*members == ' ')
        members++;
    /* The members (a whole object for "object") are copied, not formatted:
     * vsnprintf over them cost a fifth of a streaming helper's CPU. */
    rc = em_buf_printf(&line, "{\"" EM_F_JSONRPC "\":\"" EM_JSONRPC_VERSION "\",\""
                       EM_F_METHOD "\":\"%s\",\"" EM_F_PARAMS "\":{\"" EM_F_REQUESTID
                       "\":%ld%s", method, req->id, *members == '}' ? "" : ",");
    if (rc == EM_OK)
        rc = em_buf_puts(&line, members);
    if (rc == EM_OK)
        rc = em_buf_append(&line, "}", 1);
    if (rc == EM_OK)
        rpc_write_line(req->rpc, line.data, line.len);
    em_buf_free(&line);
    return rc;
}

/* ---- requests ---- */

static void *worker(void *arg)
{
    em_request *req = arg;
    em_rpc *rpc = req->rpc;
    em_error err = {0};
    char *result = NULL;
    int rc;

    rc = req->method->fn(&result, req, em_json_get(req->msg, EM_F_PARAMS), rpc->app, &err);
    if (rc == EM_OK && result != NULL)
        rc = rpc_reply_result(rpc, req->id, result);
    else if (rc == EM_OK)
        rc = em_error_set(&err, EM_EINTERNAL, "method %s returned no result", req->method->name);
    if (rc != EM_OK) {
        if (err.code == EM_OK)
            err.code = rc;
        rpc_reply_error(rpc, req->id, rc, &err);
    }
    em_free_secret(&result);
    pthread_mutex_lock(&rpc->lock);
    req->done = true;
    pthread_cond_broadcast(&rpc->cond);
    pthread_mutex_unlock(&rpc->lock);
    return NULL;
}

static void request_free(em_request *req)
{
    em_json_free(&req->msg);
    free(req);
}

/* Joins and frees finished requests; with wait_all, waits for the others. */
static void reap(em_rpc *rpc, bool wait_all)
{
    em_request **link, *req;

    pthread_mutex_lock(&rpc->lock);
    for (;;) {
        req = NULL;
        for (link = &rpc->requests; *link != NULL; link = &(*link)->next) {
            if ((*link)->done) {
                req = *link;
                *link = req->next;
                rpc->in_flight--;
                break;
            }
        }
        if (req != NULL) {
            pthread_mutex_unlock(&rpc->lock);
            pthread_join(req->thread, NULL);
            request_free(req);
            pthread_mutex_lock(&rpc->lock);
            continue;
        }
        if (!wait_all || rpc->requests == NULL)
            break;
        pthread_cond_wait(&rpc->cond, &rpc->lock);
    }
    pthread_mutex_unlock(&rpc->lock);
}

static void cancel_all(em_rpc *rpc)
{
    em_request *req;

    pthread_mutex_lock(&rpc->lock);
    for (req = rpc->requests; req != NULL; req = req->next)
        atomic_store(&req->cancelled, true);
    pthread_cond_broadcast(&rpc->cond);
    pthread_mutex_unlock(&rpc->lock);
}

/* The running request with this id, or NULL; the caller holds rpc->lock. */
static em_request *find_locked(em_rpc *rpc, long id)
{
    em_request *req;

    for (req = rpc->requests; req != NULL; req = req->next) {
        if (req->id == id && !req->done)
            return req;
    }
    return NULL;
}

static void handle_notification(em_rpc *rpc, const char *method, yajl_val params)
{
    long long id = 0, page = 0;
    em_request *req;

    if (!em_json_get_int(&id, params, EM_F_ID))
        return;
    pthread_mutex_lock(&rpc->lock);
    req = find_locked(rpc, (long)id);
    if (req != NULL && strcmp(method, EM_M_CANCEL) == 0) {
        atomic_store(&req->cancelled, true);
        pthread_cond_broadcast(&rpc->cond);
    } else if (req != NULL && strcmp(method, EM_M_ACK) == 0 &&
               em_json_get_int(&page, params, EM_F_PAGE) && page > req->acked) {
        req->acked = (long)page;
        pthread_cond_broadcast(&rpc->cond);
    }
    pthread_mutex_unlock(&rpc->lock);
}

static void handle_shutdown(em_rpc *rpc, long id)
{
    cancel_all(rpc);
    reap(rpc, true);
    if (rpc->on_shutdown != NULL)
        rpc->on_shutdown(rpc->app);
    rpc_reply_result(rpc, id, "{}");
    rpc->stopped = true;
}

static const em_rpc_method *find_method(const em_rpc *rpc, const char *name)
{
    const em_rpc_method *m;

    for (m = rpc->methods; m != NULL && m->name != NULL; m++) {
        if (strcmp(m->name, name) == 0)
            return m;
    }
    return NULL;
}

/* Starts req on a worker; consumes msg. */
static void start_request(em_rpc *rpc, long id, const em_rpc_method *method, yajl_val msg)
{
    em_request *req = NULL;
    bool busy;

    pthread_mutex_lock(&rpc->lock);
    busy = find_locked(rpc, id) != NULL;
    pthread_mutex_unlock(&rpc->lock);
    if (busy) {
        rpc_reply_error_msg(rpc, id, EM_EREQUEST, "a request with this id is still running");
        goto free_msg;
    }
    if (rpc->in_flight >= RPC_MAX_IN_FLIGHT) {
        rpc_reply_error_msg(rpc, id, EM_EREQUEST, "too many requests in flight");
        goto free_msg;
    }
    req = calloc(1, sizeof(*req));
    if (req == NULL) {
        rpc_reply_error_msg(rpc, id, EM_ENOMEM, "out of memory");
        goto free_msg;
    }
    req->rpc = rpc;
    req->id = id;
    req->method = method;
    req->msg = msg;
    msg = NULL;
    atomic_init(&req->cancelled, false);
    pthread_mutex_lock(&rpc->lock);
    if (pthread_create(&req->thread, NULL, worker, req) != 0) {
        pthread_mutex_unlock(&rpc->lock);
        rpc_reply_error_msg(rpc, id, EM_EINTERNAL, "cannot start a worker thread");
        request_free(req);
        goto free_msg;
    }
    req->next = rpc->requests;
    rpc->requests = req;
    rpc->in_flight++;
    pthread_mutex_unlock(&rpc->lock);
free_msg:
    em_json_free(&msg);
}

/* Validates one line and dispatches it. */
static void handle_line(em_rpc *rpc, const char *text, size_t len)
{
    em_error err = {0};
    yajl_val msg = NULL, idv, params;
    const char *method, *version;
    const em_rpc_method *m;
    long id = 0;
    int rc;

    rc = em_json_parse(&msg, text, len, &err);
    if (rc != EM_OK) {
        rpc_reply_error(rpc, 0, rc, &err);
        return;
    }
    if (!YAJL_IS_OBJECT(msg)) {
        rpc_reply_error_msg(rpc, 0, EM_EREQUEST, "a request must be a JSON object");
        goto free_msg;
    }
    idv = em_json_get(msg, EM_F_ID);
    if (idv != NULL) {
        if (!YAJL_IS_INTEGER(idv) || idv->u.number.i <= 0 || idv->u.number.i > 0x7fffffffL) {
            rpc_reply_error_msg(rpc, 0, EM_EREQUEST, "id must be a positive integer");
            goto free_msg;
        }
        id = (long)idv->u.number.i;
    }
    version = em_json_get_string(msg, EM_F_JSONRPC);
    if (em_json_get(msg, EM_F_JSONRPC) != NULL &&
        (version == NULL || strcmp(version, EM_JSONRPC_VERSION) != 0)) {
        rpc_reply_error_msg(rpc, id, EM_EREQUEST, "jsonrpc must be \"2.0\"");
        goto free_msg;
    }
    method = em_json_get_string(msg, EM_F_METHOD);
    if (method == NULL) {
        rpc_reply_error_msg(rpc, id, EM_EREQUEST, "method must be a string");
        goto free_msg;
    }
    params = em_json_get(msg, EM_F_PARAMS);
    if (params != NULL && !YAJL_IS_OBJECT(params) && !YAJL_IS_NULL(params)) {
        if (id > 0)
            rpc_reply_error_msg(rpc, id, EM_EINVAL, "params must be an object");
        goto free_msg;
    }
    if (id == 0) {
        /* A notification: ack and cancel act, anything else is ignored. */
        handle_notification(rpc, method, params);
        goto free_msg;
    }
    if (strcmp(method, EM_M_ACK) == 0 || strcmp(method, EM_M_CANCEL) == 0) {
        rpc_reply_error_msg(rpc, id, EM_EREQUEST, "ack and cancel are notifications: send them without an id");
        goto free_msg;
    }
    if (strcmp(method, EM_M_SHUTDOWN) == 0) {
        handle_shutdown(rpc, id);
        goto free_msg;
    }
    m = find_method(rpc, method);
    if (m == NULL) {
        em_error_set(&err, EM_ENOMETHOD, "unknown method");
        snprintf(err.target, sizeof(err.target), "%s", method);
        rpc_reply_error(rpc, id, EM_ENOMETHOD, &err);
        goto free_msg;
    }
    start_request(rpc, id, m, msg);
    msg = NULL;
free_msg:
    em_json_free(&msg);
}

/* ---- framing ---- */

static bool blank(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    }
    return true;
}

static void finish_line(em_rpc *rpc)
{
    size_t len = rpc->line.len;

    if (len > 0 && rpc->line.data[len - 1] == '\r')
        len--;
    if (len > 0 && !blank(rpc->line.data, len))
        handle_line(rpc, rpc->line.data, len);
    /* The line may have held a secret: wipe it, keep the memory. */
    if (rpc->line.data != NULL)
        OPENSSL_cleanse(rpc->line.data, rpc->line.len);
    rpc->line.len = 0;
}

int em_rpc_feed(em_rpc *rpc, const char *data, size_t len)
{
    const char *end = data + len, *nl;
    size_t take;

    while (data < end && !rpc->stopped) {
        nl = memchr(data, '\n', (size_t)(end - data));
        take = (size_t)((nl ? nl : end) - data);
        if (rpc->discarding) {
            if (nl != NULL)
                rpc->discarding = false;
        } else if (rpc->line.len + take > (size_t)EM_LINE_MAX) {
            rpc_reply_error_msg(rpc, 0, EM_EREQUEST, "line longer than 1048576 bytes");
            OPENSSL_cleanse(rpc->line.data, rpc->line.len);
            rpc->line.len = 0;
            rpc->discarding = nl == NULL;
        } else if (em_buf_append(&rpc->line, data, take) != EM_OK) {
            rpc_reply_error_msg(rpc, 0, EM_ENOMEM, "out of memory reading a line");
            rpc->line.len = 0;
            rpc->discarding = nl == NULL;
        } else if (nl != NULL) {
            finish_line(rpc);
        }
        data += take + (nl ? 1 : 0);
        reap(rpc, false);
    }
    return rpc->stopped ? EM_RPC_STOP : EM_RPC_GO_ON;
}

void em_rpc_eof(em_rpc *rpc)
{
    cancel_all(rpc);
    reap(rpc, true);
}

void em_rpc_wait_idle(em_rpc *rpc)
{
    reap(rpc, true);
}

int em_rpc_run_fd(em_rpc *rpc, int fd)
{
    char chunk[65536];
    ssize_t n;

    for (;;) {
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (em_rpc_feed(rpc, chunk, (size_t)n) == EM_RPC_STOP)
            return EM_OK;
    }
    if (n < 0)
        fprintf(stderr, "exchangemfa-helper: reading stdin failed: %s\n", strerror(errno));
    em_rpc_eof(rpc);
    return EM_OK;
}

/* ---- life cycle ---- */

int em_rpc_new(em_rpc **out, const em_rpc_method *methods, void *app,
               void (*on_shutdown)(void *app), em_rpc_write_fn write, void *write_ud)
{
    em_rpc *rpc;

    *out = NULL;
    rpc = calloc(1, sizeof(*rpc));
    if (rpc == NULL)
        return EM_ENOMEM;
    rpc->methods = methods;
    rpc->app = app;
    rpc->on_shutdown = on_shutdown;
    rpc->write = write;
    rpc->write_ud = write_ud;
    pthread_mutex_init(&rpc->write_lock, NULL);
    pthread_mutex_init(&rpc->lock, NULL);
    em_platform_cond_init(&rpc->cond);
    *out = rpc;
    return EM_OK;
}

void em_rpc_free(em_rpc **rpcp)
{
    em_rpc *rpc;

    if (rpcp == NULL || *rpcp == NULL)
        return;
    rpc = *rpcp;
    cancel_all(rpc);
    reap(rpc, true);
    em_buf_free(&rpc->line);
    pthread_cond_destroy(&rpc->cond);
    pthread_mutex_destroy(&rpc->lock);
    pthread_mutex_destroy(&rpc->write_lock);
    free(rpc);
    *rpcp = NULL;
}
