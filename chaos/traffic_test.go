//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// traffic is the load of a fault test: simulated visitors, each with a
// fresh Click ID, whose tag sends one batch of two events (PageView and a
// custom event), then whose network sends the postback of a conversion with
// that Click ID and a fresh transaction id. It records which requests were
// acknowledged (2xx) so that the test can check each was stored once.
type traffic struct {
	postback, tag string // path and query on any node
	run           string

	mu    sync.Mutex
	bases []string // the nodes requests go to, in turn

	seq     atomic.Int64
	recMu   sync.Mutex
	tagSent []string // click ids of every tag request sent
	tagAck  []string // click ids of acknowledged tag requests
	pbSent  []string // transaction ids of every postback sent
	pbAck   []string // transaction ids of acknowledged postbacks
	codes   map[string]int

	// observe, when set before start, is told of every answer: what
	// ("tag" or "postback"), when the request was sent and answered, and
	// the status (0: none came). Fault tests use it to judge the answers
	// given while a fault lasted.
	observe func(what string, sent, answered time.Time, code int)
}

func newTraffic(tn tenant, bases ...string) *traffic {
	strip := func(u string) string {
		p, err := url.Parse(u)
		if err != nil {
			panic(err)
		}
		return strings.TrimPrefix(u, p.Scheme+"://"+p.Host)
	}
	return &traffic{
		postback: strip(tn.PostbackURL), tag: strip(tn.TagURL),
		run:   strconv.FormatInt(time.Now().UnixNano(), 36),
		bases: bases, codes: map[string]int{},
	}
}

// setBases changes the nodes later requests go to.
func (tr *traffic) setBases(bases ...string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.bases = bases
}

func (tr *traffic) base(n int64) string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.bases[int(n)%len(tr.bases)]
}

// start sends load with workers visitors at once until ctx ends; the
// returned function waits for the workers to finish.
func (tr *traffic) start(ctx context.Context, workers int) (wait func()) {
	var wg sync.WaitGroup
	for w := range workers {
		// Each worker is its own browser address: the tag limits each IP.
		dialer := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(w/250), byte(2+w%250))}}
		client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4}}
		wg.Go(func() {
			defer client.CloseIdleConnections()
			for ctx.Err() == nil {
				tr.visit(client, tr.seq.Add(1))
			}
		})
	}
	return wg.Wait
}

func (tr *traffic) visit(client *http.Client, n int64) {
	click := fmt.Sprintf("k%s-%d", tr.run, n)
	body := fmt.Sprintf(`{"v":1,"events":[{"t":"pv","c":"%[1]s","ts":1732500000000,"u":"https://shop.example/landing?gclid=G%[1]s","r":"https://www.google.com/","utm_source":"google","gclid":"G%[1]s"},{"t":"tr","c":"%[1]s","ts":1732500001000,"u":"https://shop.example/offer","n":"ViewContent"}]}`, click)
	base := tr.base(n)
	tr.sent(&tr.tagSent, click)
	start := time.Now()
	code := tr.send(client, http.MethodPost, base+tr.tag, body)
	tr.answered(&tr.tagAck, click, "tag", code, start)
	txn := "t" + click
	u := strings.NewReplacer("{click_id}", url.QueryEscape(click), "{transaction_id}", url.QueryEscape(txn), "{payout}", "12.50").Replace(tr.postback)
	tr.sent(&tr.pbSent, txn)
	start = time.Now()
	code = tr.send(client, http.MethodGet, base+u, "")
	tr.answered(&tr.pbAck, txn, "postback", code, start)
	if code == 0 || code >= 500 {
		// The node or its database is down: back off as a network's
		// retry would, rather than spin into the tag's rate limit.
		time.Sleep(25 * time.Millisecond)
	}
}

func (tr *traffic) sent(list *[]string, id string) {
	tr.recMu.Lock()
	defer tr.recMu.Unlock()
	*list = append(*list, id)
}

// answered notes the answer to a request sent at start; 2xx acknowledges
// it, 0 is none.
func (tr *traffic) answered(acked *[]string, id, what string, code int, start time.Time) {
	if tr.observe != nil {
		tr.observe(what, start, time.Now(), code)
	}
	tr.recMu.Lock()
	defer tr.recMu.Unlock()
	tr.codes[what+" "+strconv.Itoa(code)]++
	if code/100 == 2 {
		*acked = append(*acked, id)
	}
}

// send returns the status code, 0 when no answer came.
func (tr *traffic) send(client *http.Client, method, u, body string) int {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode
}

// figures are what the traffic did, for the report.
type figures struct {
	TagSent, TagAcked, PostbacksSent, PostbacksAcked int
	Codes                                            map[string]int
}

func (tr *traffic) figures() figures {
	tr.recMu.Lock()
	defer tr.recMu.Unlock()
	codes := map[string]int{}
	for k, v := range tr.codes {
		codes[k] = v
	}
	return figures{len(tr.tagSent), len(tr.tagAck), len(tr.pbSent), len(tr.pbAck), codes}
}

func (f figures) String() string {
	return fmt.Sprintf("tag requests sent %d, acknowledged %d; postbacks sent %d, acknowledged %d; answers %v",
		f.TagSent, f.TagAcked, f.PostbacksSent, f.PostbacksAcked, f.Codes)
}
