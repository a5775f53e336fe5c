class FinopsError(Exception):
    """A FinOps request that cannot be done, in words a user can act on."""

    code = "BAD_USER_INPUT"


class BudgetExceeded(FinopsError):
    """An action refused because the tenant's budget cap is reached; says which cap and who can raise it."""

    code = "BUDGET_EXCEEDED"

    def __init__(self, message: str, *, scope: str, cap, spent):
        super().__init__(message)
        self.scope, self.cap, self.spent = scope, cap, spent
