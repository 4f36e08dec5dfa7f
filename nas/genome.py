"""The genome: one immutable, canonical description of a CNN architecture.

A :class:`Genome` is what a search space samples, what :func:`nas.build` turns into a network, what
:func:`nas.count` prices before any training, and what reports print and exports write out. It is a
frozen dataclass of primitives: hashable, equal by value, and canonical (fields that cannot change the
network are reset, so two genomes that build the same network are equal).

Grammar of the string form (``str(genome)`` and :meth:`Genome.parse`)
--------------------------------------------------------------------
A genome string is a sequence of *groups* separated by spaces. Each group is a kind followed by
tokens, joined by ``_``; a token is a key and its value written together (``k3``, ``c24``), except
activations, which are written by name (``relu6``). Tokens may come in any order; ``str`` writes them
in the order below and leaves out those equal to their default. ``*N`` after a group repeats it N times
(identical consecutive blocks are written that way).

``net_...`` (first group, optional) -- settings of the whole network:
    ``bn``            batch normalisation (default); ``eps<float>`` (default 1e-05) and
                      ``m<float>``, its running-average momentum (default 0.1), may follow.
    ``gn<G>``         group normalisation with G groups; ``eps<float>`` may follow.
    ``ln``            layer normalisation (over channels, height and width: GroupNorm with 1 group).
    ``in``            instance normalisation (per channel: GroupNorm with one group per channel).
    ``nonorm``        no normalisation; convolutions then carry a bias.
    ``sd<float>``     stochastic depth: the residual branch of inverted-residual block i of n
                      (counted from 0) is dropped with probability ``sd * i / n`` in training
                      (EfficientNet's rule). Default 0.

``conv_...`` -- convolution, normalisation, activation (a stem, or a plain layer):
    ``c<int>``        output channels (required).
    ``k<int>``        kernel size (default 3). ``sep`` makes it spatially separable: a k×1
                      convolution followed by a 1×k one.
    ``s<int>``        stride (default 1).        ``d<int>``  dilation (default 1).
    ``g<int>``        groups (default 1); groups equal to the channels make it depthwise.
    activation name   (default ``relu``).

``ds_...`` -- depthwise-separable convolution (MobileNetV1): a depthwise k×k convolution, norm and
activation, then a pointwise 1×1 convolution, norm and activation. Keys: ``c k s d sep``, activation.

``ir_...`` -- inverted residual / MBConv (MobileNetV2, MnasNet, MobileNetV3, EfficientNet): a 1×1
expansion to ``x`` channels (left out when ``x`` equals the input channels), a depthwise k×k
convolution, optional squeeze-and-excitation, and a linear 1×1 projection to ``c`` channels; the input
is added back when stride is 1 and input and output channels agree. Keys:
    ``c<int>``        output channels (required).   ``x<int>``  expanded channels (required).
    ``k s d sep``     of the depthwise convolution, as for ``conv``.
    activation name   after the expansion and the depthwise convolution (default ``relu``).
    ``se<int>``       squeeze-and-excitation with that many squeezed channels; written
                      ``se<int>.<act>.<gate>`` when its activation is not ``relu`` or its gate not
                      ``sigmoid`` (for example ``se24.relu.hardsigmoid`` in MobileNetV3).

``head_...`` (last group, required) -- the classifier: an optional 1×1 convolution (with norm and
activation) to a wide feature, global average pooling, an optional hidden linear layer, dropout, and
the final linear classifier (its width is ``num_classes``, chosen when building):
    ``c<int>``        width of the 1×1 convolution (default 0: none).
    activation name   of that convolution (default ``relu``; none without it).
    ``h<int>``        width of the hidden linear layer (default 0: none); ``h<int>.<act>`` gives its
                      activation (default: the head's activation).
    ``d<float>``      dropout before the classifier (default 0).

Activations: ``relu relu6 hardswish silu gelu sigmoid tanh none``. Gates (squeeze-and-excitation):
``sigmoid hardsigmoid``.

Example (MobileNetV2, abridged)::

    net_bn conv_k3_s2_c32_relu6 ir_c16_x32_relu6 ir_s2_c24_x96_relu6 ir_c24_x144_relu6 ...
    head_c1280_relu6_d0.2
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

__all__ = [
    "ACTIVATIONS",
    "GATES",
    "NORMS",
    "Conv",
    "DepthwiseSeparable",
    "InvertedResidual",
    "SqueezeExcite",
    "Head",
    "Norm",
    "Genome",
    "Block",
    "make_divisible",
    "as_genome",
]

ACTIVATIONS = ("relu", "relu6", "hardswish", "silu", "gelu", "sigmoid", "tanh", "none")
GATES = ("sigmoid", "hardsigmoid")
NORMS = ("batch", "group", "layer", "instance", "none")


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never more than 10% below it.

    The rule of the TensorFlow MobileNet code, used by torchvision's MobileNets, MnasNet and
    EfficientNet to derive channel counts from width multipliers.
    """
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


# ----------------------------------------------------------------------------------------------
# validation helpers: TypeError for a wrong type, ValueError for a wrong value, value in message


def _check_int(owner: str, name: str, value: Any, *, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{owner}.{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{owner}.{name}={value} must be >= {minimum}")


def _check_float(owner: str, name: str, value: Any, *, low: float, high: float, high_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}.{name} must be a float, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not (low <= value < high if high_open else low <= value <= high) or math.isnan(value):
        bracket = ")" if high_open else "]"
        raise ValueError(f"{owner}.{name}={value} must be in [{low}, {high}{bracket}")
    return value


def _check_choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{owner}.{name}={value!r} is not one of {', '.join(choices)}")


# ----------------------------------------------------------------------------------------------
# genes


@dataclass(frozen=True)
class SqueezeExcite:
    """Squeeze-and-excitation (Hu et al., 2018): pool, 1×1 conv to ``channels``, ``act``, 1×1 conv
    back, ``gate``; the result scales the input channel-wise."""

    channels: int
    act: str = "relu"
    gate: str = "sigmoid"

    def __post_init__(self) -> None:
        _check_int("SqueezeExcite", "channels", self.channels)
        _check_choice("SqueezeExcite", "act", self.act, ACTIVATIONS)
        _check_choice("SqueezeExcite", "gate", self.gate, GATES)


@dataclass(frozen=True)
class _Spatial:
    """Fields shared by every block with a k×k (possibly separable) convolution."""

    out: int
    kernel: int = 3
    stride: int = 1
    dilation: int = 1
    separable: bool = False
    act: str = "relu"

    kind: ClassVar[str] = ""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_int(owner, "out", self.out)
        _check_int(owner, "kernel", self.kernel)
        _check_int(owner, "stride", self.stride)
        _check_int(owner, "dilation", self.dilation)
        if not isinstance(self.separable, bool):
            raise TypeError(f"{owner}.separable must be a bool, got {self.separable!r}")
        _check_choice(owner, "act", self.act, ACTIVATIONS)
        if self.kernel == 1:
            # a 1×1 kernel has nothing to separate or dilate: keep one encoding of that network
            object.__setattr__(self, "separable", False)
            object.__setattr__(self, "dilation", 1)


@dataclass(frozen=True)
class Conv(_Spatial):
    """Convolution, normalisation, activation (``torchvision.ops.Conv2dNormActivation``)."""

    groups: int = 1
    kind: ClassVar[str] = "conv"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("Conv", "groups", self.groups)


@dataclass(frozen=True)
class DepthwiseSeparable(_Spatial):
    """Depthwise k×k convolution then pointwise 1×1 convolution, each with norm and activation
    (MobileNetV1, Howard et al., 2017)."""

    kind: ClassVar[str] = "ds"


@dataclass(frozen=True)
class InvertedResidual(_Spatial):
    """Inverted residual with linear bottleneck, MBConv (MobileNetV2, Sandler et al., 2018; with
    squeeze-and-excitation as in MnasNet, MobileNetV3 and EfficientNet)."""

    expanded: int = 0
    se: SqueezeExcite | None = None
    kind: ClassVar[str] = "ir"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("InvertedResidual", "expanded", self.expanded)
        if self.se is not None and not isinstance(self.se, SqueezeExcite):
            raise TypeError(f"InvertedResidual.se must be a SqueezeExcite or None, got {self.se!r}")


Block = Union[Conv, DepthwiseSeparable, InvertedResidual]
BLOCK_TYPES: dict[str, type] = {cls.kind: cls for cls in (Conv, DepthwiseSeparable, InvertedResidual)}


@dataclass(frozen=True)
class Head:
    """Classifier head: optional 1×1 conv to ``width`` (norm, ``act``), global average pooling,
    optional hidden linear layer of ``hidden`` units (``hidden_act``), dropout, linear classifier."""

    width: int = 0
    act: str = "relu"
    hidden: int = 0
    hidden_act: str = ""
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _check_int("Head", "width", self.width, minimum=0)
        _check_int("Head", "hidden", self.hidden, minimum=0)
        _check_choice("Head", "act", self.act, ACTIVATIONS)
        hidden_act = self.hidden_act or self.act
        _check_choice("Head", "hidden_act", hidden_act, ACTIVATIONS)
        dropout = _check_float("Head", "dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        # canonical form: genes that cannot change the network take their defaults
        act = self.act if self.width else "relu"
        if not self.hidden:
            hidden_act = "relu"
        object.__setattr__(self, "act", act)
        object.__setattr__(self, "hidden_act", hidden_act)
        object.__setattr__(self, "dropout", dropout)


@dataclass(frozen=True)
class Norm:
    """Normalisation used after every convolution: ``kind`` in :data:`NORMS`, its ``eps``, the
    running-average ``momentum`` (batch norm only) and ``groups`` (group norm only)."""

    kind: str = "batch"
    eps: float = 1e-5
    momentum: float = 0.1
    groups: int = 0

    def __post_init__(self) -> None:
        _check_choice("Norm", "kind", self.kind, NORMS)
        eps = _check_float("Norm", "eps", self.eps, low=0.0, high=1.0, high_open=True)
        momentum = _check_float("Norm", "momentum", self.momentum, low=0.0, high=1.0, high_open=False)
        if eps <= 0 and self.kind != "none":
            raise ValueError(f"Norm.eps={eps} must be > 0")
        if self.kind == "group":
            _check_int("Norm", "groups", self.groups)
        elif self.groups:
            raise ValueError(f"Norm.groups={self.groups} only applies to kind='group', not {self.kind!r}")
        if self.kind == "group" and self.groups == 1:
            object.__setattr__(self, "kind", "layer")  # GroupNorm with one group is layer norm
            object.__setattr__(self, "groups", 0)
        if self.kind != "batch":
            momentum = 0.1
        if self.kind == "none":
            eps = 1e-5
        object.__setattr__(self, "eps", eps)
        object.__setattr__(self, "momentum", momentum)


@dataclass(frozen=True)
class Genome:
    """A CNN architecture: ``blocks`` (the feature extractor, in order), the ``head``, the network-wide
    ``norm`` and the stochastic-depth rate ``drop_path``. See the module docstring for the grammar.

    Example:
        >>> g = Genome.parse("conv_k3_s2_c16_hardswish ir_c16_x64_se16_relu head_c64_d0.1")
        >>> Genome.parse(str(g)) == g
        True
    """

    blocks: tuple[Block, ...]
    head: Head = field(default_factory=Head)
    norm: Norm = field(default_factory=Norm)
    drop_path: float = 0.0

    def __post_init__(self) -> None:
        blocks = self.blocks
        if isinstance(blocks, list):
            blocks = tuple(blocks)
        if not isinstance(blocks, tuple):
            raise TypeError(f"Genome.blocks must be a tuple of blocks, got {type(blocks).__name__}")
        if not blocks:
            raise ValueError("Genome.blocks is empty: a network needs at least one block")
        for i, block in enumerate(blocks):
            if type(block) not in BLOCK_TYPES.values():
                raise TypeError(f"Genome.blocks[{i}] must be one of {', '.join(BLOCK_TYPES)}, got {block!r}")
        if not isinstance(self.head, Head):
            raise TypeError(f"Genome.head must be a Head, got {self.head!r}")
        if not isinstance(self.norm, Norm):
            raise TypeError(f"Genome.norm must be a Norm, got {self.norm!r}")
        drop_path = _check_float("Genome", "drop_path", self.drop_path, low=0.0, high=1.0, high_open=True)
        if not _drops_paths(blocks):
            drop_path = 0.0  # no residual branch it could drop: the rate cannot change the network
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "drop_path", drop_path)

    def channels(self, in_channels: int = 3) -> tuple[int, ...]:
        """The input channels of each block for an image with ``in_channels`` channels, after checking
        what only the channel flow can tell: groups that divide the channels, group-norm groups."""
        _check_int("build/count argument", "in_channels", in_channels)
        result = []
        for i, block in enumerate(self.blocks):
            result.append(in_channels)
            normed = [block.out]
            if isinstance(block, Conv) and (in_channels % block.groups or block.out % block.groups):
                raise ValueError(f"block {i} ({_format_block(block)}): groups={block.groups} must divide "
                                 f"in_channels={in_channels} and out_channels={block.out}")
            if isinstance(block, DepthwiseSeparable):
                normed.append(in_channels)
            if isinstance(block, InvertedResidual):
                normed.append(block.expanded)
            if self.norm.kind == "group":
                for channels in normed:
                    if channels % self.norm.groups:
                        raise ValueError(f"block {i} ({_format_block(block)}): group norm with "
                                         f"groups={self.norm.groups} must divide its {channels} channels")
            in_channels = block.out
        if self.norm.kind == "group" and self.head.width % self.norm.groups:
            raise ValueError(f"head: group norm with groups={self.norm.groups} must divide its "
                             f"{self.head.width} channels")
        return tuple(result)

    # -- string form ---------------------------------------------------------------------------

    def __str__(self) -> str:
        net = _format_net(self)
        groups = [net] if net != "net_bn" else []
        run: list[str] = []
        for block in self.blocks:
            text = _format_block(block)
            if run and run[-1].split("*")[0] == text:
                n = int(run[-1].split("*")[1]) if "*" in run[-1] else 1
                run[-1] = f"{text}*{n + 1}"
            else:
                run.append(text)
        return " ".join(groups + run + [_format_head(self.head)])

    @classmethod
    def parse(cls, text: str) -> Genome:
        """Parse the string form (see the module docstring). Raises ``ValueError`` naming the bad
        token and the whole string."""
        if not isinstance(text, str):
            raise TypeError(f"Genome.parse expects a str, got {type(text).__name__}")
        return _Parser(text).parse()

    # -- JSON ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` inverts it."""
        blocks = []
        for block in self.blocks:
            entry = {"type": block.kind, **dataclasses.asdict(block)}
            blocks.append(entry)
        return {
            "format": "nas.genome/1",
            "norm": dataclasses.asdict(self.norm),
            "drop_path": self.drop_path,
            "blocks": blocks,
            "head": dataclasses.asdict(self.head),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Genome:
        if not isinstance(data, dict):
            raise TypeError(f"Genome.from_dict expects a dict, got {type(data).__name__}")
        if data.get("format") != "nas.genome/1":
            raise ValueError(f"unknown genome format {data.get('format')!r}; expected 'nas.genome/1'")
        blocks = []
        for i, entry in enumerate(data["blocks"]):
            entry = dict(entry)
            kind = entry.pop("type", None)
            if kind not in BLOCK_TYPES:
                raise ValueError(f"blocks[{i}] has type {kind!r}; known types: {', '.join(BLOCK_TYPES)}")
            if entry.get("se") is not None:
                entry["se"] = SqueezeExcite(**entry["se"])
            blocks.append(BLOCK_TYPES[kind](**entry))
        return cls(
            blocks=tuple(blocks),
            head=Head(**data["head"]),
            norm=Norm(**data["norm"]),
            drop_path=data["drop_path"],
        )

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> Genome:
        return cls.from_dict(json.loads(text))


def as_genome(genome: Genome | str) -> Genome:
    """``genome`` itself, or the genome its string form describes."""
    if isinstance(genome, str):
        return Genome.parse(genome)
    if not isinstance(genome, Genome):
        raise TypeError(f"expected a nas.Genome or a genome string, got {type(genome).__name__}")
    return genome


def _drops_paths(blocks: tuple[Block, ...]) -> bool:
    """Whether stochastic depth can act: some inverted-residual block after the first (the first gets
    rate 0) has a residual branch (stride 1, same channels in and out)."""
    seen_first = False
    for previous, block in zip((None, *blocks), blocks):
        if isinstance(block, InvertedResidual):
            if seen_first and block.stride == 1 and previous.out == block.out:
                return True
            seen_first = True
    return False


# ----------------------------------------------------------------------------------------------
# formatting


def _num(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _format_net(genome: Genome) -> str:
    norm = genome.norm
    tokens = ["net", {"batch": "bn", "group": f"gn{norm.groups}", "layer": "ln", "instance": "in",
                      "none": "nonorm"}[norm.kind]]
    if norm.eps != 1e-5:
        tokens.append(f"eps{_num(norm.eps)}")
    if norm.momentum != 0.1:
        tokens.append(f"m{_num(norm.momentum)}")
    if genome.drop_path:
        tokens.append(f"sd{_num(genome.drop_path)}")
    return "_".join(tokens)


def _format_block(block: Block) -> str:
    tokens = [block.kind]
    if block.kernel != 3:
        tokens.append(f"k{block.kernel}")
    if block.separable:
        tokens.append("sep")
    if block.stride != 1:
        tokens.append(f"s{block.stride}")
    if block.dilation != 1:
        tokens.append(f"d{block.dilation}")
    if isinstance(block, Conv) and block.groups != 1:
        tokens.append(f"g{block.groups}")
    tokens.append(f"c{block.out}")
    if isinstance(block, InvertedResidual):
        tokens.append(f"x{block.expanded}")
        if block.se is not None:
            se = block.se
            extra = "" if (se.act, se.gate) == ("relu", "sigmoid") else f".{se.act}.{se.gate}"
            tokens.append(f"se{se.channels}{extra}")
    tokens.append(block.act)
    return "_".join(tokens)


def _format_head(head: Head) -> str:
    tokens = ["head"]
    if head.width:
        tokens += [f"c{head.width}", head.act]
    if head.hidden:
        tokens.append(f"h{head.hidden}" + ("" if head.hidden_act == head.act else f".{head.hidden_act}"))
    if head.dropout:
        tokens.append(f"d{_num(head.dropout)}")
    return "_".join(tokens)


# ----------------------------------------------------------------------------------------------
# parsing

_INT = re.compile(r"[0-9]+")
_FLOAT = re.compile(r"[0-9]*\.?[0-9]+(e-?[0-9]+)?")
_KEY = re.compile(r"([a-z]+)(.*)")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, token: str, why: str) -> ValueError:
        return ValueError(f"bad token {token!r} in genome string {self.text!r}: {why}")

    def integer(self, token: str, value: str) -> int:
        if not _INT.fullmatch(value):
            raise self.error(token, f"expected a whole number after the key, got {value!r}")
        return int(value)

    def number(self, token: str, value: str) -> float:
        if not _FLOAT.fullmatch(value):
            raise self.error(token, f"expected a number after the key, got {value!r}")
        return float(value)

    def build(self, token: str, factory: Any, **kwargs: Any) -> Any:
        try:
            return factory(**kwargs)
        except (TypeError, ValueError) as exc:
            raise self.error(token, str(exc)) from None

    def parse(self) -> Genome:
        groups = self.text.split()
        if not groups:
            raise ValueError(f"empty genome string {self.text!r}: expected blocks and a head group")
        net: dict[str, Any] = {"norm": Norm(), "drop_path": 0.0}
        blocks: list[Block] = []
        head: Head | None = None
        for index, group in enumerate(groups):
            body, star, repeat = group.partition("*")
            times = 1
            if star:
                if not _INT.fullmatch(repeat) or int(repeat) < 1:
                    raise self.error(group, f"a repeat must be '*' and a positive whole number, got {repeat!r}")
                times = int(repeat)
            kind = body.split("_")[0]
            if head is not None:
                raise self.error(group, "nothing may follow the head group")
            if kind == "net":
                if index != 0 or times != 1:
                    raise self.error(group, "the net group comes once, first")
                net = self.net(body)
            elif kind == "head":
                if times != 1:
                    raise self.error(group, "the head group cannot be repeated")
                head = self.head(body)
            elif kind in BLOCK_TYPES:
                blocks.extend([self.block(body, kind)] * times)
            else:
                known = ", ".join(["net", *BLOCK_TYPES, "head"])
                raise self.error(group, f"unknown group kind {kind!r}; known kinds: {known}")
        if head is None:
            raise ValueError(f"genome string {self.text!r} has no head group (for example 'head_c1280_d0.2')")
        if not blocks:
            raise ValueError(f"genome string {self.text!r} has no blocks before the head")
        return Genome(blocks=tuple(blocks), head=head, **net)

    def tokens(self, body: str) -> list[str]:
        tokens = body.split("_")[1:]
        if any(not t for t in tokens):
            raise self.error(body, "empty token (doubled or trailing '_')")
        return tokens

    def net(self, body: str) -> dict[str, Any]:
        names = {"bn": "batch", "gn": "group", "ln": "layer", "in": "instance", "nonorm": "none"}
        norm: dict[str, Any] = {}
        drop_path = 0.0
        seen: set[str] = set()
        for token in self.tokens(body):
            key, value = self.key_value(token)
            slot = "norm" if key in names else key
            if slot in seen:
                raise self.error(token, "given twice")
            seen.add(slot)
            if key in names:
                norm["kind"] = names[key]
                if key == "gn":
                    norm["groups"] = self.integer(token, value)
                elif value:
                    raise self.error(token, f"{key!r} takes no value")
            elif key == "eps":
                norm["eps"] = self.number(token, value)
            elif key == "m":
                norm["momentum"] = self.number(token, value)
            elif key == "sd":
                drop_path = self.build(token, _check_float, owner="Genome", name="drop_path",
                                       value=self.number(token, value), low=0.0, high=1.0, high_open=True)
            else:
                raise self.error(token, "unknown key in the net group; known: bn, gn<G>, ln, in, nonorm, "
                                        "eps<float>, m<float>, sd<float>")
        return {"norm": self.build(body, Norm, **norm), "drop_path": drop_path}

    def block(self, body: str, kind: str) -> Block:
        cls = BLOCK_TYPES[kind]
        keys = {"k": "kernel", "s": "stride", "d": "dilation", "c": "out"}
        if cls is Conv:
            keys["g"] = "groups"
        if cls is InvertedResidual:
            keys["x"] = "expanded"
        kwargs: dict[str, Any] = {}
        for token in self.tokens(body):
            name, value = self.key_value(token)
            if token in ACTIVATIONS:
                field_name, parsed = "act", token
            elif token == "sep":
                field_name, parsed = "separable", True
            elif name == "se" and cls is InvertedResidual:
                field_name, parsed = "se", self.squeeze_excite(token, value)
            elif name in keys:
                field_name, parsed = keys[name], self.integer(token, value)
            else:
                known = ", ".join([f"{k}<int>" for k in keys] + ["sep"] +
                                  (["se<int>[.act.gate]"] if cls is InvertedResidual else []) +
                                  ["an activation (" + " ".join(ACTIVATIONS) + ")"])
                raise self.error(token, f"unknown token for a {kind} block; known: {known}")
            if field_name in kwargs:
                raise self.error(token, "given twice")
            kwargs[field_name] = parsed
        for required in ("out",) + (("expanded",) if cls is InvertedResidual else ()):
            if required not in kwargs:
                key = {v: k for k, v in keys.items()}[required]
                raise self.error(body, f"a {kind} block needs '{key}<int>' ({required})")
        return self.build(body, cls, **kwargs)

    def squeeze_excite(self, token: str, value: str) -> SqueezeExcite:
        parts = value.split(".")
        if len(parts) not in (1, 3):
            raise self.error(token, "squeeze-and-excitation is 'se<int>' or 'se<int>.<act>.<gate>'")
        kwargs: dict[str, Any] = {"channels": self.integer(token, parts[0])}
        if len(parts) == 3:
            kwargs["act"], kwargs["gate"] = parts[1], parts[2]
        return self.build(token, SqueezeExcite, **kwargs)

    def head(self, body: str) -> Head:
        kwargs: dict[str, Any] = {}
        for token in self.tokens(body):
            name, value = self.key_value(token)
            if token in ACTIVATIONS:
                field_name, parsed = "act", token
            elif name == "c":
                field_name, parsed = "width", self.integer(token, value)
            elif name == "h":
                width, _, act = value.partition(".")
                if act:
                    if "hidden_act" in kwargs:
                        raise self.error(token, "given twice")
                    kwargs["hidden_act"] = act
                field_name, parsed = "hidden", self.integer(token, width)
            elif name == "d":
                field_name, parsed = "dropout", self.number(token, value)
            else:
                raise self.error(token, "unknown token for the head; known: c<int>, h<int>[.act], "
                                        "d<float>, an activation (" + " ".join(ACTIVATIONS) + ")")
            if field_name in kwargs:
                raise self.error(token, "given twice")
            kwargs[field_name] = parsed
        if "act" in kwargs and not kwargs.get("width"):
            raise self.error(body, "an activation in the head needs its 1×1 convolution 'c<int>'")
        return self.build(body, Head, **kwargs)

    @staticmethod
    def key_value(token: str) -> tuple[str, str]:
        match = _KEY.fullmatch(token)
        return (match.group(1), match.group(2)) if match else ("", token)
