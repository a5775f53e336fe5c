class PolicyCompileError(Exception):
    """A Rego file of the policy bundle does not compile; the message names file, line and problem."""


class PolicyEvaluationError(Exception):
    """The policy engine failed while deciding; callers deny (fail closed)."""


class PurposeError(Exception):
    """A purpose-bound action without an acceptable declared purpose."""

    def __init__(self, message: str, *, reason: str, allowed: list[str]):
        super().__init__(message)
        self.reason = reason
        self.allowed = allowed
