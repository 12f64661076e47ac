"""ONNX and TorchScript export: the files give the probabilities easycls gives, and carry
their class names and input spec; onnx_predict and the plain snippet use them without torch."""
import json
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from easycls.data.input_spec import InputSpec
from easycls.engine.checkpoint import CheckpointMeta, checkpoint_dict, save_atomic
from easycls import Classifier, ExportError, ExportUnavailableError, onnx_predict
from easycls.export import export_model
from easycls.inference import collect_inputs
from easycls.models import create_model
from easycls.models.registry import IMAGENET_MEAN, IMAGENET_STD

# torch announces torch.jit's deprecation; easycls's own calls hide it, the tests' own
# torch.jit.load need not show it either.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")

RESNET_CLASSES = ["paper", "石头", "scissors"]  # a Chinese name must survive the metadata
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def resnet_model(tmp_path_factory):
    """An untrained ResNet18 at 48 px (not its default 224) with a Chinese class name,
    loaded from a checkpoint file as users load theirs."""
    torch.manual_seed(0)
    net = create_model("ResNet18", len(RESNET_CLASSES), 3).eval()
    meta = CheckpointMeta("ResNet18", RESNET_CLASSES, InputSpec(48, 3, IMAGENET_MEAN, IMAGENET_STD))
    path = save_atomic(checkpoint_dict(net, meta), tmp_path_factory.mktemp("resnet") / "resnet.pth")
    model = Classifier("ResNet18")
    model.load_checkpoint(path, device="cpu")
    return model


@pytest.fixture(scope="module")
def models(loaded_model, resnet_model):
    return {"LeNet": loaded_model, "ResNet18": resnet_model}


@pytest.fixture(scope="module")
def pictures(hand_data):
    """Five test pictures of all three classes."""
    files = sorted((hand_data / "test_set").rglob("*.png"))
    return [str(files[i]) for i in (0, 5, 12, 20, 30)]


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    """exported(backbone, backend): the file model.convert wrote (written once per module)."""
    folder, done = tmp_path_factory.mktemp("exports"), {}

    def get(backbone, backend):
        if (backbone, backend) not in done:
            suffix = ".onnx" if backend == "onnx" else ".pt"
            done[backbone, backend] = models[backbone].convert(
                backend=backend.upper(), out_file=folder / f"{backbone}{suffix}")
        return done[backbone, backend]

    return get


def spec_of(model) -> InputSpec:
    meta = model.meta
    return InputSpec(meta["image_size"], meta["in_channels"], tuple(meta["mean"]),
                     tuple(meta["std"]), meta["resize"], meta["crop_pct"])


def as_floats(model, images) -> np.ndarray:
    """The pictures as the exported file takes them: easycls's own preprocessing, / 255."""
    items, _ = collect_inputs(images)
    return np.stack([item.model_array(spec_of(model)) for item in items]).astype(np.float32) / 255


def inference_probabilities(model, images) -> np.ndarray:
    """Each picture's probabilities in class order, from model.inference's results."""
    classes = model.meta["classes"]
    rows = model.inference(images, show=False)
    return np.array([[dict(row["topk"])[name] for name in classes] for row in rows])


def run_file(path, backend, batch: np.ndarray) -> np.ndarray:
    if backend == "onnx":
        onnxruntime = pytest.importorskip("onnxruntime")
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return session.run(None, {"images": batch})[0]
    module = torch.jit.load(path, map_location="cpu")
    with torch.no_grad():
        return module(torch.from_numpy(batch)).numpy()


def needs_onnx(backend):
    if backend == "onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")


# --------------------------------------------------------------------- same numbers

@pytest.mark.parametrize("backend", ["onnx", "torchscript"])
@pytest.mark.parametrize("backbone", ["LeNet", "ResNet18"])
def test_exported_file_gives_the_probabilities_of_inference_for_batches_of_5_and_1(
        backbone, backend, models, exported, pictures):
    needs_onnx(backend)
    model, path = models[backbone], exported(backbone, backend)
    expected = inference_probabilities(model, pictures)
    batch = as_floats(model, pictures)
    assert batch.shape == (5, *spec_of(model).shape)
    five = run_file(path, backend, batch)
    one = run_file(path, backend, batch[:1])
    assert five.shape == (5, 3) and one.shape == (1, 3)
    assert np.abs(five - expected).max() < TOLERANCE
    assert np.abs(one[0] - expected[0]).max() < TOLERANCE
    assert np.allclose(five.sum(axis=1), 1, atol=1e-5)  # probabilities, not logits
    assert len({tuple(row.round(3)) for row in expected}) > 1  # the pictures differ to the model


# --------------------------------------------------------------------- metadata

def test_the_newer_onnx_exporter_takes_over_when_the_older_one_fails(
        loaded_model, pictures, tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxscript")  # what torch's torch.export-based exporter needs
    onnxruntime = pytest.importorskip("onnxruntime")

    def gone(*args, **kwargs):
        raise RuntimeError("the TorchScript-based exporter was removed")

    monkeypatch.setattr("easycls.export._export_torchscript_based", gone)
    path = loaded_model.convert(backend="onnx", out_file=tmp_path / "hand.onnx")
    assert "using its torch.export-based one" in capsys.readouterr().out
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    assert json.loads(props["easycls_classes"]) == loaded_model.meta["classes"]
    batch = as_floats(loaded_model, pictures)
    expected = inference_probabilities(loaded_model, pictures)
    assert np.abs(session.run(None, {"images": batch})[0] - expected).max() < TOLERANCE
    assert np.abs(session.run(None, {"images": batch[:1]})[0][0] - expected[0]).max() < TOLERANCE


def test_onnx_metadata_carries_the_class_names_and_input_spec(exported, resnet_model):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(exported("ResNet18", "onnx"))
    props = {entry.key: entry.value for entry in model.metadata_props}
    assert json.loads(props["easycls_classes"]) == ["paper", "石头", "scissors"]
    assert json.loads(props["easycls_input"]) == {
        "image_size": 48, "channels": 3, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
        "resize": "stretch", "crop_pct": 1.0}
    assert props["easycls_backbone"] == "ResNet18"
    assert "values in [0, 1]" in props["easycls_input_format"]
    assert json.loads(props["easycls_meta"])["classes"] == resnet_model.meta["classes"]
    onnx.checker.check_model(model)


def test_onnx_file_takes_any_batch_of_the_models_input_size(exported):
    onnxruntime = pytest.importorskip("onnxruntime")
    session = onnxruntime.InferenceSession(exported("LeNet", "onnx"),
                                           providers=["CPUExecutionProvider"])
    (images,), (probabilities,) = session.get_inputs(), session.get_outputs()
    assert (images.name, images.type) == ("images", "tensor(float)")
    assert isinstance(images.shape[0], str) and images.shape[1:] == [1, 32, 32]
    assert probabilities.name == "probabilities" and probabilities.shape[1] == 3


def test_torchscript_file_and_the_json_beside_it_carry_the_class_names_and_input_spec(exported):
    path = exported("ResNet18", "torchscript")
    extra = {"easycls.json": ""}
    torch.jit.load(path, map_location="cpu", _extra_files=extra)
    inside = json.loads(extra["easycls.json"].decode("utf-8"))
    beside = json.loads(open(path[:-len(".pt")] + ".json", encoding="utf-8").read())
    assert inside == beside
    assert inside["classes"] == ["paper", "石头", "scissors"]
    assert inside["input"]["image_size"] == 48 and inside["input"]["mean"] == list(IMAGENET_MEAN)
    assert inside["backbone"] == "ResNet18"


# --------------------------------------------------------------------- the facade and names

def test_convert_of_a_checkpoint_writes_beside_it_with_the_backends_suffix(trained, tmp_path):
    _, save_fold, _ = trained
    checkpoint = shutil.copy(save_fold / "best_accuracy_top-1.pth", tmp_path / "hand.pth")
    path = Classifier("LeNet").convert(checkpoint=checkpoint, backend="torchscript")
    assert path == str(tmp_path / "hand.pt")
    assert (tmp_path / "hand.json").is_file()
    pytest.importorskip("onnx")
    assert Classifier("LeNet").convert(checkpoint=checkpoint) == str(tmp_path / "hand.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hand.json", "hand.onnx", "hand.pt",
                                                          "hand.pth"]  # no temporary files left


def test_convert_without_checkpoint_or_out_file_writes_model_pt_in_the_current_folder(
        loaded_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert loaded_model.convert(backend="TorchScript") == "model.pt"
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "model.json").is_file()


def test_out_file_without_a_suffix_gets_the_backends_suffix_and_its_folders(loaded_model, tmp_path):
    path = loaded_model.convert(backend="torchscript", out_file=tmp_path / "new" / "deep" / "hand")
    assert path == str(tmp_path / "new" / "deep" / "hand.pt")


def test_a_wrong_backend_is_refused_with_the_valid_ones_named(loaded_model, tmp_path):
    with pytest.raises(ExportError, match=r"backend='tflite'.*'onnx'.*'torchscript'"):
        loaded_model.convert(backend="tflite", out_file=tmp_path / "m.tflite")
    assert not list(tmp_path.iterdir())


def test_an_out_file_named_for_the_other_format_is_refused_with_the_right_name(
        loaded_model, tmp_path):
    with pytest.raises(ValueError, match=r"ends in \.pt.*out_file='.*m\.onnx'"):
        loaded_model.convert(backend="onnx", out_file=tmp_path / "m.pt")
    with pytest.raises(ExportError, match="checkpoint"):
        loaded_model.convert(backend="torchscript", out_file=tmp_path / "m.pth")


def test_export_leaves_the_users_model_as_it_was(tmp_path):
    torch.manual_seed(0)
    net = create_model("LeNet", 3, 1).train()  # as during training: train mode, gradients on
    before = {name: value.clone() for name, value in net.state_dict().items()}
    meta = CheckpointMeta("LeNet", ["a", "b", "c"], InputSpec(32, 1, (0.5,), (0.5,)))
    export_model(net, meta, "torchscript", tmp_path / "m.pt")
    assert net.training and all(module.training for module in net.modules())
    assert all(p.requires_grad and p.device.type == "cpu" for p in net.parameters())
    after = net.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)  # BN stats too


def test_only_the_main_process_writes_the_export(loaded_model, tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    path = loaded_model.convert(backend="torchscript", out_file=tmp_path / "m.pt")
    assert path == str(tmp_path / "m.pt") and not list(tmp_path.iterdir())


def test_a_missing_onnx_package_says_how_to_install_it(loaded_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # what an environment without it gives
    with pytest.raises(ExportUnavailableError, match=r"pip install easycls\[export\]"):
        loaded_model.convert(backend="onnx", out_file=tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------- without torch

def test_onnx_predict_without_onnxruntime_says_how_to_install_it(pictures, tmp_path, monkeypatch):
    (tmp_path / "model.onnx").write_bytes(b"")  # refused before it is read
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ExportUnavailableError, match=r"'onnxruntime'.*easycls\[export\]"):
        onnx_predict(tmp_path / "model.onnx", pictures[0])


def test_onnx_predict_on_a_picture_gives_inferences_class_and_scores(models, exported, pictures):
    pytest.importorskip("onnxruntime")
    for backbone in ("LeNet", "ResNet18"):
        got = onnx_predict(exported(backbone, "onnx"), pictures[2])
        want = models[backbone].inference(pictures[2], show=False)
        assert got.keys() == want.keys() and got["image"] == want["image"]
        assert (got["pred_label"], got["pred_class"]) == (want["pred_label"], want["pred_class"])
        assert [name for name, _ in got["topk"]] == [name for name, _ in want["topk"]]
        assert np.abs(np.array([s for _, s in got["topk"]])
                      - np.array([s for _, s in want["topk"]])).max() < TOLERANCE


def test_onnx_predict_on_a_folder_gives_inferences_results_in_its_order(
        loaded_model, exported, hand_data):
    pytest.importorskip("onnxruntime")
    folder = hand_data / "test_set" / "rock"
    got = onnx_predict(exported("LeNet", "onnx"), folder)
    want = loaded_model.inference(folder, show=False)
    assert [r["image"] for r in got] == [r["image"] for r in want] and len(got) == 12
    assert [r["pred_class"] for r in got] == [r["pred_class"] for r in want]
    assert max(abs(g["pred_score"] - w["pred_score"]) for g, w in zip(got, want)) < TOLERANCE


def test_onnx_predict_refuses_an_onnx_file_easycls_did_not_write(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    plain = tmp_path / "plain.onnx"
    value = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, 8, 8])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "plain",
                                   [value], [onnx.helper.make_tensor_value_info(
                                       "y", onnx.TensorProto.FLOAT, [1, 1, 8, 8])])
    opset = onnx.helper.make_opsetid("", 17)
    onnx.save(onnx.helper.make_model(graph, opset_imports=[opset]), plain)
    with pytest.raises(ExportError, match="not exported by easycls.*easycls_classes"):
        onnx_predict(plain, np.zeros((8, 8), np.uint8))


# Copied verbatim from onnx_predict's docstring (the test below checks they stay the same).
def _snippet_in(text: str) -> str:
    """The code block that follows 'Without easycls' in onnx_predict's docstring."""
    block = text.split("Without easycls", 1)[1].split("\n\n", 1)[1].split("\n\n    It gives", 1)[0]
    return textwrap.dedent(block) + "\n"


SNIPPET = _snippet_in(onnx_predict.__doc__)


def test_the_readme_shows_the_snippet_of_onnx_predicts_docstring():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert SNIPPET.startswith("import json\n") and SNIPPET.rstrip().endswith("probabilities.max())")
    assert SNIPPET in readme


def test_the_snippet_without_easycls_gives_inferences_probabilities(
        loaded_model, exported, pictures, tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(tmp_path)
    shutil.copy(exported("LeNet", "onnx"), "hand_gray.onnx")
    (tmp_path / "demo").mkdir()
    shutil.copy(pictures[1], "demo/rock.png")
    expected = inference_probabilities(loaded_model, [pictures[1]])[0]
    capsys.readouterr()
    namespace = {}
    exec(SNIPPET, namespace)
    assert np.abs(namespace["probabilities"] - expected).max() < TOLERANCE
    best = loaded_model.meta["classes"][int(expected.argmax())]
    assert capsys.readouterr().out.startswith(f"{best} ")
