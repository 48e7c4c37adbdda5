"""What made a bundle big: metafile inputs grouped by npm package."""

from __future__ import annotations

import pytest

from bundler.size_report import human_bytes, largest_inlined_inputs, package_label, too_large_error


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("node_modules/lodash/lodash.js", "lodash"),
        ("node_modules/@aws-sdk/client-s3/dist/index.js", "@aws-sdk/client-s3"),
        ("node_modules/a/node_modules/b/index.js", "b"),  # nested copy: the package that is inlined
        ("../../tmp/x/node_modules/ms/index.js", "ms"),
        ("src/tools/t.ts", "src/tools/t.ts"),
    ],
)
def test_package_label(path, label):
    assert package_label(path) == label


METAFILE = {
    "inputs": {},
    "outputs": {
        "dist/a.js": {
            "inputs": {
                "node_modules/big/a.js": {"bytesInOutput": 700},
                "node_modules/big/b.js": {"bytesInOutput": 400},
                "node_modules/@s/p/i.js": {"bytesInOutput": 900},
                "src/tools/a.ts": {"bytesInOutput": 50},
            }
        },
        "dist/b.js": {
            "inputs": {"node_modules/big/a.js": {"bytesInOutput": 700}, "src/lib/x.ts": {"bytesInOutput": 50}}
        },
    },
}


def test_largest_inlined_inputs_sums_every_output_and_groups_by_package():
    ranked = [(i.label, i.bytes) for i in largest_inlined_inputs(METAFILE)]
    assert ranked == [("big", 1800), ("@s/p", 900), ("src/lib/x.ts", 50), ("src/tools/a.ts", 50)]
    assert [i.label for i in largest_inlined_inputs(METAFILE, limit=2)] == ["big", "@s/p"]


def test_too_large_error_lists_sizes_and_advice():
    error = too_large_error(60_000_000, METAFILE)
    lines = error.message.splitlines()
    assert lines[0] == "bundle archive is 60,000,000 bytes, over the limit of 52,428,800 bytes (50 MB)"
    assert lines[2].split() == ["big", "1,800", "(1.8", "kB)"]
    assert error.hint == "Reduce inlined dependencies or split the tools across bundles"


def test_human_bytes():
    assert [human_bytes(n) for n in (999, 1500, 52_428_800)] == ["999 B", "1.5 kB", "52.4 MB"]
