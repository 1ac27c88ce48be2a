"""run, compare and audit refuse bad usage before anything runs: exit 2 and one line saying why."""
import pytest

from tests.helpers.cli import make_verdict, run_benchmark, write_results


@pytest.mark.parametrize("command", [["run"], ["compare", "--arch", "mini_vgg"]])
def test_a_pytest_option_the_command_sets_itself_is_refused_with_the_one_to_use(tmp_path, command):
    proc = run_benchmark([*command, "--bt-output=elsewhere"], tmp_path)
    assert proc.returncode == 2
    assert "--bt-output=elsewhere is the sub-command's own --output: expected --output instead" in proc.stderr


@pytest.mark.parametrize("args, message", [
    ([], "compare needs --arch NAME"),
    (["--arch", "resnet9000"], "architecture 'resnet9000' is unknown"),
    (["--arch", "mini_resnet", "--seeds", "many"], "--bt-seeds='many' is not understood"),
    (["--arch", "mini_resnet", "-k", "no_such_claim"], "-k 'no_such_claim' matches no test"),
])
def test_compare_exits_2_on_a_usage_error_and_says_why(tmp_path, args, message):
    write_results(tmp_path / "res", [make_verdict("backdoor_fixed", [0.4, 0.5])])       # an earlier run's: not reused
    proc = run_benchmark(["compare", *args, "--output", str(tmp_path / "res")], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stdout + proc.stderr and "vs the baselines" not in proc.stdout


@pytest.mark.parametrize("args, message", [
    ([], "audit needs --source-weights W (with --arch NAME) and/or --target-dir D"),
    (["--arch", "mini_resnet", "--source-weights", "nope.pt"], "source weights 'nope.pt' does not exist"),
])
def test_audit_usage_errors_exit_2_with_the_reason(tmp_path, args, message):
    proc = run_benchmark(["audit", "--output", str(tmp_path / "out"), *args], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stdout + proc.stderr


@pytest.mark.parametrize("args, message", [
    (["audit", "--target-dir", "x", "--progress", "off"],
     "python -m benchmark audit: error: unrecognized arguments: --progress (an option of run, not of audit)"),
    (["compare", "--arch", "mini_vgg", "--source-weights=w.pt"],
     "python -m benchmark compare: error: unrecognized arguments: --source-weights=w.pt (an option of audit, "
     "not of compare)"),
    (["compare", "--arch", "mini_vgg", "--update-baselines"],
     "--update-baselines: compare does not record baselines; expected `run --arch NAME --update-baselines`"),
    (["compare", "--arch", "mini_vgg", "--bt-update-baselines"], "compare does not record baselines"),
])
def test_audit_and_compare_name_an_option_that_is_not_theirs(tmp_path, args, message):
    proc = run_benchmark([*args, "--output", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "pytest.main()" not in proc.stderr
    assert not (tmp_path / "out").exists()
