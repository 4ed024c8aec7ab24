"""Evaluators: ``evaluate(archs) -> metrics``, in-process or on a pool of Ray actors.

Every kind is an entry of the registry ``EVALUATORS`` (``base.py``); ``EvaluatorSpec(kind, options)``
builds one anywhere, a Ray worker included."""
from .base import EVALUATORS, EvaluationResult, Evaluator, EvaluatorSpec, register_evaluator, stream_results

__all__ = ["EVALUATORS", "EvaluationResult", "Evaluator", "EvaluatorSpec", "register_evaluator", "stream_results"]
