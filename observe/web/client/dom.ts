/** Small DOM helpers for the console's browser code (no framework). */

const SVG_NS = 'http://www.w3.org/2000/svg';

type Attrs = Record<string, string | number | boolean | undefined>;

/** An HTML element with attributes (`class`, `data-*`, ...) and children (text or nodes). */
export function h(tag: string, attrs: Attrs = {}, ...children: (Node | string)[]): HTMLElement {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  for (const c of children) el.append(c);
  return el;
}

/** An SVG element with attributes and children. */
export function s(tag: string, attrs: Attrs = {}, ...children: (Node | string)[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  for (const c of children) el.append(c);
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** Replaces an element's children. */
export function replaceChildren(el: Element, ...children: (Node | string)[]): void {
  el.replaceChildren(...children);
}
