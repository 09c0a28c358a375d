// Sequences: the list (filter by service, stage, state, time; paged) and one sequence's
// timeline per stage: every task with who ran it, start, duration, result and message, its
// job output, the raw events on demand, and pause / resume / abort.

import * as api from './api.js';
import { esc, enc, badge, time, duration, version, errorBox, SYMBOL } from './dom.js';

const STATES = ['triggered', 'waiting', 'started', 'waitingForApproval', 'paused', 'finished', 'aborted', 'timedOut'];

function stateBadge(state) {
  const r = { finished: 'pass', succeeded: 'pass', aborted: 'fail', timedOut: 'fail', errored: 'fail', waitingForApproval: 'warning', paused: 'warning' }[state] || 'info';
  return `<span class="badge ${r === 'info' ? 'r-running' : 'r-' + r}">${state === 'started' || state === 'triggered' ? '▶' : SYMBOL[r]} ${esc(state)}</span>`;
}

/** The sequence list. */
export async function sequencesView(main, project, params) {
  const p = enc(project);
  const f = { service: params.get('service') || '', stage: params.get('stage') || '', state: params.get('state') || '', from: params.get('from') || '' };
  const pageKey = params.get('page') || '';
  const proj = await api.get(`/api/controlPlane/v1/project/${p}`);
  const stages = (proj.stages || []).map((s) => s.stageName);
  const services = [...new Set((proj.stages || []).flatMap((s) => (s.services || []).map((x) => x.serviceName)))];
  const fromTime = f.from ? new Date(Date.now() - Number(f.from) * 3600e3).toISOString() : '';
  const page = await api.get(`/api/controlPlane/v1/sequence/${p}`, { pageSize: 25, nextPageKey: pageKey, state: f.state, fromTime });
  const rows = (page.states || []).filter((s) => (!f.service || s.service === f.service) && (!f.stage || (s.stages || []).some((x) => x.name === f.stage)));
  const option = (v, cur, label) => `<option value="${esc(v)}"${v === cur ? ' selected' : ''}>${esc(label ?? v)}</option>`;
  const table = rows.map((s) => {
    const st = (s.stages || []).map((x) => `<span class="stage-chip">${esc(x.name)} ${x.image ? `<code>${esc(version(x.image))}</code>` : ''} ${x.latestEvaluation ? badge(x.latestEvaluation.result, Math.round(x.latestEvaluation.score)) : ''}</span>`).join(' → ');
    return `<tr><td><a href="#/project/${p}/sequence/${enc(s.shkeptncontext)}">${esc(s.name)}</a>${s.problemTitle ? `<div class="small">${esc(s.problemTitle)}</div>` : ''}</td>
      <td>${esc(s.service)}</td><td>${stateBadge(s.state)}</td><td>${st}</td><td class="nowrap">${time(s.time)}</td></tr>`;
  }).join('');
  const base = (extra) => {
    const q = new URLSearchParams({ ...f, ...extra });
    for (const [k, v] of [...q]) if (!v) q.delete(k);
    return `#/project/${p}/sequences?${q}`;
  };
  main.innerHTML = `<h1>${esc(project)} <span class="small muted">sequences</span></h1>
    <form id="filters" class="filters">
      <label>Service <select name="service">${option('', f.service, 'all')}${services.map((s) => option(s, f.service)).join('')}</select></label>
      <label>Stage <select name="stage">${option('', f.stage, 'all')}${stages.map((s) => option(s, f.stage)).join('')}</select></label>
      <label>State <select name="state">${option('', f.state, 'all')}${STATES.map((s) => option(s, f.state)).join('')}</select></label>
      <label>Time <select name="from">${option('', f.from, 'any time')}${[['1', 'last hour'], ['24', 'last day'], ['168', 'last week']].map(([v, l]) => option(v, f.from, l)).join('')}</select></label>
      <button type="submit">Filter</button>
    </form>
    <table class="list"><thead><tr><th>Sequence</th><th>Service</th><th>State</th><th>Stages</th><th>Triggered</th></tr></thead>
    <tbody>${table || '<tr><td colspan="5" class="muted">no sequences</td></tr>'}</tbody></table>
    <p class="pager">${pageKey ? `<a href="${esc(base({ page: '' }))}">« newest</a>` : ''}
      ${page.nextPageKey ? `<a href="${esc(base({ page: page.nextPageKey }))}">older »</a>` : ''}
      <span class="muted">${page.totalCount ?? ''} in all</span></p>`;
  document.getElementById('filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(ev.target));
    const q = new URLSearchParams(data);
    for (const [k, v] of [...q]) if (!v) q.delete(k);
    location.hash = `#/project/${p}/sequences?${q}`;
  });
}

/** Groups a context's events into stages and tasks. */
export function timeline(events) {
  const stages = new Map();
  const byId = new Map(events.map((e) => [e.id, e]));
  for (const e of events) {
    const m = /^sh\.keptn\.event\.(.+)\.(triggered|started|finished|invalidated|status\.changed)$/.exec(e.type || '');
    if (!m) continue;
    const parts = m[1].split('.');
    const d = e.data || {};
    const stage = d.stage || '';
    if (!stages.has(stage)) stages.set(stage, { name: stage, tasks: new Map(), sequence: null });
    const st = stages.get(stage);
    if (parts.length === 2) { // <stage>.<sequence>.<phase>
      st.sequence = st.sequence || { name: parts[1] };
      st.sequence[m[2]] = e;
      continue;
    }
    const task = parts[0];
    const key = m[2] === 'triggered' ? e.id : (e.triggeredid || e.id);
    if (!st.tasks.has(key)) st.tasks.set(key, { name: task, triggered: null, started: [], finished: [], events: [] });
    const t = st.tasks.get(key);
    t.events.push(e);
    if (m[2] === 'triggered') t.triggered = e;
    else if (m[2] === 'started') t.started.push(e);
    else if (m[2] === 'finished') t.finished.push(e);
    if (!t.triggered && e.triggeredid && byId.has(e.triggeredid)) t.triggered = byId.get(e.triggeredid);
  }
  return [...stages.values()].filter((s) => s.name);
}

/** One sequence's timeline. */
export async function sequenceView(main, project, context) {
  const p = enc(project);
  const [state, events, logs] = await Promise.all([
    api.get(`/api/controlPlane/v1/sequence/${p}`, { keptnContext: context }),
    api.allPages('/api/mongodb-datastore/event', { keptnContext: context }, 'events', 100, 5000),
    api.get('/api/sluice/v1/logs', { keptnContext: context }).catch(() => ({ runs: [] })),
  ]);
  const seq = (state.states || [])[0];
  const ordered = [...events.items].sort((a, b) => new Date(a.time) - new Date(b.time));
  const runs = new Map();
  for (const r of logs.runs || []) {
    if (!runs.has(r.triggeredId)) runs.set(r.triggeredId, []);
    runs.get(r.triggeredId).push(r);
  }
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
        `<details class="output"><summary>job output: ${esc(r.taskName || r.action)} (exit ${esc(r.exitCode ?? '–')}, ${esc(r.status)})</summary><pre>${esc(r.output || '')}</pre>${r.reason ? `<p>${esc(r.reason)}</p>` : ''}</details>`).join('');
      let status;
      if (fin) status = badge(result === 'fail' || d.status === 'errored' ? 'fail' : result, `${result}${d.status && d.status !== 'succeeded' ? ' (' + d.status + ')' : ''}`);
      else if (t.name === 'approval' && t.triggered) status = '<span class="badge r-warning">‖ waiting for approval</span>';
      else if (t.started.length) status = '<span class="badge r-running">▶ running</span>';
      else status = '<span class="badge r-running">… triggered</span>';
      return `<li class="task" data-task="${esc(t.name)}">
        <div class="task-head"><strong>${esc(t.name)}</strong> ${status}</div>
        <div class="small">${who ? `by ${esc(who)} · ` : ''}${first ? `started ${time(first.time)}` : ''}${fin && first ? ` · took ${duration(first.time, fin.time)}` : ''}</div>
        ${d.message ? `<p class="message">${esc(d.message)}</p>` : ''}
        ${output}
        <details class="raw" data-raw="${esc(rawKey)}"><summary>raw events (${t.events.length})</summary><pre></pre></details>
      </li>`;
    }).join('');
    const head = seqFinished ? badge((seqFinished.data || {}).result || 'pass', `${esc(st.sequence.name)} ${(seqFinished.data || {}).result || ''}`) : (st.sequence ? `<span class="badge r-running">▶ ${esc(st.sequence.name)}</span>` : '');
    return `<section class="timeline-stage" data-stage="${esc(st.name)}"><h2>${esc(st.name)} ${head}</h2><ol class="tasks">${tasks}</ol></section>`;
  }).join('');
  const open = seq && ['triggered', 'waiting', 'started', 'waitingForApproval', 'paused'].includes(seq.state);
  main.innerHTML = `<h1>${esc(seq ? seq.name : 'sequence')} <span class="small muted">${esc(seq ? seq.service : '')}</span></h1>
    <p>Context <code>${esc(context)}</code> · ${seq ? stateBadge(seq.state) : ''} ${seq ? `· triggered ${time(seq.time)}` : ''}</p>
    ${seq && seq.problemTitle ? `<p>Problem: ${esc(seq.problemTitle)}</p>` : ''}
    <div class="buttons" id="controls">
      <button type="button" data-control="pause" ${open && seq.state !== 'paused' ? '' : 'disabled'}>‖ Pause</button>
      <button type="button" data-control="resume" ${open && seq.state === 'paused' ? '' : 'disabled'}>▶ Resume</button>
      <button type="button" data-control="abort" class="decline" ${open ? '' : 'disabled'}>■ Abort</button>
    </div>
    <div id="message"></div>
    <div class="timeline">${stages || '<p class="muted">no events yet</p>'}</div>`;
  main.querySelectorAll('details.raw').forEach((det) => det.addEventListener('toggle', () => {
    const pre = det.querySelector('pre');
    if (det.open && !pre.textContent) pre.textContent = JSON.stringify(rawEvents.get(det.dataset.raw), null, 2);
  }));
  main.querySelectorAll('button[data-control]').forEach((b) => b.addEventListener('click', async () => {
    try {
      await api.post(`/api/controlPlane/v1/sequence/${p}/${enc(context)}/control`, { state: b.dataset.control, stage: '' });
      document.getElementById('message').innerHTML = `<p class="ok" role="status">${esc(b.dataset.control)} sent</p>`;
    } catch (e) { document.getElementById('message').innerHTML = errorBox(e); }
  }));
}
