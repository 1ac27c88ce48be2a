"""What the commands make of a run's verdicts, in process: the summary CSV, power's count of models a
run trains, compare's exit code with its reasons, and compare's table."""
import json

import pytest

from tests.helpers.cli import RUN, make_verdict


def test_summary_csv_says_each_checks_status_seeds_and_both_p_values(tmp_path):
    import csv

    from bt_core import report

    undecided = make_verdict("natural_biases", [0.2, 0.0], "undecided")
    undecided["context"]["seeds_needed"] = 41
    paths = report.write(tmp_path, [make_verdict("backdoor_fixed", [0.4, 0.4, 0.5]), undecided], RUN)
    rows = {r["claim"]: r for r in csv.DictReader(open(paths["summary"]))}
    assert rows["natural_biases"]["status"] == "undecided" and rows["natural_biases"]["seeds_needed"] == "41"
    assert rows["natural_biases"]["p_less"] == "0.99" and rows["natural_biases"]["passed"] == "False"
    assert rows["backdoor_fixed"]["seeds"] == "0 1 2" and rows["backdoor_fixed"]["status"] == "holds"


def test_expected_models_count_a_shared_model_up_to_the_most_seeds_any_check_reaches():
    from benchmark.power import expected_models
    from bt_core.sequential import Operating

    def row(models, at_look, n):
        return {"models": models, "n": n, "op": Operating(1.0, 1.0, 0.0, 0.0, 0.0, at_look)}

    three, five = (1.0, 0.0), (0.0, 1.0)
    rows = [row(["source"], three, 3), row(["source", "scratch"], five, 5)]
    expected, measured = expected_models(rows, (3, 5))
    assert expected == pytest.approx(5 + 5) and measured == 10        # both families reach 5 seeds
    expected, _ = expected_models([row(["source"], (0.5, 0.5), 3)], (3, 5))
    assert expected == pytest.approx(4.0)


def _checks(*verdicts):
    from bt_core import results

    return results.checks(results.frame(list(verdicts), RUN))


@pytest.mark.parametrize("verdicts, pytest_code, status, named", [
    ([make_verdict("backdoor_fixed", [0.4, 0.5])], 0, 0, None),
    ([make_verdict("backdoor_fixed", [0.4, 0.5]), make_verdict("natural_biases", [0.0, -0.1], "does not hold")], 1, 1,
     "natural_biases"),
    ([make_verdict("natural_biases", [0.2, 0.0], "undecided")], 1, 1, "natural_biases"),
    ([make_verdict("backdoor_full", [0.4, 0.5], "holds", passed=False)], 1, 1, "backdoor_full"),
    ([make_verdict("backdoor_fixed", [0.4, 0.5])], 1, 1, "without a verdict"),      # a test errored
    ([], 1, 1, "no check reached a verdict"),
    ([], 0, 2, "no check ran"),                                                  # all skipped
    ([], 4, 2, "usage error"),
    ([], 5, 2, "usage error"),
    ([], 2, 3, "did not finish"),                                                # interrupted
])
def test_compare_exits_0_when_every_claim_holds_1_when_one_does_not_and_names_it(verdicts, pytest_code, status,
                                                                                 named):
    from benchmark.compare import outcome

    code, reasons = outcome(_checks(*verdicts) if verdicts else None, pytest_code)
    assert code == status
    assert (reasons == []) if named is None else any(named in line for line in reasons)
    if status == 1 and verdicts and pytest_code == 1 and named != "without a verdict":
        assert any("boom" in line for line in reasons)       # the check's own failure text


def test_compare_table_fits_120_columns_and_names_are_never_cut(tmp_path):
    from rich.console import Console

    from benchmark.compare import print_comparison

    long = make_verdict("gender_age", [0.4, 0.5], "undecided", passed=False)
    long["check"] = "test_biased_source_widens_the_gender_gap[fixed-feature-celeba_target_1]"
    long["metric"] = "group accuracy gap biased − unbiased"
    long["context"]["seeds_needed"] = 41
    (tmp_path / "mini").mkdir()
    (tmp_path / "mini" / "gender_age.json").write_text(json.dumps({"scale": "mini", "checks": {long["check"]: {
        "n": 3, "mean": 0.25, "std": 0.1, "values": [0.2, 0.25, 0.3], "provenance": {"arch": "mini_resnet"}}}}))
    console = Console(width=120, record=True)
    print_comparison(_checks(long), {**RUN, "arch": "benchmark.backbones:corner_blind"}, tmp_path, "mini", console)
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= 120 and "…" not in "".join(lines)
    [row] = [line for line in lines if "fixed-feature-celeba_target_1" in line]
    assert row.split()[1:] == ["0.250", "0.450", "+0.200", "2", "undecided", "(~41)"]
