/**
 * Reads a scenario file (YAML, or JSON, which is YAML too) into a checked `Scenario`. A file that does not
 * parse, or does not fit the schema, fails with ScenarioFileError naming the file and, per problem, the
 * field's path and why.
 */
import { parse, YAMLParseError } from 'yaml';
import { scenarioSchema, type Scenario } from './scenario-schema.js';

export class ScenarioFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: not a valid scenario:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ScenarioFileError';
  }
}

/** `topology.brokers[0].flush` style path of a zod issue. */
function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(top level)' : out;
}

/** Parses and checks the text of a scenario file; `file` only names it in errors. */
export function parseScenario(text: string, file: string): Scenario {
  let raw: unknown;
  try {
    raw = parse(text, { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) throw new ScenarioFileError(file, [err.message.split('\n')[0]!]);
    throw err;
  }
  const result = scenarioSchema.safeParse(raw);
  if (!result.success) throw new ScenarioFileError(file, result.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`));
  return result.data;
}
