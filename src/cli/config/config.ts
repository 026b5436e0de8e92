/**
 * `paypipe config`: the effective configuration of one environment — every setting, its value and
 * the layer it came from — plus the derived names and notes about risky combinations.
 */
import { type SettingSource, describeSource } from '../../pipeline/config-file.js';
import { SETTING_KEYS, SETTINGS, type SettingKey, type Settings } from '../../pipeline/config.js';
import type { Style } from '../io.js';
import type { ConfigFlags } from './flags.js';
import { displayPath, loadConfig } from '../configuration.js';

export interface SettingRow {
  value: Settings[SettingKey];
  /** Where the value comes from, as a phrase ("paypipe.config.json environments.prod", "default"). */
  from: string;
  source: SettingSource;
}

export interface ConfigResult {
  environment: string;
  stackName: string;
  region: string;
  /** The file read, or null when there is none. */
  file: string | null;
  settings: Record<SettingKey, SettingRow>;
  names: {
    inputStream: string;
    outputStream: string;
    aggregator: string;
    producer: string;
    failureQueue: string;
  };
  notes: string[];
}

export function runConfig(flags: ConfigFlags, cwd = process.cwd(), env = process.env): ConfigResult {
  const loaded = loadConfig({
    env: flags.env,
    project: flags.project,
    region: flags.region,
    cwd,
    envVars: env,
  });
  const c = loaded.config;
  const settings = {} as Record<SettingKey, SettingRow>;
  for (const key of SETTING_KEYS) {
    const source = loaded.sources[key];
    settings[key] = { value: c.settings[key], from: describeSource(source), source };
  }
  return {
    environment: c.environment,
    stackName: c.stackName,
    region: c.region,
    file: loaded.file === undefined ? null : displayPath(loaded.file, cwd),
    settings,
    names: {
      inputStream: c.streams.input.name,
      outputStream: c.streams.output.name,
      aggregator: c.aggregator.functionName,
      producer: c.producer.functionName,
      failureQueue: c.failureQueueName,
    },
    notes: loaded.notes,
  };
}

function show(key: SettingKey, v: unknown): string {
  const spec = SETTINGS[key];
  if (v === null && (spec.kind === 'int' || spec.kind === 'text') && spec.nullMeans !== undefined) {
    return `null (${spec.nullMeans})`;
  }
  if (v === -1 && spec.kind === 'int' && spec.unlimited !== undefined) return `-1 (${spec.unlimited})`;
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v);
    return entries.length === 0 ? '{}' : entries.map(([k, x]) => `${k}=${String(x)}`).join(', ');
  }
  const unit = spec.kind === 'int' && spec.unit !== undefined ? ` ${spec.unit}` : '';
  return `${String(v)}${unit}`;
}

export function renderConfig(r: ConfigResult, style: Style): string {
  const rows = SETTING_KEYS.map((k) => {
    const row = r.settings[k];
    return [k, show(k, row.value), row.from, row.source.layer] as const;
  });
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.min(48, Math.max(...rows.map((x) => x[1].length)));
  const lines = [
    `${style.bold(r.stackName)} (environment ${r.environment}, ${r.region}) — ${r.file === null ? 'no paypipe.config.json: built-in defaults' : `from ${r.file}`}`,
    '',
    ...rows.map(([k, v, from, layer]) => {
      const fromText =
        layer === 'builtin' || layer === 'builtin-environment' ? style.dim(from) : style.cyan(from);
      return `  ${k.padEnd(w0)}  ${v.padEnd(w1)}  ${fromText}`;
    }),
  ];
  for (const n of r.notes) lines.push('', style.yellow(`note: ${n}`));
  return lines.join('\n');
}
