"""The Home Assistant simulator lives with the demo, which runs it too."""

from hearth.demo.homeassistant import HomeAssistantSim, load_config

__all__ = ["HomeAssistantSim", "load_config"]
