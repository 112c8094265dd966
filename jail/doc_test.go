package jail

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docs/design.md lists the child's setup steps with the numbers of their
// comments in compile(), each titled by the start of the comment, so that
// the documentation of the setup order cannot drift from the code.
func TestDesignDocFollowsCompile(t *testing.T) {
	src, err := os.ReadFile("program.go")
	if os.IsNotExist(err) {
		t.Skip("the sources are not beside this test binary (the VM suite copies binaries only); make test runs this check")
	}
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	body = body[strings.Index(body, "func compile("):]
	body = body[:strings.Index(body, "\n}\n")]
	code := regexp.MustCompile(`(?m)^\t// (\d+)\. (.*)$`).FindAllStringSubmatch(body, -1)
	section := string(doc)
	section = section[strings.Index(section, "## In the child"):]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	docSteps := regexp.MustCompile(`(?m)^(\d+)\. \*\*([^*]+?)\.?\*\*`).FindAllStringSubmatch(section, -1)
	if len(code) == 0 || len(code) != len(docSteps) {
		t.Fatalf("compile() has %d numbered steps, docs/design.md %d", len(code), len(docSteps))
	}
	for i := range code {
		if code[i][1] != docSteps[i][1] || !strings.HasPrefix(code[i][2], docSteps[i][2]) {
			t.Errorf("step %d: compile() says %s. %q, docs/design.md %s. %q", i+1, code[i][1], code[i][2], docSteps[i][1], docSteps[i][2])
		}
	}
}
