"""The Gradio layout: ``build_ui(...) -> gr.Blocks``. Nothing here loads a model or starts a server.

Public API endpoints (``gradio_client``):

* ``/upscale`` (image, model="real", scale=4, format="PNG", detail=0.5) -> (upscaled file, info dict);
  scale 2, 3 or 4, format PNG (lossless), JPEG or WebP; an empty model is the default (``real``); detail
  (``real`` only) from 0 (smooth, real-psnr) to 1 (GAN texture)
* ``/upscale_files`` (files, model, scale=4, format="PNG", detail=0.5) -> (gallery of outputs, one zip, info)
* ``/compare`` (image, model, preset) -> (LR enlarged, bicubic, SR, HR, readouts dict); preset standard,
  realistic or catdog32
* ``/upscale_video`` (video, model="real-psnr", scale=4, detail=0.5) -> (MP4 to play, the MP4 to download, summary
  Markdown); every frame upscaled, the sound and frame timing kept (``demo/video.py``, ``sr_core.video``)

Every other event (page-load refresh of the model list, the before/after
slider, the readout text, zoom) is private (``api_visibility="private"``).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import gradio as gr
from PIL import Image, UnidentifiedImageError

from sr_core.detail import DEFAULT_DETAIL, DETAIL_PAIRS, DETAIL_STEP

from . import callbacks, models
from . import custom_models as own
from . import video as vid

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
EXAMPLES = [  # (file, compare preset, label)
    ("bird_bsd100.png", "standard", "bird (BSD100 crop)"),
    ("texture_bsd100.png", "standard", "texture (BSD100 crop)"),
    ("cat_4003.jpg", "catdog32", "cat"),
    ("dog_4014.jpg", "catdog32", "dog"),
]
PRESET_CHOICES = [("standard: bicubic ×4 down", "standard"),
                  ("realistic degradation (blur, noise, JPEG)", "realistic"),
                  ("cat/dog 32×32 (HR resized to 128×128)", "catdog32")]
VIEWERS = [("lr", "LR (nearest)"), ("bicubic", "Bicubic"), ("sr", "SR model"), ("hr", "HR (truth)")]  # short:
# a label longer than the space left of the image's buttons pushes the image down

# Compare viewers and zoom crops fill their column (small images are enlarged), with sharp pixels
# instead of the browser's blur.
CSS = """
.pixelated img { image-rendering: pixelated; }
.pixelated:not(.fullscreen) .image-container > button, .pixelated:not(.fullscreen) .image-frame { width: 100%; }
.pixelated:not(.fullscreen) .image-frame img { width: 100%; height: auto; object-fit: contain; }
#compare-row .readout { min-height: 4.5em; font-size: 0.9em; }
#upscale-drop-note { display: none; }
"""
# Several files dropped on the single-image input (gr.Image keeps only the first) go to the "Several files at
# once" box instead (its accordion is opened first), and a note under the input says so.
DROP_JS = """
() => {
  const filesInput = () => document.querySelector("#upscale-files input[type=file]");
  document.addEventListener("drop", async (event) => {
    const single = event.target instanceof Element && event.target.closest("#upscale-input");
    const files = event.dataTransfer ? Array.from(event.dataTransfer.files) : [];
    if (!single || files.length < 2) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    let input = filesInput();
    if (!input) {
      document.querySelector("#upscale-files-accordion .label-wrap")?.click();
      for (let i = 0; i < 50 && !input; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        input = filesInput();
      }
    }
    const note = document.querySelector("#upscale-drop-note");
    note.style.display = "block";  // hidden (CSS) until there is something to say
    if (!input) {
      note.textContent = `${files.length} files dropped; this box takes one image: use "Several files at once".`;
      return;
    }
    const transfer = new DataTransfer();
    files.forEach((file) => transfer.items.add(file));
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    note.textContent = `${files.length} files dropped; this box takes one image, so they went to ` +
      `"Several files at once" below: press "Upscale all".`;
  }, true);
}
"""

# Gradio 6 takes css/js/theme in launch(), so app.py passes these on.
LAUNCH_KWARGS = {"css": CSS, "js": DROP_JS}


def no_image() -> None:
    """Removes a refused upload from its input (no broken thumbnail stays beside the error)."""
    return None


def _unreadable_reason(err: Exception) -> str:
    """Why an upload could not be decoded, in words rather than an exception class name."""
    if isinstance(err, UnidentifiedImageError):
        return "it is empty or not in an image format this app reads"
    if isinstance(err, (OSError, SyntaxError, ValueError)):  # Pillow's truncated / corrupt data errors
        return "the file is truncated or corrupt"
    return "the file could not be decoded"


def upload_image(**kwargs) -> gr.Image:
    """A ``gr.Image`` whose upload step reports an unreadable file as a ``gr.Error`` (a clear message in the UI)
    instead of a generic failure.

    The wrapper is set on the instance: a ``gr.Image`` subclass would make Gradio write a ``.pyi`` stub
    next to this module at import time.
    """
    component = gr.Image(**kwargs)
    preprocess = component.preprocess

    def safe_preprocess(payload):
        try:
            return preprocess(payload)
        except gr.Error:
            raise
        except Image.DecompressionBombError:
            raise callbacks.too_many_pixels(None) from None
        except Exception as err:
            raise gr.Error(f"Could not read the uploaded file as an image: {_unreadable_reason(err)}. "
                           "Upload a PNG, JPEG, WebP, BMP, TIFF or GIF file.", print_exception=False) from None

    component.preprocess = safe_preprocess
    return component


def clear_single() -> tuple:
    """A new upload, a cleared input or the start of a run: no earlier result (slider, summary, downloads, info)
    stays beside the new input or an error, and the empty download boxes are hidden."""
    return None, "", gr.File(value=None, visible=False), gr.File(value=None, visible=False), None


def clear_video() -> tuple:
    """A new or cleared clip, or the start of a run: the player, summary and (hidden) download are emptied."""
    return None, "", gr.File(value=None, visible=False)


def no_video() -> tuple:
    """Removes a refused clip from its input, and the line that described the previous one."""
    return None, ""


def clear_batch() -> tuple:
    """A new or cleared multi-file upload: the gallery and the zip are emptied and hidden, as are summary and info."""
    return gr.Gallery(value=None, visible=False), gr.File(value=None, visible=False), "", None


def start_batch() -> tuple:
    """The start of a several-files run: an empty gallery is shown (it carries the progress bar), the zip hidden."""
    return gr.Gallery(value=None, visible=True), gr.File(value=None, visible=False), "", None


def model_info(name: str | None) -> str:
    """The line under a model list: what the chosen model is for (``demo.models.DESCRIPTIONS``). The list itself
    shows bare names, so the chosen one is never cut off in a narrow column."""
    text = models.DESCRIPTIONS.get(str(name or ""))
    return (text or "your own model") if name else ""


def model_dropdown(choices: list[str], value: str, **kwargs) -> gr.Dropdown:
    return gr.Dropdown(choices, value=value, label="Model", info=model_info(value), allow_custom_value=True, **kwargs)


def models_note(list_models: Callable[[], list[str]] = models.model_choices) -> str:
    missing = [name for name in models.learned_models() if name not in list_models()]
    text = (f"{callbacks.limit_text()}. Output ×2, ×3 or ×4: the networks upscale ×4, and ×2 or ×3 is their "
            "output resized with Lanczos. Large images are processed in tiles, with a progress bar.")
    if missing:
        text += (f" Learned models without weights yet (not listed): {', '.join(missing)}. They appear once "
                 "`weights/<name>/model.safetensors` exists (reload the page).")
    return text


# events that only touch the page: no queue, no API, no spinner
PRIVATE = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}
# upload checks run queued (Gradio shows no error from an unqueued event), in their own concurrency group so they
# never wait behind a model run
CHECKS = {"api_visibility": "private", "show_progress": "hidden", "concurrency_id": "checks", "concurrency_limit": 4}


def api_functions(upscale_fn: Callable, compare_fn: Callable, video_fn: Callable) -> SimpleNamespace:
    """The four public endpoints; their parameter names and defaults are the API's (``gradio_client``)."""

    def upscale(image, model_name, scale=4, format="PNG", detail=DEFAULT_DETAIL,  # noqa: A002 (API name)
                progress=gr.Progress()):
        return upscale_fn(image, model_name, progress=progress, out_scale=scale, fmt=format, detail=detail)

    def upscale_files(files, model_name, scale=4, format="PNG", detail=DEFAULT_DETAIL,  # noqa: A002
                      progress=gr.Progress()):
        return callbacks.upscale_files(files, model_name, scale, format, progress=progress, detail=detail)

    def upscale_video(video, model_name, scale=4, detail=DEFAULT_DETAIL, progress=gr.Progress()):
        return video_fn(video, model_name, out_scale=scale, detail=detail, progress=progress)

    def compare(image, model_name, preset, progress=gr.Progress()):
        return compare_fn(image, model_name, preset, progress=progress)

    return SimpleNamespace(upscale=upscale, upscale_files=upscale_files, upscale_video=upscale_video, compare=compare)


def model_shown(model_name):  # the detail slider (real only) and the line on what the model is for
    return gr.Slider(visible=str(model_name) in DETAIL_PAIRS), gr.Dropdown(info=model_info(model_name))


def show_compare(lr, bicubic, sr, hr, x, y, zoom, readouts):
    return (*callbacks.readout_markdown(readouts), *callbacks.zoom_crops([lr, bicubic, sr, hr], x, y, zoom))


def zoom_to(lr, bicubic, sr, hr, x, y, zoom):
    return callbacks.zoom_crops([lr, bicubic, sr, hr], x, y, zoom)


def click_zoom(lr, bicubic, sr, hr, zoom, evt: gr.SelectData):
    ref = hr or sr or bicubic or lr
    if ref is None or not evt.index:
        return gr.skip(), gr.skip(), *callbacks.zoom_crops([lr, bicubic, sr, hr], 50, 50, zoom)
    x = round(100 * (evt.index[0] + 0.5) / ref.width, 1)
    y = round(100 * (evt.index[1] + 0.5) / ref.height, 1)
    return x, y, *callbacks.zoom_crops([lr, bicubic, sr, hr], x, y, zoom)


def show_upscale(image, result_path, info):
    pair, other, summary = callbacks.result_views(image, result_path, info)
    return pair, summary, gr.File(visible=bool(result_path)), gr.File(value=other, visible=bool(other))


def show_batch(info):
    return callbacks.batch_summary(info), gr.File(visible=True)


def model_list_events(list_models: Callable[[], list[str]]) -> SimpleNamespace:
    """The events that read the model list afresh: page load, the Compare preset, an uploaded model."""

    def refresh():
        names = list_models()
        up, cmp, video = (models.default_model(names), models.compare_default("standard", names),
                          vid.default_model(names))
        return (gr.Dropdown(choices=names, value=up, info=model_info(up)),
                gr.Dropdown(choices=names, value=cmp, info=model_info(cmp)), models_note(list_models),
                gr.Dropdown(choices=names, value=video, info=model_info(video)))

    def preset_model(preset):  # the Compare tab's model follows its preset (models.compare_default)
        names = list_models()
        name = models.compare_default(preset, names)
        return gr.Dropdown(choices=names, value=name, info=model_info(name))

    def add_own_model(path):  # an uploaded model joins this page's lists (demo/custom_models.py)
        name = own.add_upload(path, models.get_model)
        names = [*list_models(), name]
        return (gr.Dropdown(choices=names, value=name, info=model_info(name)),
                gr.Dropdown(choices=names, value=name, info=model_info(name)),
                gr.Dropdown(choices=names, value=name, info=model_info(name)))

    return SimpleNamespace(refresh=refresh, preset_model=preset_model, add_own_model=add_own_model)


def upscale_tab(choices: list[str], examples: list) -> SimpleNamespace:
    """The Upscale tab's components: input, model, detail, scale, format, several files, own model; results."""
    with gr.Tab("Upscale", id="upscale"):
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                # short labels: at 390 px wide a longer one runs under the image's buttons
                up_in = upload_image(label=f"Input (up to {callbacks.app_max_pixels() / 1e6:g} Mpx)", type="filepath",
                                     image_mode=None, sources=["upload", "clipboard"], height=300,
                                     elem_id="upscale-input")
                gr.HTML("", elem_id="upscale-drop-note", padding=False)  # filled by DROP_JS
                model = model_dropdown(choices, models.default_model(choices), elem_id="upscale-model")
                detail = gr.Slider(0, 1, value=DEFAULT_DETAIL, step=DETAIL_STEP, label="Detail",
                                   info="0: smooth (real-psnr) … 1: sharper, with texture (real)",
                                   visible=models.default_model(choices) in DETAIL_PAIRS, elem_id="upscale-detail")
                with gr.Row():
                    scale = gr.Radio([(f"×{s}", s) for s in callbacks.OUTPUT_SCALES], value=4,
                                     label="Output scale", elem_id="upscale-scale")
                    fmt = gr.Radio(list(callbacks.OUTPUT_FORMATS), value="PNG", label="Format",
                                   elem_id="upscale-format")
                btn = gr.Button("Upscale", variant="primary", elem_id="upscale-button")
                with gr.Accordion("Several files at once", open=False, elem_id="upscale-files-accordion"):
                    files = gr.File(label="Drop several images", file_count="multiple", file_types=["image"],
                                    type="filepath", elem_id="upscale-files")
                    files_btn = gr.Button("Upscale all", elem_id="upscale-files-button")
                with gr.Accordion("Your own model (.pth / .safetensors / .ckpt)", open=False):
                    own_model = gr.File(label=f"Model file, up to {own.max_upload_mb():g} MB: ESRGAN, "
                                              "Real-ESRGAN, SwinIR, HAT, SPAN, ... (any that spandrel knows)",
                                        file_types=list(own.community.SUFFIXES), type="filepath",
                                        elem_id="model-upload")
                gr.Examples([[str(p)] for p, _, _ in examples], inputs=[up_in], label="Examples",
                            example_labels=[label for _, _, label in examples], cache_examples=False,
                            api_visibility="private")
            with gr.Column(scale=2):
                slider = gr.ImageSlider(label="Before (nearest) | after", type="filepath", interactive=False,
                                        max_height=640, buttons=["fullscreen"], elem_id="upscale-slider")
                summary = gr.Markdown(elem_id="upscale-summary")
                # result panels stay hidden until they have something to show
                with gr.Row():
                    file = gr.File(label="Download", interactive=False, visible=False, elem_id="upscale-file")
                    other = gr.File(label="Download (other format)", interactive=False, visible=False,
                                    elem_id="upscale-other")
                gallery = gr.Gallery(label="Results (several files)", visible=False, columns=4, height="auto",
                                     elem_id="upscale-gallery")
                zip_file = gr.File(label="Download all (zip)", interactive=False, visible=False, elem_id="upscale-zip")
                with gr.Accordion("Details", open=False):
                    info = gr.JSON(label="Info", elem_id="upscale-info")
    return SimpleNamespace(input=up_in, model=model, detail=detail, scale=scale, format=fmt, button=btn, files=files,
                           files_button=files_btn, own_model=own_model, slider=slider, summary=summary, file=file,
                           other=other, gallery=gallery, zip=zip_file, info=info)


def compare_tab(choices: list[str], examples: list) -> SimpleNamespace:
    """The Compare tab's components: HR input, model, preset; the four views, their readouts, the zoom."""
    with gr.Tab("Compare", id="compare"):
        gr.Markdown("Your image is the ground truth (HR). The app makes its low-resolution version (LR), "
                    "upscales that with bicubic and with the chosen model, and measures both against the HR "
                    "(PSNR/SSIM on the Y channel, border = scale). With the cat/dog preset, classifiers A "
                    "and B also give cat/dog probabilities (when their weights exist).")
        with gr.Row():
            cmp_in = upload_image(label="Ground truth (HR)", type="filepath", image_mode=None,
                                  sources=["upload", "clipboard"], height=240, elem_id="compare-input")
            with gr.Column():
                model = model_dropdown(choices, models.compare_default("standard", choices), elem_id="compare-model")
                preset = gr.Radio(PRESET_CHOICES, value="standard", label="Preset", elem_id="compare-preset")
                btn = gr.Button("Compare", variant="primary", elem_id="compare-button")
            with gr.Column():
                gr.Examples([[str(p), preset_name] for p, preset_name, _ in examples], inputs=[cmp_in, preset],
                            label="Examples", example_labels=[label for _, _, label in examples],
                            cache_examples=False, api_visibility="private")
        viewers, readouts = [], []
        with gr.Row(elem_id="compare-row"):
            for key, label in VIEWERS:
                with gr.Column(min_width=150):  # four across down to ~700 px wide, then two
                    viewers.append(gr.Image(label=label, type="pil", format="png", interactive=False,
                                            buttons=["fullscreen", "download"], min_width=140,
                                            elem_classes=["pixelated"], elem_id=f"compare-{key}"))
                    readouts.append(gr.Markdown(elem_id=f"compare-{key}-readout", elem_classes=["readout"]))
        with gr.Accordion("Zoom: click a point on any image above, or use the sliders", open=True):
            with gr.Row():
                zoom_x = gr.Slider(0, 100, value=50, step=0.5, label="Centre x (%)")
                zoom_y = gr.Slider(0, 100, value=50, step=0.5, label="Centre y (%)")
                zoom_f = gr.Radio([2, 4, 8], value=4, label="Zoom")
            with gr.Row():
                crops = [gr.Image(label=f"{label.split(' (')[0]} zoom", type="pil", format="png", interactive=False,
                                  buttons=["fullscreen"], min_width=140, elem_classes=["pixelated"],
                                  elem_id=f"zoom-{key}")
                         for key, label in VIEWERS]
        with gr.Accordion("Readouts (JSON, as the /compare API returns them)", open=False):
            cmp_json = gr.JSON(label="Readouts", elem_id="compare-json")
    return SimpleNamespace(input=cmp_in, model=model, preset=preset, button=btn, viewers=viewers, readouts=readouts,
                           zoom_x=zoom_x, zoom_y=zoom_y, zoom_f=zoom_f, crops=crops, json=cmp_json)


def video_tab(choices: list[str]) -> SimpleNamespace:
    """The Video tab's components: clip, model, detail, scale; the upscaled clip, its summary and download."""
    with gr.Tab("Video", id="video"):
        gr.Markdown(vid.limit_text(), elem_id="video-limit")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                vid_in = gr.Video(label="Input video", sources=["upload"], height=300, elem_id="video-input")
                clip = gr.Markdown(elem_id="video-clip")  # the upload check's line on the clip
                model = model_dropdown(choices, vid.default_model(choices), elem_id="video-model")
                detail = gr.Slider(0, 1, value=DEFAULT_DETAIL, step=DETAIL_STEP, label="Detail",
                                   info="0: smooth and steadiest (real-psnr) … 1: GAN texture, flickers most",
                                   visible=vid.default_model(choices) in DETAIL_PAIRS, elem_id="video-detail")
                scale = gr.Radio([(f"×{s}", s) for s in callbacks.OUTPUT_SCALES], value=4,
                                 label="Output scale", elem_id="video-scale")
                btn = gr.Button("Upscale video", variant="primary", elem_id="video-button")
            with gr.Column(scale=2):
                out = gr.Video(label="Upscaled", interactive=False, height=480, elem_id="video-output")
                summary = gr.Markdown(elem_id="video-summary")
                file = gr.File(label="Download (MP4)", interactive=False, visible=False, elem_id="video-file")
    return SimpleNamespace(input=vid_in, clip=clip, model=model, detail=detail, scale=scale, button=btn, output=out,
                           summary=summary, file=file)


def wire_upscale(up: SimpleNamespace, api: SimpleNamespace) -> None:
    """The Upscale tab's events. A new upload, a cleared input or a new run first clears the previous result, its
    summary and its download links, so a failed run never leaves the last one on the page beside its error."""
    single_outputs = [up.slider, up.summary, up.file, up.other, up.info]
    batch_outputs = [up.gallery, up.zip, up.summary, up.info]
    up.button.click(clear_single, None, single_outputs, **PRIVATE).then(
        api.upscale, [up.input, up.model, up.scale, up.format, up.detail], [up.file, up.info], api_name="upscale",
        api_description="Upscale an image (scale 2, 3 or 4; format PNG, JPEG or WebP); returns the file and "
                        "an info dict.",
        show_progress_on=[up.slider], concurrency_id="model").success(
        show_upscale, [up.input, up.file, up.info], [up.slider, up.summary, up.file, up.other],
        api_visibility="private", show_progress="hidden")
    up.files_button.click(start_batch, None, batch_outputs, **PRIVATE).then(
        api.upscale_files, [up.files, up.model, up.scale, up.format, up.detail], [up.gallery, up.zip, up.info],
        api_name="upscale_files", api_description="Upscale several images; returns the outputs, one zip and "
                                                  "an info dict.",
        show_progress_on=[up.gallery], concurrency_id="model").success(
        show_batch, [up.info], [up.summary, up.zip], api_visibility="private", show_progress="hidden")
    # An unreadable (or over-limit) upload is reported as soon as it arrives: the wrapped preprocess or the
    # check raises gr.Error; a refused single image is then removed.
    up.input.upload(callbacks.check_upload, [up.input], None, **CHECKS).failure(no_image, None, [up.input], **PRIVATE)
    gr.on([up.input.upload, up.input.clear], clear_single, None, single_outputs, **PRIVATE)
    up.files.upload(callbacks.check_uploads, [up.files], None, **CHECKS)
    gr.on([up.files.upload, up.files.clear], clear_batch, None, batch_outputs, **PRIVATE)


def wire_video(v: SimpleNamespace, api: SimpleNamespace) -> None:
    """The Video tab's events: the run (cleared first, as on the Upscale tab) and the upload check."""
    video_outputs = [v.output, v.summary, v.file]
    v.button.click(clear_video, None, video_outputs, **PRIVATE).then(
        api.upscale_video, [v.input, v.model, v.scale, v.detail], [v.output, v.file, v.summary],
        api_name="upscale_video",
        api_description="Upscale a video (scale 2, 3 or 4) to an MP4 with its sound; returns the MP4 (twice: "
                        "player and download) and a summary line.",
        show_progress_on=[v.output], concurrency_id="model").success(
        lambda: gr.File(visible=True), None, [v.file], **PRIVATE)
    # on change, not upload only: a clip trimmed in the browser (the player's scissors) is checked again too
    v.input.change(vid.check_upload, [v.input], [v.clip], **CHECKS).failure(no_video, None, [v.input, v.clip],
                                                                            **PRIVATE)
    gr.on([v.input.upload, v.input.clear], clear_video, None, video_outputs, **PRIVATE)


def wire_compare(c: SimpleNamespace, api: SimpleNamespace) -> None:
    """The Compare run, then its readouts and zoomed crops."""
    c.button.click(api.compare, [c.input, c.model, c.preset], [*c.viewers, c.json], api_name="compare",
                   api_description="Treat the image as HR, make the LR, compare bicubic and the model; returns "
                                   "LR (enlarged), bicubic, SR, HR and the readouts (PSNR, SSIM, cat/dog).",
                   concurrency_id="model").success(
        show_compare, [*c.viewers, c.zoom_x, c.zoom_y, c.zoom_f, c.json], [*c.readouts, *c.crops],
        api_visibility="private", show_progress="hidden")


def wire_helpers(up: SimpleNamespace, c: SimpleNamespace, v: SimpleNamespace, events: SimpleNamespace) -> None:
    """Private helpers: the model dropdowns' detail slider and info line, the Compare preset's model, the zoom."""
    up.model.change(model_shown, [up.model], [up.detail, up.model], **PRIVATE)
    v.model.change(model_shown, [v.model], [v.detail, v.model], **PRIVATE)
    c.model.change(lambda name: gr.Dropdown(info=model_info(name)), [c.model], [c.model], **PRIVATE)
    c.preset.change(events.preset_model, [c.preset], [c.model], **PRIVATE)
    gr.on([c.zoom_x.release, c.zoom_y.release, c.zoom_f.change], zoom_to, [*c.viewers, c.zoom_x, c.zoom_y, c.zoom_f],
          c.crops, **PRIVATE)
    for viewer in c.viewers:
        viewer.select(click_zoom, [*c.viewers, c.zoom_f], [c.zoom_x, c.zoom_y, *c.crops], **PRIVATE)


def build_ui(upscale_fn: Callable = callbacks.upscale_image, compare_fn: Callable = callbacks.compare_images, *,
             list_models: Callable[[], list[str]] = models.model_choices,
             examples_dir: Path = EXAMPLES_DIR, video_fn: Callable = vid.upscale_video) -> gr.Blocks:
    """The three-tab app: Upscale, Compare, Video.

    Args:
        upscale_fn: ``(image, model_name, progress=..., out_scale=..., fmt=..., detail=...) -> (path, info)``.
        compare_fn: ``(image, model_name, preset, progress=...) -> (lr, bicubic, sr, hr, readouts)``.
        list_models: returns the model names to offer; called at build time and on every page load.
        examples_dir: folder holding the example images named in ``EXAMPLES``.
        video_fn: ``(video, model_name, out_scale=..., detail=..., progress=...) -> (mp4, mp4, summary)``.
    """
    choices = list_models()
    examples = [(examples_dir / f, preset, label) for f, preset, label in EXAMPLES if (examples_dir / f).is_file()]
    api, events = api_functions(upscale_fn, compare_fn, video_fn), model_list_events(list_models)
    with gr.Blocks(title="Super-resolution", analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        gr.Markdown("# Super-resolution\nUpscale a photo or a video clip with a trained network or a "
                    "classical filter, or compare them against a ground truth.")
        note = gr.Markdown(models_note(list_models), elem_id="models-note")
        up, cmp, video = upscale_tab(choices, examples), compare_tab(choices, examples), video_tab(choices)
        # Public API: the model events (they share one queue: one model run at a time); the rest is private.
        wire_upscale(up, api)
        cmp.input.upload(callbacks.check_upload, [cmp.input], None, **CHECKS).failure(no_image, None, [cmp.input],
                                                                                      **PRIVATE)
        wire_video(video, api)
        wire_compare(cmp, api)
        wire_helpers(up, cmp, video, events)
        demo.load(events.refresh, None, [up.model, cmp.model, note, video.model], api_visibility="private",
                  queue=False)
        up.own_model.upload(events.add_own_model, [up.own_model], [up.model, cmp.model, video.model],
                            api_visibility="private", concurrency_id="model")
    return demo
