"""The leaderboard over imported judgments: Bradley–Terry order, win rates vs the baseline, exports, and a
system added later joining the board."""

import csv
import io

from judges import import_annotations
from reports import leaderboards, to_csv, to_markdown, write_leaderboard

HEADER = "prompt,system_a,system_b,text_a,text_b,verdict,annotator\n"


def _file(tmp_path, name, rows):
    p = tmp_path / name
    p.write_text(HEADER + "".join(",".join(r) + "\n" for r in rows))
    return p


def _games(system, opponent, wins, losses, ties, offset=0):
    verdicts = ["A"] * wins + ["B"] * losses + ["tie"] * ties
    return [(f"prompt {offset + i}", system, opponent, f"{system} says {i}", f"{opponent} says {i}", v, "h")
            for i, v in enumerate(verdicts)]


def test_board_order_counts_and_exports(tmp_path, store):
    rows = _games("strong", "sft", 16, 3, 1) + _games("weak", "sft", 6, 12, 2, offset=100) + \
        _games("strong", "weak", 8, 2, 0, offset=200)
    import_annotations(store, _file(tmp_path, "a.csv", rows), judge="panel")
    (board,) = leaderboards(store, n_boot=100)
    systems = [e["system"] for e in board["entries"]]
    assert systems == ["strong", "sft", "weak"] and board["baseline"] == "sft"
    by = {e["system"]: e for e in board["entries"]}
    assert by["sft"]["rating"] == 0.0
    wr = by["strong"]["vs_baseline"]
    assert (wr["n_wins"], wr["n_losses"], wr["n_ties"]) == (16, 3, 1) and wr["win_rate"] == 16.5 / 20
    assert by["strong"]["ci_low"] < by["strong"]["rating"] < by["strong"]["ci_high"]
    assert by["strong"]["n_games"] == 30
    parsed = list(csv.DictReader(io.StringIO(to_csv([board]))))
    assert [r["system"] for r in parsed] == systems and parsed[0]["n_wins"] == "16"
    md = to_markdown([board])
    assert "| 1 | strong |" in md and "82.5% [" in md
    # the seeded bootstrap makes the board reproducible
    assert leaderboards(store, n_boot=100) == [board]


def test_a_system_added_later_joins_and_html_escapes(tmp_path, store):
    import_annotations(store, _file(tmp_path, "a.csv", _games("dpo", "sft", 5, 5, 0)), judge="panel")
    late = _games("<script>x</script>", "sft", 7, 3, 0, offset=50)
    import_annotations(store, _file(tmp_path, "b.csv", late), judge="panel")
    paths = write_leaderboard(store, tmp_path / "out", n_boot=50)
    html = paths["html"].read_text()
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html
    assert {e["system"] for e in leaderboards(store, n_boot=50)[0]["entries"]} == {"dpo", "sft", "<script>x</script>"}
    assert paths["md"].read_text().count("\n| ") == 4  # header row + 3 systems


def test_systems_sharing_a_method_name_are_told_apart_by_what_differs(store):
    from reports._leaderboard import _labels

    def trained(pid, run, lr, beta=0.1, seed=0):
        store.begin_run(run, "tldr", {"train": {"lr": lr, "batch_size": 64, "seeds": 3}, "seed": seed,
                                      "model": "m"}, {})
        store.put_policy({"id": pid, "method": "dpo", "kind": "trained", "params_json": f'{{"beta": {beta}}}',
                          "info_json": "{}"})
        store.link_policy(run, "dpo", pid, "preference")

    trained("a" * 32, "r1", 5e-6)
    trained("b" * 32, "r2", 2e-5)
    trained("c" * 32, "r3", 2e-5, beta=0.5)
    labels = _labels(store, ["a" * 32, "b" * 32, "c" * 32])
    assert labels == {"a" * 32: "dpo (beta=0.1, train.lr=5e-06)", "b" * 32: "dpo (beta=0.1, train.lr=2e-05)",
                      "c" * 32: "dpo (beta=0.5, train.lr=2e-05)"}
    # nothing recorded differs (e.g. two seeds of one method listed --per-seed): the ids tell them apart
    trained("d" * 32, "r4", 5e-6)
    assert _labels(store, ["a" * 32, "d" * 32]) == {"a" * 32: "dpo (aaaaaa)", "d" * 32: "dpo (dddddd)"}
    assert _labels(store, ["a" * 32, "b" * 32, "d" * 32]) == {
        "a" * 32: "dpo (train.lr=5e-06, aaaaaa)", "b" * 32: "dpo (train.lr=2e-05)",
        "d" * 32: "dpo (train.lr=5e-06, dddddd)"}
