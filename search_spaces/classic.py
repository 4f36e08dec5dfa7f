"""The ``classic`` space: plain convolution-and-pooling networks in the style of LeNet-5, AlexNet and ZFNet.

A network is a template of plain layers, no residual connections:

1. a first convolution with a large kernel (5, 7 or 11), stride 1, 2 or 4 and padding 0, 1 or 2;
2. local pooling (max or average, window 2 or 3, stride 2, output size rounded down or up);
3. a second convolution (kernel 3 or 5, stride 1 or 2, padding "same" or none); the first two
   convolutions stride at most 4 together (AlexNet's 4 × 1, ZFNet's 2 × 2), so after a stride-4 first
   convolution the second has stride 1 whatever its stride gene says;
4. the same pooling;
5. a third stage of 0 to 3 convolutions (per slot its kernel, 3 or 5, and its width; the first may be
   unpadded, the others keep "same" padding), followed by the same pooling or not;
6. the head: adaptive average pooling to 1×1 or 6×6, hidden linear layers (none, 84, 1024-1024 or
   4096-4096), dropout 0 or 0.5, before every hidden layer (AlexNet's order) or after each.

Activation (ReLU or tanh, also in the hidden layers), normalisation (none, as in every reference, or
batch norm) and pooling (mode, window and rounding) are network-wide, as they are in the references.

Dimensions (Optuna parameters, suggested in this order): ``norm``, ``act``, ``pool_mode``,
``pool_kernel``, ``pool_ceil``; ``conv1_kernel``, ``conv1_stride``, ``conv1_padding``, ``conv1_width``;
``conv2_kernel``, ``conv2_stride``, ``conv2_padding``, ``conv2_width``; ``s3_depth``, ``s3_b1_padding``,
``s3_b{j}_kernel`` and ``s3_b{j}_width`` for every slot j, ``s3_pool``; ``head_pool``,
``head_hidden`` (strings: ``"none"``, ``"84"``, ``"1024-1024"``, ``"4096-4096"``), ``head_dropout``,
``head_dropout_first``.

Parameter combinations that give the same network count once in :meth:`ClassicSpace.size` (the
genome canonicalises them): the second convolution's stride after a stride-4 first one (see 3.); the
genes of stage-3 slots beyond its depth; the final pooling of an empty third stage (there is nothing
to pool after, so it is not applied: two poolings in a row are not part of the template); and the
dropout order when there is no hidden layer or no dropout (:class:`nas.Head` resets it).

Validity: with the default choices every point of the space runs at the target resolution 224. The
smallest map arises from a stride-4, 11×11, unpadded first convolution, 3×3 pooling and an unpadded
5×5 second convolution: 224 → 54 → 26 → 22 → 10 after the second pooling. Three unpadded 5×5
convolutions there would leave no map (10 - 12 < 1), which is why only the first slot of the third
stage may be unpadded (LeNet-5 needs that one), and why a stride-2 second convolution needs a first
convolution of stride 2 at most; the worst point then needs 163×163 inputs. Small inputs do not fit
every point: AlexNet itself needs at least 63×63 (its third max-pooling would get
a 1×1 map at 32×32), and the worst points need 163×163, so check a genome with
:func:`nas.min_resolution` before training it on, say, 32×32 images.

References:

* ``alexnet`` -- torchvision's AlexNet, the single-tower variant of Krizhevsky, "One weird trick for
  parallelizing convolutional neural networks", 2014, after Krizhevsky, Sutskever & Hinton, "ImageNet
  Classification with Deep Convolutional Neural Networks", NeurIPS 2012. Reproduced parameter for
  parameter (61,100,840 parameters, 0.714 GMACs at 224×224).
* ``zfnet`` -- Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014,
  Figure 3: AlexNet with a 7×7 stride-2 first convolution (96 filters) and a 5×5 stride-2 second one
  (256), then 384, 384 and 256 filters, with torchvision AlexNet's head; see :func:`zfnet`.
* ``zfnet_512_1024_512`` -- the same paper's larger model (Section 5, Table 2: layers 3, 4 and 5
  with 512, 1024 and 512 maps), the ZFNet of most course notes.
* ``lenet5`` -- LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to Document
  Recognition", Proc. IEEE 1998, in its common modern form: full connectivity between C1 and C3,
  plain tanh, average pooling without trainable coefficients, a linear classifier instead of the
  RBF output. Made for 32×32 greyscale images: ``nas.build(lenet5(), in_channels=1, num_classes=10)``
  has LeNet-5's 61,706 parameters. torchvision has no LeNet, so it is not a torchvision member.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas import Conv, Genome, Head, Inverse, Norm, Pool, Space, register_space
from nas.genome import ACTIVATIONS, POOLS

__all__ = ["MAX_STEM_STRIDE", "ClassicSpace", "alexnet", "lenet5", "zfnet"]

# ----------------------------------------------------------------------------------------------
# recipes


def alexnet(dropout: float = 0.5) -> Genome:
    """torchvision's ``alexnet(dropout=...)``: five convolutions (no normalisation), three 3×3 stride-2
    max-poolings, 6×6 adaptive pooling and two 4096-wide hidden layers, dropout before each."""
    pool = Pool(mode="max", kernel=3, stride=2)
    blocks = (
        Conv(out=64, kernel=11, stride=4, padding=2), pool,
        Conv(out=192, kernel=5), pool,
        Conv(out=384), Conv(out=256), Conv(out=256), pool,
    )
    head = Head(pool=6, hidden=(4096, 4096), hidden_act="relu", dropout=dropout, dropout_first=True)
    return Genome(blocks=blocks, head=head, norm=Norm(kind="none"))


def zfnet(widths: tuple[int, int, int] = (384, 384, 256), dropout: float = 0.5) -> Genome:
    """ZFNet: Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014.

    Figure 3's network with ``widths=(384, 384, 256)`` (the default); ``(512, 1024, 512)`` gives the
    larger model of Section 5 (Table 2: layers 3, 4 and 5 with 512, 1024 and 512 maps), which is what
    most course notes call ZFNet (AlexNet with a 7×7 stride-2 conv1 and 512, 1024 and 512 filters in
    conv3-5; the paper's conv2 strides by 2 in both models). Layers: 96 filters 7×7 stride 2, 3×3
    stride-2 max pooling; 256 filters 5×5 stride 2, the same pooling; three 3×3 convolutions; the same
    pooling; two hidden layers of 4096 and the classifier.

    Figure 3's map sizes at 224×224 fix the padding and the rounding the paper leaves unsaid: 110×110×96
    after conv1 (padding 1), 55×55 after pooling, 26×26×256 after conv2 (no padding), 13×13 after
    pooling, 13×13 through conv3-5 ("same" padding) and 6×6×256 after the last pooling: the poolings
    round up (``ceil_mode``, as Caffe does; rounding down would give 54, 25, 12 and 5). The head is
    torchvision AlexNet's (6×6 adaptive pooling, dropout before each hidden layer), as in
    :func:`alexnet`. Left out, as torchvision's AlexNet leaves out AlexNet's: the contrast
    normalisation after the first two poolings. The paper states no parameter count: Figure 3's
    network has 62,357,608 parameters and makes 1.17 G multiply-adds at 224×224 (1000 classes), the
    512-1024-512 one 107,627,624 and 2.48 G (``tests/test_space_classic.py`` checks the map sizes and
    these counts).
    """
    pool = Pool(mode="max", kernel=3, stride=2, ceil=True)
    blocks = (
        Conv(out=96, kernel=7, stride=2, padding=1), pool,
        Conv(out=256, kernel=5, stride=2, padding=0), pool,
        *(Conv(out=width) for width in widths), pool,
    )
    head = Head(pool=6, hidden=(4096, 4096), hidden_act="relu", dropout=dropout, dropout_first=True)
    return Genome(blocks=blocks, head=head, norm=Norm(kind="none"))


def lenet5() -> Genome:
    """LeNet-5: three unpadded 5×5 tanh convolutions (6, 16, 120 channels), 2×2 average pooling after
    the first two, a hidden layer of 84 (tanh) and the classifier. Build it with ``in_channels=1``."""
    pool = Pool(mode="avg", kernel=2)
    blocks = (
        Conv(out=6, kernel=5, padding=0, act="tanh"), pool,
        Conv(out=16, kernel=5, padding=0, act="tanh"), pool,
        Conv(out=120, kernel=5, padding=0, act="tanh"),
    )
    return Genome(blocks=blocks, head=Head(hidden=(84,), hidden_act="tanh"), norm=Norm(kind="none"))


# ----------------------------------------------------------------------------------------------
# the space

_NORMS = {"none": Norm(kind="none"), "batch": Norm()}
_PADDINGS = ("same", "none")


def _padding(kernel: int, name: str) -> int:
    """The padding a named choice gives a kernel: "same" keeps the map size (stride 1), "none" is 0."""
    return (kernel - 1) // 2 if name == "same" else 0


#: the first two convolutions stride at most this much together (AlexNet's 4 × 1, ZFNet's 2 × 2): more
#: would leave no map at 224×224 for the template's smallest points
MAX_STEM_STRIDE = 4


def _conv2_stride(conv1_stride: int, conv2_stride: int) -> int:
    """The second convolution's stride: its gene when the two strides together stay within
    :data:`MAX_STEM_STRIDE`, else 1."""
    return conv2_stride if conv1_stride * conv2_stride <= MAX_STEM_STRIDE else 1


def _hidden_name(hidden: tuple[int, ...]) -> str:
    return "-".join(map(str, hidden)) if hidden else "none"


def _distinct_paddings(kernels: tuple[int, ...], paddings: tuple[str, ...]) -> int:
    """Distinct (kernel, padding) pairs: with a 1×1 kernel "same" and "none" are both 0."""
    return sum(len({_padding(k, name) for name in paddings}) for k in kernels)


class ClassicSpace(Space):
    """The LeNet/AlexNet space; every choice set can be replaced (tests use tiny ones).

    Args:
        name: the registry name.
        norms: network-wide normalisation, names among ``"none"`` and ``"batch"``.
        activations: network-wide activation (convolutions and hidden layers).
        pool_modes, pool_kernels, pool_ceils: the network-wide pooling (stride 2; output size rounded
            up when ceil is True).
        conv1_kernels, conv1_strides, conv1_paddings, conv1_widths: the first convolution.
        conv2_kernels, conv2_strides, conv2_paddings, conv2_widths: the second convolution; paddings are
            names, ``"same"`` or ``"none"``; its stride is at most ``MAX_STEM_STRIDE`` (4) over the first
            convolution's (else 1).
        s3_depths: how many convolutions the third stage may have (0 allowed).
        s3_kernels, s3_widths: per slot of the third stage.
        s3_first_paddings: padding names of the third stage's first convolution (the others keep
            "same" padding, so that unpadded layers cannot make the map vanish at 224×224).
        s3_pools: whether pooling follows the third stage (booleans).
        head_pools: sides of the head's adaptive average pooling.
        head_hidden: hidden-layer widths, one tuple per choice (``()`` for none).
        head_dropouts: dropout rates of the head.
        head_dropout_first: dropout before each hidden layer (``True``, AlexNet) or after.
        references: named genomes of the space (default: AlexNet, the two ZFNets and LeNet-5).

    Raises:
        ValueError: an empty choice set, a repeated choice, or a value the template cannot use.
    """

    description = "plain convolution-and-pooling networks: LeNet-5, AlexNet, ZFNet"
    target_resolution = 224

    def __init__(
        self,
        name: str = "classic",
        *,
        norms: tuple[str, ...] = ("none", "batch"),
        activations: tuple[str, ...] = ("relu", "tanh"),
        pool_modes: tuple[str, ...] = ("max", "avg"),
        pool_kernels: tuple[int, ...] = (2, 3),
        pool_ceils: tuple[bool, ...] = (False, True),
        conv1_kernels: tuple[int, ...] = (5, 7, 11),
        conv1_strides: tuple[int, ...] = (1, 2, 4),
        conv1_paddings: tuple[int, ...] = (0, 1, 2),
        conv1_widths: tuple[int, ...] = (6, 16, 32, 64, 96),
        conv2_kernels: tuple[int, ...] = (3, 5),
        conv2_strides: tuple[int, ...] = (1, 2),
        conv2_paddings: tuple[str, ...] = _PADDINGS,
        conv2_widths: tuple[int, ...] = (16, 64, 128, 192, 256),
        s3_depths: tuple[int, ...] = (0, 1, 2, 3),
        s3_kernels: tuple[int, ...] = (3, 5),
        s3_first_paddings: tuple[str, ...] = _PADDINGS,
        s3_widths: tuple[int, ...] = (120, 192, 256, 384, 512, 1024),
        s3_pools: tuple[bool, ...] = (False, True),
        head_pools: tuple[int, ...] = (1, 6),
        head_hidden: tuple[tuple[int, ...], ...] = ((), (84,), (1024, 1024), (4096, 4096)),
        head_dropouts: tuple[float, ...] = (0.0, 0.5),
        head_dropout_first: tuple[bool, ...] = (False, True),
        references: Mapping[str, Genome] | None = None,
    ) -> None:
        self.name = name
        self.norms, self.activations = tuple(norms), tuple(activations)
        self.pool_modes, self.pool_kernels = tuple(pool_modes), tuple(pool_kernels)
        self.pool_ceils = tuple(pool_ceils)
        self.conv1_kernels, self.conv1_strides = tuple(conv1_kernels), tuple(conv1_strides)
        self.conv1_paddings, self.conv1_widths = tuple(conv1_paddings), tuple(conv1_widths)
        self.conv2_kernels, self.conv2_paddings = tuple(conv2_kernels), tuple(conv2_paddings)
        self.conv2_strides = tuple(conv2_strides)
        self.conv2_widths = tuple(conv2_widths)
        self.s3_depths, self.s3_kernels = tuple(s3_depths), tuple(s3_kernels)
        self.s3_first_paddings, self.s3_widths = tuple(s3_first_paddings), tuple(s3_widths)
        self.s3_pools = tuple(s3_pools)
        self.head_pools = tuple(head_pools)
        self.head_hidden = tuple(tuple(h) for h in head_hidden)
        self.head_dropouts = tuple(float(d) for d in head_dropouts)
        self.head_dropout_first = tuple(head_dropout_first)
        self._check_choices()
        self._hidden = {_hidden_name(h): h for h in self.head_hidden}
        self._references = dict(references) if references is not None else {
            "alexnet": alexnet(),
            "zfnet": zfnet(),
            "zfnet_512_1024_512": zfnet((512, 1024, 512)),
            "lenet5": lenet5(),
        }

    def _check_choices(self) -> None:
        def check(name: str, values: tuple[Any, ...], ok: Any, what: str) -> None:
            if not values:
                raise ValueError(f"{name}=() is empty: give at least one choice")
            if len(set(values)) != len(values):
                raise ValueError(f"{name}={values} repeats a choice: give each once")
            bad = [v for v in values if not ok(v)]
            if bad:
                raise ValueError(f"{name}={values}: {bad[0]!r} is not {what}")

        def positive(v: Any, minimum: int = 1) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= minimum

        check("norms", self.norms, lambda v: v in _NORMS, f"one of {tuple(_NORMS)}")
        check("activations", self.activations, lambda v: v in ACTIVATIONS, f"one of {ACTIVATIONS}")
        check("pool_modes", self.pool_modes, lambda v: v in POOLS, f"one of {POOLS}")
        for name in ("pool_kernels", "conv1_kernels", "conv1_strides", "conv1_widths", "conv2_kernels",
                     "conv2_strides", "conv2_widths", "s3_kernels", "s3_widths", "head_pools"):
            check(name, getattr(self, name), positive, "a positive int")
        check("conv1_paddings", self.conv1_paddings, lambda v: positive(v, 0), "an int >= 0")
        for name in ("conv2_paddings", "s3_first_paddings"):
            check(name, getattr(self, name), lambda v: v in _PADDINGS, f"one of {_PADDINGS}")
        check("s3_depths", self.s3_depths, lambda v: positive(v, 0), "an int >= 0")
        for name in ("pool_ceils", "s3_pools", "head_dropout_first"):
            check(name, getattr(self, name), lambda v: isinstance(v, bool), "a bool")
        check("head_hidden", self.head_hidden, lambda h: all(positive(w) for w in h),
              "a tuple of positive widths")
        check("head_dropouts", self.head_dropouts, lambda v: 0.0 <= v < 1.0, "a rate in [0, 1)")


    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {
            "norm": self.norms,
            "act": self.activations,
            "pool_mode": self.pool_modes,
            "pool_kernel": self.pool_kernels,
            "pool_ceil": self.pool_ceils,
            "conv1_kernel": self.conv1_kernels,
            "conv1_stride": self.conv1_strides,
            "conv1_padding": self.conv1_paddings,
            "conv1_width": self.conv1_widths,
            "conv2_kernel": self.conv2_kernels,
            "conv2_stride": self.conv2_strides,
            "conv2_padding": self.conv2_paddings,
            "conv2_width": self.conv2_widths,
            "s3_depth": self.s3_depths,
        }
        for j in range(1, max(self.s3_depths) + 1):
            if j == 1:
                dims["s3_b1_padding"] = self.s3_first_paddings
            dims[f"s3_b{j}_kernel"] = self.s3_kernels
            dims[f"s3_b{j}_width"] = self.s3_widths
        dims["s3_pool"] = self.s3_pools
        dims["head_pool"] = self.head_pools
        dims["head_hidden"] = tuple(self._hidden)
        dims["head_dropout"] = self.head_dropouts
        dims["head_dropout_first"] = self.head_dropout_first
        return dims

    def genome_from_params(self, p: Mapping[str, Any]) -> Genome:
        act = p["act"]
        pool = Pool(mode=p["pool_mode"], kernel=p["pool_kernel"], stride=2, ceil=p["pool_ceil"])
        k2 = p["conv2_kernel"]
        blocks: list[Any] = [
            Conv(out=p["conv1_width"], kernel=p["conv1_kernel"], stride=p["conv1_stride"],
                 padding=p["conv1_padding"], act=act),
            pool,
            Conv(out=p["conv2_width"], kernel=k2, stride=_conv2_stride(p["conv1_stride"], p["conv2_stride"]),
                 padding=_padding(k2, p["conv2_padding"]), act=act),
            pool,
        ]
        depth = p["s3_depth"]
        for j in range(1, depth + 1):
            k = p[f"s3_b{j}_kernel"]
            padding = _padding(k, p["s3_b1_padding"] if j == 1 else "same")
            blocks.append(Conv(out=p[f"s3_b{j}_width"], kernel=k, padding=padding, act=act))
        if depth and p["s3_pool"]:  # an empty stage has nothing to pool after
            blocks.append(pool)
        head = Head(pool=p["head_pool"], hidden=self._hidden[p["head_hidden"]], hidden_act=act,
                    dropout=p["head_dropout"], dropout_first=p["head_dropout_first"])
        return Genome(blocks=tuple(blocks), head=head, norm=_NORMS[p["norm"]])

    # -- inverse ---------------------------------------------------------------------------------

    def to_params(self, genome: Genome) -> dict[str, Any]:
        inv = Inverse(self, genome)
        genome, put, fail, dims, p = inv.genome, inv.put, inv.fail, inv.dims, inv.params

        def put_padding(name: str, kernel: int, padding: int, where: str) -> None:
            names = [n for n in dims[name] if _padding(kernel, n) == padding]
            if not names:
                options = ", ".join(f"{n!r} = {_padding(kernel, n)}" for n in dims[name])
                raise fail(where, f"{name}: padding {padding} with a {kernel}×{kernel} kernel is none of "
                                  f"{options}")
            p[name] = names[0]

        norm = [key for key, value in _NORMS.items() if value == genome.norm]
        put("norm", norm[0] if norm else genome.norm, "net")
        blocks = genome.blocks

        def expect(i: int, cls: type, what: str) -> Any:
            if i >= len(blocks):
                raise fail(f"block {i}", f"the template needs {what} here, but the genome ends")
            if type(blocks[i]) is not cls:
                raise fail(f"block {i}", f"the template needs {what} here, got {blocks[i]}")
            return blocks[i]

        def conv(i: int, what: str, stride: bool = False) -> Conv:
            block = expect(i, Conv, what)
            if (block.groups, block.dilation, block.separable, block.shuffle, block.bias) != (1, 1, False, False,
                                                                                             False):
                raise fail(f"block {i}", f"only plain convolutions (no groups, dilation, separable kernel, "
                                         f"shuffle or bias before a norm) belong to this space, got {block}")
            if not stride and block.stride != 1:
                raise fail(f"block {i}", f"stride={block.stride}: only the first two convolutions stride")
            if i and block.act != p["act"]:
                raise fail(f"block {i}", f"activation {block.act!r} differs from the network-wide "
                                         f"{p['act']!r} of block 0")
            return block

        def pool(i: int) -> None:
            block = expect(i, Pool, "pooling")
            if i == 1:
                put("pool_mode", block.mode, "block 1")
                put("pool_kernel", block.kernel, "block 1")
                put("pool_ceil", block.ceil, "block 1")
            expected = Pool(mode=p["pool_mode"], kernel=p["pool_kernel"], stride=2, ceil=p["pool_ceil"])
            if block != expected:
                raise fail(f"block {i}", f"pooling is network-wide and strides by 2: expected {expected}, "
                                         f"got {block}")

        c1 = conv(0, "the first convolution", stride=True)
        put("act", c1.act, "block 0")
        put("conv1_kernel", c1.kernel, "block 0")
        put("conv1_stride", c1.stride, "block 0")
        put("conv1_padding", c1.padding, "block 0")
        put("conv1_width", c1.out, "block 0")
        pool(1)
        c2 = conv(2, "the second convolution", stride=True)
        put("conv2_kernel", c2.kernel, "block 2")
        if c1.stride * c2.stride > MAX_STEM_STRIDE:
            raise fail("block 2", f"stride={c2.stride}: the first two convolutions stride at most {MAX_STEM_STRIDE} "
                                  f"together, and the first strides {c1.stride}")
        put("conv2_stride", c2.stride, "block 2")
        put_padding("conv2_padding", c2.kernel, c2.padding, "block 2")
        put("conv2_width", c2.out, "block 2")
        pool(3)
        i, depth = 4, 0
        while i < len(blocks) and isinstance(blocks[i], Conv):
            where = f"block {i}"
            if depth == max(self.s3_depths):
                raise fail(where, f"the third stage holds at most {depth} convolutions")
            block = conv(i, "a convolution")
            j = depth + 1
            put(f"s3_b{j}_kernel", block.kernel, where)
            if j == 1:
                put_padding("s3_b1_padding", block.kernel, block.padding, where)
            elif block.padding != _padding(block.kernel, "same"):
                raise fail(where, f"padding {block.padding}: only the first convolution of the third stage may "
                                  f"be unpadded, the others keep 'same' padding "
                                  f"({_padding(block.kernel, 'same')} for a {block.kernel}×{block.kernel} kernel)")
            put(f"s3_b{j}_width", block.out, where)
            i, depth = i + 1, depth + 1
        put("s3_depth", depth, "stage 3")
        if i < len(blocks) and isinstance(blocks[i], Pool):
            if not depth:
                raise fail(f"block {i}", "pooling right after pooling: the final pooling follows the "
                                         "third stage's convolutions only")
            pool(i)
            put("s3_pool", True, f"block {i}")
            i += 1
        elif depth:
            put("s3_pool", False, "stage 3")
        if i < len(blocks):
            raise fail(f"block {i}", f"{blocks[i]} fits no slot of the template (conv, pool, conv, pool, "
                                     f"up to {max(self.s3_depths)} convs, pool)")

        head = genome.head
        if head.width or head.conv_classifier:
            raise fail("head", f"this space's head has no 1×1 convolution and a linear classifier, got {head}")
        put("head_pool", head.pool, "head")
        put("head_hidden", _hidden_name(head.hidden), "head")
        if head.hidden and head.hidden_act != p["act"]:
            raise fail("head", f"hidden activation {head.hidden_act!r} differs from the network-wide "
                               f"{p['act']!r}")
        put("head_dropout", head.dropout, "head")
        if head.hidden and head.dropout:  # otherwise the order cannot matter and Head resets it
            put("head_dropout_first", head.dropout_first, "head")
        return inv.done()

    # -- size ------------------------------------------------------------------------------------

    def size(self) -> int:
        """Exact count of distinct genomes, in closed form: a product of independent parts. The
        strides of the first two convolutions count as distinct pairs; the third stage sums over its
        depths (an empty stage: one genome, its slot genes and final pooling unused); padding choices
        count once per distinct (kernel, padding) pair; the head counts the dropout order only with
        hidden layers and a nonzero dropout."""
        network = (len(self.norms) * len(self.activations) * len(self.pool_modes) * len(self.pool_kernels)
                   * len(self.pool_ceils))
        conv1 = len(self.conv1_kernels) * len(self.conv1_paddings) * len(self.conv1_widths)
        # the strides of the first two convolutions: pairs, the second 1 when they would stride too much
        strides = len({(s1, _conv2_stride(s1, s2)) for s1 in self.conv1_strides for s2 in self.conv2_strides})
        conv2 = _distinct_paddings(self.conv2_kernels, self.conv2_paddings) * len(self.conv2_widths) * strides
        first = _distinct_paddings(self.s3_kernels, self.s3_first_paddings) * len(self.s3_widths)
        later = len(self.s3_kernels) * len(self.s3_widths)
        stage3 = sum(first * later ** (d - 1) * len(self.s3_pools) if d else 1 for d in self.s3_depths)
        orders = len(self.head_dropout_first)
        head = len(self.head_pools) * sum(
            sum(orders if hidden and dropout else 1 for dropout in self.head_dropouts)
            for hidden in self.head_hidden)
        return network * conv1 * conv2 * stage3 * head


register_space(ClassicSpace())
