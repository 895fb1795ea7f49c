#!/bin/bash
# Single-node Ceph (1 mon, 1 memstore OSD, no mgr) + radosgw (S3) on 127.0.0.1, for the demo and the
# integration tests. Started/stopped by demo/s3server.py; everything comes from the environment:
#   CEPH_DIR  scratch folder owned by this instance (config, mon store, logs, pid files)
#   RGW_PORT  S3 port on 127.0.0.1        MON_PORT  monitor port on 127.0.0.1 (msgr v1 only)
#   ACCESS / SECRET  S3 keys of the user that gets created
#   MEMSTORE_BYTES   optional OSD capacity (default 1 GiB). Objects live in RAM; past ~the cap the OSD
#                    engages "failsafe full" and writes hang (client timeout), they do not fail fast
# Several instances can run at once with different CEPH_DIR/ports: no fixed paths, no systemd, no /etc/ceph.
# Daemons double-fork and write $CEPH_DIR/run/<name>.pid; stop them with LocalS3Server.stop().
set -euo pipefail

die() { echo "ceph_up: $*" >&2; exit 1; }

for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl; do
    command -v "$bin" >/dev/null 2>&1 \
        || die "'$bin' not found: Ceph (radosgw, ceph-mon, ceph-osd, ceph-common, curl) is missing - run scripts/setup.sh"
done

D=${CEPH_DIR:?set CEPH_DIR to a scratch folder}
: "${RGW_PORT:?set RGW_PORT}" "${MON_PORT:?set MON_PORT}" "${ACCESS:?set ACCESS}" "${SECRET:?set SECRET}"
MEMSTORE_BYTES=${MEMSTORE_BYTES:-1073741824}
case "$D" in /*) ;; *) die "CEPH_DIR must be absolute: $D" ;; esac
[ "$D" != / ] || die "CEPH_DIR must not be /"

umask 077  # keyrings, config and logs: readable by this user only
mkdir -p "$D"
chmod 700 "$D"
# Refuse to clobber an instance that is still running on this folder.
for pf in "$D"/run/*.pid; do
    [ -f "$pf" ] || continue
    pid=$(cat "$pf" 2>/dev/null || true)
    if [ -n "$pid" ] && grep -qsF "$D/ceph.conf" "/proc/$pid/cmdline" \
        && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
        die "an instance is already running in $D (pid $pid from $pf); stop it first"
    fi
done
# Only remove what this script creates, never the whole folder.
rm -rf "$D"/{mon,osd0,run,log,rgw} "$D"/ceph.conf "$D"/keyring "$D"/mon.keyring "$D"/monmap
mkdir -p "$D"/{mon,osd0,run,log,rgw}

# Unix socket paths are limited to 107 bytes: drop admin sockets when the folder is too deep.
ASOK="$D/run/\$name.asok"
[ $(( ${#D} + 24 )) -lt 107 ] || ASOK=""

FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
public network = 127.0.0.0/8
# cephx on: only holders of a keyring (0600, in this 0700 folder) can talk to the cluster, so other local
# users cannot run radosgw-admin against it to read the S3 keys
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon data avail crit = 0
mon data avail warn = 0
# one mon, so no need to batch paxos proposals: every pool/crush change otherwise costs ~1 s
paxos propose interval = 0.05
paxos min wait = 0.01
ms bind ipv6 = false
ms bind msgr2 = false
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $ASOK
pid file = $D/run/\$name.pid
keyring = $D/keyring
[mon]
keyring = $D/mon/keyring
mon data = $D/mon
mon cluster log file = $D/log/cluster.log
[osd]
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd data = $D/osd\$id
osd journal = $D/osd\$id/journal
keyring = $D/osd\$id/keyring
osd max object name len = 460
osd max object namespace len = 64
# crush placement is done below; these boot-time mon commands can race the first monmap ('wrong fsid')
osd crush update on start = false
osd class update on start = false
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $D/rgw
keyring = $D/rgw/keyring
rgw dns name = 127.0.0.1
# default 512 threads per gateway; plenty fewer suffice on loopback and keep parallel instances light
rgw thread pool size = 64
CONF

C=(-c "$D/ceph.conf")
T0=$EPOCHREALTIME
phase() { echo "ceph_up: $(awk -v a="$EPOCHREALTIME" -v b="$T0" 'BEGIN { printf "%.1f", a - b }')s $*" >&2; }
# Ceph pacific with auth=none: a CLI client may send its first command before the monmap arrives and get
# "EPERM wrong fsid" (~1 in 30 calls). Such a command was not executed, so retrying is safe; every command
# used here is idempotent anyway (osd create takes a uuid). Daemons and radosgw-admin wait for the osdmap.
cephc() {
    local i
    for i in 1 2 3 4 5; do
        timeout 60 ceph "${C[@]}" --connect-timeout 30 "$@" && return 0
        sleep 0.2
    done
    return 1
}
tail_log() { [ -f "$1" ] && { echo "--- tail $1" >&2; tail -n 20 "$1" >&2; } || true; }

# keys: mon. and client.admin (the CLI and radosgw-admin) go into the mon's auth database at mkfs;
# osd.0 and client.rgw get theirs below with the least caps they need
ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "$D/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool "$D/mon.keyring" --import-keyring "$D/keyring" >/dev/null
monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring"
rm -f "$D/mon.keyring"
ceph-mon "${C[@]}" -i a || { tail_log "$D/log/mon.a.log"; die "ceph-mon failed to start (port $MON_PORT busy?)"; }
phase "mon up"

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD=$(cephc osd create "$OSD_UUID") || { tail_log "$D/log/mon.a.log"; die "mon not answering on 127.0.0.1:$MON_PORT"; }
ceph-authtool --create-keyring "$D/osd$OSD/keyring" --gen-key -n "osd.$OSD" >/dev/null
cephc auth add "osd.$OSD" osd 'allow *' mon 'allow profile osd' -i "$D/osd$OSD/keyring" >/dev/null
ceph-osd "${C[@]}" -i "$OSD" --mkfs --osd-uuid "$OSD_UUID" 2>>"$D/log/mkfs.log" \
    || { tail_log "$D/log/mkfs.log"; die "ceph-osd --mkfs failed"; }
cephc osd crush add-bucket localhost host >/dev/null
cephc osd crush move localhost root=default >/dev/null
cephc osd crush add "osd.$OSD" 1.0 host=localhost >/dev/null
ceph-osd "${C[@]}" -i "$OSD" 2>>"$D/log/osd-start.log" || { tail_log "$D/log/osd.$OSD.log"; die "ceph-osd failed to start"; }
up=
for _ in $(seq 1 120); do
    if [[ $(timeout 30 ceph "${C[@]}" osd stat 2>/dev/null) == *"1 up"* ]]; then up=1; break; fi
    sleep 0.5
done
[ -n "$up" ] || { tail_log "$D/log/osd.$OSD.log"; die "osd.$OSD did not come up within 60 s"; }
phase "osd up"

cephc auth get-or-create client.rgw mon 'allow rw' osd 'allow rwx' -o "$D/rgw/keyring" >/dev/null
radosgw "${C[@]}" -n client.rgw 2>>"$D/log/rgw-start.log" || { tail_log "$D/log/client.rgw.log"; die "radosgw failed to start"; }
up=
for _ in $(seq 1 240); do
    if curl --noproxy '*' -s -o /dev/null "http://127.0.0.1:$RGW_PORT/"; then up=1; break; fi
    sleep 0.25
done
[ -n "$up" ] || { tail_log "$D/log/client.rgw.log"; die "radosgw not answering on 127.0.0.1:$RGW_PORT within 60 s"; }
phase "rgw answering"
radosgw-admin "${C[@]}" user create --uid=s3user --display-name=s3user \
    --access-key="$ACCESS" --secret-key="$SECRET" >/dev/null \
    || { tail_log "$D/log/client.admin.log"; die "radosgw-admin user create failed"; }
phase "user created"
echo "ceph rgw up on 127.0.0.1:$RGW_PORT"
