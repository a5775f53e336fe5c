"""WebSocket routes. Apps add their consumers here as they push live updates."""

websocket_urlpatterns: list = []
