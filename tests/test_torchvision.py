"""The references (and the other members of their families) are exactly torchvision's networks:
same parameter count, same MACs, and the same logits once torchvision's weights are copied in."""

from __future__ import annotations

import pytest
from torchvision.models import list_models

import nas
from nas.fidelity import torchvision_fidelity


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
    if not kwargs:  # the published metadata describes the default member
        assert f.params == f.meta_params
        assert abs(f.macs / 1e9 - f.meta_gmacs) <= 0.0005 + 1e-12
    assert f.max_logit_diff <= 1e-5
    assert f.exact


def test_every_reference_named_after_torchvision_is_checked() -> None:
    checked = {(space, name) for space, name, *_ in MEMBERS}
    known = set(list_models())
    for space in nas.list_spaces():
        for name in nas.get_space(space).references:
            assert (space, name) in checked or name not in known


def test_a_different_network_is_caught() -> None:
    v2 = nas.get_space("mobile").references["mobilenet_v2"]
    f = torchvision_fidelity(nas.Genome(blocks=v2.blocks, head=v2.head, norm=nas.Norm(eps=1e-3)), "mobilenet_v2")
    assert f.params == f.torchvision_params and f.macs == f.torchvision_macs
    assert f.max_logit_diff > 1e-5 and not f.exact  # only batch norm's eps differs, and it shows
