"""``python -m nas.spaces [NAME] [--json]``: list the search spaces, or describe one (its dimensions,
its size, its references with their exact cost at the space's target resolution, and the other
members of their families that its recipes make exactly as torchvision does)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from .cli import HelpFormatter
from .cost import count
from .space import Space, get_space, list_spaces

__all__ = ["build_parser", "describe", "main"]


def describe(space: Space) -> dict[str, Any]:
    """Everything ``python -m nas.spaces NAME --json`` prints, as a dict."""
    resolution = space.target_resolution
    references = []
    for name, genome in space.references.items():
        cost = count(genome, resolution=resolution)
        references.append({
            "name": name, "macs": cost.macs, "params": cost.params, "activations": cost.activations,
            "receptive_field": cost.receptive_field, "genome": str(genome),
        })
    members = []
    for name, (genome, builder, kwargs) in space.torchvision_members().items():
        if name in space.references:
            continue
        cost = count(genome, resolution=resolution)
        members.append({"name": name, "torchvision": builder, "kwargs": kwargs, "macs": cost.macs,
                        "params": cost.params, "point": _is_point(space, genome), "genome": str(genome)})
    size = space.size()
    return {
        "name": space.name,
        "description": space.description,
        "target_resolution": resolution,
        "dimensions": {name: list(choices) for name, choices in space.dimensions().items()},
        "size": size,
        "size_text": f"{size:.3e}",
        "references": references,
        "members": members,
    }


def _is_point(space: Space, genome: Any) -> bool:
    try:
        space.to_params(genome)
    except ValueError:
        return False
    return True


def _grouped_dimensions(dimensions: dict[str, list[Any]]) -> list[tuple[str, list[Any]]]:
    # per-block parameters repeat for every block slot: show each kind once, with how many there are
    rows: dict[str, tuple[int, list[Any]]] = {}
    for name, choices in dimensions.items():
        key = re.sub(r"^s\d+_b\d+_", "s*_b*_", name)
        n, _ = rows.get(key, (0, choices))
        rows[key] = (n + 1, choices)
    return [(f"{key} (x{n})" if n > 1 else key, choices) for key, (n, choices) in rows.items()]


def _print_space(info: dict[str, Any]) -> None:
    res = info["target_resolution"]
    print(f"{info['name']}: {info['description']}")
    print(f"target resolution {res}×{res}; {len(info['dimensions'])} Optuna parameters; "
          f"size {info['size']} distinct architectures (about {info['size_text']})")
    print("\ndimensions (sN = stage N; s*_b* = every block slot of every stage):")
    rows = _grouped_dimensions(info["dimensions"])
    width = max(len(name) for name, _ in rows)
    for name, choices in rows:
        print(f"  {name:<{width}}  {' | '.join(map(str, choices))}")
    print(f"\nreferences (MACs and activations at {res}×{res}, batch 1; FLOPs = 2 × MACs):")
    header = f"  {'name':<22} {'MMACs':>9} {'params':>11} {'peak act.':>11} {'RF':>5}"
    print(header)
    for ref in info["references"]:
        print(f"  {ref['name']:<22} {ref['macs'] / 1e6:>9.2f} {ref['params']:>11,} {ref['activations']:>11,} "
              f"{ref['receptive_field']:>5}")
    if info["members"]:
        print(f"\nother members of their families, exactly torchvision's (MACs at {res}×{res}; * = a point of "
              "this space too):")
        width = max(len(m["name"]) for m in info["members"])
        for m in info["members"]:
            args = ", ".join(f"{k}={v}" for k, v in m["kwargs"].items())
            call = f"{m['torchvision']}({args})" if args else m["torchvision"]
            point = "*" if m["point"] else " "
            print(f"  {m['name']:<{width}} {m['macs'] / 1e6:>9.2f} {m['params']:>11,}  {point} {call}")
    print("\ngenomes:")
    for ref in info["references"] + info["members"]:
        print(f"  {ref['name']}: {ref['genome']}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nas.spaces", formatter_class=HelpFormatter,
        description="List the search spaces, or describe one: its dimensions, its size, its references with their "
                    "exact cost at the space's target resolution, and the other members of their families that its "
                    "recipes make exactly as torchvision does.")
    parser.add_argument("name", nargs="?", help=f"a space to describe, one of {', '.join(list_spaces())} (default: "
                                                "list them all)")
    parser.add_argument("--json", action="store_true", help="print JSON for programs instead of tables")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.name is None:
        spaces = [get_space(name) for name in list_spaces()]
        rows = [{"name": s.name, "description": s.description, "target_resolution": s.target_resolution,
                 "parameters": len(s.dimensions()), "size_text": f"{s.size():.3e}",
                 "references": list(s.references)} for s in spaces]
        if args.json:
            print(json.dumps({"spaces": rows}, indent=2))
        else:
            for row in rows:
                print(f"{row['name']:<10} {row['description']}\n{'':<10} {row['parameters']} parameters, "
                      f"about {row['size_text']} architectures, references: {', '.join(row['references'])}")
            print("\ndescribe one with: python -m nas.spaces NAME")
        return 0
    try:
        space = get_space(args.name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info = describe(space)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_space(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
