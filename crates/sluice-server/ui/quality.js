// A service's quality view: the evaluation heatmap (rows: score and each SLI; columns:
// evaluations), charts of the values with thresholds, the explanation of the selected
// evaluation (as `sluice evaluate` prints it) and "ignore for comparison".

import * as api from './api.js';
import { esc, enc, badge, num, pct, time, errorBox, SYMBOL } from './dom.js';
import { renderHeatmap, renderCharts } from './heatmap.js';

const MAX_EVALUATIONS = 2000;
let cache = { key: '', rows: [] };

function explanationHtml(ev) {
  const x = ev.explanation;
  const rows = x.objectives.map((o) => {
    const mark = (t) => (t.evaluated === false ? '–' : t.held ? '✓' : '✗');
    const targetClass = (t) => (t.evaluated === false ? 'muted' : t.held ? 'held' : 'missed');
    const threshold = (t) => {
      if (t.threshold !== null) return `→ <code>${esc(t.criteria.replace(/[0-9.+%-]+$/, ''))}${num(t.threshold)}</code>`;
      return t.evaluated === false ? '<span class="small">(not checked)</span>' : '<span class="small">(no history: counted as met)</span>';
    };
    const targets = o.targets.map((t) => `<li class="${targetClass(t)}"${t.evaluated === false ? ' title="not checked: Keptn lists these criteria as violated without checking them"' : ''}>${mark(t)} ${esc(t.kind)} <code>${esc(t.criteria)}</code>
      ${threshold(t)}</li>`).join('');
    return `<tr data-sli="${esc(o.sli)}" class="${o.keySli ? 'key' : ''}">
      <th scope="row">${esc(o.name)}${o.keySli ? ' <span class="key-mark" title="key SLI: failing it fails the evaluation">★ key</span>' : ''}<div class="small">${esc(o.sli)}</div></th>
      <td>${badge(o.status)}</td>
      <td class="num">${o.value === null ? `<span class="small">${o.missing ? 'missing: ' : 'failed: '}${esc(o.valueError || 'no value')}</span>` : num(o.value)}</td>
      <td class="num">${o.comparedValue === null ? '–' : `${num(o.comparedValue)} <span class="small">(${o.history} earlier)</span>`}</td>
      <td><ul class="plain">${targets || '<li class="muted">informational</li>'}</ul></td>
      <td class="num">${o.maxPoints ? `${num(o.points)} / ${num(o.maxPoints)}` : '–'}</td></tr>`;
  }).join('');
  const bare = !rows && (ev.indicators || []).length
    ? ev.indicators.map((o) => `<tr data-sli="${esc(o.metric)}"><th scope="row">${esc(o.displayName || o.metric)}${o.keySli ? ' <span class="key-mark">★ key</span>' : ''}<div class="small">${esc(o.metric)}</div></th>
      <td>${badge(o.status)}</td><td class="num">${o.success ? num(o.value) : 'no value'}</td><td class="num">–</td>
      <td class="muted">the result carries no SLO: targets unknown</td><td class="num">${num(o.score)}</td></tr>`).join('')
    : '';
  const thresholds = [x.passThreshold && `pass ≥ ${esc(x.passThreshold)}`, x.warningThreshold && `warning ≥ ${esc(x.warningThreshold)}`].filter(Boolean).join(', ');
  return `<h2>Evaluation ${esc(ev.label)} <span class="small muted">${time(ev.time)}</span></h2>
    <p>${badge(x.result, `${x.result}`)} score <strong>${pct(x.score)}</strong> of 100
      (${num(x.points)} of ${num(x.maxPoints)} points)${thresholds ? `; ${thresholds}` : ''}.
      ${x.comparedEvaluations ? `Compared with ${x.comparedEvaluations} earlier evaluation${x.comparedEvaluations === 1 ? '' : 's'} (${esc(x.aggregateFunction)}).` : 'No earlier evaluation to compare with.'}
      ${ev.invalidated ? '<span class="badge r-none">⊘ ignored for comparison</span>' : ''}</p>
    <p class="message" id="eval-message">${esc(x.message || ev.message)}</p>
    <table class="list explanation" id="explanation"><thead><tr><th>Objective</th><th>Status</th><th>Value</th><th>Compared</th><th>Targets (threshold)</th><th>Points</th></tr></thead>
    <tbody>${rows || bare || '<tr><td colspan="6" class="muted">no SLO: nothing was evaluated</td></tr>'}</tbody></table>
    <p class="small">Window ${esc(ev.timeStart)} – ${esc(ev.timeEnd)} · context <a href="#/project/${enc(ev.project)}/sequence/${enc(ev.keptnContext)}"><code>${esc(ev.keptnContext)}</code></a></p>
    <div class="buttons">${ev.invalidated ? '' : '<button type="button" id="invalidate">⊘ Ignore for comparison</button>'}</div>`;
}

/** Renders the quality view of a service. */
export async function qualityView(main, project, service, params, { live } = {}) {
  const p = enc(project);
  const proj = await api.get(`/api/controlPlane/v1/project/${p}`);
  const stages = (proj.stages || []).map((s) => s.stageName);
  const stage = params.get('stage') || stages[0] || '';
  const key = `${project}/${stage}/${service}`;
  const t0 = performance.now();
  if (cache.key !== key || live) {
    const { items } = await api.allPagesByOffset(`/api/sluice/v1/project/${p}/stage/${enc(stage)}/service/${enc(service)}/evaluations`, {}, 'evaluations', 100, MAX_EVALUATIONS);
    cache = { key, rows: items.reverse() };
  }
  const rows = cache.rows;
  const selectedId = params.get('eval') || (rows.length ? rows[rows.length - 1].id : '');
  const tabs = stages.map((s) => `<a href="#/project/${p}/service/${enc(service)}/quality?stage=${enc(s)}" class="tab${s === stage ? ' current' : ''}"${s === stage ? ' aria-current="page"' : ''}>${esc(s)}</a>`).join('');
  const counts = { pass: 0, warning: 0, fail: 0 };
  for (const r of rows) if (r.result in counts) counts[r.result]++;
  main.innerHTML = `<h1>${esc(service)} <span class="small muted">quality in ${esc(project)}</span></h1>
    <nav class="tabs" aria-label="Stages">${tabs}</nav>
    <p class="legend">${rows.length} evaluation${rows.length === 1 ? '' : 's'}: ${SYMBOL.pass} ${counts.pass} pass · ${SYMBOL.warning} ${counts.warning} warning · ${SYMBOL.fail} ${counts.fail} fail.
      <span class="small">▼ selected · ◆ compared with · struck through: ignored for comparison · · info</span></p>
    <div class="heatmap-scroll" id="heatmap-box" tabindex="0" aria-label="evaluation heatmap"></div>
    <div id="details" class="details"></div>
    <h2>Values over time</h2>
    <div id="charts" class="charts"></div>`;
  const box = document.getElementById('heatmap-box');
  if (!rows.length) {
    box.innerHTML = `<p class="muted">No evaluations of ${esc(service)} in ${esc(stage)} yet.</p>`;
    return;
  }
  const ms = renderHeatmap(box, rows, selectedId);
  box.dataset.loadMs = (performance.now() - t0).toFixed(1);
  box.dataset.renderMs = ms.toFixed(1);
  box.scrollLeft = box.scrollWidth;
  const selectedCell = box.querySelector('th.s');
  if (selectedCell) box.scrollLeft = Math.max(0, selectedCell.offsetLeft - box.clientWidth / 2);
  const select = (id) => {
    const q = new URLSearchParams(params);
    q.set('stage', stage);
    q.set('eval', id);
    location.hash = `#/project/${p}/service/${enc(service)}/quality?${q}`;
  };
  box.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-eval]');
    if (b) { select(b.dataset.eval); return; }
    const td = ev.target.closest('td');
    if (td) select(rows[td.cellIndex - 1].id);
  });
  const details = document.getElementById('details');
  let explanation = null;
  if (selectedId) {
    try {
      explanation = await api.get(`/api/sluice/v1/evaluation/${enc(selectedId)}`);
      details.innerHTML = explanationHtml(explanation);
      const inv = document.getElementById('invalidate');
      if (inv) inv.addEventListener('click', async () => {
        inv.disabled = true;
        try {
          await api.post(`/api/sluice/v1/evaluation/${enc(selectedId)}/invalidate`, {});
          cache.key = '';
          await qualityView(main, project, service, params, { live: true });
        } catch (e) { details.insertAdjacentHTML('beforeend', errorBox(e)); inv.disabled = false; }
      });
    } catch (e) { details.innerHTML = errorBox(e); }
  }
  renderCharts(document.getElementById('charts'), rows, explanation, selectedId);
}
