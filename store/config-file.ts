/**
 * JSON configuration files (topics, consumer offsets, delay offsets, timer progress): written atomically (temp
 * file, write, flush, rename, flushDir) so that a crash leaves either the old or the new content, never a mix.
 * A file is read with the shape its owner expects (`readJsonFileAs` and the checks in `shape`): a file of the
 * wrong shape stops the start with a ConfigShapeError naming the file and the field, as malformed JSON does.
 */

import type { StorageBackend } from './backend.js';
import { writeFileAtomic } from './checkpoint.js';

/** A configuration file whose content is not valid JSON. */
export class ConfigError extends Error {
  readonly code = 'ECONFIG';
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${message}`, options);
    this.name = 'ConfigError';
  }
}

/** A configuration file that is valid JSON of the wrong shape; `field` is where (`offsetTable.3`, `done[2][1]`). */
export class ConfigShapeError extends ConfigError {
  constructor(
    path: string,
    readonly field: string,
    expected: string,
    got: unknown,
  ) {
    super(path, `field ${field || '(the document)'}: expected ${expected}, got ${describe(got)}`);
    this.name = 'ConfigShapeError';
  }
}

function describe(v: unknown): string {
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A value's shape at `field` does not fit (turned into a ConfigShapeError naming the file by readJsonFileAs). */
export class ShapeMismatch extends Error {
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`${field}: expected ${expected}`);
    this.name = 'ShapeMismatch';
  }
}

/** Checks `value` (found at `field`) and returns it typed, or throws ShapeMismatch. */
export type Shape<T> = (value: unknown, field: string) => T;

const sub = (field: string, key: string | number): string => (typeof key === 'number' ? `${field}[${key}]` : field === '' ? key : `${field}.${key}`);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The small set of checks config files need. */
export const shape = {
  /** A safe integer of at least `min`. */
  int(min = 0): Shape<number> {
    return (v, field) => {
      if (!Number.isSafeInteger(v) || (v as number) < min) throw new ShapeMismatch(field, `an integer >= ${min}`, v);
      return v as number;
    };
  },
  /** An array whose items fit `item`, at most `maxItems` of them. */
  array<T>(item: Shape<T>, maxItems = 10_000_000): Shape<T[]> {
    return (v, field) => {
      if (!Array.isArray(v)) throw new ShapeMismatch(field, 'an array', v);
      if (v.length > maxItems) throw new ShapeMismatch(field, `at most ${maxItems} items`, `${v.length} items`);
      return v.map((x, i) => item(x, sub(field, i)));
    };
  },
  /** An object with these fields (others are ignored). */
  fields<T extends object>(fields: { [K in keyof T]: Shape<T[K]> }): Shape<T> {
    return (v, field) => {
      if (!isPlainObject(v)) throw new ShapeMismatch(field, 'an object', v);
      const out = {} as T;
      for (const k of Object.keys(fields) as (keyof T & string)[]) out[k] = fields[k](v[k], sub(field, k));
      return out;
    };
  },
  /** An object used as a map: every key matches `key`, every value fits `value`. */
  record<T>(key: RegExp, keyDoc: string, value: Shape<T>): Shape<Record<string, T>> {
    return (v, field) => {
      if (!isPlainObject(v)) throw new ShapeMismatch(field, 'an object', v);
      const out: Record<string, T> = {};
      for (const [k, x] of Object.entries(v)) {
        if (!key.test(k)) throw new ShapeMismatch(sub(field, k), `a key that is ${keyDoc}`, k);
        out[k] = value(x, sub(field, k));
      }
      return out;
    };
  },
};

/** readJsonFile, then `check`: undefined when absent; ConfigError when malformed, ConfigShapeError when of the wrong shape. */
export function readJsonFileAs<T>(backend: StorageBackend, path: string, check: Shape<T>): T | undefined {
  const value = readJsonFile<unknown>(backend, path);
  if (value === undefined) return undefined;
  try {
    return check(value, '');
  } catch (e) {
    if (e instanceof ShapeMismatch) throw new ConfigShapeError(path, e.field, e.expected, e.got);
    throw e;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export async function writeJsonAtomic(backend: StorageBackend, path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  if (text === undefined) throw new ConfigError(path, 'value is not JSON-serializable');
  await writeFileAtomic(backend, path, encoder.encode(text + '\n'));
}

/** undefined when absent; ConfigError when the content is not valid UTF-8 JSON. */
export function readJsonFile<T>(backend: StorageBackend, path: string): T | undefined {
  if (!backend.exists(path)) return undefined;
  const f = backend.open(path, { create: false });
  let bytes: Uint8Array;
  try {
    bytes = f.read(0, f.size());
  } finally {
    f.close();
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (e) {
    throw new ConfigError(path, 'not valid UTF-8', { cause: e });
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new ConfigError(path, `malformed JSON: ${(e as Error).message}`, { cause: e });
  }
}
