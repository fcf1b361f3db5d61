/* fuzz_claims_challenge.c - em_oidc_parse_claims_challenge on untrusted
 * WWW-Authenticate header values.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "identity/oidc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = malloc(size + 1);
    char *claims = NULL;
    em_error err = {0};
    int rc = EM_OK;

    if (header == NULL)
        return 0;
    memcpy(header, data, size);
    header[size] = '\0';
    rc = em_oidc_parse_claims_challenge(&claims, header, &err);
    if (rc == EM_OK) {
        yajl_val root = NULL;
        /* What comes out is a JSON object. */
        require(claims != NULL);
        require(em_json_parse(&root, claims, strlen(claims), NULL) == EM_OK && YAJL_IS_OBJECT(root));
        em_json_free(&root);
    } else {
        require(claims == NULL);
        require(rc == EM_ENOTFOUND || rc == EM_EBADRESPONSE || rc == EM_ENOMEM);
    }
    free(claims);
    free(header);
    return 0;
}
