// Empty assembly file: it lets jail declare the bodyless functions that are
// linked to the runtime's fork hooks in fork_linux.go.
