"""The proxy trainer: learning, curves, determinism, divergence, resizing, augmentation, validation."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import nas
from nas.train import TrainConfig, TrainingDiverged, TrainResult, _Batches, _schedule, evaluate, train

TINY = "conv_s2_c8 ir_c8_x16 head"
MEAN, STD = [0.4] * 3, [0.3] * 3
FAST = dict(batch_size=16, device="cpu", lr=0.05)


def separable(n: int, *, classes: int = 3, side: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images whose class is the one bright channel: easy, and unchanged by crops and flips."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randint(0, 80, (n, 3, side, side), generator=g)
    x[torch.arange(n), y % 3] += 150
    return x.to(torch.uint8), y


def tiny(num_classes: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nas.build(TINY, num_classes=num_classes)


def test_learns_a_separable_set_and_reports_each_epoch() -> None:
    x, y = separable(192)
    vx, vy = separable(96, seed=1)
    seen: list[tuple[int, float]] = []
    result = train(tiny(), x, y, vx, vy, TrainConfig(epochs=3, **FAST), mean=MEAN, std=STD,
                   on_epoch=lambda epoch, acc: seen.append((epoch, acc)))
    assert isinstance(result, TrainResult)
    assert len(result.val_accuracy) == len(result.train_loss) == result.epochs == 3
    assert seen == list(zip([1, 2, 3], result.val_accuracy))
    assert result.val_accuracy[-1] >= 0.9  # chance is 1/3
    assert result.train_loss[-1] < result.train_loss[0]
    assert result.device == "cpu" and result.seconds > 0 and result.images_per_second > 0


def test_evaluate_agrees_with_the_last_epoch() -> None:
    x, y = separable(96)
    model = tiny()
    result = train(model, x, y, x, y, TrainConfig(epochs=1, **FAST), mean=MEAN, std=STD)
    assert not model.training
    assert evaluate(model, x, y, TrainConfig(**FAST), mean=MEAN, std=STD, batch_size=7) == result.val_accuracy[-1]


def test_same_seed_same_curve_and_weights() -> None:
    x, y = separable(80)
    config = TrainConfig(epochs=2, seed=3, **FAST)
    runs = []
    for _ in range(2):
        model = tiny()
        result = train(model, x, y, x[:20], y[:20], config, mean=MEAN, std=STD)
        runs.append((result, model.state_dict()))
    (r1, w1), (r2, w2) = runs
    assert r1.val_accuracy == r2.val_accuracy and r1.train_loss == r2.train_loss
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    model = tiny()
    train(model, x, y, x[:20], y[:20], TrainConfig(epochs=2, seed=4, **FAST), mean=MEAN, std=STD)
    assert not all(torch.equal(w1[k], v) for k, v in model.state_dict().items())


class _NaNNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.mean((2, 3))) * float("nan")


def test_nan_model_diverges_with_epoch_step_and_loss() -> None:
    x, y = separable(32)
    with pytest.raises(TrainingDiverged, match=r"became nan at epoch 1, step 1 .*lr=0.05"):
        train(_NaNNet(), x, y, x, y, TrainConfig(epochs=1, **FAST), mean=MEAN, std=STD)


def test_huge_learning_rate_diverges() -> None:
    x, y = separable(64)
    with pytest.raises(TrainingDiverged, match=r"became (nan|inf|-inf) at epoch \d+, step \d+"):
        train(tiny(), x, y, x, y, TrainConfig(epochs=3, batch_size=16, device="cpu", lr=1e12, warmup=0.0),
              mean=MEAN, std=STD)


def test_on_epoch_may_stop_the_training() -> None:
    class Stop(Exception):
        pass

    calls = []

    def stop(epoch: int, accuracy: float) -> None:
        calls.append(epoch)
        raise Stop

    x, y = separable(32)
    with pytest.raises(Stop):
        train(tiny(), x, y, x, y, TrainConfig(epochs=3, **FAST), mean=MEAN, std=STD, on_epoch=stop)
    assert calls == [1]


def test_resizes_8x8_data_to_the_training_resolution() -> None:
    x, y = separable(48, side=8)
    model = tiny()
    shapes = set()
    model.register_forward_pre_hook(lambda m, args: shapes.add(tuple(args[0].shape[2:])))
    config = TrainConfig(epochs=1, resolution=16, crop_padding=2, **FAST)
    result = train(model, x, y, x, y, config, mean=MEAN, std=STD)
    assert shapes == {(16, 16)}
    shapes.clear()
    evaluate(model, x, y, config, mean=MEAN, std=STD)
    assert shapes == {(16, 16)} and len(result.val_accuracy) == 1


def test_drops_a_last_batch_of_one_image() -> None:
    x, y = separable(33)  # 2 batches of 16 and one of 1
    model = tiny()
    sizes = []
    model.register_forward_pre_hook(lambda m, args: sizes.append(len(args[0])) if m.training else None)
    train(model, x, y, x, y, TrainConfig(epochs=2, bn_recalibration=0, **FAST), mean=MEAN, std=STD)
    assert sizes == [16, 16, 16, 16]
    sizes.clear()
    train(model, x[:30], y[:30], x, y, TrainConfig(epochs=1, bn_recalibration=0, **FAST), mean=MEAN, std=STD)
    assert sizes == [16, 14]  # a last batch of two trains
    sizes.clear()
    train(model, x, y, x, y, TrainConfig(epochs=1, bn_recalibration=33, **FAST), mean=MEAN, std=STD)
    assert sizes == [16, 16] + [16, 16]  # the re-estimation leaves a single image out too


def test_batch_norm_statistics_are_re_estimated_before_evaluation() -> None:
    x, y = separable(96)
    torch.manual_seed(0)
    model = nas.build("net_bn_m0.0003 " + TINY, num_classes=3)  # MnasNet's momentum: running stats barely move
    train(model, x, y, x, y, TrainConfig(epochs=1, bn_recalibration=96, **FAST), mean=MEAN, std=STD)
    stem = model.features[0]
    assert stem.norm.momentum == pytest.approx(0.0003)
    with torch.no_grad():
        inputs = (x.float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
        features = stem.conv(inputs)  # 6 full batches of 16: the average of batch means is the mean
    torch.testing.assert_close(stem.norm.running_mean, features.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)

    torch.manual_seed(0)
    lagging = nas.build("net_bn_m0.0003 " + TINY, num_classes=3)
    train(lagging, x, y, x, y, TrainConfig(epochs=1, bn_recalibration=0, **FAST), mean=MEAN, std=STD)
    assert lagging.features[0].norm.running_mean.abs().max() < 0.01 * features.mean((0, 2, 3)).abs().max()


def test_evaluate_constant_model_gives_that_class_frequency() -> None:
    class Constant(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = torch.zeros(len(x), 4)
            logits[:, 2] = 1.0
            return logits

    y = torch.tensor([0, 2, 2, 1, 3, 2, 0, 2, 2, 1, 1])
    x = torch.zeros(len(y), 1, 4, 4, dtype=torch.uint8)
    accuracy = evaluate(Constant(), x, y, TrainConfig(device="cpu"), mean=[0.5], std=[0.5], batch_size=3)
    assert accuracy == pytest.approx(5 / 11)


def test_augmentation_is_a_crop_of_the_padded_image_and_a_flip() -> None:
    x = torch.randint(0, 256, (64, 2, 6, 5), dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    plain = _Batches(x.shape, TrainConfig(crop_padding=0, flip=False, channels_last=False), torch.device("cpu"),
                     [0.0, 0.0], [1 / 255, 1 / 255])
    assert torch.equal(plain(x), x.float())
    rows, cols = plain.epoch_indices(len(x), g)
    assert torch.equal(plain.augment(x, rows, cols), x.float())

    batches = _Batches(x.shape, TrainConfig(crop_padding=2, flip=True).resolved(), torch.device("cpu"), [0.0, 0.0],
                       [1 / 255, 1 / 255])
    rows, cols = batches.epoch_indices(len(x), g)
    out = batches.augment(x, rows, cols)
    assert out.shape == x.shape and out.is_contiguous(memory_format=torch.channels_last)
    padded = torch.nn.functional.pad(x.float(), (2, 2, 2, 2))
    windows = {(dy, dx, f) for dy in range(5) for dx in range(5) for f in (False, True)}
    used = set()
    for image, out_image in zip(padded, out):
        match = [(dy, dx, f) for dy, dx, f in windows
                 if torch.equal(image[:, dy:dy + 6, dx:dx + 5].flip(2) if f else image[:, dy:dy + 6, dx:dx + 5],
                                out_image)]
        assert match, "every augmented image is a flipped or unflipped window of the padded image"
        used.update(match)
    assert {f for _, _, f in used} == {False, True} and len({(dy, dx) for dy, dx, _ in used}) > 5


def test_schedules_warm_up_then_decay() -> None:
    for schedule in ("onecycle", "cosine"):
        lrs = _schedule(TrainConfig(lr=0.2, warmup=0.25, schedule=schedule), 20)
        assert len(lrs) == 20 and max(lrs) == pytest.approx(0.2) and lrs.index(max(lrs)) == 4
        assert lrs[:5] == sorted(lrs[:5]) and lrs[4:] == sorted(lrs[4:], reverse=True)
        assert 0 < lrs[0] < 0.2 and 0 < lrs[-1] < 0.05
    assert _schedule(TrainConfig(lr=0.1, warmup=0.0), 4) == pytest.approx([0.1, 0.075, 0.05, 0.025])


def test_config_round_trips_through_json() -> None:
    config = TrainConfig(epochs=4, lr=1, resolution=24, amp=False)
    data = json.loads(json.dumps(config.to_dict()))
    assert TrainConfig(**data) == config and isinstance(config.lr, float)


@pytest.mark.parametrize(("field", "value", "error"), [
    ("epochs", 0, ValueError), ("epochs", 2.0, TypeError), ("batch_size", 1, ValueError),
    ("lr", 0.0, ValueError), ("lr", float("nan"), ValueError), ("lr", "0.1", TypeError),
    ("momentum", 1.0, ValueError), ("weight_decay", -1e-4, ValueError), ("label_smoothing", 1.0, ValueError),
    ("schedule", "step", ValueError), ("warmup", 1.0, ValueError), ("resolution", 0, ValueError),
    ("crop_padding", -1, ValueError), ("flip", 1, TypeError), ("device", "tpu", ValueError),
    ("threads", 0, ValueError), ("channels_last", "yes", TypeError), ("amp", 0, TypeError),
    ("seed", -1, ValueError), ("epochs", True, TypeError), ("bn_recalibration", -1, ValueError),
])
def test_config_validation_names_field_and_value(field: str, value: object, error: type) -> None:
    with pytest.raises(error, match=rf"^{field}={value!r}".replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**{field: value})


def test_auto_settings_resolve_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    auto = TrainConfig().resolved()
    assert (auto.device, auto.channels_last, auto.amp) == ("cpu", True, False)  # channels-last measured faster
    explicit = TrainConfig(device="cpu", channels_last=False, amp=True).resolved()
    assert (explicit.channels_last, explicit.amp) == (False, True)
    with pytest.raises(ValueError, match="device='cuda' but CUDA is not available"):
        TrainConfig(device="cuda").resolved()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    gpu = TrainConfig().resolved()
    assert (gpu.device, gpu.channels_last, gpu.amp) == ("cuda", True, True)


def test_threads_are_set_for_the_run_and_restored() -> None:
    x, y = separable(32)
    before = torch.get_num_threads()
    inside = []
    train(tiny(), x, y, x, y, TrainConfig(epochs=1, threads=1, **FAST), mean=MEAN, std=STD,
          on_epoch=lambda e, a: inside.append(torch.get_num_threads()))
    assert inside == [1] and torch.get_num_threads() == before


def test_bad_inputs_say_what_to_give() -> None:
    x, y = separable(16)
    with pytest.raises(TypeError, match="uint8 N×C×H×W"):
        train(tiny(), x.float(), y, x, y, TrainConfig(**FAST), mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="one value per channel"):
        train(tiny(), x, y, x, y, TrainConfig(**FAST), mean=[0.5], std=[0.5])
    with pytest.raises(ValueError, match="16 images but 15 labels"):
        train(tiny(), x, y[:15], x, y, TrainConfig(**FAST), mean=MEAN, std=STD)


def test_cpu_autocast_when_asked() -> None:
    x, y = separable(32)
    result = train(tiny(), x, y, x, y, TrainConfig(epochs=1, amp=True, **FAST), mean=MEAN, std=STD)
    assert len(result.val_accuracy) == 1 and result.train_loss[0] == result.train_loss[0]  # bf16, finite


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_with_amp_learns() -> None:  # pragma: no cover - CPU machines
    x, y = separable(192)
    result = train(tiny(), x, y, x, y, TrainConfig(epochs=3, batch_size=16, lr=0.05, device="cuda"),
                   mean=MEAN, std=STD)
    assert result.device.startswith("cuda") and result.val_accuracy[-1] >= 0.9
