#!/usr/bin/env python3
"""Independent oracle for the screen kind's identifier checks (src/kinds/screen/ident.c).

Writes test vectors, one per line, "TYPE VALUE VALID", that unit.screen_text
checks gs_screen_ident_valid against: published identifiers (the SWIFT IBAN
registry's examples, registration numbers of large companies) and seeded
random ones, valid and mutated. The verdicts are this script's own
implementation of each rule (standard library only, written apart from the C
code). With --stdnum it also compares every verdict with python-stdnum (an
LGPL library, used as a second oracle only: nothing of it is copied or
written to the vectors) and fails on a difference that is not one of the
documented rule differences (docs/SCREEN.md).

  tests/unit/screen_ident_oracle.py --out tests/data/screen_ident_vectors.txt
  tests/unit/screen_ident_oracle.py --count 500 --out /tmp/v.txt --stdnum
  GS_SCREEN_VECTORS=/tmp/v.txt build/tests/test_screen_text
"""
import argparse
import json
import random
import re
import string
import sys

# SWIFT IBAN Registry release 100: country -> (IBAN length, BBAN structure).
IBAN_REGISTRY = {
    "AD": (24, "4!n4!n12!c"), "AE": (23, "3!n16!n"), "AL": (28, "8!n16!c"), "AT": (20, "5!n11!n"),
    "AZ": (28, "4!a20!c"), "BA": (20, "3!n3!n8!n2!n"), "BE": (16, "3!n7!n2!n"),
    "BG": (22, "4!a4!n2!n8!c"), "BH": (22, "4!a14!c"), "BI": (27, "5!n5!n11!n2!n"),
    "BR": (29, "8!n5!n10!n1!a1!c"), "BY": (28, "4!c4!n16!c"), "CH": (21, "5!n12!c"),
    "CR": (22, "4!n14!n"), "CY": (28, "3!n5!n16!c"), "CZ": (24, "4!n6!n10!n"),
    "DE": (22, "8!n10!n"), "DJ": (27, "5!n5!n11!n2!n"), "DK": (18, "4!n9!n1!n"),
    "DO": (28, "4!c20!n"), "EE": (20, "2!n14!n"), "EG": (29, "4!n4!n17!n"),
    "ES": (24, "4!n4!n1!n1!n10!n"), "FI": (18, "3!n11!n"), "FK": (18, "2!a12!n"),
    "FO": (18, "4!n9!n1!n"), "FR": (27, "5!n5!n11!c2!n"), "GB": (22, "4!a6!n8!n"),
    "GE": (22, "2!a16!n"), "GI": (23, "4!a15!c"), "GL": (18, "4!n9!n1!n"),
    "GR": (27, "3!n4!n16!c"), "GT": (28, "4!c20!c"), "HN": (28, "4!a20!n"), "HR": (21, "7!n10!n"),
    "HU": (28, "3!n4!n1!n15!n1!n"), "IE": (22, "4!a6!n8!n"), "IL": (23, "3!n3!n13!n"),
    "IQ": (23, "4!a3!n12!n"), "IS": (26, "4!n2!n6!n10!n"), "IT": (27, "1!a5!n5!n12!c"),
    "JO": (30, "4!a4!n18!c"), "KW": (30, "4!a22!c"), "KZ": (20, "3!n13!c"), "LB": (28, "4!n20!c"),
    "LC": (32, "4!a24!c"), "LI": (21, "5!n12!c"), "LT": (20, "5!n11!n"), "LU": (20, "3!n13!c"),
    "LV": (21, "4!a13!c"), "LY": (25, "3!n3!n15!n"), "MC": (27, "5!n5!n11!c2!n"),
    "MD": (24, "2!c18!c"), "ME": (22, "3!n13!n2!n"), "MK": (19, "3!n10!c2!n"),
    "MN": (20, "4!n12!n"), "MR": (27, "5!n5!n11!n2!n"), "MT": (31, "4!a5!n18!c"),
    "MU": (30, "4!a2!n2!n12!n3!n3!a"), "NI": (28, "4!a20!n"), "NL": (18, "4!a10!n"),
    "NO": (15, "4!n6!n1!n"), "OM": (23, "3!n16!c"), "PK": (24, "4!a16!c"), "PL": (28, "8!n16!n"),
    "PS": (29, "4!a21!c"), "PT": (25, "4!n4!n11!n2!n"), "QA": (29, "4!a21!c"),
    "RO": (24, "4!a16!c"), "RS": (22, "3!n13!n2!n"), "RU": (33, "9!n5!n15!c"),
    "SA": (24, "2!n18!c"), "SC": (31, "4!a2!n2!n16!n3!a"), "SD": (18, "2!n12!n"),
    "SE": (24, "3!n16!n1!n"), "SI": (19, "5!n8!n2!n"), "SK": (24, "4!n6!n10!n"),
    "SM": (27, "1!a5!n5!n12!c"), "SO": (23, "4!n3!n12!n"), "ST": (25, "4!n4!n11!n2!n"),
    "SV": (28, "4!a20!n"), "TL": (23, "3!n14!n2!n"), "TN": (24, "2!n3!n13!n2!n"),
    "TR": (26, "5!n1!n16!c"), "UA": (29, "6!n19!c"), "VA": (22, "3!n15!n"), "VG": (24, "4!a16!n"),
    "XK": (20, "4!n10!n2!n"), "YE": (30, "4!a4!n18!c"),
}

# The registry's "IBAN electronic format example" of every country.
IBAN_EXAMPLES = [
    "AD1200012030200359100100", "AE070331234567890123456", "AL47212110090000000235698741",
    "AT611904300234573201", "AZ21NABZ00000000137010001944", "BA391290079401028494",
    "BE68539007547034", "BG80BNBG96611020345678", "BH67BMAG00001299123456",
    "BI4210000100010000332045181", "BR1800360305000010009795493C1",
    "BY13NBRB3600900000002Z00AB00", "CH9300762011623852957", "CR05015202001026284066",
    "CY17002001280000001200527600", "CZ6508000000192000145399", "DE89370400440532013000",
    "DJ2100010000000154000100186", "DK5000400440116243", "DO28BAGR00000001212453611324",
    "EE382200221020145685", "EG380019000500000000263180002", "ES9121000418450200051332",
    "FI2112345600000785", "FK88SC123456789012", "FO6264600001631634",
    "FR1420041010050500013M02606", "GB29NWBK60161331926819", "GE29NB0000000101904917",
    "GI75NWBK000000007099453", "GL8964710001000206", "GR1601101250000000012300695",
    "GT82TRAJ01020000001210029690", "HN88CABF00000000000250005469", "HR1210010051863000160",
    "HU42117730161111101800000000", "IE29AIBK93115212345678", "IL620108000000099999999",
    "IQ98NBIQ850123456789012", "IS140159260076545510730339", "IT60X0542811101000000123456",
    "JO94CBJO0010000000000131000302", "KW81CBKU0000000000001234560101", "KZ86125KZT5004100100",
    "LB62099900000001001901229114", "LC55HEMM000100010012001200023015", "LI21088100002324013AA",
    "LT121000011101001000", "LU280019400644750000", "LV80BANK0000435195001",
    "LY83002048000020100120361", "MC5811222000010123456789030", "MD24AG000225100013104168",
    "ME25505000012345678951", "MK07250120000058984", "MN121234123456789123",
    "MR1300020001010000123456753", "MT84MALT011000012345MTLCAST001S",
    "MU17BOMM0101101030300200000MUR", "NI45BAPR00000013000003558124", "NL91ABNA0417164300",
    "NO9386011117947", "OM810180000001299123456", "PK36SCBL0000001123456702",
    "PL61109010140000071219812874", "PS92PALS000000000400123456702", "PT50000201231234567890154",
    "QA58DOHB00001234567890ABCDEFG", "RO49AAAA1B31007593840000", "RS35260005601001611379",
    "RU0304452522540817810538091310419", "SA0380000000608010167519",
    "SC18SSCB11010000000000001497USD", "SD2129010501234001", "SE4550000000058398257466",
    "SI56263300012039086", "SK3112000000198742637541", "SM86U0322509800000000270100",
    "SO211000001001000100141", "ST23000100010051845310146", "SV62CENR00000000000000700025",
    "TL380080012345678910157", "TN5910006035183598478831", "TR330006100519786457841326",
    "UA213223130000026007233566001", "VA59001123000012345678", "VG96VPVG0000012345678901",
    "XK051212012345678906", "YE15CBYE0001018861234567891234",
]

# Published registration numbers (company registers, bank web sites).
PUBLISHED = [
    ("INN", "7707083893"),      # Sberbank
    ("INN", "7736050003"),      # Gazprom
    ("INN", "7736207543"),      # Yandex LLC
    ("OGRN", "1027700132195"),  # Sberbank
    ("OGRN", "1027700070518"),  # Gazprom
    ("OGRN", "1027700229193"),  # Yandex LLC
    ("EDRPOU", "14360570"),     # PrivatBank
    ("EDRPOU", "00032106"),     # National Bank of Ukraine
    ("EDRPOU", "20077720"),     # Naftogaz of Ukraine
    ("EDRPOU", "40075815"),     # Ukrzaliznytsia
    ("BIC", "DEUTDEFF"),        # Deutsche Bank
    ("BIC", "SABRRUMM"),        # Sberbank
    ("BIC", "PBANUA2X"),        # PrivatBank
    ("BIC", "COBADEFFXXX"),     # Commerzbank
]

ISO3166_JSON = "/usr/share/iso-codes/json/iso_3166-1.json"


def load_countries(path):
    with open(path, encoding="utf-8") as f:
        codes = {c["alpha_2"] for c in json.load(f)["3166-1"]}
    return codes | {"XK"}  # Kosovo: user-assigned, used by SWIFT


def bban_regex(structure):
    cls = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Z0-9]"}
    parts = re.findall(r"(\d+)!([nac])", structure)
    return re.compile("^" + "".join("%s{%s}" % (cls[c], k) for k, c in parts) + "$")


def iban_ok(v):
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+", v) or v[:2] not in IBAN_REGISTRY:
        return False
    length, structure = IBAN_REGISTRY[v[:2]]
    if len(v) != length or not bban_regex(structure).match(v[4:]):
        return False
    if not 2 <= int(v[2:4]) <= 98:
        return False
    return int("".join(str(int(c, 36)) for c in v[4:] + v[:4])) % 97 == 1


def digits(v, n):
    return len(v) == n and v.isascii() and v.isdigit() and set(v) != {"0"}


def wsum(v, weights):
    return sum(w * int(c) for w, c in zip(weights, v))


def inn_ok(v):
    if digits(v, 10):
        return wsum(v, (2, 4, 10, 3, 5, 9, 4, 6, 8)) % 11 % 10 == int(v[9])
    if digits(v, 12):
        c11 = wsum(v, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) % 11 % 10
        c12 = wsum(v, (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) % 11 % 10
        return c11 == int(v[10]) and c12 == int(v[11])
    return False


def rnokpp_ok(v):
    return digits(v, 10) and wsum(v, (-1, 5, 7, 9, 4, 6, 10, 5, 7)) % 11 % 10 == int(v[9])


def edrpou_ok(v):
    if not digits(v, 8):
        return False
    base = (7, 1, 2, 3, 4, 5, 6) if 30000000 <= int(v) <= 60000000 else (1, 2, 3, 4, 5, 6, 7)
    r = wsum(v, base) % 11
    if r == 10:
        r = wsum(v, [w + 2 for w in base]) % 11 % 10
    return r == int(v[7])


def ogrn_ok(v):
    return digits(v, 13) and v[0] in "15" and int(v[:12]) % 11 % 10 == int(v[12])


def ogrnip_ok(v):
    return digits(v, 15) and v[0] == "3" and int(v[:14]) % 13 % 10 == int(v[14])


def make_bic_ok(countries):
    def bic_ok(v):
        return bool(re.fullmatch(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?", v)) and v[4:6] in countries
    return bic_ok


def passport_ok(v):
    if v.isascii() and v.isdigit():
        return len(v) in (9, 10) and set(v) != {"0"}
    if re.fullmatch(r"[A-Z]{2}[0-9]{6,9}", v):
        return True
    return bool(re.fullmatch(r"[А-ЯЁЄІЇҐ]{2}[0-9]{6}", v))


# ---- generation ------------------------------------------------------------------


def rand_digits(rng, n):
    return "".join(rng.choice(string.digits) for _ in range(n))


def rand_bban(rng, structure):
    pool = {"n": string.digits, "a": string.ascii_uppercase,
            "c": string.digits + string.ascii_uppercase}
    return "".join(rng.choice(pool[c]) for k, c in re.findall(r"(\d+)!([nac])", structure)
                   for _ in range(int(k)))


def iban_with_check(cc, bban):
    r = int("".join(str(int(c, 36)) for c in bban + cc + "00")) % 97
    return "%s%02d%s" % (cc, 98 - r, bban)


def gen_iban(rng, valid):
    cc = rng.choice(sorted(IBAN_REGISTRY))
    v = iban_with_check(cc, rand_bban(rng, IBAN_REGISTRY[cc][1]))
    if valid:
        return v
    kind = rng.randrange(6)
    if kind == 0:  # one character changed
        i = rng.randrange(4, len(v))
        return v[:i] + rng.choice(string.digits if v[i].isdigit() else string.ascii_uppercase) + v[i + 1:]
    if kind == 1:  # neighbours swapped
        i = rng.randrange(2, len(v) - 1)
        return v[:i] + v[i + 1] + v[i] + v[i + 2:]
    if kind == 2:  # a character lost or added
        return v[:-1] if rng.random() < 0.5 else v + rng.choice(string.digits)
    if kind == 3:  # a country outside the registry
        return rng.choice(["US", "CA", "CN", "AA", "ZZ"]) + v[2:]
    if kind == 4:  # check digits 00, 01 or 99 that pass MOD 97-10 all the same
        while True:
            bban = rand_bban(rng, IBAN_REGISTRY[cc][1])
            check = int(iban_with_check(cc, bban)[2:4])
            if check in (2, 97, 98):
                alt = 99 if check == 2 else check - 97
                return "%s%02d%s" % (cc, alt, bban)
    return v[:4] + "".join(rng.choice(string.ascii_uppercase) for _ in range(len(v) - 4))


def with_check(rng, n, ok):
    """A number of n digits whose last digit makes ok() true."""
    while True:
        body = rand_digits(rng, n - 1)
        for d in string.digits:
            if ok(body + d):
                return body + d


def mutate_digits(rng, v):
    kind = rng.randrange(4)
    if kind == 0:
        i = rng.randrange(len(v))
        return v[:i] + str((int(v[i]) + rng.randrange(1, 10)) % 10) + v[i + 1:]
    if kind == 1:
        i = rng.randrange(len(v) - 1)
        return v[:i] + v[i + 1] + v[i] + v[i + 2:]
    if kind == 2:
        return v[:-1] if rng.random() < 0.5 else v + rng.choice(string.digits)
    return v[:-1] + str((int(v[-1]) + 1) % 10)


def gen_number(rng, valid, n, ok, first=None, modulus=None):
    while True:
        v = with_check(rng, n, ok)
        if first is None or v[0] in first:
            break
    if valid:
        return v
    if modulus and rng.random() < 0.25:  # the right check digit, a record number's first digit
        body = rng.choice([d for d in "0123456789" if d not in first]) + rand_digits(rng, n - 2)
        return body + str(int(body) % modulus % 10)
    return mutate_digits(rng, v)


def gen_bic(rng, valid, countries):
    letters = string.ascii_uppercase
    alnum = letters + string.digits
    v = ("".join(rng.choice(letters) for _ in range(4)) + rng.choice(sorted(countries))
         + "".join(rng.choice(alnum) for _ in range(2)))
    if rng.random() < 0.5:
        v += "".join(rng.choice(alnum) for _ in range(3))
    if valid:
        return v
    kind = rng.randrange(4)
    if kind == 0:
        return v[:4] + rng.choice(["AA", "ZZ", "QQ", "XX", "UK", "EU"]) + v[6:]
    if kind == 1:
        return v[:2] + rng.choice(string.digits) + v[3:]
    if kind == 2:
        return v + rng.choice(alnum)
    return v[:7]


def gen_passport(rng, valid):
    kind = rng.randrange(4)
    if kind == 0:
        v = rand_digits(rng, 10)
    elif kind == 1:
        v = rand_digits(rng, 9)
    elif kind == 2:
        v = "".join(rng.choice(string.ascii_uppercase) for _ in range(2)) + rand_digits(rng, rng.randint(6, 9))
    else:
        v = "".join(rng.choice("АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЮЯЄІЇҐ") for _ in range(2)) + rand_digits(rng, 6)
    if valid:
        return v
    return rng.choice([v[:-3], v + "12345", "A" + v[1:] if v[0].isdigit() else v[:1] + "1" + v[2:]])


def vectors(count, seed, countries):
    rng = random.Random(seed)
    checks = checkers(countries)
    out = [("IBAN", v, "registry example") for v in IBAN_EXAMPLES]
    out += [(t, v, "published") for t, v in PUBLISHED]
    gens = {
        "IBAN": lambda ok: gen_iban(rng, ok),
        "INN": lambda ok: gen_number(rng, ok, rng.choice([10, 12]), inn_ok),
        "RNOKPP": lambda ok: gen_number(rng, ok, 10, rnokpp_ok),
        "EDRPOU": lambda ok: gen_number(rng, ok, 8, edrpou_ok),
        "OGRN": lambda ok: gen_number(rng, ok, 13, ogrn_ok, "15", 11),
        "OGRNIP": lambda ok: gen_number(rng, ok, 15, ogrnip_ok, "3", 13),
        "BIC": lambda ok: gen_bic(rng, ok, countries),
        "PASSPORT": lambda ok: gen_passport(rng, ok),
    }
    for t, gen in gens.items():
        for i in range(count):
            out.append((t, gen(i % 2 == 0), "random"))
    return [(t, v, checks[t](v), why) for t, v, why in out]


def checkers(countries):
    return {"IBAN": iban_ok, "INN": inn_ok, "RNOKPP": rnokpp_ok, "EDRPOU": edrpou_ok,
            "OGRN": ogrn_ok, "OGRNIP": ogrnip_ok, "BIC": make_bic_ok(countries),
            "PASSPORT": passport_ok}


# ---- the second oracle -----------------------------------------------------------


def stdnum_verdicts():
    from stdnum import bic, iban
    from stdnum.ru import inn, ogrn
    from stdnum.ua import edrpou, rntrc
    return {
        "IBAN": lambda v: iban.is_valid(v, check_country=False),
        "INN": inn.is_valid,
        "RNOKPP": rntrc.is_valid,
        "EDRPOU": edrpou.is_valid,
        "OGRN": lambda v: len(v) == 13 and ogrn.is_valid(v),
        "OGRNIP": lambda v: len(v) == 15 and ogrn.is_valid(v),
        "BIC": bic.is_valid,
    }


def known_difference(t, v, ours):
    """Why our verdict may differ from stdnum's (docs/SCREEN.md), or None."""
    if v.isdigit() and set(v) == {"0"}:
        return "all zeros are refused here"
    if t == "IBAN" and not ours and v[2:4] in ("00", "01", "99"):
        return "IBAN check digits 00, 01 and 99 are refused here"
    if t == "OGRN" and not ours and len(v) == 13 and v[0] not in "15":
        return "OGRN first digit must be 1 or 5 here"
    if t == "OGRNIP" and len(v) == 15 and v[0] == "4" and not ours:
        return "OGRNIP first digit must be 3 here (4 is a GRNIP record number)"
    if t == "OGRNIP" and ours and int(v[:14]) % 13 >= 10:
        return "OGRNIP remainder 10..12: its last digit here, refused by stdnum"
    return None


def compare(vecs):
    checks = stdnum_verdicts()
    agree, explained, unexplained = {}, {}, []
    for t, v, ours, _ in vecs:
        if t not in checks:
            continue
        theirs = bool(checks[t](v))
        if theirs == ours:
            agree[t] = agree.get(t, 0) + 1
            continue
        why = known_difference(t, v, ours)
        if why:
            explained[why] = explained.get(why, 0) + 1
        else:
            unexplained.append((t, v, ours, theirs))
    for t in sorted(agree):
        print("stdnum agrees: %-7s %d" % (t, agree[t]))
    for why in sorted(explained):
        print("stdnum differs, documented: %d  %s" % (explained[why], why))
    for t, v, ours, theirs in unexplained:
        print("stdnum differs, UNEXPLAINED: %s %s ours=%d stdnum=%d" % (t, v, ours, theirs))
    return not unexplained


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=30, help="random vectors per type (default 30)")
    ap.add_argument("--seed", type=int, default=12, help="random seed (default 12)")
    ap.add_argument("--out", help="vector file to write (default: standard output)")
    ap.add_argument("--iso-codes", default=ISO3166_JSON, help="ISO 3166-1 JSON of Debian's iso-codes")
    ap.add_argument("--stdnum", action="store_true", help="compare with python-stdnum")
    args = ap.parse_args()
    countries = load_countries(args.iso_codes)
    vecs = vectors(args.count, args.seed, countries)
    lines = ["# screen identifier vectors: TYPE VALUE VALID (1|0); written by",
             "# tests/unit/screen_ident_oracle.py --count %d --seed %d" % (args.count, args.seed)]
    lines += ["%s %s %d" % (t, v, ok) for t, v, ok, _ in vecs]
    text = "\n".join(lines) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    counts = {}
    for t, _, ok, _ in vecs:
        counts.setdefault(t, [0, 0])[ok] += 1
    print("vectors: " + ", ".join("%s %d valid %d invalid" % (t, c[1], c[0])
                                 for t, c in counts.items()), file=sys.stderr)
    if args.stdnum and not compare(vecs):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
