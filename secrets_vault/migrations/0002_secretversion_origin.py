"""Bind every secret version to an endpoint origin.

Versions stored before this migration are bound to their provider's current endpoint origin
by the `origin` column, and keep `origin_in_aad=False`: their ciphertext was made with the first
associated-data format and still decrypts with it. Every version stored from now on has its
origin in the associated data (`origin_in_aad=True`, the field's default).
"""

from urllib.parse import urlsplit

from django.db import migrations, models


def endpoint_origin(url):
    # A frozen copy of providers.origins.endpoint_origin as it was when this migration was written.
    try:
        parts = urlsplit(url or "")
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        return ""
    if not scheme or not host or port is None:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def bind_existing_versions(apps, schema_editor):
    Provider = apps.get_model("providers", "Provider")
    SecretVersion = apps.get_model("secrets_vault", "SecretVersion")
    with_versions = SecretVersion.objects.values_list("provider_id", flat=True).distinct()
    for provider_id, endpoint in Provider.objects.filter(pk__in=with_versions).values_list("pk", "endpoint"):
        SecretVersion.objects.filter(provider_id=provider_id).update(origin=endpoint_origin(endpoint), origin_in_aad=False)


class Migration(migrations.Migration):

    dependencies = [
        ("providers", "0001_initial"),
        ("secrets_vault", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="secretversion",
            name="origin",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name="secretversion",
            name="origin_in_aad",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="secretversion",
            name="origin_in_aad",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="secretversion",
            name="rebound_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(bind_existing_versions, migrations.RunPython.noop, elidable=True),
    ]
