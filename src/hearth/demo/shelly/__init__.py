"""A simulated Shelly fleet (Gen2+ RPC devices) that aioshelly drives like the real thing."""

from hearth.demo.shelly.device import SimDevice
from hearth.demo.shelly.fleet import Fleet
from hearth.demo.shelly.models import MODELS, Model

__all__ = ["MODELS", "Fleet", "Model", "SimDevice"]
