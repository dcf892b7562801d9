#!/usr/bin/env bash
# checkov on template.yaml, from its own virtual environment (checkov pins many packages that
# would clash with the project's .venv and with aws-sam-cli's .tools).
#
#   scripts/checkov.sh                 # install into $CHECKOV_VENV if needed, then scan
#   CHECKOV_VENV=/somewhere scripts/checkov.sh
#
# Exits non-zero when a check fails. Checks skipped on purpose are in template.yaml, each under
# the resource's `Metadata: checkov: skip:` with its reason.
set -euo pipefail

cd "$(dirname "$0")/.."
CHECKOV_VENV="${CHECKOV_VENV:-/tmp/checkov}"

if [[ ! -x "$CHECKOV_VENV/bin/checkov" ]]; then
  PYENV_VERSION="${PYENV_VERSION:-3.13.0}" python3.13 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install -q --upgrade pip
  "$CHECKOV_VENV/bin/pip" install -q checkov
fi

exec "$CHECKOV_VENV/bin/checkov" -f template.yaml --framework cloudformation --skip-download --compact "$@"
