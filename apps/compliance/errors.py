class AccessReviewError(ValueError):
    """An access review action that cannot be done: said to the user, nothing changed."""
