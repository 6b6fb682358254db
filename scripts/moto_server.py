"""moto's server, with its backends serialized, and IAM checked on resources as AWS does.

moto_server answers each request in its own thread, and its in-memory backends are not
thread-safe: a ListSecrets or BatchGetSecretValue that iterates the secrets while another
request creates one fails with "dictionary changed size during iteration" (an HTML 500). The
tests run many clients at once, so this runs moto's app behind one lock: connections are still
accepted concurrently, requests are processed one at a time, as AWS would appear to a client.

With IAM enforcement on (INITIAL_NO_AUTH_ACTION_COUNT), moto checks a policy's actions against
the resource "*" for Secrets Manager, Parameter Store and KMS, and ignores conditions on a
resource's tags. AWS checks them against the secret's, parameter's or key's ARN and its tags.
`aws_resources` makes moto do the same for those services, so that the tests prove the
generated policies' resources and ownership conditions, not only their actions.

Usage: moto_server.py HOST PORT
"""

import fnmatch
import json
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


# The tags of the resource the request being authorized acts on (requests are serialized).
RESOURCE_TAGS = {}


def aws_resources():
    """Gives Secrets Manager, Parameter Store and KMS requests their resource's ARN for IAM,
    and evaluates StringEquals / StringLike conditions on `aws:ResourceTag/KEY` (and the
    services' own ResourceTag keys) against that resource's tags, as AWS does."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.kms.models import kms_backends
    from moto.kms.responses import KmsResponse
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.ssm.models import ssm_backends
    from moto.ssm.responses import SimpleSystemManagerResponse

    def body(resp):
        try:
            return json.loads(resp.body or "{}")
        except ValueError:
            return {}

    def secret(self):
        RESOURCE_TAGS.clear()
        b = body(self)
        sid = b.get("SecretId") or b.get("Name")
        if not sid or self._get_action() in ("ListSecrets", "BatchGetSecretValue"):
            return "*"
        found = secretsmanager_backends[self.current_account][self.region].secrets.get(sid)
        if found is None:
            if sid.startswith("arn:"):
                return sid
            return f"arn:{self.partition}:secretsmanager:{self.region}:{self.current_account}:secret:{sid}-XXXXXX"
        RESOURCE_TAGS.update({t["Key"]: t["Value"] for t in (found.tags or [])})
        return found.arn

    def parameter(self):
        RESOURCE_TAGS.clear()
        b = body(self)
        if self._get_action() == "DescribeParameters":
            return "*"
        name = b.get("Name") or (b.get("Names") or [None])[0]
        if not name and b.get("ResourceType") == "Parameter":
            name = b.get("ResourceId")
        if not name:
            return "*"
        backend = ssm_backends[self.current_account][self.region]
        found = backend.get_parameter(name)
        if found is not None:
            RESOURCE_TAGS.update(backend._resource_tags.get("Parameter", {}).get(found.name, {}))
        return f"arn:{self.partition}:ssm:{self.region}:{self.current_account}:parameter/{name.lstrip('/')}"

    def key(self):
        RESOURCE_TAGS.clear()
        kid = body(self).get("KeyId")
        if not kid:
            return "*"
        try:
            return kms_backends[self.current_account][self.region].describe_key(kid).arn
        except Exception:  # an unknown key: the service answers NotFound after the check
            return "*"

    SecretsManagerResponse._determine_resource = secret
    SimpleSystemManagerResponse._determine_resource = parameter
    KmsResponse._determine_resource = key

    def tag_key(condition_key):
        for prefix in ("aws:resourcetag/", "secretsmanager:resourcetag/", "ssm:resourcetag/"):
            if condition_key.lower().startswith(prefix):
                return condition_key[len(prefix):]
        return None

    def tags_hold(statement):
        for op, pairs in (statement.get("Condition") or {}).items():
            for k, want in pairs.items():
                tag = tag_key(k)
                if tag is None:
                    continue
                have = RESOURCE_TAGS.get(tag)
                wants = want if isinstance(want, list) else [want]
                if op == "StringEquals" and have not in wants:
                    return False
                if op == "StringLike" and not any(
                    have is not None and fnmatch.fnmatchcase(have, w) for w in wants
                ):
                    return False
        return True

    checked = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self, action, resource="*", principal=None, incoming=None):
        # An Allow whose tag conditions do not hold does not apply (moto would deny).
        if self._statement.get("Effect") == "Allow" and not tags_hold(self._statement):
            return PermissionResult.NEUTRAL
        return checked(self, action, resource, principal, incoming)

    IAMPolicyStatement.is_action_permitted = is_action_permitted


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    aws_resources()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, serialized(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
