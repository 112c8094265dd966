// Package posture is the differential oracle between kinds of jail: a
// probe that prints what a jail shows of itself from inside, and a diff of
// two probes' outputs. The integration tests compare with it a cold and a
// pre-warmed jail, and the native engine and the runc engine.
package posture

import (
	"fmt"
	"sort"
	"strings"
)

// Probe prints everything a jail shows of itself from inside, as
// sections ("== name" and its lines), with what differs from run to run
// (pids, mount ids, device numbers, times) taken out, so that two kinds of
// jail can be compared whole: a cold and a pre-warmed one, and the native
// and the runc engine.
const Probe = `
section() { echo "== $1"; }
section status; grep -E '^(Uid|Gid|Groups|NoNewPrivs|Seccomp|Seccomp_filters|Cap(Inh|Prm|Eff|Bnd|Amb)|Sig(Blk|Ign)|Speculation_Store_Bypass):' /proc/self/status
section idmaps; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups | tr -s ' '
section identity; id; hostname; umask; pwd
section limits; tail -n +2 /proc/self/limits | tr -s ' '
section mounts; awk '{for (i = 7; $i != "-"; i++); print $5, $6, $(i+1), $(i+3)}' /proc/self/mountinfo | sed -E 's/size=[0-9]+k/size=N/; s/,?inode64//; s/nr_inodes=[0-9]+,?//; s#/proc/self/fd/[0-9]+#/proc/self/fd/N#g' | sort
section dev; ls -lA /dev | tail -n +2 | awk '{print $1, $3, $4, $NF}'
section etc; ls -A /etc
section root; ls -A /
section masked; for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/kallsyms /proc/sysrq-trigger /proc/acpi /proc/scsi; do if [ -d $f ]; then echo "$f dir $(ls -A $f | wc -l)"; elif [ -e $f ]; then echo "$f $(head -c 64 $f 2>/dev/null | wc -c)"; else echo "$f absent"; fi; done
section readonly; for d in /proc/sys/kernel/hostname /proc/sys/vm/drop_caches /usr/bin/.probe /workspace/.probe /tmp/.probe /dev/shm/.probe /etc/.probe; do printf '%s ' $d; (echo x > $d) 2>/dev/null && echo writable || echo refused; rm -f $d 2>/dev/null; done
section processes; ls /proc > /tmp/.procs; grep -c '^[0-9]' /tmp/.procs; rm /tmp/.procs
section network; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; cat /proc/net/unix | wc -l
section fds; ls /proc/self/fd | tr '\n' ' '; echo
section env; env | grep -v -e '^_=' -e '^TERM=' | sort
section term; echo "$TERM"
section cgroup; cat /proc/self/cgroup
section syscalls; python3 - <<'PY'
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
probes = [("ptrace", 101, (0, 0, 0, 0)), ("unshare-user", 272, (0x10000000,)), ("unshare-net", 272, (0x40000000,)),
          ("mount", 165, (b"none", b"/tmp", b"tmpfs", 0, 0)), ("keyctl", 250, (0, 0)), ("bpf", 321, (0, 0, 0)),
          ("perf_event_open", 298, (0, 0, -1, -1, 0)), ("io_uring_setup", 425, (1, 0)), ("kexec_load", 246, (0, 0, 0, 0)),
          ("init_module", 175, (0, 0, 0)), ("reboot", 169, (0, 0, 0, 0)), ("swapon", 167, (0, 0)),
          ("settimeofday", 164, (0, 0)), ("personality", 135, (0x0040000,)), ("chroot", 161, (b"/",)),
          ("pivot_root", 155, (b"/", b"/")), ("setns", 308, (0, 0)), ("open_by_handle_at", 304, (0, 0, 0)),
          ("userfaultfd", 323, (0,)), ("socket-packet", 41, (17, 3, 0)), ("socket-netlink-route", 41, (16, 3, 0)), ("socket-netlink-audit", 41, (16, 3, 9)),
          ("socket-inet", 41, (2, 1, 0)), ("socket-unix", 41, (1, 1, 0)), ("clone3", 435, (0, 0))]
for name, nr, args in probes:
    ctypes.set_errno(0)
    r = libc.syscall(nr, *[ctypes.c_char_p(a) if isinstance(a, bytes) else ctypes.c_long(a) for a in args])
    print(name, "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
    if r >= 0 and name.startswith("socket"):
        os.close(r)
PY
`

// Posture is a probe's output by section.
type Posture map[string]string

// excuse returns a and b less each known pair that both show: First in a
// and Second in b (one line each). A pair seen on one side only stays.
func excuse(a, b Posture, known []Known) (Posture, Posture) {
	if len(known) == 0 {
		return a, b
	}
	ca, cb := Posture{}, Posture{}
	for k, v := range a {
		ca[k] = v
	}
	for k, v := range b {
		cb[k] = v
	}
	for _, k := range known {
		x, y := k.First+"\n", k.Second+"\n"
		if strings.Contains("\n"+ca[k.Section], "\n"+x) && strings.Contains("\n"+cb[k.Section], "\n"+y) {
			ca[k.Section] = strings.TrimPrefix(strings.Replace("\n"+ca[k.Section], "\n"+x, "\n", 1), "\n")
			cb[k.Section] = strings.TrimPrefix(strings.Replace("\n"+cb[k.Section], "\n"+y, "\n", 1), "\n")
		}
	}
	return ca, cb
}

// Parse splits a probe's output into its sections.
func Parse(out string) Posture {
	p := Posture{}
	name := ""
	for _, l := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(l, "== "); ok {
			name = s
			p[name] = ""
			continue
		}
		if name != "" && l != "" {
			p[name] += l + "\n"
		}
	}
	return p
}

// Known is one intended difference within a section: the line First in
// the first posture stands for the line Second in the second, for the
// reason Why. Only that exact pair is excused; the rest of the section is
// compared.
type Known struct {
	Section, First, Second, Why string
}

// Diff lists every section in which a and b differ, line by line,
// except the sections in intended (section -> why they differ) and the
// known line pairs.
func Diff(a, b Posture, intended map[string]string, known ...Known) []string {
	a, b = excuse(a, b, known)
	var names []string
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if a[n] == b[n] || intended[n] != "" {
			continue
		}
		only := func(x, y string) []string {
			have := map[string]int{}
			for _, l := range strings.Split(y, "\n") {
				have[l]++
			}
			var o []string
			for _, l := range strings.Split(x, "\n") {
				if have[l] > 0 {
					have[l]--
				} else if l != "" {
					o = append(o, l)
				}
			}
			return o
		}
		out = append(out, fmt.Sprintf("%s: only in the first: %q; only in the second: %q", n, only(a[n], b[n]), only(b[n], a[n])))
	}
	return out
}
