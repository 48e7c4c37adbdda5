"""The documentation stays true: the CLI reference is current, the troubleshooting page quotes the
product's messages, and every relative link in docs/ (and the README) lands on a file and heading."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_cli_docs", REPO / "scripts" / "gen_cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- CLI reference ---------------------------------------------------------------------------


def test_cli_reference_is_current() -> None:
    generator = _load_generator()
    current = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert current == generator.render(), (
        "docs/cli.md is stale: run `.venv/bin/python scripts/gen_cli_docs.py` and commit the result"
    )


def test_cli_reference_documents_every_command_and_option() -> None:
    generator = _load_generator()
    page = generator.render()
    root = generator.root_command()

    def walk(command, path):
        yield command, path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            if not sub.hidden:
                yield from walk(sub, [*path, name])

    seen = 0
    for command, path in walk(root, [generator.PROGRAM]):
        if len(path) > 1:
            assert f"`{' '.join(path)}`" in page, f"no section for {' '.join(path)}"
            seen += 1
        for param in command.params:
            if param.param_type_name == "option" and not param.hidden and param.name != "help":
                assert f"`{param.opts[0]}`" in page, f"{' '.join(path)} {param.opts[0]} is not documented"
    assert seen == len(re.findall(r"^#{2,4} `edge-connector ", page, flags=re.M))


def test_cli_reference_check_mode_reports_a_stale_page(tmp_path, monkeypatch, capsys) -> None:
    generator = _load_generator()
    stale = tmp_path / "cli.md"
    stale.write_text("# out of date\n")
    monkeypatch.setattr(generator, "CLI_DOC", stale)
    monkeypatch.setattr(generator, "REPO", tmp_path)
    assert generator.main(["--check"]) == 1
    assert "is stale: run .venv/bin/python scripts/gen_cli_docs.py" in capsys.readouterr().err
    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0


# ---- troubleshooting ---------------------------------------------------------------------------

# Every message, command and setting the reference troubleshooting page
# (shared/reference/troubleshooting-page.txt) quotes, as the product prints or accepts it.
REFERENCE_QUOTES = [
    "ECONNREFUSED",
    "TOOL_RPC_URL",
    "config.json",
    "wss://",
    "Token validation failed",
    "Token has expired",
    "No authentication token found",
    "No organization in token",
    "edge-connector auth --browser",
    "edge-connector auth --token <new-token>",
    "auth-token.json",
    "AUTH_TOKEN_PATH",
    "orgId",
    "orgs",
    "DEPLOYMENT_ID",
    "DEPLOYMENT_SECRET",
    "Bundle sync error",
    "curl http://localhost:8080/statusz",
    "edge-connector bundle list",
    "edge-connector bundle set-default",
    "manifest.json",
    "dist/",
    "HEALTH_PORT",
    "/healthz",
    "/statusz",
    "/livez",
    "edge-runtime.lock",
    "Edge runtime already running (pid",
    "Disconnected from platform server",
    "Deployment already connected",
    "connector unavailable",
    "edge-connector upload",
    "EC_DISABLE_TRAY=1",
    "EC_DISABLE_AUTOSTART=1",
    "50 MB",
    "10 minutes",
    "5 seconds",
    "60 seconds",
    "30 seconds",
]

REFERENCE_SYMPTOMS = [
    "Authentication failed",
    "Bundle sync failed",
    "Tool execution timeout",
    "Health check failing",
    "Process lock conflict",
    "WebSocket disconnects",
]


@pytest.fixture(scope="module")
def troubleshooting() -> str:
    return (DOCS / "troubleshooting.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("quote", REFERENCE_QUOTES)
def test_troubleshooting_quotes_the_reference_message(troubleshooting: str, quote: str) -> None:
    assert quote in troubleshooting


def test_troubleshooting_has_a_section_per_reference_symptom(troubleshooting: str) -> None:
    headings = set(re.findall(r"^## (.+)$", troubleshooting, flags=re.M))
    missing = [symptom for symptom in REFERENCE_SYMPTOMS if symptom not in headings]
    assert not missing, f"no section for {missing}"
    assert any("ECONNREFUSED" in heading for heading in headings)


def test_troubleshooting_messages_are_the_products_own(troubleshooting: str) -> None:
    """The quoted messages are the texts the code really uses (not paraphrases that drifted)."""
    sources = "\n".join(
        path.read_text(encoding="utf-8")
        for package in ("edge_protocol", "edge_runtime", "mock_platform", "edge_cli")
        for path in (REPO / package).rglob("*.py")
    )
    for message in (
        "Token has expired",
        "No authentication token found",
        "No organization in token",
        "Token validation failed",
        "Edge runtime already running (pid",
        "Deployment already connected",
        "Disconnected from platform server",
        "Bundle sync error",
        "No bundle assigned",
        "connector unavailable",
        "Cannot connect to platform server",
        "nothing is listening at",
        "is already in use: set HEALTH_PORT",
        "Took over a stale lock in",
        "Deployment credentials invalid",
        "re-authenticate with",
    ):
        assert message in troubleshooting, f"{message!r} is not on the troubleshooting page"
        assert message in sources, f"{message!r} is documented but no module prints it"


# ---- links -------------------------------------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", flags=re.M | re.S)


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(markdown: str) -> set[str]:
    body = _FENCE.sub("", markdown)
    return {_slug(match) for match in re.findall(r"^#{1,6} (.+?)\s*$", body, flags=re.M)}


def _pages() -> list[Path]:
    return sorted(DOCS.glob("**/*.md")) + [REPO / "README.md"]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: …
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and destination.suffix == ".md" and anchor not in _anchors(destination.read_text(encoding="utf-8")):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.relative_to(REPO)} has broken links: {broken}"


def test_docs_index_links_every_page() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for target in _LINK.findall(index)}
    unlinked = [p.name for p in sorted(DOCS.glob("*.md")) if p.name != "README.md" and p.name not in linked]
    assert not unlinked, f"docs/README.md does not link {unlinked}"
