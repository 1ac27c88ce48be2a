"""The split builder fills group tables exactly, disjointly and reproducibly, and says which cell
is short; a counts file that overrides the paper's tables is checked against their layout."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bt_core.data import splits
from bt_core.data.splits import GroupTable, fill, fill_disjoint, load_tables, paper_table
from bt_core.errors import ConfigError, DataError

KEYS = ("label", "male")


def _pool(per_cell: int, seed: int = 0) -> dict[str, np.ndarray]:
    groups = np.repeat(np.arange(4), per_cell)
    np.random.default_rng(seed).shuffle(groups)
    return {"label": groups // 2, "male": groups % 2}


def _counts(columns, index, keys=KEYS):
    return {g: int(np.sum(np.all(np.stack([columns[k][index] for k in keys], 1) == g, 1)))
            for g in ((0, 0), (0, 1), (1, 0), (1, 1))}


def test_fill_draws_exactly_the_table():
    columns = _pool(20)
    table = GroupTable("t", "test", KEYS, {(0, 0): 3, (0, 1): 0, (1, 0): 7, (1, 1): 20})
    index = fill(table, columns, seed=4)
    assert _counts(columns, index) == table.counts
    assert list(index) == sorted(set(index))
    assert np.array_equal(index, fill(table, columns, seed=4))
    assert not np.array_equal(index, fill(table, columns, seed=5))


def test_fill_never_uses_excluded_images():
    columns = _pool(10)
    table = GroupTable("t", "test", KEYS, {(1, 1): 4})
    exclude = np.flatnonzero((columns["label"] == 1) & (columns["male"] == 1))[:6]
    index = fill(table, columns, seed=0, exclude=exclude)
    assert not set(index) & set(exclude) and len(index) == 4


def test_fill_disjoint_keeps_every_table_exact_and_apart():
    columns = _pool(50)
    tables = [splits.MINI_TABLES[n].scaled(0.01) for n in
              ("celeba_source_biased", "celeba_source_unbiased", "celeba_target_1", "celeba_target_2",
               "celeba_target_3")]
    parts = fill_disjoint(tables, columns, seed=0)
    for table, index in zip(tables, parts):
        assert {g: n for g, n in _counts(columns, index).items() if g in table.counts} == table.counts
    flat = np.concatenate(parts)
    assert len(flat) == len(set(flat)) == sum(t.total() for t in tables)


def test_a_short_cell_names_the_table_the_cell_and_the_shortfall():
    columns = _pool(5)
    table = GroupTable("celeba_target_9", "test", KEYS, {(0, 0): 2, (1, 0): 8})
    with pytest.raises(DataError, match=r"table 'celeba_target_9' cell \(label=1, male=0\) needs 8 images but "
                                        r"the pool has 5 available: 3 short"):
        fill(table, columns, seed=0)
    with pytest.raises(DataError, match=r"needs columns \['person'\]"):
        fill(GroupTable("t", "test", ("label", "person"), {(0, 0): 1}), columns, seed=0)


def test_scaled_rounds_keeps_every_non_empty_cell_and_leaves_empty_ones_empty():
    table = GroupTable("t", "Table 9", KEYS, {(0, 0): 900, (0, 1): 100, (1, 0): 30, (1, 1): 0})
    small = table.scaled(0.01)
    assert small.counts == {(0, 0): 9, (0, 1): 1, (1, 0): 1, (1, 1): 0}
    assert small.total() == 11 and table.total() == 1030
    assert small.keys == table.keys and "x0.01" in small.cite


@pytest.mark.parametrize("counts", [{(0,): 3}, {(0, 1): -1}, {(0, 1): 2.5}])
def test_malformed_tables_are_rejected(counts):
    with pytest.raises(ConfigError, match="table 'bad' cell .* is invalid: expected a tuple of 2 ints"):
        GroupTable("bad", "test", KEYS, counts)


def test_counts_file_round_trip(tmp_path):
    path = tmp_path / "counts.json"
    path.write_text(json.dumps({"coco_target": {"label=0, person=0": 5, "label=1,person=0": 6}}))
    tables = load_tables(path)
    assert tables["coco_target"].counts == {(0, 0): 5, (1, 0): 6}
    assert "Table 2 of arXiv 2207.02842" in tables["coco_target"].cite
    assert paper_table("coco_target", tables) is tables["coco_target"]


@pytest.mark.parametrize("content, match", [
    ({"coco_tagret": {}}, "table 'coco_tagret' in .* is unknown: expected one of coco_source_biased"),
    ({"coco_target": {"label=0, person=1": 5, "label=1, person=0": 5}},
     r"table 'coco_target' cell 'label=0, person=1' in .* is not a cell of Table 2: expected one of "
     r"label=0, person=0; label=1, person=0"),
    ({"coco_target": {"label=0, person=0": 5}}, r"lacks cells label=1, person=0: every cell of Table 2 needs a count"),
    ({"coco_target": {"label=0, person=0": -5, "label=1, person=0": 5}}, "is invalid: expected a tuple"),
    ([1, 2], "holds a list"),
])
def test_bad_counts_files(tmp_path, content, match):
    path = tmp_path / "counts.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError, match=match):
        load_tables(path)


def test_the_recorded_paper_counts():
    assert paper_table("coco_target").counts == {(0, 0): 485, (1, 0): 485}
    given = GroupTable("coco_target", "file", ("label", "person"), {(0, 0): 2, (1, 0): 2})
    assert paper_table("coco_target", {"coco_target": given}) is given      # a file overrides them


def test_an_unknown_paper_table():
    with pytest.raises(ConfigError, match="table 'nope' is unknown: expected one of coco_source_biased"):
        paper_table("nope")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=60), st.lists(st.integers(0, 6), min_size=4, max_size=4),
       st.integers(0, 2**31))
def test_fill_is_exact_or_names_the_short_cell(groups, wanted, seed):
    columns = {"label": np.asarray(groups) // 2, "male": np.asarray(groups) % 2}
    table = GroupTable("t", "test", KEYS, dict(zip(((0, 0), (0, 1), (1, 0), (1, 1)), wanted)))
    have = _counts(columns, np.arange(len(groups)))
    if all(have[g] >= n for g, n in table.counts.items()):
        assert _counts(columns, fill(table, columns, seed)) == table.counts
    else:
        with pytest.raises(DataError, match="short"):
            fill(table, columns, seed)
