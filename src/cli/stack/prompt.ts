/**
 * A yes/no question on the terminal (question on stderr, so stdout stays clean). Only offered when
 * both stdin and stderr are TTYs; scripts get a usage error asking for the explicit flag instead.
 */
import { createInterface } from 'node:readline/promises';

export interface Terminal {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const canPrompt = (t: Terminal = { stdin: process.stdin, stderr: process.stderr }): boolean =>
  t.stdin.isTTY === true && t.stderr.isTTY === true;

export async function confirm(
  question: string,
  t: Terminal = { stdin: process.stdin, stderr: process.stderr },
): Promise<boolean> {
  const rl = createInterface({ input: t.stdin, output: t.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
