package tag

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// nodePath finds node, or skips: the tag's own tests need it, the Go package does not.
func nodePath(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: skipping the tag's JavaScript tests (install Node.js 20+ to run them)")
	}
	return node
}

// TestNode runs the unit tests of tag.js (test/*.test.js) with Node's test runner, so that
// go test covers them.
func TestNode(t *testing.T) {
	t.Parallel()
	node := nodePath(t)
	files, err := filepath.Glob(filepath.Join("test", "*.test.js"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out, err := exec.Command(node, append([]string{"--test"}, files...)...).CombinedOutput()
	require.NoError(t, err, "node --test failed:\n%s", out)
}

// TestTagBatchesParse runs the served script (Script's output, not tag.js) in the fake
// browser with hostile pages and calls, and checks that ParseBatch accepts every batch it
// sends: the tag must never lose a PageView to a field the server refuses.
func TestTagBatchesParse(t *testing.T) {
	t.Parallel()
	node := nodePath(t)
	script, err := Script(Config{
		IngestURL: "https://cb.example/t/key",
		AutoTag:   []AutoTagRule{{Domain: "network.example", Param: "sub1"}},
	})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "tag.js")
	require.NoError(t, os.WriteFile(path, script, 0o600))
	var stderr bytes.Buffer
	cmd := exec.Command(node, filepath.Join("test", "emit.js"), path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())

	var events []Event
	lines := bufio.NewScanner(bytes.NewReader(out))
	lines.Buffer(nil, MaxBodyBytes+1)
	for lines.Scan() {
		require.LessOrEqual(t, len(lines.Bytes()), 60000+20)
		b, err := ParseBatch(lines.Bytes())
		require.NoError(t, err, "%.300s", lines.Bytes())
		events = append(events, b.Events...)
	}
	require.NoError(t, lines.Err())

	byName := map[string]Event{}
	count := map[EventType]int{}
	for _, e := range events {
		byName[e.Name] = e
		count[e.Type]++
	}
	require.Equal(t, map[EventType]int{PageView: 1, Custom: 65, Identify: 2, OutboundClick: 1, Error: 1}, count)

	pv := byName["PageView"]
	require.True(t, ValidClickID(pv.ClickID))
	require.Len(t, []rune(pv.URL), MaxURLLen)
	require.Len(t, []rune(pv.UTM.Source), MaxParamLen)
	require.Len(t, []rune(pv.AdClickIDs.GCLID), MaxParamLen)
	require.Equal(t, "Sale  "+strings.Repeat("\U0001F600", (MaxTitleLen-6)/2), pv.Title, "NUL dropped, cut at 512 UTF-16 units")
	require.Empty(t, pv.Language)
	require.Empty(t, pv.FBC, "an fbclid too long for a cookie makes no _fbc")

	require.Equal(t, int64(300_000), byName["Purchase"].Value, "0.1 + 0.2 in JavaScript")
	require.Equal(t, "EUR", byName["Purchase"].Currency)
	require.True(t, byName["Tiny"].HasValue)
	require.Zero(t, byName["Tiny"].Value)
	require.False(t, byName["Huge"].HasValue, "the tag drops values above 1e12")
	require.Equal(t, int64(MaxValue), byName["Max"].Value)
	require.Len(t, byName["Props"].Props, MaxProps)
	require.Equal(t, int64(59*MicrosPerUnit), byName["Many 59"].Value)

	oc := byName["OutboundClick"]
	require.Contains(t, oc.LinkURL, "sub1="+pv.ClickID)
	require.Equal(t, pv.ClickID, oc.ClickID)
	require.Len(t, []rune(oc.LinkText), MaxLinkTextLen)

	require.Len(t, []rune(byName["Error"].Message), MaxParamLen)
	require.Empty(t, byName["Error"].ClickID)
}
