// End-to-end tests of sluice's web UI in the system's headless Chromium (playwright-core).
//
//   node ui-tests/e2e.mjs path/to/sluice
//
// Environment:
//   SLUICE_UI_SCREENSHOTS  where screenshots go (default target/ui-screenshots)
//   SLUICE_UI_PORT         first of two loopback ports to use (default 18590)
//   SLUICE_UI_TOUR_DIR     reuse a data directory a `sluice quickstart --data-dir` filled
//                          (default: run the quickstart into a temporary directory)
//   CHROMIUM               the browser (default /usr/bin/chromium)
//
// It runs the quickstart's tour, serves its data, and checks through the browser: login (form
// and token link), the fulltour environment with both stages and their versions, the heatmap
// cells against the API, a failed evaluation's explanation, a manual approval clicked through
// to the end of its sequence, and the render time of a 1,000 × 20 heatmap (printed as
// `ui_heatmap_render_ms`, never asserted).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const binary = resolve(process.argv[2] || 'target/debug/sluice');
const shots = resolve(process.env.SLUICE_UI_SCREENSHOTS || 'target/ui-screenshots');
const port = Number(process.env.SLUICE_UI_PORT || 18590);
const TOKEN = 'ui-e2e-token-0123456789abcdef';
const base = `http://127.0.0.1:${port}`;
const work = mkdtempSync(join(tmpdir(), 'sluice-ui-e2e-'));
const children = [];
mkdirSync(shots, { recursive: true });

function log(...a) { console.log(...a); }
let stepNo = 0;
async function step(name, fn) {
  stepNo++;
  const t0 = Date.now();
  log(`-- ${stepNo}. ${name}`);
  await fn();
  log(`   ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

/** Runs a command to completion; rejects on a non-zero exit. */
function run(cmd, args, opts = {}) {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out.slice(-4000)}`))));
  });
}

/** Starts a long-running process; resolves once `ready(output)` holds. */
function start(cmd, args, env, ready, what) {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    children.push(p);
    let out = '';
    const timer = setTimeout(() => rej(new Error(`${what} did not start in 60 s:\n${out}`)), 60000);
    const check = (d) => {
      out += d;
      if (ready(out)) { clearTimeout(timer); res({ proc: p, output: () => out }); }
    };
    p.stdout.on('data', check);
    p.stderr.on('data', check);
    p.on('exit', (code) => { clearTimeout(timer); rej(new Error(`${what} exited ${code}:\n${out}`)); });
  });
}

async function apiCall(method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { 'x-token': TOKEN, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Polls `fn` until it returns a truthy value (deadline, no fixed sleeps). */
async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function createProject(name, shipyard, service) {
  await apiCall('POST', '/api/controlPlane/v1/project', { name, shipyard: Buffer.from(shipyard).toString('base64') });
  await apiCall('POST', `/api/controlPlane/v1/project/${name}/service`, { serviceName: service });
}

const fmtPct = (v) => `${Math.round(v * 10) / 10}`;
const fmtNum = (v) => (Math.abs(v) >= 1000 ? String(Math.round(v)) : String(Math.round(v * 1000) / 1000));
const SYM = { pass: '✓', warning: '!', fail: '✗', info: '·' };

let browser;
let page;
let failed = false;
try {
  let tourDir = process.env.SLUICE_UI_TOUR_DIR;
  await step('quickstart: the full tour', async () => {
    if (tourDir) { log(`   reusing ${tourDir}`); return; }
    tourDir = join(work, 'tour');
    const out = await run(binary, ['quickstart', '--data-dir', tourDir]);
    assert.match(out, /The tour went as the tutorial says/);
  });

  let server;
  await step('sluice server on the tour data, token from the environment', async () => {
    server = await start(binary, ['server', '--data-dir', tourDir, '--listen', `127.0.0.1:${port}`],
      { SLUICE_API_TOKEN: TOKEN }, (o) => o.includes('web UI:'), 'sluice server');
    assert.match(server.output(), new RegExp(`web UI: http://127\\.0\\.0\\.1:${port}/bridge/`));
    assert.doesNotMatch(server.output(), /#token=/, 'no token link for a token from the environment');
  });

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // launch() gives every run a fresh temporary profile (user-data-dir) of its own.
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/401|403/.test(m.text())) problems.push(`console: ${m.text()}`); });

  await step('login page: a wrong token is refused, the right one logs in', async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('#login-form');
    await page.screenshot({ path: join(shots, '01-login.png') });
    await page.fill('#token', 'wrong-token-000000000000');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('.login .error');
    assert.match(await page.textContent('.login .error'), /wrong API token/);
    await page.fill('#token', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#projects');
    const cookie = (await context.cookies()).find((c) => c.name === 'sluice_session');
    assert.ok(cookie, 'session cookie set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.ok(!(await page.evaluate(() => document.cookie)).includes('sluice_session'), 'not readable by scripts');
    assert.match(await page.textContent('#projects'), /fulltour/);
    await page.screenshot({ path: join(shots, '02-projects.png') });
  });

  await step('fulltour environment: both stages with their versions and evaluations', async () => {
    const project = await apiCall('GET', '/api/controlPlane/v1/project/fulltour');
    await page.click('#projects a[href="#/project/fulltour"]');
    await page.waitForSelector('section.stage[data-stage="production"]');
    const names = await page.$$eval('section.stage', (s) => s.map((x) => x.dataset.stage));
    assert.deepEqual(names, project.stages.map((s) => s.stageName));
    assert.deepEqual(names, ['qa', 'production']);
    assert.equal(await page.locator('.promotion').count(), 1);
    for (const s of project.stages) {
      const image = s.services[0].deployedImage;
      const v = image.slice(image.lastIndexOf(':') + 1);
      const text = await page.textContent(`section.stage[data-stage="${s.stageName}"] .service`);
      assert.ok(text.includes(v), `${s.stageName} shows ${v}: ${text}`);
    }
    assert.match(await page.textContent('section.stage[data-stage="qa"]'), /v0\.1\.2[\s\S]*✗ 66\.7 fail/);
    assert.match(await page.textContent('section.stage[data-stage="production"]'), /v0\.1\.1[\s\S]*✓ 100 pass/);
    await page.screenshot({ path: join(shots, '03-environment.png'), fullPage: true });
    await page.setViewportSize({ width: 420, height: 900 });
    await page.screenshot({ path: join(shots, '03b-environment-narrow.png'), fullPage: true });
    await page.setViewportSize({ width: 1400, height: 900 });
  });

  await step('heatmap: cells match the API; the failed evaluation is explained', async () => {
    const api = await apiCall('GET', '/api/sluice/v1/project/fulltour/stage/qa/service/helloservice/evaluations?pageSize=100');
    const rows = api.evaluations.slice().reverse();
    await page.click('section.stage[data-stage="qa"] a.eval');
    await page.waitForSelector('#heatmap');
    await page.waitForSelector('#explanation');
    const grid = await page.$$eval('#heatmap tbody tr', (trs) => trs.map((tr) => ({
      sli: tr.dataset.sli,
      cells: [...tr.querySelectorAll('td')].map((td) => ({ text: td.textContent.trim(), cls: td.className })),
    })));
    assert.equal(grid[0].sli, 'score');
    assert.equal(grid[0].cells.length, rows.length);
    rows.forEach((r, i) => {
      assert.equal(grid[0].cells[i].text, `${SYM[r.result]} ${fmtPct(r.score)}`);
      assert.ok(grid[0].cells[i].cls.includes(`r-${r.result}`));
      for (const ind of r.indicators) {
        const row = grid.find((g) => g.sli === ind.metric);
        assert.ok(row, `row of ${ind.metric}`);
        assert.equal(row.cells[i].text, `${SYM[ind.status]} ${fmtNum(ind.value)}`, ind.metric);
        assert.ok(row.cells[i].cls.includes(`r-${ind.status}`), `${ind.metric}: ${row.cells[i].cls}`);
      }
    });
    // The newest qa evaluation (v0.1.2) failed: selected, compared with v0.1.1, explained.
    const newest = rows[rows.length - 1];
    assert.equal(newest.result, 'fail');
    const headers = await page.$$eval('#heatmap thead th.ch', (ths) => ths.map((t) => ({ cls: t.className, text: t.textContent })));
    assert.ok(headers[headers.length - 1].cls.includes(' s'), 'the newest is selected');
    for (const id of newest.comparedEvents) {
      const i = rows.findIndex((r) => r.id === id);
      assert.ok(headers[i].cls.includes(' c') && headers[i].text.startsWith('◆'), 'compared one is marked');
    }
    const explanation = await page.textContent('#details');
    assert.match(explanation, /✗ fail/);
    assert.match(explanation, /Evaluation failed since the calculated score of 66\.6+\d* is below the warning value of 75/);
    const rt = await page.textContent('#explanation tr[data-sli="response_time_p95"]');
    assert.match(rt, /✗ fail/);
    assert.match(rt, /✗ pass <=300\s+→ <=300/);
    assert.match(await page.textContent('#explanation tr[data-sli="error_rate"]'), /★ key/);
    await page.screenshot({ path: join(shots, '04-quality-heatmap.png'), fullPage: true });

    // Select the oldest evaluation by clicking its column, and ignore it for comparison.
    const oldest = rows[0];
    await page.click(`#heatmap button[data-eval="${oldest.id}"]`);
    await page.waitForSelector('#heatmap thead th.ch.s:first-of-type, #heatmap thead th:nth-child(2).s');
    assert.match(await page.textContent('#details h2'), new RegExp(`Evaluation ${oldest.label}`));
    await page.click('#invalidate');
    await page.waitForSelector('#heatmap thead th:nth-child(2).x');
    const after = await apiCall('GET', '/api/sluice/v1/project/fulltour/stage/qa/service/helloservice/evaluations?pageSize=100');
    assert.equal(after.evaluations.find((r) => r.id === oldest.id).invalidated, true);
    await page.screenshot({ path: join(shots, '04b-quality-ignored-for-comparison.png'), fullPage: true });
  });

  await step('a statistical criterion: numbers, both distributions, pin as baseline', async () => {
    await createProject('canary', `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: canary
spec:
  stages:
    - name: qa
      sequences:
        - name: delivery
          tasks:
            - name: evaluation
`, 'svc');
    const slo = `comparison:
  compare_with: baseline
objectives:
  - sli: response_time
    displayName: Response time distribution
    statistical:
      test: mann-whitney
      direction: increase
      alpha: 0.05
total_score:
  pass: "90%"
  warning: "75%"
`;
    const body = (i) => 20 + ((i * 37) % 100) / 10;
    const baseSamples = Array.from({ length: 400 }, (_, i) => body(i));
    const tailSamples = Array.from({ length: 400 }, (_, i) => (i % 10 === 0 ? body(i) + 300 : body(i)));
    const evaluation = (id, n, samples, result, compared) => ({
      specversion: '1.0', id, source: 'lighthouse-service', type: 'sh.keptn.event.evaluation.finished',
      datacontenttype: 'application/json', triggeredid: randomUUID(), time: `2026-01-01T00:0${n}:00.000Z`,
      data: { project: 'canary', stage: 'qa', service: 'svc', labels: { buildId: `b${n}` }, status: 'succeeded', result, message: '',
        evaluation: { score: result === 'pass' ? 100 : 0, result, sloFileContent: Buffer.from(slo).toString('base64'), comparedEvents: compared,
          timeStart: '2026-01-01T00:00:00Z', timeEnd: '2026-01-01T00:05:00Z',
          indicatorResults: [{ score: result === 'pass' ? 1 : 0, status: result, keySli: false, displayName: 'Response time distribution',
            value: { metric: 'response_time', value: samples.reduce((a, b) => a + b, 0) / samples.length, success: true, samples },
            passTargets: [{ criteria: 'mann-whitney increase alpha=0.05', targetValue: 0.05, violated: result !== 'pass' }], warningTargets: null }] } },
    });
    const baseId = randomUUID(), tailId = randomUUID();
    await apiCall('POST', '/api/v1/event', evaluation(baseId, 1, baseSamples, 'pass', []));
    await apiCall('POST', '/api/v1/event', evaluation(tailId, 2, tailSamples, 'fail', [baseId]));
    await page.goto(`${base}/bridge/#/project/canary/service/svc/quality?stage=qa&eval=${tailId}`);
    await page.waitForSelector('tr[data-statistical="response_time"]');
    const text = await page.textContent('tr[data-statistical="response_time"]');
    assert.match(text, /✗ mann-whitney increase alpha=0\.05/);
    assert.match(text, /current\s*400/);
    assert.match(text, /baseline\s*400/);
    const api = await apiCall('GET', `/api/sluice/v1/evaluation/${tailId}`);
    const st = api.explanation.objectives[0].statistical;
    assert.equal(st.passed, false);
    assert.ok(st.pValue < 0.05, JSON.stringify(st));
    assert.equal(await page.locator('tr[data-statistical="response_time"] svg polyline.ecdf').count(), 2);
    assert.match(await page.textContent('#baseline-note'), /No baseline is pinned/);
    await page.screenshot({ path: join(shots, '04c-statistical-criterion.png'), fullPage: true });
    // Pin the older evaluation as the stage's baseline.
    await page.click(`#heatmap button[data-eval="${baseId}"]`);
    await page.waitForSelector('#pin-baseline');
    await page.click('#pin-baseline');
    await page.waitForSelector('#pinned-badge');
    const pinned = await apiCall('GET', '/api/sluice/v1/project/canary/stage/qa/service/svc/baseline');
    assert.equal(pinned.evaluationId, baseId);
    await page.screenshot({ path: join(shots, '04d-pinned-baseline.png'), fullPage: true });
  });

  await step('sequences list and a timeline with job output', async () => {
    await page.goto(`${base}/bridge/#/project/fulltour/sequences`);
    await page.waitForSelector('table.list tbody tr a');
    assert.ok((await page.locator('table.list tbody tr').count()) >= 2);
    // The tour's slow version fails its quality gate: that delivery shows as failed, not
    // only as finished.
    assert.match(await page.textContent('table.list'), /✗ failed/);
    assert.match(await page.textContent('table.list'), /✓ succeeded/);
    await page.screenshot({ path: join(shots, '05-sequences.png'), fullPage: true });
    await page.click('table.list tbody tr a');
    await page.waitForSelector('.timeline-stage li.task[data-task="evaluation"]');
    await page.locator('details.output summary').first().click();
    assert.match(await page.locator('details.output pre').first().textContent(), /deployed fulltour/);
    await page.locator('details.raw summary').first().click();
    await page.waitForFunction(() => document.querySelector('details.raw pre').textContent.includes('"shkeptncontext"'));
    await page.screenshot({ path: join(shots, '06-sequence-timeline.png'), fullPage: true });
  });

  await step('manual approval: waits, is approved by a click, the sequence finishes', async () => {
    await createProject('approvals', `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: approvals
spec:
  stages:
    - name: staging
      sequences:
        - name: release
          tasks:
            - name: approval
              properties:
                pass: manual
                warning: manual
            - name: evaluation
              properties:
                timeframe: 5m
`, 'shop');
    await page.goto(`${base}/bridge/#/project/approvals`);
    await page.waitForSelector('section.stage[data-stage="staging"]');
    await page.waitForSelector('#live.on');
    // A notification of waiting approvals (its receiver does not resolve: the delivery stays
    // pending with its error, which the notifications page shows).
    await apiCall('POST', '/api/sluice/v1/project/approvals/notification/rule', {
      name: 'e2e-chat', channel: { kind: 'slack', url: 'https://hooks.slack.invalid/services/x' }, events: ['approval.waiting'],
    });
    const answer = await apiCall('POST', '/api/v1/event', {
      specversion: '1.0', source: 'ui-e2e', type: 'sh.keptn.event.staging.release.triggered',
      datacontenttype: 'application/json',
      data: { project: 'approvals', stage: 'staging', service: 'shop', labels: { version: '1.2.3' } },
    });
    const ctx = answer.keptnContext;
    // The open approval shows up live, without a reload.
    await page.waitForSelector('li.approval button.approve', { timeout: 30000 });
    assert.match(await page.textContent('li.approval'), /waiting for approval/);
    await page.screenshot({ path: join(shots, '07-approval-waiting.png'), fullPage: true });
    // A viewer token sees the open approval but no Approve or Decline button, nor the
    // sequence controls or the audit log.
    const viewer = await apiCall('POST', '/api/sluice/v1/tokens', { name: 'e2e-viewer', role: 'viewer', project: 'approvals', expires: '1d' });
    const viewerContext = await browser.newContext();
    const vp = await viewerContext.newPage();
    await vp.goto(`${base}/bridge/#token=${encodeURIComponent(viewer.token)}`);
    await vp.waitForSelector('#whoami:has-text("e2e-viewer (viewer, approvals)")');
    // Limited to one project, it lists only that one.
    await vp.waitForSelector('main a[href="#/project/approvals"]');
    assert.equal(await vp.locator('main a[href="#/project/fulltour"]').count(), 0);
    await vp.goto(`${base}/bridge/#/project/approvals`);
    await vp.waitForSelector('li.approval .no-approve');
    assert.equal(await vp.locator('li.approval button').count(), 0, 'no approve buttons for a viewer');
    assert.equal(await vp.locator('#nav a[href="#/audit"]').count(), 0);
    await vp.goto(`${base}/bridge/#/project/approvals/sequence/${ctx}`);
    await vp.waitForSelector('.timeline-stage li.task[data-task="approval"]');
    assert.equal(await vp.locator('#controls').count(), 0, 'no pause/resume/abort for a viewer');
    await vp.screenshot({ path: join(shots, '07b-approval-as-viewer.png'), fullPage: true });
    await viewerContext.close();
    await page.click('li.approval button.approve');
    await page.waitForSelector('.ok[role=status], section.stage:not(:has(li.approval))');
    await until('the sequence to finish', async () => {
      const s = await apiCall('GET', `/api/controlPlane/v1/sequence/approvals?keptnContext=${ctx}`);
      return s.states[0] && s.states[0].state === 'finished';
    });
    await page.goto(`${base}/bridge/#/project/approvals/sequence/${ctx}`);
    await page.waitForSelector('li.task[data-task="evaluation"] .badge.r-pass');
    assert.match(await page.textContent('main'), /✓ succeeded/);
    assert.match(await page.textContent('li.task[data-task="approval"]'), /✓ pass/);
    await page.screenshot({ path: join(shots, '08-approval-finished.png'), fullPage: true });
    // The audit log shows who approved it.
    await page.goto(`${base}/bridge/#/audit?action=approve`);
    await page.waitForSelector('table.audit tbody tr td code');
    assert.match(await page.textContent('table.audit tbody'), /admin[\s\S]*approve[\s\S]*approvals \/ staging \/ shop/);
    await page.screenshot({ path: join(shots, '08b-audit.png'), fullPage: true });
    // The project's notifications: the rule and the delivery of the waiting approval.
    await until('the approval notification', async () => {
      const log = await apiCall('GET', '/api/sluice/v1/project/approvals/notification/delivery');
      return log.deliveries.some((/** @type {any} */ d) => d.event === 'approval.waiting' && d.attempts > 0);
    });
    await page.goto(`${base}/bridge/#/project/approvals/notifications`);
    await page.waitForSelector('table.deliveries tbody tr td code');
    assert.match(await page.textContent('table.rules tbody'), /e2e-chat[\s\S]*approval\.waiting[\s\S]*slack[\s\S]*hooks\.slack\.invalid\/…/);
    assert.match(await page.textContent('table.channels tbody'), /e2e-chat[\s\S]*slack/);
    assert.match(await page.textContent('table.deliveries tbody'), /e2e-chat[\s\S]*approval\.waiting[\s\S]*pending/);
    await page.screenshot({ path: join(shots, '08c-notifications.png'), fullPage: true });
  });

  await step('heatmap of 1,000 evaluations × 20 SLIs', async () => {
    await createProject('heatmap', `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: heatmap
spec:
  stages:
    - name: perf
      sequences:
        - name: delivery
          tasks:
            - name: evaluation
`, 'svc');
    const N = 1000, S = 20;
    const events = [];
    for (let i = 0; i < N; i++) {
      const indicatorResults = [];
      let score = 0;
      for (let k = 0; k < S; k++) {
        const value = Math.round((100 + 50 * Math.sin(i / 17 + k)) * 1000) / 1000;
        const status = value < 130 ? 'pass' : value < 140 ? 'warning' : 'fail';
        score += status === 'pass' ? 1 : status === 'warning' ? 0.5 : 0;
        indicatorResults.push({
          score: status === 'pass' ? 1 : 0, status, keySli: k === 0, displayName: `SLI ${k}`,
          value: { metric: `sli_${k}`, value, success: true, comparedValue: 0 },
          passTargets: [{ criteria: '<130', targetValue: 130, violated: status !== 'pass' }],
          warningTargets: [{ criteria: '<140', targetValue: 140, violated: status === 'fail' }],
        });
      }
      score = (100 * score) / S;
      const result = score >= 90 ? 'pass' : score >= 75 ? 'warning' : 'fail';
      events.push({
        specversion: '1.0', source: 'ui-e2e', type: 'sh.keptn.event.evaluation.finished',
        datacontenttype: 'application/json', triggeredid: randomUUID(),
        data: { project: 'heatmap', stage: 'perf', service: 'svc', labels: { buildId: `b${i}` },
          status: 'succeeded', result, message: `seeded ${i}`,
          evaluation: { score, result, indicatorResults, comparedEvents: [] } },
      });
    }
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < events.length) await apiCall('POST', '/api/v1/event', events[next++]);
    }));
    const t0 = Date.now();
    await page.goto(`${base}/bridge/#/project/heatmap/service/svc/quality?stage=perf`);
    await page.waitForSelector('#heatmap', { timeout: 60000 });
    const loadMs = Date.now() - t0;
    const cells = await page.locator('#heatmap tbody td').count();
    assert.equal(cells, N * (S + 1));
    const renderMs = await page.$eval('#heatmap', (t) => Number(t.dataset.renderMs));
    const fetchAndRender = await page.$eval('#heatmap-box', (b) => Number(b.dataset.loadMs));
    log(`ui_heatmap_render_ms ${renderMs.toFixed(1)}`);
    log(`ui_heatmap_fetch_and_render_ms ${fetchAndRender.toFixed(1)}`);
    log(`ui_heatmap_page_ms ${loadMs}`);
    await page.screenshot({ path: join(shots, '09-heatmap-1000x20.png') });
  });

  await step('integrations page', async () => {
    await apiCall('POST', '/api/controlPlane/v1/uniform/registration', {
      name: 'e2e-executor', metadata: { hostname: 'ci-host', integrationversion: '1.0.0', distributorversion: '1.0.0' },
      subscriptions: [{ event: 'sh.keptn.event.je-test.triggered', filter: { projects: ['fulltour'] } }],
    });
    await page.goto(`${base}/bridge/#/integrations`);
    // The hash changes within the page: wait for the integrations table itself, not any table.
    await until('the integrations table with the new registration', async () =>
      /e2e-executor[\s\S]*sh\.keptn\.event\.je-test\.triggered/.test(await page.textContent('main')), 10000);
    assert.match(await page.textContent('main'), /webhook-service/);
    await page.screenshot({ path: join(shots, '10-integrations.png'), fullPage: true });
  });

  await step('token link: printed by a server that created its token, logs in and leaves the address bar', async () => {
    const fresh = await start(binary, ['server', '--data-dir', join(work, 'fresh'), '--listen', `127.0.0.1:${port + 1}`],
      { SLUICE_API_TOKEN: '' }, (o) => /#token=\S+\n/.test(o), 'a fresh sluice server');
    const url = fresh.output().match(/(http:\/\/\S+\/bridge\/#token=\S+)/)[1];
    const other = await browser.newContext();
    const p2 = await other.newPage();
    await p2.goto(url);
    await p2.waitForSelector('main h1');
    await until('the token to leave the address bar', async () => !p2.url().includes('token='), 10000);
    // The address bar is cleaned before the login answer arrives: wait for the page it opens.
    await until('the logged-in start page', async () => /No projects yet/.test(await p2.textContent('main')), 10000);
    await other.close();
    // Pasted into a tab that already shows the login page: only the hash changes.
    const third = await browser.newContext();
    const p3 = await third.newPage();
    await p3.goto(url.replace(/#token=.*/, ''));
    await p3.waitForSelector('#login-form');
    await p3.goto(url);
    await p3.waitForSelector('#logout:not([hidden])');
    await until('the token to leave the address bar', async () => !p3.url().includes('token='), 10000);
    await until('the logged-in start page', async () => /No projects yet/.test(await p3.textContent('main')), 10000);
    await third.close();
    fresh.proc.kill('SIGTERM');
  });

  assert.deepEqual(problems, [], 'no script errors in the pages');
  log(`screenshots in ${shots}`);
} catch (e) {
  failed = true;
  console.error(`FAILED: ${e.stack || e}`);
  if (page) {
    await page.screenshot({ path: join(shots, 'failed.png'), fullPage: true }).catch(() => {});
    console.error(`the page at the failure (${page.url()}): ${join(shots, 'failed.png')}`);
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true, maxRetries: 3 });
}
log(failed ? 'ui e2e: FAILED' : 'ui e2e: passed');
process.exit(failed ? 1 : 0);
