// cortexbench: two models side by side (/compare?models=A,B), and the
// "compare with…" picker on a model page. Plain JS over /api/v1, no build
// step; wrapped so that it can share a page with app.js.
"use strict";
(() => {
  const API = "/api/v1";
  const COLOURS = { a: "#2f6fdf", b: "#d9480f" };

  // el and svg come from dom.js.
  const fmt = (x, d = 3) => (x == null || !isFinite(x) ? "—" : Number(x).toFixed(d));
  const signed = (x, d = 3) => (x == null || !isFinite(x) ? "—" : (x > 0 ? "+" : "") + Number(x).toFixed(d));

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

  // models lists every model, best ranked first.
  async function models() {
    return (await getJSON(`${API}/models`)).models;
  }

  function label(m) {
    return `${m.name || m.hash.slice(0, 12)}${m.rank ? ` (rank ${m.rank})` : ""} · ${m.hash.slice(0, 8)}`;
  }

  // ---- a model page: "compare with…" ----

  async function modelPicker() {
    const hash = location.pathname.split("/").pop();
    let list;
    try {
      list = await models();
    } catch (e) {
      return; // the model page reports its own errors
    }
    const others = list.filter((m) => m.hash !== hash);
    if (!others.length) return;
    const sel = el("select", { id: "compare-other", "aria-label": "model to compare with" });
    for (const m of others) sel.append(el("option", { value: m.hash, text: label(m) }));
    const go = el("a", { id: "compare-link", href: "#", text: "Compare" });
    const update = () => { go.href = `/compare?models=${hash},${sel.value}`; };
    sel.addEventListener("change", update);
    update();
    const box = el("p", { id: "compare-with", class: "filters" }, "Compare with… ", sel, " ", go);
    const meta = document.getElementById("meta");
    meta.after(box);
  }

  // ---- the side-by-side page ----

  // profile overlays both models' per-layer profiles on one benchmark:
  // score against relative depth, a ±SE band each, the reported layer
  // marked, and every layer's name in a hover title.
  function profile(row) {
    const W = 340, H = 190, L = 36, R = 10, T = 10, B = 28;
    const key = [row.a, row.b].some((s) => (s.layers || []).some((l) => l.ceiled != null)) ? "ceiled" : "raw";
    const series = ["a", "b"].map((w) => ({
      w,
      layer: row[w].layer,
      pts: (row[w].layers || []).filter((l) => l[key] != null).map((l) => ({ ...l, v: l[key] })).sort((x, y) => x.depth - y.depth),
    }));
    let lo = 0, hi = 1;
    for (const s of series) for (const p of s.pts) { lo = Math.min(lo, p.v - (p.se || 0)); hi = Math.max(hi, p.v + (p.se || 0)); }
    const x = (d) => L + d * (W - L - R), y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    const s = svg("svg", { class: "profile compare", width: W, height: H, viewBox: `0 0 ${W} ${H}`, "data-benchmark": row.benchmark.id });
    s.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: y(lo), y2: y(lo) }));
    s.append(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
    for (const v of [lo, (lo + hi) / 2, hi]) {
      const t = svg("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" }); t.textContent = v.toFixed(2); s.append(t);
    }
    const xl = svg("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }); xl.textContent = `${key} score by relative layer depth →`; s.append(xl);
    for (const { w, layer, pts } of series) {
      if (!pts.length) continue;
      const c = COLOURS[w];
      const up = pts.map((p) => `${x(p.depth)},${y(p.v + (p.se || 0))}`);
      const dn = pts.slice().reverse().map((p) => `${x(p.depth)},${y(p.v - (p.se || 0))}`);
      s.append(svg("path", { class: `band band-${w}`, d: "M" + up.concat(dn).join("L") + "Z", fill: c, opacity: 0.15, stroke: "none" }));
      s.append(svg("path", { class: `overlay line-${w}`, "data-model": w, d: "M" + pts.map((p) => `${x(p.depth)},${y(p.v)}`).join("L"), fill: "none", stroke: c, "stroke-width": 2 }));
      for (const p of pts) {
        const chosen = p.layer === layer;
        const dot = svg("circle", { class: chosen ? `pt chosen-${w}` : "pt", cx: x(p.depth), cy: y(p.v), r: chosen ? 5 : 2.5, fill: c, stroke: "#fff", "stroke-width": chosen ? 1.5 : 0.5 });
        const t = svg("title");
        t.textContent = `${w.toUpperCase()}: ${p.name || p.layer}${p.name && p.name !== p.layer ? ` (${p.layer})` : ""} · depth ${fmt(p.depth, 2)} · ${key} ${fmt(p.v)}${chosen ? " · reported layer" : ""}`;
        dot.append(t);
        s.append(dot);
      }
    }
    return s;
  }

  // layerTD shows the reported layer's id, its ONNX name (when the
  // profile records one) on hover.
  function layerTD(s) {
    const l = (s.layers || []).find((l) => l.layer === s.layer);
    return el("td", { class: "left layer", title: l && l.name ? l.name : s.layer, text: s.layer });
  }

  function scoreTD(s) {
    const raw = s.units === "raw" ? " (raw)" : "";
    return el("td", { title: `layer ${s.layer}; ${s.selection || ""}` }, `${fmt(s.score)}${raw}`, el("span", { class: "pm", text: ` [${fmt(s.ci[0])}, ${fmt(s.ci[1])}]` }));
  }

  function render(c) {
    document.title = `${c.a.name} vs ${c.b.name} · cortexbench`;
    document.getElementById("title").replaceChildren(el("a", { href: `/models/${c.a.hash}`, text: c.a.name }), " (A) vs ",
      el("a", { href: `/models/${c.b.hash}`, text: c.b.name }), " (B)");
    const s = c.summary;
    const sum = document.getElementById("summary");
    sum.hidden = false;
    sum.textContent = `${s.compared} benchmark(s) compared: A wins reliably on ${s.a_wins}, B on ${s.b_wins} (q < ${c.level})` +
      (s.mean_over ? `; mean B − A over ${s.mean_over} ceiled: ${signed(s.mean_diff)} [${signed(s.mean_ci[0])}, ${signed(s.mean_ci[1])}]` : "") +
      (c.resamples ? `; bootstraps of ${c.resamples} resamples, seed ${c.seed}` : "");
    document.getElementById("rule").textContent = c.rule;
    const table = document.getElementById("cmp");
    table.tHead.replaceChildren(el("tr", {}, el("th", { class: "left", text: "Benchmark" }),
      el("th", {}, el("span", { class: "grp", text: c.a.name }), "A [95% CI]"), el("th", { class: "left", text: "Layer A" }),
      el("th", {}, el("span", { class: "grp", text: c.b.name }), "B [95% CI]"), el("th", { class: "left", text: "Layer B" }),
      el("th", { text: "B − A [95% CI]" }), el("th", { text: "p" }), el("th", { text: "q" }), el("th", { text: "Reliable" }), el("th", { class: "left", text: "Test" })));
    const tb = table.tBodies[0];
    tb.replaceChildren();
    for (const r of c.benchmarks) {
      const mark = r.winner ? `${r.winner.toUpperCase()} ✔` : "";
      tb.append(el("tr", { class: r.reliable ? "sig" : "", "data-benchmark": r.benchmark.id, "data-winner": r.winner },
        el("td", { class: "left" }, el("a", { href: `/benchmarks/${encodeURIComponent(r.benchmark.id)}`, text: r.benchmark.id }), r.benchmark.private ? el("span", { class: "badge private", text: "private" }) : null),
        scoreTD(r.a), layerTD(r.a), scoreTD(r.b), layerTD(r.b),
        el("td", { class: "diff", title: r.note || "" }, `${signed(r.diff)}${r.units === "raw" ? " (raw)" : ""}`, el("span", { class: "pm", text: ` [${signed(r.ci[0])}, ${signed(r.ci[1])}]` })),
        el("td", { text: fmt(r.p, 4) }), el("td", { class: "q", text: fmt(r.q, 4) }),
        el("td", { class: "mark", title: r.reliable ? `q < ${c.level}` : "not reliable", text: mark }), el("td", { class: "left", text: r.test })));
    }
    const nc = document.getElementById("not-compared");
    nc.replaceChildren();
    for (const r of c.benchmarks) if (r.note) nc.append(el("li", { class: "note", text: `${r.benchmark.id}: ${r.note}` }));
    for (const n of c.not_compared) nc.append(el("li", { class: "not-compared", text: `${n.benchmark.id}: not compared, ${n.reason}` }));
    const box = document.getElementById("profiles");
    box.replaceChildren();
    for (const r of c.benchmarks) {
      const card = el("section", { class: "card", "data-benchmark": r.benchmark.id }, el("h3", { text: r.benchmark.id }));
      if (r.a.layers_withheld || r.b.layers_withheld) card.append(el("p", { class: "notice", text: "Private benchmark: the per-layer profiles are withheld." }));
      else card.append(el("figure", {}, profile(r), el("figcaption", { text: `A ${c.a.name} (blue) · B ${c.b.name} (orange)` })));
      box.append(card);
    }
  }

  async function comparePage() {
    const params = new URLSearchParams(location.search);
    const pair = (params.get("models") || "").split(",").filter((s) => s);
    let list = [];
    try {
      list = await models();
    } catch (e) {
      showError(e);
    }
    const sa = document.getElementById("model-a"), sb = document.getElementById("model-b");
    for (const sel of [sa, sb]) for (const m of list) sel.append(el("option", { value: m.hash, text: label(m) }));
    const pick = (sel, ref, i) => {
      const m = list.find((m) => m.hash === ref || m.name === ref || (ref.length >= 8 && m.hash.startsWith(ref.toLowerCase())));
      if (m) sel.value = m.hash;
      else if (list.length > i) sel.value = list[i].hash;
    };
    pick(sa, pair[0] || "", 0);
    pick(sb, pair[1] || "", 1);
    document.getElementById("pick").addEventListener("submit", (e) => {
      e.preventDefault();
      location.search = `?models=${sa.value},${sb.value}`;
    });
    if (pair.length !== 2) return;
    const q = `${API}/compare?models=${encodeURIComponent(pair[0])},${encodeURIComponent(pair[1])}`;
    const json = document.getElementById("json");
    json.href = q;
    json.hidden = false;
    let c;
    try {
      c = await getJSON(q);
    } catch (e) {
      showError(e);
      return;
    }
    render(c);
  }

  const page = document.body.dataset.page;
  if (page === "compare") comparePage().finally(() => document.body.setAttribute("data-ready", "1"));
  else if (page === "model") modelPicker();
})();
