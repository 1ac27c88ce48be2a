"""The command a run records is the one its user typed, so a README row can be run again."""
import sys

from benchmark.measured import _portable
from benchmark.pytest_plugin import _invocation


def test_a_run_records_the_cli_or_pytest_as_typed(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/repo/benchmark/__main__.py", "run", "--first-seed", "5"])
    assert _invocation() == ["python", "-m", "benchmark", "run", "--first-seed", "5"]
    monkeypatch.setattr(sys, "argv", ["/venv/bin/pytest", "cases", "-m", "paper"])
    assert _invocation() == ["pytest", "cases", "-m", "paper"]


def test_measured_names_an_older_cli_record_by_its_cli_drops_output_and_progress_and_hides_the_cache_path():
    assert _portable("pytest run --first-seed 5000 --output /tmp/x") == "python -m benchmark run --first-seed 5000"
    assert _portable("pytest cases -m paper --bt-output=/tmp/y -q") == "pytest cases -m paper -q"
    assert _portable("python -m benchmark audit --output o --seeds 3") == "python -m benchmark audit --seeds 3"
    assert _portable("python -m benchmark run --cache /tmp/c --output o --progress lines") == \
        "python -m benchmark run --cache DIR"
    assert _portable("pytest cases --bt-cache=/x/y --bt-progress=off -q") == "pytest cases --bt-cache=DIR -q"
