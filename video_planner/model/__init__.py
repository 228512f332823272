"""The planner itself: config, text encoder, autoencoder and denoiser, sampling, checkpoints, composition with a
prior, and the oracle planner. Import this to plan; nothing here trains."""
