"""`events_recorded`: sent inside the transaction that wrote audit rows, before it commits.

Receivers that write rows of their own in answer to an event (the alerts' outbox) write them in
the same transaction: they commit with the event or roll back with it, so nothing is lost when a
process dies after the commit and nothing is done for a change that rolled back. A receiver that
raises rolls the change back too, so receivers stay small and cheap: `record_events` sends one
signal for all its rows, and most receivers return at once for event types they do not follow.

Sent with `rows`, the list of `AuditEvent` rows just written (all with their ids).
"""

from django.dispatch import Signal

events_recorded = Signal()
