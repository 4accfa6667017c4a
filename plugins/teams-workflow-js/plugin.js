// Microsoft Teams workflow plugin for the Soda webhook gateway, written in JavaScript and built
// into a WebAssembly component with componentize-js (see README.md).
//
// It posts an Adaptive Card (version 1.2) to a Teams Workflows webhook ("Post to a channel when a
// webhook request is received") or a classic incoming webhook: one card per `checkEvaluation`
// with failing or warning results, one per `incidentCreated`, nothing for anything else.
//
// The values follow componentize-js's mapping of wit/0.2.0/gateway.wit: records are objects with
// camelCase fields, `option<T>` is the value or `undefined`, enums are their kebab-case names,
// variants are `{ tag, val }`, `option<s64>` is a BigInt, `list<u8>` is a Uint8Array, and an
// exported `result` is the returned value (ok) or the thrown value (err).

import { write as log } from 'soda:gateway/log@0.2.0';

/** How many alerting results get their own section in one card. */
const MAX_RESULTS = 10;
/** Config keys this plugin knows; anything else is a typo worth reporting. */
const CONFIG_KEYS = ['webhook_url', 'title_prefix'];

/** Turns one event into actions. */
export function handle(event, context) {
  const config = parseConfig(context.configJson);
  let card;
  switch (event.kind.tag) {
    case 'check-evaluation':
      card = checkEvaluationCard(config, event.kind.val);
      break;
    case 'incident-created':
      card = incidentCreatedCard(config, event.kind.val);
      break;
    default:
      card = undefined;
  }
  if (card === undefined) {
    return [];
  }
  log('info', 'posting Teams workflow card', [['event_kind', event.kind.tag]]);
  return [postJson(config.webhook_url, message(card))];
}

// ---------------------------------------------------------------------------------------------
// Configuration

function parseConfig(json) {
  let config;
  try {
    config = JSON.parse(json);
  } catch (e) {
    fail(`invalid teams-workflow plugin config: not JSON: ${e.message}`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    fail('invalid teams-workflow plugin config: expected a JSON object');
  }
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.includes(key)) {
      fail(`invalid teams-workflow plugin config: unknown key \`${key}\` (known: ${CONFIG_KEYS.join(', ')})`);
    }
  }
  if (typeof config.webhook_url !== 'string' || config.webhook_url.trim() === '') {
    fail('invalid teams-workflow plugin config: `webhook_url` must be a non-empty string');
  }
  if (config.title_prefix !== undefined && typeof config.title_prefix !== 'string') {
    fail('invalid teams-workflow plugin config: `title_prefix` must be a string');
  }
  return {
    webhook_url: config.webhook_url,
    title_prefix: config.title_prefix ?? 'Soda',
  };
}

/** Ends the call with a `plugin-error` (a thrown plain object is the export's `err`). */
function fail(message) {
  throw { message };
}

// ---------------------------------------------------------------------------------------------
// Cards

/** The card for a `checkEvaluation`, or undefined when no result fails or warns. */
function checkEvaluationCard(config, results) {
  const alerting = results.filter((r) => r.outcome === 'fail' || r.outcome === 'warn');
  if (alerting.length === 0) {
    return undefined;
  }
  const failed = alerting.filter((r) => r.outcome === 'fail').length;
  const warned = alerting.length - failed;
  const body = [title(`${config.title_prefix}: ${summary(failed, warned)}`)];
  for (const result of alerting.slice(0, MAX_RESULTS)) {
    body.push(resultContainer(result));
  }
  if (alerting.length > MAX_RESULTS) {
    const more = alerting.length - MAX_RESULTS;
    body.push(text(`…and ${more} more alerting check${plural(more)}`, { isSubtle: true }));
  }
  return card(body, []);
}

/** The card for an `incidentCreated`. */
function incidentCreatedCard(config, incident) {
  const name = incident.number !== undefined ? `Incident #${incident.number}` : 'Incident';
  const incidentTitle = nonEmpty(incident.title) ?? '(untitled)';
  const body = [title(`${config.title_prefix}: ${name}: ${incidentTitle}`)];
  const description = nonEmpty(incident.description);
  if (description !== undefined) {
    body.push(text(description));
  }
  const facts = [
    fact('Severity', enumText(incident.severity, incident.severityRaw)),
    fact('Status', enumText(incident.status, incident.statusRaw)),
  ];
  const lead = userName(incident.lead);
  if (lead !== undefined) facts.push(fact('Lead', lead));
  const reporter = userName(incident.reporter);
  if (reporter !== undefined) facts.push(fact('Reporter', reporter));
  facts.push(...datasetFacts(incident.checkResults.flatMap((r) => r.datasets)));
  if (incident.checkResults.length > 0) {
    facts.push(fact('Checks', incident.checkResults.map((r) => `${checkName(r)} (${outcomeText(r)})`).join(', ')));
  }
  const created = nonEmpty(incident.created);
  if (created !== undefined) facts.push(fact('Created', created));
  body.push({ type: 'FactSet', facts });
  return card(body, openUrl(incident.sodaCloudUrl));
}

/** One alerting check result: its name, facts, and a link to it. */
function resultContainer(result) {
  const items = [
    text(checkName(result), { weight: 'Bolder', color: result.outcome === 'fail' ? 'Attention' : 'Warning' }),
  ];
  const facts = [fact('Outcome', outcomeText(result))];
  facts.push(...datasetFacts(result.datasets));
  const column = nonEmpty(result.column);
  if (column !== undefined) facts.push(fact('Column', column));
  const agreement = result.agreement && (nonEmpty(result.agreement.label) ?? nonEmpty(result.agreement.id));
  if (agreement) facts.push(fact('Agreement', agreement));
  const timestamp = nonEmpty(result.dataTimestamp);
  if (timestamp !== undefined) facts.push(fact('Data timestamp', timestamp));
  items.push({ type: 'FactSet', facts });
  const actions = openUrl(result.sodaCloudUrl);
  if (actions.length > 0) {
    items.push({ type: 'ActionSet', actions });
  }
  return { type: 'Container', separator: true, items };
}

/** The Adaptive Card 1.2 around `body` and `actions`. */
function card(body, actions) {
  const content = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.2',
    body,
  };
  if (actions.length > 0) {
    content.actions = actions;
  }
  content.msteams = { width: 'Full' };
  return content;
}

/** The webhook body Teams expects around a card. */
function message(content) {
  return {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }],
  };
}

function title(value) {
  return text(value, { size: 'Medium', weight: 'Bolder' });
}

function text(value, style = {}) {
  return { type: 'TextBlock', text: value, wrap: true, ...style };
}

function fact(name, value) {
  return { title: name, value };
}

/** `[Action.OpenUrl "Open in Soda"]` when there is a URL, else nothing. */
function openUrl(url) {
  const target = nonEmpty(url);
  return target === undefined ? [] : [{ type: 'Action.OpenUrl', title: 'Open in Soda', url: target }];
}

// ---------------------------------------------------------------------------------------------
// Helpers mirroring the Rust SDK's display names

function checkName(result) {
  return nonEmpty(result.name) ?? nonEmpty(result.definition) ?? nonEmpty(result.id) ?? 'check';
}

function outcomeText(result) {
  return enumText(result.outcome, result.outcomeRaw);
}

/** The normalised enum name, or for `other` what Soda sent. */
function enumText(value, raw) {
  return value === 'other' ? nonEmpty(raw) ?? 'other' : value;
}

function datasourceName(dataset) {
  const ds = dataset.datasource;
  return ds && (nonEmpty(ds.label) ?? nonEmpty(ds.name) ?? nonEmpty(ds.id));
}

function datasetName(dataset) {
  return nonEmpty(dataset.label) ?? nonEmpty(dataset.name) ?? nonEmpty(dataset.id) ?? 'dataset';
}

/** The `Dataset` and `Datasource` facts (plural when several) for `datasets`. */
function datasetFacts(datasets) {
  const facts = [];
  const names = unique(datasets.map(datasetName));
  if (names.length > 0) facts.push(fact(names.length === 1 ? 'Dataset' : 'Datasets', names.join(', ')));
  const sources = unique(datasets.map(datasourceName).filter((d) => d !== undefined));
  if (sources.length > 0) facts.push(fact(sources.length === 1 ? 'Datasource' : 'Datasources', sources.join(', ')));
  return facts;
}

function userName(user) {
  return user && (nonEmpty(user.email) ?? nonEmpty(user.id));
}

function summary(failed, warned) {
  if (failed === 0) return `${warned} check${plural(warned)} warned`;
  if (warned === 0) return `${failed} check${plural(failed)} failed`;
  return `${failed} check${plural(failed)} failed, ${warned} warned`;
}

function plural(n) {
  return n === 1 ? '' : 's';
}

function nonEmpty(value) {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function unique(values) {
  return [...new Set(values)];
}

/** A POST of `body` as JSON. */
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
