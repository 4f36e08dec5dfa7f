"""Proxy training: a small, straight trainer for candidate networks (in the manner of airbench).

Every candidate of a search is trained with :func:`train` under one :class:`TrainConfig` (the
protocol, stored on every trial). The images stay in memory as uint8 tensors and are moved to the
device once; each batch is converted, resized, normalised and augmented (random crop and horizontal
flip, vectorised over the batch) on the device. SGD with Nesterov momentum, label smoothing, weight
decay on conv/linear weights only, a learning rate set every step; validation accuracy after every
epoch. ``checkpoint=`` hands out the whole training state after every epoch and ``resume=`` takes it
back, so that an interrupted training goes on to the very weights of an uninterrupted one (on the
CPU); ``python -m nas.train ARCH`` (:mod:`nas.train.cli`) is the full-training CLI built on it.

Measured on the 2-core development machine (torch 2.14.1, CPU, 2 threads, CIFAR-10 at 32×32, a
shared machine, so ±15%):

* Throughput with the defaults: MobileNetV2 650-830 images/s (channels-last; 250-350 without),
  ResNet-18 ~480, EfficientNet-B0 ~500, ShuffleNetV2 ×1.0 ~1,350, SqueezeNet 1.1 ~2,800. So 4,000
  images × 3 epochs take 15-25 s for these networks.
* Defaults chosen on 4,000 training / 1,000 validation images, 3 epochs (final validation accuracy):
  lr 0.02 at batch 64 gave MobileNetV2 0.28-0.30, ResNet-18 0.46, EfficientNet-B0 0.26, ShuffleNetV2
  0.30; lr 0.05 0.28 / 0.41-0.45 / 0.18 / 0.33; lr 0.1 0.12-0.24 / 0.37 / - / 0.32. Batch 128 at lr 0.04
  was 20% faster but less steady (EfficientNet-B0 0.20); batch 32 slower for no gain; warmup 0.3
  instead of 0.1 changed nothing beyond noise.
* Then lr 0.04 instead of 0.02, for ranking rather than accuracy (``benchmarks/proxy.py``, 20 ``mobile``
  networks against 12,000 images × 5 epochs at lr 0.02): Kendall τ with the longer training rose from 0.21
  to 0.52 on the validation images (0.34 to 0.64 on the test set), at the same cost. Batch 32 at lr 0.02
  ranked as well (0.55) but trains 20% slower on the CPU; batch 16 0.52; 12,000 images × 1 epoch 0.23.
  Short training at lr 0.02 favoured networks that learn fast at first over those that end up better.
* Re-estimating batch-norm statistics before evaluation (``bn_recalibration``) took MnasNet (BN
  momentum 0.0003) from chance (0.10) to 0.31 and MobileNetV3-Small (momentum 0.01) from 0.10 to 0.30.
* Against a minimal hand-written loop on the same batches (``benchmarks/train.py``): no measurable
  overhead (ratio ~0.95-1.0, within the machine's noise).

Example:
    >>> import torch, nas
    >>> from nas.train import TrainConfig, train
    >>> x = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8)
    >>> y = torch.randint(0, 3, (64,))
    >>> model = nas.build("conv_s2_c8 ir_c8_x16 head", num_classes=3)
    >>> result = train(model, x, y, x, y, TrainConfig(epochs=1, batch_size=32), mean=[0.5] * 3, std=[0.25] * 3)
    >>> len(result.val_accuracy)
    1
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "evaluate", "protocol_changes", "train"]

SCHEDULES = ("onecycle", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """The proxy-training protocol.

    The defaults are a CPU proxy: a candidate trains on a few thousand 32×32 images in well under a
    minute on 2 cores (see the module docstring for the measurements behind them). ``None`` fields
    are resolved per device by :meth:`resolved`. Invalid values raise ``TypeError`` (wrong type) or
    ``ValueError`` (out of range), naming the field, the value and a fix.
    """

    epochs: int = 3  # passes over the training images
    batch_size: int = 64  # images per SGD step
    lr: float = 0.04  # peak learning rate of SGD (Nesterov momentum): see the module docstring
    momentum: float = 0.9  # SGD momentum (Nesterov when > 0)
    weight_decay: float = 5e-4  # L2 on conv/linear weights only, not on norms and biases
    label_smoothing: float = 0.1  # mass spread uniformly over the classes, in [0, 1)
    schedule: str = "onecycle"  # "onecycle": linear warmup, linear decay to 0; "cosine": warmup, cosine to 0
    warmup: float = 0.1  # fraction of all steps spent warming up linearly, in [0, 1)
    resolution: int | None = None  # input side in pixels, train and eval (bilinear resize); None = as stored
    crop_padding: int = 2  # random-crop padding in pixels at the training resolution (0 = no crop)
    flip: bool = True  # random horizontal flips
    device: str = "auto"  # "cpu", "cuda", "cuda:N", or "auto" (cuda when available)
    threads: int | None = None  # torch.set_num_threads during the run; None = torch's default
    channels_last: bool | None = None  # NHWC memory format; None = on (faster on CUDA and on CPU: see resolved)
    amp: bool | None = None  # autocast (bf16, else fp16 + GradScaler); None = on for CUDA, off on CPU
    bn_recalibration: int = 512  # training images forwarded to re-estimate batch-norm statistics before each
    #   evaluation (train mode, no grad, plain average over batches); 0 = evaluate with the running averages
    seed: int = 0  # seeds torch and the shuffling/augmentation generator

    def __post_init__(self) -> None:
        _check_int("epochs", self.epochs, 1, "train for at least one epoch")
        _check_int("batch_size", self.batch_size, 2, "batch norm needs at least 2 images per batch")
        self._check_float("lr", 0.0, None, "a positive peak learning rate such as 0.02", low_open=True)
        self._check_float("momentum", 0.0, 1.0, "a value in [0, 1) such as 0.9")
        self._check_float("weight_decay", 0.0, None, "0 or a small positive value such as 5e-4")
        self._check_float("label_smoothing", 0.0, 1.0, "a value in [0, 1) such as 0.1")
        if not isinstance(self.schedule, str) or self.schedule not in SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r} is not known: use one of {', '.join(SCHEDULES)}")
        self._check_float("warmup", 0.0, 1.0, "a fraction of the steps in [0, 1) such as 0.1")
        if self.resolution is not None:
            _check_int("resolution", self.resolution, 1, "a side in pixels such as 32, or None for the stored size")
        _check_int("crop_padding", self.crop_padding, 0, "0 for no random crop, or a few pixels such as 4")
        _check_bool("flip", self.flip)
        if not isinstance(self.device, str):
            raise TypeError(f"device={self.device!r} must be a str: 'cpu', 'cuda', 'cuda:N' or 'auto'")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError:
                raise ValueError(f"device={self.device!r} is not a device: use 'cpu', 'cuda', 'cuda:N' or 'auto'"
                                 ) from None
        if self.threads is not None:
            _check_int("threads", self.threads, 1, "a positive number of threads, or None for torch's default")
        for name in ("channels_last", "amp"):
            if getattr(self, name) is not None:
                _check_bool(name, getattr(self, name), "True, False or None (auto)")
        _check_int("bn_recalibration", self.bn_recalibration, 0,
                   "0 to keep the running averages, or a number of images such as 512")
        _check_int("seed", self.seed, 0, "a non-negative integer")

    def _check_float(self, name: str, low: float, high: float | None, fix: str, *, low_open: bool = False) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name}={value!r} must be a number: {fix}")
        below = value <= low if low_open else value < low
        if not math.isfinite(value) or below or (high is not None and value >= high):
            raise ValueError(f"{name}={value!r} is out of range: {fix}")
        object.__setattr__(self, name, float(value))  # ints are accepted; the config stores floats

    def resolved(self) -> TrainConfig:
        """This config with ``device`` made concrete (``"cpu"`` or ``"cuda…"``) and ``channels_last``
        and ``amp`` decided for it. Raises ``ValueError`` when a CUDA device is asked for but absent."""
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        kind = torch.device(device).type
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} but CUDA is not available (torch {torch.__version__}): "
                             "use device='cpu' or 'auto'")
        on_gpu = kind == "cuda"
        return dataclasses.replace(
            self, device=device,
            # channels-last measured faster on the CPU too (oneDNN): 1.5-2.5x for MobileNets, ShuffleNet
            # and SqueezeNet at 32×32 on 2 cores, about even for ResNet-18, LeNet-5 and GroupNorm nets
            channels_last=True if self.channels_last is None else self.channels_last,
            amp=on_gpu if self.amp is None else self.amp)

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict (``TrainConfig(**d)`` gives the config back)."""
        return dataclasses.asdict(self)


def _check_int(name: str, value: object, low: int, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}={value!r} must be an int: {fix}")
    if value < low:
        raise ValueError(f"{name}={value!r} must be at least {low}: {fix}")


def _check_bool(name: str, value: object, fix: str = "True or False") -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name}={value!r} must be a bool: {fix}")


@dataclass
class TrainResult:
    """What one proxy training gives."""

    val_accuracy: list[float]  # top-1 accuracy on the validation split after each epoch, in [0, 1]
    train_loss: list[float]  # mean training loss of each epoch (label-smoothed cross-entropy)
    seconds: float  # wall time of the training steps, evaluation left out
    images_per_second: float  # training images per second of `seconds`
    epochs: int  # epochs run
    device: str  # the device trained on ("cpu", "cuda", ...)


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


# --------------------------------------------------------------------------------------------------
# Batches: uint8 -> float, resize, normalise, random crop + flip (one gather for the batch)
# --------------------------------------------------------------------------------------------------

class _Batches:
    """Turns uint8 N×C×H×W batches into normalised float inputs for one device and resolution."""

    def __init__(self, shape: torch.Size, config: TrainConfig, device: torch.device, mean: Sequence[float],
                 std: Sequence[float]) -> None:
        _, height, width = shape[1:]
        mean_t = torch.as_tensor(mean, dtype=torch.float32)
        std_t = torch.as_tensor(std, dtype=torch.float32)
        # (x / 255 - mean) / std == x * scale + shift, done in place on the batch
        self.scale = (1.0 / (255.0 * std_t)).view(1, -1, 1, 1).to(device)
        self.shift = (-mean_t / std_t).view(1, -1, 1, 1).to(device)
        side = config.resolution
        self.size = None if side is None or (height, width) == (side, side) else (side, side)
        self.height, self.width = (height, width) if self.size is None else self.size
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        self.padding = config.crop_padding
        self.flip = config.flip
        self.augments = config.crop_padding > 0 or config.flip
        self.device = device
        self.batch_index = torch.arange(config.batch_size, device=device).view(-1, 1, 1)  # sliced per batch

    def __call__(self, x: Tensor) -> Tensor:
        """Evaluation inputs: converted, resized and normalised."""
        return self._float(x).contiguous(memory_format=self.memory_format)

    def _float(self, x: Tensor) -> Tensor:
        x = x.to(self.device, non_blocking=True).float()
        if self.size is not None:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=False)
        return x.mul_(self.scale).add_(self.shift)

    def epoch_indices(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Per-image source rows (n×H×1) and columns (n×1×W) into the padded image for one epoch: a random
        offset in [0, 2 * padding] each way, columns reversed for flipped images. Drawn at once on the
        CPU generator (deterministic for a seed on any device), moved once."""
        if not self.augments:
            return torch.empty(0), torch.empty(0)
        p = self.padding
        offsets = torch.randint(0, 2 * p + 1, (n, 2), generator=generator)
        rows = offsets[:, :1] + torch.arange(self.height)
        cols = torch.arange(self.width).expand(n, -1)
        if self.flip:
            flipped = torch.randint(0, 2, (n, 1), generator=generator, dtype=torch.bool)
            cols = torch.where(flipped, cols.flip(1), cols)
        cols = offsets[:, 1:] + cols
        # shaped n×H×1 and n×1×W: a slice of each indexes a batch directly
        return rows.unsqueeze(2).to(self.device), cols.unsqueeze(1).to(self.device)

    def augment(self, x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        """Training inputs: as :meth:`__call__`, then each image cropped (zero padding, i.e. the mean
        colour after normalisation) and flipped as ``rows``/``cols`` say, in one gather."""
        x = self._float(x)
        if not self.augments:
            return x.contiguous(memory_format=self.memory_format)
        p = self.padding
        padded = F.pad(x, (p, p, p, p)) if p else x
        # advanced indices on dims 0, 2, 3 around a slice put the batch dims first: B×H×W×C, i.e.
        # channels-last strides once permuted back to B×C×H×W
        if len(x) > len(self.batch_index):
            self.batch_index = torch.arange(len(x), device=self.device).view(-1, 1, 1)
        out = padded[self.batch_index[:len(x)], :, rows, cols].permute(0, 3, 1, 2)
        return out.contiguous(memory_format=self.memory_format)


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------

def train(model: nn.Module, train_x: Tensor, train_y: Tensor, val_x: Tensor, val_y: Tensor, config: TrainConfig,
          *, mean: Sequence[float], std: Sequence[float], on_epoch: Callable[[int, float], None] | None = None,
          checkpoint: Callable[[dict[str, Any]], None] | None = None, resume: dict[str, Any] | None = None
          ) -> TrainResult:
    """Train ``model`` under ``config``, evaluating it on the validation split after every epoch.

    The model is moved to the device (and memory format) in place and left there in eval mode.
    ``torch.manual_seed(config.seed)`` is called (dropout and stochastic depth draw from it);
    shuffling and augmentation use their own generator seeded with ``config.seed``, so on the CPU a
    seed and the same initial weights give the same curve and weights. Seed before ``nas.build`` to
    fix the initial weights too.

    Args:
        model: the network, taking N×C×H×W floats and returning N×classes logits.
        train_x: training images, uint8 N×C×H×W (on the CPU; moved to the device once).
        train_y: their labels, int64 of length N.
        val_x: validation images, uint8 M×C×H'×W'.
        val_y: their labels, int64 of length M.
        config: the protocol.
        mean: per-channel mean of the images, in [0, 1] units (for example CIFAR-10's 0.49, 0.48, 0.45).
        std: per-channel standard deviation, in [0, 1] units.
        on_epoch: called as ``on_epoch(epoch, val_accuracy)`` after each epoch, ``epoch`` counting from
            1; it may raise (for example ``optuna.TrialPruned``) to stop the training.
        checkpoint: called after each epoch (before ``on_epoch``) with the training state, a dict that
            :func:`torch.save` can write and ``resume`` takes back (see :func:`_state`): epoch, step,
            model, optimizer and grad-scaler state, the shuffling generator's and torch's RNG states,
            the curves so far, the protocol. Its tensors are the live ones: save or copy them before
            returning.
        resume: a state given to ``checkpoint`` by an earlier call with the same model, data and
            protocol (``device`` and ``threads`` may differ): training goes on after its epoch. On the
            CPU the weights then end exactly as those of an uninterrupted run.

    Returns:
        A :class:`TrainResult`: the accuracy curve, the mean loss of each epoch, the training time and
        throughput.

    Raises:
        TrainingDiverged: the loss became NaN or infinite (the message gives the epoch, step and loss).
        TypeError, ValueError: inputs of the wrong type, dtype or shape, or a ``resume`` state saved
            under another protocol or data size (the message says which).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config={config!r} must be a TrainConfig")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model={type(model).__name__} must be a torch.nn.Module, e.g. nas.build(genome)")
    _check_data("train", train_x, train_y)
    _check_data("val", val_x, val_y)
    if train_x.shape[1] != val_x.shape[1]:
        raise ValueError(f"train_x has {train_x.shape[1]} channels but val_x has {val_x.shape[1]}")
    if len(train_x) < 2:
        raise ValueError(f"train_x has {len(train_x)} image(s): batch norm needs at least 2")
    _check_stats(mean, std, train_x.shape[1])
    config = config.resolved()
    device = torch.device(config.device)

    with _threads(config.threads):
        torch.manual_seed(config.seed)
        generator = torch.Generator().manual_seed(config.seed)
        model.to(device=device, memory_format=torch.channels_last if config.channels_last else torch.contiguous_format)
        train_x, train_y, val_x, val_y = (t.to(device) for t in (train_x, train_y, val_x, val_y))
        batches = _Batches(train_x.shape, config, device, mean, std)
        val_batches = _Batches(val_x.shape, config, device, mean, std)

        n = len(train_x)
        size = config.batch_size
        steps = -(-n // size)
        if n % size == 1:  # a last batch of one image cannot train batch norm: drop it
            steps -= 1
        lrs = _schedule(config, steps * config.epochs)

        decay, no_decay = [], []
        for p in model.parameters():
            if p.requires_grad:
                (decay if p.ndim > 1 else no_decay).append(p)
        groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        optimizer = torch.optim.SGD([g for g in groups if g["params"]], lr=lrs[0], momentum=config.momentum,
                                    nesterov=config.momentum > 0)
        criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        autocast, scaler = _amp(config, device)
        losses = torch.empty(steps, device=device)
        # CPU: look at every loss (no sync cost); GPU: look every 32 steps (one sync each time)
        check_every = 1 if device.type == "cpu" else 32

        val_accuracy: list[float] = []
        train_loss: list[float] = []
        seconds = 0.0
        step = 0
        first = 1
        if resume is not None:
            _check_resume(resume, config, n=n, steps=steps)
            model.load_state_dict(resume["model"])
            optimizer.load_state_dict(resume["optimizer"])
            if scaler is not None and resume.get("scaler"):
                scaler.load_state_dict(resume["scaler"])
            generator.set_state(resume["generator"])
            torch.set_rng_state(resume["torch_rng"])
            if device.type == "cuda" and resume.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(resume["cuda_rng"], device)
            val_accuracy, train_loss = list(resume["val_accuracy"]), list(resume["train_loss"])
            seconds, step, first = float(resume["seconds"]), int(resume["step"]), int(resume["epoch"]) + 1
        param_groups = optimizer.param_groups  # after load_state_dict, which replaces the groups
        for epoch in range(first, config.epochs + 1):
            model.train()
            start = time.perf_counter()
            order = torch.randperm(n, generator=generator).to(device)
            rows, cols = batches.epoch_indices(n, generator)
            checked = 0
            for i in range(steps):
                lr = lrs[step]
                for group in param_groups:
                    group["lr"] = lr
                take = order[i * size:(i + 1) * size]
                x = batches.augment(train_x[take], rows[i * size:(i + 1) * size], cols[i * size:(i + 1) * size])
                with autocast:
                    loss = criterion(model(x), train_y[take])
                if scaler is None:
                    loss.backward()
                    optimizer.step()
                else:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                optimizer.zero_grad(set_to_none=True)
                losses[i] = loss.detach()
                step += 1
                if (i + 1) % check_every == 0 or i + 1 == steps:
                    _check_finite(losses, checked, i + 1, epoch, config)
                    checked = i + 1
            train_loss.append(losses.mean().item())  # also waits for the device before the clock stops
            seconds += time.perf_counter() - start
            if config.bn_recalibration:
                _recalibrate(model, train_x[order[:config.bn_recalibration]], batches, autocast, batch_size=size)
            accuracy = _accuracy(model, val_x, val_y, val_batches, autocast, batch_size=512)
            val_accuracy.append(accuracy)
            if checkpoint is not None:
                checkpoint(_state(epoch, step, steps, n, model, optimizer, scaler, generator, device, config,
                                  val_accuracy, train_loss, seconds))
            if on_epoch is not None:
                on_epoch(epoch, accuracy)
        model.eval()
    images = (n - 1 if n % size == 1 else n) * config.epochs
    return TrainResult(val_accuracy=val_accuracy, train_loss=train_loss, seconds=seconds,
                       images_per_second=images / seconds if seconds > 0 else float("inf"), epochs=config.epochs,
                       device=str(device))


# the protocol fields a resumed training must share with the one it goes on from: all but where it runs
_RESUMABLE_FIELDS = ("device", "threads", "channels_last", "amp")


def protocol_changes(saved: dict[str, Any], config: TrainConfig) -> list[str]:
    """What differs between a protocol saved as :meth:`TrainConfig.to_dict` and ``config``, as
    ``"name=old -> new"`` strings; where the training runs (device, threads, channels-last, mixed
    precision) may differ. Training resumed or compared across such a change is not the same protocol."""
    now = config.to_dict()
    return [f"{k}={saved.get(k)!r} -> {now[k]!r}" for k in now if k not in _RESUMABLE_FIELDS and saved.get(k) != now[k]]


def _state(epoch: int, step: int, steps: int, n: int, model: nn.Module, optimizer: torch.optim.Optimizer,
           scaler: Any, generator: torch.Generator, device: torch.device, config: TrainConfig,
           val_accuracy: list[float], train_loss: list[float], seconds: float) -> dict[str, Any]:
    """The training state after ``epoch``: everything the next epoch reads, so that resuming from it
    replays the rest of an uninterrupted run (the learning-rate schedule is a function of ``step``)."""
    return {
        "epoch": epoch,  # epochs done
        "step": step,  # optimizer steps done: the position in the learning-rate schedule
        "steps_per_epoch": steps,
        "train_images": n,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "generator": generator.get_state(),  # shuffling and augmentation
        "torch_rng": torch.get_rng_state(),  # dropout, stochastic depth (CPU)
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "val_accuracy": list(val_accuracy),
        "train_loss": list(train_loss),
        "seconds": seconds,
        "protocol": config.to_dict(),
    }


def _check_resume(state: dict[str, Any], config: TrainConfig, *, n: int, steps: int) -> None:
    if not isinstance(state, dict) or "epoch" not in state or "model" not in state:
        raise TypeError(f"resume must be a state given to the checkpoint callback of train, got {type(state).__name__}")
    changed = protocol_changes(state.get("protocol", {}), config)
    if changed:
        raise ValueError(f"resume: the state was saved under another protocol ({', '.join(changed)}); "
                         "resume with the same protocol, or start over")
    if state.get("train_images") != n or state.get("steps_per_epoch") != steps:
        raise ValueError(f"resume: the state was saved training on {state.get('train_images')} images "
                         f"({state.get('steps_per_epoch')} steps per epoch), not {n} ({steps}): resume on the same data")
    if not 0 <= state["epoch"] <= config.epochs:
        raise ValueError(f"resume: the state is at epoch {state['epoch']} of a {config.epochs}-epoch protocol")


def evaluate(model: nn.Module, x: Tensor, y: Tensor, config: TrainConfig, *, mean: Sequence[float],
             std: Sequence[float], batch_size: int = 512) -> float:
    """Top-1 accuracy of ``model`` on uint8 images ``x`` and int64 labels ``y``, in [0, 1].

    Inputs are prepared as :func:`train` prepares them (device, resolution, memory format, autocast
    from ``config``, no augmentation); the model is moved to the device and run in eval mode under
    ``no_grad``, in batches of ``batch_size``, and its train/eval mode is restored afterwards.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config={config!r} must be a TrainConfig")
    _check_data("eval", x, y)
    _check_stats(mean, std, x.shape[1])
    _check_int("batch_size", batch_size, 1, "a positive number of images per evaluation batch")
    config = config.resolved()
    device = torch.device(config.device)
    was_training = model.training
    with _threads(config.threads):
        model.to(device=device, memory_format=torch.channels_last if config.channels_last else torch.contiguous_format)
        autocast, _ = _amp(config, device)
        accuracy = _accuracy(model, x, y, _Batches(x.shape, config, device, mean, std), autocast, batch_size=batch_size)
    model.train(was_training)
    return accuracy


def _accuracy(model: nn.Module, x: Tensor, y: Tensor, batches: _Batches, autocast: contextlib.AbstractContextManager,
              *, batch_size: int) -> float:
    model.eval()
    y = y.to(batches.device)
    correct = torch.zeros((), dtype=torch.int64, device=batches.device)
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            with autocast:
                logits = model(batches(x[start:start + batch_size]))
            correct += (logits.argmax(1) == y[start:start + batch_size]).sum()
    return correct.item() / len(x)


def _recalibrate(model: nn.Module, x: Tensor, batches: _Batches, autocast: contextlib.AbstractContextManager, *,
                 batch_size: int) -> None:
    """Re-estimate every batch norm's running mean and variance on ``x`` (unaugmented, in training
    batches), as a plain average over the batches: the running averages of a short training lag
    behind the weights, badly so with small momenta (0.01 in MobileNetV3/EfficientNet, 0.0003 in
    MnasNet, choices of the mobile space), which would make the proxy accuracy measure the momentum."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for start in range(0, len(x) - 1, batch_size):  # never a batch of one
            with autocast:
                model(batches(x[start:start + batch_size]))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum


def _schedule(config: TrainConfig, total: int) -> list[float]:
    """The learning rate of every step: linear warmup to the peak over ``warmup × total`` steps (the
    first step already above 0), then linear ("onecycle") or cosine ("cosine") decay towards 0."""
    warm = round(config.warmup * total)
    lrs = []
    for i in range(total):
        if i < warm:
            lrs.append(config.lr * (i + 1) / warm)
            continue
        t = (i - warm) / (total - warm)
        lrs.append(config.lr * ((1 - t) if config.schedule == "onecycle" else 0.5 * (1 + math.cos(math.pi * t))))
    return lrs


def _amp(config: TrainConfig, device: torch.device) -> tuple[contextlib.AbstractContextManager, object | None]:
    """The autocast context (reused for every step) and, for fp16, the GradScaler."""
    if not config.amp:
        return contextlib.nullcontext(), None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.float16), torch.amp.GradScaler("cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16), None


def _check_finite(losses: Tensor, start: int, stop: int, epoch: int, config: TrainConfig) -> None:
    window = losses[start:stop]
    if bool(window.isfinite().all()):
        return
    bad = int((~window.isfinite()).nonzero()[0, 0])
    raise TrainingDiverged(
        f"training loss became {window[bad].item()} at epoch {epoch}, step {start + bad + 1} of the epoch "
        f"(lr={config.lr}, batch_size={config.batch_size}): lower the learning rate or check the model")


@contextlib.contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _check_data(split: str, x: object, y: object) -> None:
    if not isinstance(x, Tensor) or x.dtype != torch.uint8 or x.ndim != 4:
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{split} images must be a uint8 N×C×H×W tensor, got {got}: "
                        "keep the raw pixels (0-255) and give mean/std for normalisation")
    if not isinstance(y, Tensor) or y.dtype != torch.int64 or y.ndim != 1:
        got = f"{y.dtype} {tuple(y.shape)}" if isinstance(y, Tensor) else type(y).__name__
        raise TypeError(f"{split} labels must be an int64 tensor of length N, got {got}")
    if len(x) != len(y):
        raise ValueError(f"{split}: {len(x)} images but {len(y)} labels")
    if len(x) == 0:
        raise ValueError(f"{split}: no images")


def _check_stats(mean: Sequence[float], std: Sequence[float], channels: int) -> None:
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean={list(mean)} and std={list(std)} need one value per channel ({channels})")
    if not all(s > 0 for s in std):
        raise ValueError(f"std={list(std)} must be positive (in [0, 1] units, e.g. 0.25)")


def versions() -> dict[str, str]:
    """The versions a trained result depends on (nas, torch, torchvision, optuna, python), as stored with
    every trial of a search and every full training."""
    import optuna
    import torchvision

    from .. import __version__

    return {"nas": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "optuna": optuna.__version__, "python": platform.python_version()}
