"""moto's server, with its backends serialized.

moto_server answers each request in its own thread, and its in-memory backends are not
thread-safe: a ListSecrets or BatchGetSecretValue that iterates the secrets while another
request creates one fails with "dictionary changed size during iteration" (an HTML 500). The
tests run many clients at once, so this runs moto's app behind one lock: connections are still
accepted concurrently, requests are processed one at a time, as AWS would appear to a client.

Usage: moto_server.py HOST PORT
"""

import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def serialized(app):
    lock = threading.Lock()

    def call(environ, start_response):
        with lock:
            # Consume the whole response inside the lock: moto builds it lazily.
            return list(app(environ, start_response))

    return call


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, serialized(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
