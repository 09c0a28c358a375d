// @ts-check
// A project's environment: stages as columns in shipyard order with promotion arrows; per
// stage each service's running version and latest evaluation, running and queued sequences,
// open approvals (Approve / Decline) and open remediations.

import * as api from './api.js';
import { can } from './access.js';
import { html, show, enc, badge, pct, time, version, errorBox } from './dom.js';

const OPEN_STATES = ['triggered', 'waiting', 'started', 'waitingForApproval', 'paused'];
const APPROVALS = '/api/controlPlane/v1/event/triggered/sh.keptn.event.approval.triggered';

/**
 * The `approval.finished` event that answers an open `approval.triggered` event, as Keptn's
 * bridge sent it.
 * @param {any} a  the `approval.triggered` event
 * @param {boolean} approve
 */
export function approvalFinished(a, approve) {
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

/**
 * The version an approval is about: the image of its configuration change, else its labels'.
 * @param {any} a  the `approval.triggered` event
 * @returns {string}
 */
export function approvalVersion(a) {
  const d = a.data || {};
  const image = d.configurationChange && d.configurationChange.values && d.configurationChange.values.image;
  return image || (d.labels && (d.labels.version || d.labels.image)) || '';
}

/**
 * Renders the environment screen of one project.
 * @param {HTMLElement} main
 * @param {string} project
 */
export async function environmentView(main, project) {
  const p = enc(project);
  const [proj, approvals, ...byState] = await Promise.all([
    api.get(`/api/controlPlane/v1/project/${p}`),
    api.get(APPROVALS, { project }),
    // Only the open sequences, each state its own (paged) list.
    ...OPEN_STATES.map((state) => api.get(`/api/controlPlane/v1/sequence/${p}`, { pageSize: 50, state })),
  ]);
  /** @type {any[]} */
  const stages = proj.stages || [];
  /** @type {[string, string][]} */
  const cells = [];
  for (const s of stages) for (const svc of s.services || []) cells.push([s.stageName, svc.serviceName]);
  const latest = new Map(await Promise.all(cells.map(async ([stage, service]) => {
    try {
      const page = await api.get(`/api/sluice/v1/project/${p}/stage/${enc(stage)}/service/${enc(service)}/evaluations`, { pageSize: 1 });
      return /** @type {[string, any]} */ ([`${stage}/${service}`, (page.evaluations || [])[0] || null]);
    } catch { return /** @type {[string, any]} */ ([`${stage}/${service}`, null]); }
  })));
  /** @type {any[]} */
  const open = byState.flatMap((page) => page.states || []);
  /** @type {any[]} */
  const openApprovals = approvals.events || [];

  const columns = stages.map((s, i) => {
    const stage = s.stageName;
    const services = (s.services || []).map((/** @type {any} */ svc) => {
      const ev = latest.get(`${stage}/${svc.serviceName}`);
      const v = version(svc.deployedImage);
      const evaluation = ev
        ? html`<a class="eval" href="#/project/${p}/service/${enc(svc.serviceName)}/quality?stage=${enc(stage)}&eval=${enc(ev.id)}"
             aria-label="latest evaluation: score ${pct(ev.score)}, ${ev.result}">${badge(ev.result, `${pct(ev.score)} ${ev.result}`)}</a>`
        : html`<span class="muted">no evaluation</span>`;
      return html`<li class="service" data-service="${svc.serviceName}">
        <div class="service-head"><strong>${svc.serviceName}</strong>
          <a class="small" href="#/project/${p}/service/${enc(svc.serviceName)}/quality?stage=${enc(stage)}">quality</a></div>
        <div class="version" title="${svc.deployedImage || ''}">${v ? html`<span class="label">running</span> <code class="ver">${v}</code>` : html`<span class="muted">not deployed</span>`}</div>
        <div>${evaluation}</div>
      </li>`;
    });
    const running = open.filter((q) => {
      const st = (q.stages || []);
      const last = st[st.length - 1];
      return last && last.name === stage;
    }).map((q) => {
      const remediation = q.name === 'remediation';
      return html`<li class="seq ${remediation ? 'remediation' : ''}">
        <a href="#/project/${p}/sequence/${enc(q.shkeptncontext)}">${remediation ? '⚠ remediation' : '▶ ' + q.name}</a>
        <span class="small">${q.service} · <span class="state">${q.state}</span>${q.problemTitle ? ` · ${q.problemTitle}` : ''}</span>
      </li>`;
    });
    // Approve and Decline only for a token that may approve in this stage.
    const mayApprove = can(api.principal(), 'approve', project, stage);
    const waiting = openApprovals.filter((a) => (a.data || {}).stage === stage).map((a) => {
      const d = a.data || {};
      const v = approvalVersion(a);
      return html`<li class="approval" data-id="${a.id}">
        <div><strong>Approval</strong>: ${d.service} ${v ? html`<code>${version(v)}</code>` : ''}
          <span class="small">since ${time(a.time)}</span></div>
        <div class="small">waiting for approval · <a href="#/project/${p}/sequence/${enc(a.shkeptncontext)}">sequence</a></div>
        ${mayApprove ? html`<div class="buttons">
          <button type="button" class="approve" data-approve="${a.id}">✓ Approve</button>
          <button type="button" class="decline" data-decline="${a.id}">✗ Decline</button>
        </div>` : html`<div class="small muted no-approve">your token may not approve here</div>`}
      </li>`;
    });
    /** @type {string[]} */
    const parents = s.parentStages || [];
    const arrow = i > 0 ? html`<div class="promotion" aria-label="promotion from ${parents.join(', ') || stages[i - 1].stageName}">→</div>` : '';
    return html`${arrow}<section class="stage" data-stage="${stage}" aria-labelledby="st-${i}">
      <h2 id="st-${i}">${stage}</h2>
      <ul class="services">${services.length ? services : html`<li class="muted">no services</li>`}</ul>
      ${waiting.length ? html`<h3>Open approvals</h3><ul class="approvals">${waiting}</ul>` : ''}
      ${running.length ? html`<h3>Running and queued</h3><ul class="seqs">${running}</ul>` : ''}
    </section>`;
  });

  show(main, html`<h1>${project} <span class="small muted">environment</span></h1>
    <p><a href="#/project/${p}/sequences">All sequences</a></p>
    <div id="message"></div>
    <div class="stages-row">${columns.length ? columns : html`<p class="muted">no stages</p>`}</div>`);
  const message = document.getElementById('message');

  main.querySelectorAll('button[data-approve], button[data-decline]').forEach((element) => {
    const b = /** @type {HTMLButtonElement} */ (element);
    b.addEventListener('click', async () => {
      const approve = b.hasAttribute('data-approve');
      const id = b.getAttribute(approve ? 'data-approve' : 'data-decline');
      const a = openApprovals.find((x) => x.id === id);
      b.disabled = true;
      try {
        await api.sendEvent(approvalFinished(a, approve));
        show(message, html`<p class="ok" role="status">${approve ? '✓ Approved' : '✗ Declined'} ${(a.data || {}).service} in ${(a.data || {}).stage}</p>`);
        b.closest('li')?.classList.add('answered');
      } catch (e) {
        show(message, errorBox(e));
        b.disabled = false;
      }
    });
  });
}
