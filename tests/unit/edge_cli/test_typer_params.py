"""The CLI's pydantic-free parameter coercion answers exactly what typer's own would, or defers to it."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from edge_cli import typer_params
from edge_cli.typer_params import DELEGATE, plain_value

runner = CliRunner()


def _info(**overrides):
    info = typer.Option(None)
    for name, value in overrides.items():
        setattr(info, name, value)
    return info


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        (str, "hello", "hello"),
        (str | None, "", ""),
        (int, "42", 42),
        (int, "-7", -7),
        (int | None, 3, 3),
        (float, "1.5", 1.5),
        (float, "2", 2.0),
        (float, 2, 2.0),
        (Path, "a/b", Path("a/b")),
        (Path | None, Path("x"), Path("x")),
    ],
)
def test_obvious_values_are_coerced_without_typer(annotation, value, expected):
    got = plain_value(annotation, _info(), value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("annotation", "value", "info"),
    [
        (int, "abc", _info()),  # typer's refusal message, not ours
        (int, "1_000", _info()),  # an odd spelling: typer decides
        (int, True, _info()),
        (float, "nan?", _info()),
        (int, "0", _info(min=1)),  # out of bounds: typer's message
        (float, "0.0001", _info(min=0.001)),
        (int, "5", _info(clamp=True, max=3)),
        (str, b"bytes", _info()),
        (list[str], "a", _info()),
        (bool, "yes", _info()),
    ],
)
def test_anything_else_goes_to_typer(annotation, value, info):
    assert plain_value(annotation, info, value) is DELEGATE


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def run(
        count: int = typer.Option(1, "--count", min=1, max=5),
        ratio: float = typer.Option(None, "--ratio", min=0.001),
        name: str = typer.Option(None, "--name"),
        where: Path = typer.Option(None, "--where", exists=True),
        tags: list[str] = typer.Option(None, "--tag"),
    ) -> None:
        typer.echo(f"{count!r} {ratio!r} {name!r} {where!r} {tags!r}")

    return app


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--count", "3", "--ratio", "0.5", "--name", "x", "--tag", "a", "--tag", "b"],
        ["--count", "9"],
        ["--count", "x"],
        ["--ratio", "0"],
        ["--where", "/definitely/not/here"],
        ["--where", "/"],
    ],
)
def test_a_command_answers_the_same_with_and_without_the_plain_coercer(monkeypatch, args):
    from typer.core import _TyperParameter

    assert typer_params.install()
    ours_getter = _TyperParameter.get_runtime_param
    monkeypatch.setattr(_TyperParameter, "get_runtime_param", _TyperParameter._edge_typer_get_runtime_param)
    theirs = runner.invoke(_app(), args)  # a fresh app each time: its parameters cache their coercer
    monkeypatch.setattr(_TyperParameter, "get_runtime_param", ours_getter)
    ours = runner.invoke(_app(), args)
    assert (ours.exit_code, ours.output) == (theirs.exit_code, theirs.output)
    assert ours.exit_code == (0 if args in ([], ["--where", "/"]) or "--tag" in args else 2)
