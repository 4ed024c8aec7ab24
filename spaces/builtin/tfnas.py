"""``tfnas``: the TF-NAS search space (Hu et al., "TF-NAS: Rethinking Three Search Freedoms of
Latency-Constrained Differentiable NAS", ECCV 2020), as its code and latency table define it.

Layout (TF-NAS ``models/model_search.py``): stem 3x3 s2 conv 3->32 (ReLU); a fixed
MBInvertedResBlock 32->16 (mid 32, so no expansion conv; SE 8; ReLU); six searchable stages,
(cin -> cout, blocks, first stride, activation):

    16->24 x2 s2 relu | 24->40 x3 s2 swish | 40->80 x4 s2 swish | 80->112 x4 s1 swish |
    112->192 x4 s2 swish | 192->320 x1 s1 swish

then a 1x1 conv 320->1280 (swish), global pool and a linear classifier. Per block, one of 8
MBInvertedResBlocks: kernel {3, 5} x expand {3, 6} x SE {no, yes}, where SE's hidden width is Cin
for e3 and 2 x Cin for e6 (the table's ``{SE}`` field). Each stage's depth is elastic (its betas
choose to stop after block 1..n; stage 6 has one block), and its mid channels are what TF-NAS's
channel-level search prunes: the table is keyed ``MBInvertedResBlock_{H}_{Cin}_{SE}_{Cout}_k{k}_s{s}_{act}
-> {mid_channels: ms}``. ``mid_ratios`` (default ``1.0``: mid = Cin x expand) adds that elasticity:
every ratio r gives mid = round(Cin x expand x r) (labels ``k3e6se@0.75``); TF-NAS builds the 1x1
expansion only when mid > Cin, so a ratio must keep every mid above Cin.

The table's ``base`` times the stem, the fixed block, the head conv, the pool and the classifier
together; the ``tfnas`` importer prices those slots with it (``oneshot lut import --format tfnas``).
"""
from __future__ import annotations

from typing import Any, Sequence

from ..builder import LayoutBuilder, cifar_or_imagenet_policy, mb
from ..layout import LayeredSpace
from ..registry import register_space
from ._checks import check_common

#: (cout, blocks, first stride, activation) of the six searchable stages
STAGES = ((24, 2, 2, "relu"), (40, 3, 2, "swish"), (80, 4, 2, "swish"), (112, 4, 1, "swish"),
          (192, 4, 2, "swish"), (320, 1, 1, "swish"))
#: TF-NAS's PRIMITIVES order: (label, kernel, expand, SE hidden as a multiple of Cin)
PRIMITIVES = (("k3e3", 3, 3, 0), ("k3e6", 3, 6, 0), ("k5e3", 5, 3, 0), ("k5e6", 5, 6, 0),
              ("k3e3se", 3, 3, 1), ("k3e6se", 3, 6, 2), ("k5e3se", 5, 3, 1), ("k5e6se", 5, 6, 2))


def _ratios(mid_ratios: Any) -> tuple[float, ...]:
    values = mid_ratios.split(",") if isinstance(mid_ratios, str) else (
        list(mid_ratios) if isinstance(mid_ratios, (list, tuple)) else [mid_ratios])
    try:
        ratios = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"space 'tfnas': mid_ratios must be numbers in (1/3, 1], e.g. 0.5,0.75,1.0; "
                         f"got {mid_ratios!r}") from None
    if not ratios or any(not 1 / 3 < r <= 1 for r in ratios) or len(set(ratios)) != len(ratios):
        raise ValueError(f"space 'tfnas': mid_ratios must be distinct numbers in (1/3, 1] (mid must stay "
                         f"above Cin for e3 blocks), e.g. 0.5,0.75,1.0; got {mid_ratios!r}")
    return ratios


def _choices(cin: int, cout: int, stride: int, act: str, ratios: Sequence[float]) -> list[tuple[str, dict]]:
    out = []
    for r in ratios:
        for label, k, e, se in PRIMITIVES:
            spec = mb(cout, e, k, stride, act, cin, se=se * cin)
            spec["mid"] = max(int(round(cin * e * r)), cin + 1)
            out.append((label if len(ratios) == 1 else f"{label}@{r:g}", spec))
    return out


@register_space("tfnas", "TF-NAS: 6 stages, elastic depth, per block k{3,5} x e{3,6} x SE, elastic mid channels")
def tfnas(resolution: int = 224, num_classes: int = 1000, mid_ratios: Any = "1.0") -> LayeredSpace:
    check_common("tfnas", resolution, num_classes)
    ratios = _ratios(mid_ratios)
    b = LayoutBuilder(cifar_or_imagenet_policy(resolution, "s1.b1"))
    b.stem(32, "relu")
    b.fixed("first", "stem", **mb(16, 1, 3, 1, "relu", 32, se=8))  # mid 32 = Cin: no expansion conv
    for s, (cout, blocks, first_stride, act) in enumerate(STAGES, start=1):
        # TF-NAS's betas pick where a stage stops (after block 1..n); a 1-block stage has no choice
        depth = b.dimension(f"s{s}.depth", [str(d) for d in range(1, blocks + 1)]) if blocks > 1 else None
        for i in range(1, blocks + 1):
            gate = None if i == 1 else (depth, i - 1)
            b.choice(f"s{s}.b{i}", _choices(b.channels, cout, first_stride if i == 1 else 1, act, ratios),
                     stage=f"stage{s}", gate=gate)
    b.head([1280], "swish", num_classes)
    options = {"resolution": resolution, "num_classes": num_classes, "mid_ratios": ",".join(f"{r:g}" for r in ratios)}
    return b.space(LayeredSpace, options, "TF-NAS: blocks after the first of a stage gated by its depth")
