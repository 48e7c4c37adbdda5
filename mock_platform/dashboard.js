// The mock platform's dashboard: a thin client of the documented JSON API.
// Everything it shows is user data (tool names, descriptions, outputs), so it only ever
// writes text nodes (textContent), never HTML. The token lives in sessionStorage, never in a URL.
"use strict";

(() => {
  const TOKEN_KEY = "edge-connector.dashboard.token";
  const POLL_MS = 2000;
  const RECENT_CALLS = 25;
  const LIVE_EVENTS = 200; // lines kept in the Live panel
  const $ = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(TOKEN_KEY);
  let pollTimer = null;
  let toolsByName = new Map(); // name -> {description, inputSchema}
  let toolsSignature = "";
  let lastPrefill = null; // the arguments text we generated, so we never overwrite the user's own
  let live = null; // the Live panel's WebSocket
  let liveRetry = null;
  let liveDelayMs = 1000;

  // ---- DOM helpers ---------------------------------------------------------------------------

  /** Build an element; string children become text nodes (that is the XSS guarantee). */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "title") node.title = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fillTable(tableId, rows) {
    const table = $(tableId);
    table.tBodies[0].replaceChildren(...rows);
    const empty = table.closest(".card").querySelector(".empty");
    if (empty) empty.hidden = rows.length > 0;
    table.hidden = rows.length === 0;
  }

  function badge(text, kind) {
    return el("span", { class: `badge ${kind || ""}` }, text);
  }

  function showBanner(message) {
    const banner = $("banner");
    banner.textContent = message || "";
    banner.hidden = !message;
  }

  // ---- formatting ----------------------------------------------------------------------------

  function bundleLabel(bundle) {
    if (!bundle) return "—";
    if (typeof bundle === "string") return bundle;
    const version = bundle.version ?? null;
    return version === null ? `${bundle.name} (newest)` : `${bundle.name}@${version}`;
  }

  function sinceLabel(iso) {
    if (!iso) return "—";
    const at = new Date(iso);
    if (Number.isNaN(at.getTime())) return String(iso);
    const seconds = Math.max(0, Math.round((Date.now() - at.getTime()) / 1000));
    if (seconds < 60) return `${seconds} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    return `${Math.floor(seconds / 3600)} h ago`;
  }

  function timeLabel(iso) {
    const at = new Date(iso);
    return Number.isNaN(at.getTime()) ? String(iso ?? "—") : at.toLocaleTimeString();
  }

  function sizeLabel(bytes) {
    if (typeof bytes !== "number") return "—";
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  }

  const toolName = (tool) => (typeof tool === "string" ? tool : tool?.name);

  // ---- API -----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      const error = body?.error ?? {};
      super(error.message || `HTTP ${status}`);
      this.status = status;
      this.code = error.code || `http_${status}`;
      this.toolCode = error.toolCode; // the ToolError's own code, e.g. "upstream_timeout"
      this.details = error.details;
    }
  }

  async function api(method, path, body) {
    const headers = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  const isAuthFailure = (err) => err instanceof ApiError && (err.status === 401 || err.status === 403);

  // ---- sign-in -------------------------------------------------------------------------------

  function setToken(value) {
    token = value;
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  }

  function showSignIn(message) {
    stopPolling();
    stopLive();
    $("sign-in").hidden = false;
    $("dashboard").hidden = true;
    $("session").hidden = true;
    const error = $("sign-in-error");
    error.textContent = message || "";
    error.hidden = !message;
  }

  async function enterDashboard() {
    const me = await api("GET", "/api/me");
    $("whoami").textContent = `${me.sub} · ${me.orgId ?? "no organization"}`;
    $("sign-in").hidden = true;
    $("dashboard").hidden = false;
    $("session").hidden = false;
    showBanner("");
    startLive();
    await refresh();
  }

  async function trySignIn(newToken) {
    setToken(newToken);
    try {
      await enterDashboard();
    } catch (err) {
      setToken(null);
      showSignIn(`Sign-in failed: ${err.message}`);
    }
  }

  $("dev-login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = $("login-email").value.trim();
    const orgId = $("login-org").value.trim();
    try {
      const result = await api("POST", "/api/auth/dev-login", orgId ? { email, orgId } : { email });
      await trySignIn(result.token);
    } catch (err) {
      showSignIn(`Sign-in failed: ${err.message}`);
    }
  });

  $("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = $("login-token").value.trim();
    $("login-token").value = "";
    await trySignIn(value);
  });

  $("sign-out").addEventListener("click", () => {
    setToken(null);
    showSignIn("");
  });

  // ---- polling -------------------------------------------------------------------------------

  function stopPolling() {
    if (pollTimer !== null) clearTimeout(pollTimer);
    pollTimer = null;
  }

  function schedule() {
    stopPolling();
    pollTimer = setTimeout(refresh, POLL_MS);
  }

  async function refresh() {
    if (!token) return;
    try {
      const [connectors, deployments, bundles, calls] = await Promise.all([
        api("GET", "/api/connectors"),
        api("GET", "/api/deployments"),
        api("GET", "/api/bundles"),
        api("GET", `/api/calls?limit=${RECENT_CALLS}`),
      ]);
      const connected = connectors?.connectors ?? [];
      const deploymentList = deployments?.deployments ?? [];
      const names = new Map(deploymentList.map((d) => [d.deploymentId, d.name]));
      renderConnectors(connected, names);
      renderDeployments(deploymentList, connected);
      renderBundles(bundles);
      renderCalls(calls?.calls ?? []);
      updateCallForm(connected, names, toolCatalog(bundles));
      showBanner("");
      $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (isAuthFailure(err)) {
        setToken(null);
        showSignIn(`Signed out: ${err.message}. Sign in again.`);
        return;
      }
      showBanner(`Could not refresh: ${err.message}. Retrying every ${POLL_MS / 1000} s.`);
    }
    schedule();
  }

  // ---- renderers -----------------------------------------------------------------------------

  /** A connector is listed while its socket is open; what it can do depends on its bundle. */
  function connectorState(c) {
    if (c.draining) return ["draining", ""];
    if (!c.bundle) return ["connected, no bundle", ""];
    if ((c.inFlight ?? 0) > 0) return ["busy", "ok"];
    return ["ready", "ok"];
  }

  function renderConnectors(connectors, deploymentNames) {
    $("connectors-count").textContent = connectors.length ? `(${connectors.length})` : "";
    fillTable(
      "connectors",
      connectors.map((c) => {
        const [state, kind] = connectorState(c);
        const tools = (c.tools ?? []).map(toolName);
        // Each replica of a deployment is its own row, told apart by its connector id.
        return el(
          "tr",
          { "data-deployment": c.deploymentId, "data-connector": c.connectorId },
          el("td", {}, el("div", {}, deploymentNames.get(c.deploymentId) ?? c.deploymentId ?? "—"),
            el("div", { class: "muted mono" }, c.deploymentId ?? ""),
            el("div", { class: "muted mono", title: "connector id" }, c.connectorId ?? "")),
          el("td", {}, badge(state, kind)),
          el("td", { class: "mono" }, bundleLabel(c.bundle)),
          el("td", {}, tools.length ? tools.map((t) => el("span", { class: "tag mono" }, t)) : "—"),
          el("td", { class: "num" }, `${c.inFlight ?? 0}${c.concurrency ? ` / ${c.concurrency}` : ""}`),
          el("td", { title: c.since ?? "" }, sinceLabel(c.since), el("div", { class: "muted" }, `${c.callsTotal ?? 0} calls`)),
        );
      }),
    );
  }

  function renderDeployments(deployments, connected) {
    const online = new Map();
    for (const c of connected) online.set(c.deploymentId, (online.get(c.deploymentId) ?? 0) + 1);
    fillTable(
      "deployments",
      deployments.map((d) => {
        const own = d.assignment;
        const runs = d.resolvedBundle ? bundleLabel(d.resolvedBundle) : "nothing assigned";
        return el(
          "tr",
          { "data-deployment": d.deploymentId },
          el("td", {}, d.name ?? "—"),
          el("td", { class: "mono" }, d.deploymentId),
          el("td", {}, el("div", { class: "mono" }, runs),
            el("div", { class: "muted" }, own ? `own assignment: ${bundleLabel(own)}` : "org default")),
          el("td", {}, online.has(d.deploymentId)
            ? badge((d.replicas ?? 1) > 1 ? `${online.get(d.deploymentId)} / ${d.replicas} connected` : "connected", "ok")
            : badge((d.replicas ?? 1) > 1 ? `offline (0 / ${d.replicas})` : "offline")),
        );
      }),
    );
  }

  function renderBundles(data) {
    const bundles = data?.bundles ?? [];
    const orgDefault = data?.default ?? null;
    fillTable(
      "bundles",
      bundles.map((b) => {
        const versions = [...(b.versions ?? [])].sort((x, y) => y.version - x.version);
        const latest = versions[0] ?? {};
        const tools = (latest.tools ?? []).map(toolName);
        let defaultCell = "";
        if (orgDefault && orgDefault.name === b.name) {
          defaultCell = badge(orgDefault.version == null ? `default (newest: v${orgDefault.resolvedVersion})` : `default @v${orgDefault.version}`, "ok");
        }
        return el(
          "tr",
          { "data-bundle": b.name },
          el("td", { class: "mono" }, b.name, (b.assignedTo ?? []).length
            ? el("div", { class: "muted" }, `assigned to ${b.assignedTo.length} deployment(s)`) : null),
          el("td", { class: "mono" }, versions.map((v) => `v${v.version}`).join(", ") || "—"),
          el("td", { class: "num" }, sizeLabel(latest.size)),
          el("td", {}, tools.length ? tools.map((t) => el("span", { class: "tag mono" }, t)) : "—"),
          el("td", {}, defaultCell),
        );
      }),
    );
  }

  /** name -> {name, description, inputSchema} for each tool of each version, to describe the call form. */
  function toolCatalog(bundlesData) {
    const catalog = new Map();
    for (const b of bundlesData?.bundles ?? []) {
      for (const v of b.versions ?? []) {
        for (const t of v.tools ?? []) catalog.set(`${b.name}@${v.version}/${t.name}`, t);
      }
    }
    return catalog;
  }

  function renderCalls(calls) {
    fillTable(
      "calls",
      calls.map((c) => {
        const ok = c.outcome === "ok";
        return el(
          "tr",
          { "data-call": c.callId },
          el("td", { title: c.at ?? "" }, timeLabel(c.at)),
          el("td", { class: "mono" }, c.tool),
          el("td", { class: "mono" }, c.deploymentId ?? "—",
            c.connectorId ? el("div", { class: "muted", title: "connector id (the replica that ran it)" }, c.connectorId) : null),
          el("td", { class: "num" }, typeof c.durationMs === "number" ? `${c.durationMs.toFixed(1)} ms` : "—"),
          el("td", {}, badge(ok ? "ok" : c.errorCode || c.outcome || "error", ok ? "ok" : "bad")),
        );
      }),
    );
  }

  // ---- the call form -------------------------------------------------------------------------

  function replaceOptions(select, options, keepFirst) {
    const previous = select.value;
    const fixed = keepFirst ? [select.options[0]] : [];
    select.replaceChildren(...fixed, ...options.map(([value, label]) => el("option", { value }, label)));
    if ([...select.options].some((o) => o.value === previous)) select.value = previous;
  }

  function updateCallForm(connectors, deploymentNames, catalog) {
    const tools = new Map();
    for (const c of connectors) {
      for (const tool of c.tools ?? []) {
        const name = toolName(tool);
        if (!name || tools.has(name)) continue;
        const known = c.bundle ? catalog.get(`${c.bundle.name}@${c.bundle.version}/${name}`) : undefined;
        tools.set(name, known ?? (typeof tool === "string" ? { name } : tool));
      }
    }
    // Rebuild the form only when the tools (or what we know of them) changed, so polling never
    // resets what the user is typing.
    const signature = JSON.stringify([...tools.entries()].sort());
    const changed = signature !== toolsSignature;
    toolsSignature = signature;
    toolsByName = tools;
    const toolSelect = $("call-tool");
    if (changed) {
      replaceOptions(toolSelect, [...tools.keys()].sort().map((n) => [n, n]), false);
      onToolChosen();
    }
    const deploymentSelect = $("call-deployment");
    const wanted = connectors.map((c) => {
      const name = deploymentNames.get(c.deploymentId);
      return [c.deploymentId, name ? `${name} (${c.deploymentId})` : c.deploymentId];
    });
    const have = [...deploymentSelect.options].slice(1).map((o) => o.value).join("\n");
    if (wanted.map(([v]) => v).join("\n") !== have) replaceOptions(deploymentSelect, wanted, true);
    $("call-submit").disabled = tools.size === 0;
  }

  /** A starting point for the arguments, from the tool's JSON Schema: required properties with typed placeholders. */
  function exampleArguments(schema) {
    const out = {};
    const properties = schema?.properties ?? {};
    for (const name of schema?.required ?? []) {
      const prop = properties[name] ?? {};
      if ("default" in prop) out[name] = prop.default;
      else if (Array.isArray(prop.enum)) out[name] = prop.enum[0];
      else if (prop.type === "number" || prop.type === "integer") out[name] = exampleNumber(prop);
      else if (prop.type === "boolean") out[name] = false;
      else if (prop.type === "array") out[name] = [];
      else if (prop.type === "object") out[name] = {};
      else out[name] = "";
    }
    return JSON.stringify(out, null, 2);
  }

  /** 0 when the schema allows it (latitude 0, not the pole), else the middle of the bounds. */
  function exampleNumber(prop) {
    const lo = prop.minimum ?? -Infinity;
    const hi = prop.maximum ?? Infinity;
    if (lo <= 0 && 0 <= hi) return 0;
    const middle = Number.isFinite(hi) && Number.isFinite(lo) ? (lo + hi) / 2 : Number.isFinite(lo) ? lo : hi;
    return prop.type === "integer" ? Math.round(middle) : middle;
  }

  function onToolChosen() {
    const tool = toolsByName.get($("call-tool").value);
    $("call-tool-description").textContent = tool?.description ?? "";
    const textarea = $("call-arguments");
    const untouched = textarea.value.trim() === "" || textarea.value.trim() === "{}" || textarea.value === lastPrefill;
    if (tool && untouched) {
      lastPrefill = exampleArguments(tool.inputSchema);
      textarea.value = lastPrefill;
    }
  }

  $("call-tool").addEventListener("change", onToolChosen);

  function showResult(ok, summary, body) {
    const box = $("call-result");
    box.hidden = false;
    box.className = ok ? "result" : "result bad";
    box.dataset.outcome = ok ? "ok" : "error";
    $("call-summary").textContent = summary;
    $("call-output").textContent = body === undefined ? "" : JSON.stringify(body, null, 2);
  }

  $("call-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const tool = $("call-tool").value;
    let args;
    try {
      args = JSON.parse($("call-arguments").value || "{}");
    } catch (err) {
      showResult(false, `Arguments are not valid JSON: ${err.message}`);
      return;
    }
    const request = { arguments: args };
    if ($("call-deployment").value) request.deploymentId = $("call-deployment").value;
    const timeout = Number($("call-timeout").value);
    if (timeout > 0) request.timeoutMs = timeout;
    const button = $("call-submit");
    button.disabled = true;
    try {
      const result = await api("POST", `/api/tools/${encodeURIComponent(tool)}/call`, request);
      const ms = typeof result.durationMs === "number" ? `${result.durationMs.toFixed(1)} ms` : "";
      showResult(true, `ok · ${tool} · ${ms} · ${result.deploymentId ?? ""}`, result.output);
    } catch (err) {
      if (isAuthFailure(err) && err.code !== "no_organization") {
        setToken(null);
        showSignIn(`Signed out: ${err.message}. Sign in again.`);
        return;
      }
      const code = err.toolCode ? `${err.code} · ${err.toolCode}` : err.code;
      showResult(false, `${code}: ${err.message}`, err.details);
    } finally {
      button.disabled = toolsByName.size === 0;
      refresh();
    }
  });

  // ---- the Live panel: WS /api/tail, the stream edge-connector tail reads ------------------------

  function setLiveState(text, kind) {
    const state = $("live-state");
    state.textContent = text;
    state.className = `badge ${kind || ""}`;
  }

  function startLive() {
    stopLive();
    if (!token) return;
    const status = $("live-status").value;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    // A browser cannot set an Authorization header on a WebSocket: the token travels as a
    // subprotocol (never in the URL, which servers and proxies log).
    const ws = new WebSocket(`${scheme}//${location.host}/api/tail${status ? `?status=${status}` : ""}`,
      ["edge-tail", `bearer.${token}`]);
    live = ws;
    setLiveState("connecting");
    ws.onopen = () => {
      liveDelayMs = 1000;
      setLiveState("live", "ok");
    };
    ws.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      addLiveEvent(event);
    };
    ws.onclose = () => {
      if (live !== ws) return; // replaced or stopped on purpose
      live = null;
      setLiveState(`reconnecting in ${liveDelayMs / 1000} s`, "bad");
      liveRetry = setTimeout(startLive, liveDelayMs);
      liveDelayMs = Math.min(liveDelayMs * 2, 30000);
    };
  }

  function stopLive() {
    if (liveRetry !== null) clearTimeout(liveRetry);
    liveRetry = null;
    if (live) {
      const ws = live;
      live = null;
      ws.close();
    }
    setLiveState("off");
  }

  function liveLine(event) {
    if (event.type === "call") {
      const ok = event.outcome === "ok";
      const ms = typeof event.durationMs === "number" ? `${event.durationMs.toFixed(1)} ms` : "";
      const error = ok ? "" : `  ${event.error?.code && event.error.code !== event.outcome ? `${event.error.code}: ` : ""}${event.error?.message ?? ""}`;
      return el("li", { class: `live-call ${ok ? "ok" : "error"}`, "data-call": event.callId, "data-outcome": event.outcome },
        `${timeLabel(event.at)}  ${event.deploymentId ?? "—"}  ${event.tool}  `, badge(event.outcome, ok ? "ok" : "bad"),
        `  ${ms}${error}`);
    }
    if (event.type === "log") {
      return el("li", { class: `live-log ${event.level}`, "data-call": event.callId ?? "" },
        `│ ${timeLabel(event.at)} ${event.tool} ${event.level}  ${event.message}`);
    }
    if (event.type === "dropped") {
      return el("li", { class: "live-dropped" }, `… ${event.count} events dropped (this tab read more slowly than they came)`);
    }
    return null;
  }

  function addLiveEvent(event) {
    const line = liveLine(event);
    if (!line) return;
    const list = $("live-events");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.append(line);
    while (list.children.length > LIVE_EVENTS) list.firstElementChild.remove();
    $("live-empty").hidden = true;
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  $("live-status").addEventListener("change", startLive);

  // ---- start ---------------------------------------------------------------------------------

  if (token) {
    enterDashboard().catch((err) => {
      setToken(null);
      showSignIn(isAuthFailure(err) ? `Signed out: ${err.message}. Sign in again.` : `Could not load: ${err.message}`);
    });
  } else {
    showSignIn("");
  }
})();
