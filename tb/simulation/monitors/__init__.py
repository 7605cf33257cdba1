"""Passive monitors that feed the per-test event log (tb/eventlog.py)."""
