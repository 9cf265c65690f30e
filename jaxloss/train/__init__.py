"""Training studies with optax (needs the ``examples`` extra).

``harness.train`` runs many seeds and learning rates as one compiled program;
``compare.run`` is the study behind ``jaxloss compare``.
"""

from jaxloss.train.compare import Study as Study
from jaxloss.train.compare import StudyConfig as StudyConfig
from jaxloss.train.datasets import Dataset as Dataset
from jaxloss.train.datasets import load as load_dataset
from jaxloss.train.harness import Experiment as Experiment
from jaxloss.train.harness import Result as Result
from jaxloss.train.harness import train as train
from jaxloss.train.metrics import steps_to_threshold as steps_to_threshold
from jaxloss.train.metrics import summarize as summarize
from jaxloss.train.models import ModelSpec as ModelSpec
from jaxloss.train.models import parse_model as parse_model

__all__ = [
    "Dataset",
    "Experiment",
    "ModelSpec",
    "Result",
    "Study",
    "StudyConfig",
    "load_dataset",
    "parse_model",
    "steps_to_threshold",
    "summarize",
    "train",
]
