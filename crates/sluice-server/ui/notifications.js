// @ts-check
// A project's notifications: its rules (which events go to which channel), its channels (URLs
// shown with their secret parts hidden) and the delivery log, newest first, paged. Read only:
// rules and channels are created and deleted with `sluice create|delete notification` or the
// API.

import * as api from './api.js';
import { html, show, time, enc } from './dom.js';

/**
 * The rows of the rules table.
 * @param {any[]} rules
 */
export function rulesHtml(rules) {
  if (!rules.length) return html`<tr><td colspan="5" class="muted">no rules</td></tr>`;
  return rules.map((r) => html`<tr>
      <td>${r.name}</td>
      <td>${(r.events || []).map((/** @type {string} */ e) => html`<code>${e}</code> `)}</td>
      <td class="small">${(r.stages || []).join(', ') || '*'} / ${(r.services || []).join(', ') || '*'}</td>
      <td>${r.channel} <span class="small muted">${r.channelKind}</span></td><td class="small">${r.target}</td></tr>`);
}

/**
 * The rows of the channels table.
 * @param {any[]} channels
 */
export function channelsHtml(channels) {
  if (!channels.length) return html`<tr><td colspan="4" class="muted">no channels</td></tr>`;
  return channels.map((c) => html`<tr>
      <td>${c.name}</td><td>${c.kind}</td><td class="small">${c.target}</td>
      <td class="small">${c.template ? 'template' : 'default'}</td></tr>`);
}

/**
 * The last outcome of a delivery, for the log.
 * @param {any} d
 */
export function lastOutcome(d) {
  if (d.lastError) return d.lastError;
  if (d.lastStatus) return `HTTP ${d.lastStatus}`;
  return '';
}

/**
 * The rows of the delivery log.
 * @param {string} project
 * @param {any[]} deliveries
 */
export function deliveriesHtml(project, deliveries) {
  if (!deliveries.length) return html`<tr><td colspan="7" class="muted">no deliveries</td></tr>`;
  return deliveries.map((d) => html`<tr>
      <td class="nowrap">${time(d.createdAt)}</td><td>${d.rule} <span class="small muted">→ ${d.channel}</span></td><td><code>${d.event}</code></td>
      <td>${[d.stage, d.service].filter(Boolean).join(' / ')}</td>
      <td><span class="badge s-${d.state}">${d.state}</span> ${d.attempts}×${d.nextAttemptAt ? html` <span class="small muted">next ${time(d.nextAttemptAt)}</span>` : ''}</td>
      <td class="small">${lastOutcome(d)}</td>
      <td class="small">${d.keptnContext ? html`<a href="#/project/${enc(project)}/sequence/${enc(d.keptnContext)}">${d.keptnContext}</a>` : ''}</td></tr>`);
}

/**
 * Renders a project's notifications and delivery log.
 * @param {HTMLElement} main
 * @param {string} project
 * @param {URLSearchParams} params
 */
export async function notificationsView(main, project, params) {
  const pageKey = params.get('page') || '';
  const path = `/api/sluice/v1/project/${enc(project)}/notification`;
  const [rules, channels, log] = await Promise.all([
    api.get(`${path}/rule`),
    api.get(`${path}/channel`),
    api.get(`${path}/delivery`, { pageSize: 50, nextPageKey: pageKey }),
  ]);
  const link = (/** @type {string} */ page) => `#/project/${enc(project)}/notifications${page ? `?page=${enc(page)}` : ''}`;
  show(main, html`<h1>Notifications of ${project}</h1>
    <h2>Rules</h2>
    <table class="list rules"><thead><tr><th>Name</th><th>Events</th><th>Stages / services</th><th>Channel</th><th>Target</th></tr></thead>
    <tbody>${rulesHtml(rules.rules || [])}</tbody></table>
    <h2>Channels</h2>
    <table class="list channels"><thead><tr><th>Name</th><th>Kind</th><th>Target</th><th>Message</th></tr></thead>
    <tbody>${channelsHtml(channels.channels || [])}</tbody></table>
    <h2>Delivery log</h2>
    <table class="list deliveries"><thead><tr><th>Time</th><th>Rule</th><th>Event</th><th>Where</th><th>State</th><th>Last outcome</th><th>Context</th></tr></thead>
    <tbody>${deliveriesHtml(project, log.deliveries || [])}</tbody></table>
    <p class="pager">${pageKey ? html`<a href="${link('')}">« newest</a>` : ''}
      ${log.nextPageKey ? html`<a href="${link(log.nextPageKey)}">older »</a>` : ''}
      <span class="muted">${log.totalCount ?? ''} in all</span></p>`);
}
