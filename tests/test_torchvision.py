"""The references (and the other members of their families) are exactly torchvision's networks:
same parameter count, same MACs, and the same logits once torchvision's weights are copied in."""

from __future__ import annotations

import pytest
import torchvision
from torchvision.models import list_models

import nas
from nas.fidelity import describes_published, torchvision_fidelity


def members() -> list[tuple[str, str, nas.Genome, str, dict]]:
    rows = []
    for space_name in nas.list_spaces():
        space = nas.get_space(space_name)
        rows += [(space_name, name, genome, builder, kwargs)
                 for name, (genome, builder, kwargs) in space.torchvision_members().items()]
    return rows


MEMBERS = members()


@pytest.mark.parametrize("space, name, genome, builder, kwargs", MEMBERS,
                         ids=[f"{space}-{name}" for space, name, *_ in MEMBERS])
def test_exactly_torchvision(space: str, name: str, genome: nas.Genome, builder: str, kwargs: dict) -> None:
    f = torchvision_fidelity(genome, builder, **kwargs)
    assert f.params == f.torchvision_params
    assert f.macs == f.torchvision_macs
    if describes_published(kwargs):  # the published metadata describes this member
        # with or without the auxiliary classifiers it leaves out (GoogLeNet's weights drop them, Inception-v3's
        # keep them; tests/test_space_inception.py checks which)
        assert f.meta_params in (f.params, f.params + f.aux_params)
        assert abs(f.macs / 1e9 - f.meta_gmacs) <= 0.0005 + 1e-12
    assert f.max_logit_diff <= 1e-5
    assert f.exact


def test_every_reference_named_after_torchvision_is_checked() -> None:
    checked = {(space, name) for space, name, *_ in MEMBERS}
    known = set(list_models())
    for space in nas.list_spaces():
        for name in nas.get_space(space).references:
            assert (space, name) in checked or name not in known


# torchvision's classifiers that are transformers, not convolutional networks: no space is meant to hold them
TRANSFORMERS = ("vit_", "swin_", "maxvit_")
# CNN families that no space reproduces yet: each one expected to fail below, strictly, so that adding
# the family to a space and forgetting this list fails too
NOT_YET: tuple[str, ...] = ()
CNNS = sorted(name for name in list_models(module=torchvision.models) if not name.startswith(TRANSFORMERS))
DEFAULT_MEMBERS = {builder for *_, builder, kwargs in MEMBERS if describes_published(kwargs)}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(
    strict=True, reason="no space reproduces this family yet")) if n.startswith(NOT_YET) else n for n in CNNS])
def test_every_torchvision_cnn_is_reproduced(name: str) -> None:
    # a CNN classifier that a new torchvision release adds fails here until a space reproduces it
    assert name in DEFAULT_MEMBERS, f"torchvision's {name} is a member of no space (torchvision_members())"


def test_a_different_network_is_caught() -> None:
    v2 = nas.get_space("mobile").references["mobilenet_v2"]
    f = torchvision_fidelity(nas.Genome(blocks=v2.blocks, head=v2.head, norm=nas.Norm(eps=1e-3)), "mobilenet_v2")
    assert f.params == f.torchvision_params and f.macs == f.torchvision_macs
    assert f.max_logit_diff > 1e-5 and not f.exact  # only batch norm's eps differs, and it shows
