// @ts-check
// A service's quality view: the evaluation heatmap (rows: score and each SLI; columns:
// evaluations), charts of the values with thresholds, the explanation of the selected
// evaluation (as `sluice evaluate` prints it, with a statistical criterion's numbers and a
// chart of both distributions), "ignore for comparison" and the pinned baseline.

import * as api from './api.js';
import { html, show, append, enc, badge, num, pct, time, errorBox, SYMBOL } from './dom.js';
import { renderHeatmap, renderCharts } from './heatmap.js';
import { can } from './access.js';

const MAX_EVALUATIONS = 2000;
/** @type {{ key: string, rows: any[] }} */
let cache = { key: '', rows: [] };

/**
 * The points of an empirical cumulative distribution as an SVG polyline: sorted values on x
 * (through `x`), the share of values up to each on y (0 at the bottom).
 * @param {number[]} sorted
 * @param {(v: number) => number} x
 * @param {number} W
 * @param {number} H
 * @param {number} P
 */
function ecdfPoints(sorted, x, W, H, P) {
  const n = sorted.length;
  /** @type {string[]} */
  const pts = [`${x(sorted[0]).toFixed(1)},${(H - P).toFixed(1)}`];
  // At most ~400 steps: enough for the eye, small for the page.
  const step = Math.max(1, Math.floor(n / 400));
  for (let i = 0; i < n; i += step) {
    const y = H - P - ((i + 1) / n) * (H - 2 * P);
    pts.push(`${x(sorted[i]).toFixed(1)},${y.toFixed(1)}`);
  }
  pts.push(`${x(sorted[n - 1]).toFixed(1)},${P.toFixed(1)}`);
  pts.push(`${W - P},${P.toFixed(1)}`);
  return pts.join(' ');
}

/**
 * A chart of two samples as empirical cumulative distributions (SVG, no library): the
 * baseline's and the current one, on a logarithmic value axis when every value is positive
 * and they span more than a factor of 4 (latency tails), else a linear one.
 * @param {number[] | null | undefined} current
 * @param {number[] | null | undefined} baseline
 * @param {string} title
 */
export function distributionChart(current, baseline, title) {
  const W = 640, H = 160, P = 8;
  const clean = (/** @type {number[] | null | undefined} */ s) => (s || []).filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const cur = clean(current), base = clean(baseline);
  if (!cur.length || !base.length) {
    return html`<figure class="chart distribution"><figcaption>${title}</figcaption><p class="muted">${!cur.length && !base.length ? 'no samples' : !cur.length ? 'no current samples' : 'no baseline samples'}</p></figure>`;
  }
  const lo = Math.min(cur[0], base[0]), hi = Math.max(cur[cur.length - 1], base[base.length - 1]);
  const log = lo > 0 && hi / lo > 4;
  const f = (/** @type {number} */ v) => (log ? Math.log10(v) : v);
  const a = f(lo), b = f(hi) === f(lo) ? f(lo) + 1 : f(hi);
  const x = (/** @type {number} */ v) => P + ((f(v) - a) * (W - 2 * P)) / (b - a);
  return html`<figure class="chart distribution"><figcaption>${title} <span class="small muted">${num(lo)} – ${num(hi)}${log ? ' (log scale)' : ''}</span>
      <span class="tl tl-baseline">━ baseline (${base.length})</span> <span class="tl tl-current">━ current (${cur.length})</span></figcaption>
    <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${title}: cumulative distributions of the baseline's and the current samples">
      <polyline points="${ecdfPoints(base, x, W, H, P)}" class="ecdf baseline"/>
      <polyline points="${ecdfPoints(cur, x, W, H, P)}" class="ecdf current"/></svg>
    <p class="small muted">Share of values (up) at or below each value (right): a curve further right is slower.</p></figure>`;
}

/**
 * A statistical criterion's findings: both samples' sizes and medians, the effect and the
 * p-value, the judge's reason, and the chart of both distributions.
 * @param {any} st  `explanation.objectives[].statistical`
 * @param {string} name  the objective's name
 */
export function statisticalHtml(st, name) {
  const p = (/** @type {unknown} */ v) => (typeof v === 'number' ? (v < 1e-4 ? v.toExponential(2) : v.toPrecision(3)) : '–');
  const numbers = st.compared
    ? html`<table class="list stats"><thead><tr><th></th><th>samples</th><th>median</th><th>mean</th></tr></thead><tbody>
        <tr><th scope="row">current</th><td class="num">${st.current.count}</td><td class="num">${num(st.current.median)}</td><td class="num">${num(st.current.mean)}</td></tr>
        <tr><th scope="row">baseline</th><td class="num">${st.baseline.count}</td><td class="num">${num(st.baseline.median)}</td><td class="num">${num(st.baseline.mean)}</td></tr></tbody></table>
      <p>effect <strong class="effect">${st.effect === null ? '–' : num(st.effect)}</strong> (median ratio ${st.medianRatio === null ? '–' : num(st.medianRatio)}, mean ratio ${st.meanRatio === null ? '–' : num(st.meanRatio)}),
        p-value <strong class="p-value">${p(st.pValue)}</strong> (${st.method}), U ${num(st.u)}, shift ${num(st.shift)}</p>`
    : html`<p>current ${st.current.count ?? 'none'}, baseline ${st.baseline.count ?? 'none'} usable samples (at least ${st.minSamples} needed)</p>`;
  return html`<div class="statistical"><p class="reason">${st.passed ? '✓' : '✗'} <code>${st.criterion}</code>: ${st.reason}</p>
    ${numbers}${distributionChart(st.samples && st.samples.current, st.samples && st.samples.baseline, name)}</div>`;
}

/**
 * An evaluation's explanation (as `sluice evaluate` prints it): each objective with its
 * value, compared value, targets and points; under an objective with a statistical criterion
 * its numbers and chart. `options.baseline` is the id of the stage's pinned baseline
 * evaluation, `options.mayPin` whether the session may pin one.
 * @param {any} ev  `GET /api/sluice/v1/evaluation/{id}`
 * @param {{ baseline?: string | null, mayPin?: boolean, mayInvalidate?: boolean }} [options]
 */
export function explanationHtml(ev, options = {}) {
  const { baseline = null, mayPin = false, mayInvalidate = true } = options;
  const x = ev.explanation;
  /** @param {any} t */
  const mark = (t) => (t.evaluated === false ? '–' : t.held ? '✓' : '✗');
  /** @param {any} t */
  const targetClass = (t) => (t.evaluated === false ? 'muted' : t.held ? 'held' : 'missed');
  /** @param {any} t */
  const threshold = (t) => {
    if (t.threshold !== null) return html`→ <code>${t.criteria.replace(/[0-9.+%-]+$/, '')}${num(t.threshold)}</code>`;
    return t.evaluated === false ? html`<span class="small">(not checked)</span>` : html`<span class="small">(no history: counted as met)</span>`;
  };
  /** @type {import('./dom.js').Html[]} */
  const rows = x.objectives.map((/** @type {any} */ o) => {
    const targets = o.targets.map((/** @type {any} */ t) => html`<li class="${targetClass(t)}"${t.evaluated === false ? html` title="not checked: Keptn lists these criteria as violated without checking them"` : ''}>${mark(t)} ${t.kind} <code>${t.criteria}</code>
      ${threshold(t)}</li>`);
    return html`<tr data-sli="${o.sli}" class="${o.keySli ? 'key' : ''}">
      <th scope="row">${o.name}${o.keySli ? html` <span class="key-mark" title="key SLI: failing it fails the evaluation">★ key</span>` : ''}<div class="small">${o.sli}</div></th>
      <td>${badge(o.status)}</td>
      <td class="num">${o.value === null ? html`<span class="small">${o.missing ? 'missing: ' : 'failed: '}${o.valueError || 'no value'}</span>` : num(o.value)}</td>
      <td class="num">${o.comparedValue === null ? '–' : html`${num(o.comparedValue)} <span class="small">(${o.history} earlier)</span>`}</td>
      <td><ul class="plain">${targets.length ? targets : o.statistical ? html`<li class="${o.statistical.passed ? 'held' : 'missed'}">${o.statistical.passed ? '✓' : '✗'} statistical (below)</li>` : html`<li class="muted">informational</li>`}</ul></td>
      <td class="num">${o.maxPoints ? `${num(o.points)} / ${num(o.maxPoints)}` : '–'}</td></tr>${o.statistical
        ? html`<tr class="statistical-row" data-statistical="${o.sli}"><td colspan="6">${statisticalHtml(o.statistical, o.name)}</td></tr>`
        : ''}`;
  });
  const bare = !rows.length && (ev.indicators || []).length
    ? ev.indicators.map((/** @type {any} */ o) => html`<tr data-sli="${o.metric}"><th scope="row">${o.displayName || o.metric}${o.keySli ? html` <span class="key-mark">★ key</span>` : ''}<div class="small">${o.metric}</div></th>
      <td>${badge(o.status)}</td><td class="num">${o.success ? num(o.value) : 'no value'}</td><td class="num">–</td>
      <td class="muted">the result carries no SLO: targets unknown</td><td class="num">${num(o.score)}</td></tr>`)
    : [];
  const thresholds = [x.passThreshold && `pass ≥ ${x.passThreshold}`, x.warningThreshold && `warning ≥ ${x.warningThreshold}`].filter(Boolean).join(', ');
  const body = rows.length ? rows : bare.length ? bare : html`<tr><td colspan="6" class="muted">no SLO: nothing was evaluated</td></tr>`;
  return html`<h2>Evaluation ${ev.label} <span class="small muted">${time(ev.time)}</span></h2>
    <p>${badge(x.result, `${x.result}`)} score <strong>${pct(x.score)}</strong> of 100
      (${num(x.points)} of ${num(x.maxPoints)} points)${thresholds ? `; ${thresholds}` : ''}.
      ${x.comparedEvaluations ? `Compared with ${x.comparedEvaluations} earlier evaluation${x.comparedEvaluations === 1 ? '' : 's'} (${x.aggregateFunction}).` : 'No earlier evaluation to compare with.'}
      ${ev.invalidated ? html`<span class="badge r-none">⊘ ignored for comparison</span>` : ''}
      ${baseline === ev.id ? html`<span class="badge r-pass" id="pinned-badge" title="SLOs with compare_with: baseline compare with this evaluation">◎ pinned baseline</span>` : ''}</p>
    <p class="message" id="eval-message">${x.message || ev.message}</p>
    <table class="list explanation" id="explanation"><thead><tr><th>Objective</th><th>Status</th><th>Value</th><th>Compared</th><th>Targets (threshold)</th><th>Points</th></tr></thead>
    <tbody>${body}</tbody></table>
    <p class="small">Window ${ev.timeStart} – ${ev.timeEnd} · context <a href="#/project/${enc(ev.project)}/sequence/${enc(ev.keptnContext)}"><code>${ev.keptnContext}</code></a></p>
    <p class="small" id="baseline-note">${baseline ? html`Pinned baseline of ${ev.service} in ${ev.stage}: ${baseline === ev.id ? 'this evaluation' : html`<code>${baseline}</code>`}.` : html`No baseline is pinned for ${ev.service} in ${ev.stage}.`}</p>
    <div class="buttons">${ev.invalidated || !mayInvalidate ? '' : html`<button type="button" id="invalidate">⊘ Ignore for comparison</button>`}
      ${mayPin && !ev.invalidated && baseline !== ev.id ? html`<button type="button" id="pin-baseline">◎ Pin as baseline</button>` : ''}</div>`;
}

/**
 * Renders the quality view of a service.
 * @param {HTMLElement} main
 * @param {string} project
 * @param {string} service
 * @param {URLSearchParams} params
 * @param {{ live?: boolean }} [options]
 * @returns {Promise<void>}
 */
export async function qualityView(main, project, service, params, { live } = {}) {
  const p = enc(project);
  const proj = await api.get(`/api/controlPlane/v1/project/${p}`);
  /** @type {string[]} */
  const stages = (proj.stages || []).map((/** @type {any} */ s) => s.stageName);
  const stage = params.get('stage') || stages[0] || '';
  const key = `${project}/${stage}/${service}`;
  const t0 = performance.now();
  if (cache.key !== key || live) {
    const { items } = await api.allPagesByOffset(`/api/sluice/v1/project/${p}/stage/${enc(stage)}/service/${enc(service)}/evaluations`, {}, 'evaluations', 100, MAX_EVALUATIONS);
    cache = { key, rows: items.reverse() };
  }
  const rows = cache.rows;
  const selectedId = params.get('eval') || (rows.length ? rows[rows.length - 1].id : '');
  const tabs = stages.map((s) => html`<a href="#/project/${p}/service/${enc(service)}/quality?stage=${enc(s)}" class="tab${s === stage ? ' current' : ''}"${s === stage ? html` aria-current="page"` : ''}>${s}</a>`);
  /** @type {Record<string, number>} */
  const counts = { pass: 0, warning: 0, fail: 0 };
  for (const r of rows) if (r.result in counts) counts[r.result]++;
  show(main, html`<h1>${service} <span class="small muted">quality in ${project}</span></h1>
    <nav class="tabs" aria-label="Stages">${tabs}</nav>
    <p class="legend">${rows.length} evaluation${rows.length === 1 ? '' : 's'}: ${SYMBOL.pass} ${counts.pass} pass · ${SYMBOL.warning} ${counts.warning} warning · ${SYMBOL.fail} ${counts.fail} fail.
      <span class="small">▼ selected · ◆ compared with · struck through: ignored for comparison · · info</span></p>
    <div class="heatmap-scroll" id="heatmap-box" tabindex="0" aria-label="evaluation heatmap"></div>
    <div id="details" class="details"></div>
    <h2>Values over time</h2>
    <div id="charts" class="charts"></div>`);
  const box = document.getElementById('heatmap-box');
  if (!box) return;
  if (!rows.length) {
    show(box, html`<p class="muted">No evaluations of ${service} in ${stage} yet.</p>`);
    return;
  }
  const ms = renderHeatmap(box, rows, selectedId);
  box.dataset.loadMs = (performance.now() - t0).toFixed(1);
  box.dataset.renderMs = ms.toFixed(1);
  box.scrollLeft = box.scrollWidth;
  const selectedCell = /** @type {HTMLElement | null} */ (box.querySelector('th.s'));
  if (selectedCell) box.scrollLeft = Math.max(0, selectedCell.offsetLeft - box.clientWidth / 2);
  /** @param {string} id */
  const select = (id) => {
    const q = new URLSearchParams(params);
    q.set('stage', stage);
    q.set('eval', id);
    location.hash = `#/project/${p}/service/${enc(service)}/quality?${q}`;
  };
  box.addEventListener('click', (ev) => {
    const target = /** @type {Element} */ (ev.target);
    const b = /** @type {HTMLElement | null} */ (target.closest('button[data-eval]'));
    if (b) { select(b.dataset.eval || ''); return; }
    const td = target.closest('td');
    if (td) select(rows[td.cellIndex - 1].id);
  });
  const details = document.getElementById('details');
  let explanation = null;
  if (selectedId) {
    try {
      explanation = await api.get(`/api/sluice/v1/evaluation/${enc(selectedId)}`);
      const baselinePath = `/api/sluice/v1/project/${p}/stage/${enc(stage)}/service/${enc(service)}/baseline`;
      const pins = await api.get(`/api/sluice/v1/project/${p}/baselines`);
      const pin0 = (pins.baselines || []).find((/** @type {any} */ b) => b.stage === stage && b.service === service);
      /** @type {string | null} */
      const baseline = pin0 ? pin0.evaluationId : null;
      const me = api.principal();
      const mayControl = can(me, 'control', project, stage);
      show(details, explanationHtml(explanation, { baseline, mayPin: mayControl, mayInvalidate: mayControl }));
      const pin = /** @type {HTMLButtonElement | null} */ (document.getElementById('pin-baseline'));
      if (pin) pin.addEventListener('click', async () => {
        pin.disabled = true;
        try {
          await api.send('PUT', baselinePath, { evaluationId: selectedId });
          await qualityView(main, project, service, params, { live: true });
        } catch (e) { append(details, errorBox(e)); pin.disabled = false; }
      });
      const inv = /** @type {HTMLButtonElement | null} */ (document.getElementById('invalidate'));
      if (inv) inv.addEventListener('click', async () => {
        inv.disabled = true;
        try {
          await api.post(`/api/sluice/v1/evaluation/${enc(selectedId)}/invalidate`, {});
          cache.key = '';
          await qualityView(main, project, service, params, { live: true });
        } catch (e) { append(details, errorBox(e)); inv.disabled = false; }
      });
    } catch (e) { show(details, errorBox(e)); }
  }
  const charts = document.getElementById('charts');
  if (charts) renderCharts(charts, rows, explanation, selectedId);
}
