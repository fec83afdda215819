// Command vulndb turns the OSV reports of the golang.org/x/vulndb module
// (served by the Go module proxy, which CI can reach when vuln.go.dev is
// out of reach) into the v1 database layout that `govulncheck -db file://`
// reads:
//
//	go run ./.ci/vulndb -osv $(vulndb module dir)/data/osv -out /tmp/vulndb
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type osv struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vulnEntry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

func main() {
	in := flag.String("osv", "", "folder of OSV JSON reports (the vulndb module's data/osv)")
	out := flag.String("out", "", "folder to write the database to")
	flag.Parse()
	if *in == "" || *out == "" {
		log.Fatal("usage: vulndb -osv DIR -out DIR")
	}
	if err := build(*in, *out); err != nil {
		log.Fatal(err)
	}
}

func build(in, out string) error {
	files, err := filepath.Glob(filepath.Join(in, "*.json"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no OSV reports in %s", in)
	}
	for _, d := range []string{"ID", "index"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return err
		}
	}
	modules := map[string][]moduleVuln{}
	var vulns []vulnEntry
	var latest time.Time
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var e osv
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if !strings.HasPrefix(e.ID, "GO-") {
			continue
		}
		if err := os.WriteFile(filepath.Join(out, "ID", e.ID+".json"), raw, 0o644); err != nil {
			return err
		}
		vulns = append(vulns, vulnEntry{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		seen := map[string]bool{}
		for _, a := range e.Affected {
			if p := a.Package.Name; p != "" && !seen[p] {
				seen[p] = true
				modules[p] = append(modules[p], moduleVuln{ID: e.ID, Modified: e.Modified})
			}
		}
		if e.Modified.After(latest) {
			latest = e.Modified
		}
	}
	mods := make([]module, 0, len(modules))
	for p, vs := range modules {
		mods = append(mods, module{Path: p, Vulns: vs})
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	sort.Slice(vulns, func(i, j int) bool { return vulns[i].ID < vulns[j].ID })
	for name, v := range map[string]any{
		"db.json":      map[string]time.Time{"modified": latest},
		"modules.json": mods,
		"vulns.json":   vulns,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "index", name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d reports for %d modules to %s\n", len(vulns), len(mods), out)
	return nil
}
