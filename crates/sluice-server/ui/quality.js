// @ts-check
// A service's quality view: the evaluation heatmap (rows: score and each SLI; columns:
// evaluations), charts of the values with thresholds, the explanation of the selected
// evaluation (as `sluice evaluate` prints it) and "ignore for comparison".

import * as api from './api.js';
import { html, show, append, enc, badge, num, pct, time, errorBox, SYMBOL } from './dom.js';
import { renderHeatmap, renderCharts } from './heatmap.js';

const MAX_EVALUATIONS = 2000;
/** @type {{ key: string, rows: any[] }} */
let cache = { key: '', rows: [] };

/**
 * An evaluation's explanation (as `sluice evaluate` prints it): each objective with its
 * value, compared value, targets and points.
 * @param {any} ev  `GET /api/sluice/v1/evaluation/{id}`
 */
export function explanationHtml(ev) {
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
      <td><ul class="plain">${targets.length ? targets : html`<li class="muted">informational</li>`}</ul></td>
      <td class="num">${o.maxPoints ? `${num(o.points)} / ${num(o.maxPoints)}` : '–'}</td></tr>`;
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
      ${ev.invalidated ? html`<span class="badge r-none">⊘ ignored for comparison</span>` : ''}</p>
    <p class="message" id="eval-message">${x.message || ev.message}</p>
    <table class="list explanation" id="explanation"><thead><tr><th>Objective</th><th>Status</th><th>Value</th><th>Compared</th><th>Targets (threshold)</th><th>Points</th></tr></thead>
    <tbody>${body}</tbody></table>
    <p class="small">Window ${ev.timeStart} – ${ev.timeEnd} · context <a href="#/project/${enc(ev.project)}/sequence/${enc(ev.keptnContext)}"><code>${ev.keptnContext}</code></a></p>
    <div class="buttons">${ev.invalidated ? '' : html`<button type="button" id="invalidate">⊘ Ignore for comparison</button>`}</div>`;
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
      show(details, explanationHtml(explanation));
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
