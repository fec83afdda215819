package loadgen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/clickback/clickback/database"
)

// Usage is what a stretch of a run cost: CPU time of this process (on the
// end-to-end run: clickback, the fake platforms and the load generator,
// which share it) and of the PostgreSQL cluster, and the transactions the
// database committed or rolled back. Unlike rates, these barely depend on
// what else runs on the machine, so they compare runs on a shared one.
type Usage struct {
	CPU, DBCPU   time.Duration
	Transactions int64
	// DBMeasured is false where the database's share could not be read
	// (SQLite, a server on another machine).
	DBMeasured bool
}

// usageProbe reads Usage counters; take two readings and subtract.
type usageProbe struct {
	db         *database.DB
	postmaster int
}

// newUsageProbe finds the PostgreSQL cluster's postmaster behind db, when
// it runs on this machine; db may be nil.
func newUsageProbe(ctx context.Context, db *database.DB) *usageProbe {
	p := &usageProbe{db: db}
	if db == nil || db.Dialect != dialect.Postgres {
		return p
	}
	var backend int
	if err := db.SQL.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return p
	}
	if st, ok := procStat(backend); ok && st.comm == "postgres" {
		p.postmaster = st.ppid
	}
	return p
}

// read returns the counters so far.
func (p *usageProbe) read(ctx context.Context) Usage {
	var u Usage
	if st, ok := procStat(os.Getpid()); ok {
		u.CPU = st.cpu
	}
	if p.db == nil || p.db.Dialect != dialect.Postgres {
		return u
	}
	// The statistics reach pg_stat_database with a delay unless a flush
	// is forced.
	_, _ = p.db.SQL.ExecContext(ctx, `SELECT pg_stat_force_next_flush()`)
	if err := p.db.SQL.QueryRowContext(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&u.Transactions); err != nil {
		return u
	}
	if p.postmaster == 0 {
		return u
	}
	// The cluster: the postmaster, the children it reaped (their CPU is in
	// its cutime and cstime) and the children alive now. The cluster may
	// serve other databases too (other tests on the machine).
	pm, ok := procStat(p.postmaster)
	if !ok {
		return u
	}
	u.DBCPU, u.DBMeasured = pm.cpu+pm.children, true
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if st, ok := procStat(pid); ok && st.ppid == p.postmaster {
			u.DBCPU += st.cpu
		}
	}
	return u
}

// Sub is u less an earlier reading.
func (u Usage) Sub(earlier Usage) Usage {
	return Usage{CPU: u.CPU - earlier.CPU, DBCPU: u.DBCPU - earlier.DBCPU, Transactions: u.Transactions - earlier.Transactions, DBMeasured: u.DBMeasured && earlier.DBMeasured}
}

// PerUnit renders u per n units (conversions).
func (u Usage) PerUnit(n int64) string {
	if n <= 0 {
		return "nothing to divide by"
	}
	per := func(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(n)) }
	s := "CPU per conversion: this process " + per(u.CPU)
	if u.DBMeasured {
		s += ", PostgreSQL " + per(u.DBCPU) + ", together " + per(u.CPU+u.DBCPU)
	}
	if u.Transactions > 0 {
		s += fmt.Sprintf("; %.2f database transactions per conversion", float64(u.Transactions)/float64(n))
	}
	return s
}

type stat struct {
	comm          string
	ppid          int
	cpu, children time.Duration
}

// clockTick is USER_HZ, 100 on every Linux this runs on.
const clockTick = 10 * time.Millisecond

// procStat reads /proc/pid/stat: the command, parent, CPU time (user and
// system) and that of the waited-for children.
func procStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	return parseStat(string(b))
}

// parseStat reads a /proc/pid/stat line. The command is in parentheses
// and may itself hold spaces and parentheses: it ends at the last ')'.
func parseStat(s string) (stat, bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return stat{}, false
	}
	// After the command: state, ppid, …; utime, stime, cutime, cstime are
	// fields 14 to 17 of the line (11 to 14 here).
	f := strings.Fields(s[end+1:])
	if len(f) < 15 {
		return stat{}, false
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	ppid, _ := strconv.Atoi(f[1])
	return stat{
		comm:     s[open+1 : end],
		ppid:     ppid,
		cpu:      time.Duration(n(11)+n(12)) * clockTick,
		children: time.Duration(n(13)+n(14)) * clockTick,
	}, true
}
