// The web UI's entry: login (form or token link), the hash router, and live updates over the
// event stream (server-sent events): the current page is re-read when a matching event arrives.

import * as api from './api.js';
import { esc, errorBox } from './dom.js';
import { projectsView } from './projects.js';
import { environmentView } from './environment.js';
import { sequencesView, sequenceView } from './sequences.js';
import { qualityView } from './quality.js';
import { integrationsView } from './integrations.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const live = document.getElementById('live');
const logoutButton = document.getElementById('logout');

let stream = null;
let streamKey = '';
let pending = null;
let rendering = false;
let again = false;

/** The route of the current hash: path parts and query parameters. */
function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, q] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(q || ''), hash };
}

/** Which view renders a route, and which events make it stale. */
function resolve({ parts }) {
  const [a, project, b, c, d] = parts;
  if (a === 'project' && project && !b) return { view: environmentView, args: [project], filter: { project } };
  if (a === 'project' && b === 'sequences') return { view: sequencesView, args: [project], filter: { project } };
  if (a === 'project' && b === 'sequence' && c) return { view: sequenceView, args: [project, c], filter: { keptnContext: c } };
  if (a === 'project' && b === 'service' && c && d === 'quality') return { view: qualityView, args: [project, c], filter: { project, service: c, type: 'sh.keptn.event.evaluation.finished' } };
  if (a === 'integrations') return { view: integrationsView, args: [], filter: null };
  return { view: projectsView, args: [], filter: null };
}

function setNav(parts) {
  const project = parts[0] === 'project' ? parts[1] : '';
  let html = '<a href="#/">Projects</a>';
  if (project) {
    const p = encodeURIComponent(project);
    html += ` <span aria-hidden="true">›</span> <a href="#/project/${p}">${esc(project)}</a>`
      + ` <a href="#/project/${p}/sequences">Sequences</a>`;
  }
  html += ' <a href="#/integrations">Integrations</a>';
  nav.innerHTML = html;
}

async function render(live = false) {
  if (rendering) { again = true; return; }
  rendering = true;
  const r = route();
  const { view, args, filter } = resolve(r);
  setNav(r.parts);
  try {
    await view(main, ...args, r.params, { live });
  } catch (e) {
    if (e.status !== 401) main.innerHTML = errorBox(e);
  } finally {
    rendering = false;
  }
  follow(filter);
  if (again) { again = false; render(true); }
}

/** Keeps one event stream open for the current page's filter. */
function follow(filter) {
  const key = filter ? JSON.stringify(filter) : '';
  if (key === streamKey && stream) return;
  if (stream) { stream.close(); stream = null; }
  streamKey = key;
  if (!filter) { live.textContent = '○ not live'; return; }
  const q = new URLSearchParams(Object.entries(filter).filter(([, v]) => v));
  q.set('untyped', 'true');
  stream = new EventSource(`/api/sluice/v1/stream?${q}`);
  stream.onopen = () => { live.textContent = '● live'; live.classList.add('on'); };
  stream.onerror = () => { live.textContent = '○ reconnecting'; live.classList.remove('on'); };
  const stale = () => {
    clearTimeout(pending);
    pending = setTimeout(() => render(true), 250);
  };
  stream.onmessage = stale;
}

function showLogin(message) {
  if (stream) { stream.close(); stream = null; streamKey = ''; }
  logoutButton.hidden = true;
  nav.innerHTML = '';
  live.textContent = '○ offline';
  main.innerHTML = `
    <section class="login">
      <h1>Log in to sluice</h1>
      <p>Use the API token that <code>sluice server</code> printed when it created it (it is stored in
      <code>&lt;data-dir&gt;/api-token</code>), or the one in <code>SLUICE_API_TOKEN</code>.</p>
      <form id="login-form">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
        <button type="submit">Log in</button>
      </form>
      ${message ? errorBox(message) : ''}
    </section>`;
  document.getElementById('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api.login(document.getElementById('token').value);
      loggedIn();
    } catch (e) {
      showLogin(e.message);
    }
  });
}

function loggedIn() {
  logoutButton.hidden = false;
  if (!location.hash || location.hash.startsWith('#token=')) history.replaceState(null, '', '#/');
  render();
}

logoutButton.addEventListener('click', async () => {
  try { await api.logout(); } catch { /* the session may be gone already */ }
  showLogin();
});

window.addEventListener('sluice-unauthorized', () => showLogin('Your session has ended: log in again.'));
window.addEventListener('hashchange', () => { if (!logoutButton.hidden) render(); });

async function start() {
  // A token link (`#token=...`): the fragment never reached the server; log in with it and
  // remove it from the address bar and the history.
  const m = location.hash.match(/^#token=([^&]+)/);
  if (m) {
    const token = decodeURIComponent(m[1]);
    history.replaceState(null, '', location.pathname + '#/');
    try {
      await api.login(token);
      loggedIn();
      return;
    } catch (e) {
      showLogin(e.message);
      return;
    }
  }
  if (await api.resume()) loggedIn();
  else showLogin();
}

start().catch((e) => { main.innerHTML = errorBox(e); });
