"""The device's bring-up / debug BAR (BAR2), over any Platform.

Register map: hdl/debug/debug_regs.v (the two must agree; the simulation tests check every register).
These are the first things to read on a new board: ID, version, a scratch register, a cycle counter that
must move, the DMA self-test and the TLP counters.
"""

from __future__ import annotations

from dataclasses import dataclass

from tb.platform.base import Platform, PlatformTimeout

DEBUG_BAR = 2

DBG_ID_VALUE = 0x564E4554  # "VNET"

REG_ID = 0x000
REG_VERSION = 0x004
REG_SCRATCH = 0x008
REG_BUILD = 0x00C
# BUILD[31:24]: the build options of virtio_net_usp
BUILD_FAULT_ENABLE = 1 << 24  # the test-only fault knobs are built in (BAR2 0x208 FAULT)
BUILD_BAR0_IO = 1 << 25  # BAR0 is an I/O BAR
REG_CYCLE_LO = 0x010
REG_CYCLE_HI = 0x014
REG_CFG_STATUS = 0x018
REG_DEV_STATUS = 0x01C
REG_ST_SRC_LO = 0x020
REG_ST_SRC_HI = 0x024
REG_ST_DST_LO = 0x028
REG_ST_DST_HI = 0x02C
REG_ST_LEN = 0x030
REG_ST_CTRL = 0x034
REG_ST_STATUS = 0x038
REG_ST_CYCLES = 0x03C
REG_INTX_TEST = 0x040
REG_MSIX_TEST = 0x044
REG_TX_PARAMS = 0x048  # the TX engine's build parameters (TxParams)
REG_CNT_CLEAR = 0x07C
REG_SCRATCH_RAM = 0x100
SCRATCH_RAM_BYTES = 64

COUNTERS = (
    "rq_rd",
    "rq_wr",
    "rc_cpl",
    "rc_err",
    "cq_req",
    "cc_cpl",
    "cq_ur",
    "msix",
    "intx_assert",
    "intx_deassert",
    # failed DMA reads (any client's), by the read engine's status code: 1 UR, 2 CA, 3 poisoned or malformed
    # completion, 4 completion timeout
    "rd_err_ur",
    "rd_err_ca",
    "rd_err_cpl",
    "rd_err_timeout",
)
REG_CNT_BASE = 0x080

SELFTEST_RAM_BYTES = 8192

# self-test status fields
ST_BUSY = 1 << 0
ST_DONE = 1 << 1
ST_ERROR = 1 << 2
DMA_ERRORS = {0: "ok", 1: "unsupported request", 2: "completer abort", 3: "completion error", 4: "timeout"}
SETUP_ERRORS = {0: "ok", 1: "bad length", 2: "bus mastering disabled"}


@dataclass(frozen=True)
class TxParams:
    """TX_PARAMS: what the TX engine was built with that a judge of its DMA must know (the checkers read it
    from the device rather than keep a copy of the RTL's numbers)."""

    desc_window: int  # descriptors per prefetch read (one read starts at a descriptor the engine needs)
    max_batch: int  # avail.ring entries per ring read
    indirect_max: int  # longest INDIRECT table, in entries

    @classmethod
    def decode(cls, word: int) -> TxParams:
        return cls(desc_window=word & 0xFF, max_batch=word >> 8 & 0xFF, indirect_max=word >> 16 & 0xFFFF)


@dataclass
class SelfTestResult:
    status: int
    cycles: int

    @property
    def ok(self) -> bool:
        return bool(self.status & ST_DONE) and not self.status & ST_ERROR

    @property
    def read_error(self) -> int:
        return (self.status >> 4) & 0xF

    @property
    def write_error(self) -> int:
        return (self.status >> 8) & 0xF

    @property
    def setup_error(self) -> int:
        return (self.status >> 12) & 0xF

    def describe(self) -> str:
        if self.ok:
            return f"ok in {self.cycles} cycles"
        return (
            f"status {self.status:#06x}: read {DMA_ERRORS.get(self.read_error, self.read_error)}, "
            f"write {DMA_ERRORS.get(self.write_error, self.write_error)}, "
            f"setup {SETUP_ERRORS.get(self.setup_error, self.setup_error)}"
        )


class DebugBar:
    def __init__(self, platform: Platform, bar: int = DEBUG_BAR):
        self.p = platform
        self.bar = bar

    async def read(self, reg: int) -> int:
        return await self.p.bar_read(self.bar, reg, 4)

    async def write(self, reg: int, value: int) -> None:
        await self.p.bar_write(self.bar, reg, value & 0xFFFFFFFF, 4)

    async def cycles(self) -> int:
        lo = await self.read(REG_CYCLE_LO)  # latches the upper half
        return (await self.read(REG_CYCLE_HI)) << 32 | lo

    async def counters(self) -> dict[str, int]:
        return {name: await self.read(REG_CNT_BASE + 4 * i) for i, name in enumerate(COUNTERS)}

    async def tx_params(self) -> TxParams:
        return TxParams.decode(await self.read(REG_TX_PARAMS))

    async def clear_counters(self) -> None:
        await self.write(REG_CNT_CLEAR, 1)

    async def selftest(
        self, src: int, dst: int, length: int, timeout_ns: float = 1_000_000, poll_ns: float = 200
    ) -> SelfTestResult:
        """Run one DMA self-test: host ``src`` -> device RAM -> host ``dst``."""
        await self.write(REG_ST_SRC_LO, src)
        await self.write(REG_ST_SRC_HI, src >> 32)
        await self.write(REG_ST_DST_LO, dst)
        await self.write(REG_ST_DST_HI, dst >> 32)
        await self.write(REG_ST_LEN, length)
        await self.write(REG_ST_CTRL, 1)
        start = self.p.now_ns()
        while True:
            status = await self.read(REG_ST_STATUS)
            if not status & ST_BUSY:
                return SelfTestResult(status, await self.read(REG_ST_CYCLES))
            if self.p.now_ns() - start > timeout_ns:
                raise PlatformTimeout(f"DMA self-test still busy after {timeout_ns} ns (status {status:#x})")
            await self.p.sleep_ns(poll_ns)
