"""`manage.py check` (and every start-up that runs checks) fails when a policy does not compile."""

from django.core import checks

from apps.access.bundle import compile_bundle
from apps.access.errors import PolicyCompileError


@checks.register("access")
def policies_compile(app_configs, **kwargs):
    try:
        compile_bundle()
    except PolicyCompileError as exc:
        return [checks.Error(str(exc), hint="Fix the Rego file; the previous bundle stays in force.", id="access.E001")]
    return []
