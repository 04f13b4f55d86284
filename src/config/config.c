/* Configuration: tables of keys (type, default, bounds, doc; the core's in
 * keys.c, the kinds' in sections), a libconfig reader that refuses unknown
 * keys, and librdkafka pass-through lists.
 *
 * libconfig names cannot contain '.', so inside the kafka groups a '_' stands
 * for '.' ("bootstrap_servers" -> "bootstrap.servers"); nested groups join
 * with '.' as well. A name ending in _env or _file takes its value from that
 * environment variable or file, which is the only way to give a secret. */
#include "govstream/config.h"

#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"

#define O(m) offsetof(gs_config_t, m)

/* librdkafka properties whose values are secrets: only *_env / *_file. */
static const char *const secret_props[] = {
    "sasl.password",         "ssl.key.password",
    "ssl.keystore.password", "sasl.oauthbearer.client.secret",
    "ssl.key.pem",           NULL};

static const struct {
    const char *prefix;
    size_t off;
} kv_groups[] = {
    {"kafka", O(kafka)},
    {"kafka_consumer", O(kafka_consumer)},
    {"kafka_producer", O(kafka_producer)},
};

typedef struct where {
    const char *file; /* NULL: command line */
    int line;
    const char *dir; /* directory relative paths are resolved against */
} where_t;

static gs_err_t failw(char *errstr, size_t n, const where_t *w, const char *key, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));

static gs_err_t failw(char *errstr, size_t n, const where_t *w, const char *key, const char *fmt,
                      ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (w->file)
        return gs_fail(errstr, n, GS_ERR_CONFIG, "%s:%d: %s: %s", w->file, w->line, key, msg);
    return gs_fail(errstr, n, GS_ERR_CONFIG, "command line: %s: %s", key, msg);
}

/* The table entry of key and the struct it sets (the core's or a
 * section's); NULL if unknown. */
static const gs_config_key_t *find_key(gs_config_t *cfg, const char *key, void **base)
{
    for (size_t i = 0; i < gs_config_n_core_keys; i++)
        if (!strcmp(gs_config_core_keys[i].key, key)) {
            *base = cfg;
            return &gs_config_core_keys[i];
        }
    for (size_t s = 0; s < cfg->n_sections; s++)
        for (size_t i = 0; i < cfg->sections[s]->n_keys; i++)
            if (!strcmp(cfg->sections[s]->keys[i].key, key)) {
                *base = cfg->section_data[s];
                return &cfg->sections[s]->keys[i];
            }
    return NULL;
}

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return 0;
    *out = v;
    return 1;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no", "off",
                                                                             "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, t[i]))
            return *out = 1, 1;
        if (!strcasecmp(s, f[i]))
            return *out = 0, 1;
    }
    return 0;
}

static char *path_join(const char *dir, const char *path)
{
    if (!*path || path[0] == '/' || !dir || !*dir) {
        return strdup(path);
    }
    size_t n = strlen(dir) + strlen(path) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", dir, path);
    return out;
}

/* Sets one table key from its text form; the single entry point for
 * defaults, file values and overrides, so all are validated the same way. */
static gs_err_t set_value(void *conf, const gs_config_key_t *d, const char *text, const where_t *w,
                          char *errstr, size_t n)
{
    char *base = (char *)conf + d->offset;
    switch (d->type) {
    case GS_CFG_STR:
    case GS_CFG_PATH: {
        char *v = d->type == GS_CFG_PATH ? path_join(w->dir, text) : strdup(text);
        if (!v)
            return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        free(*(char **)base);
        *(char **)base = v;
        return GS_OK;
    }
    case GS_CFG_INT: {
        long v;
        if (!parse_long(text, &v))
            return failw(errstr, n, w, d->key, "expected an integer, got \"%s\"", text);
        if (v < d->min || v > d->max)
            return failw(errstr, n, w, d->key, "must be between %ld and %ld (got %ld)", d->min,
                         d->max, v);
        *(int *)base = (int)v;
        return GS_OK;
    }
    case GS_CFG_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        if (end == text || *end || errno || !isfinite(v))
            return failw(errstr, n, w, d->key, "expected a number, got \"%s\"", text);
        if (v < d->dmin || v > d->dmax)
            return failw(errstr, n, w, d->key, "must be between %g and %g (got %g)", d->dmin,
                         d->dmax, v);
        memcpy(base, &v, sizeof(v)); /* base is the struct's double */
        return GS_OK;
    }
    case GS_CFG_BOOL:
        if (!parse_bool(text, (int *)base))
            return failw(errstr, n, w, d->key, "expected true or false, got \"%s\"", text);
        return GS_OK;
    case GS_CFG_ENUM:
        for (int i = 0; d->names[i]; i++) {
            if (!strcmp(d->names[i], text)) {
                *(int *)base = i;
                return GS_OK;
            }
        }
        return failw(errstr, n, w, d->key, "\"%s\" is not one of the allowed values", text);
    case GS_CFG_SPECIAL: /* parsed by its own code */
        break;
    }
    return gs_fail(errstr, n, GS_ERR_INTERNAL, "%s: not a scalar key", d->key);
}

/* A secret file's content without its trailing line break (LF or CRLF). */
static gs_err_t read_secret(const char *path, char **out, char *errstr, size_t n)
{
    size_t len = 0;
    gs_err_t err = gs_read_file(path, out, &len, errstr, n);
    if (err)
        return err;
    while (len && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r'))
        (*out)[--len] = '\0';
    return GS_OK;
}

static int is_secret_prop(const char *name)
{
    for (size_t i = 0; secret_props[i]; i++)
        if (!strcmp(secret_props[i], name))
            return 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Appends (or replaces) one librdkafka property. `rel` is the name below the
 * group, in file spelling; `value` is the literal text. */
static gs_err_t add_kv(gs_config_kvlist_t *list, const char *group, const char *rel,
                       const char *value, const where_t *w, char *errstr, size_t n)
{
    char full[256];
    snprintf(full, sizeof(full), "%s.%s", group, rel);
    char name[200];
    if (strlen(rel) >= sizeof(name))
        return failw(errstr, n, w, full, "name too long");
    strcpy(name, rel);

    char *resolved = NULL;
    int secret = 0;
    if (ends_with(name, "_env")) {
        name[strlen(name) - 4] = '\0';
        const char *env = getenv(value);
        if (!env)
            return failw(errstr, n, w, full, "environment variable %s is not set", value);
        resolved = strdup(env);
        secret = 1;
    } else if (ends_with(name, "_file")) {
        name[strlen(name) - 5] = '\0';
        char *path = path_join(w->dir, value);
        char ferr[256];
        gs_err_t err = path ? read_secret(path, &resolved, ferr, sizeof(ferr)) : GS_ERR_NOMEM;
        free(path);
        if (err)
            return failw(errstr, n, w, full, "%s", err == GS_ERR_NOMEM ? "out of memory" : ferr);
        secret = 1;
    }
    for (char *p = name; *p; p++)
        if (*p == '_')
            *p = '.';
    if (!secret && is_secret_prop(name))
        return failw(errstr, n, w, full,
                     "secrets are not accepted in configuration; use %s_env or %s_file", rel, rel);
    if (!resolved)
        resolved = strdup(value);
    char *dup = strdup(name);
    gs_config_kv_t *items = realloc(list->items, (list->count + 1) * sizeof(*items));
    if (!resolved || !dup || !items) {
        free(resolved);
        free(dup);
        if (items)
            list->items = items;
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    list->items = items;
    for (size_t i = 0; i < list->count; i++) {
        if (!strcmp(items[i].name, dup)) { /* a later setting wins */
            free(items[i].name);
            free(items[i].value);
            items[i] = items[--list->count];
            break;
        }
    }
    items[list->count++] = (gs_config_kv_t){dup, resolved, w->line, secret};
    return GS_OK;
}

static gs_config_kvlist_t *kv_group(gs_config_t *cfg, const char *path, const char **rel)
{
    for (size_t i = 0; i < sizeof(kv_groups) / sizeof(kv_groups[0]); i++) {
        size_t l = strlen(kv_groups[i].prefix);
        if (!strncmp(path, kv_groups[i].prefix, l) && path[l] == '.') {
            *rel = path + l + 1;
            return (gs_config_kvlist_t *)((char *)cfg + kv_groups[i].off);
        }
    }
    return NULL;
}

/* Text form of a libconfig scalar, so file values share set_value().
 * Strings are returned as they are (any length); numbers go through buf. */
static const char *scalar_text(const config_setting_t *s, char *buf, size_t n)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        snprintf(buf, n, "%d", config_setting_get_int(s));
        return buf;
    case CONFIG_TYPE_INT64:
        snprintf(buf, n, "%lld", config_setting_get_int64(s));
        return buf;
    case CONFIG_TYPE_FLOAT:
        snprintf(buf, n, "%.17g", config_setting_get_float(s));
        return buf;
    case CONFIG_TYPE_BOOL:
        return config_setting_get_bool(s) ? "true" : "false";
    case CONFIG_TYPE_STRING:
        return config_setting_get_string(s);
    default:
        return NULL;
    }
}

/* ---- alerts.rules: a list of groups ---------------------------------- */

static int name_index(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

/* labels = { team = "x"; } -> kv list (values are literal strings). */
static gs_err_t parse_strmap(const config_setting_t *g, gs_config_kvlist_t *out, const char *key,
                             int labels, where_t *w, char *errstr, size_t n)
{
    if (!config_setting_is_group(g))
        return failw(errstr, n, w, key, "expected a group of strings");
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *c = config_setting_get_elem(g, (unsigned)i);
        w->line = (int)config_setting_source_line(c);
        const char *name = config_setting_name(c);
        if (config_setting_type(c) != CONFIG_TYPE_STRING)
            return failw(errstr, n, w, key, "%s: expected a string", name);
        if (labels && (!gs_ident_valid(name) || !strcmp(name, "alertname") ||
                       !strcmp(name, "worker") || !strcmp(name, "severity")))
            return failw(errstr, n, w, key,
                         "%s: not a label name, or one govstream sets (alertname, worker, "
                         "severity)",
                         name);
        gs_config_kv_t *items = realloc(out->items, (out->count + 1) * sizeof(*items));
        if (!items)
            return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        out->items = items;
        items[out->count] =
            (gs_config_kv_t){strdup(name), strdup(config_setting_get_string(c)), w->line, 0};
        if (!items[out->count].name || !items[out->count].value) {
            free(items[out->count].name);
            free(items[out->count].value);
            return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        }
        out->count++;
    }
    return GS_OK;
}

static gs_err_t parse_rule(gs_alert_rule_conf_t *r, const config_setting_t *g, const char *key,
                           where_t *w, char *errstr, size_t n)
{
    r->window_ms = 60000;
    r->line = w->line;
    int have_threshold = 0;
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *c = config_setting_get_elem(g, (unsigned)i);
        const char *f = config_setting_name(c);
        char k[300];
        snprintf(k, sizeof(k), "%s.%s", key, f);
        w->line = (int)config_setting_source_line(c);
        int type = config_setting_type(c);
        int is_num =
            type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 || type == CONFIG_TYPE_FLOAT;
        const char *str = type == CONFIG_TYPE_STRING ? config_setting_get_string(c) : NULL;
        char **dst = !strcmp(f, "name")       ? &r->name
                     : !strcmp(f, "metric")   ? &r->metric
                     : !strcmp(f, "over")     ? &r->over
                     : !strcmp(f, "severity") ? &r->severity
                                              : NULL;
        gs_err_t err = GS_OK;
        if (dst) {
            if (!str)
                return failw(errstr, n, w, k, "expected a string");
            free(*dst);
            if (!(*dst = strdup(str)))
                return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        } else if (!strcmp(f, "aggregation") || !strcmp(f, "op")) {
            const char *const *names = f[0] == 'a' ? gs_alert_agg_names : gs_alert_op_names;
            int v = str ? name_index(names, str) : -1;
            if (v < 0)
                return failw(errstr, n, w, k, "\"%s\" is not one of the allowed values",
                             str ? str : "(not a string)");
            *(f[0] == 'a' ? &r->aggregation : &r->op) = v;
        } else if (!strcmp(f, "threshold") || !strcmp(f, "quantile")) {
            if (!is_num)
                return failw(errstr, n, w, k, "expected a number");
            double v = config_setting_get_float(c);
            if (type != CONFIG_TYPE_FLOAT)
                v = (double)config_setting_get_int64(c);
            if (f[0] == 't') {
                r->threshold = v;
                have_threshold = 1;
            } else {
                r->quantile = v;
            }
        } else if (!strcmp(f, "window_ms") || !strcmp(f, "for_ms")) {
            long long v = type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64
                              ? config_setting_get_int64(c)
                              : -1;
            long long lo = f[0] == 'w' ? 1000 : 0;
            if (v < lo || v > 86400000)
                return failw(errstr, n, w, k, "expected an integer between %lld and 86400000", lo);
            *(f[0] == 'w' ? &r->window_ms : &r->for_ms) = (int)v;
        } else if (!strcmp(f, "labels") || !strcmp(f, "annotations")) {
            err = parse_strmap(c, f[0] == 'l' ? &r->labels : &r->annotations, k, f[0] == 'l', w,
                               errstr, n);
        } else {
            return failw(errstr, n, w, k, "unknown key");
        }
        if (err)
            return err;
    }
    w->line = r->line;
    if (!r->name || !gs_ident_valid(r->name))
        return failw(errstr, n, w, key, "name: required, letters, digits and _");
    if (!r->metric)
        return failw(errstr, n, w, key, "metric: required");
    if (!have_threshold)
        return failw(errstr, n, w, key, "threshold: required");
    if (r->aggregation == GS_AGG_RATIO && !r->over)
        return failw(errstr, n, w, key, "over: required by the ratio aggregation");
    if (r->aggregation == GS_AGG_QUANTILE && !(r->quantile > 0 && r->quantile <= 1))
        return failw(errstr, n, w, key, "quantile: required, in (0, 1]");
    if (!r->severity && !(r->severity = strdup("warning")))
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    return GS_OK;
}

static gs_err_t parse_rules(gs_config_t *cfg, const config_setting_t *list, where_t *w,
                            char *errstr, size_t n)
{
    if (!config_setting_is_list(list))
        return failw(errstr, n, w, "alerts.rules", "expected a list: ( { name = ...; }, ... )");
    int count = config_setting_length(list);
    for (int i = 0; i < count; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        char key[64];
        snprintf(key, sizeof(key), "alerts.rules[%d]", i);
        w->line = (int)config_setting_source_line(g);
        if (!config_setting_is_group(g))
            return failw(errstr, n, w, key, "expected a group { ... }");
        if (gs_grow(&cfg->alerts.rules, cfg->alerts.n_rules + 1, sizeof(gs_alert_rule_conf_t)))
            return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        gs_alert_rule_conf_t *r = &cfg->alerts.rules[cfg->alerts.n_rules++];
        *r = (gs_alert_rule_conf_t){0};
        gs_err_t err = parse_rule(r, g, key, w, errstr, n);
        if (err)
            return err;
        for (size_t j = 0; j + 1 < cfg->alerts.n_rules; j++)
            if (!strcmp(cfg->alerts.rules[j].name, r->name))
                return failw(errstr, n, w, key, "name: \"%s\" is used twice", r->name);
    }
    return GS_OK;
}

static gs_err_t walk(gs_config_t *cfg, const config_setting_t *s, const char *prefix, where_t *w,
                     char *errstr, size_t n)
{
    int count = config_setting_length(s);
    for (int i = 0; i < count; i++) {
        const config_setting_t *c = config_setting_get_elem(s, (unsigned)i);
        char path[256];
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", config_setting_name(c));
        w->line = (int)config_setting_source_line(c);
        void *base;
        const gs_config_key_t *d = find_key(cfg, path, &base);
        if (d && d->type == GS_CFG_SPECIAL) { /* alerts.rules: a list of groups */
            gs_err_t err = parse_rules(cfg, c, w, errstr, n);
            if (err)
                return err;
            continue;
        }
        if (config_setting_is_group(c)) {
            gs_err_t err = walk(cfg, c, path, w, errstr, n);
            if (err)
                return err;
            continue;
        }
        char num[64];
        const char *text = scalar_text(c, num, sizeof(num));
        if (!text)
            return failw(errstr, n, w, path, "lists and arrays are not used here");
        const char *rel;
        gs_config_kvlist_t *list = kv_group(cfg, path, &rel);
        gs_err_t err;
        if (list) {
            char group[32];
            snprintf(group, sizeof(group), "%.*s", (int)(rel - path - 1), path);
            err = add_kv(list, group, rel, text, w, errstr, n);
        } else {
            if (!d)
                return failw(errstr, n, w, path, "unknown key");
            int numeric =
                d->type == GS_CFG_INT || d->type == GS_CFG_BOOL || d->type == GS_CFG_DOUBLE;
            if (numeric == (config_setting_type(c) == CONFIG_TYPE_STRING))
                return failw(errstr, n, w, path, "expected %s",
                             d->type == GS_CFG_INT      ? "an integer"
                             : d->type == GS_CFG_BOOL   ? "true or false"
                             : d->type == GS_CFG_DOUBLE ? "a number"
                                                        : "a string");
            err = set_value(base, d, text, w, errstr, n);
        }
        if (err)
            return err;
    }
    return GS_OK;
}

/* -o 'alerts.rules=( { name = ...; }, ... )' adds rules to the file's. */
static gs_err_t override_rules(gs_config_t *cfg, const char *text, char *errstr, size_t n)
{
    where_t w = {NULL, 0, NULL};
    size_t len = strlen(text) + 16;
    char *doc = malloc(len);
    if (!doc)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    snprintf(doc, len, "rules = %s;", text);
    config_t lc;
    config_init(&lc);
    gs_err_t err = GS_OK;
    if (!config_read_string(&lc, doc))
        err = failw(errstr, n, &w, "alerts.rules", "syntax error: %s", config_error_text(&lc));
    else
        err = parse_rules(cfg, config_setting_get_member(config_root_setting(&lc), "rules"), &w,
                          errstr, n);
    config_destroy(&lc);
    free(doc);
    return err;
}

static gs_err_t apply_override(gs_config_t *cfg, const char *arg, char *errstr, size_t n)
{
    const where_t w = {NULL, 0, NULL};
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return gs_fail(errstr, n, GS_ERR_CONFIG, "command line: expected key=value, got \"%s\"",
                       arg);
    char key[256];
    snprintf(key, sizeof(key), "%.*s", (int)(eq - arg), arg);
    void *base;
    const gs_config_key_t *d = find_key(cfg, key, &base);
    if (d && d->type == GS_CFG_SPECIAL) /* alerts.rules: a list, in libconfig syntax */
        return override_rules(cfg, eq + 1, errstr, n);
    const char *rel;
    gs_config_kvlist_t *list = kv_group(cfg, key, &rel);
    if (list) {
        char group[32];
        snprintf(group, sizeof(group), "%.*s", (int)(rel - key - 1), key);
        return add_kv(list, group, rel, eq + 1, &w, errstr, n);
    }
    if (!d)
        return failw(errstr, n, &w, key, "unknown key");
    return set_value(base, d, eq + 1, &w, errstr, n);
}

static int nonempty(const char *s)
{
    return s && *s;
}

/* Rules that involve more than one key. */
static gs_err_t check_cross(gs_config_t *cfg, char *errstr, size_t n)
{
    const char *f = *cfg->path ? cfg->path : "defaults";
    int confluent = cfg->deadletter.framing == GS_FRAMING_CONFLUENT ||
                    (nonempty(cfg->metrics.topic) && cfg->metrics.framing == GS_FRAMING_CONFLUENT);
    if (confluent && !nonempty(cfg->registry.url))
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "%s: registry.url: required because a topic uses confluent framing", f);
    const char *url = cfg->alerts.webhook.url;
    if (nonempty(url) && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "%s: alerts.webhook.url: must start with http:// or https://", f);
    if (cfg->delivery.queue_low_pct >= cfg->delivery.queue_high_pct)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "%s: delivery.queue_low_pct: must be below delivery.queue_high_pct", f);
    if (cfg->delivery.transaction_interval_ms >= cfg->delivery.transaction_timeout_ms)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "%s: delivery.transaction_interval_ms: must be below "
                       "delivery.transaction_timeout_ms",
                       f);
    if (cfg->governance.max_scopes < cfg->batch.max)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "%s: governance.max_scopes: must be at least batch.max (a batch's scopes "
                       "stay in memory while it is processed)",
                       f);
    if (cfg->delivery.max_inflight_per_partition < cfg->batch.max)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "%s: delivery.max_inflight_per_partition: must be at least batch.max", f);
    if (cfg->deadletter.max_value_bytes < cfg->limits.max_request_bytes)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "%s: deadletter.max_value_bytes: must be at least "
                       "limits.max_request_bytes so that every accepted-size input is "
                       "dead-lettered whole",
                       f);

    /* A hung registry must never hold the poll loop past max.poll.interval.ms:
     * bound one lookup's worst case (all attempts time out) to half of it. */
    long max_poll = 300000;
    for (size_t i = 0; i < cfg->kafka.count + cfg->kafka_consumer.count; i++) {
        const gs_config_kv_t *kv = i < cfg->kafka.count
                                       ? &cfg->kafka.items[i]
                                       : &cfg->kafka_consumer.items[i - cfg->kafka.count];
        if (!strcmp(kv->name, "max.poll.interval.ms"))
            parse_long(kv->value, &max_poll);
        if (!strcmp(kv->name, "enable.auto.offset.store"))
            return gs_fail(errstr, n, GS_ERR_CONFIG,
                           "%s:%d: kafka.enable_auto_offset_store: owned by govstream "
                           "(offsets are stored only after results are acknowledged)",
                           f, kv->line);
    }
    for (size_t i = 0; i < cfg->kafka.count + cfg->kafka_producer.count; i++) {
        const gs_config_kv_t *kv = i < cfg->kafka.count
                                       ? &cfg->kafka.items[i]
                                       : &cfg->kafka_producer.items[i - cfg->kafka.count];
        if (!strcmp(kv->name, "transactional.id") || !strcmp(kv->name, "transaction.timeout.ms"))
            return gs_fail(errstr, n, GS_ERR_CONFIG,
                           "%s:%d: %s: owned by govstream (delivery.mode, "
                           "delivery.transaction_timeout_ms)",
                           f, kv->line, kv->name);
    }
    long worst = 0;
    int backoff = 0;
    for (int a = 0; a <= cfg->registry.retries; a++) {
        worst += cfg->registry.timeout_ms;
        if (a < cfg->registry.retries) {
            backoff =
                gs_backoff_next(backoff, cfg->registry.backoff_ms, cfg->registry.backoff_max_ms);
            worst += backoff;
        }
    }
    if (nonempty(cfg->registry.url) && worst > max_poll / 2)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "%s: registry.timeout_ms: a lookup may take %ld ms with %d retries, "
                       "more than half of max.poll.interval.ms (%ld)",
                       f, worst, cfg->registry.retries, max_poll);
    return GS_OK;
}

/* <key>_env names an environment variable, <key>_file a file; neither:
 * the secret is "". */
static gs_err_t resolve_secret(const char *f, const char *key, const char *env, const char *file,
                               char **out, char *errstr, size_t n)
{
    if (env && *env) {
        const char *v = getenv(env);
        if (!v)
            return gs_fail(errstr, n, GS_ERR_CONFIG,
                           "%s: %s_env: environment variable %s is not set", f, key, env);
        *out = strdup(v);
    } else if (file && *file) {
        char ferr[256];
        if (read_secret(file, out, ferr, sizeof(ferr)))
            return gs_fail(errstr, n, GS_ERR_CONFIG, "%s: %s_file: %s", f, key, ferr);
    } else {
        *out = strdup("");
    }
    return *out ? GS_OK : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
}

static gs_err_t resolve_secrets(gs_config_t *cfg, char *errstr, size_t n)
{
    const char *f = *cfg->path ? cfg->path : "defaults";
    gs_err_t err = resolve_secret(f, "registry.password", cfg->registry.password_env,
                                  cfg->registry.password_file, &cfg->registry.password, errstr, n);
    if (!err)
        err =
            resolve_secret(f, "alerts.webhook.secret", cfg->alerts.webhook.secret_env,
                           cfg->alerts.webhook.secret_file, &cfg->alerts.webhook.secret, errstr, n);
    if (err)
        return err;
    if (!cfg->worker.id || !*cfg->worker.id) {
        char host[128] = "localhost", id[200];
        gethostname(host, sizeof(host) - 1);
        snprintf(id, sizeof(id), "%s-%ld", host, (long)getpid());
        free(cfg->worker.id);
        cfg->worker.id = strdup(id);
    }
    return GS_OK;
}

/* Every key of a table to its default: the defaults go through the same
 * setter as file and command-line values. */
static gs_err_t set_defaults(void *conf, const gs_config_key_t *keys, size_t n_keys,
                             const where_t *w, char *errstr, size_t n)
{
    gs_err_t err = GS_OK;
    for (size_t i = 0; !err && i < n_keys; i++)
        if (keys[i].type != GS_CFG_SPECIAL)
            err = set_value(conf, &keys[i], keys[i].def, w, errstr, n);
    return err;
}

static gs_err_t add_sections(gs_config_t *cfg, const gs_config_section_t *const *sections,
                             const where_t *w, char *errstr, size_t n)
{
    size_t count = 0;
    while (sections && sections[count])
        count++;
    cfg->sections = sections;
    cfg->section_data = calloc(count ? count : 1, sizeof(void *));
    if (!cfg->section_data)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        cfg->section_data[i] = calloc(1, sections[i]->size ? sections[i]->size : 1);
        if (!cfg->section_data[i])
            return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        cfg->n_sections++;
        gs_err_t err = set_defaults(cfg->section_data[i], sections[i]->keys, sections[i]->n_keys, w,
                                    errstr, n);
        if (err)
            return err;
    }
    return GS_OK;
}

/* Read once, then parsed from memory. A configuration file is text:
 * libconfig (1.5) leaks the string it was reading when a quoted string holds
 * a NUL byte, so a file with one is refused first. */
static gs_err_t read_file(gs_config_t *cfg, const char *path, where_t *w, char *errstr, size_t n)
{
    char *text, why[256];
    size_t len;
    if (gs_read_file(path, &text, &len, why, sizeof(why)))
        return gs_fail(errstr, n, GS_ERR_CONFIG, "cannot read: %s", why);
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        gs_err_t err =
            gs_fail(errstr, n, GS_ERR_CONFIG, "%s: a NUL byte at offset %zu: not a text file", path,
                    (size_t)(nul - text));
        free(text);
        return err;
    }
    config_t lc;
    config_init(&lc);
    gs_err_t err;
    if (!config_read_string(&lc, text)) {
        err = gs_fail(errstr, n, GS_ERR_CONFIG, "%s:%d: syntax error: %s",
                      config_error_file(&lc) ? config_error_file(&lc) : path,
                      config_error_line(&lc), config_error_text(&lc));
    } else {
        w->file = path;
        err = walk(cfg, config_root_setting(&lc), "", w, errstr, n);
    }
    config_destroy(&lc);
    free(text);
    return err;
}

static gs_err_t check_sections(const gs_config_t *cfg, char *errstr, size_t n)
{
    for (size_t i = 0; i < cfg->n_sections; i++) {
        gs_err_t err = cfg->sections[i]->check
                           ? cfg->sections[i]->check(cfg, cfg->section_data[i], errstr, n)
                           : GS_OK;
        if (err)
            return err;
    }
    return GS_OK;
}

gs_err_t gs_config_load(const char *path, const gs_config_section_t *const *sections,
                        const char *const *overrides, size_t n_overrides, gs_config_t **out,
                        char *errstr, size_t n)
{
    gs_config_t *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    cfg->path = strdup(path ? path : "");
    char *dir = strdup(path ? path : "");
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    else if (dir)
        *dir = '\0';
    gs_err_t err = (cfg->path && dir) ? GS_OK : GS_ERR_NOMEM;

    /* Relative paths, defaults' too, resolve against the file's directory. */
    where_t w = {"defaults", 0, dir && *dir ? dir : (path ? "." : "config")};
    if (!err)
        err = set_defaults(cfg, gs_config_core_keys, gs_config_n_core_keys, &w, errstr, n);
    if (!err)
        err = add_sections(cfg, sections, &w, errstr, n);
    if (!err && path)
        err = read_file(cfg, path, &w, errstr, n);
    for (size_t i = 0; !err && i < n_overrides; i++)
        err = apply_override(cfg, overrides[i], errstr, n);
    free(dir);
    if (!err)
        err = resolve_secrets(cfg, errstr, n);
    if (!err)
        err = check_cross(cfg, errstr, n);
    if (!err)
        err = check_sections(cfg, errstr, n);
    if (err) {
        gs_config_destroy(cfg);
        return err;
    }
    *out = cfg;
    return GS_OK;
}

const void *gs_config_section(const gs_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_sections; i++)
        if (!strcmp(cfg->sections[i]->name, name))
            return cfg->section_data[i];
    return NULL;
}

static void free_kvlist(gs_config_kvlist_t *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].name);
        if (l->items[i].secret && l->items[i].value) /* do not leave secrets in freed memory */
            memset(l->items[i].value, 0, strlen(l->items[i].value));
        free(l->items[i].value);
    }
    free(l->items);
}

/* Secrets are wiped, not just freed. */
static void free_secret(char *s)
{
    if (s)
        memset(s, 0, strlen(s));
    free(s);
}

static void free_strings(void *conf, const gs_config_key_t *keys, size_t n_keys)
{
    for (size_t i = 0; conf && i < n_keys; i++)
        if (keys[i].type == GS_CFG_STR || keys[i].type == GS_CFG_PATH)
            free(*(char **)((char *)conf + keys[i].offset));
}

void gs_config_destroy(gs_config_t *cfg)
{
    if (!cfg)
        return;
    free_strings(cfg, gs_config_core_keys, gs_config_n_core_keys);
    for (size_t i = 0; i < cfg->n_sections; i++) {
        free_strings(cfg->section_data[i], cfg->sections[i]->keys, cfg->sections[i]->n_keys);
        free(cfg->section_data[i]);
    }
    free(cfg->section_data);
    free_secret(cfg->registry.password);
    free_secret(cfg->alerts.webhook.secret);
    for (size_t i = 0; i < cfg->alerts.n_rules; i++) {
        gs_alert_rule_conf_t *r = &cfg->alerts.rules[i];
        free(r->name);
        free(r->metric);
        free(r->over);
        free(r->severity);
        free_kvlist(&r->labels);
        free_kvlist(&r->annotations);
    }
    free(cfg->alerts.rules);
    free_kvlist(&cfg->kafka);
    free_kvlist(&cfg->kafka_consumer);
    free_kvlist(&cfg->kafka_producer);
    free(cfg->path);
    free(cfg);
}

/* One key's value as the file would spell it. */
static void dump_key(FILE *fp, const gs_config_key_t *d, const void *conf)
{
    const char *base = (const char *)conf + d->offset;
    switch (d->type) {
    case GS_CFG_STR:
    case GS_CFG_PATH:
        fprintf(fp, "%s = \"%s\"\n", d->key, *(char *const *)base);
        break;
    case GS_CFG_INT:
        fprintf(fp, "%s = %d\n", d->key, *(const int *)base);
        break;
    case GS_CFG_BOOL:
        fprintf(fp, "%s = %s\n", d->key, *(const int *)base ? "true" : "false");
        break;
    case GS_CFG_ENUM:
        fprintf(fp, "%s = \"%s\"\n", d->key, d->names[*(const int *)base]);
        break;
    case GS_CFG_DOUBLE: { /* the shortest form that reads back the same, with a point */
        double v;
        memcpy(&v, base, sizeof(v));
        for (int prec = 1; prec <= 17; prec++) {
            char buf[40];
            snprintf(buf, sizeof(buf), "%.*g", prec, v);
            if (strtod(buf, NULL) == v || prec == 17) {
                fprintf(fp, "%s = %s%s\n", d->key, buf, strpbrk(buf, ".eEn") ? "" : ".0");
                break;
            }
        }
        break;
    }
    case GS_CFG_SPECIAL:
        break;
    }
}

void gs_config_dump(const gs_config_t *cfg, FILE *fp)
{
    for (size_t i = 0; i < gs_config_n_core_keys; i++)
        dump_key(fp, &gs_config_core_keys[i], cfg);
    for (size_t s = 0; s < cfg->n_sections; s++)
        for (size_t i = 0; i < cfg->sections[s]->n_keys; i++)
            dump_key(fp, &cfg->sections[s]->keys[i], cfg->section_data[s]);
    for (size_t i = 0; i < cfg->alerts.n_rules; i++) {
        const gs_alert_rule_conf_t *r = &cfg->alerts.rules[i];
        fprintf(fp, "alerts.rules[%zu] = %s: %s(%s%s%s) %s %g for %d ms\n", i, r->name,
                gs_alert_agg_names[r->aggregation], r->metric, r->over ? " / " : "",
                r->over ? r->over : "", gs_alert_op_names[r->op], r->threshold, r->for_ms);
    }
    const gs_config_kvlist_t *lists[] = {&cfg->kafka, &cfg->kafka_consumer, &cfg->kafka_producer};
    for (size_t g = 0; g < 3; g++)
        for (size_t i = 0; i < lists[g]->count; i++)
            fprintf(fp, "%s.%s = \"%s\"\n", kv_groups[g].prefix, lists[g]->items[i].name,
                    lists[g]->items[i].secret ? "(secret)" : lists[g]->items[i].value);
}

void gs_config_keys(const gs_config_section_t *const *sections, gs_config_key_fn *fn, void *opaque)
{
    for (size_t i = 0; i < gs_config_n_core_keys; i++)
        if (gs_config_core_keys[i].type != GS_CFG_SPECIAL)
            fn(gs_config_core_keys[i].key, gs_config_core_keys[i].def, gs_config_core_keys[i].doc,
               opaque);
    for (size_t s = 0; sections && sections[s]; s++)
        for (size_t i = 0; i < sections[s]->n_keys; i++)
            fn(sections[s]->keys[i].key, sections[s]->keys[i].def, sections[s]->keys[i].doc,
               opaque);
}

/* ---- docs/CONFIG.md ------------------------------------------------------ */

static void doc_default(FILE *fp, const gs_config_key_t *d)
{
    if (d->type == GS_CFG_STR || d->type == GS_CFG_PATH)
        fprintf(fp, *d->def ? "`%s`" : "`\"\"`", d->def);
    else
        fprintf(fp, "`%s`", d->def);
}

static void doc_table(FILE *fp, const gs_config_key_t *keys, size_t n_keys)
{
    fprintf(fp, "| key | default | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < n_keys; i++) {
        fprintf(fp, "| `%s` | ", keys[i].key);
        doc_default(fp, &keys[i]);
        fprintf(fp, " | %s |\n", keys[i].doc);
    }
}

void gs_config_docs_intro(FILE *fp)
{
    fputs(gs_config_doc_intro, fp);
}

void gs_config_docs_keys(const gs_config_section_t *const *sections, FILE *fp)
{
    fprintf(fp, "## Keys\n\n");
    doc_table(fp, gs_config_core_keys, gs_config_n_core_keys);
    fprintf(fp, "\n## Request kinds\n\n"
                "Each request kind has its own keys, under its name: whether it is served, its "
                "topics and their\nframing, and its own settings; a kind's model is "
                "`models.<kind>`.\n");
    for (size_t s = 0; sections && sections[s]; s++) {
        fprintf(fp, "\n### %s\n\n%s\n\n", sections[s]->name, sections[s]->doc);
        doc_table(fp, sections[s]->keys, sections[s]->n_keys);
    }
}

void gs_config_docs_rules(FILE *fp)
{
    fputs(gs_config_doc_rules, fp);
}
