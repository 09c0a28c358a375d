// @ts-check
// Safe HTML for the pages, and small helpers they share: results shown by symbol and text as
// well as colour, times and durations.
//
// Every page builds its markup with the `html` tagged template, which escapes each value put
// into it unless that value is itself `html` (or a list of them); the markup reaches the page
// only through `show` and `append`. No other module sets `innerHTML`.

const ESC = /** @type {Record<string, string>} */ ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' });

/** Escapes text for HTML (element content and quoted attribute values). */
export function esc(/** @type {unknown} */ value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
}

/** Markup that is safe to insert: built by `html`, never from unescaped text. */
export class Html {
  /** @param {string} markup */
  constructor(markup) {
    /** @readonly */
    this.markup = markup;
  }

  toString() {
    return this.markup;
  }
}

/**
 * A value as markup: `Html` as it is, a list item by item, `null`, `undefined` and `false` as
 * nothing, anything else as escaped text.
 * @param {unknown} value
 * @returns {string}
 */
function markupOf(value) {
  if (value instanceof Html) return value.markup;
  if (Array.isArray(value)) return value.map(markupOf).join('');
  if (value === null || value === undefined || value === false) return '';
  return esc(value);
}

/**
 * The tagged template for markup: `` html`<b>${name}</b>` `` escapes `name`.
 * @param {TemplateStringsArray} strings
 * @param {...unknown} values
 * @returns {Html}
 */
export function html(strings, ...values) {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += markupOf(values[i]) + strings[i + 1];
  return new Html(out);
}

/**
 * Joins markup (or text, escaped) with a separator that is markup.
 * @param {unknown[]} items
 * @param {string} separator  trusted markup, e.g. `' → '`
 * @returns {Html}
 */
export function join(items, separator = '') {
  return new Html(items.map(markupOf).join(separator));
}

/**
 * Replaces an element's content with markup.
 * @param {Element | null} element
 * @param {Html} markup
 */
export function show(element, markup) {
  if (element) element.innerHTML = markup.markup;
}

/**
 * Appends markup at the end of an element.
 * @param {Element | null} element
 * @param {Html} markup
 */
export function append(element, markup) {
  if (element) element.insertAdjacentHTML('beforeend', markup.markup);
}

/** Symbol for a result or status, so that colour is never the only signal. */
export const SYMBOL = /** @type {Record<string, string>} */ ({ pass: '✓', warning: '!', fail: '✗', info: '·', succeeded: '✓', errored: '✗', aborted: '■', pending: '…' });

/** CSS class of a result. */
export function resultClass(/** @type {string} */ result) {
  return ['pass', 'warning', 'fail', 'info'].includes(result) ? `r-${result}` : 'r-none';
}

/**
 * A result badge: symbol, word, colour.
 * @param {string | undefined} result
 * @param {unknown} [text]  the word shown (default: the result)
 * @returns {Html}
 */
export function badge(result, text) {
  const r = result || 'none';
  return html`<span class="badge ${resultClass(r)}">${SYMBOL[r] || '?'} ${text ?? r}</span>`;
}

/**
 * A number the short way (at most 3 decimals, no trailing zeros).
 * @param {number | null | undefined} v
 */
export function num(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (Math.abs(v) >= 1000) return String(Math.round(v));
  return String(Math.round(v * 1000) / 1000);
}

/**
 * A score in percent.
 * @param {number | null | undefined} v
 */
export function pct(v) {
  return v === null || v === undefined ? '–' : `${Math.round(v * 10) / 10}`;
}

/**
 * Local time of an RFC 3339 / Keptn time, as text (the input itself when it is not a time).
 * @param {string | undefined} t
 */
export function time(t) {
  if (!t) return '';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  return d.toLocaleString(undefined, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/**
 * A duration between two times.
 * @param {string | undefined} a
 * @param {string | undefined} b
 */
export function duration(a, b) {
  if (!a || !b) return '';
  const ms = new Date(b).getTime() - new Date(a).getTime();
  if (Number.isNaN(ms)) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s * 10) / 10} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/**
 * The version part of an image (`repo:tag` → `tag`).
 * @param {string | undefined} image
 */
export function version(image) {
  if (!image) return '';
  const i = image.lastIndexOf(':');
  return i > image.lastIndexOf('/') ? image.slice(i + 1) : image;
}

/**
 * An error box.
 * @param {unknown} e  an Error, or a message
 * @returns {Html}
 */
export function errorBox(e) {
  const message = e !== null && typeof e === 'object' && 'message' in e ? e.message : e;
  return html`<p class="error" role="alert">✗ ${message}</p>`;
}

/** Encodes a route part. */
export const enc = encodeURIComponent;
