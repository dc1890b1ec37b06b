"""Split (sharded) GGUF names and consistency checks (gguf.md §6, §10 item 17; ollama.md §3.7)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SplitError

if TYPE_CHECKING:
    from .info import GGUFInfo

# Ollama create's pattern (the strictest consumer).
SHARD_RE = re.compile(r"^(.*)-(\d{5})-of-(\d{5})\.gguf$")
MAX_SHARDS = 99999


@dataclass(frozen=True)
class ShardName:
    prefix: str
    index: int  # 1-based, as in the file name
    count: int

    def filename(self, index: int | None = None) -> str:
        return f"{self.prefix}-{index or self.index:05d}-of-{self.count:05d}.gguf"


def parse_shard_name(filename: str) -> ShardName | None:
    """``model-00002-of-00003.gguf`` -> ShardName('model', 2, 3); None for other names."""
    match = SHARD_RE.match(Path(filename).name)
    if match is None:
        return None
    return ShardName(match.group(1), int(match.group(2)), int(match.group(3)))


def find_shards(entry: str | Path) -> list[Path]:
    """The sibling shard files of ``entry`` that exist (sorted by index); [entry] if not split."""
    path = Path(entry)
    parsed = parse_shard_name(path.name)
    if parsed is None:
        return [path]
    found = []
    for i in range(1, parsed.count + 1):
        candidate = path.with_name(parsed.filename(i))
        if candidate.exists():
            found.append(candidate)
    return found


def expand_shards(entry: str | Path) -> list[Path]:
    """Every shard of a split GGUF named by ``entry`` (any shard), or [entry] if not split.

    Raises :class:`SplitError` naming the missing files when the set is incomplete.
    """
    path = Path(entry)
    parsed = parse_shard_name(path.name)
    if parsed is None:
        return [path]
    shards = [path.with_name(parsed.filename(i)) for i in range(1, parsed.count + 1)]
    missing = [p.name for p in shards if not p.is_file()]
    if missing:
        raise SplitError(
            f"Split GGUF {path.name} is missing shard(s): {', '.join(missing)}",
            hint="Download every shard into the same folder (forge pull-gguf fetches them all).",
            path=str(path),
        )
    return shards


def check_shard_set(
    shards: Sequence[tuple[str | Path, GGUFInfo]], *, entry: str | Path | None = None
) -> list[Path]:
    """Validate a complete shard set; return the paths ordered by shard index.

    Checks (each failure names the shard): the llama.cpp name pattern, one prefix and count,
    ``split.count`` == the count in the name, ``split.no + 1`` == the index in the name,
    1 <= count <= 99999, no duplicate or missing shard, ``split.tensors.count`` equals the
    tensors found, and, when ``entry`` is given, that it is shard 1.
    """
    if not shards:
        raise SplitError(
            "No shards given", hint="Pass every file of the split model (…-0000i-of-0000N.gguf)."
        )
    by_index: dict[int, Path] = {}
    infos: dict[int, GGUFInfo] = {}
    expected: ShardName | None = None
    for raw_path, info in shards:
        path = Path(raw_path)
        name = path.name
        parsed = parse_shard_name(name)
        if parsed is None:
            raise SplitError(
                f'split GGUF "{name}" must use llama.cpp split filename pattern (NAME-0000i-of-0000N.gguf)',
                hint="Rename the shards to llama.cpp's pattern, e.g. model-00001-of-00003.gguf.",
                shard=name,
            )
        if not 1 <= parsed.count <= MAX_SHARDS or not 1 <= parsed.index <= parsed.count:
            raise SplitError(
                f'split GGUF "{name}" has invalid shard index {parsed.index} of {parsed.count}',
                hint="Shard numbers are 1-based and at most the shard count (at most 99999).",
                shard=name,
            )
        if expected is None:
            expected = parsed
        elif (parsed.prefix, parsed.count) != (expected.prefix, expected.count):
            raise SplitError(
                f'split GGUF "{name}" does not belong with "{expected.filename()}" '
                f"(prefix or shard count differs)",
                hint="Keep only the shards of one model together.",
                shard=name,
            )
        split = info.split
        if split is None or split.no < 0:
            raise SplitError(
                f'split GGUF "{name}" is missing split.no metadata', hint=_REDOWNLOAD, shard=name
            )
        if split.count <= 0:
            raise SplitError(
                f'split GGUF "{name}" is missing split.count metadata', hint=_REDOWNLOAD, shard=name
            )
        if split.count != parsed.count:
            raise SplitError(
                f'split GGUF "{name}" filename count {parsed.count} does not match metadata count {split.count}',
                hint=_REDOWNLOAD,
                shard=name,
            )
        if split.no + 1 != parsed.index:
            raise SplitError(
                f'split GGUF "{name}" filename index {parsed.index} does not match metadata index {split.no + 1}',
                hint=_REDOWNLOAD,
                shard=name,
            )
        if parsed.index in by_index:
            raise SplitError(
                f"split GGUF has duplicate shard index {parsed.index} ({by_index[parsed.index].name} and {name})",
                hint="Remove the duplicate file.",
                shard=name,
            )
        by_index[parsed.index] = path
        infos[parsed.index] = info
    assert expected is not None
    if 1 not in by_index:
        raise SplitError(
            f"split GGUF is missing first shard {expected.filename(1)}",
            hint="Download the -00001-of-N shard; it carries the model metadata.",
            shard=expected.filename(1),
        )
    for i in range(1, expected.count + 1):
        if i not in by_index:
            raise SplitError(
                f'split GGUF "{expected.filename(1)}" is missing shard {i} ({expected.filename(i)})',
                hint=f"Download every shard ({expected.count} files) into the same folder.",
                shard=expected.filename(i),
            )
    if entry is not None and Path(entry).name != by_index[1].name:
        raise SplitError(
            f'"{Path(entry).name}" is not the first shard; open {by_index[1].name} instead',
            hint="Split models are loaded from shard 1 (…-00001-of-N.gguf), which holds the metadata.",
            shard=Path(entry).name,
        )
    declared = infos[1].split.tensors_count if infos[1].split else None
    found = sum(info.tensor_count for info in infos.values())
    if declared is not None and declared != found:
        raise SplitError(
            f'split GGUF "{by_index[1].name}" declares split.tensors.count {declared}, but the shards hold {found} tensors',
            hint=_REDOWNLOAD,
            shard=by_index[1].name,
        )
    return [by_index[i] for i in range(1, expected.count + 1)]


_REDOWNLOAD = (
    "The shard set is inconsistent (mixed downloads or renamed files); download all shards again."
)
