"""Disaster recovery: drills that measure RTO and RPO for real (``odoo-ops dr``)."""
