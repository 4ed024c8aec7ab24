"""``oneshot arch-info SPACE ARCH``: MACs, params and the layer-by-layer choice of one architecture."""
from __future__ import annotations

import argparse

from .options import parse_key_values


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("arch-info", help="MACs, params and layers of one architecture",
                       description="Print MACs (conv + linear multiply-accumulates), params and the "
                                   "layer-by-layer choice of an architecture. ARCH is a key "
                                   "('01201122'), comma-separated indices, 'random', the name of a "
                                   "reference architecture (e.g. mobilenet_v2), a TuNAS indices string "
                                   "(tunas-proxylessnas) or an OFA net.config / ks-e-d .json file (mobilenetv3).")
    p.add_argument("space", help="search space: a name (see `oneshot spaces`), a space file PATH.yaml|.json or package.module:factory; or a reference name alone")
    p.add_argument("arch", nargs="?", help="architecture: key, indices, 'random', a reference name, TuNAS indices or an OFA .json file")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="space option, e.g. -o resolution=32")
    p.add_argument("--seed", type=int, default=0, help="seed for ARCH=random")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from oneshot.costs.counting import flops_params_table
    from oneshot.spaces import create_space
    from oneshot.spaces.references import list_references, reference

    # `arch-info NAME` or `arch-info SPACE NAME` with NAME a reference architecture
    ref_name = args.space if args.arch is None else args.arch
    if ref_name in list_references():
        space, arch = reference(ref_name, **parse_key_values(args.option, "space option", "resolution=32"))
        if args.arch is not None and space.name != args.space:
            from oneshot.spaces.references import get_reference

            home = get_reference(ref_name).space
            why = (f"it is a point of space {home!r}" if home else
                   "it is a fixed published network (its own stem, widths and head), not a point of any "
                   "searchable space")
            raise ValueError(f"{ref_name} is not an architecture of space {args.space!r}: {why}; "
                             f"run `oneshot arch-info {ref_name}`")
    elif args.arch is None:
        raise ValueError(f"give an architecture of {args.space!r}, or a reference name alone "
                         f"({', '.join(list_references())})")
    else:
        from oneshot.spaces.arch_forms import stated_options

        options = parse_key_values(args.option, "space option", "resolution=32")
        if args.arch != "random":  # an OFA file may state its resolution and width; -o still wins
            options = {**stated_options(args.space, args.arch), **options}
        space = create_space(args.space, **options)
        if args.arch == "random":
            arch = space.sample(np.random.default_rng(args.seed))
        else:
            arch = space.parse(args.arch)
    table = flops_params_table(space)
    total = table.price_one(arch)
    print(f"space {space.name} {space.options}")
    print(f"architecture {space.encoding_key(arch)} (canonical {space.key(arch)})")
    from oneshot.spaces.arch_forms import foreign_forms

    for label, text in foreign_forms(space, arch):
        print(f"{label}: {text}")
    print(f"MACs {total['macs'] / 1e6:.2f}M   params {total['params'] / 1e6:.3f}M ({int(total['params']):,})")
    print(f"{'slot':<14}{'choice':<10}{'operator':<56}{'MACs':>12}{'params':>12}")
    for name, op, cost in table.per_layer(arch):
        slot = next(s for s in space.slots if s.name == name)
        label = space.dimensions[slot.dim].choices[arch[slot.dim]] if slot.dim is not None else "fixed"
        print(f"{name:<14}{label:<10}{op.signature():<56}{cost['macs'] / 1e6:>11.2f}M{int(cost['params']):>12,}")
    return 0
