// Helpers for Soda webhook gateway plugins in JavaScript: the Rust SDK's conveniences, over the
// values componentize-js makes of wit/gateway.wit.
//
// How the contract looks from JavaScript: records are objects with camelCase fields
// (`context.configJson`, `event.incidentLinkCallbackUrl`); `option<T>` is the value or
// `undefined`; enums are their kebab-case names (outcomes `'pass'`, `'warn'`, `'fail'`,
// `'error'`, `'not-evaluated'`, `'excluded'`, `'other'`); variants are `{ tag, val }` (event
// kinds `'check-evaluation'`, `'incident-created'`, `'incident-updated'`,
// `'contract-published'`, `'unknown'`; actions `'http'`, `'incident-link'`,
// `'incident-link-callback'`); `list<u8>` is a Uint8Array; and an exported `result` is the
// returned value (ok) or the thrown value (err), which is a plugin error `{ message }`.

/** The error the gateway records for this event: `throw fail('...')`. */
export function fail(message) {
  return { message };
}

/**
 * The tenant's config as an object; a config that is not a JSON object, or misses a key in
 * `required` (or has it blank), is the event's error, naming `plugin` and the key.
 */
export function config(context, plugin, required = []) {
  let values;
  try {
    values = JSON.parse(context.configJson);
  } catch (error) {
    throw fail(`invalid ${plugin} plugin config: not JSON: ${error.message}`);
  }
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    throw fail(`invalid ${plugin} plugin config: expected a JSON object`);
  }
  for (const key of required) {
    if (typeof values[key] !== 'string' || values[key].trim() === '') {
      throw fail(`invalid ${plugin} plugin config: \`${key}\` must be a non-empty string`);
    }
  }
  return values;
}

/**
 * A POST of `body` as JSON, with more `headers` (pairs); `continuation` asks for the response
 * (world `chaining-plugin`).
 */
export function postJson(url, body, { headers = [], continuation } = {}) {
  return {
    tag: 'http',
    val: {
      method: 'post',
      url,
      headers: [['content-type', 'application/json'], ...headers],
      body: new TextEncoder().encode(JSON.stringify(body)),
      continuation,
    },
  };
}

/** Answers Soda's request with this link (the synchronous incident link). */
export function incidentLink(url, text) {
  return { tag: 'incident-link', val: { url, text } };
}

/** Posts this link to the event's `incidentLinkCallbackUrl`. */
export function incidentLinkCallback(url, text) {
  return { tag: 'incident-link-callback', val: { url, text } };
}

/** Whether a check result failed or warned. */
export function isAlerting(result) {
  return result.outcome === 'fail' || result.outcome === 'warn';
}

/** The first value that is neither `undefined` nor blank. */
export function first(...values) {
  return values.find((value) => typeof value === 'string' && value.trim() !== '');
}

/** A human name for a check: its name, else its definition, else its id, else "check". */
export function displayName(result) {
  return first(result.name, result.definition, result.id) ?? 'check';
}

/** A human name for a dataset: its label, else its name, else its id, else "dataset". */
export function datasetName(dataset) {
  return first(dataset.label, dataset.name, dataset.id) ?? 'dataset';
}

/** A human name for a user: the email, else the id. */
export function userName(user) {
  return user ? first(user.email, user.id) : undefined;
}
