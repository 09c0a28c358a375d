// A project's environment: stages as columns in shipyard order with promotion arrows; per
// stage each service's running version and latest evaluation, running and queued sequences,
// open approvals (Approve / Decline) and open remediations.

import * as api from './api.js';
import { esc, enc, badge, pct, time, version, errorBox } from './dom.js';

const OPEN_STATES = ['triggered', 'waiting', 'started', 'waitingForApproval', 'paused'];
const APPROVALS = '/api/controlPlane/v1/event/triggered/sh.keptn.event.approval.triggered';

function approvalFinished(a, approve) {
  const d = a.data || {};
  return {
    specversion: '1.0',
    id: api.uuid(),
    source: 'https://github.com/keptn/keptn/bridge',
    type: 'sh.keptn.event.approval.finished',
    datacontenttype: 'application/json',
    shkeptncontext: a.shkeptncontext,
    triggeredid: a.id,
    data: {
      project: d.project, stage: d.stage, service: d.service, labels: d.labels || {},
      status: 'succeeded', result: approve ? 'pass' : 'fail',
    },
  };
}

function approvalVersion(a) {
  const d = a.data || {};
  const image = d.configurationChange && d.configurationChange.values && d.configurationChange.values.image;
  return image || (d.labels && (d.labels.version || d.labels.image)) || '';
}

/** Renders the environment screen of one project. */
export async function environmentView(main, project) {
  const p = enc(project);
  const [proj, approvals, ...byState] = await Promise.all([
    api.get(`/api/controlPlane/v1/project/${p}`),
    api.get(APPROVALS, { project }),
    // Only the open sequences, each state its own (paged) list.
    ...OPEN_STATES.map((state) => api.get(`/api/controlPlane/v1/sequence/${p}`, { pageSize: 50, state })),
  ]);
  const stages = proj.stages || [];
  const cells = [];
  for (const s of stages) for (const svc of s.services || []) cells.push([s.stageName, svc.serviceName]);
  const latest = new Map(await Promise.all(cells.map(async ([stage, service]) => {
    try {
      const page = await api.get(`/api/sluice/v1/project/${p}/stage/${enc(stage)}/service/${enc(service)}/evaluations`, { pageSize: 1 });
      return [`${stage}/${service}`, (page.evaluations || [])[0] || null];
    } catch { return [`${stage}/${service}`, null]; }
  })));
  const open = byState.flatMap((page) => page.states || []);
  const openApprovals = approvals.events || [];

  const columns = stages.map((s, i) => {
    const stage = s.stageName;
    const services = (s.services || []).map((svc) => {
      const ev = latest.get(`${stage}/${svc.serviceName}`);
      const v = version(svc.deployedImage);
      const evaluation = ev
        ? `<a class="eval" href="#/project/${p}/service/${enc(svc.serviceName)}/quality?stage=${enc(stage)}&eval=${enc(ev.id)}"
             aria-label="latest evaluation: score ${pct(ev.score)}, ${esc(ev.result)}">${badge(ev.result, `${pct(ev.score)} ${ev.result}`)}</a>`
        : '<span class="muted">no evaluation</span>';
      return `<li class="service" data-service="${esc(svc.serviceName)}">
        <div class="service-head"><strong>${esc(svc.serviceName)}</strong>
          <a class="small" href="#/project/${p}/service/${enc(svc.serviceName)}/quality?stage=${enc(stage)}">quality</a></div>
        <div class="version" title="${esc(svc.deployedImage || '')}">${v ? `<span class="label">running</span> <code class="ver">${esc(v)}</code>` : '<span class="muted">not deployed</span>'}</div>
        <div>${evaluation}</div>
      </li>`;
    }).join('');
    const running = open.filter((q) => {
      const st = (q.stages || []);
      const last = st[st.length - 1];
      return last && last.name === stage;
    }).map((q) => {
      const remediation = q.name === 'remediation';
      return `<li class="seq ${remediation ? 'remediation' : ''}">
        <a href="#/project/${p}/sequence/${enc(q.shkeptncontext)}">${remediation ? '⚠ remediation' : '▶ ' + esc(q.name)}</a>
        <span class="small">${esc(q.service)} · <span class="state">${esc(q.state)}</span>${q.problemTitle ? ` · ${esc(q.problemTitle)}` : ''}</span>
      </li>`;
    }).join('');
    const waiting = openApprovals.filter((a) => (a.data || {}).stage === stage).map((a) => {
      const d = a.data || {};
      const v = approvalVersion(a);
      return `<li class="approval" data-id="${esc(a.id)}">
        <div><strong>Approval</strong>: ${esc(d.service)} ${v ? `<code>${esc(version(v))}</code>` : ''}
          <span class="small">since ${time(a.time)}</span></div>
        <div class="small">waiting for approval · <a href="#/project/${p}/sequence/${enc(a.shkeptncontext)}">sequence</a></div>
        <div class="buttons">
          <button type="button" class="approve" data-approve="${esc(a.id)}">✓ Approve</button>
          <button type="button" class="decline" data-decline="${esc(a.id)}">✗ Decline</button>
        </div>
      </li>`;
    }).join('');
    const parents = s.parentStages || [];
    const arrow = i > 0 ? `<div class="promotion" aria-label="promotion from ${esc(parents.join(', ') || stages[i - 1].stageName)}">→</div>` : '';
    return `${arrow}<section class="stage" data-stage="${esc(stage)}" aria-labelledby="st-${i}">
      <h2 id="st-${i}">${esc(stage)}</h2>
      <ul class="services">${services || '<li class="muted">no services</li>'}</ul>
      ${waiting ? `<h3>Open approvals</h3><ul class="approvals">${waiting}</ul>` : ''}
      ${running ? `<h3>Running and queued</h3><ul class="seqs">${running}</ul>` : ''}
    </section>`;
  }).join('');

  main.innerHTML = `<h1>${esc(project)} <span class="small muted">environment</span></h1>
    <p><a href="#/project/${p}/sequences">All sequences</a></p>
    <div id="message"></div>
    <div class="stages-row">${columns || '<p class="muted">no stages</p>'}</div>`;

  main.querySelectorAll('button[data-approve], button[data-decline]').forEach((b) => {
    b.addEventListener('click', async () => {
      const approve = b.hasAttribute('data-approve');
      const id = b.getAttribute(approve ? 'data-approve' : 'data-decline');
      const a = openApprovals.find((x) => x.id === id);
      b.disabled = true;
      try {
        await api.sendEvent(approvalFinished(a, approve));
        document.getElementById('message').innerHTML = `<p class="ok" role="status">${approve ? '✓ Approved' : '✗ Declined'} ${esc((a.data || {}).service)} in ${esc((a.data || {}).stage)}</p>`;
        b.closest('li').classList.add('answered');
      } catch (e) {
        document.getElementById('message').innerHTML = errorBox(e);
        b.disabled = false;
      }
    });
  });
}
