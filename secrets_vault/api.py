"""The vault's public functions: the only way other apps learn anything about secrets.

CONTRACT (used by providers/ and health/; keep these signatures):

- EMPTY_PROJECTION: the projection of a provider that has never had a secret.
- projection(provider) -> dict
- projections_for(provider_ids) -> dict[str, dict]   (one query for any number of ids)
    each dict: {"secret_present": bool, "secret_version": int | None,
                "secret_last_rotated_at": datetime | None, "secret_touched_by": str | None,
                "secret_touched_at": datetime | None, "secret_id_hint": str | None}
- provider_ids_with_secret() -> QuerySet of provider ids whose current secret is present,
    usable as a subquery: Provider.objects.filter(id__in=provider_ids_with_secret())
- get_credential(provider) -> str | None   (plaintext for the health probe, cached ≤ 60 s)
"""
