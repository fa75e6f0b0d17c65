/**
 * One actor's card: its state chart drawn as SVG from the server's layout (compound states as nested boxes,
 * a parallel state's regions as dashed lanes, the active states filled and marked `data-active="true"`), and
 * its recent events beside it. The SVG is built once per layout; updates only flip attributes.
 */
import type { ActorView } from '../../cluster-view.js';
import { activePaths, formatState } from '../../state-value.js';
import type { LayoutNode, MachineLayout } from '../layout-types.js';
import { h, s } from './dom.js';
import { clock } from './format.js';

let cards = 0;

/** The longest side a chart is drawn at (larger ones scale down). */
const MAX_WIDTH = 760;

export class ChartCard {
  readonly el: HTMLElement;
  private readonly head: HTMLElement;
  private readonly chart: HTMLElement;
  private readonly events: HTMLElement;
  private readonly nodes = new Map<string, SVGElement>();
  private readonly marker = `arrow-${++cards}`;
  /** The layout drawn (by identity), to redraw only when it changes. */
  private drawn: MachineLayout | undefined;
  private lastRender = '';

  constructor(readonly key: string) {
    this.head = h('div', { class: 'card-head' });
    this.chart = h('div', { class: 'chart' });
    this.events = h('div', { class: 'events' });
    this.el = h('div', { class: 'card' }, this.head, h('div', { class: 'card-body' }, this.chart, this.events));
  }

  /** Draws the layout (once per layout), or says why there is none. */
  setLayout(layout: MachineLayout | undefined, note?: string): void {
    if (layout === this.drawn && layout !== undefined) return;
    this.drawn = layout;
    this.nodes.clear();
    this.lastRender = '';
    if (layout === undefined) {
      this.chart.replaceChildren(h('div', { class: 'note' }, note ?? 'no state chart'));
      return;
    }
    this.chart.replaceChildren(this.draw(layout));
  }

  /** Shows the actor as it is in the view: header, active states, recent events. */
  update(a: ActorView): void {
    const state = formatState(a.state, a.status);
    const render = `${state}|${a.status}|${a.events.length ? a.events[a.events.length - 1]!.seq : -1}|${a.lastTime}|${this.nodes.size}`;
    if (render === this.lastRender) return;
    this.lastRender = render;
    const el = this.el;
    el.dataset.actor = a.address;
    el.dataset.actorId = a.actorId;
    el.dataset.source = a.source;
    el.dataset.state = state;
    el.dataset.status = a.status ?? '';
    const status = a.status ?? 'active';
    this.head.replaceChildren(
      h('span', { class: 'addr' }, a.address),
      ...(a.root ? [] : [h('span', { class: 'sub' }, a.actorId)]),
      h('span', { class: 'sub' }, `${a.machine ?? ''}${a.source !== 'local' ? ` · ${a.source}` : ''}`),
      h('span', { class: 'spacer', style: 'flex:1' }),
      h('span', { class: `pill ${status}`, title: `status ${status}` }, state || status),
    );
    const active = new Set(activePaths(a.state).map((p) => p.join('.')));
    const running = a.status === undefined || a.status === 'active';
    for (const [path, g] of this.nodes) {
      const on = path === '' ? running : active.has(path);
      g.setAttribute('data-active', on ? 'true' : 'false');
    }
    const list = [...a.events].reverse().map((e) =>
      h('div', { class: 'ev' }, h('span', { class: 't' }, clock(e.time)), h('span', { class: 'n' }, e.event), ...(e.state !== undefined ? [h('span', { class: 's' }, `→ ${e.state}`)] : [])),
    );
    this.events.replaceChildren(h('div', { class: 'events-title' }, 'Recent events'), ...(list.length > 0 ? list : [h('div', { class: 'note' }, 'none yet')]));
  }

  private draw(layout: MachineLayout): SVGElement {
    const scale = layout.width > MAX_WIDTH ? MAX_WIDTH / layout.width : 1;
    const svg = s('svg', {
      viewBox: `0 0 ${layout.width} ${layout.height}`,
      width: Math.ceil(layout.width * scale),
      height: Math.ceil(layout.height * scale),
      role: 'img',
      'aria-label': `state chart of ${layout.machine}`,
      'data-machine': layout.machine,
    });
    svg.append(
      s('defs', {}, s('marker', { id: this.marker, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8f99ad' }))),
    );
    for (const n of layout.nodes) svg.append(this.node(n));
    for (const e of layout.edges) {
      if (e.points.length < 2) continue;
      const d = e.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
      const g = s('g', { class: 'edge', 'data-source': e.source, 'data-target': e.target }, s('path', { d, 'marker-end': `url(#${this.marker})` }));
      if (e.label !== undefined && e.labelBox !== undefined) {
        const lines = e.label.split('\n');
        const text = s('text', { x: e.labelBox.x, y: e.labelBox.y + 10 });
        lines.forEach((line, i) => text.append(s('tspan', { x: e.labelBox!.x, dy: i === 0 ? 0 : 14 }, line)));
        g.append(text);
      }
      svg.append(g);
    }
    return svg;
  }

  private node(n: LayoutNode): SVGElement {
    if (n.kind === 'initial') return s('circle', { class: 'initial', cx: n.x + n.width / 2, cy: n.y + n.height / 2, r: n.width / 2 });
    const kind = n.region ? `${n.kind} region` : n.kind;
    const path = n.path.join('.');
    const g = s('g', { class: `st ${kind}`, 'data-path': path, 'data-id': n.id, 'data-active': 'false' });
    g.append(s('rect', { x: n.x, y: n.y, width: n.width, height: n.height, rx: n.kind === 'atomic' || n.kind === 'final' ? 8 : 10 }));
    const leaf = n.kind === 'atomic' || n.kind === 'final' || n.kind === 'history';
    g.append(
      leaf
        ? s('text', { x: n.x + n.width / 2, y: n.y + n.height / 2 + 4, 'text-anchor': 'middle' }, n.label)
        : s('text', { x: n.x + 10, y: n.y + 17 }, n.kind === 'parallel' ? `${n.label} (parallel)` : n.label),
    );
    if (n.internal !== undefined) g.append(s('title', {}, `${path || n.label}\nalso handles: ${n.internal.join(', ')}`));
    this.nodes.set(path, g);
    return g;
  }
}
