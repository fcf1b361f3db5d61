/* fuzz_exo_error.c - Exchange's error answers: em_exo_map_error on the
 * body, and the retry decision on the whole answer.
 *
 * Input: byte 0 picks the status, byte 1 the transport code and the
 * retries so far, then "Retry-After\nx-ExceptionType\n" values, then the body.
 */
#include "exchange/exo.h"
#include "fuzz_common.h"

static const long statuses[] = {400, 401, 403, 404, 429, 500, 502, 503, 504, 200, 302, 999};
static const int transport[] = {EM_OK, EM_OK, EM_OK, EM_OK, EM_ENETWORK, EM_ETIMEOUT, EM_ETLS, EM_ECANCELLED};

/* The next '\n'-ended field of *data as a string (caller frees), or NULL when absent/empty. */
static char *take_field(const unsigned char **data, size_t *size)
{
    const unsigned char *nl = memchr(*data, '\n', *size);
    size_t n = nl != NULL ? (size_t)(nl - *data) : 0;
    char *s = NULL;

    if (nl == NULL)
        return NULL;
    if (n > 0)
        s = input_string(*data, n);
    *data += n + 1;
    *size -= n + 1;
    return s;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    em_http_response resp = {0};
    em_exo_retries done = {0};
    em_error err = {0};
    long wait = -1;
    int rc, trc;
    em_exo_retry_action action;
    bool replayable;

    if (size < 2)
        return 0;
    resp.status = statuses[data[0] % 12];
    trc = transport[data[1] & 7];
    replayable = (data[0] & 0x80) != 0;
    done.waits = (data[1] >> 3) & 7;
    done.timeouts = (data[1] >> 6) & 1;
    done.renewed = (data[1] >> 7) != 0;
    data += 2;
    size -= 2;
    resp.retry_after = take_field(&data, &size);
    resp.exception_type = take_field(&data, &size);
    require(em_buf_append(&resp.body, data, size) == EM_OK);

    rc = em_exo_map_error(&resp, &err);
    require(rc < EM_OK && rc > EM__LAST);
    require(err.code == rc);
    require_clean_error(&err);
    for (const char *p = err.server_code; *p != '\0'; p++)
        require(*p >= 0x20 && *p <= 0x7e);

    action = em_exo_retry_decide(&wait, trc, trc == EM_OK ? &resp : NULL, &done,
                                 replayable, 2000, (unsigned)size);
    if (action == EM_EXO_WAIT) {
        require(wait >= 0 && wait <= EM_EXO_WAIT_MAX_MS);
        require(done.waits < EM_EXO_RETRIES_MAX);
    }
    if (action == EM_EXO_RENEW || action == EM_EXO_CLAIMS)
        require(!done.renewed && trc == EM_OK && resp.status == 401);
    em_http_response_free(&resp);
    require(em_json_outstanding() == 0);
    return 0;
}
