/* govstream-load's side of the screen kind: synthetic payment texts from
 * fixed templates and name pools (deterministic per --seed; the names are
 * made up and on no list), requests from JSON (--from), and the verifier's
 * JSON line of a result. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "private.h"

static const char *const templates[] = {
    "Оплата по договору № %u от 12.03.2024 за поставку товара, в т.ч. НДС 20%%. Получатель: %s",
    "Оплата за послуги згідно рахунку № %u, без ПДВ. Отримувач: %s",
    "Payment for services under invoice %u, beneficiary %s",
    "Перевод собственных средств, договор %u, %s",
    "Invoice %u: consulting fees, in favour of %s",
    "Повернення коштів за договором %u, %s",
};
static const char *const names[] = {
    "ООО «Северный Луч»",       "ТОВ «Зелена Долина»",      "Petrova Anna",
    "Green Meadow Trading LLC", "Сидоренко Олена Петрівна", "Кузнецов Павел Андреевич",
    "Blue Harbour Ltd",         "ИП Морозова Е.В.",
};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The draws happen in a fixed order (statements), so a seed always makes
 * the same run. */
static void generate(const gs_load_params_t *p, long i, gs_rng_t *rng, void *request, gs_arena_t *a)
{
    gs_avro_screen_request_t *r = request;
    *r = (gs_avro_screen_request_t){.has_amount = true, .has_currency = true};
    r->request_id = gs_kind_printf(a, "%s-%ld", p->run_id, i);
    r->account_id =
        gs_kind_printf(a, "%s-a%ld", p->run_id, (long)(gs_rng_next(rng) % (uint64_t)p->keys));
    r->tenant = gs_kind_printf(a, "tenant-%ld", (long)(gs_rng_next(rng) % (uint64_t)p->tenants));
    const char *t = templates[gs_rng_next(rng) % N_OF(templates)];
    const char *name = names[gs_rng_next(rng) % N_OF(names)];
    unsigned number = (unsigned)(gs_rng_next(rng) % 100000);
    r->text = gs_kind_printf(a, t, number, name);
    r->amount = round(gs_rng_unit(rng) * 1e7) / 100;
    r->currency = gs_avro_cstr(gs_rng_next(rng) % 2 ? "RUB" : "UAH");
    r->created_at_ms = (int64_t)time(NULL) * 1000;
}

/* A nullable string: present when the object has a string there. */
static void take_opt_str(json_t *j, const char *field, bool *has, gs_str_t *dst)
{
    *has = json_is_string(json_object_get(j, field));
    gs_kind_json_str(j, field, dst);
}

/* Strings stay owned by the JSON document; the schema's defaults fill what
 * the object leaves out (the ids and the text, which have none, are
 * empty), and created_at_ms is now. */
static gs_err_t from_json(json_t *j, void *request, gs_arena_t *a, char *errstr, size_t n)
{
    gs_avro_screen_request_t *r = request;
    gs_err_t err = gs_avro_set_defaults_node(gs_avro_type_screen_request.node, r, a, errstr, n);
    if (err)
        return err;
    r->request_id = r->account_id = r->text = gs_avro_cstr("");
    gs_kind_json_str(j, "request_id", &r->request_id);
    gs_kind_json_str(j, "account_id", &r->account_id);
    gs_kind_json_str(j, "tenant", &r->tenant);
    gs_kind_json_str(j, "text", &r->text);
    take_opt_str(j, "counterparty", &r->has_counterparty, &r->counterparty);
    take_opt_str(j, "currency", &r->has_currency, &r->currency);
    json_t *amount = json_object_get(j, "amount");
    r->has_amount = json_is_number(amount);
    r->amount = r->has_amount ? json_number_value(amount) : 0;
    r->created_at_ms = (int64_t)time(NULL) * 1000;
    return GS_OK;
}

static void invalidate(void *request)
{
    gs_avro_screen_request_t *r = request;
    r->has_amount = true;
    r->amount = -1;
}

static json_t *str_json(gs_str_t s)
{
    return json_stringn(s.p, s.len);
}

static json_t *matches_json(const gs_avro_screen_result_t *r)
{
    static const char *const kinds[] = {"NAME", "ALIAS", "IDENTIFIER"};
    json_t *arr = json_array();
    for (size_t i = 0; i < r->n_matches; i++) {
        const gs_avro_match_t *m = &r->matches[i];
        json_array_append_new(arr, json_pack("{s:o,s:o,s:o,s:o,s:s,s:f}", "entry_id",
                                             str_json(m->entry_id), "list", str_json(m->list),
                                             "name", str_json(m->name), "matched_text",
                                             str_json(m->matched_text), "kind", kinds[m->kind % 3],
                                             "score", m->score));
    }
    return arr;
}

static json_t *idents_json(const gs_avro_screen_result_t *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < r->n_identifiers; i++)
        json_array_append_new(
            arr, json_pack("{s:o,s:o,s:b}", "type", str_json(r->identifiers[i].type), "value",
                           str_json(r->identifiers[i].value), "valid", r->identifiers[i].valid));
    return arr;
}

/* Every result field a test may check. */
static json_t *dump(const void *result)
{
    static const char *const decisions[] = {"LOW", "MEDIUM", "HIGH", "SKIP"};
    const gs_avro_screen_result_t *r = result;
    json_t *j = json_pack("{s:o,s:o,s:o,s:b,s:o,s:s,s:f,s:o,s:o}", "request_id",
                          str_json(r->request_id), "account_id", str_json(r->account_id), "tenant",
                          str_json(r->tenant), "accepted", r->accepted, "note", str_json(r->note),
                          "decision", decisions[r->decision % 4], "score", r->score, "language",
                          str_json(r->language), "worker_id", str_json(r->worker_id));
    json_object_set_new(j, "matches", matches_json(r));
    json_object_set_new(j, "identifiers", idents_json(r));
    json_t *reasons = json_array();
    for (size_t i = 0; i < r->n_reasons; i++)
        json_array_append_new(reasons, str_json(r->reasons[i]));
    json_object_set_new(j, "reasons", reasons);
    gs_kind_dump_envelope(j, &r->model, &r->timings, &r->source, r->processed_at_ms);
    return j;
}

const gs_kind_load_t gs_screen_load = {
    .generate = generate,
    .from_json = from_json,
    .invalidate = invalidate,
    .dump = dump,
};
