"""How every benchmark ends: its table, stamped with the machine it ran on, on stdout."""

from __future__ import annotations

from .procstats import machine
from .stats import Table


def emit(table: Table) -> None:
    table.note(f"machine: {machine().describe()}")
    print(table.render(), flush=True)
