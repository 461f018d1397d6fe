import pytest

from bench import Registry, UnknownNameError


def test_lazy_target_is_imported_on_first_get():
    reg: Registry[object] = Registry("thing")
    reg.register("join", "os.path:join")
    assert reg.target("join") == "os.path:join"  # nothing imported yet
    import os.path

    assert reg.get("join") is os.path.join


def test_decorator_registration():
    reg: Registry[type] = Registry("thing")

    @reg.register("a")
    class A:
        pass

    assert reg.get("a") is A
    assert reg.names() == ["a"]


def test_unknown_name_suggests_the_closest_and_lists_all():
    reg: Registry[object] = Registry("method")
    for n in ("dpo", "exo", "bon"):
        reg.register(n, "os:getcwd")
    with pytest.raises(UnknownNameError) as e:
        reg.get("dpx")
    assert "Did you mean 'dpo'?" in str(e.value)
    assert "bon, dpo, exo" in str(e.value)


def test_entry_points_group_is_read(monkeypatch):
    import bench._registry as r

    class EP:
        name, value = "plug", "os:getcwd"

    monkeypatch.setattr(r, "entry_points", lambda group: [EP()] if group == "bench.methods" else [])
    reg: Registry[object] = Registry("method", entry_point_group="bench.methods")
    import os

    assert reg.get("plug") is os.getcwd
