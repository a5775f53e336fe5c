from django.contrib.postgres.operations import CreateExtension
from django.db import migrations


class Migration(migrations.Migration):
    """amcheck (shipped with PostgreSQL) in the product's database, so a restore drill can check every index of
    the restored copy: a server in recovery cannot create an extension, so it must come with the backup."""

    dependencies = [("safety", "0001_initial")]

    operations = [CreateExtension("amcheck")]
