"""The web page (`easycls app CKPT`, `model.app()`): its answers in-process, its API through
gradio_client, and a real headless Chromium reading the answer off the page.

Everything runs on 127.0.0.1 with ports chosen at run time; the model is the session's
quickly trained LeNet with its classes renamed to Chinese, so every check also sees
Chinese names travel through the page.
"""
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import torch
from PIL import Image

from easycls import Classifier, EasyclsError
from easycls.data.synthetic import CLASSES
from test_hostile import write_png

CHINESE = ("布", "石头", "剪刀")  # paper, rock, scissors: CLASSES in the same order
DEMO = Path(__file__).resolve().parents[1] / "demo"
PAPER, ROCK = DEMO / "paper.png", DEMO / "rock.png"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1300")
WAIT = 60  # seconds: generous, the machine is shared


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_client(url):
    """A gradio_client that sends no usage report (it does unless told no twice)."""
    from gradio_client import Client

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        return Client(url, verbose=False, analytics_enabled=False)


@pytest.fixture(scope="module")
def chinese_checkpoint(trained, tmp_path_factory):
    """The trained LeNet's best checkpoint, its classes renamed 布, 石头, 剪刀."""
    _, save_fold, _ = trained
    state = torch.load(save_fold / "best_accuracy_top-1.pth", weights_only=True)
    assert state["meta"]["classes"] == list(CLASSES)
    state["meta"]["classes"] = list(CHINESE)
    path = tmp_path_factory.mktemp("app") / "hand_zh.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def model(chinese_checkpoint):
    return Classifier.from_checkpoint(chinese_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "notes.txt").write_text("not a picture", encoding="utf-8")
    # 40000x30000 pixels claimed by a 68-byte PNG: refused from its header, never decoded
    return {"text": folder / "notes.txt", "huge": write_png(folder / "huge.png", 40000, 30000,
                                                             rows=False)}


# ------------------------------------------------------------------ without a server

def test_import_easycls_does_not_import_gradio():
    code = ("import sys, easycls; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('gradio', 'gradio_client')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_gradio_the_app_says_how_to_install_it(model, monkeypatch):
    from easycls import AppUnavailableError

    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` fails as if it were missing
    with pytest.raises(AppUnavailableError, match=r"needs the 'gradio' package, which is not "
                                                  r"installed .*pip install easycls\[app\]"):
        model.app(block=False)


def test_the_command_without_gradio_says_how_to_install_it(chinese_checkpoint):
    done = subprocess.run([sys.executable, "-c", "import sys; sys.modules['gradio'] = None; "
                                                 "from easycls.cli import main; sys.exit(main())",
                           "app", str(chinese_checkpoint)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("easycls: error: The web page needs the 'gradio' package")
    assert "pip install easycls[app]" in done.stderr


def test_one_picture_gets_fast_inferences_numbers_with_chinese_names(model):
    from easycls.app.page import classify_picture

    expected = model.fast_inference(str(PAPER))
    top, picture, summary = classify_picture(model._predictor, str(PAPER))
    assert top == dict(expected["topk"]) and set(top) == set(CHINESE)
    assert summary == f"**{expected['pred_class']}** (class {expected['pred_label']}), " \
                      f"score {expected['pred_score']}"
    assert isinstance(picture, Image.Image) and min(picture.size) >= 256  # enlarged to be read


def test_an_empty_submit_says_what_to_do(model):
    import gradio as gr
    from easycls.app.page import classify_picture, classify_pictures

    with pytest.raises(gr.Error, match="No picture yet: upload, drop or paste one"):
        classify_picture(model._predictor, None)
    with pytest.raises(gr.Error, match="No pictures yet: drop some picture files here"):
        classify_pictures(model._predictor, [])


def test_a_file_that_is_not_a_picture_is_explained(model, bad_files):
    import gradio as gr
    from easycls.app.page import classify_picture

    with pytest.raises(gr.Error, match=r"Cannot read 'notes.txt' as an image") as caught:
        classify_picture(model._predictor, str(bad_files["text"]))
    assert str(bad_files["text"].parent) not in caught.value.message  # the name, not a cache path


def test_a_huge_picture_is_refused_with_its_size(model, bad_files):
    import gradio as gr
    from easycls.app.page import classify_picture

    started = time.perf_counter()
    with pytest.raises(gr.Error, match=r"'huge.png' is 40000x30000 pixels \(1200 megapixels\), "
                                       r"more than the 179 megapixels easycls decodes"):
        classify_picture(model._predictor, str(bad_files["huge"]))
    assert time.perf_counter() - started < 5  # read from the header, not decoded


def test_many_pictures_get_one_row_each_and_a_bad_file_its_reason(model, bad_files):
    from easycls.app.page import classify_pictures

    paths = [str(PAPER), str(bad_files["text"]), str(ROCK)]
    expected = model.fast_inference(paths)
    rows, pictures = classify_pictures(model._predictor, paths)
    assert [row[0] for row in rows] == ["paper.png", "notes.txt", "rock.png"]
    for row, result in zip(rows[::2], expected[::2]):
        assert row[1:3] == [result["pred_class"], str(result["pred_score"])]
    assert rows[1][1:3] == ["", ""] and "Cannot read 'notes.txt' as an image" in rows[1][3]
    assert [caption.split(":")[0] for _, caption in pictures] == ["paper.png", "rock.png"]


def test_the_model_card_shows_backbone_classes_input_and_accuracy(model):
    from easycls.app.page import model_card

    header, _, values = model_card(model._predictor).splitlines()
    meta = model.meta
    assert header == "| Backbone | Classes | Input | Trained | Best validation |"
    assert values == (f"| LeNet | 3: 布, 石头, 剪刀 | 1×32×32 (gray), stretch | {meta['epoch']} "
                      f"epoch(s) | accuracy\\_top-1 {meta['best']['accuracy_top-1']:.2f}% |")
    assert model_card(model._predictor, lang="zh").startswith("| 骨干网络 | 类别 | 输入 |")


def test_the_card_of_a_model_with_many_classes_lists_the_first_thirty(model):
    from easycls.app.page import model_card

    many = SimpleNamespace(meta=dataclasses.replace(model._predictor.meta,
                                                    classes=[f"c{i}" for i in range(100)]))
    assert "| 100: c0, c1, c2," in model_card(many)
    assert "c28, c29, and 70 more |" in model_card(many)


def test_the_page_can_speak_chinese(model):
    from easycls.app import build_app

    demo = build_app(model._predictor, lang="zh")
    buttons = {block.value for block in demo.blocks.values() if type(block).__name__ == "Button"}
    assert buttons == {"识别", "全部识别"}


def test_making_the_page_writes_nothing_beside_easycls(model):
    import easycls.app
    from easycls.app import build_app

    build_app(model._predictor)
    folder = Path(easycls.app.__file__).parent  # read-only where easycls is installed for all
    assert sorted(path.name for path in folder.iterdir() if path.name != "__pycache__") == [
        "__init__.py", "page.py"]


def test_wrong_settings_are_refused_before_anything_starts(model):
    from easycls import AppError

    with pytest.raises(EasyclsError, match="lang='fr' is not supported"):
        model.app(lang="fr", block=False)
    with pytest.raises(AppError, match="port=70000 is not valid: use a whole number from 1 to "
                                       "65535"):
        model.app(port=70000, block=False)


def test_a_taken_port_is_explained(model):
    from easycls import AppError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AppError, match=fr"Cannot listen on 127.0.0.1 at port {port}: taken by "
                                           fr"another program .* Pass another port \(--port "
                                           fr"{port + 1}, model.app\(port={port + 1}\)\)"):
            model.app(port=port, block=False)


def test_listening_beyond_this_computer_is_said_plainly(capsys):
    from easycls.app import _say_where

    _say_where(SimpleNamespace(local_url="http://0.0.0.0:7860/", share_url=None), "0.0.0.0",
               share=False, block=True)
    said = capsys.readouterr().out
    assert "listens on 0.0.0.0: other computers on your network can open it" in said
    assert said.endswith("Stop it with Ctrl-C.\n")


@pytest.fixture
def outside_connections(monkeypatch):
    """Every connection or name lookup beyond this computer that this process tries, except
    the test's own gradio_client's (it asks huggingface.co for a list of AI agents); all
    of them are refused."""
    tried = []

    def refused(where) -> bool:
        if str(where) in ("localhost", "::1", "0.0.0.0") or str(where).startswith("127."):
            return False
        if not any("gradio_client" in frame.filename for frame in traceback.extract_stack()):
            tried.append(where)
        return True

    real_connect, real_lookup = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        if isinstance(address, tuple) and refused(address[0]):
            raise OSError(f"test: no connection to {address} allowed")
        return real_connect(self, address)

    def lookup(host, *args, **kwargs):
        if host is not None and refused(host):
            raise socket.gaierror(f"test: no lookup of {host} allowed")
        return real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return tried


def test_model_app_serves_on_localhost_says_so_and_reaches_nothing_else(model, outside_connections,
                                                                         capsys):
    from gradio_client import handle_file

    demo = model.app(port=free_port(), block=False)
    try:
        assert "listens on 127.0.0.1 only: this computer can open it" in capsys.readouterr().out
        assert demo.server_name == "127.0.0.1" and demo.analytics_enabled is False
        top = local_client(demo.local_url).predict(handle_file(str(ROCK)), api_name="/classify")[0]
        assert top["label"] == model.fast_inference(str(ROCK))["pred_class"]
    finally:
        demo.close()
    assert outside_connections == []


# ------------------------------------------------------------------ `easycls app` as a server

@pytest.fixture(scope="module")
def served(chinese_checkpoint, tmp_path_factory):
    """`easycls app CKPT --port P` running in its own process group; its URL."""
    folder = tmp_path_factory.mktemp("served")
    port, log = free_port(), folder / "app.log"
    with open(log, "wb") as output:
        server = subprocess.Popen([sys.executable, "-m", "easycls", "app", str(chinese_checkpoint),
                                   "--port", str(port)], cwd=folder, stdout=output,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + WAIT * 2
        while "The easycls app is at" not in log.read_text(encoding="utf-8"):  # said once serving
            if server.poll() is not None:
                pytest.fail(f"easycls app exited with {server.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"easycls app did not start in {WAIT * 2} s:\n{log.read_text()}")
            time.sleep(0.5)
        with urllib.request.urlopen(url, timeout=WAIT) as page:
            assert page.status == 200
        yield url, log
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGINT)  # Ctrl-C: gradio closes its server
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def test_the_command_says_it_listens_on_localhost_only(served):
    url, log = served
    assert (f"The easycls app is at {url.rstrip('/')} and listens on 127.0.0.1 only"
            in log.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def client(served):
    import huggingface_hub.constants

    with pytest.MonkeyPatch.context() as patch:  # gradio_client fetches a list of AI agents
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # from huggingface.co
        yield local_client(served[0])


def test_the_api_answers_as_fast_inference_does_in_well_under_a_second(client, model):
    from gradio_client import handle_file

    expected = model.fast_inference(str(PAPER))
    times = []
    for _ in range(3):
        started = time.perf_counter()
        top, picture, summary = client.predict(handle_file(str(PAPER)), api_name="/classify")
        times.append(time.perf_counter() - started)
    assert top["label"] == expected["pred_class"]
    assert [(c["label"], c["confidence"]) for c in top["confidences"]] == expected["topk"]
    assert f"score {expected['pred_score']}" in summary
    assert Image.open(picture).size[0] >= 256
    assert min(times) < 1.0, times


def test_bad_input_through_the_api_is_explained_and_the_server_goes_on(client, bad_files):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Cannot read 'notes.txt' as an image"):
        client.predict(handle_file(str(bad_files["text"])), api_name="/classify")
    with pytest.raises(AppError, match="more than the 179 megapixels easycls decodes"):
        client.predict(handle_file(str(bad_files["huge"])), api_name="/classify")
    assert client.predict(handle_file(str(ROCK)), api_name="/classify")[0]["label"] in CHINESE


def test_many_pictures_through_the_api_give_one_row_each(client, model):
    from gradio_client import handle_file

    expected = model.fast_inference([str(PAPER), str(ROCK)])
    table, gallery = client.predict([handle_file(str(PAPER)), handle_file(str(ROCK))],
                                    api_name="/classify_many")
    assert [row[:3] for row in table["data"]] == [
        [Path(r["image"]).name, r["pred_class"], str(r["pred_score"])] for r in expected]
    assert len(gallery) == 2


# ------------------------------------------------------------------ a real browser

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium through chromedriver (Debian's chromium, chromium-driver)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.skip(f"no headless browser here ({', '.join(missing)} missing): "
                    f"apt-get install chromium chromium-driver, as .ci/run does")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver):
    import json

    events = (json.loads(entry["message"])["message"] for entry in driver.get_log("performance"))
    return [event["params"]["request"]["url"] for event in events
            if event["method"] == "Network.requestWillBeSent"]


def upload(driver, url, picture):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    field = WebDriverWait(driver, WAIT).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#easycls-picture input[type=file]"))
    field.send_keys(str(picture))  # what a drop or a file chosen in the dialog gives the page


def test_a_browser_shows_fast_inferences_class_and_score(served, browser, model, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    expected = model.fast_inference(str(PAPER))
    upload(browser, served[0], PAPER)
    summary = WebDriverWait(browser, WAIT).until(
        lambda d: d.find_element(By.ID, "easycls-summary").text.strip() or None)
    shown = browser.find_element(By.CSS_SELECTOR, "#easycls-top [data-testid=label-output-value]")
    bars = {bar.get_attribute("aria-label"): float(bar.get_attribute("value"))
            for bar in browser.find_elements(By.CSS_SELECTOR, "#easycls-top meter")}
    assert shown.text == expected["pred_class"]
    assert summary == f"{expected['pred_class']} (class {expected['pred_label']}), " \
                      f"score {expected['pred_score']}"
    assert bars == dict(expected["topk"])
    card = browser.find_element(By.ID, "easycls-card").text
    assert "Backbone" in card and "LeNet" in card and "3: 布, 石头, 剪刀" in card
    browser.save_screenshot(str(tmp_path / "app.png"))
    web = [urlsplit(u) for u in requested_urls(browser) if u.startswith(("http", "ws"))]
    assert web and {u.netloc for u in web} == {urlsplit(served[0]).netloc}  # nothing from outside


def test_a_huge_picture_in_the_browser_gets_a_message_and_the_page_goes_on(served, browser, model,
                                                                          bad_files):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    upload(browser, served[0], bad_files["huge"])
    message = WebDriverWait(browser, WAIT).until(
        lambda d: " ".join(t.text for t in d.find_elements(By.CSS_SELECTOR, ".toast-body"))
        or None)
    assert "'huge.png' is 40000x30000 pixels" in message and "179 megapixels" in message
    upload(browser, served[0], ROCK)
    shown = WebDriverWait(browser, WAIT).until(lambda d: d.find_element(
        By.CSS_SELECTOR, "#easycls-top [data-testid=label-output-value]").text or None)
    assert shown == model.fast_inference(str(ROCK))["pred_class"]
