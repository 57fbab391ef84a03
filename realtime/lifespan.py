"""ASGI lifespan: the runtime is stopped in one place when the server shuts down."""

from realtime.process import stop_runtime


async def lifespan(scope, receive, send) -> None:
    """Answer startup; on shutdown stop this process's runtime."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await stop_runtime()
            await send({"type": "lifespan.shutdown.complete"})
            return
