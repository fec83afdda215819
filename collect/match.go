package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/click"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/jobs"
	"github.com/clickback/clickback/viewer"
)

// noVisits remembers whether accounts have recorded any visit. One
// without (a postback-only tenant, or any account before its tag's first
// visit) skips the look-up of its clicks, a round trip per batch on the
// ingest path; a visit recorded meanwhile is found by the match job
// instead, which matches by the same rule, so that answer is kept only for
// noVisitsFor. An account with visits keeps them (but for retention, when
// the look-up just finds none), so that answer is kept for hasVisitsFor,
// sparing the question on every batch.
type noVisits struct {
	mu   sync.Mutex
	seen map[string]visitsSeen
}

type visitsSeen struct {
	has   bool
	until time.Time
}

const (
	noVisitsFor  = time.Second
	hasVisitsFor = time.Minute
)

// skip reports whether account acc had no visit a moment ago, asking
// client when it no longer knows.
func (n *noVisits) skip(ctx context.Context, client *ent.Client, acc string) bool {
	now := time.Now()
	n.mu.Lock()
	seen, ok := n.seen[acc]
	n.mu.Unlock()
	if ok && now.Before(seen.until) {
		return !seen.has
	}
	has, err := client.Click.Query().Where(click.AccountID(acc)).Exist(viewer.SystemContext(ctx, acc))
	if err != nil {
		return false // the look-up decides
	}
	seen = visitsSeen{has: has, until: now.Add(noVisitsFor)}
	if has {
		seen.until = now.Add(hasVisitsFor)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen == nil || len(n.seen) > 100_000 {
		n.seen = map[string]visitsSeen{}
	}
	n.seen[acc] = seen
	return !has
}

// matchClicks matches, as they are stored, the RECEIVED items whose Click
// ID names a click recorded within the attribution window, by the match
// job's rule (jobs.ClicksFor, read with client): they are stored MATCHED,
// with the click's attribution snapshot, and their forward jobs are
// inserted in the same transaction (forwards). That spares the usual case,
// a postback after its click, a match job and an update of its row. The
// others (no click yet, or matched by external id or email) go to the
// match job. A failed look-up leaves the items to the match job too, and
// so does an account without visits (skip).
func matchClicks(ctx context.Context, client *ent.Client, items []*item, skip *noVisits) error {
	var (
		accounts []string
		byAcc    = map[string][]*item{}
	)
	for _, it := range items {
		if it.status != conversion.StatusRECEIVED || it.clickID == "" {
			continue
		}
		if _, ok := byAcc[it.accountID]; !ok {
			accounts = append(accounts, it.accountID)
		}
		byAcc[it.accountID] = append(byAcc[it.accountID], it)
	}
	for _, acc := range accounts {
		if skip.skip(ctx, client, acc) {
			continue
		}
		its := byAcc[acc]
		convs := make([]*ent.Conversion, len(its))
		for i, it := range its {
			convs[i] = &ent.Conversion{AccountID: acc, ClickID: it.clickID, ReceivedAt: it.receivedAt}
		}
		clicks, err := jobs.ClicksFor(viewer.SystemContext(ctx, acc), client, acc, convs)
		if err != nil {
			slog.WarnContext(ctx, "collect: clicks not looked up; the match job matches these postbacks", "account", acc, "err", err)
			continue
		}
		for i, c := range clicks {
			if c == nil {
				continue
			}
			attribution, err := json.Marshal(jobs.Attribution(c))
			if err != nil {
				return fmt.Errorf("encode attribution: %w", err)
			}
			its[i].status, its[i].visitID, its[i].attribution = conversion.StatusMATCHED, c.ID, attribution
		}
	}
	return nil
}

// forwards plans the forwarding of the matched items that are forwardable
// (jobs.PlanForwards, reading destinations with client), per account.
func forwards(ctx context.Context, client *ent.Client, matched []*item) ([]*jobs.Forwards, error) {
	var (
		accounts []string
		byAcc    = map[string][]*ent.Conversion{}
	)
	for _, it := range matched {
		conv := &ent.Conversion{
			ID: it.id, AccountID: it.accountID, Status: conversion.StatusMATCHED, NetworkStatus: it.networkStatus,
			Kind: it.kind, EventName: it.eventName, Test: it.test, ReceivedAt: it.receivedAt,
		}
		if ok, _ := jobs.Forwardable(conv); !ok {
			continue
		}
		if _, ok := byAcc[it.accountID]; !ok {
			accounts = append(accounts, it.accountID)
		}
		byAcc[it.accountID] = append(byAcc[it.accountID], conv)
	}
	out := make([]*jobs.Forwards, 0, len(accounts))
	now := time.Now()
	for _, acc := range accounts {
		f, err := jobs.PlanForwards(viewer.SystemContext(ctx, acc), client, acc, byAcc[acc], now)
		if err != nil {
			return nil, fmt.Errorf("plan forwarding of account %s: %w", acc, err)
		}
		out = append(out, f)
	}
	return out, nil
}
