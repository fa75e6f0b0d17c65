/**
 * A state chart's layout as the server computes it (layout.ts) and the browser draws it (client/chart.ts):
 * boxes in absolute coordinates, parents before their children, and edges as polylines. Types only.
 */

export type LayoutNodeKind = 'root' | 'atomic' | 'compound' | 'parallel' | 'final' | 'history' | 'initial';

export interface LayoutNode {
  /** The state node's id (`broker.serving`); an initial marker's is `<parent id>#initial`. */
  id: string;
  /** Keys from the root (empty for the root), as state values name them. */
  path: string[];
  label: string;
  kind: LayoutNodeKind;
  /** A region of a parallel state (drawn as a separated lane of its parent). */
  region: boolean;
  x: number;
  y: number;
  width: number;
  height: number;
  /** Transitions that stay in the state (no target): their labels. */
  internal?: string[];
}

export interface LayoutEdge {
  id: string;
  source: string;
  target: string;
  /** Event(s) and guard(s), one per line. */
  label?: string;
  points: { x: number; y: number }[];
  labelBox?: { x: number; y: number; width: number; height: number };
}

export interface MachineLayout {
  machine: string;
  width: number;
  height: number;
  nodes: LayoutNode[];
  edges: LayoutEdge[];
}
