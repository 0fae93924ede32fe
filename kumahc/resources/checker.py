"""The common part of every semantic validator: report one document's problems at field paths."""

from __future__ import annotations

from kumahc.diagnostics import Report
from kumahc.resources.model import Resource


class DocumentChecker:
    """Reports problems of ``res`` into ``report``; ``prefix`` is put before every path (e.g. ``("spec",)`` for a
    Kubernetes HealthCheck, ``("spec", "healthchecks")`` for Kong). ``failed`` turns True with the first error."""

    def __init__(self, res: Resource, report: Report, prefix: tuple = ()):
        self.res = res
        self.report = report
        self.prefix = prefix
        self.failed = False

    def error(self, path: tuple, message: str) -> None:
        self.failed = True
        self.res.src.error(self.report, (*self.prefix, *path), message)

    def warning(self, path: tuple, message: str) -> None:
        self.res.src.warning(self.report, (*self.prefix, *path), message)
