"""The bottom layer: what every other package shares and nothing of the project's it needs.

Errors a user can fix (`errors`), strict config files (`config_io`), atomic writes (`atomic_dir`), model
directories on disk or the Hub (`hub`), resumable training state (`resume`, `state_io`), frames and camera
images (`frames`, `camera_image`), short video files (`video_io`) and replay sampling (`replay`,
`replay_settings`). Modules here import no other package of the project.
"""
