import asyncio
import socket

from tests.support.api import TEST_API_SECRET
from tests.support.helpers import free_port
from wrls_actors.runtime import Service, Settings
from wrls_actors.runtime.api.server import bind


def test_the_api_sends_a_response_at_once_not_after_the_clients_delayed_ack():
    """uvicorn writes a response's headers and its body apart; with Nagle's algorithm on, the body waits for
    the client's delayed ACK (40 ms on Linux, on every request). asyncio turns it off on the connections of
    a listening socket whose protocol says TCP: the one bind() makes, which uvicorn serves."""
    env = {
        "WRLS_BROKER_URL": "amqp://127.0.0.1/unused",
        "WRLS_DATABASE_URL": "postgresql://127.0.0.1/unused",
        "WRLS_MESSAGE_KEY": "k" * 32,
        "WRLS_API_JWT_SECRET": TEST_API_SECRET,
        "WRLS_API_PORT": str(free_port()),
    }
    listening = bind(Service(Settings.from_env("WRLS", env), ()))

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
            try:
                return await asyncio.wait_for(seen, 10)
            finally:
                writer.close()

    assert asyncio.run(accepted_nodelay()) != 0
