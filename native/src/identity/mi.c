/* mi.c - managed identity: the App Service/Functions/Automation endpoint
 * and IMDS with its retry schedule. */
#define _POSIX_C_SOURCE 200809L

#include "identity/mi.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "util/buf.h"
#include "net/http.h"
#include "util/json.h"
#include "identity/jwt.h"

#define MI_IMDS_DEFAULT "http://169.254.169.254/metadata/identity/oauth2/token"
#define MI_APPSERVICE_VERSION "2019-08-01"
#define MI_IMDS_VERSION "2018-02-01"
#define MI_MAX_BODY (1024 * 1024)
#define MI_APPSERVICE_TIMEOUT_MS 30000L
#define MI_IMDS_TIMEOUT_MS 10000L
#define MI_MAX_LIFETIME (10L * 365 * 24 * 3600)
#define MI_LONG_LIFETIME (2L * 3600)

/* Waits before each IMDS try, in retry units (seconds in production). */
static const long imds_waits[] = {0, 2, 6, 14, 30};

static bool is_guid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* The query of one request: api-version, resource and the identity
 * selector named id_name or res_name by the account id's shape. */
static int build_url(em_buf *url, const char *base, const char *version, const em_mi_options *o,
                     const char *res_name, em_error *err)
{
    em_buf query = EM_BUF_INIT;
    const char *id = o->account_id;
    int rc = EM_OK;

    if (em_http_form_add(&query, "api-version", version) != EM_OK ||
        em_http_form_add(&query, "resource", o->resource) != EM_OK)
        rc = EM_ENOMEM;
    if (rc == EM_OK && id != NULL && id[0] != '\0') {
        if (is_guid(id))
            rc = em_http_form_add(&query, "client_id", id);
        else if (strncasecmp(id, "/subscriptions/", 15) == 0)
            rc = em_http_form_add(&query, res_name, id);
        else
            rc = EM_EINVAL;
    }
    if (rc == EM_OK &&
        em_buf_printf(url, "%s%c%s", base, strchr(base, '?') != NULL ? '&' : '?', query.data) != EM_OK)
        rc = EM_ENOMEM;
    em_buf_free(&query);
    if (rc == EM_EINVAL)
        return em_error_set(err, EM_EINVAL, "the managed identity account id is neither a client id (GUID) "
                                            "nor a resource id (/subscriptions/...)");
    if (rc != EM_OK)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    return EM_OK;
}

static int tokens_from_answer(em_tokens **out, const em_http_response *resp, time_t now, em_error *err)
{
    yajl_val root = NULL;
    em_tokens *t = NULL;
    const char *token = NULL;
    const char *type = NULL;
    long long expires_on = 0, expires_in = 0;
    int have_on = 0, have_in = 0;
    long lifetime = 0;
    em_jwt_claims *claims = NULL;
    int rc = EM_OK;

    if (resp->body.len == 0 || em_json_parse(&root, resp->body.data, resp->body.len, NULL) != EM_OK ||
        !YAJL_IS_OBJECT(root)) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the managed identity answer is not a JSON object");
        goto out;
    }
    token = em_json_get_string(root, "access_token");
    type = em_json_get_string(root, "token_type");
    have_on = em_json_get_seconds(&expires_on, root, "expires_on");
    have_in = em_json_get_seconds(&expires_in, root, "expires_in");
    if (token == NULL || token[0] == '\0' || (type != NULL && strcasecmp(type, "Bearer") != 0) ||
        have_on < 0 || have_in < 0 || (have_on == 0 && have_in == 0)) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the managed identity answer lacks a usable access_token, "
                                                "token_type or expires_on");
        goto out;
    }
    lifetime = have_on > 0 ? (long)(expires_on - now) : (long)expires_in;
    if (lifetime <= 0 || lifetime > MI_MAX_LIFETIME) {
        rc = em_error_set(err, EM_EBADRESPONSE, "the managed identity token is already expired or its "
                                                "expiry is out of range (check the clock)");
        goto out;
    }
    t = calloc(1, sizeof *t);
    if (t != NULL)
        t->access_token = strdup(token);
    if (t == NULL || t->access_token == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto out;
    }
    t->expires_at = now + lifetime;
    /* MSAL's rule: long-lived tokens are renewed at half their life. */
    t->refresh_at = lifetime >= MI_LONG_LIFETIME ? now + lifetime / 2
                                                 : t->expires_at - (lifetime / 2 < 300 ? lifetime / 2 : 300);
    if (em_jwt_decode_claims(&claims, t->access_token, NULL) == EM_OK) {
        t->tenant_id = claims->tid == NULL ? NULL : strdup(claims->tid);
        t->object_id = claims->oid == NULL ? NULL : strdup(claims->oid);
        if ((claims->tid != NULL && t->tenant_id == NULL) || (claims->oid != NULL && t->object_id == NULL)) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
            goto out;
        }
    }
    *out = t;
    t = NULL;
out:
    em_jwt_claims_free(&claims);
    em_tokens_free(&t);
    em_json_free(&root);
    return rc;
}

/* A failed answer's status and the first line of its message. */
static int map_failure(const em_http_response *resp, em_error *err)
{
    yajl_val root = NULL;
    const char *text = NULL;
    char line[240] = "";
    em_code code = EM_EHTTP;
    size_t n = 0;

    if (resp->body.len > 0 && em_json_parse(&root, resp->body.data, resp->body.len, NULL) == EM_OK) {
        text = em_json_get_string(root, "error_description");
        if (text == NULL)
            text = em_json_get_string(root, "message");
        if (text == NULL)
            text = em_json_get_string(root, "Message");
        if (text == NULL)
            text = em_json_get_string(root, "error");
    }
    for (const char *p = text == NULL ? "" : text; *p != '\0' && *p != '\r' && *p != '\n' && n + 1 < sizeof line; p++) {
        if ((unsigned char)*p >= 0x20 && *p != 0x7f)
            line[n++] = *p;
    }
    while (n > 0 && ((unsigned char)line[n - 1] & 0xC0) == 0x80)
        n--;
    if (n > 0 && (unsigned char)line[n - 1] >= 0xC0)
        n--;
    line[n] = '\0';
    em_json_free(&root);
    if (resp->status == 400 || resp->status == 404)
        code = EM_ECONFIG;
    else if (resp->status == 401 || resp->status == 403)
        code = EM_EACCESS;
    if (err != NULL)
        err->http_status = resp->status;
    return em_error_set(err, code, "the managed identity endpoint answered HTTP %ld%s%s%s", resp->status,
                        line[0] != '\0' ? ": " : "", line,
                        code == EM_ECONFIG ? " (is the identity assigned, and the account id right?)" : "");
}

int em_mi_parse_answer(em_tokens **out, const em_http_response *resp, time_t now, em_error *err)
{
    *out = NULL;
    return resp->status >= 200 && resp->status <= 299 ? tokens_from_answer(out, resp, now, err)
                                                       : map_failure(resp, err);
}

static bool imds_retryable(long status)
{
    return status == 404 || status == 429 || (status >= 500 && status <= 599);
}

int em_mi_token(em_tokens **out, const em_mi_options *options, em_request *ctx, em_error *err)
{
    const char *endpoint = getenv("IDENTITY_ENDPOINT");
    const char *secret = getenv("IDENTITY_HEADER");
    const char *imds = getenv("EXCHANGEMFA_IMDS_ENDPOINT");
    bool app_service = endpoint != NULL && endpoint[0] != '\0' && secret != NULL && secret[0] != '\0';
    long unit = 0;
    em_buf url = EM_BUF_INIT;
    em_buf secret_header = EM_BUF_INIT;
    const char *headers[4] = {"Accept: application/json", "Metadata: true", NULL, NULL};
    em_http_request req = {.allow_http = true};   /* IMDS and App Service speak plain http */
    int tries = app_service ? 1 : (int)(sizeof imds_waits / sizeof imds_waits[0]);
    int rc = EM_OK;

    if (out == NULL || options == NULL || options->resource == NULL || options->resource[0] == '\0')
        return em_error_set(err, EM_EINVAL, "a managed identity token needs a resource");
    *out = NULL;
    unit = options->retry_unit_ms > 0 ? options->retry_unit_ms : 1000;
    if (imds == NULL || imds[0] == '\0')
        imds = MI_IMDS_DEFAULT;
    rc = app_service ? build_url(&url, endpoint, MI_APPSERVICE_VERSION, options, "mi_res_id", err)
                     : build_url(&url, imds, MI_IMDS_VERSION, options, "msi_res_id", err);
    if (rc != EM_OK)
        goto out;
    if (app_service) {
        if (em_buf_printf(&secret_header, "X-IDENTITY-HEADER: %s", secret) != EM_OK) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
            goto out;
        }
        headers[2] = secret_header.data;
    }
    req.method = "GET";
    req.url = url.data;
    req.headers = headers;
    req.max_body = MI_MAX_BODY;
    req.timeout_ms = app_service ? MI_APPSERVICE_TIMEOUT_MS : MI_IMDS_TIMEOUT_MS;
    for (int i = 0; i < tries; i++) {
        em_http_response resp = {0};

        if (!app_service && imds_waits[i] > 0 && em_request_sleep(ctx, imds_waits[i] * unit) != EM_OK) {
            rc = em_error_set(err, EM_ECANCELLED, "the sign-in was cancelled");
            break;
        }
        rc = em_http_perform(&resp, &req, ctx, err);
        if (rc == EM_ENETWORK || rc == EM_ETIMEOUT) {
            rc = em_error_set(err, EM_ENETWORK, app_service
                                  ? "the managed identity endpoint (IDENTITY_ENDPOINT) did not answer"
                                  : "no managed identity endpoint answered: IDENTITY_ENDPOINT is not set and "
                                    "the instance metadata service (IMDS) is unreachable; is this an Azure "
                                    "resource with a managed identity?");
        } else if (rc == EM_OK && resp.status == 200) {
            rc = tokens_from_answer(out, &resp, time(NULL), err);
        } else if (rc == EM_OK && !app_service && imds_retryable(resp.status) && i + 1 < tries) {
            em_http_response_free(&resp);
            continue;
        } else if (rc == EM_OK) {
            rc = map_failure(&resp, err);
        }
        em_http_response_free(&resp);
        break;
    }
out:
    em_buf_free(&secret_header);
    em_buf_free(&url);
    return rc;
}
