"""Read FST or VCD dumps from Python (pywellen): value changes of named signals, in ns.

Names are the dump's full names without a bit range (``virtio_net_usp.virtq_tx_inst.state_reg``); the top
scope is ``virtio_net_usp`` on both simulators. Values are ints (None for x/z).
"""

from __future__ import annotations

from pathlib import Path

PS_PER = {"fs": 1e-3, "ps": 1.0, "ns": 1e3, "us": 1e6, "ms": 1e9, "s": 1e12}


def open_dump(path: Path | str):
    import pywellen  # type: ignore[import-untyped]  # ships no type information

    return pywellen.Waveform(str(path))


def _scale_to_ns(wave) -> float:
    ts = str(wave.timescale).strip()  # e.g. "1ps", "10ns"
    num = "".join(c for c in ts if c.isdigit()) or "1"
    unit = ts[len(num) :].strip() if ts.startswith(num) else "ps"
    return int(num) * PS_PER.get(unit, 1.0) / 1e3


def end_time(path: Path | str, wave=None) -> int:
    """The last timestamp of a dump, in its own time units (a VCD's tail is read directly)."""
    path = Path(path)
    if path.suffix == ".vcd":
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - 65536))
            stamps = [line for line in f.read().splitlines() if line.startswith(b"#")]
        if stamps:
            return int(stamps[-1][1:])
    last = [0]
    # pywellen 0.25.7: stream_time_steps(callback, include) calls back (time, values, signal ids) per time
    # step; include=None streams every signal
    (wave or open_dump(path)).stream_time_steps(lambda t, *_: last.__setitem__(0, max(last[0], int(t))), None)
    return last[0]


def _as_int(value):
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 2)
    except ValueError:
        return None


def all_vars(wave) -> dict:
    """full name -> Var (the first of aliases wins)."""
    out: dict[str, object] = {}
    for v in wave.all_vars():
        out.setdefault(v.full_name, v)
    return out


def changes(path: Path | str, names: list[str], wave=None) -> dict[str, list[tuple[float, int | None]]]:
    """{name: [(time_ns, value), ...]} for the names present in the dump."""
    wave = wave or open_dump(path)
    by_name = all_vars(wave)
    wanted = [by_name[n] for n in names if n in by_name]
    ids: dict[str, list[str]] = {}
    for v in wanted:
        ids.setdefault(str(v.signal_id), []).append(v.full_name)
    out: dict[str, list[tuple[float, int | None]]] = {v.full_name: [] for v in wanted}
    scale = _scale_to_ns(wave)

    def cb(t, sid, value) -> None:
        for n in ids.get(str(sid), ()):
            out[n].append((t * scale, _as_int(value)))

    if wanted:
        wave.stream_changes(cb, wanted)
    return out
