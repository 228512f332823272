import logging
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from foundation.errors import InputError
from video_planner.model.config import AutoencoderConfig, DenoiserConfig, PlannerConfig, preset
from video_planner.model.networks import VideoDenoiser
from video_planner.model.planner import VideoPlanner, training_scheduler
from video_planner.model.protocols import BatchPlanner, PlanRequest
from video_planner.training.diffusion_loss import diffusion_loss


@pytest.fixture
def planner(text_encoder, tiny_planner_config):
    torch.manual_seed(0)
    return VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()


def scene(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "steps, learning_rate, factor",
    [pytest.param(150, 5e-3, 4, id="tiny"), pytest.param(500, 2e-3, 10, id="full", marks=pytest.mark.slow)],
)
def test_denoiser_overfits_one_clip(planner, steps, learning_rate, factor):
    """Memorising one clip lets the denoiser recover the noise: the training loss must fall `factor` times
    (the tiny version runs in the default suite, the full one with `-m slow`)."""
    torch.manual_seed(0)
    scheduler = training_scheduler(planner.config)
    clip = torch.randn(1, 4, 4, 16, 16)  # (B, K+1, C, h, w) latents of one clip
    first, future = clip[:, 0].expand(8, -1, -1, -1), clip[:, 1:].expand(8, -1, -1, -1, -1)
    text, mask = planner.text_encoder(["open the door"] * 8)
    denoiser = planner.denoiser.train()
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=learning_rate)
    losses = []
    for _ in range(steps):
        noise = torch.randn_like(future)
        t = torch.randint(0, 1000, (8,))
        prediction = denoiser(scheduler.add_noise(future, noise, t), t, first, text, mask)
        loss = diffusion_loss(planner.config, scheduler, prediction, future, noise, t)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) / factor


def test_plan_shapes_and_seeded_determinism(planner):
    plan = planner.plan(scene(), "open the door", seed=3)
    assert plan.frames.shape == (3, 32, 32, 3) and plan.frames.dtype == np.uint8
    assert plan.context_frame.shape == (32, 32, 3)
    assert (plan.sampler, plan.steps, plan.seed) == ("dpmsolver++", 4, 3)
    np.testing.assert_array_equal(plan.frames, planner.plan(scene(), "open the door", seed=3).frames)
    samples = planner.plan_samples(scene(), "open the door", 2, seed=3)
    assert len(samples) == 2 and not np.array_equal(samples[0].frames, samples[1].frames)


def count_denoiser_calls(planner) -> list[int]:
    """A list that grows by the batch size of every denoiser call from now on."""
    calls = []
    planner.denoiser.register_forward_hook(lambda module, args, output: calls.append(len(args[0])))
    return calls


def test_a_request_gets_the_same_plans_alone_or_batched(planner):
    """Other images, instructions, sample counts and a second (steps, guidance) group in the batch change no
    request's plans beyond float rounding, and each group is one denoiser call per sampling step."""
    requests = [
        PlanRequest(scene(0), "open the door", seed=3),
        PlanRequest(scene(1), "close the drawer", seed=4, num_samples=2),
        PlanRequest(scene(2), "open the door", seed=5, steps=2, guidance=1.0),
        PlanRequest(scene(3), "press the button", seed=6),
    ]
    assert isinstance(planner, BatchPlanner)
    calls = count_denoiser_calls(planner)
    batched = planner.plan_batch(requests)
    steps = planner.config.sampling_steps
    assert calls == [2 * 4] * steps + [1] * 2  # 4 rows with guidance (doubled), then the unguided request
    assert [len(plans) for plans in batched] == [1, 2, 1, 1]
    for request, plans in zip(requests, batched, strict=True):
        options = dict(seed=request.seed, steps=request.steps, guidance=request.guidance)
        alone = planner.plan_samples(request.image, request.instruction, request.num_samples, **options)
        for single, batch in zip(alone, plans, strict=True):
            assert np.abs(single.frames.astype(int) - batch.frames.astype(int)).max() <= 2
            assert (batch.instruction, batch.seed, batch.steps) == (request.instruction, request.seed, single.steps)
    assert batched[2][0].steps == 2 and batched[2][0].guidance == 1.0
    assert not np.array_equal(batched[1][0].frames, batched[1][1].frames)  # two samples of one request differ


def test_an_unseeded_plan_reports_the_seed_that_reproduces_it(planner):
    plan = planner.plan(scene(), "open the door")
    assert isinstance(plan.seed, int)
    np.testing.assert_array_equal(plan.frames, planner.plan(scene(), "open the door", seed=plan.seed).frames)


def test_one_bad_request_refuses_the_whole_batch_before_planning(planner):
    calls = count_denoiser_calls(planner)
    good = PlanRequest(scene(), "open the door", seed=1)
    with pytest.raises(InputError, match="steps must be"):
        planner.plan_batch([good, PlanRequest(scene(), "open the door", steps=0)])
    with pytest.raises(InputError, match="image must be square"):
        planner.plan_batch([good, PlanRequest(scene()[:, :20], "open the door")])
    assert calls == []


def test_decoding_as_change_keeps_the_camera_pixels_the_plan_leaves(planner):
    """With decode_as_change, a plan frame is the camera image plus (decoded frame - decoded context latent)."""
    image = scene()
    assert planner.config.decode_as_change
    changed = planner.plan(image, "open the door", seed=4).frames.astype(int)  # (K, H, W, 3)
    absolute = planner.plan(image, "open the door", seed=4, decode_as_change=False).frames.astype(int)
    context = torch.from_numpy(image).permute(2, 0, 1)[None]
    decoded_context = planner.decode_latents(planner.encode_frames(context))[0].permute(1, 2, 0).numpy()
    expected = np.clip(image.astype(int) + absolute - decoded_context.astype(int), 0, 255)
    np.testing.assert_array_equal(changed, expected)
    assert not np.array_equal(changed, absolute)


@pytest.mark.parametrize("sampler", ["dpmsolver++", "ddim", "ddpm"])
def test_save_then_load_plans_bit_identically(planner, tmp_path, sampler):
    planner.latent_scale.fill_(1.7)
    planner.save_pretrained(tmp_path / "planner")
    loaded = VideoPlanner.from_pretrained(tmp_path / "planner")
    for name, tensor in planner.denoiser.state_dict().items():
        assert torch.equal(tensor, loaded.denoiser.state_dict()[name]), name
    a = planner.plan(scene(), "open the door", seed=11, sampler=sampler).frames
    b = loaded.plan(scene(), "open the door", seed=11, sampler=sampler).frames
    np.testing.assert_array_equal(a, b)


def test_guidance_follows_the_classifier_free_formula(planner):
    torch.manual_seed(1)
    noisy, first = torch.randn(2, 3, 4, 16, 16), torch.randn(2, 4, 16, 16)
    text, mask = planner.text_encoder(["open the door", "press the button"])
    t = torch.full((2,), 500)
    with torch.no_grad():
        conditional = planner.denoiser(noisy, t, first, text, mask)
        unconditional = planner.denoiser(noisy, t, first, text, mask, drop=torch.ones(2, dtype=torch.bool))
        guided = planner.predict(noisy, 500, first, text, mask, guidance=2.5)
        plain = planner.predict(noisy, 500, first, text, mask, guidance=1.0)
    torch.testing.assert_close(guided, unconditional + 2.5 * (conditional - unconditional))
    assert torch.equal(plain, conditional)
    assert not torch.allclose(conditional, unconditional)


def test_wrong_image_size_is_resized_with_a_warning(planner, caplog):
    big = np.kron(scene(), np.ones((2, 2, 1), dtype=np.uint8))  # 64x64, each pixel doubled
    with caplog.at_level(logging.WARNING):
        plan = planner.plan(big, "open the door", seed=0)
    assert "resizing the 64x64 image to the model's 32x32" in caplog.text
    np.testing.assert_array_equal(plan.context_frame, scene())
    np.testing.assert_array_equal(plan.frames, planner.plan(scene(), "open the door", seed=0).frames)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((32, 32, 3), np.float32), "image must be uint8 RGB"),
        (np.zeros((32, 32), np.uint8), "image must be uint8 RGB"),
        (np.zeros((32, 48, 3), np.uint8), "image must be square"),
    ],
)
def test_bad_images_are_refused(planner, image, message):
    with pytest.raises(InputError, match=message):
        planner.plan(image, "open the door")


def test_checkpoint_missing_files_or_other_version_fails_in_one_line(planner, tmp_path):
    planner.save_pretrained(tmp_path / "ok")
    shutil.copytree(tmp_path / "ok", tmp_path / "no_weights")
    (tmp_path / "no_weights" / "model.safetensors").unlink()
    with pytest.raises(InputError, match="no_weights is missing model.safetensors"):
        VideoPlanner.from_pretrained(tmp_path / "no_weights")
    shutil.copytree(tmp_path / "ok", tmp_path / "no_autoencoder")
    shutil.rmtree(tmp_path / "no_autoencoder" / "autoencoder")
    with pytest.raises(InputError, match="missing autoencoder/"):
        VideoPlanner.from_pretrained(tmp_path / "no_autoencoder")
    config = (tmp_path / "ok" / "config.json").read_text().replace('"config_version": 1', '"config_version": 99')
    (tmp_path / "ok" / "config.json").write_text(config)
    with pytest.raises(InputError, match="config_version 99 is not 1"):
        VideoPlanner.from_pretrained(tmp_path / "ok")
    with pytest.raises(InputError, match="no planner checkpoint directory"):
        VideoPlanner.from_pretrained(tmp_path / "nowhere" / "at" / "all")


def test_push_to_hub_uploads_a_loadable_planner(planner, folder_hub):
    planner.push_to_hub("user/tiny-planner", api=folder_hub)
    loaded = VideoPlanner.from_pretrained(folder_hub.root / "user" / "tiny-planner")
    np.testing.assert_array_equal(
        planner.plan(scene(), "open the door", seed=5).frames, loaded.plan(scene(), "open the door", seed=5).frames
    )


def test_presets_validate_and_round_trip():
    for name in ("cpu", "gpu"):
        config = preset(name)
        assert PlannerConfig.from_dict(config.to_dict()) == config
    assert preset("gpu").image_size == 128 and preset("gpu").latent_size == 16
    with pytest.raises(InputError, match="unknown planner preset 'tpu'"):
        preset("tpu")
    with pytest.raises(InputError, match="invalid sampler"):
        preset("cpu", sampler="euler")


def test_network_shapes_that_diffusers_cannot_build_are_refused_in_one_line():
    """GroupNorm splits each level into 32 groups (8 in the autoencoder), and the heads split the channels of
    each attention level: shapes that break either would otherwise fail deep inside diffusers."""
    cpu = preset("cpu")
    refused = {
        r"denoiser.block_out_channels = \(80, 160, 320\)": {"denoiser": DenoiserConfig((80, 160, 320))},
        "denoiser.attention_head_dim = 5": {"denoiser": DenoiserConfig((96, 192, 384), attention_head_dim=5)},
        r"autoencoder.block_out_channels = \(12, 24\)": {"autoencoder": AutoencoderConfig(block_out_channels=(12, 24))},
    }
    for message, change in refused.items():
        with pytest.raises(InputError, match=f"planner config: invalid {message} \\(.+\\)$"):
            replace(cpu, **change)
    wide = replace(cpu, denoiser=DenoiserConfig(block_out_channels=(96, 192, 384)))  # a valid wider one builds
    assert VideoDenoiser(wide, text_dim=8).unet.config.block_out_channels == (96, 192, 384)


def test_plan_refuses_steps_and_guidance_out_of_range(planner):
    for options, message in (
        ({"steps": 0}, r"steps must be an integer in \[1, 1000\], got 0"),
        ({"steps": 100_000}, r"steps must be an integer in \[1, 1000\], got 100000"),
        ({"guidance": float("nan")}, "guidance must be a finite number >= 0, got nan"),
        ({"guidance": -1.0}, "guidance must be a finite number >= 0, got -1.0"),
    ):
        with pytest.raises(InputError, match=message):
            planner.plan(scene(), "open the door", **options)


def test_a_device_this_machine_lacks_is_refused():
    from video_planner.model.loading import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="device cuda:7 is not here"):
        resolve_device("cuda:7") if torch.cuda.device_count() < 8 else pytest.skip("this machine has 8 GPUs")
    with pytest.raises(InputError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")


def test_plan_refuses_a_non_string_or_empty_instruction_and_a_tiny_image(planner):
    for instruction in (None, 3, "  "):
        with pytest.raises(InputError, match="instruction must be a non-empty string"):
            planner.plan(scene(), instruction)
    with pytest.raises(InputError, match="image is 0x0; give at least 8x8"):
        planner.plan(np.zeros((0, 0, 3), np.uint8), "open the door")
