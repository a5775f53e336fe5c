class AuditImmutableError(Exception):
    """Something tried to change or remove an audit event."""


class AuditCheckpointError(Exception):
    """The verified-head checkpoint outside the database cannot be read, is not genuine, or cannot be written."""
