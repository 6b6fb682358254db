"""IAM users on the enforcing moto (the second moto `scripts/emulators.sh` starts, with
INITIAL_NO_AUTH_ACTION_COUNT=3), for the least-privilege tests.

  moto_iam.py bootstrap ENDPOINT
      the first three requests, which moto lets through unauthenticated: an admin user with
      every action, and its access key. Prints `KEY_ID SECRET`.
  moto_iam.py user ENDPOINT ADMIN_KEY_ID ADMIN_SECRET NAME POLICY_FILE
      creates (or updates) user NAME with the inline policy in POLICY_FILE, as the admin.
      Prints the user's `KEY_ID SECRET` (a new key only when the user is new).
"""

import json
import sys

import boto3


def iam(endpoint, key="bootstrap", secret="bootstrap"):
    return boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def bootstrap(endpoint):
    c = iam(endpoint)
    c.create_user(UserName="admin")
    c.put_user_policy(
        UserName="admin",
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    k = c.create_access_key(UserName="admin")["AccessKey"]
    print(k["AccessKeyId"], k["SecretAccessKey"])


def user(endpoint, admin_key, admin_secret, name, policy_file):
    c = iam(endpoint, admin_key, admin_secret)
    with open(policy_file) as f:
        policy = f.read()
    try:
        c.create_user(UserName=name)
        new = True
    except c.exceptions.EntityAlreadyExistsException:
        new = False
    c.put_user_policy(UserName=name, PolicyName="secretsync", PolicyDocument=policy)
    if new:
        k = c.create_access_key(UserName=name)["AccessKey"]
        print(k["AccessKeyId"], k["SecretAccessKey"])


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"bootstrap": bootstrap, "user": user}[cmd](*args)
