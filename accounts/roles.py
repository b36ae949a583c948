"""The two roles of spec §5.1, as Django groups with model permissions.

`viewer` holds only `view_*` permissions; `admin` holds everything, including the vault
permission `secrets_vault.manage_secrets` that no other group has. One provider can be
delegated to a user with a django-guardian object permission (see docs/roles.md).
"""

from __future__ import annotations

ADMIN = "admin"
VIEWER = "viewer"
ROLES = (ADMIN, VIEWER)

VIEWER_PERMISSIONS = [
    "providers.view_provider",
    "audit.view_auditevent",
    "health.view_healthcheck",
    "alerts.view_alertchannel",
    "alerts.view_alertdelivery",
]

ADMIN_PERMISSIONS = VIEWER_PERMISSIONS + [
    "providers.add_provider",
    "providers.change_provider",
    "providers.delete_provider",
    "providers.test_provider",
    "secrets_vault.manage_secrets",
    "secrets_vault.view_secretversion",
    "secrets_vault.view_ownedsecretversion",
    "alerts.add_alertchannel",
    "alerts.change_alertchannel",
    "alerts.delete_alertchannel",
    # The Django admin: every user's API tokens (seen, revoked by the "revoke" action) and the
    # sign-in lockouts of django-axes (an admin unlocks a user by deleting the attempt row).
    "accounts.view_apitoken",
    "accounts.change_apitoken",
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
    "axes.view_accesslog",
    "axes.view_accessfailurelog",
]

ROLE_PERMISSIONS = {VIEWER: VIEWER_PERMISSIONS, ADMIN: ADMIN_PERMISSIONS}


def sync_roles(group_model, permission_model) -> None:
    """Create both groups and give each exactly the permissions that exist for it now.

    `set()`, not `add()`: a permission taken out of a role here leaves the group on the next
    `migrate`, and one added to a group by hand does not survive it.
    """
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for code in codes:
            app_label, codename = code.split(".", 1)
            perm = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                wanted.append(perm)
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender, apps=None, using=None, **kwargs) -> None:
    # post_migrate is sent once per app, in INSTALLED_APPS order, and django.contrib.auth's
    # handler for each app runs before this one: at the last app's signal every permission
    # exists. Synced there only; once per app made each `flush` (every transactional test's
    # teardown) and `migrate` run the whole sync twenty-odd times, 500 queries.
    if sender is not None and sender.label != _last_app_with_models():
        return
    # `flush` sends post_migrate without `apps`: the installed apps are the ones to use.
    if apps is None:
        from django.apps import apps
    try:
        group_model = apps.get_model("auth", "Group")
        permission_model = apps.get_model("auth", "Permission")
    except LookupError:
        return
    sync_roles(group_model, permission_model)


def _last_app_with_models() -> str:
    """The label of the last app post_migrate is sent for (apps without models get none)."""
    from django.apps import apps

    return [app.label for app in apps.get_app_configs() if app.models_module is not None][-1]


def role_of(user) -> str | None:
    """`admin`, `viewer` or None, from the user's groups (superusers count as admin)."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    names = {g.name for g in user.groups.all()}
    if ADMIN in names:
        return ADMIN
    if VIEWER in names:
        return VIEWER
    return None
