import pytest

from logai.evaluation.parsing_metrics import score_parsing


def test_scores_against_hand_computed_values():
    truth = ["A <*>", "A <*>", "B", "C <*>", "C <*>"]
    # group {0,1} exact and correct text; {2} exact but text wrong; {3} and {4} split C
    predicted = ["A <*>", "A <*>", "B x", "C 1", "C 2"]
    s = score_parsing(truth, predicted)
    assert pytest.approx(3 / 5) == s.GA  # lines 0,1,2 are in exact groups
    assert pytest.approx(2 / 5) == s.PA
    # predicted groups: 4; truth groups: 3; exact groups: 2 -> P=2/4 R=2/3
    assert pytest.approx(2 * (0.5 * 2 / 3) / (0.5 + 2 / 3)) == s.FGA
    # template-correct groups: only "A <*>" -> P=1/4, R=1/3
    assert pytest.approx(2 * (0.25 / 3) / (0.25 + 1 / 3)) == s.FTA


def test_merged_groups_are_not_grouping_correct():
    s = score_parsing(["A", "B"], ["X", "X"])
    assert s.GA == 0 and s.FGA == 0 and s.PA == 0


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        score_parsing(["a"], ["a", "b"])


def test_pair_score_counts_duplicates_and_misses():
    from logai.evaluation.pair_metrics import PairScore

    score = PairScore()
    score.add([("id", "1"), ("id", "1"), ("port", "80")], [("id", "1"), ("size", "3")])
    score.add([], [("x", "y")])
    assert (score.true_positives, score.predicted, score.gold) == (1, 3, 3)
    assert score.precision == pytest.approx(1 / 3) and score.recall == pytest.approx(1 / 3)
    assert score.f1 == pytest.approx(1 / 3)
