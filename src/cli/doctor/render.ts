/**
 * The doctor report for people: one line per check (status, title, evidence) and, under anything
 * not passing, its fix; then the verdict. With `--json` the report is printed as is (the
 * DoctorReport shape in checks.ts is the documented JSON document).
 */
import type { Style } from '../io.js';
import type { CheckStatus, DoctorReport } from './checks.js';

const MARK: Record<CheckStatus, string> = { pass: 'pass', warn: 'warn', fail: 'FAIL', 'n/a': 'n/a ' };

function mark(status: CheckStatus, s: Style): string {
  switch (status) {
    case 'pass':
      return s.green(MARK.pass);
    case 'warn':
      return s.yellow(MARK.warn);
    case 'fail':
      return s.bold(s.red(MARK.fail));
    case 'n/a':
      return s.dim(MARK['n/a']);
  }
}

export function renderReport(r: DoctorReport, s: Style): string {
  const lines: string[] = [s.bold(`paypipe doctor: ${r.subject}`), ''];
  const width = Math.max(...r.checks.map((c) => c.title.length), 10);
  for (const c of r.checks) {
    const evidence = c.status === 'n/a' ? s.dim(c.evidence) : c.evidence;
    lines.push(`${mark(c.status, s)}  ${c.title.padEnd(width)}  ${evidence}`);
    if (c.fix !== undefined) lines.push(`      ${' '.repeat(width)}  ${s.cyan('→')} ${c.fix}`);
  }
  const { pass: p, warn: w, fail: f } = r.counts;
  const na = r.counts['n/a'];
  lines.push('');
  lines.push(
    `${r.ok ? s.green('healthy') : s.bold(s.red('unhealthy'))}: ${p} passed, ${w} warning${w === 1 ? '' : 's'}, ${f} failed${na > 0 ? `, ${na} not applicable` : ''}`,
  );
  return lines.join('\n');
}
