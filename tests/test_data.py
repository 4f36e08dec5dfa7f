"""The data layer: every dataset spec, its errors, the validation split and the normalisation."""

from __future__ import annotations

import doctest
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets
from PIL import Image

import nas.data
from nas.data import (
    DATASETS,
    DatasetError,
    DatasetUnavailable,
    ImageData,
    data_root,
    load_dataset,
    normalize,
    split,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def tiny_arrays(n_train: int = 40, n_test: int = 12, shape: tuple[int, ...] = (8, 8, 3), k: int = 4,
                seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return dict(x_train=rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
                y_train=np.arange(n_train, dtype=np.int64) % k,
                x_test=rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
                y_test=np.arange(n_test, dtype=np.int64) % k,
                classes=np.array([f"class{i}" for i in range(k)]))


def write_npz(path: Path, **overrides) -> dict[str, np.ndarray]:
    arrays = {**tiny_arrays(), **overrides}
    arrays = {key: value for key, value in arrays.items() if value is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def indexed_data(labels: list[int] | np.ndarray, k: int | None = None) -> ImageData:
    """Training images that carry their own index (pixel 0 = i % 256, pixel 1 = i // 256)."""
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    n = len(y)
    index = torch.arange(n)
    x = torch.zeros(n, 1, 2, 2, dtype=torch.uint8)
    x[:, 0, 0, 0] = (index % 256).to(torch.uint8)
    x[:, 0, 0, 1] = (index // 256).to(torch.uint8)
    k = k or int(y.max()) + 1
    return ImageData(name="indexed", x_train=x, y_train=y, x_test=x[:1].clone(), y_test=y[:1].clone(),
                     classes=tuple(str(i) for i in range(k)), source="test", flip=False)


def indices_of(x: torch.Tensor) -> torch.Tensor:
    return x[:, 0, 0, 0].long() + 256 * x[:, 0, 0, 1].long()


# ----------------------------------------------------------------------------------------------------
# Where named datasets are looked up


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("NAS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path


def test_data_root_order(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = clean_env
    assert data_root() == (tmp / "xdg" / "nas" / "data").resolve()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp / "home"))
    assert data_root() == (tmp / "home" / ".cache" / "nas" / "data").resolve()
    monkeypatch.setenv("NAS_DATA", str(tmp / "env"))
    assert data_root() == (tmp / "env").resolve()
    assert data_root(tmp / "flag") == (tmp / "flag").resolve()
    assert data_root(str(tmp / "flag")) == (tmp / "flag").resolve()
    assert data_root("") == (tmp / "env").resolve()  # an empty --data-root means "not given"
    monkeypatch.setenv("NAS_DATA", "")
    assert data_root() == (tmp / "home" / ".cache" / "nas" / "data").resolve()


def test_named_dataset_from_root_env_and_cache(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = clean_env
    monkeypatch.setattr(nas.data, "_download", lambda name, folder: pytest.fail("nothing may be downloaded"))
    write_npz(tmp / "xdg" / "nas" / "data" / "cifar10.npz", **tiny_arrays(n_train=30, seed=1))
    write_npz(tmp / "env" / "cifar10.npz", **tiny_arrays(n_train=20, seed=2))
    flag = write_npz(tmp / "flag" / "cifar10.npz", **tiny_arrays(n_train=10, seed=3))

    data = load_dataset("cifar10")  # the cache
    assert len(data.x_train) == 30 and data.source == str((tmp / "xdg" / "nas" / "data" / "cifar10.npz").resolve())
    monkeypatch.setenv("NAS_DATA", str(tmp / "env"))
    assert len(load_dataset("cifar10").x_train) == 20  # NAS_DATA beats the cache
    data = load_dataset("cifar10", root=tmp / "flag")  # the root beats NAS_DATA
    assert len(data.x_train) == 10 and data.name == "cifar10" and data.flip is True
    np.testing.assert_array_equal(data.x_train.permute(0, 2, 3, 1).numpy(), flag["x_train"])
    np.testing.assert_array_equal(data.y_test.numpy(), flag["y_test"])
    assert data.classes == ("class0", "class1", "class2", "class3")


def test_named_dataset_layout_and_flip_defaults(tmp_path: Path) -> None:
    arrays = write_npz(tmp_path / "mnist.npz", x_train=tiny_arrays(shape=(6, 5))["x_train"],
                       x_test=tiny_arrays(shape=(6, 5))["x_test"])
    data = load_dataset("mnist", root=tmp_path)
    assert data.x_train.shape == (40, 1, 6, 5) and data.x_train.dtype == torch.uint8
    assert data.x_train.is_contiguous() and data.y_train.dtype == torch.int64
    assert data.in_channels == 1 and data.image_size == (6, 5) and data.num_classes == 4
    np.testing.assert_array_equal(data.x_train[:, 0].numpy(), arrays["x_train"])
    assert data.flip is False
    assert load_dataset("mnist", root=tmp_path, flip=True).flip is True
    write_npz(tmp_path / "fashion_mnist.npz")
    assert load_dataset("Fashion-MNIST", root=tmp_path).name == "fashion_mnist"  # case and dash forgiven
    assert load_dataset("fashion_mnist", root=tmp_path).flip is True
    assert set(DATASETS) == {"cifar10", "cifar100", "mnist", "fashion_mnist", "svhn", "digits"}
    assert "train=40" in repr(data) and "1×6×5" in repr(data)


def test_digits_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nas.data, "_download", lambda name, folder: pytest.fail("nothing may be downloaded"))
    data = load_dataset("digits")
    assert data.name == "digits" and data.source == "scikit-learn" and data.flip is False
    assert data.x_train.shape == (1500, 1, 8, 8) and data.x_test.shape == (297, 1, 8, 8)
    assert data.classes == tuple("0123456789")
    assert int(data.x_train.max()) == 255 and int(data.x_train.min()) == 0
    assert set(data.y_test.tolist()) == set(range(10))
    again = load_dataset("digits")
    assert torch.equal(again.x_test, data.x_test) and torch.equal(again.y_train, data.y_train)


# ----------------------------------------------------------------------------------------------------
# Downloads (faked: nothing leaves the machine)


class FakeCIFAR10:
    calls: list[tuple[str, bool]] = []
    classes = ["airplane", "automobile", "bird"]

    def __init__(self, root: str, train: bool = True, download: bool = False, **kwargs) -> None:
        assert download is True
        FakeCIFAR10.calls.append((root, train))
        assert Path(root).is_dir()
        n = 9 if train else 3
        rng = np.random.default_rng(int(train))
        self.data = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
        self.targets = [i % 3 for i in range(n)]


class FakeSVHN:
    def __init__(self, root: str, split: str = "train", download: bool = False, **kwargs) -> None:
        n = 5 if split == "train" else 2
        self.data = np.arange(n * 3 * 4 * 4, dtype=np.uint8).reshape(n, 3, 4, 4)  # channels first
        # no class names: the classes run to the largest label, 9 (every test label has training images)
        self.labels = np.array([0, 1, 2, 8, 9]) if split == "train" else np.array([9, 8])


class FakeMNIST:
    classes = ["0 - zero", "1 - one"]

    def __init__(self, root: str, train: bool = True, download: bool = False, **kwargs) -> None:
        self.data = torch.full((4 if train else 2, 5, 5), 7, dtype=torch.uint8)  # a tensor, N×H×W
        self.targets = torch.tensor([0, 1, 0, 1][: len(self.data)])


def test_download_converts_to_npz_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeCIFAR10.calls = []
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    data = load_dataset("cifar10", root=tmp_path / "new")
    assert [train for _, train in FakeCIFAR10.calls] == [True, False]
    assert all(Path(root).parent == tmp_path / "new" for root, _ in FakeCIFAR10.calls)
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["cifar10.npz"]  # temporary folder removed
    with np.load(tmp_path / "new" / "cifar10.npz") as npz:
        assert npz["x_train"].shape == (9, 4, 4, 3) and npz["x_train"].dtype == np.uint8
        assert npz["y_test"].dtype == np.int64 and list(npz["classes"]) == FakeCIFAR10.classes
    assert data.x_train.shape == (9, 3, 4, 4) and data.classes == tuple(FakeCIFAR10.classes)
    assert data.source == str(tmp_path / "new" / "cifar10.npz")

    def no_download(name: str, folder: Path) -> dict:
        raise AssertionError("the second load must read the npz")

    monkeypatch.setattr(nas.data, "_download", no_download)
    again = load_dataset("cifar10", root=tmp_path / "new")
    assert torch.equal(again.x_train, data.x_train) and torch.equal(again.y_test, data.y_test)
    assert len(FakeCIFAR10.calls) == 2


def test_download_of_channels_first_and_tensor_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torchvision.datasets, "SVHN", FakeSVHN)
    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    svhn = load_dataset("svhn", root=tmp_path)
    assert svhn.x_train.shape == (5, 3, 4, 4) and svhn.flip is False
    assert torch.equal(svhn.x_train, torch.from_numpy(FakeSVHN(".", "train").data))  # back to the same layout
    assert svhn.classes == tuple(str(i) for i in range(10))
    mnist = load_dataset("mnist", root=tmp_path)
    assert mnist.x_train.shape == (4, 1, 5, 5) and mnist.classes == ("0 - zero", "1 - one")
    assert mnist.y_train.tolist() == [0, 1, 0, 1]


def test_unavailable_when_the_download_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(name: str, folder: Path) -> dict:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(nas.data, "_download", offline)
    with pytest.raises(DatasetUnavailable) as info:
        load_dataset("cifar100", root=tmp_path / "cache")
    message = str(info.value)
    for fragment in (str(tmp_path / "cache" / "cifar100.npz"), "download", "CIFAR100", "URLError",
                     "name resolution", "--data-root", "NAS_DATA", "cifar100.npz"):
        assert fragment in message, (fragment, message)
    assert isinstance(info.value, DatasetError) and isinstance(info.value, ValueError)
    assert not (tmp_path / "cache" / "cifar100.npz").exists()
    assert list((tmp_path / "cache").iterdir()) == []  # no temporary folder left behind

    with pytest.raises(DatasetUnavailable, match="download=False") as info:
        load_dataset("svhn", root=tmp_path / "cache", download=False)
    assert str(tmp_path / "cache" / "svhn.npz") in str(info.value) and "NAS_DATA" in str(info.value)


def test_a_corrupt_cached_file_says_to_delete_it(tmp_path: Path) -> None:
    (tmp_path / "cifar10.npz").write_bytes(b"half a download")
    with pytest.raises(DatasetError, match="delete .*cifar10.npz"):
        load_dataset("cifar10", root=tmp_path)


# ----------------------------------------------------------------------------------------------------
# npz: files and their errors


def test_npz_spec(tmp_path: Path) -> None:
    arrays = write_npz(tmp_path / "mine.npz")
    data = load_dataset(f"npz:{tmp_path / 'mine.npz'}")
    assert data.name == f"npz:{tmp_path / 'mine.npz'}" and data.source == str(tmp_path / "mine.npz")
    assert data.flip is True and load_dataset(f"npz:{tmp_path / 'mine.npz'}", flip=False).flip is False
    assert data.x_train.shape == (40, 3, 8, 8) and data.x_test.shape == (12, 3, 8, 8)
    np.testing.assert_array_equal(data.x_test.permute(0, 2, 3, 1).numpy(), arrays["x_test"])
    # int32 labels, no class names, a compressed file: all fine
    np.savez_compressed(tmp_path / "plain.npz", x_train=arrays["x_train"], y_train=arrays["y_train"].astype(np.int32),
                        x_test=arrays["x_test"], y_test=arrays["y_test"].astype(np.uint8))
    plain = load_dataset(f"npz:{tmp_path / 'plain.npz'}")
    assert plain.classes == ("0", "1", "2", "3") and plain.y_train.dtype == torch.int64
    assert torch.equal(plain.y_train, data.y_train)


def test_npz_relative_and_home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_npz(tmp_path / "sub" / "d.npz")
    monkeypatch.chdir(tmp_path)
    assert load_dataset("npz:sub/d.npz").source == str(tmp_path / "sub" / "d.npz")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_dataset("npz:~/sub/d.npz").source == str(tmp_path / "sub" / "d.npz")


BAD_NPZ = {
    "missing key": (dict(y_test=None), ["has no y_test", "x_train, y_train, x_test", "numpy.savez"]),
    "float images": (dict(x_train=tiny_arrays()["x_train"].astype(np.float32)),
                     ["x_train has dtype float32", "uint8", "astype(np.uint8)"]),
    "float labels": (dict(y_train=np.zeros(40)), ["y_train has dtype float64", "astype(np.int64)"]),
    "channels first": (dict(x_train=np.zeros((40, 3, 8, 8), np.uint8)),
                       ["x_train has shape (40, 3, 8, 8)", "N×H×W×C", "transpose(0, 2, 3, 1)"]),
    "two channels": (dict(x_train=np.zeros((40, 8, 8, 2), np.uint8), x_test=np.zeros((12, 8, 8, 2), np.uint8)),
                     ["x_train has shape (40, 8, 8, 2)", "C = 1 or 3"]),
    "flat images": (dict(x_test=np.zeros((12, 64), np.uint8)), ["x_test has shape (12, 64)", "N×H×W×C"]),
    "label count": (dict(y_train=np.zeros(39, np.int64)), ["y_train has shape (39,)", "40 images", "(40,)"]),
    "label too big": (dict(y_test=np.array([0] * 11 + [7])), ["y_test holds label 7", "4 classes", "0..3"]),
    "negative label": (dict(y_train=np.array([-1] + [0] * 39)), ["y_train holds label -1", "0..3"]),
    "size mismatch": (dict(x_test=np.zeros((12, 9, 8, 3), np.uint8)),
                      ["x_train images are (8, 8, 3)", "x_test images are (9, 8, 3)", "same height"]),
    "channel mismatch": (dict(x_test=np.zeros((12, 8, 8), np.uint8)), ["(8, 8, 3)", "(8, 8, 1)"]),
    "empty split": (dict(x_test=np.zeros((0, 8, 8, 3), np.uint8), y_test=np.zeros(0, np.int64)),
                    ["x_test holds no images"]),
    "classes not strings": (dict(classes=np.arange(4)), ["classes has dtype int64", "strings"]),
    "object array": (dict(classes=np.array(["a", 1], dtype=object)), ["cannot be read", "no Python objects"]),
    # one class is nothing to classify: every network would score 100%
    "one class": ({"y_train": np.zeros(40, np.int64), "y_test": np.zeros(12, np.int64), "classes": None},
                  ["the training labels hold 1 class (0 = '0')", "at least 2 classes"]),
    "one named class in use": ({"y_train": np.full(40, 2), "y_test": np.full(12, 2)},
                               ["the training labels hold 1 class (2 = 'class2')", "at least 2 classes"]),
    # a test class without training images cannot be learnt; without names, the classes used to be
    # counted up to the largest label of either split
    "test class not in train": ({"y_train": np.arange(40) % 2, "y_test": np.array([0, 1] * 5 + [3, 3]),
                                 "classes": None},
                                ["the test labels hold 1 class that no training image has (3 = '3')",
                                 "every test class needs training images"]),
    "named test class not in train": ({"y_train": np.arange(40) % 3},
                                      ["test labels hold 1 class that no training image has (3 = 'class3')"]),
}


@pytest.mark.parametrize("case", list(BAD_NPZ))
def test_bad_npz(tmp_path: Path, case: str) -> None:
    overrides, fragments = BAD_NPZ[case]
    path = tmp_path / "bad.npz"
    if case == "object array":
        arrays = {**tiny_arrays(), **overrides}
        np.savez(path, **arrays)  # stored pickled
    else:
        write_npz(path, **overrides)
    with pytest.raises(DatasetError) as info:
        load_dataset(f"npz:{path}")
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_missing_or_unreadable_npz(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist; check the path"):
        load_dataset(f"npz:{tmp_path / 'nope.npz'}")
    with pytest.raises(DatasetError, match="is a folder"):
        load_dataset(f"npz:{tmp_path}")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DatasetError, match=r"text\.npz cannot be read"):
        load_dataset(f"npz:{tmp_path / 'text.npz'}")


def test_unknown_spec(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        load_dataset("imagenet")
    message = str(info.value)
    assert "'imagenet'" in message and "npz:PATH" in message and "folder:PATH" in message
    assert all(name in message for name in DATASETS)
    with pytest.raises(DatasetError, match="write 'npz:data/mine.npz'"):
        load_dataset("data/mine.npz")
    with pytest.raises(DatasetError, match="write 'folder:"):
        load_dataset(str(tmp_path))
    with pytest.raises(DatasetError, match="no path after 'npz:'"):
        load_dataset("npz:")
    with pytest.raises(TypeError, match="spec string"):
        load_dataset(Path("cifar10"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="flip"):
        load_dataset("digits", flip="yes")  # type: ignore[arg-type]


def test_image_data_checks_its_tensors() -> None:
    x, y = torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1])
    ok = dict(name="t", x_train=x, y_train=y, x_test=x, y_test=y, classes=("a", "b"), source="t", flip=False)
    ImageData(**ok)
    with pytest.raises(TypeError, match="x_train must be a uint8"):
        ImageData(**{**ok, "x_train": x.float()})
    with pytest.raises(TypeError, match="y_test must be an int64 tensor of 2 labels"):
        ImageData(**{**ok, "y_test": y[:1]})
    with pytest.raises(ValueError, match="labels 0..2 but there are 2 classes"):
        ImageData(**{**ok, "y_train": torch.tensor([0, 2])})
    with pytest.raises(ValueError, match="same image shape"):
        ImageData(**{**ok, "x_test": torch.zeros(2, 1, 4, 5, dtype=torch.uint8)})
    with pytest.raises(DatasetError, match=r"dataset t \(from t\): the training labels hold 1 class \(0 = 'a'\)"):
        ImageData(**{**ok, "y_train": torch.tensor([0, 0]), "y_test": torch.tensor([0, 0])})
    with pytest.raises(DatasetError, match=r"the training labels hold 1 class .*at least 2 classes"):
        ImageData(**{**ok, "y_train": torch.tensor([0, 0]), "y_test": torch.tensor([0, 0]), "classes": ("a",)})
    with pytest.raises(DatasetError, match=r"test labels hold 1 class that no training image has \(2 = 'c'\)"):
        ImageData(**{**ok, "classes": ("a", "b", "c"), "y_test": torch.tensor([0, 2])})


# ----------------------------------------------------------------------------------------------------
# folder: trees


def write_png(path: Path, size: tuple[int, int], color: int | tuple[int, int, int], mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def test_folder_spec(tmp_path: Path) -> None:
    root = tmp_path / "pets"
    write_png(root / "train" / "dog" / "b.png", (6, 4), (0, 0, 255))
    write_png(root / "train" / "dog" / "a.png", (6, 4), (0, 255, 0))
    write_png(root / "train" / "cat" / "1.png", (6, 4), (255, 0, 0))
    write_png(root / "train" / "cat" / "2.PNG", (12, 8), (10, 20, 30))  # resized to the common 6×4
    write_png(root / "train" / "cat" / "3.png", (6, 4), 128, mode="L")  # greyscale -> RGB
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    write_png(root / "train" / ".ipynb_checkpoints" / "x.png", (6, 4), 0, mode="L")  # hidden: not a class
    write_png(root / "test" / "dog" / "t.png", (3, 2), (1, 2, 3))
    data = load_dataset(f"folder:{root}")
    assert data.name == f"folder:{root}" and data.source == str(root) and data.flip is True
    assert data.classes == ("cat", "dog")
    assert data.x_train.shape == (5, 3, 4, 6) and data.image_size == (4, 6)
    assert data.y_train.tolist() == [0, 0, 0, 1, 1] and data.y_test.tolist() == [1]
    assert data.x_train[0, :, 0, 0].tolist() == [255, 0, 0]  # cat/1.png
    assert data.x_train[1, :, 2, 3].tolist() == [10, 20, 30]  # cat/2.PNG, resized
    assert data.x_train[2].unique().tolist() == [128]  # greyscale copied to 3 channels
    assert data.x_train[3, :, 0, 0].tolist() == [0, 255, 0]  # dog/a.png before dog/b.png
    assert data.x_test.shape == (1, 3, 4, 6) and data.x_test[0, :, 1, 1].tolist() == [1, 2, 3]


def test_folder_errors(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(f"folder:{root}")
    write_png(root / "train" / "a" / "1.png", (4, 4), 0, mode="L")
    write_png(root / "train" / "b" / "1.png", (4, 4), 255, mode="L")
    with pytest.raises(DatasetError, match=r"has no test/ subfolder.*train/<class>"):
        load_dataset(f"folder:{root}")
    (root / "test" / "c").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"classes \['c'\] that train/ does not have"):
        load_dataset(f"folder:{root}")
    (root / "test" / "c").rmdir()
    (root / "test" / "a").mkdir()
    with pytest.raises(DatasetError, match="test holds no images"):
        load_dataset(f"folder:{root}")
    (root / "test" / "a" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"cannot read the image .*broken\.png"):
        load_dataset(f"folder:{root}")
    (root / "test" / "a" / "broken.png").unlink()
    write_png(root / "test" / "a" / "ok.png", (4, 4), 0, mode="L")
    (root / "train" / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"without images: \['empty'\]"):
        load_dataset(f"folder:{root}")
    (root / "train" / "empty").rmdir()
    data = load_dataset(f"folder:{root}")
    assert data.x_train.shape == (2, 3, 4, 4) and data.classes == ("a", "b")


def test_a_folder_with_one_class_is_refused(tmp_path: Path) -> None:
    # one class folder is nothing to classify: every network would score 100%
    root = tmp_path / "tree"
    write_png(root / "train" / "a" / "1.png", (4, 4), 0, mode="L")
    write_png(root / "test" / "a" / "1.png", (4, 4), 0, mode="L")
    with pytest.raises(DatasetError) as info:
        load_dataset(f"folder:{root}")
    assert str(info.value).startswith(f"image folder {root / 'train'} has 1 class folder ('a'); a classifier needs "
                                      f"at least 2 classes: add a folder of images for each other class")


# ----------------------------------------------------------------------------------------------------
# The validation split


def test_split_is_deterministic_disjoint_and_sized() -> None:
    data = indexed_data(np.arange(200) % 5)
    (x, y), (xv, yv) = split(data, val_size=50, seed=3)
    train, val = indices_of(x), indices_of(xv)
    assert len(val) == 50 and len(train) == 150
    assert set(train.tolist()).isdisjoint(val.tolist()) and len(set(train.tolist()) | set(val.tolist())) == 200
    assert torch.equal(y, data.y_train[train]) and torch.equal(yv, data.y_train[val])  # labels follow images
    assert torch.equal(val, val.sort().values)  # in the order of the training set
    (x2, _), (xv2, _) = split(data, val_size=50, seed=3)
    assert torch.equal(x2, x) and torch.equal(xv2, xv)
    (_, _), (xv3, _) = split(data, val_size=50, seed=4)
    assert not torch.equal(xv3, xv)
    (_, _), (xv4, _) = split(data, val_size=0.1, seed=3)
    assert len(xv4) == 20
    assert torch.bincount(yv, minlength=5).tolist() == [10] * 5


def test_split_is_stratified_on_unbalanced_classes() -> None:
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    np.random.default_rng(0).shuffle(labels)
    data = indexed_data(labels)
    for seed in range(5):
        (_, y), (_, yv) = split(data, val_size=20, seed=seed)
        assert torch.bincount(yv, minlength=3).tolist() == [12, 6, 2]
        (_, y), (_, yv) = split(data, val_size=15, train_size=30, seed=seed)
        counts = torch.bincount(yv, minlength=3).tolist()
        assert sum(counts) == 15 and all(abs(c - e) < 1 for c, e in zip(counts, [9, 4.5, 1.5]))
        assert torch.bincount(y, minlength=3).tolist() == [18, 9, 3]


def test_split_train_size_caps_and_nests() -> None:
    data = indexed_data(np.arange(120) % 3)
    (_, _), (xv_all, _) = split(data, val_size=30, seed=1)
    previous: set[int] = set()
    for train_size in (10, 40, 90):
        (x, y), (xv, _) = split(data, val_size=30, train_size=train_size, seed=1)
        assert len(x) == train_size and torch.equal(xv, xv_all)  # the validation set does not move
        current = set(indices_of(x).tolist())
        assert previous <= current and current.isdisjoint(indices_of(xv).tolist())
        previous = current
    (x, _), _ = split(data, val_size=30, train_size=90, seed=1)
    assert len(x) == 90


def test_split_errors() -> None:
    data = indexed_data(np.arange(50) % 2)
    for val_size, match in ((50, "has only 50 training images"), (0, "at least 1"), (1.5, "strictly between 0 and 1"),
                            (0.001, "is 0 images"), (-3, "at least 1")):
        with pytest.raises(ValueError, match=match):
            split(data, val_size=val_size)
    with pytest.raises(ValueError, match=r"50 training images, 10 of them for validation, leaving 40"):
        split(data, val_size=10, train_size=41)
    with pytest.raises(ValueError, match="1 ≤ train_size ≤ 40"):
        split(data, val_size=10, train_size=0)
    with pytest.raises(TypeError, match="val_size"):
        split(data, val_size=True)
    with pytest.raises(TypeError, match="train_size"):
        split(data, val_size=10, train_size=0.5)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------
# Augmentation and normalisation


def test_mean_std_and_normalize() -> None:
    data = load_dataset("digits")
    mean, std = data.mean_std()
    pixels = data.x_train.double() / 255
    assert mean == pytest.approx([pixels.mean().item()]) and std == pytest.approx([pixels.std(unbiased=False).item()])
    z = normalize(data.x_train, mean, std)
    assert z.dtype == torch.float32 and z.shape == data.x_train.shape
    assert z.mean().item() == pytest.approx(0, abs=1e-4) and z.std().item() == pytest.approx(1, abs=1e-3)
    assert torch.allclose(normalize(data.x_train.float() / 255, mean, std), z, atol=1e-5)
    with pytest.raises(ValueError, match="1 means and 1 stds for 3-channel"):
        normalize(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), mean, std)


def test_docstring_examples() -> None:
    assert doctest.testmod(nas.data).failed == 0


# ----------------------------------------------------------------------------------------------------
# The real data


@pytest.mark.skipif(not (SHARED / "cifar10.npz").is_file(), reason="../shared/data/cifar10.npz is absent")
def test_real_cifar10_through_npz() -> None:
    data = load_dataset(f"npz:{SHARED / 'cifar10.npz'}")
    assert data.x_train.shape == (30000, 3, 32, 32) and data.x_test.shape == (10000, 3, 32, 32)
    assert data.x_train.dtype == torch.uint8 and data.x_train.is_contiguous()
    assert data.classes[:3] == ("airplane", "automobile", "bird") and data.num_classes == 10
    assert torch.bincount(data.y_train).tolist() == [3000] * 10
    mean, std = data.mean_std()  # the values ../shared/data/README.md reports: channels were not mixed up
    assert mean == pytest.approx((0.4915, 0.4820, 0.4462), abs=2e-4)
    assert std == pytest.approx((0.2457, 0.2433, 0.2609), abs=2e-4)
    (x, y), (xv, yv) = split(data, val_size=5000, train_size=10000, seed=0)
    assert len(x) == 10000 and torch.bincount(yv).tolist() == [500] * 10
