class AuditImmutableError(Exception):
    """Something tried to change or remove an audit event."""
