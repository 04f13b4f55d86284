#!/usr/bin/env python3
"""The labelled evaluation set of the screen kind (docs/SCREEN.md,
"Evaluation set"): payment texts that carry one perturbed form of one watch
list entry's name (positives), or a name that is not on the list, or no name
at all (negatives). No registry ships labelled sanctions-screening payments,
so we generate them from the list itself; the texts are realistic templates
(ru / uk / en), not real payments.

Entries are split dev/test by a seeded hash of REFERENCE_NUMBER, so tuning on
dev never sees a test entry; negatives come from each split's own seeded
generator (those built from list entries use that split's entries only).
Deterministic for a seed: random.Random seeded by strings, sorted iteration.

    gen_screen_eval.py --list LIST.xml --seed 7 --per-class 40 --clean 1000 --out-dir DIR

writes DIR/screen-eval-dev.jsonl, DIR/screen-eval-test.jsonl and
DIR/screen-eval-summary.json; progress and the summary on stderr only on a TTY.
"""
import argparse
import hashlib
import json
import math
import os
import random
import re
import sys
import xml.etree.ElementTree as ET

SPLITS = ("dev", "test")
POSITIVE = ("exact", "bgn", "icao", "gost", "ru_uk", "case_ending", "initials", "word_order",
            "patronymic_dropped", "typo1", "typo2", "homoglyph", "zero_width", "legal_form_swap",
            "lone_surname")
NEGATIVE = ("non_list_name", "other_given_name", "common_surname", "sister_company")
CYR = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ"
LAT = "abcdefghijklmnopqrstuvwxyz"
PATRO_RE = re.compile(r"(ович|евич|ьич|ич|овна|евна|ична|инична|івна|ївна)$", re.I)

# --- list --------------------------------------------------------------------


def clean_space(s):
    return " ".join((s or "").split())


def is_cyr(s):
    return any(ch.lower() in CYR for ch in s)


def key(s):
    """A name as compared for "is it on the list": lowercase, letters and
    digits only, words sorted (so another word order is the same name)."""
    words = re.sub(r"[^\w]+", " ", s.lower().replace("ё", "е")).split()
    return " ".join(sorted(words))


class Entry:
    """One list entry and what the perturbations need of it."""

    def __init__(self, el):
        self.ref = clean_space(el.findtext("REFERENCE_NUMBER")) or clean_space(el.findtext("DATAID"))
        self.person = el.tag == "INDIVIDUAL"
        self.parts = [clean_space(el.findtext(t)) for t in
                      ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
        self.parts = [p for p in self.parts if p]
        self.primary = " ".join(self.parts)
        self.orig = clean_space(el.findtext("NAME_ORIGINAL_SCRIPT"))
        alias_tag = "INDIVIDUAL_ALIAS" if self.person else "ENTITY_ALIAS"
        self.aliases = sorted({clean_space(a.findtext("ALIAS_NAME")) for a in el.iter(alias_tag)} - {""})
        self.names = [n for n in [self.primary, self.orig] + self.aliases if n]
        # Cyrillic structure: the patronymic tells the order (family first
        # when it is last, as in "Family Given Patronymic")
        self.cyr = None
        if self.person and self.orig and is_cyr(self.orig):
            w = self.orig.split()
            if len(w) == 3 and PATRO_RE.search(w[2]):
                self.cyr = {"family": w[0], "given": w[1], "patro": w[2]}
            elif len(w) == 3 and PATRO_RE.search(w[1]):
                self.cyr = {"family": w[2], "given": w[0], "patro": w[1]}
            elif len(w) == 2:
                self.cyr = {"family": w[0], "given": w[1], "patro": ""}
        # Latin structure: from the Cyrillic one (FIRST given, SECOND
        # patronymic, THIRD family, as both lists write them), or from our
        # own generator's layout (GEN.*: FIRST given, last part family). The
        # UN gives no reliable family for other names (docs/SCREEN.md).
        self.lat = None
        if self.person and self.cyr and len(self.parts) == 3:
            self.lat = {"given": self.parts[0], "patro": self.parts[1], "family": self.parts[2]}
        elif self.person and self.ref.startswith("GEN.") and len(self.parts) == 2:
            self.lat = {"given": self.parts[0], "patro": "", "family": self.parts[1]}


def load_list(path):
    root = ET.parse(path).getroot()
    entries = [Entry(el) for el in root.iter() if el.tag in ("INDIVIDUAL", "ENTITY")]
    entries = [e for e in entries if e.ref and e.names]
    return sorted(entries, key=lambda e: e.ref)


def split_of(seed, ref):
    h = hashlib.sha256(("%d:%s" % (seed, ref)).encode()).digest()
    return SPLITS[h[0] & 1]


# --- romanisation ------------------------------------------------------------

def table(cyr, lat):
    return dict(zip(cyr, lat.split()))


# BGN/PCGN 1947 (Russian), BGN/PCGN 1965 (Ukrainian letters); "_" is nothing
BGN_RU = table("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
               "a b v g d e ë zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya")
BGN_UK = table("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'",
               "a b v h g d e ye zh z y i yi y k l m n o p r s t u f kh ts ch sh shch _ yu ya _")
# ICAO Doc 9303 (8th ed.), Russian and Ukrainian
ICAO_RU = table("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch ie y _ e iu ia")
ICAO_UK = table("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'",
                "a b v h g d e ie zh z y i i i k l m n o p r s t u f kh ts ch sh shch _ iu ia _")
# GOST 7.79-2000 System B (Russian; Ukrainian letters from its Ukrainian table)
GOST = table("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ",
             "a b v g d e yo zh z i j k l m n o p r s t u f x cz ch sh shh `` y' ` e' yu ya i yi ye g")
GOST_UK = dict(GOST, г="g'", и="y'")


def romanise(text, system):
    uk = any(ch in "іїєґ" for ch in text.lower())
    tab = {"bgn": BGN_UK if uk else BGN_RU, "icao": ICAO_UK if uk else ICAO_RU,
           "gost": GOST_UK if uk else GOST}[system]
    out = []
    low = text.lower()
    for i, ch in enumerate(low):
        r = tab.get(ch)
        if r is None:
            out.append(text[i])
            continue
        prev = low[i - 1] if i else " "
        if system == "bgn" and not uk and ch in "её" and (not prev.isalpha() or prev in "аеёиоуыэюяйъь"):
            r = "y" + r
        if system == "bgn" and uk and i and prev.isalpha() and ch in "єїйюя" and r.startswith("y"):
            r = {"є": "ie", "ї": "i", "й": "i", "ю": "iu", "я": "ia"}[ch]
        if system == "gost" and ch == "ц" and low[i + 1:i + 2] in ("е", "и", "ы", "й", "і", "ї", "є"):
            r = "c"
        if r == "_":
            r = ""
        if text[i].isupper() and r:
            nxt = text[i + 1:i + 2]
            r = r.upper() if (nxt.isupper() or (not nxt.isalpha() and prev.isupper())) else r.capitalize()
        out.append(r)
    return "".join(out)


# --- Russian <-> Ukrainian given names -----------------------------------------

RU_UK = {
    "александр": "олександр", "сергей": "сергій", "андрей": "андрій", "дмитрий": "дмитро",
    "николай": "микола", "юрий": "юрій", "владимир": "володимир", "алексей": "олексій",
    "петр": "петро", "пётр": "петро", "михаил": "михайло", "виктор": "віктор",
    "василий": "василь", "елена": "олена", "анна": "ганна", "иван": "іван", "игорь": "ігор",
    "илья": "ілля", "ирина": "ірина", "евгений": "євген", "наталья": "наталія",
    "татьяна": "тетяна", "екатерина": "катерина", "мария": "марія", "павел": "павло",
    "григорий": "григорій", "георгий": "георгій", "анатолий": "анатолій", "валерий": "валерій",
    "виталий": "віталій", "геннадий": "геннадій", "кирилл": "кирило", "константин": "костянтин",
    "леонид": "леонід", "никита": "микита", "тимофей": "тимофій", "федор": "федір",
    "станислав": "станіслав", "егор": "єгор", "дарья": "дарія", "ксения": "ксенія",
    "людмила": "людмила", "светлана": "світлана", "юлия": "юлія", "вера": "віра",
    "галина": "галина", "ольга": "ольга", "оксана": "оксана",
}
UK_RU = {v: k for k, v in sorted(RU_UK.items()) if k != "пётр"}
# the father's name as a patronymic stem, per language
PATRO_UK = {"микола": "миколай", "дмитро": "дмитр", "петро": "петр", "павло": "павл",
            "михайло": "михайл", "кирило": "кирил", "василь": "васил", "ігор": "ігор"}


def match_case(word, like):
    return word.capitalize() if like[:1].isupper() else word


def patro_stem(patro):
    """The father's name of a patronymic, as the dictionaries spell it."""
    p = patro.lower()
    m = PATRO_RE.search(p)
    if not m:
        return None, None
    stem, female = p[:m.start()], m.group(1) in ("овна", "евна", "ична", "инична", "івна", "ївна")
    for cand in (stem, stem + "й", stem + "ь", stem + "ий", stem + "о", stem[:-1] + "ий"):
        if cand in RU_UK or cand in UK_RU:
            return cand, female
    return stem, female


def patro_of(father, female, lang):
    f = father.lower()
    if lang == "uk":
        stem = PATRO_UK.get(f, f)
        if stem.endswith("й"):  # Сергій: Сергійович, Сергіївна
            return stem + "ович" if not female else stem[:-1] + "ївна"
        if stem.endswith("ь"):  # Василь: Васильович, Василівна
            return stem + "ович" if not female else stem[:-1] + "івна"
        return stem + ("ович" if not female else "івна")
    if f == "дмитрий":
        return "дмитриевич" if not female else "дмитриевна"
    if f.endswith("ий"):
        return f[:-2] + ("ьевич" if not female else "ьевна")
    if f.endswith("й"):
        return f[:-1] + ("евич" if not female else "евна")
    if f.endswith("ь"):
        return f[:-1] + ("евич" if not female else "евна")
    if f.endswith("а"):
        return f[:-1] + ("ич" if not female else "ична")
    return f + ("ович" if not female else "овна")


def uk_spelling(word):
    """A Russian-spelt name as Ukrainian writes it: ы -> и, э -> е, initial
    и -> і, и -> і except after д т з с ц ч ш ж р (the "rule of nine"),
    и/е after a vowel -> ї/є."""
    m = PATRO_RE.search(word.lower())
    if m and m.start() > 2:  # the patronymic suffix is Ukrainian's own
        female = m.group(1) in ("овна", "евна", "ична", "инична", "івна", "ївна")
        return uk_spelling(word[:m.start()]) + ("івна" if female else "ович")
    out, low = [], word.lower()
    for i, ch in enumerate(low):
        prev = low[i - 1] if i else ""
        r = ch
        if ch == "ы":
            r = "и"
        elif ch == "э":
            r = "е"
        elif ch == "и":
            r = "ї" if prev in "аеиоуяюієї" and prev else ("і" if (not prev or prev not in "дтзсцчшжр-") else "и")
            if prev == "-":
                r = "і"
        elif ch == "е" and prev and prev in "аеиоуяюії":
            r = "є"
        out.append(r)
    return match_case("".join(out), word)


def ru_uk(c):
    """The other language's form of a Cyrillic person name (dict of parts),
    or None when nothing changes."""
    given = c["given"].lower()
    to_uk = given in RU_UK or not (given in UK_RU or any(ch in "іїєґ" for ch in c["orig"].lower()))
    src, lang = (RU_UK, "uk") if to_uk else (UK_RU, "ru")
    out = dict(c)
    out["given"] = match_case(src.get(given, given), c["given"])
    if to_uk and given not in src:
        out["given"] = uk_spelling(c["given"])
    if c["patro"]:
        father, female = patro_stem(c["patro"])
        if father in src:
            out["patro"] = match_case(patro_of(src[father], female, lang), c["patro"])
        elif to_uk and given not in src:
            out["patro"] = uk_spelling(c["patro"])
    if to_uk and given not in src:
        out["family"] = uk_spelling(c["family"])
    elif to_uk:
        out["family"] = match_case(c["family"].lower().replace("ы", "и").replace("э", "е"), c["family"])
    else:
        out["family"] = match_case(c["family"].lower().replace("і", "и").replace("є", "е")
                                   .replace("ї", "йи"), c["family"])
    same = all(out[k] == c[k] for k in ("given", "patro", "family"))
    return None if same else out


# --- Russian declension ---------------------------------------------------------

def decline_family(w, female, case):
    lw = w.lower()
    ends = {"gen": 0, "dat": 1, "ins": 2}[case]
    if female:  # -ова, -ева, -ина, -ская: -ой in all three cases
        for suf, form in (("ова", "овой"), ("ева", "евой"), ("ина", "иной"), ("ская", "ской"),
                          ("цкая", "цкой")):
            if lw.endswith(suf):
                return w[:len(w) - len(suf)] + match_suffix(form, w)
        return None
    for suf, forms in (("ский", "ского скому ским"), ("цкий", "цкого цкому цким"),
                       ("ов", "ова ову овым"), ("ев", "ева еву евым"), ("ин", "ина ину иным"),
                       ("ын", "ына ыну ыным")):
        if lw.endswith(suf):
            return w[:len(w) - len(suf)] + match_suffix(forms.split()[ends], w)
    if lw.endswith(("ко", "ых", "их", "о", "у", "и", "е")):
        return None
    if lw[-1:] in "бвгджзклмнпрстфхцчшщ":
        return w + match_suffix(("а", "у", "ом")[ends], w)
    return None


def match_suffix(s, like):
    return s.upper() if like.isupper() else s


def decline_given(w, female, case):
    lw, i = w.lower(), {"gen": 0, "dat": 1, "ins": 2}[case]
    if lw.endswith("ия"):
        return w[:-1] + ("и", "и", "ей")[i]
    if lw.endswith("я"):
        return w[:-1] + ("и", "е", "ей")[i] if female or lw.endswith("ья") else w[:-1] + ("и", "е", "ей")[i]
    if lw.endswith("а"):
        soft = lw[-2:-1] in "гкхжшчщ"
        return w[:-1] + (("и" if soft else "ы"), "е", ("ой" if lw[-2:-1] not in "жшчщц" else "ей"))[i]
    if female:
        return None
    if lw.endswith(("й", "ь")):
        return w[:-1] + ("я", "ю", "ем")[i]
    if lw[-1:] in "бвгджзклмнпрстфхцчшщ":
        return w + ("а", "у", "ом")[i]
    return None


def decline_patro(w, case):
    lw, i = w.lower(), {"gen": 0, "dat": 1, "ins": 2}[case]
    if lw.endswith("ич"):
        return w + ("а", "у", "ем")[i]
    if lw.endswith("на"):
        return w[:-1] + ("ы", "е", "ой")[i]
    return None


def female_of(c):
    p = c["patro"].lower()
    if p:
        return p.endswith(("на",))
    return c["given"].lower().endswith(("а", "я")) and c["given"].lower() not in ("никита", "илья")


# --- payment texts --------------------------------------------------------------

PURPOSE = {
    "ru": ["поставку строительных материалов", "оказание консультационных услуг",
           "аренду нежилого помещения", "транспортно-экспедиционные услуги", "ремонт оборудования",
           "поставку запасных частей", "услуги связи за октябрь", "обучение персонала",
           "разработку программного обеспечения", "поставку продуктов питания",
           "техническое обслуживание автомобиля", "монтаж вентиляции", "юридические услуги"],
    "uk": ["постачання будівельних матеріалів", "надання консультаційних послуг",
           "оренду нежитлового приміщення", "транспортні послуги", "ремонт обладнання",
           "постачання запасних частин", "послуги зв'язку за жовтень", "навчання персоналу",
           "розробку програмного забезпечення", "постачання продуктів харчування"],
    "en": ["supply of construction materials", "consulting services", "office rent",
           "freight forwarding services", "equipment repair", "spare parts", "software development",
           "staff training", "maintenance services", "telecommunication services for October"],
}
MONTHS = {"ru": "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
          "uk": "січня лютого березня квітня травня червня липня серпня вересня жовтня листопада грудня",
          "en": "January February March April May June July August September October November December"}


def date(rng, lang):
    d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2019, 2026)
    if rng.random() < 0.5:
        return "%02d.%02d.%d" % (d, m, y)
    mon = MONTHS[lang].split()[m - 1]
    return "%d %s %d" % (d, mon, y) if lang != "en" else "%s %d, %d" % (mon, d, y)


def amount(rng, lang):
    v = rng.randint(100, 9_999_999) + rng.randint(0, 99) / 100
    cur = rng.choice({"ru": ("руб.", "RUB", "USD"), "uk": ("грн", "UAH", "EUR"), "en": ("USD", "EUR", "GBP")}[lang])
    s = "{:,.2f}".format(v)
    return (s.replace(",", " ").replace(".", ",") if lang != "en" else s) + " " + cur


def iban(rng, lang):
    cc = {"ru": "RU", "uk": "UA", "en": rng.choice(("DE", "GB", "CY", "LV", "AE"))}[lang]
    if cc == "RU" and rng.random() < 0.6:
        return "р/с 40702810%012d" % rng.randrange(10**12)
    n = {"UA": 25, "DE": 18, "GB": 18, "CY": 24, "LV": 17, "AE": 19, "RU": 29}[cc]
    return "%s%02d%s" % (cc, rng.randrange(10, 99), "".join(str(rng.randrange(10)) for _ in range(n)))


def docno(rng):
    return rng.choice(("%d" % rng.randint(1, 999), "%d/%d" % (rng.randint(1, 99), rng.randint(19, 26)),
                       "%d-%s" % (rng.randint(10, 9999), rng.choice(("П", "К", "АБ", "ТД")))))


def clause(rng, lang):
    """One realistic payment-text clause without any person or company name."""
    d, a, acc, n = date(rng, lang), amount(rng, lang), iban(rng, lang), docno(rng)
    p = rng.choice(PURPOSE[lang])
    vat = rng.choice((" в т.ч. НДС 20%", " без НДС", "")) if lang == "ru" else \
        rng.choice((" у т.ч. ПДВ 20%", " без ПДВ", "")) if lang == "uk" else rng.choice((" incl. VAT", ""))
    c = {
        "ru": ["Оплата по договору №%s от %s за %s." % (n, d, p), "Сумма %s%s." % (a, vat),
               "Счёт получателя %s, БИК 04452%04d." % (acc, rng.randrange(10**4)),
               "Согласно счёту №%s от %s." % (n, d), "Назначение платежа: %s." % p,
               "Предоплата %d%% по спецификации №%s." % (rng.choice((30, 50, 100)), n),
               "Акт выполненных работ №%s от %s подписан сторонами." % (n, d),
               "Срок поставки до %s, штрафные санкции согласно п. %d.%d договора." % (d, rng.randint(2, 9), rng.randint(1, 9)),
               "ИНН плательщика %010d, КПП %09d." % (rng.randrange(10**10), rng.randrange(10**9)),
               "Оплата производится в соответствии с графиком платежей, приложение №%d." % rng.randint(1, 5)],
        "uk": ["Переказ коштів згідно рахунку №%s від %s за %s." % (n, d, p), "Сума %s%s." % (a, vat),
               "Рахунок отримувача %s, МФО %06d." % (acc, rng.randrange(10**6)),
               "Оплата згідно договору №%s від %s." % (n, d), "Призначення платежу: %s." % p,
               "Передоплата %d%% за специфікацією №%s." % (rng.choice((30, 50, 100)), n),
               "Акт виконаних робіт №%s від %s." % (n, d),
               "Код ЄДРПОУ платника %08d." % rng.randrange(10**8),
               "Оплата здійснюється відповідно до графіку платежів, додаток №%d." % rng.randint(1, 5)],
        "en": ["Payment for invoice %s dated %s for %s." % (n, d, p), "Amount %s%s." % (a, vat),
               "Beneficiary account %s." % acc, "Ref. contract %s of %s." % (n, d),
               "Purpose of payment: %s." % p, "Advance payment %d%% as per proforma %s." % (rng.choice((30, 50, 100)), n),
               "Charges: %s." % rng.choice(("OUR", "SHA", "BEN")),
               "Delivery terms %s, delivery by %s." % (rng.choice(("FCA", "DAP", "CIF", "EXW")), d),
               "SWIFT/BIC of the beneficiary's bank %s." % rng.choice(("DEUTDEFF", "COBADEFF", "BARCGB22", "HSBCGB2L")),
               "Balance to be paid upon delivery of the goods as per the agreed schedule."]}[lang]
    return rng.choice(c)


NAME_CONTEXT = {
    "ru": ["Оплата по договору №{n} от {d}, получатель {x}.", "Перевод средств {x} за {p}.",
           "Получатель: {x}.", "Оплата за {p}, {x}.", "Плательщик {x}, оплата по счёту №{n}.",
           "В пользу {x} по договору №{n}."],
    "uk": ["Переказ коштів {x} згідно рахунку №{n} від {d}.", "Отримувач: {x}.",
           "Оплата за {p}, отримувач {x}.", "Платник {x}, рахунок №{n}."],
    "en": ["Payment for invoice {n} to {x}.", "Beneficiary: {x}.", "Payment to {x} for {p}.",
           "Ordering customer {x}, invoice {n}.", "Transfer in favour of {x}, ref. {n}."],
}
SHORT = {"ru": ["Оплата {x}", "Перевод {x}", "{x}"], "uk": ["Переказ {x}", "Оплата {x}", "{x}"],
         "en": ["Payment to {x}", "Pay {x}", "{x}"]}
CASE_CONTEXT = {
    "dat": ["Перевод средств {x} за {p}.", "Выплата {x} по договору №{n} от {d}.",
            "Возврат займа {x} согласно договору №{n}.", "Перечислено {x}"],
    "gen": ["Оплата от {x} по счёту №{n}.", "В пользу {x} за {p}.", "По заявлению {x} от {d}.",
            "Денежные средства от {x}"],
    "ins": ["Расчёты с {x} по договору №{n} от {d}.", "Договор, заключённый с {x}, №{n}.",
            "Расчёт с {x}"],
}
SURNAME_CONTEXT = {"ru": ["получатель {x}", "Оплата по счёту №{n}, получатель {x}.", "Перевод {x}"],
                   "uk": ["отримувач {x}", "Переказ коштів, отримувач {x}."],
                   "en": ["payee {x}", "Payment for invoice {n}, beneficiary {x}."]}
GENERIC = {"ru": ["ИП", "магазин «Продукты у дома»", "АЗС №%d", "кафе «Ромашка»", "аптека №%d", "ТСЖ «Дом %d»"],
           "uk": ["ФОП", "магазин «Продукти»", "АЗС №%d", "аптека №%d", "ОСББ «Будинок %d»"],
           "en": ["corner shop", "fuel station %d", "pharmacy no. %d", "the landlord", "the supplier"]}


def lang_of(name, rng):
    if any(ch in "іїєґІЇЄҐ" for ch in name):
        return "uk"
    if is_cyr(name):
        return rng.choice(("ru", "ru", "uk"))
    return rng.choice(("en", "en", "ru", "uk"))  # Latin names in Cyrillic texts: mixed


def target_length(rng):
    return int(math.exp(rng.uniform(math.log(20), math.log(10000))))


def fill(rng, lang, s):
    return s.format(n=docno(rng), d=date(rng, lang), p=rng.choice(PURPOSE[lang]), x="{x}")


def build_text(rng, lang, name, contexts=None):
    """A payment text of a log-uniform length (20..10,000 characters) holding
    `name` once (or no name when it is None); padded with whole clauses."""
    L = target_length(rng)
    if name is None:
        core = clause(rng, lang)
        if rng.random() < 0.4:
            g = rng.choice(GENERIC[lang])
            core += " " + (g % rng.randint(1, 99) if "%d" in g else g)
        for _ in range(5):  # a shorter clause for a short target; never cut one
            if len(core) <= max(L, 20):
                break
            core = clause(rng, lang)
    else:
        core = fill(rng, lang, rng.choice(contexts or NAME_CONTEXT[lang])).replace("{x}", name)
        if len(core) > L:
            core = rng.choice(SHORT[lang]).replace("{x}", name) if contexts is None else core
    parts, total = [core], len(core)
    while total < L:
        c = clause(rng, lang)
        if total + 1 + len(c) > 10000:
            break
        parts.insert(rng.randint(0, len(parts)), c)
        total += 1 + len(c)
    return " ".join(parts)


# --- perturbations ----------------------------------------------------------------

HOMO = dict(zip("аеорсхукіАВЕКМНОРСТХУІ", "aeopcxykiABEKMHOPCTXYI"))
HOMO.update({v: k for k, v in list(HOMO.items())})
ZW = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
LEGAL_GROUPS = (("ООО", "LLC", "ТОВ", "Ltd"), ("АО", "JSC", "ПрАТ", "АТ"), ("ПАО", "PJSC", "ПАТ"))
LEGAL = {f.lower(): g for g in LEGAL_GROUPS for f in g}
LEGAL.update({"limited": LEGAL_GROUPS[0], "gmbh": LEGAL_GROUPS[0]})


def cyr_name(c, order):
    return " ".join(c[k] for k in order if c.get(k))


def title(s):
    """SMITH-JONES -> Smith-Jones; words not in capitals stay as they are."""
    return " ".join("-".join(p[:1].upper() + p[1:].lower() for p in w.split("-")) if w.isupper() else w
                    for w in s.split())


def base_name(e, rng):
    return rng.choice([n for n in (e.primary, e.orig) if n])


def edit(word, rng):
    """One random insert/delete/substitute/transpose inside a word."""
    alpha = CYR[:33] if is_cyr(word) else LAT if word.isascii() else sorted(set(word.lower()))
    up = word.isupper()
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("ins", "del", "sub", "tr"))
    ch = rng.choice(alpha)
    ch = ch.upper() if up else ch
    if op == "ins":
        return word[:i] + ch + word[i:]
    if op == "del":
        return word[:i] + word[i + 1:]
    if op == "sub":
        while ch.lower() == word[i].lower():
            ch = rng.choice(alpha)
            ch = ch.upper() if up else ch
        return word[:i] + ch + word[i + 1:]
    if word[i] == word[i + 1]:
        return word[:i] + ch + word[i + 1:] if ch.lower() != word[i].lower() else word[:i] + word[i + 1:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def typo(name, rng, edits):
    words = name.split()
    long_ = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long_:
        return None
    picks = rng.sample(long_, min(edits, len(long_)))
    while len(picks) < edits:
        picks.append(rng.choice(long_))
    for i in picks:
        words[i] = edit(words[i], rng)
    out = " ".join(words)
    return out if out != name else None


def legal_swap(name, rng):
    toks = re.findall(r"\w+|\W+", name)
    idx = [i for i, t in enumerate(toks) if t.lower() in LEGAL]
    if not idx:
        return None
    i = rng.choice(idx)
    new = rng.choice([f for f in LEGAL[toks[i].lower()] if f.lower() != toks[i].lower()])
    rest = "".join(toks[:i] + toks[i + 1:]).strip(" ,.")
    rest = rest.replace("«", "").replace("»", "").replace('"', "").strip()
    q = rng.choice((("«", "»"), ('"', '"'), ("", "")))
    rest = q[0] + rest + q[1]
    return "%s %s" % (new, rest) if rng.random() < 0.5 else "%s %s" % (rest, new)


def positive_form(cls, e, rng):
    """(form, contexts) for one class and entry, or None when it does not apply."""
    c = dict(e.cyr, orig=e.orig) if e.cyr else None
    if cls == "exact":
        return base_name(e, rng), None
    if cls in ("bgn", "icao", "gost"):
        if not (e.orig and is_cyr(e.orig)):
            return None
        out = romanise(e.orig, cls)
        return (out.upper() if rng.random() < 0.3 else out), None
    if cls == "ru_uk":
        if not c:
            return None
        o = ru_uk(c)
        if not o:
            return None
        order = rng.choice((("family", "given", "patro"), ("given", "patro", "family")))
        return cyr_name(o, order), None
    if cls == "case_ending":
        if not c:
            return None
        fem = female_of(c)
        case = rng.choice(("gen", "dat", "ins"))
        fam = decline_family(c["family"], fem, case)
        giv = decline_given(c["given"], fem, case)
        pat = decline_patro(c["patro"], case) if c["patro"] else ""
        if not fam and not giv:
            return None
        fam, giv, pat = fam or c["family"], giv or c["given"], (pat or c["patro"])
        style = rng.randrange(3)
        if style == 0:
            x = " ".join(p for p in (fam, giv, pat) if p)
        elif style == 1:
            x = " ".join(p for p in (giv, pat, fam) if p)
        else:
            x = "%s %s." % (fam, c["given"][0]) + ("%s." % c["patro"][0] if c["patro"] else "")
        return x, CASE_CONTEXT[case]
    if cls == "initials":
        s = c if c and rng.random() < 0.6 else e.lat
        if not s:
            return None
        g, p, f = s["given"], s["patro"], s["family"]
        f = title(f)
        ini = "%s." % g[0].upper() + ("%s." % p[0].upper() if p and rng.random() < 0.7 else "")
        style = rng.randrange(3)
        if style == 0:
            return "%s %s" % (f, ini), None
        if style == 1:
            return "%s %s" % (ini, f), None
        return "%s %s" % (" ".join(i + "." for i in ini.rstrip(".").split(".")), f), None
    if cls == "word_order":
        if c:
            # the same parts in another order (dropping one is another class)
            three = (("given", "patro", "family"), ("family", "given", "patro"), ("given", "family", "patro"),
                     ("family", "patro", "given"))
            orders = [o for o in (three if c["patro"] else (("given", "family"), ("family", "given")))
                      if cyr_name(c, o) != e.orig]
            return cyr_name(c, rng.choice(orders)), None
        if not e.person or len(e.parts) < 2:
            return None
        for _ in range(10):
            p = e.parts[:]
            rng.shuffle(p)
            if p != e.parts:
                return " ".join(p), None
        return None
    if cls == "patronymic_dropped":
        if not c or not c["patro"]:
            return None
        if e.lat and rng.random() < 0.4:
            l_ = e.lat
            return title(rng.choice(("%s %s" % (l_["given"], l_["family"]), "%s %s" % (l_["family"], l_["given"])))), None
        return rng.choice(("%s %s" % (c["given"], c["family"]), "%s %s" % (c["family"], c["given"]))), None
    if cls in ("typo1", "typo2"):
        x = typo(base_name(e, rng), rng, 1 if cls == "typo1" else 2)
        return (x, None) if x else None
    if cls == "homoglyph":
        n = base_name(e, rng)
        idx = [i for i, ch in enumerate(n) if ch in HOMO]
        if not idx:
            return None
        s = list(n)
        for i in rng.sample(idx, min(len(idx), rng.randint(1, 3))):
            s[i] = HOMO[s[i]]
        return "".join(s), None
    if cls == "zero_width":
        words = base_name(e, rng).split()
        cand = [i for i, w in enumerate(words) if len(w) >= 3]
        if not cand:
            return None
        for _ in range(rng.randint(1, 3)):
            i = rng.choice(cand)
            j = rng.randrange(1, len(words[i]))
            words[i] = words[i][:j] + rng.choice(ZW) + words[i][j:]
        return " ".join(words), None
    if cls == "legal_form_swap":
        if e.person:
            return None
        names = [n for n in e.names if any(t.lower() in LEGAL for t in re.findall(r"\w+", n))]
        if not names:
            return None
        x = legal_swap(rng.choice(names), rng)
        return (x, None) if x else None
    if cls == "lone_surname":
        s = c or e.lat
        if not s:
            return None
        f = s["family"] if s is c else title(s["family"])
        lang = "uk" if (c and any(ch in "іїєґ" for ch in e.orig.lower())) else ("ru" if is_cyr(f) else "en")
        return f, SURNAME_CONTEXT[lang]
    raise ValueError(cls)


# --- negatives ----------------------------------------------------------------------

# Our own pools (not gen_watchlist.py's): Russian, Ukrainian and Latin names.
NEG_GIVEN_RU = "Аркадий Эдуард Всеволод Глеб Лев Марк Платон Савелий Семён Фёдор Ефим Артём Герман".split()
NEG_GIVEN_RU_F = "Алина Вероника Диана Злата Кира Милана Полина Ульяна Эвелина Ярослава Таисия".split()
NEG_GIVEN_UK = "Остап Орест Тарас Зиновій Любомир Святослав Ярема Омелян Соломія Мирослава Зоряна".split()
NEG_FAMILY_RU = ("Огарёв Ладыгин Разумовский Черкасов Тихомиров Аверьянов Шубин Лаптев Мухин "
                 "Некрасов Одинцов Прохоров Рыбаков Суханов Уваров Филатов Чистяков Юдин").split()
NEG_FAMILY_UK = "Засядько Верес Гайдамака Довбуш Квітка Нечуй Рудницький Стельмах Тичина Хвильовий".split()
NEG_LATIN_GIVEN = "Oliver Lucas Henrik Mateo Sven Noah Elena Ingrid Chloe Amelie Giulia Lars".split()
NEG_LATIN_FAMILY = "Lindqvist Moreau Rossi Novak Kowalczyk Jansen Dubois Olsen Varga Horvat".split()
COMMON_FAMILY = "Иванов Смирнов Кузнецов Попов Васильев Петренко Шевченко Бондаренко Коваленко".split()
COMMON_GIVEN = "Иван Сергей Андрей Дмитрий Александр Олег Николай Владимир".split()
COMMON_LATIN = ("Smith", "Johnson", "Brown", "Jones", "Williams", "Taylor", "Müller", "Garcia")
COMMON_LATIN_GIVEN = ("John", "James", "Robert", "Mary", "Linda", "David", "Anna", "Peter")
ORG_NEW_CYR = "Ветер Берег Исток Квант Кедр Маяк Рассвет Сокол Форум Янтарь Горизонт Дельта Омега".split()
ORG_NEW_LAT = "Partners Holding Trading Logistics Systems Solutions Horizon Delta Omega Harbour".split()
ORG_STOP = {"and", "of", "the", "for", "al", "co", "company", "limited", "ltd", "llc", "group",
            "corporation", "inc", "trust", "international"} | set(LEGAL)


def patronymic(rng, female):
    father = rng.choice(("Аркадий", "Эдуард", "Глеб", "Лев", "Марк", "Платон", "Ефим", "Герман"))
    return patro_of(father, female, "ru").capitalize()


def person_negative(rng, known):
    r = rng.random()
    if r < 0.45:
        fem = rng.random() < 0.4
        fam = rng.choice(NEG_FAMILY_RU)
        if fem:
            fam = fam[:-2] + "ая" if fam.endswith("ий") else fam + "а"
        giv = rng.choice(NEG_GIVEN_RU_F if fem else NEG_GIVEN_RU)
        x = rng.choice(("%s %s %s" % (fam, giv, patronymic(rng, fem)), "%s %s" % (giv, fam)))
    elif r < 0.7:
        x = "%s %s" % (rng.choice(NEG_FAMILY_UK), rng.choice(NEG_GIVEN_UK))
    else:
        x = "%s %s" % (rng.choice(NEG_LATIN_GIVEN), rng.choice(NEG_LATIN_FAMILY))
        x = x.upper() if rng.random() < 0.3 else x
    return None if key(x) in known else x


def negative_form(cls, rng, pool, known):
    """(name, contexts) for a negative class, or None to draw again."""
    if cls == "non_list_name":
        x = person_negative(rng, known)
        return (x, None) if x else None
    if cls == "common_surname":
        if rng.random() < 0.6:
            x = "%s %s" % (rng.choice(COMMON_FAMILY), rng.choice(COMMON_GIVEN))
            if rng.random() < 0.5:
                x += " " + patronymic(rng, False)
        else:
            x = "%s %s" % (rng.choice(COMMON_LATIN_GIVEN), rng.choice(COMMON_LATIN))
        return None if key(x) in known else (x, None)
    if cls == "other_given_name":
        ps = pool["family"]
        if not ps:
            return None
        e = rng.choice(ps)
        s = e.cyr or e.lat
        if is_cyr(s["family"]):
            fem = female_of(dict(s))
            giv = rng.choice(NEG_GIVEN_RU_F if fem else NEG_GIVEN_RU)
            x = "%s %s %s" % (s["family"], giv, patronymic(rng, fem))
        else:
            x = "%s %s" % (rng.choice(NEG_LATIN_GIVEN), title(s["family"]))
        return None if key(x) in known else (x, None)
    if cls == "sister_company":
        ents = pool["entity"]
        if not ents:
            return None
        e = rng.choice(ents)
        n = rng.choice(e.names)
        words = [w for w in re.findall(r"\w+", n) if len(w) >= 4 and w.lower() not in ORG_STOP]
        if not words:
            return None
        w = rng.choice(words)
        w = title(w) if w.isupper() else w
        new = rng.choice([o for o in (ORG_NEW_CYR if is_cyr(w) else ORG_NEW_LAT) if o.lower() != w.lower()])
        legal = rng.choice(("ООО", "ТОВ", "LLC", "Ltd", "АО", ""))
        x = ("%s «%s %s»" % (legal, w, new) if legal and is_cyr(legal) else
             "%s %s %s" % (w, new, legal)).strip()
        return None if key(x) in known or key(x.replace("«", "").replace("»", "")) in known else (x, None)
    raise ValueError(cls)


# --- the set ------------------------------------------------------------------------

def make_split(split, entries, a, known, tty):
    items = []
    counts, distinct = {}, {}

    def add(cls, positive, entry_id, name, contexts, rng):
        lang = lang_of(name, rng) if name else rng.choice(("ru", "ru", "uk", "en"))
        if contexts is CASE_CONTEXT["gen"] or contexts is CASE_CONTEXT["dat"] or contexts is CASE_CONTEXT["ins"]:
            lang = "ru"
        if contexts and contexts in SURNAME_CONTEXT.values():
            lang = next(k for k, v in SURNAME_CONTEXT.items() if v is contexts)
        text = build_text(rng, lang, name, contexts if contexts else None)
        item = {"id": "%s-%06d" % (split, len(items) + 1), "class": cls, "positive": positive,
                "entry_id": entry_id, "text": text}
        if name and rng.random() < 0.15:
            item["counterparty"] = name
        item["split"] = split
        items.append(item)
        counts[cls] = counts.get(cls, 0) + 1

    for cls in POSITIVE:
        rng = random.Random("%d:%s:%s" % (a.seed, split, cls))
        order = entries[:]
        rng.shuffle(order)
        used, k, misses = set(), 0, 0
        # cycle through the shuffled entries so that as many as possible are used
        while counts.get(cls, 0) < a.per_class and misses < len(order) + 1:
            e = order[k % len(order)]
            k += 1
            f = positive_form(cls, e, rng)
            if not f:
                misses += 1
                continue
            misses = 0
            add(cls, True, e.ref, f[0], f[1], rng)
            used.add(e.ref)
        distinct[cls] = len(used)
        if tty:
            print("\r%s: %-20s %d" % (split, cls, counts.get(cls, 0)), end="", file=sys.stderr)

    pool = {"family": [e for e in entries if e.cyr or e.lat],
            "entity": [e for e in entries if not e.person]}
    for cls in NEGATIVE:
        rng = random.Random("%d:%s:%s" % (a.seed, split, cls))
        tries = 0
        while counts.get(cls, 0) < a.per_class and tries < 100 * a.per_class:
            tries += 1
            f = negative_form(cls, rng, pool, known)
            if f:
                add(cls, False, "", f[0], f[1], rng)
    rng = random.Random("%d:%s:clean" % (a.seed, split))
    for _ in range(a.clean):
        add("clean", False, "", None, None, rng)
    if tty:
        print(file=sys.stderr)
    return items, counts, distinct


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--clean", type=int, default=1000)
    ap.add_argument("--out-dir", required=True)
    a = ap.parse_args()
    tty = sys.stderr.isatty()
    entries = load_list(a.list)
    known = {key(n) for e in entries for n in e.names}
    os.makedirs(a.out_dir, exist_ok=True)
    with open(a.list, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    summary = {"list": os.path.basename(a.list), "list_sha256": sha, "seed": a.seed,
               "per_class": a.per_class, "clean": a.clean, "splits": {}}
    for split in SPLITS:
        part = [e for e in entries if split_of(a.seed, e.ref) == split]
        items, counts, distinct = make_split(split, part, a, known, tty)
        path = os.path.join(a.out_dir, "screen-eval-%s.jsonl" % split)
        with open(path, "w", encoding="utf-8") as out:
            for it in items:
                out.write(json.dumps(it, ensure_ascii=False) + "\n")
        summary["splits"][split] = {
            "entries": len(part), "items": len(items),
            "classes": {c: {"positive": c in POSITIVE, "items": counts.get(c, 0),
                            **({"distinct_entries": distinct.get(c, 0)} if c in POSITIVE else {})}
                        for c in POSITIVE + NEGATIVE + ("clean",)}}
    with open(os.path.join(a.out_dir, "screen-eval-summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, ensure_ascii=False, indent=1)
        f.write("\n")
    if tty:
        for split in SPLITS:
            s = summary["splits"][split]
            print("%s: %d entries, %d items" % (split, s["entries"], s["items"]), file=sys.stderr)
            for c, v in s["classes"].items():
                print("  %-20s %5d%s" % (c, v["items"], " (%d entries)" % v["distinct_entries"]
                                          if "distinct_entries" in v else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
