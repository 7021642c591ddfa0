"""Fixtures of the live-check tests; the helpers live in :mod:`.helpers`."""

from .helpers import hanging_server, header_server, live, tls, trust_test_ca

__all__ = ["hanging_server", "header_server", "live", "tls", "trust_test_ca"]
