// @ts-check
// The HTTP API as the pages use it: the session cookie authenticates, changes carry the
// session's CSRF token, lists are read page by page.

let csrf = '';
/** @type {import('./access.js').Principal | null} */
let who = null;

/** The logged-in token's name, role, scope and rights (null before login). */
export function principal() {
  return who;
}

/** An answer other than 2xx, with Keptn's {code, message}. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * The JSON body of a 2xx answer; throws `ApiError` otherwise.
 * @param {Response} response
 * @returns {Promise<any>}
 */
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

/**
 * A query string (`?a=1&b=2`) of the parameters that have a value.
 * @param {Record<string, unknown> | undefined} params
 */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * GET a JSON answer.
 * @param {string} path
 * @param {Record<string, unknown>} [params]
 * @returns {Promise<any>}
 */
export async function get(path, params) {
  return answer(await fetch(path + query(params), { credentials: 'same-origin', headers: { accept: 'application/json' } }));
}

/**
 * POST JSON (with the CSRF token).
 * @param {string} path
 * @param {unknown} body
 * @returns {Promise<any>}
 */
export async function post(path, body) {
  return send('POST', path, body);
}

/**
 * Sends JSON with any method (with the CSRF token); `DELETE` without a body.
 * @param {'POST' | 'PUT' | 'DELETE'} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function send(method, path, body) {
  return answer(await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-sluice-csrf': csrf, accept: 'application/json' },
    body: method === 'DELETE' ? undefined : JSON.stringify(body ?? {}),
  }));
}

/**
 * Every item of a paged list (`pageSize`/`nextPageKey`), at most `max`.
 * @param {string} path
 * @param {Record<string, unknown>} params
 * @param {string} key  the list's field in each page, e.g. `events`
 * @returns {Promise<{ items: any[], total: number }>}
 */
export async function allPages(path, params, key, pageSize = 100, max = 5000) {
  /** @type {any[]} */
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

/** Reads the current session's CSRF token; false when not logged in. */
export async function resume() {
  try {
    const s = await get('/bridge/api/session');
    csrf = s.csrf;
    who = s.principal || null;
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return false;
    throw e;
  }
}

/**
 * Logs in with a token (the instance token or a scoped one).
 * @param {string} token
 */
export async function login(token) {
  const s = await answer(await fetch('/bridge/api/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  }));
  csrf = s.csrf;
  who = s.principal || null;
}

/** Ends the session. */
export async function logout() {
  await post('/bridge/api/logout', {});
  csrf = '';
  who = null;
}

/** A fresh event id (a random UUID). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Pages served over plain HTTP from another host are not a secure context: build a v4 UUID.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Sends a Keptn event through the event API.
 * @param {object} event
 */
export function sendEvent(event) {
  return post('/api/v1/event', event);
}

/**
 * Like `allPages` for lists whose `nextPageKey` is a decimal offset (sluice's own): the first
 * page tells the total, the others are read a few at a time in parallel, in order.
 * @param {string} path
 * @param {Record<string, unknown>} params
 * @param {string} key
 * @returns {Promise<{ items: any[], total: number }>}
 */
export async function allPagesByOffset(path, params, key, pageSize = 100, max = 5000, parallel = 4) {
  const first = await get(path, { ...params, pageSize });
  /** @type {any[]} */
  const items = [...(first[key] || [])];
  const total = Math.min(first.totalCount ?? items.length, max);
  /** @type {number[]} */
  const offsets = [];
  for (let o = items.length; first.nextPageKey && o < total; o += pageSize) offsets.push(o);
  /** @type {any[][]} */
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
