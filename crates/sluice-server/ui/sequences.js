// @ts-check
// Sequences: the list (filter by service, stage, state, time; paged) and one sequence's
// timeline per stage: every task with who ran it, start, duration, result and message, its
// job output, the raw events on demand, and pause / resume / abort.

import * as api from './api.js';
import { can } from './access.js';
import { html, join, show, enc, badge, time, duration, version, errorBox, SYMBOL } from './dom.js';

const STATES = ['triggered', 'waiting', 'started', 'waitingForApproval', 'paused', 'finished', 'aborted', 'timedOut'];

/** The result shown for each sequence state (others are running). */
const STATE_RESULT = /** @type {Record<string, string>} */ ({ finished: 'pass', succeeded: 'pass', aborted: 'fail', timedOut: 'fail', errored: 'fail', waitingForApproval: 'warning', paused: 'warning' });

/**
 * The result of a sequence (an entry of Keptn's sequence state list) as Keptn's Bridge showed
 * it: `fail` when a stage failed (a failed event, an errored stage, a failed evaluation) or the
 * sequence was aborted or timed out; `warning` when an evaluation gave a warning; `pass`
 * otherwise; `''` while it runs.
 * @param {any} seq
 */
export function sequenceResult(seq) {
  /** @type {any[]} */
  const stages = seq.stages || [];
  const failed = stages.some((s) => s.latestFailedEvent || s.state === 'errored' || (s.latestEvaluation && s.latestEvaluation.result === 'fail'));
  const done = ['finished', 'aborted', 'timedOut'].includes(seq.state);
  if (failed || seq.state === 'aborted' || seq.state === 'timedOut') return 'fail';
  if (!done) return '';
  if (stages.some((s) => s.latestEvaluation && s.latestEvaluation.result === 'warning')) return 'warning';
  return 'pass';
}

/**
 * A sequence state's badge; given the sequence, a finished one shows its result (`✗ failed`,
 * `! finished with warning`, `✓ succeeded`), not only that it finished.
 * @param {string} state
 * @param {any} [seq]
 */
export function stateBadge(state, seq) {
  if (seq && state === 'finished') {
    const r = sequenceResult(seq) || 'pass';
    const label = r === 'fail' ? 'failed' : r === 'warning' ? 'finished with warning' : 'succeeded';
    return html`<span class="badge r-${r}">${SYMBOL[r]} ${label}</span>`;
  }
  const r = STATE_RESULT[state] || 'info';
  return html`<span class="badge ${r === 'info' ? 'r-running' : 'r-' + r}">${state === 'started' || state === 'triggered' ? '▶' : SYMBOL[r]} ${state}</span>`;
}

/**
 * The sequence list.
 * @param {HTMLElement} main
 * @param {string} project
 * @param {URLSearchParams} params
 */
export async function sequencesView(main, project, params) {
  const p = enc(project);
  const f = { service: params.get('service') || '', stage: params.get('stage') || '', state: params.get('state') || '', from: params.get('from') || '' };
  const pageKey = params.get('page') || '';
  const proj = await api.get(`/api/controlPlane/v1/project/${p}`);
  /** @type {string[]} */
  const stages = (proj.stages || []).map((/** @type {any} */ s) => s.stageName);
  /** @type {string[]} */
  const services = [...new Set((proj.stages || []).flatMap((/** @type {any} */ s) => (s.services || []).map((/** @type {any} */ x) => x.serviceName)))];
  const fromTime = f.from ? new Date(Date.now() - Number(f.from) * 3600e3).toISOString() : '';
  const page = await api.get(`/api/controlPlane/v1/sequence/${p}`, { pageSize: 25, nextPageKey: pageKey, state: f.state, fromTime });
  /** @type {any[]} */
  const rows = (page.states || []).filter((/** @type {any} */ s) => (!f.service || s.service === f.service) && (!f.stage || (s.stages || []).some((/** @type {any} */ x) => x.name === f.stage)));
  /** @type {(v: string, cur: string, label?: string) => import('./dom.js').Html} */
  const option = (v, cur, label) => html`<option value="${v}"${v === cur ? ' selected' : ''}>${label ?? v}</option>`;
  const table = rows.map((s) => {
    const st = join((s.stages || []).map((/** @type {any} */ x) => html`<span class="stage-chip">${x.name} ${x.image ? html`<code>${version(x.image)}</code>` : ''} ${x.latestEvaluation ? badge(x.latestEvaluation.result, Math.round(x.latestEvaluation.score)) : ''}</span>`), ' → ');
    return html`<tr><td><a href="#/project/${p}/sequence/${enc(s.shkeptncontext)}">${s.name}</a>${s.problemTitle ? html`<div class="small">${s.problemTitle}</div>` : ''}</td>
      <td>${s.service}</td><td>${stateBadge(s.state, s)}</td><td>${st}</td><td class="nowrap">${time(s.time)}</td></tr>`;
  });
  /** @param {Record<string, string>} extra */
  const base = (extra) => {
    const q = new URLSearchParams({ ...f, ...extra });
    for (const [k, v] of [...q]) if (!v) q.delete(k);
    return `#/project/${p}/sequences?${q}`;
  };
  show(main, html`<h1>${project} <span class="small muted">sequences</span></h1>
    <form id="filters" class="filters">
      <label>Service <select name="service">${option('', f.service, 'all')}${services.map((s) => option(s, f.service))}</select></label>
      <label>Stage <select name="stage">${option('', f.stage, 'all')}${stages.map((s) => option(s, f.stage))}</select></label>
      <label>State <select name="state">${option('', f.state, 'all')}${STATES.map((s) => option(s, f.state))}</select></label>
      <label>Time <select name="from">${option('', f.from, 'any time')}${[['1', 'last hour'], ['24', 'last day'], ['168', 'last week']].map(([v, l]) => option(v, f.from, l))}</select></label>
      <button type="submit">Filter</button>
    </form>
    <table class="list"><thead><tr><th>Sequence</th><th>Service</th><th>State</th><th>Stages</th><th>Triggered</th></tr></thead>
    <tbody>${table.length ? table : html`<tr><td colspan="5" class="muted">no sequences</td></tr>`}</tbody></table>
    <p class="pager">${pageKey ? html`<a href="${base({ page: '' })}">« newest</a>` : ''}
      ${page.nextPageKey ? html`<a href="${base({ page: page.nextPageKey })}">older »</a>` : ''}
      <span class="muted">${page.totalCount ?? ''} in all</span></p>`);
  document.getElementById('filters')?.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = /** @type {HTMLFormElement} */ (ev.target);
    const data = /** @type {Record<string, string>} */ (Object.fromEntries(new FormData(form)));
    const q = new URLSearchParams(data);
    for (const [k, v] of [...q]) if (!v) q.delete(k);
    location.hash = `#/project/${p}/sequences?${q}`;
  });
}

/**
 * @typedef {{ name: string, triggered: any, started: any[], finished: any[], events: any[] }} Task
 * @typedef {{ name: string, tasks: Map<string, Task>, sequence: any }} Stage
 */

/**
 * Groups a context's events (oldest first) into stages and their tasks.
 * @param {any[]} events
 * @returns {Stage[]}
 */
export function timeline(events) {
  /** @type {Map<string, Stage>} */
  const stages = new Map();
  const byId = new Map(events.map((e) => [e.id, e]));
  for (const e of events) {
    const m = /^sh\.keptn\.event\.(.+)\.(triggered|started|finished|invalidated|status\.changed)$/.exec(e.type || '');
    if (!m) continue;
    const parts = m[1].split('.');
    const d = e.data || {};
    const stage = d.stage || '';
    let st = stages.get(stage);
    if (!st) { st = { name: stage, tasks: new Map(), sequence: null }; stages.set(stage, st); }
    if (parts.length === 2) { // <stage>.<sequence>.<phase>
      st.sequence = st.sequence || { name: parts[1] };
      st.sequence[m[2]] = e;
      continue;
    }
    const task = parts[0];
    const key = m[2] === 'triggered' ? e.id : (e.triggeredid || e.id);
    let t = st.tasks.get(key);
    if (!t) { t = { name: task, triggered: null, started: [], finished: [], events: [] }; st.tasks.set(key, t); }
    t.events.push(e);
    if (m[2] === 'triggered') t.triggered = e;
    else if (m[2] === 'started') t.started.push(e);
    else if (m[2] === 'finished') t.finished.push(e);
    if (!t.triggered && e.triggeredid && byId.has(e.triggeredid)) t.triggered = byId.get(e.triggeredid);
  }
  return [...stages.values()].filter((s) => s.name);
}

/**
 * One sequence's timeline.
 * @param {HTMLElement} main
 * @param {string} project
 * @param {string} context
 */
export async function sequenceView(main, project, context) {
  const p = enc(project);
  const [state, events, logs] = await Promise.all([
    api.get(`/api/controlPlane/v1/sequence/${p}`, { keptnContext: context }),
    api.allPages('/api/mongodb-datastore/event', { project, keptnContext: context }, 'events', 100, 5000),
    api.get('/api/sluice/v1/logs', { keptnContext: context }).catch(() => ({ runs: [] })),
  ]);
  const seq = (state.states || [])[0];
  const ordered = [...events.items].sort((a, b) => new Date(a.time).getTime() - new Date(b.time).getTime());
  /** @type {Map<string, any[]>} */
  const runs = new Map();
  for (const r of logs.runs || []) {
    const list = runs.get(r.triggeredId);
    if (list) list.push(r);
    else runs.set(r.triggeredId, [r]);
  }
  /** @type {Map<string, any[]>} */
  const rawEvents = new Map();
  const stages = timeline(ordered).map((st) => {
    const seqFinished = st.sequence && st.sequence.finished;
    const tasks = [...st.tasks.values()].map((t, i) => {
      const fin = t.finished[t.finished.length - 1];
      const first = t.started[0] || t.triggered;
      const d = (fin && fin.data) || {};
      const who = [...new Set([...t.started, ...t.finished].map((e) => e.source))].join(', ');
      const result = fin ? (d.result || 'pass') : '';
      const rawKey = `${st.name}-${i}`;
      rawEvents.set(rawKey, t.events);
      const output = (runs.get(t.triggered && t.triggered.id) || []).map((r) =>
        html`<details class="output"><summary>job output: ${r.taskName || r.action} (exit ${r.exitCode ?? '–'}, ${r.status})</summary><pre>${r.output || ''}</pre>${r.reason ? html`<p>${r.reason}</p>` : ''}</details>`);
      let status;
      if (fin) status = badge(result === 'fail' || d.status === 'errored' ? 'fail' : result, `${result}${d.status && d.status !== 'succeeded' ? ' (' + d.status + ')' : ''}`);
      else if (t.name === 'approval' && t.triggered) status = html`<span class="badge r-warning">‖ waiting for approval</span>`;
      else if (t.started.length) status = html`<span class="badge r-running">▶ running</span>`;
      else status = html`<span class="badge r-running">… triggered</span>`;
      return html`<li class="task" data-task="${t.name}">
        <div class="task-head"><strong>${t.name}</strong> ${status}</div>
        <div class="small">${who ? `by ${who} · ` : ''}${first ? `started ${time(first.time)}` : ''}${fin && first ? ` · took ${duration(first.time, fin.time)}` : ''}</div>
        ${d.message ? html`<p class="message">${d.message}</p>` : ''}
        ${output}
        <details class="raw" data-raw="${rawKey}"><summary>raw events (${t.events.length})</summary><pre></pre></details>
      </li>`;
    });
    const head = seqFinished ? badge((seqFinished.data || {}).result || 'pass', `${st.sequence.name} ${(seqFinished.data || {}).result || ''}`) : (st.sequence ? html`<span class="badge r-running">▶ ${st.sequence.name}</span>` : '');
    return html`<section class="timeline-stage" data-stage="${st.name}"><h2>${st.name} ${head}</h2><ol class="tasks">${tasks}</ol></section>`;
  });
  const open = seq && ['triggered', 'waiting', 'started', 'waitingForApproval', 'paused'].includes(seq.state);
  // Pause, resume and abort act on every stage: only for a token that may control them all.
  const mayControl = can(api.principal(), 'control', project);
  show(main, html`<h1>${seq ? seq.name : 'sequence'} <span class="small muted">${seq ? seq.service : ''}</span></h1>
    <p>Context <code>${context}</code> · ${seq ? stateBadge(seq.state, seq) : ''} ${seq ? `· triggered ${time(seq.time)}` : ''}</p>
    ${seq && seq.problemTitle ? html`<p>Problem: ${seq.problemTitle}</p>` : ''}
    ${mayControl ? html`<div class="buttons" id="controls">
      <button type="button" data-control="pause" ${open && seq.state !== 'paused' ? '' : 'disabled'}>‖ Pause</button>
      <button type="button" data-control="resume" ${open && seq.state === 'paused' ? '' : 'disabled'}>▶ Resume</button>
      <button type="button" data-control="abort" class="decline" ${open ? '' : 'disabled'}>■ Abort</button>
    </div>` : ''}
    <div id="message"></div>
    <div class="timeline">${stages.length ? stages : html`<p class="muted">no events yet</p>`}</div>`);
  const message = document.getElementById('message');
  main.querySelectorAll('details.raw').forEach((element) => element.addEventListener('toggle', () => {
    const det = /** @type {HTMLDetailsElement} */ (element);
    const pre = det.querySelector('pre');
    if (pre && det.open && !pre.textContent) pre.textContent = JSON.stringify(rawEvents.get(det.dataset.raw || ''), null, 2);
  }));
  main.querySelectorAll('button[data-control]').forEach((element) => element.addEventListener('click', async () => {
    const control = /** @type {HTMLElement} */ (element).dataset.control;
    try {
      await api.post(`/api/controlPlane/v1/sequence/${p}/${enc(context)}/control`, { state: control, stage: '' });
      show(message, html`<p class="ok" role="status">${control} sent</p>`);
    } catch (e) { show(message, errorBox(e)); }
  }));
}
