"""How every benchmark ends: its table, stamped with the machine it ran on and how busy it was, on stdout."""

from __future__ import annotations

import os

from .procstats import machine
from .stats import Table


def emit(table: Table) -> None:
    table.note(f"machine: {machine().describe()}")
    one, five, fifteen = os.getloadavg()
    table.note(
        f"load average at the end (1/5/15 min): {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"
    )
    print(table.render(), flush=True)
