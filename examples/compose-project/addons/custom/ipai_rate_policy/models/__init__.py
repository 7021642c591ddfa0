from . import ipai_rate
