"""The driver against QEMU's virtio-net-pci in a TCG guest (sim.hil), through uio and through vfio.

Each test boots one guest (about 20-30 s), runs the bring-up sequence and the pre/post A/B in it with
the system Python, and checks on the host: every bring-up check passed, the UDP peer received exactly the
frames the driver queued, QEMU offers NOTIFY_ON_EMPTY, and the pre-patch driver takes about one TX
interrupt per packet while the post-patch one takes none after the first. Skipped, with the reason, when
not root or when QEMU and the guest kernel cannot be installed.
"""

from __future__ import annotations

import pytest

from sim import hil
from tb.bringup import FAIL, NA, PASS, format_table

PACKETS = 32


def boot(backend: str) -> hil.GuestRun:
    try:
        return hil.run_guest(backend, ["--packets", str(PACKETS), "--ab-packets", str(PACKETS),
                                       "--gap-us", "20000"], timeout_s=240)
    except hil.HilUnavailable as exc:
        pytest.skip(f"HIL rig unavailable: {exc}")


@pytest.mark.parametrize("backend", hil.BACKENDS)
def test_bringup_and_ab_against_qemu(backend):
    run = boot(backend)
    table = format_table(run.checks, f"{backend} (boot + run {run.wall_s:.1f} s, log {run.log})")
    print(table)
    assert run.report is not None, table
    failed = [c.name for c in run.checks if c.status == FAIL]
    assert not failed, f"failed: {failed}\n{table}"
    status = {c.name: c.status for c in run.checks}

    # every frame the driver queued reached the host peer, in order, byte for byte
    assert status["host capture byte-exact"] == PASS, table
    assert run.sent and run.captured == run.sent

    # QEMU offers NOTIFY_ON_EMPTY on the legacy interface; only the pre-patch driver acks it
    assert run.report["host_features"] >> 24 & 1, f"host features {run.report['host_features']:#x}"
    pre, post = run.run_summary("ab-pre"), run.run_summary("ab-post")
    assert pre["features"] >> 24 & 1 and not post["features"] >> 24 & 1

    # QEMU keeps up (20 ms between frames): pre ~1 interrupt per packet, post none after the first
    assert pre["irq_per_pkt"] > 0.8, pre
    assert max(post["tx_irqs"] - 1, 0) / post["packets"] < 0.1, post
    assert pre["packets"] == post["packets"] == PACKETS

    # interrupt paths: vfio has MSI-X and INTx; uio_pci_generic only INTx, and the table says so
    assert status["interrupt INTx"] == PASS
    if backend == "vfio":
        assert status["interrupt MSI-X"] == PASS and pre["msix"]
    else:
        assert status["interrupt MSI-X"] == NA
        assert "INTx only" in next(c.value for c in run.checks if c.name == "interrupt MSI-X")
