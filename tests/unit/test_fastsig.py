"""tb/simulation/fastsig.py: per-beat signal readers give what ``int(signal.value)`` gives, X and Z as 0."""

from __future__ import annotations

from types import SimpleNamespace

from tb.simulation.fastsig import bit_reader, int_reader


def _signal(*values: str):
    """A stand-in for a cocotb handle whose simulator reads return the given binary strings in turn."""
    it = iter(values)
    return SimpleNamespace(_handle=SimpleNamespace(get_signal_val_binstr=lambda: next(it)))


def test_int_reader_reads_binary_msb_first():
    read = int_reader(_signal("0000", "1010", "1" * 256))
    assert read() == 0
    assert read() == 0b1010
    assert read() == (1 << 256) - 1


def test_int_reader_reads_x_and_z_as_zero_and_weak_levels_as_their_value():
    read = int_reader(_signal("1x0z", "XXXX", "HL-1", "uUwW"))
    assert read() == 0b1000
    assert read() == 0
    assert read() == 0b1001
    assert read() == 0


def test_bit_reader_is_true_only_for_a_driven_one():
    read = bit_reader(_signal("1", "0", "x", "z"))
    assert [read(), read(), read(), read()] == [True, False, False, False]
