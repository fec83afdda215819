package capi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/capi/capitest"
)

// A forward job sends a conversion, records the attempt on the Delivery, and
// retries only what the platform's rules call retryable. Here the platform
// first answers 429, then accepts.
func ExampleMeta_Send() {
	fake := capitest.NewMeta(nil) // in a test: capitest.NewMeta(t)
	defer fake.Close()
	fake.FailNext(1, capitest.TooManyRequests(30*time.Second))

	meta := capi.NewMeta(fake.URL, &http.Client{Timeout: 5 * time.Second})
	creds := capi.MetaCredentials{PixelID: "1234567890", AccessToken: "EAAB…"}
	ev := capi.Event{
		EventID:   "conv-42",
		EventName: "Purchase",
		Time:      time.Now().Add(-time.Minute),
		Value:     49_990_000, // 49.99
		Currency:  "USD",
		SourceURL: "https://shop.example/landing",
		UserAgent: "Mozilla/5.0",
		ClientIP:  "203.0.113.7",
		User:      capi.UserData{Email: "Buyer@Example.com"},
	}

	for attempt := 1; attempt <= 3; attempt++ {
		o := meta.Send(context.Background(), creds, []capi.Event{ev}).Outcomes[0]
		switch {
		case o.Delivered():
			fmt.Printf("attempt %d: delivered (HTTP %d)\n", attempt, o.StatusCode)
			return
		case o.Err.Retryable:
			fmt.Printf("attempt %d: retry in %s: %v\n", attempt, o.Err.RetryAfter, o.Err)
		default:
			fmt.Printf("attempt %d: failed for good: %s\n", attempt, o.Err.Message)
			return
		}
	}
	// Output:
	// attempt 1: retry in 30s: meta: HTTP 429: Too Many Requests (retryable)
	// attempt 2: delivered (HTTP 200)
}

// Google Ads refuses a second upload of the same order id; capi reports it as
// a delivered duplicate, so a retry after an ambiguous timeout is harmless.
func ExampleGoogleAds_Send() {
	oauth := capitest.NewGoogleOAuth(nil)
	defer oauth.Close()
	ads := capitest.NewGoogleAds(nil, oauth)
	defer ads.Close()

	client := capi.NewGoogleAds(ads.URL, oauth.URL, nil)
	creds := capi.GoogleAdsCredentials{
		CustomerID: "123-456-7890", ConversionActionID: "987654321", DeveloperToken: "dev",
		ClientID: "id", ClientSecret: "secret", RefreshToken: "refresh",
	}
	ev := capi.Event{
		EventID: "conv-42", OrderID: "tx-1001", Time: time.Now().Add(-time.Hour),
		Click: capi.Click{Gclid: "Cj0KCQiA", Time: time.Now().Add(-2 * time.Hour)},
	}
	for range 2 {
		o := client.Send(context.Background(), creds, []capi.Event{ev}).Outcomes[0]
		fmt.Println("delivered:", o.Delivered(), "duplicate:", o.Duplicate)
	}
	fmt.Println("access tokens fetched:", oauth.TokensIssued())
	// Output:
	// delivered: true duplicate: false
	// delivered: true duplicate: true
	// access tokens fetched: 1
}

// Events a platform cannot take are refused before sending, with a reason a
// person can act on; ErrSkipped marks those that do not apply at all.
func ExampleGoogleAds_Send_skipped() {
	client := capi.NewGoogleAds("http://unused.invalid", "http://unused.invalid", nil)
	creds := capi.GoogleAdsCredentials{
		CustomerID: "1234567890", ConversionActionID: "1", DeveloperToken: "d",
		ClientID: "i", ClientSecret: "s", RefreshToken: "r",
	}
	err := client.Send(context.Background(), creds, []capi.Event{{EventID: "e", Time: time.Now()}}).Err()
	fmt.Println(errors.Is(err, capi.ErrSkipped), capi.IsRetryable(err))
	fmt.Println(err)
	// Output:
	// true false
	// google_ads: skipped: the conversion has no Google click id (gclid, gbraid, wbraid) and no email or phone to match it by (permanent)
}

// The phone number is hashed in different forms per platform.
func ExampleNormalizePhone() {
	fmt.Println(capi.NormalizePhone("(650) 555-1212", "US")) // Google Ads, GA4, TikTok
	fmt.Println(capi.MetaPhone("(650) 555-1212", "US"))      // Meta
	fmt.Println(capi.TikTokPhone("+86 138 0000 0000", ""))   // TikTok, China
	// Output:
	// +16505551212
	// 16505551212
	// 13800000000
}
