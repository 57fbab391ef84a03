#!/bin/sh
# Restart this host's yyc3-realtime@<port> processes one at a time.
#   deploy/rolling-restart.sh [settle-seconds]     (default 15)
# Each process closes its sockets with 1012 on SIGTERM; their clients reconnect
# through nginx to the other processes. The next restart waits until the
# restarted process answers /readyz and the reconnecting clients have settled
# (docs/deploy.md "Rolling restart").
set -eu
settle=${1:-15}
ports=$(systemctl list-units --plain --no-legend --state=active \
    'yyc3-realtime@*.service' | sed -n 's/^yyc3-realtime@\([0-9]*\)\.service.*/\1/p')
[ -n "$ports" ] || { echo "no active yyc3-realtime@<port> units" >&2; exit 1; }
for port in $ports; do
    echo "restarting yyc3-realtime@$port"
    systemctl restart "yyc3-realtime@$port.service"
    tries=0
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; do
        tries=$((tries + 1))
        if [ "$tries" -ge 60 ]; then
            echo "yyc3-realtime@$port not ready after 60 s; stopping here" >&2
            exit 1
        fi
        sleep 1
    done
    sleep "$settle"
done
echo "restarted: $ports"
