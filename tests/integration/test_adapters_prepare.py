"""``prepare`` is resumable (a finished split is never rewritten, a changed draw is), the
``benchmark prepare`` command converts a fixture in-process, and COCO and CelebA need no counts
file: the paper's tables are in bt_core."""
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchmark.prepare import main
from bt_core.data import catalog, splits
from bt_core.data.adapters import celeba, coco
from bt_core.data.beton import read_columns, sidecar
from tests.helpers import REPO
from tests.helpers import native as fx

pytestmark = [pytest.mark.adapters,
              pytest.mark.filterwarnings("ignore::bt_core.data.catalog.ClassCountWarning")]


def _stamps(paths):
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for path in paths for p in (path, sidecar(path))}


def test_prepare_skips_finished_splits_and_redoes_changed_ones(tmp_path):
    fx.coco(tmp_path / "native", per_cell=8)
    tables = {n: splits.TABLES[n].scaled(0.001) for n in coco.OUTPUTS.values()}
    run = lambda seed=0: catalog.prepare("coco", tmp_path / "native", tmp_path / "out",  # noqa: E731
                                         progress=False, workers=1, tables=tables, seed=seed)
    paths = run()
    first = _stamps(paths)
    assert run() == paths and _stamps(paths) == first

    lost = tmp_path / "out" / "coco_unbiased" / "train.beton"
    lost.unlink()
    run()
    again = _stamps(paths)
    assert {p for p in first if again[p] != first[p]} == {lost, sidecar(lost)}

    sidecar(paths[0]).write_text("{}")               # a damaged sidecar is not trusted
    run()
    assert _stamps(paths)[paths[0]] != again[paths[0]]

    run(seed=1)                                      # another draw of the tables: every split again
    changed = _stamps(paths)
    assert all(changed[p] != again[p] for p in paths if p.name == "train.beton")


def test_python_m_benchmark_prepare(tmp_path):
    fx.food(tmp_path / "native")
    proc = subprocess.run([sys.executable, "-m", "benchmark", "prepare", "food", "--root", str(tmp_path / "native"),
                           "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(tmp_path / "out/food/train.beton"), str(tmp_path / "out/food/test.beton")]


def test_the_command_converts_and_resumes(tmp_path, capsys):
    fx.aircraft(tmp_path / "native")
    argv = ["aircraft", "--root", str(tmp_path / "native"), "--out", str(tmp_path / "out"), "--workers", "1"]
    assert main(argv) == 0                           # with the progress bar
    printed = [Path(p) for p in capsys.readouterr().out.split()]
    assert printed == [tmp_path / "out/aircraft/train.beton", tmp_path / "out/aircraft/test.beton"]
    stamps = _stamps(printed)
    assert main([*argv, "--no-progress"]) == 0
    assert _stamps(printed) == stamps


@pytest.mark.parametrize("args, message", [
    (["pets"], "prepare pets: dataset 'pets' not found: expected"),
    (["pet"], "prepare pet: dataset 'pet' is unknown: expected one of imagenet"),
    (["coco"], "prepare coco: dataset 'coco' not found: expected"),
    (["coco", "--tables", "counts.json"], "table 'coco_target' in .* lacks cells label=1, person=0"),
])
def test_the_command_reports_bad_input_in_one_line(tmp_path, capsys, args, message):
    (tmp_path / "counts.json").write_text(json.dumps({"coco_target": {"label=0, person=0": 5}}))
    args = [a if a != "counts.json" else str(tmp_path / a) for a in args]
    assert main([*args, "--root", str(tmp_path / "native"), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


def _filled(out, outputs, keys):
    """Each written split's cell counts next to the counts of its table in bt_core."""
    for name, table in outputs.items():
        columns = read_columns(out / name / "train.beton")
        stacked = np.stack([columns[k] for k in keys], 1)
        counts = splits.TABLES[table].counts
        yield {g: int(np.all(stacked == g, 1).sum()) for g in counts}, counts, len(stacked)


@pytest.mark.parametrize("name, adapter, write", [("celeba", celeba, fx.celeba), ("coco", coco, fx.coco)])
def test_the_command_fills_the_papers_tables_without_a_counts_file(tmp_path, monkeypatch, capsys, name, adapter, write):
    # bt_core's tables at a thousandth, empty cells kept empty, so that a small fixture holds them
    for table in adapter.OUTPUTS.values():
        monkeypatch.setitem(splits.TABLES, table, splits.TABLES[table].scaled(0.001))
    write(tmp_path / "native", per_cell=20)
    argv = [name, "--root", str(tmp_path / "native"), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    keys = ("label", "male" if name == "celeba" else "person")
    for found, counts, n in _filled(tmp_path / "out", adapter.OUTPUTS, keys):
        assert found == counts and n == sum(counts.values())


@pytest.mark.slow
def test_coco_prepares_at_the_papers_full_counts(tmp_path):
    """Table 2 and its 485 + 485 target, unscaled, from a fixture holding just enough images."""
    need = Counter()
    for table in coco.OUTPUTS.values():
        need.update(splits.TABLES[table].counts)
    fx.coco(tmp_path / "native", cells=dict(need))
    catalog.prepare("coco", tmp_path / "native", tmp_path / "out", progress=False, workers=2)
    for found, counts, n in _filled(tmp_path / "out", coco.OUTPUTS, ("label", "person")):
        assert found == counts and n == sum(counts.values())


def test_a_prepared_splits_identity_is_its_content(tmp_path):
    """Models are keyed by a dataset's sidecar info (bt_core.sources, bt_core.transfers), which holds the digest of
    the .beton's bytes: preparing again from the same images keeps it, from other images changes it."""
    from bt_core.cache import file_sha256
    from bt_core.data.beton import read_meta

    def info(native, out):
        paths = catalog.prepare("cifar10", native, out, progress=False, workers=1)
        return {p.parent.name + "/" + p.name: read_meta(p)["info"] for p in paths}, paths

    fx.cifar(tmp_path / "a")
    first, paths = info(tmp_path / "a", tmp_path / "out1")
    assert all(read_meta(p)["info"]["sha256"] == file_sha256(p) for p in paths)
    assert info(tmp_path / "a", tmp_path / "out2")[0] == first
    fx.cifar(tmp_path / "b", per_batch=4)                 # a larger copy, the same classes
    other = info(tmp_path / "b", tmp_path / "out3")[0]
    assert all(other[k]["sha256"] != first[k]["sha256"] for k in first)
    assert all({**other[k], "sha256": None} == {**first[k], "sha256": None} for k in first)
