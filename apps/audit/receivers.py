"""Login, logout and failed-login events, which Django only announces through signals."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.audit import services


def _client(request) -> dict:
    if request is None:
        return {}
    return {
        "ip": request.META.get("REMOTE_ADDR", ""),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200],
        "path": request.path,
    }


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    services.record("auth.login", actor=user, target=user, payload=_client(request))


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        services.record("auth.logout", actor=user, target=user, payload=_client(request))


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # Only the username is kept: never the password that was tried.
    username = str(credentials.get("username", ""))[:150]
    services.record(
        "auth.login_failed", actor_label=username or "(blank)", payload={"username": username, **_client(request)}
    )
