/* error.c - em_error helpers and the stable error names. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

em_code em_error_set(em_error *err, em_code code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    /* Messages quote what servers sent (an issuer, a description): one
     * line, no control characters that a terminal would act on. */
    for (char *p = err->message; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    return code;
}

em_code em_error_prefix(em_error *err, const char *prefix)
{
    char message[EM_ERROR_MESSAGE_MAX];

    if (err == NULL)
        return EM_EINTERNAL;
    snprintf(message, sizeof(message), "%s", err->message);
    snprintf(err->message, sizeof(err->message), "%s%s", prefix, message);
    return err->code;
}

void em_error_clear(em_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}

/* Indexed by -code; the names are part of the protocol and never change. */
static const char *const code_names[] = {
    "OK", "OutOfMemory", "InvalidParams", "ParseError", "InvalidRequest",
    "MethodNotFound", "Cancelled", "Timeout", "NetworkError", "TlsError",
    "HttpError", "BadResponse", "AuthenticationFailed", "AuthorizationDeclined",
    "DeviceCodeExpired", "MfaRequired", "InvalidGrant", "InvalidToken",
    "ConnectionNotFound", "ExchangeError", "Throttled", "AccessDenied",
    "Unauthorized", "Internal", "ConfigurationError", "AccountDisabled",
    "NotFound",
};

_Static_assert(sizeof(code_names) / sizeof(code_names[0]) == (size_t)-EM__LAST,
               "one name per error code");

const char *em_code_name(em_code code)
{
    if (code > 0 || code <= EM__LAST)
        return "Internal";
    return code_names[-code];
}
