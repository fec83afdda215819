package postback_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickback/clickback/postback"
)

func TestParseStatus(t *testing.T) {
	t.Parallel()

	tests := []struct {
		word string
		want postback.Status
		ok   bool
	}{
		{"pending", postback.StatusPending, true},
		{"PENDING", postback.StatusPending, true}, // Impact
		{"hold", postback.StatusPending, true},
		{"On-Hold", postback.StatusPending, true},
		{"on hold", postback.StatusPending, true},
		{" on_hold ", postback.StatusPending, true},
		{"approved", postback.StatusApproved, true},
		{"APPROVED", postback.StatusApproved, true},
		{"confirmed", postback.StatusApproved, true},
		{"paid", postback.StatusApproved, true},
		{"Locked", postback.StatusApproved, true}, // ShareASale
		{"rejected", postback.StatusRejected, true},
		{"declined", postback.StatusRejected, true},
		{"Denied", postback.StatusRejected, true},
		{"invalid", postback.StatusRejected, true},
		{"cancelled", postback.StatusRejected, true},
		{"reversed", postback.StatusReversed, true},
		{"REVERSED", postback.StatusReversed, true},
		{"refund", postback.StatusReversed, true},
		{"refunded", postback.StatusReversed, true},
		{"chargeback", postback.StatusReversed, true},
		{"charged-back", postback.StatusReversed, true},
		{"Voided", postback.StatusReversed, true}, // ShareASale
		{"1", "", false}, // Affise's codes need its preset
		{"sale", "", false},
		{"", "", false},
		{"approvedx", "", false},
		{"pending pending pending pending pending", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.word, func(t *testing.T) {
			t.Parallel()

			got, ok := postback.ParseStatus(tt.word)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.ok, ok)
		})
	}
}
