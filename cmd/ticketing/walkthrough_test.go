package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// walkthroughMark is the line of README.md before each ```sh block that
// TestReadme_Walkthrough runs.
const walkthroughMark = "<!-- walkthrough -->"

// walkthroughBlocks returns the shell blocks of a Markdown text that follow
// a walkthroughMark line (blank lines between them allowed), in order.
func walkthroughBlocks(md string) ([]string, error) {
	var blocks []string
	var cur *strings.Builder
	marked := false
	sc := bufio.NewScanner(strings.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks, cur = append(blocks, cur.String()), nil
		case cur != nil:
			cur.WriteString(line + "\n")
		case strings.TrimSpace(line) == walkthroughMark:
			marked = true
		case marked && strings.TrimSpace(line) == "":
		case marked && strings.TrimSpace(line) == "```sh":
			cur, marked = &strings.Builder{}, false
		case marked:
			return nil, errors.New("README.md: a walkthrough mark not followed by a ```sh block, at line " + strconv.Itoa(n))
		}
	}
	if cur != nil {
		return nil, errors.New("README.md: a walkthrough block is not closed")
	}
	return blocks, sc.Err()
}

func TestWalkthroughBlocks(t *testing.T) {
	t.Parallel()
	md := "# x\n```sh\nnot this\n```\n" + walkthroughMark + "\n\n```sh\necho one\necho two\n```\ntext\n" +
		walkthroughMark + "\n```sh\necho three\n```\n"
	got, err := walkthroughBlocks(md)
	if err != nil || len(got) != 2 || got[0] != "echo one\necho two\n" || got[1] != "echo three\n" {
		t.Errorf("blocks %q, %v", got, err)
	}
	for _, bad := range []string{walkthroughMark + "\ntext\n```sh\n```\n", walkthroughMark + "\n```sh\necho\n"} {
		if got, err := walkthroughBlocks(bad); err == nil {
			t.Errorf("blocks of %q = %q, want an error", bad, got)
		}
	}
}

// needTools fails the test under CI, and skips it elsewhere, when a
// program the walkthrough runs is missing (make test installs them).
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing: the README's walkthrough needs it (make walkthrough-tools)", n)
			}
			t.Skipf("%s is missing (make walkthrough-tools installs it)", n)
		}
	}
}

// TestReadme_Walkthrough runs the README's walkthrough verbatim with bash,
// set -euo pipefail, against a real engine on a fresh database, and checks
// what its last command prints: the organizer's sales figures. The
// walkthrough's curl calls fail on any status not 2xx (--fail-with-body)
// except where a refusal is what it shows.
func TestReadme_Walkthrough(t *testing.T) {
	t.Parallel()
	needTools(t, "bash", "curl", "jq")
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := walkthroughBlocks(string(md))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) == 0 {
		t.Fatal("README.md has no block marked " + walkthroughMark)
	}
	script := strings.Join(blocks, "\n")
	if id := uuidLiteral.FindString(script); id != "" {
		t.Fatalf("the walkthrough has the id %s written in: capture ids from the responses with jq", id)
	}
	s := startServer(t, pgtest.SchemaURL(t), time.Minute)

	stdout, stderr, err := runWalkthrough(script, s.url)
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if testing.Verbose() {
		t.Logf("the walkthrough printed:\n%s", stdout.String())
	}
	values := jsonValues(t, stdout.Bytes())
	if len(values) == 0 {
		t.Fatal("the walkthrough printed nothing")
	}
	checkWalkthroughSales(t, values[len(values)-1])
	refused := false
	for _, v := range values {
		refused = refused || v["status"] == 409.0
	}
	if !refused {
		t.Errorf("the walkthrough showed no refusal of the second scan (status 409):\n%s", stdout.String())
	}

	// The same walkthrough with a card that is declined stops at the
	// payment's 402: a step that fails is never passed over.
	declined := strings.ReplaceAll(script, `"payment_token":"tok_visa"`, `"payment_token":"tok_chargeDeclined"`)
	if declined == script {
		t.Fatal("the walkthrough pays with no tok_visa")
	}
	out, errOut, err := runWalkthrough(declined, s.url)
	if err == nil || strings.Contains(out.String(), "revenue_cents") {
		t.Errorf("the walkthrough with a declined card did not stop at the payment: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	s.audit()
}

// uuidLiteral matches a UUID written into a script.
var uuidLiteral = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// runWalkthrough runs script with bash, set -euo pipefail, BASE set to
// base, for at most two minutes.
func runWalkthrough(script, base string) (stdout, stderr *bytes.Buffer, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -euo pipefail\n"+script)
	cmd.Env = append(os.Environ(), "BASE="+base)
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return stdout, stderr, cmd.Run()
}

// checkWalkthroughSales checks the walkthrough's last output: two seats of
// 40.00 sold, nothing held.
func checkWalkthroughSales(t *testing.T, sales map[string]any) {
	t.Helper()
	want := map[string]float64{"units_sold": 2, "revenue_cents": 8000, "units_held": 0, "orders_confirmed": 1}
	for k, v := range want {
		if sales[k] != v {
			t.Errorf("sales %s = %v, want %v; sales: %v", k, sales[k], v, sales)
		}
	}
}

// jsonValues decodes the JSON objects out prints one after another: every
// output of the walkthrough is one (jq's).
func jsonValues(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var values []map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var v map[string]any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return values
		}
		if err != nil {
			t.Fatalf("the walkthrough printed something not a JSON object (%v):\n%s", err, out)
		}
		values = append(values, v)
	}
}
