from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # The outbox is written in the transaction of the audit event that calls for an alert.
        from alerts import rules
        from audit.signals import events_recorded

        events_recorded.connect(rules.on_events_recorded, dispatch_uid="alerts.rules")
        # The checker delivers too, between its rounds (health/signals.py).
        from alerts.delivery import deliver_from_checker
        from health.signals import checker_idle

        checker_idle.connect(deliver_from_checker, dispatch_uid="alerts.delivery")
