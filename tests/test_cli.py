"""``python -m nas.spaces``: what a user and a program read."""

from __future__ import annotations

import json
import subprocess
import sys

import nas


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nas.spaces", *args], capture_output=True, text=True, timeout=120)


def test_lists_the_spaces() -> None:
    result = run()
    assert result.returncode == 0, result.stderr
    for name in nas.list_spaces():
        assert name in result.stdout
    listed = json.loads(run("--json").stdout)["spaces"]
    assert [s["name"] for s in listed] == nas.list_spaces()


def test_describes_a_space_with_its_references() -> None:
    result = run("mobile")
    assert result.returncode == 0, result.stderr
    space = nas.get_space("mobile")
    assert str(space.size()) in result.stdout
    for name, genome in space.references.items():
        assert str(genome) in result.stdout
        cost = nas.count(genome, resolution=space.target_resolution)
        assert f"{cost.params:,}" in result.stdout
        assert f"{cost.macs / 1e6:.2f}" in result.stdout


def test_lists_the_other_members_of_the_families() -> None:
    result = run("mobile")
    space = nas.get_space("mobile")
    members = {n: g for n, (g, _, _) in space.torchvision_members().items() if n not in space.references}
    assert "efficientnet_v2_s" in members and "mobilenet_v2_w0.5" in members
    for name, genome in members.items():
        assert f"  {name}: {genome}" in result.stdout
        assert f"{nas.count(genome, resolution=224).params:,}" in result.stdout
    assert "mobilenet_v2(width_mult=0.5)" in result.stdout


def test_json_is_the_same_for_programs() -> None:
    result = run("mobile", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    space = nas.get_space("mobile")
    assert info["size"] == space.size()
    assert info["dimensions"] == {k: list(v) for k, v in space.dimensions().items()}
    refs = {r["name"]: r for r in info["references"]}
    assert set(refs) == set(space.references)
    assert refs["mobilenet_v2"]["macs"] == 300_774_272
    assert refs["mobilenet_v2"]["params"] == 3_504_872
    assert nas.Genome.parse(refs["efficientnet_b0"]["genome"]) == space.references["efficientnet_b0"]
    members = {m["name"]: m for m in info["members"]}
    assert members["efficientnet_v2_s"]["params"] == 21_458_488 and not members["efficientnet_v2_s"]["point"]
    assert members["efficientnet_b1"]["torchvision"] == "efficientnet_b1"


def test_unknown_space_exits_with_the_known_names() -> None:
    result = run("mobilenet")
    assert result.returncode == 2
    assert f"unknown space 'mobilenet'; known spaces: {', '.join(nas.list_spaces())}" in result.stderr
