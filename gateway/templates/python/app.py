"""__NAME__: a plugin for the Soda webhook gateway, in Python (componentize-py).

It posts one JSON message per failing or warning check, and one per new incident, to the `url`
of its config. The bindings (`wit_world`, `componentize_py_types`) are generated at build time
from `wit/gateway.wit`, world `plugin`; `soda_gateway.py` holds the helpers.
"""

from typing import List

import wit_world
from soda_gateway import config, display_name, is_alerting, post_json
from wit_world.imports import log
from wit_world.imports.types import (
    Action,
    Context,
    Event,
    EventKind_CheckEvaluation,
    EventKind_IncidentCreated,
)


class WitWorld(wit_world.WitWorld):
    def handle(self, event: Event, context: Context) -> List[Action]:
        url = config(context, "__NAME__", required=["url"])["url"]
        if isinstance(event.kind, EventKind_CheckEvaluation):
            names = [display_name(result) for result in event.kind.value if is_alerting(result)]
            if not names:
                return []
            text = "Soda checks alerting: " + ", ".join(names)
        elif isinstance(event.kind, EventKind_IncidentCreated):
            text = "New Soda incident: " + (event.kind.value.title or "(untitled)")
        else:
            return []
        log.write(log.Level.INFO, "posting a message", [("event_kind", type(event.kind).__name__)])
        return [post_json(url, {"text": text})]
