"""Layer factories: the genome names an activation or a normalisation, these make the module."""

from __future__ import annotations

from typing import Callable

from torch import nn

from .genome import ACTIVATIONS, GATES, Norm

__all__ = ["make_activation", "make_gate", "make_norm"]

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    "hardswish": lambda: nn.Hardswish(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "none": nn.Identity,
}
_GATES: dict[str, Callable[[], nn.Module]] = {"sigmoid": nn.Sigmoid, "hardsigmoid": nn.Hardsigmoid}
assert tuple(_ACTIVATIONS) == ACTIVATIONS and tuple(_GATES) == GATES


def make_activation(name: str) -> nn.Module:
    """The activation called ``name`` (one of :data:`nas.genome.ACTIVATIONS`); ``"none"`` is Identity."""
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}") from None


def make_gate(name: str) -> nn.Module:
    """The squeeze-and-excitation gate called ``name`` (``sigmoid`` or ``hardsigmoid``)."""
    try:
        return _GATES[name]()
    except KeyError:
        raise ValueError(f"unknown gate {name!r}; known: {', '.join(GATES)}") from None


def make_norm(norm: Norm, channels: int) -> nn.Module:
    """The normalisation ``norm`` over ``channels`` feature maps; Identity for ``kind="none"``.

    Layer and instance normalisation are GroupNorm with one group, and with one group per channel:
    the same statistics as ``LayerNorm`` over (C, H, W) and ``InstanceNorm2d(affine=True)``, with no
    dependence on the resolution and no error on 1×1 maps.
    """
    if norm.kind == "batch":
        return nn.BatchNorm2d(channels, eps=norm.eps, momentum=norm.momentum)
    if norm.kind == "group":
        return nn.GroupNorm(norm.groups, channels, eps=norm.eps)
    if norm.kind == "layer":
        return nn.GroupNorm(1, channels, eps=norm.eps)
    if norm.kind == "instance":
        return nn.GroupNorm(channels, channels, eps=norm.eps)
    return nn.Identity()
