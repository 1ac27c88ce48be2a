"""The time limit each claim's test runs under: 1,800 s at the mini scale, none at the paper scale (a
test trains its ResNet-18s inline for hours), and the user's own wherever ``--timeout`` sets one."""
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO

PLUGIN = '''
def pytest_collection_finish(session):
    for item in session.items:
        marker = item.get_closest_marker("timeout")
        print("LIMIT", marker.args[0] if marker else None)
'''


@pytest.mark.parametrize("args, limits", [([], {"1800"}), (["--bt-scale", "paper"], {"0"}),
                                          (["--bt-scale", "paper", "--timeout", "7200"], {"None"}),
                                          (["--timeout", "60"], {"None"})])
def test_a_claims_limit_follows_the_scale_unless_the_user_sets_one(tmp_path, args, limits):
    (tmp_path / "limits_plugin.py").write_text(PLUGIN)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("PYTEST_TIMEOUT", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "cases", "-m", "paper", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "-p", "limits_plugin", "--bt-cache", str(tmp_path / "c"), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    seen = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("LIMIT ")]
    assert len(seen) > 40 and set(seen) == limits


def test_a_test_out_of_time_ends_the_run_saying_which_and_how_to_give_it_longer(tmp_path):
    (tmp_path / "test_demo.py").write_text("import time\n\n\ndef test_sleeps():\n    time.sleep(60)\n")
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "benchmark.pytest_plugin", "test_demo.py", "-q",
                           "-p", "no:cacheprovider", "-p", "no:xdist", "--bt-cache", "cache", "--bt-output", "out",
                           "--timeout", "2", "--timeout-method", "thread"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    last = proc.stdout.strip().splitlines()[-1]
    assert last == (f"bt: test_demo.py::test_sleeps ran past its time limit of 2 s and the run was stopped; the "
                    f"models built so far stay in the artifact cache {tmp_path / 'cache'} and a rerun goes on from "
                    "them. On a slow or loaded machine give it longer: --timeout SECONDS (0: no limit).")
    assert 'test_demo.py", line 5, in test_sleeps' in proc.stdout       # where it was
