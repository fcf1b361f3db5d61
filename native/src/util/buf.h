/* buf.h - a growable byte buffer, always NUL-terminated.
 *
 * Used for HTTP bodies, form bodies and JSON text. em_buf_free wipes the
 * bytes first (OPENSSL_cleanse), since buffers often hold tokens.
 */
#ifndef EM_BUF_H
#define EM_BUF_H

#include <stddef.h>

typedef struct em_buf {
    char *data;     /* NULL until the first append; NUL-terminated after */
    size_t len;     /* bytes used, terminator excluded */
    size_t cap;     /* bytes allocated */
} em_buf;

#define EM_BUF_INIT {NULL, 0, 0}

/* Appends len bytes. Returns EM_OK or EM_ENOMEM (the buffer is unchanged). */
int em_buf_append(em_buf *buf, const void *data, size_t len);
int em_buf_puts(em_buf *buf, const char *s);
int em_buf_printf(em_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the bytes to the caller (who frees with free() after wiping if
 * secret) and leaves the buffer empty. Returns "" copy when empty; NULL on ENOMEM. */
char *em_buf_detach(em_buf *buf);

/* Wipes and frees the bytes; the buffer is empty and reusable afterwards. */
void em_buf_free(em_buf *buf);

/* *out = a copy of s, or NULL when s is NULL. Returns EM_OK or EM_ENOMEM.
 * Caller frees *out. */
int em_strdup_opt(char **out, const char *s);

/* Wipes and frees a NUL-terminated secret string and NULLs the pointer. */
void em_free_secret(char **s);

#endif
