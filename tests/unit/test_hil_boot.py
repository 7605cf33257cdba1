"""hil.orchestrator's QEMU runner: a guest whose kernel never reaches our init is stopped after BOOT_STALL_S
(and booted once more by run_guest), not left to the whole timeout."""

from __future__ import annotations

from hil import orchestrator


def test_a_boot_that_never_reaches_init_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(orchestrator, "BOOT_STALL_S", 1)
    cmd = ["sh", "-c", "echo 'watchdog: BUG: soft lockup'; sleep 30"]
    assert orchestrator._run_qemu(cmd, tmp_path / "q.log", timeout_s=20) == "boot stalled"
    assert b"soft lockup" in (tmp_path / "q.log").read_bytes()


def test_a_guest_that_boots_runs_to_its_end_or_the_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(orchestrator, "BOOT_STALL_S", 1)
    booted = ["sh", "-c", "echo 'HIL: init up, script x'; sleep 2"]
    assert orchestrator._run_qemu(booted, tmp_path / "a.log", timeout_s=20) == "exited"
    hung = ["sh", "-c", "echo 'HIL: init up, script x'; sleep 30"]
    assert orchestrator._run_qemu(hung, tmp_path / "b.log", timeout_s=3) == "timed out"
