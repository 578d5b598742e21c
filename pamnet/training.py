"""A generic PAMNet trainer: any list of `GraphInput` with a target table [n, T].

Nothing here knows about a particular dataset. Targets are in physical units with
NaN for missing values (masked in the loss); the network learns them normalized
by a `Normalization` (y = std * raw + mean term + atom-reference term).

Adam, L1 loss on normalized targets, warm-up then per-epoch or cosine decay, gradient
clipping, an EMA of the weights for validation and export; CPU threads follow the
free cores (`ThreadGovernor`) unless the user chose them. The full state (model,
optimizer, scheduler, EMA, epoch and batch position, step, RNG states) is saved to
`out_dir/state.pt` regularly and when the wall-clock budget runs out;
`Trainer.from_state` resumes it exactly. Under `torchrun` (WORLD_SIZE > 1) it
initialises torch.distributed (NCCL on GPU, Gloo on CPU), wraps the model in DDP,
shards every epoch's permutation by rank, and only rank 0 validates and writes files.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from pamnet import distributed
from pamnet.checkpoint import Normalization, save_checkpoint
from pamnet.config import ModelConfig
from pamnet.data import collate
from pamnet.device import ThreadGovernor, compiled, resolve
from pamnet.ema import EMA
from pamnet.errors import ConfigError, DataError
from pamnet.heads import check_dipole_normalization
from pamnet.inference import mae, predict_graphs, score
from pamnet.model import PAMNet
from pamnet.normalize import to_normalized
from pamnet.training_types import (  # the trainer's inputs and outputs, importable here too
    STATE_FORMAT,
    EpochMetrics,
    GraphDataset,
    TrainConfig,
    TrainResult,
    load_state,
    rng_state,
    save_state,
    set_rng_state,
)


def masked_l1(pred: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean |pred - target| over entries where target is not NaN, column t times
    weights[t] when given."""
    mask = ~torch.isnan(target)
    if not mask.any():
        return pred.sum() * 0.0
    err = (pred[mask] - target[mask]).abs()  # masked first: no NaN reaches the gradient
    return (err if weights is None else err * weights.expand_as(target)[mask]).mean()


# --- the trainer --------------------------------------------------------------
class Trainer:
    """Train `model` on `train` (and validate on `val` with the EMA weights).

    targets: names of the T columns; units: {target: unit}; metadata: JSON-like
    facts copied into every checkpoint (dataset, split, ...). callback(metrics) is
    called after every epoch on rank 0; returning False stops the run (after saving).
    should_stop() is checked before every step (rank 0 decides): when true the
    state is saved at once and fit() returns with `stopped_by_request`.
    out_dir gets state.pt (resumable), best.pt / last.pt (EMA weights, our
    checkpoint format) and log.jsonl; None writes nothing.
    """

    def __init__(
        self,
        model: PAMNet,
        train: GraphDataset,
        normalization: Normalization | None,
        targets: list[str],
        config: TrainConfig = TrainConfig(),  # noqa: B008 - frozen dataclass, safe
        val: GraphDataset | None = None,
        out_dir: str | os.PathLike | None = None,
        units: dict[str, str] | None = None,
        metadata: dict | None = None,
        callback: Callable[[EpochMetrics], bool | None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ):
        if len(targets) != model.config.num_targets or train.y.shape[1] != len(targets):
            raise ConfigError(
                f"{len(targets)} target names, {train.y.shape[1]} target columns and a model "
                f"with {model.config.num_targets} outputs must agree"
            )
        if len(train) == 0:
            raise DataError("the training set is empty")
        if config.schedule not in ("exp", "cosine"):
            raise ConfigError(f"schedule must be 'exp' or 'cosine', got {config.schedule!r}")
        self.config = config
        self.train_set, self.val_set = train, val
        self.normalization, self.targets = normalization, list(targets)
        check_dipole_normalization(model.config, normalization)
        self.units, self.metadata = dict(units or {}), dict(metadata or {})
        self.callback, self.should_stop = callback, should_stop
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.device = distributed.init(resolve(config.device))
        weights = config.weight_vector(self.targets)
        self.loss_weights = None if weights is None else torch.tensor(weights, device=self.device)
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.governor = ThreadGovernor.when_useful(self.device, self.world)
        self.model = model.to(self.device)
        self.net: nn.Module = self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if config.compile:  # training steps only: validation and export use the module
            self.net = compiled(self.net, self.device)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
        )  # fused: one kernel for all tensors (8x less time per step than the loop on CPU)
        self.steps_per_epoch = math.ceil(math.ceil(len(train) / self.world) / config.batch_size)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: self._lr_factor(step)
        )
        self.ema = EMA(self.model, config.ema_decay)
        self.epoch = 0  # epochs completed
        self.batch_in_epoch = 0  # batches of the current epoch already done
        self.step = 0
        self.elapsed_s = 0.0
        self.best_score = math.inf
        self.history: list[EpochMetrics] = []
        self._epoch_loss = [0.0, 0]  # running sum, count of the current epoch

    def _lr_factor(self, step: int) -> float:
        """lr / config.lr at `step`: linear warm-up from `schedule_start`, then decay."""
        cfg, spe = self.config, self.steps_per_epoch
        step = max(0, step - cfg.schedule_start)
        warm = max(1.0, cfg.warmup_epochs * spe)
        if cfg.schedule == "cosine":
            last = cfg.epochs * spe - cfg.schedule_start - 1  # the run's last step
            t = min(1.0, max(0.0, step - warm) / max(1.0, last - warm))
            decay = cfg.min_lr_factor + (1 - cfg.min_lr_factor) * 0.5 * (1 + math.cos(math.pi * t))
        else:
            decay = cfg.lr_decay ** (max(0.0, step - warm) / spe)
        return min(1.0, (step + 1) / warm) * decay

    def _order(self, epoch: int) -> Tensor:
        """This rank's sample order for `epoch`: a seeded permutation, padded, strided."""
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
        perm = torch.randperm(len(self.train_set), generator=g)
        total = math.ceil(len(perm) / self.world) * self.world
        perm = torch.cat([perm, perm[: total - len(perm)]])
        return perm[self.rank :: self.world]

    def _batch_loss(self, idx: Tensor) -> Tensor:
        batch = collate([self.train_set.graphs[int(i)] for i in idx]).to(self.device)
        target = to_normalized(self.train_set.y[idx].to(self.device), batch, self.normalization)
        raw = self.net(batch).prediction
        return masked_l1(raw, target.to(raw.dtype), self.loss_weights)

    def validate(self) -> tuple[dict[str, float], float] | None:
        """MAE per target with the EMA weights, and the mean of MAE / std (weighted by
        `loss_weights`: the best checkpoint is the best for what the run trains)."""
        if self.val_set is None or len(self.val_set) == 0:
            return None
        with self.ema.applied(self.model):
            pred = predict_graphs(
                self.model, self.val_set.graphs, self.normalization,
                self.config.eval_batch_size, self.device,
            )  # fmt: skip
        err = mae(pred, self.val_set.y)
        std = self.normalization.std if self.normalization else None
        return {t: float(e) for t, e in zip(self.targets, err)}, score(err, std, self.loss_weights)

    def fit(self) -> TrainResult:
        """Train until `config.epochs` are done, the budget runs out or the callback stops."""
        cfg = self.config
        budget = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
        session = time.perf_counter()
        start = session - self.elapsed_s  # elapsed_s counts all sessions
        last_save = session
        stopped = by_budget = False
        while self.epoch < cfg.epochs and not stopped:
            self.model.train()
            order = self._order(self.epoch)
            t_epoch, n_seen = time.perf_counter(), 0
            for b in range(self.batch_in_epoch, self.steps_per_epoch):
                if self.should_stop is not None and self._agree(self.should_stop())[0]:
                    self._save_state()
                    return self._result(False, requested=True)
                idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                self.governor and self.governor()  # follow the cores others leave free
                self.optimizer.zero_grad(set_to_none=True)
                loss = self._batch_loss(idx)
                loss.backward()
                if cfg.clip_norm:
                    nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.ema.update(self.model)
                self.step += 1
                self.batch_in_epoch = b + 1
                self._epoch_loss[0] += float(loss.detach())
                self._epoch_loss[1] += 1
                n_seen += len(idx)
                now = time.perf_counter()
                self.elapsed_s = now - start
                out_of_time, save = self._agree(
                    now - session >= budget, now - last_save >= cfg.save_every_minutes * 60
                )
                if out_of_time and self.batch_in_epoch < self.steps_per_epoch:
                    stopped = by_budget = True
                    break
                if save:
                    self._save_state()
                    last_save = now
            complete = self.batch_in_epoch >= self.steps_per_epoch
            rate = n_seen * self.world / max(1e-9, time.perf_counter() - t_epoch)
            metrics = self._end_epoch(complete, rate)
            self.elapsed_s = time.perf_counter() - start
            halt = self.rank == 0 and self.callback is not None and complete
            halt = halt and self.callback(metrics) is False
            out_of_time, halt = self._agree(time.perf_counter() - session >= budget, halt)
            if out_of_time:
                stopped = by_budget = True
            if halt:
                stopped = True
            self._save_state()
            last_save = time.perf_counter()
        return self._result(by_budget and self.epoch < cfg.epochs)

    def _result(self, by_budget: bool, requested: bool = False) -> TrainResult:
        state = self.state_path if self.out_dir and self.rank == 0 else None
        return TrainResult(
            list(self.history), self.epoch, self.step, self.elapsed_s, by_budget, state,
            self._best_path(), stopped_by_request=requested,
        )  # fmt: skip

    def _agree(self, *flags: bool) -> tuple[bool, ...]:
        """Rank 0's decisions, so that every rank stops and saves at the same step."""
        if self.world == 1:
            return tuple(flags)
        t = torch.tensor([float(f) for f in flags], device=self.device)
        torch.distributed.broadcast(t, src=0)
        return tuple(bool(v) for v in t.tolist())

    def _end_epoch(self, complete: bool, rate: float) -> EpochMetrics:
        loss_sum, count = self._epoch_loss
        if self.world > 1:
            t = torch.tensor([loss_sum, count], dtype=torch.float64, device=self.device)
            torch.distributed.all_reduce(t)
            loss_sum, count = float(t[0]), int(t[1])
        epoch_no = self.epoch + 1
        val = self.validate() if complete and self.rank == 0 else None
        metrics = EpochMetrics(
            epoch=epoch_no,
            step=self.step,
            train_loss=loss_sum / max(1, count),
            val_mae=val[0] if val else None,
            val_score=val[1] if val else None,
            lr=float(self.optimizer.param_groups[0]["lr"]),
            elapsed_s=self.elapsed_s,
            molecules_per_s=rate,
            complete=complete,
        )
        if complete:
            self.history.append(metrics)
            self.epoch += 1
            self.batch_in_epoch = 0
            self._epoch_loss = [0.0, 0]
        if self.rank == 0 and self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with open(self.out_dir / "log.jsonl", "a") as fh:
                fh.write(json.dumps(metrics.to_dict()) + "\n")
            self.export(self.out_dir / "last.pt", {"epoch_metrics": metrics.to_dict()})
            if val and val[1] < self.best_score:
                self.best_score = val[1]
                self.export(self.out_dir / "best.pt", {"epoch_metrics": metrics.to_dict()})
        return metrics

    def _best_path(self) -> Path | None:
        if self.out_dir is None or self.rank != 0:
            return None
        best = self.out_dir / "best.pt"
        return best if best.is_file() else self.out_dir / "last.pt"

    def export(self, path: str | os.PathLike, extra: dict | None = None) -> None:
        """Save the EMA weights as a model checkpoint (rank 0 only)."""
        if self.rank != 0:
            return
        meta = {
            **self.metadata,
            "training": {
                "epochs_done": self.epoch,
                "step": self.step,
                "elapsed_s": round(self.elapsed_s, 1),
                "train_config": self.config.to_dict(),
                "world_size": self.world,
                **(extra or {}),
            },
        }
        with self.ema.applied(self.model):
            save_checkpoint(path, self.model, self.targets, self.units, self.normalization, meta)

    # --- state ----------------------------------------------------------------
    @property
    def state_path(self) -> Path | None:
        return self.out_dir / "state.pt" if self.out_dir is not None else None

    def state_dict(self) -> dict:
        return {
            "format": STATE_FORMAT,
            "model": self.model.state_dict(),
            "model_config": self.model.config.to_dict(),
            "train_config": self.config.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.state_dict(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "best_score": self.best_score,
            "epoch_loss": list(self._epoch_loss),
            "history": [m.to_dict() for m in self.history],
            "targets": self.targets,
            "units": self.units,
            "normalization": self.normalization.to_dict() if self.normalization else None,
            "metadata": self.metadata,
            "world_size": self.world,  # with batch_size: the whole batch (resumes keep it)
            "rng": rng_state(),
        }

    def _save_state(self) -> None:
        if self.rank == 0 and self.out_dir is not None:
            save_state(self.state_path, self.state_dict())
        distributed.barrier()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:  # states saved before it was fused
            group["fused"], group["foreach"] = True, None
        self.scheduler.load_state_dict(state["scheduler"])
        # a resume may change lr: the schedule multiplies the configured one
        self.scheduler.base_lrs = [self.config.lr for _ in self.optimizer.param_groups]
        for group in self.optimizer.param_groups:
            group["initial_lr"] = self.config.lr
            group["lr"] = self.config.lr * self._lr_factor(int(state["step"]))
        self.ema.load_state_dict(state["ema"])
        self.epoch, self.batch_in_epoch = int(state["epoch"]), int(state["batch_in_epoch"])
        self.step, self.elapsed_s = int(state["step"]), float(state["elapsed_s"])
        self.best_score = float(state["best_score"])
        self._epoch_loss = [float(state["epoch_loss"][0]), int(state["epoch_loss"][1])]
        self.history = [EpochMetrics(**m) for m in state["history"]]
        set_rng_state(state["rng"])

    @classmethod
    def from_state(
        cls,
        path: str | os.PathLike,
        train: GraphDataset,
        val: GraphDataset | None = None,
        out_dir: str | os.PathLike | None = None,
        callback: Callable[[EpochMetrics], bool | None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        restart_schedule: bool = False,
        prepare: Callable[[PAMNet], None] | None = None,
        **overrides,
    ) -> Trainer:
        """Rebuild a trainer from `state.pt` to continue exactly where it stopped.

        overrides: TrainConfig fields to change (epochs, max_minutes: this session's, never
        the saved one; device; batch_size, lr or the schedule alter the run).
        restart_schedule: a new warm-up and schedule from the saved step. prepare(model):
        run on the rebuilt model before the trainer wraps it (a fine-tune's freezing).
        """
        state = load_state(path)
        if restart_schedule:
            overrides = {**overrides, "schedule_start": int(state["step"])}
        config = TrainConfig.from_dict({**state["train_config"], "max_minutes": None, **overrides})
        model = PAMNet(ModelConfig.from_dict(state["model_config"]))
        if prepare is not None:
            prepare(model)
        trainer = cls(
            model,
            train,
            Normalization.from_dict(state["normalization"]),
            state["targets"],
            config,
            val=val,
            out_dir=out_dir if out_dir is not None else Path(path).parent,
            units=state["units"],
            metadata=state["metadata"],
            callback=callback,
            should_stop=should_stop,
        )
        trainer.load_state_dict(state)
        return trainer
