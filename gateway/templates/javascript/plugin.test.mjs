// Tests of the built plugin (`__NAME__.wasm`): `node --test` after `npm run build`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PluginFailed, run } from './testing.mjs';

const WASM = '__NAME__.wasm';
const CONFIG = { url: 'https://hooks.example.com/x' };

test('a new incident is posted', () => {
  const actions = run(WASM, 'gen2_incident_created', { config: CONFIG });
  assert.equal(actions.length, 1);
  assert.equal(actions[0].http.url, CONFIG.url);
  assert.match(actions[0].http.body.text, /^New Soda incident: /);
});

test('a passing check is not posted', () => {
  const passing = {
    event: 'checkEvaluation',
    checkResults: [{ id: 'c1', name: 'row_count > 0', outcome: 'pass' }],
  };
  assert.deepEqual(run(WASM, passing, { config: CONFIG }), []);
});

test('a config without url is refused', () => {
  assert.throws(() => run(WASM, 'gen2_incident_created', { config: {} }), PluginFailed);
});
