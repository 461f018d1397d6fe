"""Judge prompts as data: a versioned YAML file per template (the prompt, and the patterns that read the
verdict and the rationale back). Every judgment records the file's hash."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.errors import InputError
from bench.hashing import text_hash

TEMPLATE_DIR = Path(__file__).parent / "templates"
PLACEHOLDERS = ("{prompt}", "{first}", "{second}")


@dataclass(frozen=True)
class Template:
    name: str
    user: str
    verdict: re.Pattern[str]
    rationale: re.Pattern[str] | None
    response: str | None  # a regular expression for the whole answer, for endpoints that can enforce it
    hash: str  # sha256 (32 hex) of the file's text
    source: str

    def render(self, prompt: str, first: str, second: str) -> list[dict[str, str]]:
        """Chat messages for one presentation order. Placeholders are replaced in one pass, so braces or
        placeholder-like text inside the texts stay as they are."""
        values = {"{prompt}": prompt, "{first}": first, "{second}": second}
        text = re.sub(r"\{prompt\}|\{first\}|\{second\}", lambda m: values[m.group(0)], self.user)
        return [{"role": "user", "content": text}]

    def parse(self, response: str) -> tuple[str, str | None]:
        """The verdict in presentation order (first, second or invalid) and the rationale, if found."""
        found = self.verdict.findall(response or "")
        label = found[-1].upper() if found else ""
        verdict = {"A": "first", "B": "second"}.get(label, "invalid")
        rationale = None
        if self.rationale is not None and (m := self.rationale.search(response or "")):
            rationale = m.group(1).strip() or None
        return verdict, rationale


def load_template(name_or_path: str) -> Template:
    """A bundled template by name (``tldr_v1``) or a YAML file of the same shape."""
    import yaml

    path = Path(name_or_path)
    if not path.suffix:
        path = TEMPLATE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml")))
        raise InputError(f"no judge template {name_or_path!r} (bundled: {known}; or give a .yaml file)",
                         source="llm_judge.template")
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    for key in ("name", "user", "verdict"):
        if not isinstance(data, dict) or not isinstance(data.get(key), str):
            raise InputError("missing or not a string", source=str(path), field=key)
    missing = [p for p in PLACEHOLDERS if p not in data["user"]]
    if missing:
        raise InputError(f"the prompt lacks {', '.join(missing)}", source=str(path), field="user")
    try:
        verdict = re.compile(data["verdict"])
        rationale = re.compile(data["rationale"]) if data.get("rationale") else None
    except re.error as e:
        raise InputError(f"not a regular expression ({e})", source=str(path), field="verdict") from None
    return Template(name=data["name"], user=data["user"], verdict=verdict, rationale=rationale,
                    response=data.get("response"), hash=text_hash(text, 32), source=str(path))
