// Builds plugin.js (and the modules it imports) into a WebAssembly component:
// `node build.mjs [OUTPUT.wasm]`.
//
// The component implements the world `plugin` of wit/gateway.wit. Every optional WASI feature is
// disabled, so the component imports nothing but the gateway's own interfaces.

import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const output = process.argv[2] ?? '__NAME__.wasm';
const { component } = await componentize({
  sourcePath: resolve(here, 'plugin.js'),
  witPath: resolve(here, 'wit'),
  worldName: 'plugin',
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
await writeFile(output, component);
console.log(`wrote ${output} (${(component.byteLength / (1024 * 1024)).toFixed(1)} MiB)`);
