"""Multi-GPU data parallelism for the engine, through `accelerate launch` (or torchrun).

    accelerate launch --multi_gpu --num_processes 4 -m ftdemo.training.launch --data rows.jsonl ...
    torchrun --nproc_per_node 2 -m ftdemo.training.launch ...   # also works; on CPU it uses gloo

A single process (WORLD_SIZE unset or 1) never imports accelerate or torch.distributed.
With N processes every rank builds the same batch plan (same seed), takes every N-th
batch, and DistributedDataParallel averages gradients, so one optimizer step sees N
batches (the learning rate is not rescaled). Validation and test are evaluated on
every rank with identical weights, so early stopping agrees without extra messages;
only rank 0 reports progress and should save the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

T = TypeVar("T")


@dataclass(frozen=True)
class Dist:
    world: int = 1
    rank: int = 0
    device: torch.device | None = None  # None: single process, the engine picks the device

    @classmethod
    def from_env(cls, *, cpu: bool = False) -> "Dist":
        """Join the process group a launcher described in the environment (WORLD_SIZE, RANK, ...)."""
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return cls()
        from accelerate import PartialState

        # nccl on GPUs, gloo on CPU (accelerate only picks multi-CPU when told cpu=True)
        state = PartialState(cpu=cpu or not torch.cuda.is_available())
        return cls(world=state.num_processes, rank=state.process_index, device=torch.device(state.device))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batches: list[T]) -> list[T]:
        """This rank's batches; every rank gets the same count so collective calls stay in step."""
        if self.world == 1 or not batches:
            return batches
        per_rank = max(1, len(batches) // self.world)
        return [batches[(self.rank + self.world * j) % len(batches)] for j in range(per_rank)]

    def wrap(self, model: Any) -> Any:
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device is not None and self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def any(self, flag: bool) -> bool:
        """True on every rank if any rank says True (a cancel on rank 0 stops all of them)."""
        if self.world == 1:
            return bool(flag)
        import torch.distributed as tdist

        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        tdist.all_reduce(value, op=tdist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def describe(self) -> str:
        return "" if self.world == 1 else f" x {self.world} processes"
