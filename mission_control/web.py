"""Daphne, stopped gently: in-flight requests finish before the event loop stops.

Daphne's own stop cancels every running application at once. A sync view cancelled that way keeps
running in its thread, and when it then needs the event loop (``async_to_sync`` to publish an event,
the next middleware) it waits for a loop that has stopped: the thread never ends and the process
never exits. So: stop listening, give the HTTP requests in flight ``DRAIN_S`` seconds to answer,
then let daphne cancel what is left (WebSockets, and requests slower than that).
"""

from collections.abc import Callable

from daphne.http_protocol import WebRequest
from daphne.server import Server
from twisted.internet import defer, reactor

DRAIN_S = 1.0
POLL_S = 0.05


class DrainingServer(Server):
    on_stop: Callable[[], None] | None = None

    @classmethod
    def with_stop_hook(cls, on_stop: Callable[[], None]) -> type["DrainingServer"]:
        """The class daphne's command line instantiates, calling ``on_stop`` when the stop begins."""
        return type(cls.__name__, (cls,), {"on_stop": staticmethod(on_stop)})

    def run(self):
        self.ports = []
        self.listen_failed = False
        super().run()

    def listen_success(self, port):
        self.ports.append(port)
        return super().listen_success(port)

    def listen_error(self, failure):
        self.listen_failed = True
        return super().listen_error(failure)

    def kill_all_applications(self):
        if self.on_stop is not None:
            self.on_stop()
        for port in self.ports:
            port.stopListening()
        done = defer.Deferred()
        deadline = reactor.seconds() + DRAIN_S

        def check():
            if self.requests_in_flight() and reactor.seconds() < deadline:
                reactor.callLater(POLL_S, check)
            else:
                super(DrainingServer, self).kill_all_applications().chainDeferred(done)

        check()
        return done

    def requests_in_flight(self) -> int:
        return sum(
            1
            for protocol, details in list(self.connections.items())
            if isinstance(protocol, WebRequest)
            and details.get("application_instance") is not None
            and not details["application_instance"].done()
        )
