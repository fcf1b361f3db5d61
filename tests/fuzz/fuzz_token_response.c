/* fuzz_token_response.c - em_oidc_parse_token_response and
 * em_oidc_map_error on untrusted token endpoint bodies.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/oidc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* require() without NDEBUG's say: the replay tests build as RelWithDebInfo. */
static void require(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const time_t now = 1700000000;
    const char *body = (const char *)data;
    em_tokens *tokens = NULL;
    em_error err = {0};
    int rc = em_oidc_parse_token_response(&tokens, body, size, now, &err);

    if (rc == EM_OK) {
        require(tokens != NULL && tokens->access_token != NULL && tokens->access_token[0] != '\0');
        require(tokens->expires_at > now);
        require(tokens->refresh_at > now && tokens->refresh_at <= tokens->expires_at);
    } else {
        require(tokens == NULL);
        require(rc == EM_EBADRESPONSE || rc == EM_ENOMEM);
    }
    em_tokens_free(&tokens);

    memset(&err, 0, sizeof err);
    rc = em_oidc_map_error(body, size, 400, &err);
    require(rc < EM_OK && rc > EM__LAST);
    require(err.code == rc);
    require(err.http_status == 400);
    /* One line for humans, no control characters; codes are printable. */
    require(memchr(err.message, '\0', sizeof err.message) != NULL);
    for (const char *p = err.message; *p != '\0'; p++)
        require((unsigned char)*p >= 0x20 && *p != 0x7f);
    for (const char *p = err.server_code; *p != '\0'; p++)
        require(*p >= 0x20 && *p <= 0x7e);
    return 0;
}
