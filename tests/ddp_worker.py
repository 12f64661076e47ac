"""A training script the distributed tests start under torchrun (one copy per process).

    torchrun ... tests/ddp_worker.py DATA SAVE_FOLD OUT EPOCHS [--cache auto|False]
                                      [--kill-rank R --kill-epoch E]

Each process saves the weights it ends with in OUT/rank<R>.pt, so the test can
compare them. --kill-rank makes that process kill itself with SIGKILL in epoch E
of the first attempt (torchrun's restart count 0), as a crashed computer would.
"""
import argparse
import os
import signal
import sys

import torch

from easycls import Classifier


class KillInEpoch:
    def __init__(self, rank: int, epoch: int):
        self.rank, self.epoch = rank, epoch

    def on_step_end(self, run, step):
        if (run.epoch == self.epoch and step == 2 and int(os.environ["RANK"]) == self.rank
                and os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"):
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("save_fold")
    parser.add_argument("out")
    parser.add_argument("epochs", type=int)
    parser.add_argument("--cache", default="auto")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--kill-rank", type=int)
    parser.add_argument("--kill-epoch", type=int)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = Classifier("LeNet")
    model.load_dataset(args.data)
    callbacks = ([KillInEpoch(args.kill_rank, args.kill_epoch)]
                 if args.kill_rank is not None else [])
    model.train(epochs=args.epochs, save_fold=args.save_fold, batch_size=args.batch_size,
                cache={"auto": "auto", "False": False}[args.cache], callbacks=callbacks)
    torch.save(model.net.state_dict(), os.path.join(args.out, f"rank{os.environ['RANK']}.pt"))


if __name__ == "__main__":
    sys.exit(main())
