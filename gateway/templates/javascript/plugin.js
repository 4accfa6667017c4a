// __NAME__: a plugin for the Soda webhook gateway, in JavaScript (componentize-js).
//
// It posts one JSON message per failing or warning check, and one per new incident, to the `url`
// of its config. componentize-js maps wit/gateway.wit (world `plugin`) to JavaScript: records are
// objects with camelCase fields, `option<T>` is the value or `undefined`, enums are their
// kebab-case names, variants are `{ tag, val }`, `list<u8>` is a Uint8Array, and an exported
// `result` is the returned value (ok) or the thrown value (err).

import { write as log } from 'soda:gateway/log@0.2.0';

/** Turns one event into actions. */
export function handle(event, context) {
  const url = configUrl(context.configJson);
  let text;
  switch (event.kind.tag) {
    case 'check-evaluation': {
      const alerting = event.kind.val
        .filter((result) => result.outcome === 'fail' || result.outcome === 'warn')
        .map((result) => result.name ?? result.definition ?? result.id ?? 'check');
      if (alerting.length === 0) {
        return [];
      }
      text = `Soda checks alerting: ${alerting.join(', ')}`;
      break;
    }
    case 'incident-created':
      text = `New Soda incident: ${event.kind.val.title ?? '(untitled)'}`;
      break;
    default:
      return [];
  }
  log('info', 'posting a message', [['event_kind', event.kind.tag]]);
  return [postJson(url, { text })];
}

/** The `url` of the tenant's config; a missing one is the event's error. */
function configUrl(json) {
  let config;
  try {
    config = JSON.parse(json);
  } catch (e) {
    throw { message: `invalid __NAME__ plugin config: not JSON: ${e.message}` };
  }
  if (typeof config?.url !== 'string' || config.url.trim() === '') {
    throw { message: 'invalid __NAME__ plugin config: `url` must be a non-empty string' };
  }
  return config.url;
}

function postJson(url, body) {
  return {
    tag: 'http',
    val: {
      method: 'post',
      url,
      headers: [['content-type', 'application/json']],
      body: new TextEncoder().encode(JSON.stringify(body)),
      continuation: undefined,
    },
  };
}
