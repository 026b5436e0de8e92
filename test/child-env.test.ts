/**
 * One place builds a child process's environment (src/child-env.ts): the CLI's choices pass on —
 * the SDK's Node-version notice off unless the user asked for it, no colour, proxy settings with
 * the loopback addresses exempt, endpoint settings as they are — and NODE_OPTIONS (a debugger, a
 * loader meant for the CLI itself) does not. Checked on the function and on the real servers'
 * child process (its /proc environ), which is where the old code fell short.
 */
import { readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { childEnv } from '../src/child-env.js';
import { resolveConfig } from '../src/pipeline/config.js';
import { startLocalServers } from '../src/local/servers.js';
import { tempDataDir } from './helpers/local-pipeline.js';

const SDK = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

describe('childEnv', () => {
  it('turns the SDK notice off unless the user chose, and keeps an explicit choice', () => {
    expect(childEnv({}, {})[SDK]).toBe('true');
    expect(childEnv({}, { [SDK]: '' })[SDK]).toBe('true');
    expect(childEnv({}, { [SDK]: 'false' })[SDK]).toBe('false');
  });

  it('no colour, no NODE_OPTIONS', () => {
    const env = childEnv({}, { FORCE_COLOR: '3', NODE_OPTIONS: '--inspect=9229', TERM: 'xterm' });
    expect(env.NO_COLOR).toBe('1');
    expect(env).not.toHaveProperty('FORCE_COLOR');
    expect(env).not.toHaveProperty('NODE_OPTIONS');
    expect(env.TERM).toBe('xterm');
  });

  it('proxy settings pass on with the loopback addresses exempt, in both spellings', () => {
    const env = childEnv({}, { HTTPS_PROXY: 'http://proxy.corp:3128', no_proxy: 'corp.example, .internal' });
    expect(env.HTTPS_PROXY).toBe('http://proxy.corp:3128');
    for (const k of ['NO_PROXY', 'no_proxy']) {
      expect(env[k]?.split(',')).toEqual(['corp.example', '.internal', '127.0.0.1', 'localhost', '::1']);
    }
    expect(childEnv({}, { NO_PROXY: '*' }).NO_PROXY).toBe('*');
    expect(childEnv({}, { NO_PROXY: 'localhost' }).NO_PROXY).toBe('localhost,127.0.0.1,::1');
  });

  it('endpoint and credential settings pass on; the caller adds or removes its own', () => {
    const env = childEnv(
      { AWS_REGION: 'eu-west-1', AWS_PROFILE: undefined },
      { AWS_ENDPOINT_URL: 'http://localhost:4566', AWS_PROFILE: 'dev', AWS_REGION: 'us-east-1' },
    );
    expect(env.AWS_ENDPOINT_URL).toBe('http://localhost:4566');
    expect(env.AWS_REGION).toBe('eu-west-1');
    expect(env).not.toHaveProperty('AWS_PROFILE');
  });
});

describe("the local API servers' process", () => {
  const saved = { ...process.env };
  let dataDir: string | undefined;
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it.runIf(process.platform === 'linux')('is started with the environment childEnv builds', async () => {
    dataDir = tempDataDir('child-env');
    Object.assign(process.env, {
      [SDK]: 'false',
      FORCE_COLOR: '1',
      NODE_OPTIONS: '--max-old-space-size=4000',
      HTTPS_PROXY: 'http://proxy.invalid:3128',
      NO_PROXY: 'corp.example',
      AWS_ENDPOINT_URL: 'http://localhost:4566',
    });
    const config = resolveConfig({});
    const servers = await startLocalServers({ dataDir, region: config.region });
    try {
      const env = Object.fromEntries(
        readFileSync(`/proc/${servers.pid}/environ`, 'utf8')
          .split('\0')
          .filter((l) => l !== '')
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      expect(env[SDK]).toBe('false');
      expect(env.NO_COLOR).toBe('1');
      expect(env).not.toHaveProperty('FORCE_COLOR');
      expect(env).not.toHaveProperty('NODE_OPTIONS');
      expect(env.HTTPS_PROXY).toBe('http://proxy.invalid:3128');
      expect(env.NO_PROXY).toBe('corp.example,127.0.0.1,localhost,::1');
      expect(env.AWS_ENDPOINT_URL).toBe('http://localhost:4566');
      expect(env.AWS_REGION).toBe(config.region);
    } finally {
      await servers.stop();
    }
  });
});
