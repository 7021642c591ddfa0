from odoo import fields, models


class IpaiSetting(models.Model):
    _name = "ipai.setting"
    _description = "IPAI setting"

    name = fields.Char(required=True)
    value = fields.Char()
