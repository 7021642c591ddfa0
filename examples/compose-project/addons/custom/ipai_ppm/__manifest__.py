{
    "name": "IPAI Project Portfolio",
    "summary": "Portfolio planning on top of projects and timelines",
    "version": "1.1.0",
    "category": "Project",
    "author": "IPAI",
    "license": "AGPL-3",
    "depends": ["ipai_core", "project", "project_timeline"],
    "external_dependencies": {"python": ["openpyxl"]},
    "data": [],
    "installable": True,
}
