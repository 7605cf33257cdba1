"""Read a yosys JSON netlist mapped to Xilinx UltraScale+ cells: resources per instance, logic depth per clock.

Every cell type the mapped netlist may hold has an entry in CELLS (its resource class and, for timing, which
pins start or end a register-to-register path and which outputs depend combinationally on which inputs).
A type that is not listed is an error, so that no count or depth is ever computed from a guessed model.

Logic depth is a timing proxy, not a timing analysis: the longest register-to-register path counted in
LUT levels (LUT6 .. LUT1 and LUT-RAM reads), with the carry cells and wide-mux cells (MUXF7/8/9) met on
that path counted beside it. Paths are cut at flip-flops, block RAMs, DSPs, SRLs, ports and black boxes.
A combinational cycle found on the way is reported as a loop.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from dataclasses import dataclass, field

# -- cell models -------------------------------------------------------------------------------------------
FF_TYPES = {"FDRE", "FDSE", "FDCE", "FDPE"}
LUT_TYPES = {f"LUT{n}" for n in range(1, 7)}
MUXF_TYPES = {"MUXF7", "MUXF8", "MUXF9"}
CARRY_TYPES = {"CARRY4", "CARRY8"}
# LUTs used as memory, per cell (UltraScale+ CLB: one LUT6 holds 64 bits; RAM32M16 = 8 LUTs)
LUTRAM_LUTS = {
    "RAM32M16": 8,
    "RAM32M": 4,
    "RAM64M": 4,
    "RAM64M8": 8,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM32X1S": 1,
    "RAM64X1S": 1,
    "RAM128X1S": 2,
    "RAM256X1S": 4,
}
SRL_TYPES = {"SRL16E", "SRLC32E"}
BRAM36 = {"RAMB36E2": 1.0, "RAMB18E2": 0.5}
DSP_TYPES = {"DSP48E2"}
BUF_TYPES = {"BUFG", "BUFGCE", "BUFG_GT", "IBUF", "OBUF", "IBUFDS_GTE4", "INV"}
CLOCK_PINS = {"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK"}


def _lutram_read(cell_type: str, conns: dict[str, list]) -> dict[str, list[str]]:
    """output port -> the address ports it reads combinationally (writes are clocked: endpoints)."""
    if cell_type in ("RAM32M16", "RAM32M", "RAM64M", "RAM64M8"):
        return {p: [f"ADDR{p[2]}"] for p in conns if p.startswith("DO")}
    if cell_type in ("RAM32X1D", "RAM64X1D", "RAM128X1D"):
        a = [p for p in conns if re.fullmatch(r"A\d*", p)]
        dpra = [p for p in conns if p.startswith("DPRA")]
        return {"SPO": a, "DPO": dpra}
    return {"O": [p for p in conns if re.fullmatch(r"A\d*", p)]}


def _carry_deps(cell_type: str, conns: dict[str, list]) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """(output port, bit, [(input port, bit)]) of a carry chain cell: bit i sees S/DI at 0..i and the carry in."""
    width = 4 if cell_type == "CARRY4" else 8
    carry_in = [(p, 0) for p in ("CI", "CYINIT", "CI_TOP") if p in conns]
    out = []
    for i in range(width):
        lower = [("S", j) for j in range(i + 1)] + [("DI", j) for j in range(i)]
        out.append(("O", i, carry_in + lower))
        out.append(("CO", i, carry_in + lower + [("DI", i)]))
    return out


def classify(cell_type: str) -> str:
    if cell_type in LUT_TYPES:
        return "lut"
    if cell_type in FF_TYPES:
        return "ff"
    if cell_type in MUXF_TYPES:
        return "muxf"
    if cell_type in CARRY_TYPES:
        return "carry"
    if cell_type in LUTRAM_LUTS:
        return "lutram"
    if cell_type in SRL_TYPES:
        return "srl"
    if cell_type in BRAM36:
        return "bram"
    if cell_type in DSP_TYPES:
        return "dsp"
    if cell_type in BUF_TYPES:
        return "buf"
    raise ValueError(f"cell type {cell_type!r}: sim/netlist.py has no resource or timing model for it")


# -- resources ---------------------------------------------------------------------------------------------
RESOURCE_KEYS = ("lut", "lutram", "ff", "ramb36", "dsp", "carry", "muxf", "srl")


def empty_resources() -> dict[str, float]:
    return dict.fromkeys(RESOURCE_KEYS, 0)


def add_cell(res: dict[str, float], cell_type: str) -> None:
    kind = classify(cell_type)
    if kind == "lutram":
        res["lutram"] += LUTRAM_LUTS[cell_type]
    elif kind == "srl":
        res["srl"] += 1
        res["lutram"] += 1  # an SRL occupies a LUT as memory
    elif kind == "bram":
        res["ramb36"] += BRAM36[cell_type]
    elif kind in res:
        res[kind] += 1


def add(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in RESOURCE_KEYS}


@dataclass
class Instance:
    path: str  # hierarchical instance path below the top ("" for the top itself)
    module: str  # source module name (hdlname) or the black box's name
    own: dict[str, float]  # cells of this module itself, not of its submodules
    blackbox: bool = False


def module_display_name(name: str, mod: dict) -> str:
    hdl = mod.get("attributes", {}).get("hdlname")
    if hdl:
        return hdl.split()[-1].lstrip("\\")
    return name.split("\\")[-1] if "\\" in name else name.lstrip("\\")


def instances(
    stats: dict, tree: dict[str, list[tuple[str, str]]], top: str, names: dict[str, str], blackboxes: set[str]
) -> list[Instance]:
    """Every instance under ``top`` (depth first), each with the resources of its own cells.

    ``stats`` is yosys ``stat -json`` of the synthesized design, ``tree`` the instances of each module
    ((instance name, module)), ``names`` the source module names, ``blackboxes`` the black-box modules.
    Module names are as yosys writes them in RTLIL (\\name or $paramod$...).
    """
    mods = stats["modules"]
    out: list[Instance] = []

    def walk(name: str, path: str) -> None:
        own = empty_resources()
        subs = {m for _, m in tree.get(name, [])}
        for ctype, count in mods.get(name, {}).get("num_cells_by_type", {}).items():
            if ("\\" + ctype) in subs or ctype in subs:
                continue
            for _ in range(count):
                add_cell(own, ctype)
        out.append(Instance(path, names.get(name, name), own, name in blackboxes))
        for inst, child in sorted(tree.get(name, [])):
            walk(child, f"{path}.{inst}" if path else inst)

    walk(top, "")
    return out


def _is_lib_cell(mod: dict) -> bool:
    """A Xilinx primitive from yosys's cell library (a black box with its source in the yosys share dir)."""
    attrs = mod.get("attributes", {})
    return bool(attrs.get("blackbox")) and "/yosys/xilinx/" in str(attrs.get("src", ""))


# -- logic depth -------------------------------------------------------------------------------------------
@dataclass
class Path:
    domain: str
    lut_levels: int
    dsp_cells: int  # combinational DSP48E2 (no register inside) on the path
    carry_cells: int
    muxf_cells: int
    start: str
    end: str
    cells: list[str] = field(default_factory=list)  # cell types from start to end
    via: list[str] = field(default_factory=list)  # named nets the path passes

    def as_dict(self) -> dict:
        return {
            "lut_levels": self.lut_levels,
            "dsp_cells": self.dsp_cells,
            "carry_cells": self.carry_cells,
            "muxf_cells": self.muxf_cells,
            "start": self.start,
            "end": self.end,
            "cells": self.cells,
            "via": self.via,
        }


class CombinationalLoop(Exception):
    def __init__(self, cells: list[str]):
        self.cells = cells
        super().__init__("combinational loop through " + " -> ".join(cells))


def _bits(conn: list) -> list:
    return [b for b in conn if isinstance(b, int)]


def _names(module: dict) -> dict[int, str]:
    """net bit -> a readable name (public names first, then the shortest)."""
    best: dict[int, tuple[int, int, str]] = {}
    for name, net in module.get("netnames", {}).items():
        hidden = int(net.get("hide_name", 0)) or name.startswith("$")
        bits = net["bits"]
        for i, b in enumerate(bits):
            if not isinstance(b, int):
                continue
            label = name if len(bits) == 1 else f"{name}[{i + net.get('offset', 0)}]"
            rank = (int(hidden), len(label), label)
            if b not in best or rank < best[b]:
                best[b] = rank
    return {b: r[2] for b, r in best.items()}


def _src(cell: dict) -> str:
    """The cell's RTL source location; "" for cells whose only source is yosys's own techmap library."""
    srcs = [s for s in str(cell.get("attributes", {}).get("src", "")).split("|") if s]
    return next((s for s in srcs if "/share/yosys/" not in s), "")


def _aliases(module: dict) -> dict[int, list[str]]:
    """net bit -> every public name it has (a flattened net keeps the names of each module it crosses)."""
    out: dict[int, list[str]] = defaultdict(list)
    for name, net in module.get("netnames", {}).items():
        if int(net.get("hide_name", 0)) or name.startswith("$"):
            continue
        bits = net["bits"]
        for i, b in enumerate(bits):
            if isinstance(b, int):
                out[b].append(name if len(bits) == 1 else f"{name}[{i + net.get('offset', 0)}]")
    return out


def _dsp_is_combinational(cell: dict) -> bool:
    params = cell.get("parameters", {})
    regs = [v for k, v in params.items() if k.endswith("REG")]
    return not _bits(cell["connections"].get("CLK", [])) or all(int(str(v), 2) == 0 for v in regs)


# arrival at a net bit: (LUT levels, DSP cells, carry cells, MUXF cells), compared in that order
Arrival = tuple[int, int, int, int]


def logic_depth(flat: dict, top: str) -> dict[str, Path]:
    """Longest path in LUT levels per clock domain of the flattened, mapped ``top``.

    A path's domain is the clock of the register that ends it; paths ending at output ports or black-box
    inputs are grouped as "(outputs)". Raises CombinationalLoop when the combinational cells form a cycle.
    """
    mods = flat["modules"]
    mod = mods[top]
    names = _names(mod)
    # combinational arcs: out bit -> [(in bit, cell id)]; cell id -> (weights, type, label)
    arcs: dict[int, list[tuple[int, int]]] = defaultdict(list)
    cell_info: list[tuple[Arrival, str, str]] = []
    ends: dict[int, set[tuple[str, str]]] = defaultdict(set)  # endpoint bit -> {(domain, label)}

    def clock_name(cell: dict) -> str:
        for pin in CLOCK_PINS:
            bits = _bits(cell["connections"].get(pin, []))
            if bits:
                return names.get(bits[0], f"net{bits[0]}")
        return "(unclocked)"

    def comb(ctype: str, cname: str, cell: dict, weight: Arrival, outs_ins: list[tuple[list, list]]) -> None:
        cid = len(cell_info)
        cell_info.append((weight, ctype, f"{ctype} {cname} ({_src(cell)})"))
        for outs, ins in outs_ins:
            for o in outs:
                arcs[o].extend((i, cid) for i in ins)

    for pname, port in mod.get("ports", {}).items():
        if port["direction"] in ("output", "inout"):
            for b in _bits(port["bits"]):
                ends[b].add(("(outputs)", names.get(b, pname)))

    for cname, cell in mod.get("cells", {}).items():
        ctype = cell["type"]
        conns = cell["connections"]
        dirs = cell.get("port_directions", {})
        ins_of = [b for pin, conn in conns.items() if dirs.get(pin) == "input" for b in _bits(conn)]
        outs_of = [b for pin, conn in conns.items() if dirs.get(pin) == "output" for b in _bits(conn)]
        if ctype in mods and not _is_lib_cell(mods[ctype]):
            # a black box (the PCIe IP stub): its inputs end paths, its outputs start them
            for b in ins_of:
                ends[b].add(("(outputs)", f"{cname} ({ctype})"))
            continue
        kind = classify(ctype)
        if kind in ("lut", "muxf", "buf"):
            lut = 1 if kind == "lut" or ctype == "INV" else 0
            comb(ctype, cname, cell, (lut, 0, 0, 1 if kind == "muxf" else 0), [(outs_of, ins_of)])
        elif kind == "carry":
            pairs = []
            for out_port, i, deps in _carry_deps(ctype, conns):
                out_bits = conns.get(out_port, [])
                if i < len(out_bits) and isinstance(out_bits[i], int):
                    ins = [conns[p][j] for p, j in deps if j < len(conns.get(p, [])) and isinstance(conns[p][j], int)]
                    pairs.append(([out_bits[i]], ins))
            comb(ctype, cname, cell, (0, 0, 1, 0), pairs)
        elif kind == "dsp" and _dsp_is_combinational(cell):
            comb(ctype, cname, cell, (0, 1, 0, 0), [(outs_of, ins_of)])
        elif kind in ("lutram", "srl"):
            dom = clock_name(cell)
            reads = _lutram_read(ctype, conns) if kind == "lutram" else {"Q": ["A"]}
            read_ins = {p for ports in reads.values() for p in ports}
            for pin, conn in conns.items():
                if dirs.get(pin) == "input" and pin not in CLOCK_PINS and pin not in read_ins:
                    for b in _bits(conn):
                        ends[b].add((dom, f"{cname} ({ctype} {pin})"))
            comb(
                ctype,
                cname,
                cell,
                (1, 0, 0, 0),
                [
                    (_bits(conns.get(o, [])), [b for p in ps for b in _bits(conns.get(p, []))])
                    for o, ps in reads.items()
                ],
            )
        else:  # ff, bram, registered dsp: inputs end paths in the cell's clock domain, outputs start them
            dom = clock_name(cell)
            q = _bits(conns.get("Q", []))
            label = names.get(q[0], cname) if kind == "ff" and q else f"{cname} ({ctype})"
            for pin, conn in conns.items():
                if dirs.get(pin) == "input" and pin not in CLOCK_PINS:
                    for b in _bits(conn):
                        ends[b].add((dom, label if pin == "D" else f"{label} ({pin})"))

    # longest arrival at every bit, in topological order of the arcs
    users: dict[int, list[int]] = defaultdict(list)
    indeg: dict[int, int] = {}
    for o, ins in arcs.items():
        indeg[o] = len(ins)
        for i, _ in ins:
            users[i].append(o)
    arrival: dict[int, Arrival] = {}
    pred: dict[int, tuple[int, int]] = {}
    # start points (register outputs, ports, black-box outputs) and cells whose inputs are all constant
    ready = deque(b for b in set(users) if b not in arcs)
    ready.extend(o for o, ins in arcs.items() if not ins)
    for b in ready:
        arrival[b] = (0, 0, 0, 0)
    while ready:
        b = ready.popleft()
        for o in users[b]:
            indeg[o] -= 1
            if indeg[o] == 0:
                best, best_pred = (-1, 0, 0, 0), (0, 0)
                for i, cid in arcs[o]:
                    w = cell_info[cid][0]
                    a = arrival[i]
                    cand = (a[0] + w[0], a[1] + w[1], a[2] + w[2], a[3] + w[3])
                    if cand > best:
                        best, best_pred = cand, (i, cid)
                arrival[o] = best
                pred[o] = best_pred
                ready.append(o)
    stuck = [o for o, n in indeg.items() if n > 0]
    if stuck:
        raise CombinationalLoop(_find_cycle(stuck, arcs, cell_info, _aliases(mod)))

    worst: dict[str, tuple[Arrival, int, str]] = {}
    for b, labels in ends.items():
        a = arrival.get(b, (0, 0, 0, 0))
        for dom, label in labels:
            if dom not in worst or a > worst[dom][0]:
                worst[dom] = (a, b, label)
    out: dict[str, Path] = {}
    for dom, (a, b, label) in sorted(worst.items()):
        types, via, bit = [], [], b
        while bit in pred:
            i, cid = pred[bit]
            types.append(cell_info[cid][1])
            name = names.get(bit, "")
            if name and not name.startswith("$") and bit != b:
                via.append(name)
            bit = i
        types.reverse()
        via.reverse()
        out[dom] = Path(dom, a[0], a[1], a[2], a[3], names.get(bit, f"net{bit}"), label, types, via)
    return out


def _instance_of(cell_name: str) -> str:
    """The instance path a flattened cell came from: "$flatten\\u1.\\u2.$abc$..." -> "u1.u2"."""
    if not cell_name.startswith("$flatten"):
        return "(top)"
    parts = cell_name[len("$flatten") :].split(".")
    return ".".join(p.lstrip("\\") for p in parts[:-1] if p.startswith("\\")) or "(top)"


def _find_cycle(stuck: list[int], arcs, cell_info, aliases) -> list[str]:
    """One cycle among the bits left over by the topological sort: "net (= its other names) <- cell, where"."""
    left = set(stuck)
    seen: dict[int, int] = {}
    order: list[tuple[int, int, int]] = []
    bit = stuck[0]
    while bit not in seen:
        seen[bit] = len(order)
        nxt = next(((i, cid) for i, cid in arcs[bit] if i in left), None)
        if nxt is None:  # cannot happen for a bit stuck in a cycle; keep the message useful anyway
            return [" = ".join(aliases.get(bit, [f"net{bit}"]))]
        order.append((bit, *nxt))
        bit = nxt[0]
    steps = []
    for out_bit, _, cid in reversed(order[seen[bit] :]):
        _, ctype, label = cell_info[cid]
        cname = label.split(" ", 2)[1]
        src = label.rsplit(" (", 1)[-1].rstrip(")")
        names = sorted(aliases.get(out_bit, []), key=lambda n: (n.count("."), n))  # the top's name first
        net = " = ".join(names[:8]) + (" = ..." if len(names) > 8 else "") if names else f"net{out_bit}"
        steps.append(f"{net} <- {ctype} in {_instance_of(cname)}" + (f" ({src})" if src else ""))
    return steps
