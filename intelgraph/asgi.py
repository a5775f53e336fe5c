"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os
import sys
import warnings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intelgraph.settings")

from intelgraph.config import ConfigError

# WhiteNoise serves static files through a synchronous iterator; Django warns on every file under ASGI.
# Harmless for admin assets (production puts a CDN or the ingress in front of /static/).
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")

try:
    from channels.auth import AuthMiddlewareStack
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator
    from django.core.asgi import get_asgi_application

    django_asgi_app = get_asgi_application()
except ConfigError as exc:
    sys.stderr.write(f"configuration error: {exc}\n")
    raise SystemExit(2) from None

from intelgraph.routing import websocket_urlpatterns  # noqa: E402 - needs Django set up first

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
