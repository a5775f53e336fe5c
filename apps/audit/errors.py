class AuditError(Exception):
    """A caller used the audit service wrongly (an event type that is not in the catalogue)."""


class AuditImmutableError(Exception):
    """Something tried to change or remove an audit event."""


class AuditCheckpointError(Exception):
    """The verified-head checkpoint outside the database cannot be read, is not genuine, or cannot be written."""


class AuditSealingError(Exception):
    """The sealer will not seal: the database is behind the checkpoint seen, or its last checkpoint is not genuine."""


class AuditProofError(Exception):
    """No proof can be given: the event is not sealed yet, there is no such checkpoint, or the log is damaged."""


class AuditRetentionError(Exception):
    """A purge, a hold or a retention change was refused: it would remove held events, shorten a retention
    class, or the actor lacks the compliance role. Nothing was changed."""
