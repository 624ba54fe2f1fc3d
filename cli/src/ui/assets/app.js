// reprise web UI: the list (`/`) and a workflow's page (`/workflow?id=`),
// drawn from the JSON API. Every value from the store goes into the page
// as text (textContent, attributes), never as HTML.
"use strict";

const STATUSES = ["running", "blocked", "completed", "failed", "cancelled", "terminated"];
const LIST_REFRESH_MS = 3000;
const DESCRIBE_REFRESH_MS = 1000;
const STEPS_PER_WINDOW = 200;

// ---------- small helpers ----------

/** An element with attributes (`class`, `on*` handlers, others) and children (nodes or text). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "value") node.value = value;
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** Calls the API; resolves to the JSON answer, or throws an Error whose message is the server's `error`. */
async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    throw new Error("cannot reach the reprise UI server: is `reprise ui` still running?");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    const error = new Error((data && data.error) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function showMessage(text, kind) {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = kind === "error" ? "error" : "ok";
  box.hidden = false;
}

function hideMessage() {
  const box = document.getElementById("message");
  box.hidden = true;
  box.textContent = "";
}

function pad(n, width) {
  return String(n).padStart(width || 2, "0");
}

/** `2026-11-29 14:03:07` in local time. */
function fmtTime(ms) {
  if (ms === null || ms === undefined) return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `850 ms`, `4.2 s`, `3 min 5 s`, `2 h 4 min`, `3 d 2 h`. */
function fmtDuration(ms) {
  if (ms === null || ms === undefined || isNaN(ms)) return "";
  ms = Math.max(0, Math.round(ms));
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** `3 s ago` or `in 3 s`, from the server's clock `now`. */
function fmtRelative(ms, now) {
  if (ms === null || ms === undefined) return "";
  const delta = ms - now;
  if (Math.abs(delta) < 500) return "now";
  return delta > 0 ? `in ${fmtDuration(delta)}` : `${fmtDuration(-delta)} ago`;
}

/** JSON on one line, cut to `max` characters. */
function shortJson(value, max) {
  if (value === undefined) return "";
  let text = JSON.stringify(value);
  if (text === undefined) text = String(value);
  max = max || 120;
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

function jsonBlock(value) {
  return el("pre", { class: "json" }, value === undefined ? "" : JSON.stringify(value, null, 2));
}

function badge(status) {
  return el("span", { class: `badge ${status}`, "data-status": status }, status.replace(/_/g, " "));
}

function workflowHref(id, run) {
  const params = new URLSearchParams({ id });
  if (run) params.set("run", run);
  return `/workflow?${params}`;
}

/** Runs `fn` every `ms` while the page is visible, never two at once. */
function every(ms, fn) {
  let busy = false;
  const timer = setInterval(async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      await fn();
    } finally {
      busy = false;
    }
  }, ms);
  return () => clearInterval(timer);
}

/** The payload text of a signal form as JSON (blank: null), or throws a clear error. */
function parsePayload(text) {
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`the payload is not valid JSON: ${e.message}`);
  }
}

/** The signal fields of a form: a name and a JSON payload. */
function signalFields(prefix) {
  const name = el("input", { id: `${prefix}-signal-name`, name: "name", placeholder: "stop", required: true, size: 14 });
  const payload = el("textarea", { id: `${prefix}-signal-payload`, name: "payload", rows: 1, placeholder: '{"reason": "done"}' });
  return { name, payload };
}

// ---------- the list ----------

function listState() {
  const q = new URLSearchParams(location.search);
  return {
    status: q.get("status") || "",
    name: q.get("name") || "",
    within: q.get("within") || "",
    // Workflows a page (the API's default, 50, when absent).
    limit: q.get("limit") || "",
    page: q.get("page") || "",
    // The tokens of the pages before this one ("" is the first page).
    prev: q.get("prev") ? q.get("prev").split(",") : [],
  };
}

function listUrl(state) {
  const q = new URLSearchParams();
  for (const key of ["status", "name", "within", "limit", "page"]) if (state[key]) q.set(key, state[key]);
  if (state.prev.length) q.set("prev", state.prev.join(","));
  const text = q.toString();
  return text ? `/?${text}` : "/";
}

function filterText(state) {
  const parts = [];
  if (state.status) parts.push(`status ${state.status}`);
  if (state.name) parts.push(`type ${state.name}`);
  if (state.within) parts.push(`started within ${state.within}`);
  return parts.length ? parts.join(", ") : "no filter: every workflow";
}

function renderList(app) {
  const state = listState();
  const go = (next) => {
    history.pushState(null, "", listUrl(next));
    route();
  };

  const status = el("select", { id: "status-filter", name: "status" },
    el("option", { value: "" }, "any status"),
    STATUSES.map((s) => el("option", { value: s }, s)));
  status.value = state.status;
  const name = el("input", { id: "name-filter", name: "name", placeholder: "workflow type", value: state.name, size: 18 });
  const within = el("select", { id: "within-filter", name: "within" },
    el("option", { value: "" }, "any time"),
    [["15m", "15 minutes"], ["1h", "1 hour"], ["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"]]
      .map(([v, label]) => el("option", { value: v }, `started within ${label}`)));
  if (state.within && ![...within.options].some((o) => o.value === state.within)) {
    within.appendChild(el("option", { value: state.within }, `started within ${state.within}`));
  }
  within.value = state.within;
  const apply = () => go({ status: status.value, name: name.value.trim(), within: within.value, limit: state.limit, page: "", prev: [] });
  status.addEventListener("change", apply);
  within.addEventListener("change", apply);
  const form = el("form", { class: "filters", id: "filters", onsubmit: (e) => { e.preventDefault(); apply(); } },
    el("label", {}, "Status", status),
    el("label", {}, "Type", name),
    el("label", {}, "Started", within),
    el("button", { type: "submit" }, "Apply"),
    el("button", { type: "button", onclick: () => go({ status: "", name: "", within: "", limit: state.limit, page: "", prev: [] }) }, "Clear"));

  const goId = el("input", { id: "goto-id", placeholder: "workflow id", size: 22 });
  const goto = el("form", {
    class: "filters", id: "goto",
    onsubmit: (e) => {
      e.preventDefault();
      if (goId.value.trim()) location.href = workflowHref(goId.value.trim());
    },
  }, el("label", {}, "Open a workflow by id", goId), el("button", { type: "submit" }, "Open"));

  const auto = el("input", { type: "checkbox", id: "auto-refresh", checked: true });
  const updated = el("span", { class: "muted small", id: "list-updated" });
  const tbody = el("tbody");
  const table = el("table", { id: "workflows" },
    el("thead", {}, el("tr", {},
      ["Workflow id", "Type", "Status", "Started", "Updated", "Progress", "Error"].map((h) => el("th", {}, h)))),
    tbody);

  const prevButton = el("button", {
    id: "prev-page", type: "button", disabled: !state.page,
    onclick: () => {
      const prev = state.prev.slice();
      const page = prev.pop() || "";
      go({ ...state, page, prev });
    },
  }, "← Previous");
  const nextButton = el("button", { id: "next-page", type: "button", disabled: true }, "Next →");
  const pageNumber = state.prev.length + (state.page ? 1 : 0) + 1;
  const pager = el("div", { class: "pager" }, prevButton, nextButton,
    el("span", { class: "info" }, `page ${pageNumber}`));

  let nextToken = null;
  nextButton.addEventListener("click", () => {
    if (nextToken) go({ ...state, page: nextToken, prev: state.prev.concat([state.page]) });
  });

  async function load() {
    const q = new URLSearchParams();
    for (const key of ["status", "name", "within", "limit", "page"]) if (state[key]) q.set(key, state[key]);
    let data;
    try {
      data = await api("GET", `/api/workflows?${q}`);
    } catch (e) {
      showMessage(e.message, "error");
      return;
    }
    clear(tbody);
    if (data.workflows.length === 0) {
      tbody.appendChild(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No workflow matches.")));
    }
    for (const wf of data.workflows) {
      tbody.appendChild(el("tr", { "data-id": wf.workflow_id },
        el("td", {}, el("a", { class: "wf-link mono", href: workflowHref(wf.workflow_id) }, wf.workflow_id)),
        el("td", {}, wf.workflow_type),
        el("td", {}, badge(wf.status)),
        el("td", { title: fmtRelative(wf.started_at, Date.now()) }, fmtTime(wf.started_at)),
        el("td", { title: fmtRelative(wf.updated_at, Date.now()) }, fmtTime(wf.updated_at)),
        el("td", { class: "mono small" }, wf.progress === null ? "" : shortJson(wf.progress, 60)),
        el("td", { class: "error" }, wf.error || "")));
    }
    nextToken = data.next_page;
    nextButton.disabled = !nextToken;
    updated.textContent = `updated ${fmtTime(Date.now()).slice(11)}`;
  }

  append(clear(app), [
    el("h1", {}, "Workflows"),
    el("div", { class: "card toolbar-card" }, form, goto),
    el("div", { class: "card" },
      el("div", { class: "toolbar small" },
        el("label", { class: "inline" }, auto, "auto-refresh every 3 s"), updated),
      table, pager),
    bulkPanel(state),
  ]);

  load();
  stopPolling = every(LIST_REFRESH_MS, async () => {
    if (auto.checked) await load();
  });
}

/** Actions for every workflow that matches the list's filter. */
function bulkPanel(state) {
  const filter = { status: state.status, name: state.name, within: state.within };
  const report = el("div", { id: "bulk-report", class: "small" });
  const run = async (action, body, what) => {
    if (!confirm(`${what} every workflow that matches (${filterText(state)})?`)) return;
    clear(report);
    try {
      const data = await api("POST", `/api/bulk/${action}`, { filter, ...body });
      showMessage(data.message, data.failed_count ? "error" : "ok");
      for (const failure of data.failed) {
        report.appendChild(el("div", { class: "error-text" }, `${failure.workflow_id}: ${failure.error}`));
      }
      if (data.failed_count > data.failed.length) {
        report.appendChild(el("div", { class: "muted" }, `… and ${data.failed_count - data.failed.length} more`));
      }
    } catch (e) {
      showMessage(e.message, "error");
    }
  };
  const reason = el("input", { id: "bulk-reason", placeholder: "reason", size: 24 });
  const signal = signalFields("bulk");
  return el("details", { class: "card bulk", id: "bulk" },
    el("summary", {}, `Act on every workflow that matches: ${filterText(state)}`),
    el("div", { class: "bulk-body" },
      el("p", { class: "muted small" },
        "Bulk actions walk every page of the filter on the server. Ended workflows are skipped; resume acts on blocked ones."),
      el("form", { onsubmit: (e) => { e.preventDefault(); } },
        el("button", { type: "button", id: "bulk-cancel", onclick: () => run("cancel", {}, "Cancel") }, "Cancel all"),
        el("button", { type: "button", id: "bulk-resume", onclick: () => run("resume", {}, "Resume") }, "Resume all blocked")),
      el("form", { onsubmit: (e) => { e.preventDefault(); run("terminate", { reason: reason.value }, "Terminate"); } },
        el("label", {}, "Reason", reason),
        el("button", { type: "submit", class: "danger", id: "bulk-terminate" }, "Terminate all")),
      el("form", {
        onsubmit: (e) => {
          e.preventDefault();
          let payload;
          try {
            payload = parsePayload(signal.payload.value);
          } catch (err) {
            showMessage(err.message, "error");
            return;
          }
          run("signal", { name: signal.name.value, payload }, `Send signal \`${signal.name.value}\` to`);
        },
      },
      el("label", {}, "Signal", signal.name),
      el("label", {}, "Payload (JSON)", signal.payload),
      el("button", { type: "submit", id: "bulk-signal" }, "Signal all")),
      report));
}

// ---------- a workflow ----------

function renderWorkflow(app) {
  const q = new URLSearchParams(location.search);
  const id = q.get("id");
  if (!id) {
    append(clear(app), [el("p", {}, "No workflow id given: ", el("a", { href: "/" }, "back to the list"))]);
    return;
  }
  const viewRun = q.get("run") || "";
  let offset = Math.max(0, parseInt(q.get("offset") || "0", 10) || 0);
  let info = null;
  let shownRunUpdated = null;
  let clockSkew = 0; // server now - browser now

  const title = el("h1", {}, el("span", { class: "mono", id: "wf-id" }, id));
  const header = el("div", { class: "row", id: "wf-header" });
  const errorBox = el("div", { class: "error-box", id: "wf-error", hidden: true });
  const summary = el("dl", { class: "summary", id: "wf-summary" });
  const inputBox = el("div", { id: "wf-input" });
  const pendingBody = el("div", { id: "pending" });
  const runsList = el("ol", { class: "runs", id: "runs" });
  const timelineHead = el("div", { class: "muted small", id: "timeline-info" });
  const timelineBody = el("tbody");
  const timelinePager = el("div", { class: "pager" });
  const actions = actionsPanel(id, () => refresh());

  append(clear(app), [
    el("p", { class: "small" }, el("a", { href: "/" }, "← all workflows")),
    title, header, errorBox,
    el("div", { class: "row" },
      el("div", { class: "card" }, el("h2", {}, "Summary"), summary, el("h2", { class: "spaced" }, "Input"), inputBox),
      el("div", { class: "card" }, el("h2", {}, "Actions"), actions.node)),
    el("div", { class: "row" },
      el("div", { class: "card wide" }, el("h2", {}, "Pending steps ", el("span", { class: "muted small" }, "(live)")), pendingBody),
      el("div", { class: "card" }, el("h2", {}, "Runs"), runsList)),
    el("div", { class: "card" },
      el("h2", {}, "Timeline"), timelineHead,
      el("table", { id: "timeline" },
        el("thead", {}, el("tr", {},
          ["#", "Kind", "Name", "Start", "Duration", "", "Outcome", "Attempts", "Detail"].map((h) => el("th", {}, h)))),
        timelineBody),
      timelinePager),
  ]);

  const now = () => Date.now() + clockSkew;

  function drawInfo() {
    clear(header).appendChild(el("div", {},
      el("span", { class: "badge kind", id: "wf-type" }, info.workflow_type), " ",
      el("span", { id: "wf-status" }, badge(info.status))));
    // A failed workflow's own error is its result; another cause is `error`.
    const ownError = info.status === "failed" && info.result && typeof info.result === "object" && info.result.message ?
      `failed: ${info.result.kind ? `${info.result.kind}: ` : ""}${info.result.message}` : null;
    const error = info.error || ownError;
    if (error) {
      errorBox.hidden = false;
      clear(errorBox).appendChild(el("span", {}, error,
        info.error_since_ms ? el("span", { class: "muted" }, ` (since ${fmtTime(info.error_since_ms)}, ${fmtRelative(info.error_since_ms, info.now_ms)})`) : ""));
    } else {
      errorBox.hidden = true;
    }
    const first = info.runs[0];
    const last = info.runs[info.runs.length - 1];
    clear(summary);
    const row = (label, ...value) => append(summary, [el("dt", {}, label), el("dd", {}, ...value)]);
    row("Type", info.workflow_type);
    row("Status", badge(info.status));
    if (first) row("Started", fmtTime(first.started_ms), el("span", { class: "muted" }, ` (${fmtRelative(first.started_ms, info.now_ms)})`));
    if (last) row("Updated", fmtTime(last.updated_ms), el("span", { class: "muted" }, ` (${fmtRelative(last.updated_ms, info.now_ms)})`));
    row("Progress", info.progress === null ? el("span", { class: "muted" }, "none published") : jsonBlock(info.progress));
    if (info.result !== null) row(info.status === "completed" ? "Output" : "Result", jsonBlock(info.result));
    actions.update(info.status);

    clear(pendingBody);
    if (info.pending.length === 0) {
      pendingBody.appendChild(el("p", { class: "muted" }, info.status === "running" ? "Nothing pending: waiting for a signal, or being worked on." : "Nothing pending."));
    } else {
      const tbody = el("tbody");
      for (const p of info.pending) {
        const attempt = p.kind === "timer" || p.kind === "timeout" ? "" :
          `attempt ${p.attempt}${p.max_attempts ? ` of ${p.max_attempts}` : ""}`;
        const due = p.kind === "timer" || p.kind === "timeout" ? `fires ${fmtRelative(p.due_ms, info.now_ms)}` :
          (p.attempt > 1 && p.due_ms > info.now_ms ? `next retry ${fmtRelative(p.due_ms, info.now_ms)}` : `due ${fmtRelative(p.due_ms, info.now_ms)}`);
        const notes = [];
        if (p.heartbeat_ms) notes.push(el("div", {}, `heartbeat ${fmtRelative(p.heartbeat_ms, info.now_ms)}: `, el("code", {}, shortJson(p.heartbeat, 80))));
        if (p.waiting_for_slot_since_ms) notes.push(el("div", {}, `waiting for a slot since ${fmtRelative(p.waiting_for_slot_since_ms, info.now_ms)}`));
        if (p.last_error) notes.push(el("div", { class: "error-text" }, `last error: ${p.last_error}`));
        tbody.appendChild(el("tr", { "data-seq": p.seq },
          el("td", { class: "num" }, p.seq),
          el("td", {}, el("span", { class: "badge kind" }, p.kind)),
          el("td", {}, p.name || "sleep"),
          el("td", {}, attempt),
          el("td", { title: fmtTime(p.due_ms) }, due),
          el("td", { title: fmtTime(p.scheduled_ms) }, `scheduled ${fmtRelative(p.scheduled_ms, info.now_ms)}`),
          el("td", { class: "detail" }, notes)));
      }
      pendingBody.appendChild(el("table", { id: "pending-table" },
        el("thead", {}, el("tr", {}, ["Seq", "Kind", "Name", "Attempt", "When", "Scheduled", "Heartbeat, slot, last error"].map((h) => el("th", {}, h)))),
        tbody));
    }

    clear(runsList);
    info.runs.forEach((run, i) => {
      const current = i === info.runs.length - 1;
      const viewing = viewRun ? run.run_id === viewRun : current;
      runsList.appendChild(el("li", { class: viewing ? "viewing" : "" },
        el("a", { class: "mono run-link", href: workflowHref(id, current ? "" : run.run_id) }, run.run_id), " ",
        badge(run.status),
        el("span", { class: "muted small" }, ` started ${fmtTime(run.started_ms)}, updated ${fmtTime(run.updated_ms)}`),
        current ? el("span", { class: "muted small" }, " (current)") : "",
        viewing ? el("span", { class: "muted small" }, " ← shown below") : ""));
    });
  }

  async function loadTimeline() {
    const params = new URLSearchParams({ offset, limit: STEPS_PER_WINDOW });
    if (viewRun) params.set("run", viewRun);
    let data;
    try {
      data = await api("GET", `/api/workflows/${encodeURIComponent(id)}/timeline?${params}`);
    } catch (e) {
      showMessage(e.message, "error");
      return;
    }
    clear(inputBox).appendChild(jsonBlock(data.input));
    if (data.carried_signals.length) {
      inputBox.appendChild(el("p", { class: "muted small" }, `${data.carried_signals.length} signal(s) carried over from the previous run`));
    }
    const last = data.total === 0 ? 0 : Math.min(data.total, data.offset + data.steps.length);
    clear(timelineHead).appendChild(el("span", {},
      `Run `, el("code", {}, data.run_id), ` · ${data.events} events · steps ${data.total === 0 ? 0 : data.offset + 1}–${last} of ${data.total}`));
    // The window's time scale: from its first start to its last end (or now).
    const nowMs = now();
    let t0 = Infinity;
    let t1 = -Infinity;
    for (const s of data.steps) {
      t0 = Math.min(t0, s.start_ms);
      t1 = Math.max(t1, s.end_ms === null ? nowMs : s.end_ms);
    }
    const runStart = data.first_ms === null ? t0 : data.first_ms;
    const span = Math.max(1, t1 - t0);
    const pendingBySeq = new Map(((info && !viewRun) ? info.pending : []).map((p) => [p.seq, p]));
    clear(timelineBody);
    if (data.steps.length === 0) {
      timelineBody.appendChild(el("tr", {}, el("td", { colspan: 9, class: "muted" }, "No steps in this window.")));
    }
    for (const s of data.steps) {
      const end = s.end_ms === null ? nowMs : s.end_ms;
      const bar = el("div", { class: `bar ${s.outcome}` });
      bar.style.left = `${((s.start_ms - t0) / span) * 100}%`;
      bar.style.width = `${Math.max(0.4, ((end - s.start_ms) / span) * 100)}%`;
      const pending = s.seq !== null ? pendingBySeq.get(s.seq) : undefined;
      let attempts = s.attempts === null ? "" : String(s.attempts);
      if (pending && pending.kind === "activity") attempts = `${pending.attempt}${pending.max_attempts ? ` of ${pending.max_attempts}` : ""}`;
      const detail = [];
      if (s.error) detail.push(el("div", { class: "error-text" }, s.error));
      if (pending && pending.last_error) detail.push(el("div", { class: "error-text" }, `last error: ${pending.last_error}`));
      if (s.kind === "timer" && s.fire_at_ms) detail.push(el("div", { class: "muted" }, `fires at ${fmtTime(s.fire_at_ms)}`));
      if (s.value !== null && s.value !== undefined) {
        detail.push(el("code", { title: shortJson(s.value, 2000) }, shortJson(s.value, 100)));
      }
      const instant = s.outcome === "recorded" || s.kind === "end";
      timelineBody.appendChild(el("tr", { class: `step-${s.kind}`, "data-kind": s.kind, "data-outcome": s.outcome },
        el("td", { class: "num" }, s.index + 1),
        el("td", {}, el("span", { class: "badge kind" }, s.kind)),
        el("td", {}, s.name),
        el("td", { title: fmtTime(s.start_ms) }, `+${fmtDuration(s.start_ms - runStart)}`),
        el("td", {}, instant ? "" : (s.end_ms === null ? `${fmtDuration(end - s.start_ms)} so far` : fmtDuration(s.end_ms - s.start_ms))),
        el("td", {}, el("div", { class: "bar-track" }, bar)),
        el("td", {}, s.outcome.replace(/_/g, " ")),
        el("td", { class: "num" }, attempts),
        el("td", { class: "detail" }, detail)));
    }
    const limit = data.limit;
    const lastOffset = data.total === 0 ? 0 : Math.floor((data.total - 1) / limit) * limit;
    const move = (to) => {
      offset = Math.max(0, Math.min(to, lastOffset));
      const p = new URLSearchParams({ id });
      if (viewRun) p.set("run", viewRun);
      if (offset) p.set("offset", offset);
      history.replaceState(null, "", `/workflow?${p}`);
      loadTimeline();
    };
    clear(timelinePager);
    append(timelinePager, [
      el("button", { type: "button", id: "steps-first", disabled: data.offset === 0, onclick: () => move(0) }, "⇤ First"),
      el("button", { type: "button", id: "steps-prev", disabled: data.offset === 0, onclick: () => move(data.offset - limit) }, "← Previous"),
      el("button", { type: "button", id: "steps-next", disabled: data.offset >= lastOffset, onclick: () => move(data.offset + limit) }, "Next →"),
      el("button", { type: "button", id: "steps-last", disabled: data.offset >= lastOffset, onclick: () => move(lastOffset) }, "Last ⇥"),
      el("span", { class: "info" }, `${limit} steps a window`),
    ]);
  }

  async function refresh() {
    let fresh;
    try {
      fresh = await api("GET", `/api/workflows/${encodeURIComponent(id)}`);
    } catch (e) {
      showMessage(e.message, "error");
      if (e.status === 404) {
        stopPolling();
      }
      return;
    }
    info = fresh;
    clockSkew = info.now_ms - Date.now();
    drawInfo();
    // The shown run changed (a new step, a new run): its timeline too.
    const latest = info.runs[info.runs.length - 1];
    const stamp = viewRun ? viewRun : `${latest.run_id}@${latest.updated_ms}`;
    if (stamp !== shownRunUpdated) {
      shownRunUpdated = stamp;
      await loadTimeline();
    }
  }

  refresh();
  stopPolling = every(DESCRIBE_REFRESH_MS, refresh);
}

/** The buttons and forms acting on one workflow; `update(status)` enables what applies. */
function actionsPanel(id, refresh) {
  const post = async (action, body, confirmText) => {
    if (confirmText && !confirm(confirmText)) return;
    try {
      const data = await api("POST", `/api/workflows/${encodeURIComponent(id)}/${action}`, body);
      showMessage(data.message, "ok");
    } catch (e) {
      showMessage(e.message, "error");
    }
    refresh();
  };
  const signal = signalFields("wf");
  const reason = el("input", { id: "terminate-reason", placeholder: "reason", size: 22 });
  const signalButton = el("button", { type: "submit", id: "signal-btn", class: "primary" }, "Send signal");
  const cancelButton = el("button", {
    type: "button", id: "cancel-btn",
    onclick: () => post("cancel", {}, `Cancel workflow ${id}? Its pending activities are cancelled and it may run cleanup code.`),
  }, "Cancel");
  const resumeButton = el("button", {
    type: "button", id: "resume-btn", title: "retry a blocked run now",
    onclick: () => post("resume", {}),
  }, "Resume");
  const terminateButton = el("button", { type: "submit", id: "terminate-btn", class: "danger" }, "Terminate");
  const node = el("div", { class: "actions" },
    el("form", {
      id: "signal-form",
      onsubmit: (e) => {
        e.preventDefault();
        let payload;
        try {
          payload = parsePayload(signal.payload.value);
        } catch (err) {
          showMessage(err.message, "error");
          return;
        }
        post("signal", { name: signal.name.value, payload });
      },
    },
    el("label", {}, "Signal name", signal.name),
    el("label", {}, "Payload (JSON)", signal.payload),
    signalButton),
    el("p", {}),
    el("form", {
      id: "terminate-form",
      onsubmit: (e) => {
        e.preventDefault();
        post("terminate", { reason: reason.value }, `Terminate workflow ${id} now? None of its code runs any more.`);
      },
    },
    cancelButton, resumeButton,
    el("label", {}, "Reason", reason), terminateButton));
  return {
    node,
    update(status) {
      const ended = !["running", "blocked"].includes(status);
      for (const b of [signalButton, cancelButton, terminateButton]) b.disabled = ended;
      resumeButton.disabled = status !== "blocked";
    },
  };
}

// ---------- routing ----------

let stopPolling = () => {};

function route() {
  stopPolling();
  stopPolling = () => {};
  hideMessage();
  const app = document.getElementById("app");
  if (location.pathname === "/workflow") {
    renderWorkflow(app);
  } else {
    renderList(app);
  }
}

window.addEventListener("popstate", route);
document.addEventListener("DOMContentLoaded", route);
