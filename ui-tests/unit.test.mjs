// Unit tests of the web UI's pure functions (node's test runner, no browser):
//
//   node --test ui-tests/
//
// The modules are the ones the server embeds (crates/sluice-server/ui); none touches the DOM
// when it is imported, so they load as they are.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import * as dom from '../crates/sluice-server/ui/dom.js';
import { parseHash, routeOf, tokenOfHash } from '../crates/sluice-server/ui/routes.js';
import { can, describe } from '../crates/sluice-server/ui/access.js';
import { sliOrder, heatmapHtml, thresholdOf, chart } from '../crates/sluice-server/ui/heatmap.js';
import { timeline, stateBadge, sequenceResult } from '../crates/sluice-server/ui/sequences.js';
import { rulesHtml, channelsHtml, deliveriesHtml, lastOutcome } from '../crates/sluice-server/ui/notifications.js';
import { explanationHtml, distributionChart, statisticalHtml } from '../crates/sluice-server/ui/quality.js';
import { approvalFinished, approvalVersion } from '../crates/sluice-server/ui/environment.js';
import * as api from '../crates/sluice-server/ui/api.js';

const UI = join(dirname(fileURLToPath(import.meta.url)), '..', 'crates', 'sluice-server', 'ui');
const HOSTILE = `<img src=x onerror="alert('x')">&`;
const HOSTILE_ESCAPED = '&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;';

test('esc escapes the five HTML characters and reads null as empty', () => {
  assert.equal(dom.esc(HOSTILE), HOSTILE_ESCAPED);
  assert.equal(dom.esc(null), '');
  assert.equal(dom.esc(undefined), '');
  assert.equal(dom.esc(0), '0');
});

test('html escapes every value, keeps markup, flattens lists and drops null, undefined and false', () => {
  const inner = dom.html`<b>${HOSTILE}</b>`;
  assert.ok(inner instanceof dom.Html);
  assert.equal(inner.markup, `<b>${HOSTILE_ESCAPED}</b>`);
  const outer = dom.html`<p title="${'"quoted"'}">${inner}${[dom.html`<i>1</i>`, '<2>']}${null}${undefined}${false}${0}</p>`;
  assert.equal(outer.markup, `<p title="&quot;quoted&quot;"><b>${HOSTILE_ESCAPED}</b><i>1</i>&lt;2&gt;0</p>`);
  assert.equal(String(outer), outer.markup);
  assert.equal(dom.join(['a', dom.html`<b>b</b>`, '<c>'], ' → ').markup, 'a → <b>b</b> → &lt;c&gt;');
});

test('badge, resultClass and errorBox escape their text', () => {
  assert.equal(dom.resultClass('warning'), 'r-warning');
  assert.equal(dom.resultClass('bogus'), 'r-none');
  assert.equal(dom.badge('pass').markup, '<span class="badge r-pass">✓ pass</span>');
  assert.equal(dom.badge('', HOSTILE).markup, `<span class="badge r-none">? ${HOSTILE_ESCAPED}</span>`);
  assert.equal(dom.errorBox(new Error(HOSTILE)).markup, `<p class="error" role="alert">✗ ${HOSTILE_ESCAPED}</p>`);
  assert.equal(dom.errorBox('plain').markup, '<p class="error" role="alert">✗ plain</p>');
});

test('numbers, scores, durations and versions', () => {
  assert.equal(dom.num(null), '–');
  assert.equal(dom.num(Number.NaN), '–');
  assert.equal(dom.num(1.23456), '1.235');
  assert.equal(dom.num(1234.5), '1235');
  assert.equal(dom.pct(66.666), '66.7');
  assert.equal(dom.pct(undefined), '–');
  assert.equal(dom.duration('2026-01-01T00:00:00Z', '2026-01-01T00:00:00.250Z'), '250 ms');
  assert.equal(dom.duration('2026-01-01T00:00:00Z', '2026-01-01T00:00:12.34Z'), '12.3 s');
  assert.equal(dom.duration('2026-01-01T00:00:00Z', '2026-01-01T00:02:05Z'), '2 min 5 s');
  assert.equal(dom.duration('', '2026-01-01T00:00:00Z'), '');
  assert.equal(dom.duration('not a time', '2026-01-01T00:00:00Z'), '');
  assert.equal(dom.version('registry:5000/shop/carts:0.13.2'), '0.13.2');
  assert.equal(dom.version('registry:5000/shop/carts'), 'registry:5000/shop/carts');
  assert.equal(dom.time('not a time'), 'not a time');
  assert.equal(dom.time(''), '');
});

test('routes: each page, its arguments and its live filter', () => {
  const at = (hash) => routeOf(parseHash(hash).parts);
  assert.deepEqual(at(''), { page: 'projects', args: [], filter: null });
  assert.deepEqual(at('#/'), { page: 'projects', args: [], filter: null });
  assert.deepEqual(at('#/project/a%20b'), { page: 'environment', args: ['a b'], filter: { project: 'a b' } });
  assert.deepEqual(at('#/project/p/sequences?state=started'), { page: 'sequences', args: ['p'], filter: { project: 'p' } });
  assert.deepEqual(at('#/project/p/sequence/ctx-1'), { page: 'sequence', args: ['p', 'ctx-1'], filter: { project: 'p', keptnContext: 'ctx-1' } });
  assert.deepEqual(at('#/project/p/service/carts/quality?stage=qa'), {
    page: 'quality', args: ['p', 'carts'], filter: { project: 'p', service: 'carts', type: 'sh.keptn.event.evaluation.finished' },
  });
  assert.deepEqual(at('#/integrations'), { page: 'integrations', args: [], filter: null });
  assert.deepEqual(at('#/project'), { page: 'projects', args: [], filter: null });
  assert.deepEqual(at('#/nowhere/at/all'), { page: 'projects', args: [], filter: null });
  // A malformed escape does not throw: the part is kept as it is.
  assert.deepEqual(parseHash('#/project/%E0%A4%A').parts, ['project', '%E0%A4%A']);
  assert.equal(parseHash('#/project/p/sequences?state=started&from=24').params.get('from'), '24');
});

/** An evaluation row as the evaluations list returns it. */
function row(id, result, score, indicators, comparedEvents = []) {
  return { id, label: id, time: '2026-12-05T10:00:00Z', result, score, comparedEvents, indicators };
}

test('sliOrder follows the newest evaluation that has each SLI', () => {
  const rows = [
    row('e1', 'pass', 100, [{ metric: 'old', status: 'pass', success: true, value: 1 }]),
    row('e2', 'pass', 100, [
      { metric: 'b', displayName: 'B', status: 'pass', success: true, value: 1 },
      { metric: 'a', status: 'pass', success: true, value: 1 },
    ]),
  ];
  assert.deepEqual(sliOrder(rows), [['b', 'B'], ['a', 'a'], ['old', 'old']]);
});

test('heatmapHtml marks the selected and compared evaluations and escapes SLI names', () => {
  const rows = [
    row('e1', 'pass', 100, [{ metric: HOSTILE, status: 'pass', success: true, value: 12.5 }]),
    row('e2', 'fail', 0, [{ metric: HOSTILE, status: 'fail', success: false, value: 0 }], ['e1']),
    row('e3', 'warning', 80, []),
  ];
  const markup = heatmapHtml(rows, 'e2').markup;
  assert.ok(!markup.includes('<img'), markup);
  assert.ok(markup.includes(`<th scope="row" class="rh" title="${HOSTILE_ESCAPED}">${HOSTILE_ESCAPED}</th>`), markup);
  assert.ok(markup.includes('>▼ e2</button>'));
  assert.ok(markup.includes('>◆ e1</button>'));
  assert.ok(markup.includes('<td class="r-pass c">✓ 12.5</td>'), markup);
  assert.ok(markup.includes('<td class="r-fail s">✗ n/a</td>'), markup);
  assert.ok(markup.includes('<td class="r-none">–</td>'), markup);
  assert.ok(markup.includes('<td class="r-warning">! 80</td>'), markup);
});

test('thresholds and charts', () => {
  assert.equal(thresholdOf('90%'), 90);
  assert.equal(thresholdOf('75'), 75);
  assert.equal(thresholdOf(''), null);
  assert.equal(thresholdOf('abc'), null);
  assert.ok(chart(HOSTILE, [Number.NaN], [''], [], -1).markup.includes(`${HOSTILE_ESCAPED}</figcaption><p class="muted">no values</p>`));
  const svg = chart('Score', [50, 100], ['fail', 'pass'], [{ kind: 'pass', value: 90, label: '≥ 90' }], 1).markup;
  assert.equal((svg.match(/<circle /g) || []).length, 2);
  assert.ok(svg.includes('class="th th-pass"'));
  assert.ok(svg.includes('class="selline"'));
});

test('timeline groups a context into stages, tasks and the sequence', () => {
  const ev = (id, type, stage, { data = {}, ...rest } = {}) => ({ id, type: `sh.keptn.event.${type}`, data: { stage, ...data }, ...rest });
  const events = [
    ev('s1', 'qa.delivery.triggered', 'qa'),
    ev('t1', 'deployment.triggered', 'qa'),
    ev('t1s', 'deployment.started', 'qa', { triggeredid: 't1', source: 'job-executor-service' }),
    ev('t1f', 'deployment.finished', 'qa', { triggeredid: 't1', source: 'job-executor-service', data: { result: 'pass' } }),
    ev('t2', 'evaluation.triggered', 'qa'),
    ev('s1f', 'qa.delivery.finished', 'qa', { data: { result: 'fail' } }),
    ev('x', 'deployment.triggered', ''),
    { id: 'other', type: 'sh.keptn.log.error', data: { stage: 'qa' } },
  ];
  const stages = timeline(events);
  assert.equal(stages.length, 1);
  const [qa] = stages;
  assert.equal(qa.name, 'qa');
  assert.equal(qa.sequence.name, 'delivery');
  assert.equal(qa.sequence.finished.id, 's1f');
  const tasks = [...qa.tasks.values()];
  assert.deepEqual(tasks.map((t) => t.name), ['deployment', 'evaluation']);
  assert.equal(tasks[0].triggered.id, 't1');
  assert.deepEqual(tasks[0].started.map((e) => e.id), ['t1s']);
  assert.deepEqual(tasks[0].finished.map((e) => e.id), ['t1f']);
  assert.equal(tasks[1].finished.length, 0);
});

test('stateBadge', () => {
  assert.equal(stateBadge('finished').markup, '<span class="badge r-pass">✓ finished</span>');
  assert.equal(stateBadge('started').markup, '<span class="badge r-running">▶ started</span>');
  assert.equal(stateBadge('paused').markup, '<span class="badge r-warning">! paused</span>');
});

test('a finished sequence shows its result, not only its state', () => {
  const gateFailed = { state: 'finished', stages: [{ name: 'qa', state: 'succeeded', latestEvaluation: { result: 'fail', score: 40 }, latestFailedEvent: { type: 'sh.keptn.event.evaluation.finished', id: 'e' } }] };
  assert.equal(sequenceResult(gateFailed), 'fail');
  assert.equal(stateBadge('finished', gateFailed).markup, '<span class="badge r-fail">✗ failed</span>');
  const warned = { state: 'finished', stages: [{ name: 'qa', state: 'succeeded', latestEvaluation: { result: 'warning', score: 80 } }] };
  assert.equal(sequenceResult(warned), 'warning');
  assert.equal(stateBadge('finished', warned).markup, '<span class="badge r-warning">! finished with warning</span>');
  const passed = { state: 'finished', stages: [{ name: 'qa', state: 'succeeded', latestEvaluation: { result: 'pass', score: 100 } }] };
  assert.equal(stateBadge('finished', passed).markup, '<span class="badge r-pass">✓ succeeded</span>');
  assert.equal(sequenceResult({ state: 'finished', stages: [{ name: 'qa', state: 'errored' }] }), 'fail');
  assert.equal(sequenceResult({ state: 'aborted', stages: [] }), 'fail');
  assert.equal(sequenceResult({ state: 'started', stages: [{ name: 'qa', state: 'triggered' }] }), '');
});

test('can follows the server: role rights, project limit, stage limit for changes only', () => {
  const approver = { name: 'a', role: 'approver', project: 'shop', stages: ['production'], rights: ['read', 'approve'] };
  assert.equal(can(approver, 'approve', 'shop', 'production'), true);
  assert.equal(can(approver, 'approve', 'shop', 'qa'), false);
  assert.equal(can(approver, 'approve', 'shop'), false, 'no stage: every stage');
  assert.equal(can(approver, 'approve', 'other', 'production'), false);
  assert.equal(can(approver, 'read', 'shop', 'qa'), true);
  assert.equal(can(approver, 'trigger', 'shop', 'production'), false);
  const viewer = { name: 'v', role: 'viewer', project: null, stages: [], rights: ['read'] };
  assert.equal(can(viewer, 'approve', 'shop', 'qa'), false);
  assert.equal(can(viewer, 'read', 'anything'), true);
  assert.equal(can(null, 'read'), false);
  assert.equal(describe(approver), 'a (approver, shop: production)');
  assert.equal(describe(viewer), 'v (viewer)');
});

test('tokenOfHash reads token links only', () => {
  assert.equal(tokenOfHash('#token=abc%2Bdef'), 'abc+def');
  assert.equal(tokenOfHash('#token=slc_x_y&z=1'), 'slc_x_y');
  assert.equal(tokenOfHash('#/project/p'), null);
  assert.equal(tokenOfHash(''), null);
  assert.equal(tokenOfHash('#token=%E0%A4%A'), '%E0%A4%A');
  assert.deepEqual(routeOf(['audit']), { page: 'audit', args: [], filter: null });
  assert.deepEqual(routeOf(['project', 'p', 'notifications']), { page: 'notifications', args: ['p'], filter: { project: 'p' } });
});

test('the notifications page escapes what receivers and rules say', () => {
  const markup = (/** @type {any} */ x) => dom.join([x].flat()).markup;
  const rules = markup(rulesHtml([{ name: HOSTILE, channel: 'chat', channelKind: 'slack', target: 'https://hooks.slack.com/…', events: ['sequence.failed'], stages: [], services: ['s'] }]));
  assert.ok(!rules.includes('<img'), rules);
  assert.match(rules, /sequence\.failed/);
  assert.match(rules, /\* \/ s/);
  const channels = markup(channelsHtml([{ name: 'chat', kind: 'slack', target: HOSTILE, template: '' }]));
  assert.ok(!channels.includes('<img'), channels);
  assert.match(channels, /default/);
  const d = { createdAt: '2026-12-05T10:00:00Z', rule: 'n', channel: 'c', event: 'sequence.failed', stage: 'dev', service: 's', state: 'pending', attempts: 2, nextAttemptAt: '2026-12-05T10:00:04Z', lastStatus: 500, lastError: HOSTILE, keptnContext: 'ctx' };
  const rows = markup(deliveriesHtml('p', [d]));
  assert.ok(!rows.includes('<img'), rows);
  assert.match(rows, /s-pending/);
  assert.match(rows, /#\/project\/p\/sequence\/ctx/);
  assert.equal(lastOutcome({ lastStatus: 503, lastError: '' }), 'HTTP 503');
  assert.equal(lastOutcome({ lastStatus: 0, lastError: '' }), '');
  assert.match(markup(deliveriesHtml('p', [])), /no deliveries/);
});

test('explanationHtml escapes objective names and shows informational objectives', () => {
  const markup = explanationHtml({
    label: 'e1', time: '2026-12-05T10:00:00Z', project: 'p', keptnContext: 'ctx', timeStart: 'a', timeEnd: 'b',
    explanation: {
      result: 'pass', score: 100, points: 1, maxPoints: 1, passThreshold: '90%', warningThreshold: '75%', comparedEvaluations: 0,
      message: HOSTILE,
      objectives: [
        { sli: 'rt', name: HOSTILE, status: 'pass', value: 10, comparedValue: null, keySli: true, points: 1, maxPoints: 1,
          targets: [{ kind: 'pass', criteria: '<=+10%', threshold: 11, evaluated: true, held: true }] },
        { sli: 'info', name: 'info', status: 'info', value: null, missing: true, valueError: '', comparedValue: null, targets: [] },
      ],
    },
  }).markup;
  assert.ok(!markup.includes('<img'), markup);
  assert.ok(markup.includes(`<p class="message" id="eval-message">${HOSTILE_ESCAPED}</p>`));
  assert.ok(markup.includes('★ key'));
  assert.ok(markup.includes('→ <code>&lt;=+11</code>') || markup.includes('→ <code>&lt;=11</code>'), markup);
  assert.ok(markup.includes('<li class="muted">informational</li>'));
  assert.ok(markup.includes('missing: no value'));
  assert.ok(markup.includes('pass ≥ 90%, warning ≥ 75%'));
});

test('a statistical criterion shows sizes, medians, effect, p-value and both distributions', () => {
  const st = {
    criterion: 'mann-whitney increase alpha=0.05', passed: false, reason: HOSTILE, compared: true,
    current: { count: 3, median: 20, mean: 110 }, baseline: { count: 4, median: 10, mean: 10 },
    u: 12, pValue: 0.0000123, method: 'asymptotic', significant: true, shift: 10, medianRatio: 2, meanRatio: 11, effect: 11,
    samples: { current: [10, 20, 300], baseline: [9, 10, 10, 11] },
  };
  const markup = statisticalHtml(st, 'latency').markup;
  assert.ok(!markup.includes('<img'), markup);
  assert.ok(markup.includes('✗ <code>mann-whitney increase alpha=0.05</code>'), markup);
  assert.ok(markup.includes('<strong class="p-value">1.23e-5</strong>'), markup);
  assert.ok(markup.includes('<strong class="effect">11</strong>'), markup);
  assert.match(markup, /<th scope="row">current<\/th><td class="num">3<\/td><td class="num">20<\/td>/);
  assert.match(markup, /<th scope="row">baseline<\/th><td class="num">4<\/td><td class="num">10<\/td>/);
  assert.equal((markup.match(/<polyline /g) || []).length, 2);
  // 9 .. 300 spans more than a factor of 4: a logarithmic axis.
  assert.ok(markup.includes('(log scale)'));
  const none = statisticalHtml({ ...st, compared: false, current: { count: null }, baseline: { count: 2 }, minSamples: 3, samples: { current: null, baseline: [1, 2] } }, 'x').markup;
  assert.ok(none.includes('current none, baseline 2 usable samples (at least 3 needed)'), none);
  assert.ok(none.includes('no current samples'), none);
  // Linear when the values are close; every point inside the drawing; NaN ignored.
  const lin = distributionChart([5, 6, NaN, 7], [5, 5.5, 6], 'rt').markup;
  assert.ok(!lin.includes('log scale'));
  const points = [...lin.matchAll(/points="([^"]+)"/g)].flatMap((m) => m[1].split(' ').map((p) => p.split(',').map(Number)));
  assert.ok(points.every(([x, y]) => x >= 0 && x <= 640 && y >= 0 && y <= 160), lin);
});

test('explanationHtml: the pinned baseline, pin and ignore buttons only when allowed', () => {
  const ev = {
    id: 'e9', label: 'b9', time: '2026-12-05T10:00:00Z', project: 'p', stage: 'qa', service: 'svc', keptnContext: 'c', timeStart: 'a', timeEnd: 'b',
    explanation: { result: 'pass', score: 100, points: 0, maxPoints: 0, comparedEvaluations: 1, aggregateFunction: 'avg', message: '', objectives: [] },
  };
  const viewer = explanationHtml(ev, { baseline: null, mayPin: false, mayInvalidate: false }).markup;
  assert.ok(!viewer.includes('id="pin-baseline"') && !viewer.includes('id="invalidate"'), viewer);
  assert.ok(viewer.includes('No baseline is pinned for svc in qa.'), viewer);
  const operator = explanationHtml(ev, { baseline: 'e1', mayPin: true, mayInvalidate: true }).markup;
  assert.ok(operator.includes('id="pin-baseline"') && operator.includes('id="invalidate"'), operator);
  assert.ok(operator.includes('Pinned baseline of svc in qa: <code>e1</code>.'), operator);
  const pinned = explanationHtml(ev, { baseline: 'e9', mayPin: true }).markup;
  assert.ok(pinned.includes('id="pinned-badge"') && !pinned.includes('id="pin-baseline"'), pinned);
});

test('approvalFinished answers the approval as Keptn\'s bridge did', () => {
  const triggered = {
    id: 'a1', shkeptncontext: 'ctx', time: '2026-12-05T10:00:00Z',
    data: { project: 'p', stage: 'prod', service: 'carts', labels: { version: '1.2' }, configurationChange: { values: { image: 'carts:0.13.2' } } },
  };
  const finished = approvalFinished(triggered, false);
  assert.match(finished.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual({ ...finished, id: '' }, {
    specversion: '1.0', id: '', source: 'https://github.com/keptn/keptn/bridge', type: 'sh.keptn.event.approval.finished',
    datacontenttype: 'application/json', shkeptncontext: 'ctx', triggeredid: 'a1',
    data: { project: 'p', stage: 'prod', service: 'carts', labels: { version: '1.2' }, status: 'succeeded', result: 'fail' },
  });
  assert.equal(approvalFinished(triggered, true).data.result, 'pass');
  assert.equal(approvalVersion(triggered), 'carts:0.13.2');
  assert.equal(approvalVersion({ data: { labels: { version: '1.2' } } }), '1.2');
  assert.equal(approvalVersion({}), '');
});

test('api: query strings and paging through every page', async () => {
  assert.equal(api.query({ a: 1, b: '', c: null, d: undefined, e: 'x y' }), '?a=1&e=x+y');
  assert.equal(api.query({}), '');
  const pages = { '': { events: [1, 2], nextPageKey: 'k2' }, k2: { events: [3], nextPageKey: '0' } };
  const seen = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url) => {
    const u = new URL(url, 'http://sluice.test');
    seen.push(u.search);
    const key = u.searchParams.get('nextPageKey') || '';
    return new Response(JSON.stringify(pages[key]), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  try {
    const all = await api.allPages('/api/mongodb-datastore/event', { keptnContext: 'ctx' }, 'events', 2);
    assert.deepEqual(all, { items: [1, 2, 3], total: 3 });
    assert.deepEqual(seen, ['?keptnContext=ctx&pageSize=2', '?keptnContext=ctx&pageSize=2&nextPageKey=k2']);
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('api: a non-2xx answer is an ApiError with Keptn\'s message', async () => {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async () => new Response(JSON.stringify({ code: 404, message: 'project p not found' }), { status: 404 });
  try {
    await assert.rejects(api.get('/api/controlPlane/v1/project/p'), (e) => e instanceof api.ApiError && e.status === 404 && e.message === 'project p not found');
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('every UI module is type-checked, and only dom.js writes markup into the page', () => {
  for (const name of readdirSync(UI).filter((n) => n.endsWith('.js'))) {
    const source = readFileSync(join(UI, name), 'utf8');
    assert.ok(source.startsWith('// @ts-check\n'), `${name} does not start with // @ts-check`);
    if (name !== 'dom.js') {
      assert.ok(!/innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(source), `${name} writes markup itself: use show() or append() with html\`\``);
    }
  }
});
