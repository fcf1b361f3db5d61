/* fuzz_discovery.c - the OpenID discovery document (em_oidc_provider_parse).
 *
 * Input: byte 0 says whether the document came from the standard place;
 * the rest is the body. An accepted provider keeps the authority's origin
 * for its issuer and the authority's scheme for every endpoint.
 */
#include <strings.h>

#include "fuzz_common.h"
#include "identity/oidc.h"

#define AUTHORITY "https://login.example.test/organizations"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    em_oidc_provider *p = NULL;
    em_error err = {0};
    int rc;

    if (size < 1)
        return 0;
    rc = em_oidc_provider_parse(&p, AUTHORITY, (data[0] & 1) != 0, (const char *)data + 1, size - 1, &err);
    if (rc == EM_OK) {
        require(p != NULL);
        require(strncasecmp(em_oidc_issuer(p), "https://login.example.test/", 27) == 0);
        /* schemes compare without case (RFC 3986 3.1) */
        require(strncasecmp(em_oidc_token_endpoint(p), "https://", 8) == 0);
        require(em_oidc_authorization_endpoint(p) == NULL ||
                strncasecmp(em_oidc_authorization_endpoint(p), "https://", 8) == 0);
    } else {
        require(p == NULL);
        require(rc == EM_EBADRESPONSE || rc == EM_ENOMEM);
        require_clean_error(&err);
    }
    em_oidc_provider_free(&p);
    require(em_json_outstanding() == 0);
    return 0;
}
