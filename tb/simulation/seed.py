"""One seed convention for every simulation test: printed, and ``SEED=<n>`` replays it.

cocotb seeds each test from the run's seed (``COCOTB_RANDOM_SEED``: sim/runner.py passes ``SEED`` when it
is given and draws one otherwise) and the test's full name; a test's own generators derive from that
per-test seed (``cocotb.RANDOM_SEED`` while the test runs) and the generator's name, so every test and
every generator in it get different numbers, and the run's seed alone reproduces all of them. The failure
report names the run's seed and its rerun command passes it back as ``SEED``.
"""

from __future__ import annotations

import logging
import os
import random
import zlib

import cocotb


def seed_for(name: str, log: logging.Logger | None = None) -> int:
    """The seed of the generator ``name`` in the running test (logged with the run seed that replays it)."""
    # crc32, not hash(): str hashes change from one Python process to the next
    seed = (cocotb.RANDOM_SEED ^ zlib.crc32(name.encode())) & 0xFFFFFFFF
    run_seed = os.environ.get("COCOTB_RANDOM_SEED", "?")
    (log or logging.getLogger("tb")).info(
        "random seed for %s: %d (from the run's seed: rerun with SEED=%s)", name, seed, run_seed
    )
    return seed


def rng_for(name: str, log: logging.Logger | None = None) -> random.Random:
    """A generator for one test's random choices, seeded by ``seed_for``."""
    return random.Random(seed_for(name, log))
