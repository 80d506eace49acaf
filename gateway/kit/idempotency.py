"""Idempotent create calls: a retried submit with the same ``Idempotency-Key`` never creates twice.

The first call's response is stored with a hash of its request; a repeat with the same key and the
same request gets that response again; the same key with another request is refused (422), since
the client is confused about what it sent. Keys are scoped to the user and the route.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from crypto.digest import sha256_hex
from crypto.encoding import canonical_json
from gateway.kit.auth import Principal
from gateway.kit.db import Base, UTCDateTime
from gateway.kit.errors import Unprocessable

#: What a key may be: 1 to 128 visible ASCII characters (the API publishes the same pattern).
KEY_PATTERN = r"^[\x21-\x7e]{1,128}$"
_KEY = re.compile(KEY_PATTERN)


class Caller(Protocol):
    """The request a create call runs in: its unit of work, who calls, and when."""

    @property
    def session(self) -> Session: ...

    @property
    def user(self) -> Principal: ...

    @property
    def now(self) -> datetime: ...


class Created(Protocol):
    """What a create call returns: a model with the new resource's id."""

    id: str

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"

    user: Mapped[str] = mapped_column(String(128), primary_key=True)
    route: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    #: The id of what the first call created. The response itself is not kept: it may hold a
    #: person's data, which the database only ever holds sealed.
    resource_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


def once(
    call: Caller,
    *,
    key: str | None,
    route: str,
    request: BaseModel,
    create: Callable[[], Created],
    reread: Callable[[str], BaseModel],
    status_code: int = 201,
) -> JSONResponse:
    """Run ``create`` unless this key already ran it; then answer with the resource ``reread``."""
    if key is None:
        return JSONResponse(create().model_dump(mode="json"), status_code=status_code)
    if not _KEY.match(key):
        raise Unprocessable("Idempotency-Key must be 1 to 128 visible ASCII characters")
    digest = sha256_hex(canonical_json(request.model_dump(mode="json")))
    session = call.session
    previous = session.scalar(
        select(IdempotencyRow).where(
            IdempotencyRow.user == call.user.user,
            IdempotencyRow.route == route,
            IdempotencyRow.key == key,
        )
    )
    if previous is not None:
        if previous.request_sha256 != digest:
            raise Unprocessable("this Idempotency-Key was already used for a different request")
        return JSONResponse(
            reread(previous.resource_id).model_dump(mode="json"), status_code=previous.status_code
        )
    created = create()
    body = created.model_dump(mode="json")
    session.add(
        IdempotencyRow(
            user=call.user.user,
            route=route,
            key=key,
            request_sha256=digest,
            status_code=status_code,
            resource_id=created.id,
            created_at=call.now,
        )
    )
    return JSONResponse(body, status_code=status_code)
