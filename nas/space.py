"""Search spaces: the :class:`Space` interface and the registry that names them.

A space declares choices and named reference genomes; it never builds anything. Spaces live in the
``search_spaces`` package, one module each, and register themselves on import with
:func:`register_space`.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Mapping
from typing import Any

from .genome import Genome

__all__ = ["Inverse", "Space", "register_space", "get_space", "list_spaces"]


class Space(abc.ABC):
    """A design space that Optuna can search.

    Subclasses set :attr:`name`, :attr:`description` and :attr:`target_resolution` and implement
    :meth:`dimensions`, :meth:`genome_from_params`, :meth:`to_params` (with :class:`Inverse`),
    :meth:`size`, and set ``self._references`` (named genomes) for :attr:`references`.
    """

    name: str = ""
    description: str = ""
    target_resolution: int = 224
    _references: Mapping[str, Genome]  # set by each space's constructor

    def sample(self, trial: Any) -> Genome:
        """Suggest every parameter of :meth:`dimensions` on an Optuna ``trial`` (define-by-run, the
        same names every trial, even those the sampled network does not use) and return the genome."""
        params = {name: trial.suggest_categorical(name, choices) for name, choices in self.dimensions().items()}
        return self.genome_from_params(params)

    @abc.abstractmethod
    def genome_from_params(self, params: Mapping[str, Any]) -> Genome:
        """The genome for a value of every dimension (what :meth:`sample` returns for them)."""

    @abc.abstractmethod
    def to_params(self, genome: Genome) -> dict[str, Any]:
        """The parameters that make :meth:`sample` return ``genome``:
        ``space.sample(optuna.trial.FixedTrial(space.to_params(g))) == g``. Raises ``ValueError``
        naming the first gene the space cannot produce."""

    @abc.abstractmethod
    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        """Every Optuna parameter name and its choices, in the order :meth:`sample` suggests them."""

    @abc.abstractmethod
    def size(self) -> int:
        """The number of distinct architectures (distinct canonical genomes) the space contains."""

    @property
    def references(self) -> Mapping[str, Genome]:
        """Hand-designed networks of the space, named after torchvision's builders (a space sets
        ``self._references`` in its constructor)."""
        return self._references

    def torchvision_members(self) -> dict[str, tuple[Genome, str, dict[str, Any]]]:
        """Networks of the families this space covers that torchvision can build, as
        ``name: (genome, torchvision builder name, builder kwargs)``; the tests and
        ``benchmarks/cost.py`` check each is exactly torchvision's. By default, the references named
        after a torchvision builder; spaces add the other members of their families."""
        from torchvision.models import list_models

        known = set(list_models())
        return {name: (genome, name, {}) for name, genome in self.references.items() if name in known}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Inverse:
    """Bookkeeping for :meth:`Space.to_params`: starts every dimension at its first choice, checks each
    value put against the dimension's choices, and checks at the end that the parameters give the
    genome back.

    Example (inside a space's ``to_params``)::

        inv = Inverse(self, genome)
        inv.put("stem_width", genome.blocks[0].out, "block 0")
        ...
        return inv.done()
    """

    def __init__(self, space: Space, genome: Genome | str) -> None:
        self.space = space
        self.genome = Genome.parse(genome) if isinstance(genome, str) else genome
        self.dims = space.dimensions()
        self.params: dict[str, Any] = {name: choices[0] for name, choices in self.dims.items()}

    def fail(self, where: str, why: str) -> ValueError:
        """The error to raise when the genome is not a point of the space."""
        return ValueError(f"genome is not a point of the {self.space.name!r} space: {where}: {why}")

    def put(self, name: str, value: Any, where: str) -> None:
        if value not in self.dims[name]:
            raise self.fail(where, f"{name}={value!r} is not one of {self.dims[name]}")
        self.params[name] = value

    def done(self, why: str = "the parameters found do not reproduce it") -> dict[str, Any]:
        """The parameters, once they are checked to give the genome back (else ``ValueError``: a gene
        that the space ties to another, or does not vary, differs)."""
        if self.space.genome_from_params(self.params) != self.genome:
            raise self.fail("genome", why)
        return self.params


_REGISTRY: dict[str, Space] = {}
_BUILTIN_PACKAGE = "search_spaces"


def register_space(space: Space) -> Space:
    """Register ``space`` under ``space.name``; a second registration of a name is an error."""
    if not isinstance(space, Space):
        raise TypeError(f"register_space expects a nas.Space instance, got {type(space).__name__}")
    if not space.name or not space.name.isidentifier():
        raise ValueError(f"a space needs a name that is a Python identifier, got {space.name!r}")
    if space.name in _REGISTRY:
        raise ValueError(f"a space named {space.name!r} is already registered ({_REGISTRY[space.name]!r})")
    _REGISTRY[space.name] = space
    return space


def _load_builtin() -> None:
    importlib.import_module(_BUILTIN_PACKAGE)


def list_spaces() -> list[str]:
    """Names of the registered spaces, sorted."""
    _load_builtin()
    return sorted(_REGISTRY)


def get_space(name: str) -> Space:
    """The space registered as ``name``; an unknown name raises ``ValueError`` listing the known ones."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown space {name!r}; known spaces: {', '.join(sorted(_REGISTRY))}") from None
