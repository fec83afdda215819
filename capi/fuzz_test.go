package capi

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzPlatformAnswers feeds arbitrary answers to every classifier: none may
// panic, and what they keep for the Events Log stays bounded.
func FuzzPlatformAnswers(f *testing.F) {
	for _, s := range []string{
		`{"error":{"code":100,"error_subcode":2804003,"message":"Invalid parameter"}}`,
		`{"code":40100,"message":"Too many requests"}`,
		`{"partialFailureError":{"code":3,"details":[{"errors":[{"errorCode":{"conversionUploadError":"CLICK_NOT_FOUND"},"location":{"fieldPathElements":[{"fieldName":"conversions","index":0}]}}]}]},"results":[{}]}`,
		`{"error":{"code":401,"status":"UNAUTHENTICATED","details":[{"retryDelay":"5s","errors":[{"errorCode":{"authenticationError":"OAUTH_TOKEN_EXPIRED"}}]}]}}`,
		`<html>`, ``,
	} {
		f.Add(400, s)
		f.Add(200, s)
	}
	f.Fuzz(func(t *testing.T, status int, body string) {
		status = 100 + (status%500+500)%500
		r := &reply{status: status, header: http.Header{"Retry-After": {body}}, body: []byte(body)}
		c := newClient(PlatformMeta, "", DefaultMetaURL, "", nil, nil)
		check := func(e *Error) {
			require.LessOrEqual(t, len(e.Message), maxMessage)
			require.LessOrEqual(t, len(e.Response), maxExcerpt)
		}
		check(classifyMeta(&c, r))

		var a tiktokAnswer
		if json.Unmarshal(r.body, &a) == nil && a.Code != nil {
			if e := classifyTikTok(&c, r, &a); e != nil {
				check(e)
			}
		}

		g := NewGoogleAds("", "", nil)
		e, _ := g.requestError(r)
		check(e)
		_ = adsRefreshable(r)
		var ans adsAnswer
		if json.Unmarshal(r.body, &ans) == nil {
			for _, row := range g.rows(r, &ans, 3) {
				if row.err != nil {
					check(row.err)
				}
			}
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 5 ", 5 * time.Second},
		{"-5", 0},
		{"99999999999999999", maxRetryAfter},
		{"Sun, 01 Mar 2026 12:02:00 GMT", 2 * time.Minute},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, parseRetryAfter(tt.in, now))
		})
	}
}
