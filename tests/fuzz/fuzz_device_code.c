/* fuzz_device_code.c - the device authorization answer (RFC 8628 3.2,
 * and Microsoft's v1 spelling), em_oidc_parse_device_code.
 */
#include "fuzz_common.h"
#include "identity/oidc.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    em_oidc_device_code dc = {0};
    em_error err = {0};
    int rc = em_oidc_parse_device_code(&dc, (const char *)data, size, &err);

    if (rc == EM_OK) {
        require(dc.device_code != NULL && dc.user_code != NULL && dc.verification_uri != NULL);
        require(dc.expires_in > 0);
        require(dc.interval >= 1);     /* never polls faster than once a second */
    } else {
        require(rc == EM_EBADRESPONSE || rc == EM_ENOMEM);
        require_clean_error(&err);
    }
    em_oidc_device_code_clear(&dc);
    require(dc.device_code == NULL);
    require(em_json_outstanding() == 0);
    return 0;
}
