package pages

import (
	"html/template"
	"io/fs"
	"path"
	"strings"
	"testing"
)

// Each page is the shell with its own title and script, and marks itself
// as the current page of the navigation, and only itself.
func TestRender(t *testing.T) {
	shell := template.Must(template.ParseFS(Files(), "shell.html"))
	for _, d := range documents {
		if d.Script == "" {
			continue
		}
		got := string(render(shell, d))
		for _, want := range []string{"<title>" + template.HTMLEscapeString(d.Title) + "</title>", `src="/static/js/` + d.Script + `"`} {
			if !strings.Contains(got, want) {
				t.Errorf("%s lacks %s", d.Path, want)
			}
		}
		if n := strings.Count(got, `aria-current="page"`); n != 1 {
			t.Errorf("%s: %d links marked current, want 1", d.Path, n)
		}
	}
}

// Every module a script imports is a local, embedded file: nothing is left
// to fetch from elsewhere.
func TestFiles_Imports(t *testing.T) {
	files := Files()
	scripts, err := fs.Glob(files, "js/*.js")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("scripts: %v %v", scripts, err)
	}
	for _, name := range scripts {
		src, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(src), "\n") {
			_, from, ok := strings.Cut(line, `from "`)
			if !strings.HasPrefix(line, "import ") || !ok {
				continue
			}
			module, _, _ := strings.Cut(from, `"`)
			if !strings.HasPrefix(module, "./") && !strings.HasPrefix(module, "../") {
				t.Errorf("%s imports %s: not a local module", name, module)
				continue
			}
			if _, err := fs.Stat(files, path.Join(path.Dir(name), module)); err != nil {
				t.Errorf("%s imports %s: %v", name, module, err)
			}
		}
	}
}
