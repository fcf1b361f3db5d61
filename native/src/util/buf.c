/* buf.c - growable, NUL-terminated byte buffer; wiped on free. */
#include "util/buf.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

/* Makes room for extra more bytes plus the terminator. Growing copies into a
 * new block and wipes the old one, since buffers often hold tokens. */
static int buf_reserve(em_buf *buf, size_t extra)
{
    size_t need, cap;
    char *data;

    if (extra > SIZE_MAX - buf->len - 1)
        return EM_ENOMEM;
    need = buf->len + extra + 1;
    if (need <= buf->cap)
        return EM_OK;
    cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    data = malloc(cap);
    if (data == NULL)
        return EM_ENOMEM;
    if (buf->data != NULL) {
        memcpy(data, buf->data, buf->len + 1);
        OPENSSL_cleanse(buf->data, buf->cap);
        free(buf->data);
    }
    buf->data = data;
    buf->cap = cap;
    return EM_OK;
}

int em_buf_append(em_buf *buf, const void *data, size_t len)
{
    if (buf_reserve(buf, len) != EM_OK)
        return EM_ENOMEM;
    if (len > 0)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return EM_OK;
}

int em_buf_puts(em_buf *buf, const char *s)
{
    return em_buf_append(buf, s, strlen(s));
}

int em_buf_printf(em_buf *buf, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return EM_ENOMEM;
    if (buf_reserve(buf, (size_t)n) != EM_OK)
        return EM_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
    return EM_OK;
}

char *em_buf_detach(em_buf *buf)
{
    char *data;

    if (buf->data == NULL)
        return strdup("");
    data = buf->data;
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    return data;
}

void em_buf_free(em_buf *buf)
{
    if (buf->data != NULL) {
        OPENSSL_cleanse(buf->data, buf->cap);
        free(buf->data);
    }
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void em_free_secret(char **s)
{
    if (s == NULL || *s == NULL)
        return;
    OPENSSL_cleanse(*s, strlen(*s));
    free(*s);
    *s = NULL;
}

int em_strdup_opt(char **out, const char *s)
{
    *out = NULL;
    if (s == NULL)
        return EM_OK;
    *out = strdup(s);
    return *out != NULL ? EM_OK : EM_ENOMEM;
}
