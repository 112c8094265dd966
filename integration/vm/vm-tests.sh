#!/bin/bash
# Runs inside the VM (cgroup v2, systemd as PID 1), as root, then as an
# unprivileged user with a systemd-delegated cgroup. Prints one result line.
export CI=true HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Everything also goes to a log that is copied, whole, to the raw results
# disk at the end: the serial console can drop bytes under load.
log=/var/lib/oc-vm.log
exec > >(tee "$log") 2>&1 || true
cd /opt/openclaw
echo "VM: kernel $(uname -r), /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup), controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
rc=0
run() { echo "== $*"; "$@" || { echo "FAILED: $*"; rc=1; }; }
# A copy on the root file system: the payload disk is read-only, and /run
# and /tmp may be noexec.
rm -rf /var/lib/oc && cp -r /opt/openclaw /var/lib/oc && cd /var/lib/oc
export OPENCLAW_BIN=/var/lib/oc/bin/openclaw-run
# Software emulation runs a cold call in about a second: the load tests
# make fewer calls here (the host's make test makes them all).
export OPENCLAW_TEST_VM=1
run ./cgroups.test -test.v -test.count=1
run ./jail.test -test.v -test.count=1
run ./runner.test -test.v -test.count=1
run ./integration.test -test.v -test.count=1 -test.timeout=80m
echo "== the integration suite under the runc engine"
run env OPENCLAW_ENGINE=runc ./integration.test -test.v -test.count=1 -test.timeout=80m
# Rootless: an unprivileged service user with a delegated cgroup (v2).
mkdir -p /home/openclaw/ws /home/openclaw/state && chown -R openclaw:openclaw /home/openclaw
chmod 755 /var/lib/oc /var/lib/oc/bin
echo "== rootless (systemd-run --uid=openclaw -p Delegate=yes)"
out=$(systemd-run --quiet --wait --pipe --collect --uid=openclaw --gid=openclaw -p Delegate=yes \
  -E OPENCLAW_STATE_DIR=/home/openclaw/state \
  /var/lib/oc/bin/openclaw-run --workspace /home/openclaw/ws --memory 64M --pids 32 --stats -- \
  sh -c 'cat /proc/self/uid_map; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; cat /proc/self/cgroup; echo hi > made; unshare -U true 2>/dev/null && echo ESCAPE; python3 -c "x=bytearray(200<<20)"' 2>&1)
echo "$out"
uid=$(id -u openclaw)
echo "$out" | grep -q " 0 *$uid *1" && echo "$out" | grep -q "CapEff:.0000000000000000" && echo "$out" | grep -q "Seccomp:.2" \
  && ! echo "$out" | grep -q ESCAPE && echo "$out" | grep -q "oomKilled=true" \
  && [ "$(stat -c %u /home/openclaw/ws/made)" = "$uid" ] && echo "rootless: PASS" || { echo "rootless: FAIL"; rc=1; }
echo "VM-TEST-RESULT rc=$rc"
sync
cat "$log" > /dev/vdc 2>/dev/null; sync
