"""Fig. 6, 10 and Tables 4-6: a source in which old men and young women are over-represented makes
the transferred young/old classifier's accuracy depend on gender, on each of the three target mixes
of Table 5, more than an unbiased source does."""
import pytest

from bt_core.claims import attribute_accuracy_gap
from bt_core.experiment import SourceSpec

pytestmark = pytest.mark.paper
TARGET_MIXES = ("celeba_target_1", "celeba_target_2", "celeba_target_3")


@pytest.mark.parametrize("mix", TARGET_MIXES)
def test_biased_source_widens_the_gender_gap(bt, check, mix, mode):
    def gap(source, seed):
        return attribute_accuracy_gap(bt.transfer(SourceSpec(data=source), mix, mode, seed), "male")

    biased = bt.over_seeds(lambda s: gap("celeba_biased", s))
    unbiased = bt.over_seeds(lambda s: gap("celeba_unbiased", s))
    check(metric="group accuracy gap biased − unbiased", values=biased - unbiased,
          context={"source": "biased vs unbiased", "target": mix, "mode": mode,
                   "components": {"biased": biased.tolist(), "unbiased": unbiased.tolist()}})
