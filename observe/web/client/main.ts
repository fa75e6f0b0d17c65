/**
 * The console in the browser: folds the live stream (Server-Sent Events) into a ClusterView with the same model
 * code Node uses, or, in time travel, shows a trace's view at the chosen moment (Timeline); draws the selected
 * actors' state charts, the actor list and the cluster tables from whichever view is current.
 */
import { applyDropped, applyRecord, emptyView, roleOfAddress, type ActorView, type ClusterView } from '../../cluster-view.js';
import type { ObservedRecord } from '../../source.js';
import { formatState } from '../../state-value.js';
import { Timeline } from '../../timeline.js';
import { readTrace } from '../../trace-records.js';
import type { MachineLayout } from '../layout-types.js';
import { ChartCard } from './chart.js';
import { byId, h } from './dom.js';
import { clock, int, offset } from './format.js';
import { renderActors, renderBrokers, renderGroups, renderProducers, renderTopics } from './tables.js';

/** Charts selected on their own when first seen (more are a click away). */
const AUTO_SELECT = 12;
const RENDER_MS = 50;

interface Dropped {
  sources: Record<string, number>;
  browser: number;
}

const app = {
  live: emptyView(),
  liveConnected: false,
  hasLive: false,
  dropped: { sources: {}, browser: 0 } as Dropped,
  mode: 'idle' as 'idle' | 'live' | 'trace',
  timeline: undefined as Timeline | undefined,
  traceName: '',
  pos: 0,
  traceView: undefined as ClusterView | undefined,
  tab: 'charts',
  selected: new Set<string>(),
  seen: new Set<string>(),
  cards: new Map<string, ChartCard>(),
  layouts: new Map<string, MachineLayout | Error | 'pending'>(),
};

const current = (): ClusterView => (app.mode === 'trace' && app.traceView !== undefined ? app.traceView : app.live);

// ------------------------------------------------------------------------------------------ rendering

let renderTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleRender(): void {
  if (renderTimer !== undefined) return;
  renderTimer = setTimeout(() => {
    renderTimer = undefined;
    render();
  }, RENDER_MS);
}

function render(): void {
  const view = current();
  autoSelect(view);
  renderHeader(view);
  renderList(view);
  if (app.tab === 'charts') renderCharts(view);
  else renderTab(view);
}

function renderHeader(view: ClusterView): void {
  const mode = byId('mode');
  if (app.mode === 'trace') {
    mode.textContent = `trace ${app.traceName}`;
    mode.className = 'badge trace';
  } else if (app.mode === 'live') {
    mode.textContent = app.liveConnected ? 'live' : 'reconnecting';
    mode.className = app.liveConnected ? 'badge live' : 'badge';
  } else {
    mode.textContent = 'no live source';
    mode.className = 'badge';
  }
  byId('clock').textContent = view.time > 0 ? clock(view.time) : '';
  const total = Object.values(app.dropped.sources).reduce((a, b) => a + b, 0) + app.dropped.browser;
  const dropped = byId('dropped');
  dropped.textContent = `Dropped: ${int(total)}`;
  dropped.dataset.count = String(total);
  dropped.classList.toggle('some', total > 0);
}

/** Root actors and actors running a machine: the ones with a chart worth showing. */
function chartable(view: ClusterView): ActorView[] {
  return [...view.actors.values()].filter((a) => a.root || a.machine !== undefined).sort((a, b) => cmp(a.source, b.source) || cmp(a.address, b.address) || cmp(a.actorId, b.actorId));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function autoSelect(view: ClusterView): void {
  for (const a of chartable(view)) {
    if (app.seen.has(a.key)) continue;
    app.seen.add(a.key);
    if (a.root && app.selected.size < AUTO_SELECT) app.selected.add(a.key);
  }
}

const ROLE_ORDER = ['namesrv', 'controller', 'broker', 'producer', 'consumer', 'client'];
const ROLE_TITLE: Record<string, string> = { namesrv: 'Name servers', controller: 'Controllers', broker: 'Brokers', producer: 'Producers', consumer: 'Consumers', client: 'Clients' };

function roleOf(view: ClusterView, a: ActorView): string {
  const stats = view.roles.get(`${a.source}|${a.address}`)?.latest.stats;
  return stats !== undefined ? stats.role : roleOfAddress(a.address);
}

let lastList = '';
function renderList(view: ClusterView): void {
  const actors = chartable(view);
  const key = actors.map((a) => `${a.key}:${formatState(a.state, a.status)}:${app.selected.has(a.key)}`).join('\n');
  if (key === lastList) return;
  lastList = key;
  const bySource = new Map<string, Map<string, ActorView[]>>();
  for (const a of actors) {
    const roles = bySource.get(a.source) ?? new Map<string, ActorView[]>();
    bySource.set(a.source, roles);
    const role = roleOf(view, a);
    roles.set(role, [...(roles.get(role) ?? []), a]);
  }
  const out: HTMLElement[] = [];
  for (const [source, roles] of bySource) {
    if (bySource.size > 1 || source !== 'local') out.push(h('div', { class: 'source' }, source));
    const order = [...roles.keys()].sort((a, b) => rank(a) - rank(b) || cmp(a, b));
    for (const role of order) {
      out.push(h('div', { class: 'role' }, ROLE_TITLE[role] ?? role));
      for (const a of roles.get(role)!) {
        const status = a.status ?? 'active';
        const item = h(
          'div',
          { class: `actor-item${app.selected.has(a.key) ? ' selected' : ''}`, 'data-key': a.key, 'data-actor': a.address, title: `${a.address}${a.root ? '' : ` / ${a.actorId}`} (click to show or hide its chart)` },
          h('span', { class: 'name' }, a.root ? a.address : `  ${a.actorId}`),
          h('span', { class: `pill ${status}` }, formatState(a.state, a.status) || status),
        );
        item.addEventListener('click', () => {
          if (app.selected.has(a.key)) app.selected.delete(a.key);
          else app.selected.add(a.key);
          render();
        });
        out.push(item);
      }
    }
  }
  byId('actor-list').replaceChildren(...(out.length > 0 ? out : [h('div', { class: 'note', style: 'padding: 0 14px' }, 'No actors yet.')]));
}

const rank = (role: string): number => {
  const i = ROLE_ORDER.indexOf(role);
  return i < 0 ? ROLE_ORDER.length : i;
};

function renderCharts(view: ClusterView): void {
  const container = byId('charts');
  const shown = chartable(view).filter((a) => app.selected.has(a.key));
  const keep = new Set(shown.map((a) => a.key));
  for (const [key, card] of app.cards) {
    if (!keep.has(key)) {
      card.el.remove();
      app.cards.delete(key);
    }
  }
  let previous: Element | null = null;
  for (const a of shown) {
    let card = app.cards.get(a.key);
    if (card === undefined) {
      card = new ChartCard(a.key);
      app.cards.set(a.key, card);
    }
    const layout = layoutFor(view, a);
    card.setLayout(layout instanceof Error || layout === 'pending' ? undefined : layout, layoutNote(a, layout));
    card.update(a);
    // Keep the cards in list order.
    const want: Element | null = previous === null ? container.firstElementChild : previous.nextElementSibling;
    if (want !== card.el) container.insertBefore(card.el, want);
    previous = card.el;
  }
  byId('charts-empty').hidden = shown.length > 0;
}

function layoutNote(a: ActorView, layout: MachineLayout | Error | 'pending' | undefined): string {
  if (layout instanceof Error) return `could not lay out its chart: ${layout.message}`;
  if (layout === 'pending') return 'laying out…';
  return a.machine === undefined ? 'not a state machine (or its definition was not recorded)' : `definition of ${a.machine} not received`;
}

function renderTab(view: ClusterView): void {
  const pane = byId(`pane-${app.tab}`);
  if (app.tab === 'brokers') renderBrokers(pane, view);
  else if (app.tab === 'topics') renderTopics(pane, view);
  else if (app.tab === 'groups') renderGroups(pane, view);
  else if (app.tab === 'producers') renderProducers(pane, view);
  else if (app.tab === 'actors') renderActors(pane, view);
}

// ------------------------------------------------------------------------------------------ layouts

/** The layout of an actor's machine: known, being fetched (fetch started here), failed, or undefined without a definition. */
function layoutFor(view: ClusterView, a: ActorView): MachineLayout | Error | 'pending' | undefined {
  if (a.machine === undefined) return undefined;
  const def = view.machines.get(a.source)?.get(a.machine);
  if (def === undefined) return undefined;
  const key = `${a.source}|${a.machine}|${def.id}`;
  const known = app.layouts.get(key);
  if (known !== undefined) return known;
  app.layouts.set(key, 'pending');
  fetch('/api/layout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ machine: a.machine, definition: def }) })
    .then(async (res) => {
      if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
      app.layouts.set(key, (await res.json()) as MachineLayout);
    })
    .catch((err: unknown) => app.layouts.set(key, err instanceof Error ? err : new Error(String(err))))
    .finally(scheduleRender);
  return 'pending';
}

// ------------------------------------------------------------------------------------------ live stream

function connectLive(): void {
  const events = new EventSource('/api/stream');
  events.addEventListener('open', () => {
    app.liveConnected = true;
    scheduleRender();
  });
  events.addEventListener('error', () => {
    app.liveConnected = false;
    scheduleRender();
  });
  events.addEventListener('snapshot', (e) => {
    app.live = emptyView();
    for (const r of JSON.parse((e as MessageEvent<string>).data) as ObservedRecord[]) applyRecord(app.live, r);
    scheduleRender();
  });
  events.addEventListener('records', (e) => {
    for (const r of JSON.parse((e as MessageEvent<string>).data) as ObservedRecord[]) applyRecord(app.live, r);
    if (app.mode === 'live') scheduleRender();
  });
  events.addEventListener('dropped', (e) => {
    app.dropped = JSON.parse((e as MessageEvent<string>).data) as Dropped;
    applyDropped(app.live, app.dropped.sources);
    scheduleRender();
  });
}

// ------------------------------------------------------------------------------------------ time travel

function openTrace(text: string, name: string): void {
  const { records, info } = readTrace(text);
  app.timeline = new Timeline(records);
  app.traceName = info.name !== undefined ? `${info.name}${info.seed !== undefined ? ` seed ${info.seed}` : ''}` : name;
  app.mode = 'trace';
  for (const id of ['tt-prev-state', 'tt-prev', 'tt-slider', 'tt-next', 'tt-next-state', 'tt-goto']) (byId(id) as HTMLInputElement).disabled = false;
  byId('tt-live').hidden = !app.hasLive;
  const slider = byId<HTMLInputElement>('tt-slider');
  const { from, to } = app.timeline.range;
  slider.min = String(from);
  slider.max = String(to);
  app.cards.forEach((c) => c.el.remove());
  app.cards.clear();
  app.selected.clear();
  app.seen.clear();
  if (info.malformed > 0) showError(`${info.malformed} lines of the trace were not JSON and were skipped`);
  setPos(app.timeline.length);
}

/** Shows the trace after its first `count` records. */
function setPos(count: number): void {
  const tl = app.timeline;
  if (tl === undefined) return;
  app.pos = Math.max(0, Math.min(count, tl.length));
  app.traceView = tl.after(app.pos);
  const { from } = tl.range;
  const t = app.pos === 0 ? from : tl.records[app.pos - 1]!.time;
  byId<HTMLInputElement>('tt-slider').value = String(t);
  const time = byId('tt-time');
  time.textContent = `${clock(t)} (${offset(t, from)}) · record ${int(app.pos)} / ${int(tl.length)}`;
  time.dataset.time = String(t);
  time.dataset.pos = String(app.pos);
  render();
}

function setupTravel(): void {
  byId<HTMLInputElement>('trace-file').addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file === undefined) return;
    file.text().then(
      (text) => openTrace(text, file.name),
      (err: unknown) => showError(`could not read ${file.name}: ${String(err)}`),
    );
  });
  const tl = (): Timeline => app.timeline!;
  byId('tt-prev').addEventListener('click', () => setPos(app.pos - 1));
  byId('tt-next').addEventListener('click', () => setPos(app.pos + 1));
  byId('tt-prev-state').addEventListener('click', () => setPos(tl().stepStateChange(app.pos, -1)));
  byId('tt-next-state').addEventListener('click', () => setPos(tl().stepStateChange(app.pos, 1)));
  byId<HTMLInputElement>('tt-slider').addEventListener('input', (e) => setPos(tl().countAt(Number((e.target as HTMLInputElement).value))));
  byId('tt-goto-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = Number(byId<HTMLInputElement>('tt-goto').value.trim());
    if (Number.isFinite(value)) setPos(tl().countAt(value));
    else showError('type a time in ms (as the trace gives it)');
  });
  byId('tt-live').addEventListener('click', () => {
    app.mode = 'live';
    byId('tt-live').hidden = true;
    app.cards.forEach((c) => c.el.remove());
    app.cards.clear();
    byId('tt-time').textContent = 'live (open a trace to travel in time)';
    render();
  });
}

// ------------------------------------------------------------------------------------------ start

function showError(message: string): void {
  const el = byId('error');
  el.textContent = message;
  el.hidden = false;
  setTimeout(() => (el.hidden = true), 8000);
}

function setupTabs(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('#tabs button')) {
    b.addEventListener('click', () => {
      app.tab = b.dataset.tab ?? 'charts';
      for (const o of document.querySelectorAll('#tabs button')) o.classList.toggle('on', o === b);
      for (const p of document.querySelectorAll('.pane')) p.classList.toggle('on', p.id === `pane-${app.tab}`);
      render();
    });
  }
}

async function start(): Promise<void> {
  setupTabs();
  setupTravel();
  // Tables with rates refresh once a second even when nothing else happens.
  setInterval(() => app.tab !== 'charts' && scheduleRender(), 1000);
  const info = (await (await fetch('/api/info')).json()) as { live: boolean; trace?: string };
  app.hasLive = info.live;
  if (info.live) {
    app.mode = 'live';
    connectLive();
  }
  if (info.trace !== undefined) {
    const res = await fetch('/api/trace');
    if (!res.ok) showError(`could not load the trace: ${res.status} ${await res.text()}`);
    else openTrace(await res.text(), info.trace);
  }
  render();
}

window.addEventListener('error', (e) => showError(e.message));
window.addEventListener('unhandledrejection', (e) => showError(String((e as PromiseRejectionEvent).reason)));
start().catch((err: unknown) => showError(`the console could not start: ${String(err)}`));
