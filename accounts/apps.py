from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Operators and API tokens"

    def ready(self) -> None:
        import accounts.schema  # noqa: F401  (registers the OpenAPI bearer scheme)
        from accounts.roles import sync_roles_after_migrate

        # Runs after django.contrib.auth has created the permissions of every app, so a
        # permission added by a later migration joins its role without a new data migration.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="accounts.sync_roles")
