"""Launchers for the GCP emulators the tests use (run by scripts/emulators.sh).

  python gcp_emulators.py secretmanager PORT   cloudbox 0.2.3's Secret Manager REST v1
  python gcp_emulators.py kms PORT             drongo 0.8.0's Cloud KMS REST

cloudbox declares Python >= 3.14 only because one annotation in cloudbox/core/store.py is
evaluated eagerly; compiling cloudbox's modules with postponed annotations (PEP 563) lets it run
on 3.11 unchanged. Its router serves `:access` only as POST while clients send
`GET .../versions/{v}:access`, so a GET route is added ahead of `get_version` (which would
otherwise take `latest:access` as a version id).

cloudbox keeps no replication (every secret reads back as automatic). With
GCP_SM_REQUEST_LOG=PATH, the body of each secret create is appended to PATH as one JSON line, so
the tests can check what was asked for where the emulator does not model it. With
GCP_SM_ACCESS_LOG=PATH, uvicorn's access log (a line per request served) goes to PATH: the
request counts secretsync reports are checked against it.

drongo's handler writes headers and body in separate sends; without TCP_NODELAY every
keep-alive request waits ~40 ms for the delayed ACK, so Nagle is turned off on its handler.
"""

import __future__
import importlib.abc
import importlib.machinery
import json
import os
import sys


class _PostponedAnnotations(importlib.machinery.SourceFileLoader):
    """Compiles a module from source with `from __future__ import annotations` in force."""

    def get_code(self, fullname):
        source = self.get_data(self.path)
        return compile(source, self.path, "exec", flags=__future__.annotations.compiler_flag, dont_inherit=True)


class _CloudboxFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "cloudbox" and not name.startswith("cloudbox."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            spec.loader = _PostponedAnnotations(name, spec.origin)
        return spec


def secretmanager(port: int) -> None:
    sys.meta_path.insert(0, _CloudboxFinder())
    import uvicorn
    from cloudbox.services.secretmanager import app as sm

    sm.app.add_api_route(
        "/v1/projects/{project}/secrets/{secret_id}/versions/{version_id}:access",
        sm.access_version,
        methods=["GET"],
    )
    routes = sm.app.router.routes
    routes.insert(0, routes.pop())
    log = os.environ.get("GCP_SM_REQUEST_LOG")
    if log:

        @sm.app.middleware("http")
        async def record_creates(request, call_next):
            if request.method == "POST" and request.url.path.endswith("/secrets"):
                body = json.loads(await request.body() or b"{}")
                entry = {"path": request.url.path, "secretId": request.query_params.get("secretId"), "body": body}
                with open(log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
            return await call_next(request)

    uvicorn.run(sm.app, host="127.0.0.1", port=port, **_logging(os.environ.get("GCP_SM_ACCESS_LOG")))


def _logging(access_log):
    """uvicorn's settings: warnings only, and with a path, its access log (one line per request
    served: `"METHOD PATH HTTP/1.1" STATUS`) written there."""
    if not access_log:
        return {"log_level": "warning"}
    import copy

    from uvicorn.config import LOGGING_CONFIG

    cfg = copy.deepcopy(LOGGING_CONFIG)
    cfg["formatters"]["access"] = {
        "()": "uvicorn.logging.AccessFormatter",
        "fmt": '%(client_addr)s "%(request_line)s" %(status_code)s',
        "use_colors": False,
    }
    cfg["handlers"]["access"] = {"class": "logging.FileHandler", "filename": access_log, "formatter": "access"}
    cfg["loggers"]["uvicorn.error"]["level"] = "WARNING"
    cfg["loggers"]["uvicorn.access"]["level"] = "INFO"
    return {"log_config": cfg, "access_log": True}


def kms(port: int) -> None:
    from drongo import server

    server.DrongoHTTPRequestHandler.disable_nagle_algorithm = True
    server.run(host="127.0.0.1", port=port)


if __name__ == "__main__":
    {"secretmanager": secretmanager, "kms": kms}[sys.argv[1]](int(sys.argv[2]))
