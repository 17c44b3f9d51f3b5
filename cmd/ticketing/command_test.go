package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ticketing/ticketing/infra/postgres/pgtest"
)

// TestMain runs main instead of the tests when runBinary starts the test
// binary again, with the arguments in TICKETING_TEST_ARGS.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("TICKETING_TEST_ARGS"); ok {
		os.Args = append([]string{"ticketing"}, strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	if u, ok := os.LookupEnv("LIVE_CHILD_URL"); ok { // BenchmarkLive's watchers
		if err := runLiveWatchers(u); err != nil {
			fmt.Fprintln(os.Stderr, "live watchers:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runBinary runs main with args in a process of its own and returns what
// it printed and its exit status.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "TICKETING_TEST_ARGS="+strings.Join(args, "\x1f"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// -h prints a command's help, with its example, and succeeds.
func TestMain_HelpFlag(t *testing.T) {
	t.Parallel()
	for _, spec := range subcommands {
		t.Run(spec.Name, func(t *testing.T) {
			t.Parallel()
			args := append(strings.Fields(spec.Name), "-h")
			_, stderr, code := runBinary(t, args...)
			if code != 0 || strings.Contains(stderr, "ERROR") {
				t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr)
			}
			if !strings.Contains(stderr, "usage: ticketing "+spec.Name) || !strings.Contains(stderr, "example:\n  "+spec.Example) {
				t.Errorf("%v: no help with an example:\n%s", args, stderr)
			}
		})
	}
}

// help <command> prints that command's help, its example and its flags.
func TestMain_HelpCommand(t *testing.T) {
	t.Parallel()
	for _, spec := range subcommands {
		args := append([]string{"help"}, strings.Fields(spec.Name)...)
		stdout, stderr, code := runBinary(t, args...)
		if code != 0 || stderr != "" {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr)
		}
		for _, want := range []string{"usage: ticketing " + spec.Name, spec.Summary, "example:\n  " + spec.Example, "-database-url"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, stdout)
			}
		}
	}
	stdout, _, code := runBinary(t, "help")
	if code != 0 || !strings.Contains(stdout, "commands:") || !strings.Contains(stdout, "environment:") {
		t.Errorf("help: exit %d:\n%s", code, stdout)
	}
}

// An unknown command says so, then prints usage, and exits 2.
func TestMain_UnknownCommand(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"projections", "nope"}, `unknown command "projections nope"`},
		{[]string{"projections"}, "projections needs a command"},
		{[]string{"help", "nope"}, `unknown command "nope"`},
	} {
		_, stderr, code := runBinary(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "commands:") || strings.Contains(stderr, "ERROR") {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit 2, %q and usage", c.args, code, stderr, c.want)
		}
	}
}

// The read-only commands open the database as it is: on an unmigrated
// one they create no table, and no database where there is none.
func TestRun_ReadOnlyCommandsDoNotMigrate(t *testing.T) {
	t.Parallel()
	base := pgtest.BaseURL(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	schema := "t_ro_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	if _, err := admin.Exec(ctx, "create schema "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "drop schema "+schema+" cascade") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db := u.String()
	tables := func() int {
		var n int
		if err := admin.QueryRow(ctx, "select count(*) from information_schema.tables where table_schema = $1", schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	out := t.TempDir() + "/out"
	show := uuid.NewString()
	for _, args := range [][]string{
		{"events", "--output", out},
		{"state", "--stream", "show-" + show, "--output", out},
		{"inventory", "--show", show, "--at", "2026-01-01", "--output", out},
		{"projections", "status", "--json"},
		{"audit", "--output", out},
	} {
		_ = run(ctx, append(args, "--database-url", db), env{}.get, quiet, nil)
		if n := tables(); n != 0 {
			t.Fatalf("%v created %d tables", args, n)
		}
	}
	fresh := freshDatabaseURL(t)
	if err := run(ctx, []string{"events", "--database-url", fresh, "--output", out}, env{}.get, quiet, nil); err == nil {
		t.Error("events on a database that does not exist succeeded")
	}
	fc, err := pgx.ParseConfig(fresh)
	if err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := admin.QueryRow(ctx, "select exists (select from pg_database where datname = $1)", fc.Database).Scan(&exists); err != nil || exists {
		t.Errorf("events created the database %s: %v, %v", fc.Database, exists, err)
	}
	// The control: migrate does create them.
	if err := run(ctx, []string{"migrate", "--database-url", db}, env{}.get, quiet, nil); err != nil || tables() == 0 {
		t.Fatalf("migrate: %v, %d tables", err, tables())
	}
}
