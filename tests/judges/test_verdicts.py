import pytest

from judges._verdicts import combine_orders, first_preferred, flip, majority, parse_label


@pytest.mark.parametrize(("ab", "ba", "out"), [
    ("A", "A", "A"), ("B", "B", "B"), ("tie", "tie", "tie"),
    ("A", "B", "tie"), ("A", "tie", "tie"),  # orders disagree: a tie
    ("A", "invalid", "invalid"), ("invalid", "invalid", "invalid"),
    ("B", None, "B"), (None, "tie", "tie"),  # one order known
])
def test_combine_orders(ab, ba, out):
    assert combine_orders(ab, ba) == out


def test_combine_orders_needs_a_verdict():
    with pytest.raises(ValueError):
        combine_orders(None, None)


def test_majority_and_flip():
    assert majority(["A", "A", "B"]) == "A"
    assert majority(["A", "B"]) == "tie"  # no unique plurality
    assert majority(["A", "B", "tie"]) == "tie"
    assert majority(["invalid", "B"]) == "B"
    assert majority(["invalid"]) == "invalid"
    assert [flip(v) for v in ("A", "B", "tie", "invalid", None)] == ["B", "A", "tie", "invalid", None]


def test_first_preferred_and_labels():
    assert first_preferred("A", first_is_a=True) is True
    assert first_preferred("A", first_is_a=False) is False
    assert first_preferred("tie", first_is_a=True) is None
    assert parse_label(" a ", ("A", "B", "tie")) == "A"
    assert parse_label("TIE", ("A", "B", "tie")) == "tie"
    assert parse_label("invalid", ("A", "B", "tie")) is None
    assert parse_label("C", ("A", "B", "tie")) is None
