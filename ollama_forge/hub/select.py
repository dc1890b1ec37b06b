"""GGUF variants of a repo and the choice between them (quant, file, fit, projector).

* A *variant* is one model: a single ``.gguf`` or every shard of a split set
  (``<prefix>-0000i-of-0000N.gguf``). Its quant comes from the file name
  (``ollama_forge.gguf.quant.quant_from_filename``) and is confirmed by ``general.file_type``
  when a header is read.
* Projectors are ``.gguf`` files whose path contains ``mmproj``; imatrix, MTP/draft heads and
  non-GGUF files are excluded (llama.cpp's ``gguf_filename_is_model``).
* The default choice is Q4_K_M, else Q8_0, else the highest-quality variant that fits the memory
  budget (llama.cpp ``-hf`` and the Hub's Ollama integration use the same order).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from ..errors import QuantSelectionError
from ..gguf.quant import quant_bits, quant_from_filename, quant_rank
from ..gguf.split import parse_shard_name
from .listing import RemoteFile

DEFAULT_QUANTS = ("Q4_K_M", "Q8_0")
_NOT_MODEL = ("mmproj", "imatrix", "mtp-", "eagle3-", "dflash-", "dspark-")


class Variant(BaseModel):
    """One downloadable model: a file or a complete shard set."""

    quant: str | None  # upper-case token, e.g. "Q4_K_M"; None when the name carries none
    label: str  # the file path, or "<prefix>-*-of-0000N.gguf" for split sets
    files: list[RemoteFile]
    size: int
    shard_count: int = 1
    bits: float | None = None
    file_type: str | None = None  # quant from general.file_type, when a header was read
    estimate_bytes: int | None = None  # weights + KV cache (+ overhead) at the listing's ctx
    fits: bool | None = None  # against the memory budget; None when unknown

    @property
    def entry(self) -> RemoteFile:
        return self.files[0]

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.files[0].path)


class ProjectorFile(BaseModel):
    path: str
    size: int
    quant: str | None = None
    bits: float | None = None


class Grouped(BaseModel):
    variants: list[Variant] = Field(default_factory=list)
    projectors: list[ProjectorFile] = Field(default_factory=list)
    excluded: list[str] = Field(default_factory=list)
    incomplete: list[str] = Field(default_factory=list)  # split sets with missing shards


def is_gguf(path: str) -> bool:
    return path.lower().endswith(".gguf")


def is_projector(path: str) -> bool:
    return is_gguf(path) and "mmproj" in path.lower()


def is_model_file(path: str) -> bool:
    base = posixpath.basename(path).lower()
    return is_gguf(path) and not any(tag in base for tag in _NOT_MODEL)


def group_variants(files: Sequence[RemoteFile]) -> Grouped:
    """Split a listing into model variants (shards merged), projectors and excluded files."""

    out = Grouped()
    sets: dict[tuple[str, str, int], dict[int, RemoteFile]] = {}
    order: list[tuple[str, str, int]] = []
    for f in files:
        if is_projector(f.path):
            q = quant_from_filename(f.name)
            out.projectors.append(
                ProjectorFile(path=f.path, size=f.size, quant=q, bits=_bits(quant_bits, q))
            )
            continue
        if not is_model_file(f.path):
            out.excluded.append(f.path)
            continue
        shard = parse_shard_name(f.name)
        if shard is None:
            q = quant_from_filename(f.name)
            out.variants.append(
                Variant(quant=q, label=f.path, files=[f], size=f.size, bits=_bits(quant_bits, q))
            )
            continue
        prefix, index, count = shard.prefix, shard.index, shard.count
        key = (posixpath.dirname(f.path), prefix, count)
        if key not in sets:
            sets[key] = {}
            order.append(key)
        sets[key][index] = f
    for key in order:
        folder, prefix, count = key
        shards = sets[key]
        label = posixpath.join(folder, f"{prefix}-*-of-{count:05d}.gguf")
        if sorted(shards) != list(range(1, count + 1)):
            out.incomplete.append(label)
            continue
        ordered = [shards[i] for i in range(1, count + 1)]
        q = quant_from_filename(f"{prefix}.gguf")
        out.variants.append(
            Variant(
                quant=q,
                label=label,
                files=ordered,
                size=sum(s.size for s in ordered),
                shard_count=count,
                bits=_bits(quant_bits, q),
            )
        )
    return out


def _bits(fn: object, quant: str | None) -> float | None:
    if quant is None:
        return None
    try:
        value = fn(quant)  # type: ignore[operator]
    except (ValueError, KeyError):
        return None
    return float(value) if value is not None else None


def quality_rank(variant: Variant) -> tuple[int, int]:
    """Lower is better: position in the Hub's GGUF_QUANT_ORDER, then larger size first."""

    return (quant_rank(variant.quant), -variant.size)


def describe(variants: Sequence[Variant]) -> str:
    if not variants:
        return "none"
    return ", ".join(f"{v.quant or '?'} ({v.label})" for v in variants)


def match_quant(variants: Sequence[Variant], quant: str) -> list[Variant]:
    """Variants whose quant token equals ``quant`` (case-insensitive; Q4_K does not match Q4_K_M)."""
    want = quant.strip().upper()
    return [v for v in variants if (v.quant or "").upper() == want]


def match_file(variants: Sequence[Variant], path: str) -> Variant | None:
    """The variant holding the file ``path`` (exact repo path, or exact base name when unique)."""
    exact = [v for v in variants if any(f.path == path for f in v.files)]
    if exact:
        return exact[0]
    by_name = [v for v in variants if any(f.name == path for f in v.files)]
    return by_name[0] if len(by_name) == 1 else None


def choose_variant(
    variants: Sequence[Variant],
    *,
    repo: str,
    quant: str | None = None,
    file: str | None = None,
    fit: bool = False,
) -> Variant:
    """Apply forge's choice rules; QuantSelectionError (listing what exists) when nothing/too much matches.

    ``fit`` (and the default's last fallback) need ``Variant.fits`` filled in by the caller.
    """
    available = describe(variants)
    if not variants:
        raise QuantSelectionError(
            f"{repo} has no GGUF model files",
            hint="Pick a repo that ships .gguf files (often named <model>-GGUF).",
            repo=repo,
        )
    if file is not None:
        found = match_file(variants, file)
        if found is None:
            raise QuantSelectionError(
                f"No GGUF model file {file!r} in {repo}",
                hint=f"Use one of: {', '.join(f.path for v in variants for f in v.files[:1])}",
                repo=repo,
                available=[v.label for v in variants],
            )
        return found
    if quant is not None:
        found_q = match_quant(variants, quant)
        if not found_q:
            raise QuantSelectionError(
                f"No {quant.upper()} variant in {repo}",
                hint=f"Available: {available}. Quant names match exactly (Q4_K does not match Q4_K_M).",
                repo=repo,
                available=[v.quant for v in variants],
            )
        if len(found_q) > 1:
            raise QuantSelectionError(
                f"{len(found_q)} files in {repo} are {quant.upper()}: {describe(found_q)}",
                hint="Choose one with --file <path>.",
                repo=repo,
                available=[v.label for v in found_q],
            )
        return found_q[0]
    if fit:
        return best_fit(variants, repo=repo)
    for default in DEFAULT_QUANTS:
        found_d = match_quant(variants, default)
        if len(found_d) == 1:
            return found_d[0]
        if len(found_d) > 1:
            raise QuantSelectionError(
                f"{len(found_d)} files in {repo} are {default}: {describe(found_d)}",
                hint="Choose one with --file <path>.",
                repo=repo,
                available=[v.label for v in found_d],
            )
    if len(variants) == 1 and variants[0].fits is not False:
        return variants[0]
    return best_fit(variants, repo=repo)


def best_fit(variants: Sequence[Variant], *, repo: str) -> Variant:
    """The highest-quality variant whose ``fits`` is True."""
    fitting = [v for v in variants if v.fits]
    if not fitting:
        unknown = all(v.fits is None for v in variants)
        raise QuantSelectionError(
            f"No variant of {repo} fits the memory budget"
            if not unknown
            else f"Cannot tell which variant of {repo} fits: the memory budget is unknown",
            hint=f"Available: {describe(variants)}. Pick one with --quant, or set the budget with --mem 8G.",
            repo=repo,
            available=[v.quant for v in variants],
        )
    return sorted(fitting, key=quality_rank)[0]


def pick_projector(projectors: Sequence[ProjectorFile], variant: Variant) -> ProjectorFile | None:
    """llama.cpp's ``find_best_sibling``: same folder or an ancestor, deepest first, then closest bits."""
    model_dir = variant.folder
    best: tuple[int, float, int] | None = None
    chosen: ProjectorFile | None = None
    for index, proj in enumerate(projectors):
        pdir = posixpath.dirname(proj.path)
        if pdir and not (model_dir == pdir or model_dir.startswith(pdir + "/")):
            continue
        depth = len([p for p in pdir.split("/") if p])
        if variant.bits is not None and proj.bits is not None:
            distance = abs(proj.bits - variant.bits)
        else:
            distance = float("inf")
        key = (-depth, distance, index)
        if best is None or key < best:
            best, chosen = key, proj
    return chosen


_SUFFIX = re.compile(r"[-_.]?gguf$", re.IGNORECASE)


def default_name(repo: str, quant: str | None) -> str:
    """Short name from the repo and quant: ``ggml-org/gemma-3-270m-GGUF`` + Q4_K_M -> ``gemma-3-270m-q4_k_m``."""
    base = _SUFFIX.sub("", repo.split("/")[-1]) or repo.split("/")[-1]
    name = f"{base}-{quant}" if quant else base
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).lower().lstrip(".-")
    return name[:80] or "model"
