"""The messages a student sees most, in English or Chinese.

    easycls.set_language('zh')       # or, before starting Python: EASYCLS_LANG=zh

A message is written where it is produced, in English, as a `str.format` template:
`tr("Epoch {epoch}/{epochs}: ", epoch=3, epochs=10)`. Keying the catalog by that
English text keeps every call site readable as it prints in English, and a template
the catalog lacks is shown in English: a message is never lost, only untranslated.
tests/test_i18n.py checks that each key still occurs in the source, so an English
message changed without its translation fails the tests.
"""
import os
from typing import Optional

from .errors import SettingError

LANGUAGES = {"en": "English", "zh": "中文"}
VARIABLE = "EASYCLS_LANG"
_chosen: Optional[str] = None


def set_language(lang: Optional[str]) -> None:
    """Show easycls's messages in 'en' (English) or 'zh' (中文); None goes back to EASYCLS_LANG.

    Example:
        >>> easycls.set_language('zh')
        >>> easycls.set_language('en')
    """
    global _chosen
    if lang is not None and lang not in LANGUAGES:
        raise SettingError(f"set_language({lang!r}): easycls speaks "
                           f"{', '.join(f'{code!r} ({name})' for code, name in LANGUAGES.items())}. "
                           f"Use one of these, e.g. easycls.set_language('zh').")
    _chosen = lang


def language() -> str:
    """The language in use: set_language()'s, else EASYCLS_LANG's, else English."""
    if _chosen is not None:
        return _chosen
    # zh_CN.UTF-8, zh-TW and the like are what a locale-minded user will try
    wanted = os.environ.get(VARIABLE, "").strip().lower()
    return "zh" if wanted.startswith("zh") else "en"


def tr(template: str, **values) -> str:
    """The message in the language in use, its {fields} filled from `values`."""
    if language() == "zh":
        template = CHINESE.get(template, template)
    return template.format(**values)


CHINESE = {
    # The settings printed before training (engine/options.py)
    "easycls: training {backbone} with (pass any of these to train() to change it):":
        "easycls：用下面的设置训练 {backbone}（想改哪一项，就把它传给 train()）：",
    "{backbone} default": "{backbone} 的默认值",
    "{backbone} default {base}, halved until your {count} training images give at least 8 "
    "steps an epoch":
        "{backbone} 默认 {base}，减半直到你的 {count} 张训练图片每轮至少有 8 步",
    "you asked for {value}, but there are only {count} training images":
        "你设的是 {value}，但训练图片只有 {count} 张",
    "{backbone} default {lr} at batch {batch}": "{backbone} 在批大小 {batch} 时默认 {lr}",
    ", scaled to batch {batch}": "，按批大小 {batch} 换算",
    ", /5 for fine-tuning": "，微调时再除以 5",
    "usual {optimizer} step": "{optimizer} 常用的步长",
    "none with {optimizer}: its decay would fight the adaptive steps; AdamW decays the "
    "weights properly":
        "用 {optimizer} 时不设：权重衰减会和它的自适应步长相冲突；AdamW 才能正确地衰减权重",
    "same as the checkpoint being fine-tuned": "和要微调的检查点一样",
    "{backbone} takes RGB; gray images are repeated 3 times":
        "{backbone} 要的是 RGB 彩色图；灰度图会复制成 3 个通道",
    "your images are grayscale": "你的图片是灰度图",
    "your images are in colour": "你的图片是彩色的",
    "same as the checkpoint": "和检查点一样",
    "your images are about {side} px; {backbone}'s usual {size} would only add work when "
    "training from scratch":
        "你的图片约 {side} 像素；从头训练时用 {backbone} 常用的 {size} 只会白白多算",
    "top-1 always": "总是报告 top-1",
    "; top-5 too, with more than 5 classes": "；超过 5 类时也报告 top-5",
    "random shifts, no left-right mirror: the class names ({names}) look like digits, "
    "letters or sides, which a mirror changes; augment='shift+flip' mirrors anyway":
        "随机平移，不做左右镜像：类别名（{names}）像数字、字母或方向，镜像会改变它们的意思；"
        "一定要镜像就设 augment='shift+flip'",
    "random shift and horizontal flip of training images": "训练图片随机平移和左右翻转",
    "shifts up to {share:.0%} of the side": "平移最多边长的 {share:.0%}",
    "no shifts": "不平移",
    "zoom by {low:g} to {high:g}": "缩放 {low:g} 到 {high:g} 倍",
    "turns of up to {degrees:g} degrees either way": "左右旋转最多 {degrees:g} 度",
    "left-right mirrors": "左右镜像",
    "no mirrors": "不镜像",
    "the {backbone} default": "{backbone} 的默认做法",
    "the class names ({names}) look like digits, letters or sides, which a mirror changes; "
    "'flip': True mirrors anyway":
        "类别名（{names}）像数字、字母或方向，镜像会改变它们的意思；一定要镜像就设 'flip': True",
    "the class names do not look like digits, letters or sides":
        "类别名不像数字、字母或方向",
    "linear lr warm-up, then cosine decay to 0": "学习率先线性预热，再按余弦降到 0",
    "not {value}: the lr must also come down within the {epochs} epoch(s)":
        "不用 {value}：学习率还要在这 {epochs} 轮之内降下来",

    # The line after each epoch and the last lines of a run (engine/callbacks.py)
    "Epoch {epoch}/{epochs}: ": "第 {epoch}/{epochs} 轮：",
    ", ": "，",
    "loss {loss:.4f}": "损失 {loss:.4f}",
    "lr {lr:.3g}": "学习率 {lr:.3g}",
    "val {metric} {value:.2f}%": "验证 {metric} {value:.2f}%",
    "{seconds:.1f} s": "{seconds:.1f} 秒",
    "{seconds:.2f} s": "{seconds:.2f} 秒",
    "Best validation: {metrics}. Checkpoints in '{folder}'.":
        "最好的验证结果：{metrics}。检查点保存在 '{folder}'。",

    # The commonest errors
    "Data set folder '{path}' does not exist (looked in {cwd}). Check the path; it should "
    "contain classes.txt and training_set/, val_set/ folders.":
        "数据集文件夹 '{path}' 不存在（在 {cwd} 里找过）。请检查路径；"
        "数据集文件夹里应该有 classes.txt 和 training_set/、val_set/ 两个文件夹。",
    "The model is set to {wanted} classes, but '{path}' has {found}: {names} (from {source}). "
    "Remove `model.num_classes = {wanted}` to use the data set's classes, or set it to {found}.":
        "模型设成了 {wanted} 类，但 '{path}' 有 {found} 类：{names}（来自 {source}）。"
        "删掉 `model.num_classes = {wanted}` 就会用数据集的类别，或者把它改成 {found}。",
    "The model is set to {wanted} classes, but the loaded data set has {found}: {names}. "
    "Remove `model.num_classes = {wanted}`, or set it to {found}.":
        "模型设成了 {wanted} 类，但载入的数据集有 {found} 类：{names}。"
        "删掉 `model.num_classes = {wanted}`，或者把它改成 {found}。",
    "No data set is loaded. Call model.load_dataset('path/to/dataset') before model.train().":
        "还没有载入数据集。请先调用 model.load_dataset('数据集的路径')，再调用 model.train()。",
    "This model has no weights yet. Load a checkpoint first, e.g. "
    "model.load_checkpoint('checkpoints/cls_model/best_accuracy_top-1.pth'), pass one "
    "(inference(..., checkpoint=...), evaluate(checkpoint=...)), or train the model with "
    "model.train().":
        "这个模型还没有权重。请先载入检查点，例如 "
        "model.load_checkpoint('checkpoints/cls_model/best_accuracy_top-1.pth')，或者把检查点"
        "传进去（inference(..., checkpoint=...)、evaluate(checkpoint=...)），"
        "或者先用 model.train() 训练模型。",
    "Checkpoint '{path}' does not exist.": "检查点 '{path}' 不存在。",
    " .pth files in that folder: {names}.": "那个文件夹里的 .pth 文件有：{names}。",
    " Train first (model.train()) or check the path.":
        "请先训练（model.train()），或者检查路径。",
    "Image '{image}' does not exist (looked in {cwd}). Check the path and its spelling.":
        "图片 '{image}' 不存在（在 {cwd} 里找过）。请检查路径和拼写。",
    "Cannot read '{path}' as an image ({kind}: {reason}). The file may be truncated, corrupt "
    "or not a picture; open it in an image viewer, or remove it.":
        "无法把 '{path}' 当作图片读取（{kind}: {reason}）。这个文件可能不完整、已损坏或者"
        "根本不是图片；用看图软件打开它看看，或者把它删掉。",
    "Unknown backbone {name!r}. easycls offers: {names} (case does not matter). Pick one of "
    "these, e.g. Classifier('LeNet').":
        "没有叫 {name!r} 的网络（backbone）。easycls 提供：{names}（不区分大小写）。"
        "请从中选一个，例如 Classifier('LeNet')。",
}
