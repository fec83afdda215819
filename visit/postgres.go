package visit

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clickback/clickback/ent/schema/pulid"
)

// writePgx returns the group committer's write on PostgreSQL: the Clicks'
// upsert and the TrackEvents' insert sent together, as one pipeline with a
// single Sync, which PostgreSQL runs as one implicit transaction,
// committed at the Sync (or, on any error, rolled back whole). One round
// trip a batch instead of four (BEGIN, two statements, COMMIT): on a busy
// machine each round trip waits for the scheduler while the batch's
// requests wait for it.
func writePgx(pool *pgxpool.Pool) func(ctx context.Context, items []*Batch) error {
	return func(ctx context.Context, items []*Batch) error {
		clicks, events := sortedRows(items)
		b := &pgx.Batch{}
		if len(clicks) > 0 {
			b.Queue(pgClickInsert, pgClickArgs(clicks)...)
		}
		if len(events) > 0 {
			args, err := pgEventArgs(events)
			if err != nil {
				return err
			}
			b.Queue(pgEventInsert, args...)
		}
		if b.Len() == 0 {
			return nil
		}
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("error writing clicks and track events: %w", err)
		}
		return nil
	}
}

// On PostgreSQL the rows go as one array per column, spread into rows by
// unnest: the statement text is the same whatever the number of rows, so
// each connection parses and plans it once (pgx caches the prepared
// statement), and it takes one parameter per column rather than per value,
// so a batch needs no chunking.

// unnestSelect is "SELECT * FROM unnest($1::t1[], …)" for the given element
// types.
func unnestSelect(types []string) string {
	var b strings.Builder
	b.WriteString("SELECT * FROM unnest(")
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i+1) + "::" + t + "[]")
	}
	b.WriteString(")")
	return b.String()
}

func columnList(cols []string) string {
	return `"` + strings.Join(cols, `", "`) + `"`
}

// pgClickInsert is the Click upsert for PostgreSQL, columns in the order of
// clickColumns.
var pgClickInsert = func() string {
	types := []string{"text", "text", "text", "text", "boolean", "timestamptz", "timestamptz"}
	for range clickColumns[7:] {
		types = append(types, "text")
	}
	return `INSERT INTO "clicks" (` + columnList(clickColumns) + ") " + unnestSelect(types) + clickConflict
}()

// pgEventInsert is the TrackEvent insert for PostgreSQL, columns in the
// order of eventColumns; props travel as text and become jsonb.
var pgEventInsert = `INSERT INTO "track_events" (` + columnList(eventColumns) + `) ` +
	`SELECT id, acc, prop, cid, name, url, link, val, cur, props::jsonb, bot, at FROM unnest(` +
	`$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::boolean[], $12::timestamptz[]` +
	`) AS u(id, acc, prop, cid, name, url, link, val, cur, props, bot, at)`

// nullable is nil for an empty string.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func pgClickArgs(rows []*clickRow) []any {
	n := len(rows)
	ids, accs, props, cids := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	bots := make([]bool, n)
	created, seen := make([]time.Time, n), make([]time.Time, n)
	fields := make([][]*string, len(clickColumns)-7)
	for j := range fields {
		fields[j] = make([]*string, n)
	}
	for i, c := range rows {
		ids[i], accs[i], props[i], cids[i] = pulid.New("clk"), c.AccountID, c.PropertyID, c.ClickID
		bots[i], created[i], seen[i] = c.Bot, c.CreatedAt, c.LastSeen
		for j, col := range clickColumns[7:] {
			fields[j][i] = nullable(c.Fields[col])
		}
	}
	args := []any{ids, accs, props, cids, bots, created, seen}
	for _, f := range fields {
		args = append(args, f)
	}
	return args
}

func pgEventArgs(rows []*eventRow) ([]any, error) {
	n := len(rows)
	ids, accs, props, cids, names := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	urls, links, curs, ps := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	vals := make([]*int64, n)
	bots := make([]bool, n)
	at := make([]time.Time, n)
	for i, e := range rows {
		ids[i], accs[i], props[i], cids[i], names[i] = pulid.New("evt"), e.AccountID, e.PropertyID, e.ClickID, e.Name
		urls[i], links[i], curs[i] = nullable(e.URL), nullable(e.LinkURL), nullable(e.Currency)
		if e.HasValue {
			v := e.Value
			vals[i] = &v
		}
		if len(e.Props) > 0 {
			b, err := json.Marshal(e.Props)
			if err != nil {
				return nil, fmt.Errorf("error marshaling event properties: %w", err)
			}
			s := string(b)
			ps[i] = &s
		}
		bots[i], at[i] = e.Bot, e.CreatedAt
	}
	return []any{ids, accs, props, cids, names, urls, links, vals, curs, ps, bots, at}, nil
}
