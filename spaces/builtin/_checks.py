"""Option validation shared by the built-in spaces."""
from __future__ import annotations

#: smallest input any built-in network is defined for (five stride-2 steps still leave a 1x1 map)
MIN_RESOLUTION = 16


def check_common(name: str, resolution: int, num_classes: int) -> None:
    # Every conv is 'same'-padded, so any size works: a stride-s layer maps H to (H - 1) // s + 1 and
    # the stem maps r to (r + 1) // 2, exactly as the published tables key it (OFA: r = 128..224
    # in steps of 4, e.g. 220 -> 110 -> 55 -> 28 -> 14 -> 14 -> 7). No multiple-of-8 rule is needed.
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < MIN_RESOLUTION:
        raise ValueError(f"space {name!r}: resolution must be an integer >= {MIN_RESOLUTION}, got {resolution!r} "
                         "(use 32 for the CIFAR form, 128..224 for ImageNet)")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"space {name!r}: num_classes must be an integer >= 2, got {num_classes!r}")
