"""Run the ER pipeline on a CSV of records and score it against a truth file (docs/er.md)."""

import re
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.er.engine import KINDS, Model, ModelError, default_model, pair_metrics, resolve
from apps.er.engine.files import InputError, read_mapping, read_records, read_truth
from apps.er.engine.pipeline import ADAPT_MODES, GUARD_SHARE

SHA256 = re.compile(r"^[0-9a-f]{64}$")
PROGRESS_FROM = 50_000  # candidate pairs from which a progress bar is worth showing


def load_model(reference: str | None) -> tuple[Model, str]:
    """The model named by a path, a registry SHA-256, or nothing (the shipped default); and how to name it."""
    if not reference:
        return default_model(), "default"
    path = Path(reference)
    if path.is_file():
        try:
            return Model.from_bytes(path.read_bytes()), str(path)
        except ModelError as exc:
            raise CommandError(f"--model {reference}: {exc}") from None
        except OSError as exc:
            raise CommandError(f"--model {reference}: cannot be read ({exc.strerror})") from None
    if SHA256.match(reference.lower()):
        try:
            from apps.er.services import model_load  # the registry; absent in a build without it
        except ImportError:
            raise CommandError(
                f"--model {reference}: no model registry in this installation; give a file path"
            ) from None
        try:
            model = model_load(reference.lower())
        except Exception as exc:  # the registry's own error, whatever its type: one line, no traceback
            raise CommandError(f"--model {reference}: {exc}") from None
        if isinstance(model, bytes | bytearray):
            model = Model.from_bytes(bytes(model))
        return model, reference.lower()
    raise CommandError(f"--model {reference}: neither a model file nor a SHA-256 of a registered model")


class Command(BaseCommand):
    help = (
        "Resolve the records of a CSV file (record_id plus attribute columns) and score the result against a truth "
        "file of id_a,id_b pairs: precision, recall, F1, candidate pairs, pairs per second and wall time. "
        "The last line is 'precision=P recall=R f1=F pairs=N seconds=S'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--records", required=True, help="CSV with a record_id column and attribute columns")
        parser.add_argument("--truth", required=True, help="CSV with id_a,id_b: every pair of records of one entity")
        parser.add_argument("--kind", choices=KINDS, help="person or organization (default: guessed from the columns)")
        parser.add_argument(
            "--mapping", help='JSON object mapping other headers onto attributes: {"header": "attribute"}'
        )
        parser.add_argument(
            "--model", help="model artifact file, or the SHA-256 of a registered model (default: shipped)"
        )
        parser.add_argument(
            "--adapt",
            choices=ADAPT_MODES,
            default="auto",
            help="auto (default): em, kept only if the trained model accepts most of what EM accepts, else prior; "
            "prior: the model's weights, re-based on these records' share of matches; "
            "em: every weight re-estimated on these records by EM (unsupervised), starting from the model; "
            "none: the model exactly as it is",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        model, model_name = load_model(options["model"])
        try:
            mapping = read_mapping(options["mapping"]) if options["mapping"] else None
            started = time.perf_counter()
            records = read_records(options["records"], kind=options["kind"], mapping=mapping)
            truth = read_truth(options["truth"], {record_id for record_id, _ in records.records})
        except InputError as exc:
            raise CommandError(str(exc)) from None
        if records.kind not in model.kinds:
            raise CommandError(f"the model has no weights for {records.kind} records")
        say = self.stdout.write
        mode = "link across sources " + ", ".join(records.source_names) if records.sources else "deduplicate"
        say(f"records: {len(records.records)} {records.kind} records ({mode}); truth: {len(set(truth))} pairs")
        say("columns: " + ", ".join(f"{header}->{target}" for header, target in records.columns.items()))
        if records.ignored:
            say("ignored columns: " + ", ".join(records.ignored))
        say(f"model: {model_name} (sha256 {model.sha256[:16]}…), adapt: {options['adapt']}")
        bar = None

        def on_pairs(total: int) -> None:
            nonlocal bar
            if not options["no_progress"] and total >= PROGRESS_FROM:
                bar = tqdm(total=total, unit="pairs", desc="scoring", file=sys.stderr, leave=False)

        result = resolve(
            records.records,
            kind=records.kind,
            model=model,
            sources=records.sources,
            adapt=options["adapt"],
            on_pairs=on_pairs,
            progress=lambda done: bar.update(done) if bar is not None else None,
        )
        if bar is not None:
            bar.close()
        if result.guard is not None:
            verdict = "kept" if result.adapted == "em" else "not used, scored with the model's weights re-based"
            say(
                f"adaptation: {result.adapted} (EM {verdict}: the trained model does not accept "
                f"{result.guard:.1%} of EM's matches; limit {GUARD_SHARE:.0%})"
            )
        i, j = result.matched_pairs()
        ids = result.prepared.ids
        metrics = pair_metrics(((ids[a], ids[b]) for a, b in zip(i.tolist(), j.tolist(), strict=True)), truth)
        seconds = time.perf_counter() - started
        pairs = len(result.i)
        steps = ", ".join(f"{step} {value:.2f}s" for step, value in result.timings.items() if step != "total")
        say(
            f"candidate pairs: {pairs:,} ({pairs / seconds:,.0f} pairs/s); estimated share of matches {result.prior:.4f}"
        )
        say(f"clusters: {len(result.clusters()):,} of two or more; merges vetoed: {result.clustering.vetoed}")
        say(f"matched pairs: {metrics.predicted:,}, of which true: {metrics.true_positives:,}; time: {steps}")
        say(
            f"precision {metrics.precision:.4f}  recall {metrics.recall:.4f}  F1 {metrics.f1:.4f}  wall time {seconds:.2f}s"
        )
        say(
            f"precision={metrics.precision:.6f} recall={metrics.recall:.6f} f1={metrics.f1:.6f} "
            f"pairs={pairs} seconds={seconds:.3f}"
        )
