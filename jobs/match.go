package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/clickback/clickback/config"
	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/account"
	"github.com/clickback/clickback/ent/click"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/ent/predicate"
	"github.com/clickback/clickback/ent/property"
	"github.com/clickback/clickback/viewer"
)

// MatchArgs asks for a RECEIVED conversion to be matched with the Click its
// Click ID names. It is inserted in the transaction that stores the
// conversion (see the collect package), never on its own.
type MatchArgs struct {
	ConversionID string `json:"conversion_id"`
	AccountID    string `json:"account_id"`
}

// Kind implements river.JobArgs.
func (MatchArgs) Kind() string { return "match" }

// Snooze bounds while a conversion waits for its click: the first checks
// come quickly (the click is usually recorded already, or a second later),
// later ones further apart, never more than maxMatchSnooze.
const (
	minMatchSnooze = time.Second
	maxMatchSnooze = time.Minute
)

// MatchWorker settles a RECEIVED conversion: MATCHED when the account has a
// Click for it (see find: by Click ID, external id or email, within the
// attribution window), NO_MATCH once Config.LateClickWait has passed since
// the conversion was received without one turning up. Until then it snoozes,
// which River does not count as an attempt.
//
// It is idempotent: a conversion that is no longer RECEIVED (a rescued job
// running twice, a deleted conversion) is left alone, and the status change
// is a conditional update, so two runs racing cannot both settle it.
type MatchWorker struct {
	river.WorkerDefaults[MatchArgs]
	DB     *database.DB
	Config config.Config
	// now is the clock; nil means time.Now.
	now func() time.Time
}

// Work implements river.Worker.
func (w *MatchWorker) Work(ctx context.Context, job *river.Job[MatchArgs]) error {
	ctx = viewer.SystemContext(ctx, job.Args.AccountID)
	now := time.Now()
	if w.now != nil {
		now = w.now()
	}
	conv, err := w.DB.Ent.Conversion.Get(ctx, job.Args.ConversionID)
	if ent.IsNotFound(err) {
		return nil // deleted with its integration
	}
	if err != nil {
		return fmt.Errorf("load conversion: %w", err)
	}
	if conv.Status != conversion.StatusRECEIVED {
		return nil // settled by an earlier run
	}
	clk, why, err := w.find(ctx, conv, now)
	if err != nil {
		return err
	}
	if clk != nil {
		return w.match(ctx, conv, clk, now)
	}
	waited := now.Sub(conv.ReceivedAt)
	nothingToWaitFor := conv.ClickID == "" && conv.ExternalID == "" && conv.EmailSha256 == ""
	if remaining := w.Config.LateClickWait - waited; remaining > 0 && !nothingToWaitFor {
		// Doubling waits: a click recorded late is found within a few
		// seconds, and an unmatched conversion costs a handful of runs.
		return river.JobSnooze(min(remaining, max(minMatchSnooze, min(waited, maxMatchSnooze))))
	}
	return w.settleNoMatch(ctx, conv, why, now)
}

// find looks for the visit conv is attributed to, in order: the Click ID
// it names; else the visits of the same external (ref) id; else those of
// the same email (compared as SHA-256). Only visits inside the attribution
// window count: the property's window, or the account's when the property
// has none, before the postback (and visits recorded up to LateClickWait
// after it, which a slow tag may cause). Among several visits of one
// person, the account's attribution model picks the first or the last.
// Without a visit, why says what was tried, for the Events Log.
func (w *MatchWorker) find(ctx context.Context, conv *ent.Conversion, now time.Time) (*ent.Click, string, error) {
	sc, err := w.scope(ctx, conv.AccountID)
	if err != nil {
		return nil, "", err
	}
	return w.findIn(ctx, sc, conv, now)
}

// scope is what attribution needs to know of an account: its model and
// the attribution window of each of its properties.
type scope struct {
	acc     *ent.Account
	windows map[string]time.Duration
	widest  time.Duration
}

func (w *MatchWorker) scope(ctx context.Context, accountID string) (*scope, error) {
	return loadScope(ctx, w.DB.Ent, accountID)
}

func loadScope(ctx context.Context, client *ent.Client, accountID string) (*scope, error) {
	acc, err := client.Account.Get(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("load account: %w", err)
	}
	props, err := client.Property.Query().Where(property.AccountID(accountID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load properties: %w", err)
	}
	sc := &scope{acc: acc, windows: make(map[string]time.Duration, len(props)), widest: days(acc.AttributionWindowDays)}
	for _, p := range props {
		win := days(acc.AttributionWindowDays)
		if p.AttributionWindowDays > 0 {
			win = days(p.AttributionWindowDays)
		}
		sc.windows[p.ID] = win
		sc.widest = max(sc.widest, win)
	}
	return sc, nil
}

// inWindow reports whether conv may be attributed to c: c was recorded
// within the attribution window of its property before conv.
func (sc *scope) inWindow(conv *ent.Conversion, c *ent.Click) bool {
	win, ok := sc.windows[c.PropertyID]
	if !ok {
		win = days(sc.acc.AttributionWindowDays)
	}
	return !c.CreatedAt.Before(conv.ReceivedAt.Add(-win))
}

// findIn is find with the account's scope loaded.
func (w *MatchWorker) findIn(ctx context.Context, sc *scope, conv *ent.Conversion, now time.Time) (*ent.Click, string, error) {
	acc, widest := sc.acc, sc.widest
	inWindow := func(c *ent.Click) bool { return sc.inWindow(conv, c) }
	var tried []string
	if conv.ClickID != "" {
		clk, err := w.DB.Ent.Click.Query().
			Where(click.AccountID(conv.AccountID), click.ClickID(conv.ClickID)).
			First(ctx)
		switch {
		case err == nil && inWindow(clk):
			return clk, "", nil
		case err == nil:
			tried = append(tried, fmt.Sprintf("the visit with Click ID %q was %s before the postback, outside the attribution window", short(conv.ClickID), conv.ReceivedAt.Sub(clk.CreatedAt).Round(time.Hour)))
		case !ent.IsNotFound(err):
			return nil, "", fmt.Errorf("look up click: %w", err)
		default:
			tried = append(tried, fmt.Sprintf("no visit with Click ID %q was recorded within %s of the postback: check that the tracking tag is on the landing page and that the offer link passes --CLICK-ID-- in the network's sub-id parameter", short(conv.ClickID), w.Config.LateClickWait))
		}
	} else {
		tried = append(tried, "the postback has no Click ID")
	}
	from, to := conv.ReceivedAt.Add(-widest), conv.ReceivedAt.Add(w.Config.LateClickWait)
	order := ent.Desc(click.FieldCreatedAt)
	if acc.AttributionModel == account.AttributionModelFIRST_CLICK {
		order = ent.Asc(click.FieldCreatedAt)
	}
	for _, by := range []struct {
		name  string
		value string
		pred  func(string) predicate.Click
	}{
		{"external id", conv.ExternalID, click.ExternalID},
		{"email", conv.EmailSha256, click.EmailSha256},
	} {
		if by.value == "" {
			continue
		}
		clicks, err := w.DB.Ent.Click.Query().
			Where(click.AccountID(conv.AccountID), by.pred(by.value), click.CreatedAtGTE(from), click.CreatedAtLTE(to)).
			Order(order, ent.Asc(click.FieldID)).
			Limit(100).
			All(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("look up clicks by %s: %w", by.name, err)
		}
		for _, c := range clicks {
			if inWindow(c) {
				return c, "", nil
			}
		}
		tried = append(tried, "no visit with the same "+by.name+" within the attribution window")
	}
	return nil, strings.Join(tried, "; "), nil
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// match runs onMatch in one transaction.
func (w *MatchWorker) match(ctx context.Context, conv *ent.Conversion, clk *ent.Click, now time.Time) error {
	tx, err := w.DB.Ent.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin match: %w", err)
	}
	if err := onMatch(ctx, tx, conv, clk, now); err != nil {
		_ = tx.Rollback()
		if errors.Is(err, errSettled) {
			return nil
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit match: %w", err)
	}
	return nil
}

// errSettled means another run settled the conversion first.
var errSettled = errors.New("conversion already settled")

// onMatch records, in tx, everything that follows from conv matching clk:
// the conversion becomes MATCHED with the visit and a snapshot of its
// attribution, and, when it is forwardable (see Forwardable: not while the
// network says pending), one Delivery and one forward job per enabled
// destination (PlanDeliveries) — all in the same transaction, so that a
// match is never recorded without them. It returns errSettled when conv is
// no longer RECEIVED.
func onMatch(ctx context.Context, tx *ent.Tx, conv *ent.Conversion, clk *ent.Click, now time.Time) error {
	matched, err := markMatched(ctx, tx, conv, clk, now)
	if err != nil {
		return err
	}
	if !matched {
		return errSettled
	}
	m := *conv
	m.Status = conversion.StatusMATCHED
	if ok, _ := Forwardable(&m); !ok {
		return nil
	}
	args, err := PlanDeliveries(ctx, tx.Client(), &m, false)
	if err != nil {
		return err
	}
	return insertJobs(ctx, tx, args)
}

// markMatched marks conv MATCHED with clk in tx, unless it is no longer
// RECEIVED; it reports whether it did.
func markMatched(ctx context.Context, tx *ent.Tx, conv *ent.Conversion, clk *ent.Click, now time.Time) (bool, error) {
	n, err := tx.Conversion.Update().
		Where(conversion.ID(conv.ID), conversion.StatusEQ(conversion.StatusRECEIVED)).
		SetStatus(conversion.StatusMATCHED).
		SetVisitID(clk.ID).
		SetMatchedAt(now).
		SetAttribution(Attribution(clk)).
		ClearReason().
		Save(ctx)
	if err != nil {
		return false, fmt.Errorf("mark conversion matched: %w", err)
	}
	return n == 1, nil
}

// settleNoMatch marks conv NO_MATCH with reason, unless it was settled
// meanwhile.
func (w *MatchWorker) settleNoMatch(ctx context.Context, conv *ent.Conversion, reason string, now time.Time) error {
	_, err := w.DB.Ent.Conversion.Update().
		Where(conversion.ID(conv.ID), conversion.StatusEQ(conversion.StatusRECEIVED)).
		SetStatus(conversion.StatusNO_MATCH).
		SetReason(reason).
		SetUpdatedAt(now).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("mark conversion unmatched: %w", err)
	}
	return nil
}

// Attribution is the snapshot of a click kept with the conversions it
// matched: what the ad platforms and reports need even after the click
// itself is deleted by retention. Empty values are left out.
func Attribution(c *ent.Click) map[string]string {
	a := map[string]string{"clicked_at": c.CreatedAt.UTC().Format(time.RFC3339Nano)}
	for k, v := range map[string]string{
		"landing_page": c.LandingPage, "referrer": c.Referrer,
		"utm_source": c.UtmSource, "utm_medium": c.UtmMedium, "utm_campaign": c.UtmCampaign,
		"utm_term": c.UtmTerm, "utm_content": c.UtmContent,
		"gclid": c.Gclid, "gbraid": c.Gbraid, "wbraid": c.Wbraid, "fbclid": c.Fbclid,
		"ttclid": c.Ttclid, "msclkid": c.Msclkid, "li_fat_id": c.LiFatID, "twclid": c.Twclid,
		"epik": c.Epik, "sccid": c.Sccid, "fbp": c.Fbp, "fbc": c.Fbc, "ttp": c.Ttp,
	} {
		if v != "" {
			a[k] = v
		}
	}
	return a
}

func short(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
