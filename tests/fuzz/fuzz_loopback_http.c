/* fuzz_loopback_http.c - the loopback listener's HTTP layer, whole: raw
 * bytes sent to a live listener (libmicrohttpd, then our handler and
 * em_loopback_parse_query), in chunks as a local process could send them.
 *
 * Input: byte 0 picks the chunk size (1..256); the rest is what the
 * connection sends. Whatever it sends, the listener answers with HTTP or
 * closes, in bounded time, and frees everything.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "identity/loopback.h"

#define STATE "Zm9vYmFyYmF6cXV4cXV1eHF1dXpxdXV6cXV1enF1dXo"

/* A connection, or -1 when the machine has no port left to connect from
 * (thousands of runs a second): that input is skipped, not a finding. */
static int connect_to(int port)
{
    struct sockaddr_in addr;
    struct timeval tv = {3, 0};
    struct linger no_time_wait = {1, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_time_wait, sizeof no_time_wait);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    em_loopback_expect expect = {STATE, "https://login.microsoftonline.com/{tenantid}/v2.0", false};
    em_loopback *lb = NULL;
    em_error err = {0};
    char answer[16];
    size_t chunk, off, got = 0;
    ssize_t n;
    int fd;

    if (size < 1 || size > 64 * 1024)
        return 0;
    chunk = (size_t)data[0] + 1;
    if (em_loopback_start(&lb, &expect, "http://127.0.0.1", &err) != EM_OK)
        return 0;           /* no port to listen on: skipped, as above */
    fd = connect_to(em_loopback_port(lb));
    if (fd < 0) {
        em_loopback_free(&lb);
        return 0;
    }
    for (off = 1; off < size; off += chunk) {
        size_t len = size - off < chunk ? size - off : chunk;

        if (send(fd, data + off, len, MSG_NOSIGNAL) != (ssize_t)len)
            break;          /* the listener closed: allowed */
    }
    shutdown(fd, SHUT_WR);
    while (got < sizeof answer && (n = recv(fd, answer + got, sizeof answer - got, 0)) > 0)
        got += (size_t)n;
    /* An answer, if any, is HTTP; no answer within the timeout is a hang. */
    require(got == 0 || (got >= 5 && memcmp(answer, "HTTP/", 5) == 0) || got < 5);
    close(fd);
    em_loopback_free(&lb);
    return 0;
}
