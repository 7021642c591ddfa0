"""The HTTP adapter: an httpx client on the deployment's base URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import TargetError

if TYPE_CHECKING:
    import httpx


@dataclass
class Http:
    base_url: str
    timeout: float = 5.0
    verify: bool = True

    def client(self, *, follow_redirects: bool = False) -> httpx.Client:
        import httpx

        return httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)),
            follow_redirects=follow_redirects,
            verify=self.verify,
            headers={"User-Agent": "odoo-ops"},
        )

    def get(self, path: str, *, follow_redirects: bool = False) -> httpx.Response:
        import httpx

        try:
            with self.client(follow_redirects=follow_redirects) as client:
                return client.get(path)
        except httpx.TimeoutException:
            raise TargetError(
                f"{self.base_url}{path}: no answer within {self.timeout:g}s"
            ) from None
        except httpx.HTTPError as exc:
            raise TargetError(f"{self.base_url}{path}: {describe_http_error(exc)}") from None

    def json_rpc(self, path: str, params: dict[str, Any] | None = None) -> Any:
        import httpx

        payload = {"jsonrpc": "2.0", "method": "call", "params": params or {}, "id": 1}
        try:
            with self.client() as client:
                response = client.post(path, json=payload)
        except httpx.TimeoutException:
            raise TargetError(
                f"{self.base_url}{path}: no answer within {self.timeout:g}s"
            ) from None
        except httpx.HTTPError as exc:
            raise TargetError(f"{self.base_url}{path}: {describe_http_error(exc)}") from None
        if response.status_code != 200:
            raise TargetError(f"{self.base_url}{path}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise TargetError(f"{self.base_url}{path}: answer is not JSON") from None
        if isinstance(body, dict) and "error" in body:
            err = body["error"]
            msg = (
                err.get("data", {}).get("message") or err.get("message")
                if isinstance(err, dict)
                else str(err)
            )
            raise TargetError(f"{self.base_url}{path}: JSON-RPC error: {msg}")
        return body.get("result") if isinstance(body, dict) else None


def describe_http_error(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "host name does not resolve"
        if "Connection refused" in text:
            return "connection refused"
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return "TLS certificate not valid: " + text.split("]", 1)[-1].strip()
        return "cannot connect: " + (text or type(exc).__name__)
    return str(exc) or type(exc).__name__
