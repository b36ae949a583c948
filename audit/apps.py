from django.apps import AppConfig
from django.contrib.auth.signals import user_login_failed


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from audit.signin import record_login_failure

        user_login_failed.connect(record_login_failure, dispatch_uid="audit.login_failed")
