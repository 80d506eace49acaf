"""The bare baselines: FastAPI + SQLAlchemy apps that store a request's JSON and nothing else.

Benchmarks 1 and 2 set the node against these. An endpoint is a plain ``def``, as ours are:
FastAPI runs it in its thread pool, so concurrent requests overlap as ours do (an ``async def``
making blocking database calls would serve one request at a time).

Fairness: a bare app opens its database exactly as the node does, with the node's own engine
factory (``gateway.kit.db.make_engine``: on SQLite WAL and ``synchronous=NORMAL`` and the other
pragmas, on PostgreSQL the same pool and pre-ping setting), and is served by uvicorn with the
same settings (``bench.harness.serve_app``). Otherwise the baseline would pay a flush per commit
the node does not (SQLite's default is ``synchronous=FULL``), or skip a ping the node pays.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import httpx
from fastapi import Body, FastAPI
from sqlalchemy import JSON, Float, Integer
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench.harness import serve_app
from gateway.kit.db import make_engine


class Base(DeclarativeBase):
    pass


class BareStored(Base):
    """Bodies received: the bare intake's and the bare recipient's table."""

    __tablename__ = "bare_stored"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON())


class BareOutbox(Base):
    """Bodies the bare host took in, and when the bare forwarder delivered each."""

    __tablename__ = "bare_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON())
    delivered_at: Mapped[float | None] = mapped_column(Float(), nullable=True)


def serve(url: str, port: int, table: type[BareStored] | type[BareOutbox]) -> None:
    """A process's body: ``POST /bare`` stores the JSON in ``table`` and answers 201 with the id."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    app = FastAPI()

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/bare", status_code=201)
    def store(body: Annotated[dict[str, Any], Body()]) -> dict[str, int]:
        with Session(engine) as session, session.begin():
            row = table(body=body)
            session.add(row)
            session.flush()
            return {"id": row.id}

    @app.post("/bare/batch", status_code=201)
    def store_many(bodies: Annotated[list[dict[str, Any]], Body(embed=True)]) -> dict[str, int]:
        """Several bodies in one request and one transaction: the batching relay's recipient."""
        with Session(engine) as session, session.begin():
            session.add_all([table(body=body) for body in bodies])
        return {"stored": len(bodies)}

    serve_app(app, port)


def wait_healthy(base_url: str, timeout: float = 60.0) -> None:
    """Return once ``/healthz`` answers 200; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=5) as probe:
        while time.monotonic() < deadline:
            try:
                if probe.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise TimeoutError("a bare app did not start")
