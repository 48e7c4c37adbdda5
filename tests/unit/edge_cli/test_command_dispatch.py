"""A run registers only the command it invokes; the root's help, no command and unknown names get them all."""

from __future__ import annotations

import pkgutil

import pytest

import edge_cli.commands
from edge_cli.app import COMMAND_MODULES, command_module


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["status"], "status"),
        (["status", "--help"], "status"),
        (["call", "echo", "{}", "--platform", "http://127.0.0.1:1"], "call"),
        (["--debug", "build", "."], "build"),
        (["--debug", "--debug", "deployment", "list"], "deployment"),
        (["secret", "put", "status"], "secret"),  # the first word is the command, later ones are its arguments
    ],
)
def test_the_invoked_command_is_found(args, expected):
    assert command_module(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        [],  # no command: the root's help
        ["--help"],
        ["--debug"],
        ["--help", "status"],  # the root's help, whatever follows
        ["statu"],  # unknown: click's "No such command" with its suggestions needs every name
        ["Status"],
        ["--debug=1", "status"],  # a flag given a value: click's own error
        ["--", "status"],
        ["commands"],
    ],
)
def test_every_command_is_registered_when_no_single_one_is_invoked(args):
    assert command_module(args) is None


def test_every_command_module_is_listed_and_registers_its_own_name():
    modules = {m.name for m in pkgutil.iter_modules(edge_cli.commands.__path__)}
    assert modules == set(COMMAND_MODULES)
    from edge_cli.app import build_app

    for name in COMMAND_MODULES:
        registered = build_app([name]).registered_commands + build_app([name]).registered_groups
        assert [command.name for command in registered] == [name]


def test_the_full_application_has_every_command():
    import typer.main

    from edge_cli.app import app

    assert set(typer.main.get_command(app).commands) == set(COMMAND_MODULES)
