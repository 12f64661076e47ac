"""The messages a student sees most, in Chinese with set_language('zh') or EASYCLS_LANG=zh."""
import ast
import string
from pathlib import Path

import pytest

import easycls
from easycls import Classifier, i18n
from easycls.data.images import open_image
from easycls.errors import CheckpointError, DatasetError, ImageError, PathNotFoundError, SettingError

SOURCE = Path(easycls.__file__).resolve().parent


@pytest.fixture
def chinese(monkeypatch):
    monkeypatch.delenv(i18n.VARIABLE, raising=False)
    easycls.set_language("zh")
    yield
    easycls.set_language(None)


@pytest.fixture
def no_choice(monkeypatch):
    """Neither set_language() nor EASYCLS_LANG has chosen a language."""
    monkeypatch.delenv(i18n.VARIABLE, raising=False)
    easycls.set_language(None)


def test_english_is_the_language_when_nothing_chose_another(no_choice):
    assert i18n.language() == "en"
    assert i18n.tr("Epoch {epoch}/{epochs}: ", epoch=3, epochs=10) == "Epoch 3/10: "


@pytest.mark.parametrize("value", ["zh", "zh_CN.UTF-8", "ZH-cn"])
def test_the_environment_variable_chooses_chinese(no_choice, monkeypatch, value):
    monkeypatch.setenv("EASYCLS_LANG", value)
    assert i18n.tr("Epoch {epoch}/{epochs}: ", epoch=3, epochs=10) == "第 3/10 轮："


def test_set_language_wins_over_the_environment_variable(no_choice, monkeypatch):
    monkeypatch.setenv("EASYCLS_LANG", "zh")
    easycls.set_language("en")
    try:
        assert i18n.language() == "en"
    finally:
        easycls.set_language(None)


def test_an_unknown_language_is_refused_with_the_ones_there_are(no_choice):
    with pytest.raises(SettingError, match=r"set_language\('fr'\).*'en' \(English\), 'zh' \(中文\)"):
        easycls.set_language("fr")


def test_a_message_without_a_translation_is_shown_in_english(chinese):
    assert i18n.tr("Nothing to see in {place}.", place="here") == "Nothing to see in here."


def test_each_translated_message_is_still_written_in_the_source():
    # A changed English message no longer finds its translation: this names it.
    written = set()
    for path in SOURCE.rglob("*.py"):
        if path.name != "i18n.py":
            tree = ast.parse(path.read_text(encoding="utf-8"))  # joins adjacent literals
            written |= {node.value for node in ast.walk(tree)
                        if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert [key for key in i18n.CHINESE if key not in written] == []


@pytest.mark.parametrize("english", list(i18n.CHINESE))
def test_each_translation_fills_the_same_fields_as_its_english(english):
    def fields(template):
        return sorted((name, spec) for _, name, spec, _ in string.Formatter().parse(template)
                      if name is not None)
    assert fields(i18n.CHINESE[english]) == fields(english)


def test_the_settings_and_the_epoch_lines_are_in_chinese(chinese, hand_data, tmp_path, capsys):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    model.train(epochs=1, save_fold=tmp_path / "run")
    out = capsys.readouterr().out
    assert "easycls：用下面的设置训练 LeNet（想改哪一项，就把它传给 train()）：" in out
    assert "(你的图片是灰度图)" in out and "(LeNet 的默认值)" in out
    assert "第 1/1 轮：损失 " in out and "，验证 top-1 " in out and " 秒\n" in out
    assert "最好的验证结果：accuracy_top-1 " in out
    assert "Epoch 1/1" not in out


def test_a_missing_data_set_folder_is_explained_in_chinese(chinese, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PathNotFoundError, match="数据集文件夹 'dataset/hand_grey' 不存在"):
        Classifier("LeNet").load_dataset("dataset/hand_grey")


def test_a_class_count_that_does_not_match_is_explained_in_chinese(chinese, hand_data):
    model = Classifier("LeNet", num_classes=4)
    with pytest.raises(DatasetError, match=r"模型设成了 4 类，但 .* 有 3 类：paper, rock, scissors"):
        model.load_dataset(hand_data)


def test_a_class_count_changed_after_loading_is_explained_in_chinese(chinese, hand_data):
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    model.num_classes = 4
    with pytest.raises(DatasetError, match="载入的数据集有 3 类.*`model.num_classes = 4`"):
        model.train(epochs=1)


def test_training_before_load_dataset_is_explained_in_chinese(chinese):
    with pytest.raises(DatasetError, match=r"还没有载入数据集。请先调用 model.load_dataset"):
        Classifier("LeNet").train(epochs=1)


def test_a_missing_checkpoint_is_explained_in_chinese(chinese, tmp_path):
    with pytest.raises(PathNotFoundError, match="检查点 '.*best.pth' 不存在。请先训练"):
        Classifier("LeNet").load_checkpoint(tmp_path / "best.pth")


def test_inference_without_weights_is_explained_in_chinese(chinese):
    with pytest.raises(CheckpointError, match="这个模型还没有权重"):
        Classifier("LeNet").fast_inference("demo/rock.png")


def test_an_unreadable_picture_is_explained_in_chinese(chinese, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(ImageError, match="无法把 '.*broken.png' 当作图片读取.*或者把它删掉"):
        open_image(broken)


def test_an_unknown_backbone_is_explained_in_chinese(chinese):
    with pytest.raises(easycls.BackboneError, match="没有叫 'ResNet19' 的网络.*easycls 提供：LeNet, "):
        Classifier("ResNet19")


def test_result_tables_and_reports_follow_the_chosen_language(chinese, loaded_model, capsys):
    model = loaded_model
    model.print_result(model.fast_inference(Path(__file__).parents[1] / "demo" / "rock.png"))
    assert "置信度" in capsys.readouterr().out
    model.print_result(lang="en")  # a lang= given still wins
    assert "score" in capsys.readouterr().out
