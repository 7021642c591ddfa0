from . import project_portfolio
