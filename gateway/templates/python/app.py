"""__NAME__: a plugin for the Soda webhook gateway, in Python (componentize-py).

It posts one JSON message per failing or warning check, and one per new incident, to the `url`
of its config. The bindings (`wit_world`, `componentize_py_types`) are generated at build time
from `wit/gateway.wit`, world `plugin`.
"""

import json
from typing import List

import wit_world
from componentize_py_types import Err
from wit_world.imports import log
from wit_world.imports.types import (
    Action,
    Action_Http,
    Context,
    Event,
    EventKind_CheckEvaluation,
    EventKind_IncidentCreated,
    HttpMethod,
    HttpRequest,
    Outcome,
    PluginError,
)

ALERTING = {Outcome.FAIL, Outcome.WARN}


def config_url(context: Context) -> str:
    """The `url` of the tenant's config; a missing one is the event's error."""
    try:
        config = json.loads(context.config_json)
    except ValueError as error:
        raise Err(PluginError(f"invalid __NAME__ plugin config: not JSON: {error}"))
    url = config.get("url") if isinstance(config, dict) else None
    if not isinstance(url, str) or not url.strip():
        raise Err(PluginError("invalid __NAME__ plugin config: `url` must be a non-empty string"))
    return url


def post_json(url: str, message: dict) -> Action:
    body = json.dumps(message).encode()
    headers = [("content-type", "application/json")]
    request = HttpRequest(
        method=HttpMethod.POST, url=url, headers=headers, body=body, continuation=None
    )
    return Action_Http(request)


class WitWorld(wit_world.WitWorld):
    def handle(self, event: Event, context: Context) -> List[Action]:
        url = config_url(context)
        if isinstance(event.kind, EventKind_CheckEvaluation):
            names = [
                result.name or result.definition or result.id or "check"
                for result in event.kind.value
                if result.outcome in ALERTING
            ]
            if not names:
                return []
            text = "Soda checks alerting: " + ", ".join(names)
        elif isinstance(event.kind, EventKind_IncidentCreated):
            text = "New Soda incident: " + (event.kind.value.title or "(untitled)")
        else:
            return []
        log.write(log.Level.INFO, "posting a message", [])
        return [post_json(url, {"text": text})]
