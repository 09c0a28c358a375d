// @ts-check
// The audit log: who changed what, where and when, newest first, filtered by project, actor
// and action, paged. Read only: nothing in the API changes it.

import * as api from './api.js';
import { html, show, time } from './dom.js';

/**
 * Renders the audit log.
 * @param {HTMLElement} main
 * @param {URLSearchParams} params
 */
export async function auditView(main, params) {
  const f = { project: params.get('project') || '', actor: params.get('actor') || '', action: params.get('action') || '' };
  const pageKey = params.get('page') || '';
  const page = await api.get('/api/sluice/v1/audit', { ...f, pageSize: 50, nextPageKey: pageKey });
  /** @type {any[]} */
  const entries = page.entries || [];
  const rows = entries.map((e) => html`<tr>
      <td class="nowrap">${time(e.time)}</td><td>${e.actor}</td><td><code>${e.action}</code></td>
      <td>${[e.project, e.stage, e.service].filter(Boolean).join(' / ')}</td>
      <td class="small">${e.keptnContext ? html`<a href="#/project/${encodeURIComponent(e.project)}/sequence/${encodeURIComponent(e.keptnContext)}">${e.keptnContext}</a>` : ''}</td>
      <td class="small">${e.detail}</td><td class="small">${e.client}</td></tr>`);
  /** @param {Record<string, string>} extra */
  const link = (extra) => {
    const q = new URLSearchParams({ ...f, ...extra });
    for (const [k, v] of [...q]) if (!v) q.delete(k);
    return `#/audit?${q}`;
  };
  show(main, html`<h1>Audit log</h1>
    <form id="audit-filters" class="filters">
      <label>Project <input name="project" value="${f.project}"></label>
      <label>Actor <input name="actor" value="${f.actor}"></label>
      <label>Action <input name="action" value="${f.action}" placeholder="e.g. approve"></label>
      <button type="submit">Filter</button>
    </form>
    <table class="list audit"><thead><tr><th>Time</th><th>Actor</th><th>Action</th><th>Where</th><th>Context</th><th>Detail</th><th>Client</th></tr></thead>
    <tbody>${rows.length ? rows : html`<tr><td colspan="7" class="muted">no entries</td></tr>`}</tbody></table>
    <p class="pager">${pageKey ? html`<a href="${link({ page: '' })}">« newest</a>` : ''}
      ${page.nextPageKey ? html`<a href="${link({ page: page.nextPageKey })}">older »</a>` : ''}
      <span class="muted">${page.totalCount ?? ''} in all</span></p>`);
  document.getElementById('audit-filters')?.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = /** @type {Record<string, string>} */ (Object.fromEntries(new FormData(/** @type {HTMLFormElement} */ (ev.target))));
    location.hash = link({ ...data, page: '' });
  });
}
