class SafetyError(RuntimeError):
    """A backup, restore point or drill action that cannot be done; the message says why and what to do."""


class BackupEngineError(SafetyError):
    """Barman, GnuPG or a PostgreSQL tool failed; the message carries what it said."""


class EncryptionKeyError(SafetyError):
    """The backup encryption key or its passphrase is missing or wrong: nothing was written."""


class TargetError(SafetyError):
    """A recovery target that no backup and WAL can reach (in the future, before the oldest backup, past a gap)."""


class DrillBusy(SafetyError):
    """Another restore drill is running; drills run one at a time."""
