"""Tiny data sets made by the project itself, shared by the tests."""
import pytest

from easycls import Classifier
from easycls.data.input_spec import InputSpec
from easycls.data.synthetic import CLASSES, make_hand_gestures

SIX_CLASSES = (*CLASSES, "one", "three", "thumb")


def spec(channels: int, image_size: int, **kwargs) -> InputSpec:
    """A model input of that many channels and pixels (stretched, normalised around 0.5)."""
    return InputSpec(image_size, channels, (0.5,) * channels, (0.5,) * channels, **kwargs)


@pytest.fixture(scope="session")
def hand_data(tmp_path_factory):
    """3 gestures, 60 training and 12 validation and test images each, 32 px."""
    return make_hand_gestures(tmp_path_factory.mktemp("hand") / "hand_gray", train_per_class=60,
                              val_per_class=12, test_per_class=12, size=32, seed=1)


@pytest.fixture(scope="session")
def six_class_data(tmp_path_factory):
    return make_hand_gestures(tmp_path_factory.mktemp("six") / "six", train_per_class=12,
                              val_per_class=4, test_per_class=0, size=32, classes=SIX_CLASSES)


@pytest.fixture
def fresh_data(tmp_path):
    """A data set the test may change: no classes.txt and no val.txt, to be derived."""
    root = make_hand_gestures(tmp_path / "fresh", train_per_class=6, val_per_class=3,
                              test_per_class=0, size=32, write_lists=False)
    (root / "classes.txt").unlink()
    return root


@pytest.fixture(scope="session")
def trained(hand_data, tmp_path_factory):
    """A LeNet trained for a few epochs: (model, save_fold, history)."""
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    save_fold = tmp_path_factory.mktemp("run") / "hand_lenet"
    model.save_fold = save_fold
    history = model.train(epochs=10, verbose=False)
    return model, save_fold, history


@pytest.fixture(scope="session")
def loaded_model(trained):
    """A fresh Classifier with the trained run's best checkpoint loaded."""
    _, save_fold, _ = trained
    model = Classifier("LeNet")
    model.load_checkpoint(save_fold / "best_accuracy_top-1.pth", device="cpu")
    return model


@pytest.fixture
def no_cjk_font(monkeypatch):
    """A computer without any font that draws Chinese (and no EASYCLS_FONT set)."""
    from easycls.visualize import fonts

    monkeypatch.setattr(fonts, "CJK_FONTS", ())
    monkeypatch.delenv(fonts.FONT_VARIABLE, raising=False)
    fonts.cjk_font_path.cache_clear()
    fonts.warn_no_cjk_font.cache_clear()
    yield
    fonts.cjk_font_path.cache_clear()
    fonts.warn_no_cjk_font.cache_clear()
