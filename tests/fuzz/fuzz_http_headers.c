/* fuzz_http_headers.c - received header lines (em_http_keep_header), then
 * what reads them: Retry-After and x-ExceptionType in the retry decision,
 * WWW-Authenticate's claims challenge, content-type kept as sent.
 *
 * Input: byte 0 picks the status (401, 429, 503, 500, 200...), the rest is
 * header lines split at '\n', as curl hands them over (CRLF kept).
 */
#include "exchange/exo.h"
#include "fuzz_common.h"
#include "net/http.h"
#include "identity/oidc.h"

static const long statuses[] = {200, 401, 403, 429, 500, 502, 503, 504};

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    em_http_response resp = {0};
    em_exo_retries done = {0};
    em_error err = {0};
    size_t start, i;
    char *claims = NULL;
    long wait = -1;
    int rc;

    if (size < 1)
        return 0;
    resp.status = statuses[data[0] % 8];
    for (start = 1, i = 1; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            size_t end = i < size ? i + 1 : i;

            require(em_http_keep_header(&resp, (const char *)data + start, end - start) == EM_OK);
            start = end;
        }
    }
    /* Kept values lose the line's end (lines are split at '\n'). */
    require(resp.retry_after == NULL || strchr(resp.retry_after, '\n') == NULL);
    require(resp.content_type == NULL || strchr(resp.content_type, '\n') == NULL);
    done.waits = data[0] >> 5;
    if (em_exo_retry_decide(&wait, EM_OK, &resp, &done, (data[0] & 1) != 0, 2000, data[0]) == EM_EXO_WAIT)
        require(wait >= 0 && wait <= EM_EXO_WAIT_MAX_MS);
    if (resp.www_authenticate != NULL) {
        rc = em_oidc_parse_claims_challenge(&claims, resp.www_authenticate, &err);
        require(rc == EM_OK || rc == EM_ENOTFOUND || rc == EM_EBADRESPONSE || rc == EM_ENOMEM);
        require((rc == EM_OK) == (claims != NULL));
        free(claims);
    }
    memset(&err, 0, sizeof err);
    rc = em_exo_map_error(&resp, &err);
    require(rc < EM_OK && rc > EM__LAST);
    require_clean_error(&err);
    em_http_response_free(&resp);
    require(em_json_outstanding() == 0);
    return 0;
}
