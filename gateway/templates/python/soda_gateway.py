"""Helpers for Soda webhook gateway plugins in Python: the Rust SDK's conveniences, over the
names componentize-py generates from `wit/gateway.wit`.

The generated names, for reference (`from wit_world.imports.types import ...`): `Event`,
`Context`, the event kinds `EventKind_CheckEvaluation`, `EventKind_IncidentCreated`,
`EventKind_IncidentUpdated`, `EventKind_ContractPublished`, `EventKind_Unknown` (each with
`.value`), `CheckResult`,
`Outcome` (`PASS`, `WARN`, `FAIL`, `ERROR`, `NOT_EVALUATED`, `EXCLUDED`, `OTHER`), `Dataset`,
`Incident`, `User`, the actions `Action_Http`, `Action_IncidentLink`,
`Action_IncidentLinkCallback`, and `PluginError`. Fields are snake_case (`config_json`,
`incident_link_callback_url`); `option<T>` is the value or `None`.
"""

import json
from typing import Iterable, Optional, Tuple

from componentize_py_types import Err
from wit_world.imports.types import (
    Action,
    Action_Http,
    Action_IncidentLink,
    Action_IncidentLinkCallback,
    CheckResult,
    Context,
    Dataset,
    HttpMethod,
    HttpRequest,
    Link,
    Outcome,
    PluginError,
    User,
)


def fail(message: str) -> Err:
    """The error the gateway records for this event: `raise fail("...")`."""
    return Err(PluginError(message))


def config(context: Context, plugin: str, required: Iterable[str] = ()) -> dict:
    """The tenant's config as a dict; a config that is not a JSON object, or misses a key in
    `required` (or has it empty), is the event's error, naming `plugin` and the key."""
    try:
        values = json.loads(context.config_json)
    except ValueError as error:
        raise fail(f"invalid {plugin} plugin config: not JSON: {error}")
    if not isinstance(values, dict):
        raise fail(f"invalid {plugin} plugin config: expected a JSON object")
    for key in required:
        value = values.get(key)
        if not isinstance(value, str) or not value.strip():
            raise fail(f"invalid {plugin} plugin config: `{key}` must be a non-empty string")
    return values


def post_json(url: str, body, headers: Iterable[Tuple[str, str]] = (),
              continuation: Optional[str] = None) -> Action:
    """A POST of `body` as JSON; `continuation` asks for the response (world `chaining-plugin`)."""
    request = HttpRequest(
        method=HttpMethod.POST,
        url=url,
        headers=[("content-type", "application/json"), *headers],
        body=json.dumps(body).encode(),
        continuation=continuation,
    )
    return Action_Http(request)


def incident_link(url: str, text: str) -> Action:
    """Answers Soda's request with this link (the synchronous incident link)."""
    return Action_IncidentLink(Link(url=url, text=text))


def incident_link_callback(url: str, text: str) -> Action:
    """Posts this link to the event's `incident_link_callback_url`."""
    return Action_IncidentLinkCallback(Link(url=url, text=text))


def is_alerting(result: CheckResult) -> bool:
    """Whether the result failed or warned."""
    return result.outcome in (Outcome.FAIL, Outcome.WARN)


def first(*values: Optional[str]) -> Optional[str]:
    """The first value that is neither `None` nor blank."""
    for value in values:
        if value is not None and value.strip():
            return value
    return None


def display_name(result: CheckResult) -> str:
    """A human name for a check: its name, else its definition, else its id, else "check"."""
    return first(result.name, result.definition, result.id) or "check"


def dataset_name(dataset: Dataset) -> str:
    """A human name for a dataset: its label, else its name, else its id, else "dataset"."""
    return first(dataset.label, dataset.name, dataset.id) or "dataset"


def user_name(user: Optional[User]) -> Optional[str]:
    """A human name for a user: the email, else the id."""
    return first(user.email, user.id) if user else None
