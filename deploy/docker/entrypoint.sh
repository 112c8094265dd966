#!/bin/sh
# Container entrypoint: make the container's own cgroup tree writable (Docker
# mounts it read-only; the runner creates one cgroup per call below it),
# then run the gateway as pid 1 so that it receives SIGTERM and drains.
set -eu
if grep -Eq ' /sys/fs/cgroup [^ ]+ [^ ]*\bro\b' /proc/self/mountinfo; then
	mount -o remount,rw /sys/fs/cgroup || {
		echo "openclaw-entrypoint: /sys/fs/cgroup is read-only and cannot be remounted: run with cap_add SYS_ADMIN and cgroup: private (deploy/docker/compose.yaml)" >&2
		exit 1
	}
fi
openclaw-run doctor || echo "openclaw-entrypoint: doctor reported problems (above); the gateway refuses calls it cannot isolate" >&2
exec openclaw-gateway start --foreground "$@"
