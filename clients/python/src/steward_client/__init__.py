"""steward-client: Steward's API from Python, with the standard library only.

>>> from steward_client import Steward
>>> st = Steward.from_env()                      # STEWARD_URL, STEWARD_TOKEN
>>> v = st.push_model("model.onnx", "credit-risk", metrics={"auc": 0.91}, train_datasets=["credit-train@1"])
>>> run = st.wait_for_validation("credit-risk", v["version"])
>>> st.open_review("credit-risk", v["version"], "production", "Retrained on March data.")

See docs/PYTHON.md for a walk-through.
"""

from .client import DatasetRef, Steward, __version__, validation_failed
from .errors import ChecksumError, StewardError, WaitTimeout
from .types import (
    Check,
    DatasetSummary,
    Deployment,
    InferResponse,
    InferTensor,
    Me,
    ModelSummary,
    Prediction,
    Pulled,
    PushedDataset,
    PushedModel,
    Review,
    Rollout,
    Run,
    Step,
)

__all__ = [
    "Steward",
    "StewardError",
    "ChecksumError",
    "WaitTimeout",
    "validation_failed",
    "DatasetRef",
    "Check",
    "DatasetSummary",
    "Deployment",
    "InferResponse",
    "InferTensor",
    "Me",
    "ModelSummary",
    "Prediction",
    "Pulled",
    "PushedDataset",
    "PushedModel",
    "Review",
    "Rollout",
    "Run",
    "Step",
    "__version__",
]
