package jobs

import (
	"time"

	"github.com/clickback/clickback/capi"
	"github.com/clickback/clickback/ent"
)

// BuildEvent is the platform-neutral event of delivery d of conversion c:
// the conversion's value, time and user data (the postback's attributes),
// and the click context from the attribution snapshot taken at match time,
// which outlives the click itself. The visitor's IP and user agent come
// from the click while it is kept, else from the postback if the network
// sent them.
//
// The event id is the delivery's, the same on every attempt; the order id
// is the network's transaction id. The event name is the one the
// destination's mapping chose when the delivery was planned.
func BuildEvent(d *ent.Delivery, c *ent.Conversion) capi.Event {
	ev := capi.Event{EventID: d.EventID, EventName: d.EventName}
	if c == nil {
		return ev // no time: capi refuses it as invalid, the delivery FAILS
	}
	a, at := c.Attributes, c.Attribution
	ev.Time = c.ReceivedAt
	ev.Value = c.AmountMicros
	ev.Currency = c.Currency
	ev.OrderID = c.TransactionID
	ev.SourceURL = at["landing_page"]
	ev.Referrer = at["referrer"]
	ev.ClientIP, ev.UserAgent = a["ip"], a["user_agent"]
	if v := c.Edges.Visit; v != nil {
		if v.IP != "" {
			ev.ClientIP = v.IP
		}
		if v.UserAgent != "" {
			ev.UserAgent = v.UserAgent
		}
	}
	ev.User = capi.UserData{
		Email:       a["email"],
		Phone:       a["phone"],
		FirstName:   a["first_name"],
		LastName:    a["last_name"],
		City:        a["city"],
		State:       a["state"],
		Zip:         a["zipcode"],
		Country:     a["country"],
		ExternalID:  c.ExternalID,
		DateOfBirth: a["date_of_birth"],
		Gender:      a["gender"],
	}
	if ev.User.Email == "" {
		ev.User.Email = c.EmailSha256 // hashed already; capi passes it through
	}
	if ev.User.ExternalID == "" {
		ev.User.ExternalID = a["external_id"]
	}
	ev.Click = capi.Click{
		FBC: at["fbc"], FBP: at["fbp"], FBClid: at["fbclid"],
		Gclid: at["gclid"], Gbraid: at["gbraid"], Wbraid: at["wbraid"],
		Ttclid: at["ttclid"], TTP: at["ttp"],
	}
	if t, err := time.Parse(time.RFC3339Nano, at["clicked_at"]); err == nil {
		ev.Click.Time = t
	}
	return ev
}
