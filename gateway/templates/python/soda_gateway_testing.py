"""Testing a plugin as the gateway runs it: `run` hands events to the built component through
`soda-gateway plugin run`, in the gateway's sandbox, and returns the actions it answered.

Runs natively (no bindings needed), from `python3 -m unittest`; the component must be built
first. `soda-gateway` is found on `PATH`, or at `$SODA_GATEWAY`.
"""

import json
import os
import subprocess
from typing import Iterable, Optional, Union

Json = Union[dict, list, str, int, float, bool, None]


class PluginFailed(AssertionError):
    """The plugin answered an error, or the gateway refused its answer."""


def run(wasm: str, events: Union[str, dict, Iterable[Union[str, dict]]], *,
        config: Optional[Json] = None, tenant: Optional[str] = None,
        state: Optional[dict] = None, response: Optional[dict] = None) -> list:
    """The actions `wasm` returns for `events`, as JSON (`{"http": {...}}`,
    `{"incident_link": {...}}`, ...).

    An event is the name of a sample event built into the gateway (`"gen2_incident_created"`)
    or a Soda payload as a dict. One event gives its list of actions; several give one entry per
    event (`{"event": ..., "actions": [...]}`), with the plugin's state carried from one to the
    next. `response` is handed to `on-response` for every action that asks for one.
    """
    single = isinstance(events, (str, dict))
    args = [os.environ.get("SODA_GATEWAY", "soda-gateway"), "plugin", "run", wasm]
    for event in [events] if single else events:
        args += ["--event", event if isinstance(event, str) else json.dumps(event)]
    if config is not None:
        args += ["--config", json.dumps(config)]
    if tenant is not None:
        args += ["--tenant", tenant]
    if state is not None:
        args += ["--state", json.dumps(state)]
    if response is not None:
        args += ["--response", json.dumps(response)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PluginFailed(f"`soda-gateway plugin run` failed:\n{done.stderr}{done.stdout}")
    return json.loads(done.stdout)
