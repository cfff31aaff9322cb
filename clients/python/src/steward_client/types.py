"""Shapes of Steward's answers, as typed dictionaries.

The REST API answers JSON; these name the fields the client and its users rely on
(``total=False``: the server may add fields, and a few are present only sometimes). The
full schemas are in the OpenAPI document, ``GET /api/v1/openapi.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, TypedDict, Union

__all__ = [
    "Me",
    "PushedModel",
    "PushedDataset",
    "ModelSummary",
    "DatasetSummary",
    "Check",
    "Step",
    "Run",
    "Review",
    "Deployment",
    "Rollout",
    "Prediction",
    "InferTensor",
    "InferResponse",
    "Pulled",
    "JSONValue",
]

JSONValue = Union[None, bool, int, float, str, List[Any], Dict[str, Any]]


class Me(TypedDict, total=False):
    """Who a token acts as: ``GET /api/v1/me``."""

    userId: str
    email: str
    workspaceId: str
    workspace: Optional[str]
    role: str


class PushedModel(TypedDict, total=False):
    """The answer to a model push. ``created`` is False when the same bytes were already a version."""

    name: str
    version: int
    versionId: str
    sha256: str
    sizeBytes: int
    loadable: bool
    created: bool
    #: Ids of the pipeline runs the push started (the validation run among them).
    runs: List[str]


class PushedDataset(TypedDict, total=False):
    """The answer to a dataset push."""

    name: str
    version: int
    versionId: str
    datasetId: str
    sha256: str
    sizeBytes: int
    format: str
    rows: int
    created: bool


class ModelSummary(TypedDict, total=False):
    name: str
    versions: int
    latestVersion: Optional[int]
    aliases: List[Dict[str, Any]]


class DatasetSummary(TypedDict, total=False):
    name: str
    versions: int
    latestVersion: Optional[int]


class Check(TypedDict, total=False):
    """One check of a run: ``status`` is ``pass``, ``warn`` or ``fail``."""

    name: str
    status: str
    value: Optional[float]
    threshold: Optional[str]
    message: str
    required: bool


class Step(TypedDict, total=False):
    key: str
    status: str
    reason: Optional[str]
    required: bool


class Run(TypedDict, total=False):
    """A pipeline run: ``status`` is queued, running, passed, warned, failed or cancelled."""

    id: str
    number: int
    status: str
    pipeline: Dict[str, Any]
    model: Optional[Dict[str, Any]]
    steps: List[Step]
    checks: List[Check]


class Review(TypedDict, total=False):
    """A review request (the answer to opening one, or ``GET …/reviews/{number}``)."""

    id: str
    number: int
    status: str
    alias: str
    model: Dict[str, Any]
    version: Dict[str, Any]
    state: Optional[Dict[str, Any]]
    signatures: List[Dict[str, Any]]


class Rollout(TypedDict, total=False):
    """A rollout: ``status`` is pending, live, failed or superseded."""

    id: str
    revision: int
    status: str
    primary: Optional[int]
    message: str
    reason: Optional[str]
    replicas: List[str]


class Deployment(TypedDict, total=False):
    """A deployment: what it serves (primary, canary, shadow) and how it is bound to its alias."""

    name: str
    model: str
    environment: str
    alias: str
    following: bool
    status: str
    revision: int
    primary: int
    canary: Optional[Dict[str, Any]]
    shadow: Optional[int]
    rollout: Optional[Rollout]
    replicas: List[Dict[str, Any]]


class Prediction(TypedDict, total=False):
    """Steward's predict answer: which version (and role: primary or canary) answered, and its outputs."""

    requestId: str
    deployment: str
    model: str
    version: int
    role: str
    outputs: Dict[str, Any]


class InferTensor(TypedDict, total=False):
    """A tensor of the Open Inference Protocol: ``data`` flat (row-major) or nested."""

    name: str
    datatype: str
    shape: List[int]
    data: List[Any]
    parameters: Dict[str, Any]


class InferResponse(TypedDict, total=False):
    """An Open Inference Protocol answer; ``parameters.request_id`` is Steward's request id."""

    model_name: str
    model_version: str
    id: str
    parameters: Dict[str, Any]
    outputs: List[InferTensor]


@dataclass(frozen=True)
class Pulled:
    """A downloaded version file, its sha256 checked against the server's."""

    name: str
    version: int
    path: str
    size_bytes: int
    sha256: str
    #: Where an interrupted download was resumed from (0: downloaded whole).
    resumed_from: int = 0
