// @ts-check
// The evaluation heatmap and the value charts, each built as one piece of markup and inserted
// at once (1,000 evaluations × 20 SLIs stay well under a second).

import { html, show, num, pct, SYMBOL } from './dom.js';

/**
 * @typedef {{ metric: string, displayName?: string, status: string, success: boolean, value: number }} Indicator
 * @typedef {{ id: string, label: string, time: string, result: string, score: number, invalidated?: boolean,
 *             comparedEvents: string[], indicators: Indicator[] }} Row
 */

const CLS = /** @type {Record<string, string>} */ ({ pass: 'r-pass', warning: 'r-warning', fail: 'r-fail', info: 'r-info' });

/**
 * SLIs (metric and display name) in the order of the newest evaluation that has them, then
 * any others.
 * @param {Row[]} rows  oldest first
 * @returns {[string, string][]}
 */
export function sliOrder(rows) {
  /** @type {Map<string, string>} */
  const seen = new Map();
  for (let i = rows.length - 1; i >= 0; i--) {
    for (const ind of rows[i].indicators) if (!seen.has(ind.metric)) seen.set(ind.metric, ind.displayName || ind.metric);
  }
  return [...seen.entries()];
}

/**
 * The heatmap's markup: a column per evaluation (oldest first), a row for the score and one
 * per SLI; the selected evaluation and those it was compared with are marked.
 * @param {Row[]} rows
 * @param {string} selectedId
 */
export function heatmapHtml(rows, selectedId) {
  const selected = rows.find((r) => r.id === selectedId);
  const compared = new Set(selected ? selected.comparedEvents : []);
  const slis = sliOrder(rows);
  const byMetric = rows.map((r) => new Map(r.indicators.map((x) => [x.metric, x])));
  const colClass = rows.map((r) => (r.id === selectedId ? ' s' : compared.has(r.id) ? ' c' : '') + (r.invalidated ? ' x' : ''));
  const heads = rows.map((r, i) => {
    const mark = r.id === selectedId ? '▼ ' : compared.has(r.id) ? '◆ ' : '';
    return html`<th scope="col" class="ch${colClass[i]}"><button type="button" data-eval="${r.id}" title="${r.time}${r.invalidated ? ' (ignored for comparison)' : ''}">${mark}${r.label}</button></th>`;
  });
  const scores = rows.map((r, i) => html`<td class="${CLS[r.result] || 'r-none'}${colClass[i]}">${SYMBOL[r.result] || '?'} ${pct(r.score)}</td>`);
  const sliRows = slis.map(([metric, name]) => {
    const cells = rows.map((_, i) => {
      const ind = byMetric[i].get(metric);
      if (!ind) return html`<td class="r-none${colClass[i]}">–</td>`;
      return html`<td class="${CLS[ind.status] || 'r-none'}${colClass[i]}">${SYMBOL[ind.status] || '?'} ${ind.success ? num(ind.value) : 'n/a'}</td>`;
    });
    return html`<tr data-sli="${metric}"><th scope="row" class="rh" title="${metric}">${name}</th>${cells}</tr>`;
  });
  return html`<table class="heatmap" id="heatmap"><thead><tr><th scope="col" class="rh">Evaluation</th>${heads}</tr></thead><tbody><tr data-sli="score"><th scope="row" class="rh">Score</th>${scores}</tr>${sliRows}</tbody></table>`;
}

/**
 * Renders the heatmap into `container`. `rows` are oldest first. Returns the time taken
 * (building, inserting and laying out) in milliseconds.
 * @param {HTMLElement} container
 * @param {Row[]} rows
 * @param {string} selectedId
 */
export function renderHeatmap(container, rows, selectedId) {
  const t0 = performance.now();
  show(container, heatmapHtml(rows, selectedId));
  const table = /** @type {HTMLElement} */ (container.firstElementChild);
  void table.offsetHeight; // lay it out before measuring
  const ms = performance.now() - t0;
  table.dataset.renderMs = ms.toFixed(1);
  /** @type {any} */ (window).sluiceHeatmapMs = ms;
  return ms;
}

/**
 * The number of a pass or warning threshold (`90`, `90%`), or null.
 * @param {string | undefined} text
 */
export function thresholdOf(text) {
  if (!text) return null;
  const v = parseFloat(String(text).replace('%', ''));
  return Number.isFinite(v) ? v : null;
}

/**
 * @typedef {{ kind: string, value: number, label: string }} Threshold
 */

/**
 * One small line chart (SVG) of a series with horizontal threshold lines.
 * @param {string} title
 * @param {number[]} values  NaN where there is no value
 * @param {string[]} results
 * @param {Threshold[]} lines
 * @param {number} selectedIndex  -1 for none
 */
export function chart(title, values, results, lines, selectedIndex) {
  const W = 640, H = 120, P = 6;
  const finite = values.filter((v) => Number.isFinite(v));
  const all = finite.concat(lines.map((l) => l.value).filter((v) => Number.isFinite(v)));
  if (!finite.length) return html`<figure class="chart"><figcaption>${title}</figcaption><p class="muted">no values</p></figure>`;
  let lo = Math.min(...all), hi = Math.max(...all);
  if (lo === hi) { lo -= 1; hi += 1; }
  const n = values.length;
  /** @param {number} i */
  const x = (i) => (n === 1 ? W / 2 : P + (i * (W - 2 * P)) / (n - 1));
  /** @param {number} v */
  const y = (v) => H - P - ((v - lo) * (H - 2 * P)) / (hi - lo);
  /** @type {string[]} */
  const pts = [];
  values.forEach((v, i) => { if (Number.isFinite(v)) pts.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`); });
  const dots = n <= 200 ? values.map((v, i) => (Number.isFinite(v) ? html`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" class="dot ${CLS[results[i]] || ''}"/>` : '')) : '';
  const shown = lines.filter((l) => Number.isFinite(l.value));
  const th = shown.map((l) => html`<line x1="0" x2="${W}" y1="${y(l.value).toFixed(1)}" y2="${y(l.value).toFixed(1)}" class="th th-${l.kind}"/>`);
  const legend = shown.map((l) => html` <span class="tl tl-${l.kind}">╌ ${l.kind} ${l.label}</span>`);
  const sel = selectedIndex >= 0 ? html`<line x1="${x(selectedIndex).toFixed(1)}" x2="${x(selectedIndex).toFixed(1)}" y1="0" y2="${H}" class="selline"/>` : '';
  return html`<figure class="chart"><figcaption>${title} <span class="small muted">${num(lo)} – ${num(hi)}</span>${legend}</figcaption>
    <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${title} over ${n} evaluations">${th}${sel}<polyline points="${pts.join(' ')}" class="series"/>${dots}</svg></figure>`;
}

/**
 * Charts of the score and each SLI, with the selected evaluation's thresholds.
 * @param {HTMLElement} container
 * @param {Row[]} rows
 * @param {any} explanation  the selected evaluation (`GET /api/sluice/v1/evaluation/{id}`), or null
 * @param {string} selectedId
 */
export function renderCharts(container, rows, explanation, selectedId) {
  const idx = rows.findIndex((r) => r.id === selectedId);
  const x = explanation && explanation.explanation;
  /** @type {Threshold[]} */
  const scoreLines = [];
  if (x) {
    const pass = thresholdOf(x.passThreshold), warn = thresholdOf(x.warningThreshold);
    if (pass !== null) scoreLines.push({ kind: 'pass', value: pass, label: `≥ ${x.passThreshold}` });
    if (warn !== null) scoreLines.push({ kind: 'warning', value: warn, label: `≥ ${x.warningThreshold}` });
  }
  const charts = [chart('Score', rows.map((r) => r.score), rows.map((r) => r.result), scoreLines, idx)];
  for (const [metric, name] of sliOrder(rows)) {
    /** @type {Threshold[]} */
    const lines = [];
    const obj = x && x.objectives.find((/** @type {any} */ o) => o.sli === metric);
    if (obj) for (const t of obj.targets) if (t.threshold !== null && t.threshold !== undefined) lines.push({ kind: t.kind, value: t.threshold, label: t.criteria });
    const vals = rows.map((r) => { const ind = r.indicators.find((i) => i.metric === metric); return ind && ind.success ? ind.value : NaN; });
    const res = rows.map((r) => { const ind = r.indicators.find((i) => i.metric === metric); return ind ? ind.status : ''; });
    charts.push(chart(name, vals, res, lines, idx));
  }
  show(container, html`${charts}`);
}
