
# ---- The rest is the same on every host (deploy/src/control.sh in Cohort). ----
#
# start             start the launcher under its supervisor; prints `started PID`, or fails with
#                   why and the log's latest lines (and leaves nothing running)
# stop              stop the launcher (SIGTERM, which stops its actors; SIGKILL after
#                   STOP_TIMEOUT seconds); prints `stopped PID`, `killed PID` or `not running`
# status [view]     `key value` lines: supervision, state, pid, deployed, and with `view` the
#                   launcher's part of the app's view (`view JSON`) from its monitor
# logs [N [follow]] the log's last N lines (100), and what follows with `follow`
# launch            run the launcher in the foreground (what a detached start runs)

PIDFILE="$DIR/launcher.pid"
LOG="$DIR/launcher.log"
RUN="$DIR/run"
# Seconds a launcher may take to start its first actor, and to stop its actors.
START_TIMEOUT=${COHORT_START_TIMEOUT:-30}
STOP_TIMEOUT=${COHORT_STOP_TIMEOUT:-15}

fail() {
    printf '%s\n' "$*" >&2
    exit 1
}

systemctl_() {
    if [ "$SUPERVISION" = user-unit ]; then
        systemctl --user "$@"
    else
        systemctl "$@"
    fi
}

unit_dir() {
    if [ "$SUPERVISION" = user-unit ]; then
        printf '%s\n' "${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"
    else
        printf '%s\n' /etc/systemd/system
    fi
}

# Whether process $1 exists and has not ended (a zombie has).
alive() {
    case "$1" in '' | 0 | *[!0-9]*) return 1 ;; esac
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c 1)
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Whether process $1 is this host's launcher of the app: alive, and running this folder's binary
# (its first argument, or its second when an interpreter runs it).
is_launcher() {
    alive "$1" && cat "/proc/$1/cmdline" 2>/dev/null | tr '\0' '\n' | head -n 2 | grep -qxF "$BINARY"
}

launcher_pid() {
    if [ "$SUPERVISION" = process ]; then
        cat "$PIDFILE" 2>/dev/null
    else
        systemctl_ show --property MainPID --value "$UNIT" 2>/dev/null
    fi
}

# The log written since byte $1.
log_since() {
    tail -c "+$(($1 + 1))" "$LOG" 2>/dev/null
}

# Waits until process $1 has ended, $2 seconds at most.
wait_gone() {
    end=$(($(date +%s) + $2))
    while alive "$1"; do
        [ "$(date +%s)" -ge "$end" ] && return 1
        sleep 0.1
    done
    return 0
}

# Whether the launcher that was started has ended already ($1: its pid, if known).
start_failed() {
    if [ "$SUPERVISION" = process ]; then
        [ -n "$1" ] && ! alive "$1"
    else
        case "$(systemctl_ show --property ActiveState --value "$UNIT"):$(systemctl_ show --property SubState --value "$UNIT")" in
            failed:* | inactive:* | *:auto-restart) return 0 ;;
            *) return 1 ;;
        esac
    fi
}

start() {
    pid=$(launcher_pid)
    if is_launcher "$pid"; then
        fail "the launcher runs already (pid $pid): stop it first"
    fi
    mkdir -p "$RUN" && chmod 700 "$RUN" || fail "cannot make $RUN"
    touch "$LOG" && chmod 600 "$LOG" || fail "cannot write $LOG"
    printf -- '--- %s cohort deploy: starting %s on host %s (%s)\n' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$APP" "$HOST" "$SUPERVISION" >>"$LOG"
    offset=$(wc -c <"$LOG")
    if [ "$SUPERVISION" = process ]; then
        start_process
    else
        start_unit
    fi
    wait_started "$offset"
}

start_process() {
    rm -f "$PIDFILE"
    detach=setsid
    command -v setsid >/dev/null 2>&1 || detach=nohup
    # Its own session (no terminal, nothing to hang up when the SSH session ends); the pidfile
    # is written before the exec, which keeps the process id.
    $detach sh -c 'echo $$ >"$1" && exec sh "$2" launch' sh "$PIDFILE" "$0" </dev/null >>"$LOG" 2>&1 &
}

start_unit() {
    units=$(unit_dir)
    mkdir -p "$units" && cp "$DIR/current/$UNIT" "$units/$UNIT" || fail "cannot install $units/$UNIT"
    systemctl_ daemon-reload || fail "systemctl daemon-reload failed"
    systemctl_ enable --quiet "$UNIT" || fail "cannot enable $UNIT"
    systemctl_ start "$UNIT" || fail "cannot start $UNIT"
}

# Waits until the launcher started its first actor; or stops what was started and fails.
wait_started() {
    end=$(($(date +%s) + START_TIMEOUT))
    while :; do
        pid=$(launcher_pid)
        if is_launcher "$pid"; then
            if log_since "$1" | grep -q 'actor started'; then
                echo "started $pid"
                return 0
            fi
        elif ! alive "$pid" && start_failed "$pid"; then
            why="the launcher exited"
            break
        fi
        if [ "$(date +%s)" -ge "$end" ]; then
            why="no actor started within ${START_TIMEOUT}s"
            break
        fi
        sleep 0.1
    done
    stop >/dev/null 2>&1
    printf '%s; its log says:\n' "$why" >&2
    log_since "$1" | tail -n 20 >&2
    exit 1
}

stop() {
    if [ "$SUPERVISION" = process ]; then
        stop_process
    else
        stop_unit
    fi
    # The ipc files of processes killed before they could remove them.
    find "$RUN" -type s -exec rm -f {} + 2>/dev/null
    return 0
}

stop_process() {
    pid=$(cat "$PIDFILE" 2>/dev/null)
    if ! is_launcher "$pid"; then
        rm -f "$PIDFILE"
        echo "not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    if wait_gone "$pid" "$STOP_TIMEOUT"; then
        echo "stopped $pid"
    else
        kill -KILL "$pid" 2>/dev/null
        wait_gone "$pid" 5 || fail "the launcher (pid $pid) is still there after SIGKILL"
        echo "killed $pid"
    fi
    # Its actors end with it (they ask for SIGTERM when it dies); what is left of its process
    # group (it leads one in its own session) ends now.
    kill -KILL -- "-$pid" 2>/dev/null
    rm -f "$PIDFILE"
}

stop_unit() {
    pid=$(launcher_pid)
    systemctl_ stop "$UNIT" 2>/dev/null
    systemctl_ disable --quiet "$UNIT" 2>/dev/null
    units=$(unit_dir)
    if [ -f "$units/$UNIT" ]; then
        rm -f "$units/$UNIT"
        systemctl_ daemon-reload
    fi
    if is_launcher "$pid"; then
        fail "the launcher (pid $pid) is still there after systemctl stop $UNIT"
    elif [ -n "$pid" ] && [ "$pid" != 0 ]; then
        echo "stopped $pid"
    else
        echo "not running"
    fi
}

status() {
    echo "supervision $SUPERVISION"
    pid=$(launcher_pid)
    if is_launcher "$pid"; then
        echo "state running"
        echo "pid $pid"
    elif [ "$SUPERVISION" = process ] && [ -n "$pid" ]; then
        # A pidfile, and no launcher: it was killed or crashed.
        echo "state dead"
        echo "pid $pid"
    elif [ "$SUPERVISION" != process ] && [ "$(systemctl_ show --property ActiveState --value "$UNIT")" = failed ]; then
        echo "state dead"
    else
        echo "state stopped"
    fi
    if [ -r "$DIR/current/cohort-deployed.txt" ]; then
        echo "deployed $(head -n 1 "$DIR/current/cohort-deployed.txt")"
    fi
    if [ "$1" = view ] && [ -n "$VIEW_URL" ] && is_launcher "$pid"; then
        read=no
        if command -v curl >/dev/null 2>&1; then
            view=$(curl -fsS --max-time 3 "$VIEW_URL" 2>&1) && read=yes
        elif command -v wget >/dev/null 2>&1; then
            view=$(wget -q -O - -T 3 "$VIEW_URL" 2>&1) && read=yes
        else
            view="neither curl nor wget is installed on the host"
        fi
        if [ "$read" = yes ] && [ -n "$view" ]; then
            printf 'view %s\n' "$view"
        else
            printf 'view-error %s (%s)\n' "$(printf '%s' "$view" | head -n 1)" "$VIEW_URL"
        fi
    fi
}

logs() {
    [ -f "$LOG" ] || fail "no log yet: $LOG"
    if [ "$2" = follow ]; then
        exec tail -n "$1" -f "$LOG"
    fi
    exec tail -n "$1" "$LOG"
}

case "$1" in
    start) start ;;
    stop) stop ;;
    status) status "$2" ;;
    logs) logs "${2:-100}" "$3" ;;
    launch) launch ;;
    *) fail "usage: $0 start | stop | status [view] | logs [LINES [follow]] | launch" ;;
esac
