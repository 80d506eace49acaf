#!/usr/bin/env bash
# docs/operations.md, section 0, as one script: from an empty folder to a federation of two nodes
# on PostgreSQL, the host with two API replicas (two processes each) from two home folders
# sharing its database and key store, the directory fetched from the operator's URL, metrics
# scraped, a backup taken and restored, and the access log verified. Everything on loopback.
#
#   deploy/walkthrough.sh FOLDER            # needs `avrr` on PATH, psql, and a PostgreSQL server
#
# PG_ADMIN (default postgresql://postgres@127.0.0.1) is a server account that may create
# databases; WALK_PORT (default 8100) is the first of the ports used (WALK_PORT..WALK_PORT+5).
# The databases it creates are named walk_* and dropped at the end.
set -euo pipefail

folder=${1:?usage: walkthrough.sh FOLDER}
admin=${PG_ADMIN:-postgresql://postgres@127.0.0.1}
base=${WALK_PORT:-8100}
publish=$base host_a=$((base + 1)) host_b=$((base + 2)) partner_api=$((base + 3))
host_metrics=$((base + 4)) partner_metrics=$((base + 5))
databases=(walk_host walk_host_keys walk_partner walk_partner_keys)

mkdir -p "$folder" && cd "$folder"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for db in "${databases[@]}"; do psql -q "$admin/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
ready() { until curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; do sleep 1; done; }

step "1. Databases: one for the data and one for the keys, per node"
for db in "${databases[@]}"; do
  psql -q "$admin/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null
  psql -q "$admin/postgres" -c "CREATE DATABASE $db"
done

step "2. The federation operator creates the federation"
avrr federation init federation --id walkthrough

step "3. Each organisation creates its node, with its key store in a database of its own"
avrr node init host --node-id host-mission --organisation "Host Mission" --country DE \
  --database-url "$admin/walk_host"
avrr node init partner --node-id origin-reception --organisation "Origin Reception" \
  --country SN --database-url "$admin/walk_partner"
for node in host partner; do
  python3 - "$node/node.json" "$admin/walk_${node}_keys" "http://127.0.0.1:$publish/directory.json" <<'PY'
import json, sys
path, keystore, directory = sys.argv[1:]
with open(path, encoding="utf-8") as f:
    config = json.load(f)
config.update(keystore_url=keystore, directory_url=directory)
with open(path, "w", encoding="utf-8") as f:
    json.dump(config, f, indent=2)
PY
  avrr node keys init "$node"
  avrr node export "$node" --out "$node.json"
done

step "4. The operator lists both nodes, signs, and publishes the directory at a URL"
avrr federation add-node federation --node-file host.json --roles host_mission \
  --inbox-url "http://127.0.0.1:$host_a"
avrr federation add-node federation --node-file partner.json --roles reception_partner \
  --inbox-url "http://127.0.0.1:$partner_api"
(cd federation && exec python3 -m http.server "$publish" --bind 127.0.0.1 >../publish.log 2>&1) &
pids+=($!)

step "5. Each node pins the operator key with its first directory; later ones it fetches"
for node in host partner; do
  avrr node install-directory "$node" federation/directory.json \
    --operator-key federation/operator.json
done
until curl -fsS "http://127.0.0.1:$publish/directory.json" >/dev/null 2>&1; do sleep 1; done
avrr federation sign federation
avrr node fetch-directory host

step "6. The host's second machine: a copy of its home (keys and settings), nothing else"
cp -a host host-b

step "7. Start the APIs (two processes each) and the workers (with their metrics)"
avrr serve host --port "$host_a" --workers 2 >host-a.log 2>&1 & pids+=($!)
avrr serve host-b --port "$host_b" --workers 2 >host-b.log 2>&1 & pids+=($!)
avrr serve partner --port "$partner_api" --workers 2 >partner.log 2>&1 & pids+=($!)
avrr worker host --metrics-port "$host_metrics" >host-worker.log 2>&1 & pids+=($!)
avrr worker partner --metrics-port "$partner_metrics" >partner-worker.log 2>&1 & pids+=($!)
for port in "$host_a" "$host_b" "$partner_api"; do ready "$port"; done
curl -fsS "http://127.0.0.1:$host_a/readyz"; echo

step "8. A case recorded through one replica is read through the other"
token=$(avrr node token host --user cw-1 --role caseworker --office tunis)
case_id=$(curl -fsS -X POST "http://127.0.0.1:$host_a/api/v1/cases" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"given_name":"Amina","family_name":"Example","date_of_birth":"1994-03-01","nationality":"SN","preferred_language":"fr"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
curl -fsS "http://127.0.0.1:$host_b/api/v1/cases/$case_id" -H "Authorization: Bearer $token" |
  python3 -c 'import json, sys; assert json.load(sys.stdin)["given_name"] == "Amina"; print("read through host-b")'

step "9. Metrics, as Prometheus scrapes them"
curl -fsS "http://127.0.0.1:$host_a/metrics" | grep -E '^avrr_(database_up|directory_days_left) '
curl -fsS "http://127.0.0.1:$host_metrics/metrics" | grep -c '^avrr_' | sed 's/$/ worker series/'

step "10. Back up the data, stop the node, restore, verify the access log"
avrr worker host --once >/dev/null
avrr node backup host host.backup
for pid in "${pids[@]:1}"; do kill "$pid"; done
wait "${pids[@]:1}" 2>/dev/null || true
avrr node restore host host.backup --force
avrr audit verify host
echo "walkthrough: OK"
