#!/bin/sh
# The guard of the local GHL server in the foreground (`make mock`, `ghl mock`):
# spec/support/server.lua runs this before it starts nginx. Lua has no signal
# handling of its own, so this shell stops nginx and removes its temporary
# folder when
#   - it gets SIGINT, SIGTERM or SIGHUP (Ctrl-C, a closed terminal, kill);
#   - a watched process dies: the server's Lua process, and make above it;
#   - once the server serves, a watched process no longer catches SIGHUP,
#     SIGINT or SIGTERM that it caught when the guard started (while nginx
#     starts, lua's os.execute ignores SIGINT for a moment): that process is
#     on its way out. GNU make,
#     sent SIGINT or SIGHUP by its pid alone, puts the signal back to its
#     default and waits for its children without telling them (it passes on
#     SIGTERM only); lua's interpreter does the same on a first SIGINT;
#   - nginx exits by itself.
# nginx's pid comes from its pid file. Stopped while nginx may still be
# starting (the Lua process killed then), it waits a little for that file.
#
#   sh mock_guard.sh PREFIX WATCHED_PID...
#
# PREFIX/serving appears once the server answers and the export lines are
# out. The guard prints its own pid on stdout first (server.lua may stop it
# with SIGTERM), and why it stopped on stderr. Exit status: 0 when told to
# stop, 1 when nginx exited by itself.
set -u

prefix=$1
shift
case $prefix in
  /tmp/ghl-mock.*) ;;
  *) echo "mock_guard: $prefix is not a folder of the local GHL server" >&2; exit 2 ;;
esac
watched=$*

# whether a pid runs (a zombie is dead, not yet reaped)
alive() {
  if [ -r "/proc/$1/stat" ]; then
    state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
  else
    kill -0 "$1" 2>/dev/null
  fi
}

# which of SIGHUP (1), SIGINT (2) and SIGTERM (0x4000) a pid catches: its SigCgt
# mask, low bits only; empty without /proc
caught() {
  mask=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null)
  [ -n "$mask" ] || return 0
  low=${mask#"${mask%????}"}
  echo $(( 0x$low & 0x4003 ))
}

nginx=""
nginx_pid() {
  [ -n "$nginx" ] && return 0
  pid=$(cat "$prefix/logs/nginx.pid" 2>/dev/null) || return 1
  case $pid in
    ''|*[!0-9]*) return 1 ;;
    *) nginx=$pid ;;
  esac
}

stopping=""
stop() {
  [ -n "$stopping" ] && return
  stopping=1
  trap '' INT TERM HUP
  # a start under way (nginx.conf is written just before it): its pid file comes once nginx runs
  i=0
  while ! nginx_pid && [ -e "$prefix/nginx.conf" ] && [ $i -lt 30 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  if [ "$2" -ne 0 ]; then grep -E '\[(emerg|alert|crit)\]' "$prefix/logs/error.log" 2>/dev/null | tail -n 5 >&2; fi
  if [ -n "$nginx" ]; then
    kill -TERM "$nginx" 2>/dev/null
    # nginx removes its pid file once its workers are gone
    i=0
    while [ -e "$prefix/logs/nginx.pid" ] && alive "$nginx" && [ $i -lt 50 ]; do
      sleep 0.1
      i=$((i + 1))
    done
    if alive "$nginx"; then kill -KILL "$nginx" 2>/dev/null; fi
  fi
  rm -rf "$prefix"
  echo "local GHL server stopped ($1)" >&2
  exit "$2"
}

trap 'stop SIGINT 0' INT
trap 'stop SIGTERM 0' TERM
trap 'stop SIGHUP 0' HUP

baseline=""
for pid in $watched; do baseline="$baseline $pid:$(caught "$pid")"; done

echo $$

serving=""
while :; do
  if [ -n "$nginx" ]; then
    alive "$nginx" || stop "nginx exited by itself" 1
  else
    nginx_pid || true
  fi
  for pid in $watched; do
    alive "$pid" || stop "process $pid ended" 0
  done
  if [ -z "$serving" ] && [ -e "$prefix/serving" ]; then serving=1; fi
  [ -n "$serving" ] && for w in $baseline; do
    pid=${w%%:*}
    was=${w#*:}
    if [ -n "$was" ]; then
      now=$(caught "$pid")
      # a signal caught at the start and no longer caught
      if [ -n "$now" ] && [ $(( was & ~now )) -ne 0 ]; then
        stop "process $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) is exiting" 0
      fi
    fi
  done
  # in the background, so that a signal's trap runs at once, not after the sleep
  sleep 0.2 &
  wait $! 2>/dev/null
done
