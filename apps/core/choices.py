from django.db import models


class Role(models.TextChoices):
    """What a member may do in a tenant; each role includes the ones above it in this list."""

    READER = "reader", "Reader"
    ANALYST = "analyst", "Analyst"
    REVIEWER = "reviewer", "Reviewer"
    COMPLIANCE = "compliance", "Compliance"
    ADMIN = "admin", "Administrator"


class Sensitivity(models.IntegerChoices):
    """Sensitivity of a record, and the clearance a member needs to read it (same scale)."""

    PUBLIC = 0, "Public"
    INTERNAL = 1, "Internal"
    CONFIDENTIAL = 2, "Confidential"
    SECRET = 3, "Secret"
    TOP_SECRET = 4, "Top secret"


class EntityKind(models.TextChoices):
    PERSON = "person", "Person"
    ORGANIZATION = "organization", "Organization"
    ACCOUNT = "account", "Account"
    ADDRESS = "address", "Address"
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    VEHICLE = "vehicle", "Vehicle"
    EVENT = "event", "Event"


class SourceKind(models.TextChoices):
    IMPORT = "import", "File import"
    MANUAL = "manual", "Manual entry"
    API = "api", "API"
    DEMO = "demo", "Synthetic demo data"


class ProvenanceMethod(models.TextChoices):
    IMPORT = "import", "Imported"
    MANUAL = "manual", "Entered by hand"
    API = "api", "Written through the API"
    DEMO = "demo", "Generated"


class OutboxConsumer(models.TextChoices):
    """Who reads the transactional outbox; each gets its own row per change (``apps.core.outbox.CONSUMERS``)."""

    GRAPH = "graph", "Graph projection"
    ER = "er", "Online entity resolution"


class OutboxKind(models.TextChoices):
    ENTITY = "entity", "Entity"
    RELATIONSHIP = "relationship", "Relationship"


class OutboxOp(models.TextChoices):
    UPSERT = "upsert", "Created or changed"
    DELETE = "delete", "Deleted"
