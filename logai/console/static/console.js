// logai console: one page per hash route, each a client of the public REST API (/v1). No dependencies.
const $ = (selector, root = document) => root.querySelector(selector);
const esc = (value) => String(value ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
// a template id in a summary's text opens that template's events
const linkTemplates = (text) => esc(text).replace(/\bT[0-9a-f]{16}\b/g, (tid) => `<a href="#/events?template_id=${tid}">${tid}</a>`);
// a multi-line message (a stack trace) shows its first line; the rest opens beneath it
const message = (text) => {
  const [first, ...rest] = String(text ?? "").split("\n");
  return rest.length ? `${esc(first)}<details class="trace"><summary>${rest.length} more line${rest.length > 1 ? "s" : ""}</summary><pre>${esc(rest.join("\n"))}</pre></details>` : esc(first);
};
const when = (ts) => (ts == null ? "" : new Date(ts * 1000).toLocaleString()); // the browser's time zone
const KEY = "logai-api-key";

async function api(path, { method = "GET", body } = {}) {
  const headers = {};
  const key = sessionStorage.getItem(KEY); // the tab's session only, and never in a URL
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) {
    await askForKey();
    return api(path, { method, body });
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(typeof data === "string" ? data : JSON.stringify(data.detail ?? data));
  return data;
}

function askForKey() {
  return new Promise((resolve) => {
    const dialog = $("#key-dialog");
    $("#key-form").onsubmit = () => {
      sessionStorage.setItem(KEY, $("#key-input").value);
      resolve();
    };
    if (!dialog.open) dialog.showModal();
  });
}

function sparkline(series, width = 120, height = 24) {
  if (!series.length) return "";
  const max = Math.max(...series.map((p) => p.count), 1);
  const step = series.length > 1 ? width / (series.length - 1) : 0;
  const points = series.map((p, i) => `${(i * step).toFixed(1)},${(height - 2 - (p.count / max) * (height - 4)).toFixed(1)}`);
  return `<svg class="spark" width="${width}" height="${height}" role="img" aria-label="counts over time">` +
    `<path d="M${points.join(" L")}"/></svg>`;
}

function bars(entries, width = 420) {
  const max = Math.max(...entries.map(([, n]) => n), 1);
  const rows = entries.map(([name, n], i) => {
    const w = Math.max(1, (n / max) * (width - 140));
    const cls = /ERR|FATAL|CRIT/.test(name) ? "errors" : "";
    return `<text x="0" y="${i * 22 + 15}" fill="currentColor">${esc(name)}</text>` +
      `<rect class="${cls}" x="80" y="${i * 22 + 4}" width="${w}" height="14"/>` +
      `<text x="${86 + w}" y="${i * 22 + 15}" fill="currentColor">${n}</text>`;
  });
  return `<svg class="bars" width="${width}" height="${entries.length * 22}" role="img" aria-label="events by level">${rows.join("")}</svg>`;
}

function lineChart(points, series, width = 900, height = 150) {
  if (!points.length) return `<p class="muted">no data in this range</p>`;
  const max = Math.max(1, ...points.flatMap((p) => series.map((s) => p[s.key])));
  const x = (i) => 40 + (i * (width - 50)) / Math.max(1, points.length - 1);
  const y = (v) => height - 20 - (v / max) * (height - 42); // the legend keeps the top 22 px
  const lines = series.map((s) => `<polyline class="${s.cls}" points="${points.map((p, i) => `${x(i).toFixed(1)},${y(p[s.key]).toFixed(1)}`).join(" ")}"/>`);
  const legend = [];
  let at = 60;
  for (const s of series) { // each label as wide as its text (about 6.5 px a character at 11 px), then a gap
    legend.push(`<text x="${at}" y="12" class="${s.cls}-text">■ ${esc(s.label)}</text>`);
    at += s.label.length * 6.5 + 30;
  }
  const first = new Date(points[0].t * 1000).toLocaleTimeString();
  const last = new Date(points[points.length - 1].t * 1000).toLocaleTimeString();
  return `<svg class="chart" width="${width}" height="${height}" role="img" aria-label="${esc(series.map((s) => s.label).join(", "))} over time">` +
    `<text x="0" y="${y(max) + 4}">${max}</text><text x="0" y="${height - 16}">0</text>` +
    `<text x="40" y="${height - 2}">${esc(first)}</text><text x="${width - 90}" y="${height - 2}">${esc(last)}</text>` +
    `${legend.join("")}${lines.join("")}</svg>`;
}

async function budget() {
  const text = await fetch("/metrics").then((r) => r.text()).catch(() => "");
  const read = (name) => Object.fromEntries([...text.matchAll(new RegExp(`^${name}\\{use="(\\w+)"\\} ([0-9.e+]+)$`, "gm"))].map((m) => [m[1], Number(m[2])]));
  const used = read("logai_llm_budget_used_today");
  const limit = read("logai_llm_budget_per_day");
  const lag = [...text.matchAll(/^logai_consumer_lag\{[^}]*\} ([0-9.e+]+)$/gm)].reduce((sum, m) => sum + Number(m[1]), null);
  const cards = Object.keys(limit).map((use) => [`LLM ${use} calls today`, `${used[use] ?? 0} / ${limit[use]}`]);
  return lag === null ? cards : [...cards, ["Kafka consumer lag", lag]];
}

function table(headers, rows) {
  return `<table><thead><tr>${headers.map((h) => `<th scope="col">${esc(h)}</th>`).join("")}</tr></thead>` +
    `<tbody>${rows.join("") || `<tr><td colspan="${headers.length}" class="muted">nothing yet</td></tr>`}</tbody></table>`;
}

const incidentRow = (i) => `<tr><td><a href="#/incidents/${i.id}">#${i.id}</a></td>` +
  `<td class="sev-${esc(i.severity)}">${esc(i.severity)}</td><td class="state-${esc(i.state)}">${esc(i.state)}</td>` +
  `<td>${esc(i.source)}</td><td>${i.count}</td><td>${esc(i.summary?.title ?? "")}</td><td>${when(i.start_ts)}</td></tr>`;
const INCIDENT_HEADERS = ["id", "severity", "state", "source", "signals", "summary", "started"];

const pages = {
  async overview() {
    const [stats, active, verdicts, line, llm, known, [tasks, corrections]] = await Promise.all([api("/v1/stats"),
      api("/v1/incidents?state=active&limit=20"), api("/v1/analyses?label=abnormal&limit=8"),
      api("/v1/timeline?minutes=60&step=60"), budget(), api("/v1/sources"), correctionContext()]);
    const sourceRows = known.sources.slice(0, 20).map((x) => `<tr><td><a href="#/templates?source=${encodeURIComponent(x.source)}">${esc(x.source)}</a></td>` +
      `<td>${x.events}</td><td>${x.templates}</td><td>${when(x.last_seen)}</td><td class="${x.dead_letters ? "error" : ""}">${x.dead_letters}</td></tr>`);
    // [label, value, the page that lists them (none for counts without a page)]
    const cards = [["events", stats.events, "#/events"], ["templates", stats.templates, "#/templates"],
      ["verdicts", stats.analyses, "#/verdicts"], ["abnormal verdicts", stats.abnormal_verdicts, "#/verdicts?label=abnormal"],
      ["detector anomalies", stats.anomalies], ["open incidents", active.items.length, "#/incidents?state=active"],
      ["dead letters", stats.dead_letters], ...llm];
    const chart = lineChart(line.points, [{ key: "events", cls: "s-events", label: "events / min" },
      { key: "errors", cls: "s-errors", label: "errors / min" }, { key: "abnormal", cls: "s-abnormal", label: "abnormal verdicts / min" },
      { key: "anomalies", cls: "s-anomalies", label: "detector anomalies / min" }]);
    const levels = Object.entries(stats.events_by_level).sort((a, b) => b[1] - a[1]);
    const card = ([k, v, href]) => href ? `<a class="card" href="${href}"><span class="muted">${k}</span><b>${v}</b></a>`
      : `<div class="card"><span class="muted">${k}</span><b>${v}</b></div>`;
    return `<h1>Overview</h1><div class="cards">${cards.map(card).join("")}</div>` +
      `<h2>The last hour of data</h2>${chart}<h2>Events by level</h2>${bars(levels)}` +
      `<h2>Sources</h2>${table(["source", "events", "templates", "last event", "dead letters"], sourceRows)}` +
      `<h2>Open incidents</h2>${table(INCIDENT_HEADERS, active.items.map(incidentRow))}` +
      `<h2>Latest abnormal verdicts</h2>${verdictTable(verdicts.analyses, tasks, corrections)}`;
  },

  async incidents(params) {
    const state = params.get("state") || "";
    const page = await api(`/v1/incidents?limit=100${state ? `&state=${encodeURIComponent(state)}` : ""}`);
    const options = ["", "active", "open", "acknowledged", "resolved"]
      .map((s) => `<option value="${s}" ${s === state ? "selected" : ""}>${s || "any"}</option>`).join("");
    return `<h1>Incidents</h1><form class="filters" data-route="incidents"><label>state<select name="state">${options}</select></label>` +
      `<button type="submit">Show</button></form>${table(INCIDENT_HEADERS, page.items.map(incidentRow))}`;
  },

  async incident(params, id) {
    const [i, [tasks, corrections]] = await Promise.all([api(`/v1/incidents/${encodeURIComponent(id)}`), correctionContext()]);
    const s = i.summary || {};
    // its timeline: the source's events, errors and anomalies from a little before it began to after it ended
    const span = Math.max(600, i.end_ts - i.start_ts + 600);
    const step = Math.max(60, Math.ceil(span / 120 / 60) * 60);
    const line = await api(`/v1/timeline?end=${i.end_ts + 300}&minutes=${Math.ceil(span / 60)}&step=${step}&source=${encodeURIComponent(i.source)}`).catch(() => ({ points: [] }));
    const templates = Object.entries(i.templates).sort((a, b) => b[1].count - a[1].count)
      .map(([tid, t]) => `<tr><td><a href="#/events?template_id=${encodeURIComponent(tid)}">${esc(tid)}</a></td><td>${t.count}</td><td class="mono">${esc(t.template)}</td></tr>`);
    // a verdict sample can be corrected here, where the person paged lands: the input is its template's in the incident
    const known = inForce(corrections);
    const samples = i.samples.map((x) => {
      const [task, input] = (x.kind === "verdict" && x.analysis_id && i.templates[x.template_id]?.input) || [];
      const action = task ? correctionCell(x.analysis_id, task, x.label ?? "abnormal", input, tasks, known) : ""; // (older samples lack it)
      return `<tr${task ? ` data-analysis="${x.analysis_id}" data-task="${esc(task)}" data-input="${esc(input)}"` : ""}>` +
        `<td>${when(x.ts)}</td><td>${esc(x.kind)}</td><td>${esc(x.level ?? "")}</td>` +
        `<td class="mono">${x.content != null ? message(x.content) : esc(JSON.stringify(x.evidence ?? {}))}</td><td class="feedback">${action}</td></tr>`;
    });
    const deliveries = i.deliveries.map((d) => `<tr><td>${esc(d.receiver)}</td><td>${esc(d.kind)}</td><td>${esc(d.state)}</td><td>${d.attempts}</td><td>${when(d.sent_at)}</td><td class="mono">${esc(d.last_error ?? "")}</td></tr>`);
    const ack = i.state === "open" ? `<button type="button" data-action="ack" data-id="${i.id}">Acknowledge</button>` : "";
    return `<h1>Incident #${i.id} <span class="sev-${esc(i.severity)}">${esc(i.severity)}</span> <span class="state-${esc(i.state)}">${esc(i.state)}</span> ${ack}</h1>` +
      `<p><b>${esc(s.title ?? "")}</b><br>${esc(s.suspected_cause ?? "")}` +
      `${s.affected?.length ? `<br>Affected: ${s.affected.map(esc).join(", ")}` : ""}</p>` +
      `<p class="muted">summary by ${esc(i.summary_by ?? "-")}${s.note ? ` (${esc(s.note)})` : ""} · source ${esc(i.source)} · ${i.count} signals · ` +
      `${when(i.start_ts)} to ${when(i.end_ts)}${i.acked_by ? ` · acknowledged by ${esc(i.acked_by)}` : ""}` +
      `${i.resolution ? ` · <span class="resolution">resolved: ${esc(i.resolution)}</span>` : ""}</p>` +
      (s.next_steps?.length ? `<h2>Next steps</h2><ul class="next-steps">${s.next_steps.map((x) => `<li>${linkTemplates(x)}</li>`).join("")}</ul>` : "") +
      `<h2>Timeline</h2>${lineChart(line.points, [{ key: "events", cls: "s-events", label: `events / ${step / 60} min` },
        { key: "errors", cls: "s-errors", label: "errors" }, { key: "abnormal", cls: "s-abnormal", label: "abnormal verdicts" },
        { key: "anomalies", cls: "s-anomalies", label: "detector anomalies" }])}` +
      `<h2>Templates</h2>${table(["template", "signals", "text"], templates)}` +
      `<h2>Sample events</h2>${table(["time", "signal", "level", "event", "correct it"], samples)}` +
      `<h2>Alert deliveries</h2>${table(["receiver", "kind", "state", "attempts", "sent", "last error"], deliveries)}`;
  },

  async verdicts(params) {
    const label = params.get("label") || "";
    const [page, [tasks, corrections]] = await Promise.all([api(`/v1/analyses?limit=100${label ? `&label=${encodeURIComponent(label)}` : ""}`),
      correctionContext()]);
    const labels = [...new Set(Object.values(tasks).flat())];
    const options = ["", ...labels].map((l) => `<option value="${esc(l)}" ${l === label ? "selected" : ""}>${esc(l) || "any"}</option>`).join("");
    return `<h1>Verdicts</h1><form class="filters" data-route="verdicts"><label>label<select name="label">${options}</select></label>` +
      `<button type="submit">Show</button></form>${verdictTable(page.analyses, tasks, corrections)}`;
  },

  async templates(params) {
    const source = params.get("source") || "";
    const show = params.get("show") || "all";
    const bySource = source ? `&source=${encodeURIComponent(source)}` : "";
    let page;
    if (show === "all") {
      page = await api(`/v1/templates?limit=50${bySource}`);
    } else { // changed in the last hour of data against the hour before, most changed first
      const changes = (await api(`/v1/template-changes?minutes=60&limit=500${bySource}`)).templates;
      const keep = { new: (t) => t.new, changed: (t) => !t.new && (t.change >= 2 || t.change <= 0.5), recent: () => true }[show];
      page = { templates: changes.filter(keep).slice(0, 50) };
    }
    const shows = [["all", "all, by count"], ["recent", "by recent change"], ["new", "new in the last hour"],
      ["changed", "rate changed (2x)"]].map(([v, l]) => `<option value="${v}" ${v === show ? "selected" : ""}>${l}</option>`).join("");
    const ids = page.templates.map((t) => `id=${encodeURIComponent(t.template_id)}`).join("&");
    const spark = ids ? (await api(`/v1/template-series?${ids}`)).series : {};
    const rows = page.templates.map((t) => `<tr><td><a href="#/templates/${encodeURIComponent(t.template_id)}">${esc(t.template_id)}</a></td>` +
      `<td>${esc(t.source)}</td><td>${t.count}${t.change ? `<br><span class="muted">${t.recent} vs ${t.before}${t.new ? " · new" : ""}</span>` : ""}</td><td>${sparkline(spark[t.template_id] ?? [])}</td>` +
      `<td>${when(t.first_seen)}</td><td>${when(t.last_seen)}</td><td class="mono">${esc(t.template)}</td></tr>`);
    return `<h1>Templates</h1><form class="filters" data-route="templates"><label>source<input name="source" value="${esc(source)}"></label>` +
      `<label>show<select name="show">${shows}</select></label><button type="submit">Show</button></form>` +
      table(["id", "source", "count", "over time", "first seen", "last seen", "template"], rows);
  },

  async template(params, id) {
    const [t, page] = await Promise.all([api(`/v1/templates/${encodeURIComponent(id)}`),
      api(`/v1/events?template_id=${encodeURIComponent(id)}&limit=200`)]);
    const points = t.series.map((p) => ({ t: p.bucket, count: p.count }));
    const concepts = {};
    for (const e of page.events) for (const p of e.params) {
      const name = p.concept ?? p.type ?? "value";
      (concepts[name] ??= {})[p.value] = (concepts[name][p.value] ?? 0) + 1;
    }
    const distributions = Object.entries(concepts).map(([name, values]) => {
      const top = Object.entries(values).sort((a, b) => b[1] - a[1]).slice(0, 8);
      return `<tr><td>${esc(name)}</td><td>${Object.keys(values).length}</td><td class="mono">${top.map(([v, n]) => `${esc(v)} (${n})`).join(", ")}</td></tr>`;
    });
    const samples = page.events.slice(0, 20).map((e) => `<tr><td>${when(e.ts)}</td><td>${esc(e.level ?? "")}</td><td class="mono">${message(e.content)}</td></tr>`);
    return `<h1>Template ${esc(id)}</h1><p class="mono">${esc(t.conceptualized ?? t.template)}</p>` +
      `<p class="muted">${esc(t.source)} · ${t.count} events · first ${when(t.first_seen)} · last ${when(t.last_seen)} · ` +
      `<a href="#/events?template_id=${encodeURIComponent(id)}">all its events</a></p>` +
      `<h2>Count per ${t.bucket_seconds} s</h2>${lineChart(points, [{ key: "count", cls: "s-events", label: "events" }])}` +
      `<h2>Parameters by concept (last ${page.events.length} events)</h2>${table(["concept", "distinct values", "most frequent"], distributions)}` +
      `<h2>Sample events</h2>${table(["time", "level", "event"], samples)}`;
  },

  async events(params) {
    const fields = ["q", "source", "level", "template_id", "concept", "value"];
    const query = new URLSearchParams();
    for (const f of fields) if (params.get(f)) query.set(f, params.get(f));
    for (const f of ["start", "end"]) if (params.get(f)) query.set(f, new Date(params.get(f)).toISOString()); // browser time -> UTC
    if (params.get("cursor")) query.set("cursor", params.get("cursor"));
    query.set("limit", "100");
    const page = await api(`/v1/events?${query}`);
    const rows = page.events.map((e) => `<tr><td>${when(e.ts)}</td><td>${esc(e.source)}</td><td>${esc(e.level ?? "")}</td>` +
      `<td class="mono">${message(e.content)}</td><td class="mono">${e.params.map((p) => `${esc(p.concept ?? p.type ?? "")}=${esc(p.value)}`).join(" ")}</td></tr>`);
    const inputs = ["start", "end"].map((f) => `<label>${f}<input type="datetime-local" step="1" name="${f}" value="${esc(params.get(f) ?? "")}"></label>`).join("") +
      fields.map((f) => `<label>${f}<input name="${f}" value="${esc(params.get(f) ?? "")}"></label>`).join("");
    const next = new URLSearchParams(params);
    if (page.next_cursor) next.set("cursor", page.next_cursor);
    return `<h1>Events</h1><form class="filters" data-route="events">${inputs}<button type="submit">Search</button>` +
      `<button type="button" data-action="tail" aria-pressed="false">Live tail</button></form>` +
      `<table id="live" hidden><tbody></tbody></table>` +
      `<p class="muted" id="event-count">${page.events.length} events${page.next_cursor ? ` · <a href="#/events?${next}">older</a>` : ""}</p>` +
      table(["time", "source", "level", "message", "parameters"], rows);
  },

  async settings() {
    const config = await api("/v1/config");
    return `<h1>Settings</h1><p class="muted">The effective configuration (YAML and environment), secrets redacted. Read-only.</p>` +
      `<pre>${esc(JSON.stringify(config, null, 2))}</pre>`;
  },
};

// A correction holds for every verdict on the same input (what the small model reads: one template of one source,
// as a rule), so each row says so when one is in force, and offers to undo it rather than to correct again.
const corrected = (label, feedbackId) => ` corrected to <b class="label-${esc(label)}">${esc(label)}</b>: verdicts on ` +
  `this input follow it <button type="button" data-action="undo" data-id="${feedbackId}">Undo</button>`;

// The corrections in force, by task and input (the newest per input wins).
const inForce = (corrections) => new Map(corrections.map((f) => [`${f.task}\n${f.input}`, f]));

// The "correct it" cell of a verdict: its correction in force, or a button for each other label of its task.
function correctionCell(analysisId, task, label, input, tasks, corrections) {
  const correction = corrections.get(`${task}\n${input ?? ""}`);
  return correction ? corrected(correction.new_label, correction.id) : (tasks[task] || []).filter((l) => l !== label).map((l) =>
    `<button type="button" data-action="correct" data-id="${analysisId}" data-label="${esc(l)}">mark ${esc(l)}</button>`).join(" ");
}

// What the verdict tables need besides the verdicts: each task's labels and the corrections in force.
const correctionContext = () => Promise.all([api("/v1/tasks").catch(() => ({})),
  api("/v1/feedback?active=true&limit=10000").then((f) => f.feedback).catch(() => [])]);

function verdictTable(analyses, tasks, corrections = []) {
  const known = inForce(corrections);
  const rows = analyses.map((a) => {
    const p = a.provenance || {};
    const action = correctionCell(a.id, a.task, a.label, p.input, tasks, known);
    return `<tr data-analysis="${a.id}" data-task="${esc(a.task)}" data-input="${esc(p.input ?? "")}"><td>${when(a.created_at)}</td>` +
      `<td class="label-${esc(a.label)}">${esc(a.label)}</td><td>${esc(p.path ?? a.model)}${a.confidence != null ? ` · p=${a.confidence.toFixed(2)}` : ""}</td>` +
      `<td class="mono">${message(p.log ?? "")}</td><td>${esc(p.reason ?? "")}${provenance(p)}</td><td class="feedback">${action}</td></tr>`;
  });
  return table(["when", "verdict", "by", "log", "reason", "correct it"], rows);
}

function provenance(p) {
  const facts = [["small model", `${p.slm_label ?? ""} (uncertainty ${p.uncertainty != null ? Number(p.uncertainty).toFixed(3) : "-"})`],
    ["path", p.path], ["model", p.model], ["template", p.template_id], ["stream evidence", p.evidence ? JSON.stringify(p.evidence) : ""],
    ["LLM error", p.llm_error]].filter(([, v]) => v);
  const cases = (p.cases || []).map((c) => `<li>${esc(c.label)} (${esc(c.similarity)}): <span class="mono">${esc(c.log)}</span></li>`).join("");
  return `<details><summary>provenance</summary><dl>${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>` +
    (cases ? `<p>cases the LLM was shown:</p><ul>${cases}</ul>` : "") + "</details>";
}

// An incident tracked by another process (a `logai daemon`) resolves there once that process has read the
// correction from the store (`route.feedback_sync_s`): its page looks again for a while and redraws when it has.
async function watchIncident(id, hash, tries = 10, everyMs = 2000) {
  for (let k = 0; k < tries; k++) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    if (location.hash !== hash) return;
    const incident = await api(`/v1/incidents/${id}`).catch(() => null);
    if (incident?.state === "resolved") return render();
  }
}

async function act(button) {
  const { action, id, label } = button.dataset;
  const cell = button.closest("td");
  try {
    if (action === "ack") {
      await api(`/v1/incidents/${id}/ack`, { method: "POST", body: { by: "console" } });
      return render();
    }
    if (action === "correct") {
      const done = await api("/v1/feedback", { method: "POST", body: { analysis_id: Number(id), label, by: "console" } });
      const input = done.input.replace(/\r\n?/g, "\n"); // as an attribute keeps it
      for (const row of document.querySelectorAll("tr[data-input]")) { // every row on the same input, not only this one
        if (row.dataset.task === done.task && row.dataset.input === input) $("td.feedback", row).innerHTML = corrected(label, done.id);
      }
      if ((done.resolved_incidents || []).some((n) => location.hash === `#/incidents/${n}`)) return render(); // this page, resolved
      const here = location.hash.match(/^#\/incidents\/(\d+)$/);
      if (here) watchIncident(here[1], location.hash);
      const cleared = (done.resolved_incidents || []).map((n) => `<a href="#/incidents/${n}">incident #${n}</a>`);
      if (cleared.length) cell.insertAdjacentHTML("beforeend", // the clicked row's cell: the page it caused is cleared
        `<span class="cleared"> · resolved ${cleared.join(", ")}: every verdict in it is now normal</span>`);
    }
    if (action === "tail") return toggleTail(button);
    if (action === "undo") {
      await api(`/v1/feedback/${id}`, { method: "DELETE" });
      return render(); // the verdicts as they stand again, with their buttons
    }
  } catch (error) {
    cell.insertAdjacentHTML("beforeend", `<span class="error"> ${esc(error.message)}</span>`);
  }
}

let tailing = null; // the AbortController of the live tail's stream, while it runs

async function toggleTail(button) {
  if (tailing) {
    tailing.abort();
    tailing = null;
    button.textContent = "Live tail";
    button.setAttribute("aria-pressed", "false");
    return;
  }
  const form = button.closest("form");
  const query = new URLSearchParams();
  for (const f of ["q", "source", "level"]) if (form.elements[f]?.value) query.set(f, form.elements[f].value);
  tailing = new AbortController();
  button.textContent = "Pause";
  button.setAttribute("aria-pressed", "true");
  const live = $("#live");
  live.hidden = false;
  delete live.dataset.open;
  const headers = sessionStorage.getItem(KEY) ? { "X-API-Key": sessionStorage.getItem(KEY) } : {};
  try { // fetch, not EventSource: the API key goes in a header, never in the URL
    const response = await fetch(`/v1/tail?${query}`, { headers, signal: tailing.signal });
    live.dataset.open = "true"; // the server took its starting point before it answered: later events will show
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const events = buffer.split("\n\n");
      buffer = events.pop();
      for (const block of events) {
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("");
        if (!data) continue;
        const e = JSON.parse(data);
        $("tbody", live).insertAdjacentHTML("afterbegin", `<tr class="live-row"><td>${when(e.ts)}</td><td>${esc(e.source)}</td>` +
          `<td>${esc(e.level ?? "")}</td><td class="mono">${message(e.content)}</td></tr>`);
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") live.insertAdjacentHTML("beforebegin", `<p class="error">${esc(error.message)}</p>`);
  }
}

let rendering = 0; // the latest navigation's number: a slower, older page must not overwrite a newer one

async function render() {
  const mine = ++rendering;
  if (tailing) {
    tailing.abort();
    tailing = null;
  }
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, id] = path.split("/");
  const detail = { incidents: "incident", templates: "template" };
  const page = !name ? "overview" : (id && detail[name]) || name;
  const main = $("#page");
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", link.dataset.page === (name || "overview"));
    if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
  }
  if (!pages[page]) {
    main.innerHTML = `<h1>Not found</h1><p>No page ${esc(name)}.</p>`;
    return;
  }
  let html;
  try {
    html = await pages[page](new URLSearchParams(query), id);
  } catch (error) {
    html = `<h1>Error</h1><p class="error">${esc(error.message)}</p>`;
  }
  if (mine === rendering) main.innerHTML = html;
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form.filters");
  if (!form) return;
  event.preventDefault();
  const query = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) query.set(k, v);
  location.hash = `#/${form.dataset.route}${query.size ? `?${query}` : ""}`;
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (button) act(button);
});
$("#theme").addEventListener("click", () => {
  const dark = document.documentElement.dataset.theme === "dark" ||
    (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "light" : "dark";
  localStorage.setItem("logai-theme", document.documentElement.dataset.theme);
});
if (localStorage.getItem("logai-theme")) document.documentElement.dataset.theme = localStorage.getItem("logai-theme");
window.addEventListener("hashchange", render);
render();
