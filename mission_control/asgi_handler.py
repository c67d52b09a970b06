"""Django's ASGI handler, made to give back every database connection a failed request opened.

Under ASGI a request's sync code runs on a thread of its own, and its connections go back to the
pool when ``request_finished`` fires at the end. Two failure paths skipped that, each keeping a
pooled connection for good (``MC_DB_POOL_MAX`` failures wedged the process: health 503 until a
restart):

* Django turns an exception into a response with ``sync_to_async(thread_sensitive=False)``: on a
  one-off thread, where the DEBUG page's rendering of the frames' locals (a lazy queryset) or any
  signal receiver opens a connection no one ever closes. Here the conversion runs on the request's
  own thread instead, like the rest of the request.
* When sending the response fails (an error page that cannot render, a stream that breaks half way),
  ``handle`` raises before ``request_finished``; the request's connections are closed here instead.
"""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import response_for_exception
from django.db import close_old_connections


class PoolSafeASGIHandler(ASGIHandler):
    async def _get_response_async(self, request):
        try:
            return await super()._get_response_async(request)
        except Exception as exc:
            return await sync_to_async(response_for_exception, thread_sensitive=True)(request, exc)

    async def handle(self, scope, receive, send):
        try:
            await super().handle(scope, receive, send)
        except BaseException:
            await sync_to_async(close_old_connections, thread_sensitive=True)()
            raise
