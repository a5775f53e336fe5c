"""The ER engine on its own: normalisation, blocking, scoring, clustering, model bytes, rules (no database)."""

import hashlib
import random

import numpy as np
import pytest

from apps.er.engine import (
    Model,
    ModelError,
    candidate_pairs,
    cluster,
    cluster_scored,
    default_model,
    explain,
    pair_metrics,
    plan_blocks,
    prepare,
    resolve,
    rules_match,
    score_pairs,
    train,
)
from apps.er.engine import normalize as norm
from apps.er.engine.features import compare
from apps.er.engine.nicknames import are_nicknames
from apps.er.engine.pipeline import GUARD_SHARE, batch_prior, em_guard
from apps.er.engine.training import LabelledSet

PERSON = {
    "given_name": "William",
    "family_name": "Thompson",
    "birth_date": "1984-07-02",
    "email": "bill.thompson@example.com",
    "phone": "+44 7700 900123",
    "street": "12 High Street",
    "city": "Leeds",
    "postal_code": "LS1 4AB",
    "country": "GB",
}


# ---------------------------------------------------------------------------- normalisation


def test_phones_in_any_presentation_normalise_alike():
    written = ["+44 7700 900123", "0044 7700900123", "07700 900123", "+44 (0)7700-900123"]
    assert {norm.phone(value) for value in written} == {"700900123"}
    assert norm.phone("12345") == ""  # too short to compare


def test_emails_lose_case_tags_and_gmail_dots():
    assert norm.email("Bill.Thompson+bank@GoogleMail.com") == "billthompson@gmail.com"
    assert norm.email("B.Thompson@Example.COM") == "b.thompson@example.com"
    assert norm.email("not an address") == ""


def test_dates_read_in_several_layouts_and_keep_impossible_ones():
    assert norm.date_parts("1984-07-02") == norm.date_parts("19840702") == norm.date_parts("02/07/1984") == (1984, 7, 2)
    assert norm.date_parts("07/25/1984") == (1984, 7, 25)  # month first, since 25 cannot be a month
    assert norm.date_parts("19841302") == (1984, 13, 2)  # a typo is evidence, not missing
    assert norm.date_parts("") == norm.date_parts("soon") == (0, 0, 0)


def test_day_month_transposition_is_its_own_comparison_level():
    model = default_model()
    a, b = dict(PERSON), {**PERSON, "birth_date": "1984-02-07"}
    levels = {feature: level for feature, level, _ in explain(a, b, kind="person", model=model)}
    assert levels["birth_date"] == "day_month_swapped"


def test_nicknames_are_known_both_ways_but_not_transitively():
    assert are_nicknames("bill", "william") and are_nicknames("william", "bill")
    assert are_nicknames("peppe", "giuseppe")
    assert not are_nicknames("albert", "alfred")  # both "Al", which does not make them one name
    levels = {f: level for f, level, _ in explain(PERSON, {**PERSON, "given_name": "Bill"}, kind="person")}
    assert levels["given_name"] == "nickname"


def test_organisation_names_lose_legal_forms_and_abbreviations():
    assert norm.organisation_name("Acme Intl. Holdings Ltd.") == ("acme international holdings", "ltd")
    assert norm.organisation_name("ACME INTERNATIONAL HOLDINGS LIMITED")[0] == "acme international holdings"
    assert norm.organisation_name("Garcia Logistica S.L.") == ("garcia logistica", "sl")
    assert norm.identifier("GB 1234-5678", "GB") == norm.identifier("12345678", "GB") == "12345678"


# ---------------------------------------------------------------------------- blocking


def _population(count: int, seed: int = 3) -> list[tuple[str, dict]]:
    rng = random.Random(seed)
    given = ["Anna", "Ben", "Carla", "David", "Eva", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kemal", "Lena"]
    family = ["Smith", "Jones", "Garcia", "Müller", "Rossi", "Nowak", "Yilmaz", "Dubois", "Jansen", "Berg", "Ivanov"]
    streets = ["High Street", "Station Road", "Hauptstraße", "Calle Mayor", "Via Roma", "Kerkstraat"]
    records = []
    for k in range(count):
        records.append(
            (
                f"r{k}",
                {
                    "given_name": rng.choice(given),
                    "family_name": rng.choice(family) + rng.choice(["", "son", "er", "i", "ek"]),
                    "birth_date": f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    "street": f"{rng.randint(1, 200)} {rng.choice(streets)}",
                    "postal_code": f"{rng.randint(10000, 10400)}",
                    "city": rng.choice(["Leeds", "Berlin", "Madrid", "Rome"]),
                },
            )
        )
    return records


@pytest.mark.parametrize(
    "variation",
    [
        {"family_name": "Thomspon"},  # letters swapped
        {"given_name": "Bill", "email": "BILL.THOMPSON@example.com"},  # nickname
        {"birth_date": "1984-02-07", "phone": "07700 900123"},  # day/month swapped, national phone format
        {"street": "5 Park Lane", "postal_code": "M1 1AA", "city": "Manchester"},  # moved
        {"given_name": "Thompson", "family_name": "William"},  # name fields swapped
    ],
)
def test_blocking_proposes_the_true_pair_for_typical_variations(variation):
    records = [*_population(300), ("a", PERSON), ("b", {**PERSON, **variation})]
    prepared = prepare(records, "person")
    i, j = candidate_pairs(prepared)
    a, b = prepared.ids.index("a"), prepared.ids.index("b")
    assert (min(a, b), max(a, b)) in set(zip(i.tolist(), j.tolist(), strict=True))


def test_blocking_is_not_quadratic_even_for_one_shared_key():
    # Everyone shares one postcode: the block is capped by the sorted neighbourhood.
    records = [(rid, {**attrs, "postal_code": "10000"}) for rid, attrs in _population(2000)]
    i, _ = candidate_pairs(prepare(records, "person"))
    assert len(i) < 2000 * 1999 // 2 // 20
    assert len(i) < 60 * 2000


def test_large_sets_block_tighter(monkeypatch):
    from apps.er.engine import blocking

    records = [(rid, {**attrs, "postal_code": "10000"}) for rid, attrs in _population(2000)]
    prepared = prepare(records, "person")
    normal, _ = candidate_pairs(prepared)
    monkeypatch.setattr(blocking, "LARGE", 1000)  # as if 2,000 records were a large tenant
    tight, _ = candidate_pairs(prepared)
    assert len(tight) < len(normal) / 2


def test_linking_compares_only_across_sources():
    records = [("a1", PERSON), ("a2", PERSON), ("b1", PERSON)]
    prepared = prepare(records, "person", sources=[0, 0, 1])
    i, j = candidate_pairs(prepared)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 2), (1, 2)]


# ---------------------------------------------------------------------------- scoring


def test_scores_fall_as_evidence_against_accumulates():
    model = default_model()
    steps = [
        dict(PERSON),
        {**PERSON, "phone": "+44 7700 111111"},
        {**PERSON, "phone": "+44 7700 111111", "birth_date": "1991-03-15"},
        {**PERSON, "phone": "+44 7700 111111", "birth_date": "1991-03-15", "given_name": "Margaret"},
        {
            **PERSON,
            "phone": "+44 7700 111111",
            "birth_date": "1991-03-15",
            "given_name": "Margaret",
            "family_name": "Okafor",
            "email": "m.okafor@example.org",
        },
    ]
    records = [("base", PERSON), *((f"v{k}", attrs) for k, attrs in enumerate(steps))]
    scored = score_pairs(model, dict(records), [("base", f"v{k}") for k in range(len(steps))], kind="person")
    probabilities = [p for _, _, p in scored]
    assert probabilities == sorted(probabilities, reverse=True)
    assert probabilities[0] > 0.95 and probabilities[-1] < 0.01


def test_explanation_adds_up_to_the_score():
    model = default_model()
    b = {**PERSON, "given_name": "Bill", "phone": "07700 900123"}
    parts = model.explain(PERSON, b, "person")
    assert parts[0][0] == "prior"
    probability = 1 / (1 + np.exp(-sum(weight for _, _, weight in parts)))
    ((_, _, scored),) = score_pairs(model, {"a": PERSON, "b": b}, [("a", "b")], kind="person")
    assert probability == pytest.approx(scored, rel=1e-6)


def test_batch_prior_moves_the_threshold_not_the_ranking():
    probabilities = np.array([0.9, 0.6, 0.3, 0.05, 0.01])
    prior, shift = batch_prior(probabilities, 0.05)
    assert 0.05 < prior < 1 and shift > 0


def test_em_guard_is_the_share_of_em_matches_the_trained_model_does_not_accept():
    em = np.array([0.9, 0.9, 0.9, 0.1])
    trained = np.array([0.8, 0.2, 0.05, 0.99])
    assert em_guard(em, trained, 0.5) == pytest.approx(2 / 3)
    assert em_guard(np.array([0.1]), np.array([0.9]), 0.5) == 0.0  # EM accepts nothing: nothing to distrust


@pytest.mark.django_db
def test_auto_adaptation_keeps_em_on_plain_duplicates_and_refuses_it_on_households():
    from apps.er.training_sets import demo_sets  # the demo generator behind it imports Django models
    from tools.bench import er as bench

    people = demo_sets(seed=913, position=2, total=3000, slug="er-guard")["person"]
    plain = resolve(people.records, kind="person", model=default_model(), adapt="auto")
    assert plain.adapted == "em" and plain.guard < GUARD_SHARE
    hard = bench.hard_set(people, seed=913)  # twins, same-name fathers and sons, namesakes
    guarded = resolve(hard.records, kind="person", model=default_model(), adapt="auto")
    em = resolve(hard.records, kind="person", model=default_model(), adapt="em")
    assert guarded.adapted == "prior" and guarded.guard >= GUARD_SHARE
    truth = hard.truth_pairs()

    def f1(result):
        i, j = result.matched_pairs()
        ids = result.prepared.ids
        return pair_metrics(((ids[a], ids[b]) for a, b in zip(i.tolist(), j.tolist(), strict=True)), truth).f1

    assert f1(guarded) > 0.9 > f1(em)


@pytest.mark.parametrize("adapt", ["auto", "em", "prior", "none"])
def test_a_batch_without_candidate_pairs_resolves_to_no_clusters(adapt):
    records = [("a", PERSON), ("b", {"given_name": "Zed", "family_name": "Quux", "birth_date": "1901-01-01"})]
    assert resolve(records, kind="person", model=default_model(), adapt=adapt).clusters() == []


def test_a_one_digit_slip_in_the_decade_is_not_an_ordinary_one_edit():
    records = [
        ("a", {**PERSON, "birth_date": "1962-03-04"}),
        ("b", {**PERSON, "birth_date": "1992-03-04"}),  # one edit, thirty years
        ("c", {**PERSON, "birth_date": "1962-03-05"}),  # one edit, same year
    ]
    prepared = prepare(records, "person")
    levels = compare(prepared, np.array([0, 0]), np.array([1, 2]), ["birth_date"])[:, 0]
    names = default_model().for_kind("person").levels[default_model().for_kind("person").features.index("birth_date")]
    assert [names[level] for level in levels] == ["one_edit_decades", "one_edit"]


# ---------------------------------------------------------------------------- clustering


def test_strong_links_do_not_chain_records_that_strongly_differ():
    # A~B and B~C are strong, A vs C is strongly negative: A and C never share a cluster.
    i, j = np.array([0, 1, 0]), np.array([1, 2, 2])
    p = np.array([0.99, 0.95, 0.0001])
    result = cluster(3, i, j, p, threshold=0.5, cannot_link=0.001)
    assert result.labels[0] == result.labels[1] != result.labels[2]
    assert result.vetoed == 1


def test_without_a_negative_pair_accepted_links_form_one_cluster():
    i, j = np.array([0, 1]), np.array([1, 2])
    result = cluster(3, i, j, np.array([0.99, 0.95]), threshold=0.5, cannot_link=0.001)
    assert len(set(result.labels.tolist())) == 1


def test_clustering_scores_the_pairs_blocking_did_not_propose():
    def score(a, b):
        return np.full(len(a), 0.00001)  # whatever was not proposed turns out to be strongly different

    i, j = np.array([0, 1]), np.array([1, 2])
    result = cluster(3, i, j, np.array([0.99, 0.95]), threshold=0.5, cannot_link=0.001, score=score)
    assert result.completed == 1 and result.labels[0] != result.labels[2]


def test_distributed_run_gives_the_in_process_clusters():
    records = [
        *_population(200),
        ("a", PERSON),
        ("b", {**PERSON, "given_name": "Bill"}),
        ("c", {**PERSON, "phone": ""}),
    ]
    model = default_model()
    whole = resolve(records, kind="person", model=model, adapt="prior").clusters()
    blocks = plan_blocks(records, kind="person", pairs_per_block=97)
    assert len(blocks) > 1 and all(len(block) <= 97 for block in blocks)
    by_id = dict(records)
    scored = [row for block in blocks for row in score_pairs(model, by_id, block, kind="person")]
    assert cluster_scored(model, by_id, scored, kind="person", adapt="prior") == whole
    assert ["a", "b", "c"] in whole


# ---------------------------------------------------------------------------- model artifact


def test_model_bytes_round_trip_with_a_stable_sha256():
    model = default_model()
    data = model.to_bytes()
    again = Model.from_bytes(data)
    assert again.to_bytes() == data
    assert again.sha256 == model.sha256 == hashlib.sha256(data).hexdigest()
    assert data == data.strip() and b"\n" not in data and b": " not in data  # compact canonical JSON
    for key in ("features", "training_data_hash", "engine_version", "training_metrics"):
        assert key in model.metadata


def test_training_is_deterministic_and_learns_direction():
    rng = random.Random(5)
    records, identities = [], {}
    for rid, attrs in _population(400):
        records.append((rid, attrs))
        identities[rid] = rid
        if rng.random() < 0.3:
            copy = dict(attrs)
            copy["family_name"] = copy["family_name"][:-1] if len(copy["family_name"]) > 4 else copy["family_name"]
            records.append((rid + "d", copy))
            identities[rid + "d"] = rid
    labelled = [LabelledSet("person", records, identities, name="toy")]
    first, second = train(labelled), train(labelled)
    assert first.to_bytes() == second.to_bytes()
    weights = dict(zip(first.kinds["person"].features, first.kinds["person"].weights, strict=True))
    levels = dict(zip(first.kinds["person"].features, first.kinds["person"].levels, strict=True))
    birth = dict(zip(levels["birth_date"], weights["birth_date"], strict=True))
    assert birth["exact"] > birth["different"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.replace(b'"format":"intelgraph-er-model/1"', b'"format":"other"'),
        lambda d: d.replace(b'"name":"birth_date"', b'"name":"shoe_size"'),
        lambda d: d[:-10],
    ],
)
def test_foreign_or_damaged_artifacts_are_refused(mutate):
    with pytest.raises(ModelError):
        Model.from_bytes(mutate(default_model().to_bytes()))


# ---------------------------------------------------------------------------- rules fallback


def test_rules_decide_on_strong_identifiers_only():
    a = {**PERSON, "national_id": "AB 12 34 56 C"}
    assert rules_match(a, {**a, "national_id": "AB123456C", "given_name": "Bill"}) is True
    assert rules_match(a, {**a, "national_id": "ZZ999999Z", "email": "other@example.com"}) is False
    assert rules_match(PERSON, {**PERSON, "email": "BILL.THOMPSON@example.com"}) is True  # e-mail + same name
    assert rules_match(PERSON, {**PERSON, "email": "x@example.com"}) is None  # nothing strong either way
    assert rules_match(a, {**a, "national_id": "ZZ999999Z"}) is None  # id differs, e-mail and name agree
    company = {"legal_name": "Acme Ltd", "registration_number": "01234567", "country": "GB"}
    assert rules_match(company, {**company, "registration_number": "GB01234567", "legal_name": "ACME LIMITED"}) is True
    assert rules_match(company, {**company, "registration_number": "07654321"}) is False
    assert rules_match(company, {"legal_name": "Acme Ltd"}) is None
