#!/usr/bin/env bash
# make vm-test: builds the image (cached), the test binaries on the host,
# boots the VM with qemu under software emulation and reports the result.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${OPENCLAW_VM_CACHE:-/var/cache/openclaw-run-vm}
"$here/build-image.sh" "$cache"

payload=$(mktemp -d)
trap 'rm -rf "$payload"' EXIT
mkdir -p "$payload/bin"
cd "$repo"
CGO_ENABLED=0 go build -trimpath -o "$payload/bin/openclaw-run" ./cmd/openclaw-run
CGO_ENABLED=0 go build -trimpath -o "$payload/bin/openclaw-gateway" ./cmd/openclaw-gateway
(cd runcjail/helper && CGO_ENABLED=1 go build -trimpath -tags seccomp,netgo,osusergo -ldflags '-extldflags "-static"' \
  -o "$payload/bin/openclaw-run-runc" .)
for p in cgroups jail runner; do go test -c -o "$payload/$p.test" "./$p"; done
go test -c -tags integration -o "$payload/integration.test" ./integration
cp "$here/vm-tests.sh" README.md "$payload/"
mkfs.ext4 -q -F -d "$payload" "$cache/payload.img" 1G

rm -f "$cache/run.qcow2" "$cache/results.img"
truncate -s 64M "$cache/results.img"
qemu-img create -q -f qcow2 -b "$cache/rootfs.img" -F raw "$cache/run.qcow2"
log="$cache/vm-test.log"
echo "vm: booting (qemu TCG, 2 CPUs, 4 GiB); console in $log"
start=$(date +%s)
timeout 80m qemu-system-x86_64 -machine q35 -accel tcg -cpu max -smp 2 -m 4096 -nographic -no-reboot \
  -kernel "$cache/vmlinuz" -initrd "$cache/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 systemd.unified_cgroup_hierarchy=1 quiet" \
  -drive file="$cache/run.qcow2",if=virtio,format=qcow2 \
  -drive file="$cache/payload.img",if=virtio,format=raw,readonly=on \
  -drive file="$cache/results.img",if=virtio,format=raw \
  -nic none \
  >"$log" 2>&1 || true
echo "vm: done in $(( $(date +%s) - start ))s"
# The whole log from the results disk (the console's copy as a fallback).
results="$cache/vm-results.log"
tr -d '\000' <"$cache/results.img" >"$results"
[ -s "$results" ] || tr -d '\000\r' <"$log" >"$results"
grep -a -E '^(VM:|== |--- (PASS|FAIL|SKIP)|FAILED|rootless|ok |FAIL|    )' "$results" | tail -250
if grep -a -q "VM-TEST-RESULT rc=0" "$results"; then
  echo "vm-test: PASS"
else
  echo "vm-test: FAIL (see $log)"
  exit 1
fi
