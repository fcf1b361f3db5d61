/* guid.c - version 4 GUIDs from OpenSSL's CSPRNG. */
#include "util/guid.h"
#include "util/error.h"

#include <stdio.h>
#include <openssl/err.h>
#include <openssl/rand.h>

int em_guid_new(char out[EM_GUID_LEN + 1])
{
    unsigned char b[16];

    ERR_clear_error();
    if (RAND_bytes(b, sizeof(b)) != 1) {
        ERR_clear_error();
        out[0] = '\0';
        return EM_EINTERNAL;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    snprintf(out, EM_GUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
             b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return EM_OK;
}
