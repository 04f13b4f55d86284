/* govstream watchlist build|info|validate: official list files compiled
 * into one watch-list file, and what a file holds. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "govstream/screen_list.h"
#include "eval.h"
#include "index.h"

#define MAX_SOURCES 32

static int usage(FILE *fp)
{
    fprintf(fp,
            "usage: govstream watchlist build [--list LABEL] --format F FILE... "
            "[[--list LABEL] --format F FILE...]... --out LIST [--name N] [--version V]\n"
            "       govstream watchlist info [--json] LIST\n"
            "       govstream watchlist validate LIST\n"
            "       govstream watchlist eval LIST ITEMS.jsonl --out PREFIX [...] (eval --help)\n"
            "Formats (default labels): un-xml (UN), ofac-sdn-xml (OFAC-SDN),\n"
            "ofac-sdn-csv (OFAC-SDN: sdn.csv [alt.csv] [add.csv]), eu-fsf-xml (EU-FSF),\n"
            "uk-csv (UK). --list LABEL labels the entries of the next --format group.\n");
    return fp == stdout ? 0 : 2;
}

typedef struct source {
    const char *file, *format, *list;
    int group; /* the --format group it came in (ofac-sdn-csv reads a group at once) */
} source_t;

typedef struct build_args {
    source_t src[MAX_SOURCES];
    size_t n;
    const char *out, *name, *version;
} build_args_t;

typedef gs_err_t (*parse_fn)(const char *path, const char *list, gs_screen_listdata_t *d,
                             char *errstr, size_t errstr_size);

static const struct format {
    const char *name, *label;
    parse_fn parse; /* NULL: ofac-sdn-csv, several files at once */
} formats[] = {
    {"un-xml", "UN", gs_screen_parse_un_xml},
    {"ofac-sdn-xml", "OFAC-SDN", gs_screen_parse_ofac_sdn_xml},
    {"ofac-sdn-csv", "OFAC-SDN", NULL},
    {"eu-fsf-xml", "EU-FSF", gs_screen_parse_eu_fsf_xml},
    {"uk-csv", "UK", gs_screen_parse_uk_csv},
};

static const struct format *format_of(const char *name)
{
    for (size_t i = 0; i < sizeof(formats) / sizeof(*formats); i++)
        if (!strcmp(formats[i].name, name))
            return &formats[i];
    return NULL;
}

static int build_error(const char *what, const char *o)
{
    fprintf(stderr, "govstream watchlist build: %s%s%s\n", what, o ? ": " : "", o ? o : "");
    return -1;
}

/* Flat: --list and --format apply to the FILEs after them; a --list is
 * used by the next --format group only. */
static int parse_build(int argc, char **argv, build_args_t *a)
{
    const struct format *f = NULL;
    const char *list = NULL, *next_list = NULL;
    int group = 0;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(o, "--format") && has) {
            if (!(f = format_of(argv[++i])))
                return build_error("unknown format", argv[i]);
            list = next_list ? next_list : f->label;
            next_list = NULL;
            group++;
        } else if (!strcmp(o, "--list") && has) {
            next_list = argv[++i];
        } else if (!strcmp(o, "--out") && has) {
            a->out = argv[++i];
        } else if (!strcmp(o, "--name") && has) {
            a->name = argv[++i];
        } else if (!strcmp(o, "--version") && has) {
            a->version = argv[++i];
        } else if (o[0] == '-') {
            return build_error("unknown option or missing value", o);
        } else if (!f || a->n == MAX_SOURCES) {
            return build_error(!f ? "a FILE before --format" : "too many files", o);
        } else {
            a->src[a->n++] = (source_t){o, f->name, list, group};
        }
    }
    if (!a->n || !a->out || next_list)
        return build_error(next_list ? "--list without a --format after it"
                                     : "give --format F FILE... and --out LIST",
                           NULL);
    return 0;
}

static int file_sha256(const char *path, char out[65])
{
    FILE *fp = fopen(path, "rb");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char buf[65536], sha[32];
    unsigned len = 0;
    int ok = fp && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t got; ok && (got = fread(buf, 1, sizeof(buf), fp)) > 0;)
        ok = EVP_DigestUpdate(md, buf, got);
    ok = ok && !ferror(fp) && EVP_DigestFinal_ex(md, sha, &len);
    for (unsigned i = 0; ok && i < 32; i++)
        snprintf(out + (size_t)2 * i, 3, "%02x", sha[i]);
    if (fp)
        fclose(fp);
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

/* The version when none is given: the list's own date (one source), else
 * the build date. */
static void today(char out[16])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static json_t *counts_json(gs_screen_list_counts_t c)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "entries", (json_int_t)c.entries, "persons",
                     (json_int_t)c.persons, "entities", (json_int_t)c.entities, "names",
                     (json_int_t)c.names, "identifiers", (json_int_t)c.identifiers,
                     "skipped_without_name", (json_int_t)c.skipped);
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* Sources i..*end (one ofac-sdn-csv group, else one file) into d. */
static gs_err_t parse_one(const build_args_t *a, size_t i, size_t *end, gs_screen_listdata_t *d,
                          char *err, size_t n)
{
    const source_t *s = &a->src[i];
    const struct format *f = format_of(s->format);
    *end = i + 1;
    if (f->parse)
        return f->parse(s->file, s->list, d, err, n);
    const char *paths[MAX_SOURCES];
    size_t k = 0;
    for (; i + k < a->n && a->src[i + k].group == s->group; k++)
        paths[k] = a->src[i + k].file;
    *end = i + k;
    return gs_screen_parse_ofac_sdn_csv(paths, k, s->list, d, err, n);
}

/* Parses every source into d; the metadata's "sources" (a CSV group's
 * entries are counted on its first file). */
static int parse_sources(const build_args_t *a, gs_screen_listdata_t *d, json_t *sources,
                         size_t *calls)
{
    char err[512], sha[65];
    int tty = isatty(2);
    for (size_t i = 0, end; i < a->n; i = end, ++*calls) {
        size_t before = gs_screen_listdata_counts(d).entries;
        if (tty)
            fprintf(stderr, "reading %s (%s) ...\r", base_name(a->src[i].file), a->src[i].format);
        if (parse_one(a, i, &end, d, err, sizeof(err))) {
            fprintf(stderr, "govstream watchlist build: %s\n", err);
            return 1;
        }
        for (size_t k = i; k < end; k++) {
            const source_t *s = &a->src[k];
            if (file_sha256(s->file, sha)) {
                fprintf(stderr, "govstream watchlist build: %s: cannot read\n", s->file);
                return 1;
            }
            size_t got = k == i ? gs_screen_listdata_counts(d).entries - before : 0;
            json_array_append_new(sources, json_pack("{s:s,s:s,s:s,s:s,s:I}", "format", s->format,
                                                     "file", base_name(s->file), "list", s->list,
                                                     "sha256", sha, "entries", (json_int_t)got));
        }
    }
    return 0;
}

/* The sources' labels, each once, joined by "+": "UN", "UN+OFAC-SDN". */
static const char *default_name(const build_args_t *a, char *out, size_t size)
{
    out[0] = 0;
    for (size_t i = 0; i < a->n; i++) {
        int seen = 0;
        for (size_t k = 0; k < i; k++)
            seen |= !strcmp(a->src[k].list, a->src[i].list);
        size_t len = strlen(out);
        if (!seen)
            snprintf(out + len, size - len, "%s%s", len ? "+" : "", a->src[i].list);
    }
    return out;
}

/* The list with its search index: written once without it, opened (so the
 * index is built from exactly what readers see), then written with it. */
static gs_err_t write_indexed(const char *out, const gs_screen_listdata_t *d, const char *meta,
                              char *err, size_t n)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.noindex", out);
    gs_err_t e = gs_screen_list_write(tmp, d, meta, NULL, 0, err, n);
    gs_screen_list_t *l = NULL;
    screen_text_tools_t tools = {0};
    gs_tensor_t *sections = NULL;
    size_t n_sections = 0;
    if (!e)
        e = gs_screen_list_open(tmp, &l, err, n);
    if (!e)
        e = screen_tools_new(&tools, err, n);
    if (!e)
        e = screen_index_build(l, &tools, &sections, &n_sections, err, n);
    if (!e)
        e = gs_screen_list_write(out, d, meta, sections, n_sections, err, n);
    screen_index_sections_free(sections, n_sections);
    screen_tools_free(&tools);
    gs_screen_list_close(l);
    unlink(tmp);
    return e;
}

static int cmd_build(int argc, char **argv)
{
    build_args_t a = {0};
    if (parse_build(argc, argv, &a))
        return usage(stderr);
    gs_screen_listdata_t *d;
    char err[512], date[16];
    if (gs_screen_listdata_new(&d, err, sizeof(err))) {
        fprintf(stderr, "govstream watchlist build: %s\n", err);
        return 1;
    }
    json_t *sources = json_array();
    size_t calls = 0;
    char name[256];
    int rc = parse_sources(&a, d, sources, &calls);
    today(date);
    gs_screen_list_counts_t c = gs_screen_listdata_counts(d);
    const char *version = a.version                                   ? a.version
                          : *gs_screen_listdata_date(d) && calls == 1 ? gs_screen_listdata_date(d)
                                                                      : date;
    json_t *meta = json_pack(
        "{s:s,s:s,s:s,s:o,s:o}", "name", a.name ? a.name : default_name(&a, name, sizeof(name)),
        "version", version, "built_at", date, "sources", sources, "counts", counts_json(c));
    char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    if (!rc && (!text || write_indexed(a.out, d, text, err, sizeof(err)))) {
        fprintf(stderr, "govstream watchlist build: %s\n", text ? err : "out of memory");
        rc = 1;
    }
    if (!rc)
        fprintf(stderr,
                "%s: %zu entries (%zu persons, %zu entities), %zu names, %zu identifiers; "
                "%zu entries without a name skipped\n",
                a.out, c.entries, c.persons, c.entities, c.names, c.identifiers, c.skipped);
    free(text);
    json_decref(meta);
    gs_screen_listdata_destroy(d);
    return rc;
}

/* info --json: the metadata as stored, the file's digest and size, and
 * its sections. */
static void print_json(const gs_modelfile_t *mf)
{
    json_error_t je;
    json_t *sections = json_array();
    for (size_t i = 0; i < gs_modelfile_count(mf); i++)
        json_array_append_new(sections,
                              json_pack("{s:s,s:I}", "name", gs_modelfile_at(mf, i)->name, "bytes",
                                        (json_int_t)gs_modelfile_at(mf, i)->nbytes));
    json_t *j = json_pack("{s:s,s:I,s:o,s:o}", "sha256", gs_modelfile_sha256(mf), "bytes",
                          (json_int_t)gs_modelfile_size(mf), "meta",
                          json_loads(gs_modelfile_meta(mf), 0, &je), "sections", sections);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(j);
}

static int cmd_info(int argc, char **argv, int validate)
{
    int json = argc == 4 && !strcmp(argv[2], "--json");
    if (argc != 3 + json || (validate && json))
        return usage(stderr);
    const char *path = argv[argc - 1];
    gs_screen_list_t *l;
    char err[512];
    if (gs_screen_list_open(path, &l, err, sizeof(err))) {
        fprintf(stderr, "%s: refused: %s\n", path, err);
        return 1;
    }
    const gs_modelfile_t *mf = gs_screen_list_file(l);
    screen_index_t *ix = NULL;
    if (validate && screen_index_open(l, &ix, err, sizeof(err))) {
        fprintf(stderr, "%s: refused: %s\n", path, err);
        gs_screen_list_close(l);
        return 1;
    }
    screen_index_close(ix);
    if (validate) {
        printf("%s: valid watch list %s %s, sha256 %s\n", path, gs_screen_list_name(l),
               gs_screen_list_version(l), gs_modelfile_sha256(mf));
    } else if (json) {
        print_json(mf);
    } else {
        printf("%s: watch list %s, version %s\nsha256 %s, %zu bytes\n%zu entries, %zu names, "
               "%zu identifiers\nmetadata %s\n",
               path, gs_screen_list_name(l), gs_screen_list_version(l), gs_modelfile_sha256(mf),
               gs_modelfile_size(mf), gs_screen_list_entries(l), gs_screen_list_names(l),
               gs_screen_list_idents(l), gs_modelfile_meta(mf));
        for (size_t i = 0; i < gs_modelfile_count(mf); i++)
            printf("section %-24s %12llu bytes\n", gs_modelfile_at(mf, i)->name,
                   (unsigned long long)gs_modelfile_at(mf, i)->nbytes);
    }
    gs_screen_list_close(l);
    return 0;
}

int gs_screen_watchlist_cmd(int argc, char **argv)
{
    if (argc < 2) /* argv[0] is "watchlist" */
        return usage(stderr);
    const char *sub = argv[1];
    if (!strcmp(sub, "build"))
        return cmd_build(argc, argv);
    if (!strcmp(sub, "info"))
        return cmd_info(argc, argv, 0);
    if (!strcmp(sub, "validate"))
        return cmd_info(argc, argv, 1);
    if (!strcmp(sub, "eval"))
        return argc > 2 && !strcmp(argv[2], "--help") ? gs_screen_eval_usage(stdout)
                                                      : gs_screen_eval_cmd(argc, argv);
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h"))
        return usage(stdout);
    return usage(stderr);
}
