from django.db import models


class TextSearchConfig(models.TextChoices):
    SIMPLE = "simple", "Simple (no stemming)"
    ENGLISH = "english", "English"
    FRENCH = "french", "French"
    GERMAN = "german", "German"
    SPANISH = "spanish", "Spanish"
    DUTCH = "dutch", "Dutch"
    ITALIAN = "italian", "Italian"
    PORTUGUESE = "portuguese", "Portuguese"
