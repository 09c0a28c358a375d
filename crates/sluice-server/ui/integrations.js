// Integrations: the remote executors that registered or polled, with their subscriptions and
// last contact.

import * as api from './api.js';
import { esc, time } from './dom.js';

/** Renders the integrations list. */
export async function integrationsView(main) {
  const list = await api.get('/api/controlPlane/v1/uniform/registration');
  const rows = (Array.isArray(list) ? list : []).map((r) => {
    const subs = (r.subscriptions || []).map((s) => {
      const f = s.filter || {};
      const scope = [f.projects, f.stages, f.services].map((x) => (x && x.length ? x.join(',') : '*')).join(' / ');
      return `<li><code>${esc(s.event)}</code> <span class="small">${esc(scope)}</span></li>`;
    }).join('');
    const m = r.metadata || {};
    return `<tr><td><strong>${esc(r.name)}</strong><div class="small">${esc(r.id)}</div></td>
      <td>${esc(m.hostname || '')}<div class="small">${esc(m.integrationversion || '')} ${esc(m.distributorversion || '')}</div></td>
      <td><ul class="plain">${subs || '<li class="muted">none</li>'}</ul></td>
      <td class="nowrap">${time(m.lastseen)}</td></tr>`;
  }).join('');
  main.innerHTML = `<h1>Integrations</h1>
    <p class="muted">Remote executors that registered with <code>/api/controlPlane/v1/uniform/registration</code>. The built-in services
    (approval, lighthouse, job executor, SLI providers, remediation) run inside the server and are not listed.</p>
    <table class="list"><thead><tr><th>Name</th><th>Host</th><th>Subscriptions</th><th>Last contact</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="4" class="muted">no remote integrations have registered</td></tr>'}</tbody></table>`;
}
