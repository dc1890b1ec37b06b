"""A stand-in for llama-cpp-python that dies the way a miscompiled llama.cpp does.

Put ``tests/runners/fake_llama`` first on PYTHONPATH of a child process. ``FAKE_LLAMA_CRASH``
says when it dies: ``extra`` (only with llama.cpp's extra buffer types on, like AMX on a VM
that advertises it), ``always`` (an illegal instruction everywhere) or ``never``.
"""

import os
import signal
from collections.abc import Iterator

from . import llama_cpp

llama_log_callback = llama_cpp.llama_log_callback
llama_log_set = llama_cpp.llama_log_set


def _die(sig: signal.Signals) -> None:
    os.kill(os.getpid(), sig)


class Llama:
    def __init__(self, model_path: str, **kwargs: object) -> None:
        extra = llama_cpp.llama_model_default_params().use_extra_bufts
        mode = os.environ.get("FAKE_LLAMA_CRASH", "never")
        if mode == "always":
            _die(signal.SIGILL)
        self.crash_on_generate = mode == "extra" and extra

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(range(1, 1 + len(text.split())))

    def generate(self, tokens: list[int], **kwargs: object) -> Iterator[int]:
        if self.crash_on_generate:
            _die(signal.SIGSEGV)  # the first AMX tile instruction
        yield from (7, 8, 9, 10, 11)

    def close(self) -> None:
        pass
