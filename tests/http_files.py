"""Serve bytes over HTTP on 127.0.0.1 for download tests (no network)."""
import contextlib
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, Iterator, Mapping, Optional

#: How the server answers a request for one URL path.
Behaviour = Callable[[BaseHTTPRequestHandler], None]


def send_head(handler: BaseHTTPRequestHandler, headers: Dict[str,
                                                             str]) -> None:
    """Answer 200 with ``headers``.

    Args:
        handler (BaseHTTPRequestHandler): The request's handler.
        headers (dict[str, str]): The response headers.
    """
    handler.send_response(200)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.end_headers()


def body(content: bytes) -> Behaviour:
    """Send ``content`` whole, with its Content-Length.

    Args:
        content (bytes): The response body.

    Returns:
        Behaviour: The answer.
    """

    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        send_head(handler, {'Content-Length': str(len(content))})
        handler.wfile.write(content)

    return behaviour


@contextlib.contextmanager
def serve(routes: Mapping[str, Behaviour],
          hits: Optional[Counter] = None) -> Iterator[str]:
    """Answer GET of a URL path (query string ignored) with its behaviour
    in ``routes``, 404 for the rest, from a thread.

    ``routes`` is read at each request, so routes added meanwhile are
    served.

    Args:
        routes (Mapping[str, Behaviour]): Behaviours by URL path, e.g.
            ``'/a.pth'``.
        hits (Counter, optional): Counts the requests per URL path.

    Yields:
        str: The base URL, ``http://127.0.0.1:<port>``.
    """

    class Handler(BaseHTTPRequestHandler):

        def do_GET(self) -> None:
            path = urllib.parse.urlparse(self.path).path
            if hits is not None:
                hits[path] += 1
            routes.get(path, not_found)(self)

        def log_message(self, *args) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()


def not_found(handler: BaseHTTPRequestHandler) -> None:
    """Answer 404."""
    handler.send_error(404)


@contextlib.contextmanager
def serve_files(files: Dict[str, bytes]) -> Iterator[str]:
    """Serve ``files`` (URL path -> content) with GET; 404 for the rest.

    Args:
        files (dict[str, bytes]): Contents by URL path, e.g. ``'/a.pth'``.

    Yields:
        str: The base URL, ``http://127.0.0.1:<port>``.
    """
    with serve({path: body(content)
                for path, content in files.items()}) as base_url:
        yield base_url
