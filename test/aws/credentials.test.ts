/**
 * The credential check (src/aws/credentials.ts) against the real SDK providers in a controlled
 * environment: env keys, a named profile, none at all, a missing profile, expired credentials,
 * and a metadata endpoint that never answers.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertCredentials } from '../../src/aws/credentials.js';
import { isPaypipeError, type PaypipeError } from '../../src/errors.js';

async function failure(p: Promise<unknown>): Promise<PaypipeError> {
  try {
    await p;
  } catch (e) {
    if (isPaypipeError(e)) return e;
    throw e;
  }
  throw new Error('expected a PaypipeError');
}

describe('assertCredentials', () => {
  const home = mkdtempSync(join(tmpdir(), 'paypipe-cred-home-'));
  const base = { PATH: process.env.PATH ?? '', HOME: home, AWS_EC2_METADATA_DISABLED: 'true' };
  const target = { kind: 'aws' as const, region: 'ap-southeast-2' };

  it('passes with credentials in the environment', async () => {
    await expect(
      assertCredentials(target, {
        env: { ...base, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMIEXAMPLEKEY' },
      }),
    ).resolves.toBeUndefined();
  });

  it('passes with a named profile from the shared credentials file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paypipe-cred-files-'));
    writeFileSync(
      join(dir, 'credentials'),
      '[ci]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = s3cr3t\n',
    );
    await expect(
      assertCredentials(
        { ...target, profile: 'ci' },
        {
          env: {
            ...base,
            AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
            AWS_CONFIG_FILE: join(dir, 'none'),
          },
        },
      ),
    ).resolves.toBeUndefined();
  });

  it('fails with NO_CREDENTIALS and the ways to fix it when there are none — without leaking values', async () => {
    const e = await failure(assertCredentials(target, { env: base }));
    expect(e.code).toBe('NO_CREDENTIALS');
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe('no AWS credentials found (region ap-southeast-2)');
    expect(e.hint).toMatch(/AWS_PROFILE.*--profile.*AWS_ACCESS_KEY_ID.*AWS_SECRET_ACCESS_KEY.*aws sso login/);
  });

  it('names a profile that does not exist', async () => {
    const e = await failure(assertCredentials({ ...target, profile: 'ghost' }, { env: base }));
    expect(e.code).toBe('NO_CREDENTIALS');
    expect(e.message).toMatch(/^AWS profile "ghost" gave no credentials/);
    expect(e.hint).toContain('aws sso login --profile ghost');
  });

  it('reports expired credentials with their expiry, never the keys', async () => {
    const e = await failure(
      assertCredentials(target, {
        env: {
          ...base,
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'very-secret-value',
          AWS_SESSION_TOKEN: 'token-value',
          AWS_CREDENTIAL_EXPIRATION: '2020-01-01T00:00:00Z',
        },
      }),
    );
    expect(e.code).toBe('NO_CREDENTIALS');
    expect(e.message).toBe('the AWS credentials expired at 2020-01-01T00:00:00.000Z');
    const everything = `${e.message} ${e.hint} ${JSON.stringify(e.details ?? {})}`;
    for (const secret of ['AKIDEXAMPLE', 'very-secret-value', 'token-value'])
      expect(everything).not.toContain(secret);
  });

  describe('a credentials endpoint that never answers', () => {
    let server: Server;
    const sockets = new Set<Socket>();
    const closed = new Set<Socket>();
    let port = 0;
    beforeAll(async () => {
      server = createServer((s) => {
        sockets.add(s);
        // Read (and ignore) the request so the client's close is seen as 'end'.
        s.resume();
        s.on('close', () => closed.add(s));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const a = server.address();
      port = typeof a === 'object' && a !== null ? a.port : 0;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('is given up on at the deadline, and the probe is torn down', async () => {
      const env = { ...base, AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/creds` };
      const e = await failure(assertCredentials(target, { env, timeoutMs: 800 }));
      expect(e.code).toBe('NO_CREDENTIALS');
      expect(e.message).toMatch(/no answer within 0\.8 s/);
      // Terminating the worker closes its connection: the server sees it go away.
      expect(sockets.size).toBeGreaterThan(0);
      await expect.poll(() => closed.size, { timeout: 5000 }).toBe(sockets.size);
    });
  });
});
