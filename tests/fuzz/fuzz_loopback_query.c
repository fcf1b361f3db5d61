/* fuzz_loopback_query.c - em_loopback_parse_query and em_loopback_check on
 * untrusted callback query strings (anything on this machine can send
 * them to the loopback listener).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/loopback.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const em_loopback_expect expect = {"Zm9vYmFyYmF6cXV4cXV1eHF1dXpxdXV6cXV1enF1dXo",
                                       "https://login.microsoftonline.com/{tenantid}/v2.0", size % 2 == 0};
    em_loopback_callback cb;
    em_error err = {0};
    int rc = em_loopback_parse_query(&cb, (const char *)data, size, &err);

    if (rc == EM_OK) {
        memset(&err, 0, sizeof err);
        rc = em_loopback_check(&cb, &expect, &err);
        /* Accepted only with the exact state and a code. */
        if (rc == EM_OK)
            require(cb.state != NULL && strcmp(cb.state, expect.state) == 0 && cb.code != NULL &&
                    cb.code[0] != '\0');
        require(rc <= EM_OK && rc > EM__LAST);
        require(memchr(err.message, '\0', sizeof err.message) != NULL);
        for (const char *p = err.message; *p != '\0'; p++)
            require((unsigned char)*p >= 0x20 && *p != 0x7f);
    } else {
        require(rc == EM_EINVAL || rc == EM_ENOMEM);
    }
    em_loopback_callback_clear(&cb);
    return 0;
}
