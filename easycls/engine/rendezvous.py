"""A key space of torch.distributed's store that no earlier attempt of the launch wrote in.

torchrun keeps one TCPStore for a whole launch, restarts included, and its workers
connect to it without a prefix of their own. A restarted group that started its
process group there would read the addresses the killed attempt left behind and
dial processes that are gone ("Gloo connectFullMesh failed ... Connection refused",
pytorch/pytorch#135712). TORCHELASTIC_RESTART_COUNT cannot tell the attempts apart
either, because each computer's agent counts its own restarts.

So every group start takes a new number from the store: rank 0 draws it, and hands
it to each other rank in answer to a random word that rank has just written. Words
left by an earlier attempt are answered too, but nobody waits for those answers.
The number also tells rank 0 whether an earlier attempt of this launch started the
group: the one sign of a restart that all computers agree on.
"""
import datetime
import time
import uuid
from typing import Tuple

import torch.distributed as dist

from ..errors import TrainingError

_POLL_SECONDS = 0.02


_groups_started_here = 0  # a script may train several times under one torchrun


def fresh_store(store: dist.Store, rank: int, size: int,
                timeout: datetime.timedelta) -> Tuple[dist.Store, bool]:
    """The part of `store` that belongs to this start of the group, the same on every rank,
    and whether an earlier attempt of this launch started the group before (a restart)."""
    global _groups_started_here
    number = _group_number(store, rank, size, timeout)
    _groups_started_here += 1
    return dist.PrefixStore(f"easycls/group{number}/", store), number > _groups_started_here


def _group_number(store: dist.Store, rank: int, size: int, timeout: datetime.timedelta) -> int:
    if rank == 0:
        number = store.add("easycls/groups", 1)
        _answer_until_all_joined(store, number, size, timeout)
        return number
    word = uuid.uuid4().hex
    store.set(f"easycls/hello{rank}", word)
    store.wait([f"easycls/answer/{word}"], timeout)
    number = int(store.get(f"easycls/answer/{word}"))
    store.set(f"easycls/group{number}/joined{rank}", "1")
    return number


def _answer_until_all_joined(store: dist.Store, number: int, size: int,
                             timeout: datetime.timedelta) -> None:
    deadline = time.monotonic() + timeout.total_seconds()
    waiting, answered = set(range(1, size)), set()
    while waiting:
        for rank in sorted(waiting):
            if store.check([f"easycls/group{number}/joined{rank}"]):
                waiting.discard(rank)
            elif store.check([f"easycls/hello{rank}"]):
                word = store.get(f"easycls/hello{rank}").decode()
                if word not in answered:
                    store.set(f"easycls/answer/{word}", str(number))
                    answered.add(word)
        if waiting and time.monotonic() > deadline:
            raise TrainingError(
                f"{len(waiting)} of the {size} processes (rank {', '.join(map(str, sorted(waiting)))}) "
                f"did not join the group within {timeout.total_seconds():g} s. Check that every computer started its processes "
                f"(the same torchrun command with its own --node_rank) and can reach the first one.")
        time.sleep(_POLL_SECONDS)

