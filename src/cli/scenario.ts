/**
 * `send --scenario` (and `invoke aggregator --scenario`): one compact, shell-friendly spec for test traffic, parsed into the
 * generator's Scenario (src/domain/generator.ts) plus the event-time span.
 *
 *   late=0.1,duplicates=0.05,malformed=0.02,currencies=USD:0.7+EUR:0.3,merchants=Amazon+Uber,late-max=15m,span=5m
 *
 * or a preset name (`messy`), optionally followed by overrides: `messy,late=0.3`.
 */
import { parseDuration } from '../pipeline/duration.js';
import { type Scenario, scenarioProblem } from '../domain/generator.js';
import { usageError } from '../errors.js';

export interface ParsedScenario {
  scenario: Scenario;
  /** Spread event times over the last spanMs before "now" (0 = all at send time). */
  spanMs: number;
}

export const SCENARIO_PRESETS: Readonly<Record<string, string>> = {
  clean: '',
  messy: 'late=0.1,duplicates=0.05,malformed=0.02',
  late: 'late=0.3,late-max=30m',
};

export const SCENARIO_KEYS = [
  'late',
  'late-max',
  'duplicates',
  'malformed',
  'currencies',
  'merchants',
  'span',
] as const;

const bad = (what: string): Error =>
  usageError(
    `--scenario ${what}`,
    `e.g. --scenario late=0.1,duplicates=0.05,malformed=0.02,currencies=USD:0.7+EUR:0.3 (keys: ${SCENARIO_KEYS.join(', ')}; presets: ${Object.keys(SCENARIO_PRESETS).join(', ')})`,
  );

const share = (key: string, v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw bad(`${key} must be a share from 0 to 1, got "${v}"`);
  return n;
};

const duration = (key: string, v: string, minMs: number, maxMs: number): number => {
  const ms = parseDuration(v);
  if (ms === undefined || ms < minMs || ms > maxMs) {
    throw bad(
      `${key} must be a duration from ${minMs / 1000}s to ${maxMs / 3_600_000}h (like 10m), got "${v}"`,
    );
  }
  return ms;
};

/** Parses the --scenario text; throws a one-line usage error naming the bad part. */
export function parseScenario(text: string): ParsedScenario {
  const scenario: Scenario = {};
  let spanMs = 0;
  const parts = text.split(',').map((p) => p.trim());
  // `--scenario ',,,'` or `late=0.1,,x` is a typo, not "the clean preset": say so instead of guessing.
  if (parts.every((p) => p === '')) throw bad(`is empty (got "${text}")`);
  if (parts.includes(''))
    throw bad(`has an empty part in "${text}" (two commas in a row, or a comma at an end)`);
  const expanded: string[] = [];
  for (const p of parts) {
    const preset = SCENARIO_PRESETS[p];
    if (!p.includes('=') && preset !== undefined) {
      expanded.push(...preset.split(',').filter((x) => x !== ''));
    } else expanded.push(p);
  }
  const s = scenario;
  for (const p of expanded) {
    const eq = p.indexOf('=');
    if (eq <= 0)
      throw bad(`"${p}" is not key=value or a preset (${Object.keys(SCENARIO_PRESETS).join(', ')})`);
    const key = p.slice(0, eq).trim().toLowerCase();
    const value = p.slice(eq + 1).trim();
    switch (key) {
      case 'late':
        s.lateShare = share(key, value);
        break;
      case 'late-max':
        s.lateMaxMs = duration(key, value, 60_000, 24 * 3_600_000);
        break;
      case 'duplicates':
      case 'dup':
        s.duplicateShare = share('duplicates', value);
        break;
      case 'malformed':
        s.malformedShare = share(key, value);
        break;
      case 'span':
        spanMs = duration(key, value, 1000, 24 * 3_600_000);
        break;
      case 'currencies': {
        const weights: Record<string, number> = {};
        for (const item of value.split('+')) {
          const [code = '', w] = item.split(':');
          const c = code.trim();
          if (c === '') throw bad(`currencies has an empty entry in "${value}"`);
          const weight = w === undefined ? 1 : Number(w);
          if (!Number.isFinite(weight) || weight < 0 || (w !== undefined && w.trim() === '')) {
            throw bad(`currencies weight of ${c} must be a number ≥ 0, got "${w}"`);
          }
          weights[c] = weight;
        }
        s.currencies = weights;
        break;
      }
      case 'merchants':
        s.merchants = value.split('+').map((m) => m.trim());
        if (s.merchants.includes('')) throw bad(`merchants has an empty name in "${value}"`);
        break;
      default:
        throw bad(`has unknown key "${key}"`);
    }
  }
  const problem = scenarioProblem(scenario);
  if (problem !== undefined) throw bad(problem);
  return { scenario, spanMs };
}
