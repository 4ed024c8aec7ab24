"""``oneshot landmarks``: networks trained alone that correct a supernet's depth bias (docs/ranking.md)."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "landmarks", help="propose and train the landmark networks that correct a supernet's ranking",
        description="Weight sharing misjudges how much early and late layers matter. A few pairs of networks "
                    "of nearly equal cost, trained alone, measure the depth trend; `oneshot search --landmarks "
                    "DIR/landmarks.csv` reweights the supernet's fit by it. `propose` picks the pairs from a "
                    "finished search's scores (no ground truth), `train` trains them (resumable; rerun to "
                    "continue).",
        epilog="example: oneshot landmarks propose --search runs/s --out runs/lm && oneshot landmarks train "
               "runs/lm && oneshot search --out runs/s --resume --landmarks runs/lm/landmarks.csv ...")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    q = verbs.add_parser("propose", help="choose landmark pairs from a search's scores",
                         description="Fit the additive model to the search's supernet scores and pick, per cost "
                                     "stratum, the pair of nearly equal cost whose order depends most on the depth "
                                     "trend. Writes OUT/landmarks.csv (accuracy empty) and OUT/landmarks.json.")
    q.add_argument("--search", required=True, metavar="RUN", help="a finished `oneshot search --supernet` run")
    q.add_argument("--out", required=True, help="landmarks directory (must not hold landmarks yet)")
    q.add_argument("--pairs", type=int, default=8, help="pairs to propose (default 8: 16 networks)")
    q.add_argument("--within", default=None, metavar="METRIC<=VALUE",
                   help="cost range of the landmarks, e.g. 'macs<=60M' (default: every cost; the range your "
                        "budgets fall in is the one to correct)")
    q.add_argument("--tolerance", type=float, default=0.05, help="largest relative cost gap in a pair (default 0.05)")
    q.add_argument("--pool", type=int, default=20000, help="random candidates the pairs come from (default 20000)")
    q.add_argument("--seed", type=int, default=0, help="seed of the candidate pool")
    q.set_defaults(func=run_propose)
    t = verbs.add_parser("train", help="train the proposed landmarks alone and record their accuracy",
                         description="Train each landmark without an accuracy with the supernet's recipe "
                                     "(`oneshot train-arch`), score it on the held-out images (validation + "
                                     "test) and write the accuracy into landmarks.csv at once. Interrupted "
                                     "networks resume from their last epoch.")
    t.add_argument("directory", help="landmarks directory of `oneshot landmarks propose`")
    t.add_argument("--epochs", type=int, default=None, help="stand-alone epochs per landmark (default 12)")
    t.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    t.add_argument("--supernet", default=None, metavar="CKPT",
                   help="the supernet whose recipe and data train them (default: the search's)")
    t.set_defaults(func=run_train)


def run_propose(args: argparse.Namespace) -> int:
    from oneshot.errors import ConfigError
    from oneshot.landmark_runs import propose
    from oneshot.search import parse_constraint

    metric, max_cost = "macs", None
    if args.within:
        limit = parse_constraint(args.within)
        if limit.op != "<=":
            raise ConfigError(f"--within {args.within!r}: give an upper limit, e.g. 'macs<=60M'")
        metric, max_cost = limit.metric, limit.value
    records = propose(args.search, args.out, pairs=args.pairs, metric=metric, max_cost=max_cost,
                      tolerance=args.tolerance, pool=args.pool, seed=args.seed)
    unit = 1e6
    for a, b in zip(records[::2], records[1::2]):
        print(f"pair {a['pair']}: {a['encoding']} ({a['cost'] / unit:.1f}M {metric})  vs  "
              f"{b['encoding']} ({b['cost'] / unit:.1f}M {metric})")
    print(f"wrote {args.out}/landmarks.csv; next: oneshot landmarks train {args.out}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from oneshot.landmark_runs import DEFAULT_EPOCHS, train

    records = train(args.directory, epochs=args.epochs or DEFAULT_EPOCHS, seed=args.seed, supernet=args.supernet)
    print(f"{len(records)} landmarks measured: {args.directory}/landmarks.csv; use it with "
          f"oneshot search ... --landmarks {args.directory}/landmarks.csv")
    return 0
