/**
 * paypipe.config.json: the per-environment configuration a user edits, and the ONE rule that merges
 * it with flags, environment variables and the built-in defaults.
 *
 * ```json
 * {
 *   "$schema": "./paypipe.config.schema.json",
 *   "defaults": { "tags": { "CostCentre": "payments" } },
 *   "environments": {
 *     "dev": { "shardCount": 1 },
 *     "prod": { "region": "eu-west-1", "capacityMode": "ON_DEMAND" }
 *   }
 * }
 * ```
 *
 * The merge rule: for every setting, the most specific layer that sets it wins, and values are never
 * merged (a section's `tags` replace the defaults' `tags`). Most specific first:
 *   1. a flag (`--region`, `up --shards`, …)
 *   2. the file's section for the environment (`environments.<env>`)
 *   3. the file's `defaults`
 *   4. outside the file (only `region`: AWS_REGION, AWS_DEFAULT_REGION, then the AWS profile's region,
 *      as the one AWS settings resolver, src/aws/settings.ts, finds it)
 *   5. the built-in defaults for the environment (only `dev` has some), then the built-in defaults.
 *
 * JSON, not code: the file is data a reviewer can diff, a JSON Schema (generated from the zod schema
 * below, shipped as paypipe.config.schema.json) gives editors completion, and loading it runs
 * nothing. Pure: the caller reads the file (src/cli/config/load.ts).
 */
import { z } from 'zod';
import {
  type ConfigOverrides,
  NAME_PATTERN,
  SETTING_KEYS,
  SETTINGS,
  type SettingKey,
  type SettingSpec,
  type Settings,
  builtinSetting,
  settingProblem,
  showValue,
} from './config.js';

/** The file's name, looked up in the working directory. */
export const CONFIG_FILE_NAME = 'paypipe.config.json';
/** A config file is small; anything bigger is a mistake (or hostile) and is refused unread. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export interface ConfigFile {
  defaults?: Partial<Settings>;
  environments?: Record<string, Partial<Settings>>;
}

/** A problem with the file: one line naming where (file, key path), what, and the allowed values. */
export class ConfigFileError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ConfigFileError';
  }
}

// ------------------------------------------------------------------ schema

function leafSchema(spec: SettingSpec): z.ZodType {
  const described = <T extends z.ZodType>(t: T): T => t.describe(spec.doc) as T;
  switch (spec.kind) {
    case 'int': {
      const range = z.int().min(spec.min).max(spec.max);
      if (spec.unlimited !== undefined) return described(z.union([z.literal(-1), range]));
      if (spec.nullMeans !== undefined) return described(range.nullable());
      return described(range);
    }
    case 'bool':
      return described(z.boolean());
    case 'enum':
      return described(z.enum(spec.values as [string, ...string[]]));
    case 'text': {
      const text = z.string().regex(spec.pattern);
      return described(spec.nullMeans === undefined ? text : text.nullable());
    }
    case 'tags':
      return described(z.record(z.string().min(1).max(128), z.string().max(256)));
  }
}

const settingsShape = Object.fromEntries(
  SETTING_KEYS.map((k) => [k, leafSchema(SETTINGS[k]).optional()]),
) as Record<SettingKey, z.ZodOptional<z.ZodType>>;

const sectionSchema = z.strictObject({
  $comment: z.string().optional(),
  ...settingsShape,
});

export const configFileSchema = z.strictObject({
  $schema: z.string().optional(),
  $comment: z.string().optional(),
  defaults: sectionSchema.optional().describe('Settings for every environment'),
  environments: z
    .record(z.string().regex(NAME_PATTERN), sectionSchema)
    .optional()
    .describe('One section per environment (the stack is <project>-<environment>)'),
});

/** The JSON Schema of the file (what paypipe.config.schema.json holds). */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(configFileSchema) as Record<string, unknown>),
    title: 'paypipe configuration (paypipe.config.json)',
  };
}

// ------------------------------------------------------------------ parsing

const TOP_KEYS = ['$schema', '$comment', 'defaults', 'environments'];

/** Position → "line L, column C" for JSON.parse's "at position N". */
function lineColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

/**
 * Where and why text is not JSON (RFC 8259), for a message a person can act on. Only called after
 * JSON.parse refused the text, so it always finds something.
 */
export function jsonSyntaxError(text: string): { offset: number; what: string } {
  let i = 0;
  const fail = (what: string): never => {
    throw { offset: i, what };
  };
  const show = (): string => {
    const c = text[i];
    if (c === undefined) return 'end of file';
    if (c === "'") return `"'"`;
    return c < ' ' ? JSON.stringify(c) : `'${c}'`;
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const literal = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`unexpected ${show()}`);
  };
  const string = (): void => {
    i++;
    for (;;) {
      if (i >= text.length) fail('a string is not closed');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail('a control character (a raw line break?) inside a string');
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail('a bad \\u escape in a string');
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail(`a bad escape \\${e ?? ''} in a string`);
      } else i++;
    }
  };
  const number = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (m === null || m[0] === '' || m[0] === '-') fail(`unexpected ${show()}`);
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"')
          fail(text[i] === '}' ? 'a trailing comma before }' : `expected a "quoted" key, found ${show()}`);
        string();
        ws();
        if (text[i] !== ':') fail(`expected ':' after a key, found ${show()}`);
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(`expected ',' or '}', found ${show()}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] === ']') fail('a trailing comma before ]');
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(`expected ',' or ']', found ${show()}`);
      }
    }
    if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '/') fail('comments are not JSON');
    else number();
  };
  try {
    value();
    ws();
    if (i < text.length) fail(`unexpected ${show()} after the end of the JSON value`);
  } catch (e) {
    if (typeof e === 'object' && e !== null && 'offset' in e) return e as { offset: number; what: string };
    throw e;
  }
  return { offset: 0, what: 'not valid JSON' };
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p as string];
  }
  return v;
}

const dotted = (path: readonly PropertyKey[]): string =>
  path.map((p) => (typeof p === 'string' && /^[\w$-]+$/.test(p) ? p : JSON.stringify(String(p)))).join('.');

/** The closest known name, for "did you mean …" (a shared start, else edit distance ≤ 3). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const d = (a: string, b: string): number => {
    const m = a.length;
    const n = b.length;
    let prev = Array.from({ length: n + 1 }, (_, j) => j);
    for (let i = 1; i <= m; i++) {
      const cur = [i];
      for (let j = 1; j <= n; j++) {
        cur[j] = Math.min(
          (prev[j] as number) + 1,
          (cur[j - 1] as number) + 1,
          (prev[j - 1] as number) + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1),
        );
      }
      prev = cur;
    }
    return prev[n] as number;
  };
  // "shards" → "shardCount": the one known name sharing the longest start (5+ letters) with it.
  const lcp = (a: string, b: string): number => {
    let n = 0;
    while (n < a.length && n < b.length && a[n]?.toLowerCase() === b[n]?.toLowerCase()) n++;
    return n;
  };
  const longest = Math.max(0, ...candidates.map((c) => lcp(word, c)));
  const sharing = candidates.filter((c) => lcp(word, c) === longest);
  if (longest >= 5 && sharing.length === 1) return sharing[0];
  let best: string | undefined;
  let bestD = 4;
  for (const c of candidates) {
    const x = d(word, c);
    if (x < bestD) {
      best = c;
      bestD = x;
    }
  }
  return best;
}

/** Turns the first zod issue into one line naming the key path, the value and what is allowed. */
function explain(issue: z.core.$ZodIssue, root: unknown, label: string): ConfigFileError {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const inSection = path.length > 0;
    const known = inSection ? SETTING_KEYS : TOP_KEYS;
    const guess = closest(key, known);
    const where = inSection ? `${dotted(path)} has` : 'has';
    return new ConfigFileError(
      `${label} ${where} an unknown ${inSection ? 'setting' : 'key'} "${key}"${guess === undefined ? '' : ` (did you mean "${guess}"?)`}`,
      inSection
        ? 'settings are listed by `paypipe config` and in docs/infra.md'
        : 'the file has "defaults" and "environments" (and "$schema")',
    );
  }
  if (issue.code === 'invalid_key' && path[0] === 'environments' && path.length === 2) {
    const name = String(path[1]);
    return new ConfigFileError(
      `${label} environments has a section "${name}" that is not an environment name: it must start with a letter and use only a-z, 0-9 and "-" (at most 20 characters)`,
    );
  }
  // A value of a setting: say what the setting allows, whatever zod found wrong with it.
  const settingIndex = path[0] === 'defaults' ? 1 : path[0] === 'environments' ? 2 : -1;
  const key = settingIndex > 0 ? path[settingIndex] : undefined;
  if (typeof key === 'string' && (SETTING_KEYS as string[]).includes(key)) {
    const at = path.slice(0, settingIndex + 1);
    const problem = settingProblem(key as SettingKey, valueAt(root, at), dotted(at));
    if (problem !== undefined) return new ConfigFileError(`${label} ${problem}`);
  }
  const v = valueAt(root, path);
  const what =
    path.length === 0
      ? 'must be a JSON object with "defaults" and "environments"'
      : path.length === 1 && path[0] === 'environments'
        ? 'must be an object of environment sections'
        : 'must be an object of settings';
  return new ConfigFileError(
    `${label}${path.length === 0 ? '' : ` ${dotted(path)}`} ${what}, got ${showValue(v)}`,
  );
}

/**
 * Parses and validates the file's text. `label` names it in messages (its path as the user would
 * write it). Throws ConfigFileError with one line naming the key path, the value and what is allowed.
 */
export function parseConfigFile(text: string, label: string): ConfigFile {
  if (Buffer.byteLength(text) > MAX_CONFIG_FILE_BYTES) {
    throw new ConfigFileError(
      `${label} is ${Buffer.byteLength(text).toLocaleString('en-US')} bytes; a configuration file is at most 1 MiB`,
    );
  }
  const body = text.replace(/^\uFEFF/, '');
  let root: unknown;
  try {
    root = JSON.parse(body);
  } catch {
    // JSON.parse's message quotes the text and often has no position: find the spot ourselves.
    const at = jsonSyntaxError(body);
    throw new ConfigFileError(
      `${label} is not valid JSON at ${lineColumn(body, at.offset)}: ${at.what}`,
      'JSON has no comments or trailing commas; use "$comment" for notes',
    );
  }
  // Checked before zod, which drops a "__proto__" key silently instead of reporting it.
  const envs = (root as { environments?: unknown } | null)?.environments;
  if (typeof envs === 'object' && envs !== null && !Array.isArray(envs)) {
    const bad = Object.keys(envs).find((k) => !NAME_PATTERN.test(k));
    if (bad !== undefined) {
      throw explain({ code: 'invalid_key', path: ['environments', bad] } as never, root, label);
    }
  }
  for (const [where, section] of [
    ['defaults', (root as { defaults?: unknown } | null)?.defaults],
    ...Object.entries(typeof envs === 'object' && envs !== null ? envs : {}).map(([k, v]) => [
      `environments.${k}`,
      v,
    ]),
  ] as Array<[string, unknown]>) {
    if (typeof section === 'object' && section !== null && Object.hasOwn(section, '__proto__')) {
      throw new ConfigFileError(`${label} ${where} has an unknown setting "__proto__"`);
    }
  }
  const parsed = configFileSchema.safeParse(root);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    if (first === undefined) throw new ConfigFileError(`${label} is not a valid configuration`);
    throw explain(first, root, label);
  }
  // zod checks the shapes; the settings' own rules (shared with flags) have the last word.
  const file = parsed.data as ConfigFile & { $schema?: string; $comment?: string };
  const sections: Array<[string, Partial<Settings> | undefined]> = [
    ['defaults', file.defaults],
    ...Object.entries(file.environments ?? {}).map(([name, s]): [string, Partial<Settings>] => [
      `environments.${name}`,
      s,
    ]),
  ];
  for (const [where, section] of sections) {
    for (const [k, v] of Object.entries(section ?? {})) {
      if (k === '$comment') continue;
      const problem = settingProblem(k as SettingKey, v, `${where}.${k}`);
      if (problem !== undefined) throw new ConfigFileError(`${label} ${problem}`);
    }
  }
  const strip = (s: Partial<Settings> & { $comment?: string }): Partial<Settings> => {
    const { $comment: _, ...rest } = s;
    return rest;
  };
  return {
    ...(file.defaults === undefined ? {} : { defaults: strip(file.defaults) }),
    ...(file.environments === undefined
      ? {}
      : {
          environments: Object.fromEntries(Object.entries(file.environments).map(([k, s]) => [k, strip(s)])),
        }),
  };
}

// ------------------------------------------------------------------ the merge

export type SettingSource =
  | { layer: 'flag'; flag: string }
  | { layer: 'file-environment'; file: string; environment: string }
  | { layer: 'file-defaults'; file: string }
  /** What the AWS settings resolver found outside the file: AWS_REGION, a profile's region. */
  | { layer: 'env'; variable: string }
  | { layer: 'builtin-environment'; environment: string }
  | { layer: 'builtin' };

export function describeSource(s: SettingSource): string {
  switch (s.layer) {
    case 'flag':
      return `flag ${s.flag}`;
    case 'file-environment':
      return `${s.file} environments.${s.environment}`;
    case 'file-defaults':
      return `${s.file} defaults`;
    case 'env':
      return s.variable.startsWith('AWS_') ? `environment variable ${s.variable}` : s.variable;
    case 'builtin-environment':
      return `default for ${s.environment}`;
    case 'builtin':
      return 'default';
  }
}

export interface MergeInput {
  environment: string;
  /** Settings given by flags, with the flag that gave each (e.g. region ← --region). */
  flags?: Partial<{ [K in SettingKey]: { value: Settings[K]; flag: string } }>;
  /** The parsed file and how to name it in sources. */
  file?: { label: string; content: ConfigFile } | undefined;
  /**
   * Values from outside the file, below it and above the built-in defaults: the region the AWS
   * settings resolver finds in AWS_REGION, AWS_DEFAULT_REGION or the profile (src/aws/settings.ts),
   * with where it found it ("AWS_REGION", "profile dev").
   */
  ambient?: Partial<{ [K in SettingKey]: { value: Settings[K]; source: string } }>;
}

export interface Merged {
  /** What to pass to resolveConfig: every setting a layer above the built-in defaults set. */
  overrides: ConfigOverrides;
  /** Where each setting's effective value comes from. */
  sources: Record<SettingKey, SettingSource>;
}

/** The ONE merge rule (see the module comment). Pure; validation is resolveConfig's. */
export function mergeSettings(input: MergeInput): Merged {
  const { environment } = input;
  const file = input.file;
  const section =
    file?.content.environments !== undefined && Object.hasOwn(file.content.environments, environment)
      ? file.content.environments[environment]
      : undefined;
  const overrides: Record<string, unknown> = { environment };
  const sources = {} as Record<SettingKey, SettingSource>;
  for (const key of SETTING_KEYS) {
    const flag = input.flags?.[key];
    if (flag !== undefined && flag.value !== undefined) {
      overrides[key] = flag.value;
      sources[key] = { layer: 'flag', flag: flag.flag };
      continue;
    }
    if (file !== undefined && section !== undefined && Object.hasOwn(section, key)) {
      overrides[key] = section[key];
      sources[key] = { layer: 'file-environment', file: file.label, environment };
      continue;
    }
    const defaults = file?.content.defaults;
    if (file !== undefined && defaults !== undefined && Object.hasOwn(defaults, key)) {
      overrides[key] = defaults[key];
      sources[key] = { layer: 'file-defaults', file: file.label };
      continue;
    }
    const ambient = input.ambient?.[key];
    if (ambient !== undefined) {
      overrides[key] = ambient.value;
      sources[key] = { layer: 'env', variable: ambient.source };
      continue;
    }
    sources[key] =
      builtinSetting(key, environment).layer === 'environment'
        ? { layer: 'builtin-environment', environment }
        : { layer: 'builtin' };
  }
  return { overrides: overrides as ConfigOverrides, sources };
}
