class ComplianceError(ValueError):
    """A compliance action that cannot be done: said to the user, nothing changed."""


class AccessReviewError(ComplianceError):
    """An access review action that cannot be done."""
