"""Every cell of Tables 1-6 of arXiv 2207.02842 (Appendix A) as the paper prints it, pinned here so a
slip in transcribing them into bt_core shows; and the mini tables are those tables scaled down."""
import pytest

from bt_core import paper_hparams as hp
from bt_core.data import splits
from bt_core.errors import ConfigError

# (young, male) and (dog, person) cells in the tables' column order
YM, YF, OM, OF = (1, 1), (1, 0), (0, 1), (0, 0)
CAT_PEOPLE, CAT_ALONE, DOG_PEOPLE, DOG_ALONE = (0, 1), (0, 0), (1, 1), (1, 0)


def _row(name, cells, values):
    return splits.TABLES[name].counts == dict(zip(cells, values))


def test_table_1_transfer_datasets():
    # App. A.2, Table 1: name, train/test size, classes, accuracy metric
    printed = {
        "birdsnap": ("Birdsnap", 32_677, 8_171, 500, "top1"),
        "caltech101": ("Caltech-101", 3_030, 5_647, 101, "mean_per_class"),
        "caltech256": ("Caltech-256", 15_420, 15_187, 257, "mean_per_class"),
        "cifar10": ("CIFAR-10", 50_000, 10_000, 10, "top1"),
        "cifar100": ("CIFAR-100", 50_000, 10_000, 100, "top1"),
        "aircraft": ("FGVC Aircraft", 6_667, 3_333, 100, "mean_per_class"),
        "food": ("Food-101", 75_750, 25_250, 101, "top1"),
        "flowers": ("Oxford 102 Flowers", 2_040, 6_149, 102, "mean_per_class"),
        "pets": ("Oxford-IIIT Pets", 3_680, 3_669, 37, "mean_per_class"),
        "sun397": ("SUN397", 19_850, 19_850, 397, "top1"),
        "stanford_cars": ("Stanford Cars", 8_144, 8_041, 196, "top1"),
    }
    recorded = {k: (t.title, t.train_size, t.test_size, t.classes, t.metric) for k, t in hp.TRANSFER_TARGETS.items()}
    assert recorded == printed
    assert all(t.cite.startswith("Table 1") for t in hp.TRANSFER_TARGETS.values())


def test_table_2_coco_sources_and_the_people_free_target():
    # App. A.5, Table 2: cat with / without people, dog with / without people
    cells = (CAT_PEOPLE, CAT_ALONE, DOG_PEOPLE, DOG_ALONE)
    assert _row("coco_source_unbiased", cells, (0, 1000, 0, 100))     # as printed; the copy looks damaged
    assert "AS PRINTED" in splits.TABLES["coco_source_unbiased"].cite
    assert _row("coco_source_biased", cells, (1000, 4000, 4000, 1000))
    # the text below Table 2: fine-tuned on 485 cats and 485 dogs without people
    assert splits.TABLES["coco_target"].counts == {CAT_ALONE: 485, DOG_ALONE: 485}
    assert all(splits.TABLES[n].cite.startswith("Table 2") for n in ("coco_source_biased", "coco_target"))


def test_table_3_coco_recipe():
    # App. A.5, Table 3: batch, epochs, lr, momentum, weight decay, peak epoch; pre-training / fine-tuning
    fields = lambda r: (r.batch_size, r.epochs, r.lr, r.momentum, r.weight_decay, r.peak_epoch)  # noqa: E731
    assert fields(hp.COCO_SOURCE) == (256, 25, 0.01, 0.9, 0.00005, 2)
    assert fields(hp.COCO_TRANSFER) == (256, 25, 0.005, 0.9, 0.00005, 2)
    assert "Table 3" in hp.COCO_SOURCE.cite and "Table 3" in hp.COCO_TRANSFER.cite


def test_table_4_celeba_sources():
    # App. A.6, Table 4: young male / female, old male / female
    assert _row("celeba_source_unbiased", (YM, YF, OM, OF), (2500, 2500, 2500, 2500))
    assert _row("celeba_source_biased", (YM, YF, OM, OF), (1000, 4000, 4000, 1000))


def test_table_5_celeba_targets():
    # App. A.6, Table 5, rows in order: Only Women; 80% Women 20% Men; 50% Women 50% Men
    assert _row("celeba_target_1", (YM, YF, OM, OF), (0, 5000, 0, 5000))
    assert _row("celeba_target_2", (YM, YF, OM, OF), (1000, 4000, 1000, 4000))
    assert _row("celeba_target_3", (YM, YF, OM, OF), (2500, 2500, 2500, 2500))
    assert [splits.TABLES[f"celeba_target_{i}"].cite.split("row ")[1] for i in (1, 2, 3)] == \
        ["'Only Women'", "'80% Women 20% Men'", "'50% Women 50% Men'"]


def test_table_6_celeba_recipe_and_the_config_it_overrides():
    # App. A.6, Table 6: batch 1024, 20 epochs, lr 0.05, momentum 0.9, weight decay 0.01, peak epoch 5
    r = hp.CELEBA
    assert (r.batch_size, r.epochs, r.lr, r.momentum, r.weight_decay, r.peak_epoch) == (1024, 20, 0.05, 0.9, 0.01, 5)
    assert (hp.CELEBA_CONFIG.epochs, hp.CELEBA_CONFIG.lr) == (15, 0.1) and "celeba.yaml" in hp.CELEBA_CONFIG.cite
    assert hp.attribute_recipe("celeba_target_1", "target") is hp.attribute_recipe("celeba_biased") is r


def test_attribute_recipe_names_a_bad_role_or_dataset():
    with pytest.raises(ConfigError, match="role='teacher' is unknown: expected 'source' or 'target'"):
        hp.attribute_recipe("coco_biased", "teacher")
    with pytest.raises(ConfigError, match="dataset 'cifar10' has no attribute recipe: expected one of celeba_biased"):
        hp.attribute_recipe("cifar10")


def test_paper_layout_matches_the_recorded_tables():
    assert set(splits.TABLES) == set(splits.PAPER_LAYOUT)
    for name, (where, keys, cells) in splits.PAPER_LAYOUT.items():
        table = splits.TABLES[name]
        assert table.cite.startswith(where) and table.keys == keys and set(table.counts) == set(cells)


@pytest.mark.parametrize("name", sorted(set(splits.TABLES) - {"coco_source_unbiased"}))
def test_mini_tables_keep_the_papers_ratios(name):
    paper, mini = splits.TABLES[name], splits.MINI_TABLES[name]
    factor = splits.MINI_FACTORS[name]
    assert mini.keys == paper.keys and set(mini.counts) == set(paper.counts)
    assert {g: n * factor for g, n in paper.counts.items()} == pytest.approx(mini.counts)
    assert [g for g, n in mini.counts.items() if n == 0] == [g for g, n in paper.counts.items() if n == 0]
    assert paper.cite in mini.cite


def test_the_mini_non_spurious_source_holds_no_person_and_both_classes_equally():
    """Table 2's printed row is damaged in its dog count; its people-free design is kept."""
    paper, mini = splits.TABLES["coco_source_unbiased"], splits.MINI_TABLES["coco_source_unbiased"]
    people = [g for g in paper.counts if g[1] == 1]
    assert all(paper.counts[g] == 0 == mini.counts[g] for g in people)
    assert mini.counts[(0, 0)] == mini.counts[(1, 0)] == paper.counts[(0, 0)]
    assert mini.total() == splits.MINI_TABLES["coco_source_biased"].total()
