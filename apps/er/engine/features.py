"""Pairwise comparison features: each turns the pairs ``(i, j)`` of a Prepared set into comparison levels.

A feature has named levels; level 0 is always ``missing`` (the attribute is absent on one side or
both), which carries no evidence (weight 0). The other levels go from the closest agreement to
``different``. Everything is vectorised over the pairs: exact agreement with numpy, string
similarity with ``rapidfuzz.process.cpdist`` (element-wise, multi-threaded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from apps.er.engine.prepare import Prepared
from apps.er.engine.schema import ORGANIZATION, PERSON

FEATURE_SET_VERSION = "3"  # bump when a level changes meaning: models record it


@dataclass(frozen=True)
class Feature:
    """One comparison: its name, its levels and how to compute them for gathered pairs."""

    name: str
    levels: tuple[str, ...]  # levels[0] == "missing"
    compute: Callable[[_Pairs], np.ndarray]
    attributes: tuple[str, ...]  # canonical attributes it reads (for the docs and explanations)


# ---------------------------------------------------------------------------- helpers


class _Pairs:
    """Columns of a Prepared set gathered for pairs (i, j), computed once and shared by the features."""

    def __init__(self, prepared: Prepared, i: np.ndarray, j: np.ndarray):
        self.p, self.i, self.j = prepared, i, j
        self._cache: dict = {}

    def column(self, key: str) -> np.ndarray:
        cached = self._cache.get(("col", key))
        if cached is None:
            arr = _object_array(self.p, key)
            cached = self._cache[("col", key)] = (arr[self.i], arr[self.j])
        return cached

    def num(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        arr = self.p.nums[key]
        return arr[self.i], arr[self.j]

    def present(self, key: str) -> np.ndarray:
        cached = self._cache.get(("present", key))
        if cached is None:
            flags = _present_array(self.p, key)
            cached = self._cache[("present", key)] = flags[self.i] & flags[self.j]
        return cached


def _object_array(prepared: Prepared, key: str) -> np.ndarray:
    cache = prepared.__dict__.setdefault("_arrays", {})
    arr = cache.get(key)
    if arr is None:
        arr = np.empty(len(prepared.cols[key]), dtype=object)
        arr[:] = prepared.cols[key]
        cache[key] = arr
    return arr


def _present_array(prepared: Prepared, key: str) -> np.ndarray:
    cache = prepared.__dict__.setdefault("_present", {})
    flags = cache.get(key)
    if flags is None:
        flags = np.fromiter((bool(v) for v in prepared.cols[key]), dtype=bool, count=len(prepared.cols[key]))
        cache[key] = flags
    return flags


def _similarity(a: np.ndarray, b: np.ndarray, mask: np.ndarray, scorer=JaroWinkler.normalized_similarity) -> np.ndarray:
    """scorer(a[k], b[k]) where mask, 0 elsewhere (only the masked pairs are computed)."""
    out = np.zeros(len(a), dtype=np.float32)
    idx = np.flatnonzero(mask)
    if len(idx):
        out[idx] = process.cpdist(a[idx], b[idx], scorer=scorer, workers=-1, dtype=np.float32)
    return out


def _distance(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Damerau-Levenshtein distance where mask, 99 elsewhere."""
    out = np.full(len(a), 99, dtype=np.int32)
    idx = np.flatnonzero(mask)
    if len(idx):
        out[idx] = process.cpdist(a[idx], b[idx], scorer=DamerauLevenshtein.distance, workers=-1, dtype=np.int32)
    return out


def _levels(present: np.ndarray, conditions: list[np.ndarray]) -> np.ndarray:
    """Level of each pair: 0 when not present, else 1 + the first true condition, else 1 + len(conditions)."""
    out = np.full(len(present), len(conditions) + 1, dtype=np.int8)
    for number in range(len(conditions), 0, -1):
        out[conditions[number - 1]] = number
    out[~present] = 0
    return out


def _exact_levels(pairs: _Pairs, key: str) -> np.ndarray:
    a, b = pairs.column(key)
    return _levels(pairs.present(key), [a == b])


def _string_levels(pairs: _Pairs, key: str, thresholds: tuple[float, ...]) -> np.ndarray:
    a, b = pairs.column(key)
    present = pairs.present(key)
    exact = a == b
    sim = _similarity(a, b, present & ~exact)
    return _levels(present, [exact, *[sim >= t for t in thresholds]])


def _identifier_levels(pairs: _Pairs, key: str) -> np.ndarray:
    a, b = pairs.column(key)
    present = pairs.present(key)
    exact = a == b
    dist = _distance(a, b, present & ~exact)
    return _levels(present, [exact, dist <= 1, dist <= 2])


def _date_levels(pairs: _Pairs) -> np.ndarray:
    a, b = pairs.column("dob")
    present = pairs.present("dob")
    exact = a == b
    ya, yb = pairs.num("year")
    ma, mb = pairs.num("month")
    da, db = pairs.num("day")
    swapped = (ya == yb) & (ma == db) & (da == mb) & (ma != da)
    dist = _distance(a, b, present & ~exact & ~swapped)
    # Two edits are a plausible pair of slips only within a few years: 1970 -> 1993 is another person.
    # One edit in the decade digit (1962 -> 1992) is a slip or a generation: a level of its own.
    years = np.abs(ya - yb)
    near = years <= 2
    return _levels(present, [exact, swapped, (dist <= 1) & (years < 10), dist <= 1, (dist <= 2) & near, ya == yb])


# ---------------------------------------------------------------------------- person names


def _name_alignment(pairs: _Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(given a, given b, family a, family b, swapped): b's names swapped where that aligns them much better."""
    cached = pairs._cache.get("names")
    if cached is not None:
        return cached
    ga, gb = pairs.column("given")
    fa, fb = pairs.column("family")
    both = pairs.present("given") & pairs.present("family")
    candidates = both & (ga != gb) & (fa != fb)
    straight = _similarity(ga, gb, candidates) + _similarity(fa, fb, candidates)
    crossed = _similarity(ga, fb, candidates) + _similarity(fa, gb, candidates)
    swapped = candidates & (crossed > straight + 0.3) & (crossed >= 1.7)
    gb2 = np.where(swapped, fb, gb)
    fb2 = np.where(swapped, gb, fb)
    cached = pairs._cache["names"] = (ga, gb2, fa, fb2, swapped)
    return cached


def given_name(pairs: _Pairs) -> np.ndarray:
    ga, gb, _, _, swapped = _name_alignment(pairs)
    present = np.fromiter((bool(x) and bool(y) for x, y in zip(ga, gb, strict=True)), dtype=bool, count=len(ga))
    exact = ga == gb
    sim = _similarity(ga, gb, present & ~exact)
    nick_a, nick_b = pairs.column("nick")
    todo = np.flatnonzero(present & ~exact)
    nickname = np.zeros(len(ga), dtype=bool)
    nickname[todo] = [gb[k] in nick_a[k] or ga[k] in nick_b[k] for k in todo]
    # After a swap the comparison is of the family name written as given name: no nicknames, no initials.
    nickname &= ~swapped
    first_a = np.array([x[:1] for x in ga], dtype=object)
    first_b = np.array([x[:1] for x in gb], dtype=object)
    short = np.array([len(x) == 1 or len(y) == 1 for x, y in zip(ga, gb, strict=True)], dtype=bool)
    initial = short & (first_a == first_b)
    return _levels(present, [exact, nickname, initial, sim >= 0.92, sim >= 0.8])


def family_name(pairs: _Pairs) -> np.ndarray:
    _, _, fa, fb, swapped = _name_alignment(pairs)
    present = np.fromiter((bool(x) and bool(y) for x, y in zip(fa, fb, strict=True)), dtype=bool, count=len(fa))
    exact = fa == fb
    sim = _similarity(fa, fb, present & ~exact)
    ta, tb = pairs.column("family_tokens")
    todo = np.flatnonzero(present & ~exact & ~swapped)
    token = np.zeros(len(fa), dtype=bool)
    token[todo] = [not ta[k].isdisjoint(tb[k]) for k in todo]
    pa, pb = pairs.column("ph_family")
    phonetic = (pa == pb) & ~swapped & pairs.present("ph_family")
    return _levels(present, [exact, token, sim >= 0.92, phonetic, sim >= 0.84])


def name_birth(pairs: _Pairs) -> np.ndarray:
    """Name and birth date together: the two household look-alikes the separate features add up wrongly.

    ``other_generation``: the same given and family name, birth years ten or more apart and the dates
    more than one edit apart (a father and son of one name; no single slip explains it).
    ``other_given_same_birth``: the same family name and birth date, clearly different given names
    (twins). Level 0 (no evidence) otherwise: the separate features score every other pair.
    """
    ga, gb, fa, fb, _ = _name_alignment(pairs)
    present = pairs.present("given") & pairs.present("family") & pairs.present("dob")
    a, b = pairs.column("dob")
    ya, yb = pairs.num("year")
    same_name = present & (ga == gb) & (fa == fb)
    far = same_name & (np.abs(ya - yb) >= 10)
    far &= _distance(a, b, far) >= 2
    twins = present & (fa == fb) & (a == b) & (ga != gb)
    todo = np.flatnonzero(twins)
    if len(todo):
        nick_a, nick_b = pairs.column("nick")
        sim = _similarity(ga, gb, twins)
        for k in todo:
            x, y = ga[k], gb[k]
            if sim[k] >= 0.8 or len(x) == 1 or len(y) == 1 or y in nick_a[k] or x in nick_b[k]:
                twins[k] = False
    return _levels(far | twins, [far, twins])


def name_order(pairs: _Pairs) -> np.ndarray:
    swapped = _name_alignment(pairs)[4]
    return _levels(swapped, [swapped])  # 0 (no evidence) unless the names are swapped


def email(pairs: _Pairs) -> np.ndarray:
    a, b = pairs.column("email")
    present = pairs.present("email")
    exact = a == b
    todo = np.flatnonzero(present & ~exact)
    local = np.zeros(len(a), dtype=bool)
    local[todo] = [_email_local(a[k]) == _email_local(b[k]) for k in todo]
    sim = _similarity(a, b, present & ~exact & ~local)
    return _levels(present, [exact, local, sim >= 0.9])


def _email_local(value: str) -> str:
    return value.partition("@")[0].replace(".", "").replace("_", "").replace("-", "")


def house_number(pairs: _Pairs) -> np.ndarray:
    a, b = pairs.column("house")
    present = pairs.present("house")
    exact = a == b
    todo = np.flatnonzero(present & ~exact)
    overlap = np.zeros(len(a), dtype=bool)
    overlap[todo] = [not set(a[k].split()).isdisjoint(b[k].split()) for k in todo]
    return _levels(present, [exact, overlap])


def postal_code(pairs: _Pairs) -> np.ndarray:
    a, b = pairs.column("postcode")
    present = pairs.present("postcode")
    exact = a == b
    dist = _distance(a, b, present & ~exact)
    prefix = np.array([x[:3] == y[:3] for x, y in zip(a, b, strict=True)], dtype=bool)
    return _levels(present, [exact, dist <= 1, prefix])


# ---------------------------------------------------------------------------- organisation names


def _address_line(pairs: _Pairs, key: str, other: str) -> np.ndarray:
    """Levels of one address line, with "other_line" when it matches the other side's other line (lines swapped)."""
    a, b = pairs.column(key)
    oa, ob = pairs.column(other)
    present = pairs.present(key)
    exact = a == b
    sim = _similarity(a, b, present & ~exact)
    weak = present & ~exact & (sim < 0.75)
    crossed = np.maximum(
        _similarity(a, ob, weak & pairs.present(other)), _similarity(oa, b, weak & pairs.present(other))
    )
    return _levels(present, [exact, sim >= 0.9, sim >= 0.75, crossed >= 0.9])


def legal_name(pairs: _Pairs) -> np.ndarray:
    a, b = pairs.column("name")
    present = pairs.present("name")
    exact = a == b
    sa, sb = pairs.column("name_sorted")
    same_words = sa == sb
    ratio = _similarity(a, b, present & ~exact & ~same_words, scorer=fuzz.token_sort_ratio) / 100.0
    return _levels(present, [exact, same_words, ratio >= 0.95, ratio >= 0.88, ratio >= 0.75])


def name_first_word(pairs: _Pairs) -> np.ndarray:
    a, b = pairs.column("name_first")
    present = pairs.present("name_first")
    exact = a == b
    sim = _similarity(a, b, present & ~exact)
    return _levels(present, [exact, sim >= 0.9])


def _make(name: str, levels: tuple[str, ...], fn, attributes: tuple[str, ...]) -> Feature:
    return Feature(name, ("missing", *levels), fn, attributes)


ADDRESS_FEATURES = (
    _make(
        "street_name",
        ("exact", "similar", "partly", "other_line", "different"),
        lambda p: _address_line(p, "street_name", "addr2"),
        ("street", "address_line_2"),
    ),
    _make("house_number", ("exact", "overlap", "different"), house_number, ("street",)),
    _make(
        "address_line_2",
        ("exact", "similar", "partly", "other_line", "different"),
        lambda p: _address_line(p, "addr2", "street_name"),
        ("address_line_2", "street"),
    ),
    _make("city", ("exact", "similar", "different"), lambda p: _string_levels(p, "city", (0.88,)), ("city",)),
    _make("postal_code", ("exact", "one_edit", "same_area", "different"), postal_code, ("postal_code",)),
    _make("region", ("exact", "different"), lambda p: _exact_levels(p, "region"), ("region",)),
    _make("country", ("exact", "different"), lambda p: _exact_levels(p, "country"), ("country",)),
    _make(
        "phone", ("exact", "one_edit", "two_edits", "different"), lambda p: _identifier_levels(p, "phone"), ("phone",)
    ),
)
DATE_LEVELS = ("exact", "day_month_swapped", "one_edit", "one_edit_decades", "two_edits", "same_year", "different")

FEATURES: dict[str, tuple[Feature, ...]] = {
    PERSON: (
        _make(
            "given_name",
            ("exact", "nickname", "initial", "similar", "partly", "different"),
            given_name,
            ("given_name",),
        ),
        _make(
            "family_name",
            ("exact", "shared_word", "similar", "sounds_alike", "partly", "different"),
            family_name,
            ("family_name",),
        ),
        _make("name_order", ("swapped",), name_order, ("given_name", "family_name")),
        _make("birth_date", DATE_LEVELS, _date_levels, ("birth_date",)),
        _make(
            "name_birth",
            ("other_generation", "other_given_same_birth"),
            name_birth,
            ("given_name", "family_name", "birth_date"),
        ),
        _make(
            "national_id",
            ("exact", "one_edit", "two_edits", "different"),
            lambda p: _identifier_levels(p, "nid"),
            ("national_id",),
        ),
        _make("email", ("exact", "same_local_part", "similar", "different"), email, ("email",)),
        *ADDRESS_FEATURES,
        _make("gender", ("exact", "different"), lambda p: _exact_levels(p, "gender"), ("gender",)),
    ),
    ORGANIZATION: (
        _make(
            "legal_name",
            ("exact", "same_words", "similar", "partly", "loosely", "different"),
            legal_name,
            ("legal_name",),
        ),
        _make("name_first_word", ("exact", "similar", "different"), name_first_word, ("legal_name",)),
        _make("legal_form", ("exact", "different"), lambda p: _exact_levels(p, "form"), ("legal_name",)),
        _make(
            "registration_number",
            ("exact", "one_edit", "two_edits", "different"),
            lambda p: _identifier_levels(p, "reg"),
            ("registration_number",),
        ),
        _make(
            "tax_id",
            ("exact", "one_edit", "two_edits", "different"),
            lambda p: _identifier_levels(p, "tax"),
            ("tax_id",),
        ),
        _make("incorporation_date", DATE_LEVELS, _date_levels, ("incorporation_date",)),
        _make("website", ("exact", "different"), lambda p: _exact_levels(p, "domain"), ("website", "email")),
        _make("email", ("exact", "same_local_part", "similar", "different"), email, ("email",)),
        *ADDRESS_FEATURES,
    ),
}


def feature_spec(kind: str) -> list[tuple[str, tuple[str, ...]]]:
    """(name, levels) of every feature the engine computes for the kind."""
    return [(feature.name, feature.levels) for feature in FEATURES[kind]]


def compare(prepared: Prepared, i: np.ndarray, j: np.ndarray, names: list[str] | None = None) -> np.ndarray:
    """Comparison levels, shape (pairs, features), int8, for the features ``names`` (default: all) in that order."""
    by_name = {feature.name: feature for feature in FEATURES[prepared.kind]}
    chosen = [by_name[name] for name in names] if names is not None else list(FEATURES[prepared.kind])
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    pairs = _Pairs(prepared, i, j)
    out = np.zeros((len(i), len(chosen)), dtype=np.int8)
    if len(i):
        for column, feature in enumerate(chosen):
            out[:, column] = feature.compute(pairs)
    return out
