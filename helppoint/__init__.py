"""helppoint: an open control-room platform for public SOS Help Points."""

__version__ = "0.1.0"
