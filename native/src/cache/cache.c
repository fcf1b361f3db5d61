/* cache.c - the token cache in MSAL's JSON shape: keys, entries, store,
 * find and accounts. The contract is in cache.h; the reasons in
 * docs/cache.md. The file under it (folder, lock, reload, atomic
 * replacement) is cache_file.c.
 *
 * Finds read the document the file layer holds (a yajl tree); every change
 * generates a whole new document from the tree plus the edit and hands it
 * to em_cache_file_replace, which writes it and makes it the tree.
 * Nothing here writes to stderr.
 */
#include "cache/cache.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "cache/cache_file.h"
#include "platform/platform.h"
#include "util/json.h"
#include "net/http.h"         /* em_http_plain_http_allowed */

#define CACHE_MARKER "ExchangeMfa"     /* our own top-level member: the version */
#define ENTRY_FIELDS 12

enum { SEC_AT, SEC_RT, SEC_ID, SEC_ACCOUNT, SEC_APP, SEC_COUNT };
static const char *const section_names[SEC_COUNT] = {
    "AccessToken", "RefreshToken", "IdToken", "Account", "AppMetadata",
};

/* The public handle is the file plus this module's meaning of it; it
 * holds no state of its own. */
struct em_cache {
    em_cache_file *file;
};

/* ---- small helpers ---- */

static bool ieq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcasecmp(a, b) == 0;
}

static bool is_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}
static void lower_in_place(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    }
}

/* The next whitespace-separated scope of *p: its start and length; NULL at
 * the end. Advances *p. */
static const char *next_scope(const char **p, size_t *len)
{
    const char *s = *p;
    const char *start;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (*s == '\0') {
        *p = s;
        return NULL;
    }
    start = s;
    while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
        s++;
    *len = (size_t)(s - start);
    *p = s;
    return start;
}

/* openid, profile and offline_access ask for an id or refresh token, not for
 * the access token's audience: MSAL leaves them out of matching too. */
static bool reserved_scope(const char *s, size_t len)
{
    static const char *const reserved[] = {"openid", "profile", "offline_access"};
    size_t i;

    for (i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (strlen(reserved[i]) == len && strncasecmp(s, reserved[i], len) == 0)
            return true;
    }
    return false;
}

static bool has_scope(const char *list, const char *s, size_t len)
{
    const char *p = list;
    const char *t;
    size_t n = 0;

    for (t = next_scope(&p, &n); t != NULL; t = next_scope(&p, &n)) {
        if (n == len && strncasecmp(t, s, len) == 0)
            return true;
    }
    return false;
}

/* Whether every scope of a (all) or some scope of a (!all), reserved ones
 * aside, is in b. */
static bool scopes_in(const char *a, const char *b, bool all)
{
    const char *p = a;
    const char *t;
    size_t n = 0;

    for (t = next_scope(&p, &n); t != NULL; t = next_scope(&p, &n)) {
        if (!reserved_scope(t, n) && has_scope(b, t, n) != all)
            return !all;
    }
    return all;
}

/* Lower case, single spaces, no duplicates, order kept. */
static int normalise_scopes(em_buf *out, const char *scopes)
{
    const char *p = scopes != NULL ? scopes : "";
    const char *t;
    size_t n = 0;

    if (em_buf_puts(out, "") != EM_OK)
        return EM_ENOMEM;
    for (t = next_scope(&p, &n); t != NULL; t = next_scope(&p, &n)) {
        if (has_scope(out->data, t, n))
            continue;
        if ((out->len > 0 && em_buf_puts(out, " ") != EM_OK) || em_buf_append(out, t, n) != EM_OK)
            return EM_ENOMEM;
    }
    lower_in_place(out->data);
    return EM_OK;
}

/* A timestamp member: MSAL writes decimal strings; numbers are accepted.
 * Anything else is 0 (so an access token without one counts as expired). */
static time_t field_time(yajl_val entry, const char *name)
{
    yajl_val v = em_json_get(entry, name);
    long long t = 0;
    const char *s;

    if (YAJL_IS_INTEGER(v))
        return v->u.number.i > 0 ? (time_t)v->u.number.i : 0;
    if (!YAJL_IS_STRING(v))
        return 0;
    s = v->u.string;
    if (*s == '\0' || strlen(s) > 18)
        return 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        t = t * 10 + (*s - '0');
    }
    return (time_t)t;
}

static const char *field(yajl_val entry, const char *name)
{
    return em_json_get_string(entry, name);
}

static yajl_val section(const em_cache *c, int s)
{
    yajl_val v = em_json_get(em_cache_file_root(c->file), section_names[s]);

    return YAJL_IS_OBJECT(v) ? v : NULL;
}

static int check_held(const em_cache *c, em_error *err)
{
    if (c == NULL || !em_cache_file_held(c->file))
        return em_error_set(err, EM_EINVAL, "the token cache is not locked by this thread");
    return EM_OK;
}

/* ---- names: the folder, the environment, the account ---- */

int em_cache_default_dir(char *out, size_t size, em_error *err)
{
    char *dir = NULL;
    int rc = em_platform_user_folder(&dir, EM_FOLDER_CACHE, err), n;

    if (rc != EM_OK)
        return em_error_prefix(err, "no token cache folder: ");
    n = snprintf(out, size, "%s", dir);
    free(dir);
    if (n < 0 || (size_t)n >= size)
        return em_error_set(err, EM_EINVAL, "the token cache folder path is too long");
    return EM_OK;
}

int em_cache_environment(char *out, size_t size, const char *authority, em_error *err)
{
    const char *host;
    size_t len;

    if (authority != NULL && strncasecmp(authority, "https://", 8) == 0)
        host = authority + 8;
    else if (authority != NULL && em_http_plain_http_allowed() && strncasecmp(authority, "http://", 7) == 0)
        host = authority + 7;   /* the unit tests' fake servers */
    else
        return em_error_set(err, EM_EINVAL, "the authority is not an https URL");
    len = strcspn(host, "/?#");
    if (len == 0 || len >= size || memchr(host, '@', len) != NULL)
        return em_error_set(err, EM_EINVAL, "the authority has no usable host");
    memcpy(out, host, len);
    out[len] = '\0';
    lower_in_place(out);
    return EM_OK;
}

int em_cache_home_account_id(char *out, size_t size, const em_tokens *tokens, em_error *err)
{
    int n;

    if (tokens == NULL || is_empty(tokens->object_id) || is_empty(tokens->tenant_id))
        return em_error_set(err, EM_EINVAL, "the tokens name no account (object id and tenant id)");
    n = snprintf(out, size, "%s.%s", tokens->object_id, tokens->tenant_id);
    if (n < 0 || (size_t)n >= size)
        return em_error_set(err, EM_EINVAL, "the account id is too long");
    return EM_OK;
}

/* ---- shape ---- */

/* The shape we rely on: an object whose known sections, when present, are
 * objects of objects. Other members may be anything (kept on rewrite). */
static int check_tree(yajl_val root, em_error *err)
{
    size_t s, i;

    if (!YAJL_IS_OBJECT(root))
        return em_error_set(err, EM_EPARSE, "the top level is not an object");
    for (s = 0; s < SEC_COUNT; s++) {
        yajl_val sec = em_json_get(root, section_names[s]);

        if (sec == NULL)
            continue;
        if (!YAJL_IS_OBJECT(sec))
            return em_error_set(err, EM_EPARSE, "section %s is not an object", section_names[s]);
        for (i = 0; i < sec->u.object.len; i++) {
            if (!YAJL_IS_OBJECT(sec->u.object.values[i]))
                return em_error_set(err, EM_EPARSE, "an entry of section %s is not an object",
                                    section_names[s]);
        }
    }
    return EM_OK;
}

int em_cache_check_text(const char *text, size_t len, em_error *err)
{
    yajl_val root = NULL;
    int rc = em_json_parse(&root, text, len, err);

    if (rc == EM_OK)
        rc = check_tree(root, err);
    em_json_free(&root);
    return rc;
}

/* ---- open / close, lock ---- */

int em_cache_open(em_cache **out, const char *dir, em_error *err)
{
    char def[PATH_MAX];
    em_cache *c = NULL;
    int rc;

    *out = NULL;
    if (dir == NULL) {
        rc = em_cache_default_dir(def, sizeof def, err);
        if (rc != EM_OK)
            return rc;
        dir = def;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory opening the token cache");
    rc = em_cache_file_open(&c->file, dir, check_tree, err);
    if (rc == EM_OK)
        *out = c;
    else
        free(c);
    return rc;
}

void em_cache_close(em_cache **cache)
{
    if (cache == NULL || *cache == NULL)
        return;
    em_cache_file_close(&(*cache)->file);
    free(*cache);
    *cache = NULL;
}

bool em_cache_take_warning(em_cache *cache, char *out, size_t size)
{
    return cache != NULL && em_cache_file_take_warning(cache->file, out, size);
}

int em_cache_lock(em_cache *cache, long timeout_ms, em_request *req, em_error *err)
{
    if (cache == NULL)
        return em_error_set(err, EM_EINVAL, "no token cache");
    if (timeout_ms <= 0)
        timeout_ms = EM_CACHE_LOCK_TIMEOUT_MS;
    return em_cache_file_lock(cache->file, timeout_ms, req, err);
}

void em_cache_unlock(em_cache *cache)
{
    if (cache != NULL)
        em_cache_file_unlock(cache->file);
}

int em_cache_renewal_begin(em_cache_renewal **out, em_cache *cache, long wait_ms, em_request *req,
                           em_error *err)
{
    *out = NULL;
    if (cache == NULL)
        return em_error_set(err, EM_EINVAL, "no token cache");
    return em_cache_file_renewal_lock(out, cache->file, wait_ms > 0 ? wait_ms : EM_CACHE_RENEWAL_WAIT_MS, req,
                                      err);
}

void em_cache_renewal_end(em_cache_renewal **renewal)
{
    em_file_lock_release(renewal);
}

/* ---- writing: the edit, generated as a whole new document ---- */

/* One entry to add: section, lower-case key and string fields (borrowed). */
typedef struct new_entry {
    int section;
    em_buf key;
    const char *names[ENTRY_FIELDS];
    const char *values[ENTRY_FIELDS];
    size_t count;
} new_entry;

static void entry_set(new_entry *e, const char *name, const char *value)
{
    if (value != NULL && e->count < ENTRY_FIELDS) {
        e->names[e->count] = name;
        e->values[e->count] = value;
        e->count++;
    }
}

static const char *entry_get(const new_entry *e, const char *name)
{
    size_t i;

    for (i = 0; i < e->count; i++) {
        if (strcmp(e->names[i], name) == 0)
            return e->values[i];
    }
    return NULL;
}

/* A rewrite: entries to add (replacing the same keys), and what to drop. */
typedef struct cache_edit {
    new_entry *adds;
    size_t add_count;
    const char *drop_home;          /* remove_account: every entry of this account... */
    const char *drop_env;           /* ...in this environment */
    const new_entry *new_at;        /* drops older access tokens it supersedes */
} cache_edit;

static bool dropped(const cache_edit *e, int s, const char *key, yajl_val v)
{
    size_t i;

    for (i = 0; i < e->add_count; i++) {
        if (e->adds[i].section == s && strcasecmp(e->adds[i].key.data, key) == 0)
            return true;
    }
    if (e->drop_home != NULL && s != SEC_APP && ieq(field(v, "home_account_id"), e->drop_home) &&
        ieq(field(v, "environment"), e->drop_env))
        return true;
    if (e->new_at != NULL && s == SEC_AT) {
        const new_entry *at = e->new_at;

        return ieq(field(v, "home_account_id"), entry_get(at, "home_account_id")) &&
               ieq(field(v, "environment"), entry_get(at, "environment")) &&
               ieq(field(v, "client_id"), entry_get(at, "client_id")) &&
               ieq(field(v, "realm"), entry_get(at, "realm")) &&
               field(v, "target") != NULL &&
               scopes_in(field(v, "target"), entry_get(at, "target"), false);
    }
    return false;
}

/* Generation stops at the first failure, which st keeps. */
typedef struct gen_ctx {
    yajl_gen g;
    int st;
} gen_ctx;

static void gen_str(gen_ctx *gc, const char *s)
{
    if (gc->st == yajl_gen_status_ok)
        gc->st = em_json_gen_str(gc->g, s);
}

static void gen_value(gen_ctx *gc, yajl_val v)
{
    if (gc->st == yajl_gen_status_ok)
        gc->st = em_json_gen_value(gc->g, v);
}

static void gen_map(gen_ctx *gc, bool open)
{
    if (gc->st == yajl_gen_status_ok)
        gc->st = open ? yajl_gen_map_open(gc->g) : yajl_gen_map_close(gc->g);
}

static void gen_section(gen_ctx *gc, int s, yajl_val old, const cache_edit *edit)
{
    size_t i, f;

    gen_str(gc, section_names[s]);
    gen_map(gc, true);
    for (i = 0; old != NULL && i < old->u.object.len; i++) {
        if (dropped(edit, s, old->u.object.keys[i], old->u.object.values[i]))
            continue;
        gen_str(gc, old->u.object.keys[i]);
        gen_value(gc, old->u.object.values[i]);
    }
    for (i = 0; i < edit->add_count; i++) {
        const new_entry *e = &edit->adds[i];

        if (e->section != s)
            continue;
        gen_str(gc, e->key.data);
        gen_map(gc, true);
        for (f = 0; f < e->count; f++) {
            gen_str(gc, e->names[f]);
            gen_str(gc, e->values[f]);
        }
        gen_map(gc, false);
    }
    gen_map(gc, false);
}

static int section_index(const char *name)
{
    int s;

    for (s = 0; s < SEC_COUNT; s++) {
        if (strcmp(section_names[s], name) == 0)
            return s;
    }
    return -1;
}

/* The whole file: members we do not know first, in their order, the five
 * sections (edited), then our version marker. */
static void gen_file(gen_ctx *gc, yajl_val root, const cache_edit *edit)
{
    bool done[SEC_COUNT] = {false};
    size_t i;
    int s;

    gen_map(gc, true);
    for (i = 0; root != NULL && i < root->u.object.len; i++) {
        const char *key = root->u.object.keys[i];

        s = section_index(key);
        if (s >= 0) {
            if (!done[s])
                gen_section(gc, s, root->u.object.values[i], edit);
            done[s] = true;
        } else if (strcmp(key, CACHE_MARKER) != 0) {
            gen_str(gc, key);
            gen_value(gc, root->u.object.values[i]);
        }
    }
    for (s = 0; s < SEC_COUNT; s++) {
        if (!done[s])
            gen_section(gc, s, NULL, edit);
    }
    gen_str(gc, CACHE_MARKER);
    gen_map(gc, true);
    if (gc->st == yajl_gen_status_ok)
        gc->st = em_json_gen_kv_int(gc->g, "cache_version", EM_CACHE_VERSION);
    gen_map(gc, false);
    gen_map(gc, false);
}

typedef struct print_ctx {
    em_buf buf;
    bool nomem;
} print_ctx;

/* yajl's output goes straight into a buffer that is wiped when it grows. */
static void print_to_buf(void *ctx, const char *s, size_t len)
{
    print_ctx *p = ctx;

    if (em_buf_append(&p->buf, s, len) != EM_OK)
        p->nomem = true;
}
/* Generates the edited document and hands it to the file layer, which
 * checks it parses and writes it. On failure the file and the tree stay as
 * they were. */
static int rewrite(em_cache *c, const cache_edit *edit, em_error *err)
{
    print_ctx out = {EM_BUF_INIT, false};
    gen_ctx gc = {NULL, yajl_gen_status_ok};
    int rc = EM_OK;

    gc.g = em_json_gen_new();
    if (gc.g == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory writing the token cache");
    yajl_gen_config(gc.g, yajl_gen_beautify, 1);
    yajl_gen_config(gc.g, yajl_gen_print_callback, print_to_buf, &out);
    gen_file(&gc, em_cache_file_root(c->file), edit);
    if (!out.nomem && em_buf_puts(&out.buf, "\n") != EM_OK)
        out.nomem = true;
    if (out.nomem) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory writing the token cache");
        goto free_gen;
    }
    if (gc.st != yajl_gen_status_ok) {
        rc = em_error_set(err, EM_EINVAL, "a value for the token cache is not valid UTF-8");
        goto free_gen;
    }
    rc = em_cache_file_replace(c->file, out.buf.data, out.buf.len, err);
free_gen:
    yajl_gen_free(gc.g);
    em_buf_free(&out.buf);
    return rc;
}

/* ---- store ---- */

/* The key of an entry: the parts joined by '-', lower case (MSAL). */
static int make_key(em_buf *key, const char *const *parts, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++) {
        if ((i > 0 && em_buf_puts(key, "-") != EM_OK) ||
            em_buf_puts(key, parts[i] != NULL ? parts[i] : "") != EM_OK)
            return EM_ENOMEM;
    }
    lower_in_place(key->data);
    return EM_OK;
}

static new_entry *add_entry(cache_edit *edit, new_entry *storage, int s)
{
    new_entry *e = &storage[edit->add_count++];

    memset(e, 0, sizeof *e);
    e->section = s;
    return e;
}

int em_cache_store(em_cache *cache, const em_cache_entry *entry, time_t now, em_error *err)
{
    new_entry adds[SEC_COUNT];
    cache_edit edit = {adds, 0, NULL, NULL, NULL};
    em_buf home = EM_BUF_INIT;
    em_buf target = EM_BUF_INIT;
    char cached_at[24], expires_on[24], refresh_on[24];
    const char *env, *client, *realm;
    new_entry *e;
    size_t i;
    int rc;

    rc = check_held(cache, err);
    if (rc != EM_OK)
        return rc;
    env = entry->environment;
    client = entry->client_id;
    realm = entry->realm;
    if (is_empty(env) || is_empty(client))
        return em_error_set(err, EM_EINVAL, "a cache entry needs an environment and a client id");
    if (!is_empty(entry->home_account_id))
        rc = em_buf_puts(&home, entry->home_account_id);
    else if (!is_empty(entry->local_account_id) && !is_empty(realm))
        rc = em_buf_printf(&home, "%s.%s", entry->local_account_id, realm);
    else
        return em_error_set(err, EM_EINVAL, "a cache entry needs an account (object id and tenant id)");
    if (rc != EM_OK || normalise_scopes(&target, entry->target) != EM_OK) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory storing tokens");
        goto free_parts;
    }
    if ((entry->access_token != NULL || entry->id_token != NULL) && is_empty(realm)) {
        rc = em_error_set(err, EM_EINVAL, "an access or id token needs the tenant id (realm)");
        goto free_parts;
    }
    snprintf(cached_at, sizeof cached_at, "%lld", (long long)now);
    snprintf(expires_on, sizeof expires_on, "%lld", (long long)entry->expires_on);
    snprintf(refresh_on, sizeof refresh_on, "%lld",
             (long long)(entry->refresh_on > 0 ? entry->refresh_on : entry->expires_on));

    if (!is_empty(realm)) {
        const char *parts[] = {home.data, env, realm};

        e = add_entry(&edit, adds, SEC_ACCOUNT);
        rc = make_key(&e->key, parts, 3);
        entry_set(e, "home_account_id", home.data);
        entry_set(e, "environment", env);
        entry_set(e, "realm", realm);
        entry_set(e, "local_account_id", entry->local_account_id != NULL ? entry->local_account_id : "");
        entry_set(e, "username", entry->username != NULL ? entry->username : "");
        entry_set(e, "authority_type", "MSSTS");
    }
    if (rc == EM_OK && entry->access_token != NULL) {
        const char *parts[] = {home.data, env, "accesstoken", client, realm, target.data};

        e = add_entry(&edit, adds, SEC_AT);
        rc = make_key(&e->key, parts, 6);
        entry_set(e, "credential_type", "AccessToken");
        entry_set(e, "home_account_id", home.data);
        entry_set(e, "environment", env);
        entry_set(e, "client_id", client);
        entry_set(e, "realm", realm);
        entry_set(e, "target", target.data);
        entry_set(e, "secret", entry->access_token);
        entry_set(e, "cached_at", cached_at);
        entry_set(e, "expires_on", expires_on);
        entry_set(e, "extended_expires_on", expires_on);
        entry_set(e, "refresh_on", refresh_on);
        edit.new_at = e;
    }
    if (rc == EM_OK && entry->refresh_token != NULL) {
        /* MSAL: a refresh token serves every tenant, so realm and target are empty. */
        const char *parts[] = {home.data, env, "refreshtoken", client, "", ""};

        e = add_entry(&edit, adds, SEC_RT);
        rc = make_key(&e->key, parts, 6);
        entry_set(e, "credential_type", "RefreshToken");
        entry_set(e, "home_account_id", home.data);
        entry_set(e, "environment", env);
        entry_set(e, "client_id", client);
        entry_set(e, "secret", entry->refresh_token);
    }
    if (rc == EM_OK && entry->id_token != NULL) {
        const char *parts[] = {home.data, env, "idtoken", client, realm, ""};

        e = add_entry(&edit, adds, SEC_ID);
        rc = make_key(&e->key, parts, 6);
        entry_set(e, "credential_type", "IdToken");
        entry_set(e, "home_account_id", home.data);
        entry_set(e, "environment", env);
        entry_set(e, "client_id", client);
        entry_set(e, "realm", realm);
        entry_set(e, "secret", entry->id_token);
    }
    if (rc == EM_OK) {
        const char *parts[] = {"appmetadata", env, client};

        e = add_entry(&edit, adds, SEC_APP);
        rc = make_key(&e->key, parts, 3);
        entry_set(e, "client_id", client);
        entry_set(e, "environment", env);
    }
    if (rc != EM_OK) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory storing tokens");
        goto free_adds;
    }
    rc = rewrite(cache, &edit, err);
free_adds:
    for (i = 0; i < edit.add_count; i++)
        em_buf_free(&adds[i].key);
free_parts:
    em_buf_free(&home);
    em_buf_free(&target);
    return rc;
}

void em_cache_entry_from_tokens(em_cache_entry *out, const em_tokens *tokens,
                                const char *environment, const char *client_id,
                                const char *target)
{
    memset(out, 0, sizeof *out);
    out->local_account_id = tokens->object_id;
    out->realm = tokens->tenant_id;
    out->environment = environment;
    out->client_id = client_id;
    out->target = target;
    out->username = tokens->username;
    out->access_token = tokens->access_token;
    out->expires_on = tokens->expires_at;
    out->refresh_on = tokens->refresh_at;
    out->refresh_token = tokens->refresh_token;
    out->id_token = tokens->id_token;
}

/* ---- find ---- */

void em_cache_token_free(em_cache_token **token)
{
    if (token == NULL || *token == NULL)
        return;
    em_free_secret(&(*token)->secret);
    free((*token)->target);
    free(*token);
    *token = NULL;
}

static int token_new(em_cache_token **out, yajl_val v, em_error *err)
{
    em_cache_token *t = calloc(1, sizeof *t);
    const char *target = field(v, "target");

    *out = NULL;
    if (t == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory reading the token cache");
    t->secret = strdup(field(v, "secret"));
    t->target = strdup(target != NULL ? target : "");
    if (t->secret == NULL || t->target == NULL) {
        em_cache_token_free(&t);
        return em_error_set(err, EM_ENOMEM, "out of memory reading the token cache");
    }
    t->cached_at = field_time(v, "cached_at");
    t->expires_on = field_time(v, "expires_on");
    t->refresh_on = field_time(v, "refresh_on");
    if (t->refresh_on == 0)
        t->refresh_on = t->expires_on;
    *out = t;
    return EM_OK;
}

int em_cache_find_access_token(em_cache_token **out, em_cache *cache,
                               const char *home_account_id, const char *environment,
                               const char *client_id, const char *realm,
                               const char *scopes, time_t now, em_error *err)
{
    yajl_val sec, best = NULL;
    time_t best_expiry = 0;
    size_t i;
    int rc;

    *out = NULL;
    rc = check_held(cache, err);
    if (rc != EM_OK)
        return rc;
    if (home_account_id == NULL || environment == NULL || client_id == NULL || realm == NULL)
        return em_error_set(err, EM_EINVAL, "access token lookup needs account, environment, client and realm");
    sec = section(cache, SEC_AT);
    for (i = 0; sec != NULL && i < sec->u.object.len; i++) {
        yajl_val v = sec->u.object.values[i];
        time_t expiry = field_time(v, "expires_on");

        if (!ieq(field(v, "home_account_id"), home_account_id) ||
            !ieq(field(v, "environment"), environment) ||
            !ieq(field(v, "client_id"), client_id) || !ieq(field(v, "realm"), realm) ||
            is_empty(field(v, "secret")) || field(v, "target") == NULL ||
            !scopes_in(scopes != NULL ? scopes : "", field(v, "target"), true))
            continue;
        if (expiry <= now + EM_CACHE_EXPIRY_MARGIN || expiry <= best_expiry)
            continue;
        best = v;
        best_expiry = expiry;
    }
    if (best == NULL)
        return em_error_set(err, EM_ENOTFOUND, "no usable access token in the cache");
    return token_new(out, best, err);
}

/* The first entry of section s of the account in environment for client
 * (and realm, when not NULL) with a secret; NULL when none. */
static yajl_val find_credential(const em_cache *c, int s, const char *home, const char *env,
                                const char *client, const char *realm)
{
    yajl_val sec = section(c, s);
    size_t i;

    for (i = 0; sec != NULL && i < sec->u.object.len; i++) {
        yajl_val v = sec->u.object.values[i];

        if (ieq(field(v, "home_account_id"), home) && ieq(field(v, "environment"), env) &&
            ieq(field(v, "client_id"), client) && (realm == NULL || ieq(field(v, "realm"), realm)) &&
            !is_empty(field(v, "secret")))
            return v;
    }
    return NULL;
}

int em_cache_find_refresh_token(em_cache_token **out, em_cache *cache,
                                const char *home_account_id, const char *environment,
                                const char *client_id, em_error *err)
{
    yajl_val v;
    int rc;

    *out = NULL;
    rc = check_held(cache, err);
    if (rc != EM_OK)
        return rc;
    if (home_account_id == NULL || environment == NULL || client_id == NULL)
        return em_error_set(err, EM_EINVAL, "refresh token lookup needs account, environment and client");
    v = find_credential(cache, SEC_RT, home_account_id, environment, client_id, NULL);
    if (v == NULL)
        return em_error_set(err, EM_ENOTFOUND, "no refresh token in the cache");
    return token_new(out, v, err);
}

static void account_clear(em_cache_account *a)
{
    free(a->home_account_id);
    free(a->environment);
    free(a->realm);
    free(a->local_account_id);
    free(a->username);
    memset(a, 0, sizeof *a);
}

void em_cache_accounts_free(em_cache_accounts **accounts)
{
    size_t i;

    if (accounts == NULL || *accounts == NULL)
        return;
    for (i = 0; i < (*accounts)->count; i++)
        account_clear(&(*accounts)->items[i]);
    free((*accounts)->items);
    free(*accounts);
    *accounts = NULL;
}

static char *dup_field(yajl_val v, const char *name)
{
    const char *s = field(v, name);

    return strdup(s != NULL ? s : "");
}

int em_cache_find_accounts(em_cache_accounts **out, em_cache *cache,
                           const char *environment, const char *client_id,
                           const char *username, em_error *err)
{
    em_cache_accounts *list = NULL;
    yajl_val sec;
    size_t i;
    int rc;

    *out = NULL;
    rc = check_held(cache, err);
    if (rc != EM_OK)
        return rc;
    if (environment == NULL)
        return em_error_set(err, EM_EINVAL, "account lookup needs an environment");
    sec = section(cache, SEC_ACCOUNT);
    list = calloc(1, sizeof *list);
    if (list != NULL && sec != NULL && sec->u.object.len > 0)
        list->items = calloc(sec->u.object.len, sizeof *list->items);
    if (list == NULL || (sec != NULL && sec->u.object.len > 0 && list->items == NULL)) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory reading the token cache");
        goto free_list;
    }
    for (i = 0; sec != NULL && i < sec->u.object.len; i++) {
        yajl_val v = sec->u.object.values[i];
        const char *home = field(v, "home_account_id");
        em_cache_account *a;

        if (home == NULL || !ieq(field(v, "environment"), environment) ||
            (username != NULL && !ieq(field(v, "username"), username)) ||
            (client_id != NULL &&
             find_credential(cache, SEC_RT, home, environment, client_id, NULL) == NULL))
            continue;
        a = &list->items[list->count++];
        a->home_account_id = dup_field(v, "home_account_id");
        a->environment = dup_field(v, "environment");
        a->realm = dup_field(v, "realm");
        a->local_account_id = dup_field(v, "local_account_id");
        a->username = dup_field(v, "username");
        if (a->home_account_id == NULL || a->environment == NULL || a->realm == NULL ||
            a->local_account_id == NULL || a->username == NULL) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory reading the token cache");
            goto free_list;
        }
    }
    if (list->count == 0) {
        rc = em_error_set(err, EM_ENOTFOUND, "no matching account in the token cache");
        goto free_list;
    }
    *out = list;
    return EM_OK;
free_list:
    em_cache_accounts_free(&list);
    return rc;
}

int em_cache_load_tokens(em_tokens **out, em_cache *cache, const em_cache_account *account,
                         const char *client_id, const char *scopes, time_t now,
                         em_error *err)
{
    em_cache_token *at = NULL;
    em_cache_token *rt = NULL;
    em_tokens *t = NULL;
    yajl_val id;
    int rc;

    *out = NULL;
    rc = em_cache_find_access_token(&at, cache, account->home_account_id, account->environment,
                                    client_id, account->realm, scopes, now, err);
    if (rc != EM_OK && rc != EM_ENOTFOUND)
        return rc;
    rc = em_cache_find_refresh_token(&rt, cache, account->home_account_id, account->environment,
                                     client_id, err);
    if (rc != EM_OK && rc != EM_ENOTFOUND)
        goto free_found;
    if (at == NULL && rt == NULL) {
        rc = em_error_set(err, EM_ENOTFOUND, "no usable tokens in the cache for this account");
        goto free_found;
    }
    em_error_clear(err);
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        rc = EM_ENOMEM;
        goto nomem;
    }
    id = find_credential(cache, SEC_ID, account->home_account_id, account->environment,
                         client_id, account->realm);
    if (at != NULL) {
        t->access_token = at->secret;
        at->secret = NULL;
        t->expires_at = at->expires_on;
        t->refresh_at = at->refresh_on;
    }
    if (rt != NULL) {
        t->refresh_token = rt->secret;
        rt->secret = NULL;
    }
    rc = em_strdup_opt(&t->id_token, field(id, "secret"));
    if (rc == EM_OK)
        rc = em_strdup_opt(&t->scope, at != NULL ? at->target : NULL);
    if (rc == EM_OK)
        rc = em_strdup_opt(&t->tenant_id, account->realm);
    if (rc == EM_OK)
        rc = em_strdup_opt(&t->username, account->username);
    if (rc == EM_OK)
        rc = em_strdup_opt(&t->object_id, account->local_account_id);
    if (rc != EM_OK)
        goto nomem;
    *out = t;
    t = NULL;
    goto free_found;
nomem:
    rc = em_error_set(err, EM_ENOMEM, "out of memory reading the token cache");
free_found:
    em_tokens_free(&t);
    em_cache_token_free(&at);
    em_cache_token_free(&rt);
    return rc;
}

int em_cache_remove_account(em_cache *cache, const char *home_account_id,
                            const char *environment, em_error *err)
{
    cache_edit edit = {NULL, 0, home_account_id, environment, NULL};
    int rc;

    rc = check_held(cache, err);
    if (rc != EM_OK)
        return rc;
    if (is_empty(home_account_id) || is_empty(environment))
        return em_error_set(err, EM_EINVAL, "removing an account needs its id and environment");
    return rewrite(cache, &edit, err);
}
