package groupcommit_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/groupcommit"
	"github.com/clickback/clickback/internal/dbtest"
	"github.com/clickback/clickback/viewer"
)

type item struct {
	key    string
	stored string // set by the write func: the id of the row
}

func TestCommitter(t *testing.T) {
	t.Parallel()
	dbtest.ForEach(t, func(t *testing.T, d string) {
		db := dbtest.Open(t, d)
		var txs, written atomic.Int64
		write := func(ctx context.Context, tx *ent.Tx, items []*item) error {
			txs.Add(1)
			for _, it := range items {
				a, err := tx.Account.Create().SetName("n").SetKey(it.key).Save(ctx)
				if err != nil {
					return fmt.Errorf("insert %s: %w", it.key, err)
				}
				it.stored = a.ID
			}
			written.Add(int64(len(items)))
			return nil
		}
		c := groupcommit.New(db.Ent, write, groupcommit.Options{MaxBatch: 50, Window: 2 * time.Millisecond, Writers: 2})

		const n = 400
		items := make([]*item, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			items[i] = &item{key: fmt.Sprintf("k%03d", i)}
			if i == 7 {
				items[i].key = "k006" // collides with item 6: exactly one of them fails
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = c.Submit(context.Background(), items[i])
			}()
		}
		wg.Wait()

		failed := 0
		for i, err := range errs {
			if err != nil {
				failed++
				require.Contains(t, []int{6, 7}, i, "only a colliding item fails: %v", err)
				continue
			}
			require.NotEmpty(t, items[i].stored, "a committed item has its result")
		}
		require.Equal(t, 1, failed)
		count, err := db.Ent.Account.Query().Count(viewer.SystemContext(context.Background(), ""))
		require.NoError(t, err)
		require.Equal(t, n-1, count, "every acknowledged item is stored")
		require.Less(t, txs.Load(), int64(n/2), "items share transactions")

		c.Close()
		require.ErrorIs(t, c.Submit(context.Background(), &item{key: "late"}), groupcommit.ErrClosed)
	})
}
