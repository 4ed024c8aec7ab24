"""Importers: published latency tables read into ``LatencyTable`` (keyed by our operator signatures).

Every importer is ``read(path, space=None, **options) -> Imported``. Formats keyed by operator shape
(OFA/ProxylessNAS YAML, TF-NAS pickle, S3NAS folder) are mapped to a space's operators by matching
their fields (input size, Cin, Cout, stride, kernel, mid channels, SE, activation); formats keyed by
position (OSNASLib, TuNAS, Single-Path NAS) fill the table's positional part for the space they
describe. ``Imported.notes`` says what was adjusted (clamped entries, unmatched keys) so the CLI can
report it instead of hiding it.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from oneshot.registry import Registry

from ._common import Imported

#: format name -> its ``read`` function (lazy: a format's parser is imported when it is used)
FORMATS: Registry[Callable[..., Imported]] = Registry("lut_formats", "latency table format",
                                                   valid_label="valid formats")
FORMATS.register("ofa", f"{__name__}.ofa:read_ofa",
                 "OFA / ProxylessNAS YAML (`expanded_conv-input:...`); OFA's expand = mid channels")
FORMATS.register("proxylessnas", f"{__name__}.ofa:read_proxylessnas",
                 "ProxylessNAS YAML (same grammar; expand = expansion ratio, `var` not `std`)")
FORMATS.register("tfnas", f"{__name__}.tfnas:read",
                 "TF-NAS pickle (restricted unpickler; negative entries clamped and reported)")
FORMATS.register("s3nas", f"{__name__}.s3nas:read",
                 "S3NAS folder: <Class>/<block string>_imgsize<H>.json -> {\"latency\": ms}")
FORMATS.register("osnaslib", f"{__name__}.osnaslib:read",
                 "OSNASLib JSON {\"latency\": [[per layer, per choice]], \"base_latency\": ms}")
FORMATS.register("csv", f"{__name__}.csvfmt:read",
                 "generic CSV: key,latency_ms[,std_ms,count] (key = signature, @slot:label or constant)")
FORMATS.register("tunas", f"{__name__}.tunas:read",
                 "TuNAS linear Pixel-1 model for tunas-proxylessnas (bias + one-hot coefficients)")
FORMATS.register("single-path-nas", f"{__name__}.single_path:read",
                 "Single-Path NAS per-layer Pixel-1 runtime model (single-path-nas space)")


def import_table(fmt: str, path: str | os.PathLike, space: Any = None, **options: Any) -> Imported:
    """Read ``path`` in format ``fmt`` (see ``FORMATS``) into a ``LatencyTable`` for ``space``."""
    return FORMATS.get(fmt)(path, space, **options)


__all__ = ["FORMATS", "import_table", "Imported"]
