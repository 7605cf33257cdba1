"""The bring-up against QEMU's virtio-net-pci in a TCG guest (hil.orchestrator), through uio and through vfio.

One guest per backend carries five NICs (default, default unpaced, vectors=0, vectors=2, tx=timer), a
virtio-rng function and the host bridge; its plan runs the two refusals and a bring-up per NIC with the
system Python (about 35 s per guest). On the host: every row passed; the refusals left every
binding as it was; each NIC's peer received exactly the frames its driver queued; the interrupt mode is
the one Linux's vp_find_vqs gets for that NIC on that backend; and the TX interrupts the tool read (vfio
eventfds, uio counts) agree with the guest kernel's /proc/interrupts within 2 % in every run, paced and
unpaced. The longer matrix (128 frames, paced and unpaced, every configuration) is marked slow: make
regress. Skipped, with the reason, when not root or when QEMU and the guest kernel cannot be installed.
"""

from __future__ import annotations

import pytest

from hil import orchestrator as hil
from tb.bringup.sequence import FAIL, PASS, format_table

# interrupt mode Linux's vp_find_vqs ends up with, per backend and QEMU property
MODES = {("vfio", ""): "msix-per-vq", ("vfio", "vectors=0"): "intx", ("vfio", "vectors=2"): "msix-shared",
         ("vfio", "tx=timer"): "msix-per-vq"}


def expected_mode(backend: str, nic: hil.Nic) -> str:
    return "intx" if backend == "uio" else MODES[(backend, nic.options)]


def check_modern_nic(run: hil.GuestRun, nic: hil.Nic, e: hil.EntryResult, text: str) -> None:
    """A modern-only device behind the vIOMMU: VERSION_1 and ACCESS_PLATFORM offered and acked by every run of
    the modern variant, per-queue MSI-X as Linux gets it, INTx on its own, the loopback row's frames back."""
    assert e.report["host_features"] >> 32 & 1 and e.report["host_features"] >> 33 & 1, text
    modes = {r["name"]: r["irq_mode"] for r in e.report["runs"]}
    assert modes["tx"] == "msix-per-vq" and modes["intx"] == "intx", f"{nic.name}: {modes}"
    for r in e.report["runs"]:
        assert r["transport"] == "modern", f"{nic.name} {r['name']}: {r['transport']}"
        assert r["features"] >> 32 & 1 and r["features"] >> 33 & 1, f"{nic.name} {r['name']}: {r['features']:#x}"
    loop = e.run("loopback")
    assert loop["received"] == loop["packets"] == run.matrix.loopback_frames and not loop["rx_first_difference"]


def boot(backend: str, matrix: hil.Matrix) -> hil.GuestRun:
    try:
        return hil.run_guest(backend, matrix)
    except hil.HilUnavailable as exc:
        pytest.skip(f"HIL rig unavailable: {exc}")


def tables(run: hil.GuestRun) -> str:
    parts = [format_table(e.checks, f"{run.backend} {e.name} ({e.wall_s:.1f} s)") for e in run.entries.values()]
    parts.append(format_table(run.checks, f"{run.backend} guest"))
    parts.append(hil.format_summary(hil.summary_rows([run])))
    return "\n\n".join(parts)


def check_guest(run: hil.GuestRun) -> None:
    text = tables(run)
    print(text)
    failed = [f"{name}: {c.name}" for name, e in run.entries.items() for c in e.checks if c.status == FAIL]
    failed += [c.name for c in run.checks if c.status == FAIL]
    assert not failed, f"failed: {failed}\n{text}"

    for r in run.matrix.refusals:
        status = {c.name: c.status for c in run.entries[r.name].checks}
        assert status == {"refused": PASS, "bindings unchanged": PASS}, text

    for nic in run.matrix.nics_for(run.backend):
        e = run.entries[nic.name]
        assert e.report is not None and e.rc == 0, text
        # every frame the driver queued reached this NIC's host peer, in order, byte for byte
        assert e.sent and e.captured == e.sent, f"{nic.name}\n{text}"
        if nic.modern:
            check_modern_nic(run, nic, e, text)
            continue
        # Linux's order of interrupt attempts, as the function offers MSI-X (uio: INTx only)
        want = expected_mode(run.backend, nic)
        modes = {r["name"]: r["irq_mode"] for r in e.report["runs"]}
        assert modes["tx"] == modes["ab-pre"] == modes["ab-post"] == want, f"{nic.name}: {modes}"
        if want != "intx":
            assert modes["intx"] == "intx", f"{nic.name}: INTx also checked on its own"
        # counts are read, and the tool lost none: raised (descriptors) = the guest kernel's, within 2 %
        for r in e.report["runs"]:
            for src, c in r["irq"].items():
                assert c["raised"] is not None and c["kernel"] is not None, f"{nic.name} {r['name']} {src}: {c}"
                assert abs(c["raised"] - c["kernel"]) <= 0.02 * max(c["raised"], c["kernel"]), \
                    f"{nic.name} {r['name']} {src}: raised {c['raised']}, kernel {c['kernel']} ({c['line']})"
        # QEMU offers NOTIFY_ON_EMPTY on the legacy interface; only the pre-patch driver acks it
        pre, post = e.run("ab-pre"), e.run("ab-post")
        assert e.report["host_features"] >> 24 & 1
        assert pre["features"] >> 24 & 1 and not post["features"] >> 24 & 1
        # post-b0c39dbd: the first TX interrupt turns them off for good; pre: NOTIFY_ON_EMPTY interrupts,
        # about one per packet when paced (unpaced, the device may find the next frame already waiting)
        assert post["tx_raised"] <= 1 + 0.1 * post["packets"], f"{nic.name}: {post}"
        paced = "--gap-us" not in nic.args or float(nic.args[nic.args.index("--gap-us") + 1]) > 0
        assert pre["raised_per_pkt"] > (0.8 if paced else post["raised_per_pkt"]), f"{nic.name}: {pre}"
        # loopback: the peer echoed the row's frames (EtherType 0x88b6) and the same driver received every one,
        # byte-exact, in order; the A/B runs' frames were not echoed (no RX interrupt joined their TX counts)
        loop = e.run("loopback")
        rows = {c.name: c for c in e.checks}
        assert rows[f"loopback {run.matrix.loopback_frames} frames"].status == PASS, f"{nic.name}\n{text}"
        assert loop["received"] == loop["packets"] == run.matrix.loopback_frames and not loop["rx_first_difference"]
        assert [bytes.fromhex(h) for h in loop["received_frames"]] == [bytes.fromhex(h) for h in loop["frames"]]
        assert loop["rx_stats"]["rx_packets"] == run.matrix.loopback_frames
        assert e.echoed == run.matrix.loopback_frames, f"{nic.name}: the peer echoed {e.echoed}"
        assert all(r["rx_packets"] == 0 for r in e.report["runs"] if r is not loop), f"{nic.name}: RX outside loopback"


@pytest.mark.parametrize("backend", hil.BACKENDS)
def test_bringup_matrix_against_qemu(backend):
    check_guest(boot(backend, hil.STANDARD))


@pytest.mark.slow
@pytest.mark.parametrize("backend", hil.BACKENDS)
def test_long_matrix_against_qemu(backend):
    check_guest(boot(backend, hil.LONG))
