/* fuzz_mi_answer.c - managed identity answers (IMDS, App Service),
 * em_mi_parse_answer: tokens from a 2xx, the error of any other status.
 *
 * Input: byte 0 picks the status; the rest is the body.
 */
#include "fuzz_common.h"
#include "identity/mi.h"

static const long statuses[] = {200, 200, 200, 400, 401, 403, 404, 429, 500, 503, 201, 302};

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const time_t now = 1700000000;
    em_http_response resp = {0};
    em_tokens *t = NULL;
    em_error err = {0};
    int rc;

    if (size < 1)
        return 0;
    resp.status = statuses[data[0] % 12];
    require(em_buf_append(&resp.body, data + 1, size - 1) == EM_OK);
    rc = em_mi_parse_answer(&t, &resp, now, &err);
    if (rc == EM_OK) {
        require(resp.status >= 200 && resp.status <= 299);
        require(t != NULL && t->access_token != NULL && t->access_token[0] != '\0');
        require(t->expires_at > now && t->refresh_at <= t->expires_at);
        require(t->refresh_token == NULL);
    } else {
        require(t == NULL);
        require(rc < EM_OK && rc > EM__LAST);
        require_clean_error(&err);
    }
    em_tokens_free(&t);
    em_http_response_free(&resp);
    require(em_json_outstanding() == 0);
    return 0;
}
