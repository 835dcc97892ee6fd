"""``create_app``: the FastAPI application serving one node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import insitu
from insitu.node.api import errors, peer_routes, peer_transport
from insitu.node.api.routes import router
from insitu.node.node import Node


def create_app(node: Node, *, run_jobs: bool = True) -> FastAPI:
    """The node's app; its request runner starts and stops with the app."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_jobs:
            node.runner.start()
            node.federation.start()
        try:
            yield
        finally:
            node.runner.stop()
            node.federation.stop()

    app = FastAPI(
        title=f"insitu node {node.settings.name}", version=insitu.__version__, lifespan=lifespan
    )
    app.state.node = node
    errors.install(app)
    # Node-to-node frames first: every protocol message is matched against the routes
    # in order, and the peer transport's few paths share no prefix with the others.
    app.router.routes.insert(0, peer_transport.frame_route)
    app.include_router(peer_transport.router)
    app.include_router(router)
    app.include_router(peer_routes.router)
    return app
