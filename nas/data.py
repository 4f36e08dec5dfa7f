"""Image data for the search: datasets loaded whole into memory as uint8 tensors, a validation split
carved out of the training set, and normalisation. (The trainer, :mod:`nas.train`, augments the batches.)

A dataset is named by a *spec* (:func:`load_dataset`):

* one of :data:`DATASETS`: ``cifar10``, ``cifar100``, ``mnist``, ``fashion_mnist``, ``svhn`` are read
  from ``<root>/<name>.npz`` (:func:`data_root` picks the folder). When that file is missing they are
  downloaded once with ``torchvision.datasets`` and converted to it, so every later load is a single
  read of one file. ``digits`` is scikit-learn's bundled 8×8 handwritten digits and works offline.
* ``npz:PATH``: any ``.npz`` file in the same format (below).
* ``folder:PATH``: an ImageFolder tree, ``PATH/train/<class>/*.png`` and ``PATH/test/<class>/*.png``.

The npz format (the one of ``../shared/data/*.npz``; ``numpy.savez`` or ``numpy.savez_compressed``,
no pickled objects):

=========== ============================================ ========================================
key         shape                                        dtype
=========== ============================================ ========================================
``x_train`` N×H×W×C with C = 1 or 3 (or N×H×W for C = 1) ``uint8``, pixel values 0..255
``y_train`` N                                            any integer type, labels 0..K-1, K ≥ 2
``x_test``  M×H×W×C (the same H, W, C as ``x_train``)   ``uint8``
``y_test``  M                                            any integer type, classes of y_train
``classes`` K (optional; default ``"0"``..``"K-1"``)     strings; ``classes[i]`` names label ``i``
=========== ============================================ ========================================

In memory the images are channels first (N×C×H×W, contiguous, ``uint8``) and the labels ``int64``:
the whole training set stays on one device and batches are cut from it by indexing, the way airbench
trains. The search selects architectures on :func:`split`'s validation images, never on the test set.

Example:
    >>> data = load_dataset("digits")
    >>> data.x_train.shape, data.num_classes, data.flip
    (torch.Size([1500, 1, 8, 8]), 10, False)
    >>> (x, y), (x_val, y_val) = split(data, val_size=0.1, seed=0)
    >>> len(x), len(x_val)
    (1350, 150)
"""

from __future__ import annotations

import collections
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DATASETS",
    "DatasetError",
    "DatasetUnavailable",
    "ImageData",
    "data_root",
    "load_dataset",
    "normalize",
    "split",
]

log = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "mnist", "fashion_mnist", "svhn", "digits")

# Whether a horizontal flip keeps the label: not for digits (a mirrored 2 or 7 is not a digit).
_FLIP = {"cifar10": True, "cifar100": True, "mnist": False, "fashion_mnist": True, "svhn": False, "digits": False}
# The torchvision.datasets class of each downloadable dataset.
_TORCHVISION = {"cifar10": "CIFAR10", "cifar100": "CIFAR100", "mnist": "MNIST", "fashion_mnist": "FashionMNIST",
                "svhn": "SVHN"}
# torchvision's IMG_EXTENSIONS: the files an ImageFolder reads.
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_DIGITS_TEST = 297  # scikit-learn's 1797 digits: the first 1500 train, the last 297 test
_KEYS = ("x_train", "y_train", "x_test", "y_test")
_SPEC_FORMS = ("'npz:PATH' (a .npz file with x_train, y_train, x_test, y_test and optionally classes) or "
               "'folder:PATH' (an ImageFolder tree: PATH/train/<class>/*.png and PATH/test/<class>/*.png)")


class DatasetError(ValueError):
    """A dataset spec or file that cannot be used; the message names the value and the fix."""


class DatasetUnavailable(DatasetError):
    """A known dataset that is neither cached nor downloadable here (offline, or no scikit-learn)."""


# ----------------------------------------------------------------------------------------------------
# The data object


@dataclass(frozen=True, eq=False)
class ImageData:
    """A labelled image dataset held in memory, train and test.

    Attributes:
        name: what was loaded: ``"cifar10"``, ``"digits"``, ``"npz:/abs/path.npz"``, ``"folder:/abs/path"``.
        x_train: ``uint8`` training images, N×C×H×W, contiguous.
        y_train: ``int64`` training labels, N, in ``0..num_classes-1``; at least two classes.
        x_test: ``uint8`` test images, M×C×H×W.
        y_test: ``int64`` test labels, M, each of a class that has training images.
        classes: ``classes[i]`` names label ``i``.
        source: the file or folder the data was read from (``"scikit-learn"`` for ``digits``).
        flip: whether a horizontal flip keeps the label (the trainer's random flips are on only then).
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    classes: tuple[str, ...]
    source: str
    flip: bool

    def __post_init__(self) -> None:
        for split_name in ("train", "test"):
            x, y = getattr(self, f"x_{split_name}"), getattr(self, f"y_{split_name}")
            if not isinstance(x, Tensor) or x.dtype != torch.uint8 or x.ndim != 4:
                raise TypeError(f"ImageData.x_{split_name} must be a uint8 N×C×H×W tensor, got "
                                f"{_describe_tensor(x)}")
            if not isinstance(y, Tensor) or y.dtype != torch.int64 or y.shape != (len(x),):
                raise TypeError(f"ImageData.y_{split_name} must be an int64 tensor of {len(x)} labels (one per image), "
                                f"got {_describe_tensor(y)}")
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(self.classes)):
                raise ValueError(f"ImageData.y_{split_name} holds labels {int(y.min())}..{int(y.max())} but there are "
                                 f"{len(self.classes)} classes; labels must lie in 0..{len(self.classes) - 1}")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(f"ImageData train images are {tuple(self.x_train.shape[1:])} (C×H×W) but test images "
                             f"are {tuple(self.x_test.shape[1:])}; both splits need the same image shape")
        _check_labels(self.y_train.cpu().numpy(), self.y_test.cpu().numpy(), self.classes,
                      where=f"dataset {self.name} (from {self.source})")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return self.x_train.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of every image."""
        return (self.x_train.shape[2], self.x_train.shape[3])

    def mean_std(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and (population) standard deviation of the training images scaled to [0, 1],
        computed exactly from a histogram of the 256 pixel values, once."""
        return self._mean_std

    @cached_property
    def _mean_std(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        values = torch.arange(256, dtype=torch.float64) / 255
        means, stds = [], []
        for c in range(self.in_channels):
            counts = torch.bincount(self.x_train[:, c].reshape(-1), minlength=256).cpu().to(torch.float64)
            p = counts / counts.sum().clamp_min(1)
            mean = float((p * values).sum())
            means.append(mean)
            stds.append(float((p * (values - mean).square()).sum().sqrt()))
        return tuple(means), tuple(stds)

    def __repr__(self) -> str:
        c, h, w = self.x_train.shape[1:]
        return (f"ImageData({self.name!r}, train={len(self.x_train)}, test={len(self.x_test)}, image={c}×{h}×{w}, "
                f"classes={self.num_classes}, flip={self.flip}, source={self.source!r})")


def _describe_tensor(value: Any) -> str:
    if isinstance(value, (Tensor, np.ndarray)):
        return f"{type(value).__name__} of dtype {value.dtype} and shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


# ----------------------------------------------------------------------------------------------------
# Finding and loading datasets


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds the named datasets as ``<name>.npz``.

    Args:
        root: the folder to use (``--data-root``); when ``None`` or empty, ``$NAS_DATA`` if set, else
            ``$XDG_CACHE_HOME/nas/data`` (``~/.cache/nas/data`` when ``XDG_CACHE_HOME`` is unset).

    Returns:
        The absolute path of the folder (it may not exist yet; a download creates it).
    """
    if root is not None and str(root) != "":
        return Path(root).expanduser().resolve()
    if os.environ.get("NAS_DATA"):
        return Path(os.environ["NAS_DATA"]).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return (Path(cache).expanduser() / "nas" / "data").resolve()


def load_dataset(spec: str, *, root: str | os.PathLike | None = None, download: bool = True,
                 flip: bool | None = None) -> ImageData:
    """Load a whole dataset into memory.

    Args:
        spec: one of :data:`DATASETS`, ``"npz:PATH"`` or ``"folder:PATH"`` (see the module docstring).
            ``cifar10``, ``cifar100``, ``mnist``, ``fashion_mnist`` and ``svhn`` are read from
            ``<root>/<name>.npz``; ``digits`` comes with scikit-learn. A ``folder:`` tree is read with
            PIL, converted to RGB and resized (bilinear) to the most common image size of its train
            split; its classes are the sorted names of the class folders of ``train/``, as
            torchvision's ``ImageFolder`` sorts them (folders whose name starts with ``.`` are skipped).
        root: the folder of the named datasets; see :func:`data_root` for the default.
        download: when a torchvision dataset is not in ``root``, download it (once) with
            ``torchvision.datasets`` and save it there as ``<name>.npz``.
        flip: whether a horizontal flip keeps the labels; ``None`` takes the dataset's own value (True
            for cifar10, cifar100, fashion_mnist and ``npz:``/``folder:`` data; False for mnist, svhn
            and digits, whose mirrored digits are not digits).

    Returns:
        The dataset, uint8 images N×C×H×W and int64 labels.

    Raises:
        DatasetError: an unknown spec, or a file or folder that is missing or not in the format.
        DatasetUnavailable: a named dataset that is not in ``root`` and could not be downloaded.

    Example:
        >>> data = load_dataset("npz:../shared/data/cifar10.npz")  # doctest: +SKIP
        >>> data.x_train.shape                                       # doctest: +SKIP
        torch.Size([30000, 3, 32, 32])
    """
    if not isinstance(spec, str):
        raise TypeError(f"load_dataset expects a spec string such as 'cifar10' or 'npz:PATH', got "
                        f"{type(spec).__name__} {spec!r}")
    if flip is not None and not isinstance(flip, bool):
        raise TypeError(f"flip must be True, False or None (the dataset's default), got {flip!r}")
    text = spec.strip()
    kind, sep, rest = text.partition(":")
    if sep and kind.lower() in ("npz", "folder") and len(kind) > 1:  # len > 1: not a Windows drive letter
        if not rest.strip():
            raise DatasetError(f"dataset spec {spec!r} has no path after '{kind}:'; write {kind}:PATH, e.g. "
                               f"{'npz:data/mine.npz' if kind.lower() == 'npz' else 'folder:data/mine'}")
        path = Path(rest.strip()).expanduser().resolve()
        if kind.lower() == "npz":
            return _load_npz(path, name=f"npz:{path}", flip=True if flip is None else flip)
        return _load_folder(path, flip=True if flip is None else flip)
    name = text.lower().replace("-", "_")
    if name == "digits":
        return _load_digits(flip=_FLIP["digits"] if flip is None else flip)
    if name in _TORCHVISION:
        return _load_named(name, data_root(root), download=download, flip=_FLIP[name] if flip is None else flip)
    hint = ""
    if text.lower().endswith(".npz") or os.path.isfile(os.path.expanduser(text)):
        hint = f" (to read the file {text!r}, write 'npz:{text}')"
    elif os.path.isdir(os.path.expanduser(text)):
        hint = f" (to read the image folder {text!r}, write 'folder:{text}')"
    raise DatasetError(f"unknown dataset {spec!r}{hint}; known datasets: {', '.join(DATASETS)}; "
                       f"or {_SPEC_FORMS}")


def _load_named(name: str, root: Path, *, download: bool, flip: bool) -> ImageData:
    path = root / f"{name}.npz"
    if path.is_file():
        try:
            return _load_npz(path, name=name, flip=flip)
        except DatasetError as exc:
            raise DatasetError(f"{exc}\n(delete {path} to download {name} again)") from exc.__cause__
    fix = (f"To fix: put {name}.npz (keys x_train, y_train, x_test, y_test, classes; see nas/data.py) in {root}, "
           f"or pass --data-root DIR (load_dataset(root=DIR)) or set NAS_DATA=DIR to a folder that holds it")
    if not download:
        raise DatasetUnavailable(f"dataset {name!r} is not cached: there is no {path}, and downloading is off "
                                 f"(download=False).\n{fix}, or allow the download.")
    log.info("%s is not in %s: downloading it with torchvision.datasets.%s", name, root, _TORCHVISION[name])
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".download-{name}-", dir=root) as folder:
            arrays = _download(name, Path(folder))
    except Exception as exc:  # noqa: BLE001 - offline, proxy, disk, permissions: all say the same thing
        raise DatasetUnavailable(
            f"dataset {name!r} is not cached (looked for {path}) and the download with "
            f"torchvision.datasets.{_TORCHVISION[name]} failed: {type(exc).__name__}: {exc}\n{fix}, "
            f"or run once where the network is reachable so it is saved there.") from exc
    try:
        _save_npz(path, arrays)
    except OSError as exc:
        raise DatasetUnavailable(f"dataset {name!r} was downloaded but could not be saved as {path} "
                                 f"({type(exc).__name__}: {exc})\n{fix}.") from exc
    return _load_npz(path, name=name, flip=flip)


def _download(name: str, folder: Path) -> dict[str, np.ndarray]:
    """Download ``name`` with torchvision into ``folder``; its arrays in the npz format."""
    import torchvision.datasets

    cls = getattr(torchvision.datasets, _TORCHVISION[name])
    arrays: dict[str, np.ndarray] = {}
    classes = None
    for split_name in ("train", "test"):
        kwargs = {"split": split_name} if name == "svhn" else {"train": split_name == "train"}
        dataset = cls(root=str(folder), download=True, **kwargs)
        x = np.asarray(dataset.data)
        y = np.asarray(dataset.targets if hasattr(dataset, "targets") else dataset.labels)
        if name == "svhn":  # SVHN stores N×C×H×W
            x = x.transpose(0, 2, 3, 1)
        arrays[f"x_{split_name}"] = np.ascontiguousarray(x, dtype=np.uint8)
        arrays[f"y_{split_name}"] = y.astype(np.int64)
        classes = getattr(dataset, "classes", None) or classes
    if classes is None:  # SVHN: labels 0..9 are the digits 0..9
        classes = [str(i) for i in range(int(max(arrays["y_train"].max(), arrays["y_test"].max())) + 1)]
    arrays["classes"] = np.array([str(c) for c in classes])
    return arrays


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (a temporary file renamed into place), uncompressed so that reading it back is
    one fast read; concurrent workers that download at once each write a whole file."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.stem}-", suffix=".npz.part",
                                     delete=False) as file:
        try:
            np.savez(file, **arrays)
        except BaseException:
            file.close()
            os.unlink(file.name)
            raise
    os.replace(file.name, path)


def _load_npz(path: Path, *, name: str, flip: bool) -> ImageData:
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise DatasetError(f"npz file {path} {what}; check the path (a .npz written with numpy.savez holding "
                           f"x_train, y_train, x_test, y_test and optionally classes)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in _KEYS if key not in npz.files]
            if missing:
                raise DatasetError(f"npz file {path} has no {', '.join(missing)} (its keys: "
                                   f"{', '.join(npz.files) or 'none'}); save it with "
                                   f"numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=..., "
                                   f"classes=...)")
            arrays = {key: npz[key] for key in (*_KEYS, "classes") if key in npz.files}
    except DatasetError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(f"npz file {path} cannot be read ({type(exc).__name__}: {exc}); write it with "
                           f"numpy.savez or numpy.savez_compressed, with numeric arrays and a string array of "
                           f"class names (no Python objects)") from exc
    x_train, y_train, x_test, y_test, classes = _check_arrays(arrays, where=f"npz file {path}")
    return ImageData(name=name, x_train=_to_chw(x_train), y_train=torch.from_numpy(y_train),
                     x_test=_to_chw(x_test), y_test=torch.from_numpy(y_test), classes=classes,
                     source=str(path), flip=flip)


def _check_arrays(arrays: dict[str, np.ndarray], *, where: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """Validate npz-format arrays; returns x as N×H×W×C uint8, y as int64 and the class names."""
    xs = {}
    for split_name in ("train", "test"):
        key = f"x_{split_name}"
        x = arrays[key]
        if x.dtype != np.uint8:
            raise DatasetError(f"{where}: {key} has dtype {x.dtype}; images must be uint8 pixel values 0..255 "
                               f"(convert with np.clip(x, 0, 255).astype(np.uint8), or (x * 255).round() first "
                               f"when the values are in [0, 1])")
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            hint = ""
            if x.ndim == 4 and x.shape[1] in (1, 3):
                hint = " (it looks channels-first: use x.transpose(0, 2, 3, 1))"
            raise DatasetError(f"{where}: {key} has shape {arrays[key].shape}; images must be N×H×W×C with C = 1 or "
                               f"3, or N×H×W for greyscale{hint}")
        if len(x) == 0:
            raise DatasetError(f"{where}: {key} holds no images (shape {arrays[key].shape}); each split needs at "
                               f"least one")
        xs[split_name] = x
    if xs["train"].shape[1:] != xs["test"].shape[1:]:
        raise DatasetError(f"{where}: x_train images are {xs['train'].shape[1:]} (H×W×C) but x_test images are "
                           f"{xs['test'].shape[1:]}; resize one split so both have the same height, width and "
                           f"channels")
    ys = {}
    for split_name in ("train", "test"):
        key = f"y_{split_name}"
        y = arrays[key]
        if not (np.issubdtype(y.dtype, np.integer) and y.dtype != np.bool_):
            raise DatasetError(f"{where}: {key} has dtype {y.dtype}; labels must be integers 0..K-1 "
                               f"(convert with y.astype(np.int64))")
        if y.shape != (len(xs[split_name]),):
            raise DatasetError(f"{where}: {key} has shape {y.shape} but x_{split_name} holds "
                               f"{len(xs[split_name])} images; it needs one label per image, shape "
                               f"({len(xs[split_name])},)")
        ys[split_name] = y.astype(np.int64, copy=False)
    high = max(int(ys["train"].max()), int(ys["test"].max()))
    if "classes" in arrays:
        names = arrays["classes"]
        if names.ndim != 1 or names.dtype.kind not in "US":
            raise DatasetError(f"{where}: classes has dtype {names.dtype} and shape {names.shape}; it must be a "
                               f"1-D array of strings, e.g. np.array(['cat', 'dog'])")
        classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist())
    else:
        classes = tuple(str(i) for i in range(max(high, 0) + 1))
    for split_name, y in ys.items():
        bad = (y < 0) | (y >= len(classes))
        if bad.any():
            value = int(y[bad][0])
            raise DatasetError(f"{where}: y_{split_name} holds label {value} ({int(bad.sum())} labels out of range) "
                               f"but there are {len(classes)} classes; labels must lie in 0..{len(classes) - 1} "
                               f"(add the missing names to classes, or renumber the labels from 0)")
    _check_labels(ys["train"], ys["test"], classes, where=where)
    return xs["train"], ys["train"], xs["test"], ys["test"], classes


def _check_labels(y_train: np.ndarray, y_test: np.ndarray, classes: tuple[str, ...], *, where: str) -> None:
    """At least two classes among the training labels (one class is nothing to classify: every network
    would score 100%), and no test label that no training image has (the network cannot learn it)."""
    def named(labels: np.ndarray) -> str:
        text = ", ".join(f"{int(label)} = {classes[int(label)]!r}" if 0 <= label < len(classes) else str(int(label))
                         for label in labels[:10])
        return text + (f" and {len(labels) - 10} more" if len(labels) > 10 else "")

    found = np.unique(y_train)
    if len(found) < 2:
        raise DatasetError(f"{where}: the training labels hold {len(found)} class{'' if len(found) == 1 else 'es'} "
                           f"({named(found) or 'none'}); a classifier needs at least 2 classes: add images of other "
                           f"classes (labels 0..K-1 with K >= 2)")
    unseen = np.setdiff1d(np.unique(y_test), found)
    if len(unseen):
        raise DatasetError(f"{where}: the test labels hold {len(unseen)} class{'' if len(unseen) == 1 else 'es'} "
                           f"that no training image has ({named(unseen)}); every test class needs training images "
                           f"(add them, or drop those test images)")


def _to_chw(x: np.ndarray) -> Tensor:
    """N×H×W×C numpy uint8 -> N×C×H×W contiguous torch uint8 (one copy)."""
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def _load_digits(*, flip: bool) -> ImageData:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise DatasetUnavailable("dataset 'digits' is scikit-learn's bundled 8×8 digits, and scikit-learn is not "
                                 "installed; install it with: pip install scikit-learn") from exc
    digits = load_digits()
    x = np.rint(digits.images * (255 / 16)).clip(0, 255).astype(np.uint8)  # values 0..16
    y = digits.target.astype(np.int64)
    n = len(x) - _DIGITS_TEST
    return ImageData(name="digits", x_train=torch.from_numpy(x[:n, None].copy()), y_train=torch.from_numpy(y[:n].copy()),
                     x_test=torch.from_numpy(x[n:, None].copy()), y_test=torch.from_numpy(y[n:].copy()),
                     classes=tuple(str(i) for i in range(10)), source="scikit-learn", flip=flip)


def _load_folder(path: Path, *, flip: bool) -> ImageData:
    from PIL import Image, UnidentifiedImageError

    layout = (f"an ImageFolder tree: {path}/train/<class>/<image> and {path}/test/<class>/<image> "
              f"(image files {', '.join(_IMAGE_EXTENSIONS)})")
    if not path.is_dir():
        raise DatasetError(f"image folder {path} {'is a file' if path.exists() else 'does not exist'}; "
                           f"folder:PATH needs {layout}")
    missing = [s for s in ("train", "test") if not (path / s).is_dir()]
    if missing:
        raise DatasetError(f"image folder {path} has no {' or '.join(s + '/' for s in missing)} subfolder; "
                           f"folder:PATH needs {layout}")
    classes = sorted(entry.name for entry in os.scandir(path / "train")
                     if entry.is_dir() and not entry.name.startswith("."))
    if not classes:
        raise DatasetError(f"image folder {path / 'train'} has no class subfolders; folder:PATH needs {layout}")
    files: dict[str, list[tuple[Path, int]]] = {}
    for split_name in ("train", "test"):
        split_classes = sorted(entry.name for entry in os.scandir(path / split_name)
                               if entry.is_dir() and not entry.name.startswith("."))
        extra = [c for c in split_classes if c not in classes]
        if extra:
            raise DatasetError(f"image folder {path / split_name} has classes {extra} that train/ does not have "
                               f"(train classes: {classes}); every test class needs training images")
        files[split_name] = [(file, label) for label, c in enumerate(classes) if c in split_classes
                             for file in sorted((path / split_name / c).iterdir())
                             if file.is_file() and file.suffix.lower() in _IMAGE_EXTENSIONS]
        if not files[split_name]:
            raise DatasetError(f"image folder {path / split_name} holds no images; folder:PATH needs {layout}")
    labelled = {label for _, label in files["train"]}
    empty = [c for label, c in enumerate(classes) if label not in labelled]
    if empty:
        raise DatasetError(f"image folder {path / 'train'} has class folders without images: {empty}; add images "
                           f"or remove the folders")
    if len(classes) < 2:
        raise DatasetError(f"image folder {path / 'train'} has 1 class folder ({classes[0]!r}); a classifier needs "
                           f"at least 2 classes: add a folder of images for each other class, "
                           f"{path / 'train'}/<class>/<image>")

    def read(file: Path, size: tuple[int, int] | None = None) -> Image.Image | tuple[int, int]:
        try:
            with Image.open(file) as image:
                if size is None:
                    return image.size  # the header only: no decoding
                image = image.convert("RGB")
                return image if image.size == size else image.resize(size, Image.BILINEAR)
        except (OSError, UnidentifiedImageError) as exc:
            raise DatasetError(f"image folder {path}: cannot read the image {file} ({exc}); remove or replace "
                               f"it") from exc

    # One size for all: the most common in train (ties: the first met, in class and file order).
    (width, height), _ = collections.Counter(read(file) for file, _ in files["train"]).most_common(1)[0]
    tensors = {}
    for s in ("train", "test"):
        x = np.empty((len(files[s]), height, width, 3), dtype=np.uint8)
        for i, (file, _) in enumerate(files[s]):
            x[i] = np.asarray(read(file, (width, height)))
        tensors[s] = (_to_chw(x), torch.tensor([label for _, label in files[s]], dtype=torch.int64))
    return ImageData(name=f"folder:{path}", x_train=tensors["train"][0], y_train=tensors["train"][1],
                     x_test=tensors["test"][0], y_test=tensors["test"][1], classes=tuple(classes), source=str(path),
                     flip=flip)


# ----------------------------------------------------------------------------------------------------
# Validation split, augmentation, normalisation


def split(data: ImageData, *, val_size: int | float, train_size: int | None = None, seed: int = 0
          ) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """Carve a validation set out of the training images (the test set is never touched).

    The split is stratified: each class gives the floor or the ceiling of ``val_size × its share`` images
    (largest remainders, so the total is exact), and so does the ``train_size`` cap. It depends only on
    the labels and ``seed``. Per class, images are taken from the front of one random order, validation
    first: the validation images do not change with ``train_size``, and a larger ``train_size`` adds
    training images to those of a smaller one (up to the ±1 rounding of a class's share).

    Args:
        data: the dataset.
        val_size: validation images, a count (int ≥ 1) or a fraction of the training set in (0, 1).
        train_size: at most this many of the remaining images for training (also stratified);
            ``None`` keeps all of them.
        seed: the random seed of the split.

    Returns:
        ``((x_train, y_train), (x_val, y_val))``: disjoint subsets of ``data.x_train``, each in the
        order of ``data.x_train`` (new tensors, on the device of the data).
    """
    n = len(data.y_train)
    if isinstance(val_size, bool) or not isinstance(val_size, (int, float, np.integer, np.floating)):
        raise TypeError(f"val_size must be a count (int) or a fraction (float in (0, 1)), got {val_size!r}")
    if isinstance(val_size, (float, np.floating)):
        if not 0 < val_size < 1:
            raise ValueError(f"val_size={val_size} as a fraction must lie strictly between 0 and 1 "
                             f"(or pass a count of images, an int)")
        count = int(round(float(val_size) * n))
        if count < 1:
            raise ValueError(f"val_size={val_size} of {n} training images is {count} images; "
                             f"pass a larger fraction or a count ≥ 1")
    else:
        count = int(val_size)
        if count < 1:
            raise ValueError(f"val_size={val_size} must be at least 1 image (the search selects on the validation "
                             f"images)")
    if count >= n:
        raise ValueError(f"val_size={val_size} asks for {count} validation images but {data.name} has only {n} "
                         f"training images, and at least 1 must stay for training; pass val_size < {n}")
    rest = n - count
    if train_size is not None:
        if isinstance(train_size, bool) or not isinstance(train_size, (int, np.integer)):
            raise TypeError(f"train_size must be an int or None (all remaining images), got {train_size!r}")
        if not 1 <= train_size <= rest:
            raise ValueError(f"train_size={train_size} but {data.name} has {n} training images, {count} of them "
                             f"for validation, leaving {rest}; pass 1 ≤ train_size ≤ {rest} or None for all")
    g = torch.Generator().manual_seed(seed)
    y = data.y_train.cpu()
    perm = torch.randperm(n, generator=g)  # one random order; per class, images are taken from its front
    labels = y[perm]
    counts = torch.bincount(labels, minlength=data.num_classes)
    rank = _rank_in_class(labels, counts)
    val_quota = _allocate(counts, count, g)
    in_val = rank < val_quota[labels]
    rank = rank - val_quota[labels]  # rank among the images left for training
    train_quota = _allocate(counts - val_quota, rest if train_size is None else int(train_size), g)
    in_train = (rank >= 0) & (rank < train_quota[labels])
    device = data.y_train.device
    val = perm[in_val].sort().values.to(device)
    train = perm[in_train].sort().values.to(device)
    return (data.x_train[train], data.y_train[train]), (data.x_train[val], data.y_train[val])


def _rank_in_class(labels: Tensor, counts: Tensor) -> Tensor:
    """For each position, how many earlier positions hold the same label."""
    by_class = torch.sort(labels, stable=True).indices
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(labels)
    rank[by_class] = torch.arange(len(labels)) - starts[labels[by_class]]
    return rank


def _allocate(counts: Tensor, total: int, generator: torch.Generator) -> Tensor:
    """Split ``total`` images among classes in proportion to ``counts`` (largest remainders, ties
    broken at random): each class gets the floor or the ceiling of its exact share."""
    n = int(counts.sum())
    quota = counts * total // n
    remainder = counts * total % n  # exact integers: no float ties
    order = torch.randperm(len(counts), generator=generator)  # random tie-break among equal remainders
    ranked = order[torch.sort(remainder[order], descending=True, stable=True).indices]
    quota[ranked[: total - int(quota.sum())]] += 1
    return quota


def normalize(x: Tensor, mean: tuple[float, ...] | Tensor, std: tuple[float, ...] | Tensor, *,
              dtype: torch.dtype = torch.float32) -> Tensor:
    """Images as normalised floats: ``(x / 255 - mean) / std`` per channel.

    Args:
        x: B×C×H×W images; uint8 values are scaled by 1/255, floating values are taken as already in [0, 1].
        mean: per-channel means in [0, 1] (e.g. from :meth:`ImageData.mean_std`).
        std: per-channel standard deviations in [0, 1].
        dtype: the floating dtype of the result.
    """
    if x.ndim != 4:
        raise ValueError(f"normalize expects a B×C×H×W tensor, got {_describe_tensor(x)}")
    mean_t = torch.as_tensor(mean, dtype=dtype, device=x.device).reshape(-1, 1, 1)
    std_t = torch.as_tensor(std, dtype=dtype, device=x.device).reshape(-1, 1, 1)
    if len(mean_t) != x.shape[1] or len(std_t) != x.shape[1]:
        raise ValueError(f"normalize got {len(mean_t)} means and {len(std_t)} stds for {x.shape[1]}-channel images; "
                         f"pass one of each per channel")
    if (std_t <= 0).any():
        raise ValueError(f"normalize got std={tuple(std_t.flatten().tolist())}; every std must be > 0")
    scaled = x.to(dtype) / 255 if not x.is_floating_point() else x.to(dtype)
    return (scaled - mean_t) / std_t
