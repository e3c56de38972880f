// cortexbench web page: plain JS over the /api/v1 JSON, no build step.
"use strict";

const API = "/api/v1";
const PAGE_LIMIT = 1000;

function fmt(x, d = 3) {
  return x == null || !isFinite(x) ? "—" : Number(x).toFixed(d);
}

async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
  return body;
}

function showError(err) {
  const p = document.getElementById("error");
  p.hidden = false;
  p.textContent = String(err.message || err);
}

// errorBar draws a ceiled score with its CI as a small horizontal bar on a
// 0..1 scale (values beyond are clipped for display only).
function ciOf(cell) {
  return cell.ceiled_ci || [cell.ceiled_ci_low, cell.ceiled_ci_high];
}

function errorBar(cell) {
  const w = 70, h = 8, x = (v) => Math.max(0, Math.min(1, v)) * w;
  const [lo, hi] = ciOf(cell);
  const s = svg("svg", { class: "eb", width: w, height: h, viewBox: `0 0 ${w} ${h}` });
  s.append(svg("rect", { x: 0, y: 3, width: w, height: 2, fill: "#eef0f5" }));
  s.append(svg("rect", { x: 0, y: 2, width: x(cell.ceiled), height: 4, fill: "#8fb0ea" }));
  s.append(svg("line", { x1: x(lo), x2: x(hi), y1: 4, y2: 4, stroke: "#1d2330", "stroke-width": 1 }));
  s.append(svg("line", { x1: x(lo), x2: x(lo), y1: 1, y2: 7, stroke: "#1d2330" }));
  s.append(svg("line", { x1: x(hi), x2: x(hi), y1: 1, y2: 7, stroke: "#1d2330" }));
  return s;
}

function scoreCell(cell, title) {
  if (!cell) {
    return el("td", { class: "missing", title: title + ": not scored (left out of the average, never counted as 0)" }, "—");
  }
  const [lo, hi] = ciOf(cell);
  const td = el("td", {
    title: `${title}: ceiled ${fmt(cell.ceiled)} ± ${fmt(cell.ceiled_se)} (SE), CI [${fmt(lo)}, ${fmt(hi)}]; layer ${cell.layer}`,
  });
  td.append(fmt(cell.ceiled), el("span", { class: "pm", text: " ±" + fmt(cell.ceiled_se) }), errorBar(cell));
  return td;
}

// ---- leaderboard page ----

// coverage is not a facet: its two options are in index.html.
const FILTERS = ["region", "species", "method", "family", "coverage"];

async function leaderboardPage() {
  const params = new URLSearchParams(location.search);
  const form = document.getElementById("filters");
  for (const name of FILTERS) {
    form.elements[name].addEventListener("change", () => {
      const q = new URLSearchParams();
      for (const n of FILTERS) if (form.elements[n].value) q.set(n, form.elements[n].value);
      history.replaceState(null, "", q.toString() ? "?" + q : location.pathname);
      loadBoard();
    });
  }
  let first = true;
  async function loadBoard() {
    const q = new URLSearchParams(location.search);
    q.set("limit", PAGE_LIMIT);
    let lb;
    try {
      lb = await getJSON(`${API}/leaderboard?${q}`);
    } catch (e) {
      showError(e);
      return;
    }
    if (first) {
      first = false;
      const rules = document.getElementById("rules");
      for (const k of ["aggregation", "missing", "intervals", "unceiled", "ties", "private"]) rules.append(el("li", { text: lb.rules[k] }));
      for (const name of FILTERS) {
        const sel = form.elements[name];
        for (const v of lb.facets[name] || []) sel.append(el("option", { value: v, text: v }));
        sel.value = params.get(name) || "";
      }
    }
    const csv = new URLSearchParams(location.search);
    document.getElementById("csv").href = `${API}/leaderboard.csv${csv.toString() ? "?" + csv : ""}`;
    document.getElementById("count").textContent =
      `${lb.total} models × ${lb.benchmarks.length} benchmarks` + (lb.total > lb.rows.length ? ` (showing ${lb.rows.length})` : "") +
      (lb.excluded.length ? `; not every model has ${lb.excluded.join(", ")}: left out` : "") +
      (lb.total === 0 && lb.excluded.length ? ". No benchmark is scored for every listed model: narrow the filters or choose Coverage “all”." : "");
    renderBoard(lb);
  }
  await loadBoard();
}

// renderBoard draws the index table (issue 17): complete rows first, then
// the partial rows under their own heading, each with its coverage; the
// average with its 95% interval; "≈" before a model whose average does not
// differ reliably from the row above's. Sorting by another column drops
// the blocks and the marks, which only hold in rank order.
function renderBoard(lb) {
  const table = document.getElementById("board");
  const ci = (x) => `[${fmt(x[0])}, ${fmt(x[1])}]`;
  // Each column: header, sort key (null sorts last), default direction, cell.
  const cols = [
    { head: "Rank", key: (r) => r.rank, dir: "asc", cell: (r) => el("td", { text: r.rank }) },
    {
      head: "Model", left: true, key: (r) => r.model.name.toLowerCase(), dir: "asc",
      cell: (r, ranked, prev) => {
        const td = el("td", { class: "left" });
        if (ranked && prev && prev.differs_from_next === false) {
          td.append(el("span", { class: "muted same", title: `not reliably different from ${prev.model.name} (the 95% interval of the difference includes 0)`, text: "≈ " }));
        }
        td.append(el("a", { href: `/models/${r.model.hash}`, text: r.model.name }));
        if (r.partial) td.append(el("span", { class: "badge partial", title: "no score on: " + r.missing.join(", ") + " (not counted; the average is over the benchmarks it has)", text: `partial ${r.coverage.scored}/${r.coverage.total}` }));
        return td;
      },
    },
    { head: "Family", left: true, key: (r) => r.model.family, dir: "asc", cell: (r) => el("td", { class: "left", text: r.model.family }) },
    {
      head: "Average", key: (r) => r.average, dir: "desc",
      cell: (r) => el("td", { class: "avg", title: `SE ${fmt(r.average_se)}; 95% interval ${ci(r.average_ci)}`, text: fmt(r.average) }),
    },
    { head: "95% CI", key: (r) => r.average_ci[0], dir: "desc", cell: (r) => el("td", { class: "ci muted", text: ci(r.average_ci) }) },
    {
      head: "Scored", key: (r) => r.coverage.scored / Math.max(1, r.coverage.total), dir: "desc",
      cell: (r) => el("td", { class: "coverage", title: "ceiled benchmarks scored, of all", text: `${r.coverage.scored}/${r.coverage.total}` }),
    },
  ];
  lb.parents.forEach((p, i) => {
    cols.push({ head: p, grp: "region mean", key: (r) => r.parent_means[i].mean, dir: "desc",
      cell: (r) => {
        const m = r.parent_means[i];
        return el("td", { title: `${m.scored}/${m.total} scored; SE ${fmt(m.se)}; 95% interval ${ci(m.ci)}`, text: fmt(m.mean) });
      } });
  });
  lb.benchmarks.forEach((b, i) => {
    cols.push({ head: b.id, grp: b.parent + (b.private ? " · private" : ""), href: `/benchmarks/${encodeURIComponent(b.id)}`,
      key: (r) => (r.scores[i] ? r.scores[i].ceiled : null), dir: "desc",
      cell: (r) => (r.scores[i] ? scoreCell(r.scores[i], b.id) : el("td", { class: "missing", title: b.id + ": missing (not counted in the average)" }, "—")) });
  });

  const thead = table.tHead, tbody = table.tBodies[0];
  thead.replaceChildren();
  const tr = el("tr");
  let sortCol = 0, sortDir = "asc";
  const rows = lb.rows.slice();
  function draw() {
    const c = cols[sortCol], sign = sortDir === "asc" ? 1 : -1;
    rows.sort((a, b) => {
      const x = c.key(a), y = c.key(b);
      if (x == null && y == null) return a.rank - b.rank;
      if (x == null) return 1;
      if (y == null) return -1;
      if (x < y) return -sign;
      if (x > y) return sign;
      return a.rank - b.rank;
    });
    [...tr.children].forEach((th, i) => (i === sortCol ? th.setAttribute("data-dir", sortDir) : th.removeAttribute("data-dir")));
    const ranked = sortCol === 0 && sortDir === "asc";
    const frag = document.createDocumentFragment();
    rows.forEach((r, k) => {
      const prev = k > 0 ? rows[k - 1] : null;
      if (ranked && r.partial && (!prev || !prev.partial)) {
        frag.append(el("tr", { class: "blockhead" }, el("th", { class: "left", colspan: cols.length },
          "Partial coverage: each model is averaged over the benchmarks it has (Scored) and ranked among these rows only, not against the rows above")));
      }
      const row = el("tr", { "data-hash": r.model.hash });
      for (const c of cols) row.append(c.cell(r, ranked, prev));
      frag.append(row);
    });
    tbody.replaceChildren(frag);
  }
  cols.forEach((c, i) => {
    const th = el("th", { class: c.left ? "left" : "", "data-col": i, title: "click to sort" });
    if (c.grp) th.append(el("span", { class: "grp", text: c.grp }));
    if (c.href) {
      const a = el("a", { href: c.href, text: c.head });
      a.addEventListener("click", (e) => e.stopPropagation());
      th.append(a);
    } else th.append(c.head);
    th.addEventListener("click", () => {
      if (sortCol === i) sortDir = sortDir === "asc" ? "desc" : "asc";
      else { sortCol = i; sortDir = c.dir; }
      draw();
    });
    tr.append(th);
  });
  thead.append(tr);
  draw();
}

// ---- model page ----

// profileSE is a layer's SE in the plotted unit, or null when none is
// stored: a layer's se is of its raw score, so a ceiled profile divides it
// by the ceiling (ratio transform only; a squared-clipped one has no
// linear SE: no band).
function profileSE(ms, l, key) {
  if (l.se == null || !(l.se > 0)) return null;
  if (key === "raw") return l.se;
  const c = ms.score && ms.score.ceiling;
  const ratio = !ms.conventions || !ms.conventions.transform || ms.conventions.transform === "ratio";
  return ratio && c > 0 ? l.se / c : null;
}

// layerLabel names a layer for people: its id and, when the score
// recorded it, its ONNX name.
function layerLabel(l) {
  return l.name ? `${l.layer} (${l.name})` : l.layer;
}

// profilePlot draws the score by relative depth (layer k of n at
// k/(n − 1), in the stored topological order) with a ±SE band where
// per-layer SEs are stored, each layer's id and name on hover (SVG
// <title>), and the chosen layer marked. It returns the SVG and a note
// saying what the band is (or that there is none).
function profilePlot(ms) {
  const W = 360, H = 200, L = 40, R = 10, T = 10, B = 36;
  // Without a ceiling the profile is of raw scores.
  const key = ms.layers.some((l) => l.ceiled != null) ? "ceiled" : "raw";
  const n = ms.layers.length;
  const pts = ms.layers.map((l, i) => ({ ...l, v: l[key], d: n > 1 ? i / (n - 1) : 0.5, e: profileSE(ms, l, key) })).filter((p) => p.v != null);
  const s = svg("svg", { class: "profile", width: W, height: H, viewBox: `0 0 ${W} ${H}` });
  let lo = 0, hi = 1;
  for (const p of pts) { lo = Math.min(lo, p.v - (p.e || 0)); hi = Math.max(hi, p.v + (p.e || 0)); }
  const x = (d) => L + d * (W - L - R), y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  s.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  s.append(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
  for (const v of [lo, (lo + hi) / 2, hi]) {
    const t = svg("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" }); t.textContent = v.toFixed(2); s.append(t);
  }
  for (const d of [0, 0.25, 0.5, 0.75, 1]) {
    s.append(svg("line", { class: "tick", x1: x(d), x2: x(d), y1: H - B, y2: H - B + 4 }));
    const t = svg("text", { class: "depth-tick", x: x(d), y: H - B + 14, "text-anchor": "middle" }); t.textContent = String(d); s.append(t);
  }
  const xl = svg("text", { class: "depth-label", x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" });
  xl.textContent = `relative depth: layer index / (n − 1), n = ${n} layers →`;
  s.append(xl);
  const withSE = pts.filter((p) => p.e != null);
  if (withSE.length > 1) {
    const up = withSE.map((p) => `${x(p.d)},${y(p.v + p.e)}`);
    const dn = withSE.slice().reverse().map((p) => `${x(p.d)},${y(p.v - p.e)}`);
    s.append(svg("path", { class: "band", d: "M" + up.concat(dn).join("L") + "Z" }));
  }
  if (pts.length) {
    s.append(svg("path", { class: "line", d: "M" + pts.map((p) => `${x(p.d)},${y(p.v)}`).join("L") }));
    const chosenID = ms.score ? ms.score.layer : ms.layer;
    for (const p of pts) {
      const chosen = p.layer === chosenID;
      const c = svg("circle", { class: chosen ? "chosen" : "pt", cx: x(p.d), cy: y(p.v), r: chosen ? 5 : 3, "data-layer": p.layer });
      const t = svg("title");
      t.textContent = `${chosen ? "chosen layer " : ""}${layerLabel(p)} · ${key} ${fmt(p.v)}` + (p.e != null ? ` ± ${fmt(p.e)} (SE)` : "") + ` · depth ${fmt(p.d, 2)}`;
      c.append(t);
      s.append(c);
    }
  }
  let note;
  if (withSE.length === pts.length && pts.length) note = "band: ± 1 SE per layer";
  else if (withSE.length) note = `band: ± 1 SE where stored (${withSE.length} of ${pts.length} layers)`;
  else if (pts.some((p) => p.se > 0)) note = "no band: per-layer SEs are stored but have no linear form for this ceiled transform";
  else note = "no band: this metric stores no per-layer SE";
  return [s, note];
}

// viridis-like colour ramp for dissimilarities in [lo, hi].
function ramp(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(Math.floor(t), stops.length - 2), f = t - i;
  return stops[i].map((c, k) => Math.round(c + f * (stops[i + 1][k] - c)));
}

// colourScale is the heat map's legend: the ramp from lo to hi, labelled.
function colourScale(lo, hi) {
  const w = 130, c = el("canvas", { class: "scale", width: w, height: 1 });
  const ctx = c.getContext("2d"), img = ctx.createImageData(w, 1);
  for (let i = 0; i < w; i++) {
    const [r, g, b] = ramp(i / (w - 1));
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  return el("div", { class: "legend", title: `colour scale: dissimilarity from ${fmt(lo)} to ${fmt(hi)}` }, c,
    el("span", { class: "lo", text: fmt(lo) }), el("span", { class: "hi", text: fmt(hi) }));
}

function heatmap(n, upper, label) {
  const c = el("canvas", { class: "rdm", width: n, height: n, "data-label": label });
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(n, n);
  let lo = Infinity, hi = -Infinity;
  for (const v of upper) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const span = hi > lo ? hi - lo : 1;
  let k = 0;
  const put = (i, j, v) => {
    const [r, g, b] = ramp((v - lo) / span), o = 4 * (i * n + j);
    img.data[o] = r; img.data[o + 1] = g; img.data[o + 2] = b; img.data[o + 3] = 255;
  };
  for (let i = 0; i < n; i++) {
    put(i, i, lo);
    for (let j = i + 1; j < n; j++, k++) { put(i, j, upper[k]); put(j, i, upper[k]); }
  }
  ctx.putImageData(img, 0, 0);
  // The diagonal is drawn at the minimum, which the scale's low end is.
  return el("figure", {}, c, colourScale(lo, hi), el("figcaption", { text: label }));
}

// parseBibTeX reads the first entry's type, key and fields (values in
// braces, possibly nested, or quotes, or bare numbers); braces used for
// capitalisation are dropped from the values. Returns null when s is not
// an entry.
function parseBibTeX(s) {
  const m = /@\s*([A-Za-z]+)\s*[{(]\s*([^,\s]*)\s*,/.exec(s || "");
  if (!m) return null;
  const out = { type: m[1].toLowerCase(), key: m[2], fields: {} };
  let i = m.index + m[0].length;
  while (i < s.length) {
    const f = /\s*([A-Za-z][\w-]*)\s*=\s*/y;
    f.lastIndex = i;
    const fm = f.exec(s);
    if (!fm) break;
    i = f.lastIndex;
    let v = "";
    if (s[i] === "{") {
      let depth = 0, j = i;
      for (; j < s.length; j++) {
        if (s[j] === "{") depth++;
        else if (s[j] === "}" && --depth === 0) break;
      }
      v = s.slice(i + 1, j); i = j + 1;
    } else if (s[i] === '"') {
      const j = s.indexOf('"', i + 1);
      v = s.slice(i + 1, j < 0 ? s.length : j); i = j < 0 ? s.length : j + 1;
    } else {
      const bare = /[^,}\s]*/y; bare.lastIndex = i;
      v = bare.exec(s)[0]; i = bare.lastIndex;
    }
    out.fields[fm[1].toLowerCase()] = v.replace(/[{}]/g, "").replace(/\s+/g, " ").trim();
    const sep = /\s*,?/y; sep.lastIndex = i; sep.exec(s); i = sep.lastIndex;
  }
  return out;
}

// citationText renders a BibTeX entry as "Authors (year). Title. Venue."
// with "Last, First" names turned into "First Last".
function citationText(b) {
  const f = b.fields;
  const names = (f.author || "").split(/\s+and\s+/).filter(Boolean).map((a) => {
    const [last, first] = a.split(/\s*,\s*/);
    return first ? `${first} ${last}` : last;
  });
  let authors = names.join(", ");
  if (names.length > 2) authors = names.slice(0, -1).join(", ") + ", and " + names[names.length - 1];
  else if (names.length === 2) authors = names.join(" and ");
  const venue = f.journal || f.booktitle || f.publisher || f.howpublished || f.school || f.institution || "";
  return { authors, year: f.year || "", title: f.title || "", venue };
}

// citation shows the BibTeX entry rendered, with a button that copies
// the BibTeX itself.
function citation(bibtex) {
  const box = el("div", { id: "citation", class: "citation" });
  const b = parseBibTeX(bibtex);
  if (b) {
    const c = citationText(b);
    box.append(el("span", { class: "authors", text: c.authors || "(no authors)" }), c.year ? ` (${c.year}). ` : ". ",
      el("span", { class: "title", text: c.title }), c.title ? ". " : "", c.venue ? el("em", { class: "venue", text: c.venue }) : null, c.venue ? "." : "");
  } else {
    box.append(el("span", { class: "muted", text: "(not parsed as BibTeX; shown as given below)" }));
  }
  const pre = el("pre", { class: "bibtex", text: bibtex });
  const btn = el("button", { type: "button", id: "copy-bibtex", text: "Copy BibTeX" });
  btn.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(bibtex);
      btn.textContent = "Copied";
    } catch (e) {
      // No clipboard access (an insecure origin, a denied permission):
      // select the text so Ctrl+C copies it.
      const r = document.createRange(); r.selectNodeContents(pre);
      const sel = getSelection(); sel.removeAllRanges(); sel.addRange(r);
      btn.textContent = "Selected: press Ctrl+C";
    }
  });
  box.append(" ", btn, el("details", {}, el("summary", { text: "BibTeX" }), pre));
  return box;
}

// specMeaning explains a canonical preprocessing spec (models.Spec.String)
// for people: one item per step.
function specMeaning(text) {
  const kv = {};
  for (const part of (text || "").split(",")) {
    const [k, v] = part.split("=");
    if (k && v !== undefined) kv[k.trim()] = v.trim();
  }
  if (!kv.size) return null;
  const items = [];
  const size = +kv.size;
  if (kv.aspect === "stretch") items.push(`crop the central ${fmt(+(kv.crop || 1) * 100, 0)}% of each side, then stretch to ${size}×${size} (aspect not kept)`);
  else if (kv.resize) items.push(`resize the shorter side to ${kv.resize} px, then centre-crop ${size}×${size}`);
  else {
    const crop = +(kv.crop || 1);
    items.push(`resize the shorter side to ${Math.round(size / crop)} px (${size} / crop ${kv.crop}), then centre-crop ${size}×${size}`);
  }
  const ch = kv.channels === "1" ? "1 channel (grey)" : `${kv.channels || 3} channels, ${kv.order || "RGB"} order`;
  items.push(ch);
  // One value applies to every channel, a list is per channel.
  const per = (v, d) => (v || d) + ((v || d).includes(":") ? "" : " (every channel)");
  if (kv.mean || kv.std) items.push(`pixels scaled to [0, 1], then (x − mean) / std with mean ${per(kv.mean, "0")}, std ${per(kv.std, "1")}`);
  else if (kv.offset || kv.scale) items.push(`pixels in 0–255, then (x − offset) × scale with offset ${per(kv.offset, "0")}, scale ${per(kv.scale, "1")}`);
  else if (kv.pixel === "uint8") items.push("raw pixels 0–255, no normalisation");
  else items.push("pixels 0–255 as floats, no normalisation");
  items.push(`layout ${kv.layout || "?"} (${kv.layout === "NHWC" ? "batch, height, width, channels" : "batch, channels, height, width"}), ${kv.pixel || "float"} input`);
  if (kv.fov) items.push(`field of view ${kv.fov}°`);
  return el("ul", { class: "spec" }, ...items.map((t) => el("li", { text: t })));
}

async function modelPage() {
  const hash = location.pathname.split("/").pop();
  let m;
  try {
    m = await getJSON(`${API}/models/${hash}`);
  } catch (e) {
    showError(e);
    return;
  }
  document.title = `${m.name} · cortexbench`;
  document.getElementById("title").textContent = m.name;
  const meta = document.getElementById("meta");
  const rows = [["Rank", m.rank ? `${m.rank}` : "unranked"], ["Average", fmt(m.average) + (m.complete ? "" : " (over the benchmarks scored; missing scores are left out, and the model is ranked after every complete one)")],
    ["Family", m.family], ["Training data", m.training_data || "—"], ["Parameters", m.params ? m.params.toLocaleString() : "—"]];
  for (const [k, v] of rows) meta.append(el("dt", { text: k }), el("dd", { text: v }));
  // The paper link only for https URLs (the server accepts no other).
  let paper = "—";
  if (m.paper && /^https:\/\//.test(m.paper)) paper = el("a", { id: "paper", href: m.paper, rel: "noopener noreferrer", text: m.paper });
  meta.append(el("dt", { text: "Paper" }), el("dd", {}, paper));
  meta.append(el("dt", { text: "Licence" }), el("dd", { id: "license", text: m.license || "—" }));
  const spec = el("dd", { id: "preprocessing" }, el("code", { text: m.preprocessing || "—" }));
  const meaning = specMeaning(m.preprocessing);
  if (meaning) spec.append(meaning);
  meta.append(el("dt", { text: "Preprocessing" }), spec);
  meta.append(el("dt", { text: "Model id" }), el("dd", { text: m.hash }), el("dt", { text: "File sha256" }), el("dd", { text: m.file || "—" }));
  if (m.description) meta.append(el("dt", { text: "Description" }), el("dd", { id: "description", class: "description", text: m.description }));
  if (m.bibtex) meta.append(el("dt", { text: "Cite" }), el("dd", {}, citation(m.bibtex)));
  const box = document.getElementById("scores");
  if (m.missing && m.missing.length) {
    box.append(el("p", { class: "notice", text: `No score on ${m.missing.join(", ")}: left out of the average, which is over the benchmarks scored; the model is ranked among the partially covered models.` }));
  }
  for (const ms of m.scores) {
    const b = ms.benchmark;
    const card = el("section", { class: "card", "data-benchmark": b.id });
    card.append(el("h3", {}, el("a", { href: `/benchmarks/${encodeURIComponent(b.id)}`, text: b.id }), b.private ? el("span", { class: "badge private", text: "private" }) : null));
    const sc = ms.score;
    const chosen = ms.layers.find((l) => l.layer === (sc ? sc.layer : ms.layer));
    const layer = chosen ? layerLabel(chosen) : (sc ? sc.layer : ms.layer);
    card.append(el("p", { class: "muted", text: sc
      ? `ceiled ${fmt(sc.ceiled)} (${ms.formula || "raw/ceiling"}) ± ${fmt(sc.ceiled_se)} (SE), CI [${fmt(sc.ceiled_ci_low)}, ${fmt(sc.ceiled_ci_high)}] · raw ${fmt(sc.raw)}, ceiling ${fmt(sc.ceiling)}${ms.conventions && ms.conventions.ceiling ? " (" + ms.conventions.ceiling + ")" : ""} · layer ${layer} (${ms.selection})`
      : `raw ${fmt(ms.raw)} (no ceiling: not averaged) · layer ${layer} (${ms.selection})` }));
    const row = el("div", { class: "row" });
    card.append(row);
    if (ms.layers_withheld) {
      row.append(el("p", { class: "notice", text: "Private benchmark: the per-layer profile and RDMs are withheld." }));
    } else {
      const unit = ms.layers.some((l) => l.ceiled != null) ? "ceiled" : "raw";
      const [plot, note] = profilePlot(ms);
      const base = `${API}/models/${m.hash}/benchmarks/${encodeURIComponent(b.id)}/profile`;
      row.append(el("figure", {}, plot, el("figcaption", { text: `${unit} score by layer (● chosen layer; hover a point for the layer); ${note}` }),
        el("p", { class: "downloads" }, "profile: ", el("a", { class: "profile-csv", href: base + ".csv", text: "CSV" }), " · ",
          el("a", { class: "profile-json", href: base + ".json", text: "JSON" }))));
      if (ms.rdm) {
        const rdms = el("div", { class: "rdms" });
        row.append(rdms);
        getJSON(ms.rdm).then((p) => {
          rdms.append(heatmap(p.n, p.model, "model RDM"), heatmap(p.n, p.brain, "brain RDM"));
        }).catch(() => rdms.append(el("p", { class: "muted", text: "no RDM available" })));
      }
    }
    box.append(card);
  }
}

// ---- benchmark page ----

async function benchmarkPage() {
  const id = decodeURIComponent(location.pathname.split("/").pop());
  let b;
  try {
    b = await getJSON(`${API}/benchmarks/${encodeURIComponent(id)}`);
  } catch (e) {
    showError(e);
    return;
  }
  document.title = `${b.id} · cortexbench`;
  document.getElementById("title").textContent = b.id;
  document.getElementById("private").hidden = !b.private;
  const meta = document.getElementById("meta");
  const rows = [["Ceiling", fmt(b.ceiling) + (b.ceiling_kind ? ` (${b.ceiling_kind})` : "")],
    ["Ceiled score", b.transform === "squared-clipped" ? "(raw / ceiling)², the ratio clipped to [0, 1]" : "raw / ceiling"],
    ["Model features", b.features || "as extracted"], ["Layer selection", b.selection || "—"], ["Version", b.version], ["Region", `${b.region} (averaged under ${b.parent})`], ["Species", b.species],
    ["Method", b.method], ["Stimuli", b.stimulus_count], ["Scored models", b.scored_models], ["Citation", b.citation || "—"]];
  for (const [k, v] of rows) meta.append(el("dt", { text: k }), el("dd", { text: String(v) }));
  const table = document.getElementById("ranking");
  table.tHead.append(el("tr", {}, el("th", { text: "Rank" }), el("th", { class: "left", text: "Model" }), el("th", { class: "left", text: "Family" }),
    el("th", { text: "Ceiled ± SE" }), el("th", { text: "Raw" }), el("th", { class: "left", text: "Layer" })));
  for (const r of b.ranking) {
    table.tBodies[0].append(el("tr", {}, el("td", { text: r.rank }),
      el("td", { class: "left" }, el("a", { href: `/models/${r.model.hash}`, text: r.model.name })),
      el("td", { class: "left", text: r.model.family }), scoreCell(r.score, b.id), el("td", { text: fmt(r.score.raw) }),
      el("td", { class: "left", text: r.score.layer })));
  }
  controls(b);
  await comparisons(b);
}

// controls shows each control's score and whether any trained model beats
// it reliably (paired bootstrap, BH-corrected across the models); a
// benchmark where none does is flagged not discriminating.
function controls(b) {
  const c = b.controls;
  if (!c) return;
  const box = document.getElementById("controls");
  box.replaceChildren();
  if (c.flag) box.append(el("p", { id: "not-discriminating", class: "error", text: `This benchmark is ${c.flag}.` }));
  else if (c.discriminating) box.append(el("p", { id: "discriminating", class: "notice", text: "Discriminating: a trained model beats every control reliably (q < " + c.level + ")." }));
  if (c.note) box.append(el("p", { class: "notice", text: c.note }));
  for (const s of c.controls) {
    const what = s.score ? `ceiled ${fmt(s.score.ceiled)}, raw ${fmt(s.score.raw)} [${fmt(s.score.ci_low)}, ${fmt(s.score.ci_high)}]` : "no score";
    const head = el("p", { class: "control" }, el("a", { href: `/models/${s.model.hash}`, text: s.model.name }), ` — ${what}`);
    if (c.test === "paired-bootstrap") head.append(`; beaten reliably by ${s.beaten_by} of ${s.tested} models tested`);
    if (s.note) head.append(` (${s.note})`);
    box.append(head);
    const table = el("table", { class: "board controls" });
    table.append(el("thead", {}, el("tr", {}, el("th", { class: "left", text: "Model" }), el("th", { text: "Ceiled" }),
      el("th", { text: "Model − control" }), el("th", { text: "95% CI" }), el("th", { text: "q" }), el("th", { text: "Intervals overlap" }))));
    const tb = el("tbody");
    for (const v of s.models) {
      const overlap = v.intervals_overlap == null ? "—" : (v.intervals_overlap ? "yes" : "no");
      tb.append(el("tr", { class: v.beats ? "sig" : "" }, el("td", { class: "left", text: v.model.name }), el("td", { text: fmt(v.ceiled) }),
        el("td", { text: v.diff == null ? "—" : (v.diff > 0 ? "+" : "") + fmt(v.diff) }),
        el("td", { text: v.ci[0] == null ? "—" : `[${fmt(v.ci[0])}, ${fmt(v.ci[1])}]` }), el("td", { text: fmt(v.q, 4) }), el("td", { text: overlap })));
    }
    table.append(tb);
    box.append(el("div", { class: "tablewrap" }, table));
    for (const k of s.skipped) box.append(el("p", { class: "muted", text: `${k.model.name || k.model.hash.slice(0, 12)} not tested: ${k.reason}` }));
  }
  box.append(el("p", { class: "muted", text: c.rule }));
}

// comparisons shows which differences between the benchmark's models are
// significant: a matrix (row model minus column model, highlighted when
// q < level), the significant pairs as "A > B, q = …", and a ▼ on the
// ranking rows significantly below the model ranked just above.
async function comparisons(b) {
  const box = document.getElementById("comparisons");
  let c;
  try {
    c = await getJSON(`${API}/benchmarks/${encodeURIComponent(b.id)}/comparisons`);
  } catch (e) {
    box.replaceChildren(el("p", { class: "notice", text: `No comparisons: ${e.message}` }));
    return;
  }
  box.replaceChildren(el("p", { class: "muted", text: `${c.method}; ${c.resamples} bootstrap resamples (${c.failed_resamples} failed), seed ${c.seed}. Test: ${c.rule}.` }));
  for (const s of c.skipped) box.append(el("p", { class: "notice", text: `${s.model.name || s.model.hash.slice(0, 12)} not compared: ${s.reason}` }));
  if (c.pairs.length === 0) {
    box.append(el("p", { class: "notice", text: "Fewer than two models can be compared on this benchmark." }));
    return;
  }
  const idx = new Map(c.models.map((m, i) => [m.model.hash, i]));
  const name = (h) => c.models[idx.get(h)].model.name;
  const pair = new Map(c.pairs.map((p) => [`${p.a} ${p.b}`, p]));
  const table = el("table", { id: "cmp-matrix", class: "board matrix" });
  const head = el("tr", {}, el("th", { class: "left", text: "row − column" }));
  c.models.forEach((m, j) => head.append(el("th", { title: m.model.name, text: String(j + 1) })));
  table.append(el("thead", {}, head));
  const body = el("tbody");
  c.models.forEach((m, i) => {
    const tr = el("tr", {}, el("th", { class: "left", text: `${i + 1}. ${m.model.name}` }));
    c.models.forEach((n, j) => {
      const p = i < j ? pair.get(`${m.model.hash} ${n.model.hash}`) : pair.get(`${n.model.hash} ${m.model.hash}`);
      if (i === j || !p) { tr.append(el("td", { class: "diag" })); return; }
      const d = i < j ? p.diff : -p.diff;
      tr.append(el("td", { class: p.significant ? "sig" : "", text: (d > 0 ? "+" : "") + fmt(d),
        title: `${m.model.name} − ${n.model.name} = ${fmt(d, 4)}, 95% CI [${fmt(i < j ? p.ci[0] : -p.ci[1], 4)}, ${fmt(i < j ? p.ci[1] : -p.ci[0], 4)}], p = ${fmt(p.p, 4)}, q = ${fmt(p.q, 4)}` }));
    });
    body.append(tr);
  });
  table.append(body);
  box.append(el("div", { class: "tablewrap" }, table));
  const sig = c.pairs.filter((p) => p.significant);
  const list = el("ul", { id: "cmp-list" });
  for (const p of sig) {
    const [hi, lo] = p.diff >= 0 ? [p.a, p.b] : [p.b, p.a];
    list.append(el("li", { class: "sig", text: `${name(hi)} > ${name(lo)}, Δ = ${fmt(Math.abs(p.diff))}, q = ${fmt(p.q, 4)}` }));
  }
  const details = el("details", { class: "siglist" }, el("summary", { text: `${sig.length} of ${c.pairs.length} differences significant (q < ${c.level})` }), list);
  details.open = sig.length <= 12;
  box.append(details);
  // Mark ranking rows significantly below the compared model ranked just above.
  const rows = document.querySelectorAll("#ranking tbody tr");
  b.ranking.forEach((r, k) => {
    const i = idx.get(r.model.hash);
    if (!i) return;
    const p = pair.get(`${c.models[i - 1].model.hash} ${r.model.hash}`);
    if (p && p.significant && p.diff > 0) {
      rows[k].children[1].append(el("span", { class: "sigbelow", text: " ▼", title: `significantly below ${name(p.a)} (q = ${fmt(p.q, 4)})` }));
    }
  });
}

// ---- a submitter's submissions (the submissions API, with their token) ----

// The token lives in this tab's sessionStorage only (never a cookie,
// never localStorage): it is sent as a Bearer header to the same origin.
const TOKEN_KEY = "cortexbench.token";

// problemsOf renders an error answer: its message and each problem.
function problemsOf(body, status) {
  const e = (body && body.error) || {};
  const box = el("div", {}, el("p", { text: e.message || `HTTP ${status}` }));
  if (e.problems && e.problems.length) {
    box.append(el("ul", {}, ...e.problems.map((p) => el("li", { "data-field": p.field, text: `${p.field}: ${p.message}` }))));
  }
  return box;
}

// uploadForm wires the upload form: presets from the API fill the
// preprocessing text (what is sent); the form posts the same multipart
// fields as 'cortexbench submit'.
async function uploadForm(tokenOf, loaded) {
  const form = document.getElementById("upload");
  const preset = form.elements.preset, spec = form.elements.preprocessing;
  const out = document.getElementById("upload-result");
  try {
    const p = await getJSON(`${API}/preprocessing/presets`);
    for (const x of p.presets) preset.append(el("option", { value: x.spec, text: `${x.name} — ${x.spec}` }));
    document.getElementById("spec-help").textContent = "Grammar: " + p.grammar + ".";
  } catch (e) {
    document.getElementById("spec-help").textContent = `Presets unavailable (${e.message}); type the spec.`;
  }
  preset.addEventListener("change", () => { if (preset.value) spec.value = preset.value; });
  // Edited away from the preset, the spec is the user's own.
  spec.addEventListener("input", () => { if (preset.value && spec.value !== preset.value) preset.value = ""; });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = tokenOf();
    out.hidden = false;
    if (!token) {
      out.className = "error";
      out.replaceChildren(el("p", { text: "Paste your API token above first (from cortexbench tokens create)." }));
      return;
    }
    const fd = new FormData();
    if (!form.elements.model.files.length) {
      out.className = "error";
      out.replaceChildren(el("p", { text: "Choose the .onnx file to submit." }));
      return;
    }
    fd.append("model", form.elements.model.files[0]);
    for (const k of ["name", "preprocessing", "family", "training_data", "paper", "description", "license", "bibtex"]) {
      const v = form.elements[k].value.trim();
      if (v !== "" || k === "name") fd.append(k, v);
    }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    out.className = "notice";
    out.replaceChildren(el("p", { text: "Uploading and validating…" }));
    try {
      const r = await fetch(`${API}/submissions`, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: fd });
      const body = await r.json().catch(() => null);
      if (!r.ok) {
        out.className = "error";
        out.replaceChildren(problemsOf(body, r.status));
        return;
      }
      out.className = "notice";
      out.replaceChildren(el("p", { id: "accepted", "data-id": body.id },
        `Accepted: submission ${body.id}, model `, el("a", { href: `/models/${body.model_hash}`, text: body.model_hash.slice(0, 12) }),
        ` — ${body.status.benchmarks} benchmark(s) queued, estimated ${fmt(body.status.estimate.seconds, 0)} s. Its status is followed below.`));
      // What the server noted about the spec (a default used, implausible values).
      if (body.warnings && body.warnings.length) out.append(el("ul", { class: "warnings" }, ...body.warnings.map((w) => el("li", { text: w }))));
      await loaded();
    } catch (e) {
      out.className = "error";
      out.replaceChildren(el("p", { text: String(e.message || e) }));
    } finally {
      btn.disabled = false;
    }
  });
}

async function submissionsPage() {
  const input = document.getElementById("token");
  localStorage.removeItem(TOKEN_KEY); // older pages kept it there
  input.value = sessionStorage.getItem(TOKEN_KEY) || "";
  const tbody = document.querySelector("#subs tbody");
  let timer = null;
  async function load() {
    const token = input.value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    let list;
    try {
      const r = await fetch(`${API}/submissions?mine`, { headers: { Authorization: `Bearer ${token}` } });
      const body = await r.json();
      if (!r.ok) throw new Error((body.error && body.error.message) || r.statusText);
      list = body.submissions || [];
      document.getElementById("error").hidden = true;
    } catch (e) {
      showError(e);
      return;
    }
    tbody.replaceChildren();
    for (const s of list) {
      const est = s.estimate ? `${fmt(s.estimate.seconds, 0)} s, ${fmt((s.estimate.bytes || 0) / 1048576, 0)} MiB` : "";
      tbody.append(el("tr", { "data-id": s.id }, el("td", { class: "left", text: new Date(s.created_at).toLocaleString() }),
        el("td", { class: "left sub-id", text: s.id }),
        el("td", { class: "left" }, el("a", { href: `/models/${s.model_hash}`, text: s.model_name })),
        el("td", { class: "left state", text: s.state + (s.failure_class ? ` (${s.failure_class})` : "") }),
        el("td", { text: `${s.done}/${s.benchmarks}` }), el("td", { class: "left", text: s.current || "" }),
        el("td", { class: "left", text: est }), el("td", { class: "left", text: s.message || "" })));
    }
    clearTimeout(timer);
    const finished = ["done", "failed", "cancelled", "withdrawn"];
    if (list.some((s) => !finished.includes(s.state))) timer = setTimeout(load, 3000);
  }
  document.getElementById("tokenform").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  await uploadForm(() => input.value.trim(), load);
  await load();
}

const pages = { leaderboard: leaderboardPage, model: modelPage, benchmark: benchmarkPage, submissions: submissionsPage };
pages[document.body.dataset.page]().finally(() => document.body.setAttribute("data-ready", "1"));
