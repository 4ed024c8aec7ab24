"""``oneshot spaces``: list the registered spaces, or show one space's layer table."""
from __future__ import annotations

import argparse

from .options import parse_key_values


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("spaces", help="list search spaces, or show one space's layers",
                       description="List the registered search spaces (layers, choices per layer, "
                                   "number of encodings), or `spaces show NAME` for the layer table.")
    p.add_argument("action", nargs="?", default="list", metavar="list|show",
                   help="list the spaces (default) or show one")
    p.add_argument("name", nargs="?", help="space to show (with `show`)")
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
        space = create_space(args.name, **parse_key_values(args.option, "space option", "resolution=32"))
        print(f"{space.name}: {space_description(space.name)}")
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
