"""The `easycls` command, run as the real console script in a subprocess."""
import csv
import hashlib
import json
import shutil
import subprocess
import sys

import pytest
import torch

from easycls import Classifier, read_log

EASYCLS = shutil.which("easycls")


def run(*args, cwd=None):
    command = [EASYCLS] if EASYCLS else [sys.executable, "-m", "easycls"]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.fixture(scope="module")
def best(trained):
    _, save_fold, _ = trained
    return save_fold / "best_accuracy_top-1.pth"


def test_the_console_script_is_installed():
    assert EASYCLS is not None, "pip install -e . puts an 'easycls' command on the PATH"


def test_help_lists_every_command_with_examples():
    done = run("--help")
    assert done.returncode == 0
    for name in ("models", "check", "train", "infer", "eval", "export", "info", "publish", "convert"):
        assert f"\n    {name} " in done.stdout, name
    assert "easycls train dataset/hand_gray --backbone LeNet" in done.stdout


def test_python_m_easycls_is_the_same_command():
    done = subprocess.run([sys.executable, "-m", "easycls", "models"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.split() == list(Classifier.sota())
    assert done.stdout.split()[:2] == ["LeNet", "FastNet"]


def test_train_takes_every_option_of_train_from_the_command_line(hand_data, tmp_path):
    done = run("train", hand_data, "--epochs", "2", "--save-fold", tmp_path / "run",
               "--batch-size", "16", "--augment", "false", "--class-weight", "1,2,1", "--topk", "1,2")
    assert done.returncode == 0, done.stderr
    assert "Epoch 2/2: loss" in done.stdout
    recipe = torch.load(tmp_path / "run" / "latest.pth", weights_only=True)["meta"]["recipe"]
    assert (recipe["batch_size"], recipe["augment"], recipe["class_weight"], recipe["topk"]) == (
        16, False, [1.0, 2.0, 1.0], [1, 2])
    assert [r["epoch"] for r in read_log(tmp_path / "run" / "log.json") if r.get("mode") == "val"] == [1, 2]


def test_help_of_train_lists_the_training_options():
    done = run("train", "--help")
    assert done.returncode == 0
    for flag in ("--label-smoothing", "--class-weight", "--resume", "--augment", "--save-fold"):
        assert flag in done.stdout, flag


def test_infer_prints_a_table_and_writes_results_and_pictures(best, hand_data, tmp_path):
    done = run("infer", best, hand_data / "test_set" / "rock", "--out", tmp_path / "r.csv",
               "--save-fold", tmp_path / "pictures")
    assert done.returncode == 0, done.stderr
    assert "rock_0000.png  rock" in done.stdout
    with open(tmp_path / "r.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and sum(row["pred_class"] == "rock" for row in rows) >= 9
    assert len(list((tmp_path / "pictures").glob("*.png"))) == 12


def test_eval_reports_and_writes_one_row_per_picture(best, hand_data, tmp_path):
    done = run("eval", best, hand_data, "--out", tmp_path / "e.json", "--lang", "zh")
    assert done.returncode == 0, done.stderr
    assert "评估了 36 张图片" in done.stdout and "宏平均" in done.stdout
    report = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert report["split"] == "test" and len(report["predictions"]) == 36


def test_info_shows_what_a_checkpoint_holds(best):
    done = run("info", best)
    assert done.returncode == 0
    assert "backbone   LeNet" in done.stdout and "classes    3: paper, rock, scissors" in done.stdout
    assert "resume     yes" in done.stdout


def test_publish_keeps_weights_and_meta_and_names_the_file_by_its_hash(best, tmp_path):
    done = run("publish", best, tmp_path / "release" / "hand.pth")
    assert done.returncode == 0, done.stderr
    [published] = list((tmp_path / "release").glob("hand-*.pth"))
    assert published.stem == "hand-" + hashlib.sha256(published.read_bytes()).hexdigest()[:8]
    content = torch.load(published, weights_only=True)
    assert set(content) == {"state_dict", "meta"}
    assert published.stat().st_size < best.stat().st_size


def test_check_exits_0_on_a_good_data_set_and_1_on_a_broken_one(hand_data, tmp_path):
    assert run("check", hand_data).returncode == 0
    broken = tmp_path / "broken"
    shutil.copytree(hand_data, broken)
    (broken / "val.txt").write_text("rock/nothing_here.png 1\n")
    done = run("check", broken)
    assert done.returncode == 1 and "nothing_here.png" in done.stdout + done.stderr


def test_a_user_error_is_one_readable_message_and_exit_code_1(tmp_path):
    done = run("infer", tmp_path / "missing.pth", tmp_path / "x.png")
    assert done.returncode == 1
    assert done.stderr.startswith("easycls: error: Checkpoint '") and "Traceback" not in done.stderr
    debug = run("--debug", "infer", tmp_path / "missing.pth", tmp_path / "x.png")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_bad_option_value_is_explained_by_train_itself(hand_data, tmp_path):
    done = run("train", hand_data, "--lr", "-1", "--save-fold", tmp_path / "run")
    assert done.returncode == 1
    assert "easycls: error: lr=-1 is not valid: expected a number above 0." in done.stderr


def test_bad_arguments_exit_with_2_and_the_usage():
    done = run("train")
    assert done.returncode == 2 and "the following arguments are required: data" in done.stderr
    assert run("fly").returncode == 2


def test_export_writes_an_onnx_file_that_classifies_like_the_checkpoint(best, hand_data, tmp_path):
    pytest.importorskip("onnxruntime")
    import easycls

    done = run("export", best, "--format", "onnx", "--out", tmp_path / "hand.onnx")
    assert done.returncode == 0, done.stderr
    picture = sorted((hand_data / "test_set" / "rock").glob("*.png"))[0]
    exported = easycls.onnx_predict(tmp_path / "hand.onnx", picture)
    expected = easycls.Classifier.from_checkpoint(best).fast_inference(picture)
    assert exported["pred_class"] == expected["pred_class"]
    assert abs(exported["pred_score"] - expected["pred_score"]) < 1e-4


def test_convert_split_makes_a_data_set_easycls_loads(tmp_path):
    from easycls import Classifier
    from easycls.data.synthetic import make_hand_gestures

    source = tmp_path / "photos"
    made = make_hand_gestures(tmp_path / "made", train_per_class=10, val_per_class=0,
                              test_per_class=0, size=16)
    shutil.copytree(made / "training_set", source)
    done = run("convert", "split", source, tmp_path / "data", "--val", "0.2", "--test", "0.2")
    assert done.returncode == 0, done.stderr
    dataset = Classifier("LeNet").load_dataset(tmp_path / "data")
    assert dataset.sizes() == {"train": 18, "val": 6, "test": 6}


def test_a_misspelt_flag_is_named_with_the_likely_one(hand_data):
    done = run("train", hand_data, "--batchsize", "16")
    assert done.returncode == 2
    assert "easycls train: error: unrecognized arguments: --batchsize 16; did you mean " \
           "--batch-size?" in done.stderr


def test_check_labels_lists_the_pictures_in_the_wrong_folder(tmp_path):
    pytest.importorskip("cleanlab")
    from easycls.data.synthetic import make_hand_gestures

    data = make_hand_gestures(tmp_path / "data", train_per_class=40, val_per_class=0,
                              test_per_class=0, size=32, seed=2)
    planted = sorted((data / "training_set" / "paper").glob("*.png"))[:2]
    for path in planted:
        path.rename(data / "training_set" / "rock" / path.name)
    done = run("check", data, "--labels", "--out", tmp_path / "suspects.csv")
    assert done.returncode == 0, done.stderr
    assert "Fold 5/5" in done.stdout and "look mislabeled" in done.stdout
    with open(tmp_path / "suspects.csv", encoding="utf-8-sig", newline="") as handle:
        named = " ".join(row[list(row)[0]] for row in csv.DictReader(handle))
    assert sum(path.name in named for path in planted) >= 1
