"""Cut a time window out of a dump into a small VCD: ``make waves ... WAVES_FROM=<t> WAVES_TO=<t>``.

Neither simulator's cocotb harness can switch its dump on and off at run time (Verilator's main writes
every time step), so the window is cut after the run: every signal's value at the window's start, then its
changes inside the window. The full dump is deleted unless WAVES_KEEP=1.

    python -m sim.wavewin <dump.fst> <out.vcd> <from> <to>     (times: 1234 = ns, 1234c = cycles, 12us)
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim import wavedump


def _vcd_value(value: int | None, width: int, code: str) -> str:
    if width == 1:
        return f"{'x' if value is None else value & 1}{code}"
    return f"b{'x' if value is None else format(value, 'b')} {code}"


def cut(dump: Path, out: Path, t_from_ns: float, t_to_ns: float) -> Path:
    wave = wavedump.open_dump(dump)
    variables = list(wavedump.all_vars(wave).values())
    variables = [v for v in variables if not v.full_name.startswith("$")]
    codes: dict[str, list[str]] = {}
    widths: dict[str, int] = {}
    scopes: dict[str, list[tuple[str, str]]] = {}
    for i, v in enumerate(variables):
        code = ""
        n = i
        while True:
            code += chr(33 + n % 94)
            n //= 94
            if n == 0:
                break
        codes.setdefault(str(v.signal_id), []).append(code)
        widths[code] = v.bitwidth or 1
        scope, _, leaf = v.full_name.rpartition(".")
        if leaf.startswith("["):  # an element of a memory array (FST): "mem.[3]" -> "mem_3", a VCD name
            scope, _, mem = scope.rpartition(".")
            leaf = f"{mem}_{leaf.strip('[]')}"
        scopes.setdefault(scope, []).append((leaf, code))
    scale = wavedump._scale_to_ns(wave)
    start: dict[str, int | None] = {}
    inside: list[tuple[float, str, int | None]] = []

    def cb(t, sid, value) -> None:
        t_ns = t * scale
        val = wavedump._as_int(value)
        for code in codes.get(str(sid), ()):
            if t_ns <= t_from_ns:
                start[code] = val
            elif t_ns <= t_to_ns:
                inside.append((t_ns, code, val))

    wave.stream_changes(cb, variables)
    with open(out, "w") as f:
        f.write(f"$comment window {t_from_ns:.0f}..{t_to_ns:.0f} ns of {dump.name} $end\n$timescale 1ps $end\n")
        for scope in sorted(scopes):
            parts = scope.split(".") if scope else []
            for p in parts:
                f.write(f"$scope module {p} $end\n")
            for leaf, code in scopes[scope]:
                w = widths[code]
                f.write(f"$var wire {w} {code} {leaf}{'' if w == 1 else f' [{w - 1}:0]'} $end\n")
            f.write("$upscope $end\n" * len(parts))
        f.write("$enddefinitions $end\n")
        f.write(f"#{int(t_from_ns * 1000)}\n$dumpvars\n")
        for code, val in start.items():
            f.write(_vcd_value(val, widths[code], code) + "\n")
        f.write("$end\n")
        last = None
        for t_ns, code, val in sorted(inside, key=lambda x: x[0]):
            ps = round(t_ns * 1000)
            if ps != last:
                f.write(f"#{ps}\n")
                last = ps
            f.write(_vcd_value(val, widths[code], code) + "\n")
    return out


def main(argv: list[str]) -> int:
    from sim.gtkw import parse_time

    if len(argv) != 4:
        print(__doc__)
        return 2
    cut(Path(argv[0]), Path(argv[1]), parse_time(argv[2]), parse_time(argv[3]))
    print(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
