"""Serve bytes over HTTP on 127.0.0.1 for download tests (no network)."""
import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterator


@contextlib.contextmanager
def serve_files(files: Dict[str, bytes]) -> Iterator[str]:
    """Serve ``files`` (URL path -> content) with GET; 404 for the rest.

    Args:
        files (dict[str, bytes]): Contents by URL path, e.g. ``'/a.pth'``.

    Yields:
        str: The base URL, ``http://127.0.0.1:<port>``.
    """

    class Handler(BaseHTTPRequestHandler):

        def do_GET(self) -> None:
            content = files.get(self.path)
            if content is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header('Content-Length', str(len(content)))
            self.end_headers()
            self.wfile.write(content)

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
