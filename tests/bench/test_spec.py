import pytest

from bench.errors import InputError, UnknownNameError
from bench.spec import build_spec, flags_layer, load_yaml_layer


def spec_from(tmp_path, yaml_text=None, overrides=(), **flags):
    layers = []
    if yaml_text is not None:
        p = tmp_path / "run.yaml"
        p.write_text(yaml_text)
        layers.append(load_yaml_layer(p))
    layers.append(flags_layer(list(overrides), **flags))
    return build_spec(layers)


def test_defaults_then_preset_then_yaml_then_flags(tmp_path):
    s = spec_from(tmp_path, "preset: smoke\ntrain: {lr: 2.0e-6, pairs: 10}\nmethods: {exo: {beta_pi: 0.3}}\n",
                  overrides=["train.lr=3e-6"], task="tldr", methods="exo,dpo")
    assert s.preset == "smoke"
    assert s.eval.prompts == 8  # from the preset
    assert s.train.pairs == 10  # YAML over preset
    assert s.train.lr == 3e-6  # flag over YAML
    assert s.train.epochs == 1  # default
    assert s.method("exo").param_dict() == {"beta_pi": 0.3, "eps": 1e-3}
    assert s.method("dpo").param_dict() == {"beta": 0.5}  # TL;DR's default beta


def test_spec_is_frozen_and_hashable_to_dict(tmp_path):
    s = spec_from(tmp_path, task="tldr", methods="exo")
    with pytest.raises(AttributeError):
        s.seed = 3  # type: ignore[misc]
    assert s.to_dict()["methods"] == [{"name": "exo", "params": {"beta_pi": 0.5, "eps": 1e-3}}]


@pytest.mark.parametrize("override, field", [
    ("train.lr=fast", "train.lr"),
    ("train.speed=1", "train.speed"),
    ("eval.samples=2.5", "eval.samples"),
    ("exo.beta_pi=-1", "exo.beta_pi"),
])
def test_bad_values_name_the_field(tmp_path, override, field):
    with pytest.raises(InputError) as e:
        spec_from(tmp_path, overrides=[override], task="tldr", methods="exo")
    assert field in str(e.value)


def test_unknown_method_and_task(tmp_path):
    with pytest.raises(InputError, match="command line, field 'methods': unknown method 'exoo'. Did you mean 'exo'"):
        spec_from(tmp_path, task="tldr", methods="exoo")
    with pytest.raises(UnknownNameError, match="Did you mean 'tldr'\\? Registered tasks: exact, hh, imdb, tldr"):
        spec_from(tmp_path, task="tldrr", methods="exo")


def test_hyperparameter_constraints_are_checked_where_the_spec_is_built(tmp_path):
    """The refusals themselves are in tests/test_malformed.py; here: what stays allowed, and where it stops."""
    spec = spec_from(tmp_path, task="exact", methods="ppo,exo,exo-rw",
                     overrides=["ppo.beta=0", "exo.eps=0.499", "exo-rw.k=216"])
    params = {m.name: dict(m.params) for m in spec.methods}
    assert params["ppo"]["beta"] == 0.0  # PPO without a KL penalty: an ablation, allowed
    assert (params["exo"]["eps"], params["exo-rw"]["k"]) == (0.499, 216)
    with pytest.raises(InputError, match="field 'ipo.beta': must be > 0, got 0"):
        spec_from(tmp_path, task="exact", methods="ipo", overrides=["ipo.beta=0"])
    with pytest.raises(InputError, match="field 'ppo.beta': must be >= 0, got -1$"):
        spec_from(tmp_path, task="exact", methods="ppo", overrides=["ppo.beta=-1"])
    # language-model tasks have no bound on K: their samples are drawn fresh
    assert dict(spec_from(tmp_path, task="tldr", methods="exo-rw", overrides=["exo-rw.k=300"]).methods[0].params)["k"] == 300


def test_yaml_errors_name_file_and_line(tmp_path):
    with pytest.raises(InputError) as e:
        spec_from(tmp_path, "task: tldr\ntrain: [1, 2\n", task=None, methods="exo")
    assert "run.yaml" in str(e.value) and "line" in str(e.value)
    with pytest.raises(InputError, match="field 'colour'"):
        spec_from(tmp_path, "colour: blue\n", task="tldr", methods="exo")


def test_settings_for_a_method_not_run_are_rejected(tmp_path):
    with pytest.raises(InputError, match="not among --methods"):
        spec_from(tmp_path, overrides=["dpo.beta=0.1"], task="tldr", methods="exo")


def test_task_preset_method_settings_apply_to_run_methods_under_flags(tmp_path):
    s = spec_from(tmp_path, task="imdb", methods="ppo,dpo", preset="smoke")
    assert s.train.pairs == 24 and s.method("ppo").param_dict()["rollout_batch"] == 8  # imdb's smoke settings
    s = spec_from(tmp_path, overrides=["ppo.rollout_batch=4"], task="imdb", methods="ppo", preset="smoke")
    assert s.method("ppo").param_dict()["rollout_batch"] == 4  # a flag wins
    s = spec_from(tmp_path, task="imdb", methods="dpo", preset="smoke")  # PPO not run: its setting is not an error
    assert [m.name for m in s.methods] == ["dpo"]
    s = spec_from(tmp_path, task="imdb", methods="ppo")  # not the smoke preset: PPO's own default
    assert s.method("ppo").param_dict()["rollout_batch"] == 4
