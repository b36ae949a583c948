"""Django's error reports honour `sensitive_variables` / `sensitive_post_parameters` with DEBUG on too.

Django's own filter cleanses them only when DEBUG is off ("if DEBUG is True then your site is
not safe anyway"), so the DEBUG error page would list a data key, a key ring's key bytes or a
posted secret value from the local variables of the frame that failed. This filter cleanses
them always; `settings.DEFAULT_EXCEPTION_REPORTER_FILTER` points at it.
"""

from __future__ import annotations

from django.views.debug import SafeExceptionReporterFilter


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request) -> bool:
        return True
