"""WebSocket routes. Apps add their consumers here as they push live updates."""

from django.urls import path

from apps.er.consumers import DecisionQueueConsumer
from apps.graph.consumers import ExplorerConsumer
from apps.safety.consumers import DrillProgressConsumer

websocket_urlpatterns: list = [
    path("ws/explorer/", ExplorerConsumer.as_asgi()),
    path("ws/er/queue/", DecisionQueueConsumer.as_asgi()),
    path("ws/safety/drills/<int:drill_id>/", DrillProgressConsumer.as_asgi()),
]
