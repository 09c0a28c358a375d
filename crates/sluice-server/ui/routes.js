// @ts-check
// The web UI's routes: which page a location hash shows, with its arguments, and which
// events make that page stale (the filter of its live event stream). Pure: no DOM.

/**
 * @typedef {{ parts: string[], params: URLSearchParams, hash: string }} Location
 * @typedef {{ project?: string, service?: string, keptnContext?: string, type?: string }} StreamFilter
 * @typedef {{ page: 'projects' | 'environment' | 'sequences' | 'sequence' | 'quality' | 'integrations' | 'audit' | 'notifications',
 *             args: string[], filter: StreamFilter | null }} Route
 */

/**
 * Splits a location hash (`#/project/a%20b/sequences?state=started`) into its decoded path
 * parts and query parameters.
 * @param {string} hash
 * @returns {Location}
 */
export function parseHash(hash) {
  const h = hash.replace(/^#/, '') || '/';
  const [path, q] = h.split('?');
  const parts = path.split('/').filter(Boolean).map((part) => {
    try { return decodeURIComponent(part); } catch { return part; }
  });
  return { parts, params: new URLSearchParams(q || ''), hash: h };
}

/**
 * The page of a location's path parts; unknown paths show the projects.
 * @param {string[]} parts
 * @returns {Route}
 */
export function routeOf(parts) {
  const [a, project, b, c, d] = parts;
  if (a === 'project' && project && !b) return { page: 'environment', args: [project], filter: { project } };
  if (a === 'project' && project && b === 'sequences') return { page: 'sequences', args: [project], filter: { project } };
  if (a === 'project' && project && b === 'notifications') return { page: 'notifications', args: [project], filter: { project } };
  if (a === 'project' && project && b === 'sequence' && c) return { page: 'sequence', args: [project, c], filter: { project, keptnContext: c } };
  if (a === 'project' && project && b === 'service' && c && d === 'quality') {
    return { page: 'quality', args: [project, c], filter: { project, service: c, type: 'sh.keptn.event.evaluation.finished' } };
  }
  if (a === 'integrations') return { page: 'integrations', args: [], filter: null };
  if (a === 'audit') return { page: 'audit', args: [], filter: null };
  return { page: 'projects', args: [], filter: null };
}

/**
 * The token of a token link (`#token=...`), or null.
 * @param {string} hash
 */
export function tokenOfHash(hash) {
  const m = /^#token=([^&]+)/.exec(hash);
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch { return m[1]; }
}
