/* json.c - counted yajl allocator, bounded tree parser, generator helpers. */
#include "util/json.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <yajl/yajl_parse.h>

static atomic_long outstanding;

/* Every block carries its size in front so that it is wiped when freed or
 * moved: yajl's lexer and generator buffers hold request lines, and those
 * carry refresh tokens and passwords. */
typedef union block_head {
    size_t size;
    max_align_t align;
} block_head;

static void *json_malloc(void *ctx, size_t size)
{
    block_head *h;

    (void)ctx;
    if (size > SIZE_MAX - sizeof(*h))
        return NULL;
    h = malloc(sizeof(*h) + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    atomic_fetch_add(&outstanding, 1);
    return h + 1;
}

static void json_free(void *ctx, void *ptr)
{
    block_head *h;

    (void)ctx;
    if (ptr == NULL)
        return;
    h = (block_head *)ptr - 1;
    OPENSSL_cleanse(h, sizeof(*h) + h->size);
    atomic_fetch_sub(&outstanding, 1);
    free(h);
}

/* A new block, the old one copied over and wiped (never realloc, which
 * would leave the old bytes behind). */
static void *json_realloc(void *ctx, void *ptr, size_t size)
{
    void *p;
    size_t old;

    if (ptr == NULL)
        return json_malloc(ctx, size);
    p = json_malloc(ctx, size);
    if (p == NULL)
        return NULL;
    old = ((block_head *)ptr - 1)->size;
    memcpy(p, ptr, old < size ? old : size);
    json_free(ctx, ptr);
    return p;
}

yajl_alloc_funcs em_json_alloc_funcs = {json_malloc, json_realloc, json_free, NULL};

long em_json_outstanding(void)
{
    return atomic_load(&outstanding);
}

/* ---- tree parser: yajl events -> yajl_val nodes, all counted ---- */

typedef struct tree_ctx {
    yajl_val stack[EM_JSON_MAX_DEPTH];
    char *pending_key[EM_JSON_MAX_DEPTH];   /* key waiting for its value */
    int depth;
    yajl_val root;
    int failure;                            /* EM_ENOMEM, or EM_EPARSE with why */
    const char *why;                        /* the EM_EPARSE message */
} tree_ctx;

/* The tree hands strings on as C strings: one with a NUL inside (\u0000)
 * would silently lose its tail (a Set- acting on "user1" when
 * "user1\u0000x" was named), so it is refused. */
static int refuse_nul(tree_ctx *t, const unsigned char *s, size_t len)
{
    if (memchr(s, '\0', len) == NULL)
        return 1;
    t->failure = EM_EPARSE;
    t->why = "a JSON string contains a NUL character (\\u0000), which is not allowed";
    return 0;
}

static char *dup_counted(const unsigned char *s, size_t len)
{
    char *d = json_malloc(NULL, len + 1);

    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static yajl_val node_new(yajl_type type)
{
    yajl_val v = json_malloc(NULL, sizeof(*v));

    if (v == NULL)
        return NULL;
    memset(v, 0, sizeof(*v));
    v->type = type;
    return v;
}

/* Grows a pointer array by one slot; false on ENOMEM. */
static bool grow(void **array, size_t len, size_t elem)
{
    void *p = json_realloc(NULL, *array, (len + 1) * elem);

    if (p == NULL)
        return false;
    *array = p;
    return true;
}

/* Attaches v to the container on top of the stack (or makes it the root).
 * Consumes v, also on failure. */
static int attach(tree_ctx *t, yajl_val v)
{
    yajl_val parent;

    if (v == NULL) {
        t->failure = EM_ENOMEM;
        return 0;
    }
    if (t->depth == 0) {
        t->root = v;
        return 1;
    }
    parent = t->stack[t->depth - 1];
    if (parent->type == yajl_t_object) {
        size_t n = parent->u.object.len;

        if (!grow((void **)&parent->u.object.keys, n, sizeof(char *)) ||
            !grow((void **)&parent->u.object.values, n, sizeof(yajl_val)))
            goto nomem;
        parent->u.object.keys[n] = t->pending_key[t->depth - 1];
        parent->u.object.values[n] = v;
        t->pending_key[t->depth - 1] = NULL;
        parent->u.object.len = n + 1;
    } else {
        size_t n = parent->u.array.len;

        if (!grow((void **)&parent->u.array.values, n, sizeof(yajl_val)))
            goto nomem;
        parent->u.array.values[n] = v;
        parent->u.array.len = n + 1;
    }
    return 1;
nomem:
    em_json_free(&v);
    t->failure = EM_ENOMEM;
    return 0;
}

static int push(tree_ctx *t, yajl_type type)
{
    yajl_val v;

    if (t->depth >= EM_JSON_MAX_DEPTH) {
        t->failure = EM_EPARSE;
        t->why = "JSON nested deeper than " EM_JSON_MAX_DEPTH_TEXT " levels";
        return 0;
    }
    v = node_new(type);
    if (!attach(t, v))
        return 0;
    t->stack[t->depth++] = v;
    return 1;
}

static int pop(void *ctx)
{
    tree_ctx *t = ctx;

    t->depth--;
    return 1;
}

static int on_null(void *ctx)
{
    return attach(ctx, node_new(yajl_t_null));
}

static int on_boolean(void *ctx, int value)
{
    return attach(ctx, node_new(value ? yajl_t_true : yajl_t_false));
}

static int on_number(void *ctx, const char *s, size_t len)
{
    yajl_val v = node_new(yajl_t_number);
    char *end;

    if (v == NULL)
        return attach(ctx, NULL);
    v->u.number.r = dup_counted((const unsigned char *)s, len);
    if (v->u.number.r == NULL) {
        json_free(NULL, v);
        return attach(ctx, NULL);
    }
    errno = 0;
    v->u.number.i = strtoll(v->u.number.r, &end, 10);
    if (errno == 0 && *end == '\0')
        v->u.number.flags |= YAJL_NUMBER_INT_VALID;
    errno = 0;
    v->u.number.d = strtod(v->u.number.r, &end);
    if (errno == 0 && *end == '\0')
        v->u.number.flags |= YAJL_NUMBER_DOUBLE_VALID;
    return attach(ctx, v);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    yajl_val v;

    if (!refuse_nul(ctx, s, len))
        return 0;
    v = node_new(yajl_t_string);

    if (v == NULL)
        return attach(ctx, NULL);
    v->u.string = dup_counted(s, len);
    if (v->u.string == NULL) {
        json_free(NULL, v);
        return attach(ctx, NULL);
    }
    return attach(ctx, v);
}

static int on_start_map(void *ctx)
{
    return push(ctx, yajl_t_object);
}

static int on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    tree_ctx *t = ctx;
    char *key;

    if (!refuse_nul(t, s, len))
        return 0;
    key = dup_counted(s, len);
    if (key == NULL) {
        t->failure = EM_ENOMEM;
        return 0;
    }
    json_free(NULL, t->pending_key[t->depth - 1]);
    t->pending_key[t->depth - 1] = key;
    return 1;
}

static int on_start_array(void *ctx)
{
    return push(ctx, yajl_t_array);
}

static const yajl_callbacks tree_callbacks = {
    on_null, on_boolean, NULL, NULL, on_number, on_string,
    on_start_map, on_map_key, pop, on_start_array, pop,
};

int em_json_parse(yajl_val *out, const char *text, size_t len, em_error *err)
{
    tree_ctx t;
    yajl_handle h = NULL;
    yajl_status st;
    int rc = EM_OK;
    int i;

    *out = NULL;
    memset(&t, 0, sizeof(t));
    h = yajl_alloc(&tree_callbacks, &em_json_alloc_funcs, &t);
    if (h == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory parsing JSON");
    st = yajl_parse(h, (const unsigned char *)text, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st != yajl_status_ok) {
        if (t.failure == EM_ENOMEM) {
            rc = em_error_set(err, EM_ENOMEM, "out of memory parsing JSON");
        } else if (t.failure == EM_EPARSE) {
            rc = em_error_set(err, EM_EPARSE, "%s", t.why);
        } else {
            unsigned char *msg = yajl_get_error(h, 0, NULL, 0);

            size_t n = msg ? strcspn((const char *)msg, "\r\n") : 0;

            rc = em_error_set(err, EM_EPARSE, "invalid JSON at byte %zu: %.*s",
                              yajl_get_bytes_consumed(h), (int)n,
                              msg ? (const char *)msg : "");
            yajl_free_error(h, msg);
        }
        goto free_tree;
    }
    *out = t.root;
    t.root = NULL;
free_tree:
    for (i = 0; i < EM_JSON_MAX_DEPTH; i++)
        json_free(NULL, t.pending_key[i]);
    em_json_free(&t.root);
    yajl_free(h);
    return rc;
}

void em_json_free(yajl_val *val)
{
    yajl_val v;
    size_t i;

    if (val == NULL || *val == NULL)
        return;
    v = *val;
    switch (v->type) {
    case yajl_t_string:
        /* Lines carry secrets (refresh tokens, passwords): wipe them. */
        OPENSSL_cleanse(v->u.string, strlen(v->u.string));
        json_free(NULL, v->u.string);
        break;
    case yajl_t_number:
        json_free(NULL, v->u.number.r);
        break;
    case yajl_t_object:
        for (i = 0; i < v->u.object.len; i++) {
            json_free(NULL, (char *)v->u.object.keys[i]);
            em_json_free(&v->u.object.values[i]);
        }
        json_free(NULL, (void *)v->u.object.keys);
        json_free(NULL, v->u.object.values);
        break;
    case yajl_t_array:
        for (i = 0; i < v->u.array.len; i++)
            em_json_free(&v->u.array.values[i]);
        json_free(NULL, v->u.array.values);
        break;
    default:
        break;
    }
    json_free(NULL, v);
    *val = NULL;
}

yajl_val em_json_get(yajl_val obj, const char *key)
{
    size_t i;

    if (obj == NULL || obj->type != yajl_t_object)
        return NULL;
    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    }
    return NULL;
}

const char *em_json_get_string(yajl_val obj, const char *key)
{
    yajl_val v = em_json_get(obj, key);

    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

bool em_json_get_int(long long *out, yajl_val obj, const char *key)
{
    yajl_val v = em_json_get(obj, key);

    if (!YAJL_IS_INTEGER(v))
        return false;
    *out = v->u.number.i;
    return true;
}

int em_json_get_seconds(long long *out, yajl_val obj, const char *key)
{
    yajl_val v = em_json_get(obj, key);
    long long n = 0;

    if (v == NULL || YAJL_IS_NULL(v))
        return 0;
    if (YAJL_IS_INTEGER(v)) {
        n = YAJL_GET_INTEGER(v);
    } else if (v->type == yajl_t_string) {
        const char *s = v->u.string;
        if (s[0] == '\0' || strlen(s) > 12)
            return -1;
        for (const char *p = s; *p != '\0'; p++) {
            if (*p < '0' || *p > '9')
                return -1;
            n = n * 10 + (*p - '0');
        }
    } else {
        return -1;
    }
    if (n < 0)
        return -1;
    *out = n;
    return 1;
}

/* ---- generator helpers ---- */

yajl_gen em_json_gen_new(void)
{
    yajl_gen g = yajl_gen_alloc(&em_json_alloc_funcs);

    if (g != NULL)
        yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    return g;
}

int em_json_gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

int em_json_gen_kv_str(yajl_gen g, const char *key, const char *value)
{
    int st = em_json_gen_str(g, key);

    return st != yajl_gen_status_ok ? st : em_json_gen_str(g, value);
}

int em_json_gen_kv_int(yajl_gen g, const char *key, long long value)
{
    int st = em_json_gen_str(g, key);

    return st != yajl_gen_status_ok ? st : (int)yajl_gen_integer(g, value);
}

int em_json_gen_kv_bool(yajl_gen g, const char *key, bool value)
{
    int st = em_json_gen_str(g, key);

    return st != yajl_gen_status_ok ? st : (int)yajl_gen_bool(g, value);
}

int em_json_gen_dup(char **out, yajl_gen g)
{
    const unsigned char *text = NULL;
    size_t len = 0;

    *out = NULL;
    if (yajl_gen_get_buf(g, &text, &len) != yajl_gen_status_ok)
        return EM_EINTERNAL;
    *out = malloc(len + 1);
    if (*out == NULL)
        return EM_ENOMEM;
    memcpy(*out, text, len);
    (*out)[len] = '\0';
    return EM_OK;
}

int em_json_gen_value(yajl_gen g, yajl_val v)
{
    int st = yajl_gen_status_ok;
    size_t i;

    if (v == NULL)
        return yajl_gen_null(g);
    switch (v->type) {
    case yajl_t_string:
        return em_json_gen_str(g, v->u.string);
    case yajl_t_number:
        return yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
    case yajl_t_true:
        return yajl_gen_bool(g, 1);
    case yajl_t_false:
        return yajl_gen_bool(g, 0);
    case yajl_t_object:
        st = yajl_gen_map_open(g);
        for (i = 0; st == yajl_gen_status_ok && i < v->u.object.len; i++) {
            st = em_json_gen_str(g, v->u.object.keys[i]);
            if (st == yajl_gen_status_ok)
                st = em_json_gen_value(g, v->u.object.values[i]);
        }
        return st != yajl_gen_status_ok ? st : (int)yajl_gen_map_close(g);
    case yajl_t_array:
        st = yajl_gen_array_open(g);
        for (i = 0; st == yajl_gen_status_ok && i < v->u.array.len; i++)
            st = em_json_gen_value(g, v->u.array.values[i]);
        return st != yajl_gen_status_ok ? st : (int)yajl_gen_array_close(g);
    default:
        return yajl_gen_null(g);
    }
}

void em_json_utf8_fix(char *s)
{
    unsigned char *p = (unsigned char *)s;

    while (*p) {
        size_t n, i;
        unsigned int c = *p;

        if (c < 0x80) {
            p++;
            continue;
        }
        n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        for (i = 1; n > 0 && i < n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                n = 0;
        }
        if (n == 0 || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4)) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}
