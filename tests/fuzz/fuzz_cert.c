/* fuzz_cert.c - certificate files: PEM (certificate and key, encrypted or
 * not) and PFX/PKCS#12, em_cert_load_pem and em_cert_load_pfx.
 *
 * Input: byte 0 picks the format and the password; the rest is the file.
 */
#include "identity/cert.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const char *const passwords[] = {NULL, "", "test", "Pa55-w\"0rd!"};
    em_cert *cert = NULL;
    em_error err = {0};
    const char *password;
    int rc;

    if (size < 1)
        return 0;
    password = passwords[(data[0] >> 1) & 3];
    if (data[0] & 1)
        rc = em_cert_load_pfx(&cert, data + 1, size - 1, password, &err);
    else
        rc = em_cert_load_pem(&cert, (const char *)data + 1, size - 1, password, &err);
    if (rc == EM_OK) {
        require(cert != NULL);
        require(strlen(em_cert_thumbprint(cert)) == 40);
        require(em_cert_x5t(cert)[0] != '\0' && em_cert_x5t_s256(cert)[0] != '\0');
    } else {
        require(cert == NULL);
        require_clean_error(&err);
    }
    em_cert_free(&cert);
    return 0;
}
