"""A tiny Llama text-generation model + byte-level BPE tokenizer with a ChatML chat template.

Built offline in a few hundred milliseconds (fallback.md §3): nothing is downloaded, nothing is
committed. The weights are random (seeded), so the text it writes is deterministic gibberish.

HF_HUB_OFFLINE is deliberately *not* set here: huggingface_hub freezes it at import, which would
leak into other tests of the session. Nothing here contacts the Hub, and the test isolation points
HF_ENDPOINT at a closed port, so an accidental lookup fails loudly anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SENTENCES = [
    "Hello world, this is a tiny model.",
    "The quick brown fox jumps over the lazy dog.",
    "Say hi to the assistant and the user.",
    "You are terse. Answer in one word.",
    "Paris is the capital of France.",
]


def build_tiny_model(target: Path, *, chat_template: bool = True) -> Path:
    """Write a tiny model + tokenizer to ``target`` (about 140 KiB) and return it."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False)
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(SENTENCES * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        model_max_length=256,
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.max_new_tokens = 8
    model.generation_config.do_sample = False
    model.generation_config.pad_token_id = fast.pad_token_id
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    fast.save_pretrained(target)
    return target
