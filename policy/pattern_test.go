package policy

import (
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

func TestMayMatch(t *testing.T) {
	for _, c := range []struct {
		pat  string
		t    target
		want bool
	}{
		{"r[m]", target{lit: "rm"}, true},
		{"r?", target{lit: "rm"}, true},
		{"R?", target{lit: "rm"}, true}, // names are case folded
		{"r*", target{lit: "rm"}, true},
		{"*", target{lit: "rm"}, true},
		{"[q-s]m", target{lit: "rm"}, true},
		{"@(rm|ls)", target{lit: "rm"}, true},
		{"+(r)m", target{lit: "rm"}, true},
		{"!(ls)", target{lit: "rm"}, true}, // not translatable: may match anything
		{"r[!m]", target{lit: "rm"}, false},
		{"r?x", target{lit: "rm"}, false},
		{"l?", target{lit: "rm"}, false},
		{"[a-l]m", target{lit: "rm"}, false},
		{"python3.1[1]", target{lit: "python", tail: tailVersion}, true},
		{"python3.1[1]", target{lit: "python"}, false},
		{"pyth?n3*", target{lit: "python", tail: tailVersion}, true},
		{"perl?x", target{lit: "perl", tail: tailVersion}, false},
		{"-[e]nc", target{lit: "-enc", tail: tailValue}, true},
		{"-enc=*", target{lit: "-enc", tail: tailValue}, true},
		{"-enco*", target{lit: "-enc", tail: tailValue}, false},
	} {
		if got := mayMatch(c.pat, c.t); got != c.want {
			t.Errorf("mayMatch(%q, %+v) = %v", c.pat, c.t, got)
		}
	}
}

func TestFieldNames(t *testing.T) {
	p := denyMode(t)
	c := newChecker(p)
	for src, want := range map[string]struct {
		name string
		kind nameKind
	}{
		"/usr/bin/rm": {"rm", nameLiteral},
		"Python3.12":  {"python", nameLiteral},
		`"$d"/rm`:     {"rm", nameLiteral},
		"~/bin/rm":    {"rm", nameLiteral},
		"$d/rm":       {"", nameComputed}, // unquoted: it may split into other words
		"~":           {"", nameComputed},
		"$x":          {"", nameComputed},
		"/usr/*/rm":   {"rm", nameLiteral},
		"/usr/bin/r?": {"r?", namePattern},
		`"r?"`:        {"r?", nameLiteral},
		"[":           {"[", nameLiteral},
		`"$d"/r[m]`:   {"r[m]", namePattern},
		`r\[m]`:       {"r[m]", nameLiteral},
	} {
		f, err := parse(src)
		if err != nil {
			t.Fatal(src, err)
		}
		fs := c.mainFields(f.Stmts[0].Cmd.(*syntax.CallExpr).Args)
		name, kind := fs[0].name()
		if name != want.name || kind != want.kind {
			t.Errorf("%s: %q %v, want %q %v", src, name, kind, want.name, want.kind)
		}
	}
}
