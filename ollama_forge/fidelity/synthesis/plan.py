"""The structure synthesis recovers from a chat template (emitted as Go by :mod:`.go`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Plan:
    """The recovered structure (also rendered in Python for a quick self-check)."""

    head: str = ""  # emitted when there is no system message
    sys_open: str = ""  # system block when a system message exists: sys_open + S + sys_close
    sys_close: str = ""
    sys_mode: str = "block"  # block | first_user | last_user | drop | refuse
    sys_inline_open: str = ""  # folded system: user_open + inline_open + S + inline_close + content
    sys_inline_close: str = ""
    default_system: str | None = None
    user_open: str = ""
    user_close: str = ""
    asst_open: str = ""
    asst_close: str = ""
    gen: str = ""
    think_open: str | None = (
        None  # assistant thinking in history: think_open + T + think_close + content
    )
    think_close: str = ""
    think_shown: bool = (
        True  # False: the thinking text is dropped but its presence changes the turn
    )
    think_tags: tuple[str, str] | None = (
        None  # the reasoning delimiters the model emits (for Ollama's parser)
    )
    tools: Any = None  # synthesis.tools.ToolPlan in a tools-mode plan
    notes: list[str] = field(default_factory=list)
