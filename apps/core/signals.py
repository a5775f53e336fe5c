"""Signals the core services send, so other apps react to writes without core importing them."""

from django.dispatch import Signal

# Sent inside the writing transaction after an entity was created or changed: sender=Entity, entity=..., created=bool.
entity_written = Signal()
