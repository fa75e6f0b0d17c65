/**
 * JSON configuration files (topics, consumer offsets, delay offsets): written atomically (temp file, write,
 * flush, rename, flushDir) so that a crash leaves either the old or the new content, never a mix.
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
