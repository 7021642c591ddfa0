"""odoo-ops: run self-hosted Odoo in production."""

__version__ = "0.1.0"
