// The projects list: each project with its stages (in shipyard order) and services.

import * as api from './api.js';
import { esc, enc } from './dom.js';

/** Renders the projects list. */
export async function projectsView(main) {
  const { items } = await api.allPages('/api/controlPlane/v1/project', {}, 'projects', 50, 500);
  if (!items.length) {
    main.innerHTML = `<h1>Projects</h1><p class="muted">No projects yet. Create one with
      <code>sluice create project NAME --shipyard shipyard.yaml</code>, or run <code>sluice quickstart</code>.</p>`;
    return;
  }
  const cards = items.map((p) => {
    const stages = (p.stages || []).map((s) => `<span class="stage-chip">${esc(s.stageName)}</span>`).join('<span class="arrow" aria-label="then">→</span>');
    const services = new Set();
    for (const s of p.stages || []) for (const svc of s.services || []) services.add(svc.serviceName);
    return `<li class="card project-card">
      <h2><a href="#/project/${enc(p.projectName)}">${esc(p.projectName)}</a></h2>
      <p class="stages">${stages || '<span class="muted">no stages</span>'}</p>
      <p class="muted">${services.size} service${services.size === 1 ? '' : 's'}: ${esc([...services].join(', ') || '–')}</p>
    </li>`;
  }).join('');
  main.innerHTML = `<h1>Projects</h1><ul class="cards" id="projects">${cards}</ul>`;
}
