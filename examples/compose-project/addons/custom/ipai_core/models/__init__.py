from . import ipai_setting
