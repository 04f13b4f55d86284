#!/usr/bin/env python3
"""A generated watch list in the UN consolidated-list XML format, for
benchmarks (docs/DATA.md, "Generated watch list"). Nothing ships a list of
100,000 names, so we make one: Russian and Ukrainian persons (family, given
name, patronymic; Latin primary name romanised by BGN/PCGN, the Cyrillic
original script, aliases in another word order or romanisation), Latin-script
persons, and organisations with legal forms. Names are combined from pools
written here; any likeness to a real person is chance. Deterministic for a
seed (random.Random, sorted iteration only).

    gen_watchlist.py --seed 1 --persons 60000 --entities 20000 --out gen.xml
"""
import argparse
import random
import sys
from xml.sax.saxutils import escape

ROOTS = ("петр иван сидор кузнец смирн попов соколов лебед козл новик мороз волк зайц павл семен "
         "голуб виноград богдан воробь федор михайл беляк тарас комар орл андре макар никит захар "
         "степан яковл гаврил коваль шевч мельник бондар ткач кравч олийн шевел лысенк руденк "
         "марченк савченк литвин ковальч гончар пономар белоус остап гнатюк дорош кушнир ярош "
         "грищ приход демчен заруб тимош левчен горбан кириленк власенк щерб журавл сорок "
         "карп гусев титов баран клим рябов жук быков громов щукин бобр дубов сергиен").split()
SUFFIXES = ("ов", "ев", "ин", "енко", "ский", "чук", "як", "ко", "ец", "ук")
MALE = ("александр алексей андрей анатолий борис вадим валерий василий виктор виталий владимир "
        "геннадий георгий григорий дмитрий евгений егор иван игорь илья кирилл константин леонид "
        "максим михаил никита николай олег павел петр роман руслан сергей станислав степан тарас "
        "тимофей федор юрий ярослав богдан олександр андрій сергій дмитро микола юрій василь "
        "петро михайло віктор володимир олексій").split()
FEMALE = ("анна алла вера галина дарья екатерина елена ирина ксения людмила мария наталья ольга "
          "светлана татьяна юлия оксана олена ганна наталія тетяна катерина марія ірина").split()
LATIN_GIVEN = "John Michael David Ahmed Omar Hassan Peter Thomas Klaus Hans Ali Yusuf Maria Fatima".split()
LATIN_FAMILY = ("Smith Miller Schneider Fischer Weber Khan Rahman Hussein Haddad Nasser Mansour "
                "Karimi Farouk Brennan Walsh Becker Hoffmann Wagner").split()
ORG_WORDS = ("северный южный восточный звезда луч гранит альфа вектор импульс прогресс меридиан "
             "балтик урал сибирь волга днепр карпаты полюс орион атлант титан гермес фортуна "
             "стандарт ресурс капитал транзит логистик энерго агро строй маш металл нефть газ").split()
LEGAL = ("ООО", "АО", "ПАО", "ТОВ", "ПрАТ", "LLC", "Ltd", "GmbH", "JSC")
BGN = dict(zip("абвгдежзийклмнопрстуфхцчшщъыьэюяіїєґ",
               "a b v g d e zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya i yi ye g".split()))


def romanise(word):
    out = []
    for i, ch in enumerate(word.lower()):
        r = BGN.get(ch, ch)
        if ch == "е" and (i == 0 or word[i - 1].lower() in "аеёиоуыэюяйъь"):
            r = "ye"
        out.append("" if r == "_" else r)
    return "".join(out).capitalize()


def cap(w):
    return w[:1].upper() + w[1:]


def person(rng, i):
    if rng.random() < 0.15:
        given, family = rng.choice(LATIN_GIVEN), rng.choice(LATIN_FAMILY)
        return given, "", family + rng.choice(("", "", "-" + rng.choice(LATIN_FAMILY))), None
    female = rng.random() < 0.35
    family = rng.choice(ROOTS) + rng.choice(SUFFIXES)
    if female and family.endswith(("ов", "ев", "ин")):
        family += "а"
    elif female and family.endswith("ский"):
        family = family[:-2] + "ая"
    given = rng.choice(FEMALE if female else MALE)
    father = rng.choice(MALE).rstrip("йь")
    patro = father + ("овна" if female else "ович")
    cyr = " ".join(cap(w) for w in (family, given, patro))
    return romanise(given), romanise(patro), romanise(family), cyr


def inn10(rng):
    d = [rng.randrange(10) for _ in range(9)]
    w = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    d.append(sum(a * b for a, b in zip(w, d)) % 11 % 10)
    return "".join(map(str, d))


def write_person(out, rng, i):
    given, patro, family, cyr = person(rng, i)
    parts = [p for p in (given, patro, family) if p]
    names = "".join("<%s>%s</%s>" % (t, escape(p.upper()), t)
                    for t, p in zip(("FIRST_NAME", "SECOND_NAME", "THIRD_NAME"), parts))
    extra = "<NAME_ORIGINAL_SCRIPT>%s</NAME_ORIGINAL_SCRIPT>" % escape(cyr) if cyr else ""
    if rng.random() < 0.5:
        extra += ("<INDIVIDUAL_ALIAS><QUALITY>%s</QUALITY><ALIAS_NAME>%s</ALIAS_NAME></INDIVIDUAL_ALIAS>"
                  % (rng.choice(("Good", "Low")), escape(" ".join(reversed(parts)))))
    extra += ("<INDIVIDUAL_DATE_OF_BIRTH><DATE>%d-%02d-%02d</DATE></INDIVIDUAL_DATE_OF_BIRTH>"
              % (rng.randrange(1940, 2000), rng.randrange(1, 13), rng.randrange(1, 29)))
    if rng.random() < 0.3:
        extra += ("<INDIVIDUAL_DOCUMENT><TYPE_OF_DOCUMENT>Passport</TYPE_OF_DOCUMENT><NUMBER>%d %06d"
                  "</NUMBER></INDIVIDUAL_DOCUMENT>" % (rng.randrange(1000, 9999), rng.randrange(10**6)))
    out.write("<INDIVIDUAL><DATAID>%d</DATAID>%s<REFERENCE_NUMBER>GEN.P.%06d</REFERENCE_NUMBER>%s"
              "</INDIVIDUAL>\n" % (i, names, i, extra))


def write_entity(out, rng, i):
    words = rng.sample(ORG_WORDS, 2)
    legal = rng.choice(LEGAL)
    cyr = "%s «%s»" % (legal, " ".join(cap(w) for w in words))
    latin = "%s %s" % (" ".join(romanise(w) for w in words), legal if legal.isascii() else "LLC")
    out.write("<ENTITY><DATAID>%d</DATAID><FIRST_NAME>%s</FIRST_NAME><REFERENCE_NUMBER>GEN.E.%06d"
              "</REFERENCE_NUMBER><NAME_ORIGINAL_SCRIPT>%s</NAME_ORIGINAL_SCRIPT>"
              "<ENTITY_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>%s</ALIAS_NAME></ENTITY_ALIAS>"
              "</ENTITY>\n" % (10**7 + i, escape(latin.upper()), i, escape(cyr), escape(latin)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--persons", type=int, default=60000)
    ap.add_argument("--entities", type=int, default=20000)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    tty = sys.stderr.isatty()
    with open(a.out, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                  '<CONSOLIDATED_LIST dateGenerated="2026-01-01T00:00:00"><INDIVIDUALS>\n')
        for i in range(1, a.persons + 1):
            write_person(out, rng, i)
            if tty and i % 5000 == 0:
                print("\rpersons %d/%d" % (i, a.persons), end="", file=sys.stderr)
        out.write("</INDIVIDUALS><ENTITIES>\n")
        for i in range(1, a.entities + 1):
            write_entity(out, rng, i)
        out.write("</ENTITIES></CONSOLIDATED_LIST>\n")
    if tty:
        print("\rwrote %s: %d persons, %d entities" % (a.out, a.persons, a.entities), file=sys.stderr)


if __name__ == "__main__":
    main()
