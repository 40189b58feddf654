#!/bin/sh
# Runs on a lab host (as root), for 'make bench --only servers':
#   server_copy.sh start FLAVOR ADDRESS   a throwaway copy of the deployed instance's config
#                                         (FLAVOR-server, the kit's FLAVOR.conf) on ADDRESS:7100
#                                         (plain) and ADDRESS:7101 (TLS); prints the
#                                         server's version
#   server_copy.sh stop                   stops it and removes its files
#
# The copy keeps every setting of the role (AOF everysec, save rules, TLS, client certificates,
# io-threads, maxmemory...) except what a lone benchmark copy cannot have: its ports, bind
# address, data directory, log file, its place in the group (replicaof: a copy on a host that is
# a replica now is a primary of its own, never a replica the sentinels learn about;
# min-replicas-to-write 0) and users. The deployed instance is not touched.
#
# Users: redis-benchmark takes a password only on its command line (-a), where every process list
# shows it, so the copy has no password to show. Its one user is the default user, without a
# password but allowed PING, SET and GET on key:* and nothing else: no CONFIG GET (the kit's
# config holds masterauth), no other key, no admin command. The TLS port asks for a client
# certificate as the kit's config says (tls-auth-clients). The copy holds only the benchmark's
# keys and is gone with 'stop'. A default user without a password is refused to every address
# but loopback (protected mode), so the copy turns protected mode off: the benchmark client runs
# on the control machine, across the lab's network.
set -eu
WORK=/run/redisops-bench-copy
PORT=7100
TLS_PORT=7101

case "$1" in
start)
  flavor=$2 address=$3
  conf=/etc/$flavor/main/$flavor.conf
  [ -r "$conf" ] || { echo "server_copy: no $conf: deploy site.yml first" >&2; exit 1; }
  rm -rf "$WORK"
  mkdir -m 0700 -p "$WORK/data"
  umask 077
  echo 'user default on nopass resetchannels -@all +ping +set +get ~key:*' >"$WORK/users.acl"
  "/usr/bin/$flavor-server" "$conf" --daemonize yes --supervised no --pidfile "$WORK/server.pid" \
    --logfile "$WORK/server.log" --dir "$WORK/data" --bind "$address" \
    --port "$PORT" --tls-port "$TLS_PORT" --aclfile "$WORK/users.acl" --min-replicas-to-write 0 \
    --replicaof no one --protected-mode no
  for _ in $(seq 100); do
    if [ -s "$WORK/server.pid" ] && grep -q "Ready to accept connections" "$WORK/server.log"; then
      "/usr/bin/$flavor-server" --version
      exit 0
    fi
    sleep 0.1
  done
  echo "server_copy: $flavor-server did not start:" >&2
  tail -20 "$WORK/server.log" >&2
  exit 1
  ;;
stop)
  if [ -s "$WORK/server.pid" ]; then
    pid=$(cat "$WORK/server.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$WORK"
  ;;
*)
  echo "usage: server_copy.sh start FLAVOR ADDRESS | stop" >&2
  exit 2
  ;;
esac
