// @ts-check
// The web UI's entry: login (form or token link), the hash router, and live updates over the
// event stream (server-sent events): the current page is re-read when a matching event arrives.

import * as api from './api.js';
import { html, show, enc, errorBox } from './dom.js';
import { parseHash, routeOf, tokenOfHash } from './routes.js';
import { can, describe } from './access.js';
import { auditView } from './audit.js';
import { notificationsView } from './notifications.js';
import { projectsView } from './projects.js';
import { environmentView } from './environment.js';
import { sequencesView, sequenceView } from './sequences.js';
import { qualityView } from './quality.js';
import { integrationsView } from './integrations.js';

/** @typedef {import('./routes.js').StreamFilter} StreamFilter */
/** @typedef {(main: HTMLElement, ...args: any[]) => Promise<void>} View */

/** The view of each page. */
const VIEWS = /** @type {Record<import('./routes.js').Route['page'], View>} */ ({
  projects: projectsView,
  environment: environmentView,
  sequences: sequencesView,
  sequence: sequenceView,
  quality: qualityView,
  integrations: integrationsView,
  audit: auditView,
  notifications: notificationsView,
});

/** @param {string} id */
function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

const main = byId('main');
const nav = byId('nav');
const live = byId('live');
const logoutButton = /** @type {HTMLButtonElement} */ (byId('logout'));
const whoami = byId('whoami');

/** @type {EventSource | null} */
let stream = null;
let streamKey = '';
/** @type {ReturnType<typeof setTimeout> | undefined} */
let pending;
let rendering = false;
let again = false;

/** @param {string[]} parts */
function setNav(parts) {
  const project = parts[0] === 'project' ? parts[1] : '';
  const projectLinks = project
    ? html` <span aria-hidden="true">›</span> <a href="#/project/${enc(project)}">${project}</a> <a href="#/project/${enc(project)}/sequences">Sequences</a> <a href="#/project/${enc(project)}/notifications">Notifications</a>`
    : '';
  const me = api.principal();
  const audit = can(me, 'configure', me && me.project ? me.project : undefined) ? html` <a href="#/audit">Audit log</a>` : '';
  show(nav, html`<a href="#/">Projects</a>${projectLinks} <a href="#/integrations">Integrations</a>${audit}`);
}

async function render(isLive = false) {
  if (rendering) { again = true; return; }
  rendering = true;
  const location = parseHash(window.location.hash);
  const { page, args, filter } = routeOf(location.parts);
  setNav(location.parts);
  try {
    await VIEWS[page](main, ...args, location.params, { live: isLive });
  } catch (e) {
    if (!(e instanceof api.ApiError && e.status === 401)) show(main, errorBox(e));
  } finally {
    rendering = false;
  }
  follow(filter);
  if (again) { again = false; render(true); }
}

/**
 * Keeps one event stream open for the current page's filter.
 * @param {StreamFilter | null} filter
 */
function follow(filter) {
  const key = filter ? JSON.stringify(filter) : '';
  if (key === streamKey && stream) return;
  if (stream) { stream.close(); stream = null; }
  streamKey = key;
  if (!filter) { live.textContent = '○ not live'; return; }
  const q = new URLSearchParams(/** @type {[string, string][]} */ (Object.entries(filter).filter(([, v]) => v)));
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

/** @param {string} [message] */
function showLogin(message) {
  if (stream) { stream.close(); stream = null; streamKey = ''; }
  logoutButton.hidden = true;
  whoami.textContent = '';
  show(nav, html``);
  live.textContent = '○ offline';
  show(main, html`
    <section class="login">
      <h1>Log in to sluice</h1>
      <p>Use the API token that <code>sluice server</code> printed when it created it (it is stored in
      <code>&lt;data-dir&gt;/api-token</code>), the one in <code>SLUICE_API_TOKEN</code>, or a token made with
      <code>sluice token create</code> (you see what its role allows).</p>
      <form id="login-form">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
        <button type="submit">Log in</button>
      </form>
      ${message ? errorBox(message) : ''}
    </section>`);
  byId('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api.login(/** @type {HTMLInputElement} */ (byId('token')).value);
      loggedIn();
    } catch (e) {
      showLogin(messageOf(e));
    }
  });
}

/** @param {unknown} e */
function messageOf(e) {
  return e instanceof Error ? e.message : String(e);
}

function loggedIn() {
  logoutButton.hidden = false;
  whoami.textContent = describe(api.principal());
  if (!location.hash || location.hash.startsWith('#token=')) history.replaceState(null, '', '#/');
  render();
}

logoutButton.addEventListener('click', async () => {
  try { await api.logout(); } catch { /* the session may be gone already */ }
  showLogin();
});

window.addEventListener('sluice-unauthorized', () => showLogin('Your session has ended: log in again.'));
// A token link pasted into a tab that is already open (on the login page or not) changes
// only the hash: log in with it as a fresh page load would.
window.addEventListener('hashchange', () => {
  if (tokenOfHash(location.hash) !== null) { loginFromLink().catch((e) => show(main, errorBox(e))); return; }
  if (!logoutButton.hidden) render();
});

/**
 * Logs in with the token of a token link (`#token=...`), if the address has one: the
 * fragment never reached the server; it is removed from the address bar and the history.
 * @returns {Promise<boolean>} whether there was a link
 */
async function loginFromLink() {
  const token = tokenOfHash(location.hash);
  if (token === null) return false;
  history.replaceState(null, '', location.pathname + '#/');
  try {
    await api.login(token);
    loggedIn();
  } catch (e) {
    showLogin(messageOf(e));
  }
  return true;
}

async function start() {
  if (await loginFromLink()) return;
  if (await api.resume()) loggedIn();
  else showLogin();
}

start().catch((e) => { show(main, errorBox(e)); });
