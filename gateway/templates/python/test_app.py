"""Tests of the built plugin (`__NAME__.wasm`): `python3 -m unittest` after building it."""

import unittest

from soda_gateway_testing import PluginFailed, run

WASM = "__NAME__.wasm"
CONFIG = {"url": "https://hooks.example.com/x"}


class PluginTest(unittest.TestCase):
    def test_a_new_incident_is_posted(self):
        actions = run(WASM, "gen2_incident_created", config=CONFIG)
        self.assertEqual(len(actions), 1)
        self.assertEqual(actions[0]["http"]["url"], CONFIG["url"])
        self.assertTrue(actions[0]["http"]["body"]["text"].startswith("New Soda incident: "))

    def test_a_passing_check_is_not_posted(self):
        passing = {
            "event": "checkEvaluation",
            "checkResults": [{"id": "c1", "name": "row_count > 0", "outcome": "pass"}],
        }
        self.assertEqual(run(WASM, passing, config=CONFIG), [])

    def test_a_config_without_url_is_refused(self):
        with self.assertRaises(PluginFailed):
            run(WASM, "gen2_incident_created", config={})


if __name__ == "__main__":
    unittest.main()
