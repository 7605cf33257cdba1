"""The device description (hdl/device.toml): the PCI identity and PCIe settings of the virtio-net function.

One file feeds both places where these values must be typed: the simulation's UltraScale+ hard-block model
(``tb.simulation.usp.UspConfig``) and the Vivado customization of the ``pcie4_uscale_plus`` IP
(``sim.fpga``). Loading validates every field up front, so a typo fails here with the field's name rather
than as a device that enumerates wrong.

Pure Python (no cocotb): the bring-up tools and the Tcl generator read it too.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

DESCRIPTION = Path(__file__).resolve().parents[1] / "hdl" / "device.toml"

BAR_KINDS = ("memory", "io")
INTERRUPT_PINS = {"none": 0, "INTA": 1, "INTB": 2, "INTC": 3, "INTD": 4}
LINK_SPEEDS = {"2.5GT/s": 1, "5.0GT/s": 2, "8.0GT/s": 3, "16.0GT/s": 4}
PAYLOAD_SIZES = (128, 256, 512, 1024)


class DeviceDescriptionError(ValueError):
    pass


@dataclass(frozen=True)
class Bar:
    index: int
    kind: str  # "memory" (32-bit, non-prefetchable) or "io"
    size: int  # bytes, a power of two
    contents: str = ""


@dataclass(frozen=True)
class VirtioModern:
    """The modern (virtio 1.x) interface's register regions: (offset, length) in ``bar`` of each structure a
    virtio_pci_cap points at (virtio 1.2 4.1.4), and the notify multiplier."""

    bar: int
    common: tuple[int, int]
    isr: tuple[int, int]
    device: tuple[int, int]
    notify: tuple[int, int]
    notify_off_multiplier: int


@dataclass(frozen=True)
class DeviceDescription:
    vendor_id: int
    device_id: int
    subsystem_vendor_id: int
    subsystem_id: int
    revision_id: int
    class_code: int
    interrupt_pin: str
    link_speed: str
    link_lanes: int
    user_clk_mhz: int
    data_width: int
    max_payload_supported: int
    extended_tag: bool
    bars: tuple[Bar, ...]
    msix_vectors: int
    msix_bar: int
    msix_table_offset: int
    msix_pba_offset: int
    virtio: VirtioModern | None = None
    source: str = ""

    @property
    def link_generation(self) -> int:
        return LINK_SPEEDS[self.link_speed]

    @property
    def interrupt_pin_number(self) -> int:
        """The Interrupt Pin register value: 0 = none, 1 = INTA ... 4 = INTD."""
        return INTERRUPT_PINS[self.interrupt_pin]

    def bar(self, index: int) -> Bar | None:
        return next((b for b in self.bars if b.index == index), None)


def _get(table: dict, key: str, kind: type, where: str):
    if key not in table:
        raise DeviceDescriptionError(f"{where}: '{key}' is missing")
    value = table[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise DeviceDescriptionError(f"{where}: '{key}' = {value!r} must be {kind.__name__}")
    return value


def _check_range(value: int, lo: int, hi: int, what: str) -> None:
    if not lo <= value <= hi:
        raise DeviceDescriptionError(f"{what} = {value:#x} outside {lo:#x}..{hi:#x}")


def parse(text: str, source: str = "<text>") -> DeviceDescription:
    """Parse and validate a description (the text of a device.toml)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeviceDescriptionError(f"{source}: {exc}") from exc
    ident, link, msix = (data.get(t, {}) for t in ("identity", "link", "msix"))
    w = f"{source} [identity]"
    desc_ids = {
        k: _get(ident, k, int, w)
        for k in ("vendor_id", "device_id", "subsystem_vendor_id", "subsystem_id", "revision_id", "class_code")
    }
    for k in ("vendor_id", "device_id", "subsystem_vendor_id", "subsystem_id"):
        _check_range(desc_ids[k], 0, 0xFFFF, f"{w} {k}")
    _check_range(desc_ids["revision_id"], 0, 0xFF, f"{w} revision_id")
    _check_range(desc_ids["class_code"], 0, 0xFFFFFF, f"{w} class_code")
    pin = _get(ident, "interrupt_pin", str, w)
    if pin not in INTERRUPT_PINS:
        raise DeviceDescriptionError(f"{w}: interrupt_pin {pin!r} is not one of {list(INTERRUPT_PINS)}")

    w = f"{source} [link]"
    speed = _get(link, "speed", str, w)
    if speed not in LINK_SPEEDS:
        raise DeviceDescriptionError(f"{w}: speed {speed!r} is not one of {list(LINK_SPEEDS)}")
    lanes = _get(link, "lanes", int, w)
    if lanes not in (1, 2, 4, 8, 16):
        raise DeviceDescriptionError(f"{w}: lanes = {lanes} (1, 2, 4, 8 or 16)")
    data_width = _get(link, "data_width", int, w)
    if data_width not in (64, 128, 256, 512):
        raise DeviceDescriptionError(f"{w}: data_width = {data_width} (64, 128, 256 or 512)")
    mps = _get(link, "max_payload_supported", int, w)
    if mps not in PAYLOAD_SIZES:
        raise DeviceDescriptionError(f"{w}: max_payload_supported = {mps} (one of {PAYLOAD_SIZES})")

    bars: list[Bar] = []
    for i, b in enumerate(data.get("bar", [])):
        w = f"{source} [[bar]] #{i + 1}"
        bar = Bar(_get(b, "index", int, w), _get(b, "kind", str, w), _get(b, "size", int, w), b.get("contents", ""))
        if not 0 <= bar.index <= 5:
            raise DeviceDescriptionError(f"{w}: index = {bar.index} (0..5)")
        if bar.kind not in BAR_KINDS:
            raise DeviceDescriptionError(f"{w}: kind {bar.kind!r} is not one of {BAR_KINDS}")
        min_size = 16 if bar.kind == "io" else 128
        if bar.size < min_size or bar.size & (bar.size - 1):
            raise DeviceDescriptionError(f"{w}: size = {bar.size}: a power of two, at least {min_size}")
        if any(o.index == bar.index for o in bars):
            raise DeviceDescriptionError(f"{w}: BAR {bar.index} described twice")
        bars.append(bar)
    bars.sort(key=lambda b: b.index)

    w = f"{source} [msix]"
    vectors = _get(msix, "vectors", int, w)
    msix_bar = _get(msix, "bar", int, w)
    table_offset = _get(msix, "table_offset", int, w)
    pba_offset = _get(msix, "pba_offset", int, w)
    if not 0 <= vectors <= 2048:
        raise DeviceDescriptionError(f"{w}: vectors = {vectors} (0..2048)")
    if vectors:
        home = next((b for b in bars if b.index == msix_bar), None)
        if home is None or home.kind != "memory":
            raise DeviceDescriptionError(f"{w}: bar = {msix_bar} is not a described memory BAR")
        if table_offset % 8 or pba_offset % 8:
            raise DeviceDescriptionError(f"{w}: table_offset and pba_offset must be 8-byte aligned")
        table_end, pba_end = table_offset + 16 * vectors, pba_offset + 8 * ((vectors + 63) // 64)
        if table_end > home.size or pba_end > home.size:
            raise DeviceDescriptionError(f"{w}: the table or PBA runs past the end of BAR {msix_bar}")
        if table_offset < pba_end and pba_offset < table_end:
            raise DeviceDescriptionError(f"{w}: the table and the PBA overlap")

    virtio = _parse_virtio(data.get("virtio"), bars, f"{source} [virtio]")

    return DeviceDescription(
        **desc_ids,
        interrupt_pin=pin,
        link_speed=speed,
        link_lanes=lanes,
        user_clk_mhz=_get(link, "user_clk_mhz", int, f"{source} [link]"),
        data_width=data_width,
        max_payload_supported=mps,
        extended_tag=_get(link, "extended_tag", bool, f"{source} [link]"),
        bars=tuple(bars),
        msix_vectors=vectors,
        msix_bar=msix_bar,
        msix_table_offset=table_offset,
        msix_pba_offset=pba_offset,
        virtio=virtio,
        source=source,
    )


# the smallest region each structure needs: struct virtio_pci_common_cfg up to queue_device (0x38), the ISR
# byte, struct virtio_net_config's mac and status (8), one 16-bit notify
VIRTIO_MIN_LEN = {"common": 0x38, "isr": 1, "device": 8, "notify": 2}


def _parse_virtio(table: dict | None, bars: list[Bar], w: str) -> VirtioModern | None:
    if table is None:
        return None
    bar_index = _get(table, "bar", int, w)
    home = next((b for b in bars if b.index == bar_index), None)
    if home is None or home.kind != "memory":
        raise DeviceDescriptionError(f"{w}: bar = {bar_index} is not a described memory BAR")
    regions: dict[str, tuple[int, int]] = {}
    for name, min_len in VIRTIO_MIN_LEN.items():
        value = _get(table, name, list, w)
        if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise DeviceDescriptionError(f"{w}: '{name}' = {value!r} must be [offset, length]")
        off, length = value
        if length < min_len or off % 4 or off + length > home.size:
            raise DeviceDescriptionError(
                f"{w}: '{name}' = [{off:#x}, {length:#x}]: dword aligned, at least {min_len:#x} bytes, inside "
                f"BAR {bar_index} ({home.size:#x} bytes)"
            )
        for other, (o, n) in regions.items():
            if off < o + n and o < off + length:
                raise DeviceDescriptionError(f"{w}: '{name}' overlaps '{other}'")
        regions[name] = (off, length)
    mult = _get(table, "notify_off_multiplier", int, w)
    if mult < 0 or mult % 2:
        raise DeviceDescriptionError(f"{w}: notify_off_multiplier = {mult}: an even number (0 allowed)")
    return VirtioModern(bar_index, regions["common"], regions["isr"], regions["device"], regions["notify"], mult)


def load(path: Path | str = DESCRIPTION) -> DeviceDescription:
    path = Path(path)
    return parse(path.read_text(), str(path))
