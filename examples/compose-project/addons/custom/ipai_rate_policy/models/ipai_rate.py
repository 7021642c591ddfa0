from odoo import fields, models


class IpaiRate(models.Model):
    _name = "ipai.rate"
    _description = "Rate card line"

    name = fields.Char(required=True)
    hourly_rate = fields.Monetary(currency_field="currency_id")
    currency_id = fields.Many2one("res.currency", required=True)
