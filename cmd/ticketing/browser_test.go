package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser tests drive Debian's chromium (tools/chromium/setup installs it)
// with chromedp, a well-kept pure-Go client of the DevTools protocol that
// needs no driver binary and no npm: the tests stay `go test` tests and run
// the engine in the same process, as the other end-to-end tests do.

// chromiumPath is the browser the tests run.
const chromiumPath = "/usr/bin/chromium"

// browser is one headless Chromium process with one tab, its own profile,
// and the page errors it saw.
type browser struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	// problems are uncaught exceptions and refusals of the page's policy.
	problems []string
}

// newBrowser starts a Chromium for t, closed when t ends; it skips t where
// there is none (and fails it under CI=true, where one must be).
func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no %s under CI: tools/chromium/setup installs it", chromiumPath)
		}
		t.Skipf("no %s: run tools/chromium/setup for the browser tests", chromiumPath)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("page: %s", p)
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				b.mu.Lock()
				if p := fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1); !slices.Contains(b.problems, p) {
					b.problems = append(b.problems, p)
				}
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs the steps, each call within 30 s.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v; the page shows:\n%s", err, b.text())
	}
}

// text is what the page's main part says, for failure messages.
func (b *browser) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return err.Error()
	}
	return s
}

// eval returns the value of a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript expression until it is truthy and returns
// its value; it fails t after within.
func waitFor[T any](b *browser, expr string, within time.Duration) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within+5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(within)))
	if err != nil {
		b.t.Fatalf("waiting %v for %s: %v; the page shows:\n%s", within, expr, err, b.text())
	}
	return v
}

// screenshotDir is where the tests write their screenshots: SCREENSHOTS,
// or screenshots/ at the root of the repository.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("SCREENSHOTS"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..", "screenshots")
}

// shot writes a PNG of the whole page as screenshots/NAME.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := screenshotDir(b.t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signUpThroughPage fills the page's sign-in form as a new account.
func (b *browser) signUpThroughPage(email string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.ID("auth-email")),
		chromedp.SendKeys(chromedp.ID("auth-email"), email),
		chromedp.SendKeys(chromedp.ID("auth-password"), "correct horse battery"),
		chromedp.Click(chromedp.ID("auth-new")),
		chromedp.Click(chromedp.ID("auth-submit")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="who"]`)))
}

// signInAs puts a session of token into the page's storage, as signing in
// does, and reloads the page.
func (b *browser) signInAs(token, role, email string) {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`localStorage.setItem("ticketing.session", JSON.stringify({token: %q, role: %q, email: %q}))`, token, role, email)),
		chromedp.Reload())
}

// axeSource is axe-core 4.14.1 (Deque Systems, MPL-2.0), vendored
// unchanged from its npm package under testdata/: the accessibility
// engine most browser test suites run, checking the page as rendered
// (names, labels, contrast, roles, landmarks) against WCAG 2.1 A and AA.
// The tests inject it through DevTools; the pages never serve it.
var axeSource = sync.OnceValues(func() ([]byte, error) { return os.ReadFile("testdata/axe-core/axe.min.js") })

// checkAccessible runs axe-core on the page as it is and fails t for each
// WCAG 2.1 A or AA rule it breaks, naming the elements.
func (b *browser) checkAccessible(page string) {
	b.t.Helper()
	src, err := axeSource()
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](string(src))); err != nil {
		b.t.Fatalf("load axe-core: %v", err)
	}
	type violation struct {
		ID    string `json:"id"`
		Help  string `json:"help"`
		Nodes []struct {
			Target []string `json:"target"`
		} `json:"nodes"`
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
		Violations []violation `json:"violations"`
		Passes     int         `json:"passes"`
	}](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).
		then(r => ({violations: r.violations, passes: r.passes.length}))`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("axe-core on %s: %v", page, err)
	}
	if res.Passes == 0 {
		b.t.Errorf("axe-core checked no rule on %s", page)
	}
	b.t.Logf("axe-core: %s passes %d rules, breaks %d", page, res.Passes, len(res.Violations))
	for _, v := range res.Violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, strings.Join(n.Target, " "))
		}
		b.t.Errorf("accessibility of %s: %s (%s): %s", page, v.ID, v.Help, strings.Join(where, ", "))
	}
}
