// The evaluation heatmap and the value charts, each built as one string and inserted at once
// (1,000 evaluations × 20 SLIs stay well under a second).

import { esc, num, pct, SYMBOL } from './dom.js';

const CLS = { pass: 'r-pass', warning: 'r-warning', fail: 'r-fail', info: 'r-info' };

/** SLIs in the order of the newest evaluation that has them, then any others. */
export function sliOrder(rows) {
  const seen = new Map();
  for (let i = rows.length - 1; i >= 0; i--) {
    for (const ind of rows[i].indicators) if (!seen.has(ind.metric)) seen.set(ind.metric, ind.displayName || ind.metric);
  }
  return [...seen.entries()];
}

/**
 * Renders the heatmap into `container`. `rows` are oldest first. Returns the time taken
 * (building, inserting and laying out) in milliseconds.
 */
export function renderHeatmap(container, rows, selectedId) {
  const t0 = performance.now();
  const selected = rows.find((r) => r.id === selectedId);
  const compared = new Set(selected ? selected.comparedEvents : []);
  const slis = sliOrder(rows);
  const byMetric = rows.map((r) => new Map(r.indicators.map((x) => [x.metric, x])));
  const colClass = rows.map((r) => (r.id === selectedId ? ' s' : compared.has(r.id) ? ' c' : '') + (r.invalidated ? ' x' : ''));
  const parts = ['<table class="heatmap" id="heatmap"><thead><tr><th scope="col" class="rh">Evaluation</th>'];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const mark = r.id === selectedId ? '▼ ' : compared.has(r.id) ? '◆ ' : '';
    parts.push(`<th scope="col" class="ch${colClass[i]}"><button type="button" data-eval="${esc(r.id)}" title="${esc(r.time)}${r.invalidated ? ' (ignored for comparison)' : ''}">${mark}${esc(r.label)}</button></th>`);
  }
  parts.push('</tr></thead><tbody><tr data-sli="score"><th scope="row" class="rh">Score</th>');
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    parts.push(`<td class="${CLS[r.result] || 'r-none'}${colClass[i]}">${SYMBOL[r.result] || '?'} ${pct(r.score)}</td>`);
  }
  parts.push('</tr>');
  for (const [metric, name] of slis) {
    parts.push(`<tr data-sli="${esc(metric)}"><th scope="row" class="rh" title="${esc(metric)}">${esc(name)}</th>`);
    for (let i = 0; i < rows.length; i++) {
      const ind = byMetric[i].get(metric);
      if (!ind) { parts.push(`<td class="r-none${colClass[i]}">–</td>`); continue; }
      parts.push(`<td class="${CLS[ind.status] || 'r-none'}${colClass[i]}">${SYMBOL[ind.status] || '?'} ${ind.success ? num(ind.value) : 'n/a'}</td>`);
    }
    parts.push('</tr>');
  }
  parts.push('</tbody></table>');
  container.innerHTML = parts.join('');
  const table = container.firstElementChild;
  void table.offsetHeight; // lay it out before measuring
  const ms = performance.now() - t0;
  table.dataset.renderMs = ms.toFixed(1);
  window.sluiceHeatmapMs = ms;
  return ms;
}

function thresholdOf(text) {
  if (!text) return null;
  const v = parseFloat(String(text).replace('%', ''));
  return Number.isFinite(v) ? v : null;
}

/** One small line chart (SVG) of a series with horizontal threshold lines. */
function chart(title, values, results, lines, selectedIndex) {
  const W = 640, H = 120, P = 6;
  const finite = values.filter((v) => Number.isFinite(v));
  const all = finite.concat(lines.map((l) => l.value).filter((v) => Number.isFinite(v)));
  if (!finite.length) return `<figure class="chart"><figcaption>${esc(title)}</figcaption><p class="muted">no values</p></figure>`;
  let lo = Math.min(...all), hi = Math.max(...all);
  if (lo === hi) { lo -= 1; hi += 1; }
  const n = values.length;
  const x = (i) => (n === 1 ? W / 2 : P + (i * (W - 2 * P)) / (n - 1));
  const y = (v) => H - P - ((v - lo) * (H - 2 * P)) / (hi - lo);
  const pts = [];
  values.forEach((v, i) => { if (Number.isFinite(v)) pts.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`); });
  const dots = n <= 200 ? values.map((v, i) => (Number.isFinite(v) ? `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" class="dot ${CLS[results[i]] || ''}"/>` : '')).join('') : '';
  const th = lines.filter((l) => Number.isFinite(l.value)).map((l) =>
    `<line x1="0" x2="${W}" y1="${y(l.value).toFixed(1)}" y2="${y(l.value).toFixed(1)}" class="th th-${l.kind}"/>`).join('');
  const legend = lines.filter((l) => Number.isFinite(l.value)).map((l) => `<span class="tl tl-${l.kind}">╌ ${esc(l.kind)} ${esc(l.label)}</span>`).join(' ');
  const sel = selectedIndex >= 0 ? `<line x1="${x(selectedIndex).toFixed(1)}" x2="${x(selectedIndex).toFixed(1)}" y1="0" y2="${H}" class="selline"/>` : '';
  return `<figure class="chart"><figcaption>${esc(title)} <span class="small muted">${num(lo)} – ${num(hi)}</span> ${legend}</figcaption>
    <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${esc(title)} over ${n} evaluations">${th}${sel}<polyline points="${pts.join(' ')}" class="series"/>${dots}</svg></figure>`;
}

/** Charts of the score and each SLI, with the selected evaluation's thresholds. */
export function renderCharts(container, rows, explanation, selectedId) {
  const idx = rows.findIndex((r) => r.id === selectedId);
  const x = explanation && explanation.explanation;
  const scoreLines = [];
  if (x) {
    const pass = thresholdOf(x.passThreshold), warn = thresholdOf(x.warningThreshold);
    if (pass !== null) scoreLines.push({ kind: 'pass', value: pass, label: `≥ ${x.passThreshold}` });
    if (warn !== null) scoreLines.push({ kind: 'warning', value: warn, label: `≥ ${x.warningThreshold}` });
  }
  const html = [chart('Score', rows.map((r) => r.score), rows.map((r) => r.result), scoreLines, idx)];
  for (const [metric, name] of sliOrder(rows)) {
    const lines = [];
    const obj = x && x.objectives.find((o) => o.sli === metric);
    if (obj) for (const t of obj.targets) if (t.threshold !== null && t.threshold !== undefined) lines.push({ kind: t.kind, value: t.threshold, label: t.criteria });
    const vals = rows.map((r) => { const ind = r.indicators.find((i) => i.metric === metric); return ind && ind.success ? ind.value : NaN; });
    const res = rows.map((r) => { const ind = r.indicators.find((i) => i.metric === metric); return ind ? ind.status : ''; });
    html.push(chart(name, vals, res, lines, idx));
  }
  container.innerHTML = html.join('');
}
