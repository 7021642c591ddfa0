"""``odoo-ops serve``: a read-only status web page over the deployments' records."""

from odoo_ops.serve.app import ServeState, create_app, metrics_text

__all__ = ["ServeState", "create_app", "metrics_text"]
