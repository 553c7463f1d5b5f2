// mnist-board's page: plain JavaScript, no bundler. The server does the work (run folders,
// chart specs, evaluation, the preprocessing of drawings); this file draws what it answers.
"use strict";

const state = {
  runs: [],
  columns: [],
  sort: { key: "id", dir: 1 },
  filter: "",
  checked: new Set(),
  focused: null,
  smooth: 100,
  x: "iteration",
  touched: false,
};

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
};

async function api(url, init) {
  const res = await fetch(url, init);
  const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
  return body;
}

// ---- runs table ----

const LABELS = { lr: "lr", hiddenSize: "hidden", batchSize: "batch", iters: "iters", seed: "seed", weightInitStd: "init std" };
const RESULT_COLUMNS = [
  ["iterations", "iterations", (v) => (v === null ? "" : v)],
  ["finalLoss", "final loss", (v) => fixed(v, 4)],
  ["trainAccuracy", "train acc", (v) => fixed(v, 4)],
  ["testAccuracy", "test acc", (v) => fixed(v, 4)],
  ["bestTestAccuracy", "best test", (v) => fixed(v, 4)],
  ["valAccuracy", "val acc", (v) => fixed(v, 4)],
  ["wallTimeS", "wall s", (v) => fixed(v, 1)],
];
const fixed = (v, d) => (typeof v === "number" ? v.toFixed(d) : "");
const show = (v) => (v === undefined || v === null ? "" : Array.isArray(v) ? v.join(",") : String(v));

async function loadRuns() {
  const data = await api("/api/runs");
  state.runs = data.runs;
  state.columns = data.columns;
  $("#root").textContent = data.root;
  const ids = new Set(data.runs.map((r) => r.id));
  for (const id of [...state.checked]) if (!ids.has(id)) state.checked.delete(id);
  if (!state.touched && state.checked.size === 0) {
    const first = data.runs.find((r) => r.status === "running") || data.runs.find((r) => r.status !== "malformed");
    if (first) state.checked.add(first.id);
  }
  if (state.focused === null) {
    const finished = data.runs.find((r) => r.hasModel);
    if (finished) focus(finished.id);
  }
  renderTable();
}

function sortValue(r, key) {
  if (key === "id" || key === "status") return r[key];
  if (key in r) return r[key];
  const v = r.config[key];
  return Array.isArray(v) ? v.join(",") : v;
}

function matches(r) {
  const terms = state.filter.trim().toLowerCase().split(/\s+/).filter(Boolean);
  return terms.every((t) => {
    const eq = t.indexOf("=");
    if (eq > 0) {
      const key = t.slice(0, eq);
      const want = t.slice(eq + 1);
      const k = Object.keys(r.config).find((c) => c.toLowerCase() === key || (LABELS[c] || "").toLowerCase() === key);
      return k !== undefined && show(r.config[k]).toLowerCase() === want;
    }
    return `${r.id} ${r.status} ${r.error || ""}`.toLowerCase().includes(t);
  });
}

function renderTable() {
  const { key, dir } = state.sort;
  const cols = [
    ["pick", "", null],
    ["id", "run", null],
    ["status", "status", null],
    ...state.columns.map((c) => [c, LABELS[c] || c, null]),
    ...RESULT_COLUMNS,
  ];
  const head = el("tr");
  for (const [k, label] of cols) {
    const th = el("th", { class: (k === "id" ? "name " : "") + (k === key ? (dir > 0 ? "sorted-asc" : "sorted-desc") : ""), dataset: { key: k } }, label);
    if (k !== "pick") th.addEventListener("click", () => {
      state.sort = { key: k, dir: state.sort.key === k ? -state.sort.dir : k === "id" || k === "status" ? 1 : -1 };
      renderTable();
    });
    head.append(th);
  }
  $("#runs thead").replaceChildren(head);

  const rows = state.runs.filter(matches).sort((a, b) => {
    const va = sortValue(a, key);
    const vb = sortValue(b, key);
    if (va === vb) return a.id < b.id ? -1 : 1;
    if (va === null || va === undefined) return 1;
    if (vb === null || vb === undefined) return -1;
    return (va < vb ? -1 : 1) * dir;
  });
  const body = rows.map((r) => {
    const pick = el("input", { type: "checkbox", class: "pick", "aria-label": `overlay ${r.id}` });
    pick.checked = state.checked.has(r.id);
    pick.disabled = r.status === "malformed";
    pick.addEventListener("change", () => {
      state.touched = true;
      if (pick.checked) state.checked.add(r.id);
      else state.checked.delete(r.id);
      renderCurves();
    });
    const name = r.hasModel ? el("a", { class: "focus", onclick: () => focus(r.id) }, r.id) : el("span", {}, r.id);
    const nameCell = el("td", { class: "name" }, name, r.error ? el("div", { class: "error" }, r.error) : null);
    const status = el("span", { class: `status ${r.status}`, title: r.error || "" }, r.status);
    return el(
      "tr",
      { class: r.id === state.focused ? "focused" : "", dataset: { run: r.id, status: r.status } },
      el("td", {}, pick),
      nameCell,
      el("td", {}, status),
      ...state.columns.map((c) => el("td", {}, show(r.config[c]))),
      ...RESULT_COLUMNS.map(([k, , fmt]) => el("td", { dataset: { col: k } }, fmt(r[k]))),
    );
  });
  if (state.runs.length === 0) {
    body.push(el("tr", {}, el("td", { colspan: String(cols.length), class: "name muted" }, "No run folders here yet: runs written with mnist-train --out under this folder show up as they start.")));
  }
  $("#runs tbody").replaceChildren(...body);
  $("#run-count").textContent = rows.length === state.runs.length ? `${rows.length} runs` : `${rows.length} of ${state.runs.length} runs`;
  $("#runs").dataset.ready = "1";
}

// ---- curves ----

let curvesSeq = 0;
let view = null;

async function renderCurves() {
  const seq = ++curvesSeq;
  const ids = state.runs.filter((r) => state.checked.has(r.id)).map((r) => r.id);
  const box = $("#curves");
  if (ids.length === 0) {
    if (view) view.finalize();
    view = null;
    box.replaceChildren(el("p", { class: "empty" }, "Tick a run in the table."));
    box.dataset.runs = "";
    delete box.dataset.lastIteration;
    return;
  }
  try {
    const q = new URLSearchParams({ runs: ids.join(","), smooth: String(state.smooth), x: state.x });
    const { spec, lastIteration } = await api(`/api/curves?${q}`);
    if (seq !== curvesSeq) return;
    const compiled = vegaLite.compile(spec).spec;
    const next = new vega.View(vega.parse(compiled), { renderer: "svg", hover: true });
    const holder = el("div");
    await next.initialize(holder).runAsync();
    if (seq !== curvesSeq) return next.finalize();
    if (view) view.finalize();
    view = next;
    box.replaceChildren(holder);
    box.dataset.runs = ids.join(",");
    box.dataset.lastIteration = JSON.stringify(lastIteration);
  } catch (err) {
    if (seq === curvesSeq) box.replaceChildren(el("p", { class: "error" }, String(err.message || err)));
  }
}

// ---- model ----

let modelSeq = 0;

function gray(canvas, b64, invert = false) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let i = 0; i < bytes.length; i++) {
    const v = invert ? 255 - bytes[i] : bytes[i];
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

function thumb(b64, caption, invert, width = 28, height = 28) {
  const c = el("canvas", { width, height });
  gray(c, b64, invert);
  return el("figure", {}, c, el("figcaption", {}, caption));
}

async function focus(id) {
  state.focused = id;
  const seq = ++modelSeq;
  for (const tr of document.querySelectorAll("#runs tbody tr")) tr.classList.toggle("focused", tr.dataset.run === id);
  $("#model-run").textContent = `${id}: evaluating on the 10,000 test images…`;
  $("#draw-run").textContent = `classified by ${id}`;
  $("#model").replaceChildren();
  if (hasInk) predictSoon();
  try {
    const m = await api(`/api/model?run=${encodeURIComponent(id)}`);
    if (seq !== modelSeq) return;
    renderModel(id, m);
  } catch (err) {
    if (seq === modelSeq) $("#model-run").replaceChildren(el("span", { class: "error" }, `${id}: ${err.message}`));
  }
}

function renderModel(id, m) {
  const recorded =
    m.recordedTestAccuracy !== null && m.recordedTestAccuracy !== m.testAccuracy ? `; the run recorded ${m.recordedTestAccuracy.toFixed(4)} on the test images it was limited to` : "";
  const base = id === "." ? "/files/" : `/files/${id.split("/").map(encodeURIComponent).join("/")}/`;
  const links = ["model.json", "config.json", "curves.svg"].flatMap((f) => [" · ", el("a", { href: base + f, target: "_blank" }, f)]);
  $("#model-run").replaceChildren(
    `${id}: ${m.architecture}, test accuracy ${m.testAccuracy.toFixed(4)} (${Math.round(m.testAccuracy * m.count)} of ${m.count}${recorded})`,
    ...links,
  );
  const conf = el("table", { class: "confusion" });
  conf.append(el("tr", {}, el("th", {}, "true \\ predicted"), ...m.confusion.map((_, k) => el("th", {}, k)), el("th", {}, "accuracy")));
  m.confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    const tr = el("tr", {}, el("th", {}, i));
    row.forEach((n, j) => {
      const a = n / total;
      const td = el("td", { dataset: { row: i, col: j } }, n);
      td.style.background = i === j ? `rgba(26,127,55,${0.15 + 0.85 * a})` : n > 0 ? `rgba(207,34,46,${Math.min(1, 0.1 + 4 * a)})` : "";
      if ((i === j && a > 0.5) || (i !== j && a > 0.2)) td.style.color = "#fff";
      tr.append(td);
    });
    tr.append(el("td", { class: "per-class" }, m.perClass[i] === null ? "–" : m.perClass[i].toFixed(3)));
    conf.append(tr);
  });
  const errors = el("div", { class: "grid", id: "errors" }, ...m.errors.map((e) => thumb(e.pixels, `#${e.index} ${e.label}→${e.predicted}`, false)));
  const { width, height } = m.weights;
  const weights = el("div", { class: "grid", id: "weights" }, ...m.weights.images.map((w, j) => thumb(w, j + 1, true, width, height)));
  const weightsTitle =
    m.weights.units === 0
      ? "First-layer weights: none to draw (the first weighted layer does not see the pixels)"
      : `First-layer weights as ${width}×${height} images (dark = positive): ${m.weights.shown} of ${m.weights.units} ${m.weights.kind}`;
  $("#model").replaceChildren(
    el("div", {}, el("h3", {}, "Confusion matrix (rows: true label) and per-class accuracy"), conf),
    el("div", {}, el("h3", {}, `Misclassified test images: ${m.errorCount} of ${m.count}${m.errors.length < m.errorCount ? `, the first ${m.errors.length}` : ""} (#index true→predicted)`), errors),
    el("div", {}, el("h3", {}, weightsTitle), weights),
  );
}

// ---- draw a digit ----

const pad = $("#pad");
const ctx = pad.getContext("2d");
let drawing = false;
let hasInk = false;
let drawVersion = 0;
let inFlight = false;
let again = false;

function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  hasInk = false;
  drawVersion++;
  $("#prediction").textContent = "";
  $("#prediction").dataset.state = "empty";
  $("#probs").replaceChildren();
  $("#input28").getContext("2d").clearRect(0, 0, 28, 28);
}

function point(ev) {
  const r = pad.getBoundingClientRect();
  return [((ev.clientX - r.left) * pad.width) / r.width, ((ev.clientY - r.top) * pad.height) / r.height];
}

pad.addEventListener("pointerdown", (ev) => {
  drawing = true;
  pad.setPointerCapture(ev.pointerId);
  const [x, y] = point(ev);
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 0.01, y);
  stroke();
});
pad.addEventListener("pointermove", (ev) => {
  if (!drawing) return;
  const [x, y] = point(ev);
  ctx.lineTo(x, y);
  stroke();
});
const end = () => {
  if (!drawing) return;
  drawing = false;
  predictSoon();
};
pad.addEventListener("pointerup", end);
pad.addEventListener("pointercancel", end);

function stroke() {
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 18;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.stroke();
  hasInk = true;
  drawVersion++;
  $("#prediction").dataset.state = "drawing";
  predictSoon();
}

// One request at a time; strokes made meanwhile are sent as soon as it returns.
function predictSoon() {
  if (!hasInk || state.focused === null) return;
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  const version = drawVersion;
  const run = state.focused;
  pad.toBlob(async (blob) => {
    try {
      const p = await api(`/api/predict?run=${encodeURIComponent(run)}`, { method: "POST", headers: { "Content-Type": "image/png" }, body: blob });
      if (version === drawVersion || again) showPrediction(p, version === drawVersion && !drawing && run === state.focused);
    } catch (err) {
      $("#prediction").replaceChildren(el("span", { class: "error", style: "font-size:14px" }, err.message));
      $("#prediction").dataset.state = "error";
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        predictSoon();
      }
    }
  }, "image/png");
}

function showPrediction(p, final) {
  gray($("#input28"), p.pixels);
  const out = $("#prediction");
  out.textContent = String(p.digit);
  out.dataset.digit = String(p.digit);
  out.dataset.state = final ? "done" : "drawing";
  $("#probs").replaceChildren(
    ...p.probabilities.flatMap((q, k) => {
      const cls = k === p.digit ? "best" : "";
      const fill = el("div", { class: "bar-fill" });
      fill.style.width = `${Math.max(0.5, q * 100)}%`;
      return [el("span", { class: cls }, k), el("div", { class: cls }, fill), el("span", { class: cls, dataset: { digit: k } }, q.toFixed(3))];
    }),
  );
}

// ---- live updates ----

function listen() {
  const live = $("#live");
  const events = new EventSource("/api/events");
  let pending = null;
  events.addEventListener("hello", () => {
    live.textContent = "live";
    live.className = "live on";
  });
  events.addEventListener("change", (ev) => {
    const change = JSON.parse(ev.data);
    // Several runs writing at once send several events a second: refresh once for them.
    pending = pending || { runs: new Set(), model: false };
    for (const id of change.runs) pending.runs.add(id);
    setTimeout(async () => {
      if (!pending) return;
      const p = pending;
      pending = null;
      await loadRuns().catch(() => undefined);
      if ([...p.runs].some((id) => state.checked.has(id))) renderCurves();
      if (state.focused !== null && p.runs.has(state.focused)) {
        const r = state.runs.find((x) => x.id === state.focused);
        if (r && r.hasModel) focus(state.focused);
      }
    }, 200);
  });
  events.onerror = () => {
    live.textContent = "disconnected (retrying)";
    live.className = "live off";
  };
}

// ---- start ----

$("#filter").addEventListener("input", (ev) => {
  state.filter = ev.target.value;
  renderTable();
});
$("#smooth").addEventListener("change", (ev) => {
  state.smooth = Number(ev.target.value);
  renderCurves();
});
$("#smooth").addEventListener("input", (ev) => ($("#smooth-value").textContent = ev.target.value));
$("#xaxis").addEventListener("change", (ev) => {
  state.x = ev.target.value;
  renderCurves();
});
$("#clear").addEventListener("click", clearPad);
clearPad();
loadRuns()
  .then(renderCurves)
  .catch((err) => $("#runs tbody").replaceChildren(el("tr", {}, el("td", { class: "error" }, err.message))));
listen();
