// Package profiles owns the profile schema, the built-in minimal, coding
// and full profiles (embedded JSON with comments, every field explained),
// their loading and validation. It decides; it does no I/O on the kernel:
// it imports neither x/sys/unix nor the jail, seccomp or cgroups packages.
package profiles
