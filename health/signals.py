"""`checker_idle`: sent by the long-running checker (health/watch.py) after each round and
between rounds (every SLEEP_STEP while it waits), whether it leads or stands by.

What else a checker process should keep doing rides on it without health importing it: the
alerts' deliverer (alerts/apps.py) sends due alerts from it, throttled to ALERT_POLL_SECONDS. A
receiver's exception is logged by the checker and never stops it. Sent with `holder`, the
checker's id.
"""

from django.dispatch import Signal

checker_idle = Signal()
