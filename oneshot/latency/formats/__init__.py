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

#: format name -> its ``read(path, space=None, **options)``. Every module of this package registers
#: its format(s) with ``@FORMATS.decorator``; they are imported on the first lookup.
FORMATS: Registry[Callable[..., Imported]] = Registry("lut_formats", "latency table format", builtins=__name__,
                                                   valid_label="valid formats")


def import_table(fmt: str, path: str | os.PathLike, space: Any = None, **options: Any) -> Imported:
    """Read ``path`` in format ``fmt`` (see ``FORMATS``) into a ``LatencyTable`` for ``space``."""
    return FORMATS.get(fmt)(path, space, **options)


__all__ = ["FORMATS", "import_table", "Imported"]
