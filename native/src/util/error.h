/* error.h - the helper's one error enum and the error value every call fills.
 *
 * Every function that can fail returns an em_code (EM_OK = 0, negative on
 * failure) and, when given one, fills a caller-owned em_error with a message
 * for humans. Numbers never change; new codes go before EM__LAST.
 * Messages never contain a secret.
 */
#ifndef EM_ERROR_H
#define EM_ERROR_H

#include <stddef.h>

typedef enum em_code {
    EM_OK = 0,
    EM_ENOMEM = -1,         /* OutOfMemory */
    EM_EINVAL = -2,         /* InvalidParams */
    EM_EPARSE = -3,         /* ParseError: a line that is not JSON */
    EM_EREQUEST = -4,       /* InvalidRequest: not JSON-RPC, or too long */
    EM_ENOMETHOD = -5,      /* MethodNotFound */
    EM_ECANCELLED = -6,     /* Cancelled */
    EM_ETIMEOUT = -7,       /* Timeout */
    EM_ENETWORK = -8,       /* NetworkError */
    EM_ETLS = -9,           /* TlsError */
    EM_EHTTP = -10,         /* HttpError */
    EM_EBADRESPONSE = -11,  /* BadResponse */
    EM_EAUTH = -12,         /* AuthenticationFailed */
    EM_EDECLINED = -13,     /* AuthorizationDeclined */
    EM_EEXPIRED = -14,      /* DeviceCodeExpired */
    EM_EMFA = -15,          /* MfaRequired */
    EM_EGRANT = -16,        /* InvalidGrant */
    EM_ETOKEN = -17,        /* InvalidToken */
    EM_ENOCONN = -18,       /* ConnectionNotFound */
    EM_EEXCHANGE = -19,     /* ExchangeError */
    EM_ETHROTTLED = -20,    /* Throttled */
    EM_EACCESS = -21,       /* AccessDenied */
    EM_EUNAUTHORIZED = -22, /* Unauthorized */
    EM_EINTERNAL = -23,     /* Internal */
    EM_ECONFIG = -24,       /* ConfigurationError */
    EM_EDISABLED = -25,     /* AccountDisabled */
    EM_ENOTFOUND = -26,     /* NotFound */
    EM__LAST = -27
} em_code;

#define EM_ERROR_MESSAGE_MAX 512
#define EM_ERROR_CODE_MAX 128

/* Filled by a failing call; zero-initialise before use (em_error e = {0}). */
typedef struct em_error {
    em_code code;
    char message[EM_ERROR_MESSAGE_MAX];     /* for humans, no secrets */
    long http_status;                       /* 0 when not from HTTP */
    char server_code[EM_ERROR_CODE_MAX];    /* OAuth `error` or Exchange code; "" if none */
    long aadsts;                            /* AADSTS number, 0 if none */
    long retry_after;                       /* seconds, 0 if none */
    char target[EM_ERROR_CODE_MAX];         /* what it is about; "" if none */
    char exception_type[EM_ERROR_CODE_MAX]; /* Exchange exception class, short name; "" if none */
} em_error;

/* Sets code and a printf-style message; returns code so callers can write
 * `return em_error_set(err, EM_EINVAL, "...")`. err may be NULL. Keeps the
 * other fields as they are. */
em_code em_error_set(em_error *err, em_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts prefix before err's message (cut to fit); returns err's code. */
em_code em_error_prefix(em_error *err, const char *prefix);

/* Resets every field to its empty value. err may be NULL. */
void em_error_clear(em_error *err);

/* Stable name of a code ("AuthorizationDeclined"); "Internal" for unknown. */
const char *em_code_name(em_code code);

#endif
