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
