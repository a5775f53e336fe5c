from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from apps.core.choices import (
    EntityKind,
    OutboxConsumer,
    OutboxKind,
    OutboxOp,
    ProvenanceMethod,
    Role,
    Sensitivity,
    SourceKind,
)
from apps.core.ids import uuid7

kind_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,63}$", "Use lower-case letters, digits and underscores, starting with a letter."
)


class User(AbstractUser):
    """A person who signs in to IntelGraph: compliance staff, analysts, or an integrator's service account.

    What a user may see is decided per tenant by their ``Membership`` rows.
    """

    class Meta(AbstractUser.Meta):
        ordering = ["username"]
        swappable = "AUTH_USER_MODEL"


class Tenant(models.Model):
    """A customer organisation. Every tenant-owned row carries its tenant; nothing crosses tenants."""

    slug = models.SlugField(max_length=63, unique=True, help_text="Short identifier used in URLs and commands.")
    name = models.CharField(max_length=200)
    feature_flags = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per-tenant switches, e.g. {"explorer": true}. Unknown keys are ignored.',
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def flag(self, name: str) -> bool:
        return bool((self.feature_flags or {}).get(name, False))


class Membership(models.Model):
    """A user's place in one tenant: role, clearance and compartment grants."""

    user = models.ForeignKey("core.User", on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.READER)
    clearance = models.PositiveSmallIntegerField(
        choices=Sensitivity.choices,
        default=Sensitivity.INTERNAL,
        help_text="Highest sensitivity this member may read in this tenant.",
    )
    compartments = ArrayField(
        models.CharField(max_length=64),
        default=list,
        blank=True,
        help_text="Compartment grants (labels) beyond clearance, e.g. 'sanctions'.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["tenant__slug", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_one_per_user_tenant"),
            models.CheckConstraint(condition=Q(clearance__gte=0, clearance__lte=4), name="membership_clearance_range"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


class Source(models.Model):
    """Where facts come from: a file import, an API client, manual entry or generated demo data."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    uri = models.CharField(max_length=500, blank=True, help_text="File path, URL or system the data came from.")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["tenant__slug", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="source_unique_name_per_tenant")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class EntityManager(models.Manager):
    """Leaves the keyword index column unloaded: it is large and only SQL reads it."""

    def get_queryset(self):
        return super().get_queryset().defer("search_vector")


class Entity(models.Model):
    """A person, organisation, account, address, phone, email, vehicle or event known to a tenant.

    ``merged_into`` points at the canonical entity once entity resolution has merged this one.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="entities")
    external_id = models.CharField(
        max_length=200, null=True, blank=True, help_text="The id this entity has in the system it was imported from."
    )
    kind = models.CharField(max_length=32, choices=EntityKind.choices)
    display_name = models.CharField(max_length=300)
    attributes = models.JSONField(default=dict, blank=True)
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.INTERNAL)
    labels = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_members"
    )
    search_vector = SearchVectorField(
        null=True, editable=False, help_text="Keyword index, kept by a database trigger (apps.search)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EntityManager()

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name_plural = "entities"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=Q(external_id__isnull=False),
                name="entity_unique_external_id_per_tenant",
            ),
            models.CheckConstraint(
                condition=Q(sensitivity__gte=0, sensitivity__lte=4), name="entity_sensitivity_range"
            ),
            models.CheckConstraint(condition=~Q(merged_into=models.F("id")), name="entity_not_merged_into_itself"),
        ]
        indexes = [
            models.Index(fields=["tenant", "kind", "-created_at"], name="entity_tenant_kind_idx"),
            models.Index(fields=["tenant", "updated_at"], name="entity_tenant_updated_idx"),
            models.Index(fields=["merged_into"], name="entity_merged_into_idx", condition=Q(merged_into__isnull=False)),
            GinIndex(fields=["attributes"], name="entity_attributes_gin", opclasses=["jsonb_path_ops"]),
            GinIndex(fields=["labels"], name="entity_labels_gin"),
            GinIndex(fields=["search_vector"], name="entity_search_vector_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.kind})"


class Relationship(models.Model):
    """A typed, directed link between two entities of the same tenant (e.g. works_for, owns)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="relationships")
    external_id = models.CharField(max_length=200, null=True, blank=True)
    kind = models.CharField(max_length=64, validators=[kind_validator])
    from_entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="outgoing")
    to_entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="incoming")
    attributes = models.JSONField(default=dict, blank=True)
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.INTERNAL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(from_entity=models.F("to_entity")), name="relationship_not_self_loop"),
            models.CheckConstraint(
                condition=Q(sensitivity__gte=0, sensitivity__lte=4), name="relationship_sensitivity_range"
            ),
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=Q(external_id__isnull=False),
                name="relationship_unique_external_id_per_tenant",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "kind"], name="rel_tenant_kind_idx"),
            models.Index(fields=["from_entity", "kind"], name="rel_from_kind_idx"),
            models.Index(fields=["to_entity", "kind"], name="rel_to_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.from_entity_id} -[{self.kind}]-> {self.to_entity_id}"


class Provenance(models.Model):
    """One statement of where an entity or relationship (or some of its attributes) came from."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="provenance")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="provenance")
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.CASCADE, related_name="provenance")
    relationship = models.ForeignKey(
        Relationship, null=True, blank=True, on_delete=models.CASCADE, related_name="provenance"
    )
    fields = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text="Attributes this source gave; empty means all.",
    )
    method = models.CharField(max_length=16, choices=ProvenanceMethod.choices)
    record_ref = models.CharField(max_length=300, blank=True, help_text="Where in the source, e.g. 'people.jsonl:12'.")
    actor = models.ForeignKey("core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name_plural = "provenance records"
        constraints = [
            models.CheckConstraint(
                condition=(Q(entity__isnull=False) & Q(relationship__isnull=True))
                | (Q(entity__isnull=True) & Q(relationship__isnull=False)),
                name="provenance_exactly_one_target",
            )
        ]
        indexes = [models.Index(fields=["tenant", "source"], name="prov_tenant_source_idx")]

    def __str__(self) -> str:
        target = self.entity_id or self.relationship_id
        return f"{target} from {self.source_id} ({self.method})"


class GroundTruthLabel(models.Model):
    """For synthetic demo data: which real-world identity an entity stands for.

    Entities with the same ``identity`` in a tenant are the same real person or
    organisation (injected near-duplicates), so entity resolution can be scored.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, related_name="ground_truth")
    identity = models.CharField(max_length=64)
    variation = models.CharField(max_length=100, blank=True, help_text="How this duplicate was altered.")

    class Meta:
        ordering = ["tenant", "identity"]
        indexes = [models.Index(fields=["tenant", "identity"], name="truth_tenant_identity_idx")]

    def __str__(self) -> str:
        return f"{self.entity_id} is {self.identity}"


class ApiToken(models.Model):
    """A bearer token an integrator sends as ``Authorization: Bearer <token>``; only its SHA-256 is stored."""

    user = models.ForeignKey("core.User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'case-sync job'.")
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise the token.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    developer = models.BooleanField(
        "developer scope",
        default=False,
        help_text="May run ad-hoc GraphQL operations (and introspection) where only persisted ones are allowed "
        "(GRAPHQL_REQUIRE_PERSISTED, on in production). Grant it to development tools, not to integrations.",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class OutboxEvent(models.Model):
    """The transactional outbox: "this entity or relationship changed", for one consumer that follows the changes.

    Written in the same PostgreSQL transaction as the change (``apps.core.outbox``), one row per consumer that
    reads that kind of change, so neither the graph projection nor online entity resolution can miss a committed
    write. A consumer reads each record's *current* state when it applies its row, then deletes the row: applying
    a row twice, or late, is harmless.
    """

    id = models.BigAutoField(primary_key=True)
    consumer = models.CharField(max_length=16, choices=OutboxConsumer.choices)
    tenant_id = models.BigIntegerField(help_text="Tenant of the changed record (no foreign key: rows outlive it).")
    kind = models.CharField(max_length=16, choices=OutboxKind.choices)
    object_id = models.UUIDField()
    op = models.CharField(max_length=8, choices=OutboxOp.choices)
    created_at = models.DateTimeField(auto_now_add=True)  # not indexed: the oldest row is the lowest id
    attempts = models.PositiveIntegerField(default=0, help_text="Failed attempts to apply this row.")
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "outbox event"
        indexes = [models.Index(fields=["consumer", "id"], name="outbox_consumer_idx")]

    def __str__(self) -> str:
        return f"{self.consumer}: {self.op} {self.kind} {self.object_id}"
