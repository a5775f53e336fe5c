from django.db import models

from intelgraph.metering import FEATURES, UNITS


class Category(models.TextChoices):
    """What a budget caps separately; every metered feature belongs to one."""

    LLM = "llm", "LLM"
    COMPUTE = "compute", "Compute"
    STORAGE = "storage", "Storage"


#: a costly action the product meters, per tenant (declared with the counter, intelgraph.metering)
Feature = models.TextChoices("Feature", [(value.upper(), (value, label)) for value, label in FEATURES.items()])
#: what is counted
Unit = models.TextChoices("Unit", [(value.upper(), (value, label)) for value, label in UNITS.items()])

CATEGORY_OF = {
    Feature.SEARCH: Category.COMPUTE,
    Feature.GRAPH: Category.COMPUTE,
    Feature.ER_BATCH: Category.COMPUTE,
    Feature.ER_ONLINE: Category.COMPUTE,
    Feature.EXPORT: Category.COMPUTE,
    Feature.STORAGE_POSTGRES: Category.STORAGE,
    Feature.STORAGE_GRAPH: Category.STORAGE,
    Feature.STORAGE_BACKUP: Category.STORAGE,
    Feature.LLM: Category.LLM,
}

#: Features that are never refused at a cap, whatever the category's action: analysts are never locked out of
#: their own data in the middle of an investigation (the cap alerts instead).
NEVER_BLOCKED = frozenset({Feature.SEARCH, Feature.GRAPH, Feature.ER_ONLINE})


class CapAction(models.TextChoices):
    BLOCK = "block", "Block at 100% (refuse LLM calls, ER batch runs and exports)"
    ALERT = "alert", "Alert only"


class Period(models.TextChoices):
    MONTHLY = "monthly", "Monthly (calendar month, UTC)"


class OverageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
