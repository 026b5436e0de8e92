/**
 * Reading Lambda configuration from the environment at cold start. A missing or malformed
 * variable throws right away, naming it, so a mis-deployed function fails loudly on its first
 * invoke instead of producing wrong output.
 */

export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v.trim() === '') throw new Error(`environment variable ${name} is not set`);
  return v;
}

export function requireIntEnv(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number {
  const raw = requireEnv(env, name);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new Error(
      `environment variable ${name} must be a whole number from ${min} to ${max}, got "${raw}"`,
    );
  }
  return n;
}
