"""Running entity resolution on a tenant's entities: which model, candidate pairs, auto-merges, the rules fallback.

A batch run loads one kind of entity, normalises it once, blocks it into candidate pairs and scores them in
chunks in this process, or cuts them into blocks scored as Celery tasks (``score_block``; more workers go
faster), then records pairs in the review
band for reviewers and merges pairs at or above the tenant's auto-merge threshold, cluster by cluster
(``engine.cluster_scored`` does not chain through weak links). Never-merge constraints are honoured at every
step. If the pinned model cannot be loaded or fails, the deterministic rules decide instead: their pairs are
marked ``by_rules``, a metric and an alert say so, and nothing merges automatically on less than the rules'
certainty (a rules match scores 1.0, anything else is left to reviewers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from apps.access import purposes as access_purposes
from apps.audit import services as audit
from apps.core.models import Entity, Tenant
from apps.er import services as er
from apps.er.choices import PairStatus, PinMode
from apps.er.models import CandidatePair
from apps.finops import services as finops
from intelgraph import alerts, metering

logger = logging.getLogger(__name__)

ER_FALLBACK = Counter("ig_er_rules_fallback_total", "ER runs or scores decided by rules: the model was unavailable.")
ER_PAIRS = Counter("ig_er_candidate_pairs_total", "Candidate pairs scored by entity resolution.", ["tenant"])


@dataclass
class Scorer:
    """The model in force for a tenant (verified), or the rules when it cannot be used."""

    model: object | None
    sha: str
    by_rules: bool
    problem: str = ""


def scorer_for(tenant: Tenant) -> Scorer:
    from apps.er import engine  # the engine (numpy, the model) loads only when something is scored

    pin = er.pin_current(tenant=tenant, mode=PinMode.ACTIVE)
    if pin is None:
        # No pin anywhere: the model shipped with the engine, registered (content-addressed, so once) so that
        # every pair and merge names an artifact the registry holds.
        artifact = er.model_register(
            data=engine.default_model_bytes(), model_id="default (shipped)", metadata=engine.default_model().metadata
        )
        return Scorer(er.model_load(artifact.sha256), artifact.sha256, False)
    try:
        return Scorer(er.model_load(pin.artifact.sha256), pin.artifact.sha256, False)
    except (er.ModelIntegrityError, engine.ModelError) as exc:
        ER_FALLBACK.inc()
        logger.error("ER model for %s unavailable, rules decide: %s", tenant.slug, exc)
        if alerts.first_in_window(f"ig:er-fallback-audited:{tenant.pk}:{pin.artifact.sha256}"):
            # Once per alert window, not on every online score while the pin stays broken (the metric counts all).
            audit.record(
                "er.rules_fallback", tenant=tenant, payload={"sha256": pin.artifact.sha256, "problem": str(exc)[:500]}
            )
        alerts.alert(
            key=f"er-fallback:{tenant.pk}:{pin.artifact.sha256}",
            subject=f"Entity resolution for {tenant.slug} fell back to rules",
            body=(
                f"The pinned model {pin.artifact.sha256[:12]} ({pin.artifact.model_id}) could not be used: {exc}\n"
                "Until it is fixed or the pin reverted (admin -> Model pins), only exact strong identifiers merge "
                "automatically; everything else waits for reviewers."
            ),
        )
        return Scorer(None, "", True, str(exc))


def records_for(*, tenant: Tenant, kind: str) -> dict[str, dict]:
    """Entities to resolve: the kind's roots (not already merged into another), as id -> attributes."""
    rows = Entity.objects.filter(tenant=tenant, kind=kind, merged_into=None).values_list(
        "pk", "display_name", "attributes"
    )
    return er.entity_records(rows.iterator(chunk_size=5000), kind)


def score_block(scorer: Scorer, records: dict[str, dict], pairs: list[tuple[str, str]], *, kind: str) -> list:
    """(a, b, probability) for one block; under the rules, a match scores 1.0, a mismatch 0, unsure 0.5."""
    from apps.er import engine  # the engine (numpy, the model) loads only when something is scored

    if not scorer.by_rules:
        try:
            return engine.score_pairs(scorer.model, records, pairs, kind=kind)
        except Exception as exc:  # a scorer that fails mid-run: the rules take over for this block
            ER_FALLBACK.inc()
            logger.error("ER scoring failed, rules decide this block: %s", exc)
            scorer.by_rules, scorer.problem = True, str(exc)
    out = []
    for a, b in pairs:
        verdict = engine.rules_match(records[a], records[b], kind)
        out.append((a, b, 1.0 if verdict else 0.0 if verdict is False else 0.5))
    return out


def score_block_for(*, tenant_id: int, kind: str, pairs: list, keep_from: float = 0.0) -> dict:
    """One block scored by a worker: its records read from PostgreSQL, the tenant's model loaded (verified)."""
    tenant = Tenant.objects.get(pk=tenant_id)
    ids = sorted({i for pair in pairs for i in pair})
    rows = Entity.objects.filter(tenant=tenant, pk__in=ids).values_list("pk", "display_name", "attributes")
    records = er.entity_records(rows, kind)
    pairs = [(a, b) for a, b in pairs if a in records and b in records]  # deleted since the run was planned
    scorer = scorer_for(tenant)
    scored = [x for x in score_block(scorer, records, pairs, kind=kind) if x[2] >= keep_from]
    return {"scored": scored, "by_rules": scorer.by_rules, "sha": scorer.sha}


def _score_here(scorer: Scorer, prepared, records, i, j, *, kind: str, block: int, progress, keep_from: float) -> list:
    """Every candidate pair scored in this process on the records normalised once; those at ``keep_from`` or
    above are returned (millions of pairs below the review band are not kept). The rules take over from a
    chunk on which the model fails, as ``score_block`` does."""
    from apps.er.engine.pipeline import CHUNK  # the engine (numpy, the model) loads only when something is scored

    ids, total, scored = (prepared.ids if prepared is not None else []), len(i), []
    step = max(1, min(block, CHUNK))
    for start in range(0, total, step):
        a, b = i[start : start + step], j[start : start + step]
        pairs = [(ids[x], ids[y]) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
        if not scorer.by_rules:
            try:
                probabilities = scorer.model.score(prepared, a, b).tolist()
                scored += [(x, y, p) for (x, y), p in zip(pairs, probabilities, strict=True) if p >= keep_from]
                progress("scoring", start + len(pairs), total)
                continue
            except Exception as exc:  # a scorer that fails mid-run: the rules take over from here
                ER_FALLBACK.inc()
                logger.error("ER scoring failed, rules decide from here: %s", exc)
                scorer.by_rules, scorer.problem = True, str(exc)
        scored += [x for x in score_block(scorer, records, pairs, kind=kind) if x[2] >= keep_from]
        progress("scoring", start + len(pairs), total)
    return scored


def _explain_here(model, prepared, pairs: list[tuple[str, str]]) -> list:
    return model.explain_pairs(prepared, *prepared.rows(pairs)) if pairs else []


def _score_on_workers(*, tenant, kind, blocks, scorer, progress, keep_from: float) -> list:
    """Blocks as Celery tasks (more workers, faster runs); waits for them all."""
    from celery import group

    from apps.er.tasks import score_block_task  # a cycle: the tasks module imports this one

    total = sum(len(b) for b in blocks)
    results = group(
        score_block_task.s(tenant.pk, kind, [list(p) for p in block], keep_from) for block in blocks
    ).apply_async()
    answers = results.get(timeout=3600, propagate=True)
    scored = []
    for answer in answers:
        scored += [tuple(x) for x in answer["scored"]]
        scorer.by_rules = scorer.by_rules or answer["by_rules"]
    progress("scoring", total, total)
    return scored


RECORD_BATCH = 2000  # candidate pairs looked up, created or updated per query
OPEN = (PairStatus.PENDING, PairStatus.DEFERRED, PairStatus.SHADOW)  # statuses a re-run may rescore


def record_pairs(
    *, tenant, kind, scorer, records, scored, never, merged_ids=frozenset(), explain=None
) -> tuple[int, int]:
    """Store scored pairs (already in the review band) for the decision center; returns (pending, never-merge skipped).
    Pairs a reviewer decided, or that were merged or undone, are left as they are: a re-run does not reopen them.

    ``explain(pairs)`` gives the score breakdowns of ``(id_a, id_b)`` pairs in one go (a batch run compares them
    on the records it already normalised); by default each pair's records are compared again.
    """
    if explain is None:
        explain = lambda pairs: [scorer.model.explain(records[a], records[b], kind) for a, b in pairs]  # noqa: E731
    review = skipped = 0
    now = timezone.now()  # bulk updates do not touch auto_now fields: "scored" is set here
    wanted = []
    for a, b, p in scored:
        a, b = (a, b) if a < b else (b, a)
        if (a, b) in never:
            skipped += 1
        else:
            wanted.append((a, b, p))
    for start in range(0, len(wanted), RECORD_BATCH):
        batch = wanted[start : start + RECORD_BATCH]
        firsts = {a for a, _, _ in batch}
        existing = {
            (str(pair.entity_a_id), str(pair.entity_b_id)): pair
            for pair in CandidatePair.objects.filter(tenant=tenant, entity_a_id__in=firsts).only(
                "pk", "entity_a_id", "entity_b_id", "status"
            )
        }
        todo = [(a, b, p) for a, b, p in batch if (a, b) not in existing or existing[(a, b)].status in OPEN]
        explanations = [[]] * len(todo) if scorer.by_rules else explain([(a, b) for a, b, _ in todo])
        new, changed = [], []
        for (a, b, p), explanation in zip(todo, explanations, strict=True):
            status = PairStatus.AUTO_MERGED if a in merged_ids and b in merged_ids else PairStatus.PENDING
            values = {
                "score": p,
                "model_sha": scorer.sha,
                "by_rules": scorer.by_rules,
                "explanation": [list(x) for x in explanation],
            }
            old = existing.get((a, b))
            if old is None:
                new.append(CandidatePair(tenant=tenant, entity_a_id=a, entity_b_id=b, status=status, **values))
            else:
                for key, value in {**values, "updated_at": now}.items():
                    setattr(old, key, value)
                # a deferral stands; a pair so far only the shadow model showed now waits for review
                old.status = (
                    PairStatus.DEFERRED
                    if status == PairStatus.PENDING and old.status == PairStatus.DEFERRED
                    else status
                )
                changed.append(old)
            review += status == PairStatus.PENDING
        # ignore_conflicts: an online score of one of these pairs may have recorded it a moment ago
        CandidatePair.objects.bulk_create(new, batch_size=RECORD_BATCH, ignore_conflicts=True)
        CandidatePair.objects.bulk_update(
            changed, ["score", "model_sha", "by_rules", "explanation", "status", "updated_at"], batch_size=RECORD_BATCH
        )
    return review, skipped


def score_entity(*, entity_id) -> dict:
    """The online path for one entity: ``apps.er.online.score_entities`` with a batch of one (the outbox consumer,
    ``online.outbox_score``, scores whole batches)."""
    from apps.er import online  # online scores with this module's scorer and pair recording: imported late, a cycle

    return online.score_entities(entity_ids=[entity_id])


def _shadow_scores(*, tenant, prepared, i, j, result) -> dict | None:
    """With a model pinned in shadow for the tenant: its score for every candidate pair (nothing materialises)."""
    pin = er.pin_current(tenant=tenant, mode=PinMode.SHADOW)
    if pin is None or not len(i):
        return None
    try:
        from apps.er.engine.pipeline import CHUNK  # the engine (numpy, the model) loads only when something is scored

        model = er.model_load(pin.artifact.sha256)
        ids, scores = prepared.ids, {}
        for start in range(0, len(i), CHUNK):
            a, b = i[start : start + CHUNK], j[start : start + CHUNK]
            for x, y, p in zip(a.tolist(), b.tolist(), model.score(prepared, a, b).tolist(), strict=True):
                scores[(ids[x], ids[y]) if ids[x] < ids[y] else (ids[y], ids[x])] = p
    except Exception as exc:  # a shadow model that fails costs the shadow record, never the run
        result.notes.append(f"shadow model {pin.artifact.sha256[:12]} not scored: {exc}")
        return None
    return {"sha": pin.artifact.sha256, "scores": scores}


def _record_shadow(*, tenant, shadow, review: float, never) -> None:
    """Shadow scores beside the active ones; pairs only the shadow model would show are kept as 'shadow'."""
    sha, scores = shadow["sha"], shadow["scores"]
    existing = {
        (str(a), str(b)): pk
        for pk, a, b in CandidatePair.objects.filter(tenant=tenant).values_list("pk", "entity_a", "entity_b")
    }
    for (a, b), p in scores.items():
        if (a, b) in existing:
            CandidatePair.objects.filter(pk=existing[(a, b)]).update(shadow_score=p, shadow_model_sha=sha)
        elif p >= review and (a, b) not in never:
            CandidatePair.objects.create(
                tenant=tenant,
                entity_a_id=a,
                entity_b_id=b,
                score=0.0,
                model_sha="",
                shadow_score=p,
                shadow_model_sha=sha,
                status=PairStatus.SHADOW,
            )


@dataclass
class RunResult:
    tenant: str
    kind: str
    records: int = 0
    candidate_pairs: int = 0
    review: int = 0
    merged_clusters: int = 0
    skipped_never_merge: int = 0
    by_rules: bool = False
    model_sha: str = ""
    notes: list[str] = field(default_factory=list)


def run(
    *,
    tenant: Tenant,
    kind: str,
    purpose: str | None = None,
    actor=None,
    pairs_per_block: int = 50_000,
    progress: Callable[[str, int, int], None] | None = None,
    parallel: bool = False,
) -> RunResult:
    """Resolve one kind of the tenant's entities: record the review band, auto-merge above the threshold
    (only with a purpose the policy accepts for a merge in this tenant, ``purposes_accepted``: an investigative
    one the tenant has active; without one, those pairs wait for reviewers too)."""
    from apps.er import engine  # the engine (numpy, the model) loads only when something is scored

    # A batch run costs compute: refused before it reads anything when the tenant's compute cap blocks.
    finops.enforce(tenant_id=tenant.pk, feature="er_batch", actor=actor)
    cpu_started = time.process_time()
    progress = progress or (lambda phase, done, total: None)
    settings = er.settings_for(tenant=tenant)
    scorer = scorer_for(tenant)
    result = RunResult(tenant.slug, kind, model_sha=scorer.sha, by_rules=scorer.by_rules)
    records = records_for(tenant=tenant, kind=kind)
    result.records = len(records)
    prepared = engine.prepare(list(records.items()), kind) if records else None
    i, j = engine.candidate_pairs(prepared) if records else ([], [])
    ids = prepared.ids if records else []
    total = len(i)
    result.candidate_pairs = total
    ER_PAIRS.labels(tenant.slug).inc(total)
    if parallel and total:
        pairs = [(ids[a], ids[b]) for a, b in zip(i.tolist(), j.tolist(), strict=True)]
        blocks = [pairs[k : k + pairs_per_block] for k in range(0, total, pairs_per_block)]
        scored = _score_on_workers(
            tenant=tenant,
            kind=kind,
            blocks=blocks,
            scorer=scorer,
            progress=progress,
            keep_from=settings.review_threshold,
        )
    else:
        scored = _score_here(
            scorer,
            prepared,
            records,
            i,
            j,
            kind=kind,
            block=pairs_per_block,
            progress=progress,
            keep_from=settings.review_threshold,
        )
    fell_back = scorer.by_rules and not result.by_rules  # the model failed part-way through the scoring
    result.by_rules = scorer.by_rules
    shadow = _shadow_scores(tenant=tenant, prepared=prepared, i=i, j=j, result=result)
    never = er.never_merge_pairs(tenant_id=tenant.pk, ids=records) if records else set()
    keep = [(a, b, p) for a, b, p in scored if p >= settings.review_threshold]
    automatic = bool(
        settings.auto_merge_enabled
        and purpose is not None
        and purpose in access_purposes.purposes_accepted(tenant_id=tenant.pk, action="merge")
    )
    if automatic and fell_back:
        # The model failed part-way: some scores are the model's, some the rules'. Nothing merges on that mix.
        automatic = False
        result.notes.append("the model failed during the run: nothing merged automatically, pairs wait for review")
    if not automatic and any(p >= settings.auto_merge_threshold for _, _, p in keep):
        result.notes.append(
            "no investigative purpose given (or auto-merge off): pairs above the threshold wait for review"
        )
    # Clusters of auto-mergeable pairs (not chaining weak links); each becomes one merge.
    strong = [
        (a, b, p) for a, b, p in keep if p >= settings.auto_merge_threshold and (min(a, b), max(a, b)) not in never
    ]
    clusters = (
        engine.cluster_scored(scorer.model, records, strong, kind=kind)
        if automatic and strong and not scorer.by_rules
        else [[a, b] for a, b, _ in strong]
        if automatic
        else []
    )
    merged_ids: set[str] = set()
    for members in clusters:
        entities = list(Entity.objects.filter(pk__in=members))
        try:
            er.merge_materialize(
                tenant=tenant,
                entities=entities,
                actor=actor,
                purpose=purpose,
                model_sha=scorer.sha,
                by_rules=scorer.by_rules,
                score=max(p for a, b, p in strong if a in members and b in members),
                threshold=settings.auto_merge_threshold,
                automatic=True,
            )
        except er.ERError as exc:
            result.notes.append(f"cluster of {len(members)} not merged: {exc.messages[0]}")
            continue
        merged_ids.update(members)
        result.merged_clusters += 1
    with transaction.atomic():
        result.review, result.skipped_never_merge = record_pairs(
            tenant=tenant,
            kind=kind,
            scorer=scorer,
            records=records,
            scored=keep,
            never=never,
            merged_ids=merged_ids,
            explain=lambda pairs: _explain_here(scorer.model, prepared, pairs),
        )
        if shadow:
            _record_shadow(tenant=tenant, shadow=shadow, review=settings.review_threshold, never=never)
        # this process's CPU (scoring on workers adds their own: er.score_block meters it)
        metering.meter_split(
            tenant_ids=[tenant.pk], feature="er_batch",
            counts={"run": 1, "pair": total, "cpu_second": time.process_time() - cpu_started},
        )  # fmt: skip
        audit.record(
            "er.run",
            actor=actor,
            tenant=tenant,
            payload={
                "kind": kind,
                "records": result.records,
                "pairs": total,
                "review": result.review,
                "merged_clusters": result.merged_clusters,
                "model": scorer.sha,
                "by_rules": scorer.by_rules,
                "purpose": purpose,
            },
        )
    return result
