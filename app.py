"""Gradio demo of the super-resolution models (the Hugging Face Space entry point).

Run ``python app.py``; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT choose host and port.
Importing this module builds the layout only: no model is loaded, no server started.
"""

from demo.callbacks import compare_images, upscale_image
from demo.models import on_gpu
from demo.ui import LAUNCH_KWARGS, build_ui
from demo.video import upscale_video

demo = build_ui(upscale_fn=on_gpu(upscale_image), compare_fn=on_gpu(compare_images),
               video_fn=on_gpu(upscale_video))

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=1, max_size=16).launch(**LAUNCH_KWARGS)
