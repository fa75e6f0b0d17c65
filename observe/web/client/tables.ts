/** The cluster tables (brokers, topics, consumer groups, producers, all actors) as HTML, from the shared row builders. */
import type { ClusterView } from '../../cluster-view.js';
import { actorRows, brokerRows, groupRows, producerRows, requestRows, topicRows } from '../../view-rows.js';
import { h } from './dom.js';
import { bytes, clock, int, rate } from './format.js';


interface Column<R> {
  title: string;
  num?: boolean;
  cell(row: R): string;
}

function table<R>(columns: Column<R>[], rows: R[], attrs: (r: R) => Record<string, string> = () => ({})): HTMLElement {
  const head = h('tr', {}, ...columns.map((c) => h('th', c.num ? { class: 'num' } : {}, c.title)));
  const body = rows.map((r) => h('tr', attrs(r), ...columns.map((c) => h('td', c.num ? { class: 'num' } : {}, c.cell(r)))));
  return h('table', { class: 'grid' }, h('thead', {}, head), h('tbody', {}, ...body));
}

const none = (what: string): HTMLElement =>
  h('div', { class: 'note' }, `No ${what} figures yet: roles report them about once a second while the console watches.`);

export function renderBrokers(pane: HTMLElement, view: ClusterView): void {
  const rows = brokerRows(view);
  if (rows.length === 0) return pane.replaceChildren(none('broker'));
  pane.replaceChildren(
    table(
      [
        { title: 'Broker', cell: (r) => `${r.brokerName} / ${r.brokerId}` },
        { title: 'Address', cell: (r) => r.address },
        { title: 'Role', cell: (r) => r.role + (r.epoch !== undefined ? ` (epoch ${r.epoch})` : '') },
        { title: 'Store', cell: (r) => r.health },
        { title: 'Commit log', num: true, cell: (r) => bytes(r.commitLogSize) },
        { title: 'Write offset', num: true, cell: (r) => int(r.writeOffset) },
        { title: 'Flushed', num: true, cell: (r) => int(r.flushedOffset) },
        { title: 'Dispatched', num: true, cell: (r) => int(r.dispatched) },
        { title: 'In TPS', num: true, cell: (r) => rate(r.inTps) },
        { title: 'Out TPS', num: true, cell: (r) => rate(r.outTps) },
        { title: 'Requests/s', num: true, cell: (r) => rate(r.requestTps) },
        { title: 'Held pulls', num: true, cell: (r) => int(r.heldPulls) },
        { title: 'Repl. lag', num: true, cell: (r) => (r.replicationLag === undefined ? '–' : bytes(r.replicationLag)) },
        { title: 'In sync', cell: (r) => (r.inSync ? r.inSync.join(', ') : '–') },
      ],
      rows,
      (r) => ({ 'data-broker': r.address }),
    ),
    // a serving broker's requests never pass through its machine: they show here, by code
    h('h3', {}, 'Requests by code'),
    table(
      [
        { title: 'Broker', cell: (r) => r.broker },
        { title: 'Request code', cell: (r) => r.code },
        { title: 'Total', num: true, cell: (r) => int(r.total) },
        { title: 'Per second', num: true, cell: (r) => rate(r.tps) },
      ],
      requestRows(view),
      (r) => ({ 'data-request': `${r.address} ${r.code}` }),
    ),
  );
}

export function renderTopics(pane: HTMLElement, view: ClusterView): void {
  const rows = topicRows(view);
  if (rows.length === 0) return pane.replaceChildren(none('topic'));
  pane.replaceChildren(
    table(
      [
        { title: 'Topic', cell: (r) => r.topic },
        { title: 'Brokers', cell: (r) => r.brokers.join(', ') },
        { title: 'Queues', num: true, cell: (r) => int(r.queues) },
        { title: 'Min offset', num: true, cell: (r) => int(r.minOffset) },
        { title: 'Max offset', num: true, cell: (r) => int(r.maxOffset) },
        { title: 'Messages', num: true, cell: (r) => int(r.messages) },
        { title: 'TPS', num: true, cell: (r) => rate(r.tps) },
      ],
      rows,
      (r) => ({ 'data-topic': r.topic }),
    ),
  );
}

export function renderGroups(pane: HTMLElement, view: ClusterView): void {
  const groups = groupRows(view);
  if (groups.length === 0) return pane.replaceChildren(none('consumer group'));
  const parts: HTMLElement[] = [];
  for (const g of groups) {
    parts.push(h('h3', {}, g.group));
    parts.push(h('div', { class: 'note' }, `clients ${g.clients.join(', ') || 'none'} · total lag ${int(g.totalLag)} · consumed ${int(g.consumed)} · ${rate(g.tps)} commits/s`));
    parts.push(
      table(
        [
          { title: 'Topic', cell: (q) => q.topic },
          { title: 'Broker', cell: (q) => q.brokerName },
          { title: 'Queue', num: true, cell: (q) => String(q.queueId) },
          { title: 'Broker offset', num: true, cell: (q) => int(q.brokerOffset) },
          { title: 'Consumer offset', num: true, cell: (q) => int(q.consumerOffset) },
          { title: 'Lag', num: true, cell: (q) => int(q.lag) },
          { title: 'Held by', cell: (q) => q.client || '–' },
          { title: 'Cached', num: true, cell: (q) => int(q.cached) },
        ],
        g.queues,
        (q) => ({ 'data-group': g.group, 'data-queue': `${q.topic}|${q.brokerName}|${q.queueId}` }),
      ),
    );
  }
  pane.replaceChildren(...parts);
}

export function renderProducers(pane: HTMLElement, view: ClusterView): void {
  const rows = producerRows(view);
  if (rows.length === 0) return pane.replaceChildren(none('producer'));
  pane.replaceChildren(
    table(
      [
        { title: 'Group', cell: (r) => r.group },
        { title: 'Client', cell: (r) => r.clientId },
        { title: 'Address', cell: (r) => r.address },
        { title: 'Sent', num: true, cell: (r) => int(r.sent) },
        { title: 'Failed', num: true, cell: (r) => int(r.failed) },
        { title: 'TPS', num: true, cell: (r) => rate(r.tps) },
      ],
      rows,
    ),
  );
}

export function renderActors(pane: HTMLElement, view: ClusterView): void {
  const rows = actorRows(view);
  pane.replaceChildren(
    table(
      [
        { title: 'Source', cell: (r) => r.source },
        { title: 'Address', cell: (r) => r.address },
        { title: 'Actor', cell: (r) => (r.root ? '(root)' : r.actorId) },
        { title: 'Role', cell: (r) => r.role },
        { title: 'Machine', cell: (r) => r.machine ?? '–' },
        { title: 'State', cell: (r) => r.state },
        { title: 'Last event', cell: (r) => r.lastEvent ?? '–' },
        { title: 'At', cell: (r) => clock(r.lastTime) },
      ],
      rows,
    ),
  );
}

