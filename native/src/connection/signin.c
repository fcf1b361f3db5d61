/* signin.c - one function per sign-in mode, over oidc.h, cert.h, mi.h and
 * jwt.h. */
#include "connection/signin.h"
#include "util/buf.h"
#include "identity/cert.h"
#include "identity/jwt.h"
#include "identity/mi.h"
#include "protocol/protocol.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct em_signin {
    em_cert *cert;              /* certificate mode */
    char *token_file;           /* federated: AZURE_FEDERATED_TOKEN_FILE */
    char *mi_account_id;        /* managedIdentity: or NULL */
};

static em_oidc_client client_of(const em_conn_resolved *r, const em_conn_settings *s)
{
    em_oidc_client client = {
        .client_id = r->client_id,
        .scope = r->scope,
        .login_hint = s != NULL ? s->upn : NULL,
    };

    return client;
}

/* Turns a certificate loading error into InvalidParams naming field (the
 * protocol's "missing or unreadable certificate"); a wrong password and
 * memory errors keep their code. */
static int cert_error(int rc, const char *field, em_error *err)
{
    char message[EM_ERROR_MESSAGE_MAX];

    if (rc == EM_ENOMEM || rc == EM_EAUTH)
        return rc;
    snprintf(message, sizeof(message), "%s", err != NULL ? err->message : "");
    em_error_set(err, EM_EINVAL, "%s: %s", field, message);
    if (err != NULL)
        snprintf(err->target, sizeof(err->target), "%s", field);
    return EM_EINVAL;
}

static int load_certificate(em_signin *si, const em_conn_settings *s, em_error *err)
{
    const char *field;
    int rc;

    if (s->cert_file != NULL) {
        field = EM_F_CERTFILE;
        rc = em_cert_load_file(&si->cert, s->cert_file, s->cert_key_file, s->cert_password, err);
    } else if (s->cert_data != NULL) {
        field = EM_F_CERTDATA;
        rc = em_cert_load_pfx_base64(&si->cert, s->cert_data, s->cert_password, err);
    } else {
        field = EM_F_CERTTHUMBPRINT;
        rc = em_cert_find_thumbprint(&si->cert, NULL, s->cert_thumbprint, err);
    }
    if (rc == EM_OK)
        rc = em_cert_check_validity(si->cert, time(NULL), err);
    return rc == EM_OK ? EM_OK : cert_error(rc, field, err);
}

static bool is_tenant(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-')
            return false;
    }
    return true;
}

/* The authority of a federated sign-in: the asked-for authority override
 * (resolved with the organization, else with AZURE_TENANT_ID), else
 * AZURE_AUTHORITY_HOST with the tenant (the organization, else
 * AZURE_TENANT_ID). */
static int federated_authority(char **out, const em_conn_settings *s, const em_conn_resolved *r,
                               const em_oidc_federated_config *cfg, em_error *err)
{
    em_buf buf = EM_BUF_INIT;

    *out = NULL;
    if (s->authority != NULL && s->organization != NULL)
        *out = strdup(r->authority);
    else if (s->authority != NULL)
        em_buf_printf(&buf, "%s/%s", r->authority, cfg->tenant_id);
    else
        *out = strdup(cfg->authority);
    if (*out == NULL)
        *out = em_buf_detach(&buf);
    em_buf_free(&buf);
    return *out != NULL ? EM_OK : em_error_set(err, EM_ENOMEM, "out of memory");
}

static int setup_federated(em_signin *si, const em_conn_settings *s, em_conn_resolved *r,
                           em_error *err)
{
    em_oidc_federated_config cfg;
    char *authority = NULL, *client_id = NULL;
    int rc = em_oidc_federated_config_read(&cfg, s->app_id, s->organization, err);

    if (rc != EM_OK)
        goto clear;
    if (!is_tenant(cfg.tenant_id)) {
        rc = em_error_set(err, EM_ECONFIG, "AZURE_TENANT_ID must be a tenant domain or id");
        goto clear;
    }
    rc = federated_authority(&authority, s, r, &cfg, err);
    if (rc != EM_OK)
        goto clear;
    if (s->app_id == NULL && (client_id = strdup(cfg.client_id)) == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto clear;
    }
    free(r->authority);
    r->authority = authority;
    authority = NULL;
    if (client_id != NULL) {
        free(r->client_id);
        r->client_id = client_id;
        client_id = NULL;
    }
    si->token_file = cfg.token_file;
    cfg.token_file = NULL;
clear:
    free(authority);
    free(client_id);
    em_oidc_federated_config_clear(&cfg);
    return rc;
}

int em_signin_new(em_signin **out, const em_conn_settings *s, em_conn_resolved *r, em_error *err)
{
    em_signin *si = calloc(1, sizeof(*si));
    int rc = EM_OK;

    *out = NULL;
    if (si == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    if (r->mode == EM_CONN_CERTIFICATE)
        rc = load_certificate(si, s, err);
    else if (r->mode == EM_CONN_FEDERATED)
        rc = setup_federated(si, s, r, err);
    else if (r->mode == EM_CONN_MANAGED_IDENTITY && s->mi_account_id != NULL &&
             (si->mi_account_id = strdup(s->mi_account_id)) == NULL)
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
    if (rc != EM_OK) {
        em_signin_free(&si);
        return rc;
    }
    *out = si;
    return EM_OK;
}

void em_signin_free(em_signin **signin)
{
    if (signin == NULL || *signin == NULL)
        return;
    em_cert_free(&(*signin)->cert);
    free((*signin)->token_file);
    free((*signin)->mi_account_id);
    free(*signin);
    *signin = NULL;
}

static int dup_claim(char **out, const char *value)
{
    *out = NULL;
    if (value == NULL)
        return EM_OK;
    *out = strdup(value);
    return *out != NULL ? EM_OK : EM_ENOMEM;
}

/* -AccessToken: checked for expiry and audience, then carried as is. It
 * cannot be renewed, so refresh_at is its expiry. */
static int from_access_token(em_tokens **out, const char *token, const char *resource,
                             em_error *err)
{
    em_jwt_claims *claims = NULL;
    em_tokens *t = NULL;
    int rc;

    *out = NULL;
    rc = em_jwt_check_access_token(&claims, token, resource, time(NULL), err);
    if (rc != EM_OK)
        return rc;
    t = calloc(1, sizeof(*t));
    if (t == NULL || dup_claim(&t->access_token, token) != EM_OK ||
        dup_claim(&t->tenant_id, claims->tid) != EM_OK ||
        dup_claim(&t->username, claims->upn ? claims->upn : claims->preferred_username) != EM_OK ||
        dup_claim(&t->display_name, claims->name) != EM_OK ||
        dup_claim(&t->object_id, claims->oid) != EM_OK) {
        em_tokens_free(&t);
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
    } else {
        t->expires_at = claims->exp;
        t->refresh_at = claims->exp;
        *out = t;
    }
    em_jwt_claims_free(&claims);
    return rc;
}

int em_signin_first(em_tokens **out, em_signin *si, em_oidc_provider *provider,
                    const em_conn_resolved *r, const em_conn_settings *s, em_request *req,
                    em_error *err)
{
    em_oidc_client client = client_of(r, s);
    em_oidc_interactive_options options = {
        .prompt = r->prompt,
        .no_browser = r->no_browser,
        .timeout_ms = r->timeout_ms,
        .redirect_uri = r->redirect_uri,
    };

    *out = NULL;
    switch (r->mode) {
    case EM_CONN_DEVICE:
        return em_oidc_device_flow(out, provider, &client, req, err);
    case EM_CONN_INTERACTIVE:
        return em_oidc_interactive_flow(out, provider, &client, &options, req, err);
    case EM_CONN_PASSWORD:
        return em_oidc_password(out, provider, &client, s->upn, s->password, req, err);
    case EM_CONN_ACCESS_TOKEN:
        return from_access_token(out, s->access_token, r->resource, err);
    case EM_CONN_CERTIFICATE:
    case EM_CONN_MANAGED_IDENTITY:
    case EM_CONN_FEDERATED:
        return em_signin_again(out, si, provider, r, req, err);
    }
    return em_error_set(err, EM_EINTERNAL, "unknown sign-in mode");
}

int em_signin_again(em_tokens **out, em_signin *si, em_oidc_provider *provider,
                    const em_conn_resolved *r, em_request *req, em_error *err)
{
    em_oidc_client client = client_of(r, NULL);
    em_mi_options mi = {.resource = r->resource, .account_id = si->mi_account_id};

    *out = NULL;
    switch (r->mode) {
    case EM_CONN_CERTIFICATE:
        return em_oidc_certificate(out, provider, &client, si->cert, (em_jwt_alg)r->assertion_alg,
                                   req, err);
    case EM_CONN_FEDERATED:
        return em_oidc_federated(out, provider, &client, si->token_file, req, err);
    case EM_CONN_MANAGED_IDENTITY:
        return em_mi_token(out, &mi, req, err);
    default:
        break;
    }
    return em_error_set(err, EM_EINTERNAL, "this sign-in mode is renewed by refresh, not again");
}
