// @ts-check
// What the logged-in token may do, as the server told it at login (`principal`: name, role,
// project, stages, rights): the pages show only the buttons and links it allows. The server
// checks every request anyway; this only keeps people from clicking what would be refused.
// Pure: no DOM.

/**
 * @typedef {{ name: string, role: string, project: string | null, stages: string[], rights: string[] }} Principal
 */

/**
 * Whether `principal` has `right` (`read`, `trigger`, `approve`, `control`, `answer`,
 * `configure`, `administer`) in `project` and `stage`, with the server's rules: a token
 * limited to a project acts only there; a token limited to stages changes only those
 * (reads are not limited by stage); no stage named means every stage.
 * @param {Principal | null} principal
 * @param {string} right
 * @param {string} [project]
 * @param {string} [stage]
 */
export function can(principal, right, project, stage) {
  if (!principal || !(principal.rights || []).includes(right)) return false;
  if (principal.project && project !== undefined && principal.project !== project) return false;
  if (right === 'read') return true;
  const stages = principal.stages || [];
  if (!stages.length) return true;
  return stage !== undefined && stage !== '' && stages.includes(stage);
}

/**
 * A short description of a principal for the header, e.g. `ci (operator, shop: dev, qa)`.
 * @param {Principal | null} principal
 */
export function describe(principal) {
  if (!principal) return '';
  const scope = principal.project ? `, ${principal.project}${principal.stages.length ? ': ' + principal.stages.join(', ') : ''}` : '';
  return `${principal.name} (${principal.role}${scope})`;
}
