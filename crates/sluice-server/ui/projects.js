// @ts-check
// The projects list: each project with its stages (in shipyard order) and services.

import * as api from './api.js';
import { html, join, show, enc } from './dom.js';

/**
 * Renders the projects list.
 * @param {HTMLElement} main
 */
export async function projectsView(main) {
  const { items } = await api.allPages('/api/controlPlane/v1/project', {}, 'projects', 50, 500);
  if (!items.length) {
    show(main, html`<h1>Projects</h1><p class="muted">No projects yet. Create one with
      <code>sluice create project NAME --shipyard shipyard.yaml</code>, or run <code>sluice quickstart</code>.</p>`);
    return;
  }
  const cards = items.map((p) => {
    const stages = join((p.stages || []).map((/** @type {any} */ s) => html`<span class="stage-chip">${s.stageName}</span>`), '<span class="arrow" aria-label="then">→</span>');
    /** @type {Set<string>} */
    const services = new Set();
    for (const s of p.stages || []) for (const svc of s.services || []) services.add(svc.serviceName);
    return html`<li class="card project-card">
      <h2><a href="#/project/${enc(p.projectName)}">${p.projectName}</a></h2>
      <p class="stages">${stages.markup ? stages : html`<span class="muted">no stages</span>`}</p>
      <p class="muted">${services.size} service${services.size === 1 ? '' : 's'}: ${[...services].join(', ') || '–'}</p>
    </li>`;
  });
  show(main, html`<h1>Projects</h1><ul class="cards" id="projects">${cards}</ul>`);
}
