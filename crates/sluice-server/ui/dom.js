// Small helpers shared by the pages: escaping, results shown by symbol and text as well as
// colour, times and durations.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML. */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
}

/** Symbol for a result or status, so that colour is never the only signal. */
export const SYMBOL = { pass: '✓', warning: '!', fail: '✗', info: '·', succeeded: '✓', errored: '✗', aborted: '■', pending: '…' };

/** CSS class of a result. */
export function resultClass(result) {
  return ['pass', 'warning', 'fail', 'info'].includes(result) ? `r-${result}` : 'r-none';
}

/** A result badge: symbol, word, colour. */
export function badge(result, text) {
  const r = result || 'none';
  return `<span class="badge ${resultClass(r)}">${SYMBOL[r] || '?'} ${esc(text ?? r)}</span>`;
}

/** A number the short way (at most 3 decimals, no trailing zeros). */
export function num(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (Math.abs(v) >= 1000) return String(Math.round(v));
  return String(Math.round(v * 1000) / 1000);
}

/** A score in percent. */
export function pct(v) {
  return v === null || v === undefined ? '–' : `${Math.round(v * 10) / 10}`;
}

/** Local time of an RFC 3339 / Keptn time. */
export function time(t) {
  if (!t) return '';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return esc(t);
  return d.toLocaleString(undefined, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A duration between two times. */
export function duration(a, b) {
  const ms = new Date(b) - new Date(a);
  if (!a || !b || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s * 10) / 10} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** The version part of an image (`repo:tag` → `tag`). */
export function version(image) {
  if (!image) return '';
  const i = image.lastIndexOf(':');
  return i > image.lastIndexOf('/') ? image.slice(i + 1) : image;
}

/** An error box. */
export function errorBox(e) {
  return `<p class="error" role="alert">✗ ${esc(e && e.message ? e.message : e)}</p>`;
}

/** Route link. */
export function link(hash, text, cls = '') {
  return `<a href="#${esc(hash)}"${cls ? ` class="${cls}"` : ''}>${esc(text)}</a>`;
}

/** Encodes a route part. */
export const enc = encodeURIComponent;
