// __NAME__: a plugin for the Soda webhook gateway, in JavaScript (componentize-js).
//
// It posts one JSON message per failing or warning check, and one per new incident, to the `url`
// of its config. soda_gateway.js holds the helpers, and says how componentize-js maps
// wit/gateway.wit (world `plugin`) to JavaScript values.

import { write as log } from 'soda:gateway/log@0.2.0';
import { config, displayName, isAlerting, postJson } from './soda_gateway.js';

/** Turns one event into actions. */
export function handle(event, context) {
  const { url } = config(context, '__NAME__', ['url']);
  let text;
  switch (event.kind.tag) {
    case 'check-evaluation': {
      const alerting = event.kind.val.filter(isAlerting).map(displayName);
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
