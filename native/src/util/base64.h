/* base64.h - base64url and base64 for tokens, PKCE and certificates.
 * Every function returns EM_OK, EM_EINVAL (not base64) or EM_ENOMEM.
 */
#ifndef EM_BASE64_H
#define EM_BASE64_H

#include <stddef.h>

/* base64url without padding; caller frees. *out_len gets the length. */
int em_base64url_decode(unsigned char **out, size_t *out_len, const char *in, size_t in_len);
int em_base64url_encode(char **out, const unsigned char *in, size_t in_len);
/* base64 in the standard or URL alphabet, '=' padding optional (claims
 * challenges, PFX bytes from the module); caller frees (+1 NUL byte kept). */
int em_base64_decode(unsigned char **out, size_t *out_len, const char *in, size_t in_len);

#endif
