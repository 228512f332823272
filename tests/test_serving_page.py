"""The browser page at `/` in headless Chromium (Debian's package, driven by Playwright): upload a camera
image, type an instruction, and a plan plays."""

import shutil

import numpy as np
import torch
from PIL import Image
from playwright.sync_api import sync_playwright

from video_planner.model.planner import VideoPlanner
from video_planner.serving.app import create_app
from video_planner.serving.served_models import ServedModels
from video_planner.serving.server import running_server
from video_planner.serving.settings import ServeSettings


def test_the_page_uploads_an_image_and_plays_the_plan(tmp_path, text_encoder, tiny_planner_config):
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: run scripts/install_system_deps.sh (make setup does)"
    torch.manual_seed(0)
    planner = VideoPlanner(tiny_planner_config, text_encoder=text_encoder).eval()
    settings = ServeSettings(port=0)
    image = tmp_path / "camera.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(image)
    with running_server(create_app(ServedModels(planner, "tiny"), settings, token=None), settings) as url:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(url)
            page.set_input_files("#image", str(image))
            page.fill("#instruction", "open the door")
            page.click("#go")
            page.wait_for_function("document.getElementById('plan').dataset.frame >= 2", timeout=60_000)
            caption = page.inner_text("#caption")
            width = page.evaluate("document.getElementById('plan').naturalWidth")
            error = page.inner_text("#error")
            browser.close()
    assert caption.startswith("plan: 3 frames in") and "seed 0" in caption
    assert width == 32 and error == ""  # planner-resolution frames, decoded by the browser
