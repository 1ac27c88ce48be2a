"""Fig. 6, 10 and Tables 4-6: a source in which old men and young women are over-represented makes
the transferred young/old classifier's accuracy depend on gender, on each of the three target mixes
of Table 5, more than an unbiased source does."""
import pytest

from bt_core.claims import attribute_accuracy_gap, measured
from bt_core.experiment import SourceSpec

pytestmark = pytest.mark.paper
TARGET_MIXES = ("celeba_target_1", "celeba_target_2", "celeba_target_3")


@pytest.mark.parametrize("mix", TARGET_MIXES)
def test_biased_source_widens_the_gender_gap(bt, check, mix, mode):
    def widening(seed):
        biased, unbiased = (attribute_accuracy_gap(bt.transfer(SourceSpec(data=source), mix, mode, seed), "male")
                            for source in ("celeba_biased", "celeba_unbiased"))
        return measured(biased - unbiased, biased=biased, unbiased=unbiased)

    check(metric="group accuracy gap biased − unbiased", measure=widening,
          context={"source": "biased vs unbiased", "target": mix, "mode": mode})
