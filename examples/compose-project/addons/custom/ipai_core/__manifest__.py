{
    "name": "IPAI Core",
    "summary": "Shared models and settings of the IPAI addons",
    "version": "18.0.1.2.0",
    "category": "Hidden",
    "author": "IPAI",
    "website": "https://example.com",
    "license": "LGPL-3",
    "depends": ["base", "mail"],
    "data": ["security/ir.model.access.csv", "views/ipai_core_views.xml"],
    "installable": True,
}
