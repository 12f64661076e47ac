"""The page itself: one picture (upload, drop, paste, webcam) or many, and the model's card.

Imported only once gradio is known to be installed (see __init__). Each picture is
classified by `predict_inputs`, the code `fast_inference` runs, from the file exactly as
it was uploaded, so the page's numbers are fast_inference's for that file.
"""
import html
import re
from pathlib import Path
from typing import List, Optional, Tuple

import gradio as gr
from PIL import Image

from ..errors import EasyclsError
from ..inference import Predictor, predict_inputs
from ..results import HEADERS, check_lang
from ..visualize.annotate import annotate, label_text

DISPLAY_SIDE = 1024  # px: larger pictures are shown (not classified) at this size
CARD_CLASSES = 30  # class names the card lists; a 1000-class model's would fill the page

# Each word of the page in English and in Chinese, side by side so that they stay in step.
WORDS = {
    "title": ("Try the model", "试一试模型"),
    "one": ("One picture", "一张图片"),
    "many": ("Many pictures", "多张图片"),
    "picture": ("Your picture: upload, drop, paste or take one with the webcam",
                "你的图片：上传、拖入、粘贴，或用摄像头拍一张"),
    "classify": ("Classify", "识别"),
    "classify_all": ("Classify all", "全部识别"),
    "top": ("Top classes", "最可能的类别"),
    "annotated": ("Annotated picture", "标注后的图片"),
    "pictures": ("Your pictures", "你的图片"),
    "rows": ("One row per picture", "每张图片一行"),
    "gallery": ("Annotated pictures", "标注后的图片"),
    "card": ("About this model", "关于这个模型"),
    "error": ("Cannot classify this", "无法识别"),
    "empty_one": ("No picture yet: upload, drop or paste one, or take one with the webcam, "
                  "then press Classify.",
                  "还没有图片：请上传、拖入或粘贴一张，或用摄像头拍一张，然后点“识别”。"),
    "empty_many": ("No pictures yet: drop some picture files here, then press Classify all.",
                   "还没有图片：请把图片文件拖到这里，然后点“全部识别”。"),
    "summary": ("**{name}** (class {label}), score {score}", "**{name}**（第 {label} 类），置信度 {score}"),
    "backbone": ("Backbone", "骨干网络"),
    "classes": ("Classes", "类别"),
    "input": ("Input", "输入"),
    "trained": ("Trained", "训练"),
    "best": ("Best validation", "最佳验证精度"),
    "none": ("none recorded", "没有记录"),
    "epochs": ("{epochs} epoch(s)", "{epochs} 轮"),
    "gray": ("gray", "灰度"),
    "colour": ("colour", "彩色"),
    "imported": ("Imported from", "导入自"),
    "more": ("and {count} more", "另有 {count} 个"),
}
TEXTS = {lang: {key: pair[column] for key, pair in WORDS.items()}
         for column, lang in enumerate(("en", "zh"))}


def uploaded_path(payload) -> Optional[str]:
    """The uploaded file as it is, from gr.Image's raw value: the page's events skip
    gr.Image's own preparation, which opens the file with Pillow and would refuse a bad
    one in Pillow's words before easycls could explain it."""
    return payload.get("path") if isinstance(payload, dict) else payload


def markdown_text(text: str) -> str:
    """`text` shown as it is in Markdown, where it follows other text on its line (class
    names may hold _ * ` and the like)."""
    return re.sub(r"([\\`*_\[\]<>|~])", r"\\\1", text)


def _name(path: str) -> str:
    """What the user called the file: gradio keeps uploads as <cache>/<hash>/<their name>."""
    return Path(path).name


def _named(message: str, paths: List[str]) -> str:
    """`message` with each upload's cache path replaced by the name the user knows."""
    for path in paths:
        message = message.replace(path, _name(path))
    return message


def _page_error(error: EasyclsError, paths: List[str], texts: dict) -> gr.Error:
    return gr.Error(html.escape(_named(str(error), paths), quote=False), title=texts["error"],
                    print_exception=False)


def shown_picture(picture: Image.Image, result: dict) -> Image.Image:
    """A freshly loaded picture, shrunk in place to at most DISPLAY_SIDE px to send to the
    page, labelled with its result."""
    picture.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
    return annotate(picture, label_text(result))


def classify_picture(predictor: Predictor, path: Optional[str],
                     lang: str = "en") -> Tuple[dict, Image.Image, str]:
    """One picture: (top-k {class: probability} for gr.Label, the annotated picture,
    a Markdown line with the predicted class and its score as fast_inference gives it)."""
    texts = TEXTS[lang]
    if not path:
        raise gr.Error(texts["empty_one"], print_exception=False)
    try:
        result, items = predict_inputs(predictor, path)
        picture = shown_picture(items[0].load(), result)
    except EasyclsError as error:
        raise _page_error(error, [path], texts) from error
    summary = texts["summary"].format(name=markdown_text(result["pred_class"]),
                                      label=result["pred_label"], score=result["pred_score"])
    return dict(result["topk"]), picture, summary


def classify_pictures(predictor: Predictor, paths: Optional[List[str]],
                      lang: str = "en") -> Tuple[List[list], List[Tuple[Image.Image, str]]]:
    """Many pictures: one table row each (an unreadable file's row says why) and the
    annotated pictures with their captions."""
    texts = TEXTS[lang]
    if not paths:
        raise gr.Error(texts["empty_many"], print_exception=False)
    paths = list(paths)
    try:
        results, items = predict_inputs(predictor, paths)
    except EasyclsError as error:  # e.g. a video among the pictures
        raise _page_error(error, paths, texts) from error
    rows, pictures = [], []
    for item, result in zip(items, results):
        name = _name(item.path)
        if "error" in result:
            rows.append([name, "", "", _named(result["error"], [item.path])])
            continue
        topk = ", ".join(f"{cls} {score:.2f}" for cls, score in result["topk"])
        rows.append([name, result["pred_class"], str(result["pred_score"]), topk])
        pictures.append((shown_picture(item.load(), result), f"{name}: {label_text(result)}"))
    return rows, pictures


def model_card(predictor: Predictor, lang: str = "en") -> str:
    """Backbone, classes, input and accuracy from the checkpoint's meta: a Markdown table."""
    texts, meta, spec = TEXTS[lang], predictor.meta, predictor.meta.input
    best = ", ".join(f"{name} {value:.2f}%" for name, value in meta.best.items()) or texts["none"]
    kind = texts["gray"] if spec.channels == 1 else texts["colour"]
    classes = ", ".join(meta.classes[:CARD_CLASSES])
    if len(meta.classes) > CARD_CLASSES:
        classes += ", " + texts["more"].format(count=len(meta.classes) - CARD_CLASSES)
    cells = {texts["backbone"]: meta.backbone,
             texts["classes"]: f"{len(meta.classes)}: {classes}",
             texts["input"]: f"{spec.channels}×{spec.image_size}×{spec.image_size} ({kind}), "
                             f"{spec.resize}",
             texts["trained"]: texts["epochs"].format(epochs=meta.epoch),
             texts["best"]: best}
    if meta.source:
        cells[texts["imported"]] = meta.source
    return "\n".join("| " + " | ".join(markdown_text(str(cell)) for cell in row) + " |"
                     for row in (cells, ["---"] * len(cells), cells.values()))


def build_page(predictor: Predictor, lang: str = "en") -> gr.Blocks:
    check_lang(lang)
    texts = TEXTS[lang]
    title = f"easycls · {predictor.meta.backbone} · {texts['title']}"
    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(f"## {markdown_text(title)}")
        with gr.Tab(texts["one"]):
            with gr.Row():
                with gr.Column():
                    picture = gr.Image(label=texts["picture"], type="filepath",
                                       sources=["upload", "webcam", "clipboard"], height=320,
                                       elem_id="easycls-picture")
                    classify = gr.Button(texts["classify"], variant="primary",
                                         elem_id="easycls-classify")
                with gr.Column():
                    top = gr.Label(num_top_classes=predictor.k, label=texts["top"],
                                   elem_id="easycls-top")
                    summary = gr.Markdown(elem_id="easycls-summary")
                    annotated = gr.Image(label=texts["annotated"], type="pil", format="png",
                                         interactive=False, height=320, elem_id="easycls-annotated")
        with gr.Tab(texts["many"]):
            files = gr.File(label=texts["pictures"], file_count="multiple", file_types=["image"],
                            elem_id="easycls-pictures")
            classify_all = gr.Button(texts["classify_all"], variant="primary",
                                     elem_id="easycls-classify-all")
            table = gr.Dataframe(headers=list(HEADERS[lang]), datatype="str", interactive=False,
                                 label=texts["rows"], elem_id="easycls-rows")
            gallery = gr.Gallery(label=texts["gallery"], columns=4, height="auto",
                                 object_fit="contain", elem_id="easycls-gallery")
        with gr.Accordion(texts["card"], open=True):
            gr.Markdown(model_card(predictor, lang), elem_id="easycls-card")

        def one(payload):
            return classify_picture(predictor, uploaded_path(payload), lang)

        def shown_or_cleared(payload):  # a new picture is classified at once; a cleared one clears
            return one(payload) if payload else (None, None, "")

        def many(paths):
            return classify_pictures(predictor, paths, lang)

        outputs = [top, annotated, summary]
        classify.click(one, picture, outputs, api_name="classify", preprocess=False)
        picture.change(shown_or_cleared, picture, outputs, api_visibility="private",
                       preprocess=False)
        classify_all.click(many, files, [table, gallery], api_name="classify_many")
    return demo
