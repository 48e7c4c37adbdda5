"""Tool-project scaffolds copied by `edge-connector init` (`ts/` and `js/`); shipped inside the wheel.

`{{name}}` in a file is replaced by the bundle name; a file named `gitignore` becomes `.gitignore`
(so packaging tools never mistake it for this repository's own ignore rules).
"""
