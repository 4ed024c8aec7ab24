"""Latency lookup tables: profile this device, import published tables, check coverage, validate.

The table itself (``LatencyTable``, JSON) and its application to a space (``pricing``) are
framework-free; profiling and validation import torch inside the functions that time networks. The
combined cost model of a search (MACs, params and latency) is ``oneshot.costs.cost_model``.
"""
from .pricing import LATENCY, Missing, latency_table, missing_entries, missing_signatures
from .table import Entry, LatencyTable, load_table

__all__ = ["LatencyTable", "Entry", "load_table", "latency_table", "missing_entries", "missing_signatures",
           "Missing", "LATENCY"]
