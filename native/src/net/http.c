/* http.c - libcurl behind em_http_perform.
 *
 * Connection reuse: libcurl 7.88's shared connection cache is not thread
 * safe (curl known bug 11.11), so the CURLSH share holds only DNS and TLS
 * sessions (mutex-guarded), and connections live in a pool of
 * (multi, easy) pairs: a request borrows one pair, so the pair's open
 * connections serve the next request on any thread. Each transfer runs on
 * its pair's multi handle so that cancellation is checked at least every
 * 100 ms even while the network is silent.
 */
#include "net/http.h"
#include "platform/platform.h"
#include "protocol/request.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define HTTP_POOL_MAX 8
#define HTTP_POLL_MS 100
#define HTTP_DEFAULT_TIMEOUT_MS 120000L
#define HTTP_CONNECT_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_MAX_BODY (16u * 1024u * 1024u)
#define HTTP_USER_AGENT "ExchangeMfa/" EM_VERSION

typedef struct http_handle {
    CURLM *multi;
    CURL *easy;
    struct http_handle *next;
} http_handle;

static struct {
    bool ready;
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    http_handle *idle;
    int idle_count;
    STACK_OF(X509) *extra_cas;      /* EXCHANGEMFA_CA_FILE's certificates */
    char ca_problem[EM_ERROR_MESSAGE_MAX];  /* why EXCHANGEMFA_CA_FILE is unusable, or "" */
} g_http = {.pool_lock = PTHREAD_MUTEX_INITIALIZER};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h;
    (void)access;
    (void)ud;
    pthread_mutex_lock(&g_http.share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    (void)ud;
    pthread_mutex_unlock(&g_http.share_locks[data]);
}

/* A CA file larger than this is not a bundle of PEM certificates. */
#define CA_FILE_MAX (4L * 1024 * 1024)

/* Reads every certificate of path into g_http.extra_cas; on failure records
 * why in g_http.ca_problem (requests then fail with EM_ETLS). Read like any
 * file the user names (em_platform_read_file): a FIFO or a device there is
 * refused, never waited on. */
static void load_extra_cas(const char *path)
{
    em_buf text = EM_BUF_INIT;
    em_error e = {0};
    BIO *bio = NULL;
    X509 *cert = NULL;

    ERR_clear_error();
    g_http.extra_cas = sk_X509_new_null();
    if (em_platform_read_file(&text, path, CA_FILE_MAX, &e) != EM_OK) {
        snprintf(g_http.ca_problem, sizeof(g_http.ca_problem),
                 "EXCHANGEMFA_CA_FILE %.200s cannot be read: %.200s", path, e.message);
        goto free_text;
    }
    bio = BIO_new_mem_buf(text.data, (int)text.len);
    if (g_http.extra_cas == NULL || bio == NULL) {
        snprintf(g_http.ca_problem, sizeof(g_http.ca_problem), "out of memory reading EXCHANGEMFA_CA_FILE");
        goto free_text;
    }
    for (;;) {
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (cert == NULL)
            break;
        if (!sk_X509_push(g_http.extra_cas, cert)) {
            X509_free(cert);
            break;
        }
    }
    if (sk_X509_num(g_http.extra_cas) == 0)
        snprintf(g_http.ca_problem, sizeof(g_http.ca_problem),
                 "EXCHANGEMFA_CA_FILE %.200s holds no PEM certificate", path);
free_text:
    BIO_free(bio);
    em_buf_free(&text);
    ERR_clear_error();
}

int em_http_global_init(em_error *err)
{
    const curl_version_info_data *info;
    const char *ca_file;
    int i;

    if (g_http.ready)
        return EM_OK;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return em_error_set(err, EM_EINTERNAL, "libcurl initialisation failed");
    info = curl_version_info(CURLVERSION_NOW);
    if (info->ssl_version == NULL || strncmp(info->ssl_version, "OpenSSL", 7) != 0) {
        curl_global_cleanup();
        return em_error_set(err, EM_EINTERNAL, "libcurl is not built with OpenSSL");
    }
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&g_http.share_locks[i], NULL);
    g_http.share = curl_share_init();
    if (g_http.share == NULL) {
        curl_global_cleanup();
        return em_error_set(err, EM_ENOMEM, "out of memory (curl share)");
    }
    curl_share_setopt(g_http.share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(g_http.share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(g_http.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(g_http.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    ca_file = getenv("EXCHANGEMFA_CA_FILE");
    if (ca_file != NULL && ca_file[0] != '\0')
        load_extra_cas(ca_file);
    g_http.ready = true;
    return EM_OK;
}

void em_http_global_cleanup(void)
{
    http_handle *h;
    int i;

    if (!g_http.ready)
        return;
    while (g_http.idle != NULL) {
        h = g_http.idle;
        g_http.idle = h->next;
        curl_easy_cleanup(h->easy);
        curl_multi_cleanup(h->multi);
        free(h);
    }
    g_http.idle_count = 0;
    curl_share_cleanup(g_http.share);
    g_http.share = NULL;
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&g_http.share_locks[i]);
    sk_X509_pop_free(g_http.extra_cas, X509_free);
    g_http.extra_cas = NULL;
    g_http.ca_problem[0] = '\0';
    curl_global_cleanup();
    g_http.ready = false;
}

static http_handle *pool_take(void)
{
    http_handle *h;

    pthread_mutex_lock(&g_http.pool_lock);
    h = g_http.idle;
    if (h != NULL) {
        g_http.idle = h->next;
        g_http.idle_count--;
    }
    pthread_mutex_unlock(&g_http.pool_lock);
    if (h != NULL)
        return h;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->multi = curl_multi_init();
    h->easy = curl_easy_init();
    em_platform_descriptors_no_inherit();   /* the multi's wake-up socket pair */
    if (h->multi == NULL || h->easy == NULL) {
        curl_easy_cleanup(h->easy);
        curl_multi_cleanup(h->multi);
        free(h);
        return NULL;
    }
    return h;
}

static void pool_give(http_handle *h)
{
    bool keep;

    pthread_mutex_lock(&g_http.pool_lock);
    keep = g_http.idle_count < HTTP_POOL_MAX;
    if (keep) {
        h->next = g_http.idle;
        g_http.idle = h;
        g_http.idle_count++;
    }
    pthread_mutex_unlock(&g_http.pool_lock);
    if (!keep) {
        curl_easy_cleanup(h->easy);
        curl_multi_cleanup(h->multi);
        free(h);
    }
}

/* Adds EXCHANGEMFA_CA_FILE's certificates to the store curl has already
 * filled with the system CAs: trusted in addition, never instead. */
static CURLcode add_extra_cas(CURL *curl, void *ssl_ctx, void *ud)
{
    X509_STORE *store = SSL_CTX_get_cert_store((SSL_CTX *)ssl_ctx);
    int i;

    (void)curl;
    (void)ud;
    for (i = 0; i < sk_X509_num(g_http.extra_cas); i++)
        X509_STORE_add_cert(store, sk_X509_value(g_http.extra_cas, i));
    ERR_clear_error();  /* a duplicate certificate is not an error for us */
    return CURLE_OK;
}

typedef struct xfer {
    const em_http_request *req;
    em_http_response *resp;
    em_request *ctx;
    CURL *easy;
    size_t max_body;
    bool over_cap;          /* stored body hit max_body */
    bool stopped_by_reader; /* on_body asked to stop */
    bool header_oom;
    bool stalled;           /* nothing arrived for req->stall_ms */
    long last_data_ms;      /* when the last header or body bytes arrived */
} xfer;

static long monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static bool is_2xx(CURL *easy)
{
    long status = 0;

    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    return status >= 200 && status < 300;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;

    x->last_data_ms = monotonic_ms();
    if (x->req->on_body != NULL && is_2xx(x->easy)) {
        if (x->req->on_body(x->req->on_body_ud, data, len) != 0) {
            x->stopped_by_reader = true;
            return 0;
        }
        return len;
    }
    if (len > x->max_body - x->resp->body.len) {
        x->over_cap = true;
        return 0;
    }
    if (em_buf_append(&x->resp->body, data, len) != EM_OK)
        return 0;
    return len;
}

static void free_headers(em_http_response *resp)
{
    free(resp->content_type);
    free(resp->retry_after);
    free(resp->www_authenticate);
    free(resp->request_id);
    free(resp->exception_type);
    free(resp->rate_limit_remaining);
    free(resp->rate_limit_reset);
    resp->rate_limit_remaining = NULL;
    resp->rate_limit_reset = NULL;
    resp->content_type = NULL;
    resp->retry_after = NULL;
    resp->www_authenticate = NULL;
    resp->request_id = NULL;
    resp->exception_type = NULL;
}

int em_http_keep_header(em_http_response *resp, const char *line, size_t len)
{
    static const struct {
        const char *name;
        size_t offset;
    } wanted[] = {
        {"content-type", offsetof(em_http_response, content_type)},
        {"retry-after", offsetof(em_http_response, retry_after)},
        {"www-authenticate", offsetof(em_http_response, www_authenticate)},
        {"request-id", offsetof(em_http_response, request_id)},
        {"x-exceptiontype", offsetof(em_http_response, exception_type)},
        {"rate-limit-remaining", offsetof(em_http_response, rate_limit_remaining)},
        {"rate-limit-reset", offsetof(em_http_response, rate_limit_reset)},
    };
    size_t name_len, i;
    const char *colon, *value, *end;

    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        free_headers(resp);
        return EM_OK;
    }
    colon = memchr(line, ':', len);
    if (colon == NULL)
        return EM_OK;
    name_len = (size_t)(colon - line);
    value = colon + 1;
    end = line + len;
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    while (end > value && isspace((unsigned char)end[-1]))
        end--;
    for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        char **slot = (char **)((char *)resp + wanted[i].offset);

        if (strlen(wanted[i].name) != name_len ||
            strncasecmp(line, wanted[i].name, name_len) != 0)
            continue;
        free(*slot);
        *slot = strndup(value, (size_t)(end - value));
        if (*slot == NULL)
            return EM_ENOMEM;
    }
    return EM_OK;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;

    x->last_data_ms = monotonic_ms();
    if (em_http_keep_header(x->resp, line, len) != EM_OK)
        x->header_oom = true;
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    xfer *x = ud;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return em_request_cancelled(x->ctx) ? 1 : 0;
}

static int translate(CURLcode rc, const xfer *x, const char *detail, em_error *err)
{
    const char *what = detail[0] ? detail : curl_easy_strerror(rc);

    if (x->stopped_by_reader)
        return em_error_set(err, EM_ECANCELLED, "transfer stopped by the reader");
    if (x->over_cap)
        return em_error_set(err, EM_EBADRESPONSE, "response body larger than %zu bytes",
                            x->max_body);
    if (x->stalled)
        return em_error_set(err, EM_ETIMEOUT, "the server sent nothing for %ld s",
                            (x->req->stall_ms + 999) / 1000);
    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
        return em_error_set(err, EM_ECANCELLED, "request cancelled");
    case CURLE_OPERATION_TIMEDOUT:
        return em_error_set(err, EM_ETIMEOUT, "the server did not answer in time: %s", what);
    case CURLE_OUT_OF_MEMORY:
        return em_error_set(err, EM_ENOMEM, "out of memory in libcurl");
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
        return em_error_set(err, EM_ETLS, "TLS failed: %s", what);
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_WEIRD_SERVER_REPLY:
        return em_error_set(err, EM_EBADRESPONSE, "malformed HTTP answer: %s", what);
    case CURLE_WRITE_ERROR:
        return em_error_set(err, EM_ENOMEM, "out of memory storing the answer");
    case CURLE_UNSUPPORTED_PROTOCOL:
        return em_error_set(err, EM_ENETWORK, "only https:// URLs are used: %s", what);
    default:
        return em_error_set(err, EM_ENETWORK, "network error: %s", what);
    }
}

/* Builds the header list; NULL headers give an empty list (*out NULL). */
static int build_headers(struct curl_slist **out, const char *const *headers)
{
    struct curl_slist *list = NULL, *next;
    size_t i;

    *out = NULL;
    /* Bodies are small; never wait for 100-continue. */
    list = curl_slist_append(list, "Expect:");
    if (list == NULL)
        return EM_ENOMEM;
    for (i = 0; headers != NULL && headers[i] != NULL; i++) {
        next = curl_slist_append(list, headers[i]);
        if (next == NULL) {
            curl_slist_free_all(list);
            return EM_ENOMEM;
        }
        list = next;
    }
    *out = list;
    return EM_OK;
}

/* Header values include the bearer token: wipe them before freeing. */
static void free_header_list(struct curl_slist **list)
{
    struct curl_slist *item;

    for (item = *list; item != NULL; item = item->next)
        OPENSSL_cleanse(item->data, strlen(item->data));
    curl_slist_free_all(*list);
    *list = NULL;
}

/* curl 7.88 makes its sockets without close-on-exec: a browser we start
 * must not inherit a live TLS connection (platform.h). */
static int on_socket(void *ud, curl_socket_t socket, curlsocktype purpose)
{
    (void)ud;
    (void)purpose;
    em_platform_socket_no_inherit((uintptr_t)socket);
    return CURL_SOCKOPT_OK;
}

static atomic_bool plain_http_allowed;

void em_http_allow_plain_http(void)
{
    atomic_store(&plain_http_allowed, true);
}

bool em_http_plain_http_allowed(void)
{
    return atomic_load(&plain_http_allowed);
}

static void set_options(CURL *easy, const em_http_request *req, xfer *x,
                        struct curl_slist *headers, char *errbuf)
{
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;

    curl_easy_setopt(easy, CURLOPT_URL, req->url);
    curl_easy_setopt(easy, CURLOPT_SHARE, g_http.share);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    /* Set here, not left to the system's policy: https only (redirects are
     * not followed), TLS 1.2 at least. */
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, req->allow_http || em_http_plain_http_allowed() ? "http,https" : "https");
    curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, HTTP_USER_AGENT);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout < HTTP_CONNECT_TIMEOUT_MS ? timeout : HTTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, on_socket);
    if (sk_X509_num(g_http.extra_cas) > 0)
        curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, add_extra_cas);
    /* Windows: the system's root store too (platform.h). */
    if (em_platform_tls_native_ca())
        curl_easy_setopt(easy, CURLOPT_SSL_OPTIONS, (long)CURLSSLOPT_NATIVE_CA);
    if (req->method != NULL && strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    } else {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }
}

/* Drives the transfer, checking cancellation (and silence, when
 * stall_ms is set) every HTTP_POLL_MS. */
static CURLcode run_transfer(http_handle *h, xfer *x, em_request *ctx, bool *cancelled)
{
    CURLMsg *msg;
    CURLcode result = CURLE_OK;
    int running = 1, left = 0;

    *cancelled = false;
    while (running) {
        if (curl_multi_perform(h->multi, &running) != CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
        if (!running)
            break;
        if (em_request_cancelled(ctx)) {
            *cancelled = true;
            return CURLE_ABORTED_BY_CALLBACK;
        }
        /* Silence, not slowness: a big page may take long but keeps arriving. */
        if (x->req->stall_ms > 0 && monotonic_ms() - x->last_data_ms >= x->req->stall_ms) {
            x->stalled = true;
            return CURLE_OPERATION_TIMEDOUT;
        }
        if (curl_multi_poll(h->multi, NULL, 0, HTTP_POLL_MS, NULL) != CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
    }
    msg = curl_multi_info_read(h->multi, &left);
    if (msg != NULL && msg->msg == CURLMSG_DONE)
        result = msg->data.result;
    return result;
}

int em_http_perform(em_http_response *out, const em_http_request *req,
                    em_request *ctx, em_error *err)
{
    struct curl_slist *headers = NULL;
    http_handle *h = NULL;
    char errbuf[CURL_ERROR_SIZE];
    xfer x;
    CURLcode rc;
    bool cancelled = false;
    int code = EM_OK;

    memset(out, 0, sizeof(*out));
    memset(&x, 0, sizeof(x));
    errbuf[0] = '\0';
    if (!g_http.ready)
        return em_error_set(err, EM_EINTERNAL, "em_http_global_init was not called");
    if (g_http.ca_problem[0] != '\0')
        return em_error_set(err, EM_ETLS, "%s", g_http.ca_problem);
    if (em_request_cancelled(ctx))
        return em_error_set(err, EM_ECANCELLED, "request cancelled");
    if (build_headers(&headers, req->headers) != EM_OK)
        return em_error_set(err, EM_ENOMEM, "out of memory (headers)");
    h = pool_take();
    if (h == NULL) {
        code = em_error_set(err, EM_ENOMEM, "out of memory (curl handle)");
        goto free_headers;
    }
    x.req = req;
    x.resp = out;
    x.ctx = ctx;
    x.easy = h->easy;
    x.max_body = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
    curl_easy_reset(h->easy);
    set_options(h->easy, req, &x, headers, errbuf);
    if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK) {
        code = em_error_set(err, EM_ENOMEM, "out of memory (curl multi)");
        goto give_handle;
    }
    x.last_data_ms = monotonic_ms();
    rc = run_transfer(h, &x, ctx, &cancelled);
    curl_multi_remove_handle(h->multi, h->easy);
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &out->status);
    if (cancelled) {
        code = em_error_set(err, EM_ECANCELLED, "request cancelled");
        goto give_handle;
    }
    if (rc != CURLE_OK) {
        code = translate(rc, &x, errbuf, err);
        goto give_handle;
    }
    if (x.header_oom)
        code = em_error_set(err, EM_ENOMEM, "out of memory (response headers)");
give_handle:
    /* Forget per-request pointers (the header list, our callbacks' data). */
    curl_easy_reset(h->easy);
    pool_give(h);
free_headers:
    free_header_list(&headers);
    return code;
}

void em_http_response_free(em_http_response *resp)
{
    if (resp == NULL)
        return;
    em_buf_free(&resp->body);
    free_headers(resp);
    resp->status = 0;
}

int em_http_form_add(em_buf *form, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *parts[2] = {key, value};
    int i;

    if (form->len > 0 && em_buf_append(form, "&", 1) != EM_OK)
        return EM_ENOMEM;
    for (i = 0; i < 2; i++) {
        const unsigned char *p;

        if (i == 1 && em_buf_append(form, "=", 1) != EM_OK)
            return EM_ENOMEM;
        for (p = (const unsigned char *)parts[i]; *p; p++) {
            char enc[3];

            if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
                if (em_buf_append(form, p, 1) != EM_OK)
                    return EM_ENOMEM;
                continue;
            }
            enc[0] = '%';
            enc[1] = hex[*p >> 4];
            enc[2] = hex[*p & 15];
            if (em_buf_append(form, enc, 3) != EM_OK)
                return EM_ENOMEM;
        }
    }
    return EM_OK;
}
