package capi

import (
	"strconv"
	"testing"
	"time"
)

// The hot path of forwarding: normalising and hashing user data, and building
// each platform's payload. Run with go test -bench . -benchmem ./capi.

func BenchmarkHash(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Hash("john_smith@gmail.com")
	}
}

func BenchmarkHashWithEmail(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = hashWith("  John_Smith@Gmail.com ", NormalizeGoogleEmail)
	}
}

func BenchmarkNormalizePhone(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NormalizePhone("(650) 555-1212", "US")
	}
}

func BenchmarkNormalizeCountry(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NormalizeCountry("United States")
	}
}

// fullEvent is a conversion with every user field set, the worst case.
func fullEvent() Event {
	ev := specEvent()
	ev.User = UserData{
		Email: "John_Smith@gmail.com", Phone: "(650)555-1212", FirstName: "Mary", LastName: "Valéry",
		City: "New York", State: "California", Zip: "94035-1234", Country: "United States",
		ExternalID: "u-42", DateOfBirth: "2/16/1997", Gender: "f",
	}
	ev.Click.Gclid, ev.Click.Ttclid, ev.Click.GAClientID = "Cj0KCQiA", "E.C.P.x", "GA1.1.1.2"
	return ev
}

func BenchmarkBuildMetaEvent(b *testing.B) {
	ev, now := fullEvent(), specTime.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildMetaEvent(&ev, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildGA4Item(b *testing.B) {
	ev, now := fullEvent(), specTime.Add(time.Hour)
	ev.EventName = "purchase"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildGA4Item(&ev, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildAdsConversion(b *testing.B) {
	ev, now := fullEvent(), specTime.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildAdsConversion(&ev, specAction, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildTikTokEvent(b *testing.B) {
	ev, now := fullEvent(), specTime.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildTikTokEvent(&ev, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMetaRequest1000 assembles a full Meta batch from built events.
func BenchmarkMetaRequest1000(b *testing.B) {
	now := specTime.Add(time.Hour)
	payloads := make([][]byte, MetaMaxBatch)
	idx := make([]int, MetaMaxBatch)
	for i := range payloads {
		ev := fullEvent()
		ev.EventID = strconv.Itoa(i)
		p, err := buildMetaEvent(&ev, now)
		if err != nil {
			b.Fatal(err)
		}
		payloads[i], idx[i] = p, i
	}
	creds := MetaCredentials{PixelID: "1", AccessToken: "t"}
	b.ReportAllocs()
	for b.Loop() {
		_ = metaRequest(creds, payloads, idx)
	}
}
