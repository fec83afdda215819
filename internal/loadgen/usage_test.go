package loadgen

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       stat
		ok         bool
	}{
		{"plain", "4242 (postgres) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 1 1 1", stat{comm: "postgres", ppid: 17, cpu: 3 * time.Second, children: 100 * time.Millisecond}, true},
		{"odd command", "9 (a) b (c)) R 1 9 9 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 1 1 1", stat{comm: "a) b (c)", ppid: 1, cpu: 30 * time.Millisecond, children: 70 * time.Millisecond}, true},
		{"cut short", "9 (x) R 1 9", stat{}, false},
		{"no command", "garbage", stat{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseStat(tc.line)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
	self, ok := procStat(os.Getpid())
	require.True(t, ok)
	require.Equal(t, os.Getppid(), self.ppid)
}

func TestUsagePerUnit(t *testing.T) {
	u := Usage{CPU: 3 * time.Second, DBCPU: time.Second, Transactions: 1500, DBMeasured: true}.Sub(Usage{CPU: time.Second, Transactions: 500, DBMeasured: true})
	require.Equal(t, "CPU per conversion: this process 2000 µs, PostgreSQL 1000 µs, together 3000 µs; 1.00 database transactions per conversion", u.PerUnit(1000))
	require.Equal(t, "CPU per conversion: this process 2000 µs", Usage{CPU: 2 * time.Second}.PerUnit(1000))
	require.Equal(t, "nothing to divide by", u.PerUnit(0))
}
