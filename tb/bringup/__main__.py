"""``python3 -m tb.bringup``: the bring-up command line (tb/bringup/cli.py), as ``vnet-bringup``."""

import sys

from tb.bringup.cli import main

sys.exit(main())
