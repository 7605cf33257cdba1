"""Scenarios: traffic and timing set-ups that run on any Platform (simulation, model, hardware)."""
