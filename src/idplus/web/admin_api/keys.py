"""`/admin/api/v1/keys`: the signing keys (list, rotate) — `manage.keys`, as `idplus keys`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from idplus.manage import keys
from idplus.models import SIGNING_ALGORITHMS
from idplus.web.admin_api.operations import Call, Operation, Result

Algorithm = Literal["RS256", "PS256", "ES256"]
assert set(SIGNING_ALGORITHMS) == set(Algorithm.__args__)  # type: ignore[attr-defined]


class SigningKeyOut(BaseModel):
    kid: str
    alg: Algorithm
    # signing (signs now), next (published, signs soon), retiring (published so older tokens
    # verify), expired (no longer published).
    state: Literal["signing", "next", "retiring", "expired"]
    created_at: datetime
    activate_at: datetime
    publish_until: datetime | None
    # Whether the private key is sealed under IDPLUS_KEY_ENCRYPTION_KEY.
    encrypted: bool


class SigningKeyList(BaseModel):
    items: list[SigningKeyOut]


class RotateKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # One algorithm; none: every algorithm.
    alg: Algorithm | None = None


class RotatedKey(BaseModel):
    kid: str
    alg: Algorithm
    activate_at: datetime


class RotatedKeys(BaseModel):
    rotated: list[RotatedKey]


def list_keys(call: Call) -> Result:
    listed = keys.list_signing_keys(call.ctx.store, call.ctx.clock)
    return Result(SigningKeyList(items=[SigningKeyOut.model_validate(k) for k in listed]))


def rotate_keys(call: Call) -> Result:
    ctx, body = call.ctx, call.body
    assert isinstance(body, RotateKeys)
    rotated = keys.rotate_signing_key(
        ctx.store, ctx.settings, ctx.clock, body.alg, actor=call.caller.actor
    )
    listed = [RotatedKey.model_validate(k, from_attributes=True) for k in rotated]
    return Result(RotatedKeys(rotated=listed), status=201)


OPERATIONS = (
    Operation("GET", "/keys", "listKeys", "The signing keys and their states", list_keys,
              response=SigningKeyList),
    Operation("POST", "/keys/rotate", "rotateKeys",
              "Publish new signing keys now; they sign after two key-cache periods", rotate_keys,
              response=RotatedKeys, status=201, body=RotateKeys),
)  # fmt: skip
