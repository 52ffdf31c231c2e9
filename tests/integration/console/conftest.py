"""The session-wide scoped service stack (console_scoped.py) for the console's roles/audit tests."""

from console_scoped import scoped_services

__all__ = ["scoped_services"]
