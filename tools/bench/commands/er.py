"""Benchmark the ER engine against Splink on FEBRL3/FEBRL4 and on hard demo-generator sets (make bench-er)."""

import io
import logging
import os
import re
import time
import warnings
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apps.er.engine import model as engine_model
from apps.er.engine import train
from apps.er.engine.pipeline import pair_metrics
from apps.er.training_sets import TRAINING_TENANTS, demo_sets, training_sets
from tools.bench import er as bench

FINAL = re.compile(r"precision=(\S+) recall=(\S+) f1=(\S+) pairs=(\d+) seconds=(\S+)")
ADAPTED = re.compile(r"^adaptation: (\w+)", re.MULTILINE)
FEBRL_CASES = ("febrl3", "febrl4", "febrl3-no-ssid", "febrl4-no-ssid")


def _ours(records: Path, truth: Path, adapt: str) -> dict:
    out = io.StringIO()
    call_command("er_evaluate", records=str(records), truth=str(truth), adapt=adapt, no_progress=True, stdout=out)
    match = FINAL.search(out.getvalue().strip().splitlines()[-1])
    p, r, f1, pairs, seconds = match.groups()
    adapted = ADAPTED.search(out.getvalue())
    return {
        "precision": float(p),
        "recall": float(r),
        "f1": float(f1),
        "pairs": int(pairs),
        "seconds": float(seconds),
        "adapted": adapted.group(1) if adapted else adapt,
    }


def _splink(records: Path, truth: Path) -> dict:
    """Splink 5 + DuckDB, configured as the Splink FEBRL examples do; timed from reading the CSV to predictions."""
    logging.disable(logging.WARNING)  # Splink logs every EM iteration at INFO
    try:
        return _splink_run(records, truth)
    finally:
        logging.disable(logging.NOTSET)


def _splink_run(records: Path, truth: Path) -> dict:
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    frame = pd.read_csv(records, dtype=str, keep_default_na=False).replace({"": None})
    ssid = "soc_sec_id" in frame.columns
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison(
            "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=True
        ),
        cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
        cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
    ]
    rules = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    deterministic = [block_on("given_name", "surname", "date_of_birth")]
    if ssid:
        comparisons.append(cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]))
        rules.insert(3, block_on("soc_sec_id"))
        deterministic.insert(0, block_on("soc_sec_id"))
    linking = "source_dataset" in frame.columns
    frames = (
        [part.drop(columns="source_dataset") for _, part in frame.groupby("source_dataset")] if linking else [frame]
    )
    settings_ = SettingsCreator(
        unique_id_column_name="record_id",
        link_type="link_only" if linking else "dedupe_only",
        blocking_rules_to_generate_predictions=rules,
        comparisons=comparisons,
    )
    api = DuckDBAPI()
    registered = [api.register(part) for part in frames]
    linker = Linker(registered if linking else registered[0], settings_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
        for rule in ("date_of_birth", "postcode"):
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(rule), estimate_without_term_frequencies=True
            )
        predictions = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    seconds = time.perf_counter() - started
    true_pairs = pd.read_csv(truth, dtype=str)
    metrics = pair_metrics(
        zip(predictions["record_id_l"], predictions["record_id_r"], strict=True),
        zip(true_pairs["id_a"], true_pairs["id_b"], strict=True),
    )
    return {
        "precision": metrics.precision,
        "recall": metrics.recall,
        "f1": metrics.f1,
        "pairs": len(predictions),
        "seconds": seconds,
    }


class Command(BaseCommand):
    help = (
        "ER benchmark: our engine (er_evaluate, default model) and Splink 5 on FEBRL3 (dedup) and FEBRL4 (linkage), "
        "with and without soc_sec_id, then our engine on demo-generator person and organisation sets (plain and "
        "hard). Prints a table with both, ratios, PASS/FAIL and the machine's cores. --train-default rebuilds the "
        "shipped default model first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--train-default", action="store_true", help="retrain and rewrite the default model")
        parser.add_argument("--no-splink", action="store_true", help="skip Splink")
        parser.add_argument("--no-demo", action="store_true", help="skip the demo-generator sets")
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "var" / "bench-er"), help="CSV folder")

    def handle(self, *args, **options):
        say = self.stdout.write
        directory = Path(options["out"])
        directory.mkdir(parents=True, exist_ok=True)
        if options["train_default"]:
            self._train_default(say)
        say(f"machine: {os.cpu_count()} cores; CSVs in {directory}")
        files = {**bench.export_febrl(directory, with_ssid=True), **bench.export_febrl(directory, with_ssid=False)}
        rows = []
        for case in FEBRL_CASES:
            records, truth = files[case]
            ours = _ours(records, truth, "auto")
            fixed = _ours(records, truth, "prior")
            theirs = None if options["no_splink"] else _splink(records, truth)
            rows.append((case, ours, fixed, theirs))
            say(
                f"  {case}: ours F1 {ours['f1']:.4f} in {ours['seconds']:.2f}s"
                + (f"; Splink F1 {theirs['f1']:.4f} in {theirs['seconds']:.2f}s" if theirs else "")
            )
        say("")
        say(
            "| data | ours P / R / F1 | ours s | adapted | fixed weights F1 | Splink P / R / F1 | Splink s | F1 ours/Splink | time ours/Splink | result |"
        )
        say("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        failures = 0
        for case, ours, fixed, theirs in rows:
            cells = [
                case,
                f"{ours['precision']:.4f} / {ours['recall']:.4f} / {ours['f1']:.4f}",
                f"{ours['seconds']:.2f}",
                ours["adapted"],
                f"{fixed['f1']:.4f}",
            ]
            if theirs:
                ok = ours["f1"] >= theirs["f1"] and ours["seconds"] <= theirs["seconds"]
                failures += not ok
                cells += [
                    f"{theirs['precision']:.4f} / {theirs['recall']:.4f} / {theirs['f1']:.4f}",
                    f"{theirs['seconds']:.2f}",
                    f"{ours['f1'] / theirs['f1']:.4f}",
                    f"{ours['seconds'] / theirs['seconds']:.2f}",
                    "PASS" if ok else "FAIL",
                ]
            else:
                cells += ["-", "-", "-", "-", "-"]
            say("| " + " | ".join(cells) + " |")
        if not options["no_demo"]:
            self._demo(say, directory)
        say(
            f"cores: {os.cpu_count()}; ours = er_evaluate as it runs by default (shipped model, --adapt auto: EM on the "
            "batch when the trained model agrees with it, else re-based weights); fixed weights = --adapt prior; "
            "Splink = 5.x, DuckDB, EM, threshold 0.5"
        )
        if failures:
            raise CommandError(f"{failures} FEBRL case(s) below Splink's F1 or slower than Splink")

    def _demo(self, say, directory: Path) -> None:
        say("")
        say("| demo set | records | true pairs | ours P / R / F1 | ours s | adapted | fixed weights P / R / F1 |")
        say("| --- | --- | --- | --- | --- | --- | --- |")
        for label, (seed, position, total) in bench.EVALUATION_TENANTS.items():
            sets = demo_sets(seed=seed, position=position, total=total, slug=f"er-eval-{seed}")
            for kind, record_set in sets.items():
                for variant, data in (("plain", record_set), ("hard", bench.hard_set(record_set, seed=seed))):
                    name = f"demo-{label}-{kind}-{variant}"
                    records, truth = bench.export_demo(directory, name, data)
                    ours, fixed = _ours(records, truth, "auto"), _ours(records, truth, "prior")
                    say(
                        f"| {name} | {len(data.records):,} | {len(data.truth_pairs()):,} | "
                        f"{ours['precision']:.4f} / {ours['recall']:.4f} / {ours['f1']:.4f} | {ours['seconds']:.2f} | "
                        f"{ours['adapted']} | "
                        f"{fixed['precision']:.4f} / {fixed['recall']:.4f} / {fixed['f1']:.4f} |"
                    )

    def _train_default(self, say) -> None:
        started = time.perf_counter()
        sets = training_sets()
        model = train(
            sets,
            metadata={"name": "default", "training_tenants": [list(t) for t in TRAINING_TENANTS]},
        )
        path = Path(engine_model.__file__).with_name(engine_model.DEFAULT_MODEL_FILE)
        path.write_bytes(model.to_bytes())
        say(f"default model: {path} sha256 {model.sha256} ({time.perf_counter() - started:.1f}s)")
        for kind, metrics in model.metadata["training_metrics"].items():
            say(f"  {kind}: {metrics}")
