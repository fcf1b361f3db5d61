/* mi.h - managed identity tokens (Azure App Service, Functions, Automation
 * and virtual machines).
 *
 * With IDENTITY_ENDPOINT and IDENTITY_HEADER in the helper's environment:
 *   GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=<r>[&client_id|&mi_res_id]
 *   headers X-IDENTITY-HEADER: $IDENTITY_HEADER, Metadata: true.
 * Otherwise IMDS:
 *   GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=<r>
 *   [&client_id|&msi_res_id], header Metadata: true; the base address can be
 *   replaced with EXCHANGEMFA_IMDS_ENDPOINT (tests serve it on loopback).
 *   404, 429 and 5xx are retried after 2, 6, 14 and 30 seconds (five tries).
 * The header secret is read here and never passed on (browser.c keeps it
 * out of children's environments); messages never quote it or a token.
 */
#ifndef EM_MI_H
#define EM_MI_H

#include "util/error.h"
#include "net/http.h"
#include "identity/oidc.h"
#include "protocol/request.h"

typedef struct em_mi_options {
    const char *resource;       /* e.g. "https://outlook.office365.com" (no /.default); required */
    const char *account_id;     /* ManagedIdentityAccountId: a GUID (client id of a user-assigned
                                   identity) or an Azure resource id ("/subscriptions/..."); or NULL */
    long retry_unit_ms;         /* IMDS waits are 0, 2, 6, 14, 30 units; 0 = 1000 (tests scale it down) */
} em_mi_options;

/* Gets a token for options->resource. *out has access_token, expires_at
 * (expires_on, else now + expires_in), refresh_at (half the lifetime when
 * it is 2 hours or more, else 5 minutes before expiry), and tenant_id /
 * object_id from the token's unverified claims; no refresh token, no
 * username. Errors: EM_EINVAL (account id neither GUID nor resource id),
 * EM_ENETWORK (no endpoint answered: not on Azure?), EM_ECONFIG (the
 * identity or resource is unknown: HTTP 400/404 after retries),
 * EM_EACCESS (401/403), EM_EHTTP, EM_EBADRESPONSE, EM_ECANCELLED (also
 * during a wait). Caller frees *out with em_tokens_free. */
int em_mi_token(em_tokens **out, const em_mi_options *options, em_request *ctx, em_error *err);

/* One answer of the endpoint (exposed for tests/fuzz): a 2xx gives *out as
 * em_mi_token describes, any other status its error. */
int em_mi_parse_answer(em_tokens **out, const em_http_response *resp, time_t now, em_error *err);

#endif
