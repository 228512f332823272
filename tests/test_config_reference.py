"""docs/configuration.md is what scripts/config_reference.py makes from the code: a flag or config field added,
removed or redocumented without regenerating it fails here."""


def test_the_committed_reference_is_the_generated_one():
    import config_reference

    assert config_reference.REFERENCE.read_text() == config_reference.reference(), (
        "docs/configuration.md is stale; run python scripts/config_reference.py"
    )


def test_every_vp_command_and_planner_field_is_in_it():
    import config_reference

    text = config_reference.reference()
    for command in ("collect", "train-planner", "eval", "sail", "pretrain", "serve", "daemon"):
        assert f"### `vp {command}`" in text
    assert "| `--parallelism` | how ranks hold the denoiser" in text
    assert "| `frame_stride` | `8` | env steps between planned frames" in text
