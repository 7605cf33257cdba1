"""Passive monitors that feed the per-test event log (tb/simulation/eventlog.py)."""
