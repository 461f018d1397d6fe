import re
from pathlib import Path

from methods import METHODS, PairwiseMethod

REPO = Path(__file__).resolve().parents[2]


def test_readme_add_a_method_example_is_the_shipped_ipo():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Add a method", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shipped = (REPO / "methods" / "ipo.py").read_text().split('"""', 2)[2].lstrip("\n")
    assert example == shipped


def test_ipo_uses_only_the_public_api_and_is_registered():
    source = (REPO / "methods" / "ipo.py").read_text()
    imports = re.findall(r"^\s*(?:from|import) ([\w.]+)", source, re.M)
    assert all(not part.startswith("_") for mod in imports for part in mod.split("."))
    ipo = METHODS.get("ipo")
    assert issubclass(ipo, PairwiseMethod)
    params = ipo.resolve_params({}, type("Task", (), {"default_beta": 0.5}), "ipo.")
    assert params == {"beta": 0.5}
