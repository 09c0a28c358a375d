// The HTTP API as the pages use it: the session cookie authenticates, changes carry the
// session's CSRF token, lists are read page by page.

let csrf = '';

/** An answer other than 2xx, with Keptn's {code, message}. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function answer(response) {
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  if (!response.ok) {
    const message = (body && body.message) || `${response.status} ${response.statusText}`;
    const error = new ApiError(response.status, message);
    if (response.status === 401) window.dispatchEvent(new CustomEvent('sluice-unauthorized'));
    throw error;
  }
  return body;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** GET a JSON answer. */
export async function get(path, params) {
  return answer(await fetch(path + query(params), { credentials: 'same-origin', headers: { accept: 'application/json' } }));
}

/** POST JSON (with the CSRF token). */
export async function post(path, body) {
  return answer(await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-sluice-csrf': csrf, accept: 'application/json' },
    body: JSON.stringify(body ?? {}),
  }));
}

/** Every item of a paged list (`pageSize`/`nextPageKey`), at most `max`. */
export async function allPages(path, params, key, pageSize = 100, max = 5000) {
  const items = [];
  let next = '';
  for (;;) {
    const page = await get(path, { ...params, pageSize, nextPageKey: next });
    const got = page[key] || [];
    items.push(...got);
    // Keptn's lists end with no key, or with "0" (some of its endpoints).
    const key2 = page.nextPageKey || '';
    const done = !key2 || key2 === '0' || key2 === next || !got.length || items.length >= max;
    next = key2;
    if (done) return { items, total: page.totalCount ?? items.length };
  }
}

/** The current session's CSRF token, or null when not logged in. */
export async function resume() {
  try {
    const s = await get('/bridge/api/session');
    csrf = s.csrf;
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

/** Logs in with the API token. */
export async function login(token) {
  const s = await answer(await fetch('/bridge/api/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  }));
  csrf = s.csrf;
}

/** Ends the session. */
export async function logout() {
  await post('/bridge/api/logout', {});
  csrf = '';
}

/** A fresh event id. */
export function uuid() {
  return crypto.randomUUID ? crypto.randomUUID() : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
    (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
}

/** Sends a Keptn event through the event API. */
export function sendEvent(event) {
  return post('/api/v1/event', event);
}

/**
 * Like `allPages` for lists whose `nextPageKey` is a decimal offset (sluice's own): the first
 * page tells the total, the others are read a few at a time in parallel, in order.
 */
export async function allPagesByOffset(path, params, key, pageSize = 100, max = 5000, parallel = 4) {
  const first = await get(path, { ...params, pageSize });
  const items = [...(first[key] || [])];
  const total = Math.min(first.totalCount ?? items.length, max);
  const offsets = [];
  for (let o = items.length; first.nextPageKey && o < total; o += pageSize) offsets.push(o);
  const pages = new Array(offsets.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, offsets.length) }, async () => {
    while (next < offsets.length) {
      const i = next++;
      pages[i] = (await get(path, { ...params, pageSize, nextPageKey: String(offsets[i]) }))[key] || [];
    }
  }));
  for (const p of pages) items.push(...p);
  return { items: items.slice(0, max), total: first.totalCount ?? items.length };
}
