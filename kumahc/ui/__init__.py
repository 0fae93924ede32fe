"""Operator pages of ``serve`` on the admin port under ``/ui/`` (issue 22; docs/ui.md)."""

from kumahc.ui.web import make_ui

__all__ = ["make_ui"]
