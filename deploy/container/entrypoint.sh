#!/bin/sh
# The container's entry point: secrets by file. For every AVRR_<NAME>_FILE variable, export
# AVRR_<NAME> with that file's content (as compose and Kubernetes mount secrets), then run the
# command. A variable set directly is left alone; the values are never printed.
#
#   AVRR_DATABASE_URL_FILE=/run/secrets/avrr_database_url avrr-entrypoint avrr worker /srv/avrr-node
set -eu
for name in $(env | sed -n 's/^\(AVRR_[A-Z0-9_]*\)_FILE=.*$/\1/p'); do
  # oidc_client_secret_file and pkcs11_pin_file are settings: the node reads those files itself,
  # so the secret stays out of its environment.
  case $name in AVRR_OIDC_CLIENT_SECRET | AVRR_PKCS11_PIN) continue ;; esac
  if [ -z "$(printenv "$name" || true)" ]; then
    file=$(printenv "${name}_FILE")
    [ -r "$file" ] || { echo "entrypoint: ${name}_FILE names a file that cannot be read" >&2; exit 1; }
    value=$(cat "$file")
    export "$name=$value"
  fi
  unset "${name}_FILE"
done
exec "$@"
