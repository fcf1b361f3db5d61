/* smoke.c - proves the Windows x64 toolchain: one program linked statically
 * against the cross-built libcurl, OpenSSL, yajl and libmicrohttpd, run under
 * Wine by tests/windows/smoke.sh. Prints "OK" and exits 0 when all of them
 * work, else names what failed and exits 1. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <yajl/yajl_tree.h>

#define BODY "served by libmicrohttpd"

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "FAILED: %s\n", what);
        failures++;
    }
}

static void check_curl_build(void)
{
    const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
    int https = 0;
    for (const char *const *p = info->protocols; *p; p++)
        https |= strcmp(*p, "https") == 0;
    printf("libcurl %s, %s, zlib %s\n", info->version, info->ssl_version,
           info->libz_version ? info->libz_version : "none");
    check((info->features & CURL_VERSION_SSL) && https, "libcurl speaks HTTPS");
    check(info->features & CURL_VERSION_LIBZ, "libcurl decodes gzip (zlib)");

    /* The helper's TLS trust on Windows: the system store through OpenSSL. */
    CURL *curl = curl_easy_init();
    check(curl && curl_easy_setopt(curl, CURLOPT_SSL_OPTIONS, (long)CURLSSLOPT_NATIVE_CA) == CURLE_OK,
          "CURLSSLOPT_NATIVE_CA accepted");
    curl_easy_cleanup(curl);
}

static void check_sha256(void)
{
    static const unsigned char expected[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    int ok = EVP_Digest("abc", 3, digest, &length, EVP_sha256(), NULL);
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    check(ok && length == 32 && memcmp(digest, expected, 32) == 0, "OpenSSL SHA-256 of \"abc\"");
}

static void check_yajl(void)
{
    char error[128] = "";
    yajl_val tree = yajl_tree_parse("{\"value\": [1, \"two\"]}", error, sizeof error);
    const char *path[] = {"value", NULL};
    yajl_val array = tree ? yajl_tree_get(tree, path, yajl_t_array) : NULL;
    check(array && YAJL_GET_ARRAY(array)->len == 2 && YAJL_IS_STRING(YAJL_GET_ARRAY(array)->values[1]),
          "yajl parses a document");
    yajl_tree_free(tree);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *connection, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **request_state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload_data, (void)upload_data_size,
        (void)request_state;
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(BODY), (void *)BODY, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result result = MHD_queue_response(connection, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return result;
}

static size_t collect(char *data, size_t size, size_t count, void *userdata)
{
    char *body = userdata;
    size_t have = strlen(body), add = size * count;
    if (have + add >= 64)
        return 0;
    memcpy(body + have, data, add);
    body[have + add] = '\0';
    return add;
}

/* A listener on 127.0.0.1 (any free port), asked once over Winsock by libcurl. */
static void check_loopback_server(void)
{
    struct sockaddr_in loopback = {0};
    loopback.sin_family = AF_INET;
    loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&loopback, MHD_OPTION_END);
    check(daemon != NULL, "MHD_start_daemon on 127.0.0.1");
    if (!daemon)
        return;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    char url[64], body[64] = "";
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", info ? info->port : 0);

    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, (void *)body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    CURLcode code = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    check(code == CURLE_OK && strcmp(body, BODY) == 0, "libcurl GET from the libmicrohttpd listener");
    MHD_stop_daemon(daemon);
}

int main(void)
{
    check(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, "curl_global_init");
    check_curl_build();
    check_sha256();
    check_yajl();
    check_loopback_server();
    curl_global_cleanup();
    if (failures)
        return 1;
    printf("OK\n");
    return 0;
}
