{
    "name": "IPAI Rate Policy",
    "summary": "Rate cards and billing policies for projects",
    "version": "18.0.1.0.3",
    "category": "Accounting",
    "author": "IPAI",
    "license": "LGPL-3",
    "depends": ["ipai_core", "account"],
    "data": ["security/ir.model.access.csv"],
    "installable": True,
}
