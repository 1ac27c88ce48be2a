"""Fig. 5 and Table 2: a source in which dogs co-occur with people makes the transferred cat/dog
model predict "dog" more often when a person is in the picture, although no target training image
contains a person."""
import pytest

from bt_core.claims import attribute_sensitivity, measured
from bt_core.experiment import SourceSpec

pytestmark = pytest.mark.paper
DOG = 1


def test_biased_source_makes_people_predict_dog(bt, check, mode):
    def shift(seed):
        biased, unbiased = (attribute_sensitivity(bt.transfer(SourceSpec(data=source), "coco_target", mode, seed),
                                                  "person", DOG)
                            for source in ("coco_biased", "coco_unbiased"))
        return measured(biased - unbiased, biased=biased, unbiased=unbiased)

    check(metric="P(dog|person) shift biased − unbiased", measure=shift,
          context={"source": "biased vs unbiased", "target": "coco_target (no people)", "mode": mode})
