"""Scores of generations, cached in the store: shared by the judges that score one text at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class CachedScores:
    """A scoring judge's cache. Subclasses have ``store``, ``id``, ``prompt_text`` (prompt id -> text), a
    ``scored`` counter and ``score_texts(prompts, responses)``."""

    store: Any
    id: str
    prompt_text: dict[str, str]
    scored: int

    def score_texts(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        raise NotImplementedError

    def score_generations(self, grouped: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
        """Scores of every generation in ``grouped`` (prompt id -> rows); only unscored ones are computed."""
        rows = [g for gens in grouped.values() for g in gens]
        known = self.store.scores(self.id, [g["id"] for g in rows])
        todo = list({g["id"]: g for g in rows if g["id"] not in known}.values())
        if todo:
            values = self.score_texts([self.prompt_text[g["prompt_id"]] for g in todo], [g["text"] for g in todo])
            new = {g["id"]: float(v) for g, v in zip(todo, values, strict=True)}
            self.store.put_scores(self.id, new)
            self.scored += len(new)
            known.update(new)
        return {k: v for k, v in known.items() if v is not None}
