"""Which family a GGUF belongs to, from its own metadata, most specific evidence first.

1. ``chat_template_sha256``: the embedded ``tokenizer.chat_template`` (normalised) is exactly a
   chat template a family lists (certain);
2. ``chat_template_signature``: the chat template contains all the characteristic strings of a
   family signature (special tokens, fixed phrases); the signature with the most strings wins,
   then the family priority (high);
3. ``architecture``: ``general.architecture`` plus the model name (medium);
4. ``name``: the model, file or repo name matches a family name pattern (low).

A GGUF without a chat template is a base model: it gets the ``plain`` family
(``{{ .Prompt }}``) and a visible warning naming the family its name suggests, never a silent
guess. ``--family`` overrides everything (rule ``override``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ..gguf import GGUFInfo, read_gguf
from .registry import Family, chat_template_sha256, get_family, load_families

if TYPE_CHECKING:
    from ..gguf import GGUFInfo

Rule = Literal[
    "override",
    "chat_template_sha256",
    "chat_template_signature",
    "architecture",
    "name",
    "no_chat_template",
    "none",
]
Confidence = Literal["certain", "high", "medium", "low", "none"]
PLAIN = "plain"


class Candidate(BaseModel):
    family: str
    rule: Rule
    score: int = 0
    evidence: str = ""


class Detection(BaseModel):
    """The family chosen for a GGUF, the rule that decided, how sure, and why."""

    family: str | None = Field(
        description="family name; 'plain' for a base model; None when nothing matched"
    )
    rule: Rule
    confidence: Confidence
    evidence: list[str] = Field(default_factory=list)
    candidates: list[Candidate] = Field(
        default_factory=list, description="other families that also matched, best first"
    )
    chat_template_sha256: str | None = None
    suggested: str | None = Field(
        default=None, description="for a model without chat template: the family its name suggests"
    )

    def summary(self) -> str:
        if self.family is None:
            return "no family matched"
        return f"{self.family} (rule {self.rule}, confidence {self.confidence})"


def _names(info: GGUFInfo, extra_names: list[str]) -> list[str]:
    names = [
        info.name,
        info.basename,
        info.finetune,
        Path(info.path).name if info.path else None,
        *extra_names,
    ]
    return [n for n in names if n]


def _name_match(family: Family, names: list[str]) -> str | None:
    for pattern in family.name_patterns:
        for name in names:
            if re.search(pattern, name, re.IGNORECASE):
                return f"name {name!r} matches {pattern!r}"
    return None


def signature_matches(signature: list[str], chat_template: str) -> bool:
    """All strings occur in the template; a string starting with '!' must not occur."""
    return bool(signature) and all(
        (s[1:] not in chat_template) if s.startswith("!") else (s in chat_template)
        for s in signature
    )


def _signature_candidates(chat_template: str, families: Mapping[str, Family]) -> list[Candidate]:
    out: list[Candidate] = []
    for family in families.values():
        best: list[str] | None = None
        for signature in family.signatures:
            if signature_matches(signature, chat_template) and (
                best is None or len(signature) > len(best)
            ):
                best = signature
        if best is not None:
            shown = ", ".join(repr(s) for s in best)
            out.append(
                Candidate(
                    family=family.name,
                    rule="chat_template_signature",
                    score=len(best) * 100 + family.priority,
                    evidence=f"chat template contains {shown}",
                )
            )
    out.sort(key=lambda c: -c.score)
    return out


def _arch_candidates(
    info: GGUFInfo, names: list[str], families: Mapping[str, Family]
) -> list[Candidate]:
    out: list[Candidate] = []
    arch = (info.architecture or "").lower()
    for family in families.values():
        if arch and arch in (a.lower() for a in family.architectures):
            name_hit = _name_match(family, names)
            # An architecture shared by many families (llama) needs the name to agree.
            if name_hit or not family.name_patterns:
                evidence = f"general.architecture {arch!r}" + (
                    f" and {name_hit}" if name_hit else ""
                )
                out.append(
                    Candidate(
                        family=family.name,
                        rule="architecture",
                        score=(200 if name_hit else 100) + family.priority,
                        evidence=evidence,
                    )
                )
    out.sort(key=lambda c: -c.score)
    return out


def _name_candidates(names: list[str], families: Mapping[str, Family]) -> list[Candidate]:
    out: list[Candidate] = []
    for family in families.values():
        hit = _name_match(family, names)
        if hit:
            out.append(
                Candidate(family=family.name, rule="name", score=family.priority, evidence=hit)
            )
    out.sort(key=lambda c: -c.score)
    return out


def _info_of(source: Any) -> GGUFInfo:

    if isinstance(source, GGUFInfo):
        return source
    return read_gguf(source)


def detect_family(
    source: Any,
    *,
    family: str | None = None,
    families_dir: str | os.PathLike[str] | None = None,
    families: Mapping[str, Family] | None = None,
    names: list[str] | None = None,
) -> Detection:
    """Detect the family of ``source`` (a :class:`GGUFInfo`, a GGUF path or byte source).

    ``family`` forces a family (rule ``override``); ``names`` adds names to match (e.g. the Hub
    repo id). ``families`` defaults to the built-in ones plus the user folder.
    """
    registry = dict(families) if families is not None else load_families(families_dir)
    info = _info_of(source)
    extra = list(names or [])
    chat_template = info.chat_template or ""
    digest = chat_template_sha256(chat_template) if chat_template.strip() else None

    if family is not None:
        chosen = get_family(family, registry)
        return Detection(
            family=chosen.name,
            rule="override",
            confidence="certain",
            chat_template_sha256=digest,
            evidence=[f"--family {family} given"],
        )

    all_names = _names(info, extra)
    if digest is None:
        hints = _arch_candidates(info, all_names, registry) or _name_candidates(all_names, registry)
        hints = [c for c in hints if c.family != PLAIN]
        suggested = hints[0].family if hints else None
        evidence = ["the GGUF has no tokenizer.chat_template: treated as a base (completion) model"]
        if suggested:
            evidence.append(
                f"family {suggested!r} is suggested by {hints[0].evidence}; "
                f"pass --family {suggested} if it is really a chat model"
            )
        return Detection(
            family=PLAIN if PLAIN in registry else None,
            rule="no_chat_template",
            confidence="high",
            evidence=evidence,
            candidates=hints,
            suggested=suggested,
        )

    exact = [f for f in registry.values() if digest in f.chat_template_sha256]
    signature = _signature_candidates(chat_template, registry)
    architecture = _arch_candidates(info, all_names, registry)
    by_name = _name_candidates(all_names, registry)

    def others(winner: str) -> list[Candidate]:
        seen = {winner}
        out: list[Candidate] = []
        for c in [*signature, *architecture, *by_name]:
            if c.family not in seen:
                seen.add(c.family)
                out.append(c)
        return out

    if exact:
        exact.sort(key=lambda f: (f.source != "user", -f.priority))
        winner = exact[0]
        return Detection(
            family=winner.name,
            rule="chat_template_sha256",
            confidence="certain",
            chat_template_sha256=digest,
            candidates=others(winner.name),
            evidence=[f"chat template sha256 {digest[:12]}… is a known {winner.name} template"],
        )
    for rule_list, confidence in ((signature, "high"), (architecture, "medium"), (by_name, "low")):
        if rule_list:
            best = rule_list[0]
            return Detection(
                family=best.family,
                rule=best.rule,
                confidence=confidence,  # type: ignore[arg-type]
                chat_template_sha256=digest,
                evidence=[best.evidence],
                candidates=others(best.family),
            )
    return Detection(
        family=None,
        rule="none",
        confidence="none",
        chat_template_sha256=digest,
        evidence=[
            "the chat template matches no family's hash or signature, and neither the "
            "architecture nor the name matches a family"
        ],
    )
