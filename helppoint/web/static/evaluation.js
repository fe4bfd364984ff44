// Crime near the help points: upload police.uk files (progress, line-numbered errors), see and
// remove imported months with their warnings, run the evaluation and see it plotted.
import { api, csrfHeaders } from "/static/api.js";
import { tileOptions } from "/static/tiles.js";
import { _ } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function fillTable(table, header, rows, empty) {
  const head = el("thead");
  const tr = el("tr");
  header.forEach((h) => tr.append(el("th", { scope: "col" }, h)));
  head.append(tr);
  const body = el("tbody");
  rows.forEach((row) => {
    const line = el("tr");
    row.forEach((cell) => {
      const td = el("td");
      if (cell instanceof Node) td.append(cell); else td.textContent = String(cell);
      line.append(td);
    });
    body.append(line);
  });
  if (!rows.length) {
    const line = el("tr", { class: "none-yet" });
    line.append(el("td", { colspan: header.length }, empty));
    body.append(line);
  }
  table.replaceChildren(head, body);
}

/** A random id for an upload (crypto.randomUUID needs HTTPS; this works on plain HTTP too). */
function uploadId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Once the file is sent, ask every half second how far the server has got checking and
 * storing its rows, until stopped (the answer to the upload has come). */
function watchServer(id, show) {
  let stopped = false;
  let timer = null;
  const ask = async () => {
    try {
      const state = await api(`/api/evaluation/crime-files/progress?upload=${id}`);
      if (!stopped && (state.phase === "checking" || state.phase === "storing")) show(state);
    } catch {
      // Progress is only a courtesy: the upload's own answer says what happened.
    }
    if (!stopped) timer = setTimeout(ask, 500);
  };
  timer = setTimeout(ask, 300);
  return () => { stopped = true; clearTimeout(timer); };
}

/** Upload one file with its progress; resolves with the server's answer. */
function upload(file, progress, onServer) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    const id = uploadId();
    let stop = () => {};
    request.open("POST", `/api/evaluation/crime-files?name=${encodeURIComponent(file.name)}&upload=${id}`);
    for (const [k, v] of Object.entries(csrfHeaders("POST"))) request.setRequestHeader(k, v);
    request.setRequestHeader("Content-Type", "text/csv");
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress(event.loaded / event.total);
    });
    request.upload.addEventListener("load", () => { stop = watchServer(id, onServer); });
    request.addEventListener("loadend", () => stop());
    request.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(request.responseText); } catch { data = null; }
      if (request.status >= 200 && request.status < 300) resolve(data);
      else reject(new Error((data && typeof data.detail === "string" && data.detail) || `HTTP ${request.status}`));
    });
    request.addEventListener("error", () => reject(new Error(_("Cannot reach the server."))));
    request.send(file);
  });
}

$("upload-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const file of $("upload-files").files) {
    const item = el("li", { "data-file": file.name });
    const bar = el("progress", { max: "1", value: "0" });
    const text = el("span", {}, ` ${_("%(file)s: sending…", { file: file.name })}`);
    item.append(bar, text);
    $("upload-results").append(item);
    try {
      const sent = (share) => { bar.value = share; text.textContent = ` ${_("%(file)s: %(percent)s%% sent", { file: file.name, percent: Math.round(share * 100) })}`; };
      const onServer = (state) => {
        const share = state.phase === "checking" && state.fraction !== null
          ? ` ${_("(%(percent)s%% of the file)", { percent: Math.round(state.fraction * 100) })}`
          : "";
        const rows = state.rows.toLocaleString("en-GB");
        const progress = state.phase === "checking"
          ? _("%(file)s: sent; the server is checking it: %(rows)s rows", { file: file.name, rows })
          : state.phase === "storing"
            ? _("%(file)s: sent; the server is storing it: %(rows)s rows", { file: file.name, rows })
            : _("%(file)s: sent; the server is %(phase)s it: %(rows)s rows", { file: file.name, phase: state.phase, rows });
        text.textContent = ` ${progress}${share}`;
        item.dataset.serverPhase = state.phase;
      };
      const result = await upload(file, sent, onServer);
      bar.value = 1;
      text.textContent = ` ${_("%(file)s: %(count)s crimes imported (%(months)s); %(skipped)s without a location skipped.", {
        file: file.name, count: result.imported.toLocaleString("en-GB"), months: result.months.join(", "), skipped: result.without_location,
      })}`;
      for (const warning of result.warnings) item.append(el("div", { class: "warning" }, _("Warning: %(warning)s", { warning })));
    } catch (error) {
      item.classList.add("refused");
      text.textContent = ` ${_("%(file)s: refused, nothing stored.", { file: file.name })}`;
      const problems = el("pre", { class: "problems" }, error.message);
      item.append(problems);
    }
  }
  loadMonths();
});

async function loadMonths() {
  const data = await api("/api/evaluation/months");
  $("months-warnings").replaceChildren(...data.warnings.map((w) => el("li", { class: "warning" }, w)));
  fillTable($("months-table"), [_("Month"), _("Force"), _("Rows"), _("Warnings"), ""], data.months.map((m) => {
    const remove = el("button", { type: "button", "data-month": m.month }, _("Remove"));
    remove.addEventListener("click", async () => {
      await api(`/api/evaluation/months/${m.month}?force=${encodeURIComponent(m.force)}`, { method: "DELETE" });
      loadMonths();
    });
    return [m.month, m.force, m.rows.toLocaleString("en-GB"), m.warnings.join(" "), remove];
  }), _("Nothing imported yet."));
  const chosen = new Set([...document.querySelectorAll('#evaluate-types input:checked')].map((i) => i.value));
  const legend = el("legend", {}, _("Crime types"));
  $("evaluate-types").replaceChildren(legend, ...data.crime_types.map((t) => {
    const label = el("label", { class: "check" });
    const box = el("input", { type: "checkbox", value: t.type });
    box.checked = chosen.has(t.type);
    label.append(box, ` ${t.type} (${t.count.toLocaleString("en-GB")})`);
    return label;
  }));
}

function plot(result) {
  const months = result.monthly;
  const width = 560;
  const height = 200;
  const left = 40;
  const bottom = 160;
  const max = Math.max(1, ...months.flatMap((m) => [m.help_points, m.comparison]));
  const x = (i) => left + (i * (width - left - 20)) / Math.max(1, months.length - 1);
  const y = (v) => bottom - (v / max) * (bottom - 20);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, "data-chart": "evaluation", role: "img", "aria-label": _("Crimes per area per month, near the help points and in the comparison areas") });
  for (const tick of [0, max / 2, max]) {
    chart.append(svg("line", { x1: left, x2: width - 10, y1: y(tick), y2: y(tick), stroke: "currentColor", "stroke-opacity": 0.15 }));
    chart.append(svg("text", { x: left - 4, y: y(tick) + 4, "font-size": 11, "text-anchor": "end", fill: "currentColor" }, tick.toFixed(1)));
  }
  const installed = months.findIndex((m) => m.month > result.installed);
  if (installed > 0) {
    const at = (x(installed - 1) + x(installed)) / 2;
    chart.append(svg("line", { x1: at, x2: at, y1: 15, y2: bottom, stroke: "currentColor", "stroke-dasharray": "4 3" }));
    chart.append(svg("text", { x: at + 4, y: 14, "font-size": 11, fill: "currentColor" }, _("installed %(month)s", { month: result.installed })));
  }
  months.forEach((m, i) => {
    if (i % 2 === 0 || i === months.length - 1) chart.append(svg("text", { x: x(i), y: bottom + 16, "font-size": 10, "text-anchor": "middle", fill: "currentColor" }, m.month.slice(2)));
  });
  [["help_points", "#58a6ff", _("near the help points")], ["comparison", "#d29922", _("comparison areas")]].forEach(([key, colour, label], s) => {
    chart.append(svg("polyline", { points: months.map((m, i) => `${x(i)},${y(m[key])}`).join(" "), fill: "none", stroke: colour, "stroke-width": 2 }));
    chart.append(svg("rect", { x: left + 10 + s * 190, y: 186, width: 12, height: 4, fill: colour }));
    chart.append(svg("text", { x: left + 26 + s * 190, y: 192, "font-size": 11, fill: "currentColor" }, label));
  });
  $("evaluate-chart").replaceChildren(chart);
}

function show(result) {
  $("evaluate-result").hidden = false;
  $("evaluate-summary").textContent = result.summary;
  const level = `${result.confidence * 100}%`;
  const rows = [];
  const d = result.difference_per_area_month;
  const interval = (e) => _("%(level)s: %(low)s to %(high)s", { level, low: e.low.toFixed(2), high: e.high.toFixed(2) });
  rows.push([_("Difference per area per month"), d.estimate.toFixed(2), interval(d)]);
  if (result.rate_ratio) {
    const r = result.rate_ratio;
    rows.push([_("Rate ratio"), r.estimate.toFixed(2), interval(r)]);
  }
  fillTable($("evaluate-table"), ["", _("Estimate"), _("Interval")], rows, "");
  $("evaluate-left-out").textContent = result.months_left_out.length ? _("Left out as incomplete: %(months)s.", { months: result.months_left_out.join(", ") }) : "";
  plot(result);
  fillTable($("evaluate-areas"), [_("Area"), _("Kind"), _("Before"), _("After")],
    result.areas.map((a) => [a.name, a.help_point ? _("help point") : _("comparison"), a.before, a.after]), "");
  $("evaluate-caveat").textContent = _("Caveat: %(caveat)s", { caveat: result.caveat });
}

$("evaluate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const types = [...document.querySelectorAll('#evaluate-types input:checked')].map((i) => i.value);
  const places = $("evaluate-places").value.split("\n").map((l) => l.trim()).filter(Boolean);
  $("evaluate-status").textContent = _("Running…");
  try {
    const result = await api("/api/evaluation", {
      method: "POST",
      body: { crime_types: types, installed: $("evaluate-installed").value, radius_m: Number($("evaluate-radius").value), comparison: places },
    });
    $("evaluate-status").textContent = _("Done: this is now the latest evaluation, shown in the report's PDF.");
    show(result);
  } catch (error) {
    $("evaluate-status").textContent = _("Not run: %(error)s", { error: error.message });
  }
});

// The map: the help points with their radius, and comparison places added by a click.
let map = null;
let circles = null;
let units = [];

function places() {
  return $("evaluate-places").value.split("\n").map((line) => {
    const match = line.trim().match(/^(.*):\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)$/);
    return match ? { name: match[1], lat: Number(match[2]), lon: Number(match[3]) } : null;
  }).filter(Boolean);
}

function drawCircles() {
  if (!map) return;
  const L = window.L;
  const radius = Number($("evaluate-radius").value) || 200;
  circles.clearLayers();
  for (const unit of units) {
    L.circle([unit.latitude, unit.longitude], { radius, color: "#58a6ff", weight: 1, fillOpacity: 0.15 }).bindTooltip(`${unit.id} ${unit.name}`).addTo(circles);
  }
  for (const place of places()) {
    L.circle([place.lat, place.lon], { radius, color: "#d29922", weight: 1, fillOpacity: 0.2 }).bindTooltip(place.name).addTo(circles);
  }
  map.getContainer().dataset.circles = String(circles.getLayers().length);
}

async function setUpMap() {
  const el = $("evaluation-map");
  if (!window.L) return;
  const L = window.L;
  map = L.map(el).setView([52.243, -0.893], 13);
  if (el.dataset.tilesUrl) {
    const tiles = L.tileLayer(el.dataset.tilesUrl, tileOptions(el.dataset));
    tiles.on("tileerror", () => {
      $("evaluation-map-note").hidden = false;
      $("evaluation-map-note").textContent = _("Map background unavailable (tiles cannot be loaded); the circles are still shown.");
    });
    tiles.addTo(map);
  }
  circles = L.featureGroup().addTo(map);
  map.on("click", (event) => {
    const text = $("evaluate-places").value.trim();
    const line = `${_("Comparison %(num)s", { num: places().length + 1 })}:${event.latlng.lat.toFixed(5)},${event.latlng.lng.toFixed(5)}`;
    $("evaluate-places").value = text ? `${text}\n${line}` : line;
    drawCircles();
  });
  units = await api("/api/units");
  drawCircles();
  if (circles.getLayers().length) map.fitBounds(circles.getBounds().pad(0.3));
}

$("evaluate-places").addEventListener("input", drawCircles);
$("evaluate-radius").addEventListener("input", drawCircles);
setUpMap().catch((error) => {
  $("evaluation-map-note").hidden = false;
  $("evaluation-map-note").textContent = _("Help points not shown: %(error)s", { error: error.message });
});

loadMonths();
api("/api/evaluation/latest").then((latest) => { if (latest) show(latest); }).catch(() => {});
