package eventlog_test

import (
	"context"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/database"
	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/conversion"
	"github.com/clickback/clickback/eventlog"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/internal/seed"
	"github.com/clickback/clickback/viewer"
)

// TestHubAcrossReplicas: a subscriber of one process sees the conversions
// another process writes to the same database, and only its account's.
func TestHubAcrossReplicas(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		url := dbtest.URL(t, d)
		open := func() *database.DB {
			var db *database.DB
			var err error
			if d == dialect.Postgres {
				db, err = database.OpenPostgres(context.Background(), url)
			} else {
				db, err = database.OpenSQLite(url)
			}
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			return db
		}
		watcher, writer := open(), open()
		a := seed.NewTenant(t, writer.Ent, "")
		b := seed.NewTenant(t, writer.Ent, "")

		ctx, cancel := context.WithCancel(context.Background())
		events := eventlog.For(watcher.Ent).Subscribe(ctx, a.AccountID, "")
		require.Same(t, eventlog.For(watcher.Ent), eventlog.For(watcher.Ent))

		b.Conversions(t, seed.Conversion{At: time.Now(), Status: conversion.StatusRECEIVED})
		c := a.Conversions(t, seed.Conversion{At: time.Now(), Status: conversion.StatusRECEIVED})[0]
		got := receive(t, events)
		require.Equal(t, c.ID, got.ID)
		require.Equal(t, a.AccountID, got.AccountID)

		require.NoError(t, writer.Ent.Conversion.UpdateOneID(c.ID).SetStatus(conversion.StatusMATCHED).
			Exec(viewer.SystemContext(context.Background(), a.AccountID)))
		got = receive(t, events)
		require.Equal(t, c.ID, got.ID)
		require.Equal(t, conversion.StatusMATCHED, got.Status)

		cancel()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case _, ok := <-events:
				if !ok {
					return // closed when the subscriber leaves
				}
			case <-deadline:
				t.Fatal("the channel was not closed")
			}
		}
	})
}

func receive(t *testing.T, ch <-chan *ent.Conversion) *ent.Conversion {
	t.Helper()
	select {
	case c, ok := <-ch:
		require.True(t, ok, "channel closed")
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return nil
	}
}

func TestIntegrationHealth(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		db := dbtest.Open(t, d)
		a := seed.NewTenant(t, db.Ent, "")
		ctx := viewer.SystemContext(context.Background(), a.AccountID)
		h, err := eventlog.IntegrationHealth(ctx, db.Ent, a.IntegrationID, time.Now())
		require.NoError(t, err)
		require.Nil(t, h.LastConversionAt)
		require.Empty(t, h.StatusCounts)

		now := time.Now()
		a.Conversions(t,
			seed.Conversion{At: now.Add(-48 * time.Hour), Status: conversion.StatusNO_MATCH},
			seed.Conversion{At: now.Add(-time.Hour), Status: conversion.StatusMATCHED},
			seed.Conversion{At: now.Add(-time.Minute), Status: conversion.StatusNO_MATCH},
		)
		for _, reason := range []string{"late", "late", "bad amount"} {
			c := a.Conversions(t, seed.Conversion{At: now.Add(-30 * time.Minute), Status: conversion.StatusINVALID})[0]
			require.NoError(t, db.Ent.Conversion.UpdateOneID(c.ID).SetReason(reason).Exec(ctx))
		}
		h, err = eventlog.IntegrationHealth(ctx, db.Ent, a.IntegrationID, now)
		require.NoError(t, err)
		require.WithinDuration(t, now.Add(-time.Minute), *h.LastConversionAt, time.Second)
		require.Equal(t, []eventlog.StatusCount{
			{Status: conversion.StatusMATCHED, Count: 1},
			{Status: conversion.StatusNO_MATCH, Count: 1},
			{Status: conversion.StatusINVALID, Count: 3},
		}, h.StatusCounts)
		require.Equal(t, "late", h.TopFailure)
		require.Equal(t, 2, h.TopFailureCount)
	})
}
