// @ts-check
// A project's notifications: its rules (which events go to which channel; URLs shown with
// their secret parts hidden) and the delivery log, newest first, paged. Read only: rules are
// created and deleted with `sluice create|delete notification` or the API.

import * as api from './api.js';
import { html, show, time, enc } from './dom.js';

/**
 * The rows of the rules table.
 * @param {any[]} rules
 */
export function rulesHtml(rules) {
  if (!rules.length) return html`<tr><td colspan="6" class="muted">no notifications</td></tr>`;
  return rules.map((n) => html`<tr>
      <td>${n.name}</td><td>${n.channel}</td><td class="small">${n.target}</td>
      <td>${(n.events || []).map((/** @type {string} */ e) => html`<code>${e}</code> `)}</td>
      <td class="small">${(n.stages || []).join(', ') || '*'} / ${(n.services || []).join(', ') || '*'}</td>
      <td class="small">${n.template ? 'custom' : 'default'}</td></tr>`);
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
      <td class="nowrap">${time(d.createdAt)}</td><td>${d.notification}</td><td><code>${d.event}</code></td>
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
  const path = `/api/sluice/v1/project/${enc(project)}`;
  const [rules, log] = await Promise.all([
    api.get(`${path}/notification`),
    api.get(`${path}/notification-delivery`, { pageSize: 50, nextPageKey: pageKey }),
  ]);
  const link = (/** @type {string} */ page) => `#/project/${enc(project)}/notifications${page ? `?page=${enc(page)}` : ''}`;
  show(main, html`<h1>Notifications of ${project}</h1>
    <table class="list rules"><thead><tr><th>Name</th><th>Channel</th><th>Target</th><th>Events</th><th>Stages / services</th><th>Message</th></tr></thead>
    <tbody>${rulesHtml(rules.notifications || [])}</tbody></table>
    <h2>Delivery log</h2>
    <table class="list deliveries"><thead><tr><th>Time</th><th>Notification</th><th>Event</th><th>Where</th><th>State</th><th>Last outcome</th><th>Context</th></tr></thead>
    <tbody>${deliveriesHtml(project, log.deliveries || [])}</tbody></table>
    <p class="pager">${pageKey ? html`<a href="${link('')}">« newest</a>` : ''}
      ${log.nextPageKey ? html`<a href="${link(log.nextPageKey)}">older »</a>` : ''}
      <span class="muted">${log.totalCount ?? ''} in all</span></p>`);
}
