"""The contracts shared by the CLI, the bundler, the runtime and the mock platform.

Nothing in this package does I/O beyond reading and writing the files it is handed: it is the
vocabulary both ends of the wire agree on (see SPEC.md §3 and §7).
"""

__version__ = "0.1.0"
