"""manage.py er_evaluate on tiny CSV files: the figures it prints, and one clear line for bad input."""

import csv
import io
import json
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

FINAL = re.compile(r"^precision=(\d\.\d{6}) recall=(\d\.\d{6}) f1=(\d\.\d{6}) pairs=(\d+) seconds=(\d+\.\d{3})$")

PEOPLE = [
    (
        "p1",
        "William",
        "Thompson",
        "1984-07-02",
        "bill.thompson@example.com",
        "+44 7700 900123",
        "12 High Street",
        "LS1 4AB",
    ),
    ("p2", "Bill", "Thompson", "02/07/1984", "BILL.THOMPSON@example.com", "07700 900123", "12 High St", "LS1 4AB"),
    ("p3", "Margaret", "Okafor", "1990-11-23", "m.okafor@example.org", "+44 7911 123456", "3 Mill Lane", "M1 1AA"),
    ("p4", "Margaret", "Okafor", "1990-11-23", "m.okafor@example.org", "+44 7911 123456", "3 Mill Lane", "M1 1AA"),
    ("p5", "Jan", "Kowalski", "1975-01-30", "jan.k@example.pl", "+48 601 234 567", "Polna 4", "00-001"),
]
HEADER = [
    "record_id",
    "given_name",
    "family_name",
    "birth_date",
    "email_address",
    "mobile_phone",
    "street",
    "postal_code",
]


def _write(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _run(**options):
    out = io.StringIO()
    call_command("er_evaluate", no_progress=True, stdout=out, **{k: str(v) for k, v in options.items()})
    return out.getvalue().strip().splitlines()


@pytest.fixture
def people(tmp_path):
    return _write(tmp_path / "people.csv", HEADER, PEOPLE)


def test_prints_precision_recall_f1_of_the_clusters_against_the_truth(people, tmp_path):
    # The engine pairs p1-p2 (nickname, reformatted date, phone and e-mail) and p3-p4 (identical).
    # The truth says p1-p2 and, wrongly for the test's sake, p3-p5: 1 of 2 predicted pairs is true, 1 of 2 true found.
    truth = _write(tmp_path / "truth.csv", ["id_a", "id_b"], [("p2", "p1"), ("p3", "p5")])
    lines = _run(records=people, truth=truth)
    match = FINAL.match(lines[-1])
    assert match, lines[-1]
    precision, recall, f1 = (float(x) for x in match.groups()[:3])
    assert (precision, recall, f1) == (0.5, 0.5, 0.5)
    assert int(match.group(4)) >= 2  # candidate pairs compared
    assert any(line.startswith("candidate pairs:") and "pairs/s" in line for line in lines)


def test_perfect_truth_scores_one(people, tmp_path):
    truth = _write(tmp_path / "truth.csv", ["id_a", "id_b"], [("p1", "p2"), ("p3", "p4")])
    precision, recall, f1 = (float(x) for x in FINAL.match(_run(records=people, truth=truth)[-1]).groups()[:3])
    assert precision == recall == f1 == 1.0


def test_organisations_with_a_mapping_file(tmp_path):
    records = _write(
        tmp_path / "companies.csv",
        ["record_id", "Firma", "Handelsregister", "PLZ", "Ort"],
        [
            ("c1", "Müller Logistik GmbH", "HRB 12345", "10115", "Berlin"),
            ("c2", "MUELLER LOGISTIK GMBH", "HRB12345", "10115", "Berlin"),
            ("c3", "Schmidt Bau AG", "HRB 99881", "80331", "München"),
        ],
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {"Firma": "legal_name", "Handelsregister": "registration_number", "PLZ": "postal_code", "Ort": "city"}
        )
    )
    truth = _write(tmp_path / "truth.csv", ["id_a", "id_b"], [("c1", "c2")])
    lines = _run(records=records, truth=truth, mapping=mapping, kind="organization")
    assert FINAL.match(lines[-1]).group(3) == "1.000000"
    assert "organization records" in lines[0]


def test_linking_two_sources_counts_only_pairs_across_them(tmp_path):
    rows = [(*row, "A" if row[0] in ("p1", "p3") else "B") for row in PEOPLE]
    records = _write(tmp_path / "link.csv", [*HEADER, "source_dataset"], rows)
    truth = _write(tmp_path / "truth.csv", ["id_a", "id_b"], [("p1", "p2"), ("p3", "p4")])
    lines = _run(records=records, truth=truth)
    assert "link across sources A, B" in lines[0]
    assert FINAL.match(lines[-1]).group(3) == "1.000000"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing records", "does not exist"),
        ("no record_id", "has no record_id column"),
        ("unknown mapping target", "not an attribute of person records"),
        ("truth without columns", "must have the columns id_a,id_b"),
        ("truth with unknown ids", "not in the records file"),
        ("truth with an empty cell", "must both be given"),
        ("bad model file", "--model"),
        ("bad model reference", "neither a model file nor a SHA-256"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, people, case, message):
    truth = _write(tmp_path / "truth.csv", ["id_a", "id_b"], [("p1", "p2")])
    options = {"records": people, "truth": truth}
    if case == "missing records":
        options["records"] = tmp_path / "nope.csv"
    elif case == "no record_id":
        options["records"] = _write(tmp_path / "x.csv", ["id", "given_name"], [("1", "Ann")])
    elif case == "unknown mapping target":
        mapping = tmp_path / "mapping.json"
        mapping.write_text(json.dumps({"street": "shoe_size"}))
        options["mapping"] = mapping
    elif case == "truth without columns":
        options["truth"] = _write(tmp_path / "t.csv", ["left", "right"], [("p1", "p2")])
    elif case == "truth with unknown ids":
        options["truth"] = _write(tmp_path / "t.csv", ["id_a", "id_b"], [("p1", "p99")])
    elif case == "truth with an empty cell":
        options["truth"] = _write(tmp_path / "t.csv", ["id_a", "id_b"], [("p1", "")])
    elif case == "bad model file":
        bad = tmp_path / "model.json"
        bad.write_text("{not json")
        options["model"] = bad
    elif case == "bad model reference":
        options["model"] = "no-such-model"
    with pytest.raises(CommandError) as caught:
        _run(**options)
    text = str(caught.value)
    assert message in text and "\n" not in text


def test_common_header_spellings_are_recognised_without_a_mapping():
    from apps.er.engine.schema import recognise

    people = recognise(["ID", "First Name", "Last Name", "Date of Birth", "Address Line1", "Zip", "Phone No"], "person")
    assert people == {
        "First Name": "given_name",
        "Last Name": "family_name",
        "Date of Birth": "birth_date",
        "Address Line1": "street",
        "Zip": "postal_code",
        "Phone No": "phone",
    }
    companies = recognise(["Organisation", "Reg Number", "VAT No", "Date Incorporated", "Web Site"], "organization")
    assert companies == {
        "Organisation": "legal_name",
        "Reg Number": "registration_number",
        "VAT No": "tax_id",
        "Date Incorporated": "incorporation_date",
        "Web Site": "website",
    }


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        (["record_id", "name", "dob", "address", "email"], "person"),  # a bare name with a birth date: a person
        (["record_id", "name", "vat_number", "address"], "organization"),
        (["record_id", "name", "gender"], "person"),
        (["record_id", "company", "founded"], "organization"),
    ],
)
def test_the_kind_is_guessed_from_what_only_persons_or_companies_have(headers, kind):
    from apps.er.engine.schema import guess_kind

    assert guess_kind(headers) == kind
