// @ts-check
// Integrations: the remote executors that registered or polled, with their subscriptions and
// last contact.

import * as api from './api.js';
import { html, show, time } from './dom.js';

/**
 * Renders the integrations list.
 * @param {HTMLElement} main
 */
export async function integrationsView(main) {
  const list = await api.get('/api/controlPlane/v1/uniform/registration');
  const rows = (Array.isArray(list) ? list : []).map((r) => {
    const subs = (r.subscriptions || []).map((/** @type {any} */ s) => {
      const f = s.filter || {};
      const scope = [f.projects, f.stages, f.services].map((x) => (x && x.length ? x.join(',') : '*')).join(' / ');
      return html`<li><code>${s.event}</code> <span class="small">${scope}</span></li>`;
    });
    const m = r.metadata || {};
    return html`<tr><td><strong>${r.name}</strong><div class="small">${r.id}</div></td>
      <td>${m.hostname || ''}<div class="small">${m.integrationversion || ''} ${m.distributorversion || ''}</div></td>
      <td><ul class="plain">${subs.length ? subs : html`<li class="muted">none</li>`}</ul></td>
      <td class="nowrap">${time(m.lastseen)}</td></tr>`;
  });
  show(main, html`<h1>Integrations</h1>
    <p class="muted">Remote executors that registered with <code>/api/controlPlane/v1/uniform/registration</code>. The built-in services
    (approval, lighthouse, job executor, SLI providers, remediation) run inside the server and are not listed.</p>
    <table class="list"><thead><tr><th>Name</th><th>Host</th><th>Subscriptions</th><th>Last contact</th></tr></thead>
    <tbody>${rows.length ? rows : html`<tr><td colspan="4" class="muted">no remote integrations have registered</td></tr>`}</tbody></table>`);
}
