from odoo import fields, models


class ProjectPortfolio(models.Model):
    _name = "project.portfolio"
    _description = "Project portfolio"

    name = fields.Char(required=True)
    project_ids = fields.Many2many("project.project")
