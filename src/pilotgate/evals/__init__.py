"""Evals: packs of cases, assertions over what a task did, stored runs, metrics, comparison and reports."""

from pilotgate.evals.cases import ASSERTION_KINDS, CATEGORIES, Category, EvalCase, EvalPackFile
from pilotgate.evals.observation import CaseObservation, Citation, ObservedToolCall, observation_from_receipts
from pilotgate.evals.packs import EvalPack, EvalSuite, load_pack, load_packs, suite_issues

__all__ = [
    "ASSERTION_KINDS",
    "CATEGORIES",
    "CaseObservation",
    "Category",
    "Citation",
    "EvalCase",
    "EvalPack",
    "EvalPackFile",
    "EvalSuite",
    "ObservedToolCall",
    "load_pack",
    "load_packs",
    "observation_from_receipts",
    "suite_issues",
]
