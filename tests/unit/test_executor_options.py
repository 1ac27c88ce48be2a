"""The executor's options: each bad value is one clear error; pytest-xdist workers on CUDA take
distinct GPUs (checked without a GPU)."""
import json

import pytest
import torch

from bt_core.errors import ConfigError
from bt_core.executors import ExecutorOptions, bundles
from bt_core.options import executor_options, resolve_device
from tests.helpers.plan import need


def _getoption(**given):
    defaults = {"--bt-executor": "local", "--bt-executor-config": None, "--bt-jobs": None,
                "--bt-max-resubmits": None, "--bt-slurm-partition": None, "--bt-slurm-time": None,
                "--bt-gpus": None, "--bt-slurm-cpus": None, "--bt-slurm-mem": None, "--bt-slurm-sbatch": None,
                "--bt-job-logs": None}
    values = {**defaults, **given}
    return lambda name: values[name]


def test_options_and_a_config_file_combine_with_the_command_line_winning(tmp_path):
    config = tmp_path / "cluster.json"
    config.write_text(json.dumps({"partition": "gpu", "time_min": 240, "gpus": 1, "sbatch": {"account": "lab"}}))
    opts = executor_options(_getoption(**{"--bt-executor-config": str(config), "--bt-slurm-time": "30"}),
                            tmp_path / "out")
    assert (opts.partition, opts.time_min, opts.gpus, opts.sbatch) == ("gpu", 30, 1, (("account", "lab"),))
    assert opts.logs == str(tmp_path / "out" / "jobs")


@pytest.mark.parametrize("given, match", [
    ({"--bt-executor": "kubernetes"}, "--bt-executor='kubernetes' is unknown"),
    ({"--bt-jobs": "0"}, "jobs=0"),
    ({"--bt-jobs": "two"}, "--bt-jobs='two'"),
    ({"--bt-slurm-sbatch": ["account"]}, "--bt-slurm-sbatch='account': expected KEY=VALUE"),
])
def test_a_bad_executor_option_is_one_clear_error(tmp_path, given, match):
    with pytest.raises(ConfigError, match=match):
        executor_options(_getoption(**given), tmp_path)


def test_a_config_file_with_an_unknown_key_is_named(tmp_path):
    config = tmp_path / "cluster.json"
    config.write_text(json.dumps({"partitoin": "gpu"}))
    with pytest.raises(ConfigError, match="unknown keys \\['partitoin'\\]"):
        executor_options(_getoption(**{"--bt-executor-config": str(config)}), tmp_path)
    config.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        executor_options(_getoption(**{"--bt-executor-config": str(config)}), tmp_path)


def test_slurm_without_sbatch_on_the_path_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="sbatch is not on PATH"):
        executor_options(_getoption(**{"--bt-executor": "slurm"}), tmp_path)


def test_bundles_spread_builds_round_robin_over_at_most_the_jobs():
    needs = [need(f"s{i}") for i in range(5)]
    assert [[n.key for n in b] for b in bundles(needs, 2)] == [["source/s0", "source/s2", "source/s4"],
                                                              ["source/s1", "source/s3"]]
    assert len(bundles(needs[:1], 8)) == 1
    assert ExecutorOptions().kind == "inline"


def test_xdist_workers_on_cuda_take_distinct_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [str(resolve_device("cuda", f"gw{i}")) for i in range(3)] == ["cuda:0", "cuda:1", "cuda:0"]
    assert str(resolve_device("cuda:1", "gw0")) == "cuda:1"            # an explicit index is kept
    assert str(resolve_device("cuda", "main")) == "cuda"
    assert str(resolve_device("cpu", "gw1")) == "cpu"
