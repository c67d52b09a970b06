"""Django's ASGI handler, made to run each request's middleware and view in one hop to a thread, and
to give back every database connection a failed request opened.

One hop: Django builds the middleware chain for ASGI as async where it can, so every middleware that
can do both (``MiddlewareMixin``: sessions, CSRF, auth, messages, CSP, htmx...) ran in async mode and
wrapped each of its ``process_request``/``process_response`` calls in a ``sync_to_async`` hop, and the
sync-only middleware and the (sync) view added more: a dozen hops between the event loop and the
request's thread per request, measured as most of daphne's ~5 ms of CPU per request (py-spy on
``bench claims``: ``AsyncToSync``/``CurrentThreadExecutor`` under every request). Every view of this
project is sync, so the chain is built sync, as under WSGI, and the whole request runs on its own
thread in a single ``sync_to_async`` call.

Waiting on the event loop: a view may answer with a response that carries ``mc_wait`` (requests
served here have ``request.mc_can_wait``): an object whose ``async wait()`` is awaited on the event
loop, holding no thread, no connection and none of the middleware's frames. When it returns False the
response is sent as it is; when True, the same request (same scope and body) is served again, with
the object as ``request.mc_waited`` so the view carries on where it left off. A long-polling claim
waits this way (``executions.dispatch.claim_or_wait``): a thousand of them waiting were a thousand
threads with a request's whole stack each, which the collector walked again and again.

Connections: under ASGI a request's sync code runs on a thread of its own, and its connections go
back to the pool when ``request_finished`` fires at the end. Errors are turned into responses on that
same thread by the sync chain (``convert_exception_to_response``), where the DEBUG page's rendering of
the frames' locals or any signal receiver may open a connection that ``request_finished`` then
closes. When sending the response fails (an error page that cannot render, a stream that breaks half
way), ``handle`` raises before ``request_finished``; the request's connections are closed here
instead.
"""

import io

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections


class PoolSafeASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)  # a sync chain: see the module's docstring

    def create_request(self, scope, body_file):
        request, error_response = super().create_request(scope, body_file)
        if request is not None:
            request.mc_can_wait = True
        return request, error_response

    async def get_response_async(self, request):
        response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        while (waiting := getattr(response, "mc_wait", None)) is not None and await waiting.wait():
            body = io.BytesIO(request.body)  # the same bytes (read and kept by the first pass)
            request, _ = self.create_request(request.scope, body)
            request.mc_waited = waiting
            response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        return response

    async def handle(self, scope, receive, send):
        try:
            await super().handle(scope, receive, send)
        except BaseException:
            await sync_to_async(close_old_connections, thread_sensitive=True)()
            raise
