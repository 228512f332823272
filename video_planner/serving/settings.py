"""What a planning server accepts and how it batches: import-light (no torch, no FastAPI), so `vp serve --help`
reads these defaults. Every limit here is enforced where a request enters (`video_planner.serving.app`)."""

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from foundation.config_io import check_ranges, ranged
from foundation.errors import InputError
from video_planner.model.config import MAX_SAMPLING_STEPS

TOKEN_ENV = "VP_API_TOKEN"
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"  # address to bind; any but loopback needs a token (VP_API_TOKEN or --token-file)
    port: int = ranged(8000, "[0, 65535]")  # port to listen on; 0 picks a free one
    # a file holding the bearer token clients must send (else the VP_API_TOKEN variable; a flag would show in ps)
    token_file: str | None = None
    batch_window_ms: float = ranged(5.0, "[0, 1000]")  # how long a request waits for others to share its batch
    max_batch: int = ranged(16, "[1, 1024]")  # most plans (requests × num_samples) in one model call
    max_queue: int = ranged(64, "[1, 100000]")  # plans waiting beyond this are refused: 503 with Retry-After
    request_timeout_s: float = ranged(60.0, "(0, 3600]")  # a plan not ready by then is dropped: 504
    max_body_bytes: int = ranged(16 * 2**20, "[1024, 1073741824]")  # larger bodies: 413
    body_timeout_s: float = ranged(10.0, "(0, 600]")  # a body still arriving after this: 408 (slow clients)
    max_image_pixels: int = ranged(4096 * 4096, "[64, 100000000]")  # width × height of an uploaded image
    max_instruction_chars: int = ranged(500, "[1, 100000]")
    max_steps: int = ranged(100, f"[1, {MAX_SAMPLING_STEPS}]")  # denoising steps a request may ask for
    max_samples: int = ranged(8, "[1, 1024]")  # plans per request; at most max_batch
    rate_limit_per_minute: float = ranged(600.0, "(0, inf)")  # per client address; beyond it: 429
    rate_burst: int = ranged(20, "[1, inf)")  # requests a client may send at once before the rate applies
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API from their pages; none: CORS off

    def __post_init__(self):
        check_ranges(self, "server settings")
        if self.max_samples > self.max_batch:
            raise InputError(f"max_samples {self.max_samples} exceeds max_batch {self.max_batch}; lower it")

    def token(self) -> str | None:
        """The bearer token clients must send (see `bearer_token`)."""
        return bearer_token(self.host, self.token_file, TOKEN_ENV)


def is_loopback(host: str) -> bool:
    """Whether a server bound to `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bearer_token(host: str, token_file: str | None, env_var: str) -> str | None:
    """The token a server on `host` requires: from `token_file`, else the `env_var` variable, else none. None is
    refused unless the server binds loopback; a short token is refused always."""
    if token_file is not None:
        path = Path(token_file)
        if not path.is_file():
            raise InputError(f"token file {path} does not exist; write the token into it (one line)")
        token = path.read_text().strip()
    else:
        token = os.environ.get(env_var, "").strip()
    if not token:
        if not is_loopback(host):
            raise InputError(
                f"refusing to serve on {host} without a token: set {env_var} or pass --token-file (or bind 127.0.0.1)"
            )
        return None
    if len(token) < MIN_TOKEN_CHARS:
        raise InputError(f"the token has {len(token)} characters; use at least {MIN_TOKEN_CHARS} random ones")
    return token
