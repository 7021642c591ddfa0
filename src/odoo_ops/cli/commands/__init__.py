"""One module per top-level command; each defines a click command named ``command``.

The module name is the command name (``_`` becomes ``-``).
"""
