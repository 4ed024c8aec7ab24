"""Supernet training: config, one step, the loop, monitoring and DDP helpers.

``train_supernet(TrainConfig(...), out_dir)`` is the library entry point; ``oneshot train-supernet``
is its command line.
"""
from .config import TrainConfig
from .loop import CHECKPOINT_NAME, CONFIG_NAME, LOG_NAME, TrainingJob, TrainResult, train_supernet
from .step import StepResult, train_step

__all__ = ["TrainConfig", "train_supernet", "TrainingJob", "TrainResult", "train_step", "StepResult", "CHECKPOINT_NAME",
           "LOG_NAME", "CONFIG_NAME"]
