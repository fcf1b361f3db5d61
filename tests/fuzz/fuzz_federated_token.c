/* fuzz_federated_token.c - the federated token file (AZURE_FEDERATED_TOKEN_FILE),
 * em_oidc_read_federated_token: written to a private temporary file and
 * read back as the helper reads it, up to past its 16 KiB limit.
 */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <stdio.h>
#include <unistd.h>

#include "util/buf.h"
#include "fuzz_common.h"
#include "identity/oidc.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char path[64];
    char *token = NULL;
    em_error err = {0};
    FILE *f;
    int rc;

    if (path[0] == '\0') {
        int fd;

        snprintf(path, sizeof path, "/tmp/fuzz_federated_XXXXXX");
        fd = mkstemp(path);
        require(fd >= 0);
        close(fd);
    }
    f = fopen(path, "wb");
    require(f != NULL);
    require(fwrite(data, 1, size, f) == size);
    fclose(f);
    rc = em_oidc_read_federated_token(&token, path, &err);
    if (rc == EM_OK) {
        size_t n = strlen(token);

        require(size <= 16 * 1024 && n > 0 && n <= size);
        require(!isspace((unsigned char)token[0]) && !isspace((unsigned char)token[n - 1]));
        require(memmem(data, size, token, n) != NULL);
    } else {
        require(token == NULL && rc == EM_ECONFIG);
        require_clean_error(&err);
    }
    em_free_secret(&token);
    return 0;
}
