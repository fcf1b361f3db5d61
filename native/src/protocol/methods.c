/* methods.c - request methods: parameter checks, then connection.c/exo.c. */
#include "protocol/methods.h"
#include "util/buf.h"
#include "connection/connection.h"
#include "exchange/exo.h"
#include "protocol/protocol.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <yajl/yajl_version.h>

static int bad_param(em_error *err, const char *field, const char *why)
{
    em_error_set(err, EM_EINVAL, "%s %s", field, why);
    snprintf(err->target, sizeof(err->target), "%s", field);
    return EM_EINVAL;
}

/* An optional string param: *out is NULL when absent or null. */
static int opt_string(const char **out, yajl_val params, const char *field, em_error *err)
{
    yajl_val v = em_json_get(params, field);

    *out = NULL;
    if (v == NULL || YAJL_IS_NULL(v))
        return EM_OK;
    if (!YAJL_IS_STRING(v) || v->u.string[0] == '\0')
        return bad_param(err, field, "must be a non-empty string");
    *out = v->u.string;
    return EM_OK;
}

static int req_string(const char **out, yajl_val params, const char *field, em_error *err)
{
    int rc = opt_string(out, params, field, err);

    if (rc == EM_OK && *out == NULL)
        return bad_param(err, field, "is required");
    return rc;
}

/* An optional integer in min..max; *out keeps its value when absent. */
static int opt_int(long *out, yajl_val params, const char *field, long min, long max,
                   em_error *err)
{
    yajl_val v = em_json_get(params, field);

    if (v == NULL || YAJL_IS_NULL(v))
        return EM_OK;
    if (!YAJL_IS_INTEGER(v) || v->u.number.i < min || v->u.number.i > max) {
        char why[64];

        snprintf(why, sizeof(why), "must be an integer %ld..%ld", min, max);
        return bad_param(err, field, why);
    }
    *out = (long)v->u.number.i;
    return EM_OK;
}

/* An optional boolean; *out keeps its value when absent. */
static int opt_bool(bool *out, yajl_val params, const char *field, em_error *err)
{
    yajl_val v = em_json_get(params, field);

    if (v == NULL || YAJL_IS_NULL(v))
        return EM_OK;
    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
        return bad_param(err, field, "must be true or false");
    *out = YAJL_IS_TRUE(v);
    return EM_OK;
}

/* The secret fields of connect; wiped in the request's tree as soon as the
 * sign-in is over (the tree itself is wiped again when freed). */
static const char *const secret_fields[] = {
    EM_F_CERTDATA, EM_F_CERTPASSWORD, EM_F_ACCESSTOKEN, EM_F_PASSWORD,
};

static void wipe_secrets(yajl_val params)
{
    size_t i;

    for (i = 0; i < sizeof(secret_fields) / sizeof(secret_fields[0]); i++) {
        yajl_val v = em_json_get(params, secret_fields[i]);

        if (v != NULL && YAJL_IS_STRING(v))
            OPENSSL_cleanse(v->u.string, strlen(v->u.string));
    }
}

/* Finishes a generated result: *out gets the text, g is freed. */
static int finish(char **out, yajl_gen g, int st, em_error *err)
{
    int rc = st == yajl_gen_status_ok ? em_json_gen_dup(out, g) : EM_ENOMEM;

    yajl_gen_free(g);
    if (rc != EM_OK)
        return em_error_set(err, rc, "could not encode the result");
    return EM_OK;
}

static int do_initialize(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    long version = 0;
    char yajl[32];
    yajl_gen g;
    int st, rc;

    (void)req;
    (void)app;
    if (em_json_get(params, EM_F_PROTOCOLVERSION) == NULL)
        return bad_param(err, EM_F_PROTOCOLVERSION, "is required");
    rc = opt_int(&version, params, EM_F_PROTOCOLVERSION, 1, 1000000, err);
    if (rc != EM_OK)
        return rc;
    if (version != EM_PROTOCOL_VERSION)
        return bad_param(err, EM_F_PROTOCOLVERSION, "must be 1 (the version this helper speaks)");
    snprintf(yajl, sizeof(yajl), "%d.%d.%d", YAJL_MAJOR, YAJL_MINOR, YAJL_MICRO);
    g = em_json_gen_new();
    if (g == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(g, EM_F_PROTOCOLVERSION, EM_PROTOCOL_VERSION);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, EM_F_HELPERVERSION, EM_VERSION);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_str(g, EM_F_LIBRARIES);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, "curl", curl->version);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, "openssl", OpenSSL_version(OPENSSL_VERSION_STRING));
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, "yajl", yajl);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    return finish(out, g, st, err);
}

/* Answers the session object of conn. */
static int session_result(char **out, em_conn *conn, em_error *err)
{
    yajl_gen g = em_json_gen_new();

    if (g == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    return finish(out, g, em_conn_gen_session(g, conn), err);
}

/* The string fields of connect and where they go. */
static int connect_strings(em_conn_settings *s, yajl_val params, em_error *err)
{
    const struct {
        const char **out;
        const char *field;
    } fields[] = {
        {&s->upn, EM_F_UPN},
        {&s->app_id, EM_F_APPID},
        {&s->organization, EM_F_ORGANIZATION},
        {&s->delegated_organization, EM_F_DELEGATEDORG},
        {&s->environment, EM_F_ENVIRONMENT},
        {&s->authority, EM_F_AUTHORITY},
        {&s->connection_uri, EM_F_CONNECTIONURI},
        {&s->resource, EM_F_RESOURCE},
        {&s->product, EM_F_PRODUCT},
        {&s->token_cache, EM_F_TOKENCACHE},
        {&s->prompt, EM_F_PROMPT},
        {&s->redirect_uri, EM_F_REDIRECTURI},
        {&s->cert_file, EM_F_CERTFILE},
        {&s->cert_key_file, EM_F_CERTKEYFILE},
        {&s->cert_data, EM_F_CERTDATA},
        {&s->cert_thumbprint, EM_F_CERTTHUMBPRINT},
        {&s->cert_password, EM_F_CERTPASSWORD},
        {&s->assertion_alg, EM_F_ASSERTIONALG},
        {&s->mi_account_id, EM_F_MIACCOUNTID},
        {&s->access_token, EM_F_ACCESSTOKEN},
        {&s->password, EM_F_PASSWORD},
    };
    size_t i;
    int rc = req_string(&s->mode, params, EM_F_MODE, err);

    for (i = 0; rc == EM_OK && i < sizeof(fields) / sizeof(fields[0]); i++)
        rc = opt_string(fields[i].out, params, fields[i].field, err);
    return rc;
}

static int do_connect(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    em_conn_settings s;
    em_conn *conn = NULL;
    int rc;

    memset(&s, 0, sizeof(s));
    rc = connect_strings(&s, params, err);
    if (rc == EM_OK)
        rc = opt_int(&s.page_size, params, EM_F_PAGESIZE, 1, EM_PAGESIZE_MAX, err);
    if (rc == EM_OK)
        rc = opt_int(&s.throttle_limit, params, EM_F_THROTTLELIMIT, 1, EM_EXO_WINDOW_MAX, err);
    if (rc == EM_OK)
        rc = opt_int(&s.timeout_seconds, params, EM_F_TIMEOUTSECONDS, 1, 86400, err);
    if (rc == EM_OK)
        rc = opt_bool(&s.no_browser, params, EM_F_NOBROWSER, err);
    if (rc == EM_OK)
        rc = em_conn_open(&conn, app, &s, req, err);
    wipe_secrets(params);
    if (rc != EM_OK)
        return rc;
    rc = session_result(out, conn, err);
    em_conn_release(&conn);
    return rc;
}

static int do_list(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    yajl_gen g = em_json_gen_new();

    (void)req;
    (void)params;
    if (g == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    return finish(out, g, em_conn_gen_list(g, app), err);
}

static int do_disconnect(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    const char *id = NULL;
    em_conn *conn = NULL;
    bool forget = false;
    int rc;

    rc = req_string(&id, params, EM_F_CONNECTIONID, err);
    if (rc == EM_OK)
        rc = opt_bool(&forget, params, EM_F_FORGETCACHE, err);
    if (rc == EM_OK)
        rc = em_conn_close(&conn, app, id, err);
    if (rc == EM_OK && forget)
        rc = em_conn_forget_cache(conn, req, err);
    if (rc == EM_OK)
        rc = session_result(out, conn, err);
    em_conn_release(&conn);
    return rc;
}

static int bearer(char **out, void *ud, const char *stale, const char *claims, em_request *req,
                  em_error *err)
{
    return em_conn_bearer(out, ud, stale, claims, req, err);
}

/* resultSize: a positive integer or "Unlimited" (0). */
static int result_size(long *out, yajl_val params, em_error *err)
{
    yajl_val v = em_json_get(params, EM_F_RESULTSIZE);

    *out = 0;
    if (v == NULL || YAJL_IS_NULL(v))
        return EM_OK;
    if (YAJL_IS_STRING(v) && strcasecmp(v->u.string, EM_RESULTSIZE_UNLIMITED) == 0)
        return EM_OK;
    if (YAJL_IS_INTEGER(v) && v->u.number.i > 0 && v->u.number.i <= 0x7fffffffL) {
        *out = (long)v->u.number.i;
        return EM_OK;
    }
    return bad_param(err, EM_F_RESULTSIZE, "must be a positive integer or \"Unlimited\"");
}

static int do_invoke(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    char tenant[256], user[256];
    const char *id = NULL;
    em_exo_call call;
    em_exo_result result;
    em_conn *conn = NULL;
    long throttle_limit = 0;
    yajl_gen g;
    int rc, st;

    memset(&call, 0, sizeof(call));
    rc = req_string(&id, params, EM_F_CONNECTIONID, err);
    if (rc == EM_OK)
        rc = req_string(&call.cmdlet, params, EM_F_CMDLET, err);
    if (rc == EM_OK && !em_exo_valid_cmdlet(call.cmdlet))
        rc = bad_param(err, EM_F_CMDLET, "must be a cmdlet name such as Get-Mailbox");
    if (rc == EM_OK)
        rc = result_size(&call.result_size, params, err);
    call.parameters = em_json_get(params, EM_F_PARAMETERS);
    if (rc == EM_OK && call.parameters != NULL && !YAJL_IS_OBJECT(call.parameters) &&
        !YAJL_IS_NULL(call.parameters))
        rc = bad_param(err, EM_F_PARAMETERS, "must be an object");
    call.select = em_json_get(params, EM_F_SELECT);
    if (rc == EM_OK && call.select != NULL && !YAJL_IS_ARRAY(call.select) &&
        !YAJL_IS_NULL(call.select))
        rc = bad_param(err, EM_F_SELECT, "must be an array of property names");
    if (rc == EM_OK)
        rc = em_conn_find(&conn, app, id, err);
    if (rc != EM_OK)
        return rc;
    call.page_size = em_conn_page_size(conn);
    rc = opt_int(&call.page_size, params, EM_F_PAGESIZE, 1, EM_PAGESIZE_MAX, err);
    if (rc == EM_OK)
        rc = opt_int(&throttle_limit, params, EM_F_THROTTLELIMIT, 1, EM_EXO_WINDOW_MAX, err);
    if (rc != EM_OK)
        goto release;
    /* The module keeps this many in flight: the window may grow to it. */
    call.window = em_conn_window(conn);
    if (throttle_limit > 0)
        em_exo_window_set_ceiling(call.window, (int)throttle_limit);
    em_conn_tenant(tenant, sizeof(tenant), conn);
    em_conn_anchor(user, sizeof(user), conn);
    call.connection_uri = em_conn_uri(conn);
    call.tenant = tenant;
    call.connection_id = em_conn_id(conn);
    call.anchor_mailbox = user;
    call.get_token = bearer;
    call.token_ud = conn;
    rc = em_exo_invoke(&result, &call, req, err);
    if (rc != EM_OK)
        goto release;
    g = em_json_gen_new();
    if (g == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto release;
    }
    st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(g, EM_F_OBJECTS, result.objects);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(g, EM_F_PAGES, result.pages);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    rc = finish(out, g, st, err);
release:
    em_conn_release(&conn);
    return rc;
}

const em_rpc_method em_methods[] = {
    {EM_M_INITIALIZE, do_initialize},
    {EM_M_CONNECT, do_connect},
    {EM_M_LIST, do_list},
    {EM_M_DISCONNECT, do_disconnect},
    {EM_M_INVOKE, do_invoke},
    {NULL, NULL},
};

void em_methods_shutdown(void *app)
{
    em_conn_table_clear(app);
}
