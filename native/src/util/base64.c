/* base64.c - base64url (JWTs, PKCE, thumbprints) and standard base64
 * (claims challenges, PFX bytes), shared by identity/ and its tests.
 * Decoded buffers are wiped on failure: they may hold key material.
 */
#include "util/base64.h"

#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>

#include <openssl/crypto.h>

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int em_base64url_decode(unsigned char **out, size_t *out_len, const char *in, size_t in_len)
{
    unsigned char *bytes = NULL;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (out == NULL || out_len == NULL || (in == NULL && in_len > 0))
        return EM_EINVAL;
    *out = NULL;
    *out_len = 0;
    /* A lone trailing character carries fewer than 8 bits: not base64. */
    if (in_len % 4 == 1)
        return EM_EINVAL;
    /* +1 keeps room for a terminator, so decoded JSON is a C string. */
    bytes = malloc(in_len / 4 * 3 + 3);
    if (bytes == NULL)
        return EM_ENOMEM;
    for (size_t i = 0; i < in_len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0) {
            OPENSSL_cleanse(bytes, in_len / 4 * 3 + 3);
            free(bytes);
            return EM_EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    bytes[n] = '\0';
    *out = bytes;
    *out_len = n;
    return EM_OK;
}

int em_base64url_encode(char **out, const unsigned char *in, size_t in_len)
{
    char *text = NULL;
    size_t n = 0;
    size_t i = 0;

    if (out == NULL || (in == NULL && in_len > 0))
        return EM_EINVAL;
    *out = NULL;
    if (in_len > (SIZE_MAX - 4) / 4 * 3)
        return EM_ENOMEM;
    text = malloc((in_len + 2) / 3 * 4 + 1);
    if (text == NULL)
        return EM_ENOMEM;
    for (i = 0; i + 2 < in_len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        text[n++] = b64url_alphabet[v >> 18];
        text[n++] = b64url_alphabet[(v >> 12) & 63];
        text[n++] = b64url_alphabet[(v >> 6) & 63];
        text[n++] = b64url_alphabet[v & 63];
    }
    if (in_len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        text[n++] = b64url_alphabet[v >> 18];
        text[n++] = b64url_alphabet[(v >> 12) & 63];
    } else if (in_len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        text[n++] = b64url_alphabet[v >> 18];
        text[n++] = b64url_alphabet[(v >> 12) & 63];
        text[n++] = b64url_alphabet[(v >> 6) & 63];
    }
    text[n] = '\0';
    *out = text;
    return EM_OK;
}

int em_base64_decode(unsigned char **out, size_t *out_len, const char *in, size_t in_len)
{
    char *url = NULL;
    size_t n = in_len;
    int rc = EM_OK;

    if (out == NULL || out_len == NULL || (in == NULL && in_len > 0))
        return EM_EINVAL;
    *out = NULL;
    *out_len = 0;
    /* Padding only at the end, at most two characters. */
    while (n > 0 && in_len - n < 2 && in[n - 1] == '=')
        n--;
    url = malloc(n + 1);
    if (url == NULL)
        return EM_ENOMEM;
    for (size_t i = 0; i < n; i++)
        url[i] = in[i] == '+' ? '-' : in[i] == '/' ? '_' : in[i];
    rc = em_base64url_decode(out, out_len, url, n);
    OPENSSL_cleanse(url, n);
    free(url);
    return rc;
}
