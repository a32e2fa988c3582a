"""private_key_jwt for tests: a client's key pair and the assertions it signs (RFC 7523)."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientKey:
    """A private key a client signs with, and the algorithm it signs with."""

    key: RSAKey | ECKey
    alg: str

    @classmethod
    def rsa(cls, kid: str = "rsa-1", alg: str = "PS256") -> ClientKey:
        return cls(RSAKey.generate_key(2048, parameters={"kid": kid}), alg)

    @classmethod
    def ec(cls, kid: str = "ec-1") -> ClientKey:
        return cls(ECKey.generate_key("P-256", parameters={"kid": kid}), "ES256")

    @property
    def kid(self) -> str:
        return str(self.key.kid)

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self.key.as_dict(private=False))]}

    def sign(
        self,
        client_id: str,
        aud: str | list[str] | None,
        now: datetime,
        *,
        lifetime: int = 60,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """An assertion issued at `now`; `claims` override (a None value drops the claim)."""
        iat = int(now.timestamp())
        body: dict[str, Any] = {
            "iss": client_id,
            "sub": client_id,
            "aud": aud,
            "iat": iat,
            "exp": iat + lifetime,
            "jti": str(uuid.uuid4()),
            **claims,
        }
        body = {name: value for name, value in body.items() if value is not None}
        protected = {"alg": self.alg, "kid": self.kid, **(header or {})}
        return jwt.encode(protected, body, self.key, algorithms=[self.alg])


def assertion_form(assertion: str, **form: str) -> dict[str, str]:
    return {"client_assertion_type": JWT_BEARER, "client_assertion": assertion, **form}


class JwksServer:
    """A client's jwks_uri on loopback: serves `jwks` (changeable) and counts the fetches."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.fetches = 0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.fetches += 1
                body = json.dumps(served.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
