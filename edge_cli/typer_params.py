"""Parameter coercion without pydantic for the plain values this CLI takes (str, int, float, Path).

Typer (>= 0.20) coerces every non-flag parameter of the command being run through a pydantic
`TypeAdapter`, so running any command with an option imports pydantic and builds one adapter per
parameter: about 40 % of `import typer` again before the command starts, even when every option is left
at its default. `install()` puts a cheaper coercer in front for the values whose answer is obvious — None,
a string for a `str`, a decimal integer for an `int`, a path for a `Path` (typer's own path checks still
run) — and hands everything else (choices, bounds it would refuse, odd spellings, any other type) to
typer's own coercion, so refusals keep typer's exact messages.

It relies on two internals of typer (`_TyperParameter.get_runtime_param`, `coerce_cli_path`); if a typer
release moves them, `install()` does nothing and the CLI is only slower.
"""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
#: "no obvious answer: ask typer".
DELEGATE = object()


def _main_type(annotation: Any) -> Any:
    """`X` for `X | None` / `Optional[X]`, else the annotation itself."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _in_bounds(number: float, info: Any) -> bool:
    return (info.min is None or number >= info.min) and (info.max is None or number <= info.max)


def plain_value(annotation: Any, info: Any, value: Any) -> Any:
    """The coerced value when it is obvious, else `DELEGATE`. Pure: no typer, no pydantic."""
    if (
        getattr(info, "parser", None) is not None
        or getattr(info, "click_type", None) is not None
        or getattr(info, "clamp", False)
    ):
        return DELEGATE
    kind = _main_type(annotation)
    if kind is str:
        return value if isinstance(value, str) else DELEGATE
    if kind is int:
        if isinstance(value, str) and _INT.match(value):
            number = int(value)
        elif type(value) is int:
            number = value
        else:
            return DELEGATE
        return number if _in_bounds(number, info) else DELEGATE
    if kind is float:
        if not ((isinstance(value, str) and _FLOAT.match(value)) or type(value) in (int, float)):
            return DELEGATE
        real = float(value)
        return real if _in_bounds(real, info) else DELEGATE
    if kind is Path and info.path_type is None:
        if isinstance(value, str):
            return Path(value)
        return value if isinstance(value, Path) else DELEGATE
    return DELEGATE


class PlainRuntimeParam:
    """Typer's runtime-coercion contract (`coerce`), answering the obvious cases itself."""

    def __init__(self, descriptor: Any, build_typer_param: Any, coerce_path: Any) -> None:
        self._descriptor = descriptor
        self._build = build_typer_param
        self._coerce_path = coerce_path
        self._typer_param: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multi = param.multiple or param.nargs == -1
        if value is None:
            return () if multi else None
        if not multi:
            info = self._descriptor.parameter_info
            plain = plain_value(self._descriptor.annotation, info, value)
            if plain is not DELEGATE:
                if isinstance(plain, Path):  # typer's checks: exists, file_okay, dir_okay, resolve_path …
                    return self._coerce_path(plain, info, path_type=Path, param=param, ctx=ctx)
                return plain
        if self._typer_param is None:
            self._typer_param = self._build(self._descriptor)
        return self._typer_param.coerce(value, param=param, ctx=ctx)


def install() -> bool:
    """Put `PlainRuntimeParam` in front of typer's coercion; False (and nothing changed) if typer moved."""
    try:
        from typer._coercion import build_runtime_param
        from typer._param_types import coerce_cli_path
        from typer.core import _TyperParameter
    except ImportError:
        return False
    if not hasattr(_TyperParameter, "get_runtime_param") or getattr(_TyperParameter, "_edge_plain", False):
        return getattr(_TyperParameter, "_edge_plain", False)

    def get_runtime_param(self: Any) -> Any:
        if getattr(self, "_runtime_param", None) is None:
            self._runtime_param = PlainRuntimeParam(self.type_descriptor, build_runtime_param, coerce_cli_path)
        return self._runtime_param

    target: Any = _TyperParameter
    target._edge_typer_get_runtime_param = target.get_runtime_param  # typer's own, kept for the tests
    target.get_runtime_param = get_runtime_param
    target._edge_plain = True
    return True
