"""Reading DUT signals in the loops that run once per beat, without cocotb's value objects.

Simulation only. In cocotb 2.x, ``signal.value`` builds a ``LogicArray`` (the simulator's binary string,
turned into one ``Logic`` per bit) and ``int()`` of it parses that again; a 1-bit read builds a ``Logic``.
In the per-beat loops (the wire sink and source, the block tests' DMA model) those reads were a fifth of a
block test's Python time. A reader made here asks the simulator interface for the binary string once and
converts it with ``int(s, 2)``:

    tvalid = bit_reader(dut.m_axis_tvalid)     # () -> bool; X or Z (Icarus, before reset) reads as 0
    tdata = int_reader(dut.m_axis_tdata)       # () -> int;  X or Z bits read as 0

The value is what ``signal.value`` returns at the same moment (the same simulator call underneath:
``get_signal_val_binstr``, cocotb's private ``_handle``; cocotb is pinned in pyproject.toml). Writes stay with
cocotb (``signal.value = v``): on Verilator and Icarus cocotb holds them for the ReadWrite phase, and that
timing is what the testbench relies on.
"""

from __future__ import annotations

from collections.abc import Callable

# X, Z, U, W, - read as 0; L and H are weak 0 and 1
_XZ_TO_0 = str.maketrans("xXzZuUwW-lLhH", "0000000000011")


def _binstr(signal) -> Callable[[], str]:
    return signal._handle.get_signal_val_binstr


def int_reader(signal) -> Callable[[], int]:
    """``int(signal.value)``, with bits that are not 0 or 1 read as 0 (cocotb would raise)."""
    raw = _binstr(signal)

    def read() -> int:
        s = raw()
        try:
            return int(s, 2)
        except ValueError:
            return int(s.translate(_XZ_TO_0), 2)

    return read


def bit_reader(signal) -> Callable[[], bool]:
    """A 1-bit signal is 1 (X or Z count as 0)."""
    raw = _binstr(signal)

    def read() -> bool:
        return raw() == "1"

    return read
