// Builds plugin.js into a WebAssembly component: `node build.mjs OUTPUT.wasm`.
//
// The component implements the `plugin` world (`handle` only) of wit/0.2.0/gateway.wit. Every optional WASI feature
// is disabled, so the component imports nothing but the gateway's own interfaces.

import { componentize } from '@bytecodealliance/componentize-js';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const output = process.argv[2];
if (!output) {
  console.error('usage: node build.mjs OUTPUT.wasm');
  process.exit(2);
}

const started = Date.now();
const source = await readFile(resolve(here, 'plugin.js'), 'utf8');
const { component } = await componentize(source, {
  witPath: resolve(here, '../../wit/0.2.0'),
  worldName: 'plugin',
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
await mkdir(dirname(resolve(output)), { recursive: true });
await writeFile(output, component);
const mib = (component.byteLength / (1024 * 1024)).toFixed(1);
console.log(`wrote ${output} (${mib} MiB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
