"""cocotbext-pcie's UltraScale+ hard-block model without per-clock Python where nothing happens.

Simulation only. ``UltraScalePlusPcieDevice`` runs several coroutines that wake on every rising edge of
``user_clk`` to copy configuration state onto ``cfg_*`` outputs and to sample ``cfg_interrupt_msix_int``.
On this device that was about half of a system test's Python time (a profile of ``tx_end_to_end``: the
interrupt loop 20 %, the status loop 6 %, plus the scheduler's cost of resuming them ~95,000 times), while
their outputs change a handful of times per test. This subclass keeps each loop's behaviour at the clock
edges where it matters and sleeps in between:

- configuration outputs (``cfg_max_payload``, ``cfg_max_read_req``, ``cfg_function_status``,
  ``cfg_rcb_status``, ``cfg_interrupt_msix_enable`` / ``_mask``, link status) are recomputed at the first
  clock edge after a configuration write reaches a function (the only way they change), and written only
  when their value changes;
- ``cfg_interrupt_msix_int`` is sampled at clock edges only while it is high (the loop waits for its rising
  edge), with ``_sent`` / ``_fail`` pulsed for one cycle exactly as the model does;
- the completer-request credit counter (no ``pcie_cq_np_req`` port: one credit per cycle, saturating at
  32) is computed from the cycles elapsed instead of being incremented every cycle;
- ``cfg_local_error_*`` is pulsed at the first edge after the model queues an error;
- one thing the model lacks is added: the hard block's **completion timeout** (``set_completion_timeout``),
  off unless a test sets it, as in the model;
- ``user_clk`` is cocotb's C++ clock (``Clock(impl="gpi")``, toggled by the simulator interface) instead of
  the Python coroutine the model starts by default, which woke Python twice per cycle (about a fifth of a
  test's Python time on Icarus).

A loop falls back to the model's own per-clock version when the DUT connects a port this class does not
model event by event (``sys_reset``, ``pcie_cq_np_req``, ``cfg_config_space_enable``, ``cfg_bus_number``,
MSI, sequence-number or tag ports), so the class is safe on any US+ DUT, only not faster there.
"""

from __future__ import annotations

from typing import Literal

import cocotb
import cocotbext.pcie.xilinx.us.usp_model as _usp_model  # type: ignore[import-untyped]  # ships no type information
from cocotb.clock import Clock
from cocotb.triggers import Event, First, RisingEdge, Timer
from cocotb.utils import get_sim_time
from cocotbext.pcie.core.tlp import TlpAttr, TlpType  # type: ignore[import-untyped]  # ships no type information
from cocotbext.pcie.xilinx.us import UltraScalePlusPcieDevice
from cocotbext.pcie.xilinx.us.tlp import ErrorCode, Tlp_us  # type: ignore[import-untyped]  # ships no type information

_TimeUnit = Literal["step", "fs", "ps", "ns", "us", "ms", "sec"]

_NP_TYPES = {TlpType.IO_READ, TlpType.IO_WRITE, TlpType.MEM_READ, TlpType.MEM_READ_64}
_NP_CREDIT_MAX = 32


def _gpi_clock(signal, period, units: _TimeUnit = "ns") -> Clock:
    return Clock(signal, period, unit=units, impl="gpi")


class EventDrivenUspDevice(UltraScalePlusPcieDevice):
    def __init__(self, *args, **kwargs):
        # the base __init__ forks the loops, which need these: one event per loop that follows the
        # configuration, set on every change (and at start, so each drives its outputs once)
        self._status_changed = Event()
        self._int_changed = Event()
        self._config_changed()
        # the model builds its clock with the module's Clock: hand it the C++ one for this construction
        _usp_model.Clock = _gpi_clock
        try:
            super().__init__(*args, **kwargs)
        finally:
            _usp_model.Clock = Clock
        self._period_ps = round(1e12 / self.user_clk_frequency)
        for f in self.functions:
            self._watch_config_writes(f)
        self._watch_local_errors()
        self.cpl_timeout_ns: float | None = None
        self.cpl_timeouts = 0  # requests this model has timed out
        self._cpl_timeout_task = None

    # -- completion timeout ----------------------------------------------------------------------------
    def set_completion_timeout(self, ns: float | None) -> None:
        """Time out, after ``ns``, every non-posted request of the DUT the link has not completed, as the
        hard block does (PCIe's completion timeout, its range in Device Control 2; PG213/PG156: a requester
        completion descriptor with error code 1001 for the tag, Request Completed set, the tag freed).
        cocotbext-pcie's model has no such timer: a request whose completion never comes keeps its tag for
        ever, and the DUT's own backstop timeout then reuses a tag the model still holds. ``None`` turns it
        off (the default). The check runs every ``ns / 8``, so a request times out ``ns`` to ``1.125 ns``
        after the model first saw it outstanding."""
        self.cpl_timeout_ns = ns
        if self._cpl_timeout_task is not None:
            self._cpl_timeout_task.cancel()
            self._cpl_timeout_task = None
        if ns is not None:
            self._cpl_timeout_task = cocotb.start_soon(self._run_cpl_timeout(ns))

    async def _run_cpl_timeout(self, ns: float) -> None:
        seen: dict[int, tuple[object, float]] = {}  # tag -> (the request, when it was first seen outstanding)
        while True:
            await Timer(ns / 8, "ns")
            now = get_sim_time("ns")
            for tag, req in enumerate(self.active_request):
                if req is None:
                    seen.pop(tag, None)
                    continue
                first = seen.get(tag)
                if first is None or first[0] is not req:
                    seen[tag] = (req, now)
                elif now - first[1] >= ns:
                    seen.pop(tag)
                    self._time_out(tag, req)

    def _time_out(self, tag: int, req) -> None:
        cpl = Tlp_us()
        cpl.fmt_type = TlpType.CPL
        cpl.requester_id = req.requester_id
        cpl.tag = tag
        cpl.tc, cpl.attr = req.tc, req.attr
        cpl.lower_address = req.address & 0x7F  # only bits 6:0 are valid with an error (PG213)
        cpl.byte_count = 0
        cpl.error_code = ErrorCode.TIMEOUT
        cpl.request_completed = True
        self.active_request[tag] = None
        self.tag_available_count = self.get_available_tag_count()
        self.cpl_timeouts += 1
        self.log.warning("Completion timeout: tag %d (%r)", tag, req)
        # the RC queue's reader frees one header and (data credits + 1) of the completion buffer per TLP
        self.rx_buf_cplh_fc_count += 1
        self.rx_buf_cpld_fc_count += 1
        self.rc_queue.put_nowait(cpl)

    # -- change notification ---------------------------------------------------------------------------
    def _watch_config_writes(self, func) -> None:
        inner = func.write_config_register

        async def write_config_register(reg, data, mask):
            await inner(reg, data, mask)
            self._config_changed()

        func.write_config_register = write_config_register

    def _watch_local_errors(self) -> None:
        queue = self.local_error
        inner = queue.put_nowait

        def put_nowait(item):
            inner(item)
            self._config_changed()

        queue.put_nowait = put_nowait

    def _config_changed(self) -> None:
        self._status_changed.set()
        self._int_changed.set()

    def _cycle(self) -> int:
        return int(get_sim_time("ps")) // self._period_ps

    @staticmethod
    def _drive(signal, value: int, last: dict, key: str) -> None:
        if signal is not None and last.get(key) != value:
            signal.value = value
            last[key] = value

    # -- completer requests (CQ) --------------------------------------------------------------------------
    async def _run_cq_logic(self):
        if self.pcie_cq_np_req is not None or self.pcie_cq_np_req_count is not None:
            return await super()._run_cq_logic()
        edge = RisingEdge(self.user_clk)
        last_cycle = self._cycle()
        first = None
        while True:
            if first is None and self.cq_queue.empty() and self.cq_np_queue.empty():
                first = await self.cq_queue.get()
            await edge
            now = self._cycle()
            # the model adds one credit per cycle (no pcie_cq_np_req port), saturating at 32
            self.cq_np_req_count = min(
                self.cq_np_req_count + (now - last_cycle),  # type: ignore[has-type]  # cocotbext-pcie: untyped
                _NP_CREDIT_MAX,
            )
            last_cycle = now

            while not self.cq_np_queue.empty() and self.cq_np_req_count > 0:
                tlp = self.cq_np_queue.get_nowait()
                self.cq_np_req_count -= 1
                await self.cq_source.send(tlp.pack_us_cq())

            while first is not None or not self.cq_queue.empty():
                tlp, first = (first, None) if first is not None else (self.cq_queue.get_nowait(), None)
                if tlp.fmt_type in _NP_TYPES:
                    if self.cq_np_req_count > 0:
                        self.cq_np_req_count -= 1
                        await self.cq_source.send(tlp.pack_us_cq())
                    else:
                        self.cq_np_queue.put_nowait(tlp)
                else:
                    await self.cq_source.send(tlp.pack_us_cq())

    # -- requester sequence numbers and tags ---------------------------------------------------------------
    async def _run_rq_seq_num_logic(self):
        if self.pcie_rq_seq_num0 is not None or self.pcie_rq_seq_num1 is not None:
            return await super()._run_rq_seq_num_logic()
        while True:  # no port to report them on: the model only drains the queue
            await self.rq_seq_num.get()

    # -- configuration control and status --------------------------------------------------------------------
    async def _run_cfg_ctrl_logic(self):
        if self.sys_reset is not None or self.cfg_config_space_enable is not None or self.cfg_bus_number is not None:
            return await super()._run_cfg_ctrl_logic()
        self.config_space_enable = True

    def _status_values(self) -> dict[str, int]:
        f0 = self.functions[0]
        function_status = rcb = 0
        for k, f in enumerate(self.functions):
            if f.bus_master_enable:
                function_status |= 0x07 << k * 4
            if f.interrupt_disable:
                function_status |= 0x08 << k * 4
            if f.pcie_cap.read_completion_boundary:
                rcb |= 1 << k
        msix_enable = msix_mask = 0
        for k, f in enumerate(self.functions[:4]):
            if f.msix_cap.msix_enable:
                msix_enable |= 1 << k
            if f.msix_cap.msix_function_mask:
                msix_mask |= 1 << k
        return {
            "cfg_phy_link_down": 0,
            "user_lnk_up": 1,
            "cfg_negotiated_width": min(max(f0.pcie_cap.negotiated_link_width.bit_length() - 1, 0), 4),
            "cfg_current_speed": min(max(f0.pcie_cap.current_link_speed - 1, 0), 3),
            "cfg_max_payload": f0.pcie_cap.max_payload_size & 3,
            "cfg_max_read_req": f0.pcie_cap.max_read_request_size,
            "cfg_function_status": function_status,
            "cfg_rcb_status": rcb,
            "cfg_interrupt_msix_enable": msix_enable,
            "cfg_interrupt_msix_mask": msix_mask,
        }

    async def _run_cfg_status_logic(self):
        if self.sys_reset is not None:
            return await super()._run_cfg_status_logic()
        edge = RisingEdge(self.user_clk)
        last: dict[str, int] = {}
        error_valid = False
        while True:
            await edge
            self._status_changed.clear()
            for name, value in self._status_values().items():
                if name.startswith("cfg_interrupt_msix"):
                    continue  # driven by the interrupt loop, as in the model
                self._drive(getattr(self, name), value, last, name)
            if self.cfg_local_error_out is not None:
                if not self.local_error.empty():
                    self.cfg_local_error_out.value = self.local_error.get_nowait()
                    self.cfg_local_error_valid.value = 1
                    error_valid = True
                    continue
                if error_valid:
                    self.cfg_local_error_out.value = 0
                    self.cfg_local_error_valid.value = 0
                    error_valid = False
            await self._status_changed.wait()

    # -- interrupts ------------------------------------------------------------------------------------------
    def _msi_ports_connected(self) -> bool:
        return any(
            getattr(self, name) is not None
            for name in (
                "cfg_interrupt_msi_int",
                "cfg_interrupt_msi_enable",
                "cfg_interrupt_msi_sent",
                "cfg_interrupt_msi_fail",
                "cfg_interrupt_msi_mmenable",
                "cfg_interrupt_msi_data",
                "cfg_interrupt_msi_select",
                "cfg_interrupt_msi_pending_status_data_enable",
                "cfg_interrupt_msi_attr",
            )
        )

    async def _run_cfg_int_logic(self):
        if self._msi_ports_connected():
            return await super()._run_cfg_int_logic()
        edge = RisingEdge(self.user_clk)
        last: dict[str, int] = {}
        pulse = False  # _sent / _fail high since the last edge
        msix_int_sig = self.cfg_interrupt_msix_int
        msix_rise = RisingEdge(msix_int_sig) if msix_int_sig is not None else None
        while True:
            await edge
            self._int_changed.clear()
            values = self._status_values()
            self._drive(self.cfg_interrupt_msix_enable, values["cfg_interrupt_msix_enable"], last, "en")
            self._drive(self.cfg_interrupt_msix_mask, values["cfg_interrupt_msix_mask"], last, "mask")
            if pulse:
                if self.cfg_interrupt_msix_sent is not None:
                    self.cfg_interrupt_msix_sent.value = 0
                if self.cfg_interrupt_msix_fail is not None:
                    self.cfg_interrupt_msix_fail.value = 0
                pulse = False
            try:
                msix_int = int(msix_int_sig.value) if msix_int_sig is not None else 0
            except ValueError:  # X before the DUT's reset (Icarus)
                msix_int = 0
            if msix_int:
                function = 0
                if self.cfg_interrupt_msi_function_number is not None:
                    function = int(self.cfg_interrupt_msi_function_number.value)
                if function < len(self.functions):
                    address = int(self.cfg_interrupt_msix_address.value)
                    data = int(self.cfg_interrupt_msix_data.value)
                    self.log.info("Issue MSI-X interrupt (addr 0x%08x, data 0x%08x)", address, data)
                    await self.functions[function].msix_cap.issue_msix_interrupt(address, data, attr=TlpAttr(0))
                    if self.cfg_interrupt_msix_sent is not None:
                        self.cfg_interrupt_msix_sent.value = 1
                        pulse = True
                continue  # sample again at the next edge (the line may still be high)
            if pulse:
                continue
            # nothing to do until the DUT raises the request or the configuration changes
            if msix_rise is None:
                await self._int_changed.wait()
            else:
                await First(self._int_changed.wait(), msix_rise)
