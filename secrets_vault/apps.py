import logging

from django.apps import AppConfig


class SecretsVaultConfig(AppConfig):
    name = "secrets_vault"
    verbose_name = "Secrets vault"

    def ready(self) -> None:
        from providers.signals import provider_changing
        from secrets_vault import checks  # noqa: F401  (registers the key-ring check)
        from secrets_vault.binding import on_provider_changing

        # A provider's endpoint moving to another origin: refuse without the vault permission,
        # otherwise re-bind the secret in the same transaction (secrets_vault/binding.py).
        provider_changing.connect(on_provider_changing, dispatch_uid="secrets_vault.binding")
        from secrets_vault.logging_filter import install_on_all_handlers

        # settings.LOGGING puts the filter on its handlers; this also covers any handler
        # another part of the configuration attached without it.
        install_on_all_handlers(logging.getLogger())
