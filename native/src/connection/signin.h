/* signin.h - how each sign-in mode of `connect` gets a token: the first
 * sign-in, and for app-only modes the sign-in again that stands for a
 * renewal. The token cache and the renewal policy are connection.c's.
 *
 * An em_signin holds what a mode needs again later: the certificate (key
 * in memory, freed with the em_signin), the federated token file name, the
 * managed identity account id. Secrets given only for the first sign-in
 * (password, access token, certificate password and bytes) are borrowed
 * from the settings and never kept.
 */
#ifndef EM_SIGNIN_H
#define EM_SIGNIN_H

#include "connection/connection.h"
#include "util/error.h"
#include "identity/oidc.h"
#include "protocol/request.h"

typedef struct em_signin em_signin;

/* Prepares mode-specific state from s (checked by em_conn_resolve) and r.
 * certificate: loads the certificate (file, base64 PFX or thumbprint) and
 * checks its dates; a missing, unreadable or expired certificate is
 * EM_EINVAL with err->target naming the field (a wrong password stays
 * EM_EAUTH). federated: reads AZURE_* (em_oidc_federated_config_read) and
 * rewrites r->authority and r->client_id (appId and organization win).
 * Caller frees with em_signin_free. */
int em_signin_new(em_signin **out, const em_conn_settings *s, em_conn_resolved *r, em_error *err);
void em_signin_free(em_signin **signin);

/* The first sign-in of r->mode. provider is NULL for managedIdentity and
 * accessToken (no discovery needed). s supplies the secrets and the UPN.
 * Caller frees *out with em_tokens_free. */
int em_signin_first(em_tokens **out, em_signin *signin, em_oidc_provider *provider,
                    const em_conn_resolved *r, const em_conn_settings *s, em_request *req,
                    em_error *err);

/* App-only modes (certificate, managedIdentity, federated): a new token the
 * same way as the first (new assertion, federated file re-read, the
 * identity endpoint asked again). Caller frees *out. */
int em_signin_again(em_tokens **out, em_signin *signin, em_oidc_provider *provider,
                    const em_conn_resolved *r, em_request *req, em_error *err);

#endif
