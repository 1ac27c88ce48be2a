"""A family's text is what the recorded baselines, the timing file and the events hold, to the character."""
from bt_core.families import SourceFamily, TransferFamily, kind_of


def test_a_family_writes_the_text_the_records_hold_and_keeps_its_kind_as_a_field():
    source = SourceFamily("source", 0.5, "mini_resnet")
    debiased = TransferFamily("full", "shapes12", "mini_resnet", "source p=0.5", 0.1, "debiasing")
    scratch = TransferFamily("scratch", "shapes4", "mini_vgg", "scratch")
    assert [str(f) for f in (source, debiased, scratch)] == [
        "source source p=0.5 mini_resnet",
        "full shapes12 mini_resnet from source p=0.5 +0.1 trigger (debiasing recipe)",
        "scratch shapes4 mini_vgg from scratch"]
    assert [f.kind for f in (source, debiased, scratch)] == ["source", "full", "scratch"]
    assert all(kind_of(str(f)) == f.kind for f in (source, debiased, scratch))
