#!/usr/bin/env bash
# Installs (pinned, into a venv), starts and stops the emulators the tests use.
#
#   scripts/emulators.sh up     install if needed, start on free loopback ports, wait for health,
#                               write the endpoints to $EMU_DIR/env (source it)
#   scripts/emulators.sh down   stop what `up` started
#
# EMU_DIR defaults to target/emulators. Emulators: moto (AWS Secrets Manager + KMS), a second
# moto that enforces IAM (INITIAL_NO_AUTH_ACTION_COUNT=3: an admin user is made with the first
# three requests, and every later one is checked against its user's policies), an OpenBao dev
# server (Vault KV v2 at secret/, root token "root", in memory), and for GCP
# cloudbox's Secret Manager and drongo's Cloud KMS (see scripts/gcp_emulators.py). For the
# dashboard's browser tests: Debian's chromium and chromium-driver (pinned below), with
# chromedriver serving WebDriver on loopback. For the deploy files' tests: kubernetes-validate
# and check-jsonschema, and parliament for the generated IAM policies
# (scripts/tools-requirements.txt).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
EMU_DIR="${EMU_DIR:-$root/target/emulators}"
venv="$EMU_DIR/venv"
req="$root/scripts/emulators-requirements.txt"

# Debian bookworm-security's build; if the archive has moved on, the newest is taken, loudly.
CHROMIUM_VERSION="156.0.8078.114-1~deb12u1"

install_chromium() {
  if command -v chromedriver >/dev/null && command -v chromium >/dev/null; then return 0; fi
  echo "emulators: installing chromium and chromium-driver $CHROMIUM_VERSION (apt)"
  apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "chromium=$CHROMIUM_VERSION" "chromium-driver=$CHROMIUM_VERSION" >/dev/null; then
    echo "emulators: WARNING: chromium $CHROMIUM_VERSION is gone from the archive; installing the newest (update CHROMIUM_VERSION)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url, name, pidfile
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    if ! kill -0 "$(cat "$3")" 2>/dev/null; then
      echo "emulators: $2 exited during start-up; its log:" >&2; cat "$EMU_DIR/$2.log" >&2; return 1
    fi
    sleep 0.2
  done
  echo "emulators: $2 did not answer at $1 within 30 s; its log:" >&2; cat "$EMU_DIR/$2.log" >&2
  return 1
}

# The validators (kubernetes-validate, check-jsonschema) in a venv of their own.
install_tools() {
  local tools="$EMU_DIR/tools-venv" treq="$root/scripts/tools-requirements.txt"
  if [ -f "$tools/.installed" ] && cmp -s "$treq" "$tools/.installed"; then return 0; fi
  echo "emulators: installing $(grep -v '^#' "$treq" | tr '\n' ' ')into $tools"
  rm -rf "$tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check -r "$treq"
  cp "$treq" "$tools/.installed"
}

install() {
  mkdir -p "$EMU_DIR"
  install_tools
  if [ -f "$venv/.installed" ] && cmp -s "$req" "$venv/.installed"; then return 0; fi
  echo "emulators: installing $(grep -v '^#' "$req" | tr '\n' ' ')into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  # cloudbox declares Python >= 3.14; scripts/gcp_emulators.py makes it run on this Python.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --ignore-requires-python \
    "$(sed -n 's/^# --ignore-requires-python: //p' "$req")"
  cp "$req" "$venv/.installed"
}

up() {
  command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
  install
  down quiet
  local moto_port
  moto_port=$(free_port)
  # moto behind one lock: its backends are not thread-safe (see scripts/moto_server.py).
  # Its recorder logs the requests it is sent while a test or the bench has it on (moto's
  # /moto-api/recorder/): the request counts are checked against it.
  : >"$EMU_DIR/moto-requests.jsonl"
  MOTO_RECORDER_FILEPATH="$EMU_DIR/moto-requests.jsonl" \
    "$venv/bin/python" "$root/scripts/moto_server.py" 127.0.0.1 "$moto_port" >"$EMU_DIR/moto.log" 2>&1 &
  echo $! >"$EMU_DIR/moto.pid"
  wait_http "http://127.0.0.1:$moto_port/moto-api/" moto "$EMU_DIR/moto.pid"
  # The IAM-enforcing moto: its first three requests (unauthenticated) make the admin user
  # the tests make their users with; every request after them is checked.
  local iam_port iam_admin
  iam_port=$(free_port)
  INITIAL_NO_AUTH_ACTION_COUNT=3 \
    "$venv/bin/python" "$root/scripts/moto_server.py" 127.0.0.1 "$iam_port" >"$EMU_DIR/moto-iam.log" 2>&1 &
  echo $! >"$EMU_DIR/moto-iam.pid"
  wait_http "http://127.0.0.1:$iam_port/moto-api/" moto-iam "$EMU_DIR/moto-iam.pid"
  iam_admin=$("$venv/bin/python" "$root/scripts/moto_iam.py" bootstrap "http://127.0.0.1:$iam_port")
  local bao_port
  bao_port=$(free_port)
  # A file audit device logs every request (values HMAC'd); OpenBao enables audit devices from
  # its configuration only.
  : >"$EMU_DIR/openbao-audit.jsonl"
  cat >"$EMU_DIR/openbao.hcl" <<HCL
audit "file" "requests" {
  options {
    file_path = "$EMU_DIR/openbao-audit.jsonl"
  }
}
HCL
  "$venv/bin/bao" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$bao_port" \
    -dev-no-store-token -config="$EMU_DIR/openbao.hcl" >"$EMU_DIR/openbao.log" 2>&1 &
  echo $! >"$EMU_DIR/openbao.pid"
  wait_http "http://127.0.0.1:$bao_port/v1/sys/health" openbao "$EMU_DIR/openbao.pid"
  local sm_port kms_port
  sm_port=$(free_port)
  : >"$EMU_DIR/gcp-sm-creates.jsonl"
  : >"$EMU_DIR/gcp-sm-access.log"
  GCP_SM_REQUEST_LOG="$EMU_DIR/gcp-sm-creates.jsonl" GCP_SM_ACCESS_LOG="$EMU_DIR/gcp-sm-access.log" \
    "$venv/bin/python" "$root/scripts/gcp_emulators.py" secretmanager "$sm_port" >"$EMU_DIR/gcp-sm.log" 2>&1 &
  echo $! >"$EMU_DIR/gcp-sm.pid"
  wait_http "http://127.0.0.1:$sm_port/v1/projects/health/secrets?pageSize=1" gcp-sm "$EMU_DIR/gcp-sm.pid"
  kms_port=$(free_port)
  "$venv/bin/python" "$root/scripts/gcp_emulators.py" kms "$kms_port" >"$EMU_DIR/gcp-kms.log" 2>&1 &
  echo $! >"$EMU_DIR/gcp-kms.pid"
  wait_http "http://127.0.0.1:$kms_port/drongo/health" gcp-kms "$EMU_DIR/gcp-kms.pid"
  install_chromium
  local wd_port
  wd_port=$(free_port)
  chromedriver --port="$wd_port" --allowed-ips=127.0.0.1 >"$EMU_DIR/chromedriver.log" 2>&1 &
  echo $! >"$EMU_DIR/chromedriver.pid"
  wait_http "http://127.0.0.1:$wd_port/status" chromedriver "$EMU_DIR/chromedriver.pid"
  cat >"$EMU_DIR/env" <<ENV
export SECRETSYNC_TEST_AWS_ENDPOINT=http://127.0.0.1:$moto_port
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_EC2_METADATA_DISABLED=true
export SECRETSYNC_TEST_VAULT_ADDR=http://127.0.0.1:$bao_port
export SECRETSYNC_TEST_VAULT_TOKEN=root
export SECRETSYNC_TEST_GCP_SM_ENDPOINT=http://127.0.0.1:$sm_port
export SECRETSYNC_TEST_GCP_KMS_ENDPOINT=http://127.0.0.1:$kms_port
export SECRETSYNC_TEST_GCP_SM_CREATES=$EMU_DIR/gcp-sm-creates.jsonl
export SECRETSYNC_TEST_AWS_REQUEST_LOG=$EMU_DIR/moto-requests.jsonl
export SECRETSYNC_TEST_AWS_IAM_ENDPOINT=http://127.0.0.1:$iam_port
export SECRETSYNC_TEST_AWS_IAM_ADMIN="$iam_admin"
export SECRETSYNC_TEST_PYTHON=$venv/bin/python
export SECRETSYNC_TEST_VAULT_REQUEST_LOG=$EMU_DIR/openbao-audit.jsonl
export SECRETSYNC_TEST_GCP_SM_REQUEST_LOG=$EMU_DIR/gcp-sm-access.log
export SECRETSYNC_TEST_WEBDRIVER=http://127.0.0.1:$wd_port
export SECRETSYNC_TEST_SCHEMA_TOOLS=$EMU_DIR/tools-venv/bin
ENV
  echo "emulators: moto :$moto_port, moto enforcing IAM :$iam_port, openbao :$bao_port, gcp secret manager :$sm_port, gcp kms :$kms_port, chromedriver :$wd_port (endpoints in $EMU_DIR/env)"
}

down() {
  for f in "$EMU_DIR"/*.pid; do
    [ -e "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  [ "${1:-}" = quiet ] || echo "emulators: stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
