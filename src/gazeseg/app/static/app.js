// gazeseg page: draws the image, streams gaze (mouse or tracker) to the server, shows masks.
// All state that matters lives on the server; this page can be reloaded at any time.
"use strict";
const $ = (id) => document.getElementById(id);
const canvas = $("canvas"), ctx = canvas.getContext("2d");
const S = {
  items: [], labels: [], item: null, slice: 0, window: "", img: null, overlay: null, preview: null,
  view: { scale: 1, x: 0, y: 0 }, trace: [], cursor: null, ws: null, outbox: [], source: "mouse",
  calibration: null, gazeShift: [0, 0], openedAt: 0, firstMaskShown: false, restAt: null, lastMove: null, previewAt: 0,
  dwellTimer: null, metrics: { openToFirstMask: [], fixationToMask: [], serverDecode: [] },
};
window.gazeseg = S;

async function api(path, body, method) {
  const opts = body === undefined ? { method: method || "GET" } : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const res = await fetch(path, opts);
  const data = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok) { const msg = (data && data.error) || res.statusText; showMessage(msg); throw new Error(msg); }
  return data;
}

function showMessage(text, info) {
  const m = $("message");
  m.textContent = text; m.className = info ? "info" : ""; m.hidden = false;
  clearTimeout(showMessage.t); showMessage.t = setTimeout(() => (m.hidden = true), info ? 2500 : 6000);
}

function status(text) { $("status").textContent = text; }

// ---- geometry: page <-> image pixels (zoom and pan) ------------------------------------
function fit() {
  const r = canvas.getBoundingClientRect();
  canvas.width = r.width * devicePixelRatio; canvas.height = r.height * devicePixelRatio;
  if (!S.img) return;
  const s = Math.min(r.width / S.img.width, r.height / S.img.height) * 0.96;
  S.view = { scale: s, x: (r.width - S.img.width * s) / 2, y: (r.height - S.img.height * s) / 2 };
}
function pageToImage(px, py) {
  const r = canvas.getBoundingClientRect();
  return [(px - r.left - S.view.x) / S.view.scale, (py - r.top - S.view.y) / S.view.scale];
}
function zoom(f, cx, cy) {
  const r = canvas.getBoundingClientRect();
  cx = cx ?? r.width / 2; cy = cy ?? r.height / 2;
  S.view.x = cx - (cx - S.view.x) * f; S.view.y = cy - (cy - S.view.y) * f; S.view.scale *= f; draw();
}

// ---- drawing -------------------------------------------------------------------------
function draw() {
  const d = devicePixelRatio;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#111"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!S.img) return;
  ctx.setTransform(d * S.view.scale, 0, 0, d * S.view.scale, d * S.view.x, d * S.view.y);
  ctx.imageSmoothingEnabled = S.view.scale < 1;
  ctx.drawImage(S.img, 0, 0);
  if (S.overlay) ctx.drawImage(S.overlay, 0, 0, S.img.width, S.img.height);
  if (S.preview) {
    ctx.globalAlpha = 0.45; ctx.drawImage(S.preview.canvas, 0, 0, S.img.width, S.img.height); ctx.globalAlpha = 1;
    for (let i = 0; i < S.preview.points.length; i++) {
      const [x, y] = S.preview.points[i];
      ctx.fillStyle = S.preview.labels[i] ? "#2ecc40" : "#ff4136";
      ctx.beginPath(); ctx.arc(x, y, 4 / S.view.scale, 0, 7); ctx.fill();
    }
  }
  if (S.lesions) {
    ctx.lineWidth = 2 / S.view.scale;
    for (const c of S.lesions) { ctx.strokeStyle = "#ffdc00"; ctx.beginPath(); ctx.arc(c.x, c.y, c.r, 0, 7); ctx.stroke(); }
  }
  if ($("trace").checked && S.trace.length > 1) {
    ctx.strokeStyle = "rgba(255,220,0,0.5)"; ctx.lineWidth = 1.5 / S.view.scale; ctx.beginPath();
    S.trace.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y))); ctx.stroke();
  }
  if (S.cursor) {
    ctx.strokeStyle = "#ffdc00"; ctx.lineWidth = 2 / S.view.scale;
    ctx.beginPath(); ctx.arc(S.cursor[0], S.cursor[1], 10 / S.view.scale, 0, 7); ctx.stroke();
  }
}

function loadImage(src) {
  return new Promise((ok, fail) => { const im = new Image(); im.onload = () => ok(im); im.onerror = () => fail(new Error("image failed to load")); im.src = src; });
}

// ---- items, labels, state ---------------------------------------------------------------
async function refreshItems() {
  S.items = await api("/api/items");
  const counts = {};
  const state = await api("/api/state");
  (state.masks || []).forEach((m) => (counts[m.item] = (counts[m.item] || 0) + 1));
  $("items").innerHTML = "";
  S.items.forEach((it) => {
    const li = document.createElement("li");
    li.textContent = it.name; li.dataset.id = it.id; li.title = it.error || `${it.width}×${it.height}${it.kind === "volume" ? "×" + it.depth : ""}`;
    if (it.kind === "broken") li.className = "broken";
    if (S.item && it.id === S.item.id) li.classList.add("active");
    li.onclick = () => openItem(it.id);
    $("items").appendChild(li);
  });
}

async function refreshLabels() {
  S.labels = await api("/api/labels");
  const sel = $("label"), keep = sel.value;
  sel.innerHTML = "";
  S.labels.forEach((l) => { const o = document.createElement("option"); o.value = l.id; o.textContent = l.name; o.style.color = l.color; sel.appendChild(o); });
  if (keep) sel.value = keep;
}

async function refreshModels(listing) {
  const m = listing || await api("/api/models");
  const sel = $("model");
  sel.innerHTML = "";
  const base = document.createElement("option"); base.value = "base"; base.textContent = `base (${m.base.engine})`; sel.appendChild(base);
  m.versions.forEach((v) => {
    const o = document.createElement("option"); o.value = v.name;
    const iou = v.val_iou_after == null ? "" : ` val IoU ${(+v.val_iou_before).toFixed(2)}→${(+v.val_iou_after).toFixed(2)}`;
    o.textContent = `${v.name} (${v.engine})${iou}`; sel.appendChild(o);
  });
  sel.value = m.active;
}

async function switchModel(name) {
  status(`loading model ${name}…`);
  const listing = await api("/api/models", { version: name });
  await refreshModels(listing);
  S.preview = null; draw();
  status(`model: ${listing.active}`);
}

async function openItem(id, slice, window) {
  const it = S.items.find((i) => i.id === id);
  if (!it) return;
  if (it.kind === "broken") { showMessage(`${it.name}: ${it.error}`); return; }
  S.item = it; S.slice = slice ?? (it.kind === "volume" ? Math.floor(it.depth / 2) : 0); S.window = window ?? S.window;
  S.preview = null; S.trace = []; S.lesions = null; S.openedAt = performance.now(); S.firstMaskShown = false;
  $("volumebox").hidden = it.kind !== "volume";
  if (it.kind === "volume") { $("slice").max = it.depth - 1; $("slice").value = S.slice; $("sliceinfo").textContent = `${S.slice + 1}/${it.depth}`; }
  status(`opening ${it.name}…`);
  const q = `slice=${S.slice}${S.window ? "&window=" + S.window : ""}`;
  const [img] = await Promise.all([loadImage(`/api/items/${id}/image.png?${q}&t=${Date.now()}`),
    api("/api/open", { item: id, slice: S.slice, window: S.window || null })]);
  S.img = img; fit(); await refreshOverlay();
  status(`${it.name}${it.kind === "volume" ? " slice " + (S.slice + 1) : ""} — ${it.width}×${it.height}`);
  document.querySelectorAll("#items li").forEach((li) => li.classList.toggle("active", +li.dataset.id === id));
  draw();
}

async function refreshOverlay() {
  if (!S.item) return;
  S.overlay = await loadImage(`/api/items/${S.item.id}/overlay.png?slice=${S.slice}&t=${Date.now()}`);
  draw();
}

// ---- live connection ---------------------------------------------------------------------
function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  S.ws = ws;
  ws.onmessage = (ev) => onServer(JSON.parse(ev.data));
  ws.onclose = () => { status("connection lost — reconnecting…"); setTimeout(connect, 1000); };
  ws.onopen = () => status(S.item ? `${S.item.name}` : "connected");
}

function onServer(m) {
  if (m.type === "preview") showPreview(m);
  else if (m.type === "progress") $("progress").textContent = m.total ? `background embedding: ${m.done}/${m.total}${m.error ? " (error: " + m.error + ")" : ""}` : "";
  else if (m.type === "tracker") onTracker(m);
  else if (m.type === "source_error") { showMessage(`${m.source}: ${m.error} — back to mouse`); setSource("mouse"); }
  else if (m.type === "error") showMessage(m.error);
}

function showPreview(m) {
  const im = new Image();
  im.onload = () => {
    const c = document.createElement("canvas"); c.width = im.width; c.height = im.height;
    const g = c.getContext("2d"); g.drawImage(im, 0, 0);
    const data = g.getImageData(0, 0, c.width, c.height);
    for (let i = 0; i < data.data.length; i += 4) { const on = data.data[i] > 127; data.data[i] = 30; data.data[i + 1] = 144; data.data[i + 2] = 255; data.data[i + 3] = on ? 255 : 0; }
    g.putImageData(data, 0, 0);
    S.preview = { canvas: c, points: m.points, labels: m.labels, revision: m.revision };
    const now = performance.now();
    S.previewAt = now;
    draw();
    if (!S.firstMaskShown) { S.firstMaskShown = true; S.metrics.openToFirstMask.push(now - S.openedAt); }
    if (S.restAt !== null) { S.metrics.fixationToMask.push(now - S.restAt); S.restAt = null; }
    S.metrics.serverDecode.push(m.latency_ms);
    showMetrics();
    armDwell();
  };
  im.src = "data:image/png;base64," + m.png;
}

function median(a) { if (!a.length) return NaN; const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; }
function showMetrics() {
  const M = S.metrics;
  $("metrics").textContent = `open→first mask ${median(M.openToFirstMask).toFixed(0)} ms · rest→mask ${median(M.fixationToMask).toFixed(0)} ms · server ${median(M.serverDecode).toFixed(1)} ms`;
}

function sendGaze(t, x, y) {
  S.outbox.push([t, x, y]);
  S.cursor = [x, y]; S.trace.push([x, y]); if (S.trace.length > 120) S.trace.shift();
}
setInterval(() => {
  if (!S.outbox.length || !S.ws || S.ws.readyState !== 1 || !S.item) { S.outbox = []; return; }
  const batch = S.outbox; S.outbox = [];
  S.ws.send(JSON.stringify({ type: "gaze", source: S.source, t: batch.map((b) => b[0]), xy: batch.map((b) => [b[1], b[2]]) }));
  draw();
}, 16);

// Pointer as gaze: samples at the browser's event rate; when the pointer rests, the fixation
// detector on the server fires after its dwell threshold. We time from the moment of rest.
canvas.addEventListener("mousemove", (e) => {
  if (S.pan) { S.view.x += e.movementX; S.view.y += e.movementY; draw(); return; }
  if (S.source !== "mouse" || !S.img) return;
  const [x, y] = pageToImage(e.clientX, e.clientY);
  const now = performance.now();
  if (S.lastMove && Math.hypot(e.clientX - S.lastMove[0], e.clientY - S.lastMove[1]) > 12) S.restAt = now;
  if (!S.lastMove) S.restAt = now;
  S.lastMove = [e.clientX, e.clientY];
  sendGaze(now, x, y);
});
// A resting mouse sends no events, but a resting eye keeps sampling: keep streaming its position.
setInterval(() => {
  if (S.source === "mouse" && S.lastMove && S.img) { const [x, y] = pageToImage(...S.lastMove); sendGaze(performance.now(), x, y); }
}, 16);
canvas.addEventListener("mousedown", (e) => {
  if (e.button === 1) { S.pan = true; e.preventDefault(); return; }
  if (!S.img) return;
  const [x, y] = pageToImage(e.clientX, e.clientY);
  if (x < 0 || y < 0 || x > S.img.width || y > S.img.height) return;
  const positive = !(e.shiftKey || e.button === 2);
  S.restAt = performance.now();
  api("/api/click", { x, y, positive }).catch(() => {});
});
canvas.addEventListener("mouseup", () => (S.pan = false));
canvas.addEventListener("contextmenu", (e) => e.preventDefault());
canvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  if (e.ctrlKey || S.item?.kind !== "volume") { zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.offsetX, e.offsetY); return; }
  gotoSlice(S.slice + (e.deltaY > 0 ? 1 : -1));
}, { passive: false });

function gotoSlice(z) {
  if (!S.item || S.item.kind !== "volume") return;
  z = Math.max(0, Math.min(S.item.depth - 1, z));
  if (z !== S.slice) openItem(S.item.id, z);
}

// ---- decisions -----------------------------------------------------------------------------
async function accept() {
  if (!S.item) return;
  clearTimeout(S.dwellTimer);
  try {
    // an eye tracker's accepted masks also teach the server its offset (not the mouse's)
    const r = await api("/api/accept", { label: +$("label").value, view_scale: S.source === "mouse" ? null : S.view.scale });
    S.gazeShift = r.gaze_shift || [0, 0];
    S.preview = null; await refreshOverlay(); showMessage(`accepted mask ${r.mask}`, true); refreshItems();
  } catch (e) { /* message shown */ }
}
async function reject() { clearTimeout(S.dwellTimer); S.preview = null; draw(); await api("/api/reject", {}); }
async function undo() {
  const r = await api("/api/undo", {});
  if (r.undone && S.item && (r.undone.item !== S.item.id || r.undone.slice !== S.slice)) await openItem(r.undone.item, r.undone.slice);
  await refreshOverlay(); refreshItems();
}
async function redo() {
  const r = await api("/api/redo", {});
  if (r.redone && S.item && (r.redone.item !== S.item.id || r.redone.slice !== S.slice)) await openItem(r.redone.item, r.redone.slice);
  await refreshOverlay(); refreshItems();
}
function step(d) {
  if (!S.items.length) return;
  const i = S.items.findIndex((it) => S.item && it.id === S.item.id);
  const next = S.items[Math.max(0, Math.min(S.items.length - 1, i + d))];
  if (next) openItem(next.id);
}
async function exportAll() {
  const r = await api("/api/export", {});
  const files = Object.values(r.files).flat();
  showMessage(`exported ${files.length} files to ${r.folder}`, true);
}
function armDwell() {
  clearTimeout(S.dwellTimer);
  if (!$("dwell").checked) return;
  const revision = S.preview && S.preview.revision;
  S.dwellTimer = setTimeout(() => { if (S.preview && S.preview.revision === revision) accept(); }, 1500);
}

document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" && e.target.type !== "checkbox" && e.target.type !== "range") return;
  const k = e.key;
  if (k === " " || k === "Enter") { e.preventDefault(); accept(); }
  else if (k === "Escape") { if (!$("calib").hidden) stopCalibration(); else reject(); }
  else if ((e.ctrlKey && k === "z") || k === "u") undo();
  else if ((e.ctrlKey && k === "y") || k === "r") redo();
  else if (k === "n" || k === "PageDown") step(1);
  else if (k === "p" || k === "PageUp") step(-1);
  else if (k === "ArrowUp") gotoSlice(S.slice - 1);
  else if (k === "ArrowDown") gotoSlice(S.slice + 1);
  else if (k === "t") { $("trace").checked = !$("trace").checked; draw(); }
  else if (k === "+" || k === "=") zoom(1.25);
  else if (k === "-") zoom(0.8);
  else if (k === "0") { fit(); draw(); }
  else if (k === "c") carry(1);
  else if (k === "y") decideLesion(true);
  else if (k === "x") { if (S.lesions && S.lesions.length) decideLesion(false); else lookNegative(); }
});

// The reject key of the gaze protocol (docs/evaluation.md): look at a part of the mask that is
// wrong and press x; where the eyes rest becomes a negative point. The median of the last ~130 ms
// of gaze, not the latest sample, so tracker noise does not move it.
function lookNegative() {
  if (!S.img || !S.trace.length) return;
  const recent = S.trace.slice(-8);
  const x = median(recent.map((p) => p[0])), y = median(recent.map((p) => p[1]));
  if (!(x >= 0 && y >= 0 && x <= S.img.width && y <= S.img.height)) return;
  S.restAt = performance.now();
  api("/api/click", { x, y, positive: false }).catch(() => {});
}

async function carry(dz) {
  try { await api("/api/carry", { dz }); S.slice += dz; await openItemView(); } catch (e) { /* shown */ }
}
async function openItemView() {
  // carry already opened the slice on the server; load its picture here
  const q = `slice=${S.slice}${S.window ? "&window=" + S.window : ""}`;
  S.img = await loadImage(`/api/items/${S.item.id}/image.png?${q}&t=${Date.now()}`);
  $("slice").value = S.slice; $("sliceinfo").textContent = `${S.slice + 1}/${S.item.depth}`;
  fit(); await refreshOverlay();
}

// ---- retina mode: candidates from the reading, confirmed or rejected by gaze + key -------------
async function findLesions() {
  if (!S.item) return;
  status("finding lesion candidates in what you read…");
  try {
    const r = await api("/api/retina/run", { item: S.item.id });
    S.lesions = r.candidates; draw();
    status(`${r.candidates.length} candidates: look at one, y confirms, x rejects`);
  } catch (e) { status(""); }
}
async function decideLesion(confirm) {
  if (!S.lesions || !S.lesions.length || !S.cursor) return;
  let best = null, bestD = Infinity;
  for (const c of S.lesions) { const d = Math.hypot(c.x - S.cursor[0], c.y - S.cursor[1]); if (d < bestD) { best = c; bestD = d; } }
  if (!best || bestD > 60 / S.view.scale + best.r) return;
  await api("/api/retina/decide", { item: S.item.id, i: best.i, confirm });
  S.lesions = S.lesions.filter((c) => c !== best);
  if (confirm) await refreshOverlay(); else draw();
}

// ---- gaze sources ----------------------------------------------------------------------------
async function setSource(name) {
  $("source").value = name;
  if (name === "mouse") { S.source = "mouse"; return; }
  if (name === "webgazer") {
    try {
      await loadScript("/vendor/webgazer.js");
      showMessage("WebGazer loaded: it needs its face-mesh model files; calibrate before use", true);
      window.webgazer.setGazeListener((d) => { if (d && S.img) { const [x, y] = pageToImage(d.x + S.gazeShift[0], d.y + S.gazeShift[1]); S.restAt ??= performance.now(); sendGaze(performance.now(), x, y); } }).begin();
      S.source = "webgazer";
    } catch (e) {
      showMessage("WebGazer is not available offline (install it with `npm install webgazer` and pass --webgazer PATH): using the mouse");
      setSource("mouse");
    }
    return;
  }
  try { await api(`/api/sources/${name}`, { options: {} }); S.source = name; showMessage(`${name} started: calibrate to map it to this page`, true); }
  catch (e) { setSource("mouse"); }
}
function loadScript(src) {
  return new Promise((ok, fail) => { const s = document.createElement("script"); s.src = src; s.onload = ok; s.onerror = fail; document.head.appendChild(s); });
}
// Tracker samples arrive in display coordinates (0..1 of the screen); map to this page with the
// window position, then through the in-page calibration correction.
function onTracker(m) {
  if (S.source !== m.source || !S.img) return;
  for (let i = 0; i < m.t.length; i++) {
    if (!m.valid[i]) continue;
    let px = m.xy[i][0] * screen.width - window.screenX - (window.outerWidth - window.innerWidth);
    let py = m.xy[i][1] * screen.height - window.screenY - (window.outerHeight - window.innerHeight);
    if (S.calibration) { const a = S.calibration; [px, py] = [a[0][0] * px + a[0][1] * py + a[0][2], a[1][0] * px + a[1][1] * py + a[1][2]]; }
    if (S.calibrating) S.calibSamples.push([px, py]);
    else { px += S.gazeShift[0]; py += S.gazeShift[1]; }  // offset learnt from accepted masks
    const [x, y] = pageToImage(px, py);
    sendGaze(performance.now(), x, y);
  }
}

// ---- calibration / validation: targets in the page, accuracy in degrees -------------------
const TARGETS = [[0.1, 0.1], [0.5, 0.1], [0.9, 0.1], [0.1, 0.5], [0.5, 0.5], [0.9, 0.5], [0.1, 0.9], [0.5, 0.9], [0.9, 0.9]];
async function calibrate() {
  $("calib").hidden = false; S.calibrating = true;
  const targets = [], samples = [];
  for (const [fx, fy] of TARGETS) {
    if ($("calib").hidden) return;
    const x = fx * innerWidth, y = fy * innerHeight;
    Object.assign($("target").style, { left: x + "px", top: y + "px" });
    $("calibtext").textContent = S.source === "mouse" ? "point the mouse at the dot (and keep still)" : "look at the dot";
    await new Promise((r) => setTimeout(r, 600));
    S.calibSamples = [];
    const mouse = (e) => S.calibSamples.push([e.clientX, e.clientY]);
    if (S.source === "mouse") document.addEventListener("mousemove", mouse);
    await new Promise((r) => setTimeout(r, 900));
    document.removeEventListener("mousemove", mouse);
    if (S.source === "mouse" && S.lastMove && !S.calibSamples.length) S.calibSamples.push(S.lastMove);
    targets.push([x, y]); samples.push(S.calibSamples.slice());
  }
  stopCalibration();
  try {
    const r = await api("/api/validation", { targets, samples, geometry: { screen_w_px: screen.width, screen_h_px: screen.height } });
    if (S.source !== "mouse") S.calibration = r.model.matrix;
    S.gazeShift = [0, 0];  // the server forgets the implicit offset: this calibration replaces it
    $("quality").textContent = `accuracy ${r.accuracy_deg.toFixed(2)}° (${r.accuracy_px.toFixed(0)} px), precision ${r.precision_deg.toFixed(2)}°; after correction ${r.corrected_accuracy_deg.toFixed(2)}°`;
  } catch (e) { /* message shown */ }
}
function stopCalibration() { $("calib").hidden = true; S.calibrating = false; }

// ---- wiring --------------------------------------------------------------------------------
$("accept").onclick = accept; $("reject").onclick = reject; $("undo").onclick = undo; $("redo").onclick = redo;
$("prev").onclick = () => step(-1); $("next").onclick = () => step(1); $("export").onclick = exportAll;
$("carry").onclick = () => carry(1); $("calibrate").onclick = calibrate; $("retina").onclick = findLesions;
$("source").onchange = (e) => setSource(e.target.value);
$("model").onchange = (e) => switchModel(e.target.value);
$("trace").onchange = draw;
$("slice").oninput = (e) => gotoSlice(+e.target.value);
$("window").onchange = (e) => { S.window = e.target.value; openItem(S.item.id, S.slice, S.window); };
$("addlabel").onclick = async () => { await api("/api/labels", { name: $("newlabel").value, color: $("newcolor").value }); $("newlabel").value = ""; refreshLabels(); };
$("upload").onchange = async (e) => {
  const f = e.target.files[0]; if (!f) return;
  const form = new FormData(); form.append("file", f);
  const res = await fetch("/api/upload", { method: "POST", body: form });
  const data = await res.json();
  await refreshItems();
  if (!res.ok) showMessage(data.error || "upload failed"); else openItem(data.item);
};
window.addEventListener("resize", () => { fit(); draw(); });

(async function start() {
  connect();
  await Promise.all([refreshItems(), refreshLabels(), refreshModels()]);
  const state = await api("/api/state");
  S.gazeShift = state.gaze_shift || [0, 0];
  const r = state.restore;
  if (r && S.items.some((i) => i.id === r.item)) { S.window = r.window || ""; await openItem(r.item, r.slice, S.window); }
  else if (S.items.length) await openItem(S.items.find((i) => i.kind !== "broken")?.id ?? S.items[0].id);
  window.gazesegReady = true;
})();
