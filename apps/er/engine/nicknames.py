"""Given names that stand for each other: nicknames, diminutives and common transliterations.

English comes from the ``nicknames`` package (a hand-curated list, Apache-2.0); the
supplement below adds the diminutives and spellings of the other naming cultures the
product's tenants hold (German, Dutch, Scandinavian, French, Spanish, Italian, Polish,
Russian, Turkish, Arabic, Nigerian). Equivalence is not transitive on purpose: "Al" is a
nickname of both Albert and Alfred, which does not make Albert and Alfred the same name.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from apps.er.engine.normalize import fold

# name: diminutives and other spellings (both directions are added).
SUPPLEMENT = {
    # German, Dutch, Scandinavian
    "johannes": "hans jan hannes johan",
    "johann": "hans",
    "wolfgang": "wolf",
    "friedrich": "fritz",
    "katharina": "kathi katja kati",
    "maximilian": "max",
    "matthias": "matze mathias",
    "tobias": "tobi",
    "sebastian": "basti",
    "franziska": "franzi",
    "stefanie": "steffi",
    "susanne": "susi",
    "andreas": "andi",
    "markus": "mark marcus",
    "florian": "flo",
    "gabriele": "gabi",
    "christine": "tina christina",
    "johanna": "hanna",
    "brigitte": "gitte",
    "elisabeth": "lisa sissi els lies elise",
    "heinrich": "heinz",
    "cornelis": "kees cor",
    "jacobus": "koos jaap",
    "hendrik": "henk",
    "willem": "wim",
    "gerardus": "gerard ger",
    "petrus": "piet peter",
    "lars": "lasse",
    "karl": "kalle carl",
    "nils": "nisse",
    "magnus": "mange",
    "birgitta": "bitte",
    "kristina": "kicki stina",
    "margareta": "maggan greta",
    "jorgen": "jurgen",
    # French
    "jean baptiste": "jb",
    "francois": "franck",
    "guillaume": "guy",
    "nicolas": "nico",
    "frederic": "fred",
    "catherine": "cathy",
    "isabelle": "isa",
    "dominique": "dom",
    "christophe": "chris",
    "philippe": "phil",
    "stephane": "steph",
    "mathieu": "matthieu",
    "gabrielle": "gaby",
    # Spanish, Italian
    "francisco": "paco pancho curro fran",
    "jose": "pepe chema",
    "josefa": "pepa",
    "manuel": "manolo",
    "ignacio": "nacho",
    "guadalupe": "lupe",
    "dolores": "lola",
    "concepcion": "concha",
    "rosario": "charo",
    "enrique": "quique kike",
    "antonio": "toni tono",
    "alejandro": "alex jandro",
    "jesus": "chucho chus",
    "francesca": "franca",
    "giuseppe": "peppe beppe pino",
    "giovanni": "gianni nanni",
    "salvatore": "toto turi",
    "vincenzo": "enzo",
    "roberto": "berto",
    "alessandro": "sandro ale",
    "giuseppina": "pina",
    "maria": "mari",
    "antonella": "nella",
    "domenico": "mimmo",
    "luigi": "gino",
    # Polish, Russian
    "aleksandr": "sasha sanya alexandr alexander",
    "aleksandra": "sasha ola",
    "aleksander": "olek alek",
    "dmitry": "dima dmitri",
    "vladimir": "vova volodya",
    "mikhail": "misha",
    "nikolai": "kolya nikolay",
    "ekaterina": "katya yekaterina",
    "yelena": "lena elena",
    "svetlana": "sveta",
    "tatiana": "tanya tatyana",
    "natalia": "natasha",
    "olga": "olya",
    "sergei": "seryozha sergey",
    "ivan": "vanya",
    "anastasia": "nastya",
    "yuliya": "julia yulia",
    "andrei": "andrey",
    "alexei": "alexey aleksei lyosha",
    "yevgeny": "evgeny zhenya",
    "katarzyna": "kasia",
    "malgorzata": "gosia",
    "wojciech": "wojtek",
    "krzysztof": "krzys",
    "tomasz": "tomek",
    "agnieszka": "aga",
    "grzegorz": "grzes",
    "jozef": "jozek",
    "stanislaw": "stas",
    "magdalena": "magda",
    "jakub": "kuba",
    # Turkish, Arabic, Nigerian and other transliterations
    "mehmet": "memet mehmed",
    "mustafa": "musti",
    "ahmet": "ahmed",
    "muhammad": "mohammed mohamed mohammad muhammed",
    "mohammed": "mohamed mohammad muhammed",
    "abdullah": "abdallah",
    "yusuf": "youssef yousef",
    "hussein": "husain hussain",
    "omar": "umar",
    "fatima": "fatma",
    "aisha": "ayesha aysha",
    "khalid": "khaled",
    "ibrahim": "ebrahim",
    "oluwaseun": "seun",
    "oluwadamilare": "dami",
    "olufemi": "femi",
    "oluwatobi": "tobi",
    "adebayo": "bayo",
    "olumide": "mide",
    "babatunde": "tunde",
    "chukwuemeka": "emeka",
    "chinedu": "nedu",
    "oluwaseyi": "seyi",
    "temitope": "tope",
    "folasade": "sade",
    "abimbola": "bimbo",
    "adewale": "wale",
}


@lru_cache(maxsize=1)
def _table() -> dict[str, frozenset[str]]:
    forms: dict[str, set[str]] = {}  # full form -> its nicknames and other spellings

    def add(full: str, other: str) -> None:
        full, other = fold(full), fold(other)
        if full and other and full != other:
            forms.setdefault(full, set()).add(other)

    with resources.files("nicknames").joinpath("names.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("relationship") == "has_nickname":
                add(row["name1"], row["name2"])
    for name, others in SUPPLEMENT.items():
        for other in others.split():
            add(name, other)
    related: dict[str, set[str]] = {}
    for full, others in forms.items():
        # The full form and each of its nicknames stand for each other, and so do two nicknames of the same
        # full form ("Bill" and "Will" are both William).
        group = others | {full}
        for name in group:
            related.setdefault(name, set()).update(group - {name})
    return {name: frozenset(others) for name, others in related.items()}


def related_names(name: str) -> frozenset[str]:
    """Folded given names that may stand for ``name`` (its nicknames, full forms and other spellings)."""
    return _table().get(fold(name), frozenset())


def are_nicknames(a: str, b: str) -> bool:
    """True when one folded given name is a known nickname, full form or other spelling of the other."""
    return bool(a) and bool(b) and (b in _table().get(a, ()))
