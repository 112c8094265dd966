package jail

// Unfiltered makes s run without a seccomp filter: the jail package's own
// tests of the mechanism, never a plan (no production caller can reach
// this field).
func Unfiltered(s *Spec) { s.unfiltered = true }
