package database

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSpaceLeft(t *testing.T) {
	t.Parallel()
	left, err := spaceLeft(t.TempDir())
	require.NoError(t, err)
	require.Positive(t, left)
	_, err = spaceLeft(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
}

// TestReadyDiskFull: an SQLite database whose filesystem has less room
// than minFreeSpace is not ready, with ErrDiskFull. (chaos.TestDiskFullSQLite
// fills a real filesystem.)
func TestReadyDiskFull(t *testing.T) {
	t.Parallel()
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "clickback.db"))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Migrate(context.Background()))
	require.NoError(t, db.Ready(context.Background()))
	db.minFree = ^uint64(0) // no filesystem has that much room
	require.ErrorIs(t, db.Ready(context.Background()), ErrDiskFull)
}
