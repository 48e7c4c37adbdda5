"""Parsing esbuild's text log into `file:line:column: message` lines and a hint (no esbuild run needed)."""

from __future__ import annotations

import pytest

from bundler.diagnostics import EsbuildMessage, build_error_from_esbuild, package_of, parse_errors

# Captured from esbuild 0.28.2 with --log-level=error --color=false.
LOG = """\u2718 [ERROR] No loader is configured for ".node" files: node_modules/fakenative/addon.node

    node_modules/fakenative/index.js:1:25:
      1 \u2502 module.exports = require("./addon.node");
        \u2575                          ~~~~~~~~~~~~~~

\u2718 [ERROR] Expected "}" but found "let"

    src/tools/bad.ts:2:0:
      2 \u2502 let x = ;
        \u2502 ~~~
        \u2575 }

\u2718 [ERROR] Could not resolve "left-pad"

    src/tools/unres.ts:1:15:
      1 \u2502 import lp from "left-pad";
        \u2575                ~~~~~~~~~~

  You can mark the path "left-pad" as external to exclude it from the bundle, which will remove this error and leave the unresolved path in the bundle.

"""


def test_parse_errors_reads_messages_and_one_based_locations_sorted_by_file():
    assert parse_errors(LOG) == [
        EsbuildMessage(
            'No loader is configured for ".node" files: node_modules/fakenative/addon.node',
            "node_modules/fakenative/index.js",
            1,
            26,
        ),
        EsbuildMessage('Expected "}" but found "let"', "src/tools/bad.ts", 2, 1),
        EsbuildMessage('Could not resolve "left-pad"', "src/tools/unres.ts", 1, 16),
    ]


def test_errors_without_location_and_windows_markers():
    log = 'X [ERROR] Cannot use "--outfile" with multiple input files\n\nX [ERROR] Could not read from file: x.ts\n'
    assert [str(m) for m in parse_errors(log)] == [
        'Cannot use "--outfile" with multiple input files',
        "Could not read from file: x.ts",
    ]


def test_native_addon_wins_the_hint():
    error = build_error_from_esbuild(LOG, "/p")
    assert error.message.splitlines() == [
        "node_modules/fakenative/index.js:1:26: native addon node_modules/fakenative/addon.node cannot be bundled "
        "(a compiled .node file, not JavaScript)",
        'src/tools/bad.ts:2:1: Expected "}" but found "let"',
        "src/tools/unres.ts:1:16: Could not resolve \"left-pad\": package 'left-pad' is not installed",
    ]
    assert "native addons cannot be shipped" in error.hint


def test_missing_packages_are_listed_once_in_the_npm_install_hint():
    log = "".join(
        f'\u2718 [ERROR] Could not resolve "{spec}"\n\n    src/tools/{i}.ts:1:1:\n'
        for i, spec in enumerate(["@scope/pkg/deep/file", "lodash/fp", "lodash", "./local"])
    )
    error = build_error_from_esbuild(log, "/proj")
    assert error.hint == "Run `npm install @scope/pkg lodash` in /proj, then build again"
    assert error.message.splitlines()[-1] == 'src/tools/3.ts:1:2: Could not resolve "./local"'


def test_unparseable_output_still_gives_a_one_line_error():
    error = build_error_from_esbuild("something odd happened\nfatal: boom\n", "/p")
    assert error.message == "esbuild failed: fatal: boom"


@pytest.mark.parametrize(
    ("spec", "package"),
    [
        ("ms", "ms"),
        ("lodash/fp", "lodash"),
        ("@scope/pkg", "@scope/pkg"),
        ("@scope/pkg/x/y", "@scope/pkg"),
        ("./x", None),
        ("../x", None),
        ("/abs/x", None),
        ("node:fs", None),
        ("C:/x", None),
    ],
)
def test_package_of(spec, package):
    assert package_of(spec) == package
