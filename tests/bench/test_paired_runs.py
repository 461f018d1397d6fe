import pytest

from bench._paired_runs import paired_matrix, per_prompt_scores


def test_per_prompt_scores_skip_invalid():
    rows = [{"prompt_id": "p", "verdict": v} for v in ("A", "tie", "invalid", "B")]
    assert per_prompt_scores(rows) == {"p": pytest.approx(0.5)}


def test_paired_matrix_by_hand():
    scores = {"exo": {f"p{i}": 1.0 for i in range(10)},
              "dpo": {f"p{i}": 0.0 for i in range(10)},
              "sft": {f"p{i}": 0.5 for i in range(9)}}
    mx = paired_matrix(scores)
    assert mx["n_tests"] == 3
    c = mx["cells"]["exo|dpo"]
    assert (c["diff"], c["n_pos"], c["n_neg"], c["n_prompts"]) == (1.0, 10, 0, 10)
    assert c["p"] == pytest.approx(2 / 2**10)
    # Holm: p-values 2/1024 (exo-dpo, 10 prompts), 2/512 (exo-sft, dpo-sft: 9 prompts) -> x3, x2, x1 in order
    assert c["p_holm"] == pytest.approx(3 * 2 / 1024)
    assert mx["cells"]["sft|exo"]["diff"] == -0.5 and mx["cells"]["sft|exo"]["n_neg"] == 9
    assert mx["cells"]["dpo|sft"]["p_holm"] == pytest.approx(2 * 2 / 512)
