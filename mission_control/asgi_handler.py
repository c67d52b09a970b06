"""Django's ASGI handler, made to run each request's middleware and view in one hop to a thread,
to serve long-polls below Django while they wait, and to give back every database connection a
failed request opened.

One hop: Django builds the middleware chain for ASGI as async where it can, so every middleware that
can do both (``MiddlewareMixin``: sessions, CSRF, auth, messages, CSP, htmx...) ran in async mode and
wrapped each of its ``process_request``/``process_response`` calls in a ``sync_to_async`` hop, and the
sync-only middleware and the (sync) view added more: a dozen hops between the event loop and the
request's thread per request, measured as most of daphne's ~5 ms of CPU per request (py-spy on
``bench claims``: ``AsyncToSync``/``CurrentThreadExecutor`` under every request). Every view of this
project is sync, so the chain is built sync, as under WSGI, and the whole request runs on its own
thread in a single ``sync_to_async`` call.

Long-polls: a request for a view marked ``mc_long_poll`` (the pull agents' claim) is served by
``mission_control.long_poll``: one pass through Django per look, and between looks, while it waits
on the event loop, nothing of Django's request is kept (no request, no thread, no connection).

Threads: each request's sync code runs on a thread taken from ``mission_control.request_threads``
and given back after it, instead of a thread started (and another to join it) per request.

Connections: under ASGI a request's sync code runs on a thread of its own, and its connections go
back to the pool when ``request_finished`` fires at the end. Errors are turned into responses on that
same thread by the sync chain (``convert_exception_to_response``), where the DEBUG page's rendering of
the frames' locals or any signal receiver may open a connection that ``request_finished`` then
closes. When sending the response fails (an error page that cannot render, a stream that breaks half
way), ``handle`` raises before ``request_finished``; the request's connections are closed here
instead.
"""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections

from mission_control import long_poll
from mission_control.request_threads import threads


class PoolSafeASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)  # a sync chain: see the module's docstring

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # as Django's
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if long_poll.is_long_poll(scope):
            await long_poll.serve(self, scope, receive, send)
            return
        async with threads.context():  # Django's ThreadSensitiveContext, on a kept thread
            await self.handle(scope, receive, send)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def handle(self, scope, receive, send):
        try:
            await super().handle(scope, receive, send)
        except BaseException:
            await sync_to_async(close_old_connections, thread_sensitive=True)()
            raise
