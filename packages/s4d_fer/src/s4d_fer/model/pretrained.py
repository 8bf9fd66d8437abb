"""Load public VideoMAE-style ViT checkpoints (VideoMAE, MAE-DFER, S4D) into our encoder.

The official files use VideoMAE's names: ``encoder.``-prefixed blocks with a ``qkv``
weight and separate ``q_bias`` / ``v_bias`` (no key bias), a ``Conv3d`` tubelet embedding
``patch_embed.proj``, a final ``norm`` (pre-training) or ``fc_norm`` (fine-tuned files),
and a fixed sinusoidal position table that is usually not stored at all. Our encoder
uses timm blocks with one fused ``qkv`` bias. :func:`load_pretrained` maps one onto the
other and returns a :class:`KeyMapReport` saying which tensors landed and which did not.
"""

from __future__ import annotations

import argparse
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from labcore.errors import DataError
from s4d_fer.model.vit import Encoder, sinusoid_table

#: Keys under which training scripts nest the state dict (VideoMAE: model|module).
WRAPPER_KEYS = ("model", "module", "state_dict", "model_state", "encoder")
#: Prefixes of the encoder inside a full pre-training model.
ENCODER_PREFIXES = ("encoder.", "backbone.")
#: Parts of a pre-training model that fine-tuning never uses (decoder side).
DECODER_KEY = re.compile(r"^(decoder|encoder_to_decoder|mask_token|enc_mask_token)")
#: A source's task heads: their classes and label order belong to the source.
HEAD_KEY = re.compile(r"^(head|heads)\.")
QV_BIAS = re.compile(r"^blocks\.(\d+)\.attn\.(q|v)_bias$")

# Files written by training scripts often pickle their argparse arguments next to the weights.
SAFE_GLOBALS = [argparse.Namespace]


@dataclass
class Mismatch:
    """A checkpoint tensor whose shape (or kind) does not fit the target tensor."""

    source: str
    target: str
    source_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    reason: str = "shape"

    def __str__(self) -> str:
        return (
            f"{self.source} {tuple(self.source_shape)} -> {self.target} "
            f"{tuple(self.target_shape)} ({self.reason})"
        )


@dataclass
class KeyMapReport:
    """What :func:`load_pretrained` did, key by key; ``str(report)`` is a short summary.

    Target names are those of ``model.state_dict()`` of the module passed in; source
    names are the checkpoint's, after unwrapping (``model``/``module``/...) and without
    the ``module.`` prefix of distributed training.
    """

    path: str
    loaded: list[str] = field(default_factory=list)
    """Our tensors that received checkpoint values."""
    missing: list[str] = field(default_factory=list)
    """Our encoder tensors the checkpoint did not provide; they keep their initial values."""
    fresh: list[str] = field(default_factory=list)
    """Our tensors that start fresh by design: MoAE adapters, task heads, ``fc_norm`` when
    the file is a pre-training checkpoint, and anything outside the encoder (MAE decoder)."""
    unexpected: list[str] = field(default_factory=list)
    """Checkpoint tensors with no place in our model."""
    mismatched: list[Mismatch] = field(default_factory=list)
    """Checkpoint tensors whose target has another shape (or, for positions, other values)."""
    dropped: list[str] = field(default_factory=list)
    """Checkpoint tensors left out on purpose: decoder, mask token, the source's heads, the
    pre-training final norm when our classifier pools into its own ``fc_norm``."""
    notes: list[str] = field(default_factory=list)
    """How special keys were handled (fused q/v biases, the position table)."""

    @property
    def ok(self) -> bool:
        """True when every encoder tensor was loaded and every checkpoint tensor was used or
        deliberately dropped."""
        return not (self.missing or self.unexpected or self.mismatched)

    def problems(self) -> str:
        """One line: the counts of missing / unexpected / mismatched keys, one example each."""
        parts = [
            f"{len(names)} {label} (e.g. {names[0]})"
            for label, names in (
                ("missing", self.missing),
                ("unexpected", self.unexpected),
                ("mismatched", self.mismatched),
            )
            if names
        ]
        return "; ".join(parts) or "no problems"

    def __str__(self) -> str:
        def some(names: list) -> str:
            shown = ", ".join(str(n) for n in names[:4])
            return shown + (f", ... (+{len(names) - 4} more)" if len(names) > 4 else "")

        lines = [
            f"pretrained {self.path}: loaded {len(self.loaded)} tensors, "
            f"{len(self.missing)} missing, {len(self.unexpected)} unexpected, "
            f"{len(self.mismatched)} mismatched, {len(self.dropped)} dropped, "
            f"{len(self.fresh)} start fresh"
        ]
        for label, names in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("mismatched", self.mismatched),
        ):
            if names:
                lines.append(f"  {label}: {some(names)}")
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)


def read_state_dict(path: str | Path, *, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """The tensors of a ``.pt``/``.pth`` checkpoint, unwrapped and without ``module.``.

    Args:
        path: checkpoint file.
        trust_pickle: allow arbitrary pickled Python objects in the file (only for files
            you trust); by default only tensors, containers and argparse namespaces load.

    Raises:
        DataError: the file is missing, unreadable, or holds no state dict.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: checkpoint file not found")
    try:
        if trust_pickle:
            obj = torch.load(p, map_location="cpu", weights_only=False)
        else:
            with torch.serialization.safe_globals(SAFE_GLOBALS):
                obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc):
            raise DataError(
                f"{p}: holds pickled Python objects besides tensors; "
                "load it with trust_pickle=True only if you trust the file"
            ) from None
        raise DataError(f"{p}: not a PyTorch checkpoint ({_first_line(exc)})") from None
    except Exception as exc:  # a damaged file fails anywhere inside the unpickler
        raise DataError(f"{p}: not a PyTorch checkpoint ({_first_line(exc)})") from None
    state = obj
    # Unwrap {'model': {...}}, {'module': {...}}, {'state_dict': {...}} (possibly nested).
    while isinstance(state, dict) and not _has_tensors(state):
        inner = next((state[k] for k in WRAPPER_KEYS if isinstance(state.get(k), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict) or not _has_tensors(state):
        top = sorted(map(str, obj))[:8] if isinstance(obj, dict) else type(obj).__name__
        raise DataError(f"{p}: no state dict of tensors found (top level: {top})")
    tensors = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            tensors[str(key).removeprefix("module.")] = value
    return tensors


def load_pretrained(
    model_or_encoder: nn.Module,
    path: str | Path | Mapping[str, torch.Tensor],
    *,
    strict: bool = False,
    trust_pickle: bool = False,
) -> KeyMapReport:
    """Load a VideoMAE / MAE-DFER / S4D ViT checkpoint into our encoder.

    Args:
        model_or_encoder: an :class:`Encoder`, or a module holding one as ``.encoder``
            (:class:`S4DClassifier`, :class:`MaskedAutoencoder`). A classifier also takes
            the file's ``fc_norm`` when it has one (fine-tuned files).
        path: the checkpoint (``.pt``/``.pth``): a full pre-training model (``encoder.``
            prefix; the decoder is dropped), a bare encoder, or a fine-tuned model
            (its head is dropped: class sets and label orders differ between repos);
            or such a state dict already in memory.
        strict: refuse (``DataError``) unless every encoder tensor is loaded and every
            checkpoint tensor is used or deliberately dropped.
        trust_pickle: see :func:`read_state_dict`.

    Returns:
        The key-mapping report. Nothing is copied when it raises.

    Raises:
        DataError: bad file, no tensor of the file fits our encoder, or ``strict`` and
            the report is not clean. The message starts with the path.
    """
    if isinstance(model_or_encoder, Encoder):
        encoder, prefix = model_or_encoder, ""
    elif isinstance(getattr(model_or_encoder, "encoder", None), Encoder):
        encoder, prefix = model_or_encoder.encoder, "encoder."
    else:
        raise TypeError(
            f"load_pretrained needs an Encoder or a module with an .encoder, "
            f"got {type(model_or_encoder).__name__}"
        )
    if isinstance(path, Mapping):
        source, path = dict(path), "<state dict>"
    else:
        source = read_state_dict(path, trust_pickle=trust_pickle)
    report = KeyMapReport(path=str(path))
    target = model_or_encoder.state_dict()
    encoder_keys = set(encoder.state_dict())
    has_final_norm = isinstance(encoder.norm, nn.LayerNorm)
    has_fc_norm = "fc_norm.weight" in target and prefix == "encoder."

    # Split the file into encoder-level tensors (by their stripped name) and the rest.
    has_prefix = any(k.startswith(ENCODER_PREFIXES) for k in source)
    enc_src: dict[str, tuple[str, torch.Tensor]] = {}
    fc_norm_src: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        if DECODER_KEY.match(key) or HEAD_KEY.match(key):
            report.dropped.append(key)
        elif key.startswith("fc_norm."):
            fc_norm_src[key] = value
        elif key.startswith(ENCODER_PREFIXES):
            enc_src[key.split(".", 1)[1]] = (key, value)
        elif not has_prefix:  # a bare encoder or a fine-tuned model: encoder-level names
            enc_src[key] = (key, value)
        else:
            report.unexpected.append(key)

    new: dict[str, torch.Tensor] = {}

    def place(src: str, dst: str, value: torch.Tensor) -> None:
        want = target[dst]
        if tuple(value.shape) != tuple(want.shape):
            report.mismatched.append(Mismatch(src, dst, tuple(value.shape), tuple(want.shape)))
        else:
            new[dst] = value

    # q_bias / v_bias -> one qkv bias with a zero key bias. A key bias only adds q.b_k to
    # every logit of a query, which softmax cancels, so zero is exact, not an approximation.
    qv: dict[int, dict[str, tuple[str, torch.Tensor]]] = {}
    for key in list(enc_src):
        m = QV_BIAS.match(key)
        if m:
            qv.setdefault(int(m.group(1)), {})[m.group(2)] = enc_src.pop(key)
    for block, parts in sorted(qv.items()):
        dst = f"{prefix}blocks.{block}.attn.qkv.bias"
        names = "+".join(parts[n][0] for n in sorted(parts))
        if dst not in target or set(parts) != {"q", "v"}:
            report.unexpected.extend(parts[n][0] for n in sorted(parts))
            continue
        q, v = parts["q"][1], parts["v"][1]
        if q.shape != v.shape:
            report.mismatched.append(
                Mismatch(names, dst, tuple(q.shape), tuple(target[dst].shape), "q/v bias shapes")
            )
            continue
        place(names, dst, torch.cat([q, torch.zeros_like(q), v]))
    if qv:
        report.notes.append(
            f"q_bias + v_bias fused into qkv.bias with a zero key bias in {len(qv)} blocks"
        )

    for key, (name, value) in enc_src.items():
        if key == "pos_embed":
            _check_positions(name, value, encoder, report)
        elif key.startswith("norm.") and not has_final_norm:
            # Our classifier pools all tokens into its own fc_norm (as the official
            # fine-tuning does); the pre-training final norm has no place there.
            report.dropped.append(name)
        elif HEAD_KEY.match(key):
            report.dropped.append(name)
        elif key in encoder_keys:
            place(name, prefix + key, value)
        else:
            report.unexpected.append(name)
    for key, value in fc_norm_src.items():
        if has_fc_norm:
            place(key, key, value)
        else:
            report.unexpected.append(key)

    # Blocks without q/v biases in the file (qkv_bias=False checkpoints) get zero biases.
    zeroed = 0
    for key in list(new):
        if key.endswith("attn.qkv.weight"):
            bias = key[: -len("weight")] + "bias"
            if bias in target and bias not in new and not _is_mismatch_target(report, bias):
                new[bias] = torch.zeros_like(target[bias])
                zeroed += 1
    if zeroed:
        report.notes.append(f"no qkv bias in the file: qkv.bias set to zero in {zeroed} blocks")

    if not new:
        raise DataError(
            f"{path}: no tensor fits our encoder ({report.problems()}); "
            "is the model size (model.preset) the checkpoint's?"
        )
    report.loaded = sorted(new)
    for key in target:
        if key in new or _is_mismatch_target(report, key):
            continue
        inside = key.startswith(prefix) and key[len(prefix) :] in encoder_keys
        if inside and ".moae." not in key:
            report.missing.append(key)
        else:
            report.fresh.append(key)
    if strict and not report.ok:
        raise DataError(f"{path}: does not map cleanly onto our encoder: {report.problems()}")
    model_or_encoder.load_state_dict(new, strict=False)
    return report


def _check_positions(
    name: str, table: torch.Tensor, encoder: Encoder, report: KeyMapReport
) -> None:
    """Our positions are a fixed sinusoid; a stored table is checked, never loaded."""
    ours = encoder.pos_embed
    if table.dim() != 3 or table.shape[0] != 1 or table.shape[-1] != ours.shape[-1]:
        report.mismatched.append(Mismatch(name, "pos_embed", tuple(table.shape), tuple(ours.shape)))
        return
    fixed = sinusoid_table(table.shape[1], table.shape[-1])
    if torch.allclose(table[0].float(), fixed, atol=1e-3):
        report.notes.append(
            f"{name}: the fixed sinusoid table ({table.shape[1]} positions), as ours; not loaded"
        )
    else:
        report.mismatched.append(
            Mismatch(
                name,
                "pos_embed",
                tuple(table.shape),
                tuple(ours.shape),
                "learned table; ours is a fixed sinusoid",
            )
        )


def _is_mismatch_target(report: KeyMapReport, key: str) -> bool:
    return any(m.target == key for m in report.mismatched)


def _has_tensors(state: dict) -> bool:
    return any(isinstance(v, torch.Tensor) for v in state.values())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
