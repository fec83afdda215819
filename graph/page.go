package graph

import (
	"fmt"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// maxPageSize caps first/last of every connection, so one query cannot ask
// the database for a whole table.
const maxPageSize = 1000

func checkPage(first, last *int) error {
	if first != nil && (*first < 0 || *first > maxPageSize) {
		return pageSizeError("first", *first)
	}
	if last != nil && (*last < 0 || *last > maxPageSize) {
		return pageSizeError("last", *last)
	}
	return nil
}

func pageSizeError(arg string, n int) error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf("%s must be between 0 and %d, not %d", arg, maxPageSize, n),
		Extensions: map[string]any{"code": CodeBadUserInput},
	}
}
