"""The dashboard at `GET /`, driven in a real headless Chromium against a real platform and a real runtime.

A user signs in with the dev form, sees the connector, its deployment and bundle, calls a tool through
the form and sees the result and the call in the recent-calls table. Tool descriptions are hostile on
purpose: the page must show them as text, never run them.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest

from tests.support.bundles import JsTool, make_archive
from tests.support.runtime import RuntimeProcess
from tests.support.waiting import wait_until

# Waits go through locators (expect), never wait_for_function: Playwright polls string predicates
# with eval, which the page's Content-Security-Policy rightly blocks.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

EMAIL = "ana@example.com"
ORG = "org-dashboard"
# If the page ever renders user data as HTML, this runs and sets window.__xss.
XSS_DESCRIPTION = 'Echo <img src=x onerror="window.__xss=1"> back'
TOOLS = [
    JsTool(
        "echo",
        "return { echoed: input.message };",
        description=XSS_DESCRIPTION,
        input_schema={
            "type": "object",
            "required": ["message", "count"],
            "properties": {"message": {"type": "string"}, "count": {"type": "integer", "minimum": 1, "maximum": 7}},
            "additionalProperties": False,
        },
    ),
    JsTool("refuse", "throw new ToolError('not_today', 'refusing on purpose', { why: 'test' });"),
]


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _api(platform, token: str) -> httpx.Client:
    return httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.fixture
def connected(platform, tmp_path):
    """A platform with an uploaded default bundle, a deployment, and a runtime of it connected and serving."""
    token = platform.user_token(EMAIL, ORG)
    archive, manifest = make_archive(tmp_path / "bundle", TOOLS, name="dash-tools")
    with _api(platform, token) as api:
        uploaded = api.post(
            "/api/bundles/dash-tools/versions",
            content=archive.read_bytes(),
            headers={"X-Bundle-Checksum": manifest.checksum},
        )
        assert uploaded.status_code == 201, uploaded.text
        assert api.put("/api/bundles/default", json={"name": "dash-tools"}).status_code == 200
        deployment = api.post("/api/deployments", json={"name": "office-pc"}).json()
    runtime = RuntimeProcess(
        tmp_path / "install",
        env={
            "TOOL_RPC_URL": platform.ws_url,
            "DEPLOYMENT_ID": deployment["deploymentId"],
            "DEPLOYMENT_SECRET": deployment["secret"],
        },
    ).start()
    try:
        with _api(platform, token) as api:
            wait_until(
                lambda: any(c["tools"] == ["echo", "refuse"] for c in api.get("/api/connectors").json()["connectors"]),
                20,
                message="the connector to register its tools",
            )
        yield platform, deployment["deploymentId"]
    finally:
        runtime.stop()


@pytest.fixture
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); the dashboard browser test needs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.mark.browser
def test_sign_in_see_the_connector_and_call_a_tool(connected, browser, tmp_path: Path) -> None:
    platform, deployment_id = connected
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(platform.url + "/")
    assert page.is_hidden("#sign-out") and page.is_hidden("#dashboard")
    page.fill("#login-email", EMAIL)
    page.fill("#login-org", ORG)
    page.click("#dev-login-form button[type=submit]")

    # The connector appears with its deployment name, its bundle and its tools.
    row = page.locator(f"#connectors tr[data-deployment='{deployment_id}']")
    row.wait_for(timeout=10_000)
    assert "office-pc" in row.inner_text()
    assert "dash-tools@1" in row.inner_text()
    assert "ready" in row.inner_text()
    assert page.inner_text("#whoami") == f"{EMAIL} · {ORG}"
    # The Live panel opened the tail stream (its token offered as a subprotocol, never in the URL).
    expect(page.locator("#live-state")).to_have_text("live", timeout=10_000)
    assert "connected" in page.inner_text(f"#deployments tr[data-deployment='{deployment_id}']")
    bundle_row = page.inner_text("#bundles tr[data-bundle='dash-tools']")
    assert "v1" in bundle_row and "default" in bundle_row

    # The token stays in the tab's sessionStorage, never in the URL.
    assert page.evaluate("sessionStorage.getItem('edge-connector.dashboard.token')")
    assert "token" not in page.url

    # Hostile descriptions are shown as text and never run.
    page.select_option("#call-tool", "echo")
    assert page.inner_text("#call-tool-description") == XSS_DESCRIPTION
    assert page.evaluate("window.__xss") is None

    # The form is prefilled from the schema; a call through it shows the output.
    assert json.loads(page.input_value("#call-arguments")) == {"message": "", "count": 4}
    page.fill("#call-arguments", json.dumps({"message": "hello from chromium", "count": 2}))
    page.click("#call-submit")
    page.wait_for_selector("#call-result[data-outcome='ok']", timeout=10_000)
    assert json.loads(page.inner_text("#call-output")) == {"echoed": "hello from chromium"}
    assert deployment_id in page.inner_text("#call-summary")

    # A tool error shows its code and message.
    page.select_option("#call-tool", "refuse")
    page.fill("#call-arguments", "{}")
    page.click("#call-submit")
    page.wait_for_selector("#call-result[data-outcome='error']", timeout=10_000)
    assert page.inner_text("#call-summary") == "tool_error · not_today: refusing on purpose"
    assert json.loads(page.inner_text("#call-output")) == {"why": "test"}

    # Arguments that are not JSON are caught before any request.
    page.fill("#call-arguments", "{not json")
    page.click("#call-submit")
    expect(page.locator("#call-summary")).to_have_text(re.compile(r"^Arguments are not valid JSON"))

    # The Live panel got both calls from the tail stream as they ended, oldest first.
    live_calls = page.locator("#live-events li.live-call")
    expect(live_calls).to_have_count(2, timeout=10_000)
    assert "echo" in live_calls.nth(0).inner_text() and live_calls.nth(0).get_attribute("data-outcome") == "ok"
    assert live_calls.nth(1).get_attribute("data-outcome") == "tool_error"
    assert "not_today: refusing on purpose" in live_calls.nth(1).inner_text()
    assert deployment_id in live_calls.nth(0).inner_text()

    # Both calls land in the recent-calls table by themselves (polling), newest first.
    expect(page.locator("#calls tbody tr")).to_have_count(2, timeout=10_000)
    calls = page.locator("#calls tbody tr")
    assert "refuse" in calls.nth(0).inner_text() and "tool_error" in calls.nth(0).inner_text()
    assert "echo" in calls.nth(1).inner_text() and "ok" in calls.nth(1).inner_text()

    # A bundle with a long history (a dev loop makes one version per save) and long names.
    with _api(platform, platform.user_token(EMAIL, ORG)) as api:
        for n in range(30):
            archive, manifest = make_archive(
                tmp_path / f"history-{n}",
                [JsTool("a_tool_with_a_long_descriptive_name", f"return {n};")],
                name="dash-history-of-many-saves",
            )
            uploaded = api.post(
                "/api/bundles/dash-history-of-many-saves/versions",
                content=archive.read_bytes(),
                headers={"X-Bundle-Checksum": manifest.checksum},
            )
            assert uploaded.status_code == 201, uploaded.text
    expect(page.locator("#bundles tr[data-bundle='dash-history-of-many-saves']")).to_contain_text("v30", timeout=10_000)
    # At a wide and a narrow window, no card is wider than itself: long ids, checksums and version
    # lists wrap or scroll inside their card, and the page never scrolls sideways.
    for width in (1400, 800):
        page.set_viewport_size({"width": width, "height": 900})
        overflowing = page.evaluate("""() => [...document.querySelectorAll('#dashboard .card')]
            .filter(card => card.scrollWidth > card.clientWidth + 1).map(card => card.id)""")
        assert overflowing == [], f"cards overflowing at {width} px: {overflowing}"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            f"page scrolls sideways at {width} px"
        )
    page.set_viewport_size({"width": 1280, "height": 900})

    screenshot = tmp_path / "dashboard.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000
    print(f"dashboard screenshot: {screenshot}")

    # Reloading keeps the session; signing out forgets the token.
    page.reload()
    page.locator(f"#connectors tr[data-deployment='{deployment_id}']").wait_for(timeout=10_000)
    page.click("#sign-out")
    assert page.is_visible("#dev-login-form")
    assert page.is_hidden("#sign-out") and page.is_hidden("#dashboard")
    assert page.evaluate("sessionStorage.getItem('edge-connector.dashboard.token')") is None
    # The only failed load is the tool error's 502, which the page handled and showed.
    assert [e for e in errors if "status of 502" not in e] == []


@pytest.mark.browser
def test_a_refused_token_sends_the_user_back_to_sign_in(platform, browser) -> None:
    page = browser.new_page()
    page.goto(platform.url + "/")
    page.evaluate("sessionStorage.setItem('edge-connector.dashboard.token', 'not-a-jwt')")
    page.reload()
    page.wait_for_selector("#sign-in-error:not([hidden])", timeout=10_000)
    assert "Token validation failed" in page.inner_text("#sign-in-error")
    assert page.evaluate("sessionStorage.getItem('edge-connector.dashboard.token')") is None
    assert page.is_hidden("#dashboard")


@pytest.mark.browser
def test_the_dashboard_updates_when_connectors_connect_and_shows_each_replica(
    platform, browser, tmp_path: Path
) -> None:
    """Polling: connectors that connect after the page loaded show up without a reload; two replicas of
    one deployment (SPEC.md §14) are two rows told apart by their connector ids, and the deployment
    counts them against its `replicas`."""
    token = platform.user_token(EMAIL, ORG)
    page = browser.new_page()
    page.goto(platform.url + "/")
    page.fill("#login-email", EMAIL)
    page.fill("#login-org", ORG)
    page.click("#dev-login-form button[type=submit]")
    page.wait_for_selector("#connectors-card .empty:not([hidden])", timeout=10_000)
    assert page.is_disabled("#call-submit")

    archive, manifest = make_archive(tmp_path / "bundle", TOOLS[:1], name="late-tools")
    with _api(platform, token) as api:
        api.post(
            "/api/bundles/late-tools/versions",
            content=archive.read_bytes(),
            headers={"X-Bundle-Checksum": manifest.checksum},
        ).raise_for_status()
        api.put("/api/bundles/default", json={"name": "late-tools"}).raise_for_status()
        deployment = api.post("/api/deployments", json={"name": "late", "replicas": 2}).json()
    dep_id = deployment["deploymentId"]
    env = {"TOOL_RPC_URL": platform.ws_url, "DEPLOYMENT_ID": dep_id, "DEPLOYMENT_SECRET": deployment["secret"]}
    runtimes = [RuntimeProcess(tmp_path / "install", env=env).start()]
    try:
        page.locator(f"#connectors tr[data-deployment='{dep_id}']").wait_for(timeout=15_000)
        expect(page.locator("#call-submit")).to_be_enabled(timeout=10_000)
        expect(page.locator(f"#deployments tr[data-deployment='{dep_id}']")).to_contain_text("1 / 2 connected")

        runtimes.append(RuntimeProcess(tmp_path / "install-2", env=env).start())
        rows = page.locator(f"#connectors tr[data-deployment='{dep_id}']")
        expect(rows).to_have_count(2, timeout=15_000)
        expect(page.locator(f"#deployments tr[data-deployment='{dep_id}']")).to_contain_text("2 / 2 connected")
        with _api(platform, token) as api:
            listed = {c["connectorId"] for c in api.get("/api/connectors").json()["connectors"]}
        assert len(listed) == 2
        shown = {rows.nth(i).get_attribute("data-connector") for i in range(2)}
        assert shown == listed  # each replica is its own row, under its own connector id
        for connector_id in listed:
            assert connector_id in page.inner_text(f"#connectors tr[data-connector='{connector_id}']")
    finally:
        for runtime in runtimes:
            runtime.stop()


def test_page_and_assets_are_locked_down(platform) -> None:
    """No browser needed: the shell carries no data, and the CSP allows only the platform's own assets."""
    page = httpx.get(platform.url + "/", timeout=10)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert 'src="/static/dashboard.js"' in page.text
    assert "<script>" not in page.text  # no inline script: the CSP would block it anyway
    assert 'data-dev-mode="true"' in page.text
    script = httpx.get(platform.url + "/static/dashboard.js", timeout=10)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert ".innerHTML" not in script.text  # everything is rendered as text nodes
    assert httpx.get(platform.url + "/static/../app.py", timeout=10).status_code == 404
    assert httpx.get(platform.url + "/static/secret.txt", timeout=10).status_code == 404


def test_without_dev_mode_the_page_offers_only_the_token_form(tmp_path: Path) -> None:
    from tests.support.platform import PlatformProcess

    production_like = PlatformProcess(tmp_path / "platform-data", extra_args=["--no-dev"]).start()
    try:
        page = httpx.get(production_like.url + "/", timeout=10).text
    finally:
        production_like.stop()
    assert 'data-dev-mode="false"' in page
    assert '<form id="dev-login-form" hidden>' in page
    assert '<details id="token-login" open>' in page
