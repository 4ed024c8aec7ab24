"""Writes OFA MobileNetV3 ``net.config`` files in OFA's published format (the JSON ``MobileNetV3.config``
of a specialized sub-network: ``first_conv``, ``blocks`` of ``MobileInvertedResidualBlock`` with a
``mobile_inverted_conv`` and a ``shortcut``, ``final_expand_layer``, ``feature_mix_layer``,
``classifier``), from OFA's published structure only: no code of this project is used.

``python tests/spaces/ofa_fixture.py`` rewrites the fixtures in tests/spaces/fixtures/.
"""
from __future__ import annotations

import json
from pathlib import Path

#: OFA MobileNetV3 (ofa_mbv3_d234_e346_k357_w{1.0,1.2}): stem, first block, stage widths, head widths
OFA_WIDTHS = {1.0: (16, 16, (24, 40, 80, 112, 160), 960, 1280), 1.2: (24, 24, (32, 48, 96, 136, 192), 1152, 1536)}
STRIDES = (2, 2, 2, 1, 2)
ACTS = ("relu", "relu", "h_swish", "h_swish", "h_swish")
SE = (False, True, False, True, True)
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: the sub-network of the fixtures (OFA's ks/e/d form: 20 kernels, 20 expand ratios, 5 depths)
KSED = {"ks": [3, 5, 7, 3, 5, 5, 3, 7, 7, 3, 5, 5, 5, 7, 3, 3, 7, 5, 3, 5],
        "e": [4, 3, 6, 4, 6, 3, 4, 3, 6, 6, 4, 3, 3, 4, 6, 6, 6, 6, 4, 3],
        "d": [2, 3, 4, 2, 3]}


def _divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _conv(cin, cout, k, stride, act, use_bn=True):
    return {"name": "ConvLayer", "kernel_size": k, "stride": stride, "dilation": 1, "groups": 1, "bias": False,
            "has_shuffle": False, "in_channels": cin, "out_channels": cout, "use_bn": use_bn, "act_func": act,
            "dropout_rate": 0, "ops_order": "weight_bn_act"}


def _block(cin, cout, k, stride, e, mid, act, se):
    shortcut = None
    if stride == 1 and cin == cout:
        shortcut = {"name": "IdentityLayer", "in_channels": cin, "out_channels": cout, "use_bn": False,
                    "act_func": None, "dropout_rate": 0, "ops_order": "weight_bn_act"}
    return {"name": "MobileInvertedResidualBlock",
            "mobile_inverted_conv": {"name": "MBInvertedConvLayer", "in_channels": cin, "out_channels": cout,
                                     "kernel_size": k, "stride": stride, "expand_ratio": e, "mid_channels": mid,
                                     "act_func": act, "use_se": se},
            "shortcut": shortcut}


def net_config(ks, e, d, width: float = 1.0, n_classes: int = 1000) -> dict:
    """OFA's ``net.config`` of the sub-network (ks, e, d), as ``get_active_subnet().config`` writes it."""
    stem, first, widths, final, last = OFA_WIDTHS[width]
    blocks = [_block(stem, first, 3, 1, 1, None, "relu", False)]
    cin = first
    for s, (cout, depth) in enumerate(zip(widths, d)):
        for b in range(depth):
            i = 4 * s + b
            stride = STRIDES[s] if b == 0 else 1
            blocks.append(_block(cin, cout, ks[i], stride, e[i], _divisible(round(cin * e[i])), ACTS[s], SE[s]))
            cin = cout
    return {"name": "MobileNetV3", "bn": {"momentum": 0.1, "eps": 1e-05},
            "first_conv": _conv(3, stem, 3, 2, "h_swish"),
            "blocks": blocks,
            "final_expand_layer": _conv(cin, final, 1, 1, "h_swish"),
            "feature_mix_layer": _conv(final, last, 1, 1, "h_swish", use_bn=False),
            "classifier": {"name": "LinearLayer", "in_features": last, "out_features": n_classes, "bias": True,
                           "use_bn": False, "act_func": None, "dropout_rate": 0.1, "ops_order": "weight_bn_act"}}


if __name__ == "__main__":
    FIXTURES.mkdir(exist_ok=True)
    (FIXTURES / "ofa_mbv3_w1.0_net.config.json").write_text(json.dumps(net_config(**KSED), indent=4) + "\n")
    (FIXTURES / "ofa_mbv3_ksed_r160.json").write_text(json.dumps({"wid": None, **KSED, "r": [160]}) + "\n")
