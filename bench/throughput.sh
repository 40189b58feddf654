#!/bin/sh
# Runs on a lab host (as root): redis-benchmark against the role's config and against
# the distribution's stock config of the same server (FLAVOR: redis, the default, or
# valkey), side by side on the same host, plain TCP and TLS, alternating rounds.
# Prints CSV lines: config,transport,test,rps.
#
# Both servers are throwaway copies on spare ports with their own data directory,
# so the deployed instance is not touched. The role's copy keeps every setting of
# the role (AOF, save rules, ACL file format...) except what a lone benchmark copy
# cannot have: its port, data directory, log file, its place in the group (replicaof,
# min-replicas-to-write) and users. redis-benchmark takes a password only on its command line, where every
# process list shows it, so the role's copies have no password: their one user is the
# default user, allowed PING, SET and GET on key:* and nothing else (no CONFIG GET: the
# role's config holds masterauth). They listen on 127.0.0.1 only and go with this script.
set -eu
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-1000000}
FLAVOR=${FLAVOR:-redis}
SERVER=/usr/bin/$FLAVOR-server
ROLE_CONF=/etc/$FLAVOR/main/$FLAVOR.conf
STOCK_CONF=/etc/$FLAVOR/$FLAVOR.conf
TLS=/etc/$FLAVOR/tls
for f in "$SERVER" "$ROLE_CONF" "$STOCK_CONF"; do
  [ -e "$f" ] || { echo "throughput: no $f on this host: deploy site.yml with redis_server_flavor $FLAVOR" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/redisops-bench.XXXXXX)
trap 'for p in "$WORK"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; sleep 0.5; rm -rf "$WORK"' EXIT

echo 'user default on nopass resetchannels -@all +ping +set +get ~key:*' > "$WORK/users.acl"
tls_files="--tls-cert-file $TLS/redis.crt --tls-key-file $TLS/redis.key --tls-ca-cert-file $TLS/ca.crt"

start() { # name conf port tls_port extra...
  name=$1 conf=$2 port=$3 tls_port=$4; shift 4
  mkdir -p "$WORK/$name"
  # shellcheck disable=SC2086
  "$SERVER" "$conf" --daemonize yes --pidfile "$WORK/$name.pid" --logfile "$WORK/$name.log" \
    --dir "$WORK/$name" --port "$port" --tls-port "$tls_port" --bind 127.0.0.1 "$@"
  for _ in $(seq 50); do [ -s "$WORK/$name.pid" ] && break; sleep 0.1; done
  sleep 0.5
}

# The role's config, as deployed on this host, as a primary of its own whatever this host is now:
# after a failover the file names the primary (replicaof, written by Sentinel), and a copy that
# kept it would refuse the benchmark's writes and join the group as a replica that every sentinel
# then remembers.
LONE="--aclfile $WORK/users.acl --min-replicas-to-write 0 --replicaof no one"
# shellcheck disable=SC2086
start role-plain "$ROLE_CONF" 7100 0 $LONE
# shellcheck disable=SC2086
start role-tls "$ROLE_CONF" 0 7101 $LONE $tls_files
# The role's config without the append-only file, to show what AOF costs.
# shellcheck disable=SC2086
start role-noaof "$ROLE_CONF" 7102 0 $LONE --appendonly no
# The distribution's stock config.
start stock-plain "$STOCK_CONF" 7200 0 --supervised no
# shellcheck disable=SC2086
start stock-tls "$STOCK_CONF" 0 7201 --supervised no $tls_files --tls-auth-clients no

bench() { # config transport port
  config=$1 transport=$2 port=$3; shift 3
  tls=""
  [ "$transport" = tls ] && tls="--tls --cacert $TLS/ca.crt --cert $TLS/redis.crt --key $TLS/redis.key"
  # shellcheck disable=SC2086
  redis-benchmark -h 127.0.0.1 -p "$port" $tls "$@" -c 50 -P 16 -t set,get -n "$REQUESTS" --csv 2>/dev/null |
    awk -F, -v c="$config" -v t="$transport" 'NR>1 {gsub(/"/, "", $1); gsub(/"/, "", $2); print c "," t "," $1 "," $2}'
}

for _ in $(seq "$ROUNDS"); do
  bench role plain 7100
  bench stock plain 7200
  bench role-noaof plain 7102
  bench role tls 7101
  bench stock tls 7201
done
