package collect

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/schema/pulid"
	"github.com/clickback/clickback/jobs"
	"github.com/clickback/clickback/postback"
)

// item is one conversion on its way into the database, with what the
// committer reports back to the request that submitted it.
type item struct {
	id            string
	accountID     string
	integrationID string
	status        conversion.Status
	kind          conversion.Kind
	eventName     string
	amountMicros  int64
	currency      string
	clickID       string
	transactionID string
	// dedupKey is set on RECEIVED conversions with a transaction id: the
	// unique index on (account_id, transaction_id, integration_id,
	// dedup_key) lets exactly one of them claim it. "" is NULL, which
	// never conflicts.
	dedupKey      string
	networkStatus string
	externalID    string
	emailSHA256   string
	attributes    []byte
	rawRequest    string
	reason        string
	sourceIP      string
	test          bool
	receivedAt    time.Time
	// visitID and attribution are set when the postback's click was
	// known as it was stored (matchClicks): it is stored MATCHED.
	visitID     string
	attribution []byte

	// duplicate is set by the write when the dedup key was taken: the
	// conversion was stored as DUPLICATE, under a new id.
	duplicate bool
}

// Column limits of the conversions table (ent/schema/conversion.go): the
// write bypasses ent's validators, so values are cut to them here.
const (
	maxEventName     = 128
	maxIDLen         = 256
	maxNetworkStatus = 32
	maxReason        = 1024
	maxSourceIP      = 64
)

// newItem turns a parsed postback into the conversion to store.
func newItem(t *target, pb postback.Postback, raw, sourceIP string, test bool, now time.Time) *item {
	it := &item{
		id:            pulid.New("cnv"),
		accountID:     t.accountID,
		integrationID: t.integration.ID,
		status:        conversion.Status(pb.Outcome),
		kind:          conversion.KindLEAD,
		eventName:     cut(pb.EventName, maxEventName),
		amountMicros:  pb.AmountMicros,
		currency:      pb.Currency,
		clickID:       cut(pb.ClickID, maxIDLen),
		transactionID: cut(pb.TransactionID, maxIDLen),
		externalID:    cut(pb.Attributes.ExternalID, maxIDLen),
		rawRequest:    raw,
		reason:        cut(pb.Reason, maxReason),
		sourceIP:      cut(sourceIP, maxSourceIP),
		test:          test,
		receivedAt:    now,
	}
	if pb.Kind == postback.KindPurchase {
		it.kind = conversion.KindPURCHASE
	}
	if it.eventName == "" {
		it.eventName = postback.EventLead
	}
	if len(it.currency) != 3 {
		it.currency = t.config.DefaultCurrency
	}
	if pb.Status != "" {
		it.networkStatus = string(pb.Status)
	} else {
		it.networkStatus = cut(pb.RawStatus, maxNetworkStatus)
	}
	if e := strings.ToLower(strings.TrimSpace(pb.Attributes.Email)); e != "" {
		sum := sha256.Sum256([]byte(e))
		it.emailSHA256 = hex.EncodeToString(sum[:])
	}
	it.attributes = attributesJSON(pb.Attributes)
	if it.status == conversion.StatusRECEIVED && it.transactionID != "" {
		it.dedupKey = dedupKey(pb)
	}
	return it
}

// dedupKey is the transaction id, and the event when the postback names
// one: a network that reports a Signup and later a Sale under one
// transaction id sends two conversions, a retry of either is a duplicate.
// A postback without an event counts as a repeat of any other without one,
// whatever its amount: networks resend with corrected payouts.
func dedupKey(pb postback.Postback) string {
	defaultName := pb.EventName == postback.EventLead && pb.Kind == postback.KindLead ||
		pb.EventName == postback.EventPurchase && pb.Kind == postback.KindPurchase
	if defaultName {
		return pb.TransactionID
	}
	return pb.TransactionID + "|" + strings.ToLower(pb.EventName)
}

// invalidItem is a conversion for a request whose parameters could not be
// read at all.
func invalidItem(t *target, reason, raw, sourceIP string, now time.Time) *item {
	return &item{
		id:            pulid.New("cnv"),
		accountID:     t.accountID,
		integrationID: t.integration.ID,
		status:        conversion.StatusINVALID,
		kind:          conversion.KindLEAD,
		eventName:     postback.EventLead,
		currency:      t.config.DefaultCurrency,
		rawRequest:    raw,
		reason:        cut(reason, maxReason),
		sourceIP:      cut(sourceIP, maxSourceIP),
		receivedAt:    now,
	}
}

// attributesJSON is the attributes as a JSON object of the non-empty ones,
// keys sorted (what json.Marshal of a map writes), nil when all are empty.
// It appends by hand: a map and json.Marshal cost a dozen allocations a
// postback on the hot path.
func attributesJSON(a postback.Attributes) []byte {
	fields := [...]struct{ k, v string }{
		{"city", a.City}, {"country", a.Country}, {"date_of_birth", a.DateOfBirth},
		{"email", a.Email}, {"external_id", a.ExternalID}, {"first_name", a.FirstName},
		{"gender", a.Gender}, {"ip", a.IP}, {"last_name", a.LastName},
		{"phone", a.Phone}, {"state", a.State}, {"user_agent", a.UserAgent},
		{"zipcode", a.Zipcode},
	}
	var b []byte
	for _, f := range fields {
		if f.v == "" {
			continue
		}
		if b == nil {
			b = make([]byte, 0, 128)
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.k...)
		b = append(b, '"', ':')
		b = appendJSONString(b, f.v)
	}
	if b == nil {
		return nil
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string: as it is when it is plain
// ASCII with nothing to escape, else as json.Marshal writes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

var columns = []string{
	conversion.FieldID, conversion.FieldAccountID, conversion.FieldIntegrationID,
	conversion.FieldStatus, conversion.FieldKind, conversion.FieldEventName,
	conversion.FieldAmountMicros, conversion.FieldCurrency, conversion.FieldClickID,
	conversion.FieldTransactionID, conversion.FieldDedupKey, conversion.FieldNetworkStatus,
	conversion.FieldExternalID, conversion.FieldEmailSha256, conversion.FieldAttributes,
	conversion.FieldRawRequest, conversion.FieldReason, conversion.FieldSourceIP,
	conversion.FieldTest, conversion.FieldReceivedAt, conversion.FieldUpdatedAt,
	conversion.FieldVisitID, conversion.FieldAttribution, conversion.FieldMatchedAt,
}

func (it *item) values() []any {
	return []any{
		it.id, it.accountID, it.integrationID,
		string(it.status), string(it.kind), it.eventName,
		it.amountMicros, it.currency, nullable(it.clickID),
		nullable(it.transactionID), nullable(it.dedupKey), nullable(it.networkStatus),
		nullable(it.externalID), nullable(it.emailSHA256), nullableBytes(it.attributes),
		nullable(it.rawRequest), nullable(it.reason), nullable(it.sourceIP),
		it.test, it.receivedAt, it.receivedAt,
		nullable(it.visitID), nullableBytes(it.attribution), it.matchedAt(),
	}
}

// matchedAt is when it was matched: as it was received, if it was.
func (it *item) matchedAt() any {
	if it.visitID == "" {
		return nil
	}
	return it.receivedAt
}

// writer stores batches of conversions.
type writer struct {
	dialect string
	// ent reads the clicks and destinations of a batch on PostgreSQL, on
	// a connection of its own (SQLite reads in the batch's transaction).
	ent *ent.Client
	// noVisits spares the accounts without visits the look-up of clicks.
	noVisits noVisits
	river    *river.Client[*sql.Tx]
	// pgRiver inserts jobs in pgx transactions (writePgx): an insert-only
	// client, no workers; the jobs are worked by the process's River.
	pgRiver *river.Client[pgx.Tx]
}

// write stores items in tx: the postbacks whose click is known are
// matched first (matchClicks) and stored MATCHED; then one INSERT … ON
// CONFLICT DO NOTHING RETURNING for all of them, which tells which ones
// claimed their dedup key; the others are stored as DUPLICATE under a new
// id, in a second INSERT; then one match job for all the new RECEIVED
// conversions (a River job per conversion cost half the throughput on
// PostgreSQL), and the forward jobs of the new MATCHED ones, in the same
// transaction.
//
// It writes with plain SQL rather than ent's builders: this is the hot
// path, and every item's account was resolved by the collect endpoint,
// which is the check ent's privacy rules would make.
func (w *writer) write(ctx context.Context, tx *ent.Tx, items []*item) error {
	if err := matchClicks(ctx, tx.Client(), items, &w.noVisits); err != nil {
		return err
	}
	inserted, err := w.insert(ctx, tx.SQLTx(), items, true)
	if err != nil {
		return err
	}
	dups, jobArgs, matched := settle(items, inserted)
	if len(dups) > 0 {
		if _, err := w.insert(ctx, tx.SQLTx(), dups, false); err != nil {
			return err
		}
	}
	fwds, err := forwards(ctx, tx.Client(), matched)
	if err != nil {
		return err
	}
	for _, f := range fwds {
		if err := f.InsertSkipped(ctx, tx.Client(), w.dialect == dialect.Postgres); err != nil {
			return err
		}
		jobArgs = append(jobArgs, f.Jobs...)
	}
	if len(jobArgs) > 0 {
		if _, err := w.river.InsertManyFastTx(ctx, tx.SQLTx(), jobArgs); err != nil {
			return fmt.Errorf("insert jobs: %w", err)
		}
	}
	return nil
}

// writePgx is write on PostgreSQL, in a pgx transaction: the rows travel
// as one binary array per column (pgInsert), the jobs through River's pgx
// driver. Through database/sql, River's driver encoded its job rows as
// text arrays that pgx parsed back and re-encoded, which cost more CPU than
// the conversions themselves; and a multi-row INSERT had a different text,
// to parse and plan, for every batch size.
func (w *writer) writePgx(ctx context.Context, tx pgx.Tx, items []*item) error {
	if err := matchClicks(ctx, w.ent, items, &w.noVisits); err != nil {
		return err
	}
	inserted, err := pgInsert(ctx, tx, items, true)
	if err != nil {
		return err
	}
	dups, jobArgs, matched := settle(items, inserted)
	if len(dups) > 0 {
		if _, err := pgInsert(ctx, tx, dups, false); err != nil {
			return err
		}
	}
	fwds, err := forwards(ctx, w.ent, matched)
	if err != nil {
		return err
	}
	for _, f := range fwds {
		if query, args := f.SkippedSQL(); query != "" {
			if _, err := tx.Exec(ctx, query, args...); err != nil {
				return fmt.Errorf("create skipped deliveries: %w", err)
			}
		}
		jobArgs = append(jobArgs, f.Jobs...)
	}
	if len(jobArgs) > 0 {
		// InsertManyTx rather than the Fast variant: for the one or few
		// jobs of a batch, its INSERT … unnest (prepared once) is one round
		// trip; the Fast one's COPY takes two.
		if _, err := w.pgRiver.InsertManyTx(ctx, tx, jobArgs); err != nil {
			return fmt.Errorf("insert jobs: %w", err)
		}
	}
	return nil
}

// settle sorts out the items after the first insert: an item with a
// dedup key whose id was not inserted lost it to an earlier conversion and
// becomes a DUPLICATE under a new id, not matched (returned, for the
// second insert); it returns the jobs to insert: one match job for the new
// RECEIVED conversions, and a status job per duplicate that carries a
// network status; and the new MATCHED conversions, to forward.
func settle(items []*item, inserted map[string]bool) (dups []*item, jobArgs []river.InsertManyParams, matched []*item) {
	var match jobs.MatchBatchArgs
	for _, it := range items {
		if it.dedupKey != "" && !inserted[it.id] {
			key := it.dedupKey
			it.id = pulid.New("cnv")
			it.duplicate = true
			it.status = conversion.StatusDUPLICATE
			it.dedupKey = ""
			it.visitID, it.attribution = "", nil
			it.reason = cut(fmt.Sprintf("transaction id %q was already received by this integration; a repeat is logged, never forwarded twice", it.transactionID), maxReason)
			dups = append(dups, it)
			if it.networkStatus != "" {
				// A repeat may carry the network's new status (pending →
				// approved): the status job applies it to the first one.
				jobArgs = append(jobArgs, river.InsertManyParams{Args: jobs.StatusArgs{ConversionID: it.id, AccountID: it.accountID, DedupKey: key}})
			}
			continue
		}
		switch it.status {
		case conversion.StatusRECEIVED:
			match.Conversions = append(match.Conversions, jobs.MatchArgs{ConversionID: it.id, AccountID: it.accountID})
		case conversion.StatusMATCHED:
			matched = append(matched, it)
		}
	}
	if len(match.Conversions) > 0 {
		jobArgs = append(jobArgs, river.InsertManyParams{Args: match})
	}
	return dups, jobArgs, matched
}

// insert writes items in one statement and returns the ids it inserted.
// With onConflict, rows whose dedup key is taken are skipped.
func (w *writer) insert(ctx context.Context, tx *sql.Tx, items []*item, onConflict bool) (map[string]bool, error) {
	b := entsql.Dialect(w.dialect).Insert(conversion.Table).Columns(columns...)
	for _, it := range items {
		b.Values(it.values()...)
	}
	if onConflict {
		b.OnConflict(
			entsql.ConflictColumns(conversion.FieldAccountID, conversion.FieldTransactionID, conversion.FieldIntegrationID, conversion.FieldDedupKey),
			entsql.DoNothing(),
		)
	}
	b.Returning(conversion.FieldID)
	query, args := b.Query()
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("insert conversions: %w", err)
	}
	defer rows.Close()
	return insertedIDs(rows, len(items))
}

// pgInsertSQL is the conversions insert on PostgreSQL: one array per
// column, spread into rows by unnest, so that its text is the same whatever
// the number of rows and pgx prepares it once per connection. The columns
// are those of columns, in order. Empty strings become NULL, as ent writes
// absent values (and a text array with NULLs would cost pgx an allocation
// per value to encode).
var pgInsertSQL = `INSERT INTO "conversions" (` + `"` + strings.Join(columns, `", "`) + `"` + `) ` +
	`SELECT id, acc, integ, status, kind, ev, amount, cur, NULLIF(click, ''), NULLIF(txn, ''), NULLIF(dedup, ''), NULLIF(nstatus, ''), ` +
	`NULLIF(ext, ''), NULLIF(email, ''), NULLIF(attrs, '')::jsonb, NULLIF(raw, ''), NULLIF(reason, ''), NULLIF(ip, ''), test, at, at, ` +
	`NULLIF(visit, ''), NULLIF(attribution, '')::jsonb, CASE WHEN visit <> '' THEN at END ` +
	`FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], ` +
	`$10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::boolean[], $20::timestamptz[], ` +
	`$21::text[], $22::text[]) ` +
	`AS u(id, acc, integ, status, kind, ev, amount, cur, click, txn, dedup, nstatus, ext, email, attrs, raw, reason, ip, test, at, visit, attribution)`

// pgInsert is insert on a pgx transaction.
func pgInsert(ctx context.Context, tx pgx.Tx, items []*item, onConflict bool) (map[string]bool, error) {
	n := len(items)
	// One backing array for the 19 text columns.
	text := make([]string, 19*n)
	col := func(i int) []string { return text[i*n : (i+1)*n : (i+1)*n] }
	ids, accs, ints, statuses, kinds, events, curs := col(0), col(1), col(2), col(3), col(4), col(5), col(6)
	clicks, txns, dedups, nstatuses, exts, emails, attrs, raws, reasons, ips := col(7), col(8), col(9), col(10), col(11), col(12), col(13), col(14), col(15), col(16)
	visits, attributions := col(17), col(18)
	amounts := make([]int64, n)
	tests := make([]bool, n)
	at := make([]time.Time, n)
	for i, it := range items {
		ids[i], accs[i], ints[i] = it.id, it.accountID, it.integrationID
		statuses[i], kinds[i], events[i], curs[i] = string(it.status), string(it.kind), it.eventName, it.currency
		amounts[i] = it.amountMicros
		clicks[i], txns[i], dedups[i], nstatuses[i] = it.clickID, it.transactionID, it.dedupKey, it.networkStatus
		exts[i], emails[i], attrs[i], raws[i], reasons[i], ips[i] = it.externalID, it.emailSHA256, string(it.attributes), it.rawRequest, it.reason, it.sourceIP
		tests[i], at[i] = it.test, it.receivedAt
		visits[i], attributions[i] = it.visitID, string(it.attribution)
	}
	q := pgInsertSQL
	if onConflict {
		q += ` ON CONFLICT ("account_id", "transaction_id", "integration_id", "dedup_key") DO NOTHING`
	}
	rows, err := tx.Query(ctx, q+` RETURNING "id"`, ids, accs, ints, statuses, kinds, events, amounts, curs,
		clicks, txns, dedups, nstatuses, exts, emails, attrs, raws, reasons, ips, tests, at, visits, attributions)
	if err != nil {
		return nil, fmt.Errorf("insert conversions: %w", err)
	}
	defer rows.Close()
	return insertedIDs(rows, n)
}

// idRows is what insertedIDs reads: *sql.Rows and pgx.Rows both are.
type idRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// insertedIDs reads the ids an insert's RETURNING "id" gave back, the
// conversions it inserted (of n sent).
func insertedIDs(rows idRows, n int) (map[string]bool, error) {
	inserted := make(map[string]bool, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read inserted conversions: %w", err)
		}
		inserted[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert conversions: %w", err)
	}
	return inserted, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullableBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// cut shortens s to at most n bytes without splitting a character, and
// makes it valid UTF-8.
func cut(s string, n int) string {
	if len(s) > n {
		i := n
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
