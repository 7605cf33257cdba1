"""Cycle-level checkers: the ring and interrupt rules judged on every simulation run (see hub.py)."""

from tb.checkers.base import CheckerError, Violation
from tb.checkers.hub import CheckerSet, checkers_enabled

__all__ = ["CheckerError", "CheckerSet", "Violation", "checkers_enabled"]
