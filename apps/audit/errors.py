class AuditImmutableError(Exception):
    """Something tried to change or remove an audit event."""


class AuditCheckpointError(Exception):
    """The verified-head checkpoint outside the database cannot be read, is not genuine, or cannot be written."""


class AuditSealingError(Exception):
    """The sealer will not seal: the database is behind the checkpoint seen, or its last checkpoint is not genuine."""


class AuditProofError(Exception):
    """No proof can be given: the event is not sealed yet, there is no such checkpoint, or the log is damaged."""
