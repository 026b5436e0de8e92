/**
 * The one place a child process's environment is built. A child of paypipe (today: the local API
 * servers' process) must make the same environment choices as the CLI that started it:
 *
 * - the AWS SDK's Node-version notice stays off unless the user asked for it (the CLI sets it off
 *   in bin/ only for itself; a child that loads an SDK module would print it into `up`'s output);
 * - no colour: a child's output goes to a log file or through the parent, never to a terminal;
 * - proxy settings pass on, with the loopback addresses added to NO_PROXY, so a client in the child
 *   never sends a request for the local servers (127.0.0.1) to a corporate proxy;
 * - endpoint and credential settings (AWS_ENDPOINT_URL*, AWS_PROFILE, …) pass on unchanged: the
 *   child sees the same AWS as the CLI;
 * - NODE_OPTIONS does not: it is meant for the process the user started (a debugger, a loader, a
 *   preload), and a second process binding the same inspector port fails.
 */

/** Addresses the local servers listen on: never sent through a proxy. */
const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];

const SDK_NOTICE = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

function withLoopback(list: string | undefined): string {
  const entries = (list ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  // `*` already bypasses the proxy for every host.
  if (entries.includes('*')) return entries.join(',');
  for (const host of LOOPBACK) if (!entries.includes(host)) entries.push(host);
  return entries.join(',');
}

/**
 * The environment for a child process: the parent's (`base`, default process.env) with the CLI's
 * choices applied, then `extra` (the child's own variables; `undefined` removes one).
 */
export function childEnv(
  extra: Record<string, string | undefined> = {},
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  // An explicit choice (e.g. `false` to see the notice) is kept; unset or empty means off.
  if (env[SDK_NOTICE] === undefined || env[SDK_NOTICE] === '') env[SDK_NOTICE] = 'true';
  env.NO_COLOR = '1';
  delete env.FORCE_COLOR;
  delete env.NODE_OPTIONS;
  // Both spellings: Node's own fetch/undici, the SDK's proxy agents and curl-like tools differ.
  const noProxy = withLoopback(env.NO_PROXY ?? env.no_proxy);
  env.NO_PROXY = noProxy;
  env.no_proxy = noProxy;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}
