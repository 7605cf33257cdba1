"""The layering rules, checked on the import graph (ast: every import, lazy ones inside functions included).

The roles the tree is cut into (README "Architecture") only hold if nobody crosses them:

* the driver model, the scenarios, our device's register maps, the test-only faults and the bring-up run
  on a real machine with the standard library: they never import cocotb / cocotbext, the simulation
  package (tb.simulation) or the HDL runner (sim);
* the platforms never import the driver (the driver awaits the Platform interface, never the reverse);
* the checkers never import the driver or anything that builds one: what they know of the driver comes from
  its trace events, their ring layout and register offsets from the virtio specification (tb/checkers/spec.py);
* sim builds and runs HDL: it never imports tb (nor hil);
* the HIL orchestrator never imports the simulation stack.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tb", "sim", "hil")

HOST_ONLY = ("cocotb", "cocotb_tools", "cocotbext", "tb.simulation", "sim")
# package (prefix) -> what it must never import (prefixes), and why
RULES: dict[str, tuple[tuple[str, ...], str]] = {
    "tb.driver": (HOST_ONLY + ("tb.checkers", "tb.faults", "tb.bringup", "tb.scenarios"),
                  "the faithful driver runs unchanged on simulation, virtual time and a real function"),
    "tb.scenarios": (HOST_ONLY + ("tb.checkers", "tb.faults", "tb.bringup"), "scenarios run on every platform"),
    "tb.device": (HOST_ONLY + ("tb.driver", "tb.checkers", "tb.faults"), "the device maps are read on a board"),
    "tb.bringup": (HOST_ONLY + ("tb.checkers", "tb.faults"), "bring-up runs with the system Python on a board"),
    "tb.faults": (HOST_ONLY, "the faults are named before anything is built (the front door's preflight)"),
    "tb.platform": (HOST_ONLY + ("tb.driver", "tb.scenarios", "tb.checkers", "tb.faults", "tb.bringup"),
                    "the platform is what the driver runs on: it never knows the driver"),
    "tb.checkers": (("cocotb", "cocotb_tools", "cocotbext", "tb.driver", "tb.faults", "tb.scenarios",
                     "tb.bringup", "tb.simulation", "sim"),
                    "checkers that share the driver's code would share its mistakes"),
    "tb.pcap": (HOST_ONLY, "the capture format is written by the bring-up on a board"),
    "sim": (("tb", "hil"), "sim builds and runs HDL; the testbench is built on it, not the reverse"),
    "hil": (("cocotb", "cocotb_tools", "cocotbext", "tb.simulation"), "the HIL rig runs the bring-up on QEMU"),
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement, lazy ones inside functions included, and every
    importlib.import_module("...") with a constant name, in ``source`` (the text of ``module``)."""
    package = module if is_package else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:      # relative: resolve against the package
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append((node.lineno, node.args[0].value))
    return out


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(module: str, source: str, where: str, is_package: bool = False) -> list[str]:
    found = []
    for owner, (forbidden, why) in RULES.items():
        if not within(module, owner):
            continue
        seen: set[int] = set()     # one report per import statement
        for line, target in imports(source, module, is_package):
            bad = next((f for f in forbidden if within(target, f) and not within(target, owner)), None)
            if bad is not None and line not in seen:
                seen.add(line)
                found.append(f"{where}:{line}: {module} imports {target} ({owner} never imports {bad}: {why})")
    return found


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_every_package_of_the_rules_exists() -> None:
    """A rule about a package that is gone (renamed) would pass without looking at anything."""
    modules = {module_name(p) for p in sources()}
    for owner in RULES:
        assert any(within(m, owner) for m in modules), f"no module under {owner}: update the rules"


def test_layering() -> None:
    found = []
    for path in sources():
        found += violations(module_name(path), path.read_text(), str(path.relative_to(ROOT)),
                            path.name == "__init__.py")
    assert not found, "import rules broken:\n" + "\n".join(found)


@pytest.mark.parametrize("module, source", [
    ("tb.driver.probe", "import cocotb\n"),
    ("tb.bringup.probe", "def f():\n    from tb.simulation.harness import DeviceTB\n"),
    ("tb.checkers.probe", "from tb.driver.virtio_ring import VringLayout\n"),
    ("tb.platform.probe", "from ..driver import virtio_ring\n"),
    ("tb.scenarios.probe", "import importlib\nimportlib.import_module('tb.simulation.wire')\n"),
    ("tb.device.probe", "from sim import runner\n"),
    ("sim.probe", "from tb.device import debug_bar\n"),
])
def test_layering_catches(module: str, source: str) -> None:
    """Each kind of import the check must see (lazy, relative, by importlib), where a rule forbids it."""
    assert len(violations(module, source, "probe.py")) == 1, (module, source)
