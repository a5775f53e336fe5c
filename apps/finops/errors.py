class FinopsError(Exception):
    """A FinOps request that cannot be done, in words a user can act on."""

    code = "BAD_USER_INPUT"


class BudgetExceeded(FinopsError):
    """An action refused because the tenant's budget cap is reached; says which cap and who can raise it."""

    code = "BUDGET_EXCEEDED"

    def __init__(self, message: str, *, scope: str, cap, spent):
        super().__init__(message)
        self.scope, self.cap, self.spent = scope, cap, spent


class CostsRefused(FinopsError):
    """Costs the subject may not read (their role in the tenant, or the persisted operation's tags)."""

    code = "FORBIDDEN"


class TenantUnknown(FinopsError):
    """A tenant the subject is not a member of, or none named when several are theirs."""

    code = "NOT_FOUND"
