"""Loads the suite's pytest plugin (benchmark/pytest_plugin.py): its options, fixtures and hooks."""
pytest_plugins = ("benchmark.pytest_plugin",)
