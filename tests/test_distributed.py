"""Training on several processes: torchrun on this computer, two "computers" over localhost,
a process killed and the group restarted, and the pieces that make each step the step a
single process would take.

The end-to-end runs compare with a single process trained with the same settings. They
must agree to float rounding, not just roughly: every step uses the same images (each
process takes its share of the same seeded order), the same augmentation draws (drawn for
the whole batch), BatchNorm statistics of the whole batch (CpuSyncBatchNorm) and the
gradient of the whole batch's mean loss. Only the order in which floats are added differs
(gradients summed across processes, BatchNorm sums), which moves weights by about 1e-7;
so weights agree to 1e-4, logged losses to 1e-4 and every validation picture gets the same
class (the same accuracy, exactly).
"""
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import nn

from easycls import Classifier
from easycls.data.augment import BatchAugment
from easycls.data.batches import _batch_slices, share_of
from easycls.data.cache import Sharing, decode_split
from easycls.data.folder import read_dataset
from easycls.engine.distributed import (CpuSyncBatchNorm, World, check_batch_size,
                                        plain_batch_norm, wrap_model)
from easycls.engine.evaluator import Predictions, gather_predictions
from easycls.engine import rendezvous
from easycls.errors import TrainingError

from conftest import spec

WORKER = Path(__file__).with_name("ddp_worker.py")
EPOCHS, BATCH = 2, 32


# ------------------------------------------------------------------ sharing out a batch

def test_each_image_of_a_batch_goes_to_exactly_one_process_in_near_equal_parts():
    for count in range(1, 40):
        for size in range(1, 6):
            parts = [share_of(count, rank, size) for rank in range(size)]
            covered = [i for first, number in parts for i in range(first, first + number)]
            assert covered == list(range(count))
            assert max(n for _, n in parts) - min(n for _, n in parts) <= 1


def test_a_last_batch_that_would_leave_a_process_fewer_than_two_images_is_dropped():
    assert _batch_slices(36, 32, drop_single=True, processes=2)[-1] == (32, 36)
    assert _batch_slices(35, 32, drop_single=True, processes=2) == [(0, 32)]  # 2 + 1 images
    assert _batch_slices(39, 32, drop_single=True, processes=4) == [(0, 32)]
    assert _batch_slices(33, 32, drop_single=True) == [(0, 32)]  # one process: as before
    assert _batch_slices(34, 32, drop_single=True) == [(0, 32), (32, 34)]


@pytest.mark.parametrize("channels, zoom_and_turns", [(1, {}), (3, {"scale": 0.2, "rotate": 15})])
def test_augmenting_the_parts_of_a_batch_apart_equals_augmenting_it_whole(channels, zoom_and_turns):
    images = torch.randint(0, 256, (10, channels, 16, 16), dtype=torch.uint8)
    augment = BatchAugment(16, flip=True, **zoom_and_turns)
    whole = augment(images, torch.Generator().manual_seed(3))
    assert whole.dtype == torch.uint8 and not torch.equal(whole, images)
    generators = [torch.Generator().manual_seed(3) for _ in range(3)]
    parts = []
    for rank, generator in enumerate(generators):
        first, number = share_of(10, rank, 3)
        parts.append(augment(images[first:first + number], generator, part_of=(first, 10)))
    assert torch.equal(torch.cat(parts), whole)
    states = {generator.get_state().sum().item() for generator in generators}
    assert len(states) == 1  # every process's generator is still in step


def test_the_parts_of_a_validation_split_are_put_back_in_its_order():
    class TwoParts:
        distributed = True

        def gather(self, mine):
            other = Predictions(["a", "b"], torch.tensor([0, 2]), ["p0", "p2"], torch.tensor([0, 1]),
                                torch.tensor([[0.9, 0.1], [0.2, 0.8]]))
            return [other, mine]

    mine = Predictions(["a", "b"], torch.tensor([1]), ["p1"], torch.tensor([0]),
                       torch.tensor([[0.4, 0.6]]))
    whole = gather_predictions(mine, TwoParts())
    assert whole.paths == ["p0", "p1", "p2"]
    assert whole.labels.tolist() == [0, 0, 1]
    assert whole.metrics()["accuracy_top-1"] == pytest.approx(200 / 3)


# ------------------------------------------------------------------ BatchNorm of the whole batch

@pytest.fixture
def one_process_group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_cpu_sync_batch_norm_normalises_and_learns_as_batch_norm_does(one_process_group):
    torch.manual_seed(0)
    plain = nn.BatchNorm2d(3)
    synced = CpuSyncBatchNorm(3)
    synced.load_state_dict(plain.state_dict())
    x = torch.randn(8, 3, 5, 5) * 4 + 2
    for norm in (plain, synced):
        norm.momentum = None  # the plain average precise BatchNorm uses
    x_plain, x_synced = x.clone().requires_grad_(), x.clone().requires_grad_()
    (plain(x_plain) ** 3).sum().backward()
    (synced(x_synced) ** 3).sum().backward()
    assert torch.allclose(x_plain.grad, x_synced.grad, atol=1e-4)
    assert torch.allclose(plain.weight.grad, synced.weight.grad, atol=1e-4)
    assert torch.allclose(plain.running_mean, synced.running_mean, atol=1e-6)
    assert torch.allclose(plain.running_var, synced.running_var, atol=1e-5)
    synced.eval(), plain.eval()
    assert torch.allclose(plain(x), synced(x), atol=1e-5)


def test_after_a_run_the_network_has_plain_batch_norm_with_the_trained_values(one_process_group):
    network = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    before = {k: v.clone() for k, v in network.state_dict().items()}
    wrapped = wrap_model(network, World(rank=0, size=2), torch.device("cpu"))
    inner = wrapped.module
    assert isinstance(inner[1], CpuSyncBatchNorm)
    inner[1].weight.data.fill_(2.0)
    plain = plain_batch_norm(inner)
    assert type(plain[1]) is nn.BatchNorm2d
    assert plain.state_dict().keys() == before.keys()  # checkpoints keep their format
    assert torch.equal(plain[1].weight, torch.full((4,), 2.0))


# ------------------------------------------------------------------ decoding once per computer

def test_processes_of_a_computer_decode_their_parts_into_one_shared_copy(hand_data):
    samples = read_dataset(hand_data).splits["val"]
    samples = samples[:10] + [("/nonexistent/broken.png", 0)] + samples[10:]
    alone = decode_split(samples, spec(1, 32))
    barrier, box, results = threading.Barrier(2), {}, {}

    def gather(value, rank):
        box[rank] = value
        barrier.wait()
        values = [box[0], box[1]]
        barrier.wait()
        return values

    def process(rank):
        sharing = Sharing(rank, 2, f"test-{os.getpid()}", lambda value: gather(value, rank))
        results[rank] = decode_split(samples, spec(1, 32), threads=1, sharing=sharing)

    threads = [threading.Thread(target=process, args=(rank,)) for rank in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for split in results.values():
        assert torch.equal(split.images, alone.images)
        assert torch.equal(split.positions, alone.positions)
        assert [path for path, _ in split.skipped] == ["/nonexistent/broken.png"]
    results[0].images[0, 0, 0, 0] = 7  # one buffer: what one writes, the other sees
    assert int(results[1].images[0, 0, 0, 0]) == 7
    assert not list(Path("/dev/shm").glob(f"easycls-test-{os.getpid()}*"))  # nothing left behind


# ------------------------------------------------------------------ what is said

def test_distributed_true_without_torchrun_says_how_to_start_it(hand_data, tmp_path, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    with pytest.raises(TrainingError, match="torchrun --nproc_per_node=2"):
        model.train(epochs=1, distributed=True, save_fold=tmp_path / "run")


def test_a_global_batch_too_small_for_the_processes_is_refused_with_the_smallest_that_works():
    with pytest.raises(TrainingError, match="batch_size=4 is the batch of all 4 processes.*"
                                            "batch_size=8"):
        check_batch_size(4, World(rank=0, size=4))
    check_batch_size(8, World(rank=0, size=4))


# ------------------------------------------------------------------ a restarted group's store

def _start_group(store, size, delays=()):
    """Each rank's group number, with rank r starting after delays[r] seconds."""
    numbers = {}

    def rank(r):
        threading.Event().wait(delays[r] if r < len(delays) else 0)
        numbers[r] = rendezvous._group_number(store, r, size, datetime.timedelta(seconds=20))

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [numbers[r] for r in range(size)]


def test_a_restarted_group_never_reads_what_the_killed_attempt_left_in_the_store():
    store = dist.HashStore()  # torchrun keeps one store for all attempts of a launch
    assert _start_group(store, 3) == [1, 1, 1]
    # the second attempt's rank 0 comes first and finds the first attempt's words
    assert _start_group(store, 3, delays=(0, 0.3, 0.5)) == [2, 2, 2]
    assert _start_group(store, 3, delays=(0.4, 0, 0)) == [3, 3, 3]


def test_only_a_group_started_by_an_earlier_attempt_of_the_launch_counts_as_a_restart(monkeypatch):
    store, timeout = dist.HashStore(), datetime.timedelta(seconds=5)
    monkeypatch.setattr(rendezvous, "_groups_started_here", 0)
    first = [rendezvous.fresh_store(store, 0, 1, timeout)[1] for _ in range(2)]
    assert first == [False, False]  # one script training twice is no restart
    monkeypatch.setattr(rendezvous, "_groups_started_here", 0)  # torchrun starts it anew
    assert rendezvous.fresh_store(store, 0, 1, timeout)[1] is True


def test_a_process_that_never_joins_the_group_is_named_with_what_to_check():
    with pytest.raises(TrainingError, match=r"1 of the 2 processes \(rank 1\) did not join the "
                                            r"group within 0.2 s\. Check that every computer"):
        rendezvous._group_number(dist.HashStore(), 0, 2, datetime.timedelta(seconds=0.2))


# ------------------------------------------------------------------ torchrun, end to end

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_computers(endpoint):
    return ["--nnodes=2", "--nproc_per_node=1", "--rdzv-backend=c10d",
            f"--rdzv-endpoint={endpoint}", "--rdzv-id=easycls-test"]


def _torchrun(launch, data, save_fold, out, *extra, cwd):
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "torch.distributed.run", *launch, str(WORKER), str(data),
               str(save_fold), str(out), str(EPOCHS), "--batch-size", str(BATCH), *extra]
    # A session of its own: on a timeout the launcher and its workers are stopped together.
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    process.out = out  # in every worker's command line, and nowhere else
    return process


def _finish(process, timeout=240) -> str:
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # torchrun's workers run in sessions of their own: stop them by what they were given
        subprocess.run(["pkill", "-9", "-f", str(process.out)], check=False)
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate(timeout=30)
        pytest.fail(f"torchrun did not finish in {timeout} s:\n{output[-3000:]}")
    assert process.returncode == 0, output[-3000:]
    return output


def _log(save_fold):
    return [json.loads(line) for line in (Path(save_fold) / "log.json").read_text().splitlines()]


def _records(save_fold):
    return [line for line in _log(save_fold) if line.get("mode") in ("train", "val")]


@pytest.fixture(scope="module")
def one_process(hand_data, tmp_path_factory):
    """The same training in a single process: what the runs on several must equal."""
    folder = tmp_path_factory.mktemp("one") / "run"
    torch.manual_seed(0)
    model = Classifier("LeNet")
    model.load_dataset(hand_data)
    model.train(epochs=EPOCHS, batch_size=BATCH, save_fold=folder, verbose=False)
    return _records(folder), model.net.state_dict()


def _assert_same_run(save_fold, out, one_process, ranks=2):
    records, weights = one_process
    got = _records(save_fold)
    assert [(r["mode"], r["epoch"], r["iter"]) for r in got] == \
        [(r["mode"], r["epoch"], r["iter"]) for r in records]
    for mine, theirs in zip(got, records):
        if mine["mode"] == "train":
            assert mine["loss"] == pytest.approx(theirs["loss"], abs=1e-4)
        else:
            assert mine["accuracy_top-1"] == theirs["accuracy_top-1"]
    finals = [torch.load(out / f"rank{rank}.pt") for rank in range(ranks)]
    for final in finals[1:]:  # every process ends with the same weights and buffers
        assert all(torch.equal(final[k], finals[0][k]) for k in final)
    for name, value in weights.items():
        assert torch.allclose(finals[0][name].float(), value.float(), atol=1e-4), name


def test_two_processes_under_torchrun_train_as_one_would_write_one_log_and_resume_alone(hand_data, tmp_path,
                                                                           one_process):
    output = _finish(_torchrun(["--standalone", "--nproc_per_node=2"], hand_data, "run",
                               tmp_path / "out", cwd=tmp_path))
    assert "Training on 2 processes (gloo)" in output
    assert output.count("Epoch 2/2") == 1  # printed by rank 0 only
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("log.json")] == [Path("run/log.json")]
    assert _log(tmp_path / "run")[0]["processes"] == 2
    _assert_same_run(tmp_path / "run", tmp_path / "out", one_process)
    saved = torch.load(tmp_path / "run" / "latest.pth", weights_only=True)
    assert not any(key.startswith("module.") for key in saved["state_dict"])
    alone = Classifier("LeNet")  # and the run goes on in a single process
    alone.load_dataset(hand_data)
    alone.train(epochs=EPOCHS + 1, resume=True, save_fold=tmp_path / "run", verbose=False)
    assert _records(tmp_path / "run")[-1]["epoch"] == EPOCHS + 1


def test_two_computers_meeting_at_a_rendezvous_endpoint_train_as_one_would(hand_data, tmp_path,
                                                                           one_process):
    endpoint = f"127.0.0.1:{_free_port()}"
    nodes = [_torchrun(_two_computers(endpoint), hand_data, "run", tmp_path / "out",
                       "--cache", "False", cwd=tmp_path)
             for _ in range(2)]
    outputs = [_finish(node) for node in nodes]
    assert sum(out.count("Training on 2 processes") for out in outputs) == 1
    _assert_same_run(tmp_path / "run", tmp_path / "out", one_process)


@pytest.mark.parametrize("computers", [1, 2])
def test_a_killed_process_is_restarted_by_torchrun_and_the_run_ends_as_if_uninterrupted(
        hand_data, tmp_path, one_process, computers):
    # On two computers only the second one's process dies: the first one's torchrun restarts
    # its healthy process without counting a restart, and the run must still continue.
    launch = (["--standalone", "--nproc_per_node=2"] if computers == 1
              else _two_computers(f"127.0.0.1:{_free_port()}"))
    launched = [_torchrun([*launch, "--max-restarts=1"], hand_data, "run", tmp_path / "out",
                          "--kill-rank", "1", "--kill-epoch", "2", cwd=tmp_path)
                for _ in range(computers)]
    output = "".join(_finish(process, timeout=120) for process in launched)
    assert output.count("torchrun restarted the processes after a failure: continuing from "
                        "'run/latest.pth' after epoch 1.") == 1
    _assert_same_run(tmp_path / "run", tmp_path / "out", one_process)
