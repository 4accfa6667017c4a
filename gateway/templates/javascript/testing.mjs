// Testing a plugin as the gateway runs it: `run` hands events to the built component through
// `soda-gateway plugin run`, in the gateway's sandbox, and returns the actions it answered.
//
// Runs in Node (`node --test`) after the component is built. `soda-gateway` is found on `PATH`,
// or at `$SODA_GATEWAY`.

import { spawnSync } from 'node:child_process';

/** The plugin answered an error, or the gateway refused its answer. */
export class PluginFailed extends Error {}

/**
 * The actions `wasm` returns for `events`, as JSON (`{ http: {...} }`, `{ incident_link: {...} }`,
 * ...).
 *
 * An event is the name of a sample event built into the gateway (`'gen2_incident_created'`) or
 * a Soda payload as an object. One event gives its list of actions; an array of events gives one
 * entry per event (`{ event, actions }`), with the plugin's state carried from one to the next.
 * `response` is handed to `on-response` for every action that asks for one.
 */
export function run(wasm, events, { config, tenant, state, response } = {}) {
  const args = ['plugin', 'run', wasm];
  for (const event of Array.isArray(events) ? events : [events]) {
    args.push('--event', typeof event === 'string' ? event : JSON.stringify(event));
  }
  if (config !== undefined) args.push('--config', JSON.stringify(config));
  if (tenant !== undefined) args.push('--tenant', tenant);
  if (state !== undefined) args.push('--state', JSON.stringify(state));
  if (response !== undefined) args.push('--response', JSON.stringify(response));
  const done = spawnSync(process.env.SODA_GATEWAY ?? 'soda-gateway', args, { encoding: 'utf8' });
  if (done.error) {
    throw new PluginFailed(`cannot run soda-gateway: ${done.error.message}`);
  }
  if (done.status !== 0) {
    throw new PluginFailed(`\`soda-gateway plugin run\` failed:\n${done.stderr}${done.stdout}`);
  }
  return JSON.parse(done.stdout);
}
