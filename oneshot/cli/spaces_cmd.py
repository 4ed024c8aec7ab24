"""``oneshot spaces``: list the registered spaces, or show one space's layer table."""
from __future__ import annotations

import argparse

from .options import parse_key_values


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("spaces", help="list search spaces, or show one space's layers",
                       description="List the registered search spaces (layers, choices per layer, "
                                   "number of encodings), or `spaces show NAME` for the layer table; "
                                   "`spaces show NAME --format yaml` writes the space as a space file "
                                   "that `--space FILE.yaml` reads back (see docs/spaces.md).")
    p.add_argument("action", nargs="?", default="list", metavar="list|show",
                   help="list the spaces (default) or show one")
    p.add_argument("name", nargs="?", help="space to show (with `show`): a name, a space file PATH.yaml|.json, "
                                           "or package.module:factory")
    p.add_argument("--format", choices=("table", "yaml", "json"), default="table",
                   help="with `show`: the layer table (default), or the space as a YAML / JSON space file")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="space option, e.g. -o resolution=32 -o num_classes=10 (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oneshot.spaces import create_space, list_spaces, space_description

    if args.action not in ("list", "show"):
        hint = (f"; to see that space: `oneshot spaces show {args.action}`" if args.action in list_spaces()
                else "; run `oneshot spaces` to list the spaces")
        raise ValueError(f"`oneshot spaces {args.action}`: unknown action, use list or show{hint}")
    if args.action == "show":
        if not args.name:
            raise ValueError("`oneshot spaces show` needs a space name; run `oneshot spaces` to list them")
        options = parse_key_values(args.option, "space option", "resolution=32")
        space = create_space(args.name, **options)
        if args.format != "table":
            return _write_file(args.name, space, options, args.format)
        described = space_description(args.name) if args.name in list_spaces() else space.description
        print(f"{space.name}: {described}")
        print(f"options: {space.options}   resolution policy: {space.policy.note}")
        print(f"{len(space)} dimensions, {space.size:,} encodings")
        print(f"{'slot':<14}{'stage':<10}{'dim':>4}  {'in':>12}  {'out':>6}  {'stride':>6}  choices")
        for slot in space.slots:
            op = slot.ops[0]
            dim = "-" if slot.dim is None else str(slot.dim)
            labels = space.dimensions[slot.dim].choices if slot.dim is not None else (op.kind,)
            gate = f" (active if {space.dimensions[slot.gate[0]].name} >= "\
                   f"{space.dimensions[slot.gate[0]].choices[slot.gate[1]]})" if slot.gate else ""
            strides = sorted({o.stride for o in slot.ops})
            print(f"{slot.name:<14}{slot.stage:<10}{dim:>4}  {op.in_hw:>4}x{op.in_hw:<3}x{op.cin:<4}"
                  f"{op.cout:>6}  {'/'.join(map(str, strides)):>6}  {', '.join(labels)}{gate}")
        extra = [d for d in space.dimensions if not any(s.dim == space.dimensions.index(d) for s in space.slots)]
        for d in extra:
            print(f"{'':<14}{'':<10}{space.dimensions.index(d):>4}  dimension {d.name}: {', '.join(d.choices)}")
        return 0
    print(f"{'space':<20}{'layers':>7}  {'choices/layer':<16}{'encodings':>28}  description")
    for name in list_spaces():
        space = create_space(name)
        counts = sorted({d.size for d in space.dimensions})
        print(f"{name:<20}{len(space):>7}  {'/'.join(map(str, counts)):<16}{space.size:>28,}  "
              f"{space_description(name)}")
    return 0


def _write_file(target: str, space, options: dict, fmt: str) -> int:
    """Print ``space`` as a space file (its policy probed at every resolution when it has that option)."""
    from oneshot.spaces import create_space
    from oneshot.spaces.spec_file import dump_spec, spec_from_space

    if getattr(space, "spec", None):  # a file-defined space: its own description
        print(dump_spec(space.spec, fmt), end="")
        return 0
    rest = {k: v for k, v in options.items() if k != "resolution"}
    at = (lambda r: create_space(target, **rest, resolution=r)) if "resolution" in space.options else None
    print(dump_spec(spec_from_space(space, at), fmt), end="")
    return 0
